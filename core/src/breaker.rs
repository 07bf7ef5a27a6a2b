//! The circuit breaker between the queue and the store. After
//! `failureThreshold` consecutive storage failures it opens: operations fail
//! fast with CIRCUIT_OPEN, without touching storage, until
//! `recoveryTimeoutMs` has passed on the store's clock; then exactly one
//! operation runs as a probe, whose success closes the breaker and whose
//! failure opens it again for another full timeout.

use strum::{EnumDiscriminants, IntoStaticStr};

use crate::error::StorageError;
use crate::options::BreakerOptions;

/// Where the breaker is, with what only that state knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumDiscriminants)]
#[strum_discriminants(
    name(BreakerState),
    vis(pub),
    doc = "The breaker's state as listeners see it: `CLOSED`, `OPEN`, `HALF_OPEN`.",
    derive(IntoStaticStr),
    strum(serialize_all = "SCREAMING_SNAKE_CASE")
)]
enum Circuit {
    Closed,
    Open { since_ms: i64 },
    HalfOpen { probe_running: bool },
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// How an operation was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Normal,
    /// The one operation that tests storage while HALF_OPEN.
    Probe,
}

/// A state change, for `onStateChange` listeners: `(state, previous)`.
pub type Transition = (BreakerState, BreakerState);

#[derive(Debug)]
pub struct CircuitBreaker {
    options: BreakerOptions,
    circuit: Circuit,
    consecutive_failures: u32,
    transitions: Vec<Transition>,
}

impl CircuitBreaker {
    pub fn new(options: BreakerOptions) -> Self {
        CircuitBreaker { options, circuit: Circuit::Closed, consecutive_failures: 0, transitions: Vec::new() }
    }

    pub fn state(&self) -> BreakerState {
        self.circuit.into()
    }

    /// Lets an operation through, or refuses it with CIRCUIT_OPEN.
    pub fn admit(&mut self, now_ms: i64) -> Result<Admission, StorageError> {
        match self.circuit {
            Circuit::Closed => Ok(Admission::Normal),
            Circuit::Open { since_ms } if (now_ms - since_ms) as f64 >= self.options.recovery_timeout_ms => {
                self.move_to(Circuit::HalfOpen { probe_running: true });
                Ok(Admission::Probe)
            }
            Circuit::HalfOpen { probe_running: false } => {
                self.circuit = Circuit::HalfOpen { probe_running: true };
                Ok(Admission::Probe)
            }
            Circuit::Open { .. } | Circuit::HalfOpen { probe_running: true } => {
                Err(StorageError::CircuitOpen(format!(
                    "the circuit breaker is {} after {} consecutive storage failures; operations fail fast until a probe succeeds",
                    self.state().as_str(),
                    self.consecutive_failures
                )))
            }
        }
    }

