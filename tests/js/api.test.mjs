// Every key/value call and its result shape, as the README specifies them.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import { openStorage, StorageError, isStorageError } from "larderdb";
import { open, byUtf8 } from "./helpers.mjs";

describe("exports", () => {
  test("openStorage, StorageError and isStorageError are exported", () => {
    assert.equal(typeof openStorage, "function");
    assert.equal(typeof StorageError, "function");
    assert.equal(typeof isStorageError, "function");
  });

  test("isStorageError is false for anything that is not a StorageError", () => {
    for (const value of [new Error("x"), new TypeError("x"), { code: "DISPOSED" }, null, undefined, "DISPOSED"]) {
      assert.equal(isStorageError(value), false, String(value));
    }
  });

  test("openStorage with no options, undefined or {} opens a working in-memory store", async (t) => {
    for (const args of [[], [undefined], [{}]]) {
      const store = await openStorage(...args);
      t.after(() => store.dispose());
      await store.set("k", 1);
      assert.equal(await store.get("k"), 1);
    }
  });

  test("stores are independent of each other", async (t) => {
    const a = await open(t);
    const b = await open(t);
    await a.set("k", "a");
    assert.equal(await b.get("k"), undefined);
    assert.equal(await b.count(), 0);
  });
});

describe("set / get", () => {
  test("set resolves to undefined and get reads the value back", async (t) => {
    const store = await open(t);
    assert.equal(await store.set("k", "v"), undefined);
    assert.equal(await store.get("k"), "v");
  });

  test("get of a missing key resolves to undefined", async (t) => {
    const store = await open(t);
    assert.equal(await store.get("missing"), undefined);
  });

  test("set overwrites", async (t) => {
    const store = await open(t);
    await store.set("k", 1);
    await store.set("k", { two: 2 });
    assert.deepEqual(await store.get("k"), { two: 2 });
    assert.equal(await store.count(), 1);
  });

  test("every kind of JSON value round-trips exactly", async (t) => {
    const store = await open(t);
    const values = {
      null: null,
      true: true,
      false: false,
      zero: 0,
      int: 42,
      negative: -7,
      fraction: 0.1 + 0.2,
      tiny: 5e-324,
      huge: 1.7976931348623157e308,
      big: 1e21,
      maxSafe: Number.MAX_SAFE_INTEGER,
      empty: "",
      text: "hello, world",
      unicode: "héllo 😀 \u2028 \u0000 \"quoted\" \\ /",
      emptyArray: [],
      emptyObject: {},
      nested: { a: [1, "x", { b: null, c: [true, false] }], d: { e: { f: "g" } } },
      mixedArray: [1, "two", null, [3], { four: 4 }],
    };
    for (const [key, value] of Object.entries(values)) await store.set(key, value);
    for (const [key, value] of Object.entries(values)) {
      assert.deepEqual(await store.get(key), value, key);
    }
  });

  test("object key order is preserved", async (t) => {
    const store = await open(t);
    await store.set("k", { z: 1, a: 2, m: 3 });
    assert.deepEqual(Object.keys(await store.get("k")), ["z", "a", "m"]);
  });

  test("an object with a null prototype is a plain object", async (t) => {
    const store = await open(t);
    const value = Object.assign(Object.create(null), { a: 1 });
    await store.set("k", value);
    assert.deepEqual({ ...(await store.get("k")) }, { a: 1 });
  });

  test("plain objects and arrays from another realm are accepted", async (t) => {
    const store = await open(t);
    await store.set("k", vm.runInNewContext('({ a: [1, { b: "c" }] })'));
    assert.deepEqual(await store.get("k"), { a: [1, { b: "c" }] });
  });

  test("a shared (non-cyclic) sub-object is stored twice", async (t) => {
    const store = await open(t);
    const shared = { x: 1 };
    await store.set("k", { a: shared, b: shared });
    assert.deepEqual(await store.get("k"), { a: { x: 1 }, b: { x: 1 } });
  });

  test("128 levels of nesting are accepted", async (t) => {
    const store = await open(t);
    const deep = JSON.parse("[".repeat(128) + "]".repeat(128));
    await store.set("deep", deep);
    assert.deepEqual(await store.get("deep"), deep);
  });

  test("-0 reads back as 0, top-level and nested", async (t) => {
    const store = await open(t);
    await store.set("top", -0);
    await store.set("nested", { n: -0, a: [-0] });
    assert.ok(Object.is(await store.get("top"), 0), "top-level -0 becomes +0");
    const nested = await store.get("nested");
    assert.ok(Object.is(nested.n, 0));
    assert.ok(Object.is(nested.a[0], 0));
  });

  test("get returns a fresh copy each time", async (t) => {
    const store = await open(t);
    await store.set("k", { list: [1, 2], inner: { x: 1 } });
    const first = await store.get("k");
    const second = await store.get("k");
    assert.notEqual(first, second);
    first.list.push(3);
    first.inner.x = 99;
    first.added = true;
    assert.deepEqual(await store.get("k"), { list: [1, 2], inner: { x: 1 } });
  });

  test("mutating the original after set does not change the stored value", async (t) => {
    const store = await open(t);
    const original = { a: [1] };
    const written = store.set("k", original);
    original.a.push(2); // before the set has even run
    original.b = 1;
    await written;
    assert.deepEqual(await store.get("k"), { a: [1] });
  });

  test("__proto__ and constructor keys read back as own data properties without polluting Object.prototype", async (t) => {
    const store = await open(t);
    const value = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted2": 1}}, "toString": 5}');
    await store.set("k", value);
    const back = await store.get("k");
    assert.deepEqual(Object.getOwnPropertyNames(back).sort(), ["__proto__", "constructor", "toString"]);
    assert.equal(Object.getPrototypeOf(back), Object.prototype, "prototype not replaced");
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, "__proto__").value, { polluted: "yes" });
    assert.deepEqual(back.constructor, { prototype: { polluted2: 1 } });
    assert.equal(back.toString, 5);
    assert.equal({}.polluted, undefined, "Object.prototype is not polluted");
    assert.equal({}.polluted2, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  });

  test("__proto__ and constructor work as keys", async (t) => {
    const store = await open(t);
    await store.set("__proto__", { a: 1 });
    await store.set("constructor", "c");
    assert.deepEqual(await store.get("__proto__"), { a: 1 });
    assert.equal(await store.get("constructor"), "c");
    assert.deepEqual(await store.keys(), ["__proto__", "constructor"]);
    assert.equal({}.a, undefined);
  });

  test("keys may hold any well-formed text: NUL, emoji, spaces, % and _", async (t) => {
    const store = await open(t);
    const keys = ["a\u0000b", "😀", " ", "50%_off", "é", "line\nbreak"];
    for (const [index, key] of keys.entries()) await store.set(key, index);
    for (const [index, key] of keys.entries()) assert.equal(await store.get(key), index, JSON.stringify(key));
    assert.equal(await store.get("a"), undefined, "a key is not truncated at NUL");
  });

  test("keys are case-sensitive", async (t) => {
    const store = await open(t);
    await store.set("Key", 1);
    await store.set("key", 2);
    assert.equal(await store.get("Key"), 1);
    assert.equal(await store.get("key"), 2);
    assert.equal(await store.get("KEY"), undefined);
  });

  test("a large value round-trips", async (t) => {
    const store = await open(t);
    const big = "x".repeat(1 << 20) + "😀";
    await store.set("big", big);
    assert.equal(await store.get("big"), big);
  });
});

