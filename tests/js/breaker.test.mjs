// The circuit breaker (README, "Resilience"): after `failureThreshold`
// consecutive storage failures it opens and every operation fails fast with
// CIRCUIT_OPEN without touching storage; after `recoveryTimeoutMs` on the
// injected clock one operation runs as a probe, whose success closes it and
// whose failure opens it again for a full timeout. Invalid input, QUEUE_FULL
// and lifecycle errors neither count nor reset; a success resets the count.
//
// Every store here is a file store in a fresh temp directory, its I/O going
// through faultyFs (EIO/ENOSPC on every writeSync/fsyncSync while armed)
// wrapped in a recorder that counts every fs call. Time moves only by hand.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { openStorage } from "larderdb";
import {
  SUITE_TIMEOUT_MS,
  assertStorageError,
  manualClock,
  rejectsWith,
  settleAll,
  within,
} from "./helpers.mjs";
import { faultyFs } from "./file-helpers.mjs";

const THRESHOLD = 3;
const RECOVERY_MS = 1000;
const BREAKER = { failureThreshold: THRESHOLD, recoveryTimeoutMs: RECOVERY_MS };
const RETRY = { maxAttempts: 1 };
const FAULTS = { EIO: "IO", ENOSPC: "QUOTA_EXCEEDED" };
const TEST = { timeout: 30_000 };

/**
 * Wraps an `fs` object so that every call of every function on it is counted
 * and appended to `timeline` (shared with the breaker listener, so the order
 * of I/O and transitions can be checked). For writeSync it also records which
 * of `markers` the written bytes contain, read at call time (the buffer is
 * wasm memory that is reused). `onThrow(name, error)` runs when a call throws.
 */
function recordingFs(base, timeline, markers = []) {
  const recorder = {
    total: 0,
    byName: {},
    onThrow: undefined,
    /** Calls since `mark` (a value of `total`), by name. */
    since(mark) {
      return timeline.filter((entry) => entry.fs && entry.seq > mark);
    },
  };
  const wrappers = new Map();
  const writtenMarkers = (args) => {
    const data = args[1];
    if (!ArrayBuffer.isView(data)) return typeof data === "string" ? markers.filter((m) => data.includes(m)) : [];
    const offset = typeof args[2] === "number" ? args[2] : 0;
    const length = typeof args[3] === "number" ? args[3] : data.byteLength - offset;
    const bytes = Buffer.from(data.buffer, data.byteOffset + offset, length);
    return markers.filter((marker) => bytes.includes(marker));
  };
  recorder.fs = new Proxy(base, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      if (!wrappers.has(name)) {
        wrappers.set(name, function recorded(...args) {
          recorder.total += 1;
          recorder.byName[name] = (recorder.byName[name] ?? 0) + 1;
          const entry = { seq: recorder.total, fs: String(name) };
          if (name === "writeSync") entry.markers = writtenMarkers(args);
          timeline.push(entry);
          try {
            return Reflect.apply(value, target, args);
          } catch (error) {
            recorder.onThrow?.(String(name), error);
            throw error;
          }
        });
      }
      return wrappers.get(name);
    },
  });
  return recorder;
}

/**
 * A file store in a fresh temp directory with the breaker options above, a
 * manual clock, a fault-injecting and recording `fs`, and a listener that
 * logs every transition into `events` (and into `timeline`). Cleaned up
 * (fault disarmed, store disposed, directory removed) when `t` ends.
 */
