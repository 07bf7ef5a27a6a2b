/**
 * What a store counts of its calls, and `metrics()`. Every public call is
 * counted here, once, where the facade starts it: the read cache answers
 * some gets without the core and getOrSet is made of several core calls, so
 * only this layer sees each call whole. The core counts what only it sees
 * (queue waits, commits, retries, evictions...: js/core-metrics.ts), read
 * once per `metrics()`.
 */

import { COUNTING } from "./counting.js";
import { StorageError, errorFields, toStorageError } from "./errors.js";
import type { CoreFigures } from "./core-metrics.js";
import { DurationCounts } from "./histogram.js";
import type { Namespace } from "./native-api.js";
import { RecentCounts, type RecentWindow } from "./recent-window.js";
import type { Settlement } from "./session.js";
import { CoreFacts, type TraceEvent, type Tracer } from "./trace.js";
import type { HealthStatus, MetricsSnapshot, OperationMetrics, SlowOperation } from "./types.js";

export type { RecentWindow } from "./recent-window.js";

/** The code a failure is counted under: a loader's own error is not a StorageError. */
export const LOADER_ERROR = "LOADER";

/** How many slow operations are kept, the latest. */
const SLOW_KEPT = 50;

/** Gets the read cache answered wait for a clock reading to be placed
 *  (`countCachedGet`): at most this many, and at most this long when the
 *  event loop is free. */
const UNPLACED_AT_MOST = 100;
const PLACED_WITHIN_MS = 1000;

class OperationCounts {
  constructor(readonly op: string) {}

  calls = 0;
  errors: Record<string, number> | undefined;
  readonly latency = new DurationCounts();
  slow = 0;
}

/** The store's facts metrics() adds to the counters. */
export interface MetricsSource {
  clock: () => number;
  slowOperationMs: number;
  budgetBytes: number | null;
  tracer: Tracer;
  /** `read` of the core's figures, between operations. */
  core: <T>(read: (figures: CoreFigures) => T) => Promise<T>;
}

export class StoreMetrics {
  readonly since: number;
  readonly #source: MetricsSource;
  readonly #operations = new Map<string, OperationCounts>();
  /** The counts `#counts` found last: a store's calls mostly repeat a kind. */
  #lastCounts: OperationCounts | undefined;
  readonly #recent = new RecentCounts();
  readonly #slow: SlowOperation[] = [];
  #hits = 0;
  #misses = 0;
  #lastTxId = 0;
  #lastHealthStatus: HealthStatus | undefined;
  /** The gets the read cache answered not yet placed. */
  #unplaced = 0;
  /** The timer that places the gets the read cache answered, while one is set. */
  #placing: ReturnType<typeof setTimeout> | undefined;

  constructor(source: MetricsSource) {
    this.#source = source;
    this.since = source.clock();
  }

