// Power loss: a file store runs a mixed workload (set, mset, delete, mdelete,
// some with TTLs) over an `fs` option that keeps, per file, what has been
// written since its last fsync. At a seeded random call the power is "cut":
// from then on every call of that fs throws EIO, the store is disposed, and
// each file is put back on disk (with the real fs) as a disk could have left
// it: its last fsynced contents plus a random subset of the later writes and
// truncations, applied in order, some writes torn at a 512-byte sector
// boundary (only a prefix of the write lands). The store is then reopened with
// the real fs and checked against a model of the workload:
//   - durability "full": every acknowledged write is there with its exact
//     value, the store holds exactly the state after some prefix of the issued
//     operations (acknowledged ones, then maybe some that were in flight),
//     no mset or mdelete is there in part, count() and getCurrentCacheSize()
//     equal that state, and PRAGMA integrity_check is ok;
//   - "normal": the same except that the prefix may end before the last
//     acknowledged operation (commits not yet checkpointed may be lost);
//     never a later operation without an earlier one, never part of a batch.
// Every operation writes something the model can tell apart (a value holds
// the number of the operation that wrote it; a delete only targets a key that
// is live when it is issued), so "a prefix" is checkable.
//
// The model of the disk:
//   - File data: fsync(fd) makes everything written to that file durable;
//     unsynced writes and truncations may each land or not, in order, a write
//     possibly torn. Bytes outside a write are never damaged.
//   - Directory entries (a file created or unlinked) are durable only once
//     the directory itself is fsynced, as POSIX says (fsync of a file does not
//     promise its directory entry). Until then a random prefix of the entry
//     changes survives (journaling file systems keep metadata changes in
//     order). So a -wal file created and fsynced, but whose directory was
//     never synced, can vanish with every commit in it.
//   - The `<path>.lock` ownership file is deleted before reopening: after a
//     real power loss the machine reboots, the owner is dead, and its lock is
//     taken over by the next opener (the persistence tests cover that path).
//
// Rounds continue on the same database, sometimes checked in place (the
// check's clean close checkpoints it), sometimes on a copy so that the next
// round recovers the raw image itself, and sometimes from a fresh directory.
// LARDER_POWER_ROUNDS sets the rounds per durability level (default 100);
// LARDER_POWER_SEED replays a run.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as realFs from "node:fs";
import * as path from "node:path";
import { openStorage } from "larderdb";
import { jsonSize, manualClock, seededRandom, settleAll, within } from "./helpers.mjs";
import { assertIntegrity, fsError, tempDir } from "./file-helpers.mjs";

const ROUNDS = Number(process.env.LARDER_POWER_ROUNDS ?? 100);
const SEED = Number(process.env.LARDER_POWER_SEED ?? Date.now() % 2 ** 31);
const SECTOR = 512;
/** Live entries above which the workload mostly deletes (keeps rounds cheap). */
const MAX_LIVE = 250;
const NO_RETRY = { maxAttempts: 1 };

assert.ok(Number.isInteger(ROUNDS) && ROUNDS > 0, `LARDER_POWER_ROUNDS must be a positive integer, got ${ROUNDS}`);
assert.ok(Number.isInteger(SEED), `LARDER_POWER_SEED must be an integer, got ${SEED}`);

/** A file's bytes, growable in place; bytes past `length` are always zero. */
class Bytes {
  constructor(bytes = Buffer.alloc(0)) {
    this.buf = Buffer.from(bytes);
    this.length = bytes.length;
  }

  clone() {
    return new Bytes(this.view());
  }

  view() {
    return this.buf.subarray(0, this.length);
  }

