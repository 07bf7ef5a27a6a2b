/**
 * A store that lives in a dedicated worker (browsers keep OPFS databases
 * there), seen from the calling thread. `RemoteStore` has the NativeStore
 * method set, so `Storage` wraps it like the wasm store; each call crosses to
 * the worker (js/worker.ts) as a message with an id and settles from the
 * worker's reply. `getOrSet` runs its loader here, on the caller's thread.
 *
 * This file also holds what both ends share: the message format and the wasm
 * loader.
 */

import { createRuntime, type Runtime } from "./wasm/larder.js";
import { StorageError, ownError, toStorageError } from "./errors.js";
import type { OwnCode, StorageErrorFields } from "./errors.js";
import type { StorageOptions } from "./types.js";

// ---- shared by both ends ----------------------------------------------------

let compiling: Promise<WebAssembly.Module> | undefined;

/** A fresh wasm instance, for one store; the module (next to this file) is
 *  compiled once per thread. `trapped` hears of a trap in a task it ran. */
export async function startRuntime(trapped: (error: unknown) => void): Promise<Runtime> {
  compiling ??= fetch(new URL("./wasm/larder_bg.wasm", import.meta.url))
    .then((response) => response.arrayBuffer())
    .then((bytes) => WebAssembly.compile(bytes));
  const runtime = createRuntime(trapped);
  await runtime.init({ module_or_path: await compiling });
  return runtime;
}

/** The NativeStore calls the worker runs as they are. */
export type ForwardedMethod =
  | "set"
  | "setJson"
  | "get"
  | "has"
  | "delete"
  | "mget"
  | "mset"
  | "mdelete"
  | "keys"
  | "invalidate"
  | "purgeExpired"
  | "count"
  | "getCurrentCacheSize"
  | "clear"
  | "dispose";

/**
 * What the worker is asked to do: `open` (options, then the name of a Web
 * Lock for the worker to hold as long as it lives; it answers whether it
 * holds it), a forwarded call, or `getOrSet` (ns, key, a LoaderStandIn,
 * options, then the loaded value if any).
 */
export type WorkerMethod = ForwardedMethod | "open" | "getOrSet";

export interface WorkerRequest {
  id: number;
  method: WorkerMethod;
  args: unknown[];
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: StorageErrorFields; trapped?: true }
  /** Not a reply: a circuit breaker transition, pushed as it happens. */
  | { id: 0; state: string; previous: string };

/**
 * The loader the worker hands the core's getOrSet, as functions cannot cross:
 * `"miss"` reports a miss instead of loading (the caller then runs its
 * loader); `"loaded"` returns the value the caller loaded (the request's last
 * argument); `{ given }` is a caller's loader that is not a function, for the
 * core to refuse.
 */
export type LoaderStandIn = "miss" | "loaded" | { given: unknown };

/** The worker's getOrSet answer: the value found or stored, or a miss. */
export type Lookup = { hit: true; value: unknown } | { hit: false };

/** Every field of a StorageError, as a plain object that can be posted. */
export function errorFields(error: StorageError): StorageErrorFields {
  const { code, category, retryable, recoveryAction, userMessage, message, sqliteCode } = error;
  return { code, category, retryable, recoveryAction, userMessage, message, sqliteCode };
}

// ---- errors raised on this side ----------------------------------------------

const disposed = () => ownError("DISPOSED", "the store has been disposed");

/** INTERNAL, as toStorageError reports anything that is not a StorageError. */
const internal = (message: string) => toStorageError(new Error(message));

// ---- what may cross to the worker --------------------------------------------

/**
 * What an argument is, which decides the code it is refused with, as the core
 * would: a `key` (or namespace) → INVALID_KEY; a `value` → INVALID_VALUE; an
 * `option` bag or the getOrSet `loader` → INVALID_ARGUMENT; a list of `keys`
 * or mset's `entries` → INVALID_ARGUMENT for the argument itself, else the
 * code of the key or value inside at fault.
 */
type ArgKind = "key" | "keys" | "value" | "entries" | "option" | "loader";
/** An argument, its kind and (for messages) its name, if not the kind's. */
type Arg = readonly [kind: ArgKind, value: unknown, name?: string];

