// The disk footprint of a file store: the database file plus its WAL stay
// within 2 × maxSizeBytes + 4 MiB at every point of a churn at capacity;
// clear, invalidate, purgeExpired and dispose give the space back, with or
// without a budget; a file made before larder used incremental vacuum is
// switched to it on open, keeps its data, even when the switch is cut short
// by a failing disk, and is bounded after.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { manualClock, within } from "./helpers.mjs";
import { FIXTURES, assertIntegrity, crashImage, faultyFs, sqlite3, tempDir } from "./file-helpers.mjs";

const MiB = 1024 * 1024;
const BUDGET = 2_000_000;
const BOUND = 2 * BUDGET + 4 * MiB;
/** What is left of a store with nothing (or next to nothing) in it. */
const EMPTY_BOUND = 1 * MiB;

/**
 * Made by larder before it used incremental vacuum (`auto_vacuum` 0):
 * `v1:0` … `v1:23` set to `{ i, pad: "v" × 1000 }`, every third of them
 * (`v1:0`, `v1:3`, …) deleted, then in namespace "other" `bytes` set to
 * [0, 1, 2, 255] and `kept` to "forever" with `ttlMs: Infinity`; disposed.
 */
const V1_FILE = path.join(FIXTURES, "v1-without-auto-vacuum.sqlite");

/** Bytes of the database file and of its WAL (0 for a missing file). */
function footprint(file) {
  const size = (name) => (fs.existsSync(name) ? fs.statSync(name).size : 0);
  return size(file) + size(`${file}-wal`);
}

