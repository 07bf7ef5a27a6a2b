// getOrSet: hit and miss, single flight, the loader's own errors passed
// through, non-storable loader results, the loader running outside the queue,
// dispose while a loader never settles, ttlMs, and fresh copies per caller.
// Every wait is bounded (settleAll / within), so nothing here can hang.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StorageError } from "larderdb";
import {
  open,
  manualClock,
  totals,
  jsonSize,
  rejectsWith,
  assertStorageError,
  settleAll,
  within,
  deferred,
  isPending,
  SUITE_TIMEOUT_MS,
} from "./helpers.mjs";

/** A loader that counts its calls and returns what `produce` returns. */
function countingLoader(produce) {
  const loader = (...args) => {
    loader.calls += 1;
    loader.args.push(args);
    return produce(...args);
  };
  loader.calls = 0;
  loader.args = [];
  return loader;
}

/** A loader whose promise the test settles by hand; `called` resolves on its first call. */
function manualLoader() {
  const result = deferred();
  const called = deferred();
  const loader = countingLoader(() => {
    called.resolve();
    return result.promise;
  });
  return Object.assign(loader, { result, called: called.promise });
}

describe("hit and miss", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("a miss calls the loader once, stores its result and returns it", async (t) => {
    const store = await open(t);
    const loader = countingLoader(() => ({ fresh: true }));
    assert.deepEqual(await store.getOrSet("k", loader), { fresh: true });
    assert.equal(loader.calls, 1);
    assert.deepEqual(await store.get("k"), { fresh: true });
    assert.deepEqual(await totals(store), { count: 1, size: jsonSize("k", { fresh: true }) });
  });

  test("a hit returns the stored value without calling the loader", async (t) => {
    const store = await open(t);
    await store.set("k", [1, "two"]);
    const loader = countingLoader(() => "loaded");
    assert.deepEqual(await store.getOrSet("k", loader), [1, "two"]);
    assert.equal(loader.calls, 0);
    assert.deepEqual(await store.get("k"), [1, "two"]);
  });

  test("a second call after a miss is a hit", async (t) => {
    const store = await open(t);
    const loader = countingLoader(() => 42);
    assert.equal(await store.getOrSet("k", loader), 42);
    assert.equal(await store.getOrSet("k", loader), 42);
    assert.equal(loader.calls, 1);
  });

  test("stored falsy values are hits: null, false, 0, empty string", async (t) => {
    const store = await open(t);
    for (const [key, value] of [["null", null], ["false", false], ["zero", 0], ["empty", ""]]) {
      await store.set(key, value);
      const loader = countingLoader(() => "loaded");
      assert.equal(await store.getOrSet(key, loader), value, key);
      assert.equal(loader.calls, 0, `${key} is a hit`);
    }
  });

  test("a loader returning a promise or a plain value, and a Uint8Array", async (t) => {
    const store = await open(t);
    assert.equal(await store.getOrSet("async", async () => "a"), "a");
    assert.equal(await store.getOrSet("sync", () => "s"), "s");
    const bytes = await store.getOrSet("bytes", () => new Uint8Array([1, 2, 3]));
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual([...bytes], [1, 2, 3]);
    assert.deepEqual([...(await store.get("bytes"))], [1, 2, 3]);
    assert.deepEqual(await store.mget(["async", "sync"]), ["a", "s"]);
  });

  test("a miss returns what a get would read back (the one normalisation: -0 becomes 0)", async (t) => {
    const store = await open(t);
    const value = await store.getOrSet("k", () => -0);
    assert.ok(Object.is(value, 0), `expected +0, got ${Object.is(value, -0) ? "-0" : value}`);
  });
});

