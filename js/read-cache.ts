/**
 * The facade's read cache: the JSON text of entries recently written or read,
 * kept beside the native store so that a `get` of a hot key answers without
 * crossing into wasm (or, in browsers, posting to the worker).
 *
 * It is coherent because the store is its database's only owner (the lock)
 * and because it answers only when no call is in flight: every call before
 * has settled, so the cache holds what the database holds, and call order
 * and read-your-writes are those of the queue. Entries change only through
 * calls it sees, evictions the core names and expiry. A set fills it only
 * without options (neither a TTL nor an explicit size) on a store without
 * `defaultTtlMs` (the facade cannot know when an entry set with a TTL
 * expires), and with a budget only if the entry is cached already. A read fills it with the entry's expiry, and a hit of an entry
 * that expires needs the store's clock to read before it (`#now`: no earlier
 * than the core's latest reading, so that what the core has seen expire
 * stays expired). With a `maxSizeBytes` budget the core evicts inside writes:
 * each settling write takes the list of what was evicted (`takeEvicted`) and
 * drops those, and the hits are handed to the core (`noteReads`) before its
 * next call, so its LRU order is the one the gets would have made.
 * A hit also needs a CLOSED breaker that counts no failure (the last call to
 * settle succeeded: a success in the core is what resets the count) and, for
 * a file, the lock still this store's; anything else goes to the core as
 * before. Under the same conditions, for every store, a get the cache does
 * not answer asks the core to answer at once (`getEntryNow`).
 */

import { keysOf } from "./flat-keys.js";
import type { CachedApi, NativeApi, Namespace } from "./native-api.js";
import { forEachJsonText, jsonBatch, type StoredBatch, type StoredValue } from "./stored.js";
import type {
  BreakerState,
  Entries,
  GetOrSetOptions,
  InvalidateOptions,
  KeysOptions,
  MsetOptions,
  SetOptions,
  StateListener,
  StorageOptions,
  StorageValue,
} from "./types.js";

/** The cache's bound, in UTF-16 code units of JSON text (about 8 MB). */
export const READ_CACHE_CHARS = 8 * 1024 * 1024;
/** What a full cache is cut back to: room for about 1,000 values of 1 KB. */
const SHRUNK_CHARS = (READ_CACHE_CHARS / 8) * 7;
/** The hits a store with a budget gathers before handing them to its
 *  core, at most (two strings each: the namespace and the key). */
const READS_HANDED_AT = 2 * 1024;
/** Larger values are not worth holding twice. */
const LARGEST_CACHED_CHARS = 256 * 1024;

/** A cached JSON text, when its entry expires (Infinity: never), and
 *  whether a get read it since it was cached or since `#shrink` last passed
 *  it. */
interface CachedText {
  text: string;
  expiresAt: number;
  used: boolean;
}

/** `#track`'s answer when nothing is made of the value: one function, not
 *  a new closure per call. */
const asIs = <T>(value: T): T => value;

/** What the cache does for a store opened with some options: whether its
 *  sets fill it (not with a default TTL), and whether it exchanges hits and
 *  evictions with the core (with a budget); and the store's clock. */
export interface ReadCacheUse {
  setsFill: boolean;
  budgeted: boolean;
  clock: () => unknown;
}

export function readCacheUse(options: StorageOptions | undefined): ReadCacheUse {
  try {
    const clock: unknown = options?.clock;
    return {
      setsFill: options?.defaultTtlMs === undefined,
      budgeted: options?.maxSizeBytes !== undefined,
      clock: typeof clock === "function" ? (clock as () => unknown) : Date.now,
    };
  } catch {
    // An options object that throws when read: the core refuses it.
    return { setsFill: false, budgeted: false, clock: () => undefined };
  }
}

/** No options, or `{}`: neither a TTL nor an explicit size. Not read
 *  property by property, which would run a getter again. */
function isEmpty(options: SetOptions | undefined): boolean {
  if (options === undefined) return true;
  try {
    return Object.getPrototypeOf(options) === Object.prototype && Object.keys(options).length === 0;
  } catch {
    return false; // null, or a revoked Proxy: for the core to refuse
  }
}

