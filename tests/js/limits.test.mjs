// The limits the facade checks ahead of the core (js/values.ts) are the
// core's own: each constant equals what the wasm `limits()` export reports,
// and a value at the nesting limit is stored while one past it is refused.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRuntime } from "../../pkg/wasm/larder.js";
import { MAX_DEPTH } from "../../pkg/values.js";
import { open, rejectsWith } from "./helpers.mjs";

async function coreLimits() {
  const runtime = createRuntime((error) => assert.fail(`the runtime trapped: ${error}`));
  const bytes = await readFile(new URL("../../pkg/wasm/larder_bg.wasm", import.meta.url));
  runtime.initSync({ module: new WebAssembly.Module(bytes) });
  return runtime.limits();
}

/** `depth` arrays, one inside the other. */
const nested = (depth) => Array.from({ length: depth }).reduce((inner) => [inner], null);

test("the facade's MAX_DEPTH is the core's", async () => {
  const limits = await coreLimits();
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
