// Runs in a page (imported by persistence.mjs through page.evaluate): checks
// of worker stores — what crosses the worker boundary and what comes back,
// getOrSet on the calling thread, dispose, and a worker that stops or fails.
// `run()` resolves with [{ name, ok, detail }]; every wait is bounded.
import { openStorage, StorageError, isStorageError } from "/pkg/browser.js";
import { RemoteStore, storageOpener } from "/pkg/browser-internals.js";

const BOUND_MS = 5_000; // the longest any single call may take to settle here
const FIELDS = ["code", "category", "retryable", "recoveryAction", "userMessage", "message", "sqliteCode"];

let results;

/** The pool directories larder keeps under `.larder/` in this origin's OPFS. */
async function larderPools() {
  const root = await navigator.storage.getDirectory();
  try {
    const names = [];
    for await (const name of (await root.getDirectoryHandle(".larder")).keys()) names.push(name);
    return names;
  } catch {
    return [];
  }
}

function check(name, ok, detail = "") {
  results.push({ name, ok: Boolean(ok), detail: ok ? "" : String(detail) });
  return Boolean(ok);
}

/** Runs `call` and reports how it settled: never a synchronous throw, never still pending after BOUND_MS. */
async function settle(call, boundMs = BOUND_MS) {
  let promise;
  try {
    promise = call();
  } catch (error) {
    return { status: "threw synchronously", reason: error };
  }
  if (!(promise instanceof Promise)) return { status: "returned no promise", value: promise };
  let timer;
  const pending = new Promise((resolve) => (timer = setTimeout(() => resolve({ status: "pending" }), boundMs)));
  const settled = promise.then(
    (value) => ({ status: "fulfilled", value }),
    (reason) => ({ status: "rejected", reason }),
  );
  return Promise.race([settled, pending]).finally(() => clearTimeout(timer));
}

/** A short description of an outcome, for details. */
function show(outcome) {
  if (outcome.status === "fulfilled") return `fulfilled ${format(outcome.value)}`;
  if (outcome.status === "rejected") {
    const { reason } = outcome;
    return `rejected ${isStorageError(reason) ? `${reason.code}: ${reason.message}` : String(reason)}`;
  }
  return outcome.status;
}

