// The flat paths across the wasm boundary: mset of plain values as one JSON
// text (js/plain-json.ts plainJsonEntries), get and mget answered with the
// stored JSON text that the facade parses (js/stored.ts), getOrSet's write as
// JSON text, mget's and mdelete's keys as one text (js/flat-keys.ts). Each
// stores and returns exactly what the core's own encoder does.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import * as vm from "node:vm";
import { openStorage } from "larderdb";
import { open, rejectsWith } from "./helpers.mjs";
import { sqlite3, tempDir } from "./file-helpers.mjs";

const PLAIN = [
  ["object", { id: 7, name: "Ada", tags: ["a", "b"], nested: { deep: [[], {}], n: null } }],
  ["non-ASCII key é😀", "value é€😀\u{10FFFF} \u2028 \u0000"],
  ["number", -1.5e-7],
  ["negative zero", -0],
  ["__proto__ as data", JSON.parse('{"__proto__":{"x":1},"constructor":"c"}')],
  ["null prototype", Object.assign(Object.create(null), { b: 2, a: [1] })],
  ["null", null],
  ["deep", JSON.parse(`${"[".repeat(120)}1${"]".repeat(120)}`)],
];

/** A key whose Uint8Array value makes a batch take the core's encoder. */
const BYTES_KEY = "bytes";

test("an mset of plain values stores the bytes and sizes the core's encoder stores, in every entries shape", async (t) => {
  const file = path.join(tempDir(t, "flat"), "flat.sqlite");
  const store = await openStorage({ path: file });
  const shapes = { pairs: (pairs) => pairs, map: (pairs) => new Map(pairs), object: Object.fromEntries };
  for (const [shape, make] of Object.entries(shapes)) {
    await store.namespace(`flat ${shape}`).mset(make(PLAIN));
  }
  const core = store.namespace("core");
  await core.mset([...PLAIN, [BYTES_KEY, new Uint8Array([1])]]);
  await core.delete(BYTES_KEY);
  const keys = PLAIN.map(([key]) => key);
  const expected = await core.mget(keys);
  for (const shape of Object.keys(shapes)) {
    const flat = store.namespace(`flat ${shape}`);
    assert.deepEqual(await flat.mget(keys), expected, shape);
    assert.equal(await flat.getCurrentCacheSize(), await core.getCurrentCacheSize(), shape);
  }
  await store.dispose();
  const differ = sqlite3(
    file,
    `SELECT f.ns || ' ' || f.key FROM entries f JOIN entries c ON c.key = f.key AND c.ns = 'core'
     WHERE f.ns LIKE 'flat %' AND (f.value IS NOT c.value OR f.size IS NOT c.size OR f.kind IS NOT c.kind)`,
  );
  assert.equal(differ, "", "entries whose stored value differs from the core encoder's");
  assert.equal(sqlite3(file, "SELECT count(*) FROM entries WHERE ns LIKE 'flat %'"), String(PLAIN.length * 3));
});

test("mget answers missing keys, repeated keys and every kind in order, with no holes", async (t) => {
  const store = await open(t);
  await store.mset([...PLAIN, ["bin", new Uint8Array([1, 2, 255])], ["empty bin", new Uint8Array(0)]]);
  const keys = ["missing", "bin", ...PLAIN.map(([key]) => key), "empty bin", "bin", "missing too"];
  const values = await store.mget(keys);
  assert.equal(Object.keys(values).length, keys.length, "every index is set");
  assert.deepEqual(values, [
    undefined,
    new Uint8Array([1, 2, 255]),
    ...PLAIN.map(([, value]) => JSON.parse(JSON.stringify(value))),
    new Uint8Array(0),
    new Uint8Array([1, 2, 255]),
    undefined,
  ]);
  assert.notEqual(values[1], values[keys.length - 2], "each read of bytes is its own copy");
  assert.notEqual(values[1].buffer, values[keys.length - 2].buffer);
  values[2].name = "changed";
  assert.equal((await store.get("object")).name, "Ada", "each read of JSON is its own copy");
  assert.deepEqual(await store.mget(["missing"]), [undefined]);
  assert.deepEqual(await store.mget([]), []);
});

test("a batch that is not all plain JSON takes the core's encoder, with its refusals, all or nothing", async (t) => {
  const store = await open(t);
  await store.mset([["plain", { a: 1 }], ["bin", new Uint8Array([9])], ["foreign", vm.runInNewContext("[1, 2]")]]);
  assert.deepEqual(await store.mget(["plain", "bin", "foreign"]), [{ a: 1 }, new Uint8Array([9]), [1, 2]]);
  await rejectsWith(
    () => store.mset([["x", 1], ["date", new Date(0)], ["bin2", new Uint8Array(1)]]),
    "INVALID_VALUE",
    /entries\[1\] \(key "date"\): value is an instance of Date/,
  );
  await rejectsWith(() => store.mset([["y", 1], ["", 2]]), "INVALID_KEY", /entries\[1\] key must not be empty/);
  await rejectsWith(() => store.mset([["y", 1], ["\uD800", 2]]), "INVALID_KEY", /lone surrogate/);
  assert.deepEqual(await store.keys(), ["bin", "foreign", "plain"], "no refused batch wrote anything");
});

