/**
 * Exclusive ownership of a database file across processes (Node): a lock
 * file beside it, `<path>.lock`, holding its owner's record.
 *
 * - Taking a free lock is one exclusive create (`O_EXCL`): one opener wins.
 * - The owner rewrites its record every `HEARTBEAT_MS`, so the file's mtime
 *   shows it lives even to a process that cannot see it (another pid
 *   namespace, another machine sharing the volume).
 * - A lock is taken over at once when its owner is provably dead (same boot
 *   and pid namespace, and no process with its pid and start time: a pid
 *   alone repeats, e.g. a container's app is pid 1 on every start), and
 *   otherwise when its record has not been rewritten for `LEASE_MS`. An
 *   owner that cannot be judged and has beaten recently is watched until it
 *   beats again (LOCKED) or its lease runs out (taken over).
 * - Takers of the same dead lock race through claim files, also created
 *   exclusively: only the claimant that still finds the dead record in place
 *   overwrites it, so two openers never both own the file.
 *
 * It uses only `fs` functions the store's VFS uses too (exclusive create,
 * positional writes, reads, stat, truncate, unlink), so a user's `fs` works.
 * Failures reject with an Error whose `code` is `LOCKED` or the errno code,
 * which the core turns into a StorageError.
 */

import type { ProcessIdentity } from "./process-facts.js";

/** How often an owner rewrites its record. */
export const HEARTBEAT_MS = 2_000;
/** A record not rewritten for this long is taken over, whoever it names: its
 *  owner is dead, or so frozen that it finds out at its next write
 *  (`confirm`). */
export const LEASE_MS = 10_000;
/** A record its creator has not finished writing (microseconds' work) this
 *  long after the file's last change never will be: the creator died. */
const UNREADABLE_MS = 2_000;
/** How often an opener looks again at a lock it cannot judge at once. */
const POLL_MS = 200;
/** Claimants of one takeover that may die before an opener gives up. */
const MAX_CLAIMS = 8;
/** Every record is padded to this size, so a takeover overwrites a dead
 *  owner's record whole with one positional write. */
const RECORD_BYTES = 256;
const MAGIC = "larder-lock 2";

type FsFunction = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface LockHost {
  /** The store's `fs` functions, bound. */
  fs: Record<string, FsFunction>;
  flags: { O_WRONLY: number; O_CREAT: number; O_EXCL: number };
  self: ProcessIdentity;
  /** Unique to this store: what tells its record from any other. */
  token: string;
  /** See `processStartTime` in process-facts.ts. */
  startTime(pid: number): string | null;
}

interface LockRecord {
  token: string;
  owner: ProcessIdentity;
}

/** A lock file as one read found it; `record` is absent while the file is
 *  empty or not (yet) a whole record. */
interface Observed {
  text: string;
  record: LockRecord | undefined;
  modifiedMs: number;
}

type Verdict = { alive: string } | "dead" | "unproven";

function encode({ token, owner }: LockRecord): Buffer {
  const text = `${MAGIC}\ntoken ${token}\npid ${owner.pid}\nstart ${owner.startTime}\nboot ${owner.bootId}\npidns ${owner.pidNamespace}\nend\n`;
  // An identity too long to fit is cut: the record then reads as unknown
  // and is judged by its heartbeat alone.
  const record = Buffer.alloc(RECORD_BYTES, " ");
  record.write(text.slice(0, RECORD_BYTES - 1));
  record[RECORD_BYTES - 1] = 0x0a;
  return record;
}

function parse(text: string): LockRecord | undefined {
  const lines = text.split("\n");
  const field = (index: number, name: string) => {
    const line = lines[index] ?? "";
    return line === name || line.startsWith(`${name} `) ? line.slice(name.length + 1) : undefined;
  };
  const [token, pid, startTime, bootId, pidNamespace] = ["token", "pid", "start", "boot", "pidns"].map((name, i) =>
    field(i + 1, name),
  );
  if (lines[0] !== MAGIC || lines[6] !== "end" || !token || pid === undefined || !/^\d+$/.test(pid)) return undefined;
  if (startTime === undefined || bootId === undefined || pidNamespace === undefined) return undefined;
  return { token, owner: { pid: Number(pid), startTime, bootId, pidNamespace } };
}

function failure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** An fs call's failure, with what larder was doing. */
function fsFailure(what: string, path: string, error: unknown): Error {
  const { code, message } = error as NodeJS.ErrnoException;
  return failure(code ?? "EIO", `${what} ${path}: ${message}`);
}

const isCode = (error: unknown, code: string) => (error as NodeJS.ErrnoException | null)?.code === code;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every lock this realm holds: a process that exits without disposing its
 *  stores still lets go of their files, so only a crash leaves a lock for
 *  the next opener to judge. */
