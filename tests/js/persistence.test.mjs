// Durable file storage in Node: what a file store keeps across dispose and
// reopen, that its file is a standard SQLite database, one store per file (in
// this process and across processes, stale owners taken over), ":temp:"
// stores that leave nothing behind, files that are not larder's refused
// untouched, and both durability levels.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { assertStorageError, jsonSize, manualClock, rejectsWith, totals, within } from "./helpers.mjs";
import {
  FAST_RETRY,
  FIXTURES,
  assertIntegrity,
  companions,
  faultyFs,
  rowCount,
  sha256,
  spawnNode,
  sqlite3,
  tempDir,
} from "./file-helpers.mjs";

const HOLD_STORE = path.join(FIXTURES, "hold-store.mjs");
const STALL_WHILE_OPENING = path.join(FIXTURES, "stall-while-opening.mjs");

/** Opens a file store that is disposed when `t` ends (dispose is idempotent). */
async function openFile(t, file, options = {}) {
  const store = await within(openStorage({ path: file, ...options }), `openStorage(${file})`, 15_000);
  t.after(() => store.dispose());
  return store;
}

/** Every kind of value the README allows, keyed by what it is. */
const VALUES = {
  string: "hello, wörld ✓",
  "empty string": "",
  integer: 42,
  float: -3.25,
  "big number": 2 ** 53 - 1,
  true: true,
  false: false,
  null: null,
  array: [1, "two", null, [3], { four: 4 }],
  object: JSON.parse('{"nested": {"deep": [true, false]}, "__proto__": {"own": 1}, "constructor": "c"}'),
  "empty object": {},
  bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
  "empty bytes": new Uint8Array(0),
  "big bytes": new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff),
  "unicode 🔑 key": "value under an astral key",
};

