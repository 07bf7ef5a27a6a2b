/**
 * The store object users hold: a handle on a store open in this process (a
 * SharedStore, through its Session, which outlives a trap), a thin shell
 * that turns every failure into a rejected promise carrying a StorageError.
 */

import { ownError } from "./errors.js";
import { thrownByLoader } from "./get-or-set.js";
import { HealthChecks, healthSettings, unknownFreeSpace, type FreeSpace } from "./health-checks.js";
import type { StoreMetrics } from "./metrics.js";
import { metricsText } from "./metrics-text.js";
import type { CachedApi, Namespace } from "./native-api.js";
import { observabilityOptions } from "./observability-options.js";
import { flatKeys } from "./flat-keys.js";
import { plainJson, plainJsonEntries } from "./plain-json.js";
import { OpenStores, type Lease } from "./open-stores.js";
import type { Answer, NativeOpener, Settlement } from "./session.js";
import { SharedStore, withStorageErrors as call } from "./shared-store.js";
import { fromStored, fromStoredBatch } from "./stored.js";
import type { CoreFacts, TraceChannel } from "./trace.js";
import type {
  BreakerState,
  Entries,
  GetOrSetOptions,
  HealthReport,
  HealthScheduleOptions,
  MetricsSnapshot,
  MetricsTextOptions,
  InvalidateOptions,
  KeysOptions,
  MsetOptions,
  NotCallable,
  SetOptions,
  Storable,
  StorageOptions,
  StorageValue,
  StateListener,
} from "./types.js";

