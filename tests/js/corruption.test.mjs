// Damage found, never returned: a closed file store has one page (8192
// bytes, the default sqlite-wasm-rs builds SQLite with) overwritten with
// random bytes (a page of the entries table's b-tree, of an index, one
// holding part of a large value, or any page), then is opened and read.
// Every failure must be CORRUPT (never INTERNAL, never a panic), a read must
// return the stored value or fail, what SQLite can still read stays
// readable, and dispose() works and releases the file.
//
// What larder cannot see: values are not checksummed. Damage inside a row's
// content (a large value's last overflow page, whose link SQLite does not
// follow, holds the value's tail and the columns after it) is returned: a
// Uint8Array with the damaged bytes, length unchanged, or a miss when the
// damaged expires_at reads as passed. The test checks that only the damaged
// row ever reads wrong. A damaged JSON value fails to decode: CORRUPT.
//
// LARDER_CORRUPTION_SEED replays a run; LARDER_CORRUPTION_ROUNDS sets its length.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { openStorage, isStorageError } from "larderdb";
import { rejectsWith, seededRandom } from "./helpers.mjs";
import { companions, sqlite3, tempDir } from "./file-helpers.mjs";

const SEED = Number(process.env.LARDER_CORRUPTION_SEED ?? Date.now() % 2 ** 31);
const ROUNDS = Number(process.env.LARDER_CORRUPTION_ROUNDS ?? 80);
const FAR_FUTURE_MS = 10 * 365 * 24 * 3600 * 1000;

/** What the store holds: small JSON values inline, large ones (JSON and bytes) over overflow pages. */
function contents() {
  const entries = new Map();
  for (let i = 0; i < 400; i++) entries.set(`small-${String(i).padStart(3, "0")}`, { i, text: `value ${i} `.repeat(1 + (i % 9)) });
  // Each large value filled with its own character or byte, so that an
  // overflow page can be traced to the value it holds.
  for (let i = 0; i < 8; i++) entries.set(`json-${i}`, { i, fill: String.fromCharCode(65 + i).repeat(9_000 + 2_000 * i) });
  for (let i = 0; i < 8; i++) entries.set(`bytes-${i}`, new Uint8Array(9_000 + 2_000 * i).fill(0xa0 + i));
  return entries;
}

/** Which key a large value's overflow page belongs to: the value whose fill most of the page is. */
function overflowOwner(page) {
  const body = page.subarray(4); // after the link to the next overflow page
  for (let i = 0; i < 8; i++) {
    for (const [key, fill] of [[`json-${i}`, 65 + i], [`bytes-${i}`, 0xa0 + i]]) {
      if (body.filter((byte) => byte === fill).length > body.length / 2) return key;
    }
  }
  return undefined;
}

/** The master database, its pages by what they hold (dbstat through the sqlite3 CLI, on a copy). */
async function master(dir) {
  const file = path.join(dir, "master.sqlite");
  const store = await openStorage({ path: file });
  const entries = contents();
  const withTtl = new Set();
  let n = 0;
  for (const [key, value] of entries) {
    // A third with a TTL, so that the expiry index has pages too.
    if (n++ % 3 === 0) withTtl.add(key);
    await store.set(key, value, withTtl.has(key) ? { ttlMs: FAR_FUTURE_MS } : undefined);
  }
  await store.dispose();
  const probe = path.join(dir, "probe.sqlite");
  fs.copyFileSync(file, probe);
  const rows = sqlite3(probe, "SELECT name, pagetype, pageno FROM dbstat ORDER BY pageno");
  const bytes = fs.readFileSync(file);
  // The page size, from the database header (a big-endian u16 at offset 16).
  const pageSize = bytes.readUInt16BE(16);
  const pages = rows.split("\n").map((line) => {
    const [name, type, pageno] = line.split("|");
    const page = { name, type, pageno: Number(pageno) };
    if (type === "overflow") page.owner = overflowOwner(bytes.subarray((page.pageno - 1) * pageSize, page.pageno * pageSize));
    return page;
  });
  return { file, entries, withTtl, pages, pageSize };
}

/** The kinds of page a round damages, in turn. */
const TARGETS = [
  ["entries leaf", (p) => p.name === "entries" && p.type === "leaf"],
  ["entries interior", (p) => p.name === "entries" && p.type === "internal"],
  ["entries_by_key", (p) => p.name === "entries_by_key"],
  ["entries_by_expiry", (p) => p.name === "entries_by_expiry"],
  ["JSON value", (p) => p.type === "overflow" && p.owner?.startsWith("json-")],
  ["bytes value", (p) => p.type === "overflow" && p.owner?.startsWith("bytes-")],
  ["any page", () => true],
];

