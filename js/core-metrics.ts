/**
 * The core's counters (core/src/metrics.rs `CoreMetrics::flat`): one array
 * of numbers read from the core per `metrics()`, and what a store keeps of
 * the counters of instances it lost to a trap, so that they last for the
 * store's life.
 */

import { BUCKET_COUNT, DurationCounts } from "./histogram.js";

/** Where each number sits in the core's array. */
const AT = {
  queueDepth: 0,
  maxQueueDepth: 1,
  evictions: 2,
  expired: 3,
  commits: 4,
  groupedCommits: 5,
  retries: 6,
  timeouts: 7,
  rollbacks: 8,
  breakerState: 9,
  breakerOpened: 10,
  entries: 11,
  sizeBytes: 12,
  fileBytes: 13,
  walBytes: 14,
  queueWaitSum: 16,
  queueWaitMax: 17,
  queueWaitBuckets: 18,
  traced: 18 + BUCKET_COUNT,
} as const;

/** Counters that only grow, which a trapped instance's carry over. */
const GROWING = [AT.evictions, AT.expired, AT.commits, AT.groupedCommits, AT.retries, AT.timeouts, AT.rollbacks, AT.breakerOpened, AT.traced];

const BREAKER_STATES = ["CLOSED", "OPEN", "HALF_OPEN"] as const;

export const CORE_METRICS_LENGTH = AT.traced + 1;

export interface CoreFigures {
  queue: { depth: number; maxDepth: number; waitMs: DurationCounts };
  evictions: number;
  expired: number;
  commits: { count: number; grouped: number; retries: number; timeouts: number; rollbacks: number };
  breaker: { state: (typeof BREAKER_STATES)[number]; opened: number };
  storage: { entries: number; sizeBytes: number; fileBytes: number; walBytes: number };
  /** Operations whose trace facts the core recorded (js/trace.ts). */
  traced: number;
}

/** The counters of instances lost to traps, added to the live one's. */
export class CarriedCoreMetrics {
  readonly #carried = new Float64Array(CORE_METRICS_LENGTH);

  /** Keeps what a trapped instance had counted. */
  carry(lost: ArrayLike<number>): void {
    for (const at of GROWING) this.#carried[at] += lost[at]!;
    this.#carried[AT.maxQueueDepth] = Math.max(this.#carried[AT.maxQueueDepth]!, lost[AT.maxQueueDepth]!);
    this.#carried[AT.queueWaitSum] += lost[AT.queueWaitSum]!;
    this.#carried[AT.queueWaitMax] = Math.max(this.#carried[AT.queueWaitMax]!, lost[AT.queueWaitMax]!);
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket += 1) {
      this.#carried[AT.queueWaitBuckets + bucket] += lost[AT.queueWaitBuckets + bucket]!;
    }
  }

  /** The live instance's array plus what was carried. */
  figures(live: ArrayLike<number>): CoreFigures {
    const carried = this.#carried;
    const sum = (at: number) => live[at]! + carried[at]!;
    const waitMs = new DurationCounts();
    const buckets = (source: ArrayLike<number>) =>
      Array.from({ length: BUCKET_COUNT }, (_, bucket) => source[AT.queueWaitBuckets + bucket]!);
    waitMs.add(buckets(live), live[AT.queueWaitSum]!, live[AT.queueWaitMax]!);
    waitMs.add(buckets(carried), carried[AT.queueWaitSum]!, carried[AT.queueWaitMax]!);
    return {
      queue: { depth: live[AT.queueDepth]!, maxDepth: Math.max(live[AT.maxQueueDepth]!, carried[AT.maxQueueDepth]!), waitMs },
      evictions: sum(AT.evictions),
      expired: sum(AT.expired),
      commits: {
        count: sum(AT.commits),
        grouped: sum(AT.groupedCommits),
        retries: sum(AT.retries),
        timeouts: sum(AT.timeouts),
        rollbacks: sum(AT.rollbacks),
      },
      breaker: { state: BREAKER_STATES[live[AT.breakerState]!] ?? "CLOSED", opened: sum(AT.breakerOpened) },
      storage: {
        entries: live[AT.entries]!,
        sizeBytes: live[AT.sizeBytes]!,
        fileBytes: live[AT.fileBytes]!,
        walBytes: live[AT.walBytes]!,
      },
      traced: sum(AT.traced),
    };
  }
}
