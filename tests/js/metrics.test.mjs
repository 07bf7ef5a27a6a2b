// metrics(): every call counted once, whichever layer answers it (the read
// cache, getOrSet's steps, a refusal at the boundary), with the core's own
// counters (queue, commits, evictions, expired rows, breaker, storage), on
// the injected clock; and the options that tune it.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { open, manualClock, rejectsWith, assertStorageError } from "./helpers.mjs";
import { faultyFs, tempDir } from "./file-helpers.mjs";
import { openStorage } from "larderdb";
// Internal: what health() reads beside metrics() (the package's own module).
import { metricsOf } from "../../pkg/internals.js";

const BUCKET_BOUNDS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, Infinity];

/** The calls of each operation in `snapshot`, as { op: calls }. */
const callsByOp = (snapshot) =>
  Object.fromEntries(Object.entries(snapshot.operations).map(([op, entry]) => [op, entry.calls]));

/** A known sequence of calls on `store`, with the clock moved inside two of them. */
async function knownSequence(store, clock) {
  await store.set("a", 1);
  await store.get("a"); // hit
  await store.get("missing"); // miss
  await store.has("a"); // hit
  await store.mget(["a", "missing", "other"]); // 1 hit, 2 misses
  assert.equal(await store.getOrSet("g", () => 5), 5); // miss, then the write
  assert.equal(await store.getOrSet("g", () => 6), 5); // hit
  await store.namespace("n").set("x", 1);
  await rejectsWith(() => store.set("", 1), "INVALID_KEY"); // refused at the boundary
  await rejectsWith(() => store.get("k".repeat(2000)), "INVALID_KEY");
  await assert.rejects(store.getOrSet("boom", () => { throw new Error("loader failed"); }), /loader failed/); // miss
  // 120 ms pass inside the loader: over slowOperationMs.
  await store.getOrSet("slow", () => {
    clock.advance(120);
    return "late";
  }); // miss
  await store.delete("a");
}

