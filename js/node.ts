/** The Node entry: compiles the wasm module from this package's files once,
 *  runs each store in its own instance of it, and gives the store file I/O
 *  through `node:fs` (or the `fs` option). */

import { channel } from "node:diagnostics_channel";
import * as nodeFs from "node:fs";
import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FS_FUNCTION_NAMES } from "./fs-functions.js";
import { OpenStores } from "./open-stores.js";
import { nodeFreeSpace } from "./node-free-space.js";
import { OwnershipLock } from "./ownership.js";
import { processStartTime, thisProcess } from "./process-facts.js";
import { describe, ownError } from "./errors.js";
import { loadUrls, urlOption, type LoadOption } from "./load-options.js";
import { loadFailed, runtimeStarter } from "./runtime.js";
import type { NativeOpener } from "./session.js";
import { storageOpener } from "./storage.js";
import type { StorageOptions } from "./types.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

// Compiled synchronously: V8's asynchronous compile of this module (lazy,
// function by function) later stalls the thread for 100–170 ms waiting on its
// background tasks, soon after the first store opens; the synchronous one
// takes about 10 ms and leaves nothing behind. Synchronous instantiation is
// fine in Node, and the async path would load Node's fetch machinery just to
// test for a Request.
const startRuntime = runtimeStarter(
  (url) =>
    readFile(url).catch((error: unknown) => {
      throw loadFailed(`larder's wasm module ${fileURLToPath(url)} could not be read (${describe(error)})`, error);
    }),
  (bytes) => new WebAssembly.Module(bytes),
  (runtime, module) => runtime.initSync({ module }),
);

/** Node's reading of the load options: `wasmUrl` a file: URL or a path
 *  (relative to the working directory); `workerUrl` is unused (Node runs
 *  every store on the calling thread), once its type is checked. */
function nodeLoadUrl(name: LoadOption, value: string | URL): URL | undefined {
  if (name === "workerUrl") return undefined;
  // A scheme of two letters or more makes a URL; anything else is a path (C:\ included).
  const url = typeof value === "string" && !/^[a-z][a-z\d+.-]+:/i.test(value) ? pathToFileURL(path.resolve(value)) : value;
  const resolved = urlOption(name, url, pathToFileURL(`${process.cwd()}/`).href);
  if (resolved.protocol !== "file:") {
    throw ownError("INVALID_ARGUMENT", `option ${name} must be a path or a file: URL in Node, got ${resolved}`);
  }
  return resolved;
}

/** What the wasm core needs from Node to keep a database in a file, and a
 *  way to release what it held if its instance traps. */
function fileHost(options: StorageOptions | undefined) {
  const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL } = nodeFs.constants;
  const held = heldFiles(fsOption(options));
  const host = {
    fs: held.fs,
    // The functions bound in `fs`, for the core to refuse an `fs` lacking one.
    fsFunctions: FS_FUNCTION_NAMES,
    atView,
    flags: { O_RDONLY, O_RDWR, O_CREAT, O_EXCL },
    resolvePath: (file: string) => path.resolve(file),
    dirname: (file: string) => path.dirname(file),
    tempPath: () => held.temporary(path.join(tmpdir(), `larder-${process.pid}-${randomUUID()}.sqlite`)),
    acquireLock: held.acquireLock,
  };
  return { host, release: held.release, owned: held.owned };
}

/** The `fs` option, or node:fs. Anything unreadable (a throwing getter, a
 *  revoked Proxy) or invalid stays for the core to refuse, naming the option. */
function fsOption(options: StorageOptions | undefined): unknown {
  try {
    return (options as { fs?: unknown } | undefined)?.fs ?? nodeFs;
  } catch {
    return nodeFs;
  }
}

type FsFunction = (...args: unknown[]) => unknown;

/**
 * How the core reads and writes: `fsFunction` (`readSync` or `writeSync`,
 * called on `this`, the host's `fs`) over a view of `len` bytes of the wasm
 * `memory` at `ptr`. The view is made here, inside the call and from the
 * memory's current buffer, because one made in Rust before the call would be
 * detached if anything in between grew the memory (see `at_view` in
 * src/vfs/node_host.rs). Returns the count the `fs` function reports, or 0
 * if that is not a number: the core takes a number back (`AtView`).
 */
function atView(
  this: unknown,
  fsFunction: FsFunction,
  fd: number,
  memory: WebAssembly.Memory,
  ptr: number,
  len: number,
  position: number,
): number {
  const count = fsFunction.call(this, fd, new Uint8Array(memory.buffer, ptr, len), 0, len, position);
  return typeof count === "number" ? count : 0;
}

