// Browser crash test: an OPFS store with durability "full" in real headless
// Chromium (a dedicated worker, the sahpool VFS), SIGKILLed while it works,
// then reopened in the same profile. Each round launches Chromium on one
// user-data dir (the static server keeps its port for the whole run, so the
// origin, and with it OPFS, stays the same), loads tests/browser/crash.html,
// checks what the previous round left, then writes sets and msets until the
// whole browser process group is killed at a random moment: while the store
// opens (and recovers), after some acknowledgements, some time into the
// writes, or while the store is disposed (a checkpoint, the WAL removed). A
// write counts as acknowledged only once its "ack" reached this process
// through the page's binding; every write is announced before it is issued,
// so the store may only hold what the announced writes make of it.
//
// Checked after every kill, in the next launch:
//   - the raw OPFS files, read from the page (File System Access API) before
//     the store is opened, are copied out of their sahpool slots (4096-byte
//     header stripped) and the sqlite3 CLI finds the copy intact
//     (PRAGMA integrity_check) with as many entries as the store then counts;
//   - the store, reopened through the browser entry, holds exactly the state
//     after some prefix of the announced writes that includes every
//     acknowledged one: each acknowledged value exact, no mset in part, no
//     write out of order;
//   - no process of the killed browser is left.
// Chromium is started here (not by Playwright) so that its process id is
// known for the kill; Playwright connects over CDP.
//
// LARDER_BROWSER_CRASH_ROUNDS sets the rounds (default 20);
// LARDER_BROWSER_CRASH_SEED replays a run. Prints one line per round and a
// summary; exits 1 on any failure.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, closeServer, startServer } from "../../scripts/static-server.mjs";
import { seededRandom } from "../js/seeded-random.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ROUNDS = Number(process.env.LARDER_BROWSER_CRASH_ROUNDS ?? 20);
const SEED = Number(process.env.LARDER_BROWSER_CRASH_SEED ?? Date.now() % 2 ** 31);
const STORE = "crash-store";
const PAGE = "/tests/browser/crash.html";
const PAGE_MODULE = "/tests/browser/crash-page.mjs";
const STEP_TIMEOUT_MS = 30_000;
const GONE_TIMEOUT_MS = 10_000;

if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error(`LARDER_BROWSER_CRASH_ROUNDS must be a positive integer, got ${process.env.LARDER_BROWSER_CRASH_ROUNDS}`);
  process.exit(2);
}
if (!Number.isInteger(SEED)) {
  console.error(`LARDER_BROWSER_CRASH_SEED must be an integer, got ${process.env.LARDER_BROWSER_CRASH_SEED}`);
  process.exit(2);
}

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// ---- Chromium processes ---------------------------------------------------

/**
 * Starts Chromium on `userDataDir` in a process group of its own, tagged in
 * its environment (its crashpad handlers leave the group but keep the tag),
 * and connects Playwright to it.
 */
