// Rules the facade applies ahead of the core are the core's own: each limit
// (js/values.ts) equals what the wasm `limits()` export reports, a value at
// the nesting limit is stored while one past it is refused, the facade calls
// an object plain exactly when the core stores it, and the errors
// the facade raises itself (js/errors.ts) are classified as the core's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRuntime } from "../../pkg/wasm/larder.js";
import vm from "node:vm";
import { MAX_DEPTH, isPlainObject, ownError } from "../../pkg/internals.js";
import { open, rejectsWith } from "./helpers.mjs";

/** A wasm instance of the built package, called without the facade. */
async function coreRuntime() {
  const runtime = createRuntime((error) => assert.fail(`the runtime trapped: ${error}`));
  const bytes = await readFile(new URL("../../pkg/wasm/larder_bg.wasm", import.meta.url));
  runtime.initSync({ module: new WebAssembly.Module(bytes) });
  return runtime;
}

/** `depth` arrays, one inside the other. */
const nested = (depth) => Array.from({ length: depth }).reduce((inner) => [inner], null);

test("the facade's MAX_DEPTH is the core's", async () => {
  const limits = (await coreRuntime()).limits();
  assert.deepEqual(Object.keys(limits), ["maxDepth"], "a new limit needs its JS constant checked here");
  assert.equal(MAX_DEPTH, limits.maxDepth);
});

test("MAX_DEPTH levels of nesting are stored, one more is refused, by either path", async (t) => {
  const store = await open(t);
  // A plain array takes the JSON fast path; a Uint8Array-free object with a
  // getter takes the core's encoder.
  const viaCore = (value) => ({ get inner() { return value; } });
  await store.set("deepest", nested(MAX_DEPTH));
  await store.set("deepest-core", viaCore(nested(MAX_DEPTH - 1)));
  await rejectsWith(() => store.set("too-deep", nested(MAX_DEPTH + 1)), "INVALID_VALUE", /deeper than/);
  await rejectsWith(() => store.set("too-deep-core", viaCore(nested(MAX_DEPTH))), "INVALID_VALUE", /deeper than/);
});

/** What a StorageError says of itself, but its message. */
const classification = ({ code, category, retryable, recoveryAction, userMessage }) => ({
  code,
  category,
  retryable,
  recoveryAction,
  userMessage,
});

test("the errors the facade raises itself are classified as the core classifies them", async () => {
  const runtime = await coreRuntime();
  const store = await runtime.openStore(undefined, undefined);
  const fromCore = {
    INVALID_ARGUMENT: () => runtime.openStore({ bogus: 1 }, undefined),
    INVALID_KEY: () => store.get(undefined, ""),
    INVALID_VALUE: () => store.set(undefined, "k", () => 1, undefined),
    // No file host and no OPFS here.
    UNSUPPORTED: () => runtime.openStore({ path: "data.sqlite" }, undefined),
    DISPOSED: async () => {
      await store.dispose();
      return store.get(undefined, "k");
    },
  };
  for (const [code, provoke] of Object.entries(fromCore)) {
    const error = await provoke().then(
      () => assert.fail(`${code} was not provoked`),
      (error) => error,
    );
    assert.deepEqual(classification(ownError(code, "from the facade")), classification(error), code);
  }
});

test("the facade's plain-object rule is the core's: an empty object is storable exactly when the facade calls it plain", async () => {
  const runtime = await coreRuntime();
  const store = await runtime.openStore(undefined, undefined);
  const otherRealm = (source) => vm.runInNewContext(source);
  const candidates = {
    "{}": {},
    "Object.create(null)": Object.create(null),
    "{} of another realm": otherRealm("({})"),
    "Object.create(null) of another realm": otherRealm("Object.create(null)"),
    "Object.create({})": Object.create({}),
    "a class instance": new (class Thing {})(),
    "a null-prototype class instance": Object.setPrototypeOf(new (class Thing {})(), null),
    "a class instance of another realm": otherRealm("new (class Thing {})()"),
    "a Date": new Date(0),
    "a Map": new Map(),
    "a Proxy of {}": new Proxy({}, {}),
    "an object with a constructor property": { constructor: "not a class" },
  };
  for (const [name, candidate] of Object.entries(candidates)) {
    // `set`, not `setJson`: the core's own encoder decides.
    const stored = await store.set(undefined, "k", candidate, undefined).then(
      () => true,
      (error) => (error.code === "INVALID_VALUE" ? false : Promise.reject(error)),
    );
    assert.equal(isPlainObject(candidate), stored, name);
  }
  await store.dispose();
});
