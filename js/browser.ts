/**
 * The browser entry. A `":memory:"` store (the default) runs on the calling
 * thread; any other path (an OPFS name, or `":temp:"`) is a store in a
 * dedicated worker (js/worker.ts), where OPFS is available, reached through a
 * RemoteStore. The `wasmUrl` and `workerUrl` options say where larder's files
 * are served when a bundler did not keep them beside this file.
 */

import { storageOpener } from "./storage.js";
import { loadUrls, urlOption } from "./load-options.js";
import { describe, ownError } from "./errors.js";
import { RemoteStore, type StartedWorker } from "./remote.js";
import { startFetchedRuntime } from "./fetched-runtime.js";
import { loadFailed } from "./runtime.js";
import type { StorageOptions } from "./types.js";

export { StorageError, isStorageError } from "./errors.js";
export type { ErrorCode, ErrorCategory, RecoveryAction } from "./errors.js";
export { Storage, StorageNamespace } from "./storage.js";
export type * from "./types.js";

// A trapped worker is ended by the RemoteStore itself: nothing else to release.
const nothingHeld = () => {};

export const openStorage = storageOpener(async (options, trapped) => {
  const { wasmUrl, workerUrl } = loadUrls(options, (name, value) =>
    urlOption(name, value, globalThis.location?.href),
  );
  if (!inWorker(options)) {
    const runtime = await startFetchedRuntime(trapped, wasmUrl);
    return { native: await runtime.openStore(options, undefined), releaseAfterTrap: nothingHeld };
  }
  const native = await RemoteStore.open(() => startWorker(workerUrl), options, trapped, wasmUrl);
  return { native, releaseAfterTrap: nothingHeld };
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

/**
 * The store's worker: the script at `url`, or the package's own, written out
 * as `new Worker(new URL(…, import.meta.url))` for bundlers to follow.
 * UNSUPPORTED where there is no Worker; LOAD_FAILED where one cannot be
 * started (its script's own failures come later, as its error event).
 */
function startWorker(url: URL | undefined): StartedWorker {
  if (typeof Worker === "undefined") {
    throw ownError("UNSUPPORTED", 'a store in OPFS needs a dedicated worker, and there is none here: use path ":memory:"');
  }
  const script = url?.href ?? "larderdb's worker.js";
  try {
    const worker = url
      ? new Worker(url, { type: "module" })
      : new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    return { worker, script };
  } catch (error) {
    throw loadFailed(`larder's worker script ${script} could not be started (${describe(error)})`, error);
  }
}