function format(value) {
  if (value === undefined) return "undefined";
  if (value instanceof Uint8Array) return `Uint8Array[${value}]`;
  if (Object.is(value, -0)) return "-0";
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Deep equality of stored values: JSON data and Uint8Array, -0 told apart from 0. */
function same(a, b) {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return Object.is(a, b);
}

function rejectedWith(outcome, code) {
  return outcome.status === "rejected" && isStorageError(outcome.reason) && outcome.reason.code === code;
}

/** A loader whose result the check settles by hand. */
function manualLoader() {
  let resolveResult;
  let rejectResult;
  const result = new Promise((resolve, reject) => ((resolveResult = resolve), (rejectResult = reject)));
  const loader = (key) => {
    loader.calls += 1;
    loader.keys.push(key);
    loader.onMainThread = typeof document !== "undefined";
    return result;
  };
  return Object.assign(loader, { calls: 0, keys: [], resolve: resolveResult, reject: rejectResult });
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

class Point {
  constructor() {
    this.x = 1;
  }
}

// ---- the same calls on a main-thread store and a worker store -----------------

/** Calls whose outcome must be the same on both kinds of store: [label, call]. */
function differentialCalls() {
  const cycle = {};
  cycle.self = cycle;
  return [
    ["set an object", (s) => s.set("a", { x: 1, list: [1, "two", null, true], nested: { deep: [[]] } })],
    ["get it", (s) => s.get("a")],
    ["set a Uint8Array", (s) => s.set("bytes", new Uint8Array([1, 2, 255]))],
    ["get the bytes", (s) => s.get("bytes")],
    ["set a Uint8Array view into a larger buffer", (s) => s.set("view", new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4))],
    ["get the view's bytes only", (s) => s.get("view")],
    ["set 1 MiB of bytes", (s) => s.set("big", new Uint8Array(1 << 20).map((_, i) => i % 251))],
    ["get 1 MiB of bytes", (s) => s.get("big")],
    ["delete them", (s) => s.mdelete(["view", "big"])],
    ["set -0", (s) => s.set("zero", -0)],
    ["get -0 back as 0", (s) => s.get("zero")],
    ["set __proto__ and constructor keys", (s) => s.set("proto", JSON.parse('{"__proto__": 1, "constructor": {"x": 2}}'))],
    ["get them as own data", (s) => s.get("proto").then((v) => [Object.keys(v), v.__proto__ === 1, Object.getPrototypeOf(v) === Object.prototype])],
    ["has", (s) => s.has("a")],
    ["has a missing key", (s) => s.has("missing")],
    ["get a missing key", (s) => s.get("missing")],
    ["mget", (s) => s.mget(["a", "missing", "bytes"])],
    ["mset a Map", (s) => s.mset(new Map([["m1", 1], ["m2", [2]]]))],
    ["mset pairs with ttlMs", (s) => s.mset([["p1", "one"]], { ttlMs: 60_000 })],
    ["mset a plain object", (s) => s.mset({ o1: { deep: { er: true } }, o2: "two" })],
    ["keys", (s) => s.keys()],
    ["keys with prefix", (s) => s.keys({ prefix: "m" })],
    ["keys with limit and after", (s) => s.keys({ prefix: "", limit: 2, after: "a" })],
    ["count", (s) => s.count()],
    ["getCurrentCacheSize", (s) => s.getCurrentCacheSize()],
    ["delete", (s) => s.delete("m1")],
    ["delete again", (s) => s.delete("m1")],
    ["mdelete", (s) => s.mdelete(["m2", "p1", "nope"])],
    ["invalidate", (s) => s.invalidate({ prefix: "o" })],
    ["set with ttlMs and size", (s) => s.set("ttl", 1, { ttlMs: 60_000, size: 50 })],
    ["purgeExpired", (s) => s.purgeExpired()],
    ["namespace set", (s) => s.namespace("n1").set("a", "in n1")],
    ["namespace get", (s) => s.namespace("n1").get("a")],
    ["root get after namespace set", (s) => s.get("a")],
    ["namespace count", (s) => s.namespace("n1").count()],
    ["namespace keys", (s) => s.namespace("n1").keys()],
    ["whole-store count", (s) => s.count()],
    ["getOrSet miss", (s) => s.getOrSet("g", () => ({ loaded: 1 }))],
    ["getOrSet hit", (s) => s.getOrSet("g", () => "again")],
    ["getOrSet miss of -0", (s) => s.getOrSet("g0", () => -0)],
    ["getOrSet with ttlMs in a namespace", (s) => s.namespace("n1").getOrSet("g", async () => [1], { ttlMs: 60_000 })],
    // Refusals: the same code, whoever refuses.
    ["set an empty key", (s) => s.set("", 1)],
    ["set a number key", (s) => s.set(42, 1)],
    ["set a symbol key", (s) => s.set(Symbol("k"), 1)],
    ["get a function key", (s) => s.get(() => 1)],
    ["set undefined", (s) => s.set("k", undefined)],
    ["set NaN", (s) => s.set("k", NaN)],
    ["set a BigInt", (s) => s.set("k", 10n)],
    ["set an array with holes", (s) => s.set("k", [1, , 3])], // eslint-disable-line no-sparse-arrays
    ["set a Date inside", (s) => s.set("k", { d: new Date(0) })],
    ["set a Map", (s) => s.set("k", new Map())],
    ["set a nested Uint8Array", (s) => s.set("k", { b: new Uint8Array(1) })],
    ["set a cycle", (s) => s.set("k", cycle)],
    ["set a class instance", (s) => s.set("k", new Point())],
    ["set a class instance deep inside", (s) => s.set("k", { a: [{ b: new Point() }] })],
    ["set an object with a symbol key", (s) => s.set("k", { [Symbol("s")]: 1 })],
    ["set a function", (s) => s.set("k", () => 1)],
    ["set an object with a method", (s) => s.set("k", { f() {} })],
    ["set an object whose getter throws", (s) => s.set("k", { get boom() { throw new Error("boom"); } })],
    ["set with ttlMs 0", (s) => s.set("k", 1, { ttlMs: 0 })],
    ["set with a symbol ttlMs", (s) => s.set("k", 1, { ttlMs: Symbol("t") })],
    ["set with options of a class", (s) => s.set("k", 1, new (class SetOptions { ttlMs = 5; })())],
    ["set with an unknown option", (s) => s.set("k", 1, { bogus: 1 })],
    ["mset with a class instance value", (s) => s.mset([["ok1", 1], ["bad", new Point()]])],
    ["mset with a function value", (s) => s.mset([["ok1", 1], ["bad", () => 1]])],
    ["mset a Map with a symbol key", (s) => s.mset(new Map([[Symbol("k"), 1]]))],
    ["mset a Map with a class instance value", (s) => s.mset(new Map([["ok1", 1], ["bad", new Point()]]))],
    ["mset entries of a class", (s) => s.mset(new (class Entries { a = 1; })())],
    ["mset a function", (s) => s.mset(() => 1)],
    ["mset a one-element pair", (s) => s.mset([["a"]])],
    ["mget a function key", (s) => s.mget([() => 1])],
    ["mget a function", (s) => s.mget(() => 1)],
    ["mget a string", (s) => s.mget("a")],
    ["mdelete a symbol key", (s) => s.mdelete([Symbol("k")])],
    ["keys with limit 0", (s) => s.keys({ limit: 0 })],
    ["invalidate without prefix", (s) => s.invalidate({})],
    ["namespace with an empty name", (s) => s.namespace("").get("a")],
    ["namespace with a symbol name", (s) => s.namespace(Symbol("n")).get("a")],
    ["getOrSet with a non-function loader", (s) => s.getOrSet("k", "not a function")],
    ["getOrSet with a symbol loader", (s) => s.getOrSet("k", Symbol("l"))],
    ["getOrSet with an empty key", (s) => s.getOrSet("", () => 1)],
    ["getOrSet with ttlMs -1 (hit)", (s) => s.getOrSet("g", () => 1, { ttlMs: -1 })],
    ["getOrSet with a size option", (s) => s.getOrSet("new", () => 1, { size: 1 })],
    ["getOrSet loading a class instance", (s) => s.getOrSet("k2", () => new Point())],
    ["getOrSet loading a Date", (s) => s.getOrSet("k3", () => new Date())],
    ["getOrSet loading a function", (s) => s.getOrSet("k4", () => () => 1)],
    // Nothing refused was written.
    ["keys at the end", (s) => s.keys()],
    ["count at the end", (s) => s.count()],
    ["size at the end", (s) => s.getCurrentCacheSize()],
    ["clear", (s) => s.clear()],
    ["count after clear", (s) => s.count()],
  ];
}

async function differential(memory, worker) {
  for (const [label, call] of differentialCalls()) {
    const [here, there] = [await settle(() => call(memory)), await settle(() => call(worker))];
    const name = `same outcome in both stores: ${label}`;
    if (here.status !== there.status) {
      check(name, false, `main thread ${show(here)}; worker ${show(there)}`);
    } else if (here.status === "fulfilled") {
      check(name, same(here.value, there.value), `main thread ${show(here)}; worker ${show(there)}`);
    } else if (here.status === "rejected") {
      const differing = FIELDS.filter((f) => f !== "message" && here.reason?.[f] !== there.reason?.[f]);
      check(
        name,
        isStorageError(there.reason) && differing.length === 0,
        `main thread ${show(here)}; worker ${show(there)}${differing.length ? ` (differ in ${differing.join(", ")})` : ""}`,
      );
    } else {
      check(name, false, `both ${here.status}`);
    }
  }
}

// ---- sections -----------------------------------------------------------------

async function errorsKeepTheirFields() {
  const memory = await openStorage();
  const worker = await openStorage({ path: ":temp:" });
  try {
    check("a worker store reports its breaker state like a main-thread one",
      worker.breakerState === "CLOSED" && memory.breakerState === "CLOSED", `${worker.breakerState} / ${memory.breakerState}`);
    const subscription = worker.onStateChange(() => {});
    check("... and onStateChange gives a disposable subscription", typeof subscription?.dispose === "function");
    subscription.dispose();
    const fromWorker = await settle(() => worker.get(""));
    const fromCore = await settle(() => memory.get(""));
    const error = fromWorker.reason;
    check("a worker store's INVALID_KEY is a StorageError (instanceof, isStorageError, Error)",
      error instanceof StorageError && isStorageError(error) && error instanceof Error && error.name === "StorageError",
      show(fromWorker));
    check("it keeps category VALIDATION, recoveryAction FIX_INPUT, retryable false",
      error?.category === "VALIDATION" && error?.recoveryAction === "FIX_INPUT" && error?.retryable === false,
      FIELDS.map((f) => `${f}=${error?.[f]}`).join(" "));
    const differing = FIELDS.filter((f) => error?.[f] !== fromCore.reason?.[f]);
    check("it has every field equal to the main-thread store's, message included", differing.length === 0,
      `differ in ${differing.join(", ")}`);

    // The codes this side raises itself carry the core's fields.
    const ownVsCore = [
      ["INVALID_VALUE (a class instance)", (s) => s.set("k", new Point()), true],
      ["INVALID_VALUE (a symbol-keyed property)", (s) => s.set("k", { [Symbol("s")]: 1 }), true],
      ["INVALID_KEY (a function key)", (s) => s.get(() => 1), false],
      ["INVALID_ARGUMENT (options of a class)", (s) => s.keys(new (class KeysOptions {})()), false],
    ];
    for (const [label, call, sameMessage] of ownVsCore) {
      const [here, there] = [await settle(() => call(memory)), await settle(() => call(worker))];
      const fields = FIELDS.filter((f) => sameMessage || f !== "message");
      const off = fields.filter((f) => here.reason?.[f] !== there.reason?.[f]);
      check(`raised before posting, ${label} has the core's ${sameMessage ? "fields and message" : "fields"}`,
        here.status === "rejected" && off.length === 0, `${show(here)} vs ${show(there)}; differ in ${off.join(", ")}`);
    }

    // A Proxy cannot be cloned to the worker, but a Proxy of a plain object
    // is plainly storable: the facade sends its JSON text, as the main-thread
    // store stores it.
    const proxied = await Promise.all([memory, worker].map((s) => settle(() => s.set("p", new Proxy({ a: 1 }, {})))));
    const readBack = await Promise.all([memory, worker].map((s) => settle(() => s.get("p"))));
    check("a Proxy of a plain object is stored as its data, by both stores",
      proxied.every((r) => r.status === "fulfilled") && readBack.every((r) => r.value?.a === 1),
      `${proxied.map(show).join(" / ")}; read back ${readBack.map(show).join(" / ")}`);

    await differential(memory, worker);
  } finally {
    await Promise.all([memory.dispose(), worker.dispose()]);
  }
}

async function options() {
  let clock = 1_000;
  const memory = await settle(() => openStorage({ clock: () => clock }));
  if (check("a \":memory:\" store still takes a clock function (it runs on this thread)", memory.status === "fulfilled", show(memory))) {
    const store = memory.value;
    await store.set("t", 1, { ttlMs: 10 });
    clock += 11;
    const expired = await settle(() => store.get("t"));
    check("... and its TTL follows that clock", expired.status === "fulfilled" && expired.value === undefined, show(expired));
    await store.dispose();
  }
  for (const path of ["clock-store", ":temp:"]) {
    const refused = await settle(() => openStorage({ path, clock: () => clock }));
    check(`clock with path ${JSON.stringify(path)} → INVALID_ARGUMENT naming ":memory:"`,
      rejectedWith(refused, "INVALID_ARGUMENT") && refused.reason.message.includes('":memory:"'), show(refused));
  }
  const invalid = [
    ["maxSizeBytes -1 (refused by the core in the worker)", { path: ":temp:", maxSizeBytes: -1 }, "INVALID_ARGUMENT"],
    ["an unknown option", { path: ":temp:", bogus: true }, "INVALID_ARGUMENT"],
    ["options of a class", new (class Options { path = ":temp:"; })(), "INVALID_ARGUMENT"],
    ["a breaker of a class", { path: ":temp:", breaker: new (class Breaker { failureThreshold = 2; })() }, "INVALID_ARGUMENT"],
    ["an fs of functions", { path: ":temp:", fs: { openSync() {} } }, "INVALID_ARGUMENT"],
    ["path 42", { path: 42 }, "INVALID_ARGUMENT"],
  ];
  for (const [label, opts, code] of invalid) {
    const outcome = await settle(() => openStorage(opts));
    check(`openStorage with ${label} → ${code}`, rejectedWith(outcome, code), show(outcome));
    if (outcome.status === "fulfilled") await outcome.value.dispose();
  }
  const poolsBefore = await larderPools();
  const temps = await Promise.all([settle(() => openStorage({ path: ":temp:" })), settle(() => openStorage({ path: ":temp:" }))]);
  check("two \":temp:\" stores open side by side", temps.every((t) => t.status === "fulfilled"), temps.map(show).join("; "));
  for (const t of temps) if (t.status === "fulfilled") await t.value.set("k", new Uint8Array(4096));
  check("... each with its own OPFS pool", (await larderPools()).length === poolsBefore.length + 2);
  for (const t of temps) if (t.status === "fulfilled") await t.value.dispose();
  const poolsAfter = await larderPools();
  check("disposed \":temp:\" stores leave nothing in OPFS", poolsAfter.every((name) => poolsBefore.includes(name)),
    `before ${poolsBefore.length}, after ${poolsAfter.length}`);
}

async function getOrSetOnThisThread() {
  const store = await openStorage({ path: ":temp:" });
  try {
    const loader = manualLoader();
    const first = Array.from({ length: 10 }, () => settle(() => store.getOrSet("k", loader)));
    for (let i = 0; i < 50 && loader.calls === 0; i += 1) await tick(10);
    const late = Array.from({ length: 10 }, () => settle(() => store.getOrSet("k", loader)));
    await tick(50);
    loader.resolve({ n: 1 });
    const outcomes = await Promise.all([...first, ...late]);
    check("20 concurrent getOrSet callers (10 joining while it runs) share one loader call",
      loader.calls === 1, `${loader.calls} calls`);
    check("the loader runs on the calling thread and gets the key", loader.onMainThread && loader.keys[0] === "k",
      `on main thread ${loader.onMainThread}, keys ${loader.keys}`);
    check("every caller gets the loaded value",
      outcomes.every((o) => o.status === "fulfilled" && same(o.value, { n: 1 })), outcomes.map(show).join("; "));
    check("each caller gets its own copy", new Set(outcomes.map((o) => o.value)).size === outcomes.length);
    const stored = await settle(() => store.get("k"));
    check("the loaded value is stored", stored.status === "fulfilled" && same(stored.value, { n: 1 }), show(stored));

    for (const [label, make] of [["an Error", () => new Error("loader failed")], ["a string", () => "just a string"], ["undefined", () => undefined]]) {
      const thrown = make();
      const failing = manualLoader();
      const callers = Array.from({ length: 5 }, () => settle(() => store.getOrSet("fails", failing)));
      // Rejected only once called (each caller's lookup crosses to the worker first).
      for (let i = 0; i < 50 && failing.calls === 0; i += 1) await tick(10);
      await tick(20);
      failing.reject(thrown);
      const failed = await Promise.all(callers);
      check(`a loader rejecting with ${label}: every caller gets that very value`,
        failing.calls === 1 && failed.every((o) => o.status === "rejected" && Object.is(o.reason, thrown)),
        `${failing.calls} calls; ${failed.map(show).join("; ")}`);
    }
    const nothing = await settle(() => store.has("fails"));
    check("... and nothing is stored", nothing.status === "fulfilled" && nothing.value === false, show(nothing));

    const memory = await openStorage();
    const inner = (await settle(() => memory.get(""))).reason;
    await memory.dispose();
    const passed = await settle(() => store.getOrSet("se", () => Promise.reject(inner)));
    check("a StorageError thrown by the loader is passed through as the same object",
      passed.status === "rejected" && passed.reason === inner, show(passed));

    const racing = manualLoader();
    const raced = settle(() => store.getOrSet("race", racing));
    for (let i = 0; i < 50 && racing.calls === 0; i += 1) await tick(10);
    await store.set("race", "set meanwhile");
    racing.resolve("loaded");
    const won = await raced;
    const kept = await settle(() => store.get("race"));
    check("a value set while the loader runs wins (as the core's getOrSet decides)",
      won.status === "fulfilled" && won.value === "set meanwhile" && kept.value === "set meanwhile",
      `${show(won)}; stored ${show(kept)}`);

    const counted = manualLoader();
    const badOptions = await settle(() => store.getOrSet("new-key", counted, { ttlMs: 0 }));
    check("getOrSet with bad options is refused before the loader runs",
      rejectedWith(badOptions, "INVALID_ARGUMENT") && counted.calls === 0, `${show(badOptions)}; ${counted.calls} calls`);
  } finally {
    await store.dispose();
  }

  const disposing = await openStorage({ path: ":temp:" });
  const never = manualLoader();
  const waiting = Array.from({ length: 3 }, () => settle(() => disposing.getOrSet("k", never)));
  for (let i = 0; i < 50 && never.calls === 0; i += 1) await tick(10);
  const disposed = await settle(() => disposing.dispose());
  const waited = await Promise.all(waiting);
  check("dispose() resolves while a loader never settles", disposed.status === "fulfilled", show(disposed));
  check("... and rejects its waiting callers with DISPOSED", waited.every((o) => rejectedWith(o, "DISPOSED")),
    waited.map(show).join("; "));
}

async function sameName() {
  const name = `same-page-${Math.random().toString(36).slice(2)}`;
  const first = await settle(() => openStorage({ path: name }));
  const second = await settle(() => openStorage({ path: name }));
  check("a second store on the same name in the same page is another handle on the same store",
    first.status === "fulfilled" && second.status === "fulfilled" && first.value !== second.value,
    `${show(first)}; ${show(second)}`);
  if (first.status !== "fulfilled" || second.status !== "fulfilled") return;
  await first.value.set("k", "v");
  check("... which reads what the first handle wrote", (await second.value.get("k")) === "v");
  const differing = await settle(() => openStorage({ path: name, maxSizeBytes: 1000 }));
  check("... unless its store-level options differ: INVALID_ARGUMENT naming them",
    rejectedWith(differing, "INVALID_ARGUMENT") && /maxSizeBytes/.test(differing.reason.message), show(differing));
  await first.value.dispose();
  const later = await settle(() => second.value.count());
  check("disposing one handle leaves the other open", later.status === "fulfilled" && later.value === 1, show(later));
  const refused = await settle(() => first.value.get("k"));
  check("... and refuses the disposed handle's later calls with DISPOSED", rejectedWith(refused, "DISPOSED"), show(refused));
  // Not awaited: the next open is a new store, not a handle on the closing one.
  const closing = second.value.dispose();
  const third = await settle(() => openStorage({ path: name, retry: { maxAttempts: 1 } }));
  check("an open right after the last handle's dispose() opens the name afresh, with its data",
    third.status === "fulfilled" && (await third.value.get("k")) === "v", show(third));
  await closing;
  if (third.status === "fulfilled") await third.value.dispose();
}

async function lifecycle() {
  const store = await openStorage({ path: ":temp:" });
  const queued = Array.from({ length: 100 }, (_, i) => settle(() => store.set(`k${i}`, i)));
  queued.push(settle(() => store.getOrSet("g", () => 1)));
  check("isDisposed() is false while open", store.isDisposed() === false);
  const disposal = settle(() => store.dispose());
  check("isDisposed() is true as soon as dispose() is called", store.isDisposed() === true);
  const outcomes = await Promise.all(queued);
  check("every call made before dispose() settles: fulfilled, or DISPOSED",
    outcomes.every((o) => o.status === "fulfilled" || rejectedWith(o, "DISPOSED")),
    outcomes.filter((o) => o.status !== "fulfilled").map(show).slice(0, 3).join("; "));
  check("dispose() resolves", (await disposal).status === "fulfilled");
  const again = await settle(() => store.dispose());
  check("dispose() again resolves (idempotent)", again.status === "fulfilled", show(again));
  for (const [label, call] of [
    ["get", (s) => s.get("k1")],
    ["set", (s) => s.set("k", 1)],
    ["getOrSet", (s) => s.getOrSet("k", () => 1)],
    ["a namespace view's count", (s) => s.namespace("n").count()],
  ]) {
    const after = await settle(() => call(store));
    check(`${label} after dispose → DISPOSED`, rejectedWith(after, "DISPOSED"), show(after));
  }
  const memory = await openStorage();
  await memory.dispose();
  const [here, there] = [await settle(() => memory.get("k")), await settle(() => store.get("k"))];
  const off = FIELDS.filter((f) => here.reason?.[f] !== there.reason?.[f]);
  check("DISPOSED from a worker store has every field of the core's", off.length === 0, `differ in ${off.join(", ")}`);
}

/** Calls made in one turn cross to the worker as one message and come back
 *  as one: each settles as it would alone, in call order; one whose argument
 *  cannot be sent fails alone. */
async function oneTurn() {
  const store = await openStorage({ path: ":temp:" });
  const order = [];
  const calls = [
    ["set", () => store.set("a", { x: "é😀" })],
    ["set a function", () => store.set("f", () => 1)],
    ["mset with bytes", () => store.mset([["b", [1]], ["bytes", new Uint8Array([7])]])],
    ["mset of plain values", () => store.mset({ c: "three", d: null })],
    ["get", () => store.get("a")],
    ["mget", () => store.mget(["a", "missing", "bytes", "c", "d"])],
  ];
  const outcomes = await Promise.all(calls.map(([label, call]) => settle(() => call().finally(() => order.push(label)))));
  // The one refused on this thread settles first, as it always did.
  const labels = ["set a function", ...calls.map(([label]) => label).filter((label) => label !== "set a function")];
  check("calls made in one turn settle in call order", same(order, labels), order.join(", "));
  check("one that cannot be sent fails alone, INVALID_VALUE", rejectedWith(outcomes[1], "INVALID_VALUE"), show(outcomes[1]));
  const others = outcomes.filter((_, index) => index !== 1);
  check("the others of its turn succeed", others.every((o) => o.status === "fulfilled"), others.map(show).join("; "));
  check("get in the same turn reads the set", same(outcomes[4].value, { x: "é😀" }), show(outcomes[4]));
  const expected = [{ x: "é😀" }, undefined, new Uint8Array([7]), "three", null];
  check("mget in the same turn reads every kind", same(outcomes[5].value, expected), show(outcomes[5]));
  check("count after the turn", (await store.count()) === 5);
  await store.dispose();
}

/** `openStorage` over RemoteStores of the worker script at `url`. */
function remoteOpener(url) {
  return storageOpener(async (opts, trapped) => ({
    native: await RemoteStore.open(() => ({ worker: new Worker(url, { type: "module" }), script: String(url) }), opts, trapped),
    releaseAfterTrap() {},
  }));
}

/** A store over the misbehaving fake worker (a new one each time the store reopens). */
function openFake(mode, options = {}) {
  const url = new URL(`/tests/browser/fake-worker.mjs?mode=${mode}`, location.href);
  return remoteOpener(url)({ path: "fake", ...options });
}

async function workerFailures() {
  for (const [mode, what] of [["close", "stops (self.close())"], ["throw", "throws an uncaught error"]]) {
    const store = await openFake(mode);
    const call = await settle(() => store.get("k"));
    check(`a worker that ${what} mid-call: the call rejects INTERNAL`, rejectedWith(call, "INTERNAL"), show(call));
    // The store reopens in a new worker, which fails the same way.
    const later = await settle(() => store.set("k", 1));
    check(`... a later call goes to a new worker, failing the same way: INTERNAL (recoveryAction REOPEN)`,
      rejectedWith(later, "INTERNAL") && later.reason.recoveryAction === "REOPEN", show(later));
    const disposed = await settle(() => store.dispose());
    check(`... and dispose() still resolves`, disposed.status === "fulfilled", show(disposed));
  }

  const silent = await openFake("silent", { operationTimeoutMs: 100 });
  const pending = settle(() => silent.get("k"), 10_000);
  const started = performance.now();
  const disposed = await settle(() => silent.dispose(), 10_000);
  const waited = performance.now() - started;
  check("a worker that never answers dispose: dispose() resolves after operationTimeoutMs plus a margin",
    disposed.status === "fulfilled" && waited >= 100 && waited < 5_000, `${show(disposed)} after ${Math.round(waited)} ms`);
  const orphan = await pending;
  check("... and the call it never answered rejects DISPOSED", rejectedWith(orphan, "DISPOSED"), show(orphan));

  const missing = await settle(() =>
    remoteOpener("/no/such/worker.js")({ path: "x" }),
  );
  check("a worker script that cannot load: openStorage rejects LOAD_FAILED naming it",
    rejectedWith(missing, "LOAD_FAILED") && missing.reason.message.includes("/no/such/worker.js"), show(missing));
}

/** metrics() of a worker store: the core's numbers come from the worker in
 *  one message, the calls are counted on this thread, once each. */
async function workerMetrics() {
  const events = [];
  const store = await openStorage({ path: ":temp:", maxSizeBytes: 1_000_000, trace: (event) => events.push(event) });
  await Promise.all([store.set("a", 1), store.set("b", 2), store.set("c", 3)]);
  await store.get("a");
  await store.get("missing");
  await store.mget(["a", "b", "none"]);
  await store.getOrSet("g", () => "loaded");
  await settle(() => store.set("", 1));
  const snapshot = await store.metrics();
  const calls = Object.fromEntries(Object.entries(snapshot.operations).map(([op, entry]) => [op, entry.calls]));
  check("worker metrics: every call counted once", same(calls, { set: 4, get: 2, mget: 1, getOrSet: 1 }), format(calls));
  check("worker metrics: the refused set is counted as INVALID_KEY",
    same(snapshot.operations.set.errors, { INVALID_KEY: 1 }), format(snapshot.operations.set.errors));
  check("worker metrics: hits and misses", snapshot.cache.hits === 3 && snapshot.cache.misses === 3,
    format(snapshot.cache));
  check("worker metrics: the three sets made together are one grouped commit; with getOrSet's write, two commits",
    snapshot.commits.count === 2 && snapshot.commits.grouped === 1, format(snapshot.commits));
  check("worker metrics: the queue's depth reached 3", snapshot.queue.maxDepth === 3, format(snapshot.queue.maxDepth));
  check("worker metrics: four entries, the budget", snapshot.storage.entries === 4 && snapshot.storage.budgetBytes === 1_000_000,
    format(snapshot.storage));
  check("worker metrics: the OPFS file has bytes", snapshot.storage.fileBytes > 0, format(snapshot.storage));
  check("worker metrics: the trace function ran on this thread, once per call", events.length === 8, events.length);
  const failed = events.find((event) => event.outcome === "error");
  check("worker metrics: the failed call's event has its code", failed?.code === "INVALID_KEY", format(failed));
  const groups = events.map((event) => event.groupSize);
  check("worker trace: groupSize came back from the worker (three grouped sets 3, reads null, getOrSet's write 1)",
    same(groups, [3, 3, 3, null, null, null, 1, null]), format(groups));
  check("worker trace: queuedMs and retries came back from the worker", events.every((event) =>
    typeof event.queuedMs === "number" && event.queuedMs >= 0 && event.retries === 0), format(events));
  const text = await store.metricsText({ labels: { store: "worker" } });
  check("worker metricsText: larder_operations_total for set",
    text.includes('larder_operations_total{store="worker",op="set"} 4'), text.slice(0, 300));
  await store.dispose();
}

/** A worker store's read cache is on this thread: an mget's entries, read
 *  once from the worker, answer the same mget next time without a message
 *  (the worker's core counts no operation). */
async function pageReadCache() {
  const store = await openStorage({ path: ":temp:" });
  const coreOperations = async () => (await store.metrics()).queue.waitMs.count;
  try {
    await store.mset([["a", { v: 1 }], ["b", "two"]]);
    const first = await store.mget(["a", "b"]);
    const before = await coreOperations();
    const again = await store.mget(["b", "a"]);
    const after = await coreOperations();
    check("worker store: an mget's entries answer the next mget on this thread",
      same(first, [{ v: 1 }, "two"]) && same(again, ["two", { v: 1 }]) && after === before,
      format({ first, again, before, after }));
  } finally {
    await store.dispose();
  }
}

/** A worker store with a budget: a hit on this thread counts as a read in
 *  the worker's LRU order (handed over with the next call), and what the
 *  worker's writes evict is dropped from this thread's cache. Each entry
 *  takes 2 bytes of the 6. */
async function pageReadCacheWithBudget() {
  const store = await openStorage({ path: ":temp:", maxSizeBytes: 6 });
  const coreOperations = async () => (await store.metrics()).queue.waitMs.count;
  try {
    await store.set("a", 1);
    await store.get("a"); // cached on this thread by the worker's read, and then the oldest again:
    for (const key of ["b", "c"]) await store.set(key, 1);
    const before = await coreOperations();
    const hit = await store.get("a");
    const after = await coreOperations();
    await store.set("d", 1);
    const kept = await store.keys();
    check("worker store with a budget: a hit on this thread keeps its entry from being the one evicted",
      hit === 1 && after === before && same(kept, ["a", "c", "d"]), format({ hit, before, after, kept }));
    await store.mset([["e", 1], ["f", 1]]); // evicts c, then a
    const evicted = await store.get("a");
    check("worker store with a budget: an entry the worker evicted is not answered from this thread's cache",
      evicted === undefined, format({ evicted }));
  } finally {
    await store.dispose();
  }
}

/** A worker store's entry with a TTL, cached by its read with its expiry:
 *  answered on this thread while live, and by the worker once expired. */
async function pageReadCacheWithTtl() {
  const store = await openStorage({ path: ":temp:" });
  const coreOperations = async () => (await store.metrics()).queue.waitMs.count;
  try {
    await store.set("ttl", { v: 1 }, { ttlMs: 60_000 });
    await store.set("short", 2, { ttlMs: 50 });
    const first = await store.mget(["ttl", "short"]);
    const before = await coreOperations();
    const again = await store.get("ttl");
    const after = await coreOperations();
    check("worker store: an entry with a TTL, once read, answers the next get on this thread",
      same(first, [{ v: 1 }, 2]) && same(again, { v: 1 }) && after === before, format({ first, again, before, after }));
    await new Promise((resolve) => setTimeout(resolve, 80));
    const expired = await store.get("short");
    const counted = await coreOperations();
    check("worker store: ... and once it has expired, the worker answers that it is gone",
      expired === undefined && counted > after, format({ expired, after, counted }));
  } finally {
    await store.dispose();
  }
}

/** An OPFS store writes a WAL commit's frames in one OPFS write, not two a
 *  frame (src/vfs/joined_writes.rs): counted by a worker that wraps
 *  FileSystemSyncAccessHandle.write around larder's own. Each set below
 *  commits about three frames of 4 KiB, two calls each unjoined (the counts
 *  in the names were measured with the joining switched off); with
 *  `"full"`, SQLite then pads the WAL to its sector size with copies of the
 *  last frame, written before the sync: a second write. */
async function oneOpfsWritePerCommit() {
  for (const [durability, most, unjoined] of [["normal", 20, 118], ["full", 40, 178]]) {
    const channelName = `larder-opfs-writes-${Math.random()}`;
    const workerUrl = new URL(`/tests/browser/counting-worker.mjs?channel=${channelName}`, location.href).href;
    const store = await openStorage({ path: ":temp:", durability, workerUrl });
    const channel = new BroadcastChannel(channelName);
    const writes = () => new Promise((resolve) => {
      channel.onmessage = ({ data }) => resolve(data);
      channel.postMessage("count");
    });
    try {
      await store.set("first", 0); // makes the WAL, and its header
      const before = await writes();
      for (let i = 0; i < 20; i += 1) await store.set(`k${i}`, { i, text: "x".repeat(1000) });
      const made = (await writes()) - before;
      check(`durability "${durability}": 20 sets of 1 KB on OPFS make ${most} OPFS writes (${unjoined} unjoined)`,
        made === most, `${made} writes`);
      const read = await settle(() => store.get("k19"));
      check("... and the store reads back what it wrote", read.status === "fulfilled" && read.value?.i === 19, show(read));
    } finally {
      channel.close();
      await store.dispose();
    }
  }
}

export async function run() {
  results = [];
  const sections = [
    errorsKeepTheirFields, options, getOrSetOnThisThread, sameName, oneTurn, lifecycle, workerFailures, workerMetrics,
    pageReadCache, pageReadCacheWithBudget, pageReadCacheWithTtl, oneOpfsWritePerCommit,
  ];
  for (const section of sections) {
    try {
      await section();
    } catch (error) {
      check(`${section.name} runs without an exception`, false, error?.stack ?? String(error));
    }
  }
  return results;
}
