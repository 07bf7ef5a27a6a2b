//! Model-based test of the store's accounting, as a proptest state machine:
//! sequences of every kind of operation, run against the real SQLite store
//! and against a plain in-memory model that mimics TTL, LRU recency and
//! eviction exactly. Every step's result must be the model's; after every
//! step the live count and size (whole store and each namespace), the
//! ledgers, a recount and the live keys must agree with it and stay within
//! the budget; at the end every value must too. A failing sequence is shrunk
//! to a short one.

use larder_core::database::Database;
use larder_core::error::ErrorCode;
use larder_core::options::StoreOptions;
use larder_core::store::{Entry, KeyQuery, Scope, Store};
// Live entries one eviction query reads, and expired rows one write purges.
use larder_core::testing::{EVICTION_BATCH, LAZY_PURGE_LIMIT};
use larder_core::value::{EncodedValue, ValueKind};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

const BUDGET: u64 = 2_000;
const NAMESPACES: [&str; 4] = ["", "a", "ab", "A"];
/// Few keys, sharing prefixes, so overwrites and prefix matches are common.
const KEY_STEMS: [&str; 4] = ["k", "k%", "K", "k_"];
const KEY_NUMBERS: u8 = 12;
/// `%`, `_` and case must mean nothing special to `invalidate`.
const PREFIXES: [&str; 6] = ["", "k", "k%", "K", "k1", "k_1"];
const START_MS: i64 = 1_000;

/// Random sequences: many short ones (`PROPTEST_CASES` sets how many, to
/// soak).
const CASES: u32 = 64;
const MAX_STEPS: usize = 200;
/// And one long sequence from a fixed seed, long enough to fill the store
/// with more entries than one eviction query reads and more expired rows
/// than one write purges.
const LONG_RUN_STEPS: usize = 10_000;
const LONG_RUN_SEED: u64 = 0x5eed_1a2d_e2c0_ffee;

/// Failing seeds are kept under the build's target directory, never in the
/// repository; they are replayed first on the next run of this build.
const REGRESSIONS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/larder-core-model.proptest-regressions");

// ---------------------------------------------------------------------------
// Transitions

/// One entry to write: the JSON string of `xs` x's under `key`, of its
/// natural size (key and value bytes) unless one is given.
#[derive(Clone, Debug)]
struct Put {
    key: String,
    xs: usize,
    size: Option<u64>,
}

impl Put {
    fn entry(&self) -> Entry {
        let bytes = format!("\"{}\"", "x".repeat(self.xs)).into_bytes();
        let size = self.size.unwrap_or((self.key.len() + bytes.len()) as u64);
        Entry { key: self.key.clone(), value: EncodedValue { kind: ValueKind::Json, bytes }, size }
    }
}

