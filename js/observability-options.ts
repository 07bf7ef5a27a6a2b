/**
 * The options the facade acts on itself (`slowOperationMs`, `trace`,
 * `healthThresholds`), checked before the store opens; the core accepts
 * their names and checks every other option.
 */

import { ownError } from "./errors.js";
import { validateHealthThresholds, type HealthThresholds } from "./health-thresholds.js";
import { traceOption, type TraceFunction } from "./trace.js";
import type { StorageOptions } from "./types.js";

export const DEFAULT_SLOW_OPERATION_MS = 100;

export interface ObservabilityOptions {
  slowOperationMs: number;
  trace: TraceFunction | undefined;
  healthThresholds: HealthThresholds;
  /** The store's clock, never throwing: a failing clock repeats its last time. */
  clock: () => number;
  budgetBytes: number | null;
}

function read(options: StorageOptions | undefined, name: keyof StorageOptions): unknown {
  if (typeof options !== "object" || options === null) return undefined;
  try {
    return options[name];
  } catch {
    return undefined; // an option that throws when read: the core refuses it
  }
}

function slowOperationMs(value: unknown): number {
  if (value === undefined) return DEFAULT_SLOW_OPERATION_MS;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    const shown = typeof value === "number" ? String(value) : value === null ? "null" : typeof value;
    throw ownError("INVALID_ARGUMENT", `option slowOperationMs must be a non-negative finite number, got ${shown}`);
  }
  return value;
}

/** A reading of `clock` that never throws or goes back to a non-number
 *  (Date.now, the default, is read as it is: it does neither). */
function steadyClock(clock: unknown): () => number {
  if (typeof clock !== "function") return Date.now;
  const source = clock as () => unknown;
  let last = 0;
  return () => {
    try {
      const now = source();
      if (typeof now === "number" && Number.isFinite(now)) last = now;
    } catch {
      // The core reports a failing clock on the call itself.
    }
    return last;
  };
}

export function observabilityOptions(options: StorageOptions | undefined): ObservabilityOptions {
  const budget = read(options, "maxSizeBytes");
  return {
    slowOperationMs: slowOperationMs(read(options, "slowOperationMs")),
    trace: traceOption(read(options, "trace")),
    healthThresholds: validateHealthThresholds(read(options, "healthThresholds")),
    clock: steadyClock(read(options, "clock")),
    budgetBytes: typeof budget === "number" ? budget : null,
  };
}
