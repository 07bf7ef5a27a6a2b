// Namespaces: views that scope every key/value call to one namespace. No call
// in one namespace may read, count, invalidate or delete another's entries,
// whatever the names (prefixes of each other, differing in case, holding
// `%`, `_` or `:`); the root's count/getCurrentCacheSize/purgeExpired/clear
// act on the whole store. Checked by hand and by a seeded random sequence of
// operations against an in-memory model.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  open,
  manualClock,
  totals,
  jsonSize,
  byUtf8,
  rejectsWith,
  settleAll,
  seededRandom,
  SUITE_TIMEOUT_MS,
  runModelSteps,
} from "./helpers.mjs";

/** Names chosen to break a namespace kept as a key prefix or matched with LIKE. */
const HOSTILE_NAMES = ["a", "ab", "a:b", "A", "%", "_", "a%", "a_", ":", " ", "a\u0000", "é", "e\u0301", "😀"];

/** Keys chosen the same way, so that ns + key concatenations collide. */
const HOSTILE_KEYS = ["a", "ab", "a:b", "b", ":b", "A", "%", "_", "a%", "a_", ":", " ", "a\u0000"];

describe("isolation, by hand", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("the same key in every hostile namespace and the root holds its own value", async (t) => {
    const store = await open(t);
    const views = HOSTILE_NAMES.map((name) => store.namespace(name));
    await store.set("k", "root");
    for (const [i, view] of views.entries()) await view.set("k", HOSTILE_NAMES[i]);
    assert.equal(await store.get("k"), "root");
    for (const [i, view] of views.entries()) {
      const name = HOSTILE_NAMES[i];
      assert.equal(await view.get("k"), name, `get in ${JSON.stringify(name)}`);
      assert.deepEqual(await view.keys(), ["k"]);
      assert.deepEqual(await totals(view), { count: 1, size: jsonSize("k", name) });
    }
    assert.deepEqual(await store.keys(), ["k"], "the root's keys are its own namespace's");
    assert.equal(await store.count(), HOSTILE_NAMES.length + 1, "the root counts the whole store");
  });

  test("ns + key concatenations do not collide: 'a' + ':b' vs 'a:' + 'b' vs 'a:b' + ''", async (t) => {
    const store = await open(t);
    await store.namespace("a").set(":b", 1);
    await store.namespace("a:").set("b", 2);
    await store.namespace("a:b").set("x", 3);
    await store.set("a:b", 4);
    assert.equal(await store.namespace("a").get(":b"), 1);
    assert.equal(await store.namespace("a").get("b"), undefined);
    assert.equal(await store.namespace("a:").get(":b"), undefined);
    assert.equal(await store.namespace("a:").get("b"), 2);
    assert.deepEqual(await store.namespace("a:b").keys(), ["x"]);
    assert.deepEqual(await store.keys(), ["a:b"]);
    assert.deepEqual(await store.namespace("a").keys({ prefix: ":" }), [":b"]);
  });

  test("two views of one name are the same namespace", async (t) => {
    const store = await open(t);
    await store.namespace("same").set("k", 1);
    assert.equal(await store.namespace("same").get("k"), 1);
    assert.equal(await store.namespace("Same").get("k"), undefined, "case matters");
  });

  test("invalidate in one namespace leaves every other namespace's matching keys", async (t) => {
    const store = await open(t);
    const names = ["a", "ab", "A", "%", "_"];
    for (const name of [undefined, ...names]) {
      const view = name === undefined ? store : store.namespace(name);
      await view.mset(HOSTILE_KEYS.map((key) => [key, key]));
    }
    const all = HOSTILE_KEYS.length;
    const startingWithA = HOSTILE_KEYS.filter((key) => key.startsWith("a")).length;
    assert.equal(await store.namespace("a").invalidate({ prefix: "a" }), startingWithA);
    assert.equal(await store.namespace("%").invalidate({ prefix: "%" }), 1, "% is literal");
    assert.equal(await store.namespace("_").invalidate({ prefix: "_" }), 1, "_ is literal");
    assert.equal(await store.namespace("ab").invalidate({ prefix: "" }), all);
    assert.equal(await store.namespace("ab").count(), 0);
    assert.equal(await store.namespace("A").count(), all);
    assert.equal(await store.count(), all * 6 - startingWithA - 1 - 1 - all);
    assert.deepEqual(await store.keys(), [...HOSTILE_KEYS].sort(byUtf8), "the root's own entries untouched");
    assert.equal(await store.invalidate({ prefix: "a" }), startingWithA, "the root's invalidate acts on its own namespace");
    assert.equal(await store.namespace("A").count(), all);
  });

  test("delete and mdelete in one namespace never touch another's entry of the same key", async (t) => {
    const store = await open(t);
    const a = store.namespace("a");
    const ab = store.namespace("ab");
    await Promise.all([store.set("k", 0), a.set("k", 1), ab.set("k", 2), a.set("b:k", 3)]);
    assert.equal(await a.delete("k"), true);
    assert.equal(await a.delete("k"), false);
    assert.equal(await ab.mdelete(["k", "b:k"]), 1);
    assert.deepEqual(await store.mget(["k"]), [0]);
    assert.deepEqual(await a.keys(), ["b:k"]);
    assert.equal(await store.delete("b:k"), false, "the root does not see a's b:k");
  });

  test("a view's clear empties its namespace; the root's clear empties everything", async (t) => {
    const store = await open(t);
    const a = store.namespace("a");
    const ab = store.namespace("ab");
    await Promise.all([store.set("k", 0), a.set("k", 1), ab.set("k", 2)]);
    await a.clear();
    assert.deepEqual(await totals(a), { count: 0, size: 0 });
    assert.equal(await ab.get("k"), 2);
    assert.equal(await store.get("k"), 0);
    assert.equal(await store.count(), 2);
    await store.clear();
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
    assert.equal(await ab.count(), 0);
  });

  test("a view's purgeExpired purges and counts its namespace only; the root's the whole store", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    const a = store.namespace("a");
    const ab = store.namespace("ab");
    await store.mset({ r1: 1, r2: 2 }, { ttlMs: 10 });
    await a.mset({ x: 1, y: 2, z: 3 }, { ttlMs: 10 });
    await ab.mset({ x: 1 }, { ttlMs: 10 });
    await ab.set("live", 1);
    clock.advance(10);
    assert.equal(await a.purgeExpired(), 3);
    assert.equal(await a.purgeExpired(), 0);
    assert.equal(await ab.purgeExpired(), 1, "a's purge left ab's expired entry");
    assert.equal(await store.purgeExpired(), 2, "the root's two remained");
    assert.deepEqual(await totals(store), { count: 1, size: jsonSize("live", 1) });
  });

  test("count and getCurrentCacheSize: a view's are its own; the root's are the sum over all", async (t) => {
    const store = await open(t);
    await store.set("k", "root", { size: 7 });
    await store.namespace("a").set("k", 1, { size: 11 });
    await store.namespace("a").set("k2", 1, { size: 13 });
    await store.namespace("a:b").set("k", 1, { size: 17 });
    assert.deepEqual(await totals(store.namespace("a")), { count: 2, size: 24 });
    assert.deepEqual(await totals(store.namespace("a:b")), { count: 1, size: 17 });
    assert.deepEqual(await totals(store.namespace("ab")), { count: 0, size: 0 });
    assert.deepEqual(await totals(store), { count: 4, size: 48 });
  });

  test("a namespace's name does not count toward an entry's size", async (t) => {
    const store = await open(t);
    const view = store.namespace("a-rather-long-namespace-name-".repeat(10));
    await view.set("k", "v");
    await view.mset({ m: [1, 2] });
    await view.getOrSet("g", () => ({ g: true }));
    const expected = jsonSize("k", "v") + jsonSize("m", [1, 2]) + jsonSize("g", { g: true });
    assert.equal(await view.getCurrentCacheSize(), expected);
    assert.equal(await store.getCurrentCacheSize(), expected);
  });

  test("getOrSet flies per namespace: the same key in two namespaces calls each loader", async (t) => {
    const store = await open(t);
    let calls = 0;
    const loader = (value) => async () => {
      calls += 1;
      return value;
    };
    const results = await settleAll([
      store.getOrSet("k", loader("root")),
      store.namespace("a").getOrSet("k", loader("a")),
      store.namespace("A").getOrSet("k", loader("A")),
      store.namespace("a").getOrSet("k", loader("a, second caller")),
    ]);
    assert.deepEqual(results.map((r) => r.value), ["root", "a", "A", "a"]);
    assert.equal(calls, 3);
    assert.equal(await store.namespace("A").get("k"), "A");
  });

  test("the keys of a view are sorted by UTF-8 bytes and honour prefix, after and limit", async (t) => {
    const store = await open(t);
    const view = store.namespace("%");
    await view.mset(HOSTILE_KEYS.map((key) => [key, 1]));
    await store.mset(HOSTILE_KEYS.map((key) => [`${key}!`, 1]));
    assert.deepEqual(await view.keys(), [...HOSTILE_KEYS].sort(byUtf8));
    assert.deepEqual(await view.keys({ prefix: "a", after: "a%", limit: 2 }), ["a:b", "a_"]);
  });
});

