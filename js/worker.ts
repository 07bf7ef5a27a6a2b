/**
 * The worker end of a RemoteStore (js/remote.ts): a dedicated module worker
 * that opens one wasm store (OPFS lives only here) and runs the calls posted
 * to it, answering each by its id. A call starts on the store in the order it
 * arrived, so the store's queue keeps the caller's order. Requests arrive in
 * batches and replies leave in batches, one message per turn
 * (js/outbox.ts), the buffers of results transferred.
 */

import type { NativeStore } from "./wasm/larder.js";
import { errorFields, toStorageError } from "./errors.js";
import { Outbox, ownBuffers } from "./outbox.js";
import { isStoreCall, type Opened, type WorkerReply, type WorkerRequest } from "./protocol.js";
import { startFetchedRuntime } from "./fetched-runtime.js";
import type { StorageOptions } from "./types.js";

/** What this file uses of a dedicated worker's global scope (the DOM lib types `self` as a window). */
interface WorkerScope {
  navigator: Navigator;
  postMessage(message: WorkerReply[], transfer: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<WorkerRequest[]>) => void): void;
  addEventListener(type: "messageerror", listener: () => void): void;
}

const scope = self as unknown as WorkerScope;
const outbox = new Outbox<WorkerReply>((message, transfer) => scope.postMessage(message as WorkerReply[], transfer));

let store: NativeStore | undefined;

/** Opens the store, holding the Web Lock `lifeLock` for as long as this
 *  worker lives (the caller learns of its end when the lock is released),
 *  over the wasm module at `wasmUrl` (the page's `wasmUrl` option), or the
 *  one beside this file. */
async function open(options: unknown, lifeLock: unknown, wasmUrl: unknown): Promise<Opened> {
  const holdsLifeLock = typeof lifeLock === "string" && scope.navigator.locks !== undefined;
  if (holdsLifeLock) {
    await new Promise<void>((held) => {
      void scope.navigator.locks.request(lifeLock, () => {
        held();
        return new Promise(() => {});
      });
    });
  }
  const runtime = await startFetchedRuntime(stop, typeof wasmUrl === "string" ? new URL(wasmUrl) : undefined);
  // The core checks the options, whatever they are.
  store = await runtime.openStore(options as StorageOptions | undefined, undefined);
  store.onStateChange((state, previous) => reply({ id: 0, state, previous }));
  return { holdsLifeLock, operationTimeoutMs: store.operationTimeoutMs() };
}

function run({ method, args, trace }: WorkerRequest): Promise<unknown> {
  if (method === "open") return open(args[0], args[1], args[2]);
  if (!store) throw new Error("no store is open in this worker");
  if (method === "dispose") return store.dispose();
  if (!isStoreCall(method)) throw new Error(`the storage worker has no call ${String(method)}`);
  // The core checks every argument, whatever it is.
  if (trace) store.traceNext(trace);
  try {
    return (store[method] as (...args: unknown[]) => Promise<unknown>).apply(store, args);
  } finally {
    if (trace) store.traceNext(0);
  }
}

/** A traced request's facts, to go with its reply; none for others. */
function traceFacts({ trace }: WorkerRequest): { facts?: Float64Array } {
  const facts = trace ? store?.traceFacts(trace) : undefined;
  return facts ? { facts } : {};
}

/** What the store evicted since the last reply, to go with this one. */
function evictions(): { evicted?: string[] | null } {
  const evicted = store?.takeEvicted(true);
  return evicted === undefined ? {} : { evicted };
}

/** Queues a reply. The core's results are fresh, so their buffers are
 *  transferred; if one ever does not clone, its caller still gets an answer. */
function reply(message: WorkerReply): void {
  const transfer = "value" in message ? ownBuffers(message.value) : [];
  outbox.add(message, transfer, (error) =>
    outbox.add({ id: message.id, ok: false, error: errorFields(toStorageError(error)) }, [], () => {}),
  );
}

/**
 * The core trapped (a Rust panic): its instance can never run again. The
 * worker sends its core's counters (for the store to keep), then fails on
 * purpose; the calling thread sees it fail, rejects what was waiting with
 * INTERNAL and reopens the store in a new worker.
 */
function stop(error: unknown): void {
  const counters = countersAfterTrap();
  if (counters) reply({ id: 0, counters });
  setTimeout(() => {
    throw error;
  });
}

/** The trapped core's counters, for the store to carry over (js/session.ts);
 *  undefined if its memory cannot be read. */
function countersAfterTrap(): Float64Array | undefined {
  try {
    return store?.coreMetrics();
  } catch {
    return undefined;
  }
}

/** Runs one request and replies to it. */
async function answer(request: WorkerRequest): Promise<void> {
  const { id } = request;
  try {
    const value = await run(request);
    reply({ id, ok: true, value, ...traceFacts(request), ...evictions() });
  } catch (error) {
    // A trap during the call: the caller's side must know before its next call.
    const trapped = error instanceof WebAssembly.RuntimeError;
    // Its counters first: the caller's side reopens as soon as it reads the reply.
    if (trapped) stop(error);
    const facts = trapped ? {} : { ...traceFacts(request), ...evictions() };
    reply({ id, ok: false, error: errorFields(toStorageError(error)), ...(trapped && { trapped }), ...facts });
  }
}

// Each request starts in the order it arrived; noteReads has no answer.
scope.addEventListener("message", (event: MessageEvent<WorkerRequest[]>) => {
  for (const request of event.data) {
    if (request.method === "noteReads") store?.noteReads(request.args[0] as string, request.args[1] as Uint32Array);
    else void answer(request);
  }
});

// A request that could not be read has no id to answer: the caller treats this as the worker failing.
scope.addEventListener("messageerror", () => {
  throw new Error("a request to the storage worker could not be read");
});