const asyncDispose: typeof Symbol.asyncDispose =
  Symbol.asyncDispose ?? (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

const handleDisposed = () => ownError("DISPOSED", "this handle on the store has been disposed");

const same = <T>(value: T): T => value;

/** The value of a cached JSON text, or undefined if it is not JSON. */
function parsedOrUndefined(text: string): StorageValue | undefined {
  try {
    return fromStored(text);
  } catch {
    return undefined;
  }
}

/** What a Storage handle and its namespace views share: the store's calls,
 *  refused once this handle is disposed. */
interface Shared {
  /** Runs `invoke` on the store; `settlement` (js/metrics.ts) makes the
   *  answer, or the StorageError, and counts the call. */
  call<R, T>(invoke: (native: CachedApi) => Answer<R>, settlement: Settlement<R, T>): Promise<T>;
  getOrSet(
    ns: Namespace,
    key: string,
    loader: unknown,
    options: GetOrSetOptions | undefined,
    facts: CoreFacts | undefined,
  ): Promise<StorageValue>;
  /** The read cache's answer to a `get` of `key` now, if it has one and
   *  this handle is open (js/read-cache.ts `cachedText`). */
  cachedText(ns: Namespace, key: unknown): string | undefined;
  /** Counts each call (js/metrics.ts). */
  metrics: StoreMetrics;
}

/**
 * Every key/value operation, acting on one namespace. `#ns` is undefined for
 * the root store: its key calls use its own default namespace and its
 * `count`, `getCurrentCacheSize`, `purgeExpired` and `clear` the whole store.
 */
export class StorageNamespace {
  readonly #shared: Shared;
  readonly #ns: Namespace;

  /** @internal Use `openStorage` and `namespace`. (Not in the published
   *  types, which name no internal module.) */
  constructor(shared: Shared, ns: Namespace) {
    this.#shared = shared;
    this.#ns = ns;
  }

  /** Runs call `op` (of `key`, or of the batch `keys`) as `invoke` on the
   *  native store, with this view's namespace, turns what it resolves with
   *  into the answer with `read`, and counts it (js/metrics.ts), in the step
   *  where it settles. Every call takes the same steps, so calls made
   *  together settle in call order. */
  #run<R, T = R>(
    op: string,
    key: unknown,
    keys: unknown,
    invoke: (native: CachedApi, ns: Namespace) => Answer<R>,
    read = same as (raw: R) => T,
  ): Promise<T> {
    const { call, metrics } = this.#shared;
    const ns = this.#ns;
    return call((native) => invoke(native, ns), metrics.begin(op, ns, key, keys, read));
  }

  // `T` is checked by its structure (see `Storable` in types.ts); the core
  // checks the value itself, whatever its declared type.
  set<T extends Storable<T>>(key: string, value: NotCallable<T>, options?: SetOptions): Promise<void> {
    const json = plainJson(value);
    return this.#run("set", key, undefined, (native, ns) =>
      json === undefined ? native.set(ns, key, value as StorageValue, options) : native.setJson(ns, key, json, options),
    );
  }

  // `T` is the caller's word for what the key holds: the store cannot check it.
  // A read-cache hit is answered here, without the call's settlement and the
  // session's steps: nothing is in flight before it (so call order holds),
  // and it is counted all the same. Not while someone traces (its event
  // needs the whole call), nor for a text that is not JSON (a damaged row's,
  // whose CORRUPT the whole call makes, with its txId).
  get<T extends Storable<T> = StorageValue>(key: string): Promise<T | undefined> {
    const { metrics } = this.#shared;
    const text = metrics.tracing ? undefined : this.#shared.cachedText(this.#ns, key);
    const value = text === undefined ? undefined : parsedOrUndefined(text);
    if (value !== undefined) {
      metrics.countCachedGet();
      return Promise.resolve(value as T);
    }
    return this.#run("get", key, undefined, (native, ns) => native.get(ns, key), fromStored) as Promise<T | undefined>;
  }

  has(key: string): Promise<boolean> {
    return this.#run("has", key, undefined, (native, ns) => native.has(ns, key));
  }

  delete(key: string): Promise<boolean> {
    return this.#run("delete", key, undefined, (native, ns) => native.delete(ns, key));
  }

  mget<T extends Storable<T> = StorageValue>(keys: readonly string[]): Promise<Array<T | undefined>> {
    const flat = flatKeys(keys);
    return this.#run(
      "mget",
      undefined,
      keys,
      (native, ns) => (flat === undefined ? native.mget(ns, keys) : native.mgetFlat(ns, flat.text, flat.lengths)),
      fromStoredBatch,
    ) as Promise<Array<T | undefined>>;
  }

  // Entries of mixed values (`[["a", 1], ["b", "x"]]`) take the first
  // signature; entries of one interface type the second.
  mset(entries: Entries, options?: MsetOptions): Promise<void>;
  mset<T extends Storable<T>>(entries: Entries<NotCallable<T>>, options?: MsetOptions): Promise<void>;
  mset(entries: Entries, options?: MsetOptions): Promise<void> {
    const flat = plainJsonEntries(entries);
    return this.#run("mset", undefined, entries, (native, ns) =>
      flat === undefined ? native.mset(ns, entries, options) : native.msetJson(ns, flat.text, flat.lengths, options),
    );
  }

  mdelete(keys: readonly string[]): Promise<number> {
    const flat = flatKeys(keys);
    return this.#run("mdelete", undefined, keys, (native, ns) =>
      flat === undefined ? native.mdelete(ns, keys) : native.mdeleteFlat(ns, flat.text, flat.lengths),
    );
  }

  keys(options?: KeysOptions): Promise<string[]> {
    return this.#run("keys", undefined, undefined, (native, ns) => native.keys(ns, options));
  }

  getOrSet<T extends Storable<T>>(
    key: string,
    loader: (key: string) => NotCallable<T> | Promise<NotCallable<T>>,
    options?: GetOrSetOptions,
  ): Promise<T> {
    const { getOrSet, metrics } = this.#shared;
    const run = (facts: CoreFacts | undefined) => getOrSet(this.#ns, key, loader, options, facts);
    return metrics.observe("getOrSet", this.#ns, key, run, thrownByLoader) as Promise<T>;
  }

  invalidate(options: InvalidateOptions): Promise<number> {
    return this.#run("invalidate", undefined, undefined, (native, ns) => native.invalidate(ns, options));
  }

  purgeExpired(): Promise<number> {
    return this.#run("purgeExpired", undefined, undefined, (native, ns) => native.purgeExpired(ns));
  }

  count(): Promise<number> {
    return this.#run("count", undefined, undefined, (native, ns) => native.count(ns));
  }

  getCurrentCacheSize(): Promise<number> {
    return this.#run("getCurrentCacheSize", undefined, undefined, (native, ns) => native.getCurrentCacheSize(ns));
  }

  clear(): Promise<void> {
    return this.#run("clear", undefined, undefined, (native, ns) => native.clear(ns));
  }
}

/**
 * One handle on an open store. Every `openStorage` gives a handle of its
 * own; handles on the same database in this process share one SharedStore
 * (js/shared-store.ts): its queue, data and breaker. A handle has its own
 * state listeners and its own lifetime: disposing it refuses its later
 * calls, and disposing the last one closes the store.
 */
export class Storage extends StorageNamespace {
  readonly #lease: Lease<SharedStore>;
  readonly #shared: Shared;
  /** Closed when this handle is disposed, refusing its later calls. */
  readonly #gate: { open: boolean };
  readonly #listeners = new Set<StateListener>();
  /** This handle's health checks and schedules, over the store's counters. */
  readonly #health: HealthChecks;
  #disposal: Promise<void> | undefined;

  /** @internal Use `openStorage`. */
  constructor(lease: Lease<SharedStore>, health: HealthChecks) {
    const store = lease.store;
    const gate = { open: true };
    const shared: Shared = {
      call: (invoke, settlement) =>
        gate.open ? store.session.call(invoke, settlement) : Promise.reject(settlement.rejected(handleDisposed())),
      getOrSet: (ns, key, loader, options, facts) =>
        gate.open ? store.getOrSet.run(ns, key, loader, options, facts) : Promise.reject(handleDisposed()),
      cachedText: (ns, key) => (gate.open ? store.session.cachedText(ns, key) : undefined),
      metrics: store.metrics,
    };
    super(shared, undefined);
    this.#lease = lease;
    this.#gate = gate;
    this.#shared = shared;
    this.#health = health;
    store.listen(this.#listeners);
    storeMetrics.set(this, store.metrics);
  }

  /** What the store has counted since it opened (js/metrics.ts), every
   *  handle's calls on it included. */
  metrics(): Promise<MetricsSnapshot> {
    return call(() => (this.#gate.open ? this.#shared.metrics.metrics() : Promise.reject(handleDisposed())));
  }

  /** The same numbers in the Prometheus text format (js/metrics-text.ts). */
  metricsText(options?: MetricsTextOptions): Promise<string> {
    return call(() => (this.#gate.open ? metricsText(this.#shared.metrics, options) : Promise.reject(handleDisposed())));
  }

  /** Every health check judged now (js/health.ts). */
  health(): Promise<HealthReport> {
    return call(() => this.#health.check());
  }

  /** Runs health() every `intervalMs` until the returned handle or this
   *  Storage is disposed (js/health-checks.ts). */
  scheduleHealthChecks(options: HealthScheduleOptions): { dispose(): void } {
    return this.#health.schedule(options);
  }

  /** The circuit breaker's state: "CLOSED", "OPEN" or "HALF_OPEN". */
  get breakerState(): BreakerState {
    return this.#lease.store.session.breakerState;
  }

  /** Calls `listener(state, previousState)` once per breaker transition, in
   *  order, until the returned handle (or this Storage) is disposed. */
  onStateChange(listener: StateListener): { dispose(): void } {
    if (typeof listener !== "function") {
      throw ownError("INVALID_ARGUMENT", "onStateChange needs a listener function");
    }
    this.#listeners.add(listener);
    return { dispose: () => void this.#listeners.delete(listener) };
  }

  /** A view of every key/value operation scoped to namespace `name`; an
   *  invalid name makes the view's calls reject with INVALID_KEY. */
  namespace(name: string): StorageNamespace {
    // null, unlike undefined, never means the root: it is an invalid name.
    return new StorageNamespace(this.#shared, name === undefined ? null : name);
  }

  /** Refuses this handle's later calls with DISPOSED; the calls it already
   *  made run and settle as usual. If it is the store's last handle, the
   *  store closes: calls still waiting, getOrSet callers waiting on a
   *  loader too, reject with DISPOSED. */
  dispose(): Promise<void> {
    if (this.#disposal === undefined) {
      const store = this.#lease.store;
      this.#gate.open = false;
      this.#health.close();
      store.unlisten(this.#listeners);
      this.#disposal = call(() => this.#lease.release(() => store.close()));
    }
    return this.#disposal;
  }

  isDisposed(): boolean {
    return this.#disposal !== undefined;
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** The counters behind each handle's metrics(), for what reads them beside it (health). */
const storeMetrics = new WeakMap<Storage, StoreMetrics>();

/** @internal The counters behind `storage.metrics()`. */
export function metricsOf(storage: Storage): StoreMetrics {
  const metrics = storeMetrics.get(storage);
  if (metrics === undefined) throw ownError("INVALID_ARGUMENT", "not a store opened by openStorage");
  return metrics;
}

/** @internal `openStorage` for an environment, given how that environment opens a
 *  native store and which stores of it are open: by default, stores keyed
 *  by their path as given (a browser's OPFS names); where it publishes
 *  trace events besides the `trace` option (js/trace.ts); and where it
 *  keeps a database, for the health checks' free space (unknown if not said). */
export function storageOpener(
  openNative: NativeOpener,
  openStores = new OpenStores<SharedStore>((name) => name),
  traceChannel?: TraceChannel,
  freeSpace: (options: StorageOptions | undefined) => FreeSpace = unknownFreeSpace,
): (options?: StorageOptions) => Promise<Storage> {
  return (options) =>
    call(async () => {
      const observability = observabilityOptions(options);
      const open = () => SharedStore.open(openNative, options, observability, traceChannel);
      const lease = await openStores.lease(options, open);
      const settings = healthSettings(options, observability);
      return new Storage(lease, new HealthChecks(lease.store.metrics, freeSpace(options), settings, observability.clock));
    });
}
