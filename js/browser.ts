/** The browser entry: fetches the wasm module next to this file. */

import init, { openStore } from "./wasm/larder.js";
import { storageOpener } from "./storage.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

let loading: Promise<unknown> | undefined;

export const openStorage = storageOpener(async (options) => {
  loading ??= init({ module_or_path: new URL("./wasm/larder_bg.wasm", import.meta.url) });
  await loading;
  return openStore(options, undefined);
});
