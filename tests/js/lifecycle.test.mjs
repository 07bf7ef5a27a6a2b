// Store lifecycle at volume: thousands of opens and disposes in one process
// survive (V8 once aborted the process after a few hundred, when the facade
// derived its fs object from the node:fs module namespace), leave no file
// descriptor, file or lock behind, and no memory growth past a bound; a trap
// while opening releases what the dead instance held; memory stays flat over
// a run of mixed operations at capacity (the short run of soak-memory.mjs).
//
// The volume runs happen in child processes: an abort then shows as a
// signal, not as a dead test runner, and --expose-gc gives stable RSS.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { FAST_RETRY, FIXTURES, assertIntegrity, rowCount, tempDir } from "./file-helpers.mjs";
import { within } from "./helpers.mjs";

const OPEN_DISPOSE = path.join(FIXTURES, "open-dispose.mjs");
const SOAK_MEMORY = fileURLToPath(new URL("./soak-memory.mjs", import.meta.url));
const MiB = 1024 * 1024;

/**
 * Runs `script` in a child Node with --expose-gc; resolves with its exit code,
 * signal and output. `guardMs` only keeps a hung child from hanging the run.
 */
function runNode(script, args, guardMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
    const guard = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${path.basename(script)} still running after ${guardMs} ms; stderr: ${stderr}`));
    }, guardMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the open-dispose fixture and returns what it measured. */
async function openAndDispose(config, guardMs) {
  const run = await runNode(OPEN_DISPOSE, [JSON.stringify(config)], guardMs);
  // An abort (SIGTRAP from V8's "unreachable code") or any crash shows here.
  assert.deepEqual(
    { code: run.code, signal: run.signal },
    { code: 0, signal: null },
    `the process opening ${config.count} stores ended abnormally; stderr:\n${run.stderr.slice(-4000)}`,
  );
  return JSON.parse(run.stdout.trim().split("\n").at(-1));
}

/** The files a file store may leave beside itself: none once disposed. */
const COMPANION = /(-wal|-journal|-shm|\.lock|\.takeover-.*)$/;

describe("thousands of stores opened and disposed in one process", () => {
  test("5,000 stores through the default fs: the process survives", async (t) => {
    const dir = tempDir(t, "lifecycle");
    // Mostly ":memory:" (the cheapest open, so the opener gets hot quickly),
    // with ":temp:" and file stores among them.
    const kinds = ["memory", "memory", "memory", "memory", "memory", "memory", "memory", "temp", "file", "memory"];
    const result = await openAndDispose({ count: 5_000, kinds, dir, warmup: 100 }, 600_000);
    console.log(
      `5,000 stores: survived; fds ${result.fdsAtStart} at start, ${result.fdsAtEnd} at end; ` +
        `RSS ${(result.rssAfterWarmup / MiB).toFixed(1)} MiB after warm-up, ${(result.rssAtEnd / MiB).toFixed(1)} MiB at end`,
    );
    assert.equal(result.opened, 5_000);
    assert.equal(result.fdsAtEnd, result.fdsAtStart, "every descriptor was closed");
    assert.deepEqual(result.tempFilesLeft, []);
    assert.deepEqual(
      result.filesLeft.filter((name) => COMPANION.test(name)),
      [],
      "no companion or lock file is left",
    );
  });

  test("2,000 \":temp:\" and file stores: no descriptor, file or lock left, RSS growth under 64 MiB", async (t) => {
    const dir = tempDir(t, "lifecycle");
    const result = await openAndDispose({ count: 2_000, kinds: ["temp", "file"], dir, warmup: 100 }, 600_000);
    const growth = result.rssAtEnd - result.rssAfterWarmup;
    console.log(
      `2,000 stores: fds ${result.fdsAtStart} at start, ${result.fdsAfterWarmup} after warm-up, ${result.fdsAtEnd} at end; ` +
        `RSS ${(result.rssAfterWarmup / MiB).toFixed(1)} MiB after warm-up, ${(result.rssAtEnd / MiB).toFixed(1)} MiB at end ` +
        `(growth ${(growth / MiB).toFixed(1)} MiB)`,
    );
    assert.equal(result.fdsAtEnd, result.fdsAtStart, "every descriptor was closed");
    assert.deepEqual(result.tempFilesLeft, [], "every \":temp:\" database was deleted");
    // The 25 databases themselves, and nothing else.
    assert.deepEqual(
      result.filesLeft,
      Array.from({ length: 25 }, (_, i) => `store-${i}.sqlite`).sort(),
      "no -wal, -journal, .lock or claim file is left",
    );
    for (const name of result.filesLeft) assertIntegrity(path.join(dir, name));
    // A store's wasm instance alone takes several MiB: 1,900 of them kept
    // alive (or their memories never freed) would be far past this.
    assert.ok(growth < 64 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB over 1,900 stores`);
  });
});

describe("a trap while opening", () => {
  // The test-hooks build: a file path containing PANIC_IN_OPEN panics once the
  // store is open, its file descriptors and lock taken. The marker is a
  // directory name undone by ".." (the core resolves the path lexically, as
  // path.join would: not through it), so the path names the same file.
  const PANIC_IN_OPEN = "larder:test-hooks:panic-in-open";
  const hooks = import(new URL("../../target/pkg-test-hooks/node.js", import.meta.url).href);
  const openFds = () => fs.readdirSync("/proc/self/fd").length;

  for (const kind of ["new file", "file with data"]) {
    test(`${kind}: INTERNAL, the descriptors and the lock released at once, the file opens again`, async (t) => {
      const { openStorage, isStorageError } = await hooks;
      const dir = tempDir(t, "trap-open");
      const file = path.join(dir, "store.sqlite");
      if (kind === "file with data") {
        const store = await openStorage({ path: file });
        await store.mset([["kept", { a: 1 }], ["also", "kept"]]);
        await store.dispose();
      }
      const fdsBefore = openFds();
      let caught;
      await assert.rejects(
        within(openStorage({ path: `${dir}/${PANIC_IN_OPEN}/../store.sqlite` }), "the trapping open"),
        (error) => ((caught = error), true),
      );
      assert.ok(isStorageError(caught), `a StorageError, got ${caught}`);
      assert.equal(caught.code, "INTERNAL", caught.message);
      assert.equal(openFds(), fdsBefore, "the dead instance's descriptors were closed");
      assert.equal(fs.existsSync(`${file}.lock`), false, "the dead instance's lock was released");
      // Retakeable at once: one attempt, no waiting out a lease.
      const store = await within(openStorage({ path: file, retry: { ...FAST_RETRY, maxAttempts: 1 } }), "the second open");
      if (kind === "file with data") assert.deepEqual(await store.get("kept"), { a: 1 });
      await store.set("after", 1);
      await store.dispose();
      assert.equal(fs.existsSync(`${file}.lock`), false);
      assert.equal(openFds(), fdsBefore);
      assertIntegrity(file);
      assert.equal(rowCount(file), kind === "file with data" ? 3 : 1);
    });
  }
});

describe("memory over many operations at capacity", () => {
  test("50,000 mixed operations: RSS flat after warm-up (soak-memory.mjs; make soak runs 1,000,000)", async () => {
    const run = await runNode(SOAK_MEMORY, ["50000"], 600_000);
    console.log(run.stdout.trim());
    assert.deepEqual(
      { code: run.code, signal: run.signal },
      { code: 0, signal: null },
      `soak-memory.mjs failed:\n${run.stdout}\n${run.stderr.slice(-4000)}`,
    );
  });
});
