// Tracing: one event per settled call, to the `trace` option and to the
// `node:diagnostics_channel` channel "larder:operation"; a throwing tracer
// never reaches the store or the caller. The core's facts of each traced
// call (queue wait, group commit, retries), and none asked for untraced.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import * as realFs from "node:fs";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { metricsOf } from "../../pkg/internals.js";
import { open, manualClock, rejectsWith, within } from "./helpers.mjs";
import { faultyFs, tempDir } from "./file-helpers.mjs";

const FIELDS = ["txId", "op", "ns", "key", "keys", "queuedMs", "runMs", "outcome", "code", "groupSize", "retries"];

describe("the trace option", () => {
  test("one event per settled call, with exactly the contract's fields", async (t) => {
    const events = [];
    const clock = manualClock(10_000);
    const store = await open(t, { clock, trace: (event) => events.push(event) });
    await store.set("a", 1);
    await store.namespace("n").mget(["a", "b"]);
    await store.mset({ x: 1, y: 2, z: 3 });
    await rejectsWith(() => store.get(""), "INVALID_KEY");
    await store.getOrSet("slow", () => {
      clock.advance(40);
      return 1;
    });
    await store.count();
    for (const event of events) assert.deepEqual(Object.keys(event), FIELDS);
    const brief = events.map(({ txId, op, ns, key, keys, outcome, code, runMs }) => ({ txId, op, ns, key, keys, outcome, code, runMs }));
    assert.deepEqual(brief, [
      { txId: 1, op: "set", ns: null, key: "a", keys: null, outcome: "ok", code: null, runMs: 0 },
      { txId: 2, op: "mget", ns: "n", key: null, keys: 2, outcome: "ok", code: null, runMs: 0 },
      { txId: 3, op: "mset", ns: null, key: null, keys: 3, outcome: "ok", code: null, runMs: 0 },
      { txId: 4, op: "get", ns: null, key: "", keys: null, outcome: "error", code: "INVALID_KEY", runMs: 0 },
      { txId: 5, op: "getOrSet", ns: null, key: "slow", keys: null, outcome: "ok", code: null, runMs: 40 },
      { txId: 6, op: "count", ns: null, key: null, keys: null, outcome: "ok", code: null, runMs: 0 },
    ]);
  });

  test("a throwing trace function reaches neither the store nor the caller", async (t) => {
    let calls = 0;
    const store = await open(t, {
      trace: () => {
        calls += 1;
        throw new Error("tracer broke");
      },
    });
    await store.set("a", 1);
    assert.equal(await store.get("a"), 1);
    await rejectsWith(() => store.set("", 1), "INVALID_KEY");
    assert.equal(calls, 3);
    assert.equal((await store.metrics()).operations.set.calls, 2);
  });
});

describe("the diagnostics channel larder:operation", () => {
  test("subscribers get the same events as the trace option", async (t) => {
    const published = [];
    const traced = [];
    const subscriber = (message) => published.push(message);
    subscribe("larder:operation", subscriber);
    t.after(() => unsubscribe("larder:operation", subscriber));
    const store = await open(t, { trace: (event) => traced.push(event) });
    await store.set("k", "v");
    await store.get("k");
    assert.equal(published.length, 2);
    assert.deepEqual(published, traced);
    assert.deepEqual(published.map((event) => event.op), ["set", "get"]);
  });

  test("a store without a trace function publishes while the channel has a subscriber, and only then", async (t) => {
    const store = await open(t);
    const published = [];
    const subscriber = (message) => published.push(message.key);
    await store.set("before", 1);
    subscribe("larder:operation", subscriber);
    await store.set("during", 1);
    unsubscribe("larder:operation", subscriber);
    await store.set("after", 1);
    assert.deepEqual(published, ["during"]);
  });
});

/** The core's facts and timings of each event, by op and key. */
const facts = (events) =>
  events.map(({ op, key, queuedMs, runMs, groupSize, retries, outcome }) => ({ op, key, queuedMs, runMs, groupSize, retries, outcome }));

/** How many operations' facts the store's core has recorded. */
const tracedInCore = (store) => metricsOf(store).readCore((core) => core.traced);

/** A file store over `fs`, disposed when `t` ends. */
async function fileStore(t, fs, options) {
  const file = path.join(tempDir(t, "trace"), "trace.sqlite");
  const store = await within(openStorage({ path: file, fs, ...options }), "openStorage");
  t.after(() => store.dispose());
  return store;
}

