// Error codes and their fields, option and argument validation, and the rule
// that every failure is a rejected promise, never a synchronous throw.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { openStorage } from "larderdb";
import { open, rejectsWith, assertStorageError, manualClock, settleAll, totals } from "./helpers.mjs";

const cyclic = () => {
  const value = { a: 1 };
  value.self = value;
  return value;
};

const nested = (levels) => JSON.parse("[".repeat(levels) + "]".repeat(levels));

describe("one scenario per reachable error code", () => {
  const scenarios = {
    INVALID_ARGUMENT: async (t) => rejectsWith(() => openStorage({ maxBatchSize: 0 }), "INVALID_ARGUMENT", /maxBatchSize/),
    INVALID_KEY: async (t) => rejectsWith(async () => (await open(t)).get(""), "INVALID_KEY"),
    INVALID_VALUE: async (t) => rejectsWith(async () => (await open(t)).set("k", () => 1), "INVALID_VALUE"),
    VALUE_TOO_LARGE: async (t) =>
      rejectsWith(async () => (await open(t, { maxValueBytes: 4 })).set("k", "abcd"), "VALUE_TOO_LARGE", /maxValueBytes/),
    BATCH_TOO_LARGE: async (t) =>
      rejectsWith(async () => (await open(t, { maxBatchSize: 1 })).mget(["a", "b"]), "BATCH_TOO_LARGE", /maxBatchSize/),
    QUEUE_FULL: async (t) => {
      const store = await open(t, { maxQueueLength: 1 });
      store.set("a", 1); // a get would not wait: an idle store answers it at once
      return rejectsWith(() => store.get("b"), "QUEUE_FULL");
    },
    DISPOSED: async (t) => {
      const store = await open(t);
      await store.dispose();
      return rejectsWith(() => store.get("k"), "DISPOSED");
    },
    TIMEOUT: async (t) => {
      const store = await open(t, { clock: manualClock(0, 1000), operationTimeoutMs: 10 });
      return rejectsWith(() => store.set("k", 1), "TIMEOUT");
    },
  };

  for (const [code, scenario] of Object.entries(scenarios)) {
    test(`${code} carries its category, retryable, recoveryAction and a userMessage`, async (t) => {
      const error = await scenario(t);
      assert.equal(error.code, code);
    });
  }

  test("errors that no SQLite call caused have no sqliteCode", async (t) => {
    const store = await open(t);
    const error = await rejectsWith(() => store.set("", 1), "INVALID_KEY");
    assert.equal(error.sqliteCode, undefined);
  });

  test("userMessage is not the developer message", async (t) => {
    const store = await open(t);
    const error = await rejectsWith(() => store.set("k", 1, { ttlMs: -5 }), "INVALID_ARGUMENT", /ttlMs/);
    assert.notEqual(error.userMessage, error.message);
  });
});