    /// Takes an admitted operation's outcome into account.
    pub fn record(&mut self, admission: Admission, outcome: Result<(), &StorageError>, now_ms: i64) {
        let probe = admission == Admission::Probe;
        match outcome {
            Ok(()) => {
                self.consecutive_failures = 0;
                if probe {
                    self.move_to(Circuit::Closed);
                }
            }
            Err(error) if error.is_storage_failure() => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let tripped = self.consecutive_failures >= self.options.failure_threshold;
                if probe || (self.circuit == Circuit::Closed && tripped) {
                    self.move_to(Circuit::Open { since_ms: now_ms });
                }
            }
            // Neither a failure nor a success: a probe that ended so proved
            // nothing, and the next operation probes instead.
            Err(_) if probe => self.circuit = Circuit::HalfOpen { probe_running: false },
            Err(_) => {}
        }
    }

    /// The transitions since the last call, oldest first.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    fn move_to(&mut self, circuit: Circuit) {
        let (state, previous) = (BreakerState::from(circuit), self.state());
        if state != previous {
            self.transitions.push((state, previous));
        }
        self.circuit = circuit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    use BreakerState::{Closed, HalfOpen, Open};

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerOptions { failure_threshold: 3, recovery_timeout_ms: 1000.0 })
    }

    fn io() -> StorageError {
        StorageError::Io("disk".into())
    }

    /// Admits one operation at `now` and records `outcome` for it.
    fn run(
        breaker: &mut CircuitBreaker,
        now: i64,
        outcome: Result<(), StorageError>,
    ) -> Result<Admission, ErrorCode> {
        let admission = breaker.admit(now).map_err(|error| error.code())?;
        breaker.record(admission, outcome.as_ref().map(|_| ()), now);
        Ok(admission)
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures_and_fails_fast() {
        let mut breaker = breaker();
        run(&mut breaker, 0, Err(io())).unwrap();
        run(&mut breaker, 0, Err(io())).unwrap();
        assert_eq!(breaker.state(), Closed);
        run(&mut breaker, 5, Err(io())).unwrap();
        assert_eq!(breaker.state(), Open);
        assert_eq!(breaker.take_transitions(), vec![(Open, Closed)]);
        assert_eq!(run(&mut breaker, 1004, Ok(())), Err(ErrorCode::CircuitOpen), "still within the timeout");
    }

    #[test]
    fn a_success_resets_the_count_and_invalid_input_neither_counts_nor_resets() {
        let mut breaker = breaker();
        run(&mut breaker, 0, Err(io())).unwrap();
        run(&mut breaker, 0, Err(io())).unwrap();
        run(&mut breaker, 0, Err(StorageError::InvalidValue("bad".into()))).unwrap();
        run(&mut breaker, 0, Err(StorageError::Locked("held".into()))).unwrap();
        assert_eq!(breaker.state(), Closed);
        run(&mut breaker, 0, Err(StorageError::Timeout("slow".into()))).unwrap();
        assert_eq!(breaker.state(), Open, "two IO, then a timeout: three in a row");

        let mut breaker =
            CircuitBreaker::new(BreakerOptions { failure_threshold: 2, recovery_timeout_ms: 10.0 });
        run(&mut breaker, 0, Err(io())).unwrap();
        run(&mut breaker, 0, Ok(())).unwrap();
        run(&mut breaker, 0, Err(StorageError::QuotaExceeded("full".into()))).unwrap();
        assert_eq!(breaker.state(), Closed, "the success reset the count");
    }

    #[test]
    fn after_the_timeout_exactly_one_probe_runs_and_its_success_closes() {
        let mut breaker = breaker();
        for _ in 0..3 {
            run(&mut breaker, 0, Err(io())).unwrap();
        }
        let probe = breaker.admit(1000).unwrap();
        assert_eq!((probe, breaker.state()), (Admission::Probe, HalfOpen));
        assert_eq!(breaker.admit(1000).unwrap_err().code(), ErrorCode::CircuitOpen, "one probe at a time");
        breaker.record(probe, Ok(()), 1000);
        assert_eq!(breaker.state(), Closed);
        assert_eq!(breaker.take_transitions(), vec![(Open, Closed), (HalfOpen, Open), (Closed, HalfOpen)]);
        assert_eq!(run(&mut breaker, 1000, Ok(())), Ok(Admission::Normal));
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_timeout() {
        let mut breaker = breaker();
        for _ in 0..3 {
            run(&mut breaker, 0, Err(io())).unwrap();
        }
        assert_eq!(run(&mut breaker, 1500, Err(io())), Ok(Admission::Probe));
        assert_eq!(breaker.state(), Open);
        assert_eq!(
            run(&mut breaker, 2499, Ok(())),
            Err(ErrorCode::CircuitOpen),
            "timed from the probe's failure"
        );
        assert_eq!(run(&mut breaker, 2500, Ok(())), Ok(Admission::Probe));
        assert_eq!(breaker.state(), Closed);
    }

    #[test]
    fn a_probe_that_proves_nothing_hands_the_probe_to_the_next_operation() {
        let mut breaker = breaker();
        for _ in 0..3 {
            run(&mut breaker, 0, Err(io())).unwrap();
        }
        let busy = StorageError::from_sqlite_code(rusqlite::ffi::SQLITE_BUSY, "contention");
        assert_eq!(run(&mut breaker, 1000, Err(busy)), Ok(Admission::Probe));
        assert_eq!(breaker.state(), HalfOpen);
        assert_eq!(run(&mut breaker, 1000, Ok(())), Ok(Admission::Probe));
        assert_eq!(breaker.state(), Closed);
    }
}
