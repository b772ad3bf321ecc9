//! Time, only ever read through a [`Clock`]: the system clock, or a virtual one
//! tests and `onboard serve --virtual-clock` move.
//!
//! One clock for the interpreter (its timers and history) and the steps (records,
//! notes, links), so a run's times agree everywhere (`onboard serve` hands the
//! sandbox's simulators the same time).
//! Token lifetimes in the connectors are measured on the monotonic `Instant`
//! instead (`connectors::graph::token`): they must not jump with a virtual clock.
//! No other dependency, so the Lambdas link it without the interpreter.

use jiff::{SignedDuration, Timestamp};
use std::sync::Mutex;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Moves a virtual clock to `t` (never backwards); a real clock answers false.
    fn advance_to(&self, _t: Timestamp) -> bool {
        false
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to. `Engine::advance` moves it through every due
/// timer in time order.
#[derive(Debug)]
pub struct VirtualClock {
    now: Mutex<Timestamp>,
}

impl VirtualClock {
    /// A virtual clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        VirtualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `d` without running anything.
    pub fn advance(&self, d: SignedDuration) {
        let now = self.now();
        if let Ok(t) = now.checked_add(d) {
            self.advance_to(t);
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        match self.now.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
    fn advance_to(&self, t: Timestamp) -> bool {
        let mut g = match self.now.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if t > *g {
            *g = t;
        }
        true
    }
}