/**
 * A plain object of `fs`'s functions, each bound to `fs`. Deriving from `fs`
 * instead (Object.create over the node:fs namespace, then assigning to it)
 * makes V8's optimiser abort the process once the opener is hot. A function
 * that cannot be read (a throwing getter) is left out, for the core to
 * refuse by name.
 */
function plainFs(fs: object): Record<string, FsFunction> {
  const plain: Record<string, FsFunction> = {};
  for (const name of FS_FUNCTION_NAMES) {
    try {
      const value = (fs as Record<string, unknown>)[name];
      if (typeof value === "function") plain[name] = value.bind(fs) as FsFunction;
    } catch {
      // a throwing getter: the core reports it
    }
  }
  return plain;
}

/**
 * `fs` with its `openSync` and `closeSync` watched, and the ownership locks
 * taken through it, so that what a trapped instance held can be released:
 * the files it left open are closed, its locks released, and ":temp:"
 * databases deleted. Functions `fs` lacks stay missing, for the core to
 * refuse.
 */
function heldFiles(fs: unknown) {
  if (typeof fs !== "object" || fs === null) {
    // Not an fs at all: the core refuses it before taking anything.
    return { fs, acquireLock: undefined, release: () => {}, owned: () => true, temporary: (file: string) => file };
  }
  const locks = new Set<OwnershipLock>();
  const open = new Map<number, string>();
  const temporary = new Set<string>();
  const real = plainFs(fs);
  const watched = { ...real };
  if (real.openSync) {
    watched.openSync = (file, ...rest) => {
      const fd = real.openSync(file, ...rest) as number;
      open.set(fd, file as string);
      return fd;
    };
  }
  if (real.closeSync) {
    watched.closeSync = (fd) => {
      open.delete(fd as number);
      return real.closeSync(fd);
    };
  }
  const attempt = (run: () => unknown) => {
    try {
      run();
    } catch {
      // Already gone, or not ours: nothing to release.
    }
  };
  const lockHost = { fs: real, flags: nodeFs.constants, self: thisProcess(), startTime: processStartTime };
  const acquireLock = async (dbPath: string) => {
    const lock = await OwnershipLock.acquire({ ...lockHost, token: randomUUID() }, dbPath);
    locks.add(lock);
    return {
      confirm: () => lock.confirm(),
      release: () => {
        locks.delete(lock);
        lock.release();
      },
    };
  };
  const release = () => {
    for (const fd of open.keys()) attempt(() => real.closeSync(fd));
    open.clear();
    for (const lock of locks) lock.release();
    locks.clear();
    for (const file of temporary) {
      for (const suffix of ["", "-wal", "-journal"]) attempt(() => real.unlinkSync(file + suffix));
    }
    temporary.clear();
  };
  // Confirming also beats the heartbeat: a caller answered from the read
  // cache alone never yields to its timer.
  const owned = () => {
    for (const lock of locks) if (lock.confirm() !== undefined) return false;
    return true;
  };
  return { fs: watched, acquireLock, release, owned, temporary: (file: string) => (temporary.add(file), file) };
}

/** A database file's key among the open stores: its absolute path with
 *  symlinks resolved, as far as it exists (a file not created yet, or in
 *  directories not created yet, keys by its nearest existing ancestor). */
function databaseKey(file: string): string {
  let existing = path.resolve(file);
  let rest = "";
  for (;;) {
    try {
      return path.join(nodeFs.realpathSync(existing), rest);
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return path.resolve(file);
      rest = path.join(path.basename(existing), rest);
      existing = parent;
    }
  }
}

const openNative: NativeOpener = async (options, trapped) => {
  const { wasmUrl } = loadUrls(options, nodeLoadUrl);
  const { host, release, owned } = fileHost(options);
  // A trap before the store is open (in the open itself or in a task it
  // scheduled) leaves nobody else to release what the instance held.
  let opened = false;
  const runtime = await startRuntime((error) => {
    if (!opened) release();
    trapped(error);
  }, wasmUrl);
  try {
    const native = await runtime.openStore(options, host);
    opened = true;
    return { native, releaseAfterTrap: release, owned };
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) release();
    throw error;
  }
};

/** Where every store of this process publishes its trace events. */
const operationChannel = channel("larder:operation");

export const openStorage = storageOpener(openNative, new OpenStores(databaseKey), operationChannel, nodeFreeSpace);