  /** The settlement of one top-level call that is one core call (js/session.ts):
   *  it turns the result into the answer with `read` and counts the call as
   *  it settles; a failure becomes a StorageError carrying the txId, unless
   *  `passes(error)` (a getOrSet loader's own). Its core facts are filled
   *  only while someone listens to trace events: otherwise the core is
   *  asked nothing more. */
  begin<R, T>(
    op: string,
    ns: Namespace,
    key: unknown,
    batch: unknown,
    read: (raw: R) => T,
    passes: (error: unknown) => boolean = never,
  ): Settlement<R, T> {
    if (!COUNTING) return new UncountedCall(read, passes);
    const txId = ++this.#lastTxId;
    const facts = this.#source.tracer.listening ? new CoreFacts(txId) : undefined;
    const counts = this.#counts(op);
    return new CountedCall(this, counts, ns, key, batch, txId, this.#source.clock(), facts, read, passes);
  }

  /** Runs one top-level call made of several (getOrSet), counted as one. */
  observe<T>(
    op: string,
    ns: Namespace,
    key: unknown,
    run: (facts: CoreFacts | undefined) => Promise<T>,
    passes: (error: unknown) => boolean,
  ): Promise<T> {
    const call = this.begin(op, ns, key, undefined, (value: T) => value, passes);
    let pending: Promise<T>;
    try {
      pending = run(call.facts);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (value) => call.fulfilled(value),
      (error: unknown) => {
        throw call.rejected(error);
      },
    );
  }

  /** Lookups that found a live entry (`hits`) or none (`misses`). */
  lookups(hits: number, misses: number): void {
    if (!COUNTING) return;
    this.#hits += hits;
    this.#misses += misses;
    this.#recent.lookups(this.#clock(), hits, misses);
  }

  /** The last 60 s of the store's clock (for health checks). */
  recent(): RecentWindow {
    return this.#recent.window(this.#clock());
  }

  /** The snapshot and the recent window, read in one step with the core's
   *  figures (for a worker store, as its reply arrives). */
  read(): Promise<{ snapshot: MetricsSnapshot; recent: RecentWindow }> {
    return this.#source.core((core) => {
      // The window first: its clock reading places the calls answered at once.
      const recent = this.recent();
      return { snapshot: this.#snapshot(core), recent };
    });
  }

  /** `read` of the core's own figures, between operations. */
  readCore<T>(read: (figures: CoreFigures) => T): Promise<T> {
    return this.#source.core(read);
  }

  async metrics(): Promise<MetricsSnapshot> {
    return (await this.read()).snapshot;
  }

  get lastHealthStatus(): HealthStatus | undefined {
    return this.#lastHealthStatus;
  }

  /** The status the last `health()` computed, for metricsText. */
  setLastHealthStatus(status: HealthStatus): void {
    this.#lastHealthStatus = status;
  }

  #snapshot(core: CoreFigures): MetricsSnapshot {
    const operations: Record<string, OperationMetrics> = {};
    for (const [op, counts] of this.#operations) {
      // A kind is counted from the call's start: listed once a call settled.
      if (counts.calls === 0) continue;
      operations[op] = { calls: counts.calls, errors: { ...counts.errors }, latencyMs: counts.latency.snapshot(), slow: counts.slow };
    }
    const lookups = this.#hits + this.#misses;
    return {
      operations,
      queue: { depth: core.queue.depth, maxDepth: core.queue.maxDepth, waitMs: core.queue.waitMs.snapshot() },
      cache: {
        hits: this.#hits,
        misses: this.#misses,
        hitRatio: lookups === 0 ? null : this.#hits / lookups,
        evictions: core.evictions,
        expired: core.expired,
      },
      commits: { ...core.commits },
      breaker: { ...core.breaker },
      storage: { ...core.storage, budgetBytes: this.#source.budgetBytes },
      slowOperations: this.#slow.map((slow) => ({ ...slow })),
      since: this.since,
    };
  }