/** A named namespace's slots begin with this lone surrogate, which no valid
 *  key has, so a root key can be its own slot. */
const NAMED = "\uD800";

/** One cache slot per namespace and key, never shared between namespaces:
 *  a root key is its own slot (a lookup makes no new string, whose hash the
 *  Map would compute again), unless it begins like a named namespace's slot
 *  (invalid keys do: the core refuses them; a valid key beginning with
 *  U+D800 is not cached); a named namespace's is NAMED, the name's length,
 *  the name and the key. */
function slot(ns: Namespace, key: unknown): string | undefined {
  if (typeof key !== "string") return undefined;
  if (ns === undefined) return key.startsWith(NAMED) ? undefined : key;
  return typeof ns === "string" ? `${NAMED}${ns.length}:${ns}${key}` : undefined;
}

/** The native store with the read cache in front of it. */
export class ReadCachingStore implements CachedApi {
  readonly #core: NativeApi;
  /** Whether the store still owns its database (false once the lock is lost). */
  readonly #owned: () => boolean;
  /** A set without options fills the cache (`ReadCacheUse`). */
  readonly #setsFill: boolean;
  /** The store has a budget: its LRU order hears of the hits, and the
   *  cache of its evictions. */
  readonly #budgeted: boolean;
  readonly #clock: () => unknown;
  /** The latest time `#now` has answered. */
  #latestMs = -Infinity;
  /** The hits not yet handed to the core, each namespace ('' for the
   *  root's own) then its key (NativeApi `noteReads`). */
  #reads: string[] = [];
  /** Slot -> its text, oldest first (see `#shrink`). */
  readonly #texts = new Map<string, CachedText>();
  #chars = 0;
  #inFlight = 0;
  #breaker: BreakerState = "CLOSED";
  /** The last call to settle failed: the breaker may be counting failures,
   *  which only a success in the core resets, so reads go there. */
  #failing = false;
  #listener: StateListener = () => {};
  /** Counts the writes submitted: a result may fill the cache only if no
   *  write submitted after its call could have changed its entry. */
  #writes = 0;
  #clearedAt = 0;
  readonly #writtenAt = new Map<string, number>();

  constructor(native: NativeApi, owned: () => boolean, use: ReadCacheUse) {
    this.#core = native;
    this.#owned = owned;
    this.#setsFill = use.setsFill;
    this.#budgeted = use.budgeted;
    this.#clock = use.clock;
    native.onStateChange((state, previous) => {
      this.#breaker = state;
      this.#listener(state, previous);
    });
  }

  /** The native store, for a call: the hits since its last call handed to
   *  it first, so that they come before the call in its LRU order. */
  get #native(): NativeApi {
    if (this.#reads.length > 0) this.#noteReads();
    return this.#core;
  }

  set(ns: Namespace, key: string, value: StorageValue, options: SetOptions | undefined): Promise<void> {
    return this.#write(slot(ns, key), () => this.#native.set(ns, key, value, options));
  }

