// A model-based run through the JS API: a seeded sequence of ~2,000 random
// operations of every kind against a store with a maxSizeBytes budget (so that
// eviction happens often), and again without one, the facade's read cache
// answering gets in both, mirrored on an in-memory model that implements LRU
// exactly: every read hit and every written entry takes the next recency
// stamp; a write evicts the smallest stamps among live entries it did not
// write itself until the live total fits the budget, or fails (VALUE_TOO_LARGE)
// and changes nothing. After every step count() and getCurrentCacheSize() (and
// keys(), which must not refresh recency) must equal the model's; at the end
// every key's value must. Prints nothing; a mismatch fails with the step
// number and the operation.

import { test } from "node:test";
import assert from "node:assert/strict";
import { open, manualClock, utf8, byUtf8, assertStorageError, seededRandom, SUITE_TIMEOUT_MS, runModelSteps } from "./helpers.mjs";

// LARDER_MODEL_SEED replays another sequence; the default is fixed.
const SEED = Number(process.env.LARDER_MODEL_SEED ?? 20240611);
const STEPS = 2000;
/** The budget of the first run, and the scale of the values of both. */
const BUDGET = 800;
const NAMES = [undefined, "v"]; // the root's own namespace and one view: one budget for both
const KEYS = Array.from({ length: 24 }, (_, i) => `k${String(i).padStart(2, "0")}`);
const PREFIXES = ["k0", "k1", "k2", "k", "k00", "k15", "x", ""];

/** The default size the README defines: key bytes + encoded value bytes. */
const defaultSize = (key, value) =>
  utf8(key) + (value instanceof Uint8Array ? value.length : utf8(JSON.stringify(value)));

/** Values the store must refuse with INVALID_VALUE (each a fresh factory). */
const INVALID_VALUES = [
  () => () => 1,
  () => undefined,
  () => NaN,
  () => ({ a: undefined }),
  () => Symbol("s"),
  () => new Date(0),
  () => [1, new Uint8Array(1)],
];

function describeOp(op) {
  return JSON.stringify(op, (key, value) => {
    if (key === "ns") return value === 0 ? "(root)" : NAMES[value];
    if (value === undefined) return "(undefined)";
    if (typeof value === "function") return "(function)";
    if (typeof value === "symbol") return "(symbol)";
    if (typeof value === "number" && !Number.isFinite(value)) return String(value);
    if (value instanceof Uint8Array) return `(Uint8Array ${value.length})`;
    if (value instanceof Date) return "(Date)";
    return value;
  });
}

// The "cached" mix keeps the read cache fuller: most calls that empty it
// (invalidate, clear) become gets, and most sets have neither a TTL
// nor an explicit size, so their entries are cached; more gets then meet
// cached entries, evicted ones among them. It runs longer: a hit that
// changes which entry a write evicts, or an evicted entry read again from
// the cache, is rarer than the faults the other runs meet.
for (const [budget, mix, steps] of [[BUDGET, "every", STEPS], [BUDGET, "cached", 5 * STEPS], [Infinity, "every", STEPS]]) {
  const title = `${budget === Infinity ? "without a budget" : `with a ${budget}-byte LRU budget`}${mix === "cached" ? ", mostly calls the read cache sees" : ""}`;
  test(`model: ${steps} random operations ${title}`, { timeout: SUITE_TIMEOUT_MS }, (t) => runModel(t, budget, mix, steps));
}

