/**
 * A store that lives in a dedicated worker (browsers keep OPFS databases
 * there), seen from the calling thread: a NativeApi whose store calls each
 * cross to the worker (js/worker.ts) as a request with an id, after the
 * checks of js/clone-check.ts, and settle from the worker's reply. The
 * requests of one turn cross as one message (js/outbox.ts).
 */

import { StorageError, ownError, toStorageError } from "./errors.js";
import { cloneFailure, refuseUnfaithful, type Arg } from "./clone-check.js";
import type { Namespace, NativeApi, StoreCall } from "./native-api.js";
import { Outbox, ownBuffers } from "./outbox.js";
import { LOAD_OPTIONS, readOption } from "./load-options.js";
import { PAGE_INSTEAD } from "./fetched-runtime.js";
import { loadFailed } from "./runtime.js";
import { STORE_CALLS, type Opened, type WorkerReply, type WorkerRequest } from "./protocol.js";
import type { StoredValue } from "./stored.js";
import type { BreakerState, StateListener, StorageOptions } from "./types.js";

interface Settle {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** The call's trace tag, if it is traced. */
  trace?: number;
}

const disposed = () => ownError("DISPOSED", "the store has been disposed");

/** INTERNAL, as toStorageError reports anything that is not a StorageError. */
const internal = (message: string) => toStorageError(new Error(message));

/** How long `dispose` waits for the worker to close the store, beyond the
 *  longest an operation may run (`operationTimeoutMs`), before ending it. */
const DISPOSE_MARGIN_MS = 2_000;
/** The longest delay setTimeout keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A worker just started, and what to call its script in messages. */
export interface StartedWorker {
  worker: Worker;
  script: string;
}

// The store calls, which the static block below defines from STORE_CALLS.
export interface RemoteStore extends Pick<NativeApi, StoreCall> {}

export class RemoteStore implements NativeApi {
  readonly #worker: Worker;
  readonly #outbox: Outbox<WorkerRequest>;
  /** Calls sent and not yet answered, by id. */
  readonly #pending = new Map<number, Settle>();
  /** How long dispose waits for the worker; known once the store is open. */
  #disposeWaitMs = 0;
  #nextId = 1;
  /** The tag the calls sent now carry (0: none; NativeApi `traceNext`). */
  #traceTag = 0;
  /** The trace facts that came with replies, by tag, until taken. */
  readonly #traceFacts = new Map<number, Float64Array>();
  #disposal: Promise<void> | undefined;
  /** Why the worker is gone, once it is (it stopped or failed). */
  #lost: string | undefined;
  /** The breaker's state as the worker last reported it. */
  #breakerState: BreakerState = "CLOSED";
  #stateListener: StateListener | undefined;
  /** The core's counters as the worker's core trapped, for coreMetrics() to
   *  answer once the worker is gone (js/session.ts carries them over). */
  #countersAtTrap: Float64Array | undefined;
  /** Whether the worker has answered anything: until then, its failing is
   *  its script failing to load. */
  #answered = false;
  /** What the worker's replies said was evicted, until taken (NativeApi
   *  `takeEvicted`); null once more than they named. */
  #evicted: string[] | null | undefined;
  /** Told when the worker is lost without a dispose (its core trapped). */
  readonly #trapped: (error: unknown) => void;

  static {
    for (const method of Object.keys(STORE_CALLS) as StoreCall[]) {
      Object.defineProperty(this.prototype, method, {
        value(this: RemoteStore, ...args: unknown[]) {
          return this.#send(method, args);
        },
        writable: true,
        configurable: true,
      });
    }
  }