const NAMES: Record<ArgKind, string> = {
  key: "key",
  keys: "keys",
  value: "value",
  entries: "entries",
  option: "options",
  loader: "getOrSet loader",
};

const isObject = (value: unknown): value is object =>
  (typeof value === "object" && value !== null) || typeof value === "function";

/** A plain object: `{}` or `Object.create(null)`, from this realm or another (as the core decides). */
function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) return true;
  return Object.getPrototypeOf(prototype) === null && constructorName(value) === "Object";
}

function constructorName(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? name : "an anonymous class";
}

const tag = (value: unknown) => Object.prototype.toString.call(value);
const isUint8Array = (value: unknown) => ArrayBuffer.isView(value) && tag(value) === "[object Uint8Array]";
const isMap = (value: unknown): value is Map<unknown, unknown> => tag(value) === "[object Map]";

/** mset's entries (a Map, [key, value] pairs or a plain object) as labelled
 *  pairs; elements that are not pairs are the core's to refuse. */
function entryPairs(entries: object): Array<[label: string, key: unknown, value: unknown]> {
  const pairs: Array<[string, unknown, unknown]> = [];
  const add = (key: unknown, value: unknown) =>
    pairs.push([`entries[${pairs.length}] (key ${typeof key === "string" ? JSON.stringify(key) : "?"})`, key, value]);
  if (isMap(entries)) {
    Map.prototype.forEach.call(entries, (value, key) => add(key, value));
  } else if (Array.isArray(entries)) {
    for (const pair of entries) Array.isArray(pair) ? add(pair[0], pair[1]) : add(undefined, undefined);
  } else {
    for (const [key, value] of Object.entries(entries)) add(key, value);
  }
  return pairs;
}

/** The core's nesting limit: anything deeper is the core's to refuse. */
const MAX_DEPTH = 128;

/**
 * Why structured cloning would not carry `value` to the worker as it is, or
 * undefined if it would: cloning turns class instances into plain objects and
 * (`symbols`) drops symbol-keyed properties, both of which the core refuses.
 * What cloning keeps (Date, Map, holes, undefined, cycles, ...) the core
 * judges itself.
 */
