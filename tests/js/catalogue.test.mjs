// The bad-input catalogue: every call in the README fed wrong arguments, in one
// table. Each case names the call, makes it and states the documented code
// (or OK where the contract accepts the input). The table runs against a
// file store with an instrumented `fs` and against a memory store; after every
// case the store must be unchanged and usable, Object.prototype unpolluted,
// and, on the file store, a rejected call must not have written anything (no
// writeSync, fsyncSync, ftruncateSync, openSync, unlinkSync or mkdirSync): a
// value that cannot be stored never reaches SQLite.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import * as path from "node:path";
import { inspect } from "node:util";
import { openStorage, isStorageError, StorageError } from "larderdb";
import { assertStorageError, manualClock, totals, within, SUITE_TIMEOUT_MS } from "./helpers.mjs";
import { FS_FUNCTIONS, assertIntegrity, rowCount, tempDir } from "./file-helpers.mjs";

/** The catalogue store's limits, small so that "over the limit" is cheap. */
const LIMITS = { maxSizeBytes: 100_000, maxBatchSize: 10, maxKeyBytes: 64, maxValueBytes: 4096 };

/** Entries written before the catalogue; every case must leave them as they are. */
const KNOWN = "known";
const KNOWN_VALUE = { name: "known", list: [1, "two", null, true], nested: { deep: [{}] } };
const NS = "ns";
const NS_VALUE = "in a namespace";

/** `code` of a case the contract accepts: it must resolve (and `check` its result). */
const OK = "OK";

const cycle = () => {
  const value = { a: 1 };
  value.self = value;
  return value;
};
const arrayCycle = () => {
  const value = [];
  value.push(value);
  return value;
};
const nested = (levels) => {
  let value = [];
  for (let i = 1; i < levels; i += 1) value = [value];
  return value;
};
const revoked = (target = {}) => {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
};
/** An array of 2^32 - 1 holes: free to make, fatal to read element by element. */
const hugeSparse = () => {
  const holes = [];
  holes.length = 2 ** 32 - 1;
  return holes;
};
const pairs = (n) => Array.from({ length: n }, (_, i) => [`b${i}`, i]);
const throwingGetter = (name) => ({
  get [name]() {
    throw new Error(`getter ${name}`);
  },
});
/** A case: openStorage with one option set to a bad value, which the error names. */
const badOption = (option, value, mentions = new RegExp(option)) => ({
  name: `option ${option}: ${inspect(value)}`,
  call: (s, c) => c.open({ [option]: value }),
  code: "INVALID_ARGUMENT",
  mentions,
});
const PROTO_JSON = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}}}';
class Point {
  constructor() {
    this.x = 1;
  }
}

/** The own data `__proto__` / `constructor` of a read-back value, checked. */
function assertProtoRoundTrip(value) {
  assert.equal(Object.getPrototypeOf(value), Object.prototype, "an ordinary object");
  assert.deepEqual(Object.getOwnPropertyNames(value), ["__proto__", "constructor"]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(value, "__proto__").value, { polluted: 1 });
  assert.deepEqual(Object.getOwnPropertyDescriptor(value, "constructor").value, { prototype: { polluted: 2 } });
  assert.equal({}.polluted, undefined, "Object.prototype is not polluted");
}

/** Writes with `write`, reads back with `read`, and always removes `keys` again. */
async function roundTrip(store, keys, write, read) {
  try {
    await write();
    return await read();
  } finally {
    await store.mdelete(keys);
  }
}