describe("metrics() after a known sequence of calls", () => {
  for (const [label, options] of [
    ["with the read cache (no budget)", {}],
    ["through the core (a budget)", { maxSizeBytes: 1_000_000 }],
  ]) {
    test(`every call is counted once, ${label}`, async (t) => {
      const clock = manualClock(5_000_000);
      const store = await open(t, { clock, slowOperationMs: 50, ...options });
      await knownSequence(store, clock);
      const snapshot = await store.metrics();
      assert.deepEqual(callsByOp(snapshot), { set: 3, get: 3, has: 1, mget: 1, getOrSet: 4, delete: 1 });
      assert.deepEqual(snapshot.operations.set.errors, { INVALID_KEY: 1 });
      assert.deepEqual(snapshot.operations.get.errors, { INVALID_KEY: 1 });
      assert.deepEqual(snapshot.operations.getOrSet.errors, { LOADER: 1 });
      assert.deepEqual(snapshot.operations.has.errors, {});
      assert.deepEqual(
        { hits: snapshot.cache.hits, misses: snapshot.cache.misses, hitRatio: snapshot.cache.hitRatio },
        { hits: 4, misses: 6, hitRatio: 0.4 },
      );
      // Only the loader's 120 ms took time on the manual clock.
      const getOrSet = snapshot.operations.getOrSet;
      assert.equal(getOrSet.slow, 1);
      assert.equal(getOrSet.latencyMs.count, 4);
      assert.equal(getOrSet.latencyMs.sum, 120);
      assert.equal(getOrSet.latencyMs.max, 120);
      assert.deepEqual(getOrSet.latencyMs.buckets.map((bucket) => bucket.le), BUCKET_BOUNDS_MS);
      assert.deepEqual(
        getOrSet.latencyMs.buckets.map((bucket) => bucket.count),
        [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4],
      );
      assert.deepEqual([getOrSet.latencyMs.p50, getOrSet.latencyMs.p95, getOrSet.latencyMs.p99], [0.1, 120, 120]);
      assert.equal(snapshot.operations.set.slow, 0);
      assert.equal(snapshot.slowOperations.length, 1);
      const [slow] = snapshot.slowOperations;
      assert.deepEqual({ ...slow, txId: typeof slow.txId }, {
        op: "getOrSet", ns: null, key: "slow", durationMs: 120, at: 5_000_120, txId: "number",
      });
      // set a, the getOrSet writes of g and slow, n:x, delete a.
      assert.equal(snapshot.commits.count, 5);
      assert.deepEqual({ ...snapshot.commits, count: 0 }, { count: 0, grouped: 0, retries: 0, timeouts: 0, rollbacks: 0 });
      assert.deepEqual(snapshot.breaker, { state: "CLOSED", opened: 0 });
      assert.deepEqual({ ...snapshot.storage, sizeBytes: 0 }, {
        entries: 3, sizeBytes: 0, budgetBytes: options.maxSizeBytes ?? null, fileBytes: 0, walBytes: 0,
      });
      assert.equal(snapshot.storage.sizeBytes, (1 + 1) + (1 + 1) + (4 + 6)); // g:5, n x:1, slow:"late"
      assert.equal(snapshot.queue.depth, 0);
      assert.equal(snapshot.since, 5_000_000);
    });
  }

  test("sets made together are one grouped commit; the queue's depth and waits are counted", async (t) => {
    const clock = manualClock(1_000);
    const store = await open(t, { clock, maxSizeBytes: 1_000_000 });
    await Promise.all([store.set("a", 1), store.set("b", 2), store.set("c", 3), store.get("a")]);
    const { commits, queue } = await store.metrics();
    assert.equal(commits.count, 1);
    assert.equal(commits.grouped, 1);
    assert.equal(queue.maxDepth, 4);
    assert.equal(queue.depth, 0);
    // Four operations left the queue, none waited on the manual clock.
    assert.equal(queue.waitMs.count, 4);
    assert.equal(queue.waitMs.buckets[0].count, 4);
  });

  test("evictions, expired rows removed and rollbacks", async (t) => {
    const clock = manualClock(1_000);
    const store = await open(t, { clock, maxSizeBytes: 100 });
    for (let i = 0; i < 5; i += 1) await store.set(`k${i}`, "x".repeat(30));
    await store.set("short", 1, { ttlMs: 10 });
    clock.advance(20);
    assert.equal(await store.purgeExpired(), 1);
    // Each entry fits, all three do not: the write rolls back.
    const batch = ["m0", "m1", "m2"].map((key) => [key, "y".repeat(30)]);
    await rejectsWith(() => store.mset(batch), "VALUE_TOO_LARGE");
    const { cache, commits, storage } = await store.metrics();
    // 34 bytes each, two fit in 100: the sets of k2, k3 and k4 evict k0, k1 and k2.
    assert.equal(cache.evictions, 3);
    assert.equal(cache.expired, 1);
    assert.equal(commits.count, 7); // five sets, "short", purgeExpired
    assert.equal(commits.rollbacks, 1);
    assert.equal(storage.entries, 2);
    assert.equal(storage.sizeBytes, 68);
    assert.equal(storage.budgetBytes, 100);
  });

  test("a file store reports its file and WAL bytes", async (t) => {
    const file = path.join(tempDir(t, "metrics"), "m.sqlite");
    const store = await openStorage({ path: file });
    t.after(() => store.dispose());
    await store.set("a", "x".repeat(10_000));
    const { storage } = await store.metrics();
    assert.ok(storage.fileBytes > 0, `fileBytes ${storage.fileBytes}`);
    assert.ok(storage.walBytes > 10_000, `walBytes ${storage.walBytes}`);
    assert.equal(storage.fileBytes % 4096, 0, "whole pages");
  });

  test("metrics() reads between operations, in one step: a call queued before it has not run yet", async (t) => {
    const store = await open(t, { maxSizeBytes: 1_000_000 });
    const queued = store.set("x", 1);
    const snapshot = await store.metrics();
    await queued;
    assert.equal(snapshot.queue.depth, 1);
    assert.equal(snapshot.commits.count, 0);
    assert.equal(snapshot.operations.set, undefined, "the set had not settled");
    const after = await store.metrics();
    assert.deepEqual([after.queue.depth, after.commits.count, after.operations.set.calls], [0, 1, 1]);
  });

  test("handles on one database share its counters; a disposed handle's metrics() rejects", async (t) => {
    const file = path.join(tempDir(t, "metrics-handles"), "h.sqlite");
    const [first, second] = [await openStorage({ path: file }), await openStorage({ path: file })];
    t.after(() => first.dispose());
    await first.set("a", 1);
    await second.get("a");
    await second.dispose();
    const { operations, cache } = await first.metrics();
    assert.deepEqual([operations.set.calls, operations.get.calls, cache.hits], [1, 1, 1]);
    await rejectsWith(() => second.metrics(), "DISPOSED");
    await rejectsWith(() => second.metricsText(), "DISPOSED");
  });

  test("a namespace view has no metrics(): they are the store's", async (t) => {
    const store = await open(t);
    assert.equal(store.namespace("n").metrics, undefined);
  });

  test("metrics() of a disposed store rejects with DISPOSED", async () => {
    const store = await openStorage();
    await store.dispose();
    await rejectsWith(() => store.metrics(), "DISPOSED");
  });
});

