// The facade's read cache (js/read-cache.ts): which gets it answers, and that
// what it answers is always what the store holds.
//
// Whether a get entered the core is told by the test-hooks build, where a
// `get` of PANIC_IN_OPERATION panics when the queue runs it: answered from
// the cache, it returns the value instead. Coherence is checked against a
// store whose cache never answers (each call made with another in flight)
// given the same calls, with a budget and without, and by the model test
// (model.test.mjs).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { manualClock, seededRandom, settleAll } from "./helpers.mjs";

const PANIC_IN_OPERATION = "larder:test-hooks:panic-in-operation";
const { openStorage } = await import(new URL("../../target/pkg-test-hooks/node.js", import.meta.url).href);


async function open(t, options = {}) {
  const store = await openStorage({ path: ":memory:", ...options });
  t.after(() => store.dispose());
  return store;
}

/** Expects `promise` to reject with a StorageError of `code` (of the test-hooks package). */
const rejectsWith = (promise, code) => assert.rejects(promise, (error) => error.name === "StorageError" && error.code === code);

/** Whether a get of the panicking key was answered without entering the core. */
async function answeredFromCache(view, expected) {
  const [result] = await settleAll([view.get(PANIC_IN_OPERATION)]);
  if (result.status === "fulfilled") {
    assert.deepEqual(result.value, expected);
    return true;
  }
  assert.equal(result.reason.code, "INTERNAL", result.reason.message);
  return false;
}

describe("what the read cache answers", () => {
  test("a get of a value this store set, with nothing in flight", async (t) => {
    const store = await open(t);
    await store.set(PANIC_IN_OPERATION, { v: [1, "two"] });
    assert.equal(await answeredFromCache(store, { v: [1, "two"] }), true);
    await store.set(PANIC_IN_OPERATION, { v: 3 }, {});
    assert.equal(await answeredFromCache(store, { v: 3 }), true, "empty options are no options");
    const view = store.namespace("ns");
    await view.set(PANIC_IN_OPERATION, "in a namespace");
    assert.equal(await answeredFromCache(view, "in a namespace"), true);
  });

  test("an mget of keys it cannot read (a revoked Proxy) is the core's to refuse", async (t) => {
    const store = await open(t);
    await store.set("k", 1);
    const { proxy, revoke } = Proxy.revocable(["k"], {});
    revoke();
    await assert.rejects(store.mget(proxy), { name: "StorageError", code: "INVALID_ARGUMENT" });
    assert.deepEqual(await store.mget(["k"]), [1], "and the cache answers again after");
  });

  test("each hit is a fresh copy: changing one does not change the next", async (t) => {
    const store = await open(t);
    await store.set("k", { list: [1] });
    const first = await store.get("k");
    first.list.push(2);
    assert.deepEqual(await store.get("k"), { list: [1] });
  });

  const uncached = {
    "a set on a store with defaultTtlMs": [{ defaultTtlMs: 60_000 }, undefined],
    "a set with ttlMs": [{}, { ttlMs: 60_000 }],
    "a set with an explicit size": [{}, { size: 10 }],
  };
  for (const [name, [storeOptions, setOptions]] of Object.entries(uncached)) {
    test(`not: ${name}`, async (t) => {
      const store = await open(t, storeOptions);
      await store.set(PANIC_IN_OPERATION, 1, setOptions);
      assert.equal(await answeredFromCache(store, 1), false);
    });
  }

  test("not: a value that is not plain JSON (the core encodes it)", async (t) => {
    const store = await open(t);
    await store.set(PANIC_IN_OPERATION, new Uint8Array([1, 2]));
    assert.equal(await answeredFromCache(store), false);
  });

  test("not while a call is in flight: the get waits its turn in the queue", async (t) => {
    const store = await open(t);
    await store.set(PANIC_IN_OPERATION, 1);
    const ahead = store.has("other");
    assert.equal(await answeredFromCache(store, 1), false);
    assert.equal(await ahead, false);
  });

  test("not: a value set by mset", async (t) => {
    const store = await open(t);
    await store.mset([[PANIC_IN_OPERATION, 1]]);
    assert.equal(await answeredFromCache(store), false);
  });
});

