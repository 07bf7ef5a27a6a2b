// The Node file VFS's write path (src/vfs/disk_file.rs): a commit's WAL
// frames reach the file in one writeSync, reads after buffered writes see
// them, every committed entry is there after reopening and after a SIGKILL,
// and a failing write of a commit fails that commit with the documented
// error. Counted through the `fs` option.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { assertStorageError, within } from "./helpers.mjs";
import { FIXTURES, assertIntegrity, faultyFs, spawnNode, tempDir } from "./file-helpers.mjs";

const SET_WRITER = path.join(FIXTURES, "set-writer.mjs");
/** SQLite's page size in larder's files, and a WAL frame (header and page). */
const PAGE = 4096;
const FRAME = 24 + PAGE;
/** The VFS's write buffer bound (BUFFER_LIMIT in src/vfs/wal_buffer.rs). */
const BUFFER_LIMIT = 1 << 20;

const value = (i) => ({ i, text: `${i}:`.padEnd(1000, "v") });

/**
 * An `fs` option over node:fs that records, while `on`, every writeSync
 * (the file's name, its length) and every fsyncSync, by file.
 */
function recordingFs() {
  const names = new Map();
  const record = { on: false, writes: [], fsyncs: [] };
  const fs = {
    ...realFs,
    openSync(...args) {
      const fd = realFs.openSync(...args);
      names.set(fd, String(args[0]));
      return fd;
    },
    writeSync(fd, buffer, offset, length, position) {
      if (record.on) record.writes.push({ file: names.get(fd), length, position });
      return realFs.writeSync(fd, buffer, offset, length, position);
    },
    fsyncSync(fd) {
      if (record.on) record.fsyncs.push(names.get(fd));
      return realFs.fsyncSync(fd);
    },
  };
  return { fs, record };
}

async function openRecorded(t, options = {}) {
  const { fs, record } = recordingFs();
  const file = path.join(tempDir(t, "walw"), "w.sqlite");
  const store = await within(openStorage({ path: file, fs, ...options }), "openStorage");
  t.after(() => store.dispose());
  return { file, store, record };
}

describe("one writeSync per commit", () => {
  for (const durability of ["normal", "full"]) {
    test(`durability ${durability}: each 1 KB set writes the WAL once, whole frames in one call`, async (t) => {
      const { file, store, record } = await openRecorded(t, { durability });
      for (let i = 0; i < 20; i += 1) await store.set(`warm${i}`, value(i));
      const sets = 200;
      record.on = true;
      for (let i = 0; i < sets; i += 1) await store.set(`k${i % 50}`, value(i));
      record.on = false;
      const walWrites = record.writes.filter((write) => write.file === `${file}-wal`);
      assert.equal(walWrites.length, sets, "one WAL write per set");
      for (const write of walWrites) {
        // Frames, after the WAL's 32-byte header when the WAL starts over.
        const frames = write.length % FRAME === 0 ? write.length : write.length - 32;
        assert.ok(frames >= FRAME && frames % FRAME === 0, `whole frames (${write.length} bytes)`);
      }
      const walSyncs = record.fsyncs.filter((name) => name === `${file}-wal`).length;
      if (durability === "full") assert.equal(walSyncs, sets, "one fsync of the WAL per set");
      else assert.equal(walSyncs, 0, "no fsync of the WAL without a checkpoint");
    });
  }

  test("an mset bigger than the write buffer is written in bounded runs; every entry reads back, and after reopening", async (t) => {
    const { file, store, record } = await openRecorded(t, { durability: "normal" });
    const entries = Array.from({ length: 3000 }, (_, i) => [`m${i}`, value(i)]);
    record.on = true;
    await store.mset(entries);
    record.on = false;
    const walWrites = record.writes.filter((write) => write.file === `${file}-wal`);
    const walBytes = walWrites.reduce((sum, write) => sum + write.length, 0);
    assert.ok(walBytes > 2 * BUFFER_LIMIT, `the mset wrote ${walBytes} bytes of WAL`);
    assert.ok(walWrites.every((write) => write.length <= BUFFER_LIMIT + FRAME), "no write past the bound");
    assert.ok(walWrites.length <= Math.ceil(walBytes / (BUFFER_LIMIT - FRAME)) + 1, `${walWrites.length} writes`);
    const keys = entries.map(([key]) => key);
    assert.deepEqual(await store.mget(keys), entries.map(([, v]) => v), "read back in the same store");
    await store.set("after", 1);
    await store.dispose();
    assertIntegrity(file);
    const again = await within(openStorage({ path: file }), "reopen");
    try {
      assert.equal(await again.count(), entries.length + 1);
      assert.deepEqual(await again.mget(keys), entries.map(([, v]) => v), "read back after reopening");
    } finally {
      await again.dispose();
    }
  });
});

