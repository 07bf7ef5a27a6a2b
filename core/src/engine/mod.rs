//! One open store: its operation queue in front of its SQLite store. Every
//! operation is submitted with the callback that answers its caller, waits in
//! the queue, and runs alone, in call order, when the queue is drained.
//!
//! The engine knows nothing of JS: the boundary turns calls into `Operation`s,
//! schedules `drain` on the event loop, and turns `Output`s back into values.
//! A retry's wait runs on the store's clock (`Clock::wake_after`).

mod read_cache;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::accounting::{check_fits_budget, entry_size};
use crate::breaker::{Admission, BreakerState, CircuitBreaker};
use crate::clock::Clock;
use crate::database::Database;
use crate::deadline;
use crate::error::{ErrorCode, Result, StorageError};
use crate::metrics::{add, CoreMetrics, Gauges};
use crate::operation::{Operation, Output};
use crate::options::{StoreOptions, Ttl};
use crate::queue::{Next, OperationQueue, Queued, Refused};
use crate::retry::{self, FailedAttempt, Random};
use crate::store::{Entry, GroupedSet, Store};
use crate::trace::{OperationFacts, TraceFacts};
use crate::value::EncodedValue;

/// Answers one caller; called exactly once per submitted operation.
pub type Reply = Box<dyn FnOnce(Result<Output>)>;

/// Told of every breaker transition, `(state, previous)`, in order.
pub type TransitionListener = Box<dyn Fn(BreakerState, BreakerState)>;

struct Pending {
    operation: Operation,
    reply: Reply,
    /// Set for a traced call: its facts are recorded under this tag.
    trace_tag: Option<u64>,
}

/// Sets joined into one group commit at most.
const GROUP_COMMIT_LIMIT: usize = 1024;

/// What runs as one attempt: one operation, or consecutive sets committed
/// together. A job set aside for a retry keeps its breaker admission.
struct Job {
    members: Vec<Queued<Pending>>,
    admission: Option<Admission>,
    attempts: u32,
    /// When it left the queue, on the store's clock.
    started_ms: i64,
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

/// What `Engine::run_now` did with a read.
pub enum RanNow {
    /// Nothing: it is a write or the store is busy, and it must be submitted.
    Busy(Operation),
    Answered(Result<Output>),
    /// It failed and waits to be retried; its answer will come later.
    Retrying(LateAnswer),
}

/// The answer of a read run at once that is retried: kept until the caller
/// says where it goes (`answer_to`), or passed on as it comes after that.
pub struct LateAnswer(Rc<RefCell<LateSlot>>);

enum LateSlot {
    Waiting,
    Answered(Result<Output>),
    GoesTo(Reply),
}

impl LateAnswer {
    /// The answer and the reply that gives it.
    fn new() -> (Self, Reply) {
        let slot = Rc::new(RefCell::new(LateSlot::Waiting));
        let given = slot.clone();
        let reply: Reply = Box::new(move |result| {
            let waiting = std::mem::replace(&mut *given.borrow_mut(), LateSlot::Waiting);
            match waiting {
                LateSlot::GoesTo(reply) => reply(result),
                _ => *given.borrow_mut() = LateSlot::Answered(result),
            }
        });
        (Self(slot), reply)
    }

    fn take(&self) -> Option<Result<Output>> {
        match std::mem::replace(&mut *self.0.borrow_mut(), LateSlot::Waiting) {
            LateSlot::Answered(result) => Some(result),
            _ => None,
        }
    }

