//! Model-based test of the store's accounting: a seeded random sequence of
//! every kind of operation, run against the real SQLite store and against a
//! plain in-memory model that mimics TTL, LRU recency and eviction exactly.
//! After every step the live count and size (whole store and one namespace)
//! must agree; at the end every value, the ledgers and a recount must too.

use std::collections::BTreeMap;

use larder::codec::{EncodedValue, ValueKind};
use larder::error::ErrorCode;
use larder::options::StoreOptions;
use larder::store::{Entry, KeyQuery, Scope, Store};
use larder::vfs::Database;
use wasm_bindgen_test::wasm_bindgen_test;

const STEPS: usize = 10_000;
const BUDGET: u64 = 2_000;
const NAMESPACES: [&str; 4] = ["", "a", "ab", "A"];

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn key(&mut self) -> String {
        // Few keys, sharing prefixes, so overwrites and prefix matches are common.
        format!("{}{}", self.pick(&["k", "k%", "K", "k_"]), self.below(12))
    }
}

#[derive(Clone, Debug)]
struct ModelEntry {
    value: Vec<u8>,
    size: u64,
    expires_at: Option<i64>,
    stamp: i64,
}

/// What the store should hold, with the store's own rules written plainly.
#[derive(Clone, Default)]
struct Model {
    entries: BTreeMap<(String, String), ModelEntry>,
    next_stamp: i64,
}

impl Model {
    fn live(&self, now: i64) -> impl Iterator<Item = (&(String, String), &ModelEntry)> {
        self.entries.iter().filter(move |(_, e)| e.expires_at.is_none_or(|t| now < t))
    }

    fn totals(&self, scope: Option<&str>, now: i64) -> (u64, u64) {
        self.live(now)
            .filter(|((ns, _), _)| scope.is_none_or(|scope| scope == ns))
            .fold((0, 0), |(rows, bytes), (_, e)| (rows + 1, bytes + e.size))
    }

    fn stamp(&mut self) -> i64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    /// Writes a batch, then evicts the least recently used live entries not
    /// written by it until the live total fits. False (and no change but the
    /// stamps taken) when it cannot fit.
    fn mset(&mut self, ns: &str, batch: &[Entry], expires_at: Option<i64>, now: i64) -> bool {
        let before = self.entries.clone();
        let first_new = self.next_stamp + 1;
        for entry in batch {
            let stamp = self.stamp();
            let value = entry.value.bytes.clone();
            self.entries.insert(
                (ns.into(), entry.key.clone()),
                ModelEntry { value, size: entry.size, expires_at, stamp },
            );
        }
        let mut live = self.totals(None, now).1;
        let mut victims: Vec<_> = self
            .live(now)
            .filter(|(_, e)| e.stamp < first_new)
            .map(|(k, e)| (e.stamp, k.clone(), e.size))
            .collect();
        victims.sort();
        let mut victims = victims.into_iter();
        while live > BUDGET {
            let Some((_, key, size)) = victims.next() else {
                self.entries = before;
                return false;
            };
            self.entries.remove(&key);
            live -= size;
        }
        true
    }

    fn read(&mut self, ns: &str, key: &str, now: i64) -> Option<Vec<u8>> {
        let stamp = self.next_stamp + 1;
        let entry = self.entries.get_mut(&(ns.to_string(), key.to_string()))?;
        if entry.expires_at.is_some_and(|t| now >= t) {
            return None;
        }
        entry.stamp = stamp;
        self.next_stamp = stamp;
        Some(entry.value.clone())
    }

    /// Removes the matching rows; returns how many of them were live.
    fn remove_where(&mut self, now: i64, doomed: impl Fn(&(String, String), &ModelEntry) -> bool) -> u64 {
        let mut live_removed = 0;
        self.entries.retain(|key, entry| {
            let remove = doomed(key, entry);
            if remove && entry.expires_at.is_none_or(|t| now < t) {
                live_removed += 1;
            }
            !remove
        });
        live_removed
    }
}

fn entry(rng: &mut Rng) -> Entry {
    let key = rng.key();
    let text = format!("\"{}\"", "x".repeat(rng.below(40) as usize));
    let value = EncodedValue { kind: ValueKind::Json, bytes: text.into_bytes() };
    // Now and then an explicit size big enough that two of them cannot fit
    // the budget together: such batches must roll back whole.
    let size = match rng.below(100) {
        0..=4 => 600 + rng.below(BUDGET - 600),
        5..=29 => rng.below(400),
        _ => (key.len() + value.bytes.len()) as u64,
    };
    Entry { key, value, size }
}

fn expiry(rng: &mut Rng, now: i64) -> Option<i64> {
    rng.chance(40).then(|| now + 1 + rng.below(200) as i64)
}

fn scope_of(ns: Option<&str>) -> Scope<'_> {
    ns.map_or(Scope::Store, Scope::Namespace)
}

