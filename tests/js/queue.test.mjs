// The operation queue: call order, concurrency, QUEUE_FULL, TIMEOUT, and
// dispose (every promise settles; the waiting ones with DISPOSED).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { open, manualClock, settleAll, assertStorageError, rejectsWith, totals, jsonSize } from "./helpers.mjs";

/** Fires one call of every kind against `store`, numbered by `i`. */
function mixedCall(store, i) {
  const key = `k${i % 50}`;
  switch (i % 11) {
    case 0: return store.set(key, i);
    case 1: return store.get(key);
    case 2: return store.has(key);
    case 3: return store.delete(key);
    case 4: return store.mget([key, `k${i}`]);
    case 5: return store.mset([[key, i], [`m${i}`, { i }]]);
    case 6: return store.mdelete([key]);
    case 7: return store.keys({ prefix: "k", limit: 5 });
    case 8: return store.count();
    case 9: return store.getCurrentCacheSize();
    default: return store.clear();
  }
}

/** Every call of the store, for checking that all of them reject after dispose. */
const everyCall = {
  set: (store) => store.set("k", 1),
  get: (store) => store.get("k"),
  has: (store) => store.has("k"),
  delete: (store) => store.delete("k"),
  mget: (store) => store.mget(["k"]),
  mset: (store) => store.mset({ k: 1 }),
  mdelete: (store) => store.mdelete(["k"]),
  clear: (store) => store.clear(),
  keys: (store) => store.keys(),
  count: (store) => store.count(),
  getCurrentCacheSize: (store) => store.getCurrentCacheSize(),
};

/**
 * Checks settled results of calls fired before a dispose: each fulfilled or
 * rejected with DISPOSED, the fulfilled ones first (call order). Returns how
 * many were rejected.
 */
function assertCutOffByDispose(results) {
  let rejected = 0;
  results.forEach((result, index) => {
    if (result.status === "rejected") {
      assertStorageError(result.reason, "DISPOSED");
      rejected += 1;
    } else {
      assert.equal(rejected, 0, `call ${index} ran after an earlier call was rejected by dispose`);
    }
  });
  return rejected;
}

describe("call order", () => {
  test("set k=1, get k, set k=2, get k fired together give 1 then 2", async (t) => {
    const store = await open(t);
    const results = await Promise.all([store.set("k", 1), store.get("k"), store.set("k", 2), store.get("k")]);
    assert.deepEqual(results, [undefined, 1, undefined, 2]);
  });

  test("a mixed sequence fired without awaiting sees each earlier effect", async (t) => {
    const store = await open(t);
    const results = await Promise.all([
      store.has("a"),
      store.set("a", 1),
      store.has("a"),
      store.mset({ b: 2, c: 3 }),
      store.keys(),
      store.delete("b"),
      store.mget(["a", "b", "c"]),
      store.count(),
      store.mdelete(["a", "c"]),
      store.count(),
      store.set("d", "x"),
      store.getCurrentCacheSize(),
      store.clear(),
      store.keys(),
    ]);
    assert.deepEqual(results, [
      false,
      undefined,
      true,
      undefined,
      ["a", "b", "c"],
      true,
      [1, undefined, 3],
      2,
      2,
      0,
      undefined,
      jsonSize("d", "x"),
      undefined,
      [],
    ]);
  });

  test("a rejected call does not disturb the ones around it", async (t) => {
    const store = await open(t);
    const results = await settleAll([
      store.set("k", 1),
      store.set("k", () => 2),
      store.get("k"),
      store.set("", 3),
      store.set("k", 4),
      store.get("k"),
    ]);
    assert.deepEqual(
      results.map((result) => (result.status === "fulfilled" ? result.value : result.reason.code)),
      [undefined, "INVALID_VALUE", 1, "INVALID_KEY", undefined, 4],
    );
  });

  test("the last of many concurrent writes to one key wins", async (t) => {
    const store = await open(t);
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.set("k", i)));
    assert.equal(await store.get("k"), 499);
    assert.equal(await store.count(), 1);
  });
});

describe("concurrency", () => {
  test("2,000 concurrent sets all resolve and count() is 2000", async (t) => {
    const store = await open(t);
    const keys = Array.from({ length: 2000 }, (_, i) => `key:${String(i).padStart(4, "0")}`);
    const writes = keys.map((key, i) => store.set(key, { i }));
    const results = await settleAll(writes, 20_000);
    assert.ok(results.every((result) => result.status === "fulfilled"), "every set resolved");
    assert.equal(await store.count(), 2000);
    assert.deepEqual(await store.keys(), keys);
    const sample = [0, 1, 999, 1998, 1999];
    assert.deepEqual(await store.mget(sample.map((i) => keys[i])), sample.map((i) => ({ i })));
    const expectedSize = keys.reduce((sum, key, i) => sum + jsonSize(key, { i }), 0);
    assert.equal(await store.getCurrentCacheSize(), expectedSize);
  });

  test("concurrent reads and writes interleave in call order", async (t) => {
    const store = await open(t);
    const calls = [];
    for (let i = 0; i < 300; i += 1) {
      calls.push(store.set("counter", i));
      calls.push(store.get("counter"));
    }
    const results = await Promise.all(calls);
    for (let i = 0; i < 300; i += 1) assert.equal(results[2 * i + 1], i);
  });
});

