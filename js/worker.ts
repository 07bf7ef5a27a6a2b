/**
 * The worker end of a RemoteStore (js/remote.ts): a dedicated module worker
 * that opens one wasm store (OPFS lives only here) and runs the calls posted
 * to it, answering each by its id. A call starts on the store in the order it
 * arrived, so the store's queue keeps the caller's order.
 */

import type { NativeStore } from "./wasm/larder.js";
import { toStorageError } from "./errors.js";
import { errorFields, startRuntime } from "./remote.js";
import type { ForwardedMethod, LoaderStandIn, Lookup, WorkerReply, WorkerRequest } from "./remote.js";

/** What this file uses of a dedicated worker's global scope (the DOM lib types `self` as a window). */
interface WorkerScope {
  navigator: Navigator;
  postMessage(message: WorkerReply): void;
  addEventListener(type: "message", listener: (event: MessageEvent<WorkerRequest>) => void): void;
  addEventListener(type: "messageerror", listener: () => void): void;
}

const scope = self as unknown as WorkerScope;

let store: NativeStore | undefined;

/** Thrown by the "miss" stand-in loader: the key is missing, so the caller's loader must run. */
const MISS = Symbol("miss");

const methods = {
  /** Opens the store, holding the Web Lock `lifeLock` for as long as this
   *  worker lives (the caller learns of its end when the lock is released).
   *  Resolves with whether it holds it (no Web Locks, no lock). */
  async open(options: unknown, lifeLock: unknown): Promise<boolean> {
    const holdsLifeLock = typeof lifeLock === "string" && scope.navigator.locks !== undefined;
    if (holdsLifeLock) {
      await new Promise<void>((held) => {
        void scope.navigator.locks.request(lifeLock, () => {
          held();
          return new Promise(() => {});
        });
      });
    }
    const runtime = await startRuntime(stop);
    store = (await runtime.openStore(options, undefined)) as NativeStore;
    store.onStateChange((state: string, previous: string) => scope.postMessage({ id: 0, state, previous }));
    return holdsLifeLock;
  },

  /** The core's getOrSet, with a stand-in for the caller's loader. */
  async getOrSet(
    ns: unknown,
    key: unknown,
    standIn: LoaderStandIn,
    options: unknown,
    loaded?: unknown,
  ): Promise<Lookup> {
    const loader =
      standIn === "miss"
        ? () => {
            throw MISS;
          }
        : standIn === "loaded"
          ? () => loaded
          : standIn.given;
    try {
      return { hit: true, value: await theStore().getOrSet(ns, key, loader, options) };
    } catch (error) {
      if (error === MISS) return { hit: false };
      throw error;
    }
  },
};

function theStore(): NativeStore {
  if (!store) throw new Error("no store is open in this worker");
  return store;
}

function run({ method, args }: WorkerRequest): Promise<unknown> {
  if (method === "open") return methods.open(args[0], args[1]);
  if (method === "getOrSet") return methods.getOrSet(args[0], args[1], args[2] as LoaderStandIn, args[3], args[4]);
  const native = theStore();
  return (native[method satisfies ForwardedMethod] as (...args: unknown[]) => Promise<unknown>).apply(native, args);
}

function reply(message: WorkerReply): void {
  try {
    scope.postMessage(message);
  } catch (error) {
    // The core's results always clone; if one ever does not, its caller still gets an answer.
    scope.postMessage({ id: message.id, ok: false, error: errorFields(toStorageError(error)) });
  }
}

/**
 * The core trapped (a Rust panic): its instance can never run again. The
 * worker fails on purpose; the calling thread sees it fail, rejects what was
 * waiting with INTERNAL and reopens the store in a new worker.
 */
function stop(error: unknown): void {
  setTimeout(() => {
    throw error;
  });
}

scope.addEventListener("message", async (event: MessageEvent<WorkerRequest>) => {
  const { id } = event.data;
  try {
    reply({ id, ok: true, value: await run(event.data) });
  } catch (error) {
    // A trap during the call: the caller's side must know before its next call.
    const trapped = error instanceof WebAssembly.RuntimeError;
    reply({ id, ok: false, error: errorFields(toStorageError(error)), ...(trapped && { trapped }) });
    if (trapped) stop(error);
  }
});

// A request that could not be read has no id to answer: the caller treats this as the worker failing.
scope.addEventListener("messageerror", () => {
  throw new Error("a request to the storage worker could not be read");
});
