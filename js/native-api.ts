/**
 * The store a Storage wraps, whichever kind it is: the wasm `NativeStore` of
 * an in-thread store, or the `RemoteStore` that forwards each call to a store
 * in a worker (js/remote.ts). Both implement `NativeApi`; the wasm one's
 * declarations come from the `unchecked_*_type` attributes in src/api/mod.rs.
 */

import type {
  BreakerState,
  Entries,
  GetOrSetOptions,
  InvalidateOptions,
  KeysOptions,
  MsetOptions,
  SetOptions,
  StateListener,
  StorageValue,
} from "./types.js";
import type { StoredBatch, StoredValue } from "./stored.js";

/**
 * The namespace a call acts on. For key calls `undefined` is the root store's
 * own namespace; for `count`, `getCurrentCacheSize`, `purgeExpired` and
 * `clear` it is the whole store. `null` (`namespace(undefined)`) is an invalid
 * name, for the core to refuse. Every argument is checked by the core,
 * whatever its declared type.
 */
export type Namespace = string | null | undefined;

export interface NativeApi {
  set(ns: Namespace, key: string, value: StorageValue, options: SetOptions | undefined): Promise<void>;
  /** A set of a value the facade has made JSON text of (js/plain-json.ts). */
  setJson(ns: Namespace, key: string, json: string, options: SetOptions | undefined): Promise<void>;
  /** The value in its stored form (js/stored.ts); the value itself, not a
   *  promise, when answered at once (js/read-cache.ts). */
  get(ns: Namespace, key: string): Promise<StoredValue | undefined> | StoredValue | undefined;
  /** The read cache's get: the value in its stored form and when the entry
   *  expires (undefined: never), or undefined. */
  getEntry(ns: Namespace, key: string): Promise<[stored: StoredValue, expiresAt: number | undefined] | undefined>;
  /** getEntry, answered at once when the store is idle (nothing queued,
   *  running or retrying, the breaker closed): the answer itself, or a
   *  Promise if it failed, waits for a retry or the store is busy. Asked
   *  only with nothing in flight, so that calls settle in call order. A
   *  store in a worker never answers at once. */
  getEntryNow(
    ns: Namespace,
    key: string,
  ):
    | [stored: StoredValue, expiresAt: number | undefined]
    | undefined
    | Promise<[stored: StoredValue, expiresAt: number | undefined] | undefined>;
  /** getOrSet's read: checks the whole call (`loaderRefusal` is the facade's
   *  verdict on the loader), then gets. */
  getForLoad(
    ns: Namespace,
    key: string,
    loaderRefusal: string | undefined,
    options: GetOrSetOptions | undefined,
  ): Promise<StoredValue | undefined>;
  /** getOrSet's write: stores `value` unless the key has a value by then;
   *  resolves with the value stored, whichever it is, in its stored form. */
  setIfAbsent(ns: Namespace, key: string, value: StorageValue, options: GetOrSetOptions | undefined): Promise<StoredValue>;
  /** setIfAbsent of a value the facade has made JSON text of. */
  setIfAbsentJson(ns: Namespace, key: string, json: string, options: GetOrSetOptions | undefined): Promise<StoredValue>;
  has(ns: Namespace, key: string): Promise<boolean>;
  delete(ns: Namespace, key: string): Promise<boolean>;
  /** The values in their stored form, as one flat batch (js/stored.ts); the
   *  batch itself when answered at once, as `get`. */
  mget(ns: Namespace, keys: readonly string[]): Promise<StoredBatch> | StoredBatch;
  /** An mget of keys the facade has made flat (js/flat-keys.ts). */
  mgetFlat(ns: Namespace, text: string, lengths: Uint32Array): Promise<StoredBatch> | StoredBatch;
  mset(ns: Namespace, entries: Entries, options: MsetOptions | undefined): Promise<void>;
  /** An mset of entries the facade has made flat JSON text of (js/plain-json.ts
   *  `plainJsonEntries`): each key then its value's text, and their lengths. */
  msetJson(ns: Namespace, text: string, lengths: Uint32Array, options: MsetOptions | undefined): Promise<void>;
  mdelete(ns: Namespace, keys: readonly string[]): Promise<number>;
  /** An mdelete of keys the facade has made flat (js/flat-keys.ts). */
  mdeleteFlat(ns: Namespace, text: string, lengths: Uint32Array): Promise<number>;
  keys(ns: Namespace, options: KeysOptions | undefined): Promise<string[]>;
  invalidate(ns: Namespace, options: InvalidateOptions): Promise<number>;
  purgeExpired(scope: Namespace): Promise<number>;
  count(scope: Namespace): Promise<number>;
  getCurrentCacheSize(scope: Namespace): Promise<number>;
  clear(scope: Namespace): Promise<void>;
  /** The core's counters and the store's state, one array of numbers
   *  (js/core-metrics.ts reads it); read between operations. */
  coreMetrics(): Float64Array | Promise<Float64Array>;
  /** Tags the operations the calls made from now on submit with `tag` (a
   *  traced call's txId; 0 stops), so that their facts are recorded. */
  traceNext(tag: number): void;
  /** The facts of the settled operation tagged `tag`, once (js/trace.ts
   *  `CoreFacts`); undefined if none were recorded. */
  traceFacts(tag: number): Float64Array | undefined;
  /** Reads the read cache answered itself while the store was idle, in the
   *  order it answered them, for a store with a budget to place in its LRU
   *  order as it would its own gets': each namespace ('' for the root's own)
   *  then its key, back to back in `text`, their UTF-16 lengths in `lengths`
   *  (js/flat-keys.ts). Made before the store's next call. */
  noteReads(text: string, lengths: Uint32Array): void;
  /** The entries the writes committed since the last call evicted, for the
   *  read cache to drop: each namespace ('' for the root's own) then its key;
   *  undefined if none, null if more than the list names. Unless `named`,
   *  the list is emptied and undefined answered: names are not worth making
   *  when the cache holds nothing they could name. */
  takeEvicted(named: boolean): string[] | null | undefined;
  /** The latest time the store's clock has shown (-Infinity if unknown):
   *  the read cache takes now to be no earlier, so that an entry the core
   *  has seen expire stays expired. */
  latestTimeMs(): number;
  /** Rejects every waiting call with DISPOSED and closes the database. */
  dispose(): Promise<void>;
  breakerState(): BreakerState;
  /** Sets the one listener told of each breaker transition. */
  onStateChange(listener: StateListener): void;
}

/** The store as the facade's calls see it, behind the read cache
 *  (js/read-cache.ts), whose own exchange with the core they do not make. */
export type CachedApi = Omit<NativeApi, "noteReads" | "takeEvicted" | "latestTimeMs">;

/** The calls that run an operation in the store, each as it is. */
export type StoreCall = Exclude<
  keyof NativeApi,
  | "dispose"
  | "breakerState"
  | "onStateChange"
  | "traceNext"
  | "traceFacts"
  | "getEntryNow"
  | "noteReads"
  | "takeEvicted"
  | "latestTimeMs"
>;
