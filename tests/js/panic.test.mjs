// Panic containment: a Rust panic aborts the store's wasm instance (a trap).
// The caller, and every call still waiting behind it, gets INTERNAL; the
// process goes on; the store reopens itself in a fresh instance, so the
// calls that follow work, on the same data for a file store.
//
// The trigger exists only in the test-hooks build (`make test-hooks`, feature
// `test-hooks`): a `get` of PANIC_IN_CALL panics while the call is checked,
// one of PANIC_IN_OPERATION when the core runs it: at once on an idle store
// (alone, in these tests), else when the queue reaches it (behind a call).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import * as path from "node:path";
import { settleAll, totals, within } from "./helpers.mjs";
import { FIXTURES, assertIntegrity, faultyFs, rowCount, spawnNode, tempDir } from "./file-helpers.mjs";

const PANIC_IN_CALL = "larder:test-hooks:panic-in-call";
const PANIC_IN_OPERATION = "larder:test-hooks:panic-in-operation";
const { openStorage, isStorageError } = await import(
  new URL("../../target/pkg-test-hooks/node.js", import.meta.url).href
);

/** The error `promise` rejects with, checked to be this package's StorageError with `code`. */
async function rejectsWith(run, code) {
  let caught;
  await assert.rejects(run, (error) => {
    caught = error;
    return true;
  });
  assertStorageError(caught, code);
  return caught;
}

function assertStorageError(error, code) {
  assert.ok(isStorageError(error), `a StorageError, got ${error}`);
  assert.equal(error.code, code, error.message);
  return error;
}

const openFds = () => realFs.readdirSync("/proc/self/fd").length;

async function fileStore(t, options = {}) {
  const file = path.join(tempDir(t, "panic"), "panic.sqlite");
  const store = await within(openStorage({ path: file, durability: "full", ...options }), "openStorage");
  t.after(() => store.dispose());
  return { file, store };
}