/** Operations the core has run (each waits in its queue once). */
const coreOperations = async (store) => (await store.metrics()).queue.waitMs.count;

/** Whether `get(key)` of `view` answered `expected` without entering the core. */
async function readFromCache(store, view, key, expected) {
  const before = await coreOperations(store);
  assert.deepEqual(await view.get(key), expected);
  return (await coreOperations(store)) === before;
}

describe("what a read puts in the read cache", () => {
  test("an entry read from the core is answered from the cache next time", async (t) => {
    const store = await open(t);
    const view = store.namespace("ns");
    await store.mset([["a", { v: 1 }]]);
    await view.mset([["a", "in ns"]]);
    assert.equal(await readFromCache(store, store, "a", { v: 1 }), false, "the first read enters the core");
    assert.equal(await readFromCache(store, store, "a", { v: 1 }), true);
    assert.equal(await readFromCache(store, view, "a", "in ns"), false, "another namespace, another slot");
    assert.equal(await readFromCache(store, view, "a", "in ns"), true);
    assert.equal(await readFromCache(store, store, "missing", undefined), false);
    assert.equal(await readFromCache(store, store, "missing", undefined), false, "a miss is not cached");
  });

  test("about 8 MB of text at most: the least recently used goes first", async (t) => {
    const store = await open(t);
    const text = "x".repeat(998); // 1,000 characters of JSON text
    const keys = Array.from({ length: 9000 }, (_, i) => `k${i}`);
    for (const [i, key] of keys.entries()) {
      await store.set(key, text);
      if (i % 1000 === 999) assert.equal(await readFromCache(store, store, "k0", text), true);
    }
    assert.equal(await readFromCache(store, store, "k0", text), true, "read all along: still cached");
    assert.equal(await readFromCache(store, store, "k1", text), false, "the oldest went");
    assert.equal(await readFromCache(store, store, "k8999", text), true, "the newest stays");
    assert.equal(await readFromCache(store, store, "k1", text), true, "read again: cached");
  });

  test("a read fills free room only: it never pushes out what is cached", async (t) => {
    const store = await open(t);
    const text = "x".repeat(249_998); // 250,000 characters: about 33 fit
    const read = Array.from({ length: 10 }, (_, i) => [`r${i}`, text]);
    await store.mset(read);
    const written = Array.from({ length: 40 }, (_, i) => `w${i}`);
    for (const key of written) await store.set(key, text);
    for (const [key] of [...read, ...read]) await store.get(key);
    for (const key of written.slice(-29)) {
      assert.equal(await readFromCache(store, store, key, text), true, `${key} stays cached`);
    }
  });

  test("an entry that expires, with its expiry: answered until the store's clock reaches it", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.mset([["ttl", 1]], { ttlMs: 1000 });
    assert.equal(await readFromCache(store, store, "ttl", 1), false, "the first read enters the core");
    clock.advance(999);
    assert.equal(await readFromCache(store, store, "ttl", 1), true, "live 1 ms before it expires");
    clock.advance(1);
    assert.equal(await readFromCache(store, store, "ttl", undefined), false, "expired: the core says so");
    assert.equal(await readFromCache(store, store, "ttl", undefined), false);
  });

  test("an entry the core has seen expire stays expired when the clock goes back", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.mset([["ttl", 1], ["other", 2]], { ttlMs: 1000 });
    assert.equal(await readFromCache(store, store, "ttl", 1), false, "cached by its read");
    clock.advance(1500);
    assert.equal(await store.has("other"), false, "the core read 1,500 ms on: both expired");
    clock.advance(-1000); // back to 500 ms after the set, before the expiry
    assert.equal(await readFromCache(store, store, "ttl", undefined), false, "not answered live by the cache");
  });

  test("not: bytes", async (t) => {
    const store = await open(t);
    await store.mset([["bytes", new Uint8Array([1])]]);
    assert.deepEqual(await store.get("bytes"), new Uint8Array([1]));
    assert.equal(await readFromCache(store, store, "bytes", new Uint8Array([1])), false);
  });

  test("not while the store's clock cannot be read: the core explains why", async (t) => {
    let failing = false;
    const clock = manualClock();
    const store = await open(t, { clock: () => (failing ? Number.NaN : clock()) });
    await store.mset([["ttl", 1], ["lasting", 2]], { ttlMs: 1000 });
    await store.mset([["lasting", 2]]);
    assert.deepEqual(await store.mget(["ttl", "lasting"]), [1, 2], "both cached by the read");
    failing = true;
    await rejectsWith(store.get("ttl"), "INVALID_ARGUMENT");
    failing = false;
    assert.equal(await store.has("ttl"), true, "a call that succeeds, after which the cache answers again");
    assert.equal(await readFromCache(store, store, "lasting", 2), true);
    assert.equal(await readFromCache(store, store, "ttl", 1), true);
  });

  test("an mget's entries, as a get's: answered from the cache next time, by an mget or a get", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    const view = store.namespace("ns");
    await store.mset([["a", { v: 1 }], ["b", "two"], ["bytes", new Uint8Array([1])]]);
    await store.mset([["ttl", 3]], { ttlMs: 1000 });
    await view.mset([["a", "in ns"]]);
    const mgetFromCache = async (target, keys, expected) => {
      const before = await coreOperations(store);
      assert.deepEqual(await target.mget(keys), expected);
      return (await coreOperations(store)) === before;
    };
    assert.equal(await mgetFromCache(store, ["a", "b", "missing"], [{ v: 1 }, "two", undefined]), false, "the first mget enters the core");
    assert.equal(await mgetFromCache(store, ["b", "a"], ["two", { v: 1 }]), true, "every key cached");
    assert.equal(await readFromCache(store, store, "a", { v: 1 }), true);
    assert.equal(await mgetFromCache(store, ["a", "missing"], [{ v: 1 }, undefined]), false, "a miss is not cached");
    assert.equal(await mgetFromCache(view, ["a"], ["in ns"]), false, "another namespace, another slot");
    assert.equal(await mgetFromCache(view, ["a"], ["in ns"]), true);
    assert.equal(await mgetFromCache(store, ["ttl", "bytes"], [3, new Uint8Array([1])]), false);
    assert.equal(await readFromCache(store, store, "ttl", 3), true, "an entry that expires, with its expiry");
    assert.equal(await mgetFromCache(store, ["a", "ttl"], [{ v: 1 }, 3]), true);
    assert.equal(await readFromCache(store, store, "bytes", new Uint8Array([1])), false, "not: bytes");
    clock.advance(1000);
    assert.equal(await mgetFromCache(store, ["a", "ttl"], [{ v: 1 }, undefined]), false, "expired: the core says so");
  });

  test("not an mget overtaken by a write issued before it settled", async (t) => {
    const store = await open(t);
    await store.mset([["a", 1], ["b", 1]]);
    const read = store.mget(["a", "b"]);
    const write = store.set("a", 2, { ttlMs: 60_000 });
    assert.deepEqual(await read, [1, 1]);
    await write;
    assert.equal(await readFromCache(store, store, "a", 2), false, "the mget's 1 was not cached over the write");
    assert.equal(await readFromCache(store, store, "b", 1), true, "b was not written");
  });

  test("an mset of plain JSON drops its own keys only; any other, everything", async (t) => {
    const store = await open(t);
    const view = store.namespace("ns");
    for (const key of ["a", "b", "c"]) await store.set(key, key);
    await view.set("a", "in ns");
    await store.mset([["a", 1], ["new", 2]]);
    assert.equal(await readFromCache(store, store, "b", "b"), true, "b stays cached");
    assert.equal(await readFromCache(store, view, "a", "in ns"), true, "ns's a stays cached");
    assert.equal(await readFromCache(store, store, "a", 1), false, "a was dropped: the core answers its new value");
    await view.mset([["b", "ns's b"]]);
    assert.equal(await readFromCache(store, store, "b", "b"), true, "another namespace's mset leaves the root's b");
    await store.mset([["bytes", new Uint8Array([1])]]);
    assert.equal(await readFromCache(store, store, "c", "c"), false, "an mset that is not plain JSON empties the cache");
  });

  test("an mdelete of keys drops its own keys only; of more than cross flat, everything", async (t) => {
    const store = await open(t, { maxBatchSize: 20_000 });
    for (const key of ["a", "b", "c"]) await store.set(key, key);
    assert.equal(await store.mdelete(["a", "missing"]), 1);
    assert.equal(await readFromCache(store, store, "b", "b"), true, "b stays cached");
    assert.equal(await readFromCache(store, store, "a", undefined), false, "a was dropped");
    await store.namespace("ns").mdelete(["b"]);
    assert.equal(await readFromCache(store, store, "b", "b"), true, "another namespace's mdelete leaves the root's b");
    const many = Array.from({ length: 10_001 }, (_, i) => `m${i}`);
    assert.equal(await store.mdelete(many), 0);
    assert.equal(await readFromCache(store, store, "c", "c"), false, "keys passed to the core as an array: the cache is emptied");
  });

  test("not a read overtaken by an mdelete issued before it settled", async (t) => {
    const store = await open(t);
    await store.mset([["a", 1]]);
    const read = store.get("a");
    const deletion = store.mdelete(["a"]);
    assert.equal(await read, 1);
    assert.equal(await deletion, 1);
    assert.equal(await readFromCache(store, store, "a", undefined), false, "the get's 1 was not cached over the mdelete");
  });

  test("not a read overtaken by an mset issued before it settled", async (t) => {
    const store = await open(t);
    await store.mset([["a", 1], ["b", 1]]);
    const read = store.get("a");
    const write = store.mset([["a", 2]]);
    assert.equal(await read, 1);
    await write;
    assert.equal(await readFromCache(store, store, "a", 2), false, "the get's 1 was not cached over the mset");
    assert.equal(await readFromCache(store, store, "a", 2), true, "the core's 2 is, once read");
  });

  test("not a read overtaken by a write issued before it settled", async (t) => {
    const store = await open(t);
    await store.mset([["a", 1]]);
    const read = store.get("a");
    const write = store.set("a", 2, { ttlMs: 60_000 });
    assert.equal(await read, 1);
    await write;
    assert.equal(await readFromCache(store, store, "a", 2), false, "the read's 1 was not cached over the write");
    const deleted = store.get("a");
    const deletion = store.delete("a");
    assert.equal(await deleted, 2);
    assert.equal(await deletion, true);
    assert.equal(await store.get("a"), undefined);
  });
});