/// One step. Times to live are relative to the clock when the step runs;
/// `scope: None` is the whole store.
#[derive(Clone, Debug)]
enum Step {
    Set { ns: &'static str, put: Put, ttl: Option<i64> },
    Mset { ns: &'static str, puts: Vec<Put>, ttl: Option<i64> },
    Get { ns: &'static str, key: String },
    Mget { ns: &'static str, keys: Vec<String> },
    Mdelete { ns: &'static str, keys: Vec<String> },
    Invalidate { ns: &'static str, prefix: &'static str },
    PurgeExpired { scope: Option<&'static str> },
    Clear { scope: Option<&'static str> },
    Has { ns: &'static str, key: String },
    AdvanceClock { ms: i64 },
}

fn any_key() -> BoxedStrategy<String> {
    (select(&KEY_STEMS[..]), 0..KEY_NUMBERS).prop_map(|(stem, n)| format!("{stem}{n}")).boxed()
}

/// How a sequence is drawn. `Mixed` spreads steps over every operation,
/// most of them writes and reads. `Crowded` piles up many small entries with long lives, removes few, and now and
/// then jumps the clock far ahead: so one write must evict more entries than
/// one eviction query reads, and more rows expire at once than one write
/// purges on the side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    Mixed,
    Crowded,
}

fn put(mix: Mix) -> impl Strategy<Value = Put> {
    // Now and then an explicit size big enough that two of them cannot fit
    // the budget together: such batches must roll back whole.
    let (longest_value, natural, small, big, smallest_big) = match mix {
        Mix::Mixed => (40usize, 70, 25, 5, 600),
        Mix::Crowded => (4, 96, 3, 1, 1_200),
    };
    let size = prop_oneof![
        natural => Just(None),
        small => (0..400u64).prop_map(Some),
        big => (smallest_big..BUDGET).prop_map(Some),
    ];
    (any_key(), 0..longest_value, size).prop_map(|(key, xs, size)| Put { key, xs, size })
}

fn ttl(mix: Mix) -> impl Strategy<Value = Option<i64>> {
    let (forever, expiring, longest) = match mix {
        Mix::Mixed => (60, 40, 200i64),
        Mix::Crowded => (30, 70, 5_000),
    };
    prop_oneof![forever => Just(None), expiring => (1..=longest).prop_map(Some)]
}

fn advance(mix: Mix) -> BoxedStrategy<i64> {
    match mix {
        Mix::Mixed => (0..60i64).boxed(),
        Mix::Crowded => prop_oneof![50 => 0..60i64, 1 => 2_000..6_000i64].boxed(),
    }
}

fn any_namespace() -> impl Strategy<Value = &'static str> {
    select(&NAMESPACES[..])
}

fn scope() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![Just(None), any_namespace().prop_map(Some)]
}

/// A namespace and what to read in it: half the keys are any key, half one
/// the model holds there (live or expired), so reads find entries often.
fn reading<T: std::fmt::Debug + 'static>(
    model: &Model,
    of: fn(BoxedStrategy<String>) -> BoxedStrategy<T>,
) -> BoxedStrategy<(&'static str, T)> {
    let held: Vec<Vec<String>> = NAMESPACES
        .iter()
        .map(|ns| model.entries.keys().filter(|(n, _)| n == ns).map(|(_, key)| key.clone()).collect())
        .collect();
    (0..NAMESPACES.len())
        .prop_flat_map(move |i| {
            let key = match held[i].as_slice() {
                [] => any_key(),
                held => prop_oneof![any_key(), select(held.to_vec())].boxed(),
            };
            (Just(NAMESPACES[i]), of(key))
        })
        .boxed()
}

#[path = "model/plain_model.rs"]
mod plain_model;

use plain_model::{Model, Outcome};

struct TheStore;

impl ReferenceStateMachine for TheStore {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        let mix = prop_oneof![3 => Just(Mix::Mixed), 1 => Just(Mix::Crowded)];
        let reads_persisted_at =
            prop_oneof![Just(1), Just(8), Just(StoreOptions::default().reads_persisted_at)];
        (mix, reads_persisted_at).prop_map(|(mix, at)| Model::new(mix, at)).boxed()
    }

    fn transitions(model: &Model) -> BoxedStrategy<Step> {
        let mix = model.mix;
        // The weights the mixes differ in.
        let (set, mset, mdelete, invalidate, purge, clear) = match mix {
            Mix::Mixed => (30, 10, 10, 10, 10, 1),
            Mix::Crowded => (30, 20, 2, 1, 1, 1),
        };
        prop_oneof![
            set => (any_namespace(), put(mix), ttl(mix)).prop_map(|(ns, put, ttl)| Step::Set { ns, put, ttl }),
            mset => (any_namespace(), vec(put(mix), 0..8), ttl(mix))
                .prop_map(|(ns, puts, ttl)| Step::Mset { ns, puts, ttl }),
            20 => reading(model, |key| key).prop_map(|(ns, key)| Step::Get { ns, key }),
            10 => reading(model, |key| vec(key, 0..5).boxed()).prop_map(|(ns, keys)| Step::Mget { ns, keys }),
            mdelete => reading(model, |key| vec(key, 1..5).boxed()).prop_map(|(ns, keys)| Step::Mdelete { ns, keys }),
            invalidate => (any_namespace(), select(&PREFIXES[..]))
                .prop_map(|(ns, prefix)| Step::Invalidate { ns, prefix }),
            purge => scope().prop_map(|scope| Step::PurgeExpired { scope }),
            clear => scope().prop_map(|scope| Step::Clear { scope }),
            9 => reading(model, |key| key).prop_map(|(ns, key)| Step::Has { ns, key }),
            20 => advance(mix).prop_map(|ms| Step::AdvanceClock { ms }),
        ]
        .boxed()
    }

    fn apply(mut model: Model, step: &Step) -> Model {
        let now = model.now;
        model.outcome = match step {
            Step::Set { ns, put, ttl } => {
                Outcome::Written { fits: model.mset(ns, std::slice::from_ref(put), ttl.map(|ttl| now + ttl)) }
            }
            Step::Mset { ns, puts, ttl } => {
                Outcome::Written { fits: model.mset(ns, puts, ttl.map(|ttl| now + ttl)) }
            }
            Step::Get { ns, key } => Outcome::Value(model.read(ns, key)),
            Step::Mget { ns, keys } => Outcome::Values(keys.iter().map(|key| model.read(ns, key)).collect()),
            Step::Mdelete { ns, keys } => {
                Outcome::LiveRemoved(model.remove_where(|(n, k), _| n == ns && keys.contains(k)))
            }
            Step::Invalidate { ns, prefix } => {
                Outcome::LiveRemoved(model.remove_where(|(n, k), _| n == ns && k.starts_with(prefix)))
            }
            Step::PurgeExpired { scope } => {
                let live_removed = model.remove_where(|(n, _), e| {
                    scope.is_none_or(|s| s == n) && e.expires_at.is_some_and(|t| now >= t)
                });
                assert_eq!(live_removed, 0, "purged rows are never live");
                Outcome::Done
            }
            Step::Clear { scope } => {
                model.remove_where(|(n, _), _| scope.is_none_or(|s| s == n));
                Outcome::Done
            }
            Step::Has { ns, key } => Outcome::Live(
                model.entries.get(&(ns.to_string(), key.clone())).is_some_and(|entry| model.is_live(entry)),
            ),
            Step::AdvanceClock { ms } => {
                model.now += ms;
                Outcome::Done
            }
        };
        model
    }
}

// ---------------------------------------------------------------------------
// The store under test

struct Sut {
    store: Store,
    now: i64,
    rejected_batches: usize,
    /// The most expired rows stored when a write began.
    most_expired_at_a_write: u64,
}

fn scope_of(ns: Option<&str>) -> Scope<'_> {
    ns.map_or(Scope::Store, Scope::Namespace)
}

fn text(value: Option<EncodedValue>) -> Option<String> {
    value.map(|value| {
        assert_eq!(value.kind, ValueKind::Json);
        String::from_utf8(value.bytes).unwrap()
    })
}

impl Sut {
    fn written(&mut self, result: larder_core::error::Result<()>) -> Outcome {
        if let Err(error) = &result {
            assert_eq!(error.code(), ErrorCode::ValueTooLarge, "{error}");
            self.rejected_batches += 1;
        }
        Outcome::Written { fits: result.is_ok() }
    }

    /// After every step: the live count and size of the whole store and of
    /// every namespace, and each namespace's live keys, are the model's, and
    /// within the budget. (`count`, `total_size` and `keys` do not touch
    /// recency, so checking them changes nothing the model must mirror.)
    fn check_live(&mut self, model: &Model) {
        assert_eq!(self.now, model.now);
        for scope in std::iter::once(None).chain(NAMESPACES.map(Some)) {
            let got = (
                self.store.count(scope_of(scope), self.now).unwrap(),
                self.store.total_size(scope_of(scope), self.now).unwrap(),
            );
            assert_eq!(got, model.totals(scope), "live count and size of scope {scope:?}");
        }
        assert!(self.store.total_size(Scope::Store, self.now).unwrap() <= BUDGET, "over budget");
        for ns in NAMESPACES {
            let keys = self.store.keys(ns, &KeyQuery::default(), self.now).unwrap();
            assert_eq!(keys, model.live_keys(ns), "live keys of namespace {ns:?}");
        }
    }

    /// Rows stored in the scope, live or expired, as a recount has them.
    fn stored(&self, scope: Option<&str>) -> u64 {
        let recount = self.store.recount().unwrap();
        scope.map_or(recount.total(), |ns| recount.namespace(ns)).rows
    }
}

impl StateMachineTest for TheStore {
    type SystemUnderTest = Sut;
    type Reference = TheStore;

    fn init_test(model: &Model) -> Sut {
        let options = StoreOptions {
            max_size_bytes: Some(BUDGET),
            reads_persisted_at: model.reads_persisted_at,
            ..StoreOptions::default()
        };
        Sut {
            store: Store::open(Database::in_memory().unwrap(), &options).unwrap(),
            now: model.now,
            rejected_batches: 0,
            most_expired_at_a_write: 0,
        }
    }

    fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
        let now = sut.now;
        if let Step::Set { .. } | Step::Mset { .. } | Step::Mdelete { .. } | Step::Invalidate { .. } = step {
            let expired = sut.stored(None) - sut.store.count(Scope::Store, now).unwrap();
            sut.most_expired_at_a_write = sut.most_expired_at_a_write.max(expired);
        }
        let store = &mut sut.store;
        let outcome = match step {
            Step::Set { ns, put, ttl } => {
                let result = store.set(ns, &put.entry(), ttl.map(|ttl| now + ttl), now);
                sut.written(result)
            }
            Step::Mset { ns, puts, ttl } => {
                let batch: Vec<Entry> = puts.iter().map(Put::entry).collect();
                let result = store.mset(ns, &batch, ttl.map(|ttl| now + ttl), now);
                sut.written(result)
            }
            Step::Get { ns, key } => {
                Outcome::Value(text(store.get(ns, &key, now).unwrap().map(|entry| entry.value)))
            }
            Step::Mget { ns, keys } => Outcome::Values(
                store
                    .mget(ns, &keys, now)
                    .unwrap()
                    .into_iter()
                    .map(|entry| text(entry.map(|entry| entry.value)))
                    .collect(),
            ),
            Step::Mdelete { ns, keys } => Outcome::LiveRemoved(store.mdelete(ns, &keys, now).unwrap()),
            Step::Invalidate { ns, prefix } => {
                Outcome::LiveRemoved(store.invalidate(ns, prefix, now).unwrap())
            }
            Step::PurgeExpired { scope } => {
                let stored = sut.stored(scope);
                let live = sut.store.count(scope_of(scope), now).unwrap();
                let purged = sut.store.purge_expired(scope_of(scope), now).unwrap();
                assert_eq!(purged, stored - live, "every expired row of the scope is purged, and only those");
                assert_eq!(sut.stored(scope), model.totals(scope).0, "no expired row is left in the scope");
                Outcome::Done
            }
            Step::Clear { scope } => {
                store.clear(scope_of(scope)).unwrap();
                assert_eq!(sut.stored(scope), 0, "nothing is left in the scope");
                Outcome::Done
            }
            Step::Has { ns, key } => Outcome::Live(store.has(ns, &key, now).unwrap()),
            Step::AdvanceClock { ms } => {
                sut.now += ms;
                Outcome::Done
            }
        };
        assert_eq!(outcome, model.outcome, "the step's result");
        sut.check_live(model);
        sut
    }

    /// What can be read without `&mut`: the ledgers equal a recount, and the
    /// live rows and `SUM(size)` over them are the model's.
    fn check_invariants(sut: &Sut, model: &Model) {
        assert_eq!(sut.store.ledgers(), &sut.store.recount().unwrap(), "the ledgers");
        let live = sut.store.recount_live(sut.now).unwrap();
        assert_eq!((live.rows, live.bytes), model.totals(None), "the live rows recounted");
    }

    fn teardown(mut sut: Sut, mut model: Model) {
        // Every value as the model has it (reading refreshes recency on both
        // sides alike).
        for ns in NAMESPACES {
            for key in model.live_keys(ns) {
                assert_eq!(
                    text(sut.store.get(ns, &key, sut.now).unwrap().map(|entry| entry.value)),
                    model.read(ns, &key),
                    "{ns:?} {key:?}"
                );
            }
        }
        sut.store.close().unwrap();
    }
}

/// The long run's machine: the random test's, always with the crowded mix.
struct CrowdedStore;

impl ReferenceStateMachine for CrowdedStore {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::new(Mix::Crowded, 8)).boxed()
    }

    fn transitions(model: &Model) -> BoxedStrategy<Step> {
        <TheStore as ReferenceStateMachine>::transitions(model)
    }

    fn apply(model: Model, step: &Step) -> Model {
        <TheStore as ReferenceStateMachine>::apply(model, step)
    }
}

