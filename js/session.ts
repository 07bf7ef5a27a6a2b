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

import { ownError, toStorageError, type StorageError } from "./errors.js";
import type { NativeStore } from "./wasm/larder.js";
import type { BreakerState, StorageOptions } from "./types.js";

/** A store opened in a fresh wasm instance (or worker). */
export interface OpenedStore {
  native: NativeStore;
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

type StateListener = (state: BreakerState, previous: BreakerState) => void;

/** Whether `error` is a wasm trap, after which the instance is unusable. */
const isTrap = (error: unknown): boolean => error instanceof WebAssembly.RuntimeError;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class Session {
  readonly #openNative: NativeOpener;
  readonly #options: StorageOptions | undefined;
  readonly #onStateChange: StateListener;
  #current!: OpenedStore;
  /** Counts instances: a trap reported by an instance already replaced is old news. */
  #generation = 0;
  /** The instance trapped and no new one is open yet. */
  #lost = false;
  /** Set while a new instance is being opened. */
  #reopening: Promise<void> | undefined;
  /** Why the last reopening failed. */
  #reopenFailure: StorageError | undefined;
  #disposed = false;
  #lastBreakerState: BreakerState = "CLOSED";
  /** The reject functions of the calls in flight. */
  readonly #inFlight = new Set<(error: StorageError) => void>();

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
    await session.#openInstance();
    return session;
  }

  /** Runs `invoke` on the native store; a trap, during the call or while it
   *  waits in the queue, rejects it with INTERNAL and starts the reopening. */
  async call<T>(invoke: (native: NativeStore) => Promise<T>): Promise<T> {
    // A reopening that failed (storage still failing) is tried again.
    if (this.#lost && !this.#disposed) this.#reopen();
    if (this.#reopening) await this.#reopening;
    if (this.#lost) throw this.#disposed ? ownError("DISPOSED", "the store has been disposed") : this.#reopenFailure;
    const generation = this.#generation;
    return new Promise<T>((resolve, reject) => {
      this.#inFlight.add(reject);
      const settle = (finish: () => void) => {
        this.#inFlight.delete(reject);
        finish();
      };
      let pending: Promise<T>;
      try {
        pending = invoke(this.#current.native);
      } catch (error) {
        if (isTrap(error)) this.#trapped(generation, error);
        settle(() => reject(error));
        return;
      }
      pending.then(
        (value) => settle(() => resolve(value)),
        (error) => settle(() => reject(error)),
      );
    });
  }

  get breakerState(): BreakerState {
    if (this.#lost) return this.#lastBreakerState;
    return this.#current.native.breakerState() as BreakerState;
  }

  isDisposed(): boolean {
    return this.#disposed;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    if (this.#reopening) await this.#reopening;
    if (this.#lost) return;
    return this.#current.native.dispose();
  }

  /** Opens a store in a fresh instance; a trap while it opens fails the open. */
  async #openInstance(): Promise<void> {
    const generation = this.#generation;
    let opening = true;
    let failOpen: (error: unknown) => void = () => {};
    const trappedWhileOpening = new Promise<never>((_, reject) => (failOpen = reject));
    const trapped = (error: unknown) => (opening ? failOpen(error) : this.#trapped(generation, error));
    this.#current = await Promise.race([this.#openNative(this.#options, trapped), trappedWhileOpening]);
    opening = false;
    this.#lastBreakerState = "CLOSED";
    this.#current.native.onStateChange((state: BreakerState, previous: BreakerState) => {
      this.#lastBreakerState = state;
      this.#onStateChange(state, previous);
    });
  }

  #trapped(generation: number, error: unknown): void {
    if (generation !== this.#generation) return;
    this.#generation += 1;
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
      for (const reject of inFlight) reject(failure);
    });
    this.#lost = true;
    this.#current.releaseAfterTrap();
    this.#reopen();
  }

  /** Opens a new instance in place of the lost one, unless that is under way. */
  #reopen(): void {
    this.#reopening ??= (async () => {
      try {
        await this.#openInstance();
        this.#lost = false;
        if (this.#disposed) await this.#current.native.dispose();
      } catch (error) {
        this.#reopenFailure = toStorageError(error);
      } finally {
        this.#reopening = undefined;
      }
    })();
  }
}
