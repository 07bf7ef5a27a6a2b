/**
 * The `healthThresholds` option: per health check, the values at which it
 * reaches each level. Checked when the store opens; health() judges with the
 * checked copy.
 */

import { ownError } from "./errors.js";
import type { HealthCheckName as CheckName, HealthThresholdLevel as ThresholdLevel, HealthThresholds } from "./types.js";

export type { CheckName, HealthThresholds, ThresholdLevel };

/** The health checks, by their stable names. */
export const CHECK_NAMES = [
  "breaker",
  "queue",
  "latency",
  "errors",
  "budget",
  "storage",
  "hitRatio",
] as const satisfies readonly CheckName[];
export const THRESHOLD_LEVELS = ["degraded", "unhealthy", "critical"] as const satisfies readonly ThresholdLevel[];

// Both lists name every member of their type: a missing one fails to compile.
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : never;
const everyCheckListed: Missing<CheckName, (typeof CHECK_NAMES)[number]> = true;
const everyLevelListed: Missing<ThresholdLevel, (typeof THRESHOLD_LEVELS)[number]> = true;
void everyCheckListed, everyLevelListed;

type LevelThresholds = Partial<Record<ThresholdLevel, number>>;

const invalid = (message: string) => ownError("INVALID_ARGUMENT", `option healthThresholds${message}`);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "number" ? String(value) : typeof value;
}

/** A copy of `value` once checked: an object of known checks, each an
 *  object of known levels, each a number (not NaN). INVALID_ARGUMENT naming
 *  the option and the part at fault otherwise. */
export function validateHealthThresholds(value: unknown): HealthThresholds {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalid(` must be an object of checks, got ${describe(value)}`);
  const checked: HealthThresholds = {};
  for (const [check, levels] of Object.entries(value)) {
    if (!(CHECK_NAMES as readonly string[]).includes(check)) {
      throw invalid(` has an unknown check ${JSON.stringify(check)} (known: ${CHECK_NAMES.join(", ")})`);
    }
    if (!isPlainObject(levels)) throw invalid(`.${check} must be an object of levels, got ${describe(levels)}`);
    const copy: LevelThresholds = {};
    for (const [level, threshold] of Object.entries(levels)) {
      if (!(THRESHOLD_LEVELS as readonly string[]).includes(level)) {
        throw invalid(`.${check} has an unknown level ${JSON.stringify(level)} (known: ${THRESHOLD_LEVELS.join(", ")})`);
      }
      if (typeof threshold !== "number" || Number.isNaN(threshold)) {
        throw invalid(`.${check}.${level} must be a number, got ${describe(threshold)}`);
      }
      copy[level as ThresholdLevel] = threshold;
    }
    checked[check as CheckName] = copy;
  }
  return checked;
}
