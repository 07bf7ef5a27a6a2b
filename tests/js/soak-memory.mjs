// Memory soak: mixed operations on one file store kept at capacity (sets
// evict, TTLs expire), printing the memory every SAMPLE_EVERY operations,
// then checking that RSS stayed flat after the warm-up. Run by `make soak`
// with 1,000,000 operations and by lifecycle.test.mjs with 50,000:
//
//   node tests/js/soak-memory.mjs [operations] [seed]
//
// Exits 1 if RSS grew past the bound (below) or the store past its budget,
// 2 if a read returned a value written under another key.

import { spawnSync } from "node:child_process";
import { seededRandom } from "./helpers.mjs";

// gc() before each sample, and a young generation of fixed size: V8 grows it
// in 8 MiB steps as the allocation rate stays high, which would show in RSS
// as growth that is no leak. Without the flags, run again with them.
const V8_FLAGS = ["--expose-gc", "--min-semi-space-size=16", "--max-semi-space-size=16"];
if (!V8_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  const run = spawnSync(process.execPath, [...V8_FLAGS, ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}

// The store's wasm memory, seen by watching instantiation: its size is the
// core's own footprint, which RSS blurs with V8's heap and compiled code.
const memories = [];
const Instance = WebAssembly.Instance;
WebAssembly.Instance = function (module, imports) {
  const instance = new Instance(module, imports);
  if (instance.exports.memory instanceof WebAssembly.Memory) memories.push(instance.exports.memory);
  return instance;
};
const { openStorage } = await import("larderdb");

const OPERATIONS = Number(process.argv[2] ?? 1_000_000);
const SEED = Number(process.argv[3] ?? 0x50a4);
const SAMPLE_EVERY = OPERATIONS >= 500_000 ? 50_000 : 5_000;
/** The samples before this many operations are the warm-up (caches fill, the wasm memory reaches its peak). */
const WARMUP = Math.max(SAMPLE_EVERY, Math.floor(OPERATIONS / 5));
const MiB = 1024 * 1024;
/**
 * How much RSS may grow from the end of the warm-up to the end. The store's
 * data is capped at MAX_SIZE_BYTES and SQLite's page cache at its 2 MiB
 * default, and a wasm memory never shrinks but stops growing once it has
 * held the peak working set, so a healthy run only moves by the garbage
 * collector's noise (up to 3 MiB seen). Over the 800,000 operations after
 * the warm-up of the full run, 16 MiB is 21 bytes an operation: a leak of
 * one key string, value copy, promise or statement per operation breaks it.
 * Over the 40,000 of the short run, 8 MiB is 210 bytes an operation: a
 * value (hundreds of bytes) kept per operation breaks it.
 */
const BOUND = (OPERATIONS >= 500_000 ? 16 : 8) * MiB;
const MAX_SIZE_BYTES = 256 * 1024;
const KEYS = 4_000;

const random = seededRandom(SEED);
let now = 1_000_000;
const store = await openStorage({
  path: ":temp:",
  maxSizeBytes: MAX_SIZE_BYTES,
  durability: "normal",
  // One millisecond an operation: TTLs of 1 to 2,000 ms expire during the run.
  clock: () => now,
});

/** A value that names its key and version, so that a read can be checked. */
const value = (key, version) => ({ key, version, pad: "p".repeat(random.int(20, 1_500)) });
const key = () => `k${random.int(0, KEYS - 1)}`;
let version = 0;
const check = (k, read) => {
  if (read !== undefined && (read === null || read.key !== k)) {
    console.error(`a read of ${k} returned ${JSON.stringify(read).slice(0, 200)}`);
    process.exit(2);
  }
};

/** Memory after full collections; `external` holds the wasm memory. */
const memory = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage();
};

const samples = [];
const counts = { get: 0, set: 0, ttl: 0, mset: 0, delete: 0, mget: 0, has: 0, evictedOrExpired: 0 };
for (let op = 1; op <= OPERATIONS; op++) {
  now += 1;
  const roll = random.next();
  if (roll < 0.4) {
    counts.get++;
    const k = key();
    const read = await store.get(k);
    if (read === undefined) counts.evictedOrExpired++;
    check(k, read);
  } else if (roll < 0.6) {
    counts.set++;
    const k = key();
    await store.set(k, value(k, version++));
  } else if (roll < 0.7) {
    counts.ttl++;
    const k = key();
    await store.set(k, value(k, version++), { ttlMs: random.int(1, 2_000) });
  } else if (roll < 0.75) {
    counts.mset++;
    const entries = Array.from({ length: random.int(2, 8) }, () => key()).map((k) => [k, value(k, version++)]);
    await store.mset(entries, random.chance(0.3) ? { ttlMs: random.int(1, 2_000) } : undefined);
  } else if (roll < 0.88) {
    counts.delete++;
    await store.delete(key());
  } else if (roll < 0.95) {
    counts.mget++;
    const keys = Array.from({ length: random.int(2, 8) }, () => key());
    const reads = await store.mget(keys);
    reads.forEach((read, i) => check(keys[i], read));
  } else {
    counts.has++;
    await store.has(key());
  }
  if (op % SAMPLE_EVERY === 0) {
    const { rss, heapUsed, heapTotal, external } = memory();
    const wasm = memories.at(-1).buffer.byteLength;
    const sample = { ops: op, rss, wasm, size: await store.getCurrentCacheSize(), count: await store.count() };
    samples.push(sample);
    const mib = (bytes) => `${(bytes / MiB).toFixed(1).padStart(6)} MiB`;
    console.log(
      `ops ${String(op).padStart(9)}  rss ${mib(rss)}  wasm ${mib(wasm)}  ` +
        `heap ${mib(heapUsed)} of ${mib(heapTotal)}  external ${mib(external)}  ` +
        `store ${sample.count} entries, ${sample.size} bytes`,
    );
  }
}
await store.dispose();

const warm = samples.find((sample) => sample.ops >= WARMUP);
const last = samples.at(-1);
const peak = samples.filter((sample) => sample.ops >= WARMUP).reduce((a, b) => (b.rss > a.rss ? b : a));
const growth = last.rss - warm.rss;
console.log(
  `seed ${SEED}; ${JSON.stringify(counts)}; RSS after warm-up (${warm.ops} ops) ${(warm.rss / MiB).toFixed(1)} MiB, ` +
    `at the end ${(last.rss / MiB).toFixed(1)} MiB (growth ${(growth / MiB).toFixed(1)} MiB, bound ${(BOUND / MiB).toFixed(1)} MiB), ` +
    `peak after warm-up ${(peak.rss / MiB).toFixed(1)} MiB at ${peak.ops} ops; ` +
    `wasm memory ${(warm.wasm / MiB).toFixed(1)} MiB after warm-up, ${(last.wasm / MiB).toFixed(1)} MiB at the end`,
);
if (samples.some((sample) => sample.size > MAX_SIZE_BYTES)) {
  console.error(`the store went over maxSizeBytes (${MAX_SIZE_BYTES})`);
  process.exit(1);
}
if (growth > BOUND) {
  console.error(`RSS grew ${(growth / MiB).toFixed(1)} MiB after the warm-up, more than ${(BOUND / MiB).toFixed(1)} MiB`);
  process.exit(1);
}