describe("single flight", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("20 concurrent callers share one loader call and all get its value", async (t) => {
    const store = await open(t);
    const loader = manualLoader();
    const callers = Array.from({ length: 20 }, () => store.getOrSet("k", loader));
    await within(loader.called, "the loader call");
    loader.result.resolve({ n: 1 });
    const results = await settleAll(callers);
    assert.equal(loader.calls, 1);
    for (const result of results) assert.deepEqual(result, { status: "fulfilled", value: { n: 1 } });
    assert.deepEqual(await store.get("k"), { n: 1 });
    assert.equal(await store.count(), 1);
  });

  test("callers that arrive while the loader runs join its flight", async (t) => {
    const store = await open(t);
    const loader = manualLoader();
    const first = store.getOrSet("k", loader);
    await within(loader.called, "the loader call");
    const late = Array.from({ length: 19 }, () => store.getOrSet("k", loader));
    assert.equal(await isPending(late[0]), true, "a late caller waits for the running loader");
    loader.result.resolve("v");
    const results = await settleAll([first, ...late]);
    assert.deepEqual(new Set(results.map((r) => `${r.status}:${r.value}`)), new Set(["fulfilled:v"]));
    assert.equal(loader.calls, 1);
  });

  test("different keys fly separately: one loader call per key", async (t) => {
    const store = await open(t);
    const loader = countingLoader(async (key) => `value of ${key}`);
    const keys = ["a", "b", "c", "d"];
    const callers = keys.flatMap((key) => Array.from({ length: 5 }, () => store.getOrSet(key, loader)));
    const results = await settleAll(callers);
    results.forEach((result, i) => assert.deepEqual(result, { status: "fulfilled", value: `value of ${keys[Math.floor(i / 5)]}` }));
    assert.equal(loader.calls, 4);
    assert.equal(await store.count(), 4);
  });

  test("once a flight has ended, a new miss starts a new flight", async (t) => {
    const store = await open(t);
    const loader = countingLoader(async () => "v");
    await settleAll(Array.from({ length: 5 }, () => store.getOrSet("k", loader)));
    await store.delete("k");
    await settleAll(Array.from({ length: 5 }, () => store.getOrSet("k", loader)));
    assert.equal(loader.calls, 2);
  });
});

describe("loader errors", { timeout: SUITE_TIMEOUT_MS }, () => {
  const thrown = {
    "an Error": () => new Error("loader failed"),
    "a TypeError subclass": () => new (class LoaderTypeError extends TypeError {})("typed"),
    "a string": () => "just a string",
    "a plain object": () => ({ reason: "object" }),
    "null": () => null,
    "undefined": () => undefined,
    "a StorageError-lookalike": () => Object.assign(new Error("looks like storage"), { code: "IO" }),
  };

  for (const [name, make] of Object.entries(thrown)) {
    for (const how of ["throws synchronously", "rejects"]) {
      test(`a loader that ${how} with ${name}: every caller gets that very value, nothing is stored`, async (t) => {
        const store = await open(t);
        const error = make();
        const loader = countingLoader(() => {
          if (how === "rejects") return Promise.reject(error);
          throw error;
        });
        const callers = Array.from({ length: 5 }, () => store.getOrSet("k", loader));
        const results = await settleAll(callers);
        assert.equal(loader.calls, 1);
        for (const result of results) {
          assert.equal(result.status, "rejected");
          assert.ok(Object.is(result.reason, error), `the caller got ${String(result.reason)}, not the loader's own error`);
        }
        assert.equal(await store.has("k"), false);
        assert.deepEqual(await totals(store), { count: 0, size: 0 });
      });
    }
  }

  test("a StorageError thrown by the loader itself is passed through as the same object", async (t) => {
    const store = await open(t);
    const other = await open(t);
    let inner;
    const loader = async () => {
      try {
        await other.get(""); // INVALID_KEY from another store
      } catch (error) {
        inner = error;
        throw error;
      }
    };
    const results = await settleAll([store.getOrSet("k", loader), store.getOrSet("k", loader)]);
    assert.ok(inner instanceof StorageError);
    for (const result of results) assert.ok(result.reason === inner, "same object, not re-wrapped");
  });

  test("an existing entry is left untouched by a failing loader after it expired", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.set("k", "old", { ttlMs: 10 });
    await store.set("other", 1);
    clock.advance(10);
    const error = new Error("no");
    await assert.rejects(store.getOrSet("k", () => Promise.reject(error)), (e) => e === error);
    assert.equal(await store.get("k"), undefined);
    assert.deepEqual(await store.keys(), ["other"]);
  });

  test("a caller who calls while the loader runs gets its failure, even if the loader fails before that caller's own lookup answers", async (t) => {
    const store = await open(t);
    const running = deferred();
    const loader = countingLoader(() => (loader.calls === 1 ? running.promise : Promise.reject(new Error("a second run"))));
    const first = store.getOrSet("k", loader);
    while (loader.calls === 0) await new Promise((resolve) => setImmediate(resolve));
    const error = new Error("the one run failed");
    // The second caller's lookup is still queued when the run fails.
    const second = store.getOrSet("k", loader);
    running.reject(error);
    const results = await settleAll([first, second]);
    assert.deepEqual(
      results.map((result) => result.reason),
      [error, error],
    );
    assert.equal(loader.calls, 1);
  });

  test("after a failed flight the next caller runs the loader again", async (t) => {
    const store = await open(t);
    let attempt = 0;
    const loader = countingLoader(async () => {
      attempt += 1;
      if (attempt === 1) throw new Error("first attempt fails");
      return "second";
    });
    await assert.rejects(store.getOrSet("k", loader), /first attempt fails/);
    assert.equal(await store.getOrSet("k", loader), "second");
    assert.equal(loader.calls, 2);
  });
});