async function runModel(t, budget, mix, steps) {
  const clock = manualClock(1_000_000);
  const store = await open(t, { clock, ...(budget === Infinity ? {} : { maxSizeBytes: budget }) });
  const views = NAMES.map((name) => (name === undefined ? store : store.namespace(name)));
  const random = seededRandom(SEED);

  // ---- the model ----
  /** `${ns}|${key}` -> { ns, key, value, size, expiresAt, stamp } */
  let entries = new Map();
  let nextStamp = 0;
  let now = clock.now;
  const seen = { evictions: 0, rejectedBatches: 0, tooLarge: 0, expired: 0, hits: 0, cacheAnswers: 0 };
  /** Operations the core has run (each waits in its queue once): a get that
   *  adds none was answered by the read cache. */
  const coreOperations = async () => (await store.metrics()).queue.waitMs.count;

  const id = (ns, key) => `${ns}|${key}`;
  const isLive = (entry) => entry.expiresAt > now;
  const liveEntries = () => [...entries.values()].filter(isLive);
  const lookup = (ns, key) => {
    const entry = entries.get(id(ns, key));
    return entry && isLive(entry) ? entry : undefined;
  };
  /** A read: a hit takes the next stamp. */
  const read = (ns, key) => {
    const entry = lookup(ns, key);
    if (entry) entry.stamp = nextStamp++;
    return entry ? entry.value : undefined;
  };
  const expiry = (ttlMs) => (ttlMs === undefined ? Infinity : now + Math.ceil(ttlMs));

  /** A write transaction: stamps its entries, then evicts or fails (returning "VALUE_TOO_LARGE"). */
  function write(ns, items, ttlMs) {
    const saved = new Map([...entries].map(([key, entry]) => [key, { ...entry }]));
    const first = nextStamp;
    for (const { key, value, size } of items) {
      entries.set(id(ns, key), { ns, key, value, size, expiresAt: expiry(ttlMs), stamp: nextStamp++ });
    }
    let live = liveEntries().reduce((sum, entry) => sum + entry.size, 0);
    const victims = liveEntries()
      .filter((entry) => entry.stamp < first)
      .sort((a, b) => a.stamp - b.stamp);
    let evicted = 0;
    for (const victim of victims) {
      if (live <= budget) break;
      entries.delete(id(victim.ns, victim.key));
      live -= victim.size;
      evicted += 1;
    }
    if (live > budget) {
      entries = saved;
      seen.rejectedBatches += 1;
      return "VALUE_TOO_LARGE";
    }
    seen.evictions += evicted;
    return null;
  }

  /** A removal: returns whether a live entry was removed. */
  function remove(ns, key) {
    const entry = entries.get(id(ns, key));
    entries.delete(id(ns, key));
    return entry !== undefined && isLive(entry);
  }

  // ---- random operations ----
  const randomValue = () =>
    random.pick([
      () => "s".repeat(random.int(0, 60)),
      () => ({ n: random.int(0, 1e6), tag: "t".repeat(random.int(0, 20)) }),
      () => Array.from({ length: random.int(0, 8) }, (_, i) => i * 3),
      () => random.int(-1e6, 1e6),
      () => Uint8Array.from({ length: random.int(0, 50) }, (_, i) => i),
      () => null,
      () => random.chance(0.5),
    ])();
  const randomTtl = () => {
    const r = random.next();
    if (r < 0.25) return random.int(1, 600);
    if (r < 0.32) return random.int(1, 600) + 0.5;
    if (r < 0.35) return Infinity;
    return undefined;
  };
  const ns = () => random.int(0, NAMES.length - 1);
  const key = () => random.pick(KEYS);

  function generate() {
    const r = random.next();
    if (r < 0.2) {
      const op = { kind: "set", ns: ns(), key: key(), value: randomValue(), ttlMs: randomTtl() };
      const s = random.next();
      if (s < 0.25) op.size = random.int(0, 300);
      else if (s < 0.28) op.size = random.int(BUDGET + 1, BUDGET + 100);
      else if (s < 0.3) op.value = "s".repeat(BUDGET); // default size over the budget
      return op;
    }
    if (r < 0.32) {
      const pairs = Array.from({ length: random.int(1, 6) }, () => [key(), randomValue()]);
      const s = random.next();
      let flaw = "none";
      if (s < 0.12) {
        flaw = "invalid value";
        pairs[random.int(0, pairs.length - 1)][1] = random.pick(INVALID_VALUES)();
      } else if (s < 0.18) {
        flaw = "entry over the budget";
        pairs[random.int(0, pairs.length - 1)][1] = "s".repeat(BUDGET);
      } else if (s < 0.26) {
        flaw = "may not fit at all";
        for (const pair of pairs) pair[1] = "s".repeat(random.int(150, 290));
      }
      return { kind: "mset", ns: ns(), pairs, ttlMs: randomTtl(), flaw };
    }
    if (r < 0.38) return { kind: "delete", ns: ns(), key: key() };
    if (r < 0.42) return { kind: "mdelete", ns: ns(), keys: Array.from({ length: random.int(1, 5) }, key) };
    if (r < 0.43) return { kind: "clear", ns: ns() };
    if (r < 0.47) return { kind: "invalidate", ns: ns(), prefix: random.pick(PREFIXES) };
    if (r < 0.5) return { kind: "purgeExpired", ns: ns() };
    if (r < 0.58) return { kind: "advance", ms: random.int(1, 150) };
    if (r < 0.59) return { kind: "advance", ms: -random.int(1, 400) };
    if (r < 0.74) return { kind: "get", ns: ns(), key: key() };
    if (r < 0.82) return { kind: "mget", ns: ns(), keys: Array.from({ length: random.int(1, 6) }, key) };
    if (r < 0.92) return { kind: "getOrSet", ns: ns(), key: key(), value: randomValue(), ttlMs: randomTtl() };
    if (r < 0.96) return { kind: "has", ns: ns(), key: key() };
    return { kind: "keys", ns: ns(), prefix: random.pick(PREFIXES) };
  }

  /** Expects `promise` to reject with `code`. */
  async function rejects(promise, code) {
    let error;
    await promise.then(
      (value) => assert.fail(`expected ${code}, resolved with ${describeOp(value)}`),
      (e) => {
        error = e;
      },
    );
    assertStorageError(error, code);
  }

  /** After a rejected write: the keys it named still hold their values (read with mget in both). */
  async function unchanged(ns, keys) {
    const expected = keys.map((k) => read(ns, k));
    assert.deepEqual(await views[ns].mget(keys), expected, "values after the rejected write");
  }

  async function apply(op) {
    now = Math.max(now, clock.now);
    const view = views[op.ns];
    const ttlOption = op.ttlMs === undefined ? undefined : { ttlMs: op.ttlMs };
    switch (op.kind) {
      case "set": {
        const size = op.size ?? defaultSize(op.key, op.value);
        const options = { ...ttlOption, ...(op.size === undefined ? {} : { size: op.size }) };
        if (size > budget) {
          seen.tooLarge += 1;
          await rejects(view.set(op.key, op.value, options), "VALUE_TOO_LARGE");
          return unchanged(op.ns, [op.key]);
        }
        const failure = write(op.ns, [{ key: op.key, value: op.value, size }], op.ttlMs);
        assert.equal(failure, null, "a single entry within the budget always fits");
        assert.equal(await view.set(op.key, op.value, options), undefined);
        return;
      }
      case "mset": {
        let refusal = null;
        for (const [k, value] of op.pairs) {
          if (!isStorable(value)) refusal = "INVALID_VALUE";
          else if (defaultSize(k, value) > budget) refusal = "VALUE_TOO_LARGE";
          if (refusal) break;
        }
        const items = op.pairs.map(([k, value]) => ({ key: k, value, size: refusal ? 0 : defaultSize(k, value) }));
        refusal ??= write(op.ns, items, op.ttlMs);
        if (refusal) {
          if (refusal === "INVALID_VALUE") seen.rejectedBatches += 1;
          else seen.tooLarge += 1;
          await rejects(view.mset(op.pairs, ttlOption), refusal);
          return unchanged(op.ns, op.pairs.map(([k]) => k));
        }
        assert.equal(await view.mset(op.pairs, ttlOption), undefined);
        return;
      }
      case "delete":
        assert.equal(await view.delete(op.key), remove(op.ns, op.key), "delete result");
        return;
      case "mdelete": {
        const expected = op.keys.filter((k) => remove(op.ns, k)).length;
        assert.equal(await view.mdelete(op.keys), expected, "mdelete result");
        return;
      }
      case "clear":
        for (const [k, entry] of entries) if (op.ns === 0 || entry.ns === op.ns) entries.delete(k);
        assert.equal(await view.clear(), undefined);
        return;
      case "invalidate": {
        let expected = 0;
        for (const entry of [...entries.values()]) {
          if (entry.ns === op.ns && entry.key.startsWith(op.prefix) && remove(op.ns, entry.key)) expected += 1;
        }
        assert.equal(await view.invalidate({ prefix: op.prefix }), expected, "invalidate result");
        return;
      }
      case "purgeExpired": {
        // Writes may already have removed expired entries on the side, so only
        // an upper bound is known; afterwards none is left in the scope.
        let upper = 0;
        for (const [k, entry] of entries) {
          if ((op.ns === 0 || entry.ns === op.ns) && !isLive(entry)) {
            entries.delete(k);
            upper += 1;
          }
        }
        seen.expired += upper;
        const purged = await view.purgeExpired();
        assert.ok(Number.isInteger(purged) && purged >= 0 && purged <= upper, `purgeExpired ${purged} > ${upper}`);
        assert.equal(await view.purgeExpired(), 0, "a second purgeExpired finds nothing");
        return;
      }
      case "advance":
        clock.advance(op.ms);
        return;
      case "get": {
        const expected = read(op.ns, op.key);
        if (expected !== undefined) seen.hits += 1;
        const before = await coreOperations();
        assert.deepEqual(await view.get(op.key), expected, "get result");
        if ((await coreOperations()) === before) seen.cacheAnswers += 1;
        return;
      }
      case "mget": {
        const expected = op.keys.map((k) => read(op.ns, k));
        assert.deepEqual(await view.mget(op.keys), expected, "mget result");
        return;
      }
      case "getOrSet": {
        const hit = lookup(op.ns, op.key);
        let calls = 0;
        const loader = () => {
          calls += 1;
          return op.value;
        };
        let expected;
        if (hit) {
          expected = read(op.ns, op.key);
        } else {
          const failure = write(op.ns, [{ key: op.key, value: op.value, size: defaultSize(op.key, op.value) }], op.ttlMs);
          assert.equal(failure, null, "a single entry within the budget always fits");
          expected = op.value;
        }
        assert.deepEqual(await view.getOrSet(op.key, loader, ttlOption), expected, "getOrSet result");
        assert.equal(calls, hit ? 0 : 1, "loader calls");
        return;
      }
      case "has":
        assert.equal(await view.has(op.key), lookup(op.ns, op.key) !== undefined, "has result");
        return;
      case "keys": {
        const expected = liveEntries()
          .filter((entry) => entry.ns === op.ns && entry.key.startsWith(op.prefix))
          .map((entry) => entry.key)
          .sort(byUtf8);
        assert.deepEqual(await view.keys({ prefix: op.prefix }), expected, "keys result");
        return;
      }
      default:
        throw new Error(`unknown operation ${op.kind}`);
    }
  }

  async function check() {
    now = Math.max(now, clock.now);
    const live = liveEntries();
    const sum = (list) => list.reduce((total, entry) => total + entry.size, 0);
    assert.equal(await store.count(), live.length, "count()");
    assert.equal(await store.getCurrentCacheSize(), sum(live), "getCurrentCacheSize()");
    for (const [ns, view] of views.entries()) {
      if (ns === 0) continue;
      const own = live.filter((entry) => entry.ns === ns);
      assert.equal(await view.count(), own.length, `count() of view ${NAMES[ns]}`);
      assert.equal(await view.getCurrentCacheSize(), sum(own), `getCurrentCacheSize() of view ${NAMES[ns]}`);
    }
    for (const [ns, view] of views.entries()) {
      const own = live.filter((entry) => entry.ns === ns).map((entry) => entry.key).sort(byUtf8);
      assert.deepEqual(await view.keys(), own, `keys() of ${ns === 0 ? "the root" : `view ${NAMES[ns]}`}`);
    }
  }

  /** An operation of the run's mix. */
  function generateOfMix() {
    const op = generate();
    if (mix === "every" || !random.chance(0.8)) return op;
    if (op.kind === "invalidate" || op.kind === "clear") return { kind: "get", ns: op.ns, key: key() };
    if (op.kind === "set") {
      delete op.ttlMs;
      delete op.size;
    }
    return op;
  }

  await runModelSteps(steps, { generate: generateOfMix, apply, check, describe: describeOp });

  // Every value at the end (order of reads no longer matters).
  for (const [ns, view] of views.entries()) {
    for (const k of KEYS) {
      const entry = lookup(ns, k);
      assert.deepEqual(await view.get(k), entry ? entry.value : undefined, `final value of ${k} in ${ns === 0 ? "the root" : NAMES[ns]}`);
    }
  }

  // The run must have exercised what it claims to.
  const unbudgeted = new Set(["evictions", "tooLarge"]);
  for (const [what, n] of Object.entries(seen)) {
    if (budget === Infinity && unbudgeted.has(what)) assert.equal(n, 0, `${what} without a budget`);
    else assert.ok(n >= 5, `too few ${what} (${n}) to mean anything`);
  }
}

/** Whether the store accepts a value (enough for randomValue's shapes and INVALID_VALUES). */
function isStorable(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.every((item) => !(item instanceof Uint8Array) && isStorable(item));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every((item) => !(item instanceof Uint8Array) && isStorable(item));
  }
  return false;
}