describe("the resilience counters", () => {
  const NO_WAIT_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

  async function faultyStore(t, options) {
    const { fs, control } = faultyFs();
    const file = path.join(tempDir(t, "metrics-faults"), "f.sqlite");
    const store = await openStorage({ path: file, fs, durability: "full", ...options });
    t.after(() => store.dispose());
    return { store, control };
  }

  test("a write that fails once in I/O is retried, and counted once as a retry", async (t) => {
    const { store, control } = await faultyStore(t, { retry: NO_WAIT_RETRY });
    control.arm(1);
    await store.set("a", 1);
    control.disarm();
    assert.equal(control.fired, 1);
    const { commits, operations } = await store.metrics();
    assert.equal(commits.retries, 1);
    assert.equal(commits.count, 1);
    assert.deepEqual({ calls: operations.set.calls, errors: operations.set.errors }, { calls: 1, errors: {} });
  });

  test("the breaker's openings and state", async (t) => {
    const breaker = { failureThreshold: 1, recoveryTimeoutMs: 60_000 };
    const { store, control } = await faultyStore(t, { retry: { maxAttempts: 1 }, breaker });
    control.arm(1, "EIO", { sticky: true });
    await rejectsWith(() => store.set("a", 1), "IO");
    await rejectsWith(() => store.set("b", 1), "CIRCUIT_OPEN");
    control.disarm();
    const { breaker: counted, operations } = await store.metrics();
    assert.deepEqual(counted, { state: "OPEN", opened: 1 });
    assert.deepEqual(operations.set.errors, { IO: 1, CIRCUIT_OPEN: 1 });
    assert.match(await store.metricsText(), /^larder_breaker_state\{state="OPEN"\} 1$/m);
  });

  test("operations that waited in the queue past operationTimeoutMs, and one that ran past it", async (t) => {
    const clock = manualClock(0);
    const store = await open(t, { clock, operationTimeoutMs: 1_000, maxBatchSize: 10_000 });
    const waiting = [store.count(), store.get("a")];
    clock.advance(2_000); // before the queue is drained
    for (const call of waiting) await rejectsWith(() => call, "TIMEOUT");
    const batch = store.mset(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i]));
    clock.step = 2; // every reading moves the clock on: the mset outlives its 1 s
    await rejectsWith(() => batch, "TIMEOUT");
    clock.step = 0;
    const { commits, queue } = await store.metrics();
    assert.equal(commits.timeouts, 3);
    assert.equal(queue.waitMs.count, 3);
    // The two that expired waited 2 s (the 2.5 s bucket); the mset ran at once.
    const upTo = (le) => queue.waitMs.buckets.find((bucket) => bucket.le === le).count;
    assert.deepEqual([upTo(1000), upTo(2500)], [1, 3]);
    assert.equal(queue.waitMs.max, 2_000);
  });
});

