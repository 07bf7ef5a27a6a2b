//! The core's cost per operation, natively: the engine (queue, store, SQLite)
//! driven as the wasm crate drives it, without JS, wasm or a VFS of larder's
//! in the way, so it can be profiled with `perf`. A plain timing binary
//! (`harness = false`): `make bench-core`, or
//! `cargo bench -p larder-core --bench core [-- STORAGE…]` with STORAGE among
//! `file-normal`, `file-full`, `memory`. `LARDER_BENCH_QUICK=1`: a tenth of
//! the sizes. Timings are printed, never asserted; what is read back is checked.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use larder_core::clock::{Clock, Task};
use larder_core::database::Database;
use larder_core::engine::Engine;
use larder_core::error::Result;
use larder_core::operation::{Operation, Output};
use larder_core::options::{Durability, StoragePath, StoreOptions};
use larder_core::retry::Random;
use larder_core::store::{Entry, ReadEntry};
use larder_core::value::{EncodedValue, ValueKind};

/// The Node benchmark's sizes (bench/lib/workloads.mjs); batch sizes stay fixed.
struct Sizes {
    set: usize,
    get: usize,
    mset_entries: usize,
    mget_keys: usize,
    mixed: usize,
    capacity_sets: usize,
    capacity_bytes: u64,
}

const MSET_BATCH: usize = 1_000;
const MGET_BATCH: usize = 100;
/// The least a value takes: W7's budget in entries is its bytes over this.
const VALUE_BYTES: usize = 1_000;

impl Sizes {
    fn scaled(divisor: usize) -> Sizes {
        Sizes {
            set: 10_000 / divisor,
            get: 10_000 / divisor,
            mset_entries: (100_000 / divisor).max(MSET_BATCH),
            mget_keys: (10_000 / divisor).max(MGET_BATCH),
            mixed: 50_000 / divisor,
            capacity_sets: 10_000 / divisor,
            capacity_bytes: 4_000_000 / divisor as u64,
        }
    }
}

/// The system's time, and timers run by `run_next_timer` (a retry's wait).
#[derive(Default)]
struct BenchClock {
    timers: RefCell<Vec<(Instant, Task)>>,
}

impl Clock for BenchClock {
    fn now_ms(&self) -> Result<i64> {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
        Ok(since_epoch.as_millis() as i64)
    }

    fn wake_after(&self, delay_ms: f64, task: Task) {
        let due = Instant::now() + Duration::from_secs_f64(delay_ms / 1000.0);
        self.timers.borrow_mut().push((due, task));
    }
}

impl BenchClock {
    /// Waits for the earliest timer and runs it; false when there is none.
    fn run_next_timer(&self) -> bool {
        let next = {
            let mut timers = self.timers.borrow_mut();
            let earliest = (0..timers.len()).min_by_key(|&i| timers[i].0);
            earliest.map(|i| timers.swap_remove(i))
        };
        let Some((due, task)) = next else { return false };
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        task();
        true
    }
}

/// Retries' jitter, fixed: none is expected here.
struct Half;

impl Random for Half {
    fn unit(&self) -> f64 {
        0.5
    }
}

#[derive(Clone, Copy)]
enum Storage {
    FileNormal,
    FileFull,
    Memory,
}

impl Storage {
    const ALL: [Storage; 3] = [Storage::FileNormal, Storage::FileFull, Storage::Memory];

    fn name(self) -> &'static str {
        match self {
            Storage::FileNormal => "file-normal",
            Storage::FileFull => "file-full",
            Storage::Memory => "memory",
        }
    }
}

/// One open engine, called the way the wasm boundary calls it: submit, then
/// drain when told to, then run timers until the caller is answered.
struct Bench {
    engine: Rc<Engine>,
    clock: Rc<BenchClock>,
    /// Holds the file's directory for as long as the store is open.
    _dir: Option<tempfile::TempDir>,
}

