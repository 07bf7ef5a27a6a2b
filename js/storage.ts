/**
 * The store object users hold: a thin shell over the native store (through
 * its Session, which outlives a trap) that turns every failure into a
 * rejected promise carrying a StorageError.
 */

import { ownError, toStorageError } from "./errors.js";
import { GetOrSet, thrownByLoader, type NativeCall } from "./get-or-set.js";
import { StoreMetrics, type MetricsSnapshot } from "./metrics.js";
import { metricsText, type MetricsTextOptions } from "./metrics-text.js";
import type { NativeApi, Namespace } from "./native-api.js";
import { observabilityOptions } from "./observability-options.js";
import { plainJson, plainJsonEntries } from "./plain-json.js";
import { Session, type NativeOpener } from "./session.js";
import { Tracer, type TraceChannel } from "./trace.js";
import { fromStored, fromStoredBatch } from "./stored.js";
import type {
  BreakerState,
  Entries,
  GetOrSetOptions,
  InvalidateOptions,
  KeysOptions,
  MsetOptions,
  SetOptions,
  StorageOptions,
  StorageValue,
  StateListener,
} from "./types.js";

const asyncDispose: typeof Symbol.asyncDispose =
  Symbol.asyncDispose ?? (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

const same = <T>(value: T): T => value;

/** Runs a call; whatever it throws or rejects with becomes a StorageError. */
async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toStorageError(error);
  }
}

/** What a Storage and its namespace views share. */
interface Shared {
  session: Session;
  getOrSet: GetOrSet;
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

  /** @internal Use `openStorage` and `namespace`. */
  constructor(shared: Shared, ns: Namespace) {
    this.#shared = shared;
    this.#ns = ns;
  }

  /** Runs call `op` (of `key`, or of the batch `keys`) as `invoke` on the
   *  native store, with this view's namespace, turns what it resolves with
   *  into the answer with `read`, and counts it (js/metrics.ts). Every call
   *  takes the same steps, so calls made together settle in call order. */
  #run<R, T = R>(
    op: string,
    key: unknown,
    keys: unknown,
    invoke: (native: NativeApi, ns: Namespace) => Promise<R>,
    read = same as (raw: R) => T,
  ): Promise<T> {
    const { session, metrics } = this.#shared;
    const run = () => session.call((native) => invoke(native, this.#ns)).then(read);
    return metrics.observe(op, this.#ns, key, keys, run);
  }

  set(key: string, value: StorageValue, options?: SetOptions): Promise<void> {
    const json = plainJson(value);
    return this.#run("set", key, undefined, (native, ns) =>
      json === undefined ? native.set(ns, key, value, options) : native.setJson(ns, key, json, options),
    );
  }

  // `T` is the caller's word for what the key holds: the store cannot check it.
  get<T extends StorageValue = StorageValue>(key: string): Promise<T | undefined> {
    return this.#run("get", key, undefined, (native, ns) => native.get(ns, key), fromStored) as Promise<T | undefined>;
  }

  has(key: string): Promise<boolean> {
    return this.#run("has", key, undefined, (native, ns) => native.has(ns, key));
  }

  delete(key: string): Promise<boolean> {
    return this.#run("delete", key, undefined, (native, ns) => native.delete(ns, key));
  }

  mget<T extends StorageValue = StorageValue>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#run("mget", undefined, keys, (native, ns) => native.mget(ns, keys), fromStoredBatch) as Promise<Array<T | undefined>>;
  }

  mset(entries: Entries, options?: MsetOptions): Promise<void> {
    const flat = plainJsonEntries(entries);
    return this.#run("mset", undefined, entries, (native, ns) =>
      flat === undefined ? native.mset(ns, entries, options) : native.msetJson(ns, flat.text, flat.lengths, options),
    );
  }

  mdelete(keys: readonly string[]): Promise<number> {
    return this.#run("mdelete", undefined, keys, (native, ns) => native.mdelete(ns, keys));
  }

  keys(options?: KeysOptions): Promise<string[]> {
    return this.#run("keys", undefined, undefined, (native, ns) => native.keys(ns, options));
  }

  getOrSet<T extends StorageValue = StorageValue>(
    key: string,
    loader: (key: string) => T | Promise<T>,
    options?: GetOrSetOptions,
  ): Promise<T> {
    const { getOrSet, metrics } = this.#shared;
    const run = () => getOrSet.run(this.#ns, key, loader, options);
    return metrics.observe("getOrSet", this.#ns, key, undefined, run, thrownByLoader) as Promise<T>;
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

export class Storage extends StorageNamespace {
  readonly #shared: Shared;
  readonly #listeners: Set<StateListener>;

  /** @internal Use `openStorage`. */
  constructor(session: Session, listeners: Set<StateListener>, metrics: StoreMetrics) {
    const native: NativeCall = (invoke) => call(() => session.call(invoke));
    const lookedUp = (hit: boolean) => metrics.lookups(hit ? 1 : 0, hit ? 0 : 1);
    const shared = { session, getOrSet: new GetOrSet(native, lookedUp), metrics };
    super(shared, undefined);
    this.#shared = shared;
    this.#listeners = listeners;
    storeMetrics.set(this, metrics);
  }

  /** What the store has counted since it opened (js/metrics.ts). */
  metrics(): Promise<MetricsSnapshot> {
    return call(() => this.#shared.metrics.metrics());
  }

  /** The same numbers in the Prometheus text format (js/metrics-text.ts). */
  metricsText(options?: MetricsTextOptions): Promise<string> {
    return call(() => metricsText(this.#shared.metrics, options));
  }

  /** The circuit breaker's state: "CLOSED", "OPEN" or "HALF_OPEN". */
  get breakerState(): BreakerState {
    return this.#shared.session.breakerState;
  }

  /** Calls `listener(state, previousState)` once per breaker transition, in
   *  order, until the returned handle is disposed. */
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

  /** Closes the store: calls still waiting, getOrSet callers waiting on a
   *  loader too, and every later call reject with DISPOSED. */
  dispose(): Promise<void> {
    this.#shared.getOrSet.close();
    return call(() => this.#shared.session.dispose());
  }

  isDisposed(): boolean {
    return this.#shared.session.isDisposed();
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** The counters behind each store's metrics(), for what reads them beside it (health). */
const storeMetrics = new WeakMap<Storage, StoreMetrics>();

/** @internal The counters behind `storage.metrics()`. */
export function metricsOf(storage: Storage): StoreMetrics {
  const metrics = storeMetrics.get(storage);
  if (metrics === undefined) throw ownError("INVALID_ARGUMENT", "not a store opened by openStorage");
  return metrics;
}

/** `openStorage` for an environment, given how that environment opens a
 *  native store, and where it publishes trace events besides `trace`. */
export function storageOpener(
  openNative: NativeOpener,
  traceChannel?: TraceChannel,
): (options?: StorageOptions) => Promise<Storage> {
  return (options) =>
    call(async () => {
      const observability = observabilityOptions(options);
      const listeners = new Set<StateListener>();
      const fanOut = (state: BreakerState, previous: BreakerState) => {
        for (const listener of [...listeners]) {
          try {
            listener(state, previous);
          } catch {
            // A listener's own failure must not reach the store or the others.
          }
        }
      };
      const session = await Session.open(openNative, options, fanOut);
      const metrics = new StoreMetrics({
        ...observability,
        tracer: new Tracer(observability.trace, traceChannel),
        core: (read) => session.coreFigures(read),
      });
      return new Storage(session, listeners, metrics);
    });
}