  /** Stops timing: the store is closing. Calls answered at once still
   *  waiting are placed by the next read of the window. */
  close(): void {
    clearTimeout(this.#placing);
    this.#placing = undefined;
  }

  /** Counts `call` as it succeeds with `answer`. */
  fulfilled(call: CountedCall<never, unknown>, answer: unknown): void {
    const { op } = call.counts;
    const hits = hitsIn(op, answer);
    const misses = lookupsIn(op, answer) - hits;
    this.#hits += hits;
    this.#misses += misses;
    this.#settled(call, null, false, hits, misses);
  }

  /** Counts `call` as it fails with `failure`. */
  rejected(call: CountedCall<never, unknown>, failure: unknown): void {
    const { counts } = call;
    const storageError = failure instanceof StorageError;
    const code = storageError ? failure.code : LOADER_ERROR;
    counts.errors ??= {};
    counts.errors[code] = (counts.errors[code] ?? 0) + 1;
    this.#settled(call, code, !(storageError && failure.category === "VALIDATION"), 0, 0);
  }

  #settled(call: CountedCall<never, unknown>, code: string | null, failed: boolean, hits: number, misses: number): void {
    const { counts } = call;
    const settledAt = this.#clock();
    const durationMs = Math.max(0, settledAt - call.startedAt);
    counts.calls += 1;
    const bucket = counts.latency.record(durationMs);
    this.#recent.call(settledAt, bucket, durationMs, failed, hits, misses);
    if (durationMs > this.#source.slowOperationMs) this.#slowCall(call, durationMs, settledAt);
    this.#trace(call, durationMs, code);
  }

  /** Whether calls must be traced (someone listens): a call the read cache
   *  can answer then goes the whole way, for its event and its txId. */
  get tracing(): boolean {
    return this.#source.tracer.listening;
  }

  /** Counts a get the read cache answered before the call began (js/storage.ts
   *  `get`), a hit, in a few additions, as cheap as the hit itself must
   *  stay: no settlement is made for it, since it cannot fail and, no one
   *  tracing, no event tells its txId. It joins the gets (at 0 ms), the hits
   *  and the recent window at the next clock reading (`#clock`): another
   *  call's, the UNPLACED_AT_MOST-th such get's, or a timer's within
   *  PLACED_WITHIN_MS. Its second in the window may come out late by that
   *  much; no count misses it, since every read of the counts reads the
   *  clock first. */
  countCachedGet(): void {
    if (!COUNTING) return;
    this.#lastTxId += 1;
    if ((this.#unplaced += 1) >= UNPLACED_AT_MOST) this.#placeAnswered(this.#source.clock());
    else if (this.#placing === undefined) this.#placeSoon();
  }

  // Apart from countCachedGet, for its closure (ARCHITECTURE.md, Rules written once).
  #placeSoon(): void {
    this.#placing = setTimeout(() => {
      this.#placing = undefined;
      this.#placeAnswered(this.#source.clock());
    }, PLACED_WITHIN_MS);
    // In Node, the timer alone never keeps the process alive.
    (this.#placing as { unref?: () => void }).unref?.();
  }

  /** The store's clock. Each reading places the gets the read cache
   *  answered so far at its time. */
  #clock(): number {
    const nowMs = this.#source.clock();
    this.#placeAnswered(nowMs);
    return nowMs;
  }

  /** Counts the gets the read cache answered so far (`countCachedGet`), at `nowMs`. */
  #placeAnswered(nowMs: number): void {
    const hits = this.#unplaced;
    if (hits === 0) return;
    this.#unplaced = 0;
    const counts = this.#counts("get");
    counts.calls += hits;
    counts.latency.record(0, hits);
    this.#hits += hits;
    this.#recent.cachedGets(nowMs, hits);
  }

  #trace(call: CountedCall<never, unknown>, durationMs: number, code: string | null): void {
    const { tracer } = this.#source;
    if (tracer.listening) {
      tracer.emit(traceEvent(call.txId, call.counts.op, call.ns, singleKey(call), call.batch, durationMs, code, call.facts));
    }
  }

  #slowCall(call: CountedCall<never, unknown>, durationMs: number, at: number): void {
    const { counts, txId } = call;
    const { op } = counts;
    counts.slow += 1;
    this.#slow.push({ op, ns: nsName(call.ns), key: singleKey(call), durationMs, at, txId });
    if (this.#slow.length > SLOW_KEPT) this.#slow.shift();
  }

  #counts(op: string): OperationCounts {
    if (this.#lastCounts?.op === op) return this.#lastCounts;
    let counts = this.#operations.get(op);
    if (counts === undefined) {
      counts = new OperationCounts(op);
      this.#operations.set(op, counts);
    }
    this.#lastCounts = counts;
    return counts;
  }
}

/** A call that began before anyone listened has no facts: null for them,
 *  and its whole duration as `runMs`. */
