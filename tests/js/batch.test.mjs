// Batches: mset is all or nothing, and maxBatchSize bounds mset/mget/mdelete.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { open, rejectsWith, totals } from "./helpers.mjs";

const cycle = () => {
  const value = { name: "loop" };
  value.self = value;
  return value;
};

/** The three shapes mset accepts, built from a list of [key, value] pairs. */
const shapes = {
  "array of pairs": (pairs) => pairs,
  Map: (pairs) => new Map(pairs),
  "plain object": (pairs) => Object.fromEntries(pairs),
};

/** A store holding a little data, with its totals and content to compare against later. */
async function seededStore(t, options) {
  const store = await open(t, options);
  await store.mset({ existing: "before", other: [1, 2, 3] });
  return { store, before: await totals(store), keysBefore: await store.keys() };
}

/** Asserts that nothing about the store changed since `seededStore`. */
async function assertUnchanged({ store, before, keysBefore }, label) {
  assert.deepEqual(await totals(store), before, `${label}: count and size`);
  assert.deepEqual(await store.keys(), keysBefore, `${label}: keys`);
  assert.deepEqual(await store.mget(["existing", "other"]), ["before", [1, 2, 3]], `${label}: values`);
}

describe("mset is all or nothing", () => {
  const invalidValues = {
    function: () => 1,
    cycle: cycle(),
    BigInt: 10n,
    undefined: undefined,
    "nested undefined": { a: undefined },
    NaN: NaN,
    Date: new Date(0),
  };

  for (const [shape, build] of Object.entries(shapes)) {
    for (const [label, bad] of Object.entries(invalidValues)) {
      test(`${shape} with ${label} in the middle: INVALID_VALUE and nothing written`, async (t) => {
        const seeded = await seededStore(t);
        const pairs = [["first", 1], ["existing", "overwritten"], ["middle", bad], ["last", 3]];
        await rejectsWith(() => seeded.store.mset(build(pairs)), "INVALID_VALUE");
        await assertUnchanged(seeded, label);
        assert.deepEqual(await seeded.store.mget(["first", "middle", "last"]), [undefined, undefined, undefined]);
      });
    }
  }

  test("the error names the entry at fault", async (t) => {
    const { store } = await seededStore(t);
    const error = await rejectsWith(
      () => store.mset([["a", 1], ["b", 2], ["the-bad-one", () => 3]]),
      "INVALID_VALUE",
    );
    assert.match(error.message, /\b2\b|the-bad-one/);
  });

  test("an invalid key in the middle: INVALID_KEY and nothing written", async (t) => {
    for (const badKey of ["", "\uD800", "x".repeat(2000)]) {
      const seeded = await seededStore(t);
      const pairs = [["first", 1], ["existing", "overwritten"], [badKey, 2], ["last", 3]];
      for (const [shape, build] of Object.entries(shapes)) {
        await rejectsWith(() => seeded.store.mset(build(pairs)), "INVALID_KEY").catch((error) => {
          error.message = `${shape}, key of length ${badKey.length}: ${error.message}`;
          throw error;
        });
        await assertUnchanged(seeded, shape);
      }
    }
  });

  test("a non-string key in a Map or an array of pairs: INVALID_KEY and nothing written, naming the index", async (t) => {
    const seeded = await seededStore(t);
    const pairs = [["first", 1], [42, 2], ["last", 3]];
    await rejectsWith(() => seeded.store.mset(pairs), "INVALID_KEY", /\b1\b/);
    await rejectsWith(() => seeded.store.mset(new Map(pairs)), "INVALID_KEY", /\b1\b/);
    await assertUnchanged(seeded, "non-string key");
  });

  test("a value over maxValueBytes in the middle: VALUE_TOO_LARGE and nothing written", async (t) => {
    const seeded = await seededStore(t, { maxValueBytes: 20 });
    for (const build of Object.values(shapes)) {
      const pairs = [["first", 1], ["big", "x".repeat(30)], ["last", 3]];
      await rejectsWith(() => seeded.store.mset(build(pairs)), "VALUE_TOO_LARGE");
    }
    await assertUnchanged(seeded, "too large");
  });

  test(
    "entries that are neither a Map, an array nor a plain object are INVALID_ARGUMENT",
    async (t) => {
      const seeded = await seededStore(t);
      class Entries {
        constructor() {
          this.a = 1;
        }
      }
      for (const entries of [new Set([["a", 1]]), new Date(0), new Entries()]) {
        await rejectsWith(() => seeded.store.mset(entries), "INVALID_ARGUMENT");
      }
      await assertUnchanged(seeded, "non-plain entries");
    },
  );

  test("a malformed pair in the middle: INVALID_ARGUMENT and nothing written", async (t) => {
    const seeded = await seededStore(t);
    await rejectsWith(() => seeded.store.mset([["first", 1], ["lonely"], ["last", 3]]), "INVALID_ARGUMENT");
    await assertUnchanged(seeded, "malformed pair");
  });

  test("a rejected batch leaves the store usable and a valid batch then writes everything", async (t) => {
    const seeded = await seededStore(t);
    await rejectsWith(() => seeded.store.mset([["a", 1], ["b", 1n]]), "INVALID_VALUE");
    await seeded.store.mset([["a", 1], ["b", 2]]);
    assert.deepEqual(await seeded.store.mget(["a", "b"]), [1, 2]);
    assert.equal(await seeded.store.count(), seeded.before.count + 2);
  });
});

