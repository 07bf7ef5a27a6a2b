// larder's wasm module failing to load in Node, and the load options: a copy
// of the built package in a temp dir, its module missing or damaged, rejects
// openStorage with LOAD_FAILED naming the file; the failure is not kept, so
// the next open, once the file is back, works. wasmUrl points Node at a
// module elsewhere (a path or a file: URL); workerUrl is checked and unused.
import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openStorage } from "larderdb";
import { ERROR_FIELDS, rejectsWith } from "./helpers.mjs";

const PKG = fileURLToPath(new URL("../../pkg/", import.meta.url));
const BUILT_WASM = join(PKG, "wasm", "larder_bg.wasm");

/** A copy of pkg/ in a temp dir, imported afresh (its own compiled-module cache). */
async function packageCopy(t) {
  const dir = mkdtempSync(join(tmpdir(), "larder-load-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(PKG, dir, { recursive: true, dereference: true });
  const larder = await import(pathToFileURL(join(dir, "node.js")).href);
  return { dir, wasm: join(dir, "wasm", "larder_bg.wasm"), larder };
}

/** The copy's StorageError (a class of its own) with LOAD_FAILED's fixed fields. */
async function rejectsLoadFailed(promise, mentions) {
  const error = await promise.then(
    () => assert.fail("openStorage resolved"),
    (caught) => caught,
  );
  assert.equal(error.name, "StorageError");
  assert.equal(error.code, "LOAD_FAILED", error.message);
  const { category, retryable, recoveryAction } = error;
  assert.deepEqual({ category, retryable, recoveryAction }, ERROR_FIELDS.LOAD_FAILED);
  for (const words of mentions) assert.ok(error.message.includes(words), `${JSON.stringify(words)} in ${error.message}`);
  return error;
}

async function roundTrip(open, options) {
  const store = await open(options);
  await store.set("k", [1, 2]);
  const value = await store.get("k");
  await store.dispose();
  return value;
}

test("a missing wasm module is LOAD_FAILED naming its path; once it is back, the next open works", async (t) => {
  const { wasm, larder } = await packageCopy(t);
  unlinkSync(wasm);
  const error = await rejectsLoadFailed(larder.openStorage(), [wasm, "could not be read", "ENOENT"]);
  assert.ok(larder.isStorageError(error));
  await rejectsLoadFailed(larder.openStorage({ path: ":memory:" }), [wasm]);
  copyFileSync(BUILT_WASM, wasm);
  assert.deepEqual(await roundTrip(larder.openStorage), [1, 2]);
});

test("a wasm module that does not compile is LOAD_FAILED naming its path, and not kept", async (t) => {
  const { wasm, larder } = await packageCopy(t);
  writeFileSync(wasm, "<!doctype html><p>not wasm</p>");
  const error = await rejectsLoadFailed(larder.openStorage(), [wasm, "could not be compiled", "CompileError"]);
  assert.ok(!error.message.includes("file:"), error.message);
  copyFileSync(BUILT_WASM, wasm);
  assert.deepEqual(await roundTrip(larder.openStorage), [1, 2]);
});

test("Node compiles the module synchronously, never with WebAssembly.compile (whose background work later stalls the thread)", async (t) => {
  const { larder } = await packageCopy(t);
  const { compile } = WebAssembly;
  let asyncCompiles = 0;
  WebAssembly.compile = (...args) => {
    asyncCompiles += 1;
    return compile(...args);
  };
  try {
    assert.deepEqual(await roundTrip(larder.openStorage), [1, 2]);
  } finally {
    WebAssembly.compile = compile;
  }
  assert.equal(asyncCompiles, 0);
});

test("wasmUrl: a path (absolute or relative to the working directory) or a file: URL", async (t) => {
  const { wasm, larder } = await packageCopy(t);
  unlinkSync(wasm);
  for (const wasmUrl of [BUILT_WASM, relative(process.cwd(), BUILT_WASM), pathToFileURL(BUILT_WASM), pathToFileURL(BUILT_WASM).href]) {
    assert.deepEqual(await roundTrip(larder.openStorage, { wasmUrl }), [1, 2], String(wasmUrl));
  }
  const dir = join(wasm, "..");
  await rejectsLoadFailed(larder.openStorage({ wasmUrl: join(dir, "elsewhere.wasm") }), [join(dir, "elsewhere.wasm")]);
});

test("workerUrl is checked, and unused in Node (every store runs on the calling thread)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "larder-load-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "store.sqlite");
  for (const workerUrl of ["/nowhere/worker.js", new URL("https://example.invalid/worker.js")]) {
    assert.deepEqual(await roundTrip(openStorage, { path, workerUrl }), [1, 2]);
  }
});

test("a second open of a file already open here joins its store whatever its load options", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "larder-load-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "store.sqlite");
  const first = await openStorage({ path });
  t.after(() => first.dispose());
  await first.set("k", "from the first");
  const second = await openStorage({ path, wasmUrl: BUILT_WASM, workerUrl: "/nowhere/worker.js" });
  assert.equal(await second.get("k"), "from the first");
  await second.dispose();
});

test("the load options' values are checked: INVALID_ARGUMENT naming the option", async () => {
  const cases = [
    [{ wasmUrl: 42 }, /option wasmUrl must be a string or a URL, got number/],
    [{ wasmUrl: null }, /option wasmUrl must be a string or a URL, got null/],
    [{ workerUrl: ["worker.js"] }, /option workerUrl must be a string or a URL, got an array/],
    [{ workerUrl: () => "worker.js" }, /option workerUrl must be a string or a URL, got function/],
    [{ wasmUrl: "https://example.invalid/larder_bg.wasm" }, /option wasmUrl must be a path or a file: URL in Node/],
    [{ wasmUrl: new URL("https://example.invalid/larder_bg.wasm") }, /option wasmUrl must be a path or a file: URL/],
    [{ wasmUrl: "file://[bad" }, /option wasmUrl is not a valid URL/],
  ];
  for (const [options, mentions] of cases) await rejectsWith(() => openStorage(options), "INVALID_ARGUMENT", mentions);
  // The core knows both names: a misspelt one is refused, listing them.
  await rejectsWith(() => openStorage({ wasmURL: "x" }), "INVALID_ARGUMENT", /unknown option "wasmURL" .*wasmUrl, workerUrl/);
});