async function openFile(t, file, options = {}) {
  const store = await within(openStorage({ path: file, ...options }), `openStorage(${file})`, 30_000);
  t.after(() => store.dispose());
  return store;
}

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed) {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

const value = (i) => ({ i, pad: "x".repeat(1000) });

/**
 * Writes `totalBytes` of about-1-KB values into `store` through sets, msets
 * (half with a TTL), sets with a TTL, deletes, mdeletes and the odd
 * invalidate, moving `clock` 50 ms a call; calls `check` after every call.
 */
async function churn(store, clock, totalBytes, check) {
  const next = random(7);
  const pick = (n) => Math.floor(next() * n);
  let written = 0;
  for (let call = 0; written < totalBytes; call++) {
    const kind = next();
    if (kind < 0.45) {
      await store.set(`k:${pick(4000)}`, value(call));
      written += 1000;
    } else if (kind < 0.65) {
      const batch = {};
      const size = 20 + pick(80);
      for (let j = 0; j < size; j++) batch[`m:${pick(8000)}`] = value(j);
      await store.mset(batch, next() < 0.5 ? { ttlMs: 1 + pick(20_000) } : {});
      written += size * 1000;
    } else if (kind < 0.8) {
      await store.set(`t:${call}`, value(call), { ttlMs: 1 + pick(5_000) });
      written += 1000;
    } else if (kind < 0.9) {
      await store.delete(`k:${pick(4000)}`);
    } else if (kind < 0.99) {
      await store.mdelete(Array.from({ length: 20 }, () => `m:${pick(8000)}`));
    } else {
      await store.invalidate({ prefix: `k:${pick(10)}` });
    }
    clock.advance(50);
    check();
  }
}

/**
 * `churn`, asserting after every call that the file and its WAL are within
 * 2 × `budget` + 4 MiB; returns the calls made and the most bytes seen.
 */
async function boundedChurn(store, clock, file, budget, totalBytes) {
  const bound = 2 * budget + 4 * MiB;
  const worst = { calls: 0, bytes: 0 };
  await churn(store, clock, totalBytes, () => {
    const bytes = footprint(file);
    worst.bytes = Math.max(worst.bytes, bytes);
    worst.calls += 1;
    assert.ok(bytes <= bound, `after call ${worst.calls}: ${bytes} bytes on disk, more than ${bound}`);
  });
  return worst;
}

describe("with maxSizeBytes", () => {
  test("20 MB of churn through a 2 MB budget: file + WAL within 2 × budget + 4 MiB after every call", async (t) => {
    const file = path.join(tempDir(t), "churn.sqlite");
    const clock = manualClock();
    const store = await openFile(t, file, { maxSizeBytes: BUDGET, clock });
    const worst = await boundedChurn(store, clock, file, BUDGET, 20_000_000);
    t.diagnostic(`${worst.calls} calls; worst file + WAL: ${worst.bytes} bytes (bound ${BOUND})`);
    assert.ok((await store.getCurrentCacheSize()) <= BUDGET);
    assert.ok((await store.count()) > 1000, "the store is at capacity, not emptied by the churn");

    await store.clear();
    const afterClear = footprint(file);
    t.diagnostic(`after clear: ${afterClear} bytes`);
    assert.ok(afterClear <= EMPTY_BOUND, `after clear: ${afterClear} bytes`);

    await store.set("last", value(0));
    await store.dispose();
    const afterDispose = footprint(file);
    t.diagnostic(`after dispose: ${afterDispose} bytes`);
    assert.ok(afterDispose <= EMPTY_BOUND, `after dispose: ${afterDispose} bytes`);
    assertIntegrity(file);
    assert.equal(sqlite3(file, "SELECT key FROM entries"), "last");
  });

  test("a small budget has a small WAL: 200 kB, within 2 × budget + 4 MiB after every call", async (t) => {
    const file = path.join(tempDir(t), "small.sqlite");
    const clock = manualClock();
    const store = await openFile(t, file, { maxSizeBytes: 200_000, clock });
    const worst = await boundedChurn(store, clock, file, 200_000, 5_000_000);
    t.diagnostic(`${worst.calls} calls; worst file + WAL: ${worst.bytes} bytes`);
  });

  test("entries expiring faster than writes purge them do not pile up on disk", async (t) => {
    // Each mset writes 100 entries that have expired by the next one: more
    // than the few expired rows a write removes on the side.
    const file = path.join(tempDir(t), "expiring.sqlite");
    const clock = manualClock();
    const store = await openFile(t, file, { maxSizeBytes: BUDGET, clock });
    for (let round = 0; round < 120; round++) {
      const batch = {};
      for (let j = 0; j < 100; j++) batch[`e:${round}:${j}`] = value(j);
      await store.mset(batch, { ttlMs: 500 });
      clock.advance(1000);
      const bytes = footprint(file);
      assert.ok(bytes <= BOUND, `after mset ${round}: ${bytes} bytes on disk, more than ${BOUND}`);
    }
    await store.dispose();
    assert.ok(Number(sqlite3(file, "SELECT coalesce(sum(size), 0) FROM entries")) <= BUDGET + 100 * 1100);
  });
});

describe("without maxSizeBytes, removals give the space back", () => {
  /** Writes about 8 MB under `prefix`, in batches; returns how many entries. */
  async function fill(store, prefix, options) {
    for (let batch = 0; batch < 16; batch++) {
      const entries = {};
      for (let j = 0; j < 500; j++) entries[`${prefix}${batch}:${j}`] = value(j);
      await store.mset(entries, options);
    }
    return 16 * 500;
  }

  test("invalidate, clear, purgeExpired and dispose", async (t) => {
    const file = path.join(tempDir(t), "unbounded.sqlite");
    const clock = manualClock();
    const store = await openFile(t, file, { clock });
    await store.mset({ "b:1": 1, "b:2": 2 });

    const filled = await fill(store, "a:");
    assert.ok(footprint(file) > 8 * MiB, `filled: ${footprint(file)} bytes`);
    assert.equal(await store.invalidate({ prefix: "a:" }), filled);
    assert.ok(footprint(file) <= EMPTY_BOUND, `after invalidate: ${footprint(file)} bytes`);
    assert.deepEqual(await store.mget(["b:1", "b:2"]), [1, 2], "what was not invalidated is kept");

    await fill(store, "a:");
    await store.clear();
    assert.ok(footprint(file) <= EMPTY_BOUND, `after clear: ${footprint(file)} bytes`);

    await fill(store, "c:", { ttlMs: 10 });
    clock.advance(10);
    assert.equal(await store.purgeExpired(), filled);
    assert.ok(footprint(file) <= EMPTY_BOUND, `after purgeExpired: ${footprint(file)} bytes`);

    // Deletes only trim past a threshold; dispose gives back the rest.
    await fill(store, "d:");
    for (let batch = 0; batch < 16; batch++) {
      await store.mdelete(Array.from({ length: 500 }, (_, j) => `d:${batch}:${j}`));
    }
    await store.dispose();
    assert.ok(footprint(file) <= EMPTY_BOUND, `after dispose: ${footprint(file)} bytes`);
    assertIntegrity(file);
    assert.equal(sqlite3(file, "SELECT count(*) FROM entries"), "0");
  });
});

describe("a file made without incremental vacuum", () => {
  /** A copy of the version-1 fixture in a fresh directory. */
  function v1Copy(t) {
    const file = path.join(tempDir(t), "v1.sqlite");
    fs.copyFileSync(V1_FILE, file);
    return file;
  }

  /** Asserts that `store` holds exactly the fixture's entries. */
  async function assertV1Data(store) {
    const kept = Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 3 !== 0);
    assert.deepEqual(await store.keys(), kept.map((i) => `v1:${i}`).sort());
    assert.deepEqual(
      await store.mget(kept.map((i) => `v1:${i}`)),
      kept.map((i) => ({ i, pad: "v".repeat(1000) })),
    );
    const other = store.namespace("other");
    assert.deepEqual(await other.get("bytes"), new Uint8Array([0, 1, 2, 255]));
    assert.equal(await other.get("kept"), "forever");
    assert.equal(await store.count(), kept.length + 2, "count() takes in every namespace");
  }

  test("is switched to it on open, keeps its data, and is bounded after", async (t) => {
    const file = v1Copy(t);
    assert.equal(sqlite3(file, "PRAGMA auto_vacuum"), "0", "the fixture lacks incremental vacuum");
    const first = await openFile(t, file);
    await assertV1Data(first);
    await first.dispose();
    assert.equal(sqlite3(file, "PRAGMA auto_vacuum"), "2", "INCREMENTAL");
    assert.equal(sqlite3(file, "PRAGMA user_version"), "3", "migrated to schema version 3 by the same open");
    assertIntegrity(file);

    const clock = manualClock();
    const store = await openFile(t, file, { maxSizeBytes: BUDGET, clock });
    await assertV1Data(store);
    const worst = await boundedChurn(store, clock, file, BUDGET, 6_000_000);
    t.diagnostic(`migrated file, worst file + WAL: ${worst.bytes} bytes`);
    await store.clear();
    assert.ok(footprint(file) <= EMPTY_BOUND, `after clear: ${footprint(file)} bytes`);
  });

  test("a switch cut short by a failing disk leaves the data whole, and the next open switches it", async (t) => {
    // Count the writes and fsyncs of one whole open (switch included), then
    // fail each of them in turn, for good: the disk keeps what was written
    // before, as after a crash.
    const counted = faultyFs();
    counted.control.arm(0);
    const clean = await openFile(t, v1Copy(t), { fs: counted.fs });
    const calls = counted.control.calls;
    counted.control.disarm();
    await clean.dispose();
    assert.ok(calls > 3, `an open that switches writes (${calls} writes and fsyncs)`);

    for (let failAt = 1; failAt <= calls; failAt++) {
      const file = v1Copy(t);
      const { fs: failing, control } = faultyFs();
      control.arm(failAt, "EIO", { sticky: true });
      const opened = await openStorage({ path: file, fs: failing }).catch((error) => error);
      if (!(opened instanceof Error)) await opened.dispose();
      const image = crashImage(file, tempDir(t, "image"));
      const store = await openFile(t, image);
      await assertV1Data(store);
      await store.dispose();
      assert.equal(sqlite3(image, "PRAGMA auto_vacuum"), "2", `failing at call ${failAt}`);
      assertIntegrity(image, `failing at call ${failAt}`);
    }
  });
});
