/**
 * The browser entry. A `":memory:"` store (the default) runs on the calling
 * thread; any other path (an OPFS name, or `":temp:"`) is a store in a
 * dedicated worker (js/worker.ts), where OPFS is available, reached through a
 * RemoteStore.
 */

import { storageOpener } from "./storage.js";
import { ownError } from "./errors.js";
import { RemoteStore } from "./remote.js";
import { startFetchedRuntime } from "./runtime.js";
import type { StorageOptions } from "./types.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

// A trapped worker is ended by the RemoteStore itself: nothing else to release.
const nothingHeld = () => {};

export const openStorage = storageOpener(async (options, trapped) => {
  if (!inWorker(options)) {
    const runtime = await startFetchedRuntime(trapped);
    return { native: await runtime.openStore(options, undefined), releaseAfterTrap: nothingHeld };
  }
  return { native: await RemoteStore.open(startWorker, options, trapped), releaseAfterTrap: nothingHeld };
});

/** Whether `options` name a path other than ":memory:". Anything unreadable
 *  or invalid stays here, for the core to refuse. */
function inWorker(options: StorageOptions | undefined): boolean {
  try {
    const path = options?.path;
    return typeof path === "string" && path !== ":memory:";
  } catch {
    return false;
  }
}

/** The store's worker; UNSUPPORTED where none can be started (no Worker
 *  here, or a context that may not start one). */
function startWorker(): Worker {
  try {
    return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw ownError(
      "UNSUPPORTED",
      `a store in OPFS needs a dedicated worker, which could not be started (${reason}): use path ":memory:"`,
    );
  }
}
