// Cache semantics: expiry at its exact boundary, a clock that goes backwards,
// purgeExpired, and least-recently-used eviction under maxSizeBytes (which
// calls refresh recency, minimal eviction, VALUE_TOO_LARGE leaving everything
// unchanged, and one budget shared by every namespace).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { open, manualClock, totals, jsonSize, utf8, rejectsWith, seededRandom, SUITE_TIMEOUT_MS } from "./helpers.mjs";

const T0 = 1_000_000;

/** A store with a manual clock starting at T0. */
async function timedStore(t, options = {}) {
  const clock = manualClock(T0);
  const store = await open(t, { clock, ...options });
  return { store, clock };
}

/**
 * Everything every reader reports about `key`, plus the store's totals. Reads
 * with `get`/`mget` refresh recency, so use this only where LRU does not matter.
 */
async function seen(store, key) {
  return {
    get: await store.get(key),
    has: await store.has(key),
    mget: (await store.mget([key]))[0],
    listed: (await store.keys()).includes(key),
    count: await store.count(),
    size: await store.getCurrentCacheSize(),
  };
}

/** A string value that makes `key`'s default size exactly `size` bytes. */
function valueOfSize(key, size) {
  const value = "x".repeat(size - utf8(key) - 2);
  assert.equal(jsonSize(key, value), size, `cannot make ${key} ${size} bytes`);
  return value;
}

/** Sets each [key, size] in turn (stated sizes, value = the key). */
async function fill(store, entries) {
  for (const [key, size] of entries) await store.set(key, key, { size });
}

/**
 * Live keys, values and totals: everything a failed write must leave as it
 * was. Reads every live key with mget, in key order (which refreshes recency).
 */
async function snapshot(store) {
  const keys = await store.keys();
  return { keys, values: await store.mget(keys), ...(await totals(store)) };
}

describe("expiry at the exact boundary", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("ttlMs 100 written at T: every read sees it at T+99 and none at T+100", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", "v", { ttlMs: 100 });
    const size = jsonSize("k", "v");
    clock.advance(99);
    assert.deepEqual(await seen(store, "k"), { get: "v", has: true, mget: "v", listed: true, count: 1, size });
    clock.advance(1);
    assert.deepEqual(await seen(store, "k"), {
      get: undefined,
      has: false,
      mget: undefined,
      listed: false,
      count: 0,
      size: 0,
    });
  });

  test("the reads agree at the boundary one by one, not only in a batch", async (t) => {
    // Each read checked first at the boundary instant, on a fresh entry, so
    // that no earlier read (which could remove or refresh it) hides a disagreement.
    const readers = {
      get: async (store) => (await store.get("k")) !== undefined,
      has: (store) => store.has("k"),
      mget: async (store) => (await store.mget(["k"]))[0] !== undefined,
      keys: async (store) => (await store.keys({ prefix: "k" })).length === 1,
      count: async (store) => (await store.count()) === 1,
      getCurrentCacheSize: async (store) => (await store.getCurrentCacheSize()) > 0,
    };
    for (const [name, read] of Object.entries(readers)) {
      const { store, clock } = await timedStore(t);
      await store.set("k", 1, { ttlMs: 50 });
      clock.advance(49);
      assert.equal(await read(store), true, `${name} at T+49`);
      clock.advance(1);
      assert.equal(await read(store), false, `${name} at T+50`);
    }
  });

  test("a fractional ttlMs expires once the whole of it has passed", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: 99.5 });
    clock.advance(99);
    assert.equal(await store.has("k"), true, "99 ms < 99.5 ms");
    clock.advance(1);
    assert.equal(await store.has("k"), false, "100 ms > 99.5 ms");
  });

  test("entries expiring at different instants leave count and size one at a time", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("a", 1, { ttlMs: 10, size: 1 });
    await store.set("b", 1, { ttlMs: 20, size: 10 });
    await store.mset({ c: 1 }, { ttlMs: 30 });
    await store.set("forever", 1, { size: 1000 });
    const c = jsonSize("c", 1);
    const expected = [
      [9, 4, 1011 + c],
      [10, 3, 1010 + c],
      [19, 3, 1010 + c],
      [20, 2, 1000 + c],
      [29, 2, 1000 + c],
      [30, 1, 1000],
    ];
    for (const [at, count, size] of expected) {
      clock.now = T0 + at;
      assert.deepEqual(await totals(store), { count, size }, `at T+${at}`);
    }
    assert.deepEqual(await store.keys(), ["forever"]);
  });

  test("defaultTtlMs has the same boundary, and the TTL counts from the write", async (t) => {
    const { store, clock } = await timedStore(t, { defaultTtlMs: 100 });
    clock.advance(1000);
    await store.set("k", 1);
    clock.advance(99);
    assert.equal(await store.get("k"), 1);
    clock.advance(1);
    assert.equal(await store.get("k"), undefined);
  });
});