describe("maxBatchSize", () => {
  const pairs = (n) => Array.from({ length: n }, (_, i) => [`k${i}`, i]);
  const keys = (n) => pairs(n).map(([key]) => key);

  for (const [shape, build] of Object.entries(shapes)) {
    test(`mset (${shape}) over maxBatchSize: BATCH_TOO_LARGE naming maxBatchSize, nothing written`, async (t) => {
      const seeded = await seededStore(t, { maxBatchSize: 3 });
      await rejectsWith(() => seeded.store.mset(build(pairs(4))), "BATCH_TOO_LARGE", /maxBatchSize/);
      await assertUnchanged(seeded, shape);
      await seeded.store.mset(build(pairs(3)));
      assert.equal(await seeded.store.count(), seeded.before.count + 3, "exactly maxBatchSize is fine");
    });
  }

  test("mget over maxBatchSize: BATCH_TOO_LARGE; exactly maxBatchSize is fine", async (t) => {
    const store = await open(t, { maxBatchSize: 3 });
    await rejectsWith(() => store.mget(keys(4)), "BATCH_TOO_LARGE", /maxBatchSize/);
    assert.deepEqual(await store.mget(keys(3)), [undefined, undefined, undefined]);
  });

  test("mdelete over maxBatchSize: BATCH_TOO_LARGE and nothing deleted; exactly maxBatchSize is fine", async (t) => {
    const store = await open(t, { maxBatchSize: 3 });
    await store.mset(pairs(3));
    await store.set("k3", 3);
    await rejectsWith(() => store.mdelete(keys(4)), "BATCH_TOO_LARGE", /maxBatchSize/);
    assert.equal(await store.count(), 4);
    assert.equal(await store.mdelete(keys(3)), 3);
    assert.deepEqual(await store.keys(), ["k3"]);
  });

  test("the default maxBatchSize is 10000", async (t) => {
    const store = await open(t);
    await store.mset(pairs(10_000));
    assert.equal(await store.count(), 10_000);
    await rejectsWith(() => store.mget(keys(10_001)), "BATCH_TOO_LARGE");
    await rejectsWith(() => store.mset(pairs(10_001)), "BATCH_TOO_LARGE");
    assert.equal(await store.count(), 10_000);
  });

  test("maxBatchSize does not limit count, keys or clear", async (t) => {
    const store = await open(t, { maxBatchSize: 2 });
    await store.mset(pairs(2));
    await store.mset([["a", 1], ["b", 2]]);
    assert.equal(await store.count(), 4);
    assert.equal((await store.keys()).length, 4);
    await store.clear();
    assert.equal(await store.count(), 0);
  });
});
