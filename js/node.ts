/** The Node entry: compiles the wasm module from this package's files once,
 *  runs each store in its own instance of it, and gives the store file I/O
 *  through `node:fs` (or the `fs` option). */

import * as nodeFs from "node:fs";
import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createRuntime } from "./wasm/larder.js";
import { storageOpener } from "./storage.js";
import type { StorageOptions } from "./types.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

let compiling: Promise<WebAssembly.Module> | undefined;

/** What the wasm core needs from Node to keep a database in a file, and a
 *  way to release what it held if its instance traps. */
function fileHost(options: StorageOptions | undefined) {
  const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL } = nodeFs.constants;
  const held = heldFiles(fsOption(options));
  const host = {
    fs: held.fs,
    flags: { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL },
    pid: process.pid,
    resolvePath: (file: string) => path.resolve(file),
    dirname: (file: string) => path.dirname(file),
    tempPath: () => held.temporary(path.join(tmpdir(), `larder-${process.pid}-${randomUUID()}.sqlite`)),
    isProcessAlive: (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        // EPERM: it exists but belongs to someone else.
        return (error as NodeJS.ErrnoException).code === "EPERM";
      }
    },
  };
  return { host, release: held.release };
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
 * `fs` with its `openSync` and `closeSync` watched, so that what a trapped
 * instance held can be released: the files it left open are closed, each
 * database's lock file removed if it holds this pid, and ":temp:" databases
 * deleted. Functions `fs` lacks stay missing, for the core to refuse.
 */
function heldFiles(fs: unknown) {
  const open = new Map<number, string>();
  const temporary = new Set<string>();
  const real = fs as Record<string, FsFunction>;
  const has = (name: string) => {
    try {
      return typeof fs === "object" && fs !== null && typeof real[name] === "function";
    } catch {
      return false; // a throwing getter: the core reports it
    }
  };
  const watched: Record<string, unknown> =
    typeof fs === "object" && fs !== null ? Object.create(fs) : {};
  if (has("openSync")) {
    watched.openSync = (file: string, ...rest: unknown[]) => {
      const fd = real.openSync.call(fs, file, ...rest) as number;
      open.set(fd, file);
      return fd;
    };
  }
  if (has("closeSync")) {
    watched.closeSync = (fd: number) => {
      open.delete(fd);
      return real.closeSync.call(fs, fd);
    };
  }
  const attempt = (run: () => unknown) => {
    try {
      run();
    } catch {
      // Already gone, or not ours: nothing to release.
    }
  };
  const release = () => {
    const databases = [...open.values()].filter((file) => !/(-wal|-journal|\.lock)$/.test(file));
    for (const fd of open.keys()) attempt(() => real.closeSync.call(fs, fd));
    open.clear();
    for (const database of databases) {
      const lock = `${database}.lock`;
      attempt(() => {
        if (String(real.readFileSync.call(fs, lock, "utf8")).trim() === String(process.pid)) real.unlinkSync.call(fs, lock);
      });
    }
    for (const file of temporary) {
      for (const suffix of ["", "-wal", "-journal"]) attempt(() => real.unlinkSync.call(fs, file + suffix));
    }
    temporary.clear();
  };
  return {
    fs: typeof fs === "object" && fs !== null ? watched : fs,
    release,
    temporary: (file: string) => (temporary.add(file), file),
  };
}

export const openStorage = storageOpener(async (options, trapped) => {
  compiling ??= readFile(new URL("./wasm/larder_bg.wasm", import.meta.url)).then((bytes) => WebAssembly.compile(bytes));
  const runtime = createRuntime(trapped);
  // Synchronous instantiation is fine in Node, and the async path would
  // load Node's fetch machinery just to test for a Request.
  runtime.initSync({ module: await compiling });
  const { host, release } = fileHost(options);
  return { native: await runtime.openStore(options, host), releaseAfterTrap: release };
});
