//! The engine with a `ManualClock`: call order, group commit, the queue's
//! limits, dispose, TTL, and retries waiting on the store's clock.

use super::*;
use crate::clock::ManualClock;
use crate::error::ErrorCode;
use crate::trace::OperationFacts;
use crate::value::ValueKind;

type Log = Rc<RefCell<Vec<(usize, Result<Output>)>>>;

/// Jitter fixed at half the ceiling, so waits are known.
struct Half;

impl Random for Half {
    fn unit(&self) -> f64 {
        0.5
    }
}

fn engine(options: StoreOptions, clock: &ManualClock) -> Rc<Engine> {
    Rc::new(
        Engine::open(options, Rc::new(clock.clone()), Box::new(Half), Database::in_memory().unwrap())
            .unwrap(),
    )
}

fn recorder(log: &Log, id: usize) -> Reply {
    let log = log.clone();
    Box::new(move |result| log.borrow_mut().push((id, result)))
}

fn set(key: &str, json: &str) -> Operation {
    let value = EncodedValue { kind: ValueKind::Json, bytes: json.as_bytes().to_vec() };
    let entry = Entry { key: key.into(), size: (key.len() + json.len()) as u64, value };
    Operation::Set { ns: String::new(), entry, ttl: None }
}

fn get(key: &str) -> Operation {
    Operation::Get { ns: String::new(), key: key.into() }
}

#[test]
fn operations_run_in_call_order_and_each_caller_is_answered_once() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions::default(), &clock);
    let log: Log = Log::default();
    assert!(engine.submit(set("k", "1"), recorder(&log, 0)), "first submit schedules a drain");
    assert!(!engine.submit(get("k"), recorder(&log, 1)), "later ones join the scheduled drain");
    assert!(!engine.submit(set("k", "2"), recorder(&log, 2)));
    assert!(!engine.submit(get("k"), recorder(&log, 3)));
    assert!(log.borrow().is_empty(), "nothing runs before the drain");
    engine.drain();
    let log = log.borrow();
    let ids: Vec<usize> = log.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![0, 1, 2, 3]);
    let value = |index: usize| match &log[index].1 {
        Ok(Output::Entry(Some(entry))) => entry.value.bytes.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!((value(1), value(3)), (b"1".to_vec(), b"2".to_vec()));
    assert!(engine.submit(get("k"), Box::new(|_| {})), "an idle engine schedules again");
}

#[test]
fn sets_waiting_together_commit_as_one_group_in_call_order() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions::default(), &clock);
    let log: Log = Log::default();
    for (id, operation) in
        [set("a", "1"), set("a", "2"), set("b", "1"), get("a"), set("c", "1")].into_iter().enumerate()
    {
        engine.submit(operation, recorder(&log, id));
    }
    let commits = engine.with_store(|store| Ok(store.count_commits())).unwrap();
    engine.drain();
    assert_eq!(
        commits.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "the three sets before the get commit together, then the last set"
    );
    let log = log.borrow();
    let ids: Vec<usize> = log.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    assert!(log.iter().all(|(_, result)| result.is_ok()));
    assert!(matches!(&log[3].1, Ok(Output::Entry(Some(entry))) if entry.value.bytes == b"2"));
}

#[test]
fn a_full_queue_refuses_at_once() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions { max_queue_length: 2, ..StoreOptions::default() }, &clock);
    let log: Log = Log::default();
    for id in 0..3 {
        engine.submit(get("k"), recorder(&log, id));
    }
    assert_eq!(log.borrow().len(), 1);
    assert!(matches!(&log.borrow()[0], (2, Err(error)) if error.code() == ErrorCode::QueueFull));
    engine.drain();
    assert_eq!(log.borrow().len(), 3);
}

/// A clock that moves forward by `step` every time it is read, as if each
/// operation took that long.
struct SlowClock {
    now: Cell<i64>,
    step: i64,
}

impl Clock for SlowClock {
    fn now_ms(&self) -> Result<i64> {
        self.now.set(self.now.get() + self.step);
        Ok(self.now.get())
    }

    fn wake_after(&self, _: f64, _: crate::clock::Task) {
        unreachable!("nothing is retried in these tests");
    }
}

