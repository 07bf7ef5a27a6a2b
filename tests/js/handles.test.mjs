// One store per database per process: a second openStorage on a file already
// open here returns another handle on the same store (same queue, same data)
// when its store-level options agree, INVALID_ARGUMENT naming them when they
// do not. Disposing a handle refuses only its later calls; the last one
// closes the database and releases its lock, which another process (a real
// child, tests/js/fixtures/hold-store.mjs) can then take.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { openStorage } from "larderdb";
import { LOAD_OPTIONS, STORE_LEVEL_OPTIONS } from "../../pkg/internals.js";
import { deferred, isPending, rejectsWith, settleAll, totals, within } from "./helpers.mjs";
import { FAST_RETRY, FIXTURES, assertIntegrity, spawnNode, tempDir } from "./file-helpers.mjs";

const HOLD_STORE = path.join(FIXTURES, "hold-store.mjs");

/** A fresh database file's path in a temp directory removed after `t`. */
const freshFile = (t) => path.join(tempDir(t, "handles"), "db.sqlite");

/** Opens `options.path` (or `file`) and disposes the handle after `t`. */
async function handle(t, file, options = {}) {
  const store = await openStorage({ path: file, ...options });
  t.after(() => store.dispose());
  return store;
}

/** What a child process gets when it opens `file`: "ready" or "open-failed <code>". */
async function childOpens(t, file) {
  const child = spawnNode(t, HOLD_STORE, [file, "from-child", "child value"]);
  const line = await child.waitForLine(/^(ready|open-failed) /, 15_000);
  if (line.startsWith("ready")) {
    child.send("dispose");
    await child.waitForExit();
    return "ready";
  }
  await child.waitForExit();
  return line;
}

describe("handles on one database", () => {
  test("share data, namespaces, sizes and counts", async (t) => {
    const file = freshFile(t);
    const a = await handle(t, file);
    const b = await handle(t, file);
    assert.notEqual(a, b, "each openStorage gives its own handle");
    await a.set("k", { from: "a" });
    assert.deepEqual(await b.get("k"), { from: "a" });
    await b.namespace("ns").set("n", 1);
    assert.equal(await a.namespace("ns").get("n"), 1);
    assert.deepEqual(await totals(a), await totals(b));
    assert.equal(await b.count(), 2);
    await b.delete("k");
    assert.equal(await a.has("k"), false);
    assert.equal(a.breakerState, "CLOSED");
    assert.equal(b.breakerState, "CLOSED");
  });

  test("interleaved calls from two handles run through one queue, settling in call order", async (t) => {
    const file = freshFile(t);
    const [a, b] = [await handle(t, file), await handle(t, file)];
    const settled = [];
    const calls = [];
    for (let i = 0; i < 60; i++) {
      const [store, other] = i % 2 === 0 ? [a, b] : [b, a];
      // Each handle writes, then the other reads what was just written.
      const call = i % 3 === 2 ? other.get(`k${i - 1}`) : store.set(`k${i}`, i);
      calls.push(call.then((value) => (settled.push(i), value)));
    }
    const values = await Promise.all(calls);
    assert.deepEqual(settled, [...settled].sort((x, y) => x - y), "settled in call order");
    for (let i = 2; i < 60; i += 3) assert.equal(values[i], i - 1, `the read of call ${i} saw the write before it`);
    assert.equal(await a.count(), 40);
  });

  test("paths naming the same file are one store: absolute, ./dir/f, dir/./f, dir//f, sub/.., symlinks", async (t) => {
    const dir = tempDir(t, "spellings");
    const file = path.join(dir, "f.sqlite");
    const relativeDir = path.relative(process.cwd(), dir);
    assert.ok(!path.isAbsolute(relativeDir), "a relative spelling exists");
    const first = await handle(t, `${relativeDir}/./f.sqlite`);
    await first.set("kept", "by the first");
    const linkedDir = path.join(tempDir(t, "links"), "dir");
    fs.symlinkSync(dir, linkedDir);
    fs.symlinkSync(file, path.join(dir, "link.sqlite"));
    const spellings = [
      file,
      `./${relativeDir}/f.sqlite`,
      `${relativeDir}/sub/../f.sqlite`,
      `${dir}//f.sqlite`,
      path.join(dir, "link.sqlite"),
      path.join(linkedDir, "f.sqlite"),
    ];
    for (const [i, spelling] of spellings.entries()) {
      const other = await handle(t, spelling);
      assert.equal(await other.get("kept"), "by the first", spelling);
      await other.set(`via${i}`, spelling);
    }
    assert.equal(await first.count(), 1 + spellings.length);
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.endsWith(".lock")), ["f.sqlite.lock"], "one lock");
  });

  test("a file in directories not created yet, through a symlink, is one store with its real path", async (t) => {
    const dir = tempDir(t, "later");
    const linkedDir = path.join(tempDir(t, "links"), "dir");
    fs.symlinkSync(dir, linkedDir);
    // The core creates new/deeper/ on the first open, after its key was taken.
    const first = await handle(t, path.join(linkedDir, "new", "deeper", "f.sqlite"));
    await first.set("k", "first");
    const second = await handle(t, path.join(dir, "new", "deeper", "f.sqlite"));
    assert.equal(await second.get("k"), "first");
  });

  test("concurrent opens of one free file all resolve, as handles on one store", async (t) => {
    const file = freshFile(t);
    const handles = await Promise.all(Array.from({ length: 8 }, () => openStorage({ path: file, retry: FAST_RETRY })));
    t.after(() => Promise.all(handles.map((store) => store.dispose())));
    await Promise.all(handles.map((store, i) => store.set(`k${i}`, i)));
    for (const store of handles) assert.equal(await store.count(), 8);
    assert.equal(await childOpens(t, file), "open-failed LOCKED", "the file is held, by one store");
    await Promise.all(handles.map((store) => store.dispose()));
    assert.equal(fs.existsSync(`${file}.lock`), false, "the last dispose released the lock");
  });

  test("concurrent opens over a file another process holds are all LOCKED", async (t) => {
    const file = freshFile(t);
    const holder = spawnNode(t, HOLD_STORE, [file, "k", "v"]);
    await holder.waitForLine(/^ready /, 15_000);
    const outcomes = await settleAll(Array.from({ length: 4 }, () => openStorage({ path: file, retry: FAST_RETRY })));
    for (const outcome of outcomes) assert.equal(outcome.reason?.code, "LOCKED", String(outcome.reason));
    holder.send("dispose");
    await holder.waitForExit();
    const store = await handle(t, file, { retry: FAST_RETRY });
    assert.equal(await store.get("k"), "v", "a failed open leaves nothing behind: the next one opens");
  });

  test(":memory: and :temp: are never shared", async (t) => {
    for (const where of [":memory:", ":temp:"]) {
      const a = await handle(t, where);
      const b = await handle(t, where, { maxSizeBytes: 1000 });
      await a.set("k", "a");
      assert.equal(await b.get("k"), undefined, `${where}: a separate store`);
      await a.dispose();
      assert.equal(await b.count(), 0, `${where}: disposing one leaves the other open`);
      await b.set("k", "b");
      assert.equal(await b.get("k"), "b");
    }
  });
});