describe("a panic inside an operation", () => {
  test("while traced: every call gets its answer and one trace event; the fresh instance traces too", async (t) => {
    const events = [];
    const { store } = await fileStore(t, { trace: (event) => events.push(event) });
    const results = await settleAll([store.set("c", 3), store.get(PANIC_IN_OPERATION), store.set("behind", 1)]);
    assert.deepEqual(results.map((result) => result.status), ["fulfilled", "rejected", "rejected"]);
    await rejectsWith(() => store.get(PANIC_IN_CALL), "INTERNAL");
    await store.set("after", 1);
    const brief = events.map(({ key, outcome, code }) => [key, outcome, code]);
    assert.deepEqual(brief, [
      ["c", "ok", null],
      [PANIC_IN_OPERATION, "error", "INTERNAL"],
      ["behind", "error", "INTERNAL"],
      [PANIC_IN_CALL, "error", "INTERNAL"],
      ["after", "ok", null],
    ]);
    const { groupSize, retries } = events.at(-1);
    assert.deepEqual({ groupSize, retries }, { groupSize: 1, retries: 0 });
  });

  test("the caller and the calls behind it get INTERNAL; the file store reopens with its data", async (t) => {
    const fdsBefore = openFds();
    const { file, store } = await fileStore(t);
    await store.mset([["a", 1], ["b", { nested: [1, 2] }]]);
    const before = await totals(store);
    const results = await settleAll([
      store.set("c", 3),
      store.get(PANIC_IN_OPERATION),
      store.set("behind", 1),
      store.namespace("ns").get("x"),
    ]);
    assert.equal(results[0].status, "fulfilled", "the set before the panic completed");
    for (const [index, result] of results.slice(1).entries()) {
      assert.equal(result.status, "rejected", `call ${index + 1}`);
      const error = assertStorageError(result.reason, "INTERNAL");
      assert.equal(error.recoveryAction, "REOPEN");
      assert.match(error.message, /internal error/);
    }
    // The calls that follow run on a fresh instance, on the same file.
    assert.deepEqual(await within(store.get("b"), "get after the panic"), { nested: [1, 2] });
    assert.equal(await store.get("c"), 3);
    assert.equal(await store.has("behind"), false, "a call behind the panic never ran");
    assert.deepEqual(await totals(store), { count: before.count + 1, size: before.size + 2 });
    await store.set("after", "works");
    assert.equal(await store.namespace("ns").count(), 0);
    assert.equal(store.isDisposed(), false);
    // The new instance holds the file: another process is refused.
    const refused = spawnNode(t, path.join(FIXTURES, "hold-store.mjs"), [file, "from-child", "not written"]);
    await refused.waitForLine(/^open-failed LOCKED$/, 15_000);
    await refused.waitForExit();
    await store.dispose();
    assert.equal(realFs.existsSync(`${file}.lock`), false, "dispose released the lock");
    assert.equal(openFds(), fdsBefore, "no file handle of the trapped instance is left open");
    assertIntegrity(file);
    assert.equal(rowCount(file), before.count + 2);
  });

  test("a memory store comes back working, and empty", async (t) => {
    const store = await openStorage({ path: ":memory:" });
    t.after(() => store.dispose());
    await store.set("k", 1);
    await rejectsWith(() => store.get(PANIC_IN_OPERATION), "INTERNAL");
    assert.equal(await store.get("k"), undefined);
    await store.set("k", 2);
    assert.equal(await store.get("k"), 2);
  });

  test("every panic is contained, one after another", async (t) => {
    const { store } = await fileStore(t);
    for (let round = 0; round < 5; round += 1) {
      await store.set(`round-${round}`, round);
      await rejectsWith(() => store.get(PANIC_IN_OPERATION), "INTERNAL");
    }
    assert.equal(await store.count(), 5);
  });

  test("dispose right after a panic resolves, and later calls are DISPOSED", async (t) => {
    const { file, store } = await fileStore(t);
    const panicked = store.get(PANIC_IN_OPERATION);
    panicked.catch(() => {}); // checked below; handled now, whenever it rejects
    // The queue has run the get (and trapped) by the next macrotask; the
    // store is then being reopened.
    await new Promise((resolve) => setImmediate(resolve));
    const disposed = store.dispose();
    await rejectsWith(() => panicked, "INTERNAL");
    await within(disposed, "dispose");
    assert.equal(store.isDisposed(), true);
    await rejectsWith(() => store.get("a"), "DISPOSED");
    assert.equal(realFs.existsSync(`${file}.lock`), false, "the reopened store was closed");
  });

  test("a reopening that fails (storage failing too) is tried again by the next call", async (t) => {
    const { fs, control } = faultyFs();
    const { file, store } = await fileStore(t, { fs, retry: { maxAttempts: 1 } });
    await store.set("k", "kept");
    control.arm(1, "EIO", { sticky: true });
    await rejectsWith(() => store.get(PANIC_IN_OPERATION), "INTERNAL");
    await rejectsWith(() => store.get("k"), "IO");
    control.disarm();
    assert.equal(await within(store.get("k"), "get once storage works"), "kept");
    await store.dispose();
    assert.equal(realFs.existsSync(`${file}.lock`), false);
  });

  test("breaker listeners registered before the panic still hear transitions after it", async (t) => {
    const { fs, control } = faultyFs();
    const { store } = await fileStore(t, {
      fs,
      retry: { maxAttempts: 1 },
      breaker: { failureThreshold: 1, recoveryTimeoutMs: 60_000 },
    });
    const events = [];
    store.onStateChange((state, previous) => events.push(`${previous}->${state}`));
    await rejectsWith(() => store.get(PANIC_IN_OPERATION), "INTERNAL");
    assert.equal(await store.count(), 0, "reopened");
    assert.equal(store.breakerState, "CLOSED", "a fresh instance starts CLOSED");
    control.arm(1, "EIO", { sticky: true });
    await rejectsWith(() => store.set("k", 1), "IO");
    control.disarm();
    assert.equal(store.breakerState, "OPEN");
    assert.deepEqual(events, ["CLOSED->OPEN"]);
  });
});

describe("a panic inside a call", () => {
  test("the caller gets INTERNAL and the store works after", async (t) => {
    const { store } = await fileStore(t);
    await store.set("k", "kept");
    await rejectsWith(() => store.get(PANIC_IN_CALL), "INTERNAL");
    assert.equal(await within(store.get("k"), "get after the panic"), "kept");
    await store.set("k2", 2);
    assert.equal(await store.count(), 2);
  });
});
