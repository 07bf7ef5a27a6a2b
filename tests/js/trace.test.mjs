// Tracing: one event per settled call, to the `trace` option and to the
// `node:diagnostics_channel` channel "larder:operation"; a throwing tracer
// never reaches the store or the caller.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { open, manualClock, rejectsWith } from "./helpers.mjs";

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