  reserve(size) {
    if (size <= this.buf.length) return;
    const grown = Buffer.alloc(Math.max(size, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  write(position, data) {
    this.reserve(position + data.length);
    data.copy(this.buf, position);
    this.length = Math.max(this.length, position + data.length);
  }

  truncate(size) {
    if (size < this.length) this.buf.fill(0, size, this.length);
    else this.reserve(size);
    this.length = size;
  }

  apply(change) {
    if (change.truncate !== undefined) this.truncate(change.truncate);
    else this.write(change.position, change.data);
  }
}

/**
 * An `fs` option over node:fs for the files of `dir`, which records what a
 * power loss could undo (see the header). `cutAt`: the power goes at that
 * call of openSync (creating), writeSync, fsyncSync, ftruncateSync or
 * unlinkSync, before it happens (`control.cutAt` may move it later).
 * `lyingFsync`: fsync of a file makes nothing durable (a disk that ignores
 * flushes), to show the checks catch it.
 */
function powerCutFs(dir, { cutAt, lyingFsync = false }) {
  const { O_CREAT, O_TRUNC } = realFs.constants;
  let nextInode = 1;
  const inode = (name, bytes) => ({ id: nextInode++, name, durable: new Bytes(bytes), pending: [] });
  /** name -> inode: what the directory holds now, and what is durable of it. */
  const names = new Map();
  for (const name of realFs.readdirSync(dir)) names.set(name, inode(name, realFs.readFileSync(path.join(dir, name))));
  let durableNames = new Map(names);
  /** Entry changes since the directory's last fsync: { name, inode } (created) or { name } (unlinked). */
  let entryChanges = [];
  const fds = new Map(); // fd -> inode, or "dir"

  /** Disk-changing calls per file kind ("" the database, "-wal", "/" the directory …): for the statistics. */
  const counts = {};
  /** Calls the simulation does not expect: the host would turn a throw into an I/O error, so they are kept. */
  const violations = [];
  const control = { calls: 0, cut: false, cutAt, counts, violations };
  const must = (ok, what) => {
    if (ok) return;
    violations.push(what);
    throw fsError("EINVAL", what);
  };
  const tally = (node, what) => {
    const kind = node === "dir" ? "/" : node.name.replace(/^[^-.]*/, "") || "db";
    counts[kind] ??= {};
    counts[kind][what] = (counts[kind][what] ?? 0) + 1;
  };
  const check = (syscall) => {
    if (control.cut) throw fsError("EIO", syscall);
  };
  /** Counts a call that changes the disk; the power goes at call `cutAt`. */
  const step = (syscall) => {
    check(syscall);
    control.calls += 1;
    if (control.calls === control.cutAt) control.cut = true;
    check(syscall);
  };
  const nameIn = (file) => {
    const full = path.resolve(String(file));
    must(path.dirname(full) === dir, `a file outside the store's directory: ${full}`);
    return path.basename(full);
  };

  const fs = {
    ...realFs,
    openSync(file, flags = "r", mode) {
      if (path.resolve(String(file)) === dir) {
        check("openSync");
        const fd = realFs.openSync(file, flags, mode);
        fds.set(fd, "dir");
        return fd;
      }
      must(typeof flags === "number" && (flags & O_TRUNC) === 0, `open ${file} with flags ${flags}`);
      const name = nameIn(file);
      if (flags & O_CREAT) step("openSync");
      else check("openSync");
      const fd = realFs.openSync(file, flags, mode);
      let node = names.get(name);
      if (!node) {
        node = inode(name, Buffer.alloc(0));
        tally(node, "create");
        names.set(name, node);
        entryChanges.push({ name, inode: node });
      }
      fds.set(fd, node);
      return fd;
    },
    closeSync(fd) {
      check("closeSync");
      realFs.closeSync(fd);
      fds.delete(fd);
    },
    writeSync(fd, buffer, offset, length, position) {
      step("writeSync");
      const node = fds.get(fd);
      must(node && node !== "dir" && typeof position === "number", `write to fd ${fd} at ${position}`);
      const written = realFs.writeSync(fd, buffer, offset, length, position);
      const data = Buffer.from(buffer.buffer, buffer.byteOffset + offset, written);
      node.pending.push({ position, data: Buffer.from(data) });
      tally(node, "write");
      return written;
    },
    ftruncateSync(fd, size = 0) {
      step("ftruncateSync");
      const node = fds.get(fd);
      must(node && node !== "dir", `ftruncate of fd ${fd}`);
      realFs.ftruncateSync(fd, size);
      node.pending.push({ truncate: size });
      tally(node, "truncate");
    },
    fsyncSync(fd) {
      step("fsyncSync");
      // What is durable is decided here, and the files are rewritten after
      // the cut: a real fsync would only cost time.
      const node = fds.get(fd);
      must(node, `fsync of fd ${fd}`);
      tally(node, "fsync");
      if (node === "dir") {
        durableNames = new Map(names);
        entryChanges = [];
      } else if (!lyingFsync) {
        for (const change of node.pending) node.durable.apply(change);
        node.pending = [];
      }
    },
    unlinkSync(file) {
      const name = nameIn(file);
      step("unlinkSync");
      realFs.unlinkSync(file);
      tally(names.get(name), "unlink");
      names.delete(name);
      entryChanges.push({ name });
    },
  };
  for (const name of ["readSync", "fstatSync", "statSync", "readFileSync", "mkdirSync"]) {
    fs[name] = (...args) => {
      check(name);
      return realFs[name](...args);
    };
  }

  /** Cuts the power now, if it has not gone yet. */
  control.cutNow = () => {
    control.cut = true;
  };

  /**
   * After the cut and the store's dispose: closes what the store left open,
   * then writes to `dir` what the disk holds after the power loss. Returns a
   * short account of what was lost.
   */
  control.land = (random, stats) => {
    assert.ok(control.cut, "land only after the cut");
    for (const fd of fds.keys()) realFs.closeSync(fd);
    fds.clear();
    const keptChanges = random.int(0, entryChanges.length);
    const after = new Map(durableNames);
    for (const change of entryChanges.slice(0, keptChanges)) {
      if (change.inode) after.set(change.name, change.inode);
      else after.delete(change.name);
    }
    const account = { entries: `${keptChanges}/${entryChanges.length}`, files: {} };
    stats.entryChangesLost += entryChanges.length - keptChanges;
    for (const name of realFs.readdirSync(dir)) if (!after.has(name)) realFs.unlinkSync(path.join(dir, name));
    for (const [name, node] of after) {
      const { bytes, note } = afterPowerLoss(node, random, stats);
      realFs.writeFileSync(path.join(dir, name), bytes);
      account.files[name] = note;
    }
    return account;
  };

  return { fs, control };
}

/** What a disk may hold of one file after the cut: its durable bytes, then unsynced changes. */
function afterPowerLoss(node, random, stats) {
  const image = node.durable.clone();
  const pending = node.pending;
  if (pending.length === 0) return { bytes: image.view(), note: `${image.length} B synced` };
  // Whole orders of landing (none, all, the first n) as well as any subset.
  const how = random.pick(["none", "all", "prefix", "subset", "subset"]);
  const prefix = random.int(0, pending.length);
  const keep = random.next();
  let landed = 0;
  let torn = 0;
  pending.forEach((change, i) => {
    const lands =
      how === "all" || (how === "prefix" && i <= prefix) || (how === "subset" && random.chance(keep));
    if (!lands) return;
    // A write may be torn: it lands up to a sector boundary inside it; the
    // last write of a landed prefix is the likeliest to be.
    const tearable = how === "subset" || (how === "prefix" && i === prefix);
    if (change.data && tearable && random.chance(0.35)) {
      const end = change.position + change.data.length;
      const first = (Math.floor(change.position / SECTOR) + 1) * SECTOR;
      if (first < end) {
        const boundary = first + SECTOR * random.int(0, Math.floor((end - 1 - first) / SECTOR));
        image.write(change.position, change.data.subarray(0, boundary - change.position));
        torn += 1;
        return;
      }
    }
    image.apply(change);
    landed += 1;
  });
  stats.changesLanded += landed;
  stats.changesTorn += torn;
  stats.changesDropped += pending.length - landed - torn;
  return {
    bytes: image.view(),
    note: `${node.durable.length} B synced, ${how}: ${landed} of ${pending.length} changes landed, ${torn} torn`,
  };
}

/** Values name the operation that wrote them, so any two states differ. */
function valueFor(random, seq, i = 0) {
  const length = random.chance(0.1) ? random.int(2_000, 9_000) : random.int(0, 600);
  return { seq, i, pad: "p".repeat(length) };
}

/** The entries visible at `now`: key -> JSON text of the value. */
function visible(state, now) {
  const out = new Map();
  for (const [key, entry] of state) {
    if (entry.expiresAt === null || entry.expiresAt > now) out.set(key, entry.json);
  }
  return out;
}

function applyOp(state, op) {
  const next = new Map(state);
  for (const [key, value] of op.writes ?? []) {
    next.set(key, { value, json: JSON.stringify(value), expiresAt: op.expiresAt });
  }
  for (const key of op.deletes ?? []) next.delete(key);
  return next;
}

/** What differs between two visible states, briefly. */
function difference(found, expected) {
  const missing = [...expected.keys()].filter((key) => !found.has(key));
  const extra = [...found.keys()].filter((key) => !expected.has(key));
  const changed = [...expected.keys()].filter((key) => found.has(key) && found.get(key) !== expected.get(key));
  const some = (keys) => `${keys.length}${keys.length ? ` (${keys.slice(0, 5).join(", ")})` : ""}`;
  return `missing ${some(missing)}, extra ${some(extra)}, other value ${some(changed)}`;
}

/**
 * One run: rounds of workload, power cut, reopen and check, on one database
 * (restarted from a fresh directory now and then). Returns per-round problems
 * instead of throwing, so that a run can also show the checks catch a lying
 * disk.
 */
function powerLossRun(t, { durability, seed, lyingFsync = false }) {
  const random = seededRandom(seed);
  const base = tempDir(t, "power");
  const clock = manualClock(1_000_000);
  let generation = 0;
  let dir;
  let file;
  /** key -> { value, json, expiresAt }: what the store holds (expired rows included). */
  let model = new Map();
  let seq = 0;
  /** Running estimate of the disk-changing calls of opening and of one operation. */
  const cost = { open: 12, perOp: 6, close: 8 };
  const stats = {
    rounds: 0,
    fresh: 0,
    checkedInPlace: 0,
    cutDuringOpen: 0,
    closedFirst: 0,
    cutDuringClose: 0,
    cutWhileIdle: 0,
    ops: 0,
    acked: 0,
    survivedUnacked: 0,
    lostAcked: 0,
    changesLanded: 0,
    changesDropped: 0,
    changesTorn: 0,
    entryChangesLost: 0,
    calls: {},
  };

  const freshDirectory = () => {
    if (dir) realFs.rmSync(dir, { recursive: true, force: true });
    generation += 1;
    dir = path.join(base, `g${generation}`);
    realFs.mkdirSync(dir);
    file = path.join(dir, "power.sqlite");
    model = new Map();
    stats.fresh += 1;
  };

  /** The next operation, given the state all issued operations lead to. */
  const nextOp = (state, touched) => {
    seq += 1;
    const now = clock.now;
    const live = [...state.keys()].filter((key) => {
      const entry = state.get(key);
      return (entry.expiresAt === null || entry.expiresAt > now) && !touched.has(key);
    });
    const ttl = () => (random.chance(0.2) ? random.int(50, 1_500) : undefined);
    const roll = random.next();
    const deleting = live.length > 0 && (live.length > MAX_LIVE ? roll < 0.7 : roll < 0.2);
    if (deleting && random.chance(0.75)) {
      const key = random.pick(live);
      return { kind: "delete", seq, deletes: [key], run: (store) => store.delete(key) };
    }
    if (deleting) {
      const keys = [...new Set(Array.from({ length: random.int(2, 5) }, () => random.pick(live)))];
      return { kind: "mdelete", seq, deletes: keys, run: (store) => store.mdelete(keys) };
    }
    if (random.chance(0.35)) {
      const ttlMs = ttl();
      const writes = Array.from({ length: random.int(2, 12) }, (_, i) => [`m${seq}.${i}`, valueFor(random, seq, i)]);
      return {
        kind: "mset",
        seq,
        writes,
        expiresAt: ttlMs === undefined ? null : now + ttlMs,
        run: (store) => store.mset(writes, ttlMs === undefined ? undefined : { ttlMs }),
      };
    }
    // A set: of a new key, or over a live one (never one of this round's batches).
    const key = live.length > 0 && random.chance(0.4) ? random.pick(live) : `s${seq}`;
    const ttlMs = ttl();
    const value = valueFor(random, seq);
    return {
      kind: "set",
      seq,
      writes: [[key, value]],
      expiresAt: ttlMs === undefined ? null : now + ttlMs,
      run: (store) => store.set(key, value, ttlMs === undefined ? undefined : { ttlMs }),
    };
  };

  /** The workload until the cut: returns the issued operations with their outcomes. */
  const workload = async (fs, control, opCount, closeFirst) => {
    const ops = [];
    let store;
    try {
      store = await within(openStorage({ path: file, fs, durability, clock, retry: NO_RETRY }), "openStorage", 15_000);
    } catch (error) {
      if (!control.cut) throw error;
      stats.cutDuringOpen += 1;
      return { ops };
    }
    const openCalls = control.calls;
    let issuedState = model;
    // Keys of this round's batches are never touched again in the round, so
    // that each batch can be checked as all or nothing.
    const batchKeys = new Set();
    while (ops.length < opCount && !control.cut) {
      const burst = [];
      const touched = new Set(batchKeys);
      for (let n = random.int(1, 4); n > 0 && ops.length < opCount; n -= 1) {
        const op = nextOp(issuedState, touched);
        for (const [key] of op.writes ?? []) touched.add(key);
        for (const key of op.deletes ?? []) touched.add(key);
        if (op.kind === "mset") for (const [key] of op.writes) batchKeys.add(key);
        issuedState = applyOp(issuedState, op);
        // Issued together: sets waiting together commit as one group.
        op.promise = op.run(store).then(
          () => {
            op.acked = true;
          },
          (error) => {
            op.error = error;
            op.failedBeforeCut = !control.cut;
          },
        );
        ops.push(op);
        burst.push(op.promise);
      }
      await settleAll(burst, 15_000);
      clock.advance(random.int(0, 300));
    }
    const opsCut = control.cut;
    const workCalls = control.calls;
    if (!opsCut) {
      // Every operation done: learn what a round costs.
      cost.open = Math.max(cost.open, openCalls);
      cost.perOp = (cost.perOp * 3 + (workCalls - openCalls) / Math.max(1, ops.length)) / 4;
    }
    if (closeFirst && !opsCut) {
      // A clean close (checkpoint, WAL deleted without a directory sync)
      // that the power interrupts, or follows (which teaches what a close costs).
      stats.closedFirst += 1;
      control.cutAt = random.chance(0.5) ? workCalls + random.int(1, Math.ceil(cost.close * 1.15)) : Infinity;
      await within(store.dispose().catch(() => {}), "dispose before the power cut", 15_000);
      if (control.cut) stats.cutDuringClose += 1;
      else cost.close = Math.max(cost.close, control.calls - workCalls);
    }
    if (!control.cut) {
      stats.cutWhileIdle += 1;
      control.cutNow();
    }
    // The old store can do nothing more; its dispose must still settle.
    await within(store.dispose().catch(() => {}), "dispose after the power cut", 15_000);
    return { ops };
  };

  /** Reopens with the real fs and checks what survived. Returns problems. */
  const check = async (label, ops, where) => {
    const problems = [];
    const now = clock.now;
    const firstFailed = ops.findIndex((op) => !op.acked);
    const acked = firstFailed < 0 ? ops.length : firstFailed;
    for (const [i, op] of ops.entries()) {
      if (i >= acked && op.acked) problems.push(`${op.kind} #${op.seq} was acknowledged after an earlier one failed`);
      if (op.failedBeforeCut) problems.push(`${op.kind} #${op.seq} failed before the power cut: ${op.error}`);
    }
    // Candidate states: after each prefix of the issued operations.
    const states = [model];
    for (const op of ops) states.push(applyOp(states.at(-1), op));

    let store;
    try {
      store = await within(openStorage({ path: where, durability, clock, retry: NO_RETRY }), `${label}: reopen`, 15_000);
    } catch (error) {
      problems.push(`reopening failed: ${error.code ?? ""} ${error.message}`);
      return { problems };
    }
    let survivedState;
    let survived = -1;
    try {
      const keys = await store.keys();
      const found = new Map();
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        const values = await store.mget(chunk);
        chunk.forEach((key, j) => found.set(key, JSON.stringify(values[j])));
      }
      // Batches: all or nothing.
      for (const op of ops) {
        if (op.kind === "mset") {
          const present = op.writes.filter(([key]) => found.get(key) === JSON.stringify(op.writes.find(([k]) => k === key)[1]));
          const live = op.expiresAt === null || op.expiresAt > now;
          if (live && present.length !== 0 && present.length !== op.writes.length) {
            problems.push(`mset #${op.seq} is there in part: ${present.length} of ${op.writes.length} entries`);
          }
        }
      }
      // The longest prefix whose state is what the store holds.
      for (let k = states.length - 1; k >= 0 && survived < 0; k -= 1) {
        const expected = visible(states[k], now);
        if (expected.size === found.size && [...expected].every(([key, json]) => found.get(key) === json)) survived = k;
      }
      if (survived < 0) {
        problems.push(
          `the store holds no prefix of the ${ops.length} operations (${acked} acknowledged); ` +
            `against the acknowledged state: ${difference(found, visible(states[acked], now))}`,
        );
      } else {
        survivedState = states[survived];
        if (survived < acked) {
          const lost = ops.slice(survived, acked).map((op) => `${op.kind} #${op.seq}`);
          if (durability === "full") problems.push(`acknowledged operations lost: ${lost.join(", ")}`);
          stats.lostAcked += lost.length;
        }
        stats.survivedUnacked += Math.max(0, survived - acked);
        let size = 0;
        for (const [key, json] of found) size += jsonSize(key, JSON.parse(json));
        const count = await store.count();
        const bytes = await store.getCurrentCacheSize();
        if (count !== found.size) problems.push(`count() ${count}, but ${found.size} entries`);
        if (bytes !== size) problems.push(`getCurrentCacheSize() ${bytes}, but the entries add up to ${size}`);
      }
    } catch (error) {
      problems.push(`reading the reopened store failed: ${error.code ?? ""} ${error.message}`);
    } finally {
      await within(store.dispose(), `${label}: dispose after the check`, 15_000);
    }
    try {
      assertIntegrity(where, label);
    } catch (error) {
      problems.push(error.message);
    }
    return { problems, survived, acked, survivedState };
  };

  /** One round: workload, cut, land the disk image, reopen and check. */
  const round = async (n) => {
    if (n === 1 || random.chance(0.08)) freshDirectory();
    const label = `${durability} round ${n}`;
    const opCount = random.int(1, 30);
    // A quarter of the rounds run every operation, then cut during or after
    // a clean close (see workload); the others cut anywhere from the open on.
    const closeFirst = random.chance(0.25);
    const cutAt = closeFirst ? Infinity : random.int(1, Math.ceil((cost.open + opCount * cost.perOp) * 1.15));
    const { fs, control } = powerCutFs(dir, { cutAt, lyingFsync });
    const { ops } = await workload(fs, control, opCount, closeFirst);
    const account = control.land(random, stats);
    for (const [kind, counts] of Object.entries(control.counts)) {
      stats.calls[kind] ??= {};
      for (const [what, n] of Object.entries(counts)) stats.calls[kind][what] = (stats.calls[kind][what] ?? 0) + n;
    }
    realFs.rmSync(`${file}.lock`, { force: true });
    stats.rounds += 1;
    stats.ops += ops.length;
    stats.acked += ops.filter((op) => op.acked).length;

    // In place (the check's clean close checkpoints), or on a copy so that
    // the next round recovers the raw image under the power-cut fs.
    let where = file;
    if (random.chance(0.3)) {
      stats.checkedInPlace += 1;
    } else {
      const copyDir = path.join(base, "check");
      realFs.rmSync(copyDir, { recursive: true, force: true });
      realFs.mkdirSync(copyDir);
      for (const name of realFs.readdirSync(dir)) realFs.copyFileSync(path.join(dir, name), path.join(copyDir, name));
      where = path.join(copyDir, path.basename(file));
    }
    const result = await check(label, ops, where);
    result.problems.unshift(...control.violations.map((what) => `unexpected fs call: ${what}`));
    const describe = () =>
      `${label} (cut at call ${cutAt}, ${ops.length} ops issued, ${result.acked ?? "?"} acknowledged, ` +
      `prefix ${result.survived >= 0 ? result.survived : "none"} survived; directory entries kept ${account.entries}; ` +
      `${Object.entries(account.files).map(([name, note]) => `${name}: ${note}`).join("; ")})`;
    if (result.survivedState) model = result.survivedState;
    return { problems: result.problems, describe };
  };

  return { round, stats };
}

for (const durability of ["full", "normal"]) {
  const seed = durability === "full" ? SEED : SEED + 1;
  test(
    `power loss, durability "${durability}": ${ROUNDS} rounds of a cut at a random fs call, then the disk as it may be`,
    { timeout: ROUNDS * 10_000 + 60_000 },
    async (t) => {
      t.diagnostic(`seed ${SEED} (LARDER_POWER_SEED=${SEED} replays the choices of this run)`);
      const startedAt = Date.now();
      const { round, stats } = powerLossRun(t, { durability, seed });
      for (let n = 1; n <= ROUNDS; n += 1) {
        const { problems, describe } = await round(n);
        assert.deepEqual(problems, [], `${describe()}\nLARDER_POWER_SEED=${SEED} replays it`);
      }
      // The rounds reached both sides of the line: the cut struck with
      // acknowledged and with unacknowledged operations around.
      assert.ok(stats.acked > 0 && stats.ops > stats.acked, `operations acknowledged and not: ${JSON.stringify(stats)}`);
      const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
      t.diagnostic(`${ROUNDS} rounds in ${seconds} s: ${JSON.stringify(stats)}`);
    },
  );
}

test("the checks catch a disk whose fsync does not make data durable", async (t) => {
  const { round, stats } = powerLossRun(t, { durability: "full", seed: SEED + 2, lyingFsync: true });
  let caught;
  for (let n = 1; n <= 40 && !caught; n += 1) {
    const { problems } = await round(n);
    if (problems.length > 0) caught = problems;
  }
  assert.ok(caught, `40 rounds over a lying fsync went unnoticed: ${JSON.stringify(stats)}`);
  t.diagnostic(`caught after ${stats.rounds} rounds: ${caught[0]}`);
});