describe("the recent window (for health)", () => {
  test("the last 60 s of the store's clock: calls, failures but validation ones, p95, hits, misses", async (t) => {
    const clock = manualClock(1_000_000);
    const store = await open(t, { clock, maxQueueLength: 1 });
    await store.set("a", 1);
    await store.get("a");
    await store.get("b");
    await rejectsWith(() => store.set("", 1), "INVALID_KEY"); // a validation error: not counted as a failure
    const [, full] = await Promise.allSettled([store.set("q1", 1), store.set("q2", 2)]);
    assertStorageError(full.reason, "QUEUE_FULL");
    await store.getOrSet("slow", () => {
      clock.advance(300);
      return 1;
    });
    const { recent, snapshot } = await metricsOf(store).read();
    assert.deepEqual(recent, { calls: 7, errors: 1, latencyP95Ms: 300, hits: 1, misses: 2 });
    assert.equal(snapshot.operations.set.calls, 4);
    clock.advance(59_000);
    assert.equal(metricsOf(store).recent().calls, 7, "59 s later every call is still in the window");
    clock.advance(1_000);
    assert.deepEqual(metricsOf(store).recent(), { calls: 0, errors: 0, latencyP95Ms: null, hits: 0, misses: 0 });
  });

  test("each call lands in its own second; a slot is emptied before a second 60 s later reuses it", async (t) => {
    const clock = manualClock(1_000_000); // second 1000
    const store = await open(t, { clock });
    await store.get("a");
    clock.advance(999); // still second 1000
    await store.get("a");
    clock.advance(1); // second 1001
    await store.get("a");
    assert.equal(metricsOf(store).recent().calls, 3);
    clock.advance(59_000); // second 1060, which takes second 1000's slot
    assert.equal(metricsOf(store).recent().calls, 1, "second 1000 has left the window");
    await store.get("a");
    assert.deepEqual(metricsOf(store).recent(), { calls: 2, errors: 0, latencyP95Ms: 0, hits: 0, misses: 2 });
    clock.advance(-59_000); // back to second 1001, whose slot still holds it
    await store.get("a");
    assert.equal(metricsOf(store).recent().calls, 2, "second 1001, now with two calls; 1060 is ahead of the clock");
  });

  test("a read-cache hit, which reads no clock, is placed in the window within a second by a timer", async (t) => {
    const clock = manualClock(1_000_000); // second 1000
    const store = await open(t, { clock });
    await store.set("a", 1);
    assert.equal(await store.get("a"), 1); // a hit: counted, its second not yet known
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the timer places it, in second 1000
    clock.advance(60_000);
    assert.deepEqual(metricsOf(store).recent(), { calls: 0, errors: 0, latencyP95Ms: null, hits: 0, misses: 0 });
    assert.equal((await store.metrics()).cache.hits, 1);
  });

  test("hits still waiting for a clock reading are in every read of the counts, at 0 ms", async (t) => {
    const clock = manualClock(1_000_000);
    const store = await open(t, { clock });
    await store.set("a", 1);
    for (let hit = 0; hit < 3; hit += 1) assert.equal(await store.get("a"), 1);
    // No timer has fired and fewer than 100 hits came: the read places them.
    const { operations, cache } = await store.metrics();
    assert.deepEqual([operations.get.calls, operations.get.latencyMs.count, operations.get.latencyMs.max], [3, 3, 0]);
    assert.equal(operations.get.latencyMs.buckets[0].count, 3, "all three in the first bucket");
    assert.deepEqual([cache.hits, cache.misses], [3, 0]);
    assert.deepEqual(metricsOf(store).recent(), { calls: 4, errors: 0, latencyP95Ms: 0, hits: 3, misses: 0 });
  });

  test("at most 100 hits wait for a clock reading: the 100th places them", async (t) => {
    const clock = manualClock(1_000_000);
    const store = await open(t, { clock });
    await store.set("a", 1);
    for (let hit = 0; hit < 150; hit += 1) await store.get("a");
    clock.advance(60_000); // the set and the first 100 hits, in second 1000, leave the window
    assert.deepEqual(metricsOf(store).recent(), { calls: 50, errors: 0, latencyP95Ms: 0, hits: 50, misses: 0 });
  });

  test("metricsText shows the last health status once one is set", async (t) => {
    const store = await open(t);
    assert.doesNotMatch(await store.metricsText(), /larder_health_status/);
    metricsOf(store).setLastHealthStatus("DEGRADED");
    const lines = (await store.metricsText()).split("\n").filter((line) => line.startsWith("larder_health_status"));
    assert.deepEqual(lines, [
      'larder_health_status{status="HEALTHY"} 0',
      'larder_health_status{status="DEGRADED"} 1',
      'larder_health_status{status="UNHEALTHY"} 0',
      'larder_health_status{status="CRITICAL"} 0',
    ]);
  });
});

describe("failed calls carry their txId", () => {
  test("each call's txId is new; its error carries it", async (t) => {
    const seen = [];
    const store = await open(t, { trace: (event) => seen.push(event) });
    await store.set("a", 1);
    const error = await rejectsWith(() => store.set("", 1), "INVALID_KEY");
    const loaderError = await store.getOrSet("x", () => { throw new Error("own"); }).catch((caught) => caught);
    assert.equal(loaderError.txId, undefined, "a loader's own error is left as it is");
    assert.deepEqual(seen.map((event) => event.txId), [1, 2, 3]);
    assert.equal(error.txId, 2);
  });

  test("callers sharing one failed getOrSet flight each get their own txId", async (t) => {
    const store = await open(t);
    const unstorable = () => new Promise((resolve) => setTimeout(() => resolve(() => {}), 5));
    const [first, second] = await Promise.allSettled([store.getOrSet("k", unstorable), store.getOrSet("k", unstorable)]);
    assertStorageError(first.reason, "INVALID_VALUE");
    assertStorageError(second.reason, "INVALID_VALUE");
    assert.notEqual(first.reason.txId, second.reason.txId);
    assert.deepEqual([first.reason.txId, second.reason.txId].sort(), [1, 2]);
  });
});

