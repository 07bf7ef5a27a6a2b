/**
 * The health judge: one reading of a store's metrics in, a HealthReport out.
 * Pure (no I/O, no clock of its own), so every threshold and every
 * recommendation can be checked over made-up readings. The Storage gathers
 * the reading (js/health-checks.ts) and hands it here.
 */

import { CHECK_NAMES, type CheckName, type HealthThresholds, type ThresholdLevel } from "./health-thresholds.js";
import type { RecentWindow } from "./recent-window.js";
import type { HealthCheck, HealthReport, HealthStatus, MetricsSnapshot } from "./types.js";

/** The statuses from best to worst: the report's status is the worst check's. */
const HEALTH_STATUSES: readonly HealthStatus[] = ["HEALTHY", "DEGRADED", "UNHEALTHY", "CRITICAL"];

/** The thresholds of one check; null: that level is never reached. */
type Thresholds = Record<ThresholdLevel, number | null>;

/** The fields of a MetricsSnapshot the judge reads. */
type JudgedSnapshot = {
  queue: Pick<MetricsSnapshot["queue"], "depth">;
  breaker: MetricsSnapshot["breaker"];
  storage: Pick<MetricsSnapshot["storage"], "sizeBytes">;
  cache: Pick<MetricsSnapshot["cache"], "evictions">;
};

export interface HealthInput {
  snapshot: JudgedSnapshot;
  recent: RecentWindow;
  maxQueueLength: number;
  /** `maxSizeBytes`, or null without a budget. */
  budgetBytes: number | null;
  /** Free bytes where the database lives, or null where unknown (":memory:"). */
  freeBytes: number | null;
  /** Where the database lives, as a recommendation names it: a directory, or "this origin's storage". */
  location: string;
  breakerOptions: { failureThreshold: number; recoveryTimeoutMs: number };
  /** The `healthThresholds` option, validated (js/health-thresholds.ts). */
  thresholds?: HealthThresholds;
  /** The store's clock: the report's `checkedAt`. */
  now: number;
}

/** How one numeric check reads its value and explains it. */
interface NumericCheck {
  /** "higher": a value at or above a threshold reaches its level; "lower": at or below. */
  worse: "higher" | "lower";
  defaults: Thresholds;
  value(input: HealthInput): number | null;
  /** What the value is, for every status. */
  describe(value: number, input: HealthInput): string;
  /** What to do about it, once it reached `threshold`. */
  advise(value: number, threshold: number, input: HealthInput): string;
}

const KIB = 1024;
const MIB = KIB * KIB;
const GIB = KIB * MIB;

const share = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

const percent = (fraction: number): string => `${Number((fraction * 100).toFixed(1))}%`;

function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [[GIB, "GiB"], [MIB, "MiB"], [KIB, "KiB"]];
  for (const [size, unit] of units) if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  return `${bytes} B`;
}

