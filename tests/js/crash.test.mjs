// Crash safety: a child process writes batches into a file store
// (durability "full") until it is killed with SIGKILL at a random moment;
// the parent then reopens the file and checks that every acknowledged batch
// is there, no batch is there in part, count() and getCurrentCacheSize()
// equal what the entries add up to, and the file is intact. Rounds repeat on
// the same file. LARDER_CRASH_ROUNDS sets how many (default 200);
// LARDER_CRASH_SEED replays a run.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { jsonSize, seededRandom, within } from "./helpers.mjs";
import { FIXTURES, assertIntegrity, spawnNode, sqlite3, tempDir } from "./file-helpers.mjs";

const CRASH_WRITER = path.join(FIXTURES, "crash-writer.mjs");
const ROUNDS = Number(process.env.LARDER_CRASH_ROUNDS ?? 200);
const SEED = Number(process.env.LARDER_CRASH_SEED ?? Date.now() % 2 ** 31);
/** Entries kept across rounds; older batches are deleted beyond it (bounds the recount). */
const KEEP_ENTRIES = 1_500;
const KEY = /^b(\d+):(\d+)$/;

assert.ok(Number.isInteger(ROUNDS) && ROUNDS > 0, `LARDER_CRASH_ROUNDS must be a positive integer, got ${ROUNDS}`);

/**
 * Runs the child until the kill: returns the batches it began and the ones it
 * acknowledged, as it printed them.
 */
async function crashRound(t, file, firstBatch, random) {
  const child = spawnNode(t, CRASH_WRITER, [file, String(firstBatch), String(random.int(1, 2 ** 31))]);
  const how = random.next();
  let plan;
  try {
    if (how < 0.1) {
      // Any time from the spawn on: may strike while it starts or opens.
      plan = "early";
      await new Promise((resolve) => setTimeout(resolve, random.int(0, 200)));
    } else if (how < 0.55) {
      plan = "timed";
      await child.waitForLine(/^ready /, 15_000);
      await new Promise((resolve) => setTimeout(resolve, random.int(20, 250)));
    } else {
      plan = "acks";
      await child.waitForLine(/^ready /, 15_000);
      // Acknowledgements come in batch order: the k-th is "ack <first + k - 1>".
      const acks = random.int(1, 20);
      await child.waitForLine(new RegExp(`^ack ${firstBatch + acks - 1}$`), 15_000);
    }
  } finally {
    child.kill();
  }
  const exit = await child.waitForExit(10_000);
  assert.equal(exit.signal, "SIGKILL", `the writer ran until killed (exit ${JSON.stringify(exit)}; stderr: ${child.stderr})`);

  const begun = new Map();
  const acked = new Set();
  for (const line of child.lines) {
    const [word, id, size] = line.split(" ");
    if (word === "begin") {
      assert.equal(Number(id), firstBatch + begun.size, `batches are numbered in order (${line})`);
      begun.set(Number(id), Number(size));
    } else if (word === "ack") {
      assert.ok(begun.has(Number(id)) && !acked.has(Number(id)), `ack of a begun batch (${line})`);
      acked.add(Number(id));
    } else {
      assert.match(line, /^ready \d+$/, `an unexpected line from the writer: ${line}`);
    }
  }
  return { plan, begun, acked };
}