describe("Uint8Array values", () => {
  test("a Uint8Array round-trips as a Uint8Array with the same bytes", async (t) => {
    const store = await open(t);
    const bytes = new Uint8Array([0, 1, 2, 127, 128, 255]);
    await store.set("bin", bytes);
    const back = await store.get("bin");
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back], [...bytes]);
  });

  test("an empty Uint8Array round-trips", async (t) => {
    const store = await open(t);
    await store.set("bin", new Uint8Array(0));
    const back = await store.get("bin");
    assert.ok(back instanceof Uint8Array);
    assert.equal(back.length, 0);
  });

  test("only the bytes of a view are stored, not its whole buffer", async (t) => {
    const store = await open(t);
    const buffer = new Uint8Array([9, 9, 1, 2, 3, 9]).buffer;
    await store.set("view", new Uint8Array(buffer, 2, 3));
    assert.deepEqual([...(await store.get("view"))], [1, 2, 3]);
  });

  test("a Buffer (a Uint8Array subclass) is stored as bytes", async (t) => {
    const store = await open(t);
    await store.set("buf", Buffer.from("hi"));
    const back = await store.get("buf");
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back], [104, 105]);
  });

  test("bytes are copied in and out", async (t) => {
    const store = await open(t);
    const bytes = new Uint8Array([1, 2, 3]);
    const written = store.set("bin", bytes);
    bytes[0] = 100;
    await written;
    const first = await store.get("bin");
    assert.deepEqual([...first], [1, 2, 3]);
    first[1] = 200;
    assert.deepEqual([...(await store.get("bin"))], [1, 2, 3]);
    assert.notEqual(first.buffer, (await store.get("bin")).buffer);
  });

  test(
    "a Uint8Array from another realm (vm context, iframe) is stored as bytes",
    async (t) => {
      const store = await open(t);
      await store.set("bin", vm.runInNewContext("new Uint8Array([1, 2, 3])"));
      const back = await store.get("bin");
      assert.equal(Object.prototype.toString.call(back), "[object Uint8Array]");
      assert.deepEqual([...back], [1, 2, 3]);
    },
  );

  test("a JSON value overwrites bytes and vice versa", async (t) => {
    const store = await open(t);
    await store.set("k", new Uint8Array([1]));
    await store.set("k", [1]);
    assert.deepEqual(await store.get("k"), [1]);
    await store.set("k", new Uint8Array([2]));
    assert.ok((await store.get("k")) instanceof Uint8Array);
  });
});