const formatMs = (ms: number): string => (ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${Number(ms.toFixed(1))} ms`);

const lookups = ({ recent }: HealthInput) => recent.hits + recent.misses;

/** For a low hit ratio: the budget, if it has evicted entries (else it is no cause). */
function evictedFor({ snapshot, budgetBytes }: HealthInput): string {
  const { evictions } = snapshot.cache;
  if (budgetBytes === null || evictions === 0) return "";
  return `${evictions} entries were evicted for the ${formatBytes(budgetBytes)} budget since the store opened, so it may be too small for the working set; `;
}

/**
 * The numeric checks, in report order after `breaker`. The budget has no
 * default thresholds: a cache at its budget is what eviction is for, so only
 * a store whose entries must not be evicted should be warned as it fills
 * (README, "Health").
 */
const NUMERIC_CHECKS = {
  queue: {
    worse: "higher",
    defaults: { degraded: 0.5, unhealthy: 0.8, critical: 0.95 },
    value: ({ snapshot, maxQueueLength }) => share(snapshot.queue.depth, maxQueueLength),
    describe: (value, { snapshot, maxQueueLength }) =>
      `${snapshot.queue.depth} of ${maxQueueLength} queue places taken (${percent(value)})`,
    advise: (value, threshold, { snapshot, maxQueueLength }) =>
      `the queue holds ${snapshot.queue.depth} of ${maxQueueLength} calls (${percent(value)}, at or above ${percent(threshold)}): ` +
      `calls arrive faster than the store completes them; await calls or batch them (mset, mget) before issuing more, ` +
      `or raise maxQueueLength: calls beyond ${maxQueueLength} fail with QUEUE_FULL`,
  },
  latency: {
    worse: "higher",
    defaults: { degraded: 100, unhealthy: 500, critical: 2000 },
    value: ({ recent }) => recent.latencyP95Ms,
    describe: (value) => `p95 latency ${formatMs(value)} over the last 60 s`,
    advise: (value, threshold) =>
      `p95 latency over the last 60 s is ${formatMs(value)} (at or above ${formatMs(threshold)}): ` +
      `metrics().slowOperations names the slow calls; large values or batches, a deep queue and durability "full" on a slow disk are the usual causes`,
  },
  errors: {
    worse: "higher",
    defaults: { degraded: 0.01, unhealthy: 0.05, critical: 0.2 },
    value: ({ recent }) => share(recent.errors, recent.calls),
    describe: (value, { recent }) => `${recent.errors} of ${recent.calls} calls failed in the last 60 s (${percent(value)})`,
    advise: (value, threshold, { recent }) =>
      `${recent.errors} of ${recent.calls} calls failed in the last 60 s (${percent(value)}, at or above ${percent(threshold)}): ` +
      `metrics().operations[op].errors counts them by code; each code's recoveryAction says what to do`,
  },
  budget: {
    worse: "higher",
    defaults: { degraded: null, unhealthy: null, critical: null },
    value: ({ snapshot, budgetBytes }) => (budgetBytes === null ? null : share(snapshot.storage.sizeBytes, budgetBytes)),
    describe: (value, { snapshot, budgetBytes }) =>
      `${formatBytes(snapshot.storage.sizeBytes)} of the ${formatBytes(budgetBytes ?? 0)} budget used (${percent(value)})`,
    advise: (value, threshold, { snapshot, budgetBytes }) =>
      `the store holds ${formatBytes(snapshot.storage.sizeBytes)} of its ${formatBytes(budgetBytes ?? 0)} budget ` +
      `(${percent(value)}, at or above ${percent(threshold)}): writes past the budget evict the least recently used entries; ` +
      `raise maxSizeBytes or delete entries no longer needed`,
  },
  storage: {
    worse: "lower",
    defaults: { degraded: GIB, unhealthy: 256 * MIB, critical: 64 * MIB },
    value: ({ freeBytes }) => freeBytes,
    describe: (value, { location }) => `${formatBytes(value)} free at ${location}`,
    advise: (value, threshold, { location }) =>
      `only ${formatBytes(value)} free at ${location} (at or below ${formatBytes(threshold)}): ` +
      `free space there or move the database; writes fail with QUOTA_EXCEEDED once it runs out`,
  },
  hitRatio: {
    worse: "lower",
    defaults: { degraded: 0.5, unhealthy: 0.2, critical: 0.05 },
    value: (input) => share(input.recent.hits, lookups(input)),
    describe: (value, input) => `${input.recent.hits} of ${lookups(input)} lookups hit in the last 60 s (${percent(value)})`,
    advise: (value, threshold, input) =>
      `${input.recent.hits} of ${lookups(input)} lookups hit in the last 60 s (${percent(value)}, at or below ${percent(threshold)}): ` +
      `${evictedFor(input)}TTLs may be too short, or keys are read before they are written (getOrSet loads and stores a missing key)`,
  },
} satisfies Record<NumericCheckName, NumericCheck>;

type NumericCheckName = Exclude<CheckName, "breaker">;

/** A check's thresholds: its defaults with the overrides given for it. */
function thresholdsOf(name: NumericCheckName, overrides: HealthThresholds = {}): Thresholds {
  return { ...NUMERIC_CHECKS[name].defaults, ...overrides[name] };
}