describe("disposing handles", () => {
  test("a handle that is not the last: its later calls are DISPOSED, its earlier ones settle; siblings go on", async (t) => {
    const file = freshFile(t);
    const [a, b] = [await handle(t, file), await handle(t, file)];
    const earlier = [a.set("x", 1), a.get("x"), a.namespace("ns").set("y", 2)];
    const disposing = a.dispose();
    assert.equal(a.isDisposed(), true);
    assert.equal(b.isDisposed(), false);
    assert.equal(a.dispose(), disposing, "idempotent");
    const outcomes = await settleAll(earlier);
    assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "fulfilled", "fulfilled"]);
    assert.equal(outcomes[1].value, 1);
    await within(disposing, "dispose of a handle that is not the last");
    await rejectsWith(() => a.get("x"), "DISPOSED", /handle/);
    await rejectsWith(() => a.namespace("ns").get("y"), "DISPOSED");
    await rejectsWith(() => a.getOrSet("z", () => 3), "DISPOSED");
    assert.equal(await b.get("x"), 1);
    assert.equal(await b.namespace("ns").get("y"), 2);
    assert.equal(await childOpens(t, file), "open-failed LOCKED", "the sibling still holds the file");
  });

  test("the last handle: its queued calls are DISPOSED, the file closes, the lock is released", async (t) => {
    const file = freshFile(t);
    const [a, b] = [await handle(t, file), await handle(t, file)];
    await a.set("written", "before");
    await a.dispose();
    const queued = Array.from({ length: 20 }, (_, i) => b.set(`q${i}`, i));
    const last = b.dispose();
    const outcomes = await settleAll(queued);
    assert.ok(outcomes.some((o) => o.status === "rejected"), "calls still queued are rejected");
    for (const o of outcomes.filter((o) => o.status === "rejected")) assert.equal(o.reason.code, "DISPOSED");
    await last;
    assert.equal(fs.existsSync(`${file}.lock`), false, "lock released");
    assertIntegrity(file);
    assert.equal(await childOpens(t, file), "ready", "another process can open it");
    const again = await handle(t, file, { retry: FAST_RETRY });
    assert.equal(await again.get("written"), "before", "a new openStorage opens it afresh, with the data");
    assert.equal(await again.get("from-child"), "child value");
  });

  test("an open right after the last dispose (not awaited) opens the database afresh, not LOCKED", async (t) => {
    const file = freshFile(t);
    const a = await openStorage({ path: file });
    await a.set("k", 1);
    // A long write running when dispose() is called keeps the file open a while.
    const entries = Array.from({ length: 10_000 }, (_, i) => [`bulk${i}`, { i, text: "x".repeat(100) }]);
    const running = a.mset(entries);
    await new Promise((resolve) => setImmediate(resolve));
    const closing = a.dispose();
    const b = await handle(t, file, { retry: { maxAttempts: 1 } });
    await Promise.all([running, closing]);
    assert.equal(await b.get("k"), 1);
    assert.equal(await b.count(), 10_001, "the write running at dispose() finished first");
    assert.equal(await childOpens(t, file), "open-failed LOCKED", "the new store holds the file");
  });

  test("getOrSet waiters: a disposed sibling's still get their value; the last handle's get DISPOSED", async (t) => {
    const file = freshFile(t);
    const [a, b] = [await handle(t, file), await handle(t, file)];
    const loaded = deferred();
    const fromA = a.getOrSet("g", () => loaded.promise);
    const fromB = b.getOrSet("g", () => "never called: a's flight loads it");
    await new Promise((resolve) => setTimeout(resolve, 20));
    await a.dispose();
    assert.equal(await isPending(fromA), true, "a's waiter waits for its loader");
    loaded.resolve("loaded");
    assert.deepEqual(await settleAll([fromA, fromB]).then((o) => o.map((r) => r.value)), ["loaded", "loaded"]);
    const neverSettles = b.getOrSet("h", () => new Promise(() => {}));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await b.dispose();
    const [outcome] = await settleAll([neverSettles]);
    assert.equal(outcome.reason?.code, "DISPOSED", "the last handle's waiter is rejected");
  });

  test("each handle's onStateChange listeners stop with its dispose", async (t) => {
    const file = freshFile(t);
    const [a, b] = [await handle(t, file), await handle(t, file)];
    const heard = { a: [], b: [] };
    a.onStateChange((state) => heard.a.push(state));
    b.onStateChange((state) => heard.b.push(state));
    await a.dispose();
    await b.set("k", 1);
    assert.deepEqual(heard, { a: [], b: [] });
    assert.equal(b.breakerState, "CLOSED");
  });

  test("await using disposes each handle at the end of its block", async (t) => {
    const file = freshFile(t);
    const source = `export async function run(open, seen) {
      await using outer = await open();
      {
        await using inner = await open();
        await inner.set("k", "v");
        seen.push(inner);
      }
      seen.push(outer);
      return outer.get("k");
    }`;
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    });
    const { run } = await import(`data:text/javascript,${encodeURIComponent(outputText)}`);
    const seen = [];
    assert.equal(await run(() => openStorage({ path: file }), seen), "v", "the outer handle still reads");
    const [inner, outer] = seen;
    assert.equal(inner.isDisposed(), true);
    assert.equal(outer.isDisposed(), true);
    assert.equal(fs.existsSync(`${file}.lock`), false, "the last handle's end closed the database");
  });
});