impl Bench {
    fn open(storage: Storage, max_size_bytes: Option<u64>) -> Bench {
        let (db, path, dir) = match storage {
            Storage::Memory => (Database::in_memory(), StoragePath::Memory, None),
            Storage::FileNormal | Storage::FileFull => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let file = dir.path().join("kv.sqlite");
                let path = StoragePath::File(file.to_string_lossy().into_owned());
                (Database::native_file(&file), path, Some(dir))
            }
        };
        let durability = match storage {
            Storage::FileFull => Durability::Full,
            _ => Durability::Normal,
        };
        let options = StoreOptions { path, durability, max_size_bytes, ..StoreOptions::default() };
        let clock = Rc::new(BenchClock::default());
        let engine = Engine::open(options, clock.clone(), Box::new(Half), db.expect("the database opens"))
            .expect("the store opens");
        Bench { engine: Rc::new(engine), clock, _dir: dir }
    }

    fn call(&self, operation: Operation) -> Output {
        let answer = Rc::new(RefCell::new(None));
        let slot = answer.clone();
        if self.engine.submit(operation, Box::new(move |result| *slot.borrow_mut() = Some(result))) {
            self.engine.drain();
        }
        loop {
            if let Some(result) = answer.borrow_mut().take() {
                return result.unwrap_or_else(|error| panic!("an operation failed: {error}"));
            }
            assert!(self.clock.run_next_timer(), "an operation was never answered");
        }
    }

    fn entry(&self, key: String, json: &str) -> Entry {
        let value = EncodedValue { kind: ValueKind::Json, bytes: json.as_bytes().to_vec() };
        self.engine.entry(key, value, None).expect("the entry fits")
    }

    fn set(&self, key: String, json: &str) {
        let entry = self.entry(key, json);
        self.call(Operation::Set { ns: String::new(), entry, ttl: None });
    }

    fn mset(&self, entries: Vec<(String, &str)>) {
        let entries = entries.into_iter().map(|(key, json)| self.entry(key, json)).collect();
        self.call(Operation::MSet { ns: String::new(), entries, ttl: None });
    }

    fn get(&self, key: &str) -> Option<EncodedValue> {
        match self.call(Operation::Get { ns: String::new(), key: key.to_owned() }) {
            Output::Entry(entry) => entry.map(|entry| entry.value),
            other => panic!("get answered {other:?}"),
        }
    }

    fn mget(&self, keys: &[String]) -> Vec<Option<ReadEntry>> {
        match self.call(Operation::MGet { ns: String::new(), keys: keys.to_vec() }) {
            Output::Entries(entries) => entries,
            other => panic!("mget answered {other:?}"),
        }
    }

    fn number(&self, operation: Operation) -> u64 {
        match self.call(operation) {
            Output::Number(n) => n,
            other => panic!("expected a number, got {other:?}"),
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.engine.dispose();
    }
}

/// mulberry32, as bench/lib/data.mjs: a small seeded generator of [0, 1).
struct Seeded(u32);

impl Seeded {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6d2b_79f5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() * n as f64) as usize
    }
}

const WORDS: [&str; 12] = [
    "cache", "store", "entry", "value", "record", "button", "table", "chart", "modal", "toast", "badge",
    "card",
];

/// JSON objects of about 1 KB, as the Node benchmark's values.
fn value_pool(seed: u32) -> Vec<String> {
    let mut random = Seeded(seed);
    (0..100)
        .map(|id| {
            let mut description = String::new();
            while description.len() < VALUE_BYTES - 60 {
                description.push_str(WORDS[random.below(WORDS.len())]);
                description.push(' ');
            }
            let score = random.below(1_000_000);
            format!(
                r#"{{"id":{id},"kind":"card","score":{score},"active":true,"description":"{description}"}}"#
            )
        })
        .collect()
}

/// Fixed-width keys such as "w1:000042".
fn keys(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}:{i:06}")).collect()
}

fn shuffled(n: usize, seed: u32) -> Vec<usize> {
    let mut random = Seeded(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, random.below(i + 1));
    }
    order
}

/// W5's operations: (is a set, key index), Zipf (s = 1) over `key_count` keys, 10% sets.
fn mixed_operations(count: usize, key_count: usize, seed: u32) -> Vec<(bool, usize)> {
    let mut random = Seeded(seed);
    let mut total = 0.0;
    let cumulative: Vec<f64> = (0..key_count)
        .map(|rank| {
            total += 1.0 / (rank + 1) as f64;
            total
        })
        .collect();
    let key_of_rank = shuffled(key_count, seed + 1);
    (0..count)
        .map(|_| {
            let target = random.next() * total;
            let rank = cumulative.partition_point(|&c| c < target).min(key_count - 1);
            (random.next() < 0.1, key_of_rank[rank])
        })
        .collect()
}

/// Microseconds per operation of `run`, which performs `ops` of them.
fn per_op_us(ops: usize, run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    start.elapsed().as_secs_f64() * 1e6 / ops as f64
}

/// W1–W5 on one store, in order (W2, W4 and W5 read what W1 and W3 wrote):
/// µs per set, get, mset entry, mget key and mixed operation.
fn run_workloads(storage: Storage, sizes: &Sizes) -> [f64; 5] {
    let bench = Bench::open(storage, None);
    let pool = value_pool(1);
    let value = |i: usize| pool[i % pool.len()].as_str();
    let set_keys = keys("w1", sizes.set);
    let set = per_op_us(sizes.set, || {
        set_keys.iter().enumerate().for_each(|(i, key)| bench.set(key.clone(), value(i)))
    });
    let get_order = shuffled(sizes.set, 2);
    let get = per_op_us(sizes.get, || {
        for &i in &get_order[..sizes.get] {
            assert_eq!(
                bench.get(&set_keys[i]).map(|v| v.bytes),
                Some(value(i).as_bytes().to_vec()),
                "W2 reads W1"
            );
        }
    });
    let mset_keys = keys("w3", sizes.mset_entries);
    let mset = per_op_us(sizes.mset_entries, || {
        for (b, batch) in mset_keys.chunks(MSET_BATCH).enumerate() {
            bench.mset(
                batch.iter().enumerate().map(|(i, key)| (key.clone(), value(b * MSET_BATCH + i))).collect(),
            );
        }
    });
    let mget_keys: Vec<String> =
        shuffled(sizes.mset_entries, 4)[..sizes.mget_keys].iter().map(|&i| mset_keys[i].clone()).collect();
    let mget = per_op_us(sizes.mget_keys, || {
        for batch in mget_keys.chunks(MGET_BATCH) {
            assert!(bench.mget(batch).iter().all(Option::is_some), "W4 reads W3");
        }
    });
    let operations = mixed_operations(sizes.mixed, sizes.set, 5);
    let mixed = per_op_us(sizes.mixed, || {
        for &(is_set, key) in &operations {
            match is_set {
                true => bench.set(set_keys[key].clone(), value(key + 1)),
                false => assert!(bench.get(&set_keys[key]).is_some(), "W5 reads W1"),
            }
        }
    });
    [set, get, mset, mget, mixed]
}

