/**
 * The last 60 seconds of a store's clock, in one-second slots: calls, failed
 * calls (validation errors excluded), lookups' hits and misses, and the
 * calls' durations by bucket for a p95. A slot is reused once its second has
 * left the window, so recording never allocates.
 */

import { BUCKET_COUNT, bucketOf, percentile } from "./histogram.js";

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

// A slot's numbers, at these offsets: its second, then what it counted.
const SECOND = 0;
const CALLS = 1;
const ERRORS = 2;
const HITS = 3;
const MISSES = 4;
const MAX_MS = 5;
const DURATIONS = 6;
const STRIDE = DURATIONS + BUCKET_COUNT;

export class RecentCounts {
  /** The slots, STRIDE numbers each, in one array: a call is counted with
   *  one array's writes. */
  readonly #slots = new Float64Array(WINDOW_SECONDS * STRIDE);
  /** The first millisecond of the second counted in last, and its slot's
   *  offset: most calls fall in the second of the call before. */
  #currentFromMs = Infinity;
  #current = 0;

  constructor() {
    for (let at = 0; at < this.#slots.length; at += STRIDE) this.#slots[at + SECOND] = NaN;
  }

  /** One settled call, and the hits and misses of its lookups. */
  call(nowMs: number, bucket: number, durationMs: number, failed: boolean, hits: number, misses: number): void {
    const at = this.#offset(nowMs);
    const slots = this.#slots;
    slots[at + CALLS] += 1;
    if (failed) slots[at + ERRORS] += 1;
    slots[at + HITS] += hits;
    slots[at + MISSES] += misses;
    slots[at + DURATIONS + bucket] += 1;
    if (durationMs > slots[at + MAX_MS]!) slots[at + MAX_MS] = durationMs;
  }

  /** `gets` gets the read cache answered: hits, of 0 ms each. */
  cachedGets(nowMs: number, gets: number): void {
    const at = this.#offset(nowMs);
    const slots = this.#slots;
    slots[at + CALLS] += gets;
    slots[at + HITS] += gets;
    slots[at + DURATIONS + bucketOf(0)] += gets;
  }

  lookups(nowMs: number, hits: number, misses: number): void {
    const at = this.#offset(nowMs);
    this.#slots[at + HITS] += hits;
    this.#slots[at + MISSES] += misses;
  }

  /** The totals of the slots within the last 60 s before `nowMs`. */
  window(nowMs: number): RecentWindow {
    const now = Math.floor(nowMs / 1000);
    const slots = this.#slots;
    const totals = { calls: 0, errors: 0, latencyP95Ms: null as number | null, hits: 0, misses: 0 };
    const durations = new Float64Array(BUCKET_COUNT);
    let maxMs = 0;
    for (let at = 0; at < slots.length; at += STRIDE) {
      const age = now - slots[at + SECOND]!;
      if (!(age >= 0 && age < WINDOW_SECONDS)) continue;
      totals.calls += slots[at + CALLS]!;
      totals.errors += slots[at + ERRORS]!;
      totals.hits += slots[at + HITS]!;
      totals.misses += slots[at + MISSES]!;
      maxMs = Math.max(maxMs, slots[at + MAX_MS]!);
      for (let bucket = 0; bucket < BUCKET_COUNT; bucket += 1) durations[bucket] += slots[at + DURATIONS + bucket]!;
    }
    if (totals.calls > 0) totals.latencyP95Ms = percentile(durations, totals.calls, 0.95, maxMs);
    return totals;
  }

  /** The offset of the slot of `nowMs`'s second, emptied first if it held an older second. */
  #offset(nowMs: number): number {
    if (nowMs >= this.#currentFromMs && nowMs < this.#currentFromMs + 1000) return this.#current;
    const second = Math.floor(nowMs / 1000);
    const at = (((second % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS) * STRIDE;
    if (this.#slots[at + SECOND] !== second) {
      this.#slots.fill(0, at, at + STRIDE);
      this.#slots[at + SECOND] = second;
    }
    this.#currentFromMs = second * 1000;
    this.#current = at;
    return at;
  }
}