describe("store-level options", () => {
  test("every option of openStorage but path and the load options is compared: the list matches js/types.ts and the core's", () => {
    const source = (file) => fs.readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
    const declared = source("js/types.ts").match(/export interface StorageOptions \{([^}]*)\}/)[1];
    const typed = [...declared.matchAll(/^\s*(\w+)\?:/gm)].map(([, name]) => name);
    const core = source("core/src/options.rs").match(/pub const OPTION_NAMES[^=]*= \[([^\]]*)\]/)[1];
    const known = [...core.matchAll(/"(\w+)"/g)].map(([, name]) => name);
    const compared = ["path", ...LOAD_OPTIONS, ...STORE_LEVEL_OPTIONS].sort();
    assert.deepEqual(compared, [...typed].sort(), "js/types.ts StorageOptions");
    assert.deepEqual(compared, [...known].sort(), "core/src/options.rs OPTION_NAMES");
  });

  test("a second open must give the same ones: INVALID_ARGUMENT names every difference", async (t) => {
    const file = freshFile(t);
    const clock = () => Date.now();
    const first = await handle(t, file, { maxSizeBytes: 1000, breaker: { failureThreshold: 3 }, clock });
    await first.set("k", 1);
    const error = await rejectsWith(
      () => openStorage({ path: file, maxSizeBytes: 2000, breaker: { failureThreshold: 3 }, clock }),
      "INVALID_ARGUMENT",
    );
    assert.match(error.message, /already open in this process .*with maxSizeBytes 1000; this call asks for maxSizeBytes 2000/);
    const several = await rejectsWith(
      () => openStorage({ path: file, breaker: { failureThreshold: 4 }, clock: () => 0, durability: "normal" }),
      "INVALID_ARGUMENT",
    );
    for (const name of ["maxSizeBytes 1000", "maxSizeBytes \\(not given\\)", "durability \\(not given\\)",
      'durability "normal"', "breaker \\{ failureThreshold: 3 \\}", "breaker \\{ failureThreshold: 4 \\}",
      "clock \\(a function\\)", "clock \\(another function\\)"]) {
      assert.match(several.message, new RegExp(name), name);
    }
    assert.doesNotMatch(several.message, /retry/, "only the options that differ are named");
    // Equal values agree, nested objects field by field, undefined as omitted.
    const second = await handle(t, file, {
      maxSizeBytes: 1000, breaker: { failureThreshold: 3, recoveryTimeoutMs: undefined }, clock, retry: undefined,
    });
    assert.equal(await second.get("k"), 1);
    assert.equal(await first.get("k"), 1, "the refused opens changed nothing");
  });

  test("omitting an option the first open gave disagrees, and so does giving one it omitted", async (t) => {
    const file = freshFile(t);
    await handle(t, file, { operationTimeoutMs: 5000 });
    await rejectsWith(() => openStorage({ path: file }), "INVALID_ARGUMENT", /operationTimeoutMs 5000; this call asks for operationTimeoutMs \(not given\)/);
    await rejectsWith(() => openStorage({ path: file, operationTimeoutMs: 5000, fs }), "INVALID_ARGUMENT", /fs \(not given\); this call asks for fs \(another object\)/);
  });

  test("a second open's invalid options are refused by name, like a first one's", async (t) => {
    const file = freshFile(t);
    await handle(t, file);
    await rejectsWith(() => openStorage({ path: file, maxSizeBytes: -1 }), "INVALID_ARGUMENT", /maxSizeBytes/);
    await rejectsWith(() => openStorage({ path: file, colour: "blue" }), "INVALID_ARGUMENT", /colour/);
  });
});