function unfaithful(
  value: unknown,
  label: string,
  symbols: boolean,
  seen = new Set<object>(),
  depth = 0,
): string | undefined {
  if (typeof value !== "object" || value === null || seen.has(value) || depth > MAX_DEPTH) return undefined;
  seen.add(value);
  if (!Array.isArray(value)) {
    if (isUint8Array(value)) return undefined;
    if (!isPlainObject(value)) return `${label} is an instance of ${constructorName(value)}, not a plain object`;
    if (symbols && Object.getOwnPropertySymbols(value).length > 0) {
      return `${label} has symbol-keyed properties, which JSON cannot store`;
    }
  }
  for (const [name, member] of Object.entries(value)) {
    const reason = unfaithful(member, `${label}[${JSON.stringify(name)}]`, symbols, seen, depth + 1);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** The refusal of an argument that cloning would change, if any. */
function refuseUnfaithful([kind, arg, name = NAMES[kind]]: Arg): StorageError | undefined {
  const refuse = (code: OwnCode, reason: string | undefined) =>
    reason === undefined ? undefined : ownError(code, reason);
  try {
    switch (kind) {
      case "value":
        return refuse("INVALID_VALUE", unfaithful(arg, name, true));
      case "option":
        return refuse("INVALID_ARGUMENT", unfaithful(arg, name, false));
      case "entries":
        if (!isObject(arg)) return undefined; // the core refuses it
        if (!isMap(arg) && !Array.isArray(arg) && !isPlainObject(arg)) {
          return refuse(
            "INVALID_ARGUMENT",
            `entries must be a Map, an array of [key, value] pairs or a plain object, got an instance of ${constructorName(arg)}`,
          );
        }
        for (const [label, , value] of entryPairs(arg)) {
          const refused = refuse("INVALID_VALUE", unfaithful(value, `${label}: value`, true));
          if (refused) return refused;
        }
        return undefined;
      default:
        return undefined;
    }
  } catch (thrown) {
    // A getter or a Proxy trap threw while the argument was read.
    const code = kind === "option" ? "INVALID_ARGUMENT" : "INVALID_VALUE";
    return ownError(code, `${name} threw while being read: ${describe(thrown)}`);
  }
}

/** The refusal of arguments postMessage could not clone (DataCloneError, or
 *  what a getter threw): blames the first argument that does not clone alone. */
function cloneFailure(args: readonly Arg[], error: unknown): StorageError {
  const culprit: Arg = args.find(([, arg]) => !clones(arg)) ?? args[0] ?? ["option", undefined];
  const [kind, arg, name = NAMES[kind]] = culprit;
  return ownError(uncloneableCode(kind, arg), `${name} cannot be sent to the storage worker: ${describe(error)}`);
}

function uncloneableCode(kind: ArgKind, arg: unknown): OwnCode {
  switch (kind) {
    case "key":
      return "INVALID_KEY";
    case "value":
      return "INVALID_VALUE";
    case "keys":
      return Array.isArray(arg) ? "INVALID_KEY" : "INVALID_ARGUMENT";
    case "entries":
      for (const [, key, value] of isObject(arg) ? entryPairs(arg) : []) {
        if (!clones(key)) return "INVALID_KEY";
        if (!clones(value)) return "INVALID_VALUE";
      }
      return "INVALID_ARGUMENT";
    default:
      return "INVALID_ARGUMENT";
  }
}

function clones(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function describe(thrown: unknown): string {
  return thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
}

// ---- the store ----------------------------------------------------------------

interface Settle {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** How long `dispose` waits for the worker to close the store, beyond the
 *  longest an operation may run (`operationTimeoutMs`), before ending it. */
const DISPOSE_MARGIN_MS = 2_000;
const DEFAULT_OPERATION_TIMEOUT_MS = 30_000;

export class RemoteStore {
  readonly #worker: Worker;
  /** Calls sent and not yet answered, by id. */
  readonly #pending = new Map<number, Settle>();
  /** `getOrSet` callers waiting on a loader, by namespace and key. */
  readonly #flights = new Map<string, Settle[]>();
  readonly #disposeWaitMs: number;
  #nextId = 1;
  #disposal: Promise<void> | undefined;
  /** Why the worker is gone, once it is (it stopped or failed). */
  #lost: string | undefined;
  /** The breaker's state as the worker last reported it. */
  #breakerState = "CLOSED";
  #stateListener: ((state: string, previous: string) => void) | undefined;
  /** Told when the worker is lost without a dispose (its core trapped). */
  readonly #trapped: (error: unknown) => void;

  private constructor(worker: Worker, disposeWaitMs: number, trapped: (error: unknown) => void) {
    this.#worker = worker;
    this.#disposeWaitMs = disposeWaitMs;
    this.#trapped = trapped;
    worker.addEventListener("message", (event: MessageEvent<WorkerReply>) => this.#answer(event.data));
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      this.#lose(`the storage worker failed: ${event.message || "it could not be started"}`);
    });
    worker.addEventListener("messageerror", () => this.#lose("a reply from the storage worker could not be read"));
  }

  /**
   * Starts a worker with `startWorker` and opens the store in it. Options
   * cross by structured clone, so a `clock` function is refused. `trapped`
   * is told if the worker is later lost without a dispose.
   */
  static async open(
    startWorker: () => Worker,
    options: StorageOptions | undefined,
    trapped: (error: unknown) => void,
  ): Promise<RemoteStore> {
    const refused = refuseUnfaithful(["option", options]);
    if (refused) throw refused;
    if (typeof readOption(options, "clock") === "function") {
      throw ownError("INVALID_ARGUMENT", 'option clock is only supported for ":memory:" stores in browsers');
    }
    const timeout = readOption(options, "operationTimeoutMs");
    const operationMs = typeof timeout === "number" && timeout > 0 ? timeout : DEFAULT_OPERATION_TIMEOUT_MS;
    const store = new RemoteStore(startWorker(), operationMs + DISPOSE_MARGIN_MS, trapped);
    const lifeLock = `larder-worker-${crypto.randomUUID?.() ?? Math.random()}`;
    let holdsLifeLock: unknown;
    try {
      holdsLifeLock = await store.#send("open", ["option", options], ["option", lifeLock]);
    } catch (error) {
      store.#worker.terminate();
      throw error;
    }
    // Granted once the worker no longer holds it: when it has stopped, whyever.
    if (holdsLifeLock === true) {
      navigator.locks.request(lifeLock, () => store.#lose("the storage worker stopped")).catch(() => {});
    }
    return store;
  }

  set(ns: unknown, key: unknown, value: unknown, options: unknown): Promise<unknown> {
    return this.#send("set", ["key", ns], ["key", key], ["value", value], ["option", options]);
  }

  /** A set whose value the caller has made JSON text of (js/plain-json.ts):
   *  a string crosses to the worker cheaper than the object. */
  setJson(ns: unknown, key: unknown, json: string, options: unknown): Promise<unknown> {
    return this.#send("setJson", ["key", ns], ["key", key], ["value", json], ["option", options]);
  }

  get(ns: unknown, key: unknown): Promise<unknown> {
    return this.#send("get", ["key", ns], ["key", key]);
  }

  has(ns: unknown, key: unknown): Promise<unknown> {
    return this.#send("has", ["key", ns], ["key", key]);
  }

  delete(ns: unknown, key: unknown): Promise<unknown> {
    return this.#send("delete", ["key", ns], ["key", key]);
  }

  mget(ns: unknown, keys: unknown): Promise<unknown> {
    return this.#send("mget", ["key", ns], ["keys", keys]);
  }

  mset(ns: unknown, entries: unknown, options: unknown): Promise<unknown> {
    return this.#send("mset", ["key", ns], ["entries", entries], ["option", options]);
  }

  mdelete(ns: unknown, keys: unknown): Promise<unknown> {
    return this.#send("mdelete", ["key", ns], ["keys", keys]);
  }

  keys(ns: unknown, options: unknown): Promise<unknown> {
    return this.#send("keys", ["key", ns], ["option", options]);
  }

  invalidate(ns: unknown, options: unknown): Promise<unknown> {
    return this.#send("invalidate", ["key", ns], ["option", options]);
  }

  purgeExpired(scope: unknown): Promise<unknown> {
    return this.#send("purgeExpired", ["key", scope]);
  }

  count(scope: unknown): Promise<unknown> {
    return this.#send("count", ["key", scope]);
  }

  getCurrentCacheSize(scope: unknown): Promise<unknown> {
    return this.#send("getCurrentCacheSize", ["key", scope]);
  }

  clear(scope: unknown): Promise<unknown> {
    return this.#send("clear", ["key", scope]);
  }

  /**
   * The stored value of `key`, or else `loader`'s result, stored. The core's
   * getOrSet in the worker checks the call and looks the key up; on a miss
   * the loader runs here, once for all concurrent callers of the key, and the
   * core's getOrSet stores its result (unless a value was set meanwhile, which
   * is then the answer).
   */
  async getOrSet(ns: unknown, key: unknown, loader: unknown, options: unknown): Promise<unknown> {
    const standIn: LoaderStandIn = typeof loader === "function" ? "miss" : { given: loader };
    const args: Arg[] = [["key", ns], ["key", key], ["loader", standIn], ["option", options]];
    const found = (await this.#send("getOrSet", ...args)) as Lookup;
    if (found.hit) return found.value;
    if (this.#disposal) throw disposed();
    // The core accepted them: `ns` is a name or undefined, `key` a string, `loader` a function.
    return this.#join(ns as string | undefined, key as string, loader as (key: string) => unknown, options);
  }

  /** Stops taking calls, rejects waiting getOrSet callers with DISPOSED, has
   *  the worker close the store (releasing its lock), then ends the worker. */
  dispose(): Promise<void> {
    this.#disposal ??= this.#dispose();
    return this.#disposal;
  }

  isDisposed(): boolean {
    return this.#disposal !== undefined;
  }

  breakerState(): string {
    return this.#breakerState;
  }

  onStateChange(listener: (state: string, previous: string) => void): void {
    this.#stateListener = listener;
  }

  /** NativeStore's: releases this handle, which here means disposing. */
  free(): void {
    void this.dispose();
  }

  [Symbol.dispose](): void {
    this.free();
  }

  async #dispose(): Promise<void> {
    for (const waiters of this.#flights.values()) for (const waiter of waiters.splice(0)) waiter.reject(disposed());
    this.#flights.clear();
    if (!this.#lost) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#disposeWaitMs)));
      await Promise.race([this.#post("dispose", []).catch(() => {}), gaveUp]);
      clearTimeout(timer);
    }
    this.#worker.terminate();
    this.#rejectPending(disposed);
  }

  /** Runs the loader for a getOrSet miss, or joins the run under way for the key. */
  #join(
    ns: string | undefined,
    key: string,
    loader: (key: string) => unknown,
    options: unknown,
  ): Promise<unknown> {
    const flight = JSON.stringify([ns ?? null, key]);
    return new Promise((resolve, reject) => {
      const joined = this.#flights.get(flight);
      if (joined) return void joined.push({ resolve, reject });
      const waiters = [{ resolve, reject }];
      this.#flights.set(flight, waiters);
      const land = (settle: (waiter: Settle) => void) => {
        if (this.#flights.get(flight) === waiters) this.#flights.delete(flight);
        for (const waiter of waiters.splice(0)) settle(waiter);
      };
      this.#load(ns, key, loader, options).then(
        // Each caller gets its own copy.
        (stored) => land((waiter) => waiter.resolve(structuredClone(stored))),
        (error) => land((waiter) => waiter.reject(error)),
      );
    });
  }

  /** Calls the loader, then has the worker store its result; resolves with the value stored. */
  async #load(
    ns: string | undefined,
    key: string,
    loader: (key: string) => unknown,
    options: unknown,
  ): Promise<unknown> {
    const loaded = await loader(key);
    const name = `the getOrSet loader for key ${JSON.stringify(key)} returned a value that cannot be stored: value`;
    const stored = await this.#send(
      "getOrSet",
      ["key", ns],
      ["key", key],
      ["loader", "loaded" satisfies LoaderStandIn],
      ["option", options],
      ["value", loaded, name],
    );
    return (stored as Lookup & { hit: true }).value;
  }

  /** Checks and posts a call, unless the store is disposed. */
  #send(method: WorkerMethod, ...args: Arg[]): Promise<unknown> {
    if (this.#disposal) return Promise.reject(disposed());
    for (const arg of args) {
      const refused = refuseUnfaithful(arg);
      if (refused) return Promise.reject(refused);
    }
    return this.#post(method, args);
  }

  /** Posts a request; its promise settles from the worker's reply, or when the worker is lost or disposed. */
  #post(method: WorkerMethod, args: readonly Arg[]): Promise<unknown> {
    if (this.#lost) return Promise.reject(internal(this.#lost));
    const id = this.#nextId++;
    const request: WorkerRequest = { id, method, args: args.map(([, arg]) => arg) };
    try {
      this.#worker.postMessage(request);
    } catch (error) {
      return Promise.reject(cloneFailure(args, error));
    }
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  #answer(reply: WorkerReply): void {
    if ("state" in reply) {
      this.#breakerState = reply.state;
      this.#stateListener?.(reply.state, reply.previous);
      return;
    }
    const call = this.#pending.get(reply.id);
    if (!call) return;
    this.#pending.delete(reply.id);
    if (reply.ok) {
      call.resolve(reply.value);
    } else {
      call.reject(new StorageError(reply.error));
      // Lost now, not when the worker's error event comes: the caller's next
      // call must go to a new worker.
      if (reply.trapped) this.#lose("the storage worker's core trapped (a Rust panic)");
    }
  }

  /** The worker is gone or unusable: every call waiting on it fails (DISPOSED
   *  if dispose() was called, else INTERNAL), and so does every later one. */
  #lose(reason: string): void {
    if (this.#lost) return;
    this.#lost = reason;
    this.#worker.terminate();
    if (!this.#disposal) this.#trapped(new Error(reason));
    this.#rejectPending(this.#disposal ? disposed : () => internal(reason));
  }

  #rejectPending(error: () => StorageError): void {
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of calls) call.reject(error());
  }
}

/** An option's value, or undefined if `options` is not an object or reading it throws (the core reports that). */
function readOption(options: unknown, name: string): unknown {
  try {
    return isObject(options) ? (options as Record<string, unknown>)[name] : undefined;
  } catch {
    return undefined;
  }
}