#[test]
fn operations_that_waited_too_long_are_rejected_unrun() {
    let options = StoreOptions { operation_timeout_ms: Some(25.0), ..StoreOptions::default() };
    let db = Database::in_memory().unwrap();
    let clock = Rc::new(SlowClock { now: Cell::new(0), step: 10 });
    let engine = Rc::new(Engine::open(options, clock, Box::new(Half), db).unwrap());
    let log: Log = Log::default();
    // Submitted at t=10, 20, 30; started at t=40, 50, 60: waits of 30, 30, 30.
    engine.trace_next(Some(1));
    engine.submit(set("a", "1"), recorder(&log, 0));
    engine.trace_next(None);
    engine.submit(set("b", "1"), recorder(&log, 1));
    engine.submit(set("c", "1"), recorder(&log, 2));
    engine.drain();
    for (_, result) in log.borrow().iter() {
        assert_eq!(result.as_ref().unwrap_err().code(), ErrorCode::Timeout);
    }
    let expired = OperationFacts { queued_ms: 30.0, group_size: None, retries: 0 };
    assert_eq!(engine.take_trace_facts(1), Some(expired), "it waited, and never ran");
    // Nothing was written by the timed-out operations.
    let count: Log = Log::default();
    engine.submit(Operation::Count { scope: None }, recorder(&count, 0));
    engine.drain();
    assert!(matches!(count.borrow()[0].1, Ok(Output::Number(0))));
}

#[test]
fn dispose_rejects_the_waiting_and_everything_after() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions::default(), &clock);
    let log: Log = Log::default();
    for id in 0..3 {
        engine.submit(set("k", "1"), recorder(&log, id));
    }
    engine.dispose();
    engine.dispose();
    assert!(engine.is_disposed());
    engine.submit(get("k"), recorder(&log, 3));
    engine.drain();
    let log = log.borrow();
    assert_eq!(log.len(), 4);
    for (_, result) in log.iter() {
        assert_eq!(result.as_ref().unwrap_err().code(), ErrorCode::Disposed);
    }
    assert!(engine.store.borrow().is_none(), "the database is closed");
}

#[test]
fn ttl_and_default_ttl_use_the_clock() {
    let clock = ManualClock::new(1_000);
    let options = StoreOptions { default_ttl: Some(Ttl::Millis(100.0)), ..StoreOptions::default() };
    let engine = engine(options, &clock);
    let log: Log = Log::default();
    engine.submit(set("default", "1"), recorder(&log, 0));
    let Operation::Set { ns, entry, .. } = set("forever", "1") else { unreachable!() };
    engine.submit(Operation::Set { ns, entry, ttl: Some(Ttl::Forever) }, recorder(&log, 1));
    engine.drain();
    clock.advance(100);
    engine.submit(Operation::Count { scope: None }, recorder(&log, 2));
    engine.drain();
    assert!(matches!(log.borrow()[2].1, Ok(Output::Number(1))));
}

#[test]
fn entries_bigger_than_the_budget_are_refused() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions { max_size_bytes: Some(10), ..StoreOptions::default() }, &clock);
    let value = EncodedValue { kind: ValueKind::Json, bytes: b"1".to_vec() };
    assert_eq!(engine.entry("k".into(), value.clone(), Some(10)).unwrap().size, 10);
    let error = engine.entry("k".into(), value, Some(11)).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ValueTooLarge);
}

/// A file database whose connection does not wait for locks, and a
/// second connection to the same file to hold its write lock.
fn contended_file(name: &str) -> (Database, rusqlite::Connection, std::path::PathBuf) {
    struct SharedFile;
    impl crate::database::Backing for SharedFile {
        fn is_file(&self) -> bool {
            false // no exclusive locking: the other connection can get in
        }
        fn confirm_owned(&self) -> Result<()> {
            Ok(())
        }
        fn release(self: Box<Self>) {}
    }
    let path = std::env::temp_dir().join(format!("larder-core-{}-{name}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    let db = Database::over(Ok(conn), Box::new(SharedFile)).unwrap();
    (db, rusqlite::Connection::open(&path).unwrap(), path)
}

#[test]
fn a_retry_waits_on_the_store_clock_and_holds_the_queue_behind_it() {
    let clock = ManualClock::new(0);
    let (db, other, path) = contended_file("retry");
    let engine =
        Rc::new(Engine::open(StoreOptions::default(), Rc::new(clock.clone()), Box::new(Half), db).unwrap());
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let log: Log = Log::default();
    engine.trace_next(Some(1));
    engine.submit(set("k", "1"), recorder(&log, 0));
    engine.trace_next(Some(2));
    engine.submit(get("k"), recorder(&log, 1));
    engine.trace_next(None);
    engine.drain();
    assert!(
        log.borrow().is_empty(),
        "the set failed with BUSY and waits to be retried; the get waits behind it"
    );
    assert_eq!(clock.pending_timers(), 1);
    // Full jitter at 0.5 of baseDelayMs (20): the retry is due at 10 ms.
    clock.advance(9);
    assert!(log.borrow().is_empty(), "not yet due");
    other.execute_batch("ROLLBACK").unwrap();
    clock.advance(1);
    let ids: Vec<usize> = log.borrow().iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![0, 1]);
    assert!(matches!(&log.borrow()[1].1, Ok(Output::Entry(Some(entry))) if entry.value.bytes == b"1"));
    // The set ran twice; the get waited in the queue for its retry.
    let set_facts = OperationFacts { queued_ms: 0.0, group_size: Some(1), retries: 1 };
    assert_eq!(engine.take_trace_facts(1), Some(set_facts));
    let get_facts = OperationFacts { queued_ms: 10.0, group_size: None, retries: 0 };
    assert_eq!(engine.take_trace_facts(2), Some(get_facts));
    engine.dispose();
    let _ = std::fs::remove_file(path);
}

#[test]
fn the_engine_counts_queue_waits_groups_and_commits() {
    use crate::metrics::FLAT_LENGTH;
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions::default(), &clock);
    for operation in [set("a", "1"), set("b", "22"), get("a")] {
        engine.submit(operation, Box::new(|_| {}));
    }
    clock.advance(5);
    engine.drain();
    let flat = engine.metrics();
    assert_eq!(flat.len(), FLAT_LENGTH);
    // Depth now and at most, then commits and grouped commits.
    assert_eq!((flat[0], flat[1], flat[4], flat[5]), (0.0, 3.0, 1.0, 1.0));
    // Two entries of 2 and 3 bytes; a memory store has no file.
    assert_eq!((flat[11], flat[12], flat[13], flat[14]), (2.0, 5.0, 0.0, 0.0));
    // Three waits of 5 ms each: count, sum, max, all in the 5 ms bucket.
    assert_eq!((flat[15], flat[16], flat[17]), (3.0, 15.0, 5.0));
    assert_eq!(flat[18 + 5], 3.0);
}

