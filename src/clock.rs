//! The store's only source of time. Tests inject a clock they move by hand,
//! so no test sleeps to make time pass.

use std::cell::Cell;
use std::rc::Rc;

use crate::error::Result;

/// Milliseconds since an epoch of the clock's choosing (`Date.now` by default).
pub trait Clock {
    fn now_ms(&self) -> Result<i64>;
}

/// `Date.now()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Result<i64> {
        Ok(js_sys::Date::now() as i64)
    }
}

/// A clock that moves only when told to; cloning shares the same time.
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    now: Rc<Cell<i64>>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        ManualClock { now: Rc::new(Cell::new(start_ms)) }
    }

    pub fn set(&self, now_ms: i64) {
        self.now.set(now_ms);
    }

    pub fn advance(&self, by_ms: i64) {
        self.now.set(self.now.get() + by_ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Result<i64> {
        Ok(self.now.get())
    }
}