describe("has / delete", () => {
  test("has says whether a key is present", async (t) => {
    const store = await open(t);
    assert.equal(await store.has("k"), false);
    await store.set("k", null);
    assert.equal(await store.has("k"), true, "a null value is present");
    assert.equal(await store.has("K"), false);
  });

  test("delete resolves true when something was deleted, false otherwise", async (t) => {
    const store = await open(t);
    await store.set("k", 1);
    await store.set("other", 2);
    assert.equal(await store.delete("k"), true);
    assert.equal(await store.delete("k"), false);
    assert.equal(await store.delete("never"), false);
    assert.equal(await store.has("k"), false);
    assert.equal(await store.get("k"), undefined);
    assert.equal(await store.get("other"), 2, "other entries are untouched");
    assert.equal(await store.count(), 1);
  });
});

describe("mget", () => {
  test("returns values in the order of the keys, undefined for missing ones", async (t) => {
    const store = await open(t);
    await store.mset([["a", 1], ["b", "two"], ["c", { three: 3 }]]);
    assert.deepEqual(await store.mget(["c", "missing", "a", "b"]), [{ three: 3 }, undefined, 1, "two"]);
  });

  test("the result has one slot per key, including repeats and trailing misses", async (t) => {
    const store = await open(t);
    await store.set("a", 1);
    const result = await store.mget(["a", "a", "x", "y"]);
    assert.equal(result.length, 4);
    assert.deepEqual(result, [1, 1, undefined, undefined]);
  });

  test("an empty list gives an empty array", async (t) => {
    const store = await open(t);
    assert.deepEqual(await store.mget([]), []);
  });

  test("returns fresh copies", async (t) => {
    const store = await open(t);
    await store.set("a", { x: 1 });
    const [first, second] = await store.mget(["a", "a"]);
    assert.notEqual(first, second);
    first.x = 2;
    assert.deepEqual(await store.get("a"), { x: 1 });
  });
});

