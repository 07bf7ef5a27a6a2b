/**
 * The store object users hold: a thin shell over the wasm NativeStore that
 * turns every failure into a rejected promise carrying a StorageError.
 */

import { ownError, toStorageError } from "./errors.js";
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

/** Loads the wasm module once and opens a native store. */
export type NativeOpener = (options: StorageOptions | undefined) => Promise<NativeStore>;

const asyncDispose: typeof Symbol.asyncDispose =
  Symbol.asyncDispose ?? (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

/** Carries a getOrSet loader's own error through the native layer untouched. */
class LoaderFailure {
  constructor(readonly error: unknown) {}
}

/** Runs a native call; whatever it throws or rejects with becomes a StorageError
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
  readonly #native: NativeStore;
  readonly #ns: string | null | undefined;

  /** @internal Use `openStorage` and `namespace`. */
  constructor(native: NativeStore, ns: string | null | undefined) {
    this.#native = native;
    this.#ns = ns;
  }

  set(key: string, value: StorageValue, options?: SetOptions): Promise<void> {
    return call(() => this.#native.set(this.#ns, key, value, options));
  }

  get<T extends StorageValue = StorageValue>(key: string): Promise<T | undefined> {
    return call(() => this.#native.get(this.#ns, key));
  }

  has(key: string): Promise<boolean> {
    return call(() => this.#native.has(this.#ns, key));
  }

  delete(key: string): Promise<boolean> {
    return call(() => this.#native.delete(this.#ns, key));
  }

  mget<T extends StorageValue = StorageValue>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return call(() => this.#native.mget(this.#ns, keys));
  }

  mset(entries: Entries, options?: MsetOptions): Promise<void> {
    return call(() => this.#native.mset(this.#ns, entries, options));
  }

  mdelete(keys: readonly string[]): Promise<number> {
    return call(() => this.#native.mdelete(this.#ns, keys));
  }

  keys(options?: KeysOptions): Promise<string[]> {
    return call(() => this.#native.keys(this.#ns, options));
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
    return call(() => this.#native.getOrSet(this.#ns, key, tagged, options));
  }

  invalidate(options: InvalidateOptions): Promise<number> {
    return call(() => this.#native.invalidate(this.#ns, options));
  }

  purgeExpired(): Promise<number> {
    return call(() => this.#native.purgeExpired(this.#ns));
  }

  count(): Promise<number> {
    return call(() => this.#native.count(this.#ns));
  }

  getCurrentCacheSize(): Promise<number> {
    return call(() => this.#native.getCurrentCacheSize(this.#ns));
  }

  clear(): Promise<void> {
    return call(() => this.#native.clear(this.#ns));
  }
}

export class Storage extends StorageNamespace {
  readonly #native: NativeStore;
  readonly #listeners = new Set<StateListener>();

  /** @internal Use `openStorage`. */
  constructor(native: NativeStore) {
    super(native, undefined);
    this.#native = native;
    native.onStateChange((state: BreakerState, previous: BreakerState) => {
      for (const listener of [...this.#listeners]) {
        try {
          listener(state, previous);
        } catch {
          // A listener's own failure must not reach the store or the others.
        }
      }
    });
  }

  /** The circuit breaker's state: "CLOSED", "OPEN" or "HALF_OPEN". */
  get breakerState(): BreakerState {
    return this.#native.breakerState() as BreakerState;
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
    return new StorageNamespace(this.#native, name === undefined ? null : name);
  }

  dispose(): Promise<void> {
    return call(() => this.#native.dispose());
  }

  isDisposed(): boolean {
    return this.#native.isDisposed();
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** `openStorage` for an environment, given how that environment opens the native store. */
export function storageOpener(openNative: NativeOpener): (options?: StorageOptions) => Promise<Storage> {
  return (options) => call(async () => new Storage(await openNative(options)));
}
