// The ledgers a clean close leaves in the file (schema version 3): the next
// open reads them instead of every row, and they never stand once something
// has changed what they count (larder's own write, another program's, or a
// write cut short by SIGKILL), so count() and getCurrentCacheSize() stay
// exact across opens.
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { openStorage } from "larderdb";
import { FIXTURES, spawnNode, sqlite3, tempDir } from "./file-helpers.mjs";

const ENTRIES = 2_000;
const value = (i) => ({ i, text: "v".repeat(1000) });

/** A file store of ENTRIES ~1 KB entries at the root and 3 in "ns", disposed. */
async function closedStore(t) {
  const file = path.join(tempDir(t, "closed-ledgers"), "store.sqlite");
  const store = await openStorage({ path: file });
  for (let from = 0; from < ENTRIES; from += 500) {
    await store.mset(Array.from({ length: 500 }, (_, i) => [`k${from + i}`, value(from + i)]));
  }
  await store.namespace("ns").mset({ a: 1, b: "two", c: [3] });
  await store.dispose();
  return file;
}

const left = (file) => sqlite3(file, "SELECT ns || ':' || rows || ':' || bytes FROM closed_ledgers ORDER BY ns");
/** count and SUM(size) of the whole table, as SQLite counts them. */
const counted = (file) => sqlite3(file, "SELECT count(*) || ':' || total(size) FROM entries").replace(".0", "");

async function totals(file) {
  const store = await openStorage({ path: file });
  const found = `${await store.count()}:${await store.getCurrentCacheSize()}`;
  const ns = `${await store.namespace("ns").count()}:${await store.namespace("ns").getCurrentCacheSize()}`;
  await store.dispose();
  return { found, ns };
}

test("a clean close leaves each namespace's rows and bytes, which are what the table holds", async (t) => {
  const file = await closedStore(t);
  const [root, ns] = left(file).split("\n");
  const [rows, bytes] = counted(file).split(":").map(Number);
  const nsBytes = Number(sqlite3(file, "SELECT total(size) FROM entries WHERE ns = 'ns'"));
  assert.equal(ns, `ns:3:${nsBytes}`);
  assert.equal(root, `:${ENTRIES}:${bytes - nsBytes}`);
  assert.equal(rows, ENTRIES + 3);
  assert.deepEqual(await totals(file), { found: counted(file), ns: `3:${nsBytes}` });
});

test("the next open reads a few pages, not every row", async (t) => {
  const file = await closedStore(t);
  const pages = Number(sqlite3(file, "PRAGMA page_count"));
  const reads = { count: 0 };
  const countingFs = {
    ...realFs,
    readSync(...args) {
      reads.count += 1;
      return realFs.readSync(...args);
    },
  };
  const store = await openStorage({ path: file, fs: countingFs });
  const atOpen = reads.count;
  assert.equal(await store.count(), ENTRIES + 3);
  await store.dispose();
  t.diagnostic(`${atOpen} reads to open a file of ${pages} pages`);
  assert.ok(pages > 500, `${pages} pages`);
  assert.ok(atOpen < 50, `${atOpen} reads to open`);

  // Without them (as after a crash), the open counts from every row.
  sqlite3(file, "DELETE FROM closed_ledgers");
  reads.count = 0;
  const counting = await openStorage({ path: file, fs: countingFs });
  t.diagnostic(`${reads.count} reads to open it without them`);
  assert.ok(reads.count > pages / 2, `${reads.count} reads`);
  await counting.dispose();
});

test("a dispose after reads only leaves them as they were; after a write, as they are now", async (t) => {
  const file = await closedStore(t);
  const before = left(file);
  const reader = await openStorage({ path: file });
  await reader.get("k1");
  await reader.dispose();
  assert.equal(left(file), before);
  const writer = await openStorage({ path: file });
  await writer.set("k1", "smaller");
  await writer.dispose();
  assert.notEqual(left(file), before);
  assert.match(left(file), new RegExp(`^:${ENTRIES}:`));
  assert.deepEqual((await totals(file)).found, counted(file));
});

test("another program's write deletes them, so the open counts its change", async (t) => {
  const file = await closedStore(t);
  sqlite3(file, "UPDATE entries SET size = size + 1000 WHERE ns = 'ns' AND key = 'a'");
  assert.equal(left(file), "");
  const { found, ns } = await totals(file);
  assert.equal(found, counted(file));
  assert.equal(ns, `3:${Number(sqlite3(file, "SELECT total(size) FROM entries WHERE ns = 'ns'"))}`);
  for (const change of ["DELETE FROM entries WHERE key = 'k5'", "INSERT INTO entries (ns, key, kind, value, size) SELECT ns, 'copy', kind, value, size FROM entries WHERE key = 'k6'"]) {
    assert.notEqual(left(file), "", "left by the dispose above");
    sqlite3(file, change);
    assert.equal(left(file), "", change);
    assert.equal((await totals(file)).found, counted(file), change);
  }
});

test("SIGKILL after a write: the next open counts exactly; after reads only: they stand", async (t) => {
  const file = await closedStore(t);
  const writer = spawnNode(t, path.join(FIXTURES, "hold-store.mjs"), [file, "added", "x".repeat(5000), "normal"]);
  await writer.waitForLine(/^ready /);
  writer.kill();
  await writer.waitForExit();
  assert.equal(left(file), "", "the write deleted them");
  assert.match(counted(file), new RegExp(`^${ENTRIES + 4}:`), "the killed store's set committed");
  assert.equal((await totals(file)).found, counted(file));

  const reader = spawnNode(t, path.join(FIXTURES, "migrate-and-hold.mjs"), [file]);
  await reader.waitForLine(/^opened$/);
  reader.kill();
  await reader.waitForExit();
  assert.match(left(file), new RegExp(`^:${ENTRIES + 1}:`), "an open that wrote nothing leaves them standing");
  assert.equal((await totals(file)).found, counted(file));
});

test("larder's own writes fire no trigger: the schema's are for other programs' writes", async (t) => {
  const file = await closedStore(t);
  sqlite3(
    file,
    `CREATE TABLE spied (key TEXT);
     CREATE TRIGGER spy AFTER INSERT ON entries BEGIN INSERT INTO spied VALUES (NEW.key); END;`,
  );
  const store = await openStorage({ path: file });
  await store.set("new", 1);
  await store.mset({ more: 2, most: 3 });
  await store.dispose();
  assert.equal(sqlite3(file, "SELECT count(*) FROM spied"), "0");
  assert.match(left(file), new RegExp(`^:${ENTRIES + 3}:`), "larder's dispose left its ledgers");
  sqlite3(file, "INSERT INTO entries (ns, key, kind, value, size) VALUES ('', 'cli', 0, x'31', 1)");
  assert.equal(sqlite3(file, "SELECT group_concat(key) FROM spied"), "cli", "the CLI's insert fires it");
  assert.equal(left(file), "");
});
