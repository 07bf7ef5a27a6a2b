// Size accounting: getCurrentCacheSize() is always the sum of the sizes of the
// live entries, whether sizes are stated (`size`) or computed by default.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { open, jsonSize, totals, utf8, rejectsWith } from "./helpers.mjs";

describe("stated sizes", () => {
  test("the example from the README: 100 + 200, then delete the first", async (t) => {
    const store = await open(t);
    assert.equal(await store.getCurrentCacheSize(), 0);
    await store.set("component:react:button", { code: "..." }, { size: 100 });
    await store.set("block:react:dashboard-01", { code: "..." }, { size: 200 });
    assert.equal(await store.getCurrentCacheSize(), 300);
    assert.equal(await store.delete("component:react:button"), true);
    assert.equal(await store.getCurrentCacheSize(), 200);
  });

  test("size 0 is allowed and counts nothing", async (t) => {
    const store = await open(t);
    await store.set("k", "a long value that would otherwise count", { size: 0 });
    assert.deepEqual(await totals(store), { count: 1, size: 0 });
  });

  test("an overwrite replaces the old size, stated or default", async (t) => {
    const store = await open(t);
    await store.set("k", 1, { size: 500 });
    await store.set("k", 2, { size: 70 });
    assert.equal(await store.getCurrentCacheSize(), 70);
    await store.set("k", "abc");
    assert.equal(await store.getCurrentCacheSize(), jsonSize("k", "abc"));
    await store.set("k", "abc", { size: 9 });
    assert.equal(await store.getCurrentCacheSize(), 9);
  });

  test("a stated size up to maxSizeBytes is accepted; above it is VALUE_TOO_LARGE and writes nothing", async (t) => {
    const store = await open(t, { maxSizeBytes: 1000 });
    await store.set("fits", 1, { size: 1000 });
    assert.equal(await store.getCurrentCacheSize(), 1000);
    await store.delete("fits");
    await rejectsWith(() => store.set("big", 1, { size: 1001 }), "VALUE_TOO_LARGE");
    assert.equal(await store.has("big"), false);
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
  });

  test("a default size above maxSizeBytes is VALUE_TOO_LARGE", async (t) => {
    const store = await open(t, { maxSizeBytes: 10 });
    await rejectsWith(() => store.set("k", "0123456789"), "VALUE_TOO_LARGE"); // 1 + 12 bytes
    assert.equal(await store.has("k"), false);
  });
});

describe("default sizes", () => {
  test("key 'k' with value 'abc' is 1 + 5 bytes", async (t) => {
    const store = await open(t);
    await store.set("k", "abc");
    assert.equal(await store.getCurrentCacheSize(), 6);
  });

  test("UTF-8 bytes of the key plus bytes of the JSON text", async (t) => {
    const store = await open(t);
    const cases = [
      ["k", null],
      ["é", true],
      ["😀", 12345],
      ["key", -0.5],
      ["obj", { a: [1, 2, { b: "c" }], d: null }],
      ["unicode", "ü😀\n\"\\"],
      ["arr", []],
      ["empty", ""],
    ];
    for (const [key, value] of cases) {
      await store.clear();
      await store.set(key, value);
      assert.equal(await store.getCurrentCacheSize(), jsonSize(key, value), `${key}: ${JSON.stringify(value)}`);
    }
  });

  test(
    "large integral numbers are sized as their JSON.stringify text",
    async (t) => {
      const store = await open(t);
      for (const value of [1e15, 2 ** 53, -1e15, 123456789012345680000]) {
        await store.clear();
        await store.set("n", value);
        assert.equal(await store.getCurrentCacheSize(), jsonSize("n", value), String(value));
      }
    },
  );

  test("a Uint8Array counts its length", async (t) => {
    const store = await open(t);
    await store.set("bin", new Uint8Array(10));
    assert.equal(await store.getCurrentCacheSize(), 3 + 10);
    await store.set("view", new Uint8Array(new ArrayBuffer(100), 10, 5));
    assert.equal(await store.getCurrentCacheSize(), 3 + 10 + 4 + 5);
  });

  test("mset sizes each entry by default", async (t) => {
    const store = await open(t);
    const entries = { a: "abc", bb: [1, 2], ccc: new Uint8Array(7) };
    await store.mset(entries);
    assert.equal(await store.getCurrentCacheSize(), jsonSize("a", "abc") + jsonSize("bb", [1, 2]) + utf8("ccc") + 7);
  });
});

describe("the invariant across writes", () => {
  test("overwrites, deletes, mdelete and clear keep the total right", async (t) => {
    const store = await open(t);
    const sizes = new Map();
    const expectTotal = async (label) => {
      const expected = [...sizes.values()].reduce((sum, size) => sum + size, 0);
      assert.deepEqual(await totals(store), { count: sizes.size, size: expected }, label);
    };
    const set = async (key, value, size) => {
      await store.set(key, value, size === undefined ? undefined : { size });
      sizes.set(key, size ?? jsonSize(key, value));
    };

    await set("a", "x".repeat(50));
    await set("b", { n: 1 }, 1234);
    await set("c", [1, 2, 3]);
    await expectTotal("after inserts");
    await set("a", "short");
    await set("b", "now default");
    await set("c", null, 0);
    await expectTotal("after overwrites");
    await store.delete("a");
    sizes.delete("a");
    await expectTotal("after delete");
    await store.delete("a");
    await expectTotal("after deleting a missing key");
    await set("d", 1, 10);
    await set("e", 2, 20);
    assert.equal(await store.mdelete(["d", "zzz", "b"]), 2);
    sizes.delete("d");
    sizes.delete("b");
    await expectTotal("after mdelete");
    await store.mset({ f: "ff", c: "cc" });
    sizes.set("f", jsonSize("f", "ff"));
    sizes.set("c", jsonSize("c", "cc"));
    await expectTotal("after mset with an overwrite");
    await store.clear();
    sizes.clear();
    await expectTotal("after clear");
    await set("g", "again");
    await expectTotal("after a write following clear");
  });

  test("failed writes leave the total unchanged", async (t) => {
    const store = await open(t, { maxSizeBytes: 100, maxValueBytes: 50 });
    await store.set("k", "v", { size: 40 });
    const before = await totals(store);
    await rejectsWith(() => store.set("k", "v", { size: 101 }), "VALUE_TOO_LARGE");
    await rejectsWith(() => store.set("k", "x".repeat(60)), "VALUE_TOO_LARGE");
    await rejectsWith(() => store.set("k", () => 1), "INVALID_VALUE");
    await rejectsWith(() => store.mset([["a", 1], ["b", undefined]]), "INVALID_VALUE");
    assert.deepEqual(await totals(store), before);
    assert.equal(await store.get("k"), "v");
  });
});