test(`crash safety: ${ROUNDS} rounds of SIGKILL during durable batch writes`, { timeout: ROUNDS * 20_000 + 60_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (LARDER_CRASH_SEED=${SEED} replays the choices of this run)`);
  const random = seededRandom(SEED);
  const file = path.join(tempDir(t, "crash"), "crash.sqlite");
  /** Every batch ever begun: its size and what it is known to be now. */
  const batches = new Map(); // id -> { size, state: "present" | "absent" | "deleted" }
  let nextBatch = 1;
  const stats = { plans: {}, begun: 0, acked: 0, unackedPresent: 0, unackedAbsent: 0, maxEntries: 0 };
  const startedAt = Date.now();
  let expectedFile;
  const remainingRows = (known) => [...known.values()].reduce((sum, batch) => sum + batch.size, 0);

  for (let round = 1; round <= ROUNDS; round += 1) {
    const label = `round ${round}`;
    const { plan, begun, acked } = await crashRound(t, file, nextBatch, random);
    stats.plans[plan] = (stats.plans[plan] ?? 0) + 1;
    stats.begun += begun.size;
    stats.acked += acked.size;
    for (const [id, size] of begun) batches.set(id, { size, state: "pending", acked: acked.has(id) });
    if (begun.size > 0) nextBatch = Math.max(...begun.keys()) + 1;

    const store = await within(
      openStorage({ path: file, retry: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 100 } }),
      `${label}: reopening after the kill`,
      15_000,
    );
    try {
      const keys = await within(store.keys(), `${label}: keys()`);
      const found = new Map(); // batch id -> indexes found
      for (const key of keys) {
        const match = KEY.exec(key);
        assert.ok(match, `${label}: unexpected key ${key}`);
        const [id, index] = [Number(match[1]), Number(match[2])];
        assert.ok(batches.has(id), `${label}: key ${key} of a batch never begun, or known to be absent or deleted`);
        if (!found.has(id)) found.set(id, new Set());
        found.get(id).add(index);
      }

      // Every begun batch is all or nothing; acknowledged ones are all there;
      // what was there (or not) in an earlier round still is (or is not).
      for (const [id, batch] of batches) {
        const indexes = found.get(id) ?? new Set();
        assert.ok(
          indexes.size === 0 || indexes.size === batch.size,
          `${label}: batch ${id} is partly present (${indexes.size} of ${batch.size})`,
        );
        for (const index of indexes) assert.ok(index < batch.size, `${label}: b${id}:${index} beyond the batch`);
        const present = indexes.size > 0;
        if (batch.state === "pending") {
          if (batch.acked) assert.ok(present, `${label}: acknowledged batch ${id} (${batch.size} entries) is missing`);
          else if (present) stats.unackedPresent += 1;
          else stats.unackedAbsent += 1;
          batch.state = present ? "present" : "absent";
        } else {
          assert.equal(present, batch.state === "present", `${label}: batch ${id} was ${batch.state}, now ${present ? "present" : "absent"}`);
        }
      }

      // Recount from the values themselves.
      let size = 0;
      const bytesOf = new Map(); // batch id -> bytes of its entries
      for (let i = 0; i < keys.length; i += 1_000) {
        const chunk = keys.slice(i, i + 1_000);
        const values = await within(store.mget(chunk), `${label}: mget`);
        for (const [j, key] of chunk.entries()) {
          const value = values[j];
          const [, id, index] = KEY.exec(key).map(Number);
          assert.ok(value && typeof value === "object", `${label}: ${key} has no value`);
          assert.deepEqual([value.b, value.i, value.n], [id, index, batches.get(id).size], `${label}: ${key} holds its own value`);
          const entrySize = value.declared ?? jsonSize(key, value);
          size += entrySize;
          bytesOf.set(id, (bytesOf.get(id) ?? 0) + entrySize);
        }
      }
      assert.equal(await store.count(), keys.length, `${label}: count()`);
      assert.equal(await store.getCurrentCacheSize(), size, `${label}: getCurrentCacheSize()`);
      stats.maxEntries = Math.max(stats.maxEntries, keys.length);

      // Keep the file small enough to recount every round: delete the oldest
      // present batches (through the store, so the ledgers are exercised too).
      if (keys.length > KEEP_ENTRIES) {
        let remaining = keys.length;
        for (const [id, batch] of batches) {
          if (remaining <= KEEP_ENTRIES / 2) break;
          if (batch.state !== "present") continue;
          assert.equal(await store.invalidate({ prefix: `b${id}:` }), batch.size, `${label}: invalidate batch ${id}`);
          batch.state = "deleted";
          remaining -= batch.size;
          size -= bytesOf.get(id);
        }
        assert.equal(await store.count(), remaining, `${label}: count() after deleting old batches`);
        assert.equal(await store.getCurrentCacheSize(), size, `${label}: getCurrentCacheSize() after deleting old batches`);
      }
      // Batches known to be gone need no more tracking: any key of theirs
      // would fail the key check above. Dropping them keeps rounds cheap.
      for (const [id, batch] of batches) if (batch.state !== "present") batches.delete(id);
      expectedFile = { rows: remainingRows(batches), bytes: size };
    } finally {
      await store.dispose();
    }
    assertIntegrity(file, label);
    const [rows, bytes] = sqlite3(file, "SELECT count(*), coalesce(sum(size), 0) FROM entries").split("|").map(Number);
    assert.deepEqual({ rows, bytes }, expectedFile, `${label}: rows and bytes in the file`);
  }

  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  t.diagnostic(
    `${ROUNDS} rounds in ${seconds} s: ${stats.begun} batches begun, ${stats.acked} acknowledged, ` +
      `unacknowledged at the kill: ${stats.unackedPresent} committed, ${stats.unackedAbsent} not; ` +
      `kills ${JSON.stringify(stats.plans)}; at most ${stats.maxEntries} entries`,
  );
});