describe("loader results that cannot be stored", { timeout: SUITE_TIMEOUT_MS }, () => {
  const cycle = () => {
    const value = { a: 1 };
    value.self = value;
    return value;
  };
  const unstorable = {
    "a function": () => () => 1,
    "undefined": () => undefined,
    "a cycle": cycle,
    "a nested undefined": () => ({ a: undefined }),
    "NaN": () => NaN,
    "a Map": () => new Map([["a", 1]]),
    "a Date": () => new Date(0),
    "a symbol": () => Symbol("s"),
    "a BigInt": () => 1n,
    "a lone surrogate": () => "\uD800",
  };

  for (const [name, make] of Object.entries(unstorable)) {
    test(`${name}: every caller gets INVALID_VALUE and nothing is stored`, async (t) => {
      const store = await open(t);
      await store.set("other", 1);
      const loader = countingLoader(async () => make());
      const results = await settleAll(Array.from({ length: 3 }, () => store.getOrSet("k", loader)));
      assert.equal(loader.calls, 1);
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assertStorageError(result.reason, "INVALID_VALUE");
      }
      assert.equal(await store.has("k"), false);
      assert.deepEqual(await totals(store), { count: 1, size: jsonSize("other", 1) });
    });
  }

  test("a result bigger than maxSizeBytes is VALUE_TOO_LARGE, stores and evicts nothing", async (t) => {
    const store = await open(t, { maxSizeBytes: 50 });
    await store.set("other", 1);
    const before = await totals(store);
    const results = await settleAll([store.getOrSet("k", () => "x".repeat(60)), store.getOrSet("k", () => 1)]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assertStorageError(result.reason, "VALUE_TOO_LARGE");
    }
    assert.deepEqual(await totals(store), before);
    assert.equal(await store.has("k"), false);
  });

  test("a result over maxValueBytes is VALUE_TOO_LARGE", async (t) => {
    const store = await open(t, { maxValueBytes: 10 });
    await rejectsWith(() => store.getOrSet("k", () => "x".repeat(20)), "VALUE_TOO_LARGE");
    assert.equal(await store.count(), 0);
  });
});

describe("invalid calls", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("a non-function loader is INVALID_ARGUMENT", async (t) => {
    const store = await open(t);
    for (const loader of [undefined, null, 1, "loader", {}, Promise.resolve(1)]) {
      await rejectsWith(() => store.getOrSet("k", loader), "INVALID_ARGUMENT");
    }
    assert.equal(await store.count(), 0);
  });

  test("an invalid key is INVALID_KEY and the loader is not called", async (t) => {
    const store = await open(t);
    const loader = countingLoader(() => 1);
    for (const key of ["", 1, null, "\uDC00"]) await rejectsWith(() => store.getOrSet(key, loader), "INVALID_KEY");
    assert.equal(loader.calls, 0);
  });

  test("an invalid ttlMs is INVALID_ARGUMENT and the loader is not called", async (t) => {
    const store = await open(t);
    const loader = countingLoader(() => 1);
    for (const ttlMs of [0, -1, NaN, "10"]) {
      await rejectsWith(() => store.getOrSet("k", loader, { ttlMs }), "INVALID_ARGUMENT", /ttlMs/);
    }
    assert.equal(loader.calls, 0);
    assert.equal(await store.count(), 0);
  });
});