const show = (value) => (value instanceof Uint8Array ? `Uint8Array(${value.length})` : JSON.stringify(value)?.slice(0, 80));
const sameBytes = (a, b) => a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));

/** Asserts `error` is CORRUPT; anything else fails with `where`. */
function assertCorrupt(error, where) {
  assert.ok(isStorageError(error), `${where}: not a StorageError: ${error?.stack ?? error}`);
  assert.equal(error.code, "CORRUPT", `${where}: ${error.code}: ${error.message}`);
}

describe("a damaged database", () => {
  test(`one page of random bytes: CORRUPT, never INTERNAL or another value (${ROUNDS} rounds)`, async (t) => {
    t.diagnostic(`seed ${SEED} (LARDER_CORRUPTION_SEED=${SEED} replays the choices of this run)`);
    const random = seededRandom(SEED);
    const dir = tempDir(t, "corruption");
    const { file: masterFile, entries, withTtl, pages, pageSize } = await master(dir);
    t.diagnostic(`${pages.length} pages of ${pageSize} bytes`);
    const tally = new Map();
    const count = (what) => tally.set(what, (tally.get(what) ?? 0) + 1);

    for (let round = 0; round < ROUNDS; round++) {
      const [target, matches] = TARGETS[round % TARGETS.length];
      const candidates = pages.filter(matches);
      assert.ok(candidates.length > 0, `the master database has a page of kind ${target}`);
      const page = random.pick(candidates);
      const owner = page.owner ? ` of ${page.owner}` : "";
      const where = `round ${round} (seed ${SEED}), ${target}: page ${page.pageno} (${page.name} ${page.type}${owner})`;
      const file = path.join(dir, `round-${round}.sqlite`);
      fs.copyFileSync(masterFile, file);
      const noise = Buffer.alloc(pageSize);
      for (let i = 0; i < pageSize; i++) noise[i] = random.int(0, 255);
      const fd = fs.openSync(file, "r+");
      fs.writeSync(fd, noise, 0, pageSize, (page.pageno - 1) * pageSize);
      fs.closeSync(fd);

      let store;
      try {
        // The open reads the ledgers the master's dispose left, not every
        // row: most damage is found by the calls that read it, each of which
        // must say CORRUPT, so the breaker must not open after five of them.
        store = await openStorage({ path: file, retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1_000_000 } });
      } catch (error) {
        assertCorrupt(error, `${where}: open`);
        count(`${target}: open CORRUPT`);
      }
      if (store) {
        const readable = [];
        for (const [key, stored] of entries) {
          let read;
          try {
            read = await store.get(key);
          } catch (error) {
            assertCorrupt(error, `${where}: get ${key}`);
            count(`${target}: get CORRUPT`);
            continue;
          }
          if (stored instanceof Uint8Array ? sameBytes(read, stored) : isDeepStrictEqual(read, stored)) {
            readable.push(key);
            continue;
          }
          // Not checksummed: the row whose content page was damaged (its
          // value's tail and the columns after it, expires_at among them) may
          // come back wrong, and no other.
          assert.equal(page.owner, key, `${where}: get ${key} returned another value: ${show(read)}`);
          if (read === undefined) {
            // A damaged expires_at read as passed: a miss.
            assert.ok(withTtl.has(key), `${where}: get ${key} missed an entry without a TTL`);
            count(`${target}: damaged row read as expired (not checksummed)`);
          } else {
            // A damaged JSON value does not decode; damaged bytes do.
            assert.ok(read instanceof Uint8Array && stored instanceof Uint8Array, `${where}: get ${key} returned ${show(read)}`);
            assert.equal(read.length, stored.length, `${where}: get ${key}: the length is in the cell, not the damaged page`);
            count(`${target}: damaged bytes returned (not checksummed)`);
          }
        }
        if (page.owner) {
          // Damage confined to one value's content: every other entry reads back.
          assert.deepEqual(
            readable.filter((key) => key !== page.owner).length,
            entries.size - 1,
            `${where}: the entries SQLite can read stay readable`,
          );
        }
        count(`${target}: opened, ${readable.length === entries.size ? "all" : "some"} readable`);
        // Other calls over the damage: CORRUPT or an answer, never INTERNAL.
        for (const [name, call] of [
          ["count", () => store.count()],
          ["keys", () => store.keys()],
          ["set", () => store.set("after-damage", { round })],
          ["purgeExpired", () => store.purgeExpired()],
        ]) {
          try {
            await call();
          } catch (error) {
            assertCorrupt(error, `${where}: ${name}`);
          }
        }
        await store.dispose();
      }
      assert.equal(fs.existsSync(`${file}.lock`), false, `${where}: the lock was released`);
      fs.rmSync(file, { force: true });
    }
    t.diagnostic(`outcomes over ${ROUNDS} rounds (seed ${SEED}):`);
    for (const [what, n] of [...tally].sort()) t.diagnostic(`  ${what}: ${n}`);
  });
});