// ---------------------------------------------------------------------------
// The catalogue. `call(store, ctx)` makes the call; `ctx.open(options, use)`
// opens another store on the backend under test (and disposes it), and
// `ctx.openRaw(options)` calls openStorage with exactly `options`.
// `mentions` is matched against the message; `writes: true` marks an OK
// case that writes (and undoes it), exempt from the no-write check.
// ---------------------------------------------------------------------------
const CASES = [
  // openStorage: the options argument itself
  { name: "openStorage(42)", call: (s, c) => c.openRaw(42), code: "INVALID_ARGUMENT" },
  { name: "openStorage('a path string')", call: (s, c) => c.openRaw("cache.sqlite"), code: "INVALID_ARGUMENT" },
  { name: "openStorage([])", call: (s, c) => c.openRaw([]), code: "INVALID_ARGUMENT" },
  { name: "openStorage(a Map)", call: (s, c) => c.openRaw(new Map([["path", ":memory:"]])), code: "INVALID_ARGUMENT" },
  { name: "openStorage(a function)", call: (s, c) => c.openRaw(() => ({})), code: "INVALID_ARGUMENT" },
  { name: "openStorage(a class instance)", call: (s, c) => c.openRaw(new Point()), code: "INVALID_ARGUMENT" },
  { name: "openStorage(a revoked Proxy)", call: (s, c) => c.openRaw(revoked()), code: "INVALID_ARGUMENT" },
  {
    name: "openStorage: a getter of fs that throws",
    call: (s, c) => c.openRaw(throwingGetter("fs")),
    code: "INVALID_ARGUMENT",
    mentions: /fs/,
  },
  {
    name: "openStorage: a getter of path that throws",
    call: (s, c) => c.openRaw(throwingGetter("path")),
    code: "INVALID_ARGUMENT",
    mentions: /path/,
  },
  {
    name: "openStorage: a Proxy whose every get throws",
    call: (s, c) => c.openRaw(new Proxy({}, { get: () => { throw new Error("trap"); } })),
    code: "INVALID_ARGUMENT",
  },
  { name: "option: unknown name", call: (s, c) => c.open({ nope: 1 }), code: "INVALID_ARGUMENT", mentions: /nope/ },
  // The contract's name is maxKeyBytes; maxKeyLength is an unknown option.
  {
    name: "option: maxKeyLength (not an option)",
    call: (s, c) => c.open({ maxKeyLength: 10 }),
    code: "INVALID_ARGUMENT",
    mentions: /maxKeyLength/,
  },
  {
    name: "option: own __proto__ name",
    call: (s, c) => c.openRaw(JSON.parse('{"path":":memory:","__proto__":{"path":"x"}}')),
    code: "INVALID_ARGUMENT",
    mentions: /__proto__/,
  },
  // openStorage: each option with a wrong type or an out-of-range value
  badOption("path", 1),
  badOption("path", ""),
  badOption("path", "a\0b"),
  badOption("path", "db\uD800"),
  badOption("path", null),
  badOption("path", {}),
  badOption("maxSizeBytes", 0),
  badOption("maxSizeBytes", -1),
  badOption("maxSizeBytes", 1.5),
  badOption("maxSizeBytes", NaN),
  badOption("maxSizeBytes", Infinity),
  badOption("maxSizeBytes", "100"),
  badOption("maxSizeBytes", null),
  badOption("maxSizeBytes", 2 ** 53),
  badOption("maxSizeBytes", 10n),
  badOption("maxValueBytes", 0),
  badOption("maxValueBytes", "10"),
  // Over SQLite's SQLITE_MAX_LENGTH (1e9): a limit no value could ever reach.
  badOption("maxValueBytes", 2 ** 31),
  badOption("maxKeyBytes", 0),
  badOption("maxKeyBytes", -1),
  badOption("maxKeyBytes", 2.5),
  badOption("maxKeyBytes", "64"),
  badOption("defaultTtlMs", 0),
  badOption("defaultTtlMs", -1),
  badOption("defaultTtlMs", NaN),
  badOption("defaultTtlMs", -Infinity),
  badOption("defaultTtlMs", "1000"),
  badOption("defaultTtlMs", null),
  badOption("defaultTtlMs", 2 ** 53 + 2),
  badOption("maxBatchSize", 0),
  badOption("maxBatchSize", 2.5),
  badOption("maxBatchSize", "10"),
  badOption("maxQueueLength", 0),
  badOption("maxQueueLength", -1),
  badOption("maxQueueLength", Infinity),
  badOption("operationTimeoutMs", 0),
  badOption("operationTimeoutMs", -5),
  badOption("operationTimeoutMs", NaN),
  badOption("operationTimeoutMs", -Infinity),
  badOption("operationTimeoutMs", "10"),
  badOption("durability", "FULL"),
  badOption("durability", "sync"),
  badOption("durability", ""),
  badOption("durability", 1),
  badOption("durability", null),
  badOption("breaker", 5),
  badOption("breaker", []),
  // Only undefined counts as "not given" (README); null is a wrong type, as for every other option.
  badOption("breaker", null),
  badOption("breaker", { failureThreshold: 0 }, /failureThreshold/),
  badOption("breaker", { failureThreshold: 1.5 }, /failureThreshold/),
  badOption("breaker", { failureThreshold: "3" }, /failureThreshold/),
  badOption("breaker", { recoveryTimeoutMs: -1 }, /recoveryTimeoutMs/),
  badOption("breaker", { recoveryTimeoutMs: NaN }, /recoveryTimeoutMs/),
  badOption("breaker", { threshold: 1 }, /threshold/),
  badOption("retry", 5),
  badOption("retry", null),
  badOption("retry", { maxAttempts: 0 }, /maxAttempts/),
  badOption("retry", { maxAttempts: 1.5 }, /maxAttempts/),
  badOption("retry", { baseDelayMs: -1 }, /baseDelayMs/),
  badOption("retry", { maxDelayMs: NaN }, /maxDelayMs/),
  badOption("retry", { baseDelayMs: 100, maxDelayMs: 10 }, /maxDelayMs/),
  badOption("retry", { attempts: 3 }, /attempts/),
  badOption("clock", 5),
  badOption("clock", "Date.now"),
  badOption("clock", {}),
  badOption("clock", null),
  // A clock is only seen to be bad when it is called: the first call that
  // needs the time rejects, naming it (openStorage does not call it).
  {
    name: "option clock returning NaN: the first call rejects",
    call: (s, c) => c.open({ path: ":memory:", clock: () => NaN }, (other) => other.count()),
    code: "INVALID_ARGUMENT",
    mentions: /clock/,
  },
  {
    name: "option clock that throws: the first call rejects",
    call: (s, c) => c.open({ path: ":memory:", clock: () => { throw new Error("no time"); } }, (o) => o.get("k")),
    code: "INVALID_ARGUMENT",
    mentions: /clock/,
  },
  badOption("fs", 5),
  badOption("fs", "node:fs"),
  badOption("fs", null),
  badOption("fs", {}),
  {
    name: "option fs: writeSync not a function",
    call: (s, c) => c.open({ fs: { ...realFs, writeSync: 5 } }),
    code: "INVALID_ARGUMENT",
    mentions: /writeSync/,
  },

  // Keys, through set and get: every kind of bad key
  { name: "set key: ''", call: (s) => s.set("", 1), code: "INVALID_KEY" },
  { name: "set key: number", call: (s) => s.set(1, 1), code: "INVALID_KEY" },
  { name: "set key: null", call: (s) => s.set(null, 1), code: "INVALID_KEY" },
  { name: "set key: undefined", call: (s) => s.set(undefined, 1), code: "INVALID_KEY" },
  { name: "set key: object", call: (s) => s.set({}, 1), code: "INVALID_KEY" },
  { name: "set key: symbol", call: (s) => s.set(Symbol("k"), 1), code: "INVALID_KEY" },
  { name: "set key: array", call: (s) => s.set(["k"], 1), code: "INVALID_KEY" },
  { name: "set key: boolean", call: (s) => s.set(true, 1), code: "INVALID_KEY" },
  { name: "set key: String object", call: (s) => s.set(new String("k"), 1), code: "INVALID_KEY" },
  { name: "set key: BigInt", call: (s) => s.set(1n, 1), code: "INVALID_KEY" },
  { name: "set key: revoked Proxy", call: (s) => s.set(revoked([]), 1), code: "INVALID_KEY" },
  { name: "set key: 65 bytes (maxKeyBytes 64)", call: (s) => s.set("k".repeat(65), 1), code: "INVALID_KEY" },
  { name: "set key: 33 × é = 66 UTF-8 bytes", call: (s) => s.set("é".repeat(33), 1), code: "INVALID_KEY" },
  // Refused before the string is copied into the wasm memory (which would
  // grow for good, or run out).
  { name: "set key: 2^26 characters", call: (s) => s.set("k".repeat(2 ** 26), 1), code: "INVALID_KEY" },
  { name: "set key: lone high surrogate", call: (s) => s.set("a\uD800", 1), code: "INVALID_KEY" },
  { name: "set key: lone low surrogate", call: (s) => s.set("\uDC00b", 1), code: "INVALID_KEY" },
  { name: "set key: surrogates in the wrong order", call: (s) => s.set("\uDC00\uD800", 1), code: "INVALID_KEY" },
  // The README allows any well-formed string, NUL included: it must round-trip
  // and not be cut at the NUL ("a\0b" is not "a").
  {
    name: "set key with NUL round-trips (OK)",
    call: (s) =>
      roundTrip(
        s,
        ["nul\0key"],
        () => s.set("nul\0key", "v"),
        async () => [await s.get("nul\0key"), await s.get("nul"), await s.keys({ prefix: "nul\0" })],
      ),
    code: OK,
    writes: true,
    check: (result) => assert.deepEqual(result, ["v", undefined, ["nul\0key"]]),
  },
  { name: "get key: missing", call: (s) => s.get(), code: "INVALID_KEY" },
  { name: "get key: ''", call: (s) => s.get(""), code: "INVALID_KEY" },
  { name: "get key: number", call: (s) => s.get(42), code: "INVALID_KEY" },
  { name: "get key: symbol", call: (s) => s.get(Symbol("k")), code: "INVALID_KEY" },
  { name: "get key: revoked Proxy", call: (s) => s.get(revoked()), code: "INVALID_KEY" },
  { name: "get key: lone high surrogate", call: (s) => s.get("\uD83D"), code: "INVALID_KEY" },
  { name: "get key: too long", call: (s) => s.get("k".repeat(65)), code: "INVALID_KEY" },
  // Extra arguments are ignored, as by any JS function (the README is silent).
  {
    name: "get with an extra argument (OK, ignored)",
    call: (s) => s.get(KNOWN, "extra"),
    code: OK,
    check: (v) => assert.deepEqual(v, KNOWN_VALUE),
  },
  { name: "has key: missing", call: (s) => s.has(), code: "INVALID_KEY" },
  { name: "has key: object", call: (s) => s.has({}), code: "INVALID_KEY" },
  { name: "has key: lone low surrogate", call: (s) => s.has("\uDC00"), code: "INVALID_KEY" },
  {
    name: "has with an extra argument (OK, ignored)",
    call: (s) => s.has(KNOWN, 1),
    code: OK,
    check: (v) => assert.equal(v, true),
  },
  { name: "delete key: missing", call: (s) => s.delete(), code: "INVALID_KEY" },
  { name: "delete key: null", call: (s) => s.delete(null), code: "INVALID_KEY" },
  { name: "delete key: array", call: (s) => s.delete([KNOWN]), code: "INVALID_KEY" },
  { name: "delete key: too long", call: (s) => s.delete("k".repeat(65)), code: "INVALID_KEY" },
  // delete, invalidate and purgeExpired are writes: even when nothing matches
  // they commit, persisting the LRU recency of earlier reads (README,
  // Eviction), so these OK cases are exempt from the no-write check.
  {
    name: "delete with an extra argument (OK, ignored)",
    call: (s) => s.delete("absent", KNOWN),
    code: OK,
    writes: true,
    check: (v) => assert.equal(v, false),
  },

  // Values, through set
  { name: "set value: missing", call: (s) => s.set("fresh"), code: "INVALID_VALUE" },
  { name: "set value: undefined", call: (s) => s.set("fresh", undefined), code: "INVALID_VALUE" },
  { name: "set value: function", call: (s) => s.set("fresh", () => 1), code: "INVALID_VALUE" },
  { name: "set value: symbol", call: (s) => s.set("fresh", Symbol("v")), code: "INVALID_VALUE" },
  { name: "set value: BigInt", call: (s) => s.set("fresh", 10n), code: "INVALID_VALUE" },
  { name: "set value: NaN", call: (s) => s.set("fresh", NaN), code: "INVALID_VALUE" },
  { name: "set value: Infinity", call: (s) => s.set("fresh", Infinity), code: "INVALID_VALUE" },
  { name: "set value: -Infinity", call: (s) => s.set("fresh", -Infinity), code: "INVALID_VALUE" },
  { name: "set value: nested NaN", call: (s) => s.set("fresh", { a: [1, NaN] }), code: "INVALID_VALUE" },
  { name: "set value: nested function", call: (s) => s.set("fresh", { a: { b: () => 1 } }), code: "INVALID_VALUE" },
  { name: "set value: nested undefined", call: (s) => s.set("fresh", { a: undefined }), code: "INVALID_VALUE" },
  { name: "set value: nested BigInt", call: (s) => s.set("fresh", [1, 2n]), code: "INVALID_VALUE" },
  { name: "set value: object cycle", call: (s) => s.set("fresh", cycle()), code: "INVALID_VALUE" },
  { name: "set value: array cycle", call: (s) => s.set("fresh", arrayCycle()), code: "INVALID_VALUE" },
  { name: "set value: 129 levels deep", call: (s) => s.set("fresh", nested(129)), code: "INVALID_VALUE" },
  { name: "set value: 200 levels deep", call: (s) => s.set("fresh", nested(200)), code: "INVALID_VALUE" },
  {
    name: "set value: 100000 levels deep (no stack overflow)",
    call: (s) => s.set("fresh", nested(100_000)),
    code: "INVALID_VALUE",
  },
  { name: "set value: Date", call: (s) => s.set("fresh", new Date(0)), code: "INVALID_VALUE" },
  { name: "set value: Map", call: (s) => s.set("fresh", new Map([["a", 1]])), code: "INVALID_VALUE" },
  { name: "set value: Set", call: (s) => s.set("fresh", new Set([1])), code: "INVALID_VALUE" },
  { name: "set value: class instance", call: (s) => s.set("fresh", new Point()), code: "INVALID_VALUE" },
  { name: "set value: nested class instance", call: (s) => s.set("fresh", { p: new Point() }), code: "INVALID_VALUE" },
  { name: "set value: RegExp", call: (s) => s.set("fresh", /x/), code: "INVALID_VALUE" },
  { name: "set value: Error", call: (s) => s.set("fresh", new Error("x")), code: "INVALID_VALUE" },
  { name: "set value: Promise", call: (s) => s.set("fresh", Promise.resolve(1)), code: "INVALID_VALUE" },
  { name: "set value: boxed String", call: (s) => s.set("fresh", new String("v")), code: "INVALID_VALUE" },
  { name: "set value: Int8Array", call: (s) => s.set("fresh", new Int8Array(2)), code: "INVALID_VALUE" },
  { name: "set value: ArrayBuffer", call: (s) => s.set("fresh", new ArrayBuffer(2)), code: "INVALID_VALUE" },
  { name: "set value: nested Uint8Array", call: (s) => s.set("fresh", { bytes: new Uint8Array(1) }), code: "INVALID_VALUE" },
  { name: "set value: string with lone high surrogate", call: (s) => s.set("fresh", "x\uD800"), code: "INVALID_VALUE" },
  {
    name: "set value: nested string with lone low surrogate",
    call: (s) => s.set("fresh", ["\uDC00"]),
    code: "INVALID_VALUE",
  },
  {
    name: "set value: property name with lone surrogate",
    call: (s) => s.set("fresh", { ["\uD800"]: 1 }),
    code: "INVALID_VALUE",
  },
  {
    name: "set value: sparse array",
    call: (s) => s.set("fresh", [1, , 3]),
    code: "INVALID_VALUE",
  },
  {
    name: "set value: array with an extra property",
    call: (s) => s.set("fresh", Object.assign([1], { x: 1 })),
    code: "INVALID_VALUE",
  },
  { name: "set value: symbol-keyed property", call: (s) => s.set("fresh", { [Symbol("k")]: 1 }), code: "INVALID_VALUE" },
  { name: "set value: toJSON method", call: (s) => s.set("fresh", { toJSON: () => "x" }), code: "INVALID_VALUE" },
  { name: "set value: a getter that throws", call: (s) => s.set("fresh", throwingGetter("boom")), code: "INVALID_VALUE" },
  {
    name: "set value: a Proxy whose ownKeys throws",
    call: (s) => s.set("fresh", new Proxy({}, { ownKeys: () => { throw new Error("trap"); } })),
    code: "INVALID_VALUE",
  },
  { name: "set value: revoked Proxy", call: (s) => s.set("fresh", revoked()), code: "INVALID_VALUE" },
  {
    name: "set value: 4097 encoded bytes (maxValueBytes 4096)",
    call: (s) => s.set("fresh", "x".repeat(4095)),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "set value: a string of 2^26 characters",
    call: (s) => s.set("fresh", "v".repeat(2 ** 26)),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "set value: a property name of 2^26 characters",
    call: (s) => s.set("fresh", { ["p".repeat(2 ** 26)]: 1 }),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "set value: Uint8Array over maxValueBytes",
    call: (s) => s.set("fresh", new Uint8Array(4097)),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "set value: big nested object over maxValueBytes",
    call: (s) => s.set("fresh", { a: pairs(1000) }),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "set value: invalid value does not replace the known one",
    call: (s) => s.set(KNOWN, { ...KNOWN_VALUE, bad: () => 1 }),
    code: "INVALID_VALUE",
  },
  // `__proto__` and `constructor` keys are own data, both ways.
  {
    name: "set value with own __proto__ and constructor round-trips (OK)",
    call: (s) => roundTrip(s, ["proto"], () => s.set("proto", JSON.parse(PROTO_JSON)), () => s.get("proto")),
    code: OK,
    writes: true,
    check: assertProtoRoundTrip,
  },
  {
    name: "mset of a value with own __proto__ round-trips through mget (OK)",
    call: (s) =>
      roundTrip(s, ["proto"], () => s.mset([["proto", JSON.parse(PROTO_JSON)]]), async () => (await s.mget(["proto"]))[0]),
    code: OK,
    writes: true,
    check: assertProtoRoundTrip,
  },
  {
    name: "mset entries object with own key __proto__ stores key '__proto__' (OK)",
    call: (s) =>
      roundTrip(s, ["__proto__"], () => s.mset(JSON.parse('{"__proto__":{"polluted":1}}')), () => s.get("__proto__")),
    code: OK,
    writes: true,
    check: (value) => {
      assert.deepEqual(value, { polluted: 1 });
      assert.equal({}.polluted, undefined);
    },
  },
  {
    name: "getOrSet loader returning own __proto__ round-trips (OK)",
    call: (s) => roundTrip(s, ["proto"], () => s.getOrSet("proto", () => JSON.parse(PROTO_JSON)), () => s.get("proto")),
    code: OK,
    writes: true,
    check: assertProtoRoundTrip,
  },
  {
    name: "-0 reads back as 0 (OK, the one normalisation)",
    call: (s) => roundTrip(s, ["zero"], () => s.set("zero", -0), () => s.get("zero")),
    code: OK,
    writes: true,
    check: (value) => assert.ok(Object.is(value, 0)),
  },

  // set options: ttlMs and size
  { name: "set ttlMs: 0", call: (s) => s.set("fresh", 1, { ttlMs: 0 }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  { name: "set ttlMs: -1", call: (s) => s.set("fresh", 1, { ttlMs: -1 }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  { name: "set ttlMs: NaN", call: (s) => s.set("fresh", 1, { ttlMs: NaN }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  {
    name: "set ttlMs: -Infinity",
    call: (s) => s.set("fresh", 1, { ttlMs: -Infinity }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "set ttlMs: '1000'",
    call: (s) => s.set("fresh", 1, { ttlMs: "1000" }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  { name: "set ttlMs: null", call: (s) => s.set("fresh", 1, { ttlMs: null }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  { name: "set ttlMs: true", call: (s) => s.set("fresh", 1, { ttlMs: true }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  { name: "set ttlMs: 10n", call: (s) => s.set("fresh", 1, { ttlMs: 10n }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  {
    name: "set ttlMs: Number object",
    call: (s) => s.set("fresh", 1, { ttlMs: new Number(5) }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "set ttlMs: over 2^53",
    call: (s) => s.set("fresh", 1, { ttlMs: 2 ** 53 + 2 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "set ttlMs: 1e300",
    call: (s) => s.set("fresh", 1, { ttlMs: 1e300 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "set ttlMs: 2^53 and Infinity are accepted (OK)",
    call: (s) =>
      roundTrip(
        s,
        ["t1", "t2"],
        () => Promise.all([s.set("t1", 1, { ttlMs: 2 ** 53 }), s.set("t2", 2, { ttlMs: Infinity })]),
        () => s.mget(["t1", "t2"]),
      ),
    code: OK,
    writes: true,
    check: (values) => assert.deepEqual(values, [1, 2]),
  },
  { name: "set size: -1", call: (s) => s.set("fresh", 1, { size: -1 }), code: "INVALID_ARGUMENT", mentions: /size/ },
  { name: "set size: 1.5", call: (s) => s.set("fresh", 1, { size: 1.5 }), code: "INVALID_ARGUMENT", mentions: /size/ },
  { name: "set size: NaN", call: (s) => s.set("fresh", 1, { size: NaN }), code: "INVALID_ARGUMENT", mentions: /size/ },
  {
    name: "set size: Infinity",
    call: (s) => s.set("fresh", 1, { size: Infinity }),
    code: "INVALID_ARGUMENT",
    mentions: /size/,
  },
  { name: "set size: '10'", call: (s) => s.set("fresh", 1, { size: "10" }), code: "INVALID_ARGUMENT", mentions: /size/ },
  { name: "set size: 2^53", call: (s) => s.set("fresh", 1, { size: 2 ** 53 }), code: "INVALID_ARGUMENT", mentions: /size/ },
  {
    name: "set size: over maxSizeBytes",
    call: (s) => s.set("fresh", 1, { size: 100_001 }),
    code: "VALUE_TOO_LARGE",
    mentions: /maxSizeBytes/,
  },
  { name: "set options: 5", call: (s) => s.set("fresh", 1, 5), code: "INVALID_ARGUMENT" },
  { name: "set options: 'ttl'", call: (s) => s.set("fresh", 1, "ttl"), code: "INVALID_ARGUMENT" },
  { name: "set options: []", call: (s) => s.set("fresh", 1, []), code: "INVALID_ARGUMENT" },
  {
    name: "set options: unknown name",
    call: (s) => s.set("fresh", 1, { ttl: 5 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttl/,
  },
  {
    name: "set options: own __proto__ name",
    call: (s) => s.set("fresh", 1, JSON.parse('{"__proto__":{"ttlMs":0}}')),
    code: "INVALID_ARGUMENT",
    mentions: /__proto__/,
  },
  { name: "set options: revoked Proxy", call: (s) => s.set("fresh", 1, revoked()), code: "INVALID_ARGUMENT" },
  // null options are taken as "no options", like undefined (the core's
  // deliberate reading of a call's options argument; the README is silent).
  {
    name: "set options: null (OK, no options)",
    call: (s) => roundTrip(s, ["fresh"], () => s.set("fresh", 1, null), () => s.get("fresh")),
    code: OK,
    writes: true,
    check: (value) => assert.equal(value, 1),
  },
  {
    name: "set with an extra argument (OK, ignored)",
    call: (s) => roundTrip(s, ["fresh"], () => s.set("fresh", 1, {}, "extra"), () => s.get("fresh")),
    code: OK,
    writes: true,
    check: (value) => assert.equal(value, 1),
  },

  // mget
  { name: "mget: no argument", call: (s) => s.mget(), code: "INVALID_ARGUMENT" },
  { name: "mget: null", call: (s) => s.mget(null), code: "INVALID_ARGUMENT" },
  { name: "mget: a string", call: (s) => s.mget(KNOWN), code: "INVALID_ARGUMENT" },
  { name: "mget: a Set", call: (s) => s.mget(new Set([KNOWN])), code: "INVALID_ARGUMENT" },
  { name: "mget: an array-like object", call: (s) => s.mget({ 0: KNOWN, length: 1 }), code: "INVALID_ARGUMENT" },
  { name: "mget: a revoked Proxy", call: (s) => s.mget(revoked([])), code: "INVALID_ARGUMENT" },
  { name: "mget: '' inside, naming its index", call: (s) => s.mget([KNOWN, ""]), code: "INVALID_KEY", mentions: /\b1\b/ },
  { name: "mget: number inside", call: (s) => s.mget([7]), code: "INVALID_KEY" },
  { name: "mget: lone surrogate inside", call: (s) => s.mget([KNOWN, "\uD800"]), code: "INVALID_KEY" },
  { name: "mget: hole inside", call: (s) => s.mget([, KNOWN]), code: "INVALID_KEY" }, // eslint-disable-line no-sparse-arrays
  { name: "mget: too long key inside", call: (s) => s.mget(["k".repeat(65)]), code: "INVALID_KEY" },
  {
    name: "mget: 11 keys (maxBatchSize 10)",
    call: (s) => s.mget(pairs(11).map(([k]) => k)),
    code: "BATCH_TOO_LARGE",
    mentions: /maxBatchSize/,
  },
  { name: "mget: 2^32 - 1 holes", call: (s) => s.mget(hugeSparse()), code: "BATCH_TOO_LARGE" },
  {
    name: "mget: a Proxy array claiming 2^32 - 1 elements",
    call: (s) => s.mget(new Proxy([], { get: (target, name) => (name === "length" ? 2 ** 32 - 1 : KNOWN) })),
    code: "BATCH_TOO_LARGE",
  },
  {
    name: "mget with an extra argument (OK, ignored)",
    call: (s) => s.mget([KNOWN], 5),
    code: OK,
    check: (v) => assert.deepEqual(v, [KNOWN_VALUE]),
  },

  // mset: shapes, entries, sizes, options
  { name: "mset: no argument", call: (s) => s.mset(), code: "INVALID_ARGUMENT" },
  { name: "mset: null", call: (s) => s.mset(null), code: "INVALID_ARGUMENT" },
  { name: "mset: a number", call: (s) => s.mset(42), code: "INVALID_ARGUMENT" },
  { name: "mset: a string", call: (s) => s.mset("ab"), code: "INVALID_ARGUMENT" },
  { name: "mset: a Set of pairs", call: (s) => s.mset(new Set([["a", 1]])), code: "INVALID_ARGUMENT" },
  { name: "mset: a class instance", call: (s) => s.mset(new Point()), code: "INVALID_ARGUMENT" },
  { name: "mset: a revoked Proxy", call: (s) => s.mset(revoked()), code: "INVALID_ARGUMENT" },
  {
    name: "mset: entry that is a string",
    call: (s) => s.mset([["a", 1], "b"]),
    code: "INVALID_ARGUMENT",
    mentions: /\b1\b/,
  },
  { name: "mset: entry that is a number", call: (s) => s.mset([5]), code: "INVALID_ARGUMENT" },
  { name: "mset: entry that is null", call: (s) => s.mset([null]), code: "INVALID_ARGUMENT" },
  {
    name: "mset: entry {key, value} instead of a pair",
    call: (s) => s.mset([{ key: "a", value: 1 }]),
    code: "INVALID_ARGUMENT",
  },
  {
    name: "mset: pair missing its value",
    call: (s) => s.mset([["a", 1], ["b"]]),
    code: "INVALID_ARGUMENT",
    mentions: /\b1\b/,
  },
  { name: "mset: empty pair", call: (s) => s.mset([[]]), code: "INVALID_ARGUMENT" },
  { name: "mset: three-element pair", call: (s) => s.mset([["a", 1, 2]]), code: "INVALID_ARGUMENT" },
  {
    name: "mset: hole in the entries",
    call: (s) => s.mset([["a", 1], , ["c", 3]]),
    code: "INVALID_ARGUMENT",
  },
  { name: "mset: pair with undefined value", call: (s) => s.mset([["a", undefined]]), code: "INVALID_VALUE" },
  { name: "mset: pair with a numeric key", call: (s) => s.mset([["a", 1], [1, 2]]), code: "INVALID_KEY", mentions: /\b1\b/ },
  { name: "mset: Map with a non-string key", call: (s) => s.mset(new Map([[{}, 1]])), code: "INVALID_KEY" },
  { name: "mset: object with key ''", call: (s) => s.mset({ a: 1, "": 2 }), code: "INVALID_KEY" },
  { name: "mset: too long key", call: (s) => s.mset({ ["k".repeat(65)]: 1 }), code: "INVALID_KEY" },
  {
    name: "mset: bad value in the middle, the known key included",
    call: (s) => s.mset([["first", 1], [KNOWN, "overwritten"], ["bad", cycle()], ["last", 3]]),
    code: "INVALID_VALUE",
  },
  {
    name: "mset: Map with a function value",
    call: (s) => s.mset(new Map([["a", 1], ["b", () => 2]])),
    code: "INVALID_VALUE",
  },
  { name: "mset: object with a Date value", call: (s) => s.mset({ a: 1, b: new Date(0) }), code: "INVALID_VALUE" },
  {
    name: "mset: object whose getter throws",
    call: (s) => s.mset(Object.assign(throwingGetter("b"), { a: 1 })),
    code: "INVALID_VALUE",
  },
  {
    name: "mset: value over maxValueBytes",
    call: (s) => s.mset([["a", 1], ["b", "x".repeat(5000)]]),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "mset: 11 pairs (maxBatchSize 10)",
    call: (s) => s.mset(pairs(11)),
    code: "BATCH_TOO_LARGE",
    mentions: /maxBatchSize/,
  },
  { name: "mset: Map of 11", call: (s) => s.mset(new Map(pairs(11))), code: "BATCH_TOO_LARGE" },
  { name: "mset: object of 11", call: (s) => s.mset(Object.fromEntries(pairs(11))), code: "BATCH_TOO_LARGE" },
  { name: "mset: 2^32 - 1 holes", call: (s) => s.mset(hugeSparse()), code: "BATCH_TOO_LARGE" },
  { name: "mset: a pair of 2^32 - 1 holes", call: (s) => s.mset([hugeSparse()]), code: "INVALID_ARGUMENT" },
  { name: "mset ttlMs: 0", call: (s) => s.mset({ a: 1 }, { ttlMs: 0 }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  { name: "mset ttlMs: NaN", call: (s) => s.mset({ a: 1 }, { ttlMs: NaN }), code: "INVALID_ARGUMENT", mentions: /ttlMs/ },
  {
    name: "mset ttlMs: 'soon'",
    call: (s) => s.mset({ a: 1 }, { ttlMs: "soon" }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "mset ttlMs: over 2^53",
    call: (s) => s.mset({ a: 1 }, { ttlMs: 2 ** 54 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "mset options: size is not one",
    call: (s) => s.mset({ a: 1 }, { size: 10 }),
    code: "INVALID_ARGUMENT",
    mentions: /size/,
  },
  { name: "mset options: 5", call: (s) => s.mset({ a: 1 }, 5), code: "INVALID_ARGUMENT" },
  // Duplicate keys (the README is silent): as with a Map built from the pairs,
  // the last one wins and the entry is counted once.
  {
    name: "mset: duplicate keys, the last wins (OK)",
    call: (s) =>
      roundTrip(s, ["dup"], () => s.mset([["dup", 1], ["dup", "last"]]), async () => [await s.get("dup"), await totals(s)]),
    code: OK,
    writes: true,
    check: ([value, sums]) => {
      assert.equal(value, "last");
      assert.equal(sums.count, 3, "the entry counts once (known, dup; plus the namespace's)");
    },
  },

  // mdelete
  { name: "mdelete: no argument", call: (s) => s.mdelete(), code: "INVALID_ARGUMENT" },
  { name: "mdelete: a string", call: (s) => s.mdelete(KNOWN), code: "INVALID_ARGUMENT" },
  { name: "mdelete: a Set", call: (s) => s.mdelete(new Set([KNOWN])), code: "INVALID_ARGUMENT" },
  {
    name: "mdelete: bad key after the known one",
    call: (s) => s.mdelete([KNOWN, 7]),
    code: "INVALID_KEY",
    mentions: /\b1\b/,
  },
  { name: "mdelete: 2^32 - 1 holes", call: (s) => s.mdelete(hugeSparse()), code: "BATCH_TOO_LARGE" },
  { name: "mdelete: '' inside", call: (s) => s.mdelete([KNOWN, ""]), code: "INVALID_KEY" },
  {
    name: "mdelete: 11 keys with the known one",
    call: (s) => s.mdelete([KNOWN, ...pairs(10).map(([k]) => k)]),
    code: "BATCH_TOO_LARGE",
  },

  // keys
  { name: "keys prefix: 1", call: (s) => s.keys({ prefix: 1 }), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  { name: "keys prefix: null", call: (s) => s.keys({ prefix: null }), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  {
    name: "keys prefix: lone surrogate",
    call: (s) => s.keys({ prefix: "\uD800" }),
    code: "INVALID_ARGUMENT",
    mentions: /prefix/,
  },
  { name: "keys prefix: a RegExp", call: (s) => s.keys({ prefix: /k/ }), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  { name: "keys after: 1", call: (s) => s.keys({ after: 1 }), code: "INVALID_ARGUMENT", mentions: /after/ },
  {
    name: "keys after: lone surrogate",
    call: (s) => s.keys({ after: "\uDC00" }),
    code: "INVALID_ARGUMENT",
    mentions: /after/,
  },
  { name: "keys limit: 0", call: (s) => s.keys({ limit: 0 }), code: "INVALID_ARGUMENT", mentions: /limit/ },
  { name: "keys limit: -1", call: (s) => s.keys({ limit: -1 }), code: "INVALID_ARGUMENT", mentions: /limit/ },
  { name: "keys limit: 1.5", call: (s) => s.keys({ limit: 1.5 }), code: "INVALID_ARGUMENT", mentions: /limit/ },
  { name: "keys limit: NaN", call: (s) => s.keys({ limit: NaN }), code: "INVALID_ARGUMENT", mentions: /limit/ },
  { name: "keys limit: Infinity", call: (s) => s.keys({ limit: Infinity }), code: "INVALID_ARGUMENT", mentions: /limit/ },
  { name: "keys limit: '2'", call: (s) => s.keys({ limit: "2" }), code: "INVALID_ARGUMENT", mentions: /limit/ },
  { name: "keys options: unknown name", call: (s) => s.keys({ start: "a" }), code: "INVALID_ARGUMENT", mentions: /start/ },
  { name: "keys options: 5", call: (s) => s.keys(5), code: "INVALID_ARGUMENT" },
  { name: "keys options: a string prefix", call: (s) => s.keys("k"), code: "INVALID_ARGUMENT" },
  {
    name: "keys with an extra argument (OK, ignored)",
    call: (s) => s.keys({ limit: 1 }, "x"),
    code: OK,
    check: (v) => assert.deepEqual(v, [KNOWN]),
  },

  // getOrSet
  { name: "getOrSet: no arguments", call: (s) => s.getOrSet(), code: "INVALID_KEY" },
  { name: "getOrSet: no loader", call: (s) => s.getOrSet("fresh"), code: "INVALID_ARGUMENT", mentions: /loader/ },
  {
    name: "getOrSet loader: a string",
    call: (s) => s.getOrSet("fresh", "value"),
    code: "INVALID_ARGUMENT",
    mentions: /loader/,
  },
  { name: "getOrSet loader: null", call: (s) => s.getOrSet("fresh", null), code: "INVALID_ARGUMENT", mentions: /loader/ },
  {
    name: "getOrSet loader: an object",
    call: (s) => s.getOrSet("fresh", { load: () => 1 }),
    code: "INVALID_ARGUMENT",
    mentions: /loader/,
  },
  {
    name: "getOrSet loader: a Promise",
    call: (s) => s.getOrSet("fresh", Promise.resolve(1)),
    code: "INVALID_ARGUMENT",
    mentions: /loader/,
  },
  {
    name: "getOrSet loader: not a function, even on a hit",
    call: (s) => s.getOrSet(KNOWN, 5),
    code: "INVALID_ARGUMENT",
    mentions: /loader/,
  },
  { name: "getOrSet key: ''", call: (s) => s.getOrSet("", () => 1), code: "INVALID_KEY" },
  { name: "getOrSet key: symbol", call: (s) => s.getOrSet(Symbol("k"), () => 1), code: "INVALID_KEY" },
  { name: "getOrSet key: lone surrogate", call: (s) => s.getOrSet("\uD800", () => 1), code: "INVALID_KEY" },
  { name: "getOrSet loader returns a function", call: (s) => s.getOrSet("fresh", () => () => 1), code: "INVALID_VALUE" },
  { name: "getOrSet loader returns undefined", call: (s) => s.getOrSet("fresh", () => undefined), code: "INVALID_VALUE" },
  { name: "getOrSet loader returns a cycle", call: (s) => s.getOrSet("fresh", () => cycle()), code: "INVALID_VALUE" },
  {
    name: "getOrSet loader resolves to a Date",
    call: (s) => s.getOrSet("fresh", async () => new Date(0)),
    code: "INVALID_VALUE",
  },
  { name: "getOrSet loader returns a BigInt", call: (s) => s.getOrSet("fresh", () => 1n), code: "INVALID_VALUE" },
  { name: "getOrSet loader returns NaN", call: (s) => s.getOrSet("fresh", () => NaN), code: "INVALID_VALUE" },
  {
    name: "getOrSet loader returns a lone surrogate",
    call: (s) => s.getOrSet("fresh", () => "\uD800"),
    code: "INVALID_VALUE",
  },
  {
    name: "getOrSet loader returns too much",
    call: (s) => s.getOrSet("fresh", () => "x".repeat(5000)),
    code: "VALUE_TOO_LARGE",
  },
  {
    name: "getOrSet ttlMs: 0",
    call: (s) => s.getOrSet("fresh", () => 1, { ttlMs: 0 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "getOrSet ttlMs: -1",
    call: (s) => s.getOrSet("fresh", () => 1, { ttlMs: -1 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "getOrSet ttlMs: '5'",
    call: (s) => s.getOrSet("fresh", () => 1, { ttlMs: "5" }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "getOrSet ttlMs: over 2^53",
    call: (s) => s.getOrSet("fresh", () => 1, { ttlMs: 2 ** 60 }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "getOrSet ttlMs: bad, even on a hit",
    call: (s) => s.getOrSet(KNOWN, () => 1, { ttlMs: NaN }),
    code: "INVALID_ARGUMENT",
    mentions: /ttlMs/,
  },
  {
    name: "getOrSet options: size is not one",
    call: (s) => s.getOrSet("fresh", () => 1, { size: 1 }),
    code: "INVALID_ARGUMENT",
    mentions: /getOrSet option.*size/,
  },
  {
    name: "getOrSet with an extra argument (OK, ignored; a hit)",
    call: (s) => s.getOrSet(KNOWN, () => assert.fail("no load on a hit"), {}, "x"),
    code: OK,
    check: (v) => assert.deepEqual(v, KNOWN_VALUE),
  },

  // invalidate
  { name: "invalidate: no argument", call: (s) => s.invalidate(), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  { name: "invalidate: {}", call: (s) => s.invalidate({}), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  { name: "invalidate: null", call: (s) => s.invalidate(null), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  { name: "invalidate: a string", call: (s) => s.invalidate(KNOWN), code: "INVALID_ARGUMENT" },
  { name: "invalidate prefix: 1", call: (s) => s.invalidate({ prefix: 1 }), code: "INVALID_ARGUMENT", mentions: /prefix/ },
  {
    name: "invalidate prefix: null",
    call: (s) => s.invalidate({ prefix: null }),
    code: "INVALID_ARGUMENT",
    mentions: /prefix/,
  },
  {
    name: "invalidate prefix: lone surrogate",
    call: (s) => s.invalidate({ prefix: "k\uD800" }),
    code: "INVALID_ARGUMENT",
    mentions: /prefix/,
  },
  {
    name: "invalidate options: unknown name",
    call: (s) => s.invalidate({ prefix: "k", limit: 1 }),
    code: "INVALID_ARGUMENT",
    mentions: /limit/,
  },
  {
    name: "invalidate with no match and an extra argument (OK)",
    call: (s) => s.invalidate({ prefix: "zzz" }, "extra"),
    code: OK,
    writes: true,
    check: (n) => assert.equal(n, 0),
  },

  // count, getCurrentCacheSize, purgeExpired: no arguments; extra ones ignored
  {
    name: "count with an extra argument (OK, ignored)",
    call: (s) => s.count("ns"),
    code: OK,
    check: (n) => assert.equal(n, 2),
  },
  {
    name: "getCurrentCacheSize with an extra argument (OK, ignored)",
    call: (s) => Promise.all([s.getCurrentCacheSize(KNOWN), s.getCurrentCacheSize()]),
    code: OK,
    check: ([a, b]) => assert.equal(a, b),
  },
  {
    name: "purgeExpired with an extra argument (OK, ignored)",
    call: (s) => s.purgeExpired({ prefix: "k" }),
    code: OK,
    writes: true,
    check: (n) => assert.equal(n, 0),
  },

  // namespace(): an invalid name makes every call of the view reject, clear included
  { name: "namespace(''): get", call: (s) => s.namespace("").get(KNOWN), code: "INVALID_KEY" },
  { name: "namespace(''): clear", call: (s) => s.namespace("").clear(), code: "INVALID_KEY" },
  { name: "namespace(): count", call: (s) => s.namespace().count(), code: "INVALID_KEY" },
  { name: "namespace(null): purgeExpired", call: (s) => s.namespace(null).purgeExpired(), code: "INVALID_KEY" },
  { name: "namespace(5): getCurrentCacheSize", call: (s) => s.namespace(5).getCurrentCacheSize(), code: "INVALID_KEY" },
  { name: "namespace({}): set", call: (s) => s.namespace({}).set("fresh", 1), code: "INVALID_KEY" },
  { name: "namespace(symbol): has", call: (s) => s.namespace(Symbol("n")).has(KNOWN), code: "INVALID_KEY" },
  {
    name: "namespace(lone surrogate): invalidate",
    call: (s) => s.namespace("\uD800").invalidate({ prefix: "" }),
    code: "INVALID_KEY",
  },
  { name: "namespace(too long): mset", call: (s) => s.namespace("n".repeat(65)).mset({ a: 1 }), code: "INVALID_KEY" },
  { name: "namespace(''): mget", call: (s) => s.namespace("").mget([KNOWN]), code: "INVALID_KEY" },
  { name: "namespace(''): mdelete", call: (s) => s.namespace("").mdelete([KNOWN]), code: "INVALID_KEY" },
  { name: "namespace(''): delete", call: (s) => s.namespace("").delete(KNOWN), code: "INVALID_KEY" },
  { name: "namespace(''): keys", call: (s) => s.namespace("").keys(), code: "INVALID_KEY" },
  { name: "namespace(''): getOrSet", call: (s) => s.namespace("").getOrSet("fresh", () => 1), code: "INVALID_KEY" },
  { name: "namespace view: bad key", call: (s) => s.namespace(NS).get(""), code: "INVALID_KEY" },
  { name: "namespace view: bad value", call: (s) => s.namespace(NS).set(KNOWN, () => 1), code: "INVALID_VALUE" },
  {
    name: "namespace view: mset over the batch limit",
    call: (s) => s.namespace(NS).mset(pairs(11)),
    code: "BATCH_TOO_LARGE",
  },
  {
    name: "namespace view: bad ttlMs",
    call: (s) => s.namespace(NS).set("fresh", 1, { ttlMs: 0 }),
    code: "INVALID_ARGUMENT",
  },
  {
    name: "namespace with an extra argument (OK, ignored)",
    call: (s) => s.namespace(NS, "extra").get(KNOWN),
    code: OK,
    check: (v) => assert.equal(v, NS_VALUE),
  },
];

// ---------------------------------------------------------------------------
// The runner.
// ---------------------------------------------------------------------------

/** The `fs` functions that change the file system. */
const MUTATING = new Set(["writeSync", "fsyncSync", "ftruncateSync", "openSync", "unlinkSync", "mkdirSync"]);

/** An `fs` option over node:fs that logs every call while `control.recording`. */
function recordingFs() {
  const control = { recording: false, log: [] };
  const fs = { ...realFs };
  for (const name of FS_FUNCTIONS) {
    fs[name] = (...args) => {
      if (control.recording) control.log.push(name);
      return realFs[name](...args);
    };
  }
  return { fs, control };
}

/** Makes the case's call and checks its outcome: the documented error, or success. */
async function runCase(entry, store, ctx) {
  let promise;
  assert.doesNotThrow(() => {
    promise = entry.call(store, ctx);
  }, "must reject, never throw synchronously");
  assert.ok(promise instanceof Promise, "returns a promise");
  const outcome = await within(
    promise.then(
      (value) => ({ value }),
      (error) => ({ error }),
    ),
    entry.name,
  );
  if (entry.code === OK) {
    if ("error" in outcome) assert.fail(`expected success, got ${inspect(outcome.error)}`);
    entry.check?.(outcome.value);
    return;
  }
  assert.ok("error" in outcome, `expected ${entry.code}, resolved with ${inspect(outcome.value, { depth: 1 })}`);
  const { error } = outcome;
  assert.ok(error instanceof StorageError && isStorageError(error), `not a StorageError: ${inspect(error)}`);
  assertStorageError(error, entry.code, entry.mentions);
}

/** What a store holds before the catalogue, to compare against after every case. */
async function snapshot(store) {
  return {
    totals: await totals(store),
    keys: await store.keys(),
    nsTotals: await totals(store.namespace(NS)),
    objectPrototype: Object.getOwnPropertyNames(Object.prototype),
    arrayPrototype: Object.getOwnPropertyNames(Array.prototype),
  };
}

/** The store is usable, holds exactly what it held, and nothing is polluted. */
async function assertIntact(store, baseline) {
  assert.equal(store.isDisposed(), false);
  assert.equal(store.breakerState, "CLOSED", "invalid input does not count as a storage failure");
  assert.deepEqual(await totals(store), baseline.totals, "count and getCurrentCacheSize unchanged");
  assert.deepEqual(await store.keys(), baseline.keys, "keys unchanged");
  assert.deepEqual(await store.get(KNOWN), KNOWN_VALUE, "the known entry reads back");
  assert.equal(await store.namespace(NS).get(KNOWN), NS_VALUE, "the namespaced entry reads back");
  assert.deepEqual(await totals(store.namespace(NS)), baseline.nsTotals, "the namespace's totals unchanged");
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), baseline.objectPrototype, "Object.prototype");
  assert.deepEqual(Object.getOwnPropertyNames(Array.prototype), baseline.arrayPrototype, "Array.prototype");
  assert.equal({}.polluted, undefined, "Object.prototype is not polluted");
}

/** Seeds `store` with the known entries. */
async function seed(store) {
  await store.set(KNOWN, KNOWN_VALUE);
  await store.namespace(NS).set(KNOWN, NS_VALUE);
}

/** The codes the README gives for bad input. */
const INPUT_CODES = ["INVALID_ARGUMENT", "INVALID_KEY", "INVALID_VALUE", "VALUE_TOO_LARGE", "BATCH_TOO_LARGE"];

test(`catalogue has ${CASES.length} cases`, () => {
  assert.ok(CASES.length >= 70, `${CASES.length} cases`);
  const names = CASES.map(({ name }) => name);
  assert.equal(new Set(names).size, names.length, "case names are unique");
  for (const entry of CASES) {
    assert.equal(typeof entry.call, "function", entry.name);
    assert.ok(entry.code === OK || INPUT_CODES.includes(entry.code), `${entry.name}: ${entry.code}`);
  }
});

const SUITE = { timeout: SUITE_TIMEOUT_MS * 3 };

describe(`bad-input catalogue (${CASES.length} cases) on a file store with an instrumented fs`, SUITE, () => {
  const { fs, control } = recordingFs();
  const context = {};
  let store;
  let baseline;
  let rowsBefore;
  after(() => store?.dispose());
  const dir = tempDir({ after }, "catalogue");
  const file = path.join(dir, "catalogue.sqlite");

  before(async () => {
    store = await openStorage({ path: file, fs, clock: manualClock(), ...LIMITS });
    // The instrumentation sees the store's writes (else the no-write check could not fail).
    control.recording = true;
    await seed(store);
    control.recording = false;
    assert.ok(control.log.includes("writeSync"), `seeding wrote through the fs option: ${control.log.join(", ")}`);
    baseline = await snapshot(store);
    rowsBefore = baseline.totals.count;
    const other = path.join(dir, "other", "other.sqlite");
    Object.assign(context, {
      openRaw: (options) => openAndClose(options),
      open: (options, use) => openAndClose({ path: other, fs, ...options }, use),
    });
  });

  CASES.forEach((entry, index) => {
    test(`#${index + 1} ${entry.name} → ${entry.code}`, async () => {
      const filesBefore = realFs.readdirSync(dir).sort();
      control.log = [];
      control.recording = true;
      try {
        await runCase(entry, store, context);
      } finally {
        control.recording = false;
      }
      if (!entry.writes) {
        const mutations = control.log.filter((name) => MUTATING.has(name));
        assert.deepEqual(mutations, [], `no file-system change during the call (calls: ${control.log.join(", ")})`);
        assert.deepEqual(realFs.readdirSync(dir).sort(), filesBefore, "no file created or removed");
      }
      await assertIntact(store, baseline);
    });
  });

  test("the file holds exactly the known entries and is intact", async () => {
    await store.dispose();
    assertIntegrity(file);
    assert.equal(rowCount(file), rowsBefore);
  });
});

describe(`bad-input catalogue (${CASES.length} cases) on a memory store`, SUITE, () => {
  const context = {
    openRaw: (options) => openAndClose(options),
    open: (options, use) => openAndClose({ path: ":memory:", ...options }, use),
  };
  let store;
  let baseline;

  before(async () => {
    store = await openStorage({ path: ":memory:", clock: manualClock(), ...LIMITS });
    await seed(store);
    baseline = await snapshot(store);
  });
  after(() => store.dispose());

  CASES.forEach((entry, index) => {
    test(`#${index + 1} ${entry.name} → ${entry.code}`, async () => {
      await runCase(entry, store, context);
      await assertIntact(store, baseline);
    });
  });
});

/**
 * openStorage(options); if it opens, runs `use` on the store (if given) and
 * disposes it, resolving to what `use` gave (or "opened", for a case that
 * expected a rejection to report).
 */
async function openAndClose(options, use) {
  const other = await openStorage(options);
  try {
    return use ? await use(other) : "opened";
  } finally {
    await other.dispose();
  }
}