describe("data survives dispose and reopen", () => {
  test("values of every kind, namespaces, count and getCurrentCacheSize", async (t) => {
    const file = path.join(tempDir(t), "cache.sqlite");
    const first = await openFile(t, file);
    for (const [key, value] of Object.entries(VALUES)) await first.set(key, value);
    await first.set("sized", "x", { size: 12_345 });
    const names = ["a", "ab", "A", "a:b", "%_"];
    for (const name of names) {
      await first.namespace(name).set("shared", `in ${name}`);
      await first.namespace(name).mset([[`only-${name}`, name.length]]);
    }
    await first.set("shared", "in the root store");
    const before = {
      totals: await totals(first),
      keys: await first.keys(),
      namespaces: await Promise.all(names.map(async (name) => [await first.namespace(name).keys(), await totals(first.namespace(name))])),
    };
    assert.equal(before.totals.count, Object.keys(VALUES).length + 2 + 2 * names.length);
    await first.dispose();

    const second = await openFile(t, file);
    for (const [key, value] of Object.entries(VALUES)) {
      const read = await second.get(key);
      assert.deepEqual(read, value, key);
      if (value instanceof Uint8Array) assert.ok(read instanceof Uint8Array, `${key} reads back as a Uint8Array`);
    }
    const object = await second.get("object");
    assert.ok(Object.hasOwn(object, "__proto__"), "__proto__ is still an own data property");
    assert.equal(Object.getPrototypeOf(object), Object.prototype);
    assert.equal(await second.get("sized"), "x");
    assert.equal(await second.get("shared"), "in the root store");
    for (const name of names) {
      assert.equal(await second.namespace(name).get("shared"), `in ${name}`, `namespace ${name}`);
      assert.equal(await second.namespace(name).get(`only-${name}`), name.length);
    }
    assert.deepEqual(await totals(second), before.totals, "count and size after reopening");
    assert.deepEqual(await second.keys(), before.keys, "root keys after reopening");
    assert.deepEqual(
      await Promise.all(names.map(async (name) => [await second.namespace(name).keys(), await totals(second.namespace(name))])),
      before.namespaces,
      "each namespace's keys, count and size after reopening",
    );
    // The explicit size is what counts, after reopening too.
    await second.delete("sized");
    assert.equal(await second.getCurrentCacheSize(), before.totals.size - 12_345);
  });

  test("writes after reopening go on from the reopened state (overwrite, delete, clear)", async (t) => {
    const file = path.join(tempDir(t), "cache.sqlite");
    const first = await openFile(t, file);
    await first.mset({ a: 1, b: "two", c: [3] });
    await first.dispose();

    const second = await openFile(t, file);
    await second.set("a", "one, longer now");
    assert.equal(await second.delete("b"), true);
    await second.set("d", 4);
    const expected = jsonSize("a", "one, longer now") + jsonSize("c", [3]) + jsonSize("d", 4);
    assert.deepEqual(await totals(second), { count: 3, size: expected });
    await second.dispose();

    const third = await openFile(t, file);
    assert.deepEqual(await third.mget(["a", "b", "c", "d"]), ["one, longer now", undefined, [3], 4]);
    assert.deepEqual(await totals(third), { count: 3, size: expected });
    await third.clear();
    await third.dispose();

    const fourth = await openFile(t, file);
    assert.deepEqual(await totals(fourth), { count: 0, size: 0 });
    assert.deepEqual(await fourth.keys(), []);
  });

  test("TTL expiry is absolute in the clock's time across reopening", async (t) => {
    const file = path.join(tempDir(t), "ttl.sqlite");
    const start = 5_000_000;
    const openAt = (now, options = {}) => {
      const clock = manualClock(now);
      return openFile(t, file, { clock, ...options });
    };
    const first = await openAt(start);
    await first.set("short", "s", { ttlMs: 1_000 });
    await first.set("long", "l", { ttlMs: 5_000 });
    await first.set("forever", "f");
    await first.mset({ batch1: 1, batch2: 2 }, { ttlMs: 1_000 });
    const sizes = {
      short: jsonSize("short", "s"),
      long: jsonSize("long", "l"),
      forever: jsonSize("forever", "f"),
      batch: jsonSize("batch1", 1) + jsonSize("batch2", 2),
    };
    await first.dispose();

    // Just before the short TTL ends: everything is live.
    const second = await openAt(start + 999);
    assert.deepEqual(await second.mget(["short", "long", "forever", "batch1", "batch2"]), ["s", "l", "f", 1, 2]);
    assert.deepEqual(await totals(second), { count: 5, size: sizes.short + sizes.long + sizes.forever + sizes.batch });
    await second.dispose();

    // Reopened exactly when the short TTL ends (had expiry restarted at
    // reopening, these would still be live).
    const third = await openAt(start + 1_000, { defaultTtlMs: 1 });
    assert.equal(await third.get("short"), undefined);
    assert.equal(await third.has("batch1"), false);
    assert.equal(await third.get("long"), "l");
    assert.deepEqual(await totals(third), { count: 2, size: sizes.long + sizes.forever });
    assert.deepEqual(await third.keys(), ["forever", "long"]);
    await third.dispose();

    // defaultTtlMs of a later open does not apply to entries written before.
    const fourth = await openAt(start + 1_000_000);
    assert.equal(await fourth.get("long"), undefined);
    assert.equal(await fourth.get("forever"), "f");
    assert.deepEqual(await totals(fourth), { count: 1, size: sizes.forever });
  });

  test("the file is a standard SQLite database the sqlite3 CLI reads", async (t) => {
    const file = path.join(tempDir(t), "plain.sqlite");
    const store = await openFile(t, file);
    const pairs = Array.from({ length: 300 }, (_, i) => [`key-${String(i).padStart(3, "0")}`, { i, text: "x".repeat(i) }]);
    await store.mset(pairs);
    await store.namespace("other").set("key-000", "elsewhere");
    await store.set("bytes", new Uint8Array([1, 2, 3]));
    await store.dispose();

    assertIntegrity(file);
    assert.equal(rowCount(file), 302);
    const rootKeys = sqlite3(file, "SELECT key FROM entries WHERE key LIKE 'key-%' ORDER BY key").split("\n");
    assert.deepEqual(new Set(rootKeys), new Set(pairs.map(([key]) => key)), "every key is a row");
    assert.equal(Number(sqlite3(file, "SELECT count(DISTINCT ns) FROM entries")), 2, "two namespaces");

    // The CLI reading it leaves it as larder wants it.
    const again = await openFile(t, file);
    assert.deepEqual(await again.get("key-299"), pairs[299][1]);
    assert.equal(await again.namespace("other").get("key-000"), "elsewhere");
  });

  test("a path in directories that do not exist yet creates them", async (t) => {
    const file = path.join(tempDir(t), "one", "two", "three.sqlite");
    const store = await openFile(t, file);
    await store.set("k", "v");
    await store.dispose();
    assert.ok(fs.statSync(file).isFile());
    assertIntegrity(file);
    const again = await openFile(t, file);
    assert.equal(await again.get("k"), "v");
  });
});