  private constructor({ worker, script }: StartedWorker, trapped: (error: unknown) => void) {
    this.#worker = worker;
    this.#outbox = new Outbox((message, transfer) => worker.postMessage(message, transfer));
    this.#trapped = trapped;
    worker.addEventListener("message", (event: MessageEvent<WorkerReply[]>) => {
      this.#answered = true;
      for (const reply of event.data) this.#answer(reply);
    });
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      if (this.#answered) return this.#lose(`the storage worker failed: ${event.message || "no reason given"}`);
      const reason = `larder's worker script ${script} failed to load${event.message ? ` (${event.message})` : ""}`;
      this.#lose(reason, () => loadFailed(`${reason}. If a page came back instead of the script: ${PAGE_INSTEAD}`));
    });
    worker.addEventListener("messageerror", () => this.#lose("a reply from the storage worker could not be read"));
  }

  /**
   * Starts a worker with `startWorker` and opens the store in it, the
   * worker's wasm module fetched from `wasmUrl` (default: beside the
   * worker). Options cross by structured clone, so a `clock` function is
   * refused. `trapped` is told if the worker is later lost without a dispose.
   */
  static async open(
    startWorker: () => StartedWorker,
    givenOptions: StorageOptions | undefined,
    trapped: (error: unknown) => void,
    wasmUrl?: URL,
  ): Promise<RemoteStore> {
    // The load options are the page's to use; the worker is told the wasm's address.
    const options = withoutLoadOptions(givenOptions);
    const refused = refuseUnfaithful(["option", options]);
    if (refused) throw refused;
    if (typeof readOption(options, "clock") === "function") {
      throw ownError("INVALID_ARGUMENT", 'option clock is only supported for ":memory:" stores in browsers');
    }
    const store = new RemoteStore(startWorker(), trapped);
    const lifeLock = `larder-worker-${crypto.randomUUID?.() ?? Math.random()}`;
    let opened: Opened;
    try {
      const open: Arg[] = [["option", options], ["option", lifeLock], ["option", wasmUrl?.href]];
      opened = (await store.#post("open", open)) as Opened;
    } catch (error) {
      store.#worker.terminate();
      throw error;
    }
    store.#disposeWaitMs = Math.min(opened.operationTimeoutMs + DISPOSE_MARGIN_MS, MAX_TIMER_MS);
    // Granted once the worker no longer holds it: when it has stopped, whyever.
    if (opened.holdsLifeLock) {
      navigator.locks.request(lifeLock, () => store.#lose("the storage worker stopped")).catch(() => {});
    }
    return store;
  }

  /** Stops taking calls, has the worker close the store (releasing its
   *  lock), then ends the worker; calls still waiting get DISPOSED. */
  dispose(): Promise<void> {
    this.#disposal ??= this.#dispose();
    return this.#disposal;
  }

  breakerState(): BreakerState {
    return this.#breakerState;
  }

  // A worker's answer is a message away: never given at once.
  getEntryNow(ns: Namespace, key: string): Promise<[stored: StoredValue, expiresAt: number | undefined] | undefined> {
    return this.getEntry(ns, key);
  }

  // Crosses in the same message as the call after it, before it; unanswered.
  noteReads(text: string, lengths: Uint32Array): void {
    if (this.#lost || this.#disposal) return;
    const request: WorkerRequest = { id: 0, method: "noteReads", args: [text, lengths] };
    this.#outbox.add(request, ownBuffers(lengths), () => {});
  }

  // The names came with the replies, whether wanted or not.
  takeEvicted(named: boolean): string[] | null | undefined {
    const evicted = this.#evicted;
    this.#evicted = undefined;
    return named ? evicted : undefined;
  }

  // The worker's clock is the page's (Date.now: a `clock` option cannot
  // cross), read after the worker's, so the cache's own readings are the
  // latest.
  latestTimeMs(): number {
    return -Infinity;
  }

  traceNext(tag: number): void {
    this.#traceTag = tag;
  }

  traceFacts(tag: number): Float64Array | undefined {
    const facts = this.#traceFacts.get(tag);
    this.#traceFacts.delete(tag);
    return facts;
  }

  onStateChange(listener: StateListener): void {
    this.#stateListener = listener;
  }

  async #dispose(): Promise<void> {
    if (!this.#lost) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#disposeWaitMs)));
      await Promise.race([this.#post("dispose", []).catch(() => {}), gaveUp]);
      clearTimeout(timer);
    }
    this.#worker.terminate();
    this.#rejectPending(disposed);
  }

  /** Checks and posts a store call, unless the store is disposed. */
  #send(method: StoreCall, values: readonly unknown[]): Promise<unknown> {
    if (method === "coreMetrics" && this.#countersAtTrap) return Promise.resolve(this.#countersAtTrap);
    if (this.#disposal) return Promise.reject(disposed());
    const args = STORE_CALLS[method].map((kind, index): Arg => [kind, values[index]]);
    for (const arg of args) {
      const refused = refuseUnfaithful(arg);
      if (refused) return Promise.reject(refused);
    }
    return this.#post(method, args);
  }

  /** Posts a request; its promise settles from the worker's reply, or when
   *  the worker is lost or disposed. The typed arrays of `flat` arguments
   *  are the facade's own and are transferred, not copied. */
  #post(method: WorkerRequest["method"], args: readonly Arg[]): Promise<unknown> {
    if (this.#lost) return Promise.reject(internal(this.#lost));
    const id = this.#nextId++;
    const request: WorkerRequest = { id, method, args: args.map(([, arg]) => arg) };
    const trace = this.#traceTag || undefined;
    if (trace) request.trace = trace;
    const transfer = args.flatMap(([kind, arg]) => (kind === "flat" ? ownBuffers(arg) : []));
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, trace });
      this.#outbox.add(request, transfer, (error) => {
        this.#pending.delete(id);
        reject(cloneFailure(args, error));
      });
    });
  }

  #answer(reply: WorkerReply): void {
    if ("state" in reply) {
      this.#breakerState = reply.state;
      this.#stateListener?.(reply.state, reply.previous);
      return;
    }
    if ("counters" in reply) {
      this.#countersAtTrap = reply.counters;
      return;
    }
    const call = this.#pending.get(reply.id);
    if (!call) return;
    this.#pending.delete(reply.id);
    if (call.trace && reply.facts) this.#traceFacts.set(call.trace, reply.facts);
    if (reply.evicted !== undefined) this.#noteEvicted(reply.evicted);
    if (reply.ok) {
      call.resolve(reply.value);
    } else {
      call.reject(new StorageError(reply.error));
      // Lost now, not when the worker's error event comes: the caller's next
      // call must go to a new worker.
      if (reply.trapped) this.#lose("the storage worker's core trapped (a Rust panic)");
    }
  }

  #noteEvicted(evicted: string[] | null): void {
    if (this.#evicted === null) return;
    this.#evicted = evicted === null ? null : [...(this.#evicted ?? []), ...evicted];
  }

  /** The worker is gone or unusable: every call waiting on it fails (DISPOSED
   *  if dispose() was called, else INTERNAL, or `loadFailure` if its script
   *  never loaded), and so does every later one. */
  #lose(reason: string, loadFailure?: () => StorageError): void {
    if (this.#lost) return;
    this.#lost = reason;
    this.#worker.terminate();
    // A worker that never loaded held no store: nothing trapped.
    if (!this.#disposal && !loadFailure) this.#trapped(new Error(reason));
    this.#rejectPending(this.#disposal ? disposed : (loadFailure ?? (() => internal(reason))));
  }

  #rejectPending(error: () => StorageError): void {
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of calls) call.reject(error());
  }
}

/** `options` without the load options, for a copy that must cross to a
 *  worker (a URL object does not clone); anything unreadable as it was. */
function withoutLoadOptions<T>(options: T): T {
  try {
    if (typeof options !== "object" || options === null || !LOAD_OPTIONS.some((name) => name in options)) {
      return options;
    }
    const kept = Object.entries(options).filter(([name]) => !(LOAD_OPTIONS as readonly string[]).includes(name));
    return Object.fromEntries(kept) as T;
  } catch {
    return options;
  }
}