describe("a clock that goes backwards", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("never brings an expired entry back", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", "v", { ttlMs: 100 });
    await store.set("other", 1);
    clock.advance(100);
    assert.equal(await store.has("k"), false);
    for (const back of [1, 50, 100, 10_000]) {
      clock.now = T0 + 100 - back;
      assert.deepEqual(
        await seen(store, "k"),
        { get: undefined, has: false, mget: undefined, listed: false, count: 1, size: jsonSize("other", 1) },
        `clock moved back by ${back} ms`,
      );
    }
    assert.equal(await store.purgeExpired(), 1, "it is still expired for purgeExpired");
  });

  test("an entry that expired while nobody looked stays expired when the clock goes back", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", "v", { ttlMs: 100 });
    clock.advance(500);
    assert.equal(await store.count(), 0, "the store saw T+500");
    clock.now = T0 + 1;
    assert.equal(await store.get("k"), undefined);
    assert.equal(await store.count(), 0);
  });

  test("a TTL written while the clock is behind counts from the latest time the store saw", async (t) => {
    const { store, clock } = await timedStore(t);
    clock.advance(500);
    assert.equal(await store.count(), 0); // the store sees T+500
    clock.now = T0; // back by 500 ms
    await store.set("k", 1, { ttlMs: 100 }); // written at T+500 for the store: expires at T+600
    clock.now = T0 + 550;
    assert.equal(await store.get("k"), 1, "at T+550 it has lived 50 ms of its 100");
    clock.now = T0 + 599;
    assert.equal(await store.has("k"), true);
    clock.now = T0 + 600;
    assert.equal(await store.has("k"), false);
  });

  test("a random walk of the clock: visibility always follows the latest time seen", async (t) => {
    const { store, clock } = await timedStore(t);
    const random = seededRandom(0x5eed);
    const keys = ["a", "b", "c", "d", "e"];
    const expiry = new Map(); // key -> expires at (store time)
    let latest = T0;
    for (let step = 0; step < 300; step += 1) {
      let op;
      if (random.chance(0.4)) {
        const key = random.pick(keys);
        const ttlMs = random.int(1, 200);
        op = `set ${key} ttlMs ${ttlMs} with the clock at ${clock.now - T0}`;
        latest = Math.max(latest, clock.now);
        await store.set(key, step, { ttlMs });
        expiry.set(key, latest + ttlMs);
      } else {
        const delta = random.int(-250, 150);
        op = `clock ${delta >= 0 ? "+" : ""}${delta}`;
        clock.advance(delta);
      }
      latest = Math.max(latest, clock.now);
      const live = keys.filter((key) => expiry.has(key) && expiry.get(key) > latest);
      assert.deepEqual(await store.keys(), live, `step ${step} (${op}): keys`);
      assert.equal(await store.count(), live.length, `step ${step} (${op}): count`);
      const probe = random.pick(keys);
      assert.equal(await store.has(probe), live.includes(probe), `step ${step} (${op}): has ${probe}`);
    }
  });
});

