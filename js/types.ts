/** The public types of larder: options, values and the store interface. */

import type { HealthThresholds } from "./health-thresholds.js";
import type { HealthStatus } from "./metrics.js";
import type { TraceFunction } from "./trace.js";

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

export type { HealthStatus };

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