  // With a budget, a set refreshes an entry already cached and adds none:
  // at capacity every set of a new key evicts, and most such entries would
  // be evicted again unread, their texts held meanwhile (W7 spent about 7%
  // more CPU filling them). The first read of one caches it.
  setJson(ns: Namespace, key: string, json: string, options: SetOptions | undefined): Promise<void> {
    const at = slot(ns, key);
    const cacheable =
      at !== undefined && this.#setsFill && isEmpty(options) && (!this.#budgeted || this.#texts.has(at));
    return this.#write(at, () => this.#native.setJson(ns, key, json, options), (_, epoch) => {
      if (cacheable) this.#fill(at, json, Infinity, epoch);
    });
  }

  // A hit answers the stored form, the JSON text, which the facade parses,
  // at once (js/session.ts settles the call there and then).
  // What the core answers is cached, with its expiry, if it is JSON text
  // and fits in the room left.
  // Else, with nothing in flight, the core may answer at once too.
  get(ns: Namespace, key: string): Promise<StoredValue | undefined> | StoredValue | undefined {
    const at = slot(ns, key);
    const hit = this.#hit(ns, key, at);
    if (hit !== undefined) return hit;
    const found = this.#mayRead() ? this.#native.getEntryNow(ns, key) : this.#native.getEntry(ns, key);
    return found instanceof Promise ? this.#fromCore(found, at) : this.#kept(at, found, this.#writes);
  }

  /** The text a `get` of `key` would be answered with now, without one:
   *  the facade's way round the call's machinery for a hit (js/storage.ts). */
  cachedText(ns: Namespace, key: unknown): string | undefined {
    return this.#hit(ns, key);
  }

  // Apart from `get`, for its closure (ARCHITECTURE.md, Rules written once).
  #fromCore(
    pending: Promise<[StoredValue, number | undefined] | undefined>,
    at: string | undefined,
  ): Promise<StoredValue | undefined> {
    return this.#track(pending, (found, epoch) => this.#kept(at, found, epoch));
  }

  /** What the core `found` for `at`, read as of `epoch`, kept if the cache
   *  can hold it: JSON text, with room for it. */
  #kept(
    at: string | undefined,
    found: [StoredValue, number | undefined] | undefined,
    epoch: number,
  ): StoredValue | undefined {
    if (found === undefined) return undefined;
    const [stored, expiresAt] = found;
    if (at !== undefined && typeof stored === "string") this.#admit(at, stored, expiresAt ?? Infinity, epoch);
    return stored;
  }

  getEntry(ns: Namespace, key: string): Promise<[stored: StoredValue, expiresAt: number | undefined] | undefined> {
    return this.#track(this.#native.getEntry(ns, key));
  }

  // Only `get` asks the core to answer at once, itself.
  getEntryNow(ns: Namespace, key: string): Promise<[stored: StoredValue, expiresAt: number | undefined] | undefined> {
    return this.getEntry(ns, key);
  }

  mget(ns: Namespace, keys: readonly string[]): Promise<StoredBatch> | StoredBatch {
    const texts = this.#hits(ns, keys);
    if (texts) return jsonBatch(texts);
    return this.#track(Promise.resolve(this.#native.mget(ns, keys)));
  }

  // What the core answers is kept as a get's is (only for flat keys: an
  // array of keys is not read twice). The keys are read before the call: a
  // worker store transfers `lengths` to the worker.
  mgetFlat(ns: Namespace, text: string, lengths: Uint32Array): Promise<StoredBatch> | StoredBatch {
    const keys = keysOf(text, lengths);
    const texts = this.#hits(ns, keys);
    if (texts) return jsonBatch(texts);
    return this.#track(Promise.resolve(this.#native.mgetFlat(ns, text, lengths)), (batch, epoch) =>
      this.#keptBatch(ns, keys, batch, epoch),
    );
  }

  /** What the core `batch` holds for `keys`, read as of `epoch`, each JSON
   *  text kept, with its expiry, if there is room for it. */
  #keptBatch(ns: Namespace, keys: readonly string[], batch: StoredBatch, epoch: number): StoredBatch {
    forEachJsonText(batch, (index, text, expiresAt) => {
      const at = slot(ns, keys[index]);
      if (at !== undefined) this.#admit(at, text, expiresAt, epoch);
    });
    return batch;
  }

  getForLoad(
    ns: Namespace,
    key: string,
    loaderRefusal: string | undefined,
    options: GetOrSetOptions | undefined,
  ): Promise<StoredValue | undefined> {
    return this.#track(this.#native.getForLoad(ns, key, loaderRefusal, options));
  }

  setIfAbsent(ns: Namespace, key: string, value: StorageValue, options: GetOrSetOptions | undefined): Promise<StoredValue> {
    return this.#write(slot(ns, key), () => this.#native.setIfAbsent(ns, key, value, options));
  }

  setIfAbsentJson(ns: Namespace, key: string, json: string, options: GetOrSetOptions | undefined): Promise<StoredValue> {
    return this.#write(slot(ns, key), () => this.#native.setIfAbsentJson(ns, key, json, options));
  }

  delete(ns: Namespace, key: string): Promise<boolean> {
    return this.#write(slot(ns, key), () => this.#native.delete(ns, key));
  }

  // Calls that change entries the cache cannot name from its arguments
  // (an iterable or an array is not read twice) empty it.
  mset(ns: Namespace, entries: Entries, options: MsetOptions | undefined): Promise<void> {
    return this.#write(undefined, () => this.#native.mset(ns, entries, options));
  }

  // Flat entries are named by their keys: only those are dropped.
  msetJson(ns: Namespace, text: string, lengths: Uint32Array, options: MsetOptions | undefined): Promise<void> {
    return this.#write(this.#slotsOf(ns, text, lengths, 2), () => this.#native.msetJson(ns, text, lengths, options));
  }

  mdelete(ns: Namespace, keys: readonly string[]): Promise<number> {
    return this.#write(undefined, () => this.#native.mdelete(ns, keys));
  }

  // Flat keys are named: only those are dropped.
  mdeleteFlat(ns: Namespace, text: string, lengths: Uint32Array): Promise<number> {
    return this.#write(this.#slotsOf(ns, text, lengths, 1), () => this.#native.mdeleteFlat(ns, text, lengths));
  }

  /** The slots of a flat batch's keys (`keysOf`) that a write of them must
   *  drop or remember: none unless texts are cached or a call submitted
   *  before it may still fill one (an empty cache with nothing in flight
   *  has no use for them). */
  #slotsOf(ns: Namespace, text: string, lengths: Uint32Array, stride: number): Array<string | undefined> {
    if (this.#texts.size === 0 && this.#inFlight === 0) return [];
    return keysOf(text, lengths, stride).map((key) => slot(ns, key));
  }

  invalidate(ns: Namespace, options: InvalidateOptions): Promise<number> {
    return this.#write(undefined, () => this.#native.invalidate(ns, options));
  }

  clear(scope: Namespace): Promise<void> {
    return this.#write(undefined, () => this.#native.clear(scope));
  }

  has(ns: Namespace, key: string): Promise<boolean> {
    return this.#track(this.#native.has(ns, key));
  }

  keys(ns: Namespace, options: KeysOptions | undefined): Promise<string[]> {
    return this.#track(this.#native.keys(ns, options));
  }

  // Only expired entries go, and the cache answers none once expired.
  purgeExpired(scope: Namespace): Promise<number> {
    return this.#track(this.#native.purgeExpired(scope));
  }

  count(scope: Namespace): Promise<number> {
    return this.#track(this.#native.count(scope));
  }

  getCurrentCacheSize(scope: Namespace): Promise<number> {
    return this.#track(this.#native.getCurrentCacheSize(scope));
  }

  traceNext(tag: number): void {
    this.#native.traceNext(tag);
  }

  // A hit recorded nothing: its facts are undefined.
  traceFacts(tag: number): Float64Array | undefined {
    return this.#native.traceFacts(tag);
  }

  coreMetrics(): Float64Array | Promise<Float64Array> {
    return this.#native.coreMetrics();
  }

  dispose(): Promise<void> {
    this.#forget();
    return this.#native.dispose();
  }

  breakerState(): BreakerState {
    return this.#native.breakerState();
  }

  onStateChange(listener: StateListener): void {
    this.#listener = listener;
  }

  /** The cached text of `ns` and `key` (their slot `at`), if the cache may
   *  answer now and its entry is live. */
  #hit(ns: Namespace, key: unknown, at = slot(ns, key)): string | undefined {
    if (at === undefined || !this.#mayAnswer()) return undefined;
    const cached = this.#texts.get(at);
    if (cached === undefined || (cached.expiresAt !== Infinity && !this.#liveAt(at, cached, this.#now()))) {
      return undefined;
    }
    cached.used = true;
    if (this.#budgeted) this.#noteRead(ns, key as string);
    return cached.text;
  }

  /** The cached texts of every key, or undefined unless all are cached. */
  #hits(ns: Namespace, keys: readonly string[]): string[] | undefined {
    if (!this.#mayAnswer()) return undefined;
    try {
      if (!Array.isArray(keys) || keys.length === 0) return undefined;
      const texts: string[] = [];
      let now: number | undefined; // read once, for the first entry that expires
      for (const key of keys) {
        const at = slot(ns, key);
        const cached = at === undefined ? undefined : this.#texts.get(at);
        if (cached === undefined) return undefined;
        if (cached.expiresAt !== Infinity && !this.#liveAt(at as string, cached, (now ??= this.#now()))) return undefined;
        texts.push(cached.text);
      }
      if (this.#budgeted) for (const key of keys) this.#noteRead(ns, key);
      return texts;
    } catch {
      return undefined; // a revoked Proxy, or a trap that threw: for the core to refuse
    }
  }

  /** Whether `cached`, at `at`, an entry that expires, is live at `now`
   *  (NaN: unknown, so not known to be); one seen expired is dropped. */
  #liveAt(at: string, cached: CachedText, now: number): boolean {
    if (now < cached.expiresAt) return true;
    if (now >= cached.expiresAt) this.#drop(at);
    return false;
  }

  /** Now on the store's clock as the core reads it (floored), and no
   *  earlier than any time the core or this cache has read, so that an
   *  entry seen expired stays expired; NaN if the clock cannot be read (the
   *  core then explains why). */
  #now(): number {
    const clock = this.#clock; // called as the core calls it, without a `this`
    try {
      const reading = clock();
      if (typeof reading !== "number" || !Number.isFinite(reading)) return NaN;
      this.#latestMs = Math.max(this.#latestMs, Math.floor(reading), this.#core.latestTimeMs());
      return this.#latestMs;
    } catch {
      return NaN;
    }
  }

  #mayAnswer(): boolean {
    return this.#texts.size > 0 && this.#mayRead();
  }

  /** Whether a read now answers as the queue would: nothing in flight, a
   *  breaker that counts no failure, and a database still this store's. */
  #mayRead(): boolean {
    return this.#inFlight === 0 && this.#breaker === "CLOSED" && !this.#failing && this.#owned();
  }

  /** Submits a write: the entry at `at` (one slot or several; if undefined,
   *  every entry) is dropped now, before the write can change it. A key no
   *  slot names is never cached (an undefined in `at`). */
  #write<T>(
    at: string | ReadonlyArray<string | undefined> | undefined,
    submit: () => Promise<T>,
    done?: (value: T, epoch: number) => T,
  ): Promise<T> {
    this.#writes += 1;
    if (at === undefined) {
      this.#clearedAt = this.#writes;
      this.#forget();
    } else if (typeof at === "string") {
      this.#written(at);
    } else {
      for (const each of at) if (each !== undefined) this.#written(each);
    }
    return this.#track<T, T>(submit(), done, this.#budgeted);
  }

  /** `at` is being written by the write just submitted: dropped and, if
   *  more than `settling` calls are in flight (one submitted before it may
   *  be among them), remembered, so that such a call's result does not fill
   *  it (`#fill`). */
  #written(at: string, settling = 0): void {
    if (this.#inFlight > settling) this.#writtenAt.set(at, this.#writes);
    this.#drop(at);
  }

  /** Counts `pending` in flight until it settles; `done` sees its value,
   *  and how many writes had been submitted when it was, before anyone else,
   *  and makes the answer (in the same step, so calls settle in call order).
   *  A write that may evict (`evicts`) first drops what the core evicted:
   *  only writes evict, and each takes every eviction made before it
   *  settles, so a read's settling need not ask. */
  #track<T, R = T>(
    pending: Promise<T>,
    done: (value: T, epoch: number) => R = asIs as (value: T) => R,
    evicts = false,
  ): Promise<R> {
    const epoch = this.#writes;
    this.#inFlight += 1;
    const settled = () => {
      this.#inFlight -= 1;
      // Nothing in flight: no result still to come can refer to an older write.
      if (this.#inFlight === 0 && this.#writtenAt.size > 0) this.#writtenAt.clear();
    };
    return pending.then(
      (value) => {
        if (evicts) this.#dropEvicted();
        const answer = done(value, epoch);
        this.#failing = false;
        settled();
        return answer;
      },
      (error: unknown) => {
        if (evicts) this.#dropEvicted();
        this.#failing = true;
        settled();
        throw error;
      },
    );
  }

  /** Caches `text` as `at`'s, expiring at `expiresAt`, as read or written
   *  by a call submitted when `epoch` writes had been: unless a later write
   *  may have changed it. */
  #fill(at: string, text: string, expiresAt: number, epoch: number): void {
    if (this.#clearedAt > epoch || (this.#writtenAt.get(at) ?? 0) > epoch) return;
    if (text.length > LARGEST_CACHED_CHARS) return;
    this.#drop(at);
    this.#texts.set(at, { text, expiresAt, used: false });
    this.#chars += text.length;
    if (this.#chars > READ_CACHE_CHARS) this.#shrink();
  }

  /** Caches a text read from the core, into free room only: reads that
   *  pushed out cached entries would turn a scan through more entries than
   *  fit into a miss for each, where entries written stay cached. */
  #admit(at: string, text: string, expiresAt: number, epoch: number): void {
    if (this.#chars + text.length <= READ_CACHE_CHARS) this.#fill(at, text, expiresAt, epoch);
  }

  /** Drops texts down to seven eighths of the bound, in one pass, oldest
   *  first; one read since it was cached or last passed here goes to the
   *  back instead (CLOCK: least recently used, near enough, without moving an
   *  entry on every hit). One pass, because a Map's oldest entry is found by
   *  walking past every one deleted before it: once per fill, that cost more
   *  than the fill. */
  #shrink(): void {
    for (const [oldest, cached] of this.#texts) {
      if (this.#chars <= SHRUNK_CHARS) break;
      this.#texts.delete(oldest);
      if (cached.used) {
        cached.used = false;
        this.#texts.set(oldest, cached); // visited again, after the rest
      } else {
        this.#chars -= cached.text.length;
      }
    }
  }

  /** A hit, for the core's LRU order. Handed over before the core's next
   *  call, or at once if many have gathered: the store is idle while the
   *  cache answers, so its order is the same either way. */
  #noteRead(ns: Namespace, key: string): void {
    this.#reads.push(ns ?? "", key);
    if (this.#reads.length >= READS_HANDED_AT) this.#noteReads();
  }

  /** Hands the hits not yet handed over to the core, in the order they were
   *  answered. Only recency is lost if the core cannot take them (its
   *  instance trapped), as a crash loses what was not yet persisted. */
  #noteReads(): void {
    const reads = this.#reads;
    this.#reads = [];
    try {
      this.#core.noteReads(reads.join(""), Uint32Array.from(reads, (part) => part.length));
    } catch {
      // the call that follows meets the same failure and reports it
    }
  }

  /** Drops what the core evicted since it was last asked, as written by
   *  the latest write submitted (`#written`): a call in flight, other than
   *  the one settling, may have read it before a later write, already run,
   *  evicted it. Everything, if the core names too many or cannot say. */
  #dropEvicted(): void {
    let evicted: string[] | null | undefined;
    try {
      // Nothing cached and no other call in flight: nothing to drop or remember.
      evicted = this.#core.takeEvicted(this.#texts.size > 0 || this.#inFlight > 1);
    } catch {
      evicted = null;
    }
    if (evicted === undefined) return;
    if (evicted === null) {
      this.#clearedAt = this.#writes;
      this.#forget();
      return;
    }
    for (let index = 0; index < evicted.length; index += 2) {
      const at = slot(evicted[index] || undefined, evicted[index + 1]);
      if (at !== undefined) this.#written(at, 1);
    }
  }

  #drop(at: string): void {
    const cached = this.#texts.get(at);
    if (cached === undefined) return;
    this.#texts.delete(at);
    this.#chars -= cached.text.length;
  }

  #forget(): void {
    this.#texts.clear();
    this.#chars = 0;
  }
}
