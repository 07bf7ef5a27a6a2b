/**
 * The store object users hold: a thin shell over the wasm NativeStore that
 * turns every failure into a rejected promise carrying a StorageError.
 */

import { toStorageError } from "./errors.js";
import type { NativeStore } from "./wasm/larder.js";
import type { Entries, KeysOptions, MsetOptions, SetOptions, StorageOptions, StorageValue } from "./types.js";

/** Loads the wasm module once and opens a native store. */
export type NativeOpener = (options: StorageOptions | undefined) => Promise<NativeStore>;

const asyncDispose: typeof Symbol.asyncDispose =
  Symbol.asyncDispose ?? (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

/** Runs a native call; whatever it throws or rejects with becomes a StorageError. */
async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toStorageError(error);
  }
}

export class Storage {
  readonly #native: NativeStore;

  /** @internal Use `openStorage`. */
  constructor(native: NativeStore) {
    this.#native = native;
  }

  set(key: string, value: StorageValue, options?: SetOptions): Promise<void> {
    return call(() => this.#native.set(undefined, key, value, options));
  }

  get<T extends StorageValue = StorageValue>(key: string): Promise<T | undefined> {
    return call(() => this.#native.get(undefined, key));
  }

  has(key: string): Promise<boolean> {
    return call(() => this.#native.has(undefined, key));
  }

  delete(key: string): Promise<boolean> {
    return call(() => this.#native.delete(undefined, key));
  }

  mget<T extends StorageValue = StorageValue>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return call(() => this.#native.mget(undefined, keys));
  }

  mset(entries: Entries, options?: MsetOptions): Promise<void> {
    return call(() => this.#native.mset(undefined, entries, options));
  }

  mdelete(keys: readonly string[]): Promise<number> {
    return call(() => this.#native.mdelete(undefined, keys));
  }

  clear(): Promise<void> {
    return call(() => this.#native.clear());
  }

  keys(options?: KeysOptions): Promise<string[]> {
    return call(() => this.#native.keys(undefined, options));
  }

  count(): Promise<number> {
    return call(() => this.#native.count());
  }

  getCurrentCacheSize(): Promise<number> {
    return call(() => this.#native.getCurrentCacheSize());
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