describe("the loader runs outside the queue", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("set, get and other calls resolve while a loader is pending", async (t) => {
    const store = await open(t);
    const loader = manualLoader();
    const slow = store.getOrSet("slow", loader);
    await within(loader.called, "the loader call");
    await within(store.set("x", 1), "set while the loader is pending");
    assert.equal(await within(store.get("x"), "get while the loader is pending"), 1);
    assert.deepEqual(await within(store.mget(["x", "slow"]), "mget"), [1, undefined]);
    assert.equal(await within(store.has("slow"), "has"), false, "nothing stored for the pending key yet");
    assert.equal(await within(store.count(), "count"), 1);
    assert.equal(await within(store.getOrSet("fast", () => "f"), "getOrSet of another key"), "f");
    assert.equal(await isPending(slow), true, "the slow getOrSet waits for its loader");
    loader.result.resolve("s");
    assert.equal(await within(slow, "the slow getOrSet"), "s");
    assert.equal(await store.get("slow"), "s");
  });

  test("a value set while the loader runs wins: it is kept and returned, not overwritten", async (t) => {
    const store = await open(t);
    const loader = manualLoader();
    const pending = store.getOrSet("z", loader);
    await within(loader.called, "the loader call");
    await within(store.set("z", "direct"), "set while the loader is pending");
    loader.result.resolve("loaded");
    assert.equal(await within(pending, "the getOrSet"), "direct");
    assert.equal(await store.get("z"), "direct");
    assert.deepEqual(await totals(store), { count: 1, size: jsonSize("z", "direct") });
  });

  test("a loader may use the same store (other keys) without deadlocking", async (t) => {
    const store = await open(t);
    await store.set("base", 20);
    const loader = async () => {
      const base = await store.get("base");
      await store.set("side-effect", true);
      const nested = await store.getOrSet("inner", () => 1);
      return base + nested;
    };
    assert.equal(await within(store.getOrSet("k", loader), "getOrSet with a re-entrant loader"), 21);
    assert.deepEqual(await store.mget(["k", "side-effect", "inner"]), [21, true, 1]);
  });

  test("two pending loaders do not block each other", async (t) => {
    const store = await open(t);
    const one = manualLoader();
    const two = manualLoader();
    const first = store.getOrSet("one", one);
    const second = store.getOrSet("two", two);
    await within(Promise.all([one.called, two.called]), "both loaders called");
    two.result.resolve(2);
    assert.equal(await within(second, "the second flight"), 2);
    assert.equal(await isPending(first), true);
    one.result.resolve(1);
    assert.equal(await within(first, "the first flight"), 1);
  });
});

describe("dispose", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("dispose while a loader never settles: every waiting caller rejects with DISPOSED", async (t) => {
    const store = await open(t);
    const never = countingLoader(() => new Promise(() => {}));
    const calledK = deferred();
    const loader = (key) => {
      calledK.resolve();
      return never(key);
    };
    const callers = Array.from({ length: 5 }, () => store.getOrSet("k", loader));
    const otherCallers = Array.from({ length: 3 }, () => store.getOrSet("other", loader));
    await within(calledK.promise, "the loader call");
    const disposing = store.dispose();
    const results = await settleAll([...callers, ...otherCallers, disposing]);
    const disposeResult = results.pop();
    assert.deepEqual(disposeResult, { status: "fulfilled", value: undefined });
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assertStorageError(result.reason, "DISPOSED");
    }
    assert.ok(never.calls <= 2, "one loader call per key at most");
    await rejectsWith(() => store.getOrSet("k", loader), "DISPOSED");
  });

  test("dispose before the lookup has run: callers get DISPOSED and the loader is never called", async (t) => {
    const store = await open(t);
    const loader = countingLoader(() => 1);
    const callers = Array.from({ length: 3 }, () => store.getOrSet("k", loader));
    await store.dispose();
    const results = await settleAll(callers);
    for (const result of results) assertStorageError(result.reason, "DISPOSED");
    assert.equal(loader.calls, 0);
  });

  test("a loader that settles after dispose changes nothing and leaves no unhandled rejection", async (t) => {
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    t.after(() => process.off("unhandledRejection", onUnhandled));

    for (const outcome of ["resolve", "reject"]) {
      const store = await open(t);
      const loader = manualLoader();
      const caller = store.getOrSet("k", loader);
      await within(loader.called, "the loader call");
      await store.dispose();
      const [result] = await settleAll([caller]);
      assertStorageError(result.reason, "DISPOSED");
      if (outcome === "resolve") loader.result.resolve("late");
      else loader.result.reject(new Error("late failure"));
      // Let every microtask and the next macrotasks run.
      for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(store.isDisposed(), true);
    }
    assert.deepEqual(unhandled, []);
  });

  test("a loader that disposes the store: its callers get DISPOSED", async (t) => {
    const store = await open(t);
    const loader = async () => {
      await store.dispose();
      return "value";
    };
    const results = await settleAll(Array.from({ length: 3 }, () => store.getOrSet("k", loader)));
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assertStorageError(result.reason, "DISPOSED");
    }
  });

  test("[Symbol.asyncDispose] also rejects waiting getOrSet callers", async (t) => {
    const store = await open(t);
    const loader = manualLoader();
    const caller = store.getOrSet("k", loader);
    await within(loader.called, "the loader call");
    const [result, disposed] = await settleAll([caller, store[Symbol.asyncDispose]()]);
    assertStorageError(result.reason, "DISPOSED");
    assert.equal(disposed.status, "fulfilled");
  });
});