describe("invalid namespace names", { timeout: SUITE_TIMEOUT_MS }, () => {
  const invalid = {
    "the empty string": "",
    "a number": 42,
    "null": null,
    "undefined (namespace())": undefined,
    "an object": { name: "a" },
    "an array": ["a"],
    "a symbol": Symbol("ns"),
    "a lone high surrogate": "\uD800",
    "a lone low surrogate inside": "a\uDC00b",
    "1025 ASCII bytes": "x".repeat(1025),
    "1026 UTF-8 bytes in 513 characters": "é".repeat(513),
  };

  /** Every call of a view, with arguments that would be valid on a valid view. */
  const calls = {
    set: (view) => view.set("k", 1),
    get: (view) => view.get("k"),
    has: (view) => view.has("k"),
    delete: (view) => view.delete("k"),
    mget: (view) => view.mget(["k"]),
    mset: (view) => view.mset({ k: 1 }),
    mdelete: (view) => view.mdelete(["k"]),
    keys: (view) => view.keys(),
    invalidate: (view) => view.invalidate({ prefix: "" }),
    purgeExpired: (view) => view.purgeExpired(),
    count: (view) => view.count(),
    getCurrentCacheSize: (view) => view.getCurrentCacheSize(),
    clear: (view) => view.clear(),
  };

  for (const [label, name] of Object.entries(invalid)) {
    test(`${label}: every call of the view rejects with INVALID_KEY and changes nothing`, async (t) => {
      const store = await open(t);
      await store.set("k", "root");
      await store.namespace("x").set("k", "x");
      const before = await totals(store);
      let view;
      assert.doesNotThrow(() => {
        view = name === undefined ? store.namespace() : store.namespace(name);
      }, "namespace() itself never throws");
      for (const [call, run] of Object.entries(calls)) {
        await rejectsWith(() => run(view), "INVALID_KEY").catch((error) => {
          error.message = `${call}: ${error.message}`;
          throw error;
        });
      }
      let loaderCalls = 0;
      await rejectsWith(() => view.getOrSet("k", () => (loaderCalls += 1)), "INVALID_KEY");
      assert.equal(loaderCalls, 0, "the loader is not called");
      assert.deepEqual(await totals(store), before);
      assert.equal(await store.get("k"), "root");
      assert.equal(await store.namespace("x").get("k"), "x");
    });
  }

  test("names are validated like keys: maxKeyBytes applies, the limit itself is allowed", async (t) => {
    const store = await open(t, { maxKeyBytes: 8 });
    await store.namespace("12345678").set("k", 1);
    await store.namespace("éééé").set("k", 1);
    await rejectsWith(() => store.namespace("123456789").set("k", 1), "INVALID_KEY");
    await rejectsWith(() => store.namespace("éééé1").count(), "INVALID_KEY");
    assert.equal(await store.count(), 2);
  });

  test("the default limit: a 1024-byte name is valid", async (t) => {
    const store = await open(t);
    await store.namespace("x".repeat(1024)).set("k", 1);
    await store.namespace("é".repeat(512)).set("k", 1);
    assert.equal(await store.count(), 2);
  });
});