describe("a row SQLite reads but larder never wrote", () => {
  // Damage inside a record that SQLite's page checks let through: a column of
  // another type than larder writes, out of range, or a value that does not
  // decode. Made with the sqlite3 CLI, on a closed store.
  const CASES = [
    ["kind is text", "UPDATE entries SET kind = 'json' WHERE key = 'a'", (s) => s.get("a")],
    ["kind is unknown", "UPDATE entries SET kind = 7 WHERE key = 'a'", (s) => s.get("a")],
    ["value is an integer", "UPDATE entries SET value = 42 WHERE key = 'a'", (s) => s.get("a")],
    ["value is not UTF-8", "UPDATE entries SET value = x'7bff7d' WHERE key = 'a'", (s) => s.get("a")],
    ["value is not JSON", "UPDATE entries SET value = CAST('{\"x\":' AS BLOB) WHERE key = 'a'", (s) => s.get("a")],
    ["expires_at is text", "UPDATE entries SET expires_at = 'later' WHERE key = 'a'", (s) => s.get("a")],
    ["size is text", "UPDATE entries SET size = 'big' WHERE key = 'a'", (s) => s.set("a", 2)],
    ["size is negative", "UPDATE entries SET size = -100 WHERE key = 'a'", (s) => s.set("a", 2)],
    ["ns is a blob", "UPDATE entries SET ns = x'ff' WHERE key = 'a'", (s) => s.count()],
    ["key is a blob", "UPDATE entries SET key = x'ff' WHERE key = 'a'", (s) => s.keys()],
  ];

  // Sizes past what larder writes (at most 2^53 - 1), and past any integer
  // sum: refused when the open adds them up.
  CASES.push(["sizes past 2^62", "UPDATE entries SET size = 4611686018427387904", (s) => s.count()]);

  for (const [name, damage, probe] of CASES) {
    test(`${name}: CORRUPT, the rest readable, dispose works`, async (t) => {
      const file = path.join(tempDir(t, "corrupt-row"), "store.sqlite");
      const setup = await openStorage({ path: file });
      await setup.set("a", { x: 1 }, { ttlMs: FAR_FUTURE_MS });
      await setup.set("b", "kept");
      await setup.dispose();
      sqlite3(file, damage);
      assert.deepEqual(companions(file), [], "the CLI checkpointed and closed");

      let store;
      let failure;
      try {
        store = await openStorage({ path: file, retry: { maxAttempts: 1 } });
        await probe(store);
      } catch (error) {
        failure = error;
      }
      assertCorrupt(failure, `${name}: ${store ? "the call" : "the open"}`);
      if (store) {
        assert.equal(await store.get("b"), "kept", "the undamaged row reads back");
        await store.dispose();
      }
      assert.equal(fs.existsSync(`${file}.lock`), false, "the lock was released");
    });
  }

  test("value is not JSON, of an entry that cannot expire (the read cache keeps its text): every get rejects CORRUPT", async (t) => {
    const file = path.join(tempDir(t, "corrupt-row"), "store.sqlite");
    const setup = await openStorage({ path: file });
    await setup.set("a", { x: 1 });
    await setup.set("b", "kept");
    await setup.dispose();
    sqlite3(file, "UPDATE entries SET value = CAST('{\"x\":' AS BLOB) WHERE key = 'a'");
    const store = await openStorage({ path: file, retry: { maxAttempts: 1 } });
    t.after(() => store.dispose());
    for (let read = 1; read <= 3; read += 1) {
      const error = await rejectsWith(() => store.get("a"), "CORRUPT");
      assert.equal(typeof error.txId, "number", `read ${read}: the failure carries its call's txId`);
    }
    assert.equal(await store.get("b"), "kept");
  });
});
