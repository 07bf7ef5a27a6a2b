/**
 * The native store behind a Storage and its namespaces, kept usable across a
 * trap. A Rust panic aborts its wasm instance (a trap), which can never be
 * entered again: the session then rejects every call still in flight with
 * INTERNAL, lets the environment release what the dead instance held (file
 * handles, the lock file, a worker), and reopens the store with the same
 * options in a fresh instance. Calls made meanwhile wait for it; if it
 * fails, they get its error and the next call tries again. A file store
 * comes back as its journal left it; a ":memory:" or ":temp:" store comes
 * back empty.
 */

import { CarriedCoreMetrics, type CoreFigures } from "./core-metrics.js";
import { describe, ownError, toStorageError, type StorageError } from "./errors.js";
import type { CachedApi, NativeApi, Namespace } from "./native-api.js";
import { ReadCachingStore, readCacheUse } from "./read-cache.js";
import type { CoreFacts } from "./trace.js";
import type { BreakerState, StateListener, StorageOptions } from "./types.js";

/** A store opened in a fresh wasm instance (or worker). */
export interface OpenedStore {
  native: NativeApi;
  /** Whether the store still owns its database (a file's lock); absent: always. */
  owned?: () => boolean;
  /** Releases what the instance held, once it has trapped. */
  releaseAfterTrap(): void;
}

/**
 * Opens a native store in a fresh instance. `trapped` is to be called if the
 * instance traps outside a call (in a task it scheduled itself).
 */
export type NativeOpener = (
  options: StorageOptions | undefined,
  trapped: (error: unknown) => void,
) => Promise<OpenedStore>;

/** An instance as the session serves it: its store behind the read cache. */
type Instance = Omit<OpenedStore, "native"> & { native: ReadCachingStore };

type State =
  /** A live instance serves the calls. */
  | { kind: "open"; opened: Instance }
  /** The instance trapped; a new one is being opened (undefined if that fails) and calls wait for it. */
  | { kind: "reopening"; reopened: Promise<Instance | undefined> }
  /** The last reopening failed with `failure`; the next call tries again. */
  | { kind: "failed"; failure: StorageError }
  | Disposed;

/** dispose() was called. `opened` is the instance it closes, if any (known
 *  once a reopening under way at dispose() has finished); `closed` settles
 *  when that is closed. */
interface Disposed {
  kind: "disposed";
  opened: Instance | undefined;
  closed: Promise<void>;
}

/**
 * How a call's result becomes its answer and its failure what it rejects
 * with, in the step where the call settles (js/metrics.ts counts the call
 * there). Each call's settlement hears exactly one of the two; `fulfilled`
 * throws what the call rejects with if the result cannot be read.
 */
export interface Settlement<R, T> {
  /** The core facts to fill, for a traced call. */
  readonly facts: CoreFacts | undefined;
  fulfilled(raw: R): T;
  rejected(error: unknown): unknown;
}

/** The result and the failure as they are. */
const AS_IS: Settlement<unknown, unknown> = { facts: undefined, fulfilled: (raw) => raw, rejected: (error) => error };

/** What a native call gives: a promise, or the answer itself when given at once. */
export type Answer<R> = Promise<R> | R;

/** Whether `error` is a wasm trap, after which the instance is unusable. */
const isTrap = (error: unknown): boolean => error instanceof WebAssembly.RuntimeError;

const disposed = () => ownError("DISPOSED", "the store has been disposed");

/** The call's failure with `error`, as a rejected promise; made in an
 *  executor, so that a failure to make the failure rejects too. */
function rejectedWith<T>(settlement: Settlement<unknown, T>, error: unknown): Promise<T> {
  return new Promise<T>((_, reject) => reject(settlement.rejected(error)));
}

/** A traced call's facts from its instance, unless the instance trapped meanwhile and can tell nothing. */
function addFacts(native: CachedApi, facts: CoreFacts): void {
  try {
    facts.add(native.traceFacts(facts.txId));
  } catch {
    // Its trace event goes without them.
  }
}

export class Session {
  readonly #openNative: NativeOpener;
  readonly #options: StorageOptions | undefined;
  readonly #onStateChange: StateListener;
  #state!: State;
  /** The breaker state last reported, for when no instance can be asked. */
  #lastBreakerState: BreakerState = "CLOSED";
  /** The calls in flight: each one's reject function and settlement. */
  readonly #inFlight = new Map<(error: unknown) => void, Settlement<never, unknown>>();
  /** The core counters of the instances lost to traps. */
  readonly #carried = new CarriedCoreMetrics();
  /** Settles once a lost worker's counters are carried (undefined: none is on its way). */
  #carrying: Promise<void> | undefined;