describe("the options", () => {
  for (const bad of [-1, "10", Number.NaN, Infinity, null]) {
    test(`slowOperationMs ${String(bad)} is refused`, async () => {
      await rejectsWith(() => openStorage({ slowOperationMs: bad }), "INVALID_ARGUMENT", /option slowOperationMs/);
    });
  }

  test("slowOperationMs 0 counts every call that takes any time", async (t) => {
    const clock = manualClock(0, 1); // each reading moves the clock 1 ms
    const store = await open(t, { clock, slowOperationMs: 0 });
    await store.set("a", 1);
    await store.get("a"); // a read-cache hit takes 0 ms
    await store.get("b"); // a miss: timed from when it went to the core
    const { operations } = await store.metrics();
    assert.equal(operations.set.slow, 1);
    assert.deepEqual([operations.get.calls, operations.get.slow], [2, 1]);
  });

  for (const [bad, mentions] of [
    [5, /option healthThresholds must be an object/],
    [{ nope: {} }, /unknown check "nope"/],
    [{ latency: { severe: 5 } }, /unknown level "severe"/],
    [{ latency: { degraded: "5" } }, /healthThresholds\.latency\.degraded must be a number/],
    [{ queue: 0.5 }, /healthThresholds\.queue must be an object/],
    [{ errors: { critical: Number.NaN } }, /must be a number/],
  ]) {
    test(`healthThresholds ${JSON.stringify(bad)} is refused`, async () => {
      await rejectsWith(() => openStorage({ healthThresholds: bad }), "INVALID_ARGUMENT", mentions);
    });
  }

  test("healthThresholds of every check and level are accepted", async (t) => {
    const levels = { degraded: 1, unhealthy: 2, critical: 3 };
    const checks = ["breaker", "queue", "latency", "errors", "budget", "storage", "hitRatio"];
    await open(t, { healthThresholds: Object.fromEntries(checks.map((check) => [check, levels])) });
  });

  test("trace must be a function", async () => {
    await rejectsWith(() => openStorage({ trace: "yes" }), "INVALID_ARGUMENT", /option trace must be a function/);
  });

  test("a second handle on an open database must give the same ones (healthThresholds compared field by field)", async (t) => {
    const file = path.join(tempDir(t, "metrics-options"), "o.sqlite");
    const options = { path: file, slowOperationMs: 5, healthThresholds: { latency: { degraded: 50 } } };
    const first = await openStorage(options);
    t.after(() => first.dispose());
    const same = await openStorage({ ...options, healthThresholds: { latency: { degraded: 50 } } });
    await same.dispose();
    await rejectsWith(() => openStorage({ ...options, slowOperationMs: 6 }), "INVALID_ARGUMENT", /slowOperationMs 5/);
    await rejectsWith(
      () => openStorage({ ...options, healthThresholds: { latency: { degraded: 60 } } }),
      "INVALID_ARGUMENT",
      /healthThresholds \{ latency: \{ degraded: 50 \} \}/,
    );
  });

  test("unknown options are still refused", async () => {
    await rejectsWith(() => openStorage({ slowOperationsMs: 5 }), "INVALID_ARGUMENT", /slowOperationsMs/);
  });
});

describe("the counters outlive a trap", () => {
  // The test-hooks build (`make test-hooks`): a get of this key panics in the core.
  const PANIC_IN_OPERATION = "larder:test-hooks:panic-in-operation";

  test("a store reopened after a trap keeps counting from where it was", async (t) => {
    const hooks = await import(new URL("../../target/pkg-test-hooks/node.js", import.meta.url).href);
    const clock = manualClock(1_000);
    const store = await hooks.openStorage({ clock, maxSizeBytes: 1_000_000 });
    t.after(() => store.dispose());
    await store.set("a", 1);
    await Promise.all([store.set("b", 2), store.set("c", 3)]);
    await store.get("a");
    await assert.rejects(store.get(PANIC_IN_OPERATION), (error) => error.code === "INTERNAL");
    await store.set("d", 4);
    const { operations, commits, queue, cache, storage } = await store.metrics();
    assert.deepEqual(operations.set.calls, 4);
    assert.deepEqual(operations.get.calls, 2);
    assert.deepEqual(operations.get.errors, { INTERNAL: 1 });
    assert.deepEqual({ hits: cache.hits, misses: cache.misses }, { hits: 1, misses: 0 });
    // Two commits before the trap (the second grouped), one after it.
    assert.deepEqual({ count: commits.count, grouped: commits.grouped }, { count: 3, grouped: 1 });
    // a, b, c, get a (a set fills no read cache of a store with a budget)
    // and the panicking get left the first instance's queue; d the second's.
    assert.equal(queue.waitMs.count, 6);
    assert.equal(queue.maxDepth, 2);
    // The ":memory:" store came back empty: only d is stored.
    assert.equal(storage.entries, 1);
  });
});