/// W7 on a store of its own: filled to `maxSizeBytes` (twice over, so
/// eviction has run), then µs per set of a new key, every one evicting.
/// Checked after: the budget held, the count bounded, the last key readable
/// and the first evicted.
fn run_at_capacity(storage: Storage, sizes: &Sizes) -> f64 {
    let bench = Bench::open(storage, Some(sizes.capacity_bytes));
    let pool = value_pool(7);
    let value = |i: usize| pool[i % pool.len()].as_str();
    let max_count = (sizes.capacity_bytes / VALUE_BYTES as u64) as usize;
    let fill = keys("w7-fill", 2 * max_count);
    // Batches of a quarter of the budget at most: one batch must fit it whole.
    let batch_len = (max_count / 4).clamp(1, 100);
    for (b, batch) in fill.chunks(batch_len).enumerate() {
        bench
            .mset(batch.iter().enumerate().map(|(i, key)| (key.clone(), value(b * batch_len + i))).collect());
    }
    let size = || bench.number(Operation::CacheSize { scope: None });
    assert!(size() + 2 * 1_100 > sizes.capacity_bytes, "W7 starts full");
    let set_keys = keys("w7", sizes.capacity_sets);
    let us = per_op_us(sizes.capacity_sets, || {
        set_keys.iter().enumerate().for_each(|(i, key)| bench.set(key.clone(), value(i)));
    });
    assert!(size() <= sizes.capacity_bytes, "W7 keeps to the budget");
    assert!(bench.number(Operation::Count { scope: None }) as usize <= max_count, "W7's count stays bounded");
    assert!(bench.get(set_keys.last().expect("W7 sets keys")).is_some(), "W7's last set is readable");
    if set_keys.len() > max_count {
        assert!(bench.get(&set_keys[0]).is_none(), "W7's first set is evicted");
    }
    us
}

fn main() {
    // `cargo bench` passes `--bench`; every other argument names a storage.
    let wanted: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    if let Some(unknown) = wanted.iter().find(|arg| !Storage::ALL.iter().any(|s| s.name() == arg.as_str())) {
        eprintln!("unknown storage {unknown:?}; known: file-normal, file-full, memory");
        std::process::exit(2);
    }
    let quick = std::env::var("LARDER_BENCH_QUICK").is_ok_and(|value| value == "1");
    let sizes = Sizes::scaled(if quick { 10 } else { 1 });
    println!(
        "larder-core, natively: microseconds per operation (W3: per entry, W4: per key){}",
        match quick {
            true => ", QUICK mode (a tenth of the sizes)",
            false => "",
        }
    );
    println!();
    println!("| storage     |  W1 set |  W2 get | W3 mset | W4 mget | W5 mixed | W7 set at capacity |");
    println!("|-------------|--------:|--------:|--------:|--------:|---------:|-------------------:|");
    for storage in
        Storage::ALL.into_iter().filter(|s| wanted.is_empty() || wanted.iter().any(|w| w == s.name()))
    {
        let [set, get, mset, mget, mixed] = run_workloads(storage, &sizes);
        let at_capacity = run_at_capacity(storage, &sizes);
        println!(
            "| {:<11} | {set:>7.2} | {get:>7.2} | {mset:>7.2} | {mget:>7.2} | {mixed:>8.2} | {at_capacity:>18.2} |",
            storage.name()
        );
    }
    println!();
    println!(
        "W1 {} sets of ~1 KB JSON; W2 {} gets; W3 {} entries in msets of {MSET_BATCH}; W4 {} keys in mgets of {MGET_BATCH}; \
         W5 {} operations, 90% get / 10% set, Zipf over W1's keys; W7 {} sets of new keys into maxSizeBytes {}, each evicting.",
        sizes.set, sizes.get, sizes.mset_entries, sizes.mget_keys, sizes.mixed, sizes.capacity_sets, sizes.capacity_bytes
    );
    println!("Files: a fresh temporary directory per store, SQLite's own VFS (file-normal: synchronous=NORMAL, file-full: FULL).");
}