  private constructor(openNative: NativeOpener, options: StorageOptions | undefined, onStateChange: StateListener) {
    this.#openNative = openNative;
    this.#options = options;
    this.#onStateChange = onStateChange;
  }

  static async open(
    openNative: NativeOpener,
    options: StorageOptions | undefined,
    onStateChange: StateListener,
  ): Promise<Session> {
    const session = new Session(openNative, options, onStateChange);
    session.#state = { kind: "open", opened: await session.#openInstance() };
    return session;
  }

  /** Runs `invoke` on the native store and settles with what `settlement`
   *  makes of its outcome; a trap, during the call or while it waits in the
   *  queue, rejects it with INTERNAL and starts the reopening. A traced
   *  call's operations add their facts to the settlement's. */
  call<R, T = R>(invoke: (native: CachedApi) => Answer<R>, settlement = AS_IS as Settlement<R, T>): Promise<T> {
    // Not async: an open store's call takes no promise step of its own.
    const state = this.#state;
    return state.kind === "open" ? this.#invoke(state.opened, invoke, settlement) : this.#callWhenOpen(invoke, settlement);
  }

  /** The read cache's answer to a `get` of `key`, if the store is open and
   *  the cache may answer now (js/read-cache.ts `cachedText`). */
  cachedText(ns: Namespace, key: unknown): string | undefined {
    const state = this.#state;
    return state.kind === "open" ? state.opened.native.cachedText(ns, key) : undefined;
  }

  /** `call` while the store is not open: after a reopening, or refused. */
  async #callWhenOpen<R, T>(invoke: (native: CachedApi) => Answer<R>, settlement: Settlement<R, T>): Promise<T> {
    // A reopening that failed (storage still failing) is tried again.
    if (this.#state.kind === "failed") this.#reopen();
    let state = this.#state;
    while (state.kind === "reopening") {
      await state.reopened;
      state = this.#state;
    }
    if (state.kind === "disposed") throw settlement.rejected(disposed());
    if (state.kind === "failed") throw settlement.rejected(state.failure);
    return this.#invoke(state.opened, invoke, settlement);
  }

  get breakerState(): BreakerState {
    const state = this.#state;
    const opened = state.kind === "open" || state.kind === "disposed" ? state.opened : undefined;
    return opened ? opened.native.breakerState() : this.#lastBreakerState;
  }

