/** The Node entry: loads the wasm module from this package's files. */

import { readFile } from "node:fs/promises";
import init, { openStore } from "./wasm/larder.js";
import { storageOpener } from "./storage.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

let loading: Promise<unknown> | undefined;

export const openStorage = storageOpener(async (options) => {
  loading ??= readFile(new URL("./wasm/larder_bg.wasm", import.meta.url)).then((bytes) =>
    init({ module_or_path: bytes }),
  );
  await loading;
  return openStore(options);
});