/// The long run: the random test's checks; and the run must have reached
/// the cases it is there for.
struct LongRun;

impl StateMachineTest for LongRun {
    type SystemUnderTest = Sut;
    type Reference = CrowdedStore;

    fn init_test(model: &Model) -> Sut {
        <TheStore as StateMachineTest>::init_test(model)
    }

    fn apply(sut: Sut, model: &Model, step: Step) -> Sut {
        <TheStore as StateMachineTest>::apply(sut, model, step)
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        <TheStore as StateMachineTest>::check_invariants(sut, model)
    }

    fn teardown(sut: Sut, model: Model) {
        assert!(sut.rejected_batches > 0, "the run must include rolled-back batches");
        assert!(
            model.most_evicted as u64 > EVICTION_BATCH,
            "one write must evict more than one eviction query reads; the most was {}",
            model.most_evicted
        );
        assert!(
            sut.most_expired_at_a_write > LAZY_PURGE_LIMIT,
            "a write must find more expired rows than it purges; the most was {}",
            sut.most_expired_at_a_write
        );
        <TheStore as StateMachineTest>::teardown(sut, model)
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(CASES)
}

fn config(cases: u32, rng_seed: RngSeed) -> Config {
    Config {
        cases,
        rng_seed,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..Config::default()
    }
}

prop_state_machine! {
    #![proptest_config(config(cases(), RngSeed::Random))]

    /// Many short random sequences, each shrunk to a minimal one on failure.
    #[test]
    fn accounting_matches_the_model_through_every_kind_of_operation(sequential 1..MAX_STEPS => TheStore);
}

prop_state_machine! {
    #![proptest_config(Config {
        // Shrinking thousands of steps takes long: give up after a minute
        // and report what it has.
        max_shrink_time: 60_000,
        ..config(1, RngSeed::Fixed(LONG_RUN_SEED))
    })]

    /// One long sequence from a fixed seed.
    #[test]
    fn accounting_matches_the_model_through_a_long_run(sequential LONG_RUN_STEPS => LongRun);
}