const held = new Set<OwnershipLock>();
let releasesOnExit = false;

export class OwnershipLock {
  readonly #host: LockHost;
  readonly #dbPath: string;
  readonly #path: string;
  readonly #fd: number;
  readonly #record: Buffer;
  #lastBeat = Date.now();
  /** Another store took the lock over while this one was frozen. */
  #lost = false;
  readonly #timer: NodeJS.Timeout;

  private constructor(host: LockHost, dbPath: string, path: string, fd: number, record: Buffer) {
    this.#host = host;
    this.#dbPath = dbPath;
    this.#path = path;
    this.#fd = fd;
    this.#record = record;
    // Unref'd: a store left open must not keep the process alive.
    this.#timer = setInterval(() => this.#beat(), HEARTBEAT_MS).unref();
    held.add(this);
    if (!releasesOnExit) {
      releasesOnExit = true;
      process.on("exit", () => {
        for (const lock of held) lock.release();
      });
    }
  }

  /** Takes the lock of the database at `dbPath` (absolute), waiting at most
   *  about a lease for an owner that cannot be judged at once. */
  static async acquire(host: LockHost, dbPath: string): Promise<OwnershipLock> {
    const path = `${dbPath}.lock`;
    const record = encode({ token: host.token, owner: host.self });
    const giveUpAt = Date.now() + LEASE_MS + 2 * HEARTBEAT_MS;
    let watched: Observed | undefined; // the first sight of a record watched for a heartbeat
    for (;;) {
      if (Date.now() > giveUpAt) throw locked(dbPath, `its lock file ${path} kept changing while this store waited`);
      const fd = createExclusive(host, path, record);
      if (fd !== undefined) return new OwnershipLock(host, dbPath, path, fd, record);
      const observed = observe(host, path);
      if (!observed) continue; // released meanwhile: create it
      const verdict = judge(host, observed);
      if (verdict === "dead") {
        const taken = takeOver(host, dbPath, path, observed, record);
        if (taken !== undefined) return new OwnershipLock(host, dbPath, path, taken, record);
        watched = undefined;
      } else if (verdict === "unproven") {
        if (watched?.text !== observed.text) watched = observed;
        else if (watched.modifiedMs !== observed.modifiedMs) throw locked(dbPath, beatingOwner(observed, path));
        await sleep(POLL_MS);
      } else {
        throw locked(dbPath, `${verdict.alive}; lock file ${path}`);
      }
    }
  }

