/**
 * The messages between a RemoteStore (js/remote.ts) and its worker
 * (js/worker.ts), and the one table of the calls the worker runs as they are.
 */

import type { ArgKind } from "./clone-check.js";
import type { StorageErrorFields } from "./errors.js";
import type { NativeApi, StoreCall } from "./native-api.js";
import type { BreakerState } from "./types.js";

/** One kind per parameter of a call. */
type ArgKinds<Params extends unknown[]> = { readonly [Index in keyof Params]: ArgKind };

/**
 * Every store call, with the kind of each of its arguments (what the calling
 * thread checks before they cross, js/clone-check.ts). The proxy forwards
 * these calls and the worker dispatches them; a NativeApi call missing here,
 * or an argument list of the wrong length, does not compile.
 */
export const STORE_CALLS: { readonly [Call in StoreCall]: ArgKinds<Parameters<NativeApi[Call]>> } = {
  set: ["key", "key", "value", "option"],
  setJson: ["key", "key", "value", "option"],
  get: ["key", "key"],
  getEntry: ["key", "key"],
  getForLoad: ["key", "key", "option", "option"],
  setIfAbsent: ["key", "key", "value", "option"],
  setIfAbsentJson: ["key", "key", "value", "option"],
  has: ["key", "key"],
  delete: ["key", "key"],
  mget: ["key", "keys"],
  mgetFlat: ["key", "flat", "flat"],
  mset: ["key", "entries", "option"],
  msetJson: ["key", "flat", "flat", "option"],
  mdelete: ["key", "keys"],
  mdeleteFlat: ["key", "flat", "flat"],
  keys: ["key", "option"],
  invalidate: ["key", "option"],
  purgeExpired: ["key"],
  count: ["key"],
  getCurrentCacheSize: ["key"],
  clear: ["key"],
  coreMetrics: [],
};

export const isStoreCall = (method: string): method is StoreCall => Object.hasOwn(STORE_CALLS, method);

/**
 * Each message either way is an array: the requests (or replies) of one turn
 * (js/outbox.ts). What the worker is asked to do: `open` (options, the name of a Web
 * Lock for the worker to hold as long as it lives, and the wasm module's
 * address if the page was given one), a store call, or
 * `dispose`; or, with id 0 and no reply, `noteReads` (NativeApi).
 */
export interface WorkerRequest {
  id: number;
  method: StoreCall | "open" | "dispose" | "noteReads";
  args: unknown[];
  /** A traced call's tag (NativeApi `traceNext`): its reply brings the facts. */
  trace?: number;
}

/** The worker's answer to `open`. */
export interface Opened {
  /** Whether the worker holds the Web Lock it was given (none without Web Locks). */
  holdsLifeLock: boolean;
  /** The store's operationTimeoutMs, as the core settled it (Infinity for none). */
  operationTimeoutMs: number;
}

/** What the store evicted since the worker's last reply (NativeApi
 *  `takeEvicted`), with the reply it comes with; absent if nothing. */
interface Evictions {
  evicted?: string[] | null;
}

export type WorkerReply =
  | ({ id: number; ok: true; value: unknown; facts?: Float64Array } & Evictions)
  | ({ id: number; ok: false; error: StorageErrorFields; trapped?: true; facts?: Float64Array } & Evictions)
  /** Not a reply: a trapped core's counters (its coreMetrics()), sent before the worker fails. */
  | { id: 0; counters: Float64Array }
  /** Not a reply: a circuit breaker transition, pushed as it happens. */
  | { id: 0; state: BreakerState; previous: BreakerState };
