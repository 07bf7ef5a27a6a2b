/**
 * One open store and what every handle on it shares (js/storage.ts): the
 * session (queue, data, breaker; js/session.ts), getOrSet's flights, and the
 * breaker transitions, told to each handle's own listeners.
 */

import { toStorageError } from "./errors.js";
import { GetOrSet, type NativeCall } from "./get-or-set.js";
import { Session, type NativeOpener } from "./session.js";
import type { BreakerState, StateListener, StorageOptions } from "./types.js";

/** Runs a call; whatever it throws or rejects with becomes a StorageError. */
export async function withStorageErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toStorageError(error);
  }
}

export class SharedStore {
  readonly session: Session;
  readonly getOrSet: GetOrSet;
  /** Each live handle's listeners. */
  readonly #listeners: Set<Set<StateListener>>;

  private constructor(session: Session, listeners: Set<Set<StateListener>>) {
    this.session = session;
    this.getOrSet = new GetOrSet(this.call);
    this.#listeners = listeners;
  }

  static async open(openNative: NativeOpener, options: StorageOptions | undefined): Promise<SharedStore> {
    const listeners = new Set<Set<StateListener>>();
    const fanOut = (state: BreakerState, previous: BreakerState) => {
      for (const handle of [...listeners]) {
        for (const listener of [...handle]) {
          try {
            listener(state, previous);
          } catch {
            // A listener's own failure must not reach the store or the others.
          }
        }
      }
    };
    return new SharedStore(await Session.open(openNative, options, fanOut), listeners);
  }

  /** Runs `invoke` through the store's queue; rejects with a StorageError. */
  readonly call: NativeCall = (invoke) => withStorageErrors(() => this.session.call(invoke));

  /** Tells a handle's `listeners` of every breaker transition from now on. */
  listen(listeners: Set<StateListener>): void {
    this.#listeners.add(listeners);
  }

  unlisten(listeners: Set<StateListener>): void {
    this.#listeners.delete(listeners);
  }

  /** Closes the store: calls still waiting, and getOrSet callers waiting on
   *  a loader, reject with DISPOSED. */
  close(): Promise<void> {
    this.getOrSet.close();
    return this.session.dispose();
  }
}