describe("purgeExpired", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("removes exactly the expired entries and returns how many", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.mset({ e1: 1, e2: 2 }, { ttlMs: 10 });
    await store.set("e3", 3, { ttlMs: 20, size: 77 });
    await store.set("later", 4, { ttlMs: 1000 });
    await store.set("forever", 5);
    clock.advance(20);
    const before = await totals(store);
    assert.equal(before.count, 2);
    assert.equal(await store.purgeExpired(), 3);
    assert.deepEqual(await totals(store), before, "live totals do not change");
    assert.deepEqual(await store.keys(), ["forever", "later"]);
    assert.deepEqual(await store.mget(["later", "forever"]), [4, 5]);
    assert.equal(await store.purgeExpired(), 0, "nothing is left to purge");
  });

  test("returns 0 when nothing has expired, including at T+ttl-1", async (t) => {
    const { store, clock } = await timedStore(t);
    assert.equal(await store.purgeExpired(), 0, "empty store");
    await store.set("k", 1, { ttlMs: 100 });
    clock.advance(99);
    assert.equal(await store.purgeExpired(), 0);
    assert.equal(await store.get("k"), 1);
    clock.advance(1);
    assert.equal(await store.purgeExpired(), 1, "at T+ttl it has expired");
    assert.equal(await store.count(), 0);
  });

  test("does not count entries already removed by delete, overwrite, invalidate or clear", async (t) => {
    // (Writes may also remove expired entries on the side, so only removals
    // are checked here: nothing expired is left for purgeExpired to count.)
    const { store, clock } = await timedStore(t);
    await store.mset({ deleted: 1, overwritten: 2, "p:invalidated": 3 }, { ttlMs: 10 });
    clock.advance(10);
    assert.equal(await store.delete("deleted"), false, "an expired entry is not reported as deleted");
    await store.set("overwritten", "new");
    assert.equal(await store.invalidate({ prefix: "p:" }), 0, "an expired entry is not counted as invalidated");
    assert.equal(await store.purgeExpired(), 0);
    assert.deepEqual(await store.keys(), ["overwritten"]);
    await store.set("x", 1, { ttlMs: 5 });
    clock.advance(5);
    await store.clear();
    assert.equal(await store.purgeExpired(), 0);
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
  });

  test("an entry purged while the clock was ahead stays gone when it goes back", async (t) => {
    const { store, clock } = await timedStore(t);
    await store.set("k", 1, { ttlMs: 10 });
    clock.advance(10);
    assert.equal(await store.purgeExpired(), 1);
    clock.now = T0;
    assert.equal(await store.get("k"), undefined);
    assert.equal(await store.purgeExpired(), 0);
  });
});