describe("openStorage option validation", () => {
  const badOptions = {
    path: [1, "", "a\u0000b", {}],
    maxSizeBytes: [0, -1, 1.5, NaN, "100", null],
    defaultTtlMs: [0, -1, NaN, "100"],
    maxBatchSize: [0, -1, 2.5, NaN, "10"],
    maxKeyBytes: [0, -1, 2.5, "10"],
    maxValueBytes: [0, -1, 2.5, "10"],
    maxQueueLength: [0, -1, 2.5, "10"],
    operationTimeoutMs: [0, -1, NaN, "10"],
    durability: ["FULL", "sync", 1, true],
    breaker: [5, "x", { failureThreshold: 0 }, { recoveryTimeoutMs: -1 }],
    retry: [5, { maxAttempts: 0 }, { baseDelayMs: -1 }, { maxDelayMs: NaN }],
    clock: [5, "Date.now", {}],
    fs: [5, "node:fs"],
  };

  for (const [name, values] of Object.entries(badOptions)) {
    for (const value of values) {
      const shown = typeof value === "string" || (typeof value === "object" && value !== null) ? JSON.stringify(value) : String(value);
      test(`${name}: ${shown} is INVALID_ARGUMENT naming ${name}`, async () => {
        await rejectsWith(() => openStorage({ [name]: value }), "INVALID_ARGUMENT", new RegExp(name));
      });
    }
  }

  test("unknown option names are INVALID_ARGUMENT naming them", async () => {
    await rejectsWith(() => openStorage({ nope: 1 }), "INVALID_ARGUMENT", /nope/);
    await rejectsWith(() => openStorage({ maxsizebytes: 1 }), "INVALID_ARGUMENT", /maxsizebytes/);
    await rejectsWith(() => openStorage({ ttlMs: 1 }), "INVALID_ARGUMENT", /ttlMs/);
  });

  test("unknown names inside breaker and retry are INVALID_ARGUMENT naming them", async () => {
    await rejectsWith(() => openStorage({ breaker: { threshold: 1 } }), "INVALID_ARGUMENT", /threshold/);
    await rejectsWith(() => openStorage({ retry: { attempts: 1 } }), "INVALID_ARGUMENT", /attempts/);
  });

  test("options that are not an object are INVALID_ARGUMENT", async () => {
    for (const options of [5, "path", true, [], () => ({})]) {
      await rejectsWith(() => openStorage(options), "INVALID_ARGUMENT");
    }
  });

  test("an option getter that throws is INVALID_ARGUMENT", async () => {
    const options = {
      get path() {
        throw new Error("boom");
      },
    };
    await rejectsWith(() => openStorage(options), "INVALID_ARGUMENT", /path/);
  });

  test(
    "options whose own keys cannot be read are INVALID_ARGUMENT, not INTERNAL",
    async () => {
      const options = new Proxy({}, { ownKeys() { throw new Error("boom"); } });
      await rejectsWith(() => openStorage(options), "INVALID_ARGUMENT");
    },
  );

  test("every valid option value is accepted", async (t) => {
    const fs = await import("node:fs");
    const store = await openStorage({
      path: ":memory:",
      maxSizeBytes: 64 * 1024 * 1024,
      defaultTtlMs: Infinity,
      maxBatchSize: 1,
      maxKeyBytes: 1,
      maxValueBytes: 1,
      maxQueueLength: 1,
      operationTimeoutMs: Infinity,
      durability: "normal",
      breaker: { failureThreshold: 1, recoveryTimeoutMs: 0 },
      retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
      clock: () => 0,
      fs,
    });
    t.after(() => store.dispose());
    await store.set("k", 1);
    assert.equal(await store.get("k"), 1);
  });

  test("undefined option values mean the default", async (t) => {
    const store = await openStorage({ path: undefined, maxBatchSize: undefined, clock: undefined });
    t.after(() => store.dispose());
    await store.set("k", 1);
    assert.equal(await store.count(), 1);
  });

  test("durability 'full' is accepted", async (t) => {
    const store = await openStorage({ durability: "full" });
    t.after(() => store.dispose());
    assert.equal(store.isDisposed(), false);
  });
});

describe("key validation", () => {
  const badKeys = {
    empty: "",
    number: 1,
    null: null,
    undefined: undefined,
    object: {},
    array: ["k"],
    symbol: Symbol("k"),
    "String object": new String("k"),
    "lone high surrogate": "a\uD800",
    "lone low surrogate": "\uDC00b",
  };

  const callsWithKey = {
    get: (store, key) => store.get(key),
    has: (store, key) => store.has(key),
    delete: (store, key) => store.delete(key),
    set: (store, key) => store.set(key, 1),
  };

  for (const [call, run] of Object.entries(callsWithKey)) {
    test(`${call} rejects every kind of invalid key with INVALID_KEY`, async (t) => {
      const store = await open(t);
      for (const [label, key] of Object.entries(badKeys)) {
        await rejectsWith(() => run(store, key), "INVALID_KEY").catch((error) => {
          error.message = `${label}: ${error.message}`;
          throw error;
        });
      }
      assert.equal(await store.count(), 0);
    });
  }

  test("maxKeyBytes counts UTF-8 bytes: at the limit is fine, one byte over is INVALID_KEY", async (t) => {
    const store = await open(t, { maxKeyBytes: 4 });
    for (const key of ["abcd", "éé", "😀", "aé"]) await store.set(key, 1);
    for (const key of ["abcde", "ééa", "😀a", "ééé"]) {
      await rejectsWith(() => store.set(key, 1), "INVALID_KEY");
      await rejectsWith(() => store.get(key), "INVALID_KEY");
    }
    assert.equal(await store.count(), 4);
  });

  test("the default maxKeyBytes is 1024", async (t) => {
    const store = await open(t);
    await store.set("k".repeat(1024), 1);
    await rejectsWith(() => store.set("k".repeat(1025), 1), "INVALID_KEY");
    await rejectsWith(() => store.set("é".repeat(513), 1), "INVALID_KEY");
  });

  test("mget and mdelete name the index of an invalid key", async (t) => {
    const store = await open(t);
    await rejectsWith(() => store.mget(["a", "b", ""]), "INVALID_KEY", /\b2\b/);
    await rejectsWith(() => store.mdelete(["a", 7]), "INVALID_KEY", /\b1\b/);
  });

  test("mget, mdelete and mset reject something that is not a list", async (t) => {
    const store = await open(t);
    for (const keys of [undefined, null, "ab", 5, { 0: "a", length: 1 }]) {
      await rejectsWith(() => store.mget(keys), "INVALID_ARGUMENT");
      await rejectsWith(() => store.mdelete(keys), "INVALID_ARGUMENT");
    }
    for (const entries of [undefined, null, "ab", 5, () => {}]) {
      await rejectsWith(() => store.mset(entries), "INVALID_ARGUMENT");
    }
  });

  test("mset rejects an array item that is not a [key, value] pair, naming its index", async (t) => {
    const store = await open(t);
    await rejectsWith(() => store.mset([["a", 1], "b"]), "INVALID_ARGUMENT", /\b1\b/);
    await rejectsWith(() => store.mset([["a", 1], ["b", 2], ["c"]]), "INVALID_ARGUMENT", /\b2\b/);
    assert.equal(await store.count(), 0);
  });
});