#[test]
fn traced_operations_tell_their_queue_wait_and_group_and_untraced_ones_nothing() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions::default(), &clock);
    for operation in [set("a", "1"), get("a")] {
        engine.submit(operation, Box::new(|_| {}));
    }
    engine.drain();
    let traced = |engine: &Engine| engine.metrics()[crate::metrics::FLAT_LENGTH - 1];
    assert_eq!(traced(&engine), 0.0, "nothing traced, nothing recorded");
    for (tag, operation) in
        [(Some(1), set("a", "1")), (Some(2), set("b", "2")), (None, set("c", "3")), (Some(3), get("a"))]
    {
        engine.trace_next(tag);
        engine.submit(operation, Box::new(|_| {}));
    }
    engine.trace_next(None);
    engine.submit(set("d", "4"), Box::new(|_| {}));
    clock.advance(5);
    engine.drain();
    assert_eq!(traced(&engine), 3.0, "only the tagged operations");
    let grouped = OperationFacts { queued_ms: 5.0, group_size: Some(3), retries: 0 };
    assert_eq!((engine.take_trace_facts(1), engine.take_trace_facts(2)), (Some(grouped), Some(grouped)));
    let read = OperationFacts { queued_ms: 5.0, group_size: None, retries: 0 };
    assert_eq!(engine.take_trace_facts(3), Some(read));
    assert_eq!(engine.take_trace_facts(3), None, "taken once");
}

#[test]
fn an_idle_engine_runs_a_read_at_once_and_a_busy_one_queues_it() {
    let clock = ManualClock::new(0);
    let engine = engine(StoreOptions::default(), &clock);
    let value_of = |ran: RanNow| match ran {
        RanNow::Answered(Ok(Output::Entry(Some(entry)))) => entry.value.bytes,
        RanNow::Answered(other) => panic!("{other:?}"),
        RanNow::Busy(_) => panic!("busy"),
        RanNow::Retrying(_) => panic!("retrying"),
    };
    engine.submit(set("k", "1"), Box::new(|_| {}));
    assert!(matches!(engine.run_now(get("k")), RanNow::Busy(_)), "a set is queued ahead of it");
    engine.drain();
    assert_eq!(value_of(engine.run_now(get("k"))), b"1");
    assert!(matches!(engine.run_now(set("k", "2")), RanNow::Busy(_)), "a write waits to join a group");
    engine.trace_next(Some(1));
    assert!(matches!(engine.run_now(get("k")), RanNow::Busy(_)), "a traced read queues, for its facts");
    engine.trace_next(None);
    // One wait of 0 ms for the read run at once, besides the set's.
    let flat = engine.metrics();
    assert_eq!(
        (flat[1], flat[15], flat[18]),
        (1.0, 2.0, 2.0),
        "max depth 1; two waits, both in the 0 ms bucket"
    );
    engine.dispose();
    assert!(
        matches!(engine.run_now(get("k")), RanNow::Busy(_)),
        "a disposed store answers through the queue"
    );
}
