//! One open store: its operation queue in front of its SQLite store. Every
//! operation is submitted with the callback that answers its caller, waits in
//! the queue, and runs alone, in call order, when the queue is drained.
//!
//! The engine knows nothing of JS: the boundary turns calls into `Operation`s,
//! schedules `drain` on the event loop, and turns `Output`s back into values.
//! A retry's wait runs on the store's clock (`Clock::wake_after`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::accounting::{check_fits_budget, entry_size};
use crate::breaker::{Admission, BreakerState, CircuitBreaker};
use crate::clock::Clock;
use crate::database::Database;
use crate::deadline;
use crate::error::{Result, StorageError};
use crate::operation::{Operation, Output};
use crate::options::{StoreOptions, Ttl};
use crate::queue::{Next, OperationQueue, Queued, Refused};
use crate::retry::{self, FailedAttempt, Random};
use crate::store::{Entry, GroupedSet, Store};
use crate::value::EncodedValue;

/// Answers one caller; called exactly once per submitted operation.
pub type Reply = Box<dyn FnOnce(Result<Output>)>;

/// Told of every breaker transition, `(state, previous)`, in order.
pub type TransitionListener = Box<dyn Fn(BreakerState, BreakerState)>;

struct Pending {
    operation: Operation,
    reply: Reply,
}

/// Sets joined into one group commit at most.
const GROUP_COMMIT_LIMIT: usize = 1024;

/// What runs as one attempt: one operation, or consecutive sets committed
/// together. A job set aside for a retry keeps its breaker admission.
struct Job {
    members: Vec<Queued<Pending>>,
    admission: Option<Admission>,
    attempts: u32,
    /// When the next attempt may start, on the store's clock.
    due_ms: f64,
}

impl Job {
    fn answer_all(self, result: Result<Output>) {
        for member in self.members {
            (member.payload.reply)(result.clone());
        }
    }
}

pub struct Engine {
    queue: RefCell<OperationQueue<Pending>>,
    /// `None` once closed.
    store: RefCell<Option<Store>>,
    clock: Rc<dyn Clock>,
    random: Box<dyn Random>,
    /// The latest time the clock has shown: time never runs backwards for
    /// the store, so an entry once expired stays expired.
    latest_ms: Cell<i64>,
    options: StoreOptions,
    drain_scheduled: Cell<bool>,
    breaker: RefCell<CircuitBreaker>,
    /// The job waiting for its next attempt; the queue waits behind it.
    retry_waiting: RefCell<Option<Job>>,
    transition_listener: RefCell<Option<Rc<TransitionListener>>>,
}