describe("LRU eviction order", { timeout: SUITE_TIMEOUT_MS }, () => {
  // Four 25-byte entries fill a 100-byte budget; a fifth 25-byte write must
  // evict exactly one entry: the least recently used one.
  const four = [
    ["a", 25],
    ["b", 25],
    ["c", 25],
    ["d", 25],
  ];

  async function fullStore(t) {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, four);
    return store;
  }

  test("with no reads, the oldest write goes first, one per write", async (t) => {
    const store = await fullStore(t);
    await store.set("e", 1, { size: 25 });
    assert.deepEqual(await store.keys(), ["b", "c", "d", "e"]);
    await store.set("f", 1, { size: 25 });
    assert.deepEqual(await store.keys(), ["c", "d", "e", "f"]);
    assert.deepEqual(await totals(store), { count: 4, size: 100 });
  });

  const refreshers = {
    "get": (store) => store.get("a"),
    "mget": (store) => store.mget(["a"]),
    "mget among other keys": (store) => store.mget(["missing", "a", "missing-too"]),
    "getOrSet hit": async (store) => {
      let calls = 0;
      assert.equal(await store.getOrSet("a", () => (calls += 1)), "a");
      assert.equal(calls, 0, "a hit does not call the loader");
    },
    "set (overwrite)": (store) => store.set("a", "a2", { size: 25 }),
    "mset (overwrite)": (store) => store.mset([["a", "a2"]]),
  };

  for (const [name, refresh] of Object.entries(refreshers)) {
    test(`${name} refreshes recency: the next oldest is evicted instead`, async (t) => {
      const store = await fullStore(t);
      await refresh(store);
      const aSize = (await store.getCurrentCacheSize()) - 75;
      await store.set("e", 1, { size: 25 });
      const survivors = await store.keys();
      assert.ok(survivors.includes("a"), `a was refreshed by ${name} and must survive: ${survivors}`);
      assert.ok(!survivors.includes("b"), `b is now the least recently used: ${survivors}`);
      // Minimal: only as many of b, c, d as needed went.
      let live = aSize + 75 + 25;
      const expected = ["a", "b", "c", "d", "e"];
      for (const victim of ["b", "c", "d"]) {
        if (live <= 100) break;
        expected.splice(expected.indexOf(victim), 1);
        live -= 25;
      }
      assert.deepEqual(survivors, expected);
    });
  }

  const nonRefreshers = {
    "has": (store) => store.has("a"),
    "keys": (store) => store.keys(),
    "keys with prefix a": (store) => store.keys({ prefix: "a" }),
    "count": (store) => store.count(),
    "getCurrentCacheSize": (store) => store.getCurrentCacheSize(),
    "purgeExpired": (store) => store.purgeExpired(),
    "invalidate of another prefix": (store) => store.invalidate({ prefix: "zz" }),
    "delete of a missing key": (store) => store.delete("zz"),
  };

  for (const [name, call] of Object.entries(nonRefreshers)) {
    test(`${name} does not refresh recency: the oldest is still evicted first`, async (t) => {
      const store = await fullStore(t);
      await call(store);
      await store.set("e", 1, { size: 25 });
      assert.deepEqual(await store.keys(), ["b", "c", "d", "e"]);
    });
  }

  test("mget refreshes in the order of its keys", async (t) => {
    const store = await fullStore(t);
    await store.mget(["b", "a"]); // order now: c, d, b, a
    await store.set("e", 1, { size: 50 });
    assert.deepEqual(await store.keys(), ["a", "b", "e"]);
    await store.set("f", 1, { size: 25 }); // b is the oldest now
    assert.deepEqual(await store.keys(), ["a", "e", "f"]);
  });

  test("several reads: the most recent read is the most recent use", async (t) => {
    const store = await fullStore(t);
    await store.get("c");
    await store.get("a");
    await store.get("b");
    await store.get("c"); // order now: d, a, b, c
    for (const [next, survivors] of [
      ["e", ["a", "b", "c", "e"]],
      ["f", ["b", "c", "e", "f"]],
      ["g", ["c", "e", "f", "g"]],
      ["h", ["e", "f", "g", "h"]],
    ]) {
      await store.set(next, 1, { size: 25 });
      assert.deepEqual(await store.keys(), survivors, `after writing ${next}`);
    }
  });

  test("a get of an expired entry does not make it a survivor, nor refresh anything", async (t) => {
    const clock = manualClock(T0);
    const store = await open(t, { maxSizeBytes: 100, clock });
    await store.set("gone", 1, { size: 25, ttlMs: 10 });
    await fill(store, [["a", 25], ["b", 25], ["c", 25]]);
    clock.advance(10);
    assert.equal(await store.get("gone"), undefined);
    await store.set("d", 1, { size: 25 }); // 100 live bytes: fits without evicting
    assert.deepEqual(await store.keys(), ["a", "b", "c", "d"]);
    await store.set("e", 1, { size: 25 });
    assert.deepEqual(await store.keys(), ["b", "c", "d", "e"]);
  });

  test("the recency of a read survives a write that was rejected", async (t) => {
    const store = await fullStore(t);
    await store.get("a");
    await rejectsWith(() => store.mset({ x: valueOfSize("x", 60), y: valueOfSize("y", 60) }), "VALUE_TOO_LARGE");
    await store.set("e", 1, { size: 25 });
    assert.deepEqual(await store.keys(), ["a", "c", "d", "e"]);
  });
});

