//! Retry with exponential backoff and full jitter: attempt `n` (from 1)
//! waits a random time in `[0, min(maxDelayMs, baseDelayMs * 2^(n-1)))`
//! before attempt `n + 1`, up to `maxAttempts` attempts in all. Used when
//! opening a store and for operations that failed on transient trouble.

use crate::error::{ErrorCode, StorageError};
use crate::options::RetryOptions;

/// Failures that the same call may survive a moment later: contention, a
/// file held by another store, a read or write of storage that failed.
/// TIMEOUT, QUEUE_FULL and CIRCUIT_OPEN are retryable for the caller, but
/// retrying them here would only prolong what they report.
pub fn is_transient(error: &StorageError) -> bool {
    matches!(error.code(), ErrorCode::Busy | ErrorCode::Locked | ErrorCode::Io)
}

/// The wait after failed attempt `attempt`, or `None` if no attempt is left
/// or the error is not transient. `random` is uniform in `[0, 1)`.
pub fn delay_after(policy: &RetryOptions, attempt: u32, error: &StorageError, random: f64) -> Option<f64> {
    if !is_transient(error) || attempt >= policy.max_attempts {
        return None;
    }
    let ceiling =
        (policy.base_delay_ms * 2f64.powi(attempt.saturating_sub(1) as i32)).min(policy.max_delay_ms);
    Some(ceiling * random)
}

/// One failed attempt of an operation, as the retry decision sees it.
pub struct FailedAttempt<'a> {
    pub attempt: u32,
    pub error: &'a StorageError,
    /// The attempt may have left an effect (a commit whose fate is unknown):
    /// running it again could apply it twice.
    pub effect_possible: bool,
    pub failed_at_ms: i64,
    /// The operation's deadline (`operationTimeoutMs`), if it has one.
    pub deadline_ms: Option<i64>,
}

/// When an operation's next attempt may start, on the store's clock, or
/// `None` if it must not be retried: the error is not transient, attempts
/// are used up, the attempt may have had an effect, or the wait would end
/// past the deadline.
pub fn next_attempt_at(policy: &RetryOptions, failed: &FailedAttempt, random: f64) -> Option<f64> {
    if failed.effect_possible {
        return None;
    }
    let due_ms = failed.failed_at_ms as f64 + delay_after(policy, failed.attempt, failed.error, random)?;
    match failed.deadline_ms {
        Some(deadline_ms) if due_ms > deadline_ms as f64 => None,
        _ => Some(due_ms),
    }
}

/// Full jitter's random factor: uniform in `[0, 1)` (`Math.random` in wasm).
pub trait Random {
    fn unit(&self) -> f64;
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryOptions = RetryOptions { max_attempts: 4, base_delay_ms: 20.0, max_delay_ms: 50.0 };

    #[test]
    fn waits_grow_exponentially_up_to_the_cap_with_full_jitter() {
        let locked = StorageError::Locked("held".into());
        assert_eq!(delay_after(&POLICY, 1, &locked, 0.5), Some(10.0));
        assert_eq!(delay_after(&POLICY, 2, &locked, 0.5), Some(20.0));
        assert_eq!(delay_after(&POLICY, 3, &locked, 0.5), Some(25.0), "capped at maxDelayMs");
        assert_eq!(delay_after(&POLICY, 1, &locked, 0.0), Some(0.0));
        assert_eq!(delay_after(&POLICY, 4, &locked, 0.5), None, "no attempt left");
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let busy = StorageError::Sqlite { code: ErrorCode::Busy, message: "busy".into(), extended_code: 5 };
        assert!(delay_after(&POLICY, 1, &busy, 0.5).is_some());
        assert!(delay_after(&POLICY, 1, &StorageError::Io("eio".into()), 0.5).is_some());
        for error in [
            StorageError::Corrupt("bad".into()),
            StorageError::InvalidArgument("x".into()),
            StorageError::QuotaExceeded("full".into()),
            StorageError::Timeout("late".into()),
            StorageError::CircuitOpen("open".into()),
            StorageError::QueueFull("full".into()),
            StorageError::Internal("bug".into()),
        ] {
            assert_eq!(delay_after(&POLICY, 1, &error, 0.5), None, "{error:?}");
        }
    }

    fn failed(error: &StorageError, effect_possible: bool, deadline_ms: Option<i64>) -> FailedAttempt<'_> {
        FailedAttempt { attempt: 1, error, effect_possible, failed_at_ms: 1_000, deadline_ms }
    }

    #[test]
    fn the_next_attempt_is_due_after_the_backoff_on_the_store_clock() {
        let eio = StorageError::Io("eio".into());
        assert_eq!(next_attempt_at(&POLICY, &failed(&eio, false, None), 0.5), Some(1_010.0));
        assert_eq!(next_attempt_at(&POLICY, &failed(&eio, false, Some(1_010)), 0.5), Some(1_010.0));
    }

    #[test]
    fn no_retry_after_a_possible_effect_or_past_the_deadline() {
        let eio = StorageError::Io("eio".into());
        assert_eq!(next_attempt_at(&POLICY, &failed(&eio, true, None), 0.5), None);
        assert_eq!(next_attempt_at(&POLICY, &failed(&eio, false, Some(1_009)), 0.5), None);
        let corrupt = StorageError::Corrupt("bad".into());
        assert_eq!(next_attempt_at(&POLICY, &failed(&corrupt, false, None), 0.5), None);
    }
}