async function launch(userDataDir, tag) {
  const child = spawn(
    CHROMIUM,
    [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`, "--remote-debugging-port=0", "about:blank"],
    { detached: true, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LARDER_BROWSER_CRASH_TAG: tag } },
  );
  const exited = new Promise((done) => child.once("exit", (code, signal) => done({ code, signal })));
  let stderr = "";
  const endpoint = await withTimeout(
    new Promise((found, reject) => {
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
        if (match) found(match[1]);
      });
      exited.then((exit) => reject(new Error(`Chromium exited at start (${JSON.stringify(exit)}): ${stderr}`)));
    }),
    STEP_TIMEOUT_MS,
    "Chromium's DevTools endpoint",
  );
  child.stderr.resume();
  const browser = await withTimeout(chromium.connectOverCDP(endpoint), STEP_TIMEOUT_MS, "connecting over CDP");
  return { child, pid: child.pid, tag, exited, browser, context: browser.contexts()[0] };
}

/** Pids of the processes that belong to a launch: its process group, and anything carrying its tag. */
function processesOf({ pid, tag }) {
  const found = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z") continue; // exited, waiting to be reaped by its parent
      const environment = readFileSync(`/proc/${name}/environ`, "latin1").split("\0");
      if (Number(pgrp) === pid || environment.includes(`LARDER_BROWSER_CRASH_TAG=${tag}`)) found.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** SIGKILLs the launch's whole process group: the browser process and every child. */
function killBrowser(session) {
  if (session.killed) return;
  session.killed = true;
  try {
    process.kill(-session.pid, "SIGKILL");
  } catch (error) {
    if (error.code !== "ESRCH") throw error;
  }
}

/** Waits until no process of the launch is left; kills stragglers and fails if some stay. */
async function waitGone(session) {
  await withTimeout(session.exited, GONE_TIMEOUT_MS, "the browser process exiting");
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  let left = processesOf(session);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = processesOf(session);
  }
  if (left.length > 0) {
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    fail(`Chromium processes left ${GONE_TIMEOUT_MS} ms after the browser ended: ${left.join(", ")}`);
  }
  await session.browser.close().catch(() => {});
}

// ---- the model ------------------------------------------------------------

/**
 * What the store must hold: `base`, known exactly (key -> encoded value), then
 * `pending`, the writes announced since it was last read back, in order, each
 * with whether it was acknowledged.
 */
const model = { base: new Map(), pending: [] };

/** Applies writes to a copy of `state`. */
function apply(state, writes) {
  const next = new Map(state);
  for (const { entries } of writes) for (const [key, value] of entries) next.set(key, value);
  return next;
}

function sameState(a, b) {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}

/** How `actual` differs from `expected`, briefly. */
function difference(expected, actual) {
  const out = [];
  for (const [key, value] of expected) {
    if (!actual.has(key)) out.push(`${key} missing`);
    else if (actual.get(key) !== value) {
      out.push(`${key} = ${actual.get(key).slice(0, 60)}…, expected ${value.slice(0, 60)}…`);
    }
  }
  for (const key of actual.keys()) if (!expected.has(key)) out.push(`${key} unexpected`);
  return out.slice(0, 5).join("; ") + (out.length > 5 ? `; … (${out.length} in all)` : "");
}

/**
 * Checks what the reopened store holds against the model: it must be the
 * state after some prefix of the pending writes that includes every
 * acknowledged one. Then that state becomes the base. Returns what it found.
 */
function checkState(entries) {
  const actual = new Map(entries);
  if (actual.size !== entries.length) fail("keys() listed a key twice");
  const { pending } = model;
  const mustHave = pending.findLastIndex((write) => write.acked) + 1;
  let state = apply(model.base, pending.slice(0, mustHave));
  let committed = -1;
  for (let prefix = mustHave; ; prefix += 1) {
    if (sameState(state, actual)) {
      committed = prefix;
      break;
    }
    if (prefix === pending.length) break;
    state = apply(state, [pending[prefix]]);
  }
  if (committed < 0) {
    const expected = apply(model.base, pending.slice(0, mustHave));
    fail(
      `the reopened store is no prefix of the writes that includes the ${mustHave} acknowledged ones ` +
        `(of ${pending.length} announced): against all acknowledged writes, ${difference(expected, actual)}`,
    );
  }
  const acked = pending.filter((write) => write.acked);
  const result = {
    acked: acked.length,
    ackedEntries: acked.reduce((sum, write) => sum + write.entries.length, 0),
    ackedMsets: acked.filter((write) => write.kind === "mset").length,
    announced: pending.length,
    committed,
  };
  model.base = actual;
  model.pending = [];
  return result;
}

// ---- the raw OPFS files -----------------------------------------------------

/**
 * Writes the pool's database files (slot data without the sahpool header) to
 * a fresh directory and runs the sqlite3 CLI on them. Returns the entry count
 * it sees, or undefined if there is no database file yet.
 */
function checkImage(image, mustExist, workDir, round) {
  if (mustExist && !image.found) fail("the store's OPFS directory is missing after the relaunch");
  const named = image.slots.filter((slot) => slot.path);
  const paths = named.map((slot) => slot.path);
  if (new Set(paths).size !== paths.length) fail(`two sahpool slots claim one name: ${paths.join(", ")}`);
  const main = named.find((slot) => slot.path === "/larder.sqlite");
  if (!main) {
    if (mustExist) fail(`no /larder.sqlite among the OPFS slots (${paths.join(", ") || "none named"})`);
    return undefined;
  }
  const dir = join(workDir, `launch-${round}`);
  rmSync(dir, { recursive: true, force: true });
  execFileSync("mkdir", ["-p", dir]);
  for (const slot of named) {
    if (!/^\/larder\.sqlite(-wal|-journal)?$/.test(slot.path)) fail(`unexpected file in the pool: ${slot.path}`);
    writeFileSync(join(dir, slot.path.slice(1)), Buffer.from(slot.data, "base64"));
  }
  const file = join(dir, "larder.sqlite");
  const sqlite = (sql) =>
    execFileSync("/usr/bin/sqlite3", ["-batch", file, sql], { encoding: "utf8", timeout: STEP_TIMEOUT_MS }).trim();
  const integrity = sqlite("PRAGMA integrity_check");
  if (integrity !== "ok") fail(`sqlite3 PRAGMA integrity_check on the OPFS files: ${integrity}`);
  // A kill during the very first open may leave the file before the schema is committed.
  const hasTable = sqlite("SELECT count(*) FROM sqlite_schema WHERE name = 'entries'") === "1";
  const count = hasTable ? Number(sqlite("SELECT count(*) FROM entries")) : 0;
  rmSync(dir, { recursive: true, force: true });
  const sizes = named
    .sort((a, b) => a.path.localeCompare(b.path))
    .map((slot) => `${slot.path.slice(1)} ${Math.round((slot.size - 4096) / 1024)} KiB`);
  return { count, files: sizes.join(", ") };
}

// ---- one launch -------------------------------------------------------------

/** When a kill struck, by what this process had heard from the page. */
const KILL_PHASES = {
  open: "while opening",
  opened: "after opening",
  writes: "during writes",
  dispose: "while disposing",
  disposed: "after disposing",
};
const totals = {
  acked: 0,
  ackedEntries: 0,
  ackedMsets: 0,
  integrity: 0,
  kills: Object.fromEntries(Object.keys(KILL_PHASES).map((phase) => [phase, 0])),
};

/**
 * One launch: check what the last one left, then (unless `last`) write until
 * the kill that `plan` describes. Returns a line about it.
 */
async function runLaunch({ round, last, plan, pageSeed, userDataDir, workDir, origin, launchTag }) {
  const session = await launch(userDataDir, launchTag);
  const seen = { opened: false, begun: 0, acked: 0, disposing: false, disposed: false };
  let pageError;
  let checked;
  let image;
  let killTimer;
  const killAfter = (ms) => {
    killTimer = setTimeout(() => killBrowser(session), ms);
  };
  try {
    const { context } = session;
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    let base = 0; // where this launch's writes start in model.pending
    const page = context.pages()[0] ?? (await context.newPage());
    const mod = PAGE_MODULE;
    // Messages that arrive after the kill were sent before it: they count too.
    await context.exposeBinding("larderCrashReport", (_source, message) => {
      if (message.type === "begin") {
        if (message.first !== seen.begun) pageError = `begin ${message.first} out of order (expected ${seen.begun})`;
        for (const write of message.writes) model.pending.push({ ...write, acked: false });
        seen.begun += message.writes.length;
        if (plan.kind === "timed" && seen.begun === message.writes.length) killAfter(plan.ms);
      } else if (message.type === "ack") {
        model.pending[base + message.seq].acked = true;
        seen.acked += 1;
        if (plan.kind === "acks" && seen.acked === plan.acks) killBrowser(session);
        if (plan.kind === "dispose" && seen.acked === plan.acks) {
          seen.disposing = true;
          killAfter(plan.ms);
          page.evaluate((m) => import(m).then((p) => p.stopAndDispose()), mod).then(
            () => (seen.disposed = true),
            () => {},
          );
        }
      } else {
        pageError ??= `write ${message.seq} failed: ${message.message}`;
        killBrowser(session);
      }
    });
    page.on("pageerror", (error) => {
      pageError ??= `page error: ${error}`;
    });
    await withTimeout(page.goto(`http://${origin}${PAGE}`, { waitUntil: "load" }), STEP_TIMEOUT_MS, "loading the page");

    // What the last kill left, exactly as OPFS holds it (nothing has the store open yet).
    const mustExist = model.base.size > 0 || model.pending.some((write) => write.acked);
    const pool = await withTimeout(
      page.evaluate(([m, name]) => import(m).then((p) => p.exportPool(name)), [mod, STORE]),
      STEP_TIMEOUT_MS,
      "reading OPFS",
    );
    image = checkImage(pool, mustExist, workDir, round);

    if (plan.kind === "open") killAfter(plan.ms);
    const read = await withTimeout(
      page.evaluate(([m, name]) => import(m).then((p) => p.openAndRead(name)), [mod, STORE]),
      STEP_TIMEOUT_MS,
      "opening the store",
    );
    seen.opened = true;
    if (read.count !== read.entries.length) fail(`count() is ${read.count} but keys() lists ${read.entries.length}`);
    if (image && image.count !== read.count) {
      fail(`sqlite3 counts ${image.count} entries in the OPFS files, the reopened store ${read.count}`);
    }
    checked = checkState(read.entries);
    totals.acked += checked.acked;
    totals.ackedEntries += checked.ackedEntries;
    totals.ackedMsets += checked.ackedMsets;
    if (image) totals.integrity += 1;

    if (last) {
      await withTimeout(page.evaluate((m) => import(m).then((p) => p.dispose()), mod), STEP_TIMEOUT_MS, "dispose");
      const cdp = await session.browser.newBrowserCDPSession();
      await cdp.send("Browser.close").catch(() => {}); // the connection may end before the reply
      await waitGone(session);
    } else {
      base = model.pending.length;
      page.evaluate(([m, seed]) => import(m).then((p) => p.writeForever(seed)), [mod, pageSeed]).catch(() => {});
      await withTimeout(session.exited, STEP_TIMEOUT_MS, "the kill");
    }
  } catch (error) {
    if (!session.killed || error instanceof Failure) {
      killBrowser(session);
      await waitGone(session).catch(() => {});
      throw error;
    }
  } finally {
    clearTimeout(killTimer);
  }
  if (pageError) fail(pageError);
  if (last && !checked) fail("the last launch did not check the store");
  let end = "closed";
  if (!last) {
    await waitGone(session);
    const phase = !seen.opened
      ? "open"
      : seen.disposed
        ? "disposed"
        : seen.disposing
          ? "dispose"
          : seen.begun === 0
            ? "opened"
            : "writes";
    totals.kills[phase] += 1;
    end =
      `killed ${KILL_PHASES[phase]} ` +
      `(${describePlan(plan)}): ${seen.acked} of ${seen.begun} writes acknowledged`;
  }
  const found = checked
    ? `reopened: ${checked.acked} acknowledged writes of ${checked.announced} announced there, ` +
      `${checked.committed} committed; ` +
      (image ? `integrity ok (${image.files})` : "no database file yet")
    : "not reopened (the kill came first)";
  return `launch ${round}: ${found}; ${end}`;
}

function describePlan(plan) {
  if (plan.kind === "open") return `plan: ${plan.ms} ms into the open`;
  if (plan.kind === "acks") return `plan: at ack ${plan.acks}`;
  if (plan.kind === "dispose") return `plan: ${plan.ms} ms into a dispose after ack ${plan.acks}`;
  return `plan: ${plan.ms} ms into the writes`;
}

// ---- the run ----------------------------------------------------------------

const started = Date.now();
console.log(`browser crash test: ${ROUNDS} rounds, seed ${SEED} (replay with LARDER_BROWSER_CRASH_SEED=${SEED})`);
const random = seededRandom(SEED);
const userDataDir = mkdtempSync(join(tmpdir(), "larder-crash-profile-"));
const workDir = mkdtempSync(join(tmpdir(), "larder-crash-files-"));
let server;
let ok = false;
try {
  server = await startServer(ROOT);
  const origin = `127.0.0.1:${server.address().port}`;
  for (let round = 1; round <= ROUNDS + 1; round += 1) {
    const last = round > ROUNDS;
    const roll = random.next();
    // Opening takes about half a second here: "open" kills land before, during and just after it.
    const plan = last
      ? { kind: "none" }
      : roll < 0.25
        ? { kind: "open", ms: random.int(0, 700) }
        : roll < 0.55
          ? { kind: "acks", acks: random.int(1, 50) }
          : roll < 0.85
            ? { kind: "timed", ms: random.int(0, 1_000) }
            : { kind: "dispose", acks: random.int(1, 50), ms: random.int(0, 300) };
    const line = await runLaunch({
      round,
      last,
      plan,
      pageSeed: random.int(1, 2 ** 31 - 1),
      userDataDir,
      workDir,
      origin,
      launchTag: `${process.pid}-${round}`,
    });
    console.log(line);
  }
  ok = true;
} catch (error) {
  console.log(`FAIL ${error instanceof Failure ? error.message : error?.stack ?? error}`);
} finally {
  if (server) await closeServer(server);
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const { kills } = totals;
console.log(
  `${ok ? "ok" : "FAIL"}: ${ROUNDS} rounds, seed ${SEED}: ${totals.acked} acknowledged writes checked ` +
    `(${totals.ackedMsets} msets, ${totals.ackedEntries} entries), ${totals.integrity} integrity checks; ` +
    `kills ${Object.entries(KILL_PHASES).map(([phase, words]) => `${words} ${kills[phase]}`).join(", ")}; ${seconds} s`,
);
process.exitCode = ok ? 0 : 1;
