/**
 * The store object users hold: a thin shell over the native store (through
 * its Session, which outlives a trap) that turns every failure into a
 * rejected promise carrying a StorageError.
 */

import { ownError, toStorageError } from "./errors.js";
import { GetOrSet, type NativeCall } from "./get-or-set.js";
import type { NativeApi, Namespace } from "./native-api.js";
import { plainJson, plainJsonEntries } from "./plain-json.js";
import { Session, type NativeOpener } from "./session.js";
import { fromStored, fromStoredBatch } from "./stored.js";
import type {
  BreakerState,
  Entries,
  GetOrSetOptions,
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

  /** Runs `invoke` on the native store, with this view's namespace, and
   *  turns what it resolves with into the answer with `read`. Every call
   *  takes the same steps, so calls made together settle in call order. */
  #run<R, T = R>(invoke: (native: NativeApi, ns: Namespace) => Promise<R>, read = same as (raw: R) => T): Promise<T> {
    return call(() => this.#shared.session.call((native) => invoke(native, this.#ns)).then(read));
  }

  // `T` is checked by its structure (see `Storable` in types.ts); the core
  // checks the value itself, whatever its declared type.
  set<T extends Storable<T>>(key: string, value: NotCallable<T>, options?: SetOptions): Promise<void> {
    const json = plainJson(value);
    return this.#run((native, ns) =>
      json === undefined ? native.set(ns, key, value as StorageValue, options) : native.setJson(ns, key, json, options),
    );
  }

  // `T` is the caller's word for what the key holds: the store cannot check it.
  get<T extends Storable<T> = StorageValue>(key: string): Promise<T | undefined> {
    return this.#run((native, ns) => native.get(ns, key), fromStored) as Promise<T | undefined>;
  }

  has(key: string): Promise<boolean> {
    return this.#run((native, ns) => native.has(ns, key));
  }

  delete(key: string): Promise<boolean> {
    return this.#run((native, ns) => native.delete(ns, key));
  }

  mget<T extends Storable<T> = StorageValue>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#run((native, ns) => native.mget(ns, keys), fromStoredBatch) as Promise<Array<T | undefined>>;
  }

  // Entries of mixed values (`[["a", 1], ["b", "x"]]`) take the first
  // signature; entries of one interface type the second.
  mset(entries: Entries, options?: MsetOptions): Promise<void>;
  mset<T extends Storable<T>>(entries: Entries<NotCallable<T>>, options?: MsetOptions): Promise<void>;
  mset(entries: Entries, options?: MsetOptions): Promise<void> {
    const flat = plainJsonEntries(entries);
    return this.#run((native, ns) =>
      flat === undefined ? native.mset(ns, entries, options) : native.msetJson(ns, flat.text, flat.lengths, options),
    );
  }

  mdelete(keys: readonly string[]): Promise<number> {
    return this.#run((native, ns) => native.mdelete(ns, keys));
  }

  keys(options?: KeysOptions): Promise<string[]> {
    return this.#run((native, ns) => native.keys(ns, options));
  }

  getOrSet<T extends Storable<T>>(
    key: string,
    loader: (key: string) => NotCallable<T> | Promise<NotCallable<T>>,
    options?: GetOrSetOptions,
  ): Promise<T> {
    return this.#shared.getOrSet.run(this.#ns, key, loader, options) as Promise<T>;
  }

  invalidate(options: InvalidateOptions): Promise<number> {
    return this.#run((native, ns) => native.invalidate(ns, options));
  }

  purgeExpired(): Promise<number> {
    return this.#run((native, ns) => native.purgeExpired(ns));
  }

  count(): Promise<number> {
    return this.#run((native, ns) => native.count(ns));
  }

  getCurrentCacheSize(): Promise<number> {
    return this.#run((native, ns) => native.getCurrentCacheSize(ns));
  }

  clear(): Promise<void> {
    return this.#run((native, ns) => native.clear(ns));
  }
}

export class Storage extends StorageNamespace {
  readonly #shared: Shared;
  readonly #listeners: Set<StateListener>;

  /** @internal Use `openStorage`. */
  constructor(session: Session, listeners: Set<StateListener>) {
    const native: NativeCall = (invoke) => call(() => session.call(invoke));
    const shared = { session, getOrSet: new GetOrSet(native) };
    super(shared, undefined);
    this.#shared = shared;
    this.#listeners = listeners;
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

/** @internal `openStorage` for an environment, given how that environment opens a native store. */
export function storageOpener(openNative: NativeOpener): (options?: StorageOptions) => Promise<Storage> {
  return (options) =>
    call(async () => {
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
      return new Storage(await Session.open(openNative, options, fanOut), listeners);
    });
}
