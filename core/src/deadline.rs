//! The deadline of the operation running now: `operationTimeoutMs` after it
//! was called, on the store's clock. SQLite's progress handler asks it every
//! few hundred VM steps and the store's batch loops between statements;
//! once it has passed, the operation is interrupted and its transaction rolls
//! back, so a TIMEOUT leaves no effect. One operation runs at a time on this
//! thread, so one slot holds the deadline.

use std::cell::RefCell;
use std::rc::Rc;

use rusqlite::Connection;

use crate::clock::Clock;
use crate::error::{Result, StorageError};

/// VM steps between two looks at the clock.
const PROGRESS_STEPS: i32 = 256;

struct Deadline {
    clock: Rc<dyn Clock>,
    at_ms: i64,
}

thread_local! {
    static RUNNING: RefCell<Option<Deadline>> = const { RefCell::new(None) };
}

/// Runs `operation` under a deadline (none: no limit).
pub fn run_until<T>(clock: Rc<dyn Clock>, at_ms: Option<i64>, operation: impl FnOnce() -> T) -> T {
    let previous = RUNNING.with(|slot| slot.replace(at_ms.map(|at_ms| Deadline { clock, at_ms })));
    let result = operation();
    RUNNING.with(|slot| slot.replace(previous));
    result
}

/// Whether the running operation's deadline has passed (at the deadline
/// itself it is still in time, as in the queue). A clock that fails here
/// counts as not passed: the operation reports the clock itself.
pub fn passed() -> bool {
    RUNNING.with(|slot| {
        slot.borrow()
            .as_ref()
            .is_some_and(|deadline| deadline.clock.now_ms().is_ok_and(|now_ms| now_ms > deadline.at_ms))
    })
}

/// Fails with TIMEOUT once the deadline has passed.
pub fn check() -> Result<()> {
    if passed() {
        return Err(timed_out());
    }
    Ok(())
}

pub fn timed_out() -> StorageError {
    StorageError::Timeout("the operation ran past operationTimeoutMs and was rolled back".into())
}

/// Makes SQLite interrupt any statement once the deadline has passed.
pub fn install(conn: &mut Connection) -> Result<()> {
    conn.progress_handler(PROGRESS_STEPS, Some(passed))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::error::ErrorCode;

    #[test]
    fn the_deadline_holds_only_while_its_operation_runs() {
        let clock = ManualClock::new(100);
        assert!(!passed(), "nothing is running");
        run_until(Rc::new(clock.clone()), Some(150), || {
            clock.set(150);
            assert!(check().is_ok(), "at the deadline: in time");
            clock.set(151);
            assert_eq!(check().unwrap_err().code(), ErrorCode::Timeout);
        });
        assert!(!passed());
        run_until(Rc::new(clock.clone()), None, || assert!(!passed(), "no limit"));
    }

    #[test]
    fn sqlite_statements_are_interrupted_past_the_deadline_and_roll_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        install(&mut conn).unwrap();
        conn.execute_batch("CREATE TABLE t(x)").unwrap();
        let clock = ManualClock::new(0);
        let insert = "INSERT INTO t WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT i FROM n";
        let error = run_until(Rc::new(clock.clone()), Some(-1), || conn.execute(insert, []).unwrap_err());
        assert_eq!(StorageError::from(error).code(), ErrorCode::Timeout);
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 0);
        run_until(Rc::new(clock), Some(0), || conn.execute(insert, []).unwrap());
    }
}