describe("minimal eviction", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("evicts in LRU order only until the live total fits: exact survivors", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 10], ["b", 50], ["c", 10], ["d", 20]]); // 90
    await store.set("e", 1, { size: 20 }); // 110: evicting a (10) is enough
    assert.deepEqual(await store.keys(), ["b", "c", "d", "e"]);
    assert.equal(await store.getCurrentCacheSize(), 100);
    await store.set("f", 1, { size: 15 }); // 115: b (the LRU, 50) goes, not the smaller c
    assert.deepEqual(await store.keys(), ["c", "d", "e", "f"]);
    assert.equal(await store.getCurrentCacheSize(), 65);
  });

  test("a write that fits exactly evicts nothing", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 30], ["b", 30], ["c", 30]]);
    await store.set("d", 1, { size: 10 });
    assert.deepEqual(await totals(store), { count: 4, size: 100 });
  });

  test("an entry of exactly maxSizeBytes evicts everything else", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 1], ["b", 0], ["c", 30]]);
    await store.set("all", 1, { size: 100 });
    assert.deepEqual(await store.keys(), ["all"]);
    assert.deepEqual(await totals(store), { count: 1, size: 100 });
  });

  test("an overwrite that grows an entry evicts others, never the entry itself", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 30], ["b", 30], ["c", 30]]);
    await store.set("a", "bigger", { size: 60 }); // a is the oldest, but it is being written
    assert.deepEqual(await store.keys(), ["a", "c"]);
    assert.equal(await store.get("a"), "bigger");
    assert.equal(await store.getCurrentCacheSize(), 90);
  });

  test("an overwrite that shrinks an entry evicts nothing", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 30], ["b", 30], ["c", 40]]);
    await store.set("c", 1, { size: 10 });
    assert.deepEqual(await totals(store), { count: 3, size: 70 });
  });

  test("expired entries take no room: a write does not evict live entries in their place", async (t) => {
    const clock = manualClock(T0);
    const store = await open(t, { maxSizeBytes: 100, clock });
    await store.set("old", 1, { size: 50, ttlMs: 10 });
    await store.set("live", 1, { size: 50 });
    clock.advance(10);
    await store.set("new", 1, { size: 50 });
    assert.deepEqual(await store.keys(), ["live", "new"]);
    assert.deepEqual(await totals(store), { count: 2, size: 100 });
  });

  test("an mset evicts only what it needs and never its own entries", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 25], ["b", 25], ["c", 25], ["d", 25]]);
    await store.mset([
      ["e", valueOfSize("e", 30)],
      ["f", valueOfSize("f", 15)],
    ]); // 145: a and b go (95)
    assert.deepEqual(await store.keys(), ["c", "d", "e", "f"]);
    assert.equal(await store.getCurrentCacheSize(), 95);
    await store.mset([
      ["g", valueOfSize("g", 50)],
      ["h", valueOfSize("h", 50)],
    ]); // every older entry has to go
    assert.deepEqual(await store.keys(), ["g", "h"]);
  });

  test("an mset that overwrites the oldest entry keeps it", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 25], ["b", 25], ["c", 25], ["d", 25]]);
    await store.mset([
      ["a", valueOfSize("a", 25)],
      ["e", valueOfSize("e", 25)],
    ]);
    assert.deepEqual(await store.keys(), ["a", "c", "d", "e"]);
  });
});

describe("VALUE_TOO_LARGE leaves everything unchanged", { timeout: SUITE_TIMEOUT_MS }, () => {
  /** Four 25-byte entries a..d in a 100-byte budget, written in that order. */
  async function fullStore(t) {
    const store = await open(t, { maxSizeBytes: 100 });
    await fill(store, [["a", 25], ["b", 25], ["c", 25], ["d", 25]]);
    return store;
  }

  const tooLarge = {
    "set with a stated size above the budget": (store) => store.set("x", 1, { size: 101 }),
    "set with a default size above the budget": (store) => store.set("x", valueOfSize("x", 101)),
    "set overwriting the oldest entry with too much": (store) => store.set("a", 1, { size: 101 }),
    "mset with one entry above the budget": (store) =>
      store.mset([
        ["x", 1],
        ["y", valueOfSize("y", 101)],
      ]),
    "mset that cannot fit even after evicting every other entry": (store) =>
      store.mset([
        ["x", valueOfSize("x", 60)],
        ["y", valueOfSize("y", 60)],
      ]),
    "mset overwriting the oldest entries that cannot fit": (store) =>
      store.mset([
        ["a", valueOfSize("a", 60)],
        ["b", valueOfSize("b", 41)],
      ]),
  };

  for (const [name, write] of Object.entries(tooLarge)) {
    test(`${name}: nothing evicted, nothing written, LRU order kept`, async (t) => {
      const store = await fullStore(t);
      await rejectsWith(() => write(store), "VALUE_TOO_LARGE");
      assert.deepEqual(await store.keys(), ["a", "b", "c", "d"]);
      assert.deepEqual(await totals(store), { count: 4, size: 100 });
      assert.equal(await store.has("x"), false);
      // The order is still a, b, c, d: a 25-byte write evicts a (no reads made).
      await store.set("e", 1, { size: 25 });
      assert.deepEqual(await store.keys(), ["b", "c", "d", "e"]);
      assert.deepEqual(await store.mget(["b", "c", "d"]), ["b", "c", "d"], "values untouched");
    });
  }

  test("a rejected write after reads: values and totals as before", async (t) => {
    const store = await fullStore(t);
    const before = await snapshot(store); // reads a..d in order: LRU order unchanged
    await rejectsWith(
      () => store.mset([["a", "changed"], ["z", valueOfSize("z", 100)]]),
      "VALUE_TOO_LARGE",
    );
    assert.deepEqual(await snapshot(store), before);
  });
});