describe("value validation", () => {
  class Point {
    constructor() {
      this.x = 1;
    }
  }
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const withExtra = Object.assign([1, 2], { extra: true });

  const badValues = {
    function: () => 1,
    symbol: Symbol("v"),
    undefined: undefined,
    "nested undefined": { a: [1, undefined] },
    "undefined property": { a: undefined },
    NaN: NaN,
    Infinity: Infinity,
    "-Infinity": -Infinity,
    "nested NaN": [NaN],
    BigInt: 10n,
    "nested BigInt": { n: 1n },
    cycle: cyclic(),
    "array cycle": (() => {
      const a = [];
      a.push(a);
      return a;
    })(),
    Date: new Date(0),
    Map: new Map(),
    Set: new Set(),
    RegExp: /x/,
    "class instance": new Point(),
    "Error": new Error("x"),
    "boxed Number": new Number(1),
    "lone surrogate string": "x\uD800",
    "lone surrogate property name": { ["\uDC00"]: 1 },
    "129 levels deep": nested(129),
    "nested Uint8Array": { bytes: new Uint8Array(1) },
    "Uint8Array in an array": [new Uint8Array(1)],
    "Int8Array": new Int8Array(2),
    ArrayBuffer: new ArrayBuffer(2),
    "sparse array": sparse,
    "array with extra properties": withExtra,
    "symbol-keyed property": { [Symbol("k")]: 1 },
    "toJSON method": { toJSON: () => "x" },
    "throwing getter": {
      get boom() {
        throw new Error("no");
      },
    },
  };

  test("every value that would not read back exactly is INVALID_VALUE and writes nothing", async (t) => {
    const store = await open(t);
    for (const [label, value] of Object.entries(badValues)) {
      await rejectsWith(() => store.set("k", value), "INVALID_VALUE").catch((error) => {
        error.message = `${label}: ${error.message}`;
        throw error;
      });
      assert.equal(await store.has("k"), false, label);
    }
    assert.deepEqual(await totals(store), { count: 0, size: 0 });
  });

  test("an invalid value does not replace the stored one", async (t) => {
    const store = await open(t);
    await store.set("k", "kept");
    await rejectsWith(() => store.set("k", { n: 1n }), "INVALID_VALUE");
    assert.equal(await store.get("k"), "kept");
  });

  test(
    "a value whose own keys cannot be read is INVALID_VALUE, not INTERNAL",
    async (t) => {
      const store = await open(t);
      const value = new Proxy({}, { ownKeys() { throw new Error("boom"); } });
      await rejectsWith(() => store.set("k", value), "INVALID_VALUE");
    },
  );

  test(
    "an mset entries object whose getter throws is INVALID_VALUE, not INTERNAL",
    async (t) => {
      const store = await open(t);
      const entries = {
        ok: 1,
        get boom() {
          throw new Error("no");
        },
      };
      await rejectsWith(() => store.mset(entries), "INVALID_VALUE");
      assert.equal(await store.count(), 0);
    },
  );

  test("maxValueBytes bounds the encoded bytes: at the limit is fine, over is VALUE_TOO_LARGE", async (t) => {
    const store = await open(t, { maxValueBytes: 5 });
    await store.set("json", "abc"); // "abc" with its quotes: 5 bytes
    await store.set("bytes", new Uint8Array(5));
    await rejectsWith(() => store.set("json2", "abcd"), "VALUE_TOO_LARGE", /maxValueBytes/);
    await rejectsWith(() => store.set("bytes2", new Uint8Array(6)), "VALUE_TOO_LARGE", /maxValueBytes/);
    await rejectsWith(() => store.set("obj", { a: 1 }), "VALUE_TOO_LARGE"); // {"a":1} is 7 bytes
    await rejectsWith(() => store.mset({ ok: 1, big: "abcdef" }), "VALUE_TOO_LARGE");
    assert.deepEqual(await store.keys(), ["bytes", "json"]);
  });

  test("the key does not count toward maxValueBytes", async (t) => {
    const store = await open(t, { maxValueBytes: 3 });
    await store.set("a-rather-long-key", 123);
    assert.equal(await store.get("a-rather-long-key"), 123);
  });
});