describe("a get on an idle store", () => {
  const queueOf = async (store) => (await store.metrics()).queue;

  // Stores with a budget or a default TTL cache nothing, and run such gets too.
  for (const options of [{}, { maxSizeBytes: 1_000_000 }, { defaultTtlMs: 60_000 }]) {
    test(`runs at once: it never joins the queue, and waits 0 ms (${JSON.stringify(options)})`, async (t) => {
      const store = await open(t, { ...options, clock: manualClock() }); // still: every wait is 0 ms
      await store.set("a", 1);
      // "a" may be answered by the read cache; the others go to the core.
      const found = [];
      for (const key of ["b", "a", "c", "a"]) found.push(await store.get(key));
      assert.deepEqual(found, [undefined, 1, undefined, 1]);
      const { maxDepth, waitMs } = await queueOf(store);
      assert.equal(maxDepth, 1, "only the set was ever queued");
      assert.equal(waitMs.buckets[0].count, waitMs.count, "every operation the core ran waited 0 ms");
      assert.ok(waitMs.count >= 3, "the set and the gets of keys not cached");
    });
  }

  test("waits behind the calls made before it, and those after it see the store as it answered", async (t) => {
    const store = await open(t);
    await store.set("k", 0);
    const [first, behindSet, afterSet] = [store.get("k"), store.set("k", 1), store.get("k")];
    assert.deepEqual([await first, await behindSet, await afterSet], [0, undefined, 1]);
    assert.equal((await queueOf(store)).maxDepth, 2, "the set and the get behind it waited together");
  });

  test("a failure to answer it still rejects the call, as a StorageError", async (t) => {
    const store = await open(t);
    await rejectsWith(() => store.get(""), "INVALID_KEY");
    await rejectsWith(() => store.get("x".repeat(2_000_000)), "INVALID_KEY");
  });
});

describe("QUEUE_FULL", () => {
  test("maxQueueLength 2: of 5 calls fired together the first 2 run, the last 3 get QUEUE_FULL", async (t) => {
    const store = await open(t, { maxQueueLength: 2 });
    const calls = [0, 1, 2, 3, 4].map((i) => store.set(`k${i}`, i));
    const results = await settleAll(calls);
    assert.deepEqual(results.map((result) => result.status), ["fulfilled", "fulfilled", "rejected", "rejected", "rejected"]);
    for (const result of results.slice(2)) assertStorageError(result.reason, "QUEUE_FULL");
    assert.deepEqual(await store.keys(), ["k0", "k1"], "refused writes had no effect");
  });

  test("once the queue has drained, calls are accepted again", async (t) => {
    const store = await open(t, { maxQueueLength: 2 });
    for (let round = 0; round < 3; round += 1) {
      const results = await settleAll([store.set(`a${round}`, round), store.set(`b${round}`, round), store.count()]);
      assert.deepEqual(results.map((result) => result.status), ["fulfilled", "fulfilled", "rejected"], `round ${round}`);
      assertStorageError(results[2].reason, "QUEUE_FULL");
    }
    assert.equal(await store.count(), 6);
  });

  test("every kind of call is refused when the queue is full", async (t) => {
    const store = await open(t, { maxQueueLength: 1 });
    for (const [name, call] of Object.entries(everyCall)) {
      const first = store.count();
      await rejectsWith(() => call(store), "QUEUE_FULL").catch((error) => {
        error.message = `${name}: ${error.message}`;
        throw error;
      });
      assert.equal(typeof (await first), "number");
    }
  });
});

describe("TIMEOUT", () => {
  test("operations that waited longer than operationTimeoutMs are rejected with TIMEOUT and leave no effect", async (t) => {
    const clock = manualClock(0);
    const store = await open(t, { clock, operationTimeoutMs: 10 });
    await store.mset({ keep: "original", other: 1 });
    const before = await totals(store);
    clock.step = 1000; // every clock reading is 1 s later than the one before
    const calls = [
      store.set("new", 1),
      store.set("keep", "changed"),
      store.mset({ batch: 1 }),
      store.delete("other"),
      store.mdelete(["keep"]),
      store.clear(),
      store.get("keep"),
    ];
    const results = await settleAll(calls);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assertStorageError(result.reason, "TIMEOUT");
    }
    clock.step = 0;
    assert.deepEqual(await totals(store), before);
    assert.deepEqual(await store.keys(), ["keep", "other"]);
    assert.equal(await store.get("keep"), "original");
  });

  test("operations that did not wait too long run normally with the same stepping clock", async (t) => {
    const clock = manualClock(0, 1);
    const store = await open(t, { clock, operationTimeoutMs: 10_000 });
    const results = await settleAll(Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, i)));
    assert.ok(results.every((result) => result.status === "fulfilled"));
    assert.equal(await store.count(), 20);
  });

  test("the default operationTimeoutMs is 30 s", async (t) => {
    const clock = manualClock(0);
    const store = await open(t, { clock });
    const inTime = store.set("a", 1);
    clock.advance(30_000); // before the queue runs: exactly 30 s after the call
    await inTime;
    const late = store.set("b", 1);
    clock.advance(30_001);
    await rejectsWith(() => late, "TIMEOUT");
    assert.deepEqual(await store.keys(), ["a"]);
  });

  test("operationTimeoutMs Infinity never times out", async (t) => {
    const clock = manualClock(0, 1e12);
    const store = await open(t, { clock, operationTimeoutMs: Infinity });
    await Promise.all([store.set("a", 1), store.set("b", 2)]);
    clock.step = 0;
    assert.equal(await store.count(), 2);
  });

  test("a clock that throws or returns a non-number rejects the call instead of hanging", async (t) => {
    const throwing = await open(t, { clock: () => { throw new Error("clock broke"); } });
    const notANumber = await open(t, { clock: () => "soon" });
    const results = await settleAll([throwing.set("k", 1), throwing.get("k"), notANumber.count()]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assertStorageError(result.reason, result.reason.code);
    }
  });
});

