// Ownership of a database file across processes: exactly one live owner,
// a dead owner's lock taken over (at once when provably dead, after the
// lease otherwise), never a lockout after a restart as pid 1, never two
// owners. Real child processes (tests/js/fixtures/lock-contender.mjs), real
// pid namespaces (`unshare --pid --fork --mount-proc`, as root), SIGKILL.
// LARDER_OWNERSHIP_ROUNDS sets the racing rounds (default 8 per case).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { FIXTURES, assertIntegrity, spawnNode, tempDir } from "./file-helpers.mjs";

const CONTENDER = path.join(FIXTURES, "lock-contender.mjs");
const ROUNDS = Number(process.env.LARDER_OWNERSHIP_ROUNDS ?? 8);
const OPENERS = 5;
/** js/ownership.ts: a record not rewritten for this long is taken over. */
const LEASE_MS = 10_000;
/** In a fresh pid namespace, as a container's app runs: it is pid 1 there. */
const CONTAINER = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];

const canUnshare = (() => {
  try {
    execFileSync("unshare", ["--pid", "--fork", "--mount-proc", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const needsNamespaces = canUnshare ? {} : { skip: "needs root and unshare(1) to make pid namespaces" };

/** A contender child; `container` runs it in its own pid namespace. */
function contender(t, file, { prefix, count = 3, ending = "dispose", startAt = 0, container = false }) {
  const args = [file, String(startAt), prefix, String(count), ending];
  return spawnNode(t, CONTENDER, args, { prefix: container ? CONTAINER : undefined });
}

/** How a contender's open came out: { opened, pid, ms } or { refused, code }. */
async function outcome(child) {
  const line = await child.waitForLine(/^(opened|refused) /, LEASE_MS + 15_000);
  const [word, a, b] = line.split(" ");
  return word === "opened" ? { opened: true, pid: Number(a), ms: Number(b) } : { opened: false, code: a, line };
}

/** The keys a child acknowledged. */
const acked = (child) => child.lines.filter((line) => line.startsWith("ack ")).map((line) => line.slice(4));

/** Asserts every key in `keys` is in the store at `file` with its value, and the file is intact. */
async function assertAcknowledged(file, keys, label) {
  const store = await openStorage({ path: file });
  try {
    // In batches within maxBatchSize: an owner counting "forever" can
    // acknowledge more than 10,000 writes before it is killed.
    for (let start = 0; start < keys.length; start += 1_000) {
      const batch = keys.slice(start, start + 1_000);
      const values = await store.mget(batch);
      batch.forEach((key, i) => assert.equal(values[i], Number(key.split(":")[1]), `${label}: acknowledged ${key}`));
    }
  } finally {
    await store.dispose();
  }
  assertIntegrity(file, label);
}

/** Runs a holder until it has acknowledged some writes, then SIGKILLs it. */
async function crashedOwner(t, file, prefix, { container = false } = {}) {
  const holder = contender(t, file, { prefix, count: "forever", container });
  assert.equal((await outcome(holder)).opened, true, `${prefix}: the holder opens (${holder.stderr})`);
  await holder.waitForLine(/^ack .*:4$/, 15_000);
  holder.kill();
  await holder.waitForExit();
  assert.ok(fs.existsSync(`${file}.lock`), "a killed owner leaves its lock behind");
  return acked(holder);
}

/** OPENERS contenders racing to open `file` at the same moment; exactly one may win. */
async function race(t, file, round, { container = false } = {}) {
  const startAt = Date.now() + 1_500; // after every child has loaded larder
  const children = Array.from({ length: OPENERS }, (_, i) =>
    contender(t, file, { prefix: `r${round}o${i}`, startAt, container }),
  );
  const outcomes = await Promise.all(children.map(outcome));
  const winners = children.filter((_, i) => outcomes[i].opened);
  assert.equal(winners.length, 1, `round ${round}: exactly one opener wins (${JSON.stringify(outcomes)})`);
  for (const lost of outcomes.filter((o) => !o.opened)) assert.equal(lost.code, "LOCKED", lost.line);
  const [winner] = winners;
  await winner.waitForLine(/^written$/);
  winner.send("exit");
  await Promise.all(children.map((child) => child.waitForExit(15_000)));
  return acked(winner);
}

test("a store restarted as pid 1 in a new pid namespace takes over its crashed run's lock and data", needsNamespaces, async (t) => {
  const file = path.join(tempDir(t, "own"), "app.sqlite");
  const keys = await crashedOwner(t, file, "first", { container: true });
  const restarted = contender(t, file, { prefix: "second", container: true });
  const opened = await outcome(restarted);
  assert.equal(opened.opened, true, `the restarted app opens (${opened.line})`);
  assert.equal(opened.pid, 1, "it is pid 1, like the crashed run");
  t.diagnostic(`taken over after ${opened.ms} ms (lease ${LEASE_MS} ms)`);
  await restarted.waitForLine(/^written$/);
  restarted.send("exit");
  await restarted.waitForExit();
  await assertAcknowledged(file, [...keys, ...acked(restarted)], "after the restart");
});

test("a process that exits without disposing lets go of its file: a restart as pid 1 opens at once", needsNamespaces, async (t) => {
  const file = path.join(tempDir(t, "own"), "app.sqlite");
  const first = contender(t, file, { prefix: "first", ending: "abandon", container: true });
  assert.equal((await outcome(first)).opened, true);
  assert.deepEqual(await first.waitForExit(), { code: 0, signal: null });
  assert.ok(!fs.existsSync(`${file}.lock`), "the lock went with the process");
  const second = contender(t, file, { prefix: "second", ending: "abandon", container: true });
  assert.equal((await outcome(second)).opened, true);
  await second.waitForExit();
  await assertAcknowledged(file, [...acked(first), ...acked(second)], "after both runs");
});

test("two live owners in different pid namespaces: the second is LOCKED and the data stays intact", needsNamespaces, async (t) => {
  const file = path.join(tempDir(t, "own"), "shared.sqlite");
  const owner = contender(t, file, { prefix: "owner", count: "forever", container: true });
  assert.equal((await outcome(owner)).opened, true);
  await owner.waitForLine(/^ack owner:2$/);
  const second = contender(t, file, { prefix: "second", container: true });
  const refused = await outcome(second);
  assert.equal(refused.opened, false, "both cannot own the file");
  assert.equal(refused.code, "LOCKED");
  assert.match(refused.line, /heartbeat is live/);
  owner.kill();
  await owner.waitForExit();
  await assertAcknowledged(file, acked(owner), "after the owner was killed");
});

test(`${OPENERS} openers racing over a free file: exactly one wins every round, nothing acknowledged is lost`, async (t) => {
  const file = path.join(tempDir(t, "own"), "race.sqlite");
  const keys = [];
  for (let round = 0; round < ROUNDS; round++) keys.push(...(await race(t, file, round)));
  await assertAcknowledged(file, keys, `after ${ROUNDS} rounds`);
});

test(`${OPENERS} openers racing over a dead owner's lock: exactly one takes it over every round`, async (t) => {
  const file = path.join(tempDir(t, "own"), "stale.sqlite");
  const keys = [];
  for (let round = 0; round < ROUNDS; round++) {
    keys.push(...(await crashedOwner(t, file, `dead${round}`)));
    keys.push(...(await race(t, file, round)));
  }
  await assertAcknowledged(file, keys, `after ${ROUNDS} rounds`);
});

test(`${OPENERS} openers in ${OPENERS} pid namespaces racing over a lock whose lease ran out: exactly one takes it over`, needsNamespaces, async (t) => {
  const file = path.join(tempDir(t, "own"), "lease.sqlite");
  const keys = [];
  for (let round = 0; round < 2; round++) {
    keys.push(...(await crashedOwner(t, file, `dead${round}`, { container: true })));
    keys.push(...(await race(t, file, round, { container: true })));
  }
  await assertAcknowledged(file, keys, "after the rounds");
});

test("a SIGKILLed owner in this pid namespace is taken over at once, with every acknowledged write", async (t) => {
  const file = path.join(tempDir(t, "own"), "killed.sqlite");
  const keys = await crashedOwner(t, file, "killed");
  const store = await openStorage({ path: file, retry: { maxAttempts: 1 } });
  await store.dispose();
  await assertAcknowledged(file, keys, "after the kill");
});

/** The lock record of a store of this process, as larder writes it. */
async function ownRecord(file) {
  const store = await openStorage({ path: file });
  const record = fs.readFileSync(`${file}.lock`, "latin1");
  await store.dispose();
  return record;
}

/** Sets `file`'s mtime `ms` into the past. */
function age(file, ms) {
  const then = (Date.now() - ms) / 1000;
  fs.utimesSync(file, then, then);
}

async function assertLockedThenTakenOver(file, label) {
  await assert.rejects(
    openStorage({ path: file, retry: { maxAttempts: 1 } }),
    (error) => error.code === "LOCKED" && /another program or process/.test(error.userMessage),
    `${label}: LOCKED while its heartbeat is fresh, with a user message about processes`,
  );
  age(`${file}.lock`, LEASE_MS + 1_000);
  const store = await openStorage({ path: file, retry: { maxAttempts: 1 } });
  await store.dispose();
}

test("a lock naming a live unrelated process blocks only until its lease runs out", async (t) => {
  const file = path.join(tempDir(t, "own"), "unrelated.sqlite");
  const record = await ownRecord(file);
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  t.after(() => sleeper.kill("SIGKILL"));
  const stat = fs.readFileSync(`/proc/${sleeper.pid}/stat`, "utf8");
  const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  const forged = record.replace(/^pid \d+$/m, `pid ${sleeper.pid}`).replace(/^start \d+$/m, `start ${start}`);
  assert.notEqual(forged, record);
  fs.writeFileSync(`${file}.lock`, forged, "latin1");
  await assertLockedThenTakenOver(file, "a live unrelated process");
});

test("a lock naming this process, with no store of it open, blocks only until its lease runs out", async (t) => {
  const file = path.join(tempDir(t, "own"), "self.sqlite");
  fs.writeFileSync(`${file}.lock`, await ownRecord(file), "latin1");
  await assertLockedThenTakenOver(file, "this process");
});

test("a lock naming a pid that now belongs to a later process is taken over at once", async (t) => {
  const file = path.join(tempDir(t, "own"), "reused.sqlite");
  const record = await ownRecord(file);
  // This process's pid with another start time: the owner it names has died and its pid was reused.
  fs.writeFileSync(`${file}.lock`, record.replace(/^start \d+$/m, "start 1"), "latin1");
  const store = await openStorage({ path: file, retry: { maxAttempts: 1 } });
  await store.dispose();
});

test("an unreadable lock file (torn, empty, another format) counts as its dead creator's once 2 s old", async (t) => {
  const file = path.join(tempDir(t, "own"), "torn.sqlite");
  for (const content of ["", "larder-lock 2\ntoken x\npid", "12345\n"]) {
    fs.writeFileSync(`${file}.lock`, content);
    age(`${file}.lock`, 2_500);
    const store = await openStorage({ path: file, retry: { maxAttempts: 1 } });
    await store.dispose();
    assert.ok(!fs.existsSync(`${file}.lock`), "the store took the lock and released it");
  }
});

test("a store whose lock was taken over while it was frozen stops with LOCKED, reads and writes alike", async (t) => {
  const file = path.join(tempDir(t, "own"), "frozen.sqlite");
  const store = await openStorage({ path: file });
  t.after(() => store.dispose());
  await store.set("before", 1);
  // What a frozen owner finds when it wakes: its heartbeat stopped for a
  // lease, and another store took the lock over and rewrote it.
  const record = fs.readFileSync(`${file}.lock`, "latin1");
  fs.writeFileSync(`${file}.lock`, record.replace(/^token .*$/m, "token someone-else"), "latin1");
  const frozenUntil = Date.now() + LEASE_MS / 2 + 100;
  while (Date.now() < frozenUntil); // blocks the event loop: no heartbeat runs
  await assert.rejects(store.set("after", 2), (error) => {
    assert.equal(error.code, "LOCKED");
    assert.match(error.message, /no longer this store's/);
    assert.match(error.userMessage, /another program or process/);
    return true;
  });
  await assert.rejects(store.get("before"), { code: "LOCKED" }, "nor does it read a file another store writes");
  assert.equal(fs.readFileSync(`${file}.lock`, "latin1"), record.replace(/^token .*$/m, "token someone-else"), "nor beat over its owner's record");
});
