// Shared helpers for the larder Node suite. Not a test file itself (node --test
// only picks up *.test.mjs).

import assert from "node:assert/strict";
import { openStorage, StorageError, isStorageError } from "larderdb";

/** The fixed fields of every error code (README, "Errors"). */
export const ERROR_FIELDS = {
  INVALID_ARGUMENT: { category: "VALIDATION", retryable: false, recoveryAction: "FIX_INPUT" },
  INVALID_KEY: { category: "VALIDATION", retryable: false, recoveryAction: "FIX_INPUT" },
  INVALID_VALUE: { category: "VALIDATION", retryable: false, recoveryAction: "FIX_INPUT" },
  VALUE_TOO_LARGE: { category: "CAPACITY", retryable: false, recoveryAction: "FIX_INPUT" },
  BATCH_TOO_LARGE: { category: "CAPACITY", retryable: false, recoveryAction: "FIX_INPUT" },
  QUEUE_FULL: { category: "CAPACITY", retryable: true, recoveryAction: "WAIT" },
  DISPOSED: { category: "LIFECYCLE", retryable: false, recoveryAction: "REOPEN" },
  TIMEOUT: { category: "TIMEOUT", retryable: true, recoveryAction: "RETRY" },
  UNSUPPORTED: { category: "LIFECYCLE", retryable: false, recoveryAction: "NONE" },
  LOAD_FAILED: { category: "LIFECYCLE", retryable: true, recoveryAction: "RETRY" },
  QUOTA_EXCEEDED: { category: "CAPACITY", retryable: false, recoveryAction: "FREE_SPACE" },
  CIRCUIT_OPEN: { category: "CONCURRENCY", retryable: true, recoveryAction: "WAIT" },
  LOCKED: { category: "CONCURRENCY", retryable: true, recoveryAction: "WAIT" },
  BUSY: { category: "CONCURRENCY", retryable: true, recoveryAction: "RETRY" },
  IO: { category: "STORAGE", retryable: true, recoveryAction: "RETRY" },
  CORRUPT: { category: "CORRUPTION", retryable: false, recoveryAction: "RESET_DATABASE" },
  INCOMPATIBLE_SCHEMA: { category: "CORRUPTION", retryable: false, recoveryAction: "NONE" },
  INTERNAL: { category: "INTERNAL", retryable: false, recoveryAction: "REOPEN" },
};

/**
 * Asserts that `error` is a StorageError with `code` and that code's fixed
 * fields. `mentions` (a RegExp) is matched against `message` when given.
 */
export function assertStorageError(error, code, mentions) {
  assert.ok(error instanceof StorageError, `expected a StorageError, got ${error}`);
  assert.ok(error instanceof Error, "a StorageError is an Error");
  assert.equal(isStorageError(error), true);
  assert.equal(error.code, code, `code (message: ${error.message})`);
  const expected = ERROR_FIELDS[code];
  assert.ok(expected, `no expected fields for ${code}`);
  assert.equal(error.category, expected.category, `${code} category`);
  assert.equal(error.retryable, expected.retryable, `${code} retryable`);
  assert.equal(error.recoveryAction, expected.recoveryAction, `${code} recoveryAction`);
  assert.equal(typeof error.userMessage, "string");
  assert.ok(error.userMessage.trim().length > 0, "userMessage is not empty");
  assert.equal(typeof error.message, "string");
  if (mentions) assert.match(error.message, mentions);
  return error;
}

/**
 * Calls `run` (which must not throw synchronously), asserts it returned a
 * promise, and that the promise rejects with a StorageError of `code`.
 */
export async function rejectsWith(run, code, mentions) {
  let promise;
  assert.doesNotThrow(() => {
    promise = run();
  }, "must report failures by rejecting, never by throwing");
  assert.ok(promise instanceof Promise, "every call returns a promise");
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  return assertStorageError(caught, code, mentions);
}

/** Opens an in-memory store that is disposed when the test `t` ends. */
export async function open(t, options = {}) {
  const store = await openStorage({ path: ":memory:", ...options });
  t.after(() => store.dispose());
  return store;
}

/**
 * A controllable `clock` option: returns `now`, then moves it by `step`
 * (0 by default, so time passes only through `advance`).
 */
export function manualClock(start = 1_000_000, step = 0) {
  const clock = () => {
    const now = clock.now;
    clock.now += clock.step;
    return now;
  };
  clock.now = start;
  clock.step = step;
  clock.advance = (ms) => {
    clock.now += ms;
  };
  return clock;
}

/**
 * Promise.allSettled that fails instead of hanging when a promise never
 * settles (a real-time guard, not a way of making store time pass).
 */
export async function settleAll(promises, guardMs = 5_000) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`some of ${promises.length} promises were still pending after ${guardMs} ms`)),
      guardMs,
    );
  });
  try {
    return await Promise.race([Promise.allSettled(promises), guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** UTF-8 byte length of a string. */
export const utf8 = (text) => Buffer.byteLength(text, "utf8");

/** The default size the README defines for a JSON value: key bytes + JSON text bytes. */
export const jsonSize = (key, value) => utf8(key) + utf8(JSON.stringify(value));

/** Compares two strings by their UTF-8 bytes (the order `keys()` returns). */
export const byUtf8 = (a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** count() and getCurrentCacheSize() together, to check both at once. */
export async function totals(store) {
  return { count: await store.count(), size: await store.getCurrentCacheSize() };
}

/** A promise together with the functions that settle it. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Settles as `promise` does, or rejects if it is still pending after
 * `guardMs` of real time (a guard against hanging, never a way of making
 * store time pass).
 */
export async function within(promise, what = "the promise", guardMs = 5_000) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was still pending after ${guardMs} ms`)), guardMs);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `promise` is still pending once every microtask queued so far (and
 * any they queue) has run: checked on the next macrotask.
 */
export async function isPending(promise) {
  const settled = Symbol("settled");
  const pending = Symbol("pending");
  const outcome = await Promise.race([
    promise.then(
      () => settled,
      () => settled,
    ),
    new Promise((resolve) => setImmediate(() => resolve(pending))),
  ]);
  return outcome === pending;
}

export { seededRandom } from "./seeded-random.mjs";

/**
 * Runs a model-based test: `steps` times, generates an operation, applies it
 * to the store and the model, and checks them; a mismatch fails with the step
 * number and the operation.
 */
export async function runModelSteps(steps, { generate, apply, check, describe }) {
  for (let step = 0; step < steps; step += 1) {
    const op = generate();
    try {
      await apply(op);
      await check();
    } catch (error) {
      assert.fail(`step ${step}: ${describe(op)}: ${error.message}`);
    }
  }
}

/** A backstop for whole suites (`describe(name, { timeout })`): nothing can hang the run. */
export const SUITE_TIMEOUT_MS = 60_000;