  /**
   * Before every operation: beats if a beat is due (a caller awaiting one
   * operation after another in microtasks starves the timer), checking first,
   * if it was held up long enough for a takeover, that the lock is still this
   * store's. Returns why not, if it is not: the store must neither write to
   * a file it no longer owns nor read it while another store writes it.
   */
  confirm(): string | undefined {
    if (!this.#lost && Date.now() - this.#lastBeat >= HEARTBEAT_MS) this.#beat();
    if (!this.#lost) return undefined;
    return `${this.#dbPath} is no longer this store's: its heartbeat was held up past the lease and another store took the lock ${this.#path} over; dispose this store and open it again`;
  }

  /** Stops the heartbeat, closes the lock file and removes it if it is
   *  still this store's. */
  release(): void {
    if (!held.delete(this)) return;
    clearInterval(this.#timer);
    attempt(() => this.#host.fs.closeSync(this.#fd));
    if (this.#isOurs()) attempt(() => this.#host.fs.unlinkSync(this.#path));
  }

  /** Rewrites the record in place: the write itself is the heartbeat (mtime).
   *  After a pause long enough for a takeover, it first checks the record is
   *  still its own, and never writes over another owner's. */
  #beat(): void {
    if (Date.now() - this.#lastBeat >= LEASE_MS / 2 && !this.#isOurs()) {
      this.#lost = true;
      clearInterval(this.#timer);
      return;
    }
    attempt(() => {
      this.#host.fs.writeSync(this.#fd, this.#record, 0, RECORD_BYTES, 0);
      this.#lastBeat = Date.now();
    });
  }

  #isOurs(): boolean {
    try {
      return String(this.#host.fs.readFileSync(this.#path, "latin1")) === this.#record.toString("latin1");
    } catch {
      return false;
    }
  }
}

function attempt(run: () => void): void {
  try {
    run();
  } catch {
    // A heartbeat or a clean-up that fails changes nothing the next one needs.
  }
}

function locked(dbPath: string, why: string): Error {
  return failure("LOCKED", `${dbPath} is held by another store (${why})`);
}

function beatingOwner(observed: Observed, path: string): string {
  const owner = observed.record ? `pid ${observed.record.owner.pid}` : "an owner";
  return `${owner} in another pid namespace or on another machine, whose heartbeat is live; lock file ${path}`;
}

/** Creates `path` exclusively with `record` in it; undefined if it exists. */
function createExclusive(host: LockHost, path: string, record: Buffer): number | undefined {
  const { O_WRONLY, O_CREAT, O_EXCL } = host.flags;
  let fd: number;
  try {
    fd = host.fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL, 0o644);
  } catch (error) {
    if (isCode(error, "EEXIST")) return undefined;
    throw fsFailure("cannot create the lock file", path, error);
  }
  try {
    host.fs.writeSync(fd, record, 0, record.length, 0);
  } catch (error) {
    attempt(() => host.fs.closeSync(fd));
    attempt(() => host.fs.unlinkSync(path));
    throw fsFailure("cannot write the lock file", path, error);
  }
  return fd;
}

/** Reads a lock file and its mtime; undefined if it does not exist. */
function observe(host: LockHost, path: string): Observed | undefined {
  try {
    const text = String(host.fs.readFileSync(path, "latin1"));
    const modifiedMs = Number(host.fs.statSync(path).mtimeMs);
    return { text, record: parse(text), modifiedMs };
  } catch (error) {
    if (isCode(error, "ENOENT")) return undefined;
    throw fsFailure("cannot read the lock file", path, error);
  }
}

function judge(host: LockHost, observed: Observed): Verdict {
  const age = Date.now() - observed.modifiedMs;
  if (!observed.record) return age > UNREADABLE_MS ? "dead" : "unproven";
  return age > LEASE_MS ? "dead" : judgeOwner(host, observed.record.owner);
}

/** Judges an owner by its process, where this process can see it: same boot
 *  and pid namespace, both known. */
function judgeOwner(host: LockHost, owner: ProcessIdentity): Verdict {
  const me = host.self;
  const visible = me.bootId !== "" && owner.bootId === me.bootId && me.pidNamespace !== "" && owner.pidNamespace === me.pidNamespace;
  if (!visible) return "unproven";
  const start = host.startTime(owner.pid);
  if (start === null) return "dead";
  if (start === "" || owner.startTime === "") return "unproven";
  if (start !== owner.startTime) return "dead"; // the pid now belongs to a later process
  return { alive: owner.pid === me.pid ? "in this process" : `process ${owner.pid}` };
}

/**
 * Replaces a dead owner's record with this store's. Every taker of the same
 * dead record first creates a claim file exclusively; a claimant that died
 * is passed over by claiming the next number. Returns undefined if the
 * record changed meanwhile (another taker won, or the lock was released):
 * the caller looks again.
 */
function takeOver(host: LockHost, dbPath: string, path: string, dead: Observed, record: Buffer): number | undefined {
  const claims = `${path}.takeover-${fingerprint(dead.text)}`;
  for (let claimNumber = 0; claimNumber < MAX_CLAIMS; claimNumber++) {
    const claimFd = createExclusive(host, `${claims}.${claimNumber}`, record);
    if (claimFd === undefined) {
      const other = observe(host, `${claims}.${claimNumber}`);
      if (!other) return undefined;
      if (judge(host, other) === "dead") continue;
      throw locked(dbPath, `another store is taking over the lock ${path}`);
    }
    host.fs.closeSync(claimFd);
    let taken: number | undefined;
    try {
      taken = replaceIfUnchanged(host, path, dead, record);
    } finally {
      // The winner clears the dead claimants' files too; a loser only its own.
      for (let number = taken === undefined ? claimNumber : 0; number <= claimNumber; number++) {
        const claim = `${claims}.${number}`;
        try {
          host.fs.unlinkSync(claim);
        } catch {
          // Another taker cleared it.
        }
      }
    }
    return taken;
  }
  throw locked(dbPath, `${MAX_CLAIMS} openers died while taking over the lock ${path}`);
}

/** Overwrites the lock file with `record` if it is still as `dead` was: the
 *  same text, and no heartbeat since (a frozen owner that woke up). */
function replaceIfUnchanged(host: LockHost, path: string, dead: Observed, record: Buffer): number | undefined {
  const now = observe(host, path);
  if (now?.text !== dead.text || now.modifiedMs !== dead.modifiedMs) return undefined;
  let fd: number;
  try {
    fd = host.fs.openSync(path, host.flags.O_WRONLY);
  } catch (error) {
    if (isCode(error, "ENOENT")) return undefined;
    throw fsFailure("cannot open the lock file", path, error);
  }
  try {
    host.fs.writeSync(fd, record, 0, record.length, 0);
    host.fs.ftruncateSync(fd, record.length);
  } catch (error) {
    attempt(() => host.fs.closeSync(fd));
    throw fsFailure("cannot write the lock file", path, error);
  }
  return fd;
}

/** FNV-1a of a dead record: names the claim files of its takeover. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}
