// Schema versions 1 and 2 to 3: a file made by larder's version-1 build
// (fixtures/v1-store.sqlite, made with `clock: () => T0` and a read of "a"
// last) opens with every entry, size, TTL, namespace and its LRU order, and
// so does one made by its version-2 build (fixtures/v2-store.sqlite, the same
// calls); each migration is one transaction, so a SIGKILL during it leaves
// the old version or version 3, whole.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { openStorage } from "larderdb";
import { assertIntegrity, FIXTURES, spawnNode, sqlite3, tempDir } from "./file-helpers.mjs";
import { seededRandom } from "./helpers.mjs";

const T0 = 1_700_000_000_000;
const CURRENT = 3;
const ROUNDS = Number(process.env.LARDER_MIGRATION_ROUNDS ?? 8);
const BULK_ROWS = 100_000;

/** What the version-1 build stored, per namespace ("" is the root store). */
const STORED = {
  "": { a: { x: 1, list: [1, "two", null] }, b: "text", c: new Uint8Array([1, 2, 3]), d: [1, 2, 3] },
  react: { button: { name: "Button" }, card: "é ü 😀" },
  vue: { x: 42 },
};

function copyFixture(t, name = "v1-store.sqlite") {
  const file = path.join(tempDir(t, "migration"), "store.sqlite");
  fs.copyFileSync(path.join(FIXTURES, name), file);
  return file;
}

/** Every entry of STORED reads back, 7 in all; react's sizes are button's stated 50 and card's 16. */
async function assertStored(store) {
  for (const [ns, entries] of Object.entries(STORED)) {
    const view = ns === "" ? store : store.namespace(ns);
    for (const [key, value] of Object.entries(entries)) assert.deepEqual(await view.get(key), value, `${ns}/${key}`);
  }
  assert.equal(await store.count(), 7);
  assert.equal(await store.namespace("react").getCurrentCacheSize(), 66);
}

const schemaVersion = (file) => Number(sqlite3(file, "PRAGMA user_version"));
const columns = (file) => sqlite3(file, "SELECT group_concat(name) FROM pragma_table_info('entries')");

describe("a version-1 file", () => {
  test("opens migrated, with every entry, size, TTL and namespace", async (t) => {
    const file = copyFixture(t);
    assert.equal(schemaVersion(file), 1);
    const store = await openStorage({ path: file, clock: () => T0 + 59_999 });
    await assertStored(store);
    assert.equal(await store.getCurrentCacheSize(), 214);
    assert.deepEqual(await store.namespace("react").keys(), ["button", "card"]);
    await store.dispose();
    assert.equal(schemaVersion(file), CURRENT);
    assert.equal(columns(file), "id,ns,key,kind,value,size,expires_at");
    assertIntegrity(file);

    // b expires at T0 + 60 s, react/button at T0 + 1 h: the absolute times moved over.
    const later = await openStorage({ path: file, clock: () => T0 + 60_000 });
    assert.equal(await later.get("b"), undefined);
    assert.deepEqual(await later.namespace("react").get("button"), { name: "Button" });
    await later.dispose();
  });

  test("keeps its LRU order: the least recently used entry is evicted first", async (t) => {
    const file = copyFixture(t);
    // 214 bytes stored; a 7-byte entry into a 214-byte budget evicts exactly
    // one 7-byte entry: b, the oldest ("a" was read last, after every write).
    const store = await openStorage({ path: file, clock: () => T0, maxSizeBytes: 214 });
    await store.set("n", "new", { size: 7 });
    assert.equal(await store.has("b"), false);
    for (const key of ["a", "c", "d", "n"]) assert.equal(await store.has(key), true, key);
    assert.equal(await store.count(), 7);
    await store.dispose();
  });

  test(`killed (SIGKILL) during the migration: version 1 or ${CURRENT}, whole (${ROUNDS} rounds)`, (t) =>
    killedDuringMigration(t, {
      fixture: "v1-store.sqlite",
      version: 1,
      columns: "id,ns,key,kind,value,size,expires_at,last_used",
      // Enough rows for the migration to take a while (in version 1's own columns).
      bulk: `INSERT INTO entries (ns, key, kind, value, size, last_used)
             SELECT 'bulk', 'k' || i, 0, CAST('"' || printf('%0200d', i) || '"' AS BLOB), 208, 100 + i FROM n;`,
    }));
});