describe("one live store per file", () => {
  test("a second openStorage in this process, under any spelling of the path, is a handle on the same store", async (t) => {
    const dir = tempDir(t, "lock");
    const file = path.join(dir, "f.sqlite");
    const relativeDir = path.relative(process.cwd(), dir);
    assert.ok(!path.isAbsolute(relativeDir), "a relative spelling exists");
    const spellings = [
      file,
      `./${relativeDir}/f.sqlite`,
      `${relativeDir}/./f.sqlite`,
      `${relativeDir}/sub/../f.sqlite`,
      `${dir}/./f.sqlite`,
      `${dir}//f.sqlite`,
    ];

    const first = await openFile(t, `${relativeDir}/./f.sqlite`);
    await first.mset({ kept: "by the first", n: [1, 2, 3] });
    const handles = [];
    for (const spelling of spellings) {
      const other = await openFile(t, spelling);
      assert.deepEqual(await other.mget(["kept", "n"]), ["by the first", [1, 2, 3]], spelling);
      handles.push(other);
    }
    // The file is held: another process is refused.
    const refused = spawnNode(t, HOLD_STORE, [file, "from-child", "must not be written"]);
    await refused.waitForLine(/^open-failed LOCKED$/, 15_000);
    await first.set("after", "the other handles");
    for (const other of handles) await other.dispose();
    assert.equal(await first.get("after"), "the other handles", "disposing the other handles left the first open");
    await first.dispose();

    const second = await openFile(t, `./${relativeDir}/f.sqlite`, { retry: FAST_RETRY });
    assert.deepEqual(await second.mget(["kept", "n", "after"]), ["by the first", [1, 2, 3], "the other handles"]);
    assert.equal(await second.count(), 3);
    await second.dispose();
    assertIntegrity(file);
  });

  test("twenty concurrent opens of a held file are handles on its store; the holder keeps working", async (t) => {
    const file = path.join(tempDir(t, "lock"), "f.sqlite");
    const first = await openFile(t, file);
    const others = await Promise.all(Array.from({ length: 20 }, () => openFile(t, file)));
    await Promise.all(others.map((other, i) => other.set(`k${i}`, i)));
    await Promise.all(others.map((other) => other.dispose()));
    assert.equal(await first.count(), 20);
    await first.set("k", 1);
    assert.equal(await first.get("k"), 1);
  });

  test("LOCKED across processes, both ways; free again once the holder disposes", async (t) => {
    const file = path.join(tempDir(t, "xproc"), "shared.sqlite");
    const holder = spawnNode(t, HOLD_STORE, [file, "from-child", "child value"]);
    await holder.waitForLine(/^ready /, 15_000);

    const error = await rejectsWith(() => openStorage({ path: file, retry: FAST_RETRY }), "LOCKED");
    assert.equal(error.retryable, true);

    holder.send("dispose");
    await holder.waitForLine(/^disposed$/);
    assert.deepEqual(await holder.waitForExit(), { code: 0, signal: null });

    const parent = await openFile(t, file, { retry: FAST_RETRY });
    assert.equal(await parent.get("from-child"), "child value");

    // Now the parent holds it: a child is refused.
    const refused = spawnNode(t, HOLD_STORE, [file, "from-child", "must not be written"]);
    await refused.waitForLine(/^open-failed LOCKED$/, 15_000);
    assert.equal((await refused.waitForExit()).code, 2);
    assert.equal(await parent.get("from-child"), "child value");
    await parent.dispose();
    assertIntegrity(file);
  });

  for (const durability of ["full", "normal"]) {
    test(`a lock left by a killed process is taken over; its acknowledged write survives (durability ${durability})`, async (t) => {
      const file = path.join(tempDir(t, "stale"), "stale.sqlite");
      const holder = spawnNode(t, HOLD_STORE, [file, "acknowledged", "before the kill", durability]);
      await holder.waitForLine(/^ready /, 15_000);
      // It really holds the file.
      await rejectsWith(() => openStorage({ path: file, retry: FAST_RETRY }), "LOCKED");

      holder.kill();
      assert.equal((await holder.waitForExit()).signal, "SIGKILL");

      const store = await openFile(t, file, { retry: FAST_RETRY });
      assert.equal(await store.get("acknowledged"), "before the kill");
      await store.set("after", "the takeover");
      assert.deepEqual(await totals(store), {
        count: 2,
        size: jsonSize("acknowledged", "before the kill") + jsonSize("after", "the takeover"),
      });
      // The new owner holds it in turn.
      const refused = spawnNode(t, HOLD_STORE, [file, "from-child", "must not be written"]);
      await refused.waitForLine(/^open-failed LOCKED$/, 15_000);
      await store.dispose();
      assertIntegrity(file);
      assert.equal(rowCount(file), 2);
    });
  }
  test(
    "a process killed while opening (before its first write completed) does not block the file forever",
    async (t) => {
      const file = path.join(tempDir(t, "stale"), "stalled.sqlite");
      const opener = spawnNode(t, STALL_WHILE_OPENING, [file]);
      await opener.waitForLine(/^stalled$/, 15_000);
      opener.kill();
      assert.equal((await opener.waitForExit()).signal, "SIGKILL");
      // A lock its opener never finished writing: the next opener watches it
      // for a moment, finds its opener gone, and takes the file.
      const store = await openFile(t, file, { retry: FAST_RETRY });
      await store.set("k", "v");
      assert.equal(await store.get("k"), "v");
    },
  );
});

