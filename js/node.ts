/** The Node entry: loads the wasm module from this package's files and gives
 *  the store file I/O through `node:fs` (or the `fs` option). */

import * as nodeFs from "node:fs";
import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import * as path from "node:path";
import init, { openStore } from "./wasm/larder.js";
import { storageOpener } from "./storage.js";
import type { StorageOptions } from "./types.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

let loading: Promise<unknown> | undefined;

/** What the wasm core needs from Node to keep a database in a file. */
function fileHost(options: StorageOptions | undefined) {
  const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL } = nodeFs.constants;
  return {
    fs: fsOption(options),
    flags: { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL },
    pid: process.pid,
    resolvePath: (file: string) => path.resolve(file),
    dirname: (file: string) => path.dirname(file),
    tempPath: () => path.join(tmpdir(), `larder-${process.pid}-${randomUUID()}.sqlite`),
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

export const openStorage = storageOpener(async (options) => {
  loading ??= readFile(new URL("./wasm/larder_bg.wasm", import.meta.url)).then((bytes) =>
    init({ module_or_path: bytes }),
  );
  await loading;
  return openStore(options, fileHost(options));
});
