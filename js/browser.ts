/**
 * The browser entry. A `":memory:"` store (the default) runs on the calling
 * thread; any other path (an OPFS name, or `":temp:"`) is a store in a
 * dedicated worker (js/worker.ts), where OPFS is available, reached through a
 * RemoteStore. The `wasmUrl` and `workerUrl` options say where larder's files
 * are served when a bundler did not keep them beside this file.
 */

import { storageOpener } from "./storage.js";
import { describe, ownError } from "./errors.js";
import { RemoteStore, type StartedWorker } from "./remote.js";
import { startFetchedRuntime } from "./fetched-runtime.js";
import { loadUrls, urlOption } from "./load-options.js";
import { loadFailed } from "./runtime.js";
import type { FreeSpace } from "./health-checks.js";
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
  const native = await RemoteStore.open(() => startWorker(workerUrl), withoutTrace(options), trapped, wasmUrl);
  return { native, releaseAfterTrap: nothingHeld };
  // The default registry of open stores (by OPFS name), no trace channel.
}, undefined, undefined, browserFreeSpace);

/** An OPFS store's free space is what is left of the origin's quota, which
 *  the page and the store's worker share, so the page asks. */
function browserFreeSpace(options: StorageOptions | undefined): FreeSpace {
  if (!inWorker(options)) return { location: "memory", freeBytes: async () => null };
  const freeBytes = async () => {
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    const { quota, usage } = estimate ?? {};
    return quota === undefined || usage === undefined ? null : quota - usage;
  };
  return { location: "this origin's storage", freeBytes };
}

/** The options without `trace`: a function cannot cross to the worker, and
 *  tracing happens on this side (js/metrics.ts). */
function withoutTrace(options: StorageOptions | undefined): StorageOptions | undefined {
  if (typeof options !== "object" || options === null || !Object.hasOwn(options, "trace")) return options;
  const { trace: _, ...rest } = options;
  return rest;
}

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
