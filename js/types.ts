/** The public types of larder: options, values and the store interface. */

/** What a value may be: JSON data, or a top-level Uint8Array. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type StorageValue = JsonValue | Uint8Array;

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

export type Entries =
  | Map<string, StorageValue>
  | ReadonlyArray<readonly [string, StorageValue]>
  | Record<string, StorageValue>;

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
