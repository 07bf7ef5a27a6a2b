// I/O faults through the `fs` option: a write or fsync that fails (EIO, or
// ENOSPC for a full disk) at every point of one mset leaves the batch all or
// nothing, with the documented error, a store that works again once the
// fault stops, and an intact file holding exactly what was acknowledged.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { assertStorageError, jsonSize, rejectsWith, totals, within } from "./helpers.mjs";
import { FS_FUNCTIONS, assertIntegrity, crashImage, faultyFs, rowCount, sqlite3, tempDir } from "./file-helpers.mjs";

const SEED = Array.from({ length: 30 }, (_, i) => [`seed-${i}`, { i, text: "s".repeat(60 + i) }]);
const BATCH = Array.from({ length: 50 }, (_, i) => [`batch-${i}`, { i, text: "b".repeat(100 + 3 * i) }]);
const BATCH_KEYS = BATCH.map(([key]) => key);
const sizeOf = (pairs) => pairs.reduce((sum, [key, value]) => sum + jsonSize(key, value), 0);
const SEED_TOTALS = { count: SEED.length, size: sizeOf(SEED) };
const FAULTS = { EIO: "IO", ENOSPC: "QUOTA_EXCEEDED" };

/**
 * A file store with the instrumented `fs`, already holding SEED. Without
 * retries, so that each fault reaches the caller (retry.test.mjs covers
 * the retries).
 */
async function seededStore(t, fs, options = {}) {
  const dir = tempDir(t, "faults");
  const file = path.join(dir, "faults.sqlite");
  const store = await within(
    openStorage({ path: file, fs, durability: "full", retry: { maxAttempts: 1 }, ...options }),
    "openStorage",
  );
  t.after(() => store.dispose());
  await store.mset(SEED);
  return { dir, file, store };
}

/** How many writeSync + fsyncSync calls one mset of BATCH makes into a seeded store. */
async function measureMset(t) {
  const { fs, control } = faultyFs();
  const { store } = await seededStore(t, fs);
  control.arm(0);
  await store.mset(BATCH);
  control.disarm();
  assert.ok(control.log.includes("fsync"), `the mset is fsynced (${control.log.join(", ")})`);
  return { calls: control.calls, log: control.log };
}

/**
 * One run: seeded store, fault at call `n` of the mset, then checks. Returns
 * what happened, for the caller's bookkeeping.
 */
async function runFault(t, n, errno, { sticky }) {
  const label = `${errno} ${sticky ? "from" : "at"} call ${n}`;
  const { fs, control } = faultyFs();
  const { dir, file, store } = await seededStore(t, fs);
  control.arm(n, errno, { sticky });
  let error;
  try {
    await within(store.mset(BATCH), `${label}: mset`);
  } catch (caught) {
    error = caught;
  }
  const fired = control.fired;
  control.disarm();

  // The README: "if any write fails, none is written" and the mset rejects.
  assert.equal(fired > 0, error !== undefined, `${label}: ${fired} fault(s) injected, mset ${error ? `rejected: ${error.message}` : "resolved"}`);
  if (error) {
    assertStorageError(error, FAULTS[errno]);
    // Nothing of the batch.
    assert.deepEqual(await store.mget(BATCH_KEYS), BATCH_KEYS.map(() => undefined), `${label}: no entry of the batch`);
    assert.deepEqual(await totals(store), SEED_TOTALS, `${label}: totals unchanged`);
  } else {
    assert.deepEqual(await store.mget(BATCH_KEYS), BATCH.map(([, value]) => value), `${label}: the whole batch`);
    assert.deepEqual(await totals(store), { count: SEED.length + BATCH.length, size: sizeOf([...SEED, ...BATCH]) });
  }
  const acknowledged = error ? SEED.length : SEED.length + BATCH.length;

  // What a crash right now would leave must match what was acknowledged.
  const image = crashImage(file, tempDir(t, "image"));

  // The same store works again.
  await store.set("after", n);
  assert.equal(await store.get("after"), n, `${label}: set and get after the fault`);
  assert.equal(await store.count(), acknowledged + 1);
  await store.dispose();

  assertIntegrity(file, label);
  assert.equal(rowCount(file), acknowledged + 1, `${label}: rows in the file`);
  const batchRows = Number(sqlite3(file, "SELECT count(*) FROM entries WHERE key LIKE 'batch-%'"));
  assert.equal(batchRows, error ? 0 : BATCH.length, `${label}: batch rows in the file`);
  realFs.rmSync(dir, { recursive: true, force: true });
  return { n, fired, error, acknowledged, image };
}