#[wasm_bindgen_test]
fn accounting_matches_the_model_through_every_kind_of_operation() {
    let mut rng = Rng(0x5eed_1a2d_e2c0_ffee);
    let mut store = Store::open(
        Database::in_memory().unwrap(),
        &StoreOptions { max_size_bytes: Some(BUDGET), ..StoreOptions::default() },
    )
    .unwrap();
    let mut model = Model::default();
    let mut now: i64 = 1_000;
    let mut rejected_batches = 0;

    for step in 0..STEPS {
        let ns = rng.pick(&NAMESPACES);
        let label = match rng.below(13) {
            0..=2 => {
                let entry = entry(&mut rng);
                let expires_at = expiry(&mut rng, now);
                let fits = model.mset(ns, std::slice::from_ref(&entry), expires_at, now);
                let result = store.set(ns, &entry, expires_at, now);
                assert_eq!(result.is_ok(), fits, "step {step}: set {entry:?}: {result:?}");
                "set"
            }
            3 => {
                let batch: Vec<Entry> = (0..rng.below(8)).map(|_| entry(&mut rng)).collect();
                let expires_at = expiry(&mut rng, now);
                let fits = model.mset(ns, &batch, expires_at, now);
                match store.mset(ns, &batch, expires_at, now) {
                    Ok(()) => assert!(fits, "step {step}: mset should not fit"),
                    Err(error) => {
                        assert!(!fits, "step {step}: mset failed: {error}");
                        assert_eq!(error.code(), ErrorCode::ValueTooLarge);
                        rejected_batches += 1;
                    }
                }
                "mset"
            }
            4..=5 => {
                let key = rng.key();
                assert_eq!(
                    store.get(ns, &key, now).unwrap().map(|v| v.bytes),
                    model.read(ns, &key, now),
                    "step {step}"
                );
                "get"
            }
            6 => {
                let keys: Vec<String> = (0..rng.below(5)).map(|_| rng.key()).collect();
                let expected: Vec<_> = keys.iter().map(|key| model.read(ns, key, now)).collect();
                let got: Vec<_> =
                    store.mget(ns, &keys, now).unwrap().into_iter().map(|v| v.map(|v| v.bytes)).collect();
                assert_eq!(got, expected, "step {step}");
                "mget"
            }
            7 => {
                let keys: Vec<String> = (0..1 + rng.below(4)).map(|_| rng.key()).collect();
                let expected = model.remove_where(now, |(n, k), _| n == ns && keys.contains(k));
                assert_eq!(store.mdelete(ns, &keys, now).unwrap(), expected, "step {step}");
                "mdelete"
            }
            8 => {
                let prefix = rng.pick(&["", "k", "k%", "K", "k1", "k_1"]);
                let expected = model.remove_where(now, |(n, k), _| n == ns && k.starts_with(prefix));
                assert_eq!(store.invalidate(ns, prefix, now).unwrap(), expected, "step {step}");
                "invalidate"
            }
            9 => {
                let scope = rng.chance(50).then_some(ns);
                let expected = model.remove_where(now, |(n, _), e| {
                    scope.is_none_or(|s| s == n) && e.expires_at.is_some_and(|t| now >= t)
                });
                assert_eq!(expected, 0, "purged rows are never live");
                let stored_expired =
                    store.recount().unwrap().total().rows - store.count(Scope::Store, now).unwrap();
                let purged = store.purge_expired(scope_of(scope), now).unwrap();
                assert!(purged <= stored_expired, "step {step}: purged {purged} of {stored_expired}");
                "purgeExpired"
            }
            10 if rng.chance(10) => {
                let scope = rng.chance(50).then_some(ns);
                model.remove_where(now, |(n, _), _| scope.is_none_or(|s| s == n));
                store.clear(scope_of(scope)).unwrap();
                "clear"
            }
            10 => {
                let key = rng.key();
                let live = model
                    .entries
                    .get(&(ns.to_string(), key.clone()))
                    .is_some_and(|e| e.expires_at.is_none_or(|t| now < t));
                assert_eq!(store.has(ns, &key, now).unwrap(), live, "step {step}");
                "has"
            }
            _ => {
                now += rng.below(60) as i64;
                "advance the clock"
            }
        };
        for scope in [None, Some(ns)] {
            let expected = model.totals(scope, now);
            let scoped = scope_of(scope);
            let got = (store.count(scoped, now).unwrap(), store.total_size(scoped, now).unwrap());
            assert_eq!(got, expected, "step {step} ({label}), scope {scope:?}");
        }
        assert!(store.total_size(Scope::Store, now).unwrap() <= BUDGET, "step {step}: over budget");
    }

    // Every value as the model has it, the ledgers equal to a recount, and the
    // live size equal to SUM(size) over the live rows.
    for ns in NAMESPACES {
        let keys = store.keys(ns, &KeyQuery::default(), now).unwrap();
        let expected: Vec<String> =
            model.live(now).filter(|((n, _), _)| n == ns).map(|((_, k), _)| k.clone()).collect();
        assert_eq!(keys, expected, "namespace {ns:?}");
        for key in keys {
            assert_eq!(store.get(ns, &key, now).unwrap().map(|v| v.bytes), model.read(ns, &key, now));
        }
    }
    assert_eq!(store.ledgers(), &store.recount().unwrap());
    let live = store.recount_live(now).unwrap();
    assert_eq!((live.rows, live.bytes), model.totals(None, now));
    assert_eq!(live.bytes, store.total_size(Scope::Store, now).unwrap());
    assert!(rejected_batches > 0, "the run must include rolled-back batches");
}
