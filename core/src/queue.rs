//! The operation queue: every operation of a store waits here, in call order,
//! and leaves it either to run or to be rejected (timed out, or disposed).
//! Bounded by `maxQueueLength`; knows nothing of what an operation does.

use std::collections::VecDeque;

use crate::error::StorageError;
use crate::operation::OperationKind;

/// An operation waiting its turn.
#[derive(Debug)]
pub struct Queued<T> {
    pub kind: OperationKind,
    pub enqueued_at_ms: i64,
    pub payload: T,
}

impl<T> Queued<T> {
    fn has_expired(&self, now_ms: i64, timeout_ms: Option<f64>) -> bool {
        timeout_ms.is_some_and(|limit| now_ms.saturating_sub(self.enqueued_at_ms) as f64 > limit)
    }
}

/// Why `push` refused an operation; hands the payload back so that its caller
/// can still be answered.
#[derive(Debug)]
pub struct Refused<T> {
    pub error: StorageError,
    pub payload: T,
}

/// The next thing to do with the head of the queue.
#[derive(Debug)]
pub enum Next<T> {
    Run(Queued<T>),
    /// It waited longer than the operation timeout: reject it unrun.
    Expired(Queued<T>),
}

#[derive(Debug)]
pub struct OperationQueue<T> {
    waiting: VecDeque<Queued<T>>,
    max_length: usize,
    closed: bool,
}

impl<T> OperationQueue<T> {
    pub fn new(max_length: usize) -> Self {
        OperationQueue { waiting: VecDeque::new(), max_length, closed: false }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn push(&mut self, kind: OperationKind, now_ms: i64, payload: T) -> Result<(), Refused<T>> {
        if self.closed {
            return Err(Refused { error: StorageError::Disposed, payload });
        }
        if self.waiting.len() >= self.max_length {
            let error = StorageError::QueueFull(format!(
                "{} refused: {} operations are already waiting (maxQueueLength)",
                kind.name(),
                self.waiting.len()
            ));
            return Err(Refused { error, payload });
        }
        self.waiting.push_back(Queued { kind, enqueued_at_ms: now_ms, payload });
        Ok(())
    }

    /// Takes the head of the queue. With a timeout, an operation that has
    /// waited longer than it comes back as `Expired`.
    pub fn next(&mut self, now_ms: i64, timeout_ms: Option<f64>) -> Option<Next<T>> {
        let head = self.waiting.pop_front()?;
        Some(match head.has_expired(now_ms, timeout_ms) {
            true => Next::Expired(head),
            false => Next::Run(head),
        })
    }

    /// Takes the head only if `wanted(payload)` and it has not waited too
    /// long: for operations that may join the one about to run.
    pub fn next_if(
        &mut self,
        now_ms: i64,
        timeout_ms: Option<f64>,
        wanted: impl Fn(&T) -> bool,
    ) -> Option<Queued<T>> {
        let head = self.waiting.front()?;
        if head.has_expired(now_ms, timeout_ms) || !wanted(&head.payload) {
            return None;
        }
        self.waiting.pop_front()
    }

    /// Stops intake for good and hands back everything still waiting.
    pub fn close(&mut self) -> Vec<Queued<T>> {
        self.closed = true;
        self.waiting.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn run_payload(next: Option<Next<u32>>) -> u32 {
        match next {
            Some(Next::Run(queued)) => queued.payload,
            other => panic!("expected an operation to run, got {other:?}"),
        }
    }

    #[test]
    fn operations_leave_in_call_order() {
        let mut queue = OperationQueue::new(10);
        for payload in 0..5 {
            queue.push(OperationKind::Set, 0, payload).unwrap();
        }
        let order: Vec<u32> = (0..5).map(|_| run_payload(queue.next(0, Some(1.0)))).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
        assert!(queue.next(0, None).is_none());
    }

    #[test]
    fn the_bound_refuses_with_queue_full_and_returns_the_payload() {
        let mut queue = OperationQueue::new(2);
        queue.push(OperationKind::Get, 0, 1).unwrap();
        queue.push(OperationKind::Get, 0, 2).unwrap();
        let refused = queue.push(OperationKind::Get, 0, 3).unwrap_err();
        assert_eq!(refused.error.code(), ErrorCode::QueueFull);
        assert_eq!(refused.payload, 3);
        run_payload(queue.next(0, None));
        queue.push(OperationKind::Get, 0, 4).unwrap();
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn an_operation_that_waited_too_long_expires_unrun() {
        let mut queue = OperationQueue::new(10);
        queue.push(OperationKind::Set, 100, 1).unwrap();
        queue.push(OperationKind::Set, 150, 2).unwrap();
        // At t=200 the first has waited 100 ms (> 60), the second 50 ms.
        assert!(matches!(queue.next(200, Some(60.0)), Some(Next::Expired(Queued { payload: 1, .. }))));
        assert_eq!(run_payload(queue.next(200, Some(60.0))), 2);
        // Waiting exactly the limit is still in time; no limit never expires.
        queue.push(OperationKind::Get, 0, 3).unwrap();
        assert_eq!(run_payload(queue.next(60, Some(60.0))), 3);
        queue.push(OperationKind::Get, 0, 4).unwrap();
        assert_eq!(run_payload(queue.next(i64::MAX, None)), 4);
    }

    #[test]
    fn next_if_takes_only_a_wanted_head_still_in_time() {
        let mut queue = OperationQueue::new(10);
        for (at, payload) in [(0, 1), (0, 2), (0, 3), (100, 4)] {
            queue.push(OperationKind::Set, at, payload).unwrap();
        }
        let odd = |payload: &u32| payload % 2 == 1;
        assert_eq!(queue.next_if(10, None, odd).map(|queued| queued.payload), Some(1));
        assert!(queue.next_if(10, None, odd).is_none(), "2 is not wanted and stays");
        assert_eq!(run_payload(queue.next(10, None)), 2);
        assert!(queue.next_if(100, Some(60.0), odd).is_none(), "3 has waited too long and stays");
        assert!(matches!(queue.next(100, Some(60.0)), Some(Next::Expired(Queued { payload: 3, .. }))));
        assert!(queue.next_if(100, Some(60.0), |_| true).is_some());
        assert!(queue.next_if(100, None, |_| true).is_none(), "empty");
    }

    #[test]
    fn close_hands_back_everything_and_stops_intake() {
        let mut queue = OperationQueue::new(10);
        for payload in 0..3 {
            queue.push(OperationKind::Has, 0, payload).unwrap();
        }
        let left: Vec<u32> = queue.close().into_iter().map(|queued| queued.payload).collect();
        assert_eq!(left, vec![0, 1, 2]);
        assert!(queue.is_closed() && queue.is_empty());
        let refused = queue.push(OperationKind::Has, 0, 9).unwrap_err();
        assert_eq!(refused.error.code(), ErrorCode::Disposed);
        assert_eq!(refused.payload, 9);
    }
}