/**
 * The model: for each namespace (index into NAMES; 0 is the root's own), a
 * Map key -> { value, size, expiresAt, exposed }. `exposed` marks an expired
 * entry that a later write may have removed on the side, so purgeExpired may
 * or may not count it.
 */
describe("isolation, model-based", { timeout: SUITE_TIMEOUT_MS }, () => {
  const NAMES = [undefined, ...HOSTILE_NAMES];
  const KEYS = HOSTILE_KEYS;
  const PREFIXES = ["", "a", "A", "%", "_", ":", "a:", "a%", "a_", "b", " ", "a\u0000", "ab"];
  const STEPS = 1000;
  const label = (ns) => (ns === 0 ? "(root)" : JSON.stringify(NAMES[ns]));

  function describeOp(op) {
    return JSON.stringify(op, (key, value) => {
      if (key === "ns") return label(value);
      if (key === "scopes") return value.map(label);
      if (value === undefined) return "(undefined)";
      if (value instanceof Map) return { Map: [...value] };
      return value;
    });
  }

  test(`${STEPS} random operations on random namespaces match the model after every step`, async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    const views = NAMES.map((name) => (name === undefined ? store : store.namespace(name)));
    const random = seededRandom(Number(process.env.LARDER_MODEL_SEED ?? 0x1a2b3c)); // LARDER_MODEL_SEED replays another sequence
    const model = NAMES.map(() => new Map());
    let now = clock.now;
    let widest = 0; // most namespaces holding live entries at one time
    const seen = { invalidated: 0, purged: 0, hits: 0, misses: 0, deleted: 0 };

    const isLive = (entry) => entry.expiresAt > now;
    const randomValue = () =>
      random.pick([
        () => random.int(-1000, 1000),
        () => `s${random.int(0, 99)}`,
        () => ({ n: random.int(0, 9) }),
        () => [random.int(0, 9), "x"],
        () => null,
        () => random.chance(0.5),
      ])();
    const randomTtl = () => (random.chance(0.3) ? random.int(1, 300) : undefined);
    const expiry = (ttlMs) => (ttlMs === undefined ? Infinity : now + Math.ceil(ttlMs));
    /** A write may remove any expired entry on the side. */
    const exposeExpired = () => {
      for (const entries of model) for (const entry of entries.values()) if (!isLive(entry)) entry.exposed = true;
    };
    const put = (ns, key, value, size, expiresAt) =>
      model[ns].set(key, { value, size, expiresAt, exposed: false });

    function generate() {
      const ns = random.int(0, NAMES.length - 1);
      const r = random.next();
      if (r < 0.2) {
        const op = { kind: "set", ns, key: random.pick(KEYS), value: randomValue(), ttlMs: randomTtl() };
        if (random.chance(0.2)) op.size = random.int(0, 100);
        return op;
      }
      if (r < 0.32) {
        const pairs = Array.from({ length: random.int(1, 6) }, () => [random.pick(KEYS), randomValue()]);
        return { kind: "mset", ns, pairs, form: random.pick(["pairs", "Map", "object"]), ttlMs: randomTtl() };
      }
      if (r < 0.42) return { kind: "delete", ns, key: random.pick(KEYS) };
      if (r < 0.5) return { kind: "mdelete", ns, keys: Array.from({ length: random.int(1, 4) }, () => random.pick(KEYS)) };
      if (r < 0.58) return { kind: "invalidate", ns, prefix: random.pick(PREFIXES) };
      if (r < 0.62) return { kind: "clear", ns: ns === 0 && random.chance(0.7) ? random.int(1, NAMES.length - 1) : ns };
      if (r < 0.7) return { kind: "purgeExpired", ns };
      if (r < 0.84) return { kind: "getOrSet", ns, key: random.pick(KEYS), value: randomValue(), ttlMs: randomTtl() };
      if (r < 0.9) return { kind: "advance", ms: random.int(1, 120) };
      if (r < 0.94) {
        // Purges right after time passed, before any write can remove
        // expired entries on the side: their counts are exact.
        const scopes = Array.from({ length: random.int(1, 3) }, () => random.int(0, NAMES.length - 1));
        return { kind: "advanceAndPurge", ms: random.int(50, 300), scopes };
      }
      return { kind: "get", ns, key: random.pick(KEYS) };
    }

    /** purgeExpired on namespace `ns` (the root: the whole store), checked against the model. */
    async function purge(ns) {
      let lower = 0;
      let upper = 0;
      for (const scoped of ns === 0 ? model.keys() : [ns]) {
        for (const [key, entry] of model[scoped]) {
          if (isLive(entry)) continue;
          upper += 1;
          if (!entry.exposed) lower += 1;
          model[scoped].delete(key);
        }
      }
      const purged = await views[ns].purgeExpired();
      assert.ok(
        Number.isInteger(purged) && purged >= lower && purged <= upper,
        `purgeExpired in ${label(ns)} returned ${purged}, expected between ${lower} and ${upper}`,
      );
      seen.purged += purged;
    }

    async function apply(op) {
      now = Math.max(now, clock.now);
      const view = views[op.ns];
      const entries = model[op.ns];
      switch (op.kind) {
        case "set": {
          exposeExpired();
          const options = {};
          if (op.ttlMs !== undefined) options.ttlMs = op.ttlMs;
          if (op.size !== undefined) options.size = op.size;
          assert.equal(await view.set(op.key, op.value, options), undefined);
          put(op.ns, op.key, op.value, op.size ?? jsonSize(op.key, op.value), expiry(op.ttlMs));
          return;
        }
        case "mset": {
          exposeExpired();
          const batch =
            op.form === "Map" ? new Map(op.pairs) : op.form === "object" ? Object.fromEntries(op.pairs) : op.pairs;
          assert.equal(await view.mset(batch, op.ttlMs === undefined ? undefined : { ttlMs: op.ttlMs }), undefined);
          for (const [key, value] of op.pairs) put(op.ns, key, value, jsonSize(key, value), expiry(op.ttlMs));
          return;
        }
        case "delete": {
          exposeExpired();
          const entry = entries.get(op.key);
          entries.delete(op.key);
          assert.equal(await view.delete(op.key), entry !== undefined && isLive(entry), "delete result");
          return;
        }
        case "mdelete": {
          exposeExpired();
          let expected = 0;
          for (const key of op.keys) {
            const entry = entries.get(key);
            if (entry && isLive(entry)) expected += 1;
            entries.delete(key);
          }
          assert.equal(await view.mdelete(op.keys), expected, "mdelete result");
          seen.deleted += expected;
          return;
        }
        case "invalidate": {
          exposeExpired();
          let expected = 0;
          for (const [key, entry] of entries) {
            if (!key.startsWith(op.prefix)) continue;
            if (isLive(entry)) expected += 1;
            entries.delete(key);
          }
          assert.equal(await view.invalidate({ prefix: op.prefix }), expected, "invalidate result");
          seen.invalidated += expected;
          return;
        }
        case "clear": {
          assert.equal(await view.clear(), undefined);
          for (const ns of op.ns === 0 ? model.keys() : [op.ns]) model[ns].clear();
          return;
        }
        case "purgeExpired":
          await purge(op.ns);
          return;
        case "advanceAndPurge":
          clock.advance(op.ms);
          now = Math.max(now, clock.now);
          for (const ns of op.scopes) await purge(ns);
          return;
        case "getOrSet": {
          const entry = entries.get(op.key);
          const hit = entry !== undefined && isLive(entry);
          if (!hit) exposeExpired();
          let calls = 0;
          const loader = async () => {
            calls += 1;
            return op.value;
          };
          const result = await view.getOrSet(op.key, loader, op.ttlMs === undefined ? undefined : { ttlMs: op.ttlMs });
          seen[hit ? "hits" : "misses"] += 1;
          if (hit) {
            assert.deepEqual(result, entry.value, "getOrSet hit value");
            assert.equal(calls, 0, "a hit does not call the loader");
          } else {
            assert.deepEqual(result, op.value, "getOrSet miss value");
            assert.equal(calls, 1, "a miss calls the loader once");
            put(op.ns, op.key, op.value, jsonSize(op.key, op.value), expiry(op.ttlMs));
          }
          return;
        }
        case "advance":
          clock.advance(op.ms);
          return;
        case "get": {
          const entry = entries.get(op.key);
          assert.deepEqual(await view.get(op.key), entry && isLive(entry) ? entry.value : undefined, "get result");
          return;
        }
        default:
          throw new Error(`unknown operation ${op.kind}`);
      }
    }

    /** Every namespace's keys, values, count and size; the root's totals over all. */
    async function check() {
      now = Math.max(now, clock.now);
      const liveOf = (ns) => [...model[ns]].filter(([, entry]) => isLive(entry));
      let allCount = 0;
      let allSize = 0;
      const checks = NAMES.map(async (_, ns) => {
        const view = views[ns];
        const live = liveOf(ns);
        const count = live.length;
        const size = live.reduce((sum, [, entry]) => sum + entry.size, 0);
        allCount += count;
        allSize += size;
        const [keys, values, gotCount, gotSize] = await Promise.all([
          view.keys(),
          view.mget(KEYS),
          view.count(),
          view.getCurrentCacheSize(),
        ]);
        const where = `in ${label(ns)}`;
        assert.deepEqual(keys, live.map(([key]) => key).sort(byUtf8), `keys ${where}`);
        assert.deepEqual(
          values,
          KEYS.map((key) => {
            const entry = model[ns].get(key);
            return entry && isLive(entry) ? entry.value : undefined;
          }),
          `values ${where}`,
        );
        return { ns, count, size, gotCount, gotSize };
      });
      const results = await Promise.all(checks);
      widest = Math.max(widest, results.filter(({ count }) => count > 0).length);
      for (const { ns, count, size, gotCount, gotSize } of results) {
        if (ns === 0) {
          assert.equal(gotCount, allCount, "the root's count() is the sum over every namespace");
          assert.equal(gotSize, allSize, "the root's getCurrentCacheSize() is the sum over every namespace");
        } else {
          assert.equal(gotCount, count, `count in ${label(ns)}`);
          assert.equal(gotSize, size, `getCurrentCacheSize in ${label(ns)}`);
        }
      }
    }

    await runModelSteps(STEPS, { generate, apply, check, describe: describeOp });
    // The sequence must have exercised what it claims to.
    assert.ok(widest >= 8, `entries were never spread over more than ${widest} namespaces at once`);
    for (const [what, n] of Object.entries(seen)) assert.ok(n >= 5, `too few ${what} (${n}) to mean anything`);
  });
});