test("values at maxValueBytes are stored by a flat mset; one byte more refuses the whole batch", async (t) => {
  const store = await open(t, { maxValueBytes: 1000, maxKeyBytes: 8 });
  const atLimit = "é".repeat(499); // 998 UTF-8 bytes, 1000 with its quotes
  await store.mset([["limit", atLimit], ["ascii", "x".repeat(998)]]);
  assert.deepEqual(await store.mget(["limit", "ascii"]), [atLimit, "x".repeat(998)]);
  await rejectsWith(
    () => store.mset([["ok", 1], ["over", `${atLimit}é`]]),
    "VALUE_TOO_LARGE",
    /entries\[1\] \(key "over"\): the encoded value is over 1002 bytes/,
  );
  await rejectsWith(() => store.mset([["ok", 1], ["huge", "x".repeat(1 << 20)]]), "VALUE_TOO_LARGE");
  await rejectsWith(() => store.mset([["ok", 1], ["ééééé", 2]]), "INVALID_KEY", /entries\[1\] key is 10 UTF-8 bytes/);
  assert.deepEqual(await store.keys(), ["ascii", "limit"]);
});

test("getOrSet stores a plain loader result as JSON text; each caller gets its own copy", async (t) => {
  const store = await open(t);
  const loaded = { list: ["é😀", 1] };
  const [first, second] = await Promise.all([
    store.getOrSet("k", async () => loaded),
    store.getOrSet("k", () => assert.fail("a second loader ran")),
  ]);
  assert.deepEqual([first, second], [loaded, loaded]);
  assert.notEqual(first, second);
  assert.notEqual(first, loaded);
  assert.deepEqual(await store.getOrSet("k", () => assert.fail("a loader ran on a hit")), loaded);
  const bytes = await Promise.all([store.getOrSet("b", () => new Uint8Array([4])), store.getOrSet("b", () => 0)]);
  assert.deepEqual(bytes, [new Uint8Array([4]), new Uint8Array([4])]);
  assert.notEqual(bytes[0].buffer, bytes[1].buffer);
  await rejectsWith(() => store.getOrSet("nan", () => NaN), "INVALID_VALUE", /loader for key "nan"/);
});

test("a stored JSON text that does not parse reads as CORRUPT, from get and from mget", async (t) => {
  const file = path.join(tempDir(t, "flat-corrupt"), "store.sqlite");
  const setup = await openStorage({ path: file });
  await setup.mset([["a", { x: 1 }], ["b", "kept"]]);
  await setup.dispose();
  sqlite3(file, "UPDATE entries SET value = CAST('{\"x\":' AS BLOB) WHERE key = 'a'");
  const store = await openStorage({ path: file });
  t.after(() => store.dispose());
  await rejectsWith(() => store.get("a"), "CORRUPT", /not valid JSON/);
  await rejectsWith(() => store.mget(["b", "a"]), "CORRUPT", /not valid JSON/);
  assert.deepEqual(await store.mget(["b"]), ["kept"]);
});

for (const [call, answer] of [["mget", [1, undefined, 2]], ["mdelete", 2]]) {
  test(`${call}'s keys cross flat when all are well-formed strings, refused exactly as key by key, each element read once`, async (t) => {
    const store = await open(t, { maxKeyBytes: 8, maxBatchSize: 4 });
    await store.mset([["a", 1], ["é😀", 2]]);
    const refusal = (keys) =>
      store[call](keys).then(
        () => assert.fail(`${call}(${JSON.stringify(keys)}) resolved`),
        (error) => `${error.code}: ${error.message}`,
      );
    // The same fault flat (strings only) and key by key (a number, after the
    // fault, sends the array to the core as it is).
    for (const keys of [["a", ""], ["a", "ééééé"], ["a", "b", "c", "d", "e"]]) {
      const flat = await refusal(keys);
      assert.equal(await refusal([...keys.slice(0, 4), 7]), flat, JSON.stringify(keys));
    }
    assert.match(await refusal(["a", ""]), /^INVALID_KEY: keys\[1\] must not be empty/);
    assert.match(await refusal(["a", "ééééé"]), /^INVALID_KEY: keys\[1\] is 10 UTF-8 bytes/);
    assert.match(await refusal(["a", "b", "c", "d", "e"]), /^BATCH_TOO_LARGE/);
    let reads = 0;
    const keys = ["a", "missing"];
    Object.defineProperty(keys, 2, { enumerable: true, get: () => (reads += 1, "é😀") });
    assert.deepEqual(await store[call](keys), answer);
    assert.equal(reads, 1, "a getter element is read once");
  });
}
