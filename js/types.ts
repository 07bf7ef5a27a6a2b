/** The public types of larder: options, values and the store interface. */


/** What a value may be: JSON data, or a top-level Uint8Array. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type StorageValue = JsonValue | Uint8Array;

/**
 * The type parameter of `get`, `set`, `mget`, `mset` and `getOrSet`: `T` is
 * accepted when its structure is storable, so an `interface` (which has no
 * index signature, unlike the object type in `JsonValue`) qualifies. It is
 * `T` member by member, each member that would not read back (a function or
 * method, a `Date`, `Map` or `Set`, `undefined`, a bigint, a symbol, a nested
 * `Uint8Array`) turned into `never`, so a type holding one fails the
 * constraint and the error names the member. A mapped type rather than a
 * conditional one, because a type parameter cannot be bounded by a
 * conditional type of itself.
 */
export type Storable<T> = { [K in keyof T]: T extends Uint8Array ? T[K] : StorableMember<T, K> } & (
  | null
  | boolean
  | number
  | string
  | object
);

/** A value's type as `set`, `mset` and a `getOrSet` loader take it: a
 *  function is `never` (the mapped type of `Storable` sees no member in it). */
export type NotCallable<T> = T extends (...args: never[]) => unknown ? never : T;

/** Member `K` of `T`, checked: an optional property may be absent, never `undefined`. */
type StorableMember<T, K extends keyof T> = K extends symbol
  ? never
  : T extends readonly unknown[]
    ? JsonData<T[K]>
    : {} extends Pick<T, K>
      ? JsonData<Exclude<T[K], undefined>> | undefined
      : JsonData<T[K]>;

/** Objects that are not JSON data, named so that an error says `never` for them
 *  rather than listing their methods (a nested Uint8Array is refused too). */
type NotJson =
  | ((...args: never[]) => unknown)
  | Date
  | RegExp
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>
  | ArrayBufferView
  | PromiseLike<unknown>;

/** `T` if it is JSON data by its structure; otherwise with `never` where it is not. */
type JsonData<T> = [T] extends [JsonValue]
  ? T
  : T extends null | boolean | number | string
    ? T
    : T extends NotJson
      ? never
      : T extends object
        ? { [K in keyof T]: StorableMember<T, K> }
        : never;

export interface BreakerOptions {
  failureThreshold?: number;
  recoveryTimeoutMs?: number;
}

export interface RetryOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** The subset of `node:fs` larder calls (Node only). */
export interface FileSystem {
  openSync: (...args: never[]) => unknown;
  closeSync: (...args: never[]) => unknown;
  readSync: (...args: never[]) => unknown;
  writeSync: (...args: never[]) => unknown;
  fsyncSync: (...args: never[]) => unknown;
  ftruncateSync: (...args: never[]) => unknown;
  fstatSync: (...args: never[]) => unknown;
  statSync: (...args: never[]) => unknown;
  unlinkSync: (...args: never[]) => unknown;
  readFileSync: (...args: never[]) => unknown;
  mkdirSync: (...args: never[]) => unknown;
  /** Optional, callback-style like node:fs's: free space for health(); node:fs/promises otherwise. */
  statfs?: (...args: never[]) => unknown;
}

export interface StorageOptions {
  /** Node: a file path. Browser: an OPFS name. ":memory:" (default): no persistence. ":temp:": deleted on dispose. */
  path?: string;
  maxSizeBytes?: number;
  defaultTtlMs?: number;
  maxBatchSize?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
  maxQueueLength?: number;
  operationTimeoutMs?: number;
  durability?: "full" | "normal";
  breaker?: BreakerOptions;
  retry?: RetryOptions;
  clock?: () => number;
  fs?: FileSystem;
  /** Calls slower than this (ms, from the call to its settlement) count as slow (default 100). */
  slowOperationMs?: number;
  /** Per health check, the values at which it reaches each level (js/health-thresholds.ts). */
  healthThresholds?: HealthThresholds;
  /** Called with one event per settled call (js/trace.ts). */
  trace?: TraceFunction;
  /** Where larder's wasm module is served (browsers: resolved against the page; Node: a path or file: URL), for bundlers that do not copy it. */
  wasmUrl?: string | URL;
  /** Where larder's worker script is served (browsers; Node ignores it), for bundlers that do not copy it. */
  workerUrl?: string | URL;
}

export interface SetOptions {
  /** Positive milliseconds, or Infinity for never (even with defaultTtlMs). */
  ttlMs?: number;
  /** The entry's whole size in bytes, instead of key bytes + encoded value bytes. */
  size?: number;
}

export interface MsetOptions {
  ttlMs?: number;
}