describe("eviction across namespaces", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("a write in one namespace evicts the least recently used entry of any other", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    const one = store.namespace("one");
    const two = store.namespace("two");
    await store.set("k", "root", { size: 30 });
    await one.set("k", "one", { size: 30 });
    await two.set("k", "two", { size: 30 });
    await two.set("k2", "two", { size: 30 }); // 120: the root's k (oldest) goes
    assert.deepEqual(await store.keys(), []);
    assert.deepEqual(await one.keys(), ["k"]);
    assert.deepEqual(await two.keys(), ["k", "k2"]);
    assert.deepEqual(await totals(store), { count: 3, size: 90 });
    assert.deepEqual(await totals(one), { count: 1, size: 30 });
    assert.deepEqual(await totals(two), { count: 2, size: 60 });

    assert.equal(await one.get("k"), "one"); // order now: two/k, two/k2, one/k
    await store.set("r", 1, { size: 30 }); // 120: two/k goes, not the just-read one/k
    assert.deepEqual(await two.keys(), ["k2"]);
    assert.deepEqual(await one.keys(), ["k"]);
    assert.deepEqual(await store.keys(), ["r"]);
    assert.deepEqual(await totals(store), { count: 3, size: 90 });
  });

  test("same key in two namespaces: the recency of one does not refresh the other", async (t) => {
    const store = await open(t, { maxSizeBytes: 60 });
    const view = store.namespace("view");
    await store.set("k", "root", { size: 30 });
    await view.set("k", "view", { size: 30 });
    assert.equal(await view.get("k"), "view"); // refreshes view/k only
    await store.get("missing");
    await view.set("other", 1, { size: 30 });
    assert.deepEqual(await store.keys(), [], "root/k was the least recently used");
    assert.deepEqual(await view.keys(), ["k", "other"]);
  });

  test("a rejected write in a namespace evicts nothing anywhere", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    const view = store.namespace("view");
    await store.set("a", 1, { size: 50 });
    await view.set("b", 1, { size: 50 });
    await rejectsWith(() => view.mset({ x: valueOfSize("x", 60), y: valueOfSize("y", 60) }), "VALUE_TOO_LARGE");
    assert.deepEqual(await store.keys(), ["a"]);
    assert.deepEqual(await view.keys(), ["b"]);
    assert.deepEqual(await totals(store), { count: 2, size: 100 });
  });

  test("a getOrSet miss in a namespace evicts the root's oldest entry", async (t) => {
    const store = await open(t, { maxSizeBytes: 100 });
    const view = store.namespace("v");
    await store.set("old", 1, { size: 60 });
    await store.set("new", 1, { size: 30 });
    const value = valueOfSize("k", 40);
    assert.equal(await view.getOrSet("k", () => value), value);
    assert.deepEqual(await store.keys(), ["new"]);
    assert.deepEqual(await view.keys(), ["k"]);
    assert.equal(await store.getCurrentCacheSize(), 70);
  });
});
