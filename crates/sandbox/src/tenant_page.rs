//! `GET /sandbox`: the simulated tenant as a page (askama `tenant.html`), read from
//! [`crate::Sandbox::state`] and the outbox: users, groups, seats, every PSA's
//! tickets with their notes, vault entries (masked there), the distributors'
//! subscriptions, Exchange's mailboxes and the mail sent. What a newcomer looks at
//! to see what a run did; `/sandbox/state` is the same as JSON.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::Sandbox;

/// One table of the page.
struct Section {
    id: &'static str,
    title: &'static str,
    headers: &'static [&'static str],
    /// Cells as text; a cell with a line break is shown folded.
    rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "tenant.html")]
struct TenantPage {
    sections: Vec<Section>,
}

/// The items of the array at `pointer` (none when absent).
fn items<'a>(state: &'a Value, pointer: &str) -> &'a [Value] {
    state
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The first of `keys` (JSON pointers below `v`) that holds a value, as text.
fn text(v: &Value, keys: &[&str]) -> String {
    for key in keys {
        match v.pointer(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => return s.clone(),
            Some(other) => return other.to_string(),
        }
    }
    String::new()
}

/// The texts at `key` of each item of the array at `list` below `v`, one a line.
fn joined(v: &Value, list: &str, key: &[&str], separator: &str) -> String {
    items(v, list)
        .iter()
        .map(|item| text(item, key))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(separator)
}

fn sections(sandbox: &Sandbox, state: &Value) -> Vec<Section> {
    let users = items(state, "/graph/users")
        .iter()
        .map(|u| {
            vec![
                text(u, &["/displayName"]),
                text(u, &["/userPrincipalName"]),
                if u["accountEnabled"] == Value::Bool(false) {
                    "disabled"
                } else {
                    "enabled"
                }
                .to_owned(),
                joined(u, "/licenseDetails", &["/skuPartNumber"], ", "),
                text(u, &["/createdDateTime"]),
            ]
        })
        .collect();
    let groups = items(state, "/graph/groups")
        .iter()
        .map(|g| {
            vec![
                text(g, &["/displayName"]),
                joined(g, "/members", &["/userPrincipalName", "/id"], ", "),
            ]
        })
        .collect();
    let seats = items(state, "/graph/subscribedSkus")
        .iter()
        .map(|s| {
            let enabled = s
                .pointer("/prepaidUnits/enabled")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let used = s["consumedUnits"].as_i64().unwrap_or(0);
            vec![
                text(s, &["/accountName"]),
                text(s, &["/skuPartNumber"]),
                used.to_string(),
                enabled.to_string(),
                (enabled - used).to_string(),
            ]
        })
        .collect();
    let mut tickets = Vec::new();
    for (psa, name) in [
        ("connectwise", "ConnectWise"),
        ("autotask", "Autotask"),
        ("halopsa", "HaloPSA"),
    ] {
        for t in items(state, &format!("/{psa}/tickets")) {
            tickets.push(vec![
                name.to_owned(),
                text(t, &["/id"]),
                text(t, &["/summary", "/title", "/Title", "/subject"]),
                text(t, &["/status/name", "/status", "/Status"]),
                joined(
                    t,
                    "/notes",
                    &["/text", "/note", "/description", "/noteText"],
                    "\n\n",
                ),
            ]);
        }
    }
    let mut vault = Vec::new();
    for v in items(state, "/itglue/passwords") {
        vault.push(vec![
            "IT Glue".to_owned(),
            text(v, &["/attributes/name", "/name"]),
            text(v, &["/attributes/username", "/username"]),
            text(v, &["/attributes/password", "/password"]),
        ]);
    }
    for v in items(state, "/hudu/asset_passwords") {
        vault.push(vec![
            "Hudu".to_owned(),
            text(v, &["/name"]),
            text(v, &["/username"]),
            text(v, &["/password"]),
        ]);
    }
    for v in items(state, "/pwpush/pushes") {
        vault.push(vec![
            "Password Pusher".to_owned(),
            text(v, &["/url", "/url_token"]),
            text(v, &["/expire_after_views", "/views_remaining"]),
            text(v, &["/payload"]),
        ]);
    }
    let mut distributors = Vec::new();
    for s in items(state, "/pax8/subscriptions") {
        distributors.push(vec![
            "Pax8".to_owned(),
            text(s, &["/productName", "/productId"]),
            text(s, &["/quantity"]),
            text(s, &["/status"]),
            text(s, &["/billingTerm", "/commitment/term"]),
        ]);
    }
    for s in items(state, "/sherweb/subscriptions") {
        distributors.push(vec![
            "Sherweb".to_owned(),
            text(s, &["/name", "/sku", "/productName"]),
            text(s, &["/quantity"]),
            text(s, &["/status"]),
            text(s, &["/commitmentTerm/termEndDate", "/billingCycle"]),
        ]);
    }
    let mailboxes = items(state, "/exchange/mailboxes")
        .iter()
        .map(|m| {
            vec![
                text(m, &["/UserPrincipalName", "/PrimarySmtpAddress"]),
                text(m, &["/RecipientTypeDetails"]),
                text(m, &["/HiddenFromAddressListsEnabled"]),
                text(m, &["/ForwardingAddress", "/ForwardingSmtpAddress"]),
            ]
        })
        .collect();
    let outbox = sandbox
        .outbox()
        .messages()
        .into_iter()
        .rev()
        .map(|m| {
            vec![
                m.sent_at.to_string(),
                m.to.join(", "),
                m.subject.unwrap_or_else(|| "(SMS)".to_owned()),
                m.body,
            ]
        })
        .collect();
    vec![
        Section {
            id: "users",
            title: "Users",
            headers: &["Name", "UPN", "Sign-in", "Licenses", "Created"],
            rows: users,
        },
        Section {
            id: "groups",
            title: "Groups",
            headers: &["Group", "Members"],
            rows: groups,
        },
        Section {
            id: "seats",
            title: "Seats",
            headers: &["Tenant", "SKU", "Used", "Bought", "Free"],
            rows: seats,
        },
        Section {
            id: "tickets",
            title: "Tickets",
            headers: &["PSA", "Ticket", "Summary", "Status", "Notes"],
            rows: tickets,
        },
        Section {
            id: "vault",
            title: "Vault entries",
            headers: &[
                "Vault",
                "Name or link",
                "User or views",
                "Password (masked)",
            ],
            rows: vault,
        },
        Section {
            id: "distributors",
            title: "Distributor subscriptions",
            headers: &["Distributor", "Product", "Quantity", "Status", "Term"],
            rows: distributors,
        },
        Section {
            id: "mailboxes",
            title: "Mailboxes",
            headers: &[
                "Mailbox",
                "Type",
                "Hidden from the address list",
                "Forwarding",
            ],
            rows: mailboxes,
        },
        Section {
            id: "outbox",
            title: "Mail and SMS sent",
            headers: &["Sent", "To", "Subject", "Body"],
            rows: outbox,
        },
    ]
}

/// `GET /sandbox`.
pub(crate) async fn page(State(sandbox): State<Sandbox>) -> Response {
    let state = sandbox.state("");
    let page = TenantPage {
        sections: sections(&sandbox, &state),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the sandbox page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the sandbox page could not be drawn",
            )
                .into_response()
        }
    }
}
