// TTL: ttlMs, defaultTtlMs and Infinity, measured with an injected clock.
// Boundaries are checked one millisecond either side of the expiry instant.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { openStorage } from "larderdb";
import { open, manualClock, totals, jsonSize, rejectsWith } from "./helpers.mjs";

/** A store with a manual clock starting at t = 1_000_000. */
async function timedStore(t, options = {}) {
  const clock = manualClock(1_000_000);
  const store = await open(t, { clock, ...options });
  return { store, clock };
}

/** Everything a reader can see about `key`. */
async function visibility(store, key) {
  return {
    get: await store.get(key),
    has: await store.has(key),
    mget: (await store.mget([key]))[0],
    listed: (await store.keys()).includes(key),
  };
}

const visible = (value) => ({ get: value, has: true, mget: value, listed: true });
const invisible = { get: undefined, has: false, mget: undefined, listed: false };

describe("ttlMs", () => {
  test("an entry is visible until its TTL has passed, then invisible to every read", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", "v", { ttlMs: 100 });
    assert.deepEqual(await visibility(store, "k"), visible("v"));
    clock.advance(99);
    assert.deepEqual(await visibility(store, "k"), visible("v"));
    assert.deepEqual(await totals(store), { count: 1, size: jsonSize("k", "v") });
    clock.advance(2);
    assert.deepEqual(await visibility(store, "k"), invisible);
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
  });

  test("entries without a TTL never expire", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", "v");
    clock.advance(10 * 365 * 24 * 3600 * 1000);
    assert.deepEqual(await visibility(store, "k"), visible("v"));
  });

  test("only expired entries disappear; count and size follow", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("short", 1, { ttlMs: 10, size: 100 });
    await store.set("long", 2, { ttlMs: 1000, size: 20 });
    await store.set("forever", 3, { size: 3 });
    assert.deepEqual(await totals(store), { count: 3, size: 123 });
    clock.advance(11);
    assert.deepEqual(await totals(store), { count: 2, size: 23 });
    assert.deepEqual(await store.keys(), ["forever", "long"]);
    assert.deepEqual(await store.mget(["short", "long", "forever"]), [undefined, 2, 3]);
    clock.advance(1000);
    assert.deepEqual(await totals(store), { count: 1, size: 3 });
  });

  test("keys with prefix, after and limit skip expired entries", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.mset({ "p:1": 1, "p:3": 3, "p:5": 5 });
    await store.mset({ "p:2": 2, "p:4": 4 }, { ttlMs: 5 });
    clock.advance(6);
    assert.deepEqual(await store.keys({ prefix: "p:", limit: 2 }), ["p:1", "p:3"]);
    assert.deepEqual(await store.keys({ prefix: "p:", after: "p:1", limit: 2 }), ["p:3", "p:5"]);
  });

  test("delete of an expired entry resolves false; mdelete does not count it", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("a", 1, { ttlMs: 10 });
    await store.set("b", 1, { ttlMs: 10 });
    await store.set("c", 1);
    clock.advance(20);
    assert.equal(await store.delete("a"), false);
    assert.equal(await store.mdelete(["b", "c"]), 1);
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
  });

  test("overwriting sets a new expiry (or none)", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: 10 });
    clock.advance(5);
    await store.set("k", 2, { ttlMs: 100 });
    clock.advance(50);
    assert.equal(await store.get("k"), 2, "the second TTL counts from the second write");
    await store.set("k", 3);
    clock.advance(1_000_000);
    assert.equal(await store.get("k"), 3, "an overwrite without TTL removes the expiry");
  });

  test("writing over an expired entry stores the new one with the right size", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", "old", { ttlMs: 10, size: 500 });
    clock.advance(11);
    await store.set("k", "new");
    assert.equal(await store.get("k"), "new");
    assert.deepEqual(await totals(store), { count: 1, size: jsonSize("k", "new") });
  });

  test("mset applies ttlMs to every entry of the batch", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.mset({ a: 1, b: 2 }, { ttlMs: 50 });
    await store.set("c", 3);
    clock.advance(49);
    assert.equal(await store.count(), 3);
    clock.advance(2);
    assert.deepEqual(await store.keys(), ["c"]);
  });

  test("a fractional ttlMs is accepted", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: 0.5 });
    clock.advance(2);
    assert.equal(await store.has("k"), false);
  });

  test("ttlMs 2^53 is accepted and does not expire", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: 2 ** 53 });
    clock.advance(1e12);
    assert.equal(await store.get("k"), 1);
  });

  test("ttlMs Infinity never expires", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: Infinity });
    clock.advance(1e12);
    assert.equal(await store.get("k"), 1);
  });

  test("expiry follows the clock, not wall time", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: 1 });
    assert.equal(await store.get("k"), 1, "the manual clock has not moved");
    clock.advance(2);
    assert.equal(await store.get("k"), undefined);
  });
});

describe("defaultTtlMs", () => {
  test("applies to set and mset when no ttlMs is given", async (t) => {
    const { store, clock } = await timedStore(t, { defaultTtlMs: 100 });
    await store.set("s", 1);
    await store.mset({ m: 2 });
    clock.advance(99);
    assert.equal(await store.count(), 2);
    clock.advance(2);
    assert.equal(await store.count(), 0);
  });

  test("an explicit ttlMs overrides it", async (t) => {
    const { store, clock } = await timedStore(t, { defaultTtlMs: 100 });
    await store.set("longer", 1, { ttlMs: 1000 });
    await store.set("shorter", 1, { ttlMs: 10 });
    await store.mset({ batch: 1 }, { ttlMs: 1000 });
    clock.advance(50);
    assert.deepEqual(await store.keys(), ["batch", "longer"]);
    clock.advance(100);
    assert.deepEqual(await store.keys(), ["batch", "longer"]);
  });

  test("ttlMs Infinity makes an entry never expire even with a default", async (t) => {
    const { store, clock } = await timedStore(t, { defaultTtlMs: 100 });
    await store.set("forever", 1, { ttlMs: Infinity });
    await store.mset({ batchForever: 2 }, { ttlMs: Infinity });
    await store.set("default", 3);
    clock.advance(1e9);
    assert.deepEqual(await store.keys(), ["batchForever", "forever"]);
  });

  test("defaultTtlMs Infinity means no expiry", async (t) => {
    const { store, clock } = await timedStore(t, { defaultTtlMs: Infinity });
    await store.set("k", 1);
    clock.advance(1e12);
    assert.equal(await store.get("k"), 1);
  });
});

describe("invalid TTLs", () => {
  const bad = [0, -1, -Infinity, NaN, "100", null, 2 ** 54];

  for (const ttlMs of bad) {
    test(`ttlMs ${String(ttlMs)} is INVALID_ARGUMENT naming ttlMs, and writes nothing`, async (t) => {
      const { store } = await timedStore(t);
      await rejectsWith(() => store.set("k", 1, { ttlMs }), "INVALID_ARGUMENT", /ttlMs/);
      await rejectsWith(() => store.mset({ k: 1 }, { ttlMs }), "INVALID_ARGUMENT", /ttlMs/);
      assert.equal(await store.count(), 0);
    });

    test(`defaultTtlMs ${String(ttlMs)} is INVALID_ARGUMENT naming defaultTtlMs`, async () => {
      await rejectsWith(() => openStorage({ defaultTtlMs: ttlMs }), "INVALID_ARGUMENT", /defaultTtlMs/);
    });
  }
});
