/**
 * The last 60 seconds of a store's clock, in one-second slots: calls, failed
 * calls (validation errors excluded), lookups' hits and misses, and the
 * calls' durations by bucket for a p95. A slot is reused once its second has
 * left the window, so recording never allocates.
 */

import { BUCKET_COUNT, percentile } from "./histogram.js";

/** What happened in the last 60 s of the store's clock (for health checks). */
export interface RecentWindow {
  calls: number;
  /** Failed calls, excluding VALIDATION-category codes. */
  errors: number;
  /** null when no calls. */
  latencyP95Ms: number | null;
  hits: number;
  misses: number;
}

export const WINDOW_SECONDS = 60;

export class RecentCounts {
  readonly #second = new Float64Array(WINDOW_SECONDS).fill(NaN);
  readonly #calls = new Float64Array(WINDOW_SECONDS);
  readonly #errors = new Float64Array(WINDOW_SECONDS);
  readonly #hits = new Float64Array(WINDOW_SECONDS);
  readonly #misses = new Float64Array(WINDOW_SECONDS);
  readonly #durations = new Float64Array(WINDOW_SECONDS * BUCKET_COUNT);
  readonly #maxMs = new Float64Array(WINDOW_SECONDS);

  /** One settled call, and the hits and misses of its lookups. */
  call(nowMs: number, bucket: number, durationMs: number, failed: boolean, hits: number, misses: number): void {
    const slot = this.#slot(nowMs);
    this.#calls[slot] += 1;
    if (failed) this.#errors[slot] += 1;
    this.#hits[slot] += hits;
    this.#misses[slot] += misses;
    this.#durations[slot * BUCKET_COUNT + bucket] += 1;
    if (durationMs > this.#maxMs[slot]!) this.#maxMs[slot] = durationMs;
  }

  lookups(nowMs: number, hits: number, misses: number): void {
    const slot = this.#slot(nowMs);
    this.#hits[slot] += hits;
    this.#misses[slot] += misses;
  }

  /** The totals of the slots within the last 60 s before `nowMs`. */
  window(nowMs: number): RecentWindow {
    const now = Math.floor(nowMs / 1000);
    const totals = { calls: 0, errors: 0, latencyP95Ms: null as number | null, hits: 0, misses: 0 };
    const durations = new Float64Array(BUCKET_COUNT);
    let maxMs = 0;
    for (let slot = 0; slot < WINDOW_SECONDS; slot += 1) {
      const age = now - this.#second[slot]!;
      if (!(age >= 0 && age < WINDOW_SECONDS)) continue;
      totals.calls += this.#calls[slot]!;
      totals.errors += this.#errors[slot]!;
      totals.hits += this.#hits[slot]!;
      totals.misses += this.#misses[slot]!;
      maxMs = Math.max(maxMs, this.#maxMs[slot]!);
      for (let bucket = 0; bucket < BUCKET_COUNT; bucket += 1) {
        durations[bucket] += this.#durations[slot * BUCKET_COUNT + bucket]!;
      }
    }
    if (totals.calls > 0) totals.latencyP95Ms = percentile(durations, totals.calls, 0.95, maxMs);
    return totals;
  }

  /** The slot of `nowMs`'s second, emptied first if it held an older second. */
  #slot(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    const slot = ((second % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
    if (this.#second[slot] !== second) {
      this.#second[slot] = second;
      this.#calls[slot] = 0;
      this.#errors[slot] = 0;
      this.#hits[slot] = 0;
      this.#misses[slot] = 0;
      this.#maxMs[slot] = 0;
      this.#durations.fill(0, slot * BUCKET_COUNT, (slot + 1) * BUCKET_COUNT);
    }
    return slot;
  }
}