describe("a failing write or fsync during mset", () => {
  for (const errno of Object.keys(FAULTS)) {
    for (const sticky of [false, true]) {
      const mode = sticky ? "from the Nth call on" : "on the Nth call only";
      test(`${errno} ${mode}, for every N: all or nothing, ${FAULTS[errno]}, the store recovers, the file is intact`, async (t) => {
        const { calls } = await measureMset(t);
        // The commit's frames go out in one write (src/vfs/disk_file.rs), then the fsync.
        assert.ok(calls >= 2, `one mset of ${BATCH.length} entries makes a write and an fsync at least (${calls})`);
        let rejected = 0;
        for (let n = 1; n <= calls + 1; n += 1) {
          const { fired, error } = await runFault(t, n, errno, { sticky });
          if (n <= calls) assert.ok(fired > 0, `call ${n} of ${calls} was reached`);
          else assert.equal(error, undefined, `no fault at call ${n} > ${calls}: the mset succeeds`);
          if (error) {
            rejected += 1;
            assert.equal(error.retryable, errno === "EIO", "retryable");
            assert.equal(error.recoveryAction, errno === "EIO" ? "RETRY" : "FREE_SPACE", "recoveryAction");
          }
        }
        assert.ok(rejected > 0, "at least one fault made the mset fail");
      });
    }
  }

  test(
    "what a crash right after the mset leaves matches what was acknowledged, for every N",
    async (t) => {
      const { calls } = await measureMset(t);
      const wrong = [];
      for (let n = 1; n <= calls + 1; n += 1) {
        const { error, acknowledged, image } = await runFault(t, n, "EIO", { sticky: false });
        const store = await within(openStorage({ path: image }), "open the crash image");
        try {
          const present = (await store.mget(BATCH_KEYS)).filter((value) => value !== undefined).length;
          const count = await store.count();
          if (count !== acknowledged || (error ? present !== 0 : present !== BATCH.length)) {
            wrong.push(`N=${n} (${error ? "rejected" : "acknowledged"}): ${present} of the batch, count ${count}`);
          }
        } finally {
          await store.dispose();
        }
        assertIntegrity(image);
      }
      assert.deepEqual(wrong, [], `a rejected mset must leave nothing, even across a crash (${calls} calls)`);
    },
  );
});

