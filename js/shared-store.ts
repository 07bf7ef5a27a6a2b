/**
 * One open store and what every handle on it shares (js/storage.ts): the
 * session (queue, data, breaker; js/session.ts), getOrSet's flights, and the
 * breaker transitions, told to each handle's own listeners.
 */

import { toStorageError } from "./errors.js";
import { GetOrSet, type NativeCall } from "./get-or-set.js";
import { StoreMetrics } from "./metrics.js";
import type { ObservabilityOptions } from "./observability-options.js";
import { Session, type NativeOpener } from "./session.js";
import { Tracer, type TraceChannel } from "./trace.js";
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
  /** What the store counts, from its open (js/metrics.ts). */
  readonly metrics: StoreMetrics;
  /** Each live handle's listeners. */
  readonly #listeners: Set<Set<StateListener>>;

  private constructor(session: Session, listeners: Set<Set<StateListener>>, metrics: StoreMetrics) {
    this.session = session;
    this.metrics = metrics;
    this.getOrSet = new GetOrSet(this.call, (hit) => metrics.lookups(hit ? 1 : 0, hit ? 0 : 1));
    this.#listeners = listeners;
  }

  /** Opens a store with `options`, whose facade-only ones are `observability`
   *  (already checked); trace events also go to `traceChannel`. */
  static async open(
    openNative: NativeOpener,
    options: StorageOptions | undefined,
    observability: ObservabilityOptions,
    traceChannel: TraceChannel | undefined,
  ): Promise<SharedStore> {
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
    const session = await Session.open(openNative, options, fanOut);
    const metrics = new StoreMetrics({
      ...observability,
      tracer: new Tracer(observability.trace, traceChannel),
      core: (read) => session.coreFigures(read),
    });
    return new SharedStore(session, listeners, metrics);
  }

  /** Runs `invoke` through the store's queue; rejects with a StorageError. */
  readonly call: NativeCall = (invoke, facts) =>
    this.session.call(invoke, { facts, fulfilled: (raw) => raw, rejected: toStorageError });

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
    this.metrics.close();
    return this.session.dispose();
  }
}
