//! Retry with exponential backoff and full jitter: attempt `n` (from 1)
//! waits a random time in `[0, min(maxDelayMs, baseDelayMs * 2^(n-1)))`
//! before attempt `n + 1`, up to `maxAttempts` attempts in all.

use crate::error::StorageError;
use crate::options::RetryOptions;

/// The wait after failed attempt `attempt`, or `None` if no attempt is left
/// or the error is not one that the same call may survive. `random` is
/// uniform in `[0, 1)`.
pub fn delay_after(policy: &RetryOptions, attempt: u32, error: &StorageError, random: f64) -> Option<f64> {
    if !error.retryable() || attempt >= policy.max_attempts {
        return None;
    }
    let ceiling =
        (policy.base_delay_ms * 2f64.powi(attempt.saturating_sub(1) as i32)).min(policy.max_delay_ms);
    Some(ceiling * random)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const POLICY: RetryOptions = RetryOptions { max_attempts: 4, base_delay_ms: 20.0, max_delay_ms: 50.0 };

    #[wasm_bindgen_test]
    fn waits_grow_exponentially_up_to_the_cap_with_full_jitter() {
        let locked = StorageError::Locked("held".into());
        assert_eq!(delay_after(&POLICY, 1, &locked, 0.5), Some(10.0));
        assert_eq!(delay_after(&POLICY, 2, &locked, 0.5), Some(20.0));
        assert_eq!(delay_after(&POLICY, 3, &locked, 0.5), Some(25.0), "capped at maxDelayMs");
        assert_eq!(delay_after(&POLICY, 1, &locked, 0.0), Some(0.0));
        assert_eq!(delay_after(&POLICY, 4, &locked, 0.5), None, "no attempt left");
    }

    #[wasm_bindgen_test]
    fn only_retryable_errors_are_retried() {
        assert_eq!(delay_after(&POLICY, 1, &StorageError::Corrupt("bad".into()), 0.5), None);
        assert_eq!(delay_after(&POLICY, 1, &StorageError::InvalidArgument("x".into()), 0.5), None);
        assert!(delay_after(&POLICY, 1, &StorageError::Io("eio".into()), 0.5).is_some());
    }
}