describe("the core's facts in trace events", () => {
  test("queuedMs is the wait behind the operation before, on the store's clock; runMs the rest", async (t) => {
    const clock = manualClock(50_000);
    // The next write to the file takes `writeTakesMs` on the store's clock.
    let writeTakesMs = 0;
    const fs = {
      ...realFs,
      writeSync(...args) {
        clock.advance(writeTakesMs);
        writeTakesMs = 0;
        return realFs.writeSync(...args);
      },
    };
    const events = [];
    const store = await fileStore(t, fs, { clock, trace: (event) => events.push(event) });
    await store.set("warm", 0);
    events.length = 0;
    writeTakesMs = 25;
    await Promise.all([store.set("a", 1), store.get("a")]);
    await store.get("a"); // nothing in flight: the facade's read cache answers
    assert.deepEqual(facts(events), [
      { op: "set", key: "a", queuedMs: 0, runMs: 25, groupSize: 1, retries: 0, outcome: "ok" },
      { op: "get", key: "a", queuedMs: 25, runMs: 0, groupSize: null, retries: 0, outcome: "ok" },
      { op: "get", key: "a", queuedMs: 0, runMs: 0, groupSize: null, retries: 0, outcome: "ok" },
    ]);
  });

  test("groupSize: sets waiting together share one commit; a lone write commits alone; reads commit nothing", async (t) => {
    const events = [];
    const store = await open(t, { clock: manualClock(), trace: (event) => events.push(event) });
    await Promise.all([store.set("a", 1), store.set("b", 2), store.set("c", 3), store.get("a"), store.set("d", 4)]);
    await store.set("alone", 1);
    await store.mset([["x", 1], ["y", 2]]);
    await store.delete("x");
    await store.count();
    await store.getOrSet("loaded", () => 1);
    await store.getOrSet("loaded", () => 2);
    const groups = events.map(({ op, groupSize }) => [op, groupSize]);
    assert.deepEqual(groups, [
      ["set", 3],
      ["set", 3],
      ["set", 3],
      ["get", null],
      ["set", 1],
      ["set", 1],
      ["mset", 1],
      ["delete", 1],
      ["count", null],
      ["getOrSet", 1], // its write, after the loader
      ["getOrSet", null], // a hit writes nothing
    ]);
    assert.ok(events.every((event) => event.retries === 0 && event.queuedMs === 0));
  });

  test("retries: a write that failed once in I/O and then succeeded", async (t) => {
    const { fs, control } = faultyFs();
    const events = [];
    const retry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
    const store = await fileStore(t, fs, { durability: "full", retry, trace: (event) => events.push(event) });
    await store.set("warm", 0);
    control.arm(1);
    await store.set("a", 1);
    control.disarm();
    assert.equal(control.fired, 1);
    assert.deepEqual(
      events.map(({ key, retries, groupSize, outcome }) => ({ key, retries, groupSize, outcome })),
      [
        { key: "warm", retries: 0, groupSize: 1, outcome: "ok" },
        { key: "a", retries: 1, groupSize: 1, outcome: "ok" },
      ],
    );
  });

  test("a write that failed ran in its own transaction; one the open breaker refused never ran", async (t) => {
    const { fs, control } = faultyFs();
    const events = [];
    const options = { durability: "full", retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1, recoveryTimeoutMs: 60_000 } };
    const store = await fileStore(t, fs, { ...options, trace: (event) => events.push(event) });
    await store.set("warm", 0);
    control.arm(1, "EIO", { sticky: true });
    await rejectsWith(() => store.set("a", 1), "IO");
    await rejectsWith(() => store.set("b", 1), "CIRCUIT_OPEN");
    control.disarm();
    assert.deepEqual(
      events.slice(1).map(({ key, code, groupSize, retries }) => ({ key, code, groupSize, retries })),
      [
        { key: "a", code: "IO", groupSize: 1, retries: 0 },
        { key: "b", code: "CIRCUIT_OPEN", groupSize: null, retries: 0 },
      ],
    );
  });

  test("an untraced store asks the core for nothing: it records no facts", async (t) => {
    const quiet = await open(t);
    await Promise.all([quiet.set("a", 1), quiet.set("b", 2), quiet.get("a"), quiet.getOrSet("c", () => 3)]);
    assert.equal(await tracedInCore(quiet), 0);
    const traced = await open(t, { trace: () => {} });
    await Promise.all([traced.set("a", 1), traced.set("b", 2), traced.get("a"), traced.getOrSet("c", () => 3)]);
    // Two sets, the get, getOrSet's read and its write.
    assert.equal(await tracedInCore(traced), 5);
  });

  test("a call that began before anyone listened has no facts: null, and its whole time as runMs", async (t) => {
    const clock = manualClock(1_000);
    const store = await open(t, { clock });
    const published = [];
    const subscriber = (message) => published.push(message);
    const pending = store.getOrSet("k", async () => {
      clock.advance(7);
      return 1;
    });
    subscribe("larder:operation", subscriber);
    t.after(() => unsubscribe("larder:operation", subscriber));
    await pending;
    await store.set("after", 1);
    assert.deepEqual(
      published.map(({ op, queuedMs, runMs, groupSize, retries }) => ({ op, queuedMs, runMs, groupSize, retries })),
      [
        { op: "getOrSet", queuedMs: null, runMs: 7, groupSize: null, retries: null },
        { op: "set", queuedMs: 0, runMs: 0, groupSize: 1, retries: 0 },
      ],
    );
  });
});