describe("the read cache of a store with a budget", () => {
  // Sizes: a one-letter key and a value of 1 ("1") take 2 bytes each.
  test("a set of a new key does not fill it; a read does, and a set then refreshes it", async (t) => {
    const store = await open(t, { maxSizeBytes: 6 });
    await store.set("a", 1);
    assert.equal(await readFromCache(store, store, "a", 1), false, "the set added nothing");
    assert.equal(await readFromCache(store, store, "a", 1), true, "the read did");
    await store.set("a", 2);
    assert.equal(await readFromCache(store, store, "a", 2), true, "the set refreshed it");
  });

  test("a hit counts as a read in the LRU order: the entry it answered is not the one evicted", async (t) => {
    const store = await open(t, { maxSizeBytes: 6 });
    await store.set("a", 1);
    await store.get("a"); // cached by the core's read, and then the oldest again:
    await store.set("b", 1);
    await store.set("c", 1);
    assert.equal(await readFromCache(store, store, "a", 1), true, "answered on this thread");
    await store.set("d", 1);
    assert.deepEqual(await store.keys(), ["a", "c", "d"], "b, not a, was the least recently used");
  });

  test("what a write evicts is dropped from the cache: a get then finds nothing", async (t) => {
    const store = await open(t, { maxSizeBytes: 6 });
    const view = store.namespace("v");
    // Each cached by a read, in this order; the mset evicts the two least recently used.
    await store.set("a", 1);
    await view.set("b", 1);
    await store.set("c", 1);
    assert.deepEqual([await store.get("a"), await view.get("b"), await store.get("c")], [1, 1, 1]);
    await store.mset([["d", 1], ["e", 1]]);
    assert.deepEqual([await store.get("a"), await view.get("b")], [undefined, undefined]);
    assert.deepEqual(await store.mget(["c", "d", "e"]), [1, 1, 1]);
  });

  test("an eviction by a later write of the same burst: a read issued between them does not cache what it evicted", async (t) => {
    const store = await open(t, { maxSizeBytes: 6 });
    await store.mset([["a", 1], ["b", 1]]);
    await store.set("c", 1);
    // One turn: the core runs the set, the get and the mset before any of them settles.
    const [set, read, mset] = await settleAll([store.set("c", 2), store.get("a"), store.mset([["d", 1], ["e", 1], ["f", 1]])]);
    assert.deepEqual([set.status, read.value, mset.status], ["fulfilled", 1, "fulfilled"]);
    assert.equal(await store.get("a"), undefined, "the read's a was not cached over the mset's eviction");
  });

  test("more evictions than the core names empty the cache", async (t) => {
    const count = 5000; // more than the core lists (4,096)
    const entries = Array.from({ length: count }, (_, i) => [`e${String(i).padStart(4, "0")}`, 1]);
    const store = await open(t, { maxSizeBytes: 2 + count * 6 });
    await store.set("a", 1);
    await store.get("a");
    for (let start = 0; start < count; start += 1000) await store.mset(entries.slice(start, start + 1000));
    assert.equal(await readFromCache(store, store, "a", 1), true, "a is cached");
    await store.set("big", "x".repeat(count * 6 - 3)); // the whole budget: every other entry goes
    assert.equal(await store.get("a"), undefined);
  });

  test("a write that fails to fit evicts nothing and drops nothing but its own keys", async (t) => {
    const store = await open(t, { maxSizeBytes: 6 });
    await store.set("a", 1);
    await store.set("b", 1);
    await store.get("a");
    await rejectsWith(store.mset([["c", "xx"], ["d", "xx"]]), "VALUE_TOO_LARGE");
    assert.equal(await store.has("a"), true, "a call that succeeds, after which the cache answers again");
    assert.equal(await readFromCache(store, store, "a", 1), true);
    assert.deepEqual(await store.keys(), ["a", "b"]);
  });
});

