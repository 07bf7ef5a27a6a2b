// The targets, judged from a run's medians: each is one row of the
// targets table (what, goal, measured, met). A target whose rows were not run
// (not selected, or failed) is listed as not measured rather than left out.
import { formatRatio } from "./table.mjs";

/**
 * One target per workload: `rates[row][W] / rates[baseline][W]` at least
 * `goal`. `rates` maps a row id to its ops/second by workload id.
 */
export function ratioTargets(rates, row, baseline, workloadIds, goal) {
  return workloadIds.map((id) => {
    const ratio = rates.get(row)?.[id] / rates.get(baseline)?.[id];
    return atLeast(`${id}: \`${row}\` / \`${baseline}\``, ratio, goal, formatRatio);
  });
}

/** A target that `value` be at least `goal`; `format` renders both. */
export function atLeast(what, value, goal, format) {
  return judged(what, `≥ ${format(goal)}`, value, (measured) => measured >= goal, format);
}

/** A target that `value` be at most `limit`; `format` renders both. */
export function atMost(what, value, limit, format) {
  return judged(what, `≤ ${format(limit)}`, value, (measured) => measured <= limit, format);
}

function judged(what, goal, value, meets, format) {
  const measured = Number.isFinite(value);
  return {
    what,
    goal,
    measured: measured ? format(value) : "–",
    verdict: measured ? (meets(value) ? "met" : "NOT MET") : "not measured",
  };
}

export const TARGET_COLUMNS = [{ title: "target" }, { title: "goal", align: "right" }, { title: "measured", align: "right" }, { title: "" }];

export const targetRow = ({ what, goal, measured, verdict }) => [what, goal, measured, verdict];