describe("ttlMs", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("a stored result expires after ttlMs; the next call loads again", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    let version = 0;
    const loader = countingLoader(() => `v${(version += 1)}`);
    assert.equal(await store.getOrSet("k", loader, { ttlMs: 100 }), "v1");
    clock.advance(99);
    assert.equal(await store.getOrSet("k", loader, { ttlMs: 100 }), "v1");
    assert.equal(loader.calls, 1);
    clock.advance(1);
    assert.equal(await store.get("k"), undefined, "expired at T+100");
    assert.equal(await store.getOrSet("k", loader, { ttlMs: 100 }), "v2");
    assert.equal(loader.calls, 2);
  });

  test("the TTL counts from when the result is stored, not from the call", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    const loader = manualLoader();
    const caller = store.getOrSet("k", loader, { ttlMs: 100 });
    await within(loader.called, "the loader call");
    clock.advance(50); // the loader took 50 ms
    loader.result.resolve("v");
    assert.equal(await within(caller, "getOrSet"), "v");
    clock.advance(99);
    assert.equal(await store.get("k"), "v", "stored at T+50: live until T+150");
    clock.advance(1);
    assert.equal(await store.get("k"), undefined);
  });

  test("without ttlMs, defaultTtlMs applies; ttlMs Infinity overrides it", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock, defaultTtlMs: 100 });
    await store.getOrSet("default", () => 1);
    await store.getOrSet("forever", () => 2, { ttlMs: Infinity });
    await store.getOrSet("longer", () => 3, { ttlMs: 1000 });
    clock.advance(100);
    assert.deepEqual(await store.keys(), ["forever", "longer"]);
    clock.advance(1e9);
    assert.deepEqual(await store.keys(), ["forever"]);
  });

  test("without ttlMs or defaultTtlMs, a result never expires", async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.getOrSet("k", () => 1);
    clock.advance(1e12);
    assert.equal(await store.get("k"), 1);
  });
});

describe("fresh copies", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("each of 20 callers of one flight gets its own copy, none the loader's object", async (t) => {
    const store = await open(t);
    const original = { list: [1, 2], nested: { deep: "x" } };
    const loader = manualLoader();
    const callers = Array.from({ length: 20 }, () => store.getOrSet("k", loader));
    await within(loader.called, "the loader call");
    loader.result.resolve(original);
    const values = (await settleAll(callers)).map((result) => result.value);
    assert.equal(new Set(values).size, 20, "20 distinct objects");
    assert.equal(new Set(values.map((value) => value.list)).size, 20, "nested arrays are copies too");
    for (const value of values) {
      assert.notEqual(value, original);
      assert.deepEqual(value, { list: [1, 2], nested: { deep: "x" } });
    }
    values[0].list.push(3);
    values[0].nested.deep = "changed";
    original.list.push(99);
    assert.deepEqual(values[1], { list: [1, 2], nested: { deep: "x" } });
    assert.deepEqual(await store.get("k"), { list: [1, 2], nested: { deep: "x" } });
  });

  test("concurrent hits get distinct copies too", async (t) => {
    const store = await open(t);
    await store.set("k", { a: [1] });
    const values = (await settleAll(Array.from({ length: 5 }, () => store.getOrSet("k", () => 0)))).map((r) => r.value);
    assert.equal(new Set(values).size, 5);
    values[0].a.push(2);
    assert.deepEqual(await store.getOrSet("k", () => 0), { a: [1] });
  });

  test("Uint8Array results are copies for each caller", async (t) => {
    const store = await open(t);
    const bytes = new Uint8Array([1, 2, 3]);
    const values = (await settleAll([store.getOrSet("k", () => bytes), store.getOrSet("k", () => bytes)])).map(
      (r) => r.value,
    );
    assert.notEqual(values[0], values[1]);
    assert.notEqual(values[0], bytes);
    values[0][0] = 9;
    bytes[1] = 9;
    assert.deepEqual([...values[1]], [1, 2, 3]);
    assert.deepEqual([...(await store.get("k"))], [1, 2, 3]);
  });
});