impl Engine {
    /// An engine for an opened database; the database is closed on failure.
    pub fn open(
        options: StoreOptions,
        clock: Rc<dyn Clock>,
        random: Box<dyn Random>,
        db: Database,
    ) -> Result<Engine> {
        let store = Store::open(db, &options)?;
        Ok(Engine {
            queue: RefCell::new(OperationQueue::new(options.max_queue_length)),
            store: RefCell::new(Some(store)),
            clock,
            random,
            latest_ms: Cell::new(i64::MIN),
            breaker: RefCell::new(CircuitBreaker::new(options.breaker.clone())),
            retry_waiting: RefCell::new(None),
            transition_listener: RefCell::new(None),
            options,
            drain_scheduled: Cell::new(false),
        })
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Sizes an entry and checks it against the budget.
    pub fn entry(&self, key: String, value: EncodedValue, explicit_size: Option<u64>) -> Result<Entry> {
        let size = entry_size(&key, &value, explicit_size);
        check_fits_budget(&key, size, self.options.max_size_bytes)?;
        Ok(Entry { key, value, size })
    }

    /// Queues an operation. A refusal (queue full, disposed, clock failure) is
    /// answered at once. Returns true when the caller must schedule `drain`.
    pub fn submit(&self, operation: Operation, reply: Reply) -> bool {
        let now_ms = match self.now_ms() {
            Ok(now_ms) => now_ms,
            Err(error) => {
                reply(Err(error));
                return false;
            }
        };
        let kind = operation.kind();
        let pushed = self.queue.borrow_mut().push(kind, now_ms, Pending { operation, reply });
        match pushed {
            Ok(()) => !self.drain_scheduled.replace(true),
            Err(Refused { error, payload }) => {
                (payload.reply)(Err(error));
                false
            }
        }
    }

    /// Runs queued operations, one at a time, and answers each caller; sets
    /// waiting together run as one group commit. No borrow is held while a
    /// caller is answered. When an operation waits to be retried, the drain
    /// goes on after the wait, on the store's clock, and the operations behind
    /// it wait too, so call order holds.
    pub fn drain(self: &Rc<Self>) {
        loop {
            let now = self.now_ms();
            let retry = self.retry_waiting.borrow_mut().take();
            let job = match retry {
                Some(job) => job,
                None => match self.take_job(&now) {
                    None => break,
                    Some(Err((reply, error))) => {
                        reply(Err(error));
                        continue;
                    }
                    Some(Ok(job)) => job,
                },
            };
            let now_ms = match now {
                Ok(now_ms) => now_ms,
                Err(error) => {
                    job.answer_all(Err(error));
                    continue;
                }
            };
            if (now_ms as f64) < job.due_ms {
                let wait_ms = job.due_ms - now_ms as f64;
                self.retry_waiting.replace(Some(job));
                // Weak: a store disposed meanwhile is not kept alive by its timer.
                let engine = Rc::downgrade(self);
                self.clock.wake_after(
                    wait_ms,
                    Box::new(move || {
                        if let Some(engine) = engine.upgrade() {
                            engine.drain();
                        }
                    }),
                );
                return;
            }
            self.run_job(job, now_ms);
            self.announce_transitions();
        }
        self.drain_scheduled.set(false);
        if self.queue.borrow().is_closed() {
            self.close_store();
        }
    }

    /// The next job from the queue: its head, joined by the sets right behind
    /// it if it is a set and the breaker is closed; or the head's caller with
    /// the error of having waited too long.
    fn take_job(&self, now: &Result<i64>) -> Option<std::result::Result<Job, (Reply, StorageError)>> {
        let timeout_ms = self.options.operation_timeout_ms;
        // With no time to measure by, nothing counts as expired.
        let now_ms = *now.as_ref().unwrap_or(&i64::MIN);
        let mut queue = self.queue.borrow_mut();
        let head = match queue.next(now_ms, timeout_ms)? {
            Next::Run(head) => head,
            Next::Expired(Queued { kind, payload, .. }) => {
                let error = StorageError::Timeout(format!(
                    "{} waited in the queue longer than operationTimeoutMs ({} ms) and did not run",
                    kind.name(),
                    timeout_ms.unwrap_or(f64::INFINITY)
                ));
                return Some(Err((payload.reply, error)));
            }
        };
        let is_set = |pending: &Pending| matches!(pending.operation, Operation::Set { .. });
        let mut members = vec![head];
        // Only a closed breaker groups: a half-open probe is one operation.
        let may_group = self.breaker.borrow().state() == BreakerState::Closed;
        if may_group && is_set(&members[0].payload) {
            while members.len() < GROUP_COMMIT_LIMIT {
                match queue.next_if(now_ms, timeout_ms, is_set) {
                    Some(next) => members.push(next),
                    None => break,
                }
            }
        }
        Some(Ok(Job { members, admission: None, attempts: 0, due_ms: f64::NEG_INFINITY }))
    }

    /// Runs one attempt of a job if the breaker lets it through, until its
    /// deadline (`operationTimeoutMs` after its oldest member was called).
    /// Answers its callers, or, after a transient failure with attempts left
    /// and no possible effect, sets it aside to be retried.
    fn run_job(&self, mut job: Job, now_ms: i64) {
        let admission = match job.admission {
            Some(admission) => admission,
            None => match self.breaker.borrow_mut().admit(now_ms) {
                Ok(admission) => admission,
                Err(error) => return job.answer_all(Err(error)),
            },
        };
        job.attempts += 1;
        let deadline_ms = self
            .options
            .operation_timeout_ms
            .map(|timeout| job.members[0].enqueued_at_ms.saturating_add(timeout.ceil() as i64));
        let result =
            deadline::run_until(self.clock.clone(), deadline_ms, || self.run_members(&job.members, now_ms));
        // Waits and the open period run from when the attempt failed.
        let finished_ms = self.now_ms().unwrap_or(now_ms);
        if let Err(error) = &result {
            let failed = FailedAttempt {
                attempt: job.attempts,
                error,
                effect_possible: self.failed_write_may_persist(),
                failed_at_ms: finished_ms,
                deadline_ms,
            };
            if let Some(due_ms) = retry::next_attempt_at(&self.options.retry, &failed, self.random.unit()) {
                job.admission = Some(admission);
                job.due_ms = due_ms;
                self.retry_waiting.replace(Some(job));
                return;
            }
        }
        self.breaker.borrow_mut().record(admission, result.as_ref().map(|_| ()), finished_ms);
        match result {
            Ok(outputs) => {
                for (member, output) in job.members.into_iter().zip(outputs) {
                    (member.payload.reply)(output);
                }
            }
            Err(error) => job.answer_all(Err(error)),
        }
    }

    /// One output per member: a group commit's members may fail alone.
    fn run_members(&self, members: &[Queued<Pending>], now_ms: i64) -> Result<Vec<Result<Output>>> {
        if let [single] = members {
            return self.run(&single.payload.operation, now_ms).map(|output| vec![Ok(output)]);
        }
        let sets: Vec<GroupedSet> = members
            .iter()
            .map(|member| match &member.payload.operation {
                Operation::Set { ns, entry, ttl } => {
                    Ok(GroupedSet { ns, entry, expires_at: self.expiry(*ttl, now_ms) })
                }
                other => Err(StorageError::Internal(format!("a {:?} joined a group of sets", other.kind()))),
            })
            .collect::<Result<_>>()?;
        let outcomes = self.with_store(|store| store.set_group(&sets, now_ms))?;
        Ok(outcomes.into_iter().map(|outcome| outcome.map(|()| Output::Done)).collect())
    }

    fn failed_write_may_persist(&self) -> bool {
        self.with_store(|store| Ok(store.failed_write_may_persist())).unwrap_or(true)
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.borrow().state()
    }

    /// Sets the one listener told of breaker transitions (the boundary fans
    /// them out to the store's `onStateChange` listeners).
    pub fn on_transition(&self, listener: TransitionListener) {
        self.transition_listener.replace(Some(Rc::new(listener)));
    }

    /// Tells the listener of the breaker's transitions, with no borrow held.
    fn announce_transitions(&self) {
        let transitions = self.breaker.borrow_mut().take_transitions();
        if transitions.is_empty() {
            return;
        }
        let listener = self.transition_listener.borrow().clone();
        if let Some(listener) = listener {
            for (state, previous) in transitions {
                listener(state, previous);
            }
        }
    }

    /// Runs `body` on the open store.
    fn with_store<T>(&self, body: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let mut slot = self
            .store
            .try_borrow_mut()
            .map_err(|_| StorageError::Internal("an operation started while another was running".into()))?;
        let store = slot.as_mut().ok_or(StorageError::Disposed)?;
        // Every operation, reads too: a store that lost its file to another
        // owner must neither write to it nor read it as it changes.
        store.confirm_owned()?;
        body(store)
    }

    /// When an entry written now with `ttl` (or the default TTL) expires.
    fn expiry(&self, ttl: Option<Ttl>, now_ms: i64) -> Option<i64> {
        ttl.or(self.options.default_ttl).and_then(|ttl| ttl.expires_at(now_ms))
    }

    fn run(&self, operation: &Operation, now_ms: i64) -> Result<Output> {
        #[cfg(feature = "test-hooks")]
        if matches!(operation, Operation::Get { key, .. } if key == crate::PANIC_IN_OPERATION) {
            panic!("test-hooks: a panic inside an operation");
        }
        self.with_store(|store| operation.run(store, |ttl| self.expiry(ttl, now_ms), now_ms))
    }

    /// The clock's time, never earlier than a time it has already shown.
    fn now_ms(&self) -> Result<i64> {
        let now_ms = self.clock.now_ms()?.max(self.latest_ms.get());
        self.latest_ms.set(now_ms);
        Ok(now_ms)
    }

    /// Stops intake, rejects every waiting operation (a retry waiting too) with `DISPOSED` and closes
    /// the database, or, if an operation is running, leaves the closing to the
    /// drain once it has finished. Idempotent.
    pub fn dispose(&self) {
        let waiting = self.queue.borrow_mut().close();
        let retry = self.retry_waiting.borrow_mut().take();
        if let Some(job) = retry {
            job.answer_all(Err(StorageError::Disposed));
        }
        for queued in waiting {
            (queued.payload.reply)(Err(StorageError::Disposed));
        }
        self.close_store();
    }

    pub fn is_disposed(&self) -> bool {
        self.queue.borrow().is_closed()
    }

    fn close_store(&self) {
        let Ok(mut slot) = self.store.try_borrow_mut() else {
            return; // An operation is running; the drain closes after it.
        };
        if let Some(store) = slot.take() {
            // Nothing is left to report a close failure to; the data is
            // already committed, so dropping the handle loses nothing.
            let _ = store.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::error::ErrorCode;
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
            Ok(Output::Value(Some(value))) => value.bytes.clone(),
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
        assert!(matches!(&log[3].1, Ok(Output::Value(Some(value))) if value.bytes == b"2"));
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
        engine.submit(set("a", "1"), recorder(&log, 0));
        engine.submit(set("b", "1"), recorder(&log, 1));
        engine.submit(set("c", "1"), recorder(&log, 2));
        engine.drain();
        for (_, result) in log.borrow().iter() {
            assert_eq!(result.as_ref().unwrap_err().code(), ErrorCode::Timeout);
        }
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
        let engine = Rc::new(
            Engine::open(StoreOptions::default(), Rc::new(clock.clone()), Box::new(Half), db).unwrap(),
        );
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let log: Log = Log::default();
        engine.submit(set("k", "1"), recorder(&log, 0));
        engine.submit(get("k"), recorder(&log, 1));
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
        assert!(matches!(&log.borrow()[1].1, Ok(Output::Value(Some(value))) if value.bytes == b"1"));
        engine.dispose();
        let _ = std::fs::remove_file(path);
    }
}