describe("dispose", () => {
  test("500 mixed operations then dispose(): every promise settles, the rejected ones with DISPOSED", async (t) => {
    const store = await open(t);
    await store.mset(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])));
    const calls = Array.from({ length: 500 }, (_, i) => mixedCall(store, i));
    const disposing = store.dispose();
    assert.equal(store.isDisposed(), true);
    const results = await settleAll(calls);
    const rejected = assertCutOffByDispose(results);
    assert.ok(rejected > 0, "operations still waiting when dispose() was called are rejected");
    assert.equal(await disposing, undefined);
  });

  test("every call after dispose rejects with DISPOSED", async (t) => {
    const store = await open(t);
    await store.set("k", 1);
    await store.dispose();
    for (const [name, call] of Object.entries(everyCall)) {
      await rejectsWith(() => call(store), "DISPOSED").catch((error) => {
        error.message = `${name}: ${error.message}`;
        throw error;
      });
    }
  });

  test("dispose is idempotent and isDisposed() reports it", async (t) => {
    const store = await open(t);
    assert.equal(store.isDisposed(), false);
    const [first, second] = await Promise.all([store.dispose(), store.dispose()]);
    assert.equal(first, undefined);
    assert.equal(second, undefined);
    assert.equal(store.isDisposed(), true);
    assert.equal(await store.dispose(), undefined);
    assert.equal(store.isDisposed(), true);
    await rejectsWith(() => store.get("k"), "DISPOSED");
  });

  test("[Symbol.asyncDispose] disposes like dispose()", async (t) => {
    const store = await open(t);
    assert.equal(typeof store[Symbol.asyncDispose], "function");
    const waiting = [store.set("a", 1), store.get("a"), store.count()];
    const disposing = store[Symbol.asyncDispose]();
    assert.ok(disposing instanceof Promise);
    assert.equal(store.isDisposed(), true);
    const rejected = assertCutOffByDispose(await settleAll(waiting));
    assert.ok(rejected > 0);
    assert.equal(await disposing, undefined);
    await rejectsWith(() => store.set("b", 2), "DISPOSED");
    assert.equal(await store[Symbol.asyncDispose](), undefined, "idempotent too");
    assert.equal(await store.dispose(), undefined);
  });

  test("dispose after all work has finished resolves", async (t) => {
    const store = await open(t);
    await store.set("k", 1);
    assert.equal(await store.get("k"), 1);
    assert.equal(await store.dispose(), undefined);
    assert.equal(store.isDisposed(), true);
  });

  test("dispose called from inside the clock while the queue drains settles every promise", async (t) => {
    let store;
    let disposeOnNextTick = false;
    const clock = () => {
      if (disposeOnNextTick) {
        disposeOnNextTick = false;
        store.dispose();
      }
      return 0;
    };
    store = await open(t, { clock });
    const calls = Array.from({ length: 20 }, (_, i) => mixedCall(store, i));
    disposeOnNextTick = true; // the next clock reading is the queue's, when it starts draining
    const results = await settleAll(calls);
    assertCutOffByDispose(results);
    assert.equal(store.isDisposed(), true);
    await rejectsWith(() => store.count(), "DISPOSED");
  });

  test("dispose called when the first result arrives settles every later promise", async (t) => {
    const store = await open(t);
    const calls = Array.from({ length: 100 }, (_, i) => mixedCall(store, i));
    calls[0].then(() => store.dispose());
    assertCutOffByDispose(await settleAll(calls));
    await settleAll([store.dispose()]);
    assert.equal(store.isDisposed(), true);
  });

  test("disposing one store leaves another working", async (t) => {
    const a = await open(t);
    const b = await open(t);
    await b.set("k", 1);
    await a.dispose();
    assert.equal(await b.get("k"), 1);
    assert.equal(b.isDisposed(), false);
  });
});
