/**
 * Trace events: one per settled call, given to the `trace` option and, in
 * Node, published on the `node:diagnostics_channel` channel
 * `larder:operation` (js/node.ts passes the channel in; the browser entry
 * has none). Nothing is built unless someone listens.
 */

import { ownError } from "./errors.js";
import type { TraceEvent, TraceFunction } from "./types.js";

export type { TraceEvent, TraceFunction };

/**
 * What the core tells of a traced call's operations (core/src/trace.rs):
 * made only for a call someone listens to, filled by js/session.ts as each
 * of its core steps settles (getOrSet has two). A call answered without the
 * core (a read-cache hit) keeps the zeros.
 */
export class CoreFacts {
  queuedMs = 0;
  groupSize: number | null = null;
  retries = 0;

  constructor(readonly txId: number) {}

  /** One step's facts: queued ms, group size (0: it wrote nothing), retries. */
  add(step: ArrayLike<number> | undefined): void {
    if (step === undefined) return;
    this.queuedMs += step[0]!;
    if (step[1]! > 0) this.groupSize = step[1]!;
    this.retries += step[2]!;
  }
}


/** A `node:diagnostics_channel` channel, or anything shaped like one. */
export interface TraceChannel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

/** The `trace` option, checked. */
export function traceOption(value: unknown): TraceFunction | undefined {
  if (value === undefined || typeof value === "function") return value as TraceFunction | undefined;
  throw ownError("INVALID_ARGUMENT", `option trace must be a function, got ${value === null ? "null" : typeof value}`);
}

export class Tracer {
  readonly #trace: TraceFunction | undefined;
  readonly #channel: TraceChannel | undefined;

  constructor(trace: TraceFunction | undefined, channel: TraceChannel | undefined) {
    this.#trace = trace;
    this.#channel = channel;
  }

  /** Whether an event would reach anyone: build one only then. */
  get listening(): boolean {
    return this.#trace !== undefined || this.#channel?.hasSubscribers === true;
  }

  emit(event: TraceEvent): void {
    if (this.#trace !== undefined) {
      try {
        this.#trace(event);
      } catch {
        // A tracer's own failure must not reach the store or the caller.
      }
    }
    if (this.#channel?.hasSubscribers) this.#channel.publish(event);
  }
}