export interface KeysOptions {
  /** Literal prefix; "" matches every key. */
  prefix?: string;
  /** Positive integer: at most this many keys. */
  limit?: number;
  /** Exclusive: only keys sorting after this one. */
  after?: string;
}

/** What `mset` takes; `T`, the values' type, as for `set`. */
export type Entries<T = StorageValue> = Map<string, T> | ReadonlyArray<readonly [string, T]> | Record<string, T>;

export interface GetOrSetOptions {
  ttlMs?: number;
}

export interface InvalidateOptions {
  /** Literal prefix; "" matches every key of the namespace. */
  prefix: string;
}

export type BreakerState = "CLOSED" | "OPEN" | "HALF_OPEN";

/** Told of each circuit breaker transition. */
export type StateListener = (state: BreakerState, previousState: BreakerState) => void;

export interface TraceEvent {
  /** Unique within the store, one per top-level call. */
  txId: number;
  op: string;
  /** The namespace, or null for the root store. */
  ns: string | null;
  /** The key, for single-key calls. */
  key: string | null;
  /** How many keys or entries, for batches. */
  keys: number | null;
  /** Time the call's operations waited in the store's queue (summed over a
   *  getOrSet's steps); null for a call that began before anyone listened. */
  queuedMs: number | null;
  /** From the call to its settlement less `queuedMs`, on the store's clock. */
  runMs: number;
  outcome: "ok" | "error";
  /** The StorageError code of a failed call (null when it succeeded). */
  code: string | null;
  /** The operations committed in the same transaction (1 alone); null for
   *  calls that write nothing or never ran, and as for queuedMs. */
  groupSize: number | null;
  /** Runs again after transient failures; null as for queuedMs. */
  retries: number | null;
}

export type TraceFunction = (event: TraceEvent) => void;

export type HealthStatus = "HEALTHY" | "DEGRADED" | "UNHEALTHY" | "CRITICAL";

/** The health checks, by their stable names (README, "Health"). */
export type HealthCheckName = "breaker" | "queue" | "latency" | "errors" | "budget" | "storage" | "hitRatio";
export type HealthThresholdLevel = "degraded" | "unhealthy" | "critical";
/** The `healthThresholds` option: per check, the values at which it reaches each level. */
export type HealthThresholds = Partial<Record<HealthCheckName, Partial<Record<HealthThresholdLevel, number>>>>;

export interface Histogram {
  count: number;
  sum: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Cumulative; `le` in milliseconds, the last one Infinity. */
  buckets: Array<{ le: number; count: number }>;
}

export interface OperationMetrics {
  calls: number;
  errors: Record<string, number>;
  latencyMs: Histogram;
  slow: number;
}

export interface SlowOperation {
  op: string;
  ns: string | null;
  key: string | null;
  durationMs: number;
  at: number;
  txId: number;
}

/** What `metrics()` answers (README, "Observability"). */
export interface MetricsSnapshot {
  operations: Record<string, OperationMetrics>;
  queue: { depth: number; maxDepth: number; waitMs: Histogram };
  cache: { hits: number; misses: number; hitRatio: number | null; evictions: number; expired: number };
  commits: { count: number; grouped: number; retries: number; timeouts: number; rollbacks: number };
  breaker: { state: BreakerState; opened: number };
  storage: { entries: number; sizeBytes: number; budgetBytes: number | null; fileBytes: number; walBytes: number };
  slowOperations: SlowOperation[];
  since: number;
}

export interface MetricsTextOptions {
  /** Labels added to every sample, e.g. `{ store: "cache" }`. */
  labels?: Record<string, string>;
}


/** One check of a HealthReport (README, "Health"). */
export interface HealthCheck {
  name: string;
  status: HealthStatus;
  /** What was judged (a fraction, milliseconds, bytes or the breaker's state); null: nothing to judge yet. */
  value: number | string | null;
  /** The threshold the value reached; for a HEALTHY check, the DEGRADED one (null: none). */
  threshold: number | string | null;
  message: string;
}

export interface HealthReport {
  /** The worst of the checks. */
  status: HealthStatus;
  checks: HealthCheck[];
  /** One actionable sentence per check that is not HEALTHY, in check order. */
  recommendations: string[];
  /** The store's clock when the report was made. */
  checkedAt: number;
}

export interface HealthScheduleOptions {
  /** Milliseconds between the end of one check and the start of the next (real timers). */
  intervalMs: number;
  onCheck?: (report: HealthReport) => void;
  /** `previousStatus` is null for the first check. */
  onStatusChange?: (status: HealthStatus, previousStatus: HealthStatus | null, report: HealthReport) => void;
}

// `Symbol.asyncDispose` as @types/node declares it, so that the published
// types compile under libs without `esnext.disposable` (a browser project
// with `lib: ["ES2022", "DOM"]`); identical declarations merge.
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}
