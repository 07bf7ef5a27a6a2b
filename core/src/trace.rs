//! The facts a trace event tells of one operation that only the engine
//! knows: how long it waited in the queue, how many operations shared its
//! transaction, how many times it was retried. They are recorded only for
//! operations submitted with a trace tag (the facade tags a call only while
//! someone listens to its trace events), so an untraced store records
//! nothing and allocates nothing for them (`CoreMetrics::traced` counts
//! the facts recorded).

use std::cell::{Cell, RefCell};

/// What one traced operation's caller is told of its run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OperationFacts {
    /// From joining the queue to leaving it, on the store's clock.
    pub queued_ms: f64,
    /// The operations of the transaction it ran in (1 alone); `None` for
    /// operations that write nothing or never ran.
    pub group_size: Option<usize>,
    /// Attempts after the first.
    pub retries: u32,
}

impl OperationFacts {
    /// As numbers for the boundary: queued ms, group size (0 for none), retries.
    pub fn flat(&self) -> [f64; 3] {
        [self.queued_ms, self.group_size.unwrap_or(0) as f64, f64::from(self.retries)]
    }
}

/// Facts kept at most: those of tags nobody takes (a caller that stopped
/// listening meanwhile) must not pile up.
const KEPT_LIMIT: usize = 4096;

/// The facts of settled traced operations, by tag, until their caller takes
/// them: a short list, as only the traced calls in flight have facts waiting.
#[derive(Default)]
pub struct TraceFacts {
    /// The tag operations submitted now carry (set around a traced call).
    next_tag: Cell<Option<u64>>,
    recorded: RefCell<Vec<(u64, OperationFacts)>>,
}

impl TraceFacts {
    /// Tags the operations submitted from now on with `tag`; `None` stops.
    pub fn tag_next(&self, tag: Option<u64>) {
        self.next_tag.set(tag);
    }

    pub fn next_tag(&self) -> Option<u64> {
        self.next_tag.get()
    }

    pub fn record(&self, tag: u64, facts: OperationFacts) {
        let mut recorded = self.recorded.borrow_mut();
        if recorded.len() >= KEPT_LIMIT {
            recorded.clear();
        }
        recorded.push((tag, facts));
    }

    /// The facts of the operation tagged `tag`, once.
    pub fn take(&self, tag: u64) -> Option<OperationFacts> {
        let mut recorded = self.recorded.borrow_mut();
        let at = recorded.iter().position(|(recorded_tag, _)| *recorded_tag == tag)?;
        Some(recorded.swap_remove(at).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: OperationFacts = OperationFacts { queued_ms: 5.0, group_size: Some(3), retries: 1 };

    #[test]
    fn facts_are_taken_once_by_their_tag() {
        let trace = TraceFacts::default();
        trace.record(7, FACTS);
        assert_eq!(trace.take(8), None);
        assert_eq!(trace.take(7), Some(FACTS));
        assert_eq!(trace.take(7), None);
        assert_eq!(FACTS.flat(), [5.0, 3.0, 1.0]);
    }

    #[test]
    fn facts_nobody_takes_are_dropped_past_the_limit() {
        let trace = TraceFacts::default();
        for tag in 0..=KEPT_LIMIT as u64 {
            trace.record(tag, FACTS);
        }
        assert!(trace.recorded.borrow().len() <= KEPT_LIMIT);
        assert_eq!(trace.take(KEPT_LIMIT as u64), Some(FACTS));
    }
}
