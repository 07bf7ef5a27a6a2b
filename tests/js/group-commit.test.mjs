// Group commit: sets waiting in the queue together are committed in one
// SQLite transaction, each caller answered only after that commit, in call
// order; an invalid entry fails only its own caller, and a storage failure
// fails every set of the group, leaving none of them.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { assertStorageError, jsonSize, open, settleAll, totals, within } from "./helpers.mjs";
import { assertIntegrity, faultyFs, rowCount, tempDir } from "./file-helpers.mjs";

const N = 200;
const value = (i) => ({ i, text: "g".repeat(50 + (i % 7)) });

/** A durable file store over an `fs` that counts write and fsync calls. */
async function countedStore(t, options = {}) {
  const { fs, control } = faultyFs();
  const file = path.join(tempDir(t, "group"), "group.sqlite");
  const store = await within(openStorage({ path: file, fs, durability: "full", ...options }), "openStorage");
  t.after(() => store.dispose());
  return { file, store, control };
}

const fsyncs = (control) => control.log.filter((call) => call === "fsync").length;

describe("sets issued together", () => {
  test(`${N} concurrent sets share one commit; ${N} awaited one by one commit ${N} times`, async (t) => {
    const { file, store, control } = await countedStore(t);
    // The first commit into a new WAL also syncs its directory, once.
    await store.set("first", value(0));
    control.arm(0);
    await within(Promise.all(Array.from({ length: N }, (_, i) => store.set(`together-${i}`, value(i)))), "sets");
    const together = fsyncs(control);
    control.arm(0);
    for (let i = 0; i < N; i += 1) await store.set(`alone-${i}`, value(i));
    const alone = fsyncs(control);
    control.disarm();
    t.diagnostic(`fsync calls: ${together} for ${N} concurrent sets, ${alone} for ${N} awaited one by one`);
    assert.ok(together <= 2, `one commit for the group: ${together} fsync(s)`);
    assert.ok(alone >= N, `one commit per awaited set: ${alone} fsyncs`);
    const keys = Array.from({ length: N }, (_, i) => `together-${i}`);
    assert.deepEqual(await store.mget(keys), keys.map((_, i) => value(i)));
    await store.dispose();
    assertIntegrity(file);
    assert.equal(rowCount(file), 2 * N + 1);
  });

  test("each caller is answered after the commit, in call order, and a later set of a key wins", async (t) => {
    const store = await open(t);
    const order = [];
    const calls = [
      store.set("k", 1).then(() => order.push("set k=1")),
      store.set("k", 2).then(() => order.push("set k=2")),
      store.get("k").then((v) => order.push(`get k -> ${v}`)),
      store.set("k", 3).then(() => order.push("set k=3")),
      store.set("other", 0).then(() => order.push("set other")),
    ];
    await within(Promise.all(calls), "calls");
    assert.deepEqual(order, ["set k=1", "set k=2", "get k -> 2", "set k=3", "set other"]);
    assert.equal(await store.get("k"), 3);
    assert.deepEqual(await totals(store), { count: 2, size: jsonSize("k", 3) + jsonSize("other", 0) });
  });

  test("an invalid entry fails only its own caller", async (t) => {
    const { store } = await countedStore(t);
    const calls = Array.from({ length: 20 }, (_, i) => {
      if (i === 5) return store.set(`k-${i}`, () => "a function");
      if (i === 9) return store.set("", 1);
      if (i === 13) return store.set(`k-${i}`, 1, { ttlMs: -1 });
      return store.set(`k-${i}`, i);
    });
    const results = await settleAll(calls);
    const codes = results.map((result) => (result.status === "fulfilled" ? "ok" : result.reason.code));
    const expected = codes.map((_, i) => ({ 5: "INVALID_VALUE", 9: "INVALID_KEY", 13: "INVALID_ARGUMENT" })[i] ?? "ok");
    assert.deepEqual(codes, expected);
    assert.equal(await store.count(), 17);
    assert.equal(await store.get("k-19"), 19);
    assert.equal(await store.has("k-5"), false);
  });

  test("a budget eviction inside a group evicts as sets one by one would", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await store.set("old", "x".repeat(20), { size: 30 });
    await within(
      Promise.all([
        store.set("a", 1, { size: 40 }),
        store.set("b", 2, { size: 40 }),
        store.set("a", 3, { size: 20 }),
      ]),
      "sets",
    );
    assert.deepEqual(await store.keys(), ["a", "b"]);
    assert.equal(await store.getCurrentCacheSize(), 60);
  });
});

describe("a storage failure during a group commit", () => {
  test("a transient EIO: the group is retried whole and every set lands once", async (t) => {
    const { file, store, control } = await countedStore(t, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    control.arm(2, "EIO");
    await within(Promise.all(Array.from({ length: N }, (_, i) => store.set(`k-${i}`, value(i)))), "sets");
    assert.equal(control.fired, 1);
    control.disarm();
    assert.equal(await store.count(), N);
    await store.dispose();
    assertIntegrity(file);
    assert.equal(rowCount(file), N);
  });

  test("a failure that is not retried fails every set of the group, and none is stored", async (t) => {
    const { store, control } = await countedStore(t, { retry: { maxAttempts: 1 } });
    await store.set("before", 1);
    control.arm(1, "ENOSPC", { sticky: true });
    const results = await settleAll(Array.from({ length: N }, (_, i) => store.set(`k-${i}`, value(i))));
    control.disarm();
    assert.deepEqual(new Set(results.map((result) => result.reason?.code)), new Set(["QUOTA_EXCEEDED"]));
    assert.deepEqual(await store.keys(), ["before"]);
    assertStorageError(results[0].reason, "QUOTA_EXCEEDED");
  });
});