/** The worst level `value` reaches, and the threshold it reached (for HEALTHY: the DEGRADED one). */
function levelOf(
  value: number,
  thresholds: Thresholds,
  worse: "higher" | "lower",
): { status: "HEALTHY"; threshold: number | null } | { status: Exclude<HealthStatus, "HEALTHY">; threshold: number } {
  const levels: Array<[Exclude<HealthStatus, "HEALTHY">, number | null]> = [
    ["CRITICAL", thresholds.critical],
    ["UNHEALTHY", thresholds.unhealthy],
    ["DEGRADED", thresholds.degraded],
  ];
  for (const [status, threshold] of levels) {
    if (threshold !== null && (worse === "higher" ? value >= threshold : value <= threshold)) return { status, threshold };
  }
  return { status: "HEALTHY", threshold: thresholds.degraded };
}

interface Judged {
  check: HealthCheck;
  /** Set for a check that is not HEALTHY. */
  recommendation?: string;
}

function judgeNumeric(name: NumericCheckName, input: HealthInput): Judged {
  const rule: NumericCheck = NUMERIC_CHECKS[name];
  const thresholds = thresholdsOf(name, input.thresholds);
  const value = rule.value(input);
  if (value === null) {
    return { check: { name, status: "HEALTHY", value: null, threshold: thresholds.degraded, message: "nothing to judge yet" } };
  }
  const level = levelOf(value, thresholds, rule.worse);
  const check = { name, ...level, value, message: rule.describe(value, input) };
  if (level.status === "HEALTHY") return { check };
  return { check, recommendation: rule.advise(value, level.threshold, input) };
}

/** OPEN is CRITICAL, HALF_OPEN DEGRADED: states, not numbers, so no threshold overrides them. */
function judgeBreaker({ snapshot, breakerOptions, location }: HealthInput): Judged {
  const { state, opened } = snapshot.breaker;
  const { failureThreshold, recoveryTimeoutMs } = breakerOptions;
  const times = `opened ${opened} time${opened === 1 ? "" : "s"} since the store opened`;
  if (state === "OPEN") {
    return {
      check: { name: "breaker", status: "CRITICAL", value: state, threshold: "OPEN", message: `the circuit breaker is open (${times})` },
      recommendation:
        `the circuit breaker is open after ${failureThreshold} consecutive storage failures (${times}): ` +
        `check free space and permissions at ${location}; calls fail with CIRCUIT_OPEN until a probe call, ` +
        `${formatMs(recoveryTimeoutMs)} after the last failure, succeeds`,
    };
  }
  if (state === "HALF_OPEN") {
    return {
      check: { name: "breaker", status: "DEGRADED", value: state, threshold: "HALF_OPEN", message: `the circuit breaker is half-open (${times})` },
      recommendation:
        `the circuit breaker is half-open: the next call probes storage at ${location}; ` +
        `if it fails the breaker opens again for ${formatMs(recoveryTimeoutMs)}, so check free space and permissions there`,
    };
  }
  return { check: { name: "breaker", status: "HEALTHY", value: state, threshold: "HALF_OPEN", message: `the circuit breaker is closed (${times})` } };
}

function worstOf(statuses: readonly HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>(
    (worst, status) => (HEALTH_STATUSES.indexOf(status) > HEALTH_STATUSES.indexOf(worst) ? status : worst),
    "HEALTHY",
  );
}

/** Judges every check: the status is the worst, with one recommendation per check that is not HEALTHY. */
export function assessHealth(input: HealthInput): HealthReport {
  const judged = CHECK_NAMES.map((name) => (name === "breaker" ? judgeBreaker(input) : judgeNumeric(name, input)));
  const checks = judged.map(({ check }) => check);
  return {
    status: worstOf(checks.map((check) => check.status)),
    checks,
    recommendations: judged.flatMap(({ recommendation }) => (recommendation === undefined ? [] : [recommendation])),
    checkedAt: input.now,
  };
}