describe('":temp:" stores', () => {
  /** Entries of the OS temp directory that a ":temp:" store could have made. */
  const larderEntries = () => new Set(fs.readdirSync(tmpdir()).filter((name) => name.startsWith("larder-")));

  test("100 temp stores, each written, leave nothing behind in os.tmpdir() once disposed", async (t) => {
    // A private temp directory (os.tmpdir() follows TMPDIR), so that other
    // processes' files cannot be mistaken for this test's.
    const privateTmp = tempDir(t, "tmpdir");
    const savedTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    const stores = [];
    try {
      assert.equal(tmpdir(), privateTmp);
      const before = larderEntries();
      for (let i = 0; i < 100; i += 1) {
        const store = await within(openStorage({ path: ":temp:" }), `temp store ${i}`);
        stores.push(store);
        await store.set("id", i);
        await store.set("bytes", new Uint8Array(5_000).fill(i));
      }
      const during = [...larderEntries()].filter((name) => !before.has(name));
      assert.ok(during.length >= 100, `each temp store is a file under os.tmpdir() (found ${during.length} new entries)`);
      for (const [i, store] of stores.entries()) {
        assert.equal(await store.get("id"), i, "each temp store is its own database");
        assert.equal(await store.count(), 2);
      }
      await Promise.all(stores.map((store) => store.dispose()));
      assert.deepEqual([...larderEntries()].filter((name) => !before.has(name)), [], "nothing left behind");
      assert.deepEqual(fs.readdirSync(privateTmp), [...before], "nothing else left in the temp directory");
    } finally {
      await Promise.allSettled(stores.map((store) => store.dispose()));
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
    }
  });

  test("a temp store is not found again by a second :temp: open", async (t) => {
    const first = await openFile(t, ":temp:");
    await first.set("k", "first");
    const second = await openFile(t, ":temp:");
    assert.equal(await second.get("k"), undefined);
    assert.equal(await second.count(), 0);
  });
});