describe("faults while opening", () => {
  /** How many writeSync + fsyncSync calls opening a new file (and its first write) makes. */
  async function measureOpen(t) {
    const { fs, control } = faultyFs();
    control.arm(0);
    const store = await openStorage({ path: path.join(tempDir(t, "open"), "m.sqlite"), fs });
    await store.set("k", 1);
    await store.dispose();
    control.disarm();
    return control.calls;
  }

  for (const [errno, code] of Object.entries(FAULTS)) {
    test(`${errno} from any write/fsync of opening a new file on (through a write and dispose)`, async (t) => {
      const calls = await measureOpen(t);
      assert.ok(calls >= 2, `opening a new file and writing to it makes several write/fsync calls (${calls})`);
      const wrongCode = [];
      const partial = [];
      for (let n = 1; n <= calls; n += 1) {
        const file = path.join(tempDir(t, "open"), "f.sqlite");
        const { fs, control } = faultyFs();
        // The fault stays on through open, a write and dispose.
        control.arm(n, errno, { sticky: true });
        const check = (what, error) => {
          if (error?.code !== code) wrongCode.push(`N=${n}, ${what}: ${error?.code} (${error?.message})`);
        };
        let store;
        try {
          store = await within(openStorage({ path: file, fs, retry: { maxAttempts: 1 } }), `open, fault ${n}`);
        } catch (error) {
          check("open", error);
        }
        let acknowledged = false;
        if (store) {
          try {
            await within(store.set("k", n), `set, fault ${n}`);
            acknowledged = true;
          } catch (error) {
            check("set", error);
          }
          try {
            await within(store.dispose(), `dispose, fault ${n}`);
          } catch (error) {
            check("dispose", error);
          }
        }
        control.disarm();
        // Whatever failed, the file is free and intact afterwards, and holds
        // what was acknowledged.
        const again = await within(openStorage({ path: file, retry: { maxAttempts: 1 } }), `reopen after fault ${n}`);
        const found = await again.get("k");
        if (acknowledged) assert.equal(found, n, `fault from call ${n}: the acknowledged set`);
        // A fault that outlives the store can leave a failed commit's frames
        // in the WAL (the fsync that failed cannot say whether they reached
        // the disk), and recovery may then find it: whole, never partial.
        else if (found !== undefined && found !== n) partial.push(`N=${n}: found ${JSON.stringify(found)}`);
        await again.set("k", "works");
        assert.equal(await again.get("k"), "works", `fault from call ${n}: the file works afterwards`);
        await again.dispose();
        assertIntegrity(file, `fault from call ${n}`);
      }

      await t.test(`every failure is ${code}`, () => assert.deepEqual(wrongCode, []));
      await t.test(
        "a rejected set is either absent or whole after reopening",
        () => assert.deepEqual(partial, []),
      );
    });
  }
});

describe("the fs option", () => {
  for (const name of FS_FUNCTIONS) {
    test(`an fs without ${name}, or with a non-function ${name}: INVALID_ARGUMENT, nothing created`, async (t) => {
      const dir = tempDir(t, "fsopt");
      const file = path.join(dir, "sub", "f.sqlite");
      const missing = { ...realFs };
      delete missing[name];
      const notAFunction = { ...realFs, [name]: "not a function" };
      for (const fs of [missing, notAFunction]) {
        for (const where of [file, ":temp:"]) {
          await rejectsWith(() => openStorage({ path: where, fs }), "INVALID_ARGUMENT", new RegExp(`\\b${name}\\b`));
        }
      }
      assert.deepEqual(realFs.readdirSync(dir), [], "nothing was created");
    });
  }

  test("a writeSync reporting no byte count (not a number, negative): IO, nothing of the write kept; one reporting more than it was given counts as whole", async (t) => {
    const file = path.join(tempDir(t, "fsopt"), "counts.sqlite");
    const asIs = (written) => written;
    let report = asIs;
    const fs = { ...realFs, writeSync: (...args) => report(realFs.writeSync(...args)) };
    const store = await openStorage({ path: file, fs, retry: { maxAttempts: 1 } });
    t.after(() => store.dispose());
    await store.set("before", 1);
    for (const odd of [String, () => undefined, () => -1]) {
      report = odd;
      await rejectsWith(() => store.set("odd", 2), "IO");
      report = asIs;
      assert.equal(await store.get("odd"), undefined, `after a count of ${odd(4096)}`);
    }
    report = (written) => written * 4;
    await store.set("over", 3);
    report = asIs;
    await store.dispose();
    const reopened = await openStorage({ path: file });
    t.after(() => reopened.dispose());
    assert.deepEqual(await reopened.mget(["before", "odd", "over"]), [1, undefined, 3]);
    assertIntegrity(file);
  });

  test("an fs that is not an object: INVALID_ARGUMENT naming the option", async (t) => {
    const file = path.join(tempDir(t, "fsopt"), "f.sqlite");
    for (const fs of [42, "node:fs", true, () => realFs]) {
      await rejectsWith(() => openStorage({ path: file, fs }), "INVALID_ARGUMENT", /\bfs\b/);
    }
    assert.equal(realFs.existsSync(file), false);
  });
});
