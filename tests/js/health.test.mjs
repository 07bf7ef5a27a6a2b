// health() and scheduleHealthChecks() on real stores (README, "Health"):
// each check driven into its state by what the store really does (storage
// failures through the `fs` option, a full queue, misses, a filled budget,
// little free space, failed calls on an injected clock, a slow loader), the
// status recorded for metricsText, and schedules on real timers: their
// callbacks, their argument checks, their end at either dispose, their
// survival of throwing callbacks, checks that never overlap, and a Node
// process that a schedule does not keep alive.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { openStorage } from "larderdb";
import { assertStorageError, manualClock, open, rejectsWith, settleAll, within } from "./helpers.mjs";
import { faultyFs } from "./file-helpers.mjs";

const TEST = { timeout: 30_000 };
const checkOf = (report, name) => report.checks.find((check) => check.name === name);

/** A fresh temp directory, removed when `t` ends. */
function tempDir(t) {
  const dir = realFs.mkdtempSync(path.join(tmpdir(), "lt-health-"));
  t.after(() => realFs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A file store in a fresh directory, disposed when `t` ends. */
async function fileStore(t, options = {}) {
  const dir = tempDir(t);
  const store = await openStorage({ path: path.join(dir, "health.sqlite"), ...options });
  t.after(() => within(store.dispose(), "dispose in cleanup").catch(() => {}));
  return { store, dir };
}

/** node:fs with a callback-style `statfs` of our own: `stats` or an error, after `delayMs`. */
function fsWithStatfs(stats, delayMs = 0) {
  const probe = { calls: 0, inFlight: 0, maxInFlight: 0, dirs: [] };
  const fs = {
    ...realFs,
    statfs(dir, callback) {
      probe.calls += 1;
      probe.dirs.push(dir);
      probe.inFlight += 1;
      probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
      setTimeout(() => {
        probe.inFlight -= 1;
        if (stats instanceof Error) callback(stats);
        else callback(null, stats);
      }, delayMs);
    },
  };
  return { fs, probe };
}

describe("health() judges the store as it is", () => {
  test("a fresh store is HEALTHY; every check reported, checkedAt from the store's clock", TEST, async (t) => {
    const clock = manualClock(5_000_000);
    const store = await open(t, { clock });
    const report = await store.health();
    assert.equal(report.status, "HEALTHY");
    assert.deepEqual(report.checks.map((check) => check.name), ["breaker", "queue", "latency", "errors", "budget", "storage", "hitRatio"]);
    assert.deepEqual(report.recommendations, []);
    assert.equal(report.checkedAt, 5_000_000);
    assert.equal(checkOf(report, "storage").value, null, "no free space to speak of for :memory:");
  });

  test("storage failures open the breaker: CRITICAL, with the failures, the directory and the wait", TEST, async (t) => {
    const { fs, control } = faultyFs();
    t.after(() => control.disarm());
    const { store, dir } = await fileStore(t, { fs, breaker: { failureThreshold: 2, recoveryTimeoutMs: 30_000 }, retry: { maxAttempts: 1 } });
    await store.set("ok", 1);
    control.arm(1, "EIO", { sticky: true });
    for (let i = 0; i < 2; i += 1) await rejectsWith(() => store.set(`k${i}`, i), "IO");
    assert.equal(store.breakerState, "OPEN");
    const report = await store.health();
    assert.equal(report.status, "CRITICAL");
    const breaker = checkOf(report, "breaker");
    assert.deepEqual([breaker.status, breaker.value], ["CRITICAL", "OPEN"]);
    const advice = report.recommendations.find((text) => text.includes("circuit breaker"));
    assert.ok(advice, report.recommendations.join(" | "));
    for (const shown of ["2 consecutive storage failures", dir, "30 s"]) assert.ok(advice.includes(shown), `"${shown}" in: ${advice}`);
  });

  test("a full queue: the queue check at its capacity is CRITICAL, naming the numbers", TEST, async (t) => {
    const store = await open(t, { maxQueueLength: 20 });
    const calls = Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, i));
    const report = await store.health();
    await settleAll(calls);
    const queue = checkOf(report, "queue");
    assert.equal(queue.status, "CRITICAL", queue.message);
    assert.equal(queue.value, 1);
    assert.ok(report.recommendations.some((text) => text.includes("20 of 20")), report.recommendations.join(" | "));
  });

  test("misses: 1 hit in 10 lookups is UNHEALTHY (at or below 0.2), lookups of live keys bring it back", TEST, async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.set("present", 1);
    await store.get("present");
    for (let i = 0; i < 9; i += 1) await store.get(`missing-${i}`);
    const report = await store.health();
    assert.deepEqual([checkOf(report, "hitRatio").status, checkOf(report, "hitRatio").value], ["UNHEALTHY", 0.1]);
    assert.ok(report.recommendations.some((text) => text.includes("1 of 10 lookups")), report.recommendations.join(" | "));
    clock.advance(61_000); // the misses leave the window
    for (let i = 0; i < 4; i += 1) await store.has("present");
    const later = await store.health();
    assert.deepEqual([checkOf(later, "hitRatio").status, checkOf(later, "hitRatio").value], ["HEALTHY", 1]);
  });

  test("budget: reported as a share of maxSizeBytes, judged only with healthThresholds.budget", TEST, async (t) => {
    const plain = await open(t, { maxSizeBytes: 1000 });
    const judged = await open(t, { maxSizeBytes: 1000, healthThresholds: { budget: { degraded: 0.5, critical: 0.9 } } });
    for (const store of [plain, judged]) await store.set("big", "x", { size: 600 });
    const unjudged = checkOf(await plain.health(), "budget");
    assert.deepEqual([unjudged.status, unjudged.value], ["HEALTHY", 0.6]);
    const report = await judged.health();
    assert.deepEqual([checkOf(report, "budget").status, checkOf(report, "budget").value], ["DEGRADED", 0.6]);
    assert.ok(report.recommendations.some((text) => text.includes("maxSizeBytes")), report.recommendations.join(" | "));
  });

  test("free space: the fs option's statfs of the database's directory; 4 MB free is CRITICAL", TEST, async (t) => {
    const { fs, probe } = fsWithStatfs({ bavail: 1000, bsize: 4096 });
    const { store, dir } = await fileStore(t, { fs });
    const report = await store.health();
    assert.deepEqual(probe.dirs, [dir]);
    assert.deepEqual([checkOf(report, "storage").status, checkOf(report, "storage").value], ["CRITICAL", 4_096_000]);
    assert.ok(report.recommendations.some((text) => text.includes(`free at ${dir}`)), report.recommendations.join(" | "));
  });

  test("free space: a statfs that fails leaves the storage check with nothing to judge", TEST, async (t) => {
    const { fs } = fsWithStatfs(Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }));
    const { store } = await fileStore(t, { fs });
    const storage = checkOf(await store.health(), "storage");
    assert.deepEqual([storage.status, storage.value], ["HEALTHY", null]);
  });

  test("free space without the fs option: node:fs's statfs gives the real number", TEST, async (t) => {
    const { store, dir } = await fileStore(t);
    const stats = realFs.statfsSync(dir);
    const storage = checkOf(await store.health(), "storage");
    assert.equal(typeof storage.value, "number");
    // The disk is shared: only the order of magnitude is stable.
    assert.ok(Math.abs(storage.value - stats.bavail * stats.bsize) < 1024 ** 3, `${storage.value} vs ${stats.bavail * stats.bsize}`);
  });

  test("errors: failed calls count for 60 s of the store's clock; validation errors never", TEST, async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock, maxQueueLength: 1 });
    const results = await settleAll(Array.from({ length: 5 }, (_, i) => store.set(`k${i}`, i)));
    assert.equal(results.filter((result) => result.status === "rejected").length, 4, "4 of 5 refused with QUEUE_FULL");
    await rejectsWith(() => store.get(""), "INVALID_KEY");
    const report = await store.health();
    const errors = checkOf(report, "errors");
    assert.equal(errors.status, "CRITICAL", errors.message);
    assert.match(errors.message, /^4 of \d+ calls failed/);
    clock.advance(60_001);
    await store.set("after", 1);
    const later = checkOf(await store.health(), "errors");
    assert.deepEqual([later.status, later.value], ["HEALTHY", 0]);
  });

  test("latency: a getOrSet whose loader takes 600 ms of the store's clock makes p95 UNHEALTHY", TEST, async (t) => {
    const clock = manualClock();
    const store = await open(t, { clock });
    await store.getOrSet("slow", () => {
      clock.advance(600);
      return "loaded";
    });
    const report = await store.health();
    const latency = checkOf(report, "latency");
    assert.equal(latency.status, "UNHEALTHY", latency.message);
    assert.ok(latency.value >= 500 && latency.value < 2000, String(latency.value));
    assert.ok(report.recommendations.some((text) => text.includes("at or above 500 ms")), report.recommendations.join(" | "));
  });

  test("the status is recorded for metricsText as larder_health_status", TEST, async (t) => {
    const { fs } = fsWithStatfs({ bavail: 10, bsize: 4096 });
    const { store } = await fileStore(t, { fs });
    assert.equal((await store.health()).status, "CRITICAL");
    const text = await store.metricsText();
    assert.match(text, /^larder_health_status\{status="CRITICAL"\} 1$/m);
    assert.match(text, /^larder_health_status\{status="HEALTHY"\} 0$/m);
  });

  test("a disposed store's health() rejects with DISPOSED, without looking at the disk", TEST, async (t) => {
    const { fs, probe } = fsWithStatfs({ bavail: 1e9, bsize: 4096 });
    const { store } = await fileStore(t, { fs });
    await store.dispose();
    await rejectsWith(() => store.health(), "DISPOSED");
    assert.equal(probe.calls, 0);
  });
});