describe("failures every handle shares", () => {
  test("a lock taken over while the process was frozen: every handle gets LOCKED", async (t) => {
    const file = freshFile(t);
    const [a, b] = [await handle(t, file), await handle(t, file)];
    await a.set("before", 1);
    const record = fs.readFileSync(`${file}.lock`, "latin1");
    fs.writeFileSync(`${file}.lock`, record.replace(/^token .*$/m, "token someone-else"), "latin1");
    const frozenUntil = Date.now() + 5_100; // js/ownership.ts checks once the heartbeat is 5 s late
    while (Date.now() < frozenUntil); // blocks the event loop: no heartbeat runs
    await rejectsWith(() => a.set("after", 2), "LOCKED", /no longer this store's/);
    await rejectsWith(() => b.get("before"), "LOCKED", /no longer this store's/);
    await rejectsWith(() => b.namespace("ns").set("x", 1), "LOCKED");
  });
});

// The panic trigger exists only in the test-hooks build (tests/js/panic.test.mjs).
const hooks = () => import(new URL("../../target/pkg-test-hooks/node.js", import.meta.url).href);
const PANIC = "larder:test-hooks:panic-in-operation";

test("after a trap the store reopens, and every handle keeps working on it", async (t) => {
  const { openStorage: hooksOpen } = await hooks();
  const file = freshFile(t);
  const open = async () => {
    const store = await hooksOpen({ path: file });
    t.after(() => store.dispose());
    return store;
  };
  const [a, b] = [await open(), await open()];
  await a.set("kept", 1);
  // The panicking get waits behind a call (alone, an idle store would run it at once).
  const [, panicked, behind] = await settleAll([a.has("kept"), a.get(PANIC), b.set("behind", 2)]);
  assert.equal(panicked.reason?.code, "INTERNAL");
  assert.equal(behind.reason?.code, "INTERNAL", "the sibling's call behind the panic is failed too");
  assert.equal(await within(b.get("kept"), "a sibling's call after the trap"), 1);
  await a.set("after", 3);
  assert.deepEqual(await b.mget(["kept", "behind", "after"]), [1, undefined, 3]);
  assert.equal(await childOpens(t, file), "open-failed LOCKED", "the reopened store holds the file");
  await a.dispose();
  await b.dispose();
  assert.equal(fs.existsSync(`${file}.lock`), false);
});