async function breakerStore(t, { markers = [], ...options } = {}) {
  const dir = realFs.mkdtempSync(path.join(tmpdir(), "lt-breaker-"));
  const { fs: faulty, control } = faultyFs();
  const timeline = [];
  const io = recordingFs(faulty, timeline, markers);
  const clock = manualClock();
  let store;
  t.after(async () => {
    control.disarm();
    try {
      if (store) await within(store.dispose(), "dispose in cleanup").catch(() => {});
    } finally {
      realFs.rmSync(dir, { recursive: true, force: true });
    }
  });
  store = await within(
    openStorage({
      path: path.join(dir, "breaker.sqlite"),
      fs: io.fs,
      clock,
      breaker: BREAKER,
      retry: RETRY,
      ...options,
    }),
    "openStorage",
  );
  const events = [];
  store.onStateChange((state, previous) => {
    events.push([state, previous]);
    timeline.push({ event: [state, previous] });
  });
  return { store, control, io, clock, events, timeline, dir };
}

let unique = 0;

/** `n` sets that each fail on storage (the fault is left armed). */
async function failingSets(h, n, errno = "EIO") {
  h.control.arm(1, errno, { sticky: true });
  for (let i = 0; i < n; i += 1) {
    await rejectsWith(() => within(h.store.set(`fail-${(unique += 1)}`, { i }), "a failing set"), FAULTS[errno]);
  }
}

/** Opens the breaker with THRESHOLD failing sets (fault left armed). */
async function trip(h) {
  await failingSets(h, THRESHOLD);
  assert.equal(h.store.breakerState, "OPEN", "open after failureThreshold failures");
  assert.deepEqual(h.events, [["OPEN", "CLOSED"]]);
}

/** Every key/value operation of `view`, as thunks; `loads` counts getOrSet loader calls. */
function everyOperation(view, loads) {
  const loader = () => {
    loads.count += 1;
    return "loaded";
  };
  return {
    set: () => view.set("seed", "overwritten"),
    "set with ttlMs": () => view.set("fresh", 1, { ttlMs: 5_000 }),
    get: () => view.get("seed"),
    "get of a missing key": () => view.get("missing"),
    has: () => view.has("seed"),
    delete: () => view.delete("seed"),
    mget: () => view.mget(["seed", "other"]),
    mset: () => view.mset([["a", 1], ["b", 2]]),
    "mset of an object": () => view.mset({ c: 3 }),
    mdelete: () => view.mdelete(["seed", "other"]),
    keys: () => view.keys(),
    "keys with prefix": () => view.keys({ prefix: "se", limit: 5 }),
    getOrSet: () => view.getOrSet("seed", loader),
    "getOrSet of a missing key": () => view.getOrSet("missing", loader),
    invalidate: () => view.invalidate({ prefix: "se" }),
    purgeExpired: () => view.purgeExpired(),
    count: () => view.count(),
    getCurrentCacheSize: () => view.getCurrentCacheSize(),
    clear: () => view.clear(),
  };
}

