/**
 * getOrSet: the value of a key, or else its loader's result, stored. The
 * loader runs here, on the caller's thread and outside the store's queue, so
 * other calls go on meanwhile. Callers of the same key of a namespace share a
 * flight from the moment they call: each checks its own call and looks the
 * key up, and the first whose lookup misses runs the loader for all of them
 * (single flight). The result is stored with setIfAbsent, so a value set
 * meanwhile wins and is every caller's answer.
 */

import { StorageError, errorFields, ownError } from "./errors.js";
import type { CachedApi, Namespace } from "./native-api.js";
import { plainJson } from "./plain-json.js";
import { fromStored, type StoredValue } from "./stored.js";
import type { CoreFacts } from "./trace.js";
import type { GetOrSetOptions, StorageValue } from "./types.js";
import { typeName } from "./values.js";

/** Runs a call on the native store; it rejects with a StorageError. With
 *  `facts` (a traced call), its operations' facts are added to them. */
export type NativeCall = <T>(invoke: (native: CachedApi) => Promise<T>, facts?: CoreFacts) => Promise<T>;

type Loader = (key: string) => unknown;

/** The callers of one key who overlap in time, and their one loader run. */
interface Flight {
  /** Callers that joined and have not settled. */
  callers: number;
  /** The loader run and its store, started by the first caller that missed. */
  loading?: Promise<StoredValue>;
}

const disposed = () => ownError("DISPOSED", "the store has been disposed");

/** StorageErrors that loaders threw (from another call): passed to their callers as they are. */
const loaderErrors = new WeakSet<object>();

/** Whether a getOrSet caller gets `error` as it is: anything but a
 *  StorageError is the loader's own, and so is a StorageError it threw. */
export const thrownByLoader = (error: unknown): boolean => !(error instanceof StorageError) || loaderErrors.has(error);

export class GetOrSet {
  readonly #call: NativeCall;
  /** Flights that new callers join, by namespace and key. */
  readonly #flights = new Map<string, Flight>();
  /** Rejects with DISPOSED once the store is closing. */
  readonly #closing: Promise<never>;
  #close!: (error: StorageError) => void;
  #closed = false;

  /** Told of each caller's lookup: whether it found a live entry. */
  readonly #lookedUp: (hit: boolean) => void;

  constructor(call: NativeCall, lookedUp: (hit: boolean) => void) {
    this.#call = call;
    this.#lookedUp = lookedUp;
    this.#closing = new Promise<never>((_, reject) => (this.#close = reject));
    this.#closing.catch(() => {}); // each waiting caller hears it through its own race
  }

  /** The stored value of `key`, or else `loader`'s result, stored. Rejects
   *  with the loader's own error if it throws, else with a StorageError.
   *  `facts` (a traced call) get its lookup's and, if it runs the loader,
   *  its write's. */
  async run(
    ns: Namespace,
    key: string,
    loader: unknown,
    options: GetOrSetOptions | undefined,
    facts?: CoreFacts,
  ): Promise<StorageValue> {
    const refusal = typeof loader === "function" ? undefined : `getOrSet loader must be a function, got ${typeName(loader)}`;
    const id = JSON.stringify([ns ?? "", key]);
    const flight = this.#join(id);
    try {
      // The core checks the whole call first, a hit too.
      const found = await this.#call((native) => native.getForLoad(ns, key, refusal, options), facts);
      this.#lookedUp(found !== undefined);
      if (found !== undefined) return fromStored(found);
      if (this.#closed) throw disposed();
      const leads = flight.loading === undefined;
      flight.loading ??= heardLater(this.#load(id, flight, ns, key, loader as Loader, options, facts));
      const stored = await Promise.race([flight.loading, this.#closing]);
      // Each caller gets its own copy.
      return leads || typeof stored === "string" ? fromStored(stored) : stored.slice();
    } finally {
      this.#leave(id, flight);
    }
  }

  /** Rejects every caller waiting on a loader with DISPOSED, as the store is
   *  going away; a loader still running is left to finish unheard. */
  close(): void {
    this.#closed = true;
    this.#close(disposed());
  }

  /** The flight of `id` under way, or a new one. */
  #join(id: string): Flight {
    let flight = this.#flights.get(id);
    if (flight === undefined) {
      flight = { callers: 0 };
      this.#flights.set(id, flight);
    }
    flight.callers += 1;
    return flight;
  }

  /** A flight whose every caller hit or failed its own check ends unflown. */
  #leave(id: string, flight: Flight): void {
    flight.callers -= 1;
    if (flight.callers === 0) this.#land(id, flight);
  }

  /** New callers start a new flight; those already in this one keep it. */
  #land(id: string, flight: Flight): void {
    if (this.#flights.get(id) === flight) this.#flights.delete(id);
  }

  /** Calls the loader, then stores its result unless a value was set
   *  meanwhile; resolves with the value stored. */
  async #load(
    id: string,
    flight: Flight,
    ns: Namespace,
    key: string,
    loader: Loader,
    options: GetOrSetOptions | undefined,
    facts: CoreFacts | undefined,
  ): Promise<StoredValue> {
    try {
      let loaded: StorageValue;
      try {
        loaded = (await loader(key)) as StorageValue;
      } catch (error) {
        if (error instanceof StorageError) loaderErrors.add(error);
        throw error;
      }
      return await this.#store(ns, key, loaded, options, facts);
    } finally {
      this.#land(id, flight);
    }
  }

  /** Stores a loader's result unless a value was set meanwhile. */
  async #store(
    ns: Namespace,
    key: string,
    loaded: StorageValue,
    options: GetOrSetOptions | undefined,
    facts: CoreFacts | undefined,
  ) {
    try {
      const json = plainJson(loaded);
      return await this.#call(
        (native) =>
          json === undefined
            ? native.setIfAbsent(ns, key, loaded, options)
            : native.setIfAbsentJson(ns, key, json, options),
        facts,
      );
    } catch (error) {
      throw error instanceof StorageError && error.code === "INVALID_VALUE" ? unstorable(error, key) : error;
    }
  }
}

/** `promise`, marked as handled: its callers hear how it ended through their
 *  own awaits, unless the store closed first and they stopped listening. */
function heardLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** A loader result's refusal, saying where the value came from. */
function unstorable(error: StorageError, key: string): StorageError {
  const message = `the getOrSet loader for key ${JSON.stringify(key)} returned a value that cannot be stored: ${error.message}`;
  return new StorageError({ ...errorFields(error), message });
}