/** Resolves once `predicate()` holds, polling every 10 ms; fails after `ms`. */
async function until(predicate, what, ms = 5_000) {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("scheduleHealthChecks", () => {
  test("bad arguments throw INVALID_ARGUMENT synchronously, naming the option", TEST, async (t) => {
    const store = await open(t);
    const bad = [
      [undefined, /options object/],
      [null, /options object/],
      [{}, /intervalMs/],
      [{ intervalMs: 0 }, /intervalMs/],
      [{ intervalMs: -5 }, /intervalMs/],
      [{ intervalMs: NaN }, /intervalMs/],
      [{ intervalMs: Infinity }, /intervalMs/],
      [{ intervalMs: 2 ** 31 }, /intervalMs/],
      [{ intervalMs: "100" }, /intervalMs/],
      [{ intervalMs: 100, onCheck: "log" }, /onCheck/],
      [{ intervalMs: 100, onStatusChange: {} }, /onStatusChange/],
      [{ get intervalMs() { throw new Error("unreadable"); } }, /could not be read/],
      [new Proxy({}, { get() { throw new Error("unreadable"); } }), /could not be read/],
    ];
    for (const [options, mentions] of bad) {
      assert.throws(() => store.scheduleHealthChecks(options), (error) => !!assertStorageError(error, "INVALID_ARGUMENT", mentions));
    }
  });

  test("onCheck after every check; onStatusChange on the first (previous null) and on each change", TEST, async (t) => {
    const store = await open(t);
    const reports = [];
    const changes = [];
    const handle = store.scheduleHealthChecks({
      intervalMs: 20,
      onCheck: (report) => reports.push(report),
      onStatusChange: (status, previous, report) => changes.push([status, previous, report.status]),
    });
    t.after(() => handle.dispose());
    await until(() => reports.length >= 2, "two checks");
    assert.deepEqual(changes, [["HEALTHY", null, "HEALTHY"]]);
    for (let i = 0; i < 10; i += 1) await store.get(`missing-${i}`); // hit ratio 0: CRITICAL
    await until(() => changes.length >= 2, "a status change");
    assert.deepEqual(changes[1], ["CRITICAL", "HEALTHY", "CRITICAL"]);
    assert.ok(reports.every((report) => Array.isArray(report.checks) && report.checks.length === 7));
  });

  test("no callback after the handle's dispose, nor after the store's", TEST, async (t) => {
    for (const stop of ["handle", "store"]) {
      const store = await openStorage();
      t.after(() => store.dispose());
      let calls = 0;
      const handle = store.scheduleHealthChecks({ intervalMs: 10, onCheck: () => (calls += 1), onStatusChange: () => (calls += 1) });
      await until(() => calls >= 2, "the first checks");
      if (stop === "handle") handle.dispose();
      else await store.dispose();
      const seen = calls;
      await sleep(100);
      assert.equal(calls, seen, `callbacks after the ${stop}'s dispose`);
    }
  });

  test("a check in flight at dispose() reports nothing", TEST, async (t) => {
    const { fs, probe } = fsWithStatfs({ bavail: 1e9, bsize: 4096 }, 100);
    const { store } = await fileStore(t, { fs });
    let calls = 0;
    const handle = store.scheduleHealthChecks({ intervalMs: 10, onCheck: () => (calls += 1), onStatusChange: () => (calls += 1) });
    await until(() => probe.inFlight === 1, "a check in flight");
    handle.dispose();
    await sleep(200);
    assert.equal(probe.inFlight, 0, "the check finished");
    assert.equal(calls, 0);
  });

  test("two handles on one store: disposing one stops its schedule and its health(), not the other's", TEST, async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, "shared.sqlite");
    const first = await openStorage({ path: file });
    const second = await openStorage({ path: file });
    t.after(() => Promise.all([first.dispose(), second.dispose()]));
    const counts = { first: 0, second: 0 };
    first.scheduleHealthChecks({ intervalMs: 10, onCheck: () => (counts.first += 1) });
    const handle = second.scheduleHealthChecks({ intervalMs: 10, onCheck: () => (counts.second += 1) });
    t.after(() => handle.dispose());
    await until(() => counts.first >= 1 && counts.second >= 1, "both schedules running");
    await first.dispose();
    const stoppedAt = counts.first;
    await rejectsWith(() => first.health(), "DISPOSED");
    const goingOn = counts.second;
    await until(() => counts.second >= goingOn + 3, "the other handle's schedule going on");
    assert.equal(counts.first, stoppedAt, "the disposed handle's schedule stopped");
    assert.equal((await second.health()).status, "HEALTHY");
  });

  test("on a disposed store, a schedule checks its arguments and never runs a check", TEST, async (t) => {
    const { fs, probe } = fsWithStatfs({ bavail: 1e9, bsize: 4096 });
    const { store } = await fileStore(t, { fs });
    await store.dispose();
    assert.throws(() => store.scheduleHealthChecks({ intervalMs: 0 }), (error) => !!assertStorageError(error, "INVALID_ARGUMENT"));
    let calls = 0;
    const handle = store.scheduleHealthChecks({ intervalMs: 10, onCheck: () => (calls += 1), onStatusChange: () => (calls += 1) });
    await sleep(80);
    assert.equal(probe.calls, 0, "no check ran (its statfs was never called)");
    assert.equal(calls, 0);
    handle.dispose();
  });

  test("a callback that disposes the schedule gets no callback after it", TEST, async (t) => {
    const store = await open(t);
    const seen = [];
    const handle = store.scheduleHealthChecks({
      intervalMs: 10,
      onCheck: () => {
        seen.push("check");
        handle.dispose();
      },
      onStatusChange: () => seen.push("change"),
    });
    await sleep(100);
    assert.deepEqual(seen, ["check"]);
  });

  test("throwing callbacks reach neither the store nor the schedule", TEST, async (t) => {
    const store = await open(t);
    let checks = 0;
    let changes = 0;
    const handle = store.scheduleHealthChecks({
      intervalMs: 10,
      onCheck: () => {
        checks += 1;
        throw new Error("onCheck fails");
      },
      onStatusChange: () => {
        changes += 1;
        throw new Error("onStatusChange fails");
      },
    });
    t.after(() => handle.dispose());
    await until(() => checks >= 3, "three checks despite the throws");
    assert.equal(changes, 1);
    await store.set("still", "works");
    assert.equal(await store.get("still"), "works");
  });

  test("checks never overlap: the next starts intervalMs after the previous finished", TEST, async (t) => {
    // Each check's statfs takes 60 ms, three times the interval.
    const { fs, probe } = fsWithStatfs({ bavail: 1e9, bsize: 4096 }, 60);
    const { store } = await fileStore(t, { fs });
    let checks = 0;
    const handle = store.scheduleHealthChecks({ intervalMs: 20, onCheck: () => (checks += 1) });
    t.after(() => handle.dispose());
    await until(() => checks >= 4, "four checks");
    assert.equal(probe.maxInFlight, 1);
  });

  test("a schedule never keeps a Node process alive", TEST, async () => {
    const child = fileURLToPath(new URL("./fixtures/scheduled-health.mjs", import.meta.url));
    const run = spawn(process.execPath, [child], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    run.stdout.on("data", (chunk) => (output += chunk));
    run.stderr.on("data", (chunk) => (output += chunk));
    const killer = setTimeout(() => run.kill("SIGKILL"), 10_000);
    const [code, signal] = await new Promise((resolve) => run.on("exit", (...exit) => resolve(exit)));
    clearTimeout(killer);
    assert.equal(signal, null, `the child had to be killed: it stayed alive (output: ${output})`);
    assert.equal(code, 0, output);
    assert.match(output, /^checked HEALTHY$/m, "the schedule ran before the process ended");
  });
});