describe("circuit breaker", { timeout: SUITE_TIMEOUT_MS }, () => {
  test("starts CLOSED; failureThreshold consecutive storage failures open it, announced once", TEST, async (t) => {
    const h = await breakerStore(t);
    assert.equal(h.store.breakerState, "CLOSED");
    await h.store.set("ok", 1);
    h.control.arm(1, "EIO", { sticky: true });
    for (let i = 1; i <= THRESHOLD; i += 1) {
      // The failures themselves are reported as what they are, not CIRCUIT_OPEN.
      await rejectsWith(() => h.store.set(`k${i}`, i), "IO");
      assert.ok(h.control.fired > 0, "the fault reached storage");
      const expected = i < THRESHOLD ? "CLOSED" : "OPEN";
      assert.equal(h.store.breakerState, expected, `after ${i} failure(s)`);
      assert.deepEqual(h.events, i < THRESHOLD ? [] : [["OPEN", "CLOSED"]], `transitions after ${i} failure(s)`);
    }
    await rejectsWith(() => h.store.set("next", 0), "CIRCUIT_OPEN");
    assert.deepEqual(h.events, [["OPEN", "CLOSED"]], "onStateChange called exactly once");
  });

  for (const threshold of [1, 5]) {
    test(`failureThreshold ${threshold}: opens at exactly the ${threshold}th consecutive failure`, TEST, async (t) => {
      const h = await breakerStore(t, { breaker: { failureThreshold: threshold, recoveryTimeoutMs: RECOVERY_MS } });
      h.control.arm(1, "EIO", { sticky: true });
      for (let i = 1; i <= threshold; i += 1) {
        assert.equal(h.store.breakerState, "CLOSED", `before failure ${i}`);
        await rejectsWith(() => h.store.set(`k${i}`, i), "IO");
      }
      assert.equal(h.store.breakerState, "OPEN");
      assert.deepEqual(h.events, [["OPEN", "CLOSED"]]);
    });
  }

  test("while OPEN every operation, reads too, rejects with CIRCUIT_OPEN and makes no storage call", TEST, async (t) => {
    const h = await breakerStore(t);
    await h.store.set("seed", "value");
    await h.store.namespace("ns").set("seed", "value");
    await trip(h);
    // With the fault gone, any operation that reached storage would succeed.
    h.control.disarm();
    const loads = { count: 0 };
    const views = { root: h.store, "namespace view": h.store.namespace("ns") };
    const before = h.io.total;

    // One at a time.
    for (const [viewName, view] of Object.entries(views)) {
      for (const [name, run] of Object.entries(everyOperation(view, loads))) {
        const error = await rejectsWith(() => within(run(), `${viewName} ${name}`), "CIRCUIT_OPEN");
        assert.equal(error.category, "CONCURRENCY");
        assert.equal(error.retryable, true);
        assert.equal(error.recoveryAction, "WAIT");
      }
    }
    // All together.
    const batch = Object.values(views).flatMap((view) =>
      Object.values(everyOperation(view, loads)).map((run) => run()),
    );
    const results = await settleAll(batch);
    results.forEach((result, i) => {
      assert.equal(result.status, "rejected", `concurrent call ${i}`);
      assertStorageError(result.reason, "CIRCUIT_OPEN");
    });
    // Still inside the timeout: 1 ms before it.
    h.clock.advance(RECOVERY_MS - 1);
    await rejectsWith(() => h.store.get("seed"), "CIRCUIT_OPEN");

    const calls = h.io.since(before);
    assert.equal(h.io.total - before, 0, `fs calls while OPEN: ${calls.map((c) => c.fs).join(", ")}`);
    assert.equal(loads.count, 0, "no getOrSet loader ran");
    assert.equal(h.store.breakerState, "OPEN");
    assert.deepEqual(h.events, [["OPEN", "CLOSED"]], "no transition while failing fast");
  });

  test("invalid input never counts as a failure, nor resets the count", TEST, async (t) => {
    const h = await breakerStore(t, { maxBatchSize: 3, maxValueBytes: 64, maxKeyBytes: 16, maxSizeBytes: 10_000 });
    const cycle = { a: 1 };
    cycle.self = cycle;
    const invalid = [
      ["INVALID_KEY", () => h.store.set("", 1)],
      ["INVALID_KEY", () => h.store.set("k".repeat(17), 1)],
      ["INVALID_KEY", () => h.store.get(42)],
      ["INVALID_KEY", () => h.store.namespace("").set("k", 1)],
      ["INVALID_VALUE", () => h.store.set("k", undefined)],
      ["INVALID_VALUE", () => h.store.set("k", cycle)],
      ["INVALID_VALUE", () => h.store.mset([["a", 1], ["b", NaN]])],
      ["VALUE_TOO_LARGE", () => h.store.set("k", "x".repeat(100))],
      ["VALUE_TOO_LARGE", () => h.store.set("k", 1, { size: 10_001 })],
      ["BATCH_TOO_LARGE", () => h.store.mset([["a", 1], ["b", 2], ["c", 3], ["d", 4]])],
      ["BATCH_TOO_LARGE", () => h.store.mget(["a", "b", "c", "d"])],
      ["BATCH_TOO_LARGE", () => h.store.mdelete(["a", "b", "c", "d"])],
      ["INVALID_ARGUMENT", () => h.store.set("k", 1, { ttlMs: 0 })],
      ["INVALID_ARGUMENT", () => h.store.keys({ limit: 0 })],
      ["INVALID_ARGUMENT", () => h.store.getOrSet("k", "not a function")],
    ];
    const allInvalid = async (label) => {
      for (const [code, run] of invalid) await rejectsWith(run, code);
      assert.equal(h.store.breakerState, "CLOSED", label);
    };

    // Interleaved: F, invalid…, F, invalid…, F → opens at the third real failure.
    await allInvalid("before any failure");
    for (let i = 1; i <= THRESHOLD; i += 1) {
      await failingSets(h, 1);
      if (i < THRESHOLD) await allInvalid(`after ${i} failure(s) and ${invalid.length * i} invalid calls`);
    }
    assert.equal(h.store.breakerState, "OPEN", `open after ${THRESHOLD} real failures, whatever lay between`);
    assert.deepEqual(h.events, [["OPEN", "CLOSED"]]);
  });

  test("invalid input does not reset the count: F, F, invalid input, F opens", TEST, async (t) => {
    const h = await breakerStore(t, { maxBatchSize: 2 });
    await failingSets(h, THRESHOLD - 1);
    await rejectsWith(() => h.store.set("", 1), "INVALID_KEY");
    await rejectsWith(() => h.store.set("k", () => {}), "INVALID_VALUE");
    await rejectsWith(() => h.store.mset([["a", 1], ["b", 2], ["c", 3]]), "BATCH_TOO_LARGE");
    assert.equal(h.store.breakerState, "CLOSED");
    await failingSets(h, 1);
    assert.equal(h.store.breakerState, "OPEN", "the invalid calls did not reset the count");
  });

  test("QUEUE_FULL neither counts nor resets: F, QUEUE_FULL×4, F stays CLOSED; one more F opens", TEST, async (t) => {
    const h = await breakerStore(t, { maxQueueLength: 1 });
    await failingSets(h, 1);
    // Five sets at once: the first waits in the queue (and then fails on
    // storage), the four beyond maxQueueLength are refused at once, before it runs.
    const results = await settleAll(Array.from({ length: 5 }, (_, i) => h.store.set(`burst-${i}`, i)));
    const codes = results.map((result) => (result.status === "rejected" ? result.reason.code : "resolved"));
    assert.deepEqual(codes, ["IO", "QUEUE_FULL", "QUEUE_FULL", "QUEUE_FULL", "QUEUE_FULL"]);
    results.slice(1).forEach((result) => assertStorageError(result.reason, "QUEUE_FULL"));
    assert.equal(h.store.breakerState, "CLOSED", "two storage failures; the QUEUE_FULLs did not count");
    await failingSets(h, 1);
    assert.equal(h.store.breakerState, "OPEN", "three storage failures; the QUEUE_FULLs did not reset the count");
    assert.deepEqual(h.events, [["OPEN", "CLOSED"]]);
  });

  for (const success of ["a set", "a get"]) {
    test(`${success} resets the count: 2 failures, 1 success, 2 failures → still CLOSED`, TEST, async (t) => {
      const h = await breakerStore(t);
      await h.store.set("present", "yes");
      await failingSets(h, 2);
      if (success === "a set") {
        h.control.disarm();
        await h.store.set("ok", 1);
      } else {
        // Reads make no write: this succeeds with the write fault still armed.
        assert.equal(await h.store.get("present"), "yes");
      }
      await failingSets(h, 2);
      assert.equal(h.store.breakerState, "CLOSED", "the success reset the count");
      assert.deepEqual(h.events, []);
      await failingSets(h, 1);
      assert.equal(h.store.breakerState, "OPEN", "three in a row since the success");
    });
  }

  test("QUOTA_EXCEEDED (ENOSPC) counts as a failure, alone or mixed with IO", TEST, async (t) => {
    for (const sequence of [["ENOSPC", "ENOSPC", "ENOSPC"], ["EIO", "ENOSPC", "EIO"], ["ENOSPC", "EIO", "EIO"]]) {
      await t.test(sequence.join(", "), async (st) => {
        const h = await breakerStore(st);
        for (const [i, errno] of sequence.entries()) {
          assert.equal(h.store.breakerState, "CLOSED", `before failure ${i + 1}`);
          await failingSets(h, 1, errno);
        }
        assert.equal(h.store.breakerState, "OPEN");
        assert.deepEqual(h.events, [["OPEN", "CLOSED"]]);
        await rejectsWith(() => h.store.get("x"), "CIRCUIT_OPEN");
      });
    }
  });

  test("after recoveryTimeoutMs one operation probes; its success closes; HALF_OPEN announced in order", TEST, async (t) => {
    const MARKS = ["PROBE-MARK-ONE", "PROBE-MARK-TWO", "PROBE-MARK-TRE"];
    const h = await breakerStore(t, { markers: MARKS });
    await trip(h);
    h.control.disarm();
    h.clock.advance(RECOVERY_MS - 1);
    await rejectsWith(() => h.store.set("early", 1), "CIRCUIT_OPEN");
    assert.deepEqual(h.events, [["OPEN", "CLOSED"]], "1 ms before the timeout: no probe");
    h.clock.advance(1);

    const start = h.timeline.length;
    const calls = [
      h.store.set("first", MARKS[0]),
      h.store.set("second", MARKS[1]),
      h.store.get("first"),
      h.store.set("third", MARKS[2]),
      h.store.count(),
    ];
    const results = await settleAll(calls);
    assert.deepEqual(h.events, [
      ["OPEN", "CLOSED"],
      ["HALF_OPEN", "OPEN"],
      ["CLOSED", "HALF_OPEN"],
    ]);
    assert.equal(h.store.breakerState, "CLOSED");
    assert.equal(results[0].status, "fulfilled", `the probe (the first call) succeeded: ${results[0].reason?.message}`);

    // The timeline: the probe's writes, then both transitions, and only then
    // anything of the calls queued behind it: exactly one operation probed.
    const after = h.timeline.slice(start);
    const at = (predicate, what) => {
      const index = after.findIndex(predicate);
      assert.ok(index >= 0, `${what} in the timeline`);
      return index;
    };
    const probeWrite = at((e) => e.markers?.includes(MARKS[0]), "the probe's write");
    const halfOpen = at((e) => e.event?.[0] === "HALF_OPEN", "HALF_OPEN");
    const closed = at((e) => e.event?.[0] === "CLOSED", "CLOSED");
    const secondWrite = at((e) => e.markers?.includes(MARKS[1]), "the second set's write");
    assert.ok(probeWrite < halfOpen && halfOpen < closed && closed < secondWrite, `order: ${JSON.stringify(after)}`);

    // Queued behind a successful probe, the others run on a CLOSED breaker.
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : r.reason.code)),
      [undefined, undefined, MARKS[0], undefined, 3],
    );
    assert.equal(await h.store.get("third"), MARKS[2]);
  });

  test(
    "a half-open probe fired together with other calls: only it reaches storage; if it fails, the others get CIRCUIT_OPEN",
    TEST,
    async (t) => {
      const MARKS = ["PROBE-MARK-ONE", "PROBE-MARK-TWO"];
      const h = await breakerStore(t, { markers: MARKS });
      await trip(h);
      h.clock.advance(RECOVERY_MS);
      const start = h.io.total;
      const results = await settleAll([
        h.store.set("first", MARKS[0]),
        h.store.set("second", MARKS[1]),
        h.store.get("first"),
        h.store.has("first"),
        h.store.keys(),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === "fulfilled" ? "resolved" : r.reason.code)),
        ["IO", "CIRCUIT_OPEN", "CIRCUIT_OPEN", "CIRCUIT_OPEN", "CIRCUIT_OPEN"],
      );
      results.slice(1).forEach((r) => assertStorageError(r.reason, "CIRCUIT_OPEN"));
      assert.ok(h.io.total > start, "the probe reached storage");
      const reopened = h.timeline.findIndex((e) => e.event?.[0] === "OPEN" && e.event?.[1] === "HALF_OPEN");
      assert.ok(reopened >= 0, "reopened");
      const later = h.timeline.slice(reopened).filter((e) => e.fs);
      assert.deepEqual(later, [], "no storage call after the probe failed");
      assert.equal(
        h.timeline.some((e) => e.markers?.includes(MARKS[1])),
        false,
        "the second set never wrote",
      );
      assert.deepEqual(h.events, [
        ["OPEN", "CLOSED"],
        ["HALF_OPEN", "OPEN"],
        ["OPEN", "HALF_OPEN"],
      ]);
    },
  );

  test("a failed probe reopens for a full recoveryTimeoutMs from its failure (1 ms before: CIRCUIT_OPEN; at: probe)", TEST, async (t) => {
    const h = await breakerStore(t);
    await trip(h);
    h.clock.advance(RECOVERY_MS);
    // The probe: the fault is still armed.
    await rejectsWith(() => h.store.set("probe", 1), "IO");
    assert.equal(h.store.breakerState, "OPEN");
    assert.deepEqual(h.events, [
      ["OPEN", "CLOSED"],
      ["HALF_OPEN", "OPEN"],
      ["OPEN", "HALF_OPEN"],
    ]);
    h.control.disarm();
    const before = h.io.total;
    h.clock.advance(RECOVERY_MS - 1);
    await rejectsWith(() => h.store.set("early", 1), "CIRCUIT_OPEN");
    await rejectsWith(() => h.store.get("probe"), "CIRCUIT_OPEN");
    assert.equal(h.io.total, before, "no storage call 1 ms before the timeout");
    assert.equal(h.events.length, 3);
    h.clock.advance(1);
    await h.store.set("probe", 2);
    assert.deepEqual(h.events.slice(3), [
      ["HALF_OPEN", "OPEN"],
      ["CLOSED", "HALF_OPEN"],
    ]);
    assert.equal(h.store.breakerState, "CLOSED");
    assert.equal(await h.store.get("probe"), 2);
  });

  for (const which of ["the probe", "the failure that trips the breaker"]) {
    test(
      `the open period is counted from the moment ${which} failed, also when time passed while it ran`,
      TEST,
      async (t) => {
        const RUN_MS = 300;
        const h = await breakerStore(t);
        let pending = 0;
        // Time passes inside the failing operation: at its first failed write.
        h.io.onThrow = () => {
          h.clock.advance(pending);
          pending = 0;
        };
        if (which === "the probe") {
          await trip(h);
          h.clock.advance(RECOVERY_MS);
          pending = RUN_MS;
          await rejectsWith(() => h.store.set("probe", 1), "IO");
        } else {
          await failingSets(h, THRESHOLD - 1);
          pending = RUN_MS;
          await failingSets(h, 1);
        }
        assert.equal(pending, 0, "time moved during the failing operation");
        assert.equal(h.store.breakerState, "OPEN");
        h.control.disarm();
        // Failed at F; the store must fail fast until F + recoveryTimeoutMs.
        h.clock.advance(RECOVERY_MS - 1);
        await rejectsWith(() => h.store.get("x"), "CIRCUIT_OPEN");
        h.clock.advance(1);
        assert.equal(await h.store.get("x"), undefined, "the probe at F + recoveryTimeoutMs");
        assert.equal(h.store.breakerState, "CLOSED");
      },
    );
  }

  describe("onStateChange", () => {
    test("returns { dispose }; after dispose the listener is no longer called; others still are", TEST, async (t) => {
      const h = await breakerStore(t);
      const disposedCalls = [];
      const keptCalls = [];
      const handle = h.store.onStateChange((...args) => disposedCalls.push(args));
      const kept = h.store.onStateChange((...args) => keptCalls.push(args));
      assert.equal(typeof handle, "object");
      assert.equal(typeof handle.dispose, "function");
      assert.equal(typeof kept.dispose, "function");
      await failingSets(h, THRESHOLD - 1);
      handle.dispose();
      assert.doesNotThrow(() => handle.dispose(), "dispose is idempotent");
      await failingSets(h, 1);
      h.control.disarm();
      h.clock.advance(RECOVERY_MS);
      await h.store.set("probe", 1);
      assert.deepEqual(disposedCalls, [], "a disposed listener is never called");
      const all = [
        ["OPEN", "CLOSED"],
        ["HALF_OPEN", "OPEN"],
        ["CLOSED", "HALF_OPEN"],
      ];
      assert.deepEqual(keptCalls, all);
      assert.deepEqual(h.events, all);
      kept.dispose();
      await failingSets(h, THRESHOLD);
      assert.equal(h.store.breakerState, "OPEN", "open again");
      assert.deepEqual(keptCalls, all, "disposed after the first cycle");
      assert.equal(h.events.length, 4, "the harness listener is still told");
    });

    test("a listener that throws breaks neither the store nor the other listeners", TEST, async (t) => {
      const h = await breakerStore(t);
      const uncaught = [];
      const onError = (error) => uncaught.push(error);
      process.on("uncaughtException", onError);
      process.on("unhandledRejection", onError);
      t.after(() => {
        process.off("uncaughtException", onError);
        process.off("unhandledRejection", onError);
      });
      let thrown = 0;
      h.store.onStateChange(() => {
        thrown += 1;
        throw new Error("listener failure");
      });
      const after = [];
      h.store.onStateChange((...args) => after.push(args));

      // The tripping set still rejects with its own error.
      await failingSets(h, THRESHOLD);
      assert.equal(h.store.breakerState, "OPEN");
      await rejectsWith(() => h.store.get("k"), "CIRCUIT_OPEN");
      h.control.disarm();
      h.clock.advance(RECOVERY_MS);
      // The probe resolves although a listener throws on both of its transitions.
      await within(h.store.set("k", "v"), "the probe");
      assert.equal(await h.store.get("k"), "v");
      assert.equal(h.store.breakerState, "CLOSED");
      const all = [
        ["OPEN", "CLOSED"],
        ["HALF_OPEN", "OPEN"],
        ["CLOSED", "HALF_OPEN"],
      ];
      assert.equal(thrown, 3, "the throwing listener was called for each transition");
      assert.deepEqual(after, all, "a listener registered after it is still called");
      assert.deepEqual(h.events, all, "a listener registered before it is still called");
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(uncaught, [], "nothing escaped as an uncaught error");
    });

    test("a listener that is not a function throws INVALID_ARGUMENT", TEST, async (t) => {
      const h = await breakerStore(t);
      for (const listener of [undefined, null, 42, "listener", {}, [], Promise.resolve(), { handleEvent() {} }]) {
        let caught;
        try {
          h.store.onStateChange(listener);
        } catch (error) {
          caught = error;
        }
        assert.ok(caught, `onStateChange(${String(listener)}) throws`);
        assertStorageError(caught, "INVALID_ARGUMENT");
      }
      // Nothing was registered, and the store is fine.
      await failingSets(h, THRESHOLD);
      assert.deepEqual(h.events, [["OPEN", "CLOSED"]]);
    });
  });

  test("dispose while OPEN resolves; afterwards calls reject with DISPOSED", TEST, async (t) => {
    const h = await breakerStore(t);
    await trip(h);
    h.control.disarm();
    await within(h.store.dispose(), "dispose while OPEN");
    assert.equal(h.store.isDisposed(), true);
    await rejectsWith(() => h.store.get("k"), "DISPOSED");
    await rejectsWith(() => h.store.set("k", 1), "DISPOSED");
  });
});
