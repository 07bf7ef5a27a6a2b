// The two encoders of a value write the same bytes: `set` of a plainly
// storable value takes the facade's fast path (JSON.stringify, see
// js/plain-json.ts), `mset` always the core's encoder. Both are stored in a
// file and compared byte for byte with the sqlite3 CLI, with their sizes.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { sqlite3, tempDir } from "./file-helpers.mjs";

const nullPrototype = Object.assign(Object.create(null), { b: 2, a: [1] });
const VALUES = {
  "plain object": { id: 7, name: "item", tags: ["a", "b"], nested: { deep: [[], {}] } },
  "control characters": "\u0000\u0001\b\f\n\r\t\u001f\u007f \" \\ /",
  "line and paragraph separators": "\u2028\u2029",
  "non-ASCII and astral": "é€😀\u{10FFFF}",
  "integers": [0, -0, 1, -1, 2 ** 53, -(2 ** 53), 1e20, 1e21, 123456789012345680000],
  "fractions and exponents": [0.1 + 0.2, 1e-7, 5e-324, 1.7976931348623157e308, -1.5e-10, 1 / 3],
  "key order": { b: 1, a: 2, 10: 3, 2: 4, "-1": 5 },
  "__proto__ and constructor as data": JSON.parse('{"__proto__":{"x":1},"constructor":"c"}'),
  "null prototype": nullPrototype,
  "booleans and null": [true, false, null],
  "empty containers": [{}, []],
  "a bare string": "just text",
  "a bare number": 42.5,
  "deep nesting": JSON.parse(`${"[".repeat(120)}1${"]".repeat(120)}`),
};

test("set's fast path and the core's encoder store identical bytes and sizes", async (t) => {
  const file = path.join(tempDir(t, "encoding"), "encoding.sqlite");
  const store = await openStorage({ path: file });
  const fast = store.namespace("fast");
  const core = store.namespace("core");
  for (const [name, value] of Object.entries(VALUES)) {
    await fast.set(name, value);
    await core.mset([[name, value]]);
    assert.deepEqual(await fast.get(name), await core.get(name), name);
  }
  assert.equal(await fast.getCurrentCacheSize(), await core.getCurrentCacheSize());
  await store.dispose();
  const differ = sqlite3(
    file,
    `SELECT f.key FROM entries f JOIN entries c ON c.key = f.key AND c.ns = 'core'
     WHERE f.ns = 'fast' AND (f.value IS NOT c.value OR f.size IS NOT c.size OR f.kind IS NOT c.kind)`,
  );
  assert.equal(differ, "", "keys whose stored value differs between the two encoders");
  assert.equal(sqlite3(file, "SELECT count(*) FROM entries WHERE ns = 'fast'"), String(Object.keys(VALUES).length));
});

// Strings over 64 UTF-16 units cross into wasm through TextEncoder.encodeInto
// (scripts/wasm-factory.mjs), first into one byte per unit, then with room
// for the rest if a character is not ASCII; shorter ones through the glue's
// own loop. Keys and values on both sides of that length, with the first
// non-ASCII character before, at and after it, are stored byte for byte.
test("long strings cross into wasm intact, whatever their characters and where", async (t) => {
  const file = path.join(tempDir(t, "encoding"), "strings.sqlite");
  const texts = [
    "a".repeat(64),
    "a".repeat(100),
    "é".repeat(64),
    "é".repeat(100),
    `${"a".repeat(70)}é€😀${"b".repeat(70)}`,
    `${"x".repeat(65)}\u00ff`,
    "😀".repeat(40),
    "\u0000".repeat(80),
  ];
  const store = await openStorage({ path: file });
  for (const [index, text] of texts.entries()) {
    await store.set(`${text}:${index}`, text);
    await store.mset([[`batch:${text}:${index}`, { text }]]);
  }
  await store.dispose();
  const hex = (text) => Buffer.from(text, "utf8").toString("hex").toUpperCase();
  for (const [index, text] of texts.entries()) {
    for (const [key, json] of [[`${text}:${index}`, JSON.stringify(text)], [`batch:${text}:${index}`, JSON.stringify({ text })]]) {
      const stored = sqlite3(file, `SELECT hex(value) || ' ' || size FROM entries WHERE hex(key) = '${hex(key)}'`);
      assert.equal(stored, `${hex(json)} ${Buffer.byteLength(key) + Buffer.byteLength(json)}`, `entry ${index}: ${key.slice(0, 20)}`);
    }
  }
});