    /// Sends the answer to `reply`, now if it has come.
    pub fn answer_to(self, reply: Reply) {
        match self.take() {
            Some(result) => reply(result),
            None => *self.0.borrow_mut() = LateSlot::GoesTo(reply),
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
    metrics: Rc<CoreMetrics>,
    trace: TraceFacts,
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
            metrics: store.metrics(),
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
            trace: TraceFacts::default(),
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
        let mut queue = self.queue.borrow_mut();
        let pushed = queue.push(kind, now_ms, Pending { operation, reply, trace_tag: self.trace.next_tag() });
        let depth = queue.len();
        drop(queue);
        match pushed {
            Ok(()) => {
                self.metrics.note_queue_depth(depth);
                !self.drain_scheduled.replace(true)
            }
            Err(Refused { error, payload }) => {
                (payload.reply)(Err(error));
                false
            }
        }
    }

    /// Runs a read at once, as the queue would run it next, when the store
    /// is idle: nothing queued, running or waiting to be retried, the breaker
    /// closed and no call being traced. It is then a job like any other: it
    /// waited 0 ms, and its failures are retried, counted and fed to the
    /// breaker as queued ones are. A write always waits for the drain, so
    /// that the sets issued in one turn commit as one group.
    pub fn run_now(self: &Rc<Self>, operation: Operation) -> RanNow {
        if operation.kind().writes() || !self.is_idle() {
            return RanNow::Busy(operation);
        }
        let now_ms = match self.now_ms() {
            Ok(now_ms) => now_ms,
            Err(error) => return RanNow::Answered(Err(error)),
        };
        let (answer, reply) = LateAnswer::new();
        let member = Queued {
            kind: operation.kind(),
            enqueued_at_ms: now_ms,
            payload: Pending { operation, reply, trace_tag: None },
        };
        self.note_wait(now_ms, now_ms);
        self.run_job(
            Job {
                members: vec![member],
                admission: None,
                attempts: 0,
                started_ms: now_ms,
                due_ms: f64::NEG_INFINITY,
            },
            now_ms,
        );
        self.announce_transitions();
        if self.retry_waiting.borrow().is_some() {
            // The drain a queued job's retry would have been set aside by.
            self.drain_scheduled.set(true);
            self.drain();
        }
        match answer.take() {
            Some(result) => RanNow::Answered(result),
            None => RanNow::Retrying(answer),
        }
    }

    fn is_idle(&self) -> bool {
        let queue = self.queue.borrow();
        queue.is_empty()
            && !queue.is_closed()
            && !self.drain_scheduled.get()
            && self.retry_waiting.borrow().is_none()
            && self.breaker_state() == BreakerState::Closed
            && self.trace.next_tag().is_none()
    }

    /// Runs queued operations, one at a time, and answers each caller; sets
    /// waiting together run as one group commit. No borrow is held while a
    /// caller is answered. When an operation waits to be retried, the drain
    /// goes on after the wait, on the store's clock, and the operations behind
    /// it wait too, so call order holds.
    pub fn drain(self: &Rc<Self>) {
        loop {
            let retry = self.retry_waiting.borrow_mut().take();
            // The clock is read only for work to do: each reading crosses to JS.
            if retry.is_none() && self.queue.borrow().is_empty() {
                break;
            }
            let now = self.now_ms();
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
            Next::Expired(Queued { kind, payload, enqueued_at_ms }) => {
                self.note_wait(enqueued_at_ms, now_ms);
                if let Some(tag) = payload.trace_tag {
                    let queued_ms = now_ms.saturating_sub(enqueued_at_ms).max(0) as f64;
                    self.record_trace(tag, OperationFacts { queued_ms, group_size: None, retries: 0 });
                }
                add(&self.metrics.timeouts, 1);
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
        for member in &members {
            self.note_wait(member.enqueued_at_ms, now_ms);
        }
        Some(Ok(Job { members, admission: None, attempts: 0, started_ms: now_ms, due_ms: f64::NEG_INFINITY }))
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
                Err(error) => {
                    self.record_facts(&job, false);
                    return job.answer_all(Err(error));
                }
            },
        };
        job.attempts += 1;
        let deadline_ms = self
            .options
            .operation_timeout_ms
            .map(|timeout| job.members[0].enqueued_at_ms.saturating_add(timeout.ceil() as i64));
        let result =
            deadline::run_until(self.clock.clone(), deadline_ms, || self.run_members(&job.members, now_ms));
        // Waits and the open period run from when the attempt failed; a
        // success is not timed (the breaker only resets its count), which
        // spares a reading of the clock, a crossing to JS, per operation.
        let finished_ms = match result {
            Ok(_) => now_ms,
            Err(_) => self.now_ms().unwrap_or(now_ms),
        };
        if let Err(error) = &result {
            let failed = FailedAttempt {
                attempt: job.attempts,
                error,
                effect_possible: self.failed_write_may_persist(),
                failed_at_ms: finished_ms,
                deadline_ms,
            };
            if let Some(due_ms) = retry::next_attempt_at(&self.options.retry, &failed, self.random.unit()) {
                add(&self.metrics.retries, 1);
                job.admission = Some(admission);
                job.due_ms = due_ms;
                self.retry_waiting.replace(Some(job));
                return;
            }
        }
        self.breaker.borrow_mut().record(admission, result.as_ref().map(|_| ()), finished_ms);
        self.count_outcome(&result, job.members.len());
        self.record_facts(&job, true);
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

    /// A group commit that ran, or a job that ran out of time.
    fn count_outcome<T>(&self, result: &Result<T>, members: usize) {
        match result {
            Ok(_) if members > 1 => add(&self.metrics.grouped_commits, 1),
            Err(error) if error.code() == ErrorCode::Timeout => add(&self.metrics.timeouts, 1),
            _ => {}
        }
    }

    /// The facts of a job's traced members as it is answered; `ran`: it
    /// reached the store (else the breaker refused it).
    fn record_facts(&self, job: &Job, ran: bool) {
        for member in &job.members {
            if let Some(tag) = member.payload.trace_tag {
                let writes = ran && member.kind.writes();
                self.record_trace(
                    tag,
                    OperationFacts {
                        queued_ms: job.started_ms.saturating_sub(member.enqueued_at_ms).max(0) as f64,
                        group_size: writes.then_some(job.members.len()),
                        retries: job.attempts.saturating_sub(1),
                    },
                );
            }
        }
    }

    fn record_trace(&self, tag: u64, facts: OperationFacts) {
        self.trace.record(tag, facts);
        add(&self.metrics.traced, 1);
    }

    /// The trace facts tell of the operations submitted from now on, under
    /// `tag`, until it is set to `None`.
    pub fn trace_next(&self, tag: Option<u64>) {
        self.trace.tag_next(tag);
    }

    /// The facts of the settled operation tagged `tag`, once.
    pub fn take_trace_facts(&self, tag: u64) -> Option<OperationFacts> {
        self.trace.take(tag)
    }

    /// How long an operation waited in the queue, unless the clock failed.
    fn note_wait(&self, enqueued_at_ms: i64, now_ms: i64) {
        if now_ms != i64::MIN {
            self.metrics.queue_wait.record(now_ms.saturating_sub(enqueued_at_ms).max(0) as f64);
        }
    }

    /// The counters and the store's state as one array (`CoreMetrics::flat`).
    pub fn metrics(&self) -> Vec<f64> {
        let store = self.store.try_borrow().ok();
        let store = store.as_ref().and_then(|store| store.as_ref());
        let total = store.map(|store| store.ledgers().total());
        let (file_bytes, wal_bytes) = store.map_or((0, 0), Store::file_bytes);
        let breaker_state = match self.breaker_state() {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        };
        self.metrics.flat(&Gauges {
            queue_depth: self.queue.borrow().len(),
            breaker_state,
            entries: total.map_or(0, |total| total.rows),
            size_bytes: total.map_or(0, |total| total.bytes),
            file_bytes,
            wal_bytes,
        })
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
        let openings = transitions.iter().filter(|(state, _)| *state == BreakerState::Open).count();
        add(&self.metrics.breaker_opened, openings as u64);
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
mod tests;
