/**
 * getOrSet: the value of a key, or else its loader's result, stored. The
 * loader runs here, on the caller's thread and outside the store's queue, so
 * other calls go on meanwhile. Callers who miss the same key of a namespace
 * while its loader runs share that one run (single flight). The result is
 * stored with setIfAbsent, so a value set meanwhile wins and is every
 * caller's answer.
 */

import { StorageError, errorFields, ownError } from "./errors.js";
import type { NativeApi, Namespace } from "./native-api.js";
import type { GetOrSetOptions, StorageValue } from "./types.js";
import { typeName } from "./values.js";

/** Runs a call on the native store; it rejects with a StorageError. */
export type NativeCall = <T>(invoke: (native: NativeApi) => Promise<T>) => Promise<T>;

type Loader = (key: string) => unknown;

interface Waiter {
  resolve(value: StorageValue): void;
  reject(error: unknown): void;
}

const disposed = () => ownError("DISPOSED", "the store has been disposed");

export class GetOrSet {
  readonly #call: NativeCall;
  /** The callers waiting on each loader run, by namespace and key. */
  readonly #flights = new Map<string, Waiter[]>();
  #closed = false;

  constructor(call: NativeCall) {
    this.#call = call;
  }

  /** The stored value of `key`, or else `loader`'s result, stored. Rejects
   *  with the loader's own error if it throws, else with a StorageError. */
  async run(ns: Namespace, key: string, loader: unknown, options: GetOrSetOptions | undefined): Promise<StorageValue> {
    const refusal = typeof loader === "function" ? undefined : `getOrSet loader must be a function, got ${typeName(loader)}`;
    // The core checks the whole call first, a hit too.
    const found = await this.#call((native) => native.getForLoad(ns, key, refusal, options));
    if (found !== undefined) return found;
    return this.#join(ns, key, loader as Loader, options);
  }

  /** Rejects every waiting caller with DISPOSED, as the store is going away;
   *  a loader still running is left to finish unheard. */
  close(): void {
    this.#closed = true;
    const waiters = [...this.#flights.values()].flat();
    this.#flights.clear();
    for (const waiter of waiters) waiter.reject(disposed());
  }

  /** Joins the loader run under way for the key, or starts one. */
  #join(ns: Namespace, key: string, loader: Loader, options: GetOrSetOptions | undefined): Promise<StorageValue> {
    if (this.#closed) return Promise.reject(disposed());
    const flight = JSON.stringify([ns ?? "", key]);
    return new Promise((resolve, reject) => {
      const joined = this.#flights.get(flight);
      if (joined) return void joined.push({ resolve, reject });
      const waiters = [{ resolve, reject }];
      this.#flights.set(flight, waiters);
      const land = (settle: (waiter: Waiter, index: number) => void) => {
        if (this.#flights.get(flight) !== waiters) return; // close() has answered them
        this.#flights.delete(flight);
        waiters.forEach(settle);
      };
      this.#load(ns, key, loader, options).then(
        // Each caller gets its own copy.
        (stored) => land((waiter, index) => waiter.resolve(index === 0 ? stored : structuredClone(stored))),
        (error) => land((waiter) => waiter.reject(error)),
      );
    });
  }

  /** Calls the loader, then stores its result unless a value was set meanwhile; resolves with the value stored. */
  async #load(ns: Namespace, key: string, loader: Loader, options: GetOrSetOptions | undefined): Promise<StorageValue> {
    const loaded = (await loader(key)) as StorageValue;
    try {
      return await this.#call((native) => native.setIfAbsent(ns, key, loaded, options));
    } catch (error) {
      throw error instanceof StorageError && error.code === "INVALID_VALUE" ? unstorable(error, key) : error;
    }
  }
}

/** A loader result's refusal, saying where the value came from. */
function unstorable(error: StorageError, key: string): StorageError {
  const message = `the getOrSet loader for key ${JSON.stringify(key)} returned a value that cannot be stored: ${error.message}`;
  return new StorageError({ ...errorFields(error), message });
}