describe("mset", () => {
  const expected = { a: 1, b: "two", c: [3] };

  test("accepts a Map", async (t) => {
    const store = await open(t);
    assert.equal(await store.mset(new Map(Object.entries(expected))), undefined);
    assert.deepEqual(await store.mget(["a", "b", "c"]), [1, "two", [3]]);
  });

  test("accepts an array of [key, value] pairs", async (t) => {
    const store = await open(t);
    await store.mset(Object.entries(expected));
    assert.deepEqual(await store.mget(["a", "b", "c"]), [1, "two", [3]]);
  });

  test("accepts a plain object", async (t) => {
    const store = await open(t);
    await store.mset(expected);
    assert.deepEqual(await store.mget(["a", "b", "c"]), [1, "two", [3]]);
  });

  test("accepts an empty batch of every form", async (t) => {
    const store = await open(t);
    await store.mset(new Map());
    await store.mset([]);
    await store.mset({});
    assert.equal(await store.count(), 0);
  });

  test("a plain object with an own __proto__ key stores that key", async (t) => {
    const store = await open(t);
    await store.mset(JSON.parse('{"__proto__": 5, "x": 6}'));
    assert.equal(await store.get("__proto__"), 5);
    assert.equal(await store.get("x"), 6);
  });

  test("overwrites existing entries; a repeated key keeps its last value", async (t) => {
    const store = await open(t);
    await store.set("a", "old");
    await store.mset([["a", "new"], ["b", 1], ["b", 2]]);
    assert.deepEqual(await store.mget(["a", "b"]), ["new", 2]);
    assert.equal(await store.count(), 2);
  });

  test("stores Uint8Array values", async (t) => {
    const store = await open(t);
    await store.mset([["bin", new Uint8Array([7, 8])]]);
    const back = await store.get("bin");
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back], [7, 8]);
  });
});

describe("mdelete", () => {
  test("resolves to how many entries were deleted", async (t) => {
    const store = await open(t);
    await store.mset({ a: 1, b: 2, c: 3 });
    assert.equal(await store.mdelete(["a", "missing", "c"]), 2);
    assert.deepEqual(await store.keys(), ["b"]);
    assert.equal(await store.mdelete(["a", "c"]), 0);
    assert.equal(await store.mdelete([]), 0);
  });

  test("a key repeated in the list is counted once", async (t) => {
    const store = await open(t);
    await store.set("a", 1);
    assert.equal(await store.mdelete(["a", "a"]), 1);
    assert.equal(await store.count(), 0);
  });
});

describe("clear / count", () => {
  test("count follows inserts, overwrites and deletes", async (t) => {
    const store = await open(t);
    assert.equal(await store.count(), 0);
    await store.set("a", 1);
    await store.set("b", 1);
    await store.set("a", 2);
    assert.equal(await store.count(), 2);
    await store.delete("a");
    assert.equal(await store.count(), 1);
  });

  test("clear removes every entry", async (t) => {
    const store = await open(t);
    await store.mset({ a: 1, b: 2, c: new Uint8Array([1]) });
    assert.equal(await store.clear(), undefined);
    assert.equal(await store.count(), 0);
    assert.deepEqual(await store.keys(), []);
    assert.equal(await store.get("a"), undefined);
    assert.equal(await store.getCurrentCacheSize(), 0);
  });

  test("the store is usable after clear", async (t) => {
    const store = await open(t);
    await store.set("a", 1);
    await store.clear();
    await store.set("b", 2);
    assert.deepEqual(await store.keys(), ["b"]);
    assert.equal(await store.count(), 1);
  });
});

