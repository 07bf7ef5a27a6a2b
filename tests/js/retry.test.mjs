// Retries of operations (README, option `retry`): a transient storage
// failure is retried with backoff, its waits timed by the store's clock, the
// operations behind it waiting in call order; a non-transient failure, an
// attempt that may have left an effect, or a wait past the operation's
// deadline is never retried.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openStorage } from "larderdb";
import { isPending, manualClock, rejectsWith, totals, within } from "./helpers.mjs";
import { assertIntegrity, faultyFs, fsError, rowCount, tempDir } from "./file-helpers.mjs";

const BATCH = Array.from({ length: 50 }, (_, i) => [`batch-${i}`, { i, text: "b".repeat(100 + 3 * i) }]);
const BATCH_KEYS = BATCH.map(([key]) => key);

/** A file store over `fs`, disposed when `t` ends. */
async function fileStore(t, fs, options = {}) {
  const file = path.join(tempDir(t, "retry"), "retry.sqlite");
  const store = await within(openStorage({ path: file, fs, durability: "full", ...options }), "openStorage");
  t.after(() => store.dispose());
  return { file, store };
}

/** Resolves once `condition()` holds; fails after `guardMs`. */
async function until(condition, what, guardMs = 5_000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > guardMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * A file of 20,000 entries of about 1 KB: bigger than SQLite's page cache
 * (16 MiB), so that after opening it the reads of the first keys go to the
 * file. Made once, copied for each test.
 */
const ENTRIES = 20_000;
const template = path.join(realFs.mkdtempSync(path.join(tmpdir(), "lt-retry-template-")), "big.sqlite");
before(async () => {
  const writer = await openStorage({ path: template, durability: "normal" });
  for (let start = 0; start < ENTRIES; start += 1_000) {
    const batch = Array.from({ length: 1_000 }, (_, i) => [key(start + i), "v".repeat(1_000)]);
    await writer.mset(batch);
  }
  await writer.dispose();
});
after(() => realFs.rmSync(path.dirname(template), { recursive: true, force: true }));

function key(i) {
  return `k-${String(i).padStart(5, "0")}`;
}

/**
 * A copy of the big file, opened over an `fs` whose `readSync` fails while
 * `control.failing`, with every failure counted and reported to
 * `control.onFailure`.
 */
async function storeWithFailingReads(t, options = {}) {
  const file = path.join(tempDir(t, "retry-read"), "read.sqlite");
  realFs.copyFileSync(template, file);
  const control = { failing: false, failures: 0, onFailure: () => {} };
  const fs = {
    ...realFs,
    readSync(...args) {
      if (control.failing) {
        control.failures += 1;
        control.onFailure();
        throw fsError("EIO", "readSync");
      }
      return realFs.readSync(...args);
    },
  };
  const store = await within(openStorage({ path: file, fs, ...options }), "reopen with failing reads");
  t.after(() => {
    control.failing = false;
    return store.dispose();
  });
  return { store, control };
}

describe("transient failures are retried", () => {
  test("an EIO at any one write or fsync of an mset is absorbed: the batch lands whole, once", async (t) => {
    const { fs, control } = faultyFs();
    const { file, store } = await fileStore(t, fs, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
    // Counted as every round below runs it: after a clear, and past the
    // first commit into a new WAL (which also syncs its directory, once).
    await store.mset(BATCH);
    await store.clear();
    control.arm(0);
    await store.mset(BATCH);
    const calls = control.calls;
    // The commit's frames go out in one write (src/vfs/disk_file.rs), then the fsync.
    assert.ok(calls >= 2, `one mset makes a write and an fsync at least (${calls})`);
    for (let n = 1; n <= calls; n += 1) {
      await store.clear();
      control.arm(n, "EIO");
      await within(store.mset(BATCH), `mset with EIO at call ${n}`);
      assert.equal(control.fired, 1, `call ${n} failed once`);
      control.disarm();
      assert.deepEqual(await store.mget(BATCH_KEYS), BATCH.map(([, value]) => value), `EIO at call ${n}`);
      assert.equal(await store.count(), BATCH.length);
    }
    await store.dispose();
    assertIntegrity(file);
    assert.equal(rowCount(file), BATCH.length);
  });

  test("a permanent read failure is tried maxAttempts times, each wait timed by the injected clock", async (t) => {
    const clock = manualClock();
    const retry = { maxAttempts: 3, baseDelayMs: 40, maxDelayMs: 40 };
    const { store, control } = await storeWithFailingReads(t, { clock, retry });
    control.failing = true;
    const read = store.get(key(0));
    const behind = store.has(key(1));
    read.catch(() => {});
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      await until(() => control.failures >= attempt, `attempt ${attempt}`);
      const failures = control.failures;
      // Real time passes, the store's clock does not: no new attempt.
      await sleep(60);
      assert.equal(control.failures, failures, `no attempt ${attempt + 1} before the clock moves`);
      if (attempt < 3) {
        assert.ok(await isPending(read), "the get waits for its retry");
        assert.ok(await isPending(behind), "an operation behind it waits in call order");
        // Every wait is under maxDelayMs: moving the clock by it is enough.
        clock.advance(retry.maxDelayMs);
      }
    }
    const error = await rejectsWith(() => read, "IO");
    assert.equal(error.retryable, true);
    assert.equal(error.recoveryAction, "RETRY");
    // The operation behind has run into the failing reads too, and waits
    // for its own retry.
    control.failing = false;
    clock.advance(retry.maxDelayMs);
    assert.equal(await within(behind, "the operation behind"), true);
    assert.equal(await store.get(key(0)), "v".repeat(1_000), "the store reads again");
  });

  test("a read that fails once succeeds on its retry", async (t) => {
    const clock = manualClock();
    const { store, control } = await storeWithFailingReads(t, { clock, retry: { maxAttempts: 2, maxDelayMs: 50 } });
    control.failing = true;
    const read = store.get(key(2));
    await until(() => control.failures > 0, "the first failure");
    control.failing = false;
    clock.advance(50);
    assert.equal(await within(read, "the retried get"), "v".repeat(1_000));
    assert.equal(control.failures, 1);
  });

  test("dispose answers an operation waiting for its retry with DISPOSED", async (t) => {
    const { store, control } = await storeWithFailingReads(t, { clock: manualClock(), retry: { maxAttempts: 3 } });
    control.failing = true;
    const read = store.get(key(0));
    const behind = store.count();
    await until(() => control.failures > 0, "the first failure");
    control.failing = false;
    await within(store.dispose(), "dispose");
    await rejectsWith(() => within(read, "the waiting get"), "DISPOSED");
    await rejectsWith(() => within(behind, "the operation behind"), "DISPOSED");
  });
});

describe("what is never retried", () => {
  test("a non-transient failure (ENOSPC: QUOTA_EXCEEDED) is reported at once", async (t) => {
    const { fs, control } = faultyFs();
    // With the clock standing still, a retry would never come: the call would hang.
    const { store } = await fileStore(t, fs, { clock: manualClock(), retry: { maxAttempts: 5 } });
    control.arm(1, "ENOSPC");
    await rejectsWith(() => within(store.set("k", "v"), "set"), "QUOTA_EXCEEDED");
    assert.equal(control.fired, 1);
    control.disarm();
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
  });

  test("a commit whose fsync failed and could not be discarded may have landed: no retry", async (t) => {
    // Every write succeeds, every fsync fails: the commit's frames are all in
    // the WAL, and the checkpoint that would discard them fails too.
    const fsyncs = { failing: false, failed: 0 };
    const fs = {
      ...realFs,
      fsyncSync(...args) {
        if (!fsyncs.failing) return realFs.fsyncSync(...args);
        fsyncs.failed += 1;
        throw fsError("EIO", "fsyncSync");
      },
    };
    // With the clock standing still, a retry would never come: the call would hang.
    const { store } = await fileStore(t, fs, { clock: manualClock(), retry: { maxAttempts: 5 } });
    await store.set("before", 1);
    fsyncs.failing = true;
    const error = await rejectsWith(() => within(store.set("k", "v"), "set"), "IO");
    assert.equal(error.retryable, true, "the caller may still retry it");
    const failed = fsyncs.failed;
    await sleep(50);
    assert.equal(fsyncs.failed, failed, "larder did not retry it");
    fsyncs.failing = false;
    assert.equal(await store.get("before"), 1);
  });

  test("no retry whose wait would end past operationTimeoutMs", async (t) => {
    const clock = manualClock();
    const { store, control } = await storeWithFailingReads(t, {
      clock,
      operationTimeoutMs: 10,
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
    });
    // Each failing read takes 20 ms of the store's time: any wait then ends
    // past the deadline, 10 ms after the call.
    control.onFailure = () => clock.advance(20);
    control.failing = true;
    await rejectsWith(() => within(store.get(key(0)), "get"), "IO");
    assert.equal(control.failures, 1, "tried once");
  });
});
