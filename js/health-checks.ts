/**
 * `health()` and `scheduleHealthChecks()` of a Storage: gathers one reading
 * (the metrics snapshot and the last minute's window in one step, the free
 * space where the database lives, the store's clock), has js/health.ts judge
 * it, and records the status for metricsText. Schedules run on real timers
 * that never keep a Node process alive.
 */

import { ownError } from "./errors.js";
import { assessHealth, type HealthInput } from "./health.js";
import type { StoreMetrics } from "./metrics.js";
import type { ObservabilityOptions } from "./observability-options.js";
import type { HealthReport, HealthScheduleOptions, HealthStatus, StorageOptions } from "./types.js";

/** The store's counters, as far as health reads (`read`: the snapshot and
 *  the last minute, in one step) and writes them (the status, for metricsText). */
type HealthMetrics = Pick<StoreMetrics, "read" | "setLastHealthStatus">;

/** Where an environment keeps a store's database, and how much room is left there. */
export interface FreeSpace {
  location: string;
  /** Free bytes there; null where unknown (":memory:", no estimate available). */
  freeBytes(): Promise<number | null>;
}

/** What the judge needs of the store's options, read once at open. */
export type HealthSettings = Pick<HealthInput, "maxQueueLength" | "budgetBytes" | "breakerOptions" | "thresholds">;

/** The defaults of the options the judge reads, as core/src/options.rs defines them. */
const DEFAULT_MAX_QUEUE_LENGTH = 10_000;
const DEFAULT_BREAKER = { failureThreshold: 5, recoveryTimeoutMs: 30_000 };

/** For an environment that cannot tell: the storage check has nothing to judge. */
export const unknownFreeSpace = (): FreeSpace => ({ location: "the store's storage", freeBytes: async () => null });

/** What the judge needs of a store's options: the store opened with them, so they are valid. */
export function healthSettings(
  options: StorageOptions | undefined,
  { healthThresholds, budgetBytes }: ObservabilityOptions,
): HealthSettings {
  return {
    maxQueueLength: options?.maxQueueLength ?? DEFAULT_MAX_QUEUE_LENGTH,
    budgetBytes,
    breakerOptions: {
      failureThreshold: options?.breaker?.failureThreshold ?? DEFAULT_BREAKER.failureThreshold,
      recoveryTimeoutMs: options?.breaker?.recoveryTimeoutMs ?? DEFAULT_BREAKER.recoveryTimeoutMs,
    },
    thresholds: healthThresholds,
  };
}

// setTimeout fires at once for a delay beyond a signed 32-bit integer.
const MAX_INTERVAL_MS = 2 ** 31 - 1;

/** Calls `callback`; its failure must not reach the store or stop the schedule. */
function safely<A extends unknown[]>(callback: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    callback?.(...args);
  } catch {
    // the caller's own failure
  }
}

/** The checked options of scheduleHealthChecks; INVALID_ARGUMENT naming the bad one. */
function scheduleOptions(options: HealthScheduleOptions): HealthScheduleOptions {
  if (typeof options !== "object" || options === null) {
    throw ownError("INVALID_ARGUMENT", "scheduleHealthChecks needs an options object with intervalMs");
  }
  let read: HealthScheduleOptions;
  try {
    const { intervalMs, onCheck, onStatusChange } = options;
    read = { intervalMs, onCheck, onStatusChange };
  } catch (error) {
    throw ownError("INVALID_ARGUMENT", "scheduleHealthChecks: its options could not be read", { cause: error });
  }
  const { intervalMs, onCheck, onStatusChange } = read;
  if (typeof intervalMs !== "number" || !(intervalMs > 0 && intervalMs <= MAX_INTERVAL_MS)) {
    throw ownError(
      "INVALID_ARGUMENT",
      `scheduleHealthChecks: intervalMs must be a positive number of milliseconds up to ${MAX_INTERVAL_MS}, got ${typeof intervalMs === "number" ? intervalMs : typeof intervalMs}`,
    );
  }
  for (const [name, callback] of [["onCheck", onCheck], ["onStatusChange", onStatusChange]] as const) {
    if (callback !== undefined && typeof callback !== "function") {
      throw ownError("INVALID_ARGUMENT", `scheduleHealthChecks: ${name} must be a function`);
    }
  }
  return { intervalMs, onCheck, onStatusChange };
}

export class HealthChecks {
  readonly #metrics: HealthMetrics;
  readonly #freeSpace: FreeSpace;
  readonly #settings: HealthSettings;
  readonly #now: () => number;
  /** Stops each running schedule, for the handle's dispose. */
  readonly #schedules = new Set<() => void>();
  /** The handle was disposed: no check runs and no schedule starts any more. */
  #closed = false;

  constructor(metrics: HealthMetrics, freeSpace: FreeSpace, settings: HealthSettings, now: () => number) {
    this.#metrics = metrics;
    this.#freeSpace = freeSpace;
    this.#settings = settings;
    this.#now = now;
  }

  async check(): Promise<HealthReport> {
    if (this.#closed) throw ownError("DISPOSED", "this handle on the store has been disposed");
    const [{ snapshot, recent }, freeBytes] = await Promise.all([this.#metrics.read(), this.#freeSpace.freeBytes()]);
    const report = assessHealth({
      ...this.#settings,
      snapshot,
      recent,
      freeBytes,
      location: this.#freeSpace.location,
      now: this.#now(),
    });
    this.#metrics.setLastHealthStatus(report.status);
    return report;
  }

  /** Runs check() `intervalMs` after the previous one finished, until disposed. */
  schedule(options: HealthScheduleOptions): { dispose(): void } {
    const { intervalMs, onCheck, onStatusChange } = scheduleOptions(options);
    if (this.#closed) return { dispose: () => {} };
    let previous: HealthStatus | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      this.#schedules.delete(stop);
    };
    const next = () => {
      timer = setTimeout(run, intervalMs);
      // In Node, a schedule alone never keeps the process alive.
      (timer as { unref?: () => void }).unref?.();
    };
    const run = async () => {
      // A check that fails (the store disposed meanwhile) is not reported.
      const report = await this.check().catch(() => undefined);
      if (stopped) return;
      if (report) {
        safely(onCheck, report);
        // onCheck may have disposed the schedule: nothing is called after that.
        if (!stopped && report.status !== previous) {
          const before = previous;
          previous = report.status;
          safely(onStatusChange, report.status, before, report);
        }
      }
      if (!stopped) next();
    };
    this.#schedules.add(stop);
    next();
    return { dispose: stop };
  }

  /** Stops every schedule (the handle is being disposed). */
  close(): void {
    this.#closed = true;
    for (const stop of [...this.#schedules]) stop();
  }
}