function traceEvent(
  txId: number,
  op: string,
  ns: Namespace,
  key: string | null,
  batch: unknown,
  durationMs: number,
  code: string | null,
  facts: CoreFacts | undefined,
): TraceEvent {
  const queuedMs = facts === undefined ? null : facts.queuedMs;
  return {
    txId,
    op,
    ns: nsName(ns),
    key,
    keys: batchSize(batch),
    queuedMs,
    runMs: Math.max(0, durationMs - (queuedMs ?? 0)),
    outcome: code === null ? "ok" : "error",
    code,
    groupSize: facts === undefined ? null : facts.groupSize,
    retries: facts === undefined ? null : facts.retries,
  };
}

const never = () => false;

/** How many lookups a call with `answer` made: one for a get or a has, one
 *  per key for an mget; none for the others. */
function lookupsIn(op: string, answer: unknown): number {
  if (op === "get" || op === "has") return 1;
  return op === "mget" && Array.isArray(answer) ? answer.length : 0;
}

/** How many of those found a live entry. */
function hitsIn(op: string, answer: unknown): number {
  if (op === "get" || op === "has") return answer === undefined || answer === false ? 0 : 1;
  if (op !== "mget" || !Array.isArray(answer)) return 0;
  let hits = 0;
  for (const found of answer) if (found !== undefined) hits += 1;
  return hits;
}

/** A counted call's settlement (StoreMetrics.begin): what it needs to be
 *  counted, all in one object, so counting adds no closure or promise step. */
class CountedCall<R, T> implements Settlement<R, T> {
  constructor(
    readonly metrics: StoreMetrics,
    readonly counts: OperationCounts,
    readonly ns: Namespace,
    readonly key: unknown,
    readonly batch: unknown,
    readonly txId: number,
    readonly startedAt: number,
    readonly facts: CoreFacts | undefined,
    readonly read: (raw: R) => T,
    readonly passes: (error: unknown) => boolean,
  ) {}

  fulfilled(raw: R): T {
    let answer: T;
    try {
      answer = this.read(raw);
    } catch (error) {
      throw this.rejected(error);
    }
    this.metrics.fulfilled(this, answer);
    return answer;
  }

  rejected(error: unknown): unknown {
    const failure = this.passes(error) ? error : withTxId(toStorageError(error), this.txId);
    this.metrics.rejected(this, failure);
    return failure;
  }
}

/** A call's settlement in the benchmark's uncounted copy (js/counting.ts):
 *  the same answer and failure, nothing counted. */
class UncountedCall<R, T> implements Settlement<R, T> {
  readonly facts = undefined;

  constructor(
    readonly read: (raw: R) => T,
    readonly passes: (error: unknown) => boolean,
  ) {}

  fulfilled(raw: R): T {
    try {
      return this.read(raw);
    } catch (error) {
      throw this.rejected(error);
    }
  }

  rejected(error: unknown): unknown {
    return this.passes(error) ? error : toStorageError(error);
  }
}

/** The key of a call of one key; null for the others. */
function singleKey(call: CountedCall<never, unknown>): string | null {
  return typeof call.key === "string" ? call.key : null;
}

function nsName(ns: Namespace): string | null {
  return typeof ns === "string" ? ns : null;
}

/** How many keys or entries a batch argument holds; null for other calls. */
function batchSize(batch: unknown): number | null {
  if (batch === undefined || batch === null) return null;
  try {
    if (Array.isArray(batch)) return batch.length;
    if (batch instanceof Map) return batch.size;
    return typeof batch === "object" ? Object.keys(batch).length : null;
  } catch {
    return null;
  }
}

/** `error`, carrying `txId`; a copy if it already carries another call's
 *  (one failure shared by the callers of a getOrSet flight). */
function withTxId(error: StorageError, txId: number): StorageError {
  if (error.txId === undefined) {
    error.txId = txId;
    return error;
  }
  if (error.txId === txId) return error;
  const copy = new StorageError(errorFields(error), { cause: error.cause });
  copy.txId = txId;
  return copy;
}