  /** `read` of the core's figures, with those of instances lost to traps;
   *  for a core on this thread, in the same step as the core's read. */
  async coreFigures<T>(read: (figures: CoreFigures) => T): Promise<T> {
    if (this.#carrying) await this.#carrying;
    return this.call(async (native) => {
      const live = native.coreMetrics();
      return read(this.#carried.figures(live instanceof Float64Array ? live : await live));
    });
  }

  isDisposed(): boolean {
    return this.#state.kind === "disposed";
  }

  dispose(): Promise<void> {
    const before = this.#state;
    if (before.kind === "disposed") return before.closed;
    const opened = before.kind === "open" ? before.opened : undefined;
    const after: Disposed = { kind: "disposed", opened, closed: Promise.resolve() };
    this.#state = after;
    after.closed = (async () => {
      if (before.kind === "reopening") after.opened = await before.reopened;
      await after.opened?.native.dispose();
    })();
    return after.closed;
  }

  #invoke<R, T>(opened: Instance, invoke: (native: CachedApi) => Answer<R>, settlement: Settlement<R, T>): Promise<T> {
    const { native } = opened;
    const { facts } = settlement;
    let answer: Answer<R>;
    try {
      // Only the operations this call submits, synchronously, carry its tag.
      if (facts) native.traceNext(facts.txId);
      answer = invoke(native);
      if (facts) native.traceNext(0);
    } catch (error) {
      if (isTrap(error)) this.#trapped(opened, error);
      else if (facts) native.traceNext(0);
      return rejectedWith(settlement, error);
    }
    if (!(answer instanceof Promise)) {
      // Answered at once (by the read cache, or by the core, idle): settled
      // now. Either answers only while no call is in flight, so every call
      // made before this one has settled already, and call order holds.
      try {
        return Promise.resolve(settlement.fulfilled(answer));
      } catch (failure) {
        return Promise.reject(failure);
      }
    }
    return this.#settleLater(native, answer, settlement);
  }

  /** Settles the call once `pending` does, unless a trap fails it first.
   *  (Apart from #invoke, for its closure: ARCHITECTURE.md, Rules written once.) */
  #settleLater<R, T>(native: CachedApi, pending: Promise<R>, settlement: Settlement<R, T>): Promise<T> {
    const { facts } = settlement;
    return new Promise<T>((resolve, reject) => {
      this.#inFlight.set(reject, settlement);
      // Each outcome is heard only while the call is in flight: a trap may have failed it first.
      pending.then(
        (raw) => {
          if (!this.#inFlight.delete(reject)) return;
          if (facts) addFacts(native, facts);
          try {
            resolve(settlement.fulfilled(raw));
          } catch (failure) {
            reject(failure);
          }
        },
        (error) => {
          if (!this.#inFlight.delete(reject)) return;
          if (facts) addFacts(native, facts);
          reject(settlement.rejected(error));
        },
      );
    });
  }

  /** Opens a store in a fresh instance; a trap while it opens fails the open. */
  async #openInstance(): Promise<Instance> {
    let opened: Instance | undefined;
    let failOpen: (error: unknown) => void = () => {};
    const trappedWhileOpening = new Promise<never>((_, reject) => (failOpen = reject));
    const trapped = (error: unknown) => (opened ? this.#trapped(opened, error) : failOpen(error));
    const raw = await Promise.race([this.#openNative(this.#options, trapped), trappedWhileOpening]);
    opened = {
      ...raw,
      native: new ReadCachingStore(raw.native, raw.owned ?? (() => true), readCacheUse(this.#options)),
    };
    this.#lastBreakerState = "CLOSED";
    opened.native.onStateChange((state, previous) => {
      this.#lastBreakerState = state;
      this.#onStateChange(state, previous);
    });
    return opened;
  }

  /** `opened` trapped: unless it was already replaced (old news), fail the
   *  calls in flight, release what it held and, unless disposed, reopen. */
  #trapped(opened: Instance, error: unknown): void {
    const state = this.#state;
    if ((state.kind !== "open" && state.kind !== "disposed") || state.opened !== opened) return;
    const failure = ownError(
      "INTERNAL",
      `larder's core stopped on an internal error (${describe(error)}); the call did not complete and the store is being reopened`,
      { cause: error },
    );
    // A call the instance answered just before it trapped has its answer
    // queued as a microtask: let those land first, then fail the rest.
    setTimeout(() => {
      const inFlight = [...this.#inFlight];
      this.#inFlight.clear();
      for (const [reject, settlement] of inFlight) reject(settlement.rejected(failure));
    });
    this.#carryCounters(opened);
    opened.releaseAfterTrap();
    if (state.kind === "disposed") state.opened = undefined;
    else this.#reopen();
  }

  /** Keeps the counters of a trapped instance. Its memory outlives the trap
   *  and the read touches no state the trap can have left half-changed; a
   *  worker read them as its core trapped (js/worker.ts). */
  #carryCounters(opened: Instance): void {
    const carry = (lost: Float64Array) => this.#carried.carry(lost);
    try {
      const lost = opened.native.coreMetrics();
      if (lost instanceof Float64Array) carry(lost);
      else {
        const carrying: Promise<void> = lost.then(carry, () => {}).finally(() => {
          if (this.#carrying === carrying) this.#carrying = undefined;
        });
        this.#carrying = carrying;
      }
    } catch {
      // The instance cannot be read: its counters since the open are lost.
    }
  }

  /** Opens a new instance in place of the lost one. */
  #reopen(): void {
    const reopened: Promise<Instance | undefined> = this.#openInstance().then(
      (opened) => {
        if (this.#state.kind === "reopening" && this.#state.reopened === reopened) this.#state = { kind: "open", opened };
        return opened;
      },
      (error) => {
        if (this.#state.kind === "reopening" && this.#state.reopened === reopened) {
          this.#state = { kind: "failed", failure: toStorageError(error) };
        }
        return undefined;
      },
    );
    this.#state = { kind: "reopening", reopened };
  }
}