describe("files that are not larder databases are refused and left untouched", () => {
  /**
   * Asserts that opening `file` fails with `code`, leaves it byte-for-byte
   * unchanged with no companion file and nothing else in its directory, and
   * that a second attempt fails the same way (not LOCKED by the first).
   */
  async function assertRefused(file, code) {
    const dir = path.dirname(file);
    const hash = sha256(file);
    const listing = fs.readdirSync(dir).sort();
    assert.deepEqual(companions(file), [], "no companion file before");
    for (const attempt of [1, 2]) {
      const error = await rejectsWith(() => openStorage({ path: file, retry: FAST_RETRY }), code);
      assert.equal(error.retryable, false, `attempt ${attempt}: ${code} is not retryable`);
      assert.equal(sha256(file), hash, `attempt ${attempt}: the file is byte-for-byte unchanged`);
      assert.deepEqual(companions(file), [], `attempt ${attempt}: no -wal or -journal left`);
      assert.deepEqual(fs.readdirSync(dir).sort(), listing, `attempt ${attempt}: nothing added beside it`);
    }
  }

  test("a SQLite database made by another program: INCOMPATIBLE_SCHEMA", async (t) => {
    const file = path.join(tempDir(t, "schema"), "notes.sqlite");
    sqlite3(file, "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('keep me');");
    await assertRefused(file, "INCOMPATIBLE_SCHEMA");
    assert.equal(sqlite3(file, "SELECT body FROM notes"), "keep me");
  });

  test("a SQLite database in WAL mode made by another program: INCOMPATIBLE_SCHEMA", async (t) => {
    const file = path.join(tempDir(t, "schema"), "wal.sqlite");
    sqlite3(file, "PRAGMA journal_mode=WAL; CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('keep me');");
    for (const suffix of ["-shm"]) fs.rmSync(file + suffix, { force: true });
    await assertRefused(file, "INCOMPATIBLE_SCHEMA");
    assert.equal(sqlite3(file, "SELECT body FROM notes"), "keep me");
  });

  test("a larder database of a newer schema (user_version 99): INCOMPATIBLE_SCHEMA", async (t) => {
    const file = path.join(tempDir(t, "schema"), "newer.sqlite");
    const store = await openFile(t, file);
    await store.set("k", "v");
    await store.dispose();
    sqlite3(file, "PRAGMA user_version = 99");
    assert.equal(sqlite3(file, "PRAGMA user_version"), "99");
    for (const suffix of ["-shm"]) fs.rmSync(file + suffix, { force: true });
    await assertRefused(file, "INCOMPATIBLE_SCHEMA");
    assert.equal(sqlite3(file, "SELECT count(*) FROM entries"), "1");
  });

  test("a text file: CORRUPT", async (t) => {
    const file = path.join(tempDir(t, "schema"), "notes.txt");
    fs.writeFileSync(file, "These are my notes, not a database.\n".repeat(200));
    await assertRefused(file, "CORRUPT");
  });

  test("a file of random bytes: CORRUPT", async (t) => {
    const file = path.join(tempDir(t, "schema"), "random.bin");
    // Deterministic "random" bytes (no SQLite header by construction).
    let state = 0x12345678;
    const bytes = Buffer.alloc(16 * 1024, 0).map(() => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return state >>> 24;
    });
    assert.notEqual(bytes.subarray(0, 16).toString("latin1"), "SQLite format 3\0");
    fs.writeFileSync(file, bytes);
    await assertRefused(file, "CORRUPT");
  });

  test("an existing empty (0-byte) file is initialised as a new database", async (t) => {
    const file = path.join(tempDir(t, "schema"), "empty.sqlite");
    fs.writeFileSync(file, "");
    const store = await openFile(t, file);
    await store.set("k", { works: true });
    assert.deepEqual(await store.get("k"), { works: true });
    assert.deepEqual(await totals(store), { count: 1, size: jsonSize("k", { works: true }) });
    await store.dispose();
    assert.ok(fs.statSync(file).size > 0);
    assertIntegrity(file);
    assert.equal(rowCount(file), 1);
    const again = await openFile(t, file);
    assert.deepEqual(await again.get("k"), { works: true });
  });
});

describe("durability", () => {
  for (const durability of ["full", "normal"]) {
    test(`durability "${durability}": data persists across a clean dispose and reopen`, async (t) => {
      const file = path.join(tempDir(t, "durability"), `${durability}.sqlite`);
      const store = await openFile(t, file, { durability });
      for (let i = 0; i < 40; i += 1) await store.set(`k${i}`, { i });
      await store.mset(Array.from({ length: 40 }, (_, i) => [`m${i}`, "v".repeat(i)]));
      await store.delete("k0");
      const before = await totals(store);
      await store.dispose();

      assertIntegrity(file);
      assert.equal(rowCount(file), 79);
      const again = await openFile(t, file, { durability: durability === "full" ? "normal" : "full" });
      assert.deepEqual(await totals(again), before);
      assert.equal(await again.get("k0"), undefined);
      assert.deepEqual(await again.get("k39"), { i: 39 });
      assert.equal(await again.get("m39"), "v".repeat(39));
    });
  }

  test('durability "full": every write is fsynced before it is acknowledged', async (t) => {
    const file = path.join(tempDir(t, "durability"), "fsync.sqlite");
    const { fs: countingFs, control } = faultyFs();
    const store = await openFile(t, file, { durability: "full", fs: countingFs });
    await store.set("warm-up", 0);
    const writes = [
      () => store.set("a", 1),
      () => store.mset({ b: 2, c: "three" }),
      () => store.delete("a"),
      () => store.mdelete(["b"]),
      () => store.invalidate({ prefix: "c" }),
      () => store.set("big", new Uint8Array(100_000)),
      () => store.clear(),
    ];
    for (const [i, write] of writes.entries()) {
      control.arm();
      await write();
      control.disarm();
      assert.ok(control.log.some((call) => call.startsWith("write")), `write ${i} wrote`);
      assert.ok(control.log.includes("fsync"), `write ${i} was fsynced before it resolved (${control.log.join(", ")})`);
    }
  });
});
