/**
 * Durations counted in fixed buckets, cheaply enough to count every call: a
 * record is one bucket search and three additions, never an allocation. The
 * percentiles are read from the buckets: the upper bound of the bucket the
 * percentile falls in, never more than the longest duration seen.
 */

import type { Histogram } from "./types.js";

/** The buckets' upper bounds in milliseconds; a last, unbounded bucket follows.
 *  The core's queue wait histogram uses the same (core/src/metrics.rs). */
export const BUCKET_BOUNDS_MS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

export const BUCKET_COUNT = BUCKET_BOUNDS_MS.length + 1;

/** The bucket a duration falls in. */
export function bucketOf(durationMs: number): number {
  let bucket = 0;
  while (bucket < BUCKET_BOUNDS_MS.length && durationMs > BUCKET_BOUNDS_MS[bucket]!) bucket += 1;
  return bucket;
}

/** The `quantile` (0..1) of the durations counted in `counts` (one per bucket). */
export function percentile(counts: ArrayLike<number>, total: number, quantile: number, maxMs: number): number {
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(quantile * total));
  let seen = 0;
  for (let bucket = 0; bucket < counts.length; bucket += 1) {
    seen += counts[bucket]!;
    if (seen >= rank) return Math.min(BUCKET_BOUNDS_MS[bucket] ?? maxMs, maxMs);
  }
  return maxMs;
}

export class DurationCounts {
  readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  sum = 0;
  max = 0;

  /** Counts a duration, of one call or of `calls` calls; returns its bucket. */
  record(durationMs: number, calls = 1): number {
    const bucket = bucketOf(durationMs);
    this.counts[bucket] += calls;
    this.count += calls;
    this.sum += durationMs * calls;
    if (durationMs > this.max) this.max = durationMs;
    return bucket;
  }

  /** Adds counts kept elsewhere (the core's, or a trapped instance's). */
  add(counts: ArrayLike<number>, sum: number, max: number): void {
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket += 1) {
      this.counts[bucket] += counts[bucket]!;
      this.count += counts[bucket]!;
    }
    this.sum += sum;
    this.max = Math.max(this.max, max);
  }

  snapshot(): Histogram {
    const { counts, count, max } = this;
    let cumulative = 0;
    const buckets = Array.from(counts, (bucketCount, bucket) => {
      cumulative += bucketCount;
      return { le: BUCKET_BOUNDS_MS[bucket] ?? Infinity, count: cumulative };
    });
    const at = (quantile: number) => percentile(counts, count, quantile, max);
    return { count, sum: this.sum, p50: at(0.5), p95: at(0.95), p99: at(0.99), max, buckets };
  }
}