describe("what the read cache answers is what the store holds", () => {
  test("a write issued just before a get: the get sees it", async (t) => {
    const store = await open(t, { maxValueBytes: 64 });
    const view = store.namespace("ns");
    const steps = [
      ["set", () => store.set("a", 2), () => store.get("a"), 2],
      ["delete", () => store.delete("a"), () => store.get("a"), undefined],
      ["mset", () => store.mset([["a", 3]]), () => store.get("a"), 3],
      ["mdelete", () => store.mdelete(["a"]), () => store.get("a"), undefined],
      ["invalidate", () => store.invalidate({ prefix: "a" }), () => store.get("a"), undefined],
      ["clear of a namespace", () => view.clear(), () => view.get("a"), undefined],
      ["clear", () => store.clear(), () => store.get("a"), undefined],
    ];
    for (const [name, write, read, expected] of steps) {
      await store.set("a", 1);
      await view.set("a", 1);
      const [written, got] = await settleAll([write(), read()]);
      assert.equal(written.status, "fulfilled", name);
      assert.deepEqual(got.value, expected, name);
    }
  });

  test("a write that fails leaves the value before it, cached or not", async (t) => {
    const store = await open(t, { maxValueBytes: 64 });
    await store.set("a", { kept: true });
    await rejectsWith(store.set("a", "x".repeat(100)), "VALUE_TOO_LARGE");
    assert.deepEqual(await store.get("a"), { kept: true });
    await rejectsWith(store.set("a", () => {}), "INVALID_VALUE");
    assert.deepEqual(await store.get("a"), { kept: true });
  });

  test("the root's own namespace and named ones never share a slot; an invalid name is still refused", async (t) => {
    const store = await open(t);
    await store.set("n1:xk", "root");
    await store.set("k", "root k");
    assert.equal(await store.namespace("x").get("k"), undefined);
    assert.equal(await store.namespace("n1:x").get("k"), undefined);
    await rejectsWith(store.namespace("").get("k"), "INVALID_KEY");
    await rejectsWith(store.get("x".repeat(5000)), "INVALID_KEY");
    // A named entry's slot is a lone surrogate, the name's length, the name
    // and the key: the root key spelled so is invalid, and refused while
    // that entry is cached.
    await store.namespace("ns").set(PANIC_IN_OPERATION, "named");
    assert.equal(await answeredFromCache(store.namespace("ns"), "named"), true);
    await rejectsWith(store.get(`\uD8002:ns${PANIC_IN_OPERATION}`), "INVALID_KEY");
    // A valid key beginning with U+D800 (U+10000) is stored and read as ever.
    await store.set("\u{10000}k", "astral");
    assert.equal(await store.get("\u{10000}k"), "astral");
  });

  test("entries set with a TTL expire as ever", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.set("a", 1, { ttlMs: 100 });
    await store.set("b", 1);
    clock.advance(200);
    assert.equal(await store.get("a"), undefined);
    assert.equal(await store.get("b"), 1);
  });

  // Random calls issued in bursts (none awaited before the burst ends), some
  // setting TTLs while the clock moves, give, call by call, what the same
  // calls give one at a time on a store whose cache never answers; and with
  // a budget that keeps about four of the five keys, evicting often.
  for (const budget of [undefined, 30]) {
    test(`bursts of random calls${budget ? ` under a budget of ${budget} bytes` : ""}: the results of a store whose cache never answers, call by call`, async (t) => {
      await compareBursts(t, budget === undefined ? {} : { maxSizeBytes: budget });
    });
  }
});