describe("keys", () => {
  test("returns every key, sorted by UTF-8 bytes (not UTF-16 code units)", async (t) => {
    const store = await open(t);
    // U+FFFF sorts before U+1F600 in UTF-8, after it in UTF-16.
    const keys = ["b", "a", "B", "é", "\uFFFF", "😀", "a\u0000", "aa", "~", "10", "9"];
    for (const key of keys) await store.set(key, 1);
    const expected = [...keys].sort(byUtf8);
    assert.deepEqual(await store.keys(), expected);
    assert.ok(expected.indexOf("\uFFFF") < expected.indexOf("😀"), "the test data tells the orders apart");
  });

  test("an empty store has no keys; {} and prefix '' list all", async (t) => {
    const store = await open(t);
    assert.deepEqual(await store.keys(), []);
    await store.mset({ x: 1, y: 2 });
    assert.deepEqual(await store.keys({}), ["x", "y"]);
    assert.deepEqual(await store.keys({ prefix: "" }), ["x", "y"]);
  });

  test("prefix is matched literally", async (t) => {
    const store = await open(t);
    const keys = ["a", "ab", "abc", "a%", "a%b", "a_", "a_b", "aXb", "A", "Ab", "a\u0000", "a\u0000b", "b", "%", "_"];
    for (const key of keys) await store.set(key, 1);
    const literal = (prefix) => keys.filter((key) => key.startsWith(prefix)).sort(byUtf8);
    for (const prefix of ["a", "ab", "a%", "a_", "%", "_", "A", "a\u0000", "zzz", "abc", "abcd"]) {
      assert.deepEqual(await store.keys({ prefix }), literal(prefix), `prefix ${JSON.stringify(prefix)}`);
    }
    // Spot checks that the expectations above are what they seem.
    assert.deepEqual(await store.keys({ prefix: "a%" }), ["a%", "a%b"]);
    assert.deepEqual(await store.keys({ prefix: "a_" }), ["a_", "a_b"]);
    assert.deepEqual(await store.keys({ prefix: "A" }), ["A", "Ab"]);
  });

  test("prefix works with multi-byte characters", async (t) => {
    const store = await open(t);
    for (const key of ["é", "éa", "ê", "e", "😀", "😀x", "😁"]) await store.set(key, 1);
    assert.deepEqual(await store.keys({ prefix: "é" }), ["é", "éa"]);
    assert.deepEqual(await store.keys({ prefix: "😀" }), ["😀", "😀x"]);
  });

  test("prefix works when its last character is the highest of its UTF-8 length", async (t) => {
    const store = await open(t);
    const keys = ["\u007f", "\u007fx", "\u0080", "\u00ff", "\u00ffa", "\u0100", "\uffff", "\uffffz", "\u{10000}", "\u{10FFFF}", "\u{10FFFF}a"];
    for (const key of keys) await store.set(key, 1);
    for (const prefix of ["\u007f", "\u00ff", "\uffff", "\u{10FFFF}"]) {
      const expected = keys.filter((key) => key.startsWith(prefix)).sort(byUtf8);
      assert.equal(expected.length, 2);
      assert.deepEqual(await store.keys({ prefix }), expected, `prefix U+${prefix.codePointAt(0).toString(16)}`);
    }
  });

  test("after is exclusive and need not be a stored key", async (t) => {
    const store = await open(t);
    await store.mset({ a: 1, b: 2, c: 3, d: 4 });
    assert.deepEqual(await store.keys({ after: "b" }), ["c", "d"]);
    assert.deepEqual(await store.keys({ after: "bb" }), ["c", "d"]);
    assert.deepEqual(await store.keys({ after: "d" }), []);
    assert.deepEqual(await store.keys({ after: "" }), ["a", "b", "c", "d"]);
  });

  test("limit caps the number of keys", async (t) => {
    const store = await open(t);
    await store.mset({ a: 1, b: 2, c: 3, d: 4 });
    assert.deepEqual(await store.keys({ limit: 1 }), ["a"]);
    assert.deepEqual(await store.keys({ limit: 3 }), ["a", "b", "c"]);
    assert.deepEqual(await store.keys({ limit: 100 }), ["a", "b", "c", "d"]);
  });

  test("prefix, after and limit combine to page through a prefix", async (t) => {
    const store = await open(t);
    const users = Array.from({ length: 7 }, (_, i) => `user:${i}`);
    await store.mset([...users.map((key) => [key, 1]), ["user", 1], ["users", 1], ["admin:1", 1]]);
    const pages = [];
    let after;
    for (;;) {
      const page = await store.keys({ prefix: "user:", limit: 3, ...(after === undefined ? {} : { after }) });
      if (page.length === 0) break;
      pages.push(page);
      after = page.at(-1);
    }
    assert.deepEqual(pages, [users.slice(0, 3), users.slice(3, 6), users.slice(6)]);
  });

  test("after outside the prefix range", async (t) => {
    const store = await open(t);
    await store.mset({ "p:1": 1, "p:2": 2, "q:1": 3 });
    assert.deepEqual(await store.keys({ prefix: "p:", after: "a" }), ["p:1", "p:2"]);
    assert.deepEqual(await store.keys({ prefix: "p:", after: "p:9" }), []);
  });

  test("keys reflects deletes", async (t) => {
    const store = await open(t);
    await store.mset({ a: 1, b: 2 });
    await store.delete("a");
    assert.deepEqual(await store.keys(), ["b"]);
  });
});
