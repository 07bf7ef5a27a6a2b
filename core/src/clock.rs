//! The store's only source of time, and its only timer: retries wait on it.
//! Tests inject a `ManualClock` they move by hand, so no test sleeps to make
//! time pass, nor to prove that something did not happen yet.

use crate::error::Result;

/// Work to run once a timer is due.
pub type Task = Box<dyn FnOnce()>;

/// Milliseconds since an epoch of the clock's choosing, and a timer on them.
pub trait Clock {
    fn now_ms(&self) -> Result<i64>;

    /// Runs `task` once, after `delay_ms` have passed on this clock, from the
    /// event loop (never inside this call).
    fn wake_after(&self, delay_ms: f64, task: Task);
}

#[cfg(test)]
pub use manual::ManualClock;

/// Tests only: nothing in a store needs a clock moved by hand.
#[cfg(test)]
mod manual {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::{Clock, Task};
    use crate::error::Result;

    /// A clock that moves only when told to; cloning shares the same time and
    /// timers. Moving it runs the timers that fall due, in due order.
    #[derive(Default, Clone)]
    pub struct ManualClock {
        now: Rc<Cell<i64>>,
        timers: Rc<RefCell<Vec<(f64, Task)>>>,
    }

    impl ManualClock {
        pub fn new(start_ms: i64) -> Self {
            ManualClock { now: Rc::new(Cell::new(start_ms)), timers: Rc::default() }
        }

        pub fn set(&self, now_ms: i64) {
            self.now.set(now_ms);
            self.run_due_timers();
        }

        pub fn advance(&self, by_ms: i64) {
            self.set(self.now.get() + by_ms);
        }

        /// Timers set and not yet run.
        pub fn pending_timers(&self) -> usize {
            self.timers.borrow().len()
        }

        /// One timer at a time, with no borrow held: a task may set another.
        fn run_due_timers(&self) {
            loop {
                let now = self.now.get() as f64;
                let task = {
                    let mut timers = self.timers.borrow_mut();
                    let due = timers
                        .iter()
                        .enumerate()
                        .filter(|(_, (due_ms, _))| *due_ms <= now)
                        .min_by(|(_, (a, _)), (_, (b, _))| a.total_cmp(b))
                        .map(|(index, _)| index);
                    due.map(|index| timers.remove(index).1)
                };
                match task {
                    Some(task) => task(),
                    None => return,
                }
            }
        }
    }

    impl Clock for ManualClock {
        fn now_ms(&self) -> Result<i64> {
            Ok(self.now.get())
        }

        fn wake_after(&self, delay_ms: f64, task: Task) {
            self.timers.borrow_mut().push((self.now.get() as f64 + delay_ms, task));
        }
    }
}
