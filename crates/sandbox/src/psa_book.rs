//! What the three PSA simulators keep alike: the tickets by id, their notes
//! (HaloPSA calls them actions), the ids the service hands out next, and the log
//! of the requests that got past fault injection. Each simulator keeps its own
//! wire shapes, rules and errors around it.

use std::collections::BTreeMap;

use axum::extract::Request;

/// A note that belongs to one ticket.
pub(crate) trait OnTicket {
    /// The ticket's id.
    fn ticket_id(&self) -> u64;
}

/// One PSA's tickets and notes.
#[derive(Debug)]
pub(crate) struct TicketBook<T, N> {
    /// `METHOD /path` of every request that got past fault injection, oldest first.
    pub(crate) requests: Vec<String>,
    pub(crate) tickets: BTreeMap<u64, T>,
    pub(crate) notes: Vec<N>,
    pub(crate) next_ticket: u64,
    pub(crate) next_note: u64,
}

impl<T: Clone, N: Clone + OnTicket> TicketBook<T, N> {
    /// The seeded `tickets`; new ones are numbered from `next_ticket`, notes from 1.
    pub(crate) fn new(tickets: BTreeMap<u64, T>, next_ticket: u64) -> Self {
        Self {
            requests: Vec::new(),
            tickets,
            notes: Vec::new(),
            next_ticket,
            next_note: 1,
        }
    }

    /// Logs a request as `METHOD /path`.
    pub(crate) fn record(&mut self, request: &Request) {
        self.requests
            .push(format!("{} {}", request.method(), request.uri().path()));
    }

    /// Every ticket, by id.
    pub(crate) fn all_tickets(&self) -> Vec<T> {
        self.tickets.values().cloned().collect()
    }

    /// The notes of one ticket, oldest first.
    pub(crate) fn notes_of(&self, ticket_id: u64) -> Vec<N> {
        self.notes
            .iter()
            .filter(|n| n.ticket_id() == ticket_id)
            .cloned()
            .collect()
    }
}
