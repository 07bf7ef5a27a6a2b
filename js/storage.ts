/**
 * The store object users hold: a thin shell over the native store (through
 * its Session, which outlives a trap) that turns every failure into a
 * rejected promise carrying a StorageError.
 */

import { ownError, toStorageError } from "./errors.js";
import { plainJson } from "./plain-json.js";
import { Session, type NativeOpener } from "./session.js";
import type { NativeStore } from "./wasm/larder.js";
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

/** Carries a getOrSet loader's own error through the native layer untouched. */
class LoaderFailure {
  constructor(readonly error: unknown) {}
}

/** Runs a call; whatever it throws or rejects with becomes a StorageError
 *  (except a loader's own error, which callers get as it was thrown). */
async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof LoaderFailure) throw error.error;
    throw toStorageError(error);
  }
}

/**
 * Every key/value operation, acting on one namespace. `#ns` is undefined for
 * the root store: its key calls use its own default namespace and its
 * `count`, `getCurrentCacheSize`, `purgeExpired` and `clear` the whole store.
 */
export class StorageNamespace {
  readonly #session: Session;
  readonly #ns: string | null | undefined;

  /** @internal Use `openStorage` and `namespace`. */
  constructor(session: Session, ns: string | null | undefined) {
    this.#session = session;
    this.#ns = ns;
  }

  /** Runs `invoke` on the native store, with this view's namespace. */
  #run<T>(invoke: (native: NativeStore, ns: string | null | undefined) => Promise<T>): Promise<T> {
    return call(() => this.#session.call((native) => invoke(native, this.#ns)));
  }

  set(key: string, value: StorageValue, options?: SetOptions): Promise<void> {
    const json = plainJson(value);
    return this.#run((native, ns) =>
      json === undefined ? native.set(ns, key, value, options) : native.setJson(ns, key, json, options),
    );
  }

  get<T extends StorageValue = StorageValue>(key: string): Promise<T | undefined> {
    return this.#run((native, ns) => native.get(ns, key));
  }

  has(key: string): Promise<boolean> {
    return this.#run((native, ns) => native.has(ns, key));
  }

  delete(key: string): Promise<boolean> {
    return this.#run((native, ns) => native.delete(ns, key));
  }

  mget<T extends StorageValue = StorageValue>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return this.#run((native, ns) => native.mget(ns, keys));
  }

  mset(entries: Entries, options?: MsetOptions): Promise<void> {
    return this.#run((native, ns) => native.mset(ns, entries, options));
  }

  mdelete(keys: readonly string[]): Promise<number> {
    return this.#run((native, ns) => native.mdelete(ns, keys));
  }

  keys(options?: KeysOptions): Promise<string[]> {
    return this.#run((native, ns) => native.keys(ns, options));
  }

  getOrSet<T extends StorageValue = StorageValue>(
    key: string,
    loader: (key: string) => T | Promise<T>,
    options?: GetOrSetOptions,
  ): Promise<T> {
    const tagged =
      typeof loader === "function"
        ? async (k: string) => {
            try {
              return await loader(k);
            } catch (error) {
              throw new LoaderFailure(error);
            }
          }
        : loader;
    return this.#run((native, ns) => native.getOrSet(ns, key, tagged, options));
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
  readonly #session: Session;
  readonly #listeners: Set<StateListener>;

  /** @internal Use `openStorage`. */
  constructor(session: Session, listeners: Set<StateListener>) {
    super(session, undefined);
    this.#session = session;
    this.#listeners = listeners;
  }

  /** The circuit breaker's state: "CLOSED", "OPEN" or "HALF_OPEN". */
  get breakerState(): BreakerState {
    return this.#session.breakerState;
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
    return new StorageNamespace(this.#session, name === undefined ? null : name);
  }

  dispose(): Promise<void> {
    return call(() => this.#session.dispose());
  }

  isDisposed(): boolean {
    return this.#session.isDisposed();
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** `openStorage` for an environment, given how that environment opens a native store. */
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