describe("a version-2 file", () => {
  test("opens migrated, with every entry, size, TTL and namespace, and its closed ledgers", async (t) => {
    const file = copyFixture(t, "v2-store.sqlite");
    assert.equal(schemaVersion(file), 2);
    const store = await openStorage({ path: file, clock: () => T0 + 59_999 });
    await assertStored(store);
    assert.equal(await store.getCurrentCacheSize(), 118);
    await store.dispose();
    assert.equal(schemaVersion(file), CURRENT);
    assert.equal(columns(file), "id,ns,key,kind,value,size,expires_at");
    assert.equal(sqlite3(file, "SELECT group_concat(ns || ':' || rows || ':' || bytes) FROM closed_ledgers"), ":4:49,react:2:66,vue:1:3");
    assertIntegrity(file);

    const later = await openStorage({ path: file, clock: () => T0 + 60_000 });
    assert.equal(await later.get("b"), undefined, "b expires at T0 + 60 s");
    assert.deepEqual(await later.namespace("react").get("button"), { name: "Button" });
    await later.dispose();
  });

  test(`killed (SIGKILL) during the migration: version 2 or ${CURRENT}, whole (${ROUNDS} rounds)`, (t) =>
    killedDuringMigration(t, {
      fixture: "v2-store.sqlite",
      version: 2,
      columns: "id,ns,key,kind,value,size,expires_at",
      bulk: `INSERT INTO entries (ns, key, kind, value, size)
             SELECT 'bulk', 'k' || i, 0, CAST('"' || printf('%0200d', i) || '"' AS BLOB), 208 FROM n;`,
    }));
});

/**
 * Copies `fixture` with BULK_ROWS more rows (`bulk`, an INSERT from the
 * numbers `n`), then, for ROUNDS rounds, SIGKILLs a child opening a copy at a
 * random moment of the time an open takes: the file is intact, of `version`
 * (with `columns`) or the current one, and opens with every row.
 */
async function killedDuringMigration(t, { fixture, version: old, columns: oldColumns, bulk }) {
  const dir = tempDir(t, "migration-crash");
  const master = path.join(dir, "master.sqlite");
  fs.copyFileSync(path.join(FIXTURES, fixture), master);
  sqlite3(master, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${BULK_ROWS}) ${bulk}`);
  // How long a child takes to start and migrate it: the kills fall anywhere in that time.
  const timed = path.join(dir, "timed.sqlite");
  fs.copyFileSync(master, timed);
  const started = performance.now();
  const timing = spawnNode(t, path.join(FIXTURES, "migrate-and-hold.mjs"), [timed]);
  await timing.waitForLine(/^opened$/, 60_000);
  const openMs = performance.now() - started;
  timing.kill();
  await timing.waitForExit();
  const random = seededRandom(0x319);
  const seen = { [old]: 0, [CURRENT]: 0 };
  for (let round = 0; round < ROUNDS; round += 1) {
    const file = path.join(dir, `round-${round}.sqlite`);
    fs.copyFileSync(master, file);
    const child = spawnNode(t, path.join(FIXTURES, "migrate-and-hold.mjs"), [file]);
    await new Promise((resolve) => setTimeout(resolve, random.next() * openMs));
    child.kill();
    await child.waitForExit();
    assertIntegrity(file, `round ${round}`);
    const version = schemaVersion(file);
    seen[version] += 1;
    const expected = version === old ? oldColumns : "id,ns,key,kind,value,size,expires_at";
    assert.equal(columns(file), expected, `round ${round}: version ${version} and its columns`);
    assert.equal(Number(sqlite3(file, "SELECT count(*) FROM entries")), BULK_ROWS + 7, `round ${round}`);

    const store = await openStorage({ path: file, clock: () => T0 });
    assert.equal(await store.count(), BULK_ROWS + 7);
    assert.equal(await store.namespace("bulk").get(`k${BULK_ROWS}`), "0".repeat(200 - String(BULK_ROWS).length) + BULK_ROWS);
    await store.dispose();
    assert.equal(schemaVersion(file), CURRENT);
  }
  t.diagnostic(`opening took ${openMs.toFixed(0)} ms; killed before its commit: ${seen[old]}, after: ${seen[CURRENT]}`);
}