describe("call option validation", () => {
  test("set options: bad size, bad ttlMs, unknown names and non-objects are INVALID_ARGUMENT", async (t) => {
    const store = await open(t);
    for (const size of [-1, 1.5, NaN, Infinity, "10", null]) {
      await rejectsWith(() => store.set("k", 1, { size }), "INVALID_ARGUMENT", /size/);
    }
    await rejectsWith(() => store.set("k", 1, { ttl: 5 }), "INVALID_ARGUMENT", /ttl/);
    await rejectsWith(() => store.set("k", 1, { ttlMs: 5, extra: 1 }), "INVALID_ARGUMENT", /extra/);
    await rejectsWith(() => store.set("k", 1, 5), "INVALID_ARGUMENT");
    await rejectsWith(() => store.set("k", 1, "ttl"), "INVALID_ARGUMENT");
    assert.equal(await store.count(), 0);
  });

  test("mset options accept only ttlMs", async (t) => {
    const store = await open(t);
    await rejectsWith(() => store.mset({ a: 1 }, { size: 10 }), "INVALID_ARGUMENT", /size/);
    await rejectsWith(() => store.mset({ a: 1 }, 5), "INVALID_ARGUMENT");
    assert.equal(await store.count(), 0);
  });

  test("keys options: bad prefix, after, limit and unknown names are INVALID_ARGUMENT naming them", async (t) => {
    const store = await open(t);
    const cases = [
      [{ prefix: 1 }, /prefix/],
      [{ prefix: null }, /prefix/],
      [{ prefix: "\uD800" }, /prefix/],
      [{ after: 1 }, /after/],
      [{ limit: 0 }, /limit/],
      [{ limit: -1 }, /limit/],
      [{ limit: 1.5 }, /limit/],
      [{ limit: NaN }, /limit/],
      [{ limit: "2" }, /limit/],
      [{ start: "a" }, /start/],
    ];
    for (const [options, mentions] of cases) {
      await rejectsWith(() => store.keys(options), "INVALID_ARGUMENT", mentions);
    }
    await rejectsWith(() => store.keys(5), "INVALID_ARGUMENT");
  });
});

describe("failures are rejections, never synchronous throws", () => {
  test("every call with bad arguments returns a rejected promise", async (t) => {
    const store = await open(t, { maxBatchSize: 2 });
    const calls = [
      () => openStorage({ nope: true }),
      () => openStorage(42),
      () => openStorage({ path: "" }),
      () => store.set(undefined, undefined, 42),
      () => store.set("k", Symbol("v")),
      () => store.set("k", 1, { size: -1 }),
      () => store.get(Symbol("k")),
      () => store.has({}),
      () => store.delete(null),
      () => store.mget("not a list"),
      () => store.mget(["a", "b", "c"]),
      () => store.mset(42),
      () => store.mset([["a", 1n]]),
      () => store.mdelete([1]),
      () => store.keys({ limit: -1 }),
    ];
    const promises = calls.map((call, index) => {
      let promise;
      assert.doesNotThrow(() => {
        promise = call();
      }, `call ${index} threw synchronously`);
      assert.ok(promise instanceof Promise, `call ${index} returned a promise`);
      return promise;
    });
    const results = await settleAll(promises);
    results.forEach((result, index) => {
      assert.equal(result.status, "rejected", `call ${index}`);
      assertStorageError(result.reason, result.reason.code);
    });
  });

  test("calls on a disposed store return rejected promises", async (t) => {
    const store = await open(t);
    await store.dispose();
    for (const call of [() => store.get(""), () => store.set("k", () => 1), () => store.count()]) {
      let promise;
      assert.doesNotThrow(() => {
        promise = call();
      });
      assert.ok(promise instanceof Promise);
      await assert.rejects(promise, (error) => assertStorageError(error, error.code) && true);
    }
  });

  test("successful calls return promises too", async (t) => {
    const store = await open(t);
    const results = [
      store.set("k", 1),
      store.get("k"),
      store.has("k"),
      store.mget(["k"]),
      store.mset({ j: 2 }),
      store.keys(),
      store.count(),
      store.getCurrentCacheSize(),
      store.mdelete(["j"]),
      store.delete("k"),
      store.clear(),
    ];
    for (const result of results) assert.ok(result instanceof Promise);
    assert.deepEqual(await Promise.all(results), [undefined, 1, true, [1], undefined, ["j", "k"], 2, 4, 1, true, undefined]);
    const disposing = store.dispose();
    assert.ok(disposing instanceof Promise);
    await disposing;
  });
});