describe("a commit whose write fails", () => {
  for (const [errno, code] of [["ENOSPC", "QUOTA_EXCEEDED"], ["EIO", "IO"]]) {
    test(`${errno} at a set's one WAL write (durability normal): ${code}, nothing committed, the store recovers`, async (t) => {
      const { fs, control } = faultyFs();
      const file = path.join(tempDir(t, "walw"), "f.sqlite");
      const store = await openStorage({ path: file, fs, durability: "normal", retry: { maxAttempts: 1 } });
      t.after(() => store.dispose());
      await store.set("before", value(0));
      control.arm(1, errno);
      await assert.rejects(store.set("failed", value(1)), (error) => (assertStorageError(error, code), true));
      assert.equal(control.fired, 1);
      assert.match(control.log[0], /^write \d+@\d+$/, "the fault hit the WAL write");
      assert.ok(Number(control.log[0].split(" ")[1].split("@")[0]) >= FRAME, `the commit's frames in one write (${control.log[0]})`);
      control.disarm();
      assert.equal(await store.get("failed"), undefined);
      await store.set("after", value(2));
      assert.deepEqual([await store.get("before"), await store.get("after")], [value(0), value(2)]);
      await store.dispose();
      assertIntegrity(file);
      const again = await openStorage({ path: file });
      try {
        assert.deepEqual((await again.keys()).sort(), ["after", "before"]);
      } finally {
        await again.dispose();
      }
    });
  }
});

test("a writer SIGKILLed during sets with durability normal loses no set that resolved", { timeout: 180_000 }, async (t) => {
  const file = path.join(tempDir(t, "walw"), "kill.sqlite");
  let next = 0;
  for (let round = 1; round <= 8; round += 1) {
    const child = spawnNode(t, SET_WRITER, [file, "normal", String(next)]);
    await child.waitForLine(/^ready$/, 15_000);
    const acks = 5 + ((round * 37) % 60);
    await child.waitForLine(new RegExp(`^ack ${next + acks - 1}$`), 15_000);
    child.kill();
    const exit = await child.waitForExit(10_000);
    assert.equal(exit.signal, "SIGKILL", `round ${round}: killed (stderr: ${child.stderr})`);
    const acked = child.lines.filter((line) => line.startsWith("ack ")).map((line) => Number(line.slice(4)));
    const lastAcked = Math.max(...acked);

    const store = await within(openStorage({ path: file }), `round ${round}: reopen`, 15_000);
    try {
      const present = (await store.keys()).map((key) => Number(key.slice(1))).sort((a, b) => a - b);
      // Every acknowledged set, at most the one in flight after it, nothing else.
      const expected = Array.from({ length: lastAcked + 1 }, (_, i) => i);
      const extra = present.length === lastAcked + 2 ? [lastAcked + 1] : [];
      assert.deepEqual(present, [...expected, ...extra], `round ${round}: entries after the kill`);
      const values = await store.mget(present.map((i) => `k${i}`));
      assert.deepEqual(values, present.map(value), `round ${round}: their values`);
      next = present.length;
    } finally {
      await store.dispose();
    }
    assertIntegrity(file, `round ${round}`);
  }
});
