/**
 * metricsText(): a store's metrics in the Prometheus text exposition format
 * 0.0.4. Every metric is prefixed `larder_` and has `# HELP` and `# TYPE`
 * lines; durations are histograms in seconds; `labels` are added to every
 * sample.
 */

import { ownError } from "./errors.js";
import type { StoreMetrics } from "./metrics.js";
import type { HealthStatus, Histogram, MetricsSnapshot, MetricsTextOptions } from "./types.js";

type Labels = ReadonlyArray<readonly [string, string]>;
type Sample = readonly [suffix: string, labels: Labels, value: number];

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Labels the metrics set themselves; a user label may not repeat one. */
const OWN_LABELS = ["op", "code", "le", "state", "status"];
const BREAKER_STATES = ["CLOSED", "OPEN", "HALF_OPEN"] as const;
const HEALTH_STATUSES: readonly HealthStatus[] = ["HEALTHY", "DEGRADED", "UNHEALTHY", "CRITICAL"];

const invalid = (message: string) => ownError("INVALID_ARGUMENT", `metricsText ${message}`);

/** The `labels` option, checked: INVALID_ARGUMENT for a name Prometheus
 *  refuses (or reserves, `__…`, or one larder's metrics use) or a non-string value. */
export function userLabels(options: MetricsTextOptions | undefined): Labels {
  if (options === undefined) return [];
  if (typeof options !== "object" || options === null) throw invalid("options must be an object");
  const { labels } = options;
  if (labels === undefined) return [];
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) {
    throw invalid("labels must be an object of string values");
  }
  return Object.entries(labels).map(([name, value]) => {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw invalid(`label name ${JSON.stringify(name)} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __`);
    }
    if (OWN_LABELS.includes(name)) throw invalid(`label name ${JSON.stringify(name)} is one larder's metrics use`);
    if (typeof value !== "string") throw invalid(`label ${name} must be a string, got ${typeof value}`);
    return [name, value] as const;
  });
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** The text of one metric family; nothing when it has no samples. */
function family(name: string, type: string, help: string, samples: readonly Sample[], common: Labels): string {
  if (samples.length === 0) return "";
  const lines = [`# HELP larder_${name} ${help}`, `# TYPE larder_${name} ${type}`];
  for (const [suffix, own, value] of samples) {
    const labels = [...common, ...own].map(([label, text]) => `${label}="${escapeLabel(text)}"`);
    const set = labels.length === 0 ? "" : `{${labels.join(",")}}`;
    lines.push(`larder_${name}${suffix}${set} ${formatValue(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A histogram in milliseconds as Prometheus' samples in seconds. */
function seconds(histogram: Histogram, labels: Labels): Sample[] {
  const buckets = histogram.buckets.map(
    ({ le, count }): Sample => ["_bucket", [...labels, ["le", le === Infinity ? "+Inf" : String(le / 1000)]], count],
  );
  return [...buckets, ["_sum", labels, histogram.sum / 1000], ["_count", labels, histogram.count]];
}

const one = (value: number): Sample[] => [["", [], value]];

function operationFamilies(snapshot: MetricsSnapshot, common: Labels): string[] {
  const ops = Object.entries(snapshot.operations);
  const byOp = (value: (entry: (typeof ops)[number][1]) => number) =>
    ops.map(([op, entry]): Sample => ["", [["op", op]], value(entry)]);
  const errors = ops.flatMap(([op, entry]) =>
    Object.entries(entry.errors).map(([code, count]): Sample => ["", [["op", op], ["code", code]], count]),
  );
  const durations = ops.flatMap(([op, entry]) => seconds(entry.latencyMs, [["op", op]]));
  return [
    family("operations_total", "counter", "Calls made, failed ones included.", byOp((entry) => entry.calls), common),
    family("operation_errors_total", "counter", "Failed calls, by StorageError code.", errors, common),
    family("operation_duration_seconds", "histogram", "Time from a call to its settlement.", durations, common),
    family("slow_operations_total", "counter", "Calls slower than slowOperationMs.", byOp((entry) => entry.slow), common),
  ];
}

function storeFamilies(snapshot: MetricsSnapshot, common: Labels): string[] {
  const { queue, cache, commits, breaker, storage } = snapshot;
  const states = BREAKER_STATES.map((state): Sample => ["", [["state", state]], state === breaker.state ? 1 : 0]);
  const budget = storage.budgetBytes === null ? [] : one(storage.budgetBytes);
  return [
    family("queue_depth", "gauge", "Operations waiting in the queue.", one(queue.depth), common),
    family("queue_wait_seconds", "histogram", "Time operations waited in the queue.", seconds(queue.waitMs, []), common),
    family("cache_hits_total", "counter", "Lookups that found a live entry.", one(cache.hits), common),
    family("cache_misses_total", "counter", "Lookups that found no live entry.", one(cache.misses), common),
    family("evictions_total", "counter", "Entries evicted to keep the budget.", one(cache.evictions), common),
    family("expired_total", "counter", "Expired rows removed.", one(cache.expired), common),
    family("commits_total", "counter", "Write transactions committed.", one(commits.count), common),
    family("grouped_commits_total", "counter", "Commits that joined several sets.", one(commits.grouped), common),
    family("retries_total", "counter", "Attempts retried after a transient failure.", one(commits.retries), common),
    family("timeouts_total", "counter", "Operations that ran out of time.", one(commits.timeouts), common),
    family("rollbacks_total", "counter", "Write transactions rolled back.", one(commits.rollbacks), common),
    family("breaker_state", "gauge", "1 for the circuit breaker's current state.", states, common),
    family("breaker_opened_total", "counter", "Times the circuit breaker opened.", one(breaker.opened), common),
    family("entries", "gauge", "Rows stored.", one(storage.entries), common),
    family("size_bytes", "gauge", "Logical size of the rows stored.", one(storage.sizeBytes), common),
    family("budget_bytes", "gauge", "The maxSizeBytes budget.", budget, common),
    family("file_bytes", "gauge", "Bytes of the database file.", one(storage.fileBytes), common),
    family("wal_bytes", "gauge", "Bytes of the write-ahead log.", one(storage.walBytes), common),
  ];
}

function healthFamily(status: HealthStatus | undefined, common: Labels): string {
  if (status === undefined) return "";
  const samples = HEALTH_STATUSES.map((each): Sample => ["", [["status", each]], each === status ? 1 : 0]);
  return family("health_status", "gauge", "1 for the status the last health() computed.", samples, common);
}

/** The exposition of `metrics`' snapshot (and last health status). */
export async function metricsText(metrics: StoreMetrics, options: MetricsTextOptions | undefined): Promise<string> {
  const common = userLabels(options);
  const snapshot = await metrics.metrics();
  return [
    ...operationFamilies(snapshot, common),
    ...storeFamilies(snapshot, common),
    healthFamily(metrics.lastHealthStatus, common),
  ].join("");
}
