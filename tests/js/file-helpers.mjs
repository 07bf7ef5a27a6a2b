// Helpers for the file-storage suites (persistence, faults, crash): temp
// directories, the sqlite3 CLI, hashes, an instrumented `fs` option and child
// Node processes. Not a test file itself (node --test only runs *.test.mjs).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const SQLITE3 = "/usr/bin/sqlite3";
export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** The functions of the `fs` option: the package's one list (js/fs-functions.ts). */
export { FS_FUNCTION_NAMES as FS_FUNCTIONS } from "../../pkg/internals.js";

/** A fast retry policy, so that an expected LOCKED comes back at once. */
export const FAST_RETRY = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 };

/**
 * A fresh directory under os.tmpdir(), removed when the test `t` ends. Its
 * name never starts with "larder-" (the prefix of ":temp:" databases).
 */
export function tempDir(t, label = "files") {
  const dir = realFs.mkdtempSync(path.join(tmpdir(), `lt-${label}-`));
  t.after(() => realFs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the sqlite3 CLI on `file` and returns its trimmed output. */
export function sqlite3(file, sql, { timeoutMs = 10_000 } = {}) {
  return execFileSync(SQLITE3, ["-batch", file, sql], {
    encoding: "utf8",
    timeout: timeoutMs,
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

/** Asserts that the sqlite3 CLI finds the database at `file` intact. */
export function assertIntegrity(file, label = file) {
  assert.equal(sqlite3(file, "PRAGMA integrity_check"), "ok", `${label}: PRAGMA integrity_check`);
}

/** Rows of the entries table, through the sqlite3 CLI. */
export function rowCount(file) {
  return Number(sqlite3(file, "SELECT count(*) FROM entries"));
}

export function sha256(file) {
  return createHash("sha256").update(realFs.readFileSync(file)).digest("hex");
}

/** Which of SQLite's companion files exist beside `file`. */
export function companions(file, suffixes = ["-wal", "-journal"]) {
  return suffixes.filter((suffix) => realFs.existsSync(file + suffix));
}

/** Copies what a process crash would leave of a database (file and WAL) into `dir`. */
export function crashImage(file, dir) {
  const copy = path.join(dir, path.basename(file));
  for (const suffix of ["", "-wal"]) {
    if (realFs.existsSync(file + suffix)) realFs.copyFileSync(file + suffix, copy + suffix);
  }
  return copy;
}

/** An Error as node:fs throws it, with an errno `code`. */
export function fsError(code, syscall) {
  const error = new Error(`${code}: injected fault, ${syscall}`);
  error.code = code;
  error.syscall = syscall;
  return error;
}

/**
 * An `fs` option over the real node:fs that counts `writeSync` and
 * `fsyncSync` calls (together) while `counting`, and can make the Nth of
 * them throw: once, or (`sticky`) that one and every later one until
 * `disarm()`.
 */
export function faultyFs() {
  const control = {
    counting: false,
    calls: 0,
    failAt: 0,
    code: "EIO",
    sticky: false,
    fired: 0,
    log: [],
    /** Starts counting from zero; fails the `n`th call (0: never). */
    arm(n = 0, code = "EIO", { sticky = false } = {}) {
      Object.assign(control, { counting: true, calls: 0, failAt: n, code, sticky, fired: 0, log: [] });
    },
    disarm() {
      control.counting = false;
      control.failAt = 0;
    },
  };
  const guard = (name, args) => {
    if (!control.counting) return;
    control.calls += 1;
    control.log.push(name === "writeSync" ? `write ${args[3]}@${args[4]}` : "fsync");
    const hit = control.sticky ? control.failAt > 0 && control.calls >= control.failAt : control.calls === control.failAt;
    if (hit) {
      control.fired += 1;
      throw fsError(control.code, name);
    }
  };
  const fs = {
    ...realFs,
    writeSync(...args) {
      guard("writeSync", args);
      return realFs.writeSync(...args);
    },
    fsyncSync(...args) {
      guard("fsyncSync", args);
      return realFs.fsyncSync(...args);
    },
  };
  return { fs, control };
}

/**
 * A child Node process running `script` with `args`, its stdout split into
 * lines; `prefix` is a command line that runs it (e.g. `unshare …`). Killed
 * (SIGKILL) when the test `t` ends if still running. Every wait is bounded.
 */
export function spawnNode(t, script, args = [], { env, prefix = [] } = {}) {
  const [command, ...commandArgs] = [...prefix, process.execPath, script, ...args];
  const child = spawn(command, commandArgs, {
    stdio: ["pipe", "pipe", "pipe"],
    env: env ? { ...process.env, ...env } : process.env,
  });
  const lines = [];
  const waiters = new Set();
  let stderr = "";
  let partial = "";
  let exitInfo;
  const closed = new Promise((resolve) => {
    child.on("close", (code, signal) => {
      exitInfo = { code, signal };
      for (const waiter of waiters) waiter.check();
      resolve(exitInfo);
    });
  });
  child.on("error", (error) => {
    stderr += `\n[spawn error] ${error.message}`;
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters) waiter.check();
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const kill = () => {
    if (exitInfo === undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  t?.after(async () => {
    kill();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  });

  /** Resolves with the first line (from index `from`) matching `pattern`. */
  const waitForLine = (pattern, guardMs = 10_000, from = 0) =>
    new Promise((resolve, reject) => {
      const waiter = {
        check() {
          const index = lines.findIndex((line, i) => i >= from && pattern.test(line));
          if (index >= 0) return finish(() => resolve(lines[index]));
          if (exitInfo !== undefined) {
            return finish(() =>
              reject(new Error(`child exited (${JSON.stringify(exitInfo)}) before printing ${pattern}; stderr: ${stderr}`)),
            );
          }
        },
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no line matching ${pattern} within ${guardMs} ms; stderr: ${stderr}`))),
        guardMs,
      );
      const finish = (settle) => {
        clearTimeout(timer);
        waiters.delete(waiter);
        settle();
      };
      waiters.add(waiter);
      waiter.check();
    });

  /** Resolves with { code, signal } once the process has exited and its output is read. */
  const waitForExit = async (guardMs = 10_000) => {
    let timer;
    const guard = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`child still running after ${guardMs} ms; stderr: ${stderr}`)), guardMs);
    });
    try {
      return await Promise.race([closed, guard]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    child,
    lines,
    get stderr() {
      return stderr;
    },
    waitForLine,
    waitForExit,
    kill,
    send: (line) => child.stdin.write(`${line}\n`),
  };
}