async function compareBursts(t, options) {
  const random = seededRandom(4242);
  // One time for both stores, moved between bursts, now and then backwards.
  const clock = manualClock();
  const cached = await open(t, { ...options, clock });
  const plain = await open(t, { ...options, clock });
  // Each of its calls made with one in flight ahead of it: its read cache never answers.
  const uncached = async (name, args) => {
    const ahead = plain.count();
    const result = await plain[name](...args);
    await ahead;
    return result;
  };
  const key = () => `k${random.int(0, 4)}`;
  const value = () => random.pick([() => random.int(0, 99), () => ({ n: random.int(0, 9) }), () => "s".repeat(random.int(0, 5))])();
  // Weighted towards what the cache sees (set, get, delete); the calls
  // that empty it are rare, or it would rarely hold anything.
  const calls = [
    [5, () => ["set", key(), value()]],
    [2, () => ["set", key(), value(), { ttlMs: random.int(1, 100) }]],
    [8, () => ["get", key()]],
    [3, () => ["delete", key()]],
    [2, () => ["mget", [key(), key()]]],
    [2, () => ["has", key()]],
    [1, () => ["mset", [[key(), value()]]]],
    [1, () => ["invalidate", { prefix: key().slice(0, random.int(1, 2)) }]],
  ];
  const total = calls.reduce((sum, [weight]) => sum + weight, 0);
  const call = () => {
    let pick = random.next() * total;
    for (const [weight, make] of calls) if ((pick -= weight) < 0) return make();
    return calls[0][1]();
  };
  for (let burst = 0; burst < 1000; burst += 1) {
    if (random.chance(0.5)) clock.advance(random.int(-30, 80));
    const burstCalls = Array.from({ length: random.int(1, 4) }, call);
    const results = await settleAll(burstCalls.map(([name, ...args]) => cached[name](...args)));
    for (const [i, [name, ...args]] of burstCalls.entries()) {
      const expected = await uncached(name, args);
      assert.deepEqual(results[i].value, expected, `burst ${burst}, call ${i}: ${name} ${JSON.stringify(args)}`);
    }
  }
}
