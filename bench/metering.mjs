// What metrics cost, for one larder row, in one process:
// `node --expose-gc bench/metering.mjs ENGINE DIR SIZE_DIVISOR ROUNDS FIRST`.
// Each round opens two fresh stores with the row's options, one from the
// package and one from its copy that counts nothing (lib/uncounted-package.mjs,
// made by the runner), and runs W1–W6 on both, one workload at a time, in
// alternation: each step of the workload (a 200th of it, `meteredSizes`;
// lib/workloads.mjs) on one store, then the same step on the other, which of
// the two goes first alternating from step to step and round to round. Then
// W7 the same way on two fresh stores with the budget. Both sides thus meet
// the same moments of the machine: run whole, minutes apart in separate
// processes, or even seconds apart, they met a machine whose speed drifts
// by more than the few percent being measured. A workload starts after a
// full garbage collection (node's --expose-gc, as run.mjs starts it), so
// neither side is charged for what a workload before left, and each step
// after a young-generation one. A side's rate
// is the workload's operations over the sum of its steps' times. FIRST
// (counted or uncounted) is the side whose package is imported first: each
// package's code is compiled and optimised on its own, once per process, so
// run.mjs runs one process with each. Which store opens first alternates by
// round.
// Prints one JSON line: each side's rates by workload, one per round:
// { counted: { W1: [...], ... }, uncounted: { W1: [...], ... } }.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ENGINES, isPersistent } from "./engines/index.mjs";
import { larderOpener } from "./lib/larder-api.mjs";
import { makeCapacityWorkload, makeWorkloads, scaledSizes } from "./lib/workloads.mjs";

const SIDES = ["counted", "uncounted"];
const PACKAGES = { counted: "larderdb", uncounted: "../target/pkg-uncounted/node.js" };

const [engineId, dir, divisor, rounds, first] = process.argv.slice(2);
const engine = ENGINES.find((candidate) => candidate.id === engineId && candidate.metered);
if (!engine || !dir || !(Number(divisor) > 0) || !(Number(rounds) >= 1) || !SIDES.includes(first)) {
  console.error("usage: node bench/metering.mjs ENGINE DIR SIZE_DIVISOR ROUNDS counted|uncounted (ENGINE: a row marked metered)");
  process.exit(2);
}
/** The workloads as make bench runs them, sampled more finely:
 *  - cut into METERED_STEPS steps instead of 20: a W1 step of 500 sets
 *    (15–35 ms) swung from 0.67× to 1.6× of the other side's same step, as
 *    the machine's speed and the garbage collector came and went; steps a
 *    tenth as long meet such moments on both sides (against a copy of
 *    itself, W1's rounds moved from 0.90–1.05 to 0.99–1.03);
 *  - W2, reads only, run W2_PASSES times over on the same store: its
 *    10,000 gets take about 80 ms, and its rounds swung by ±10%; after the
 *    first pass the others read the same entries in the same state;
 *  - W6 (1,000 concurrent sets) is one step of a few tens of milliseconds,
 *    whose time swung by ±15% from round to round: W6_STEPS such steps,
 *    each on keys of its own. */
const METERED_STEPS = 200;
const W2_PASSES = 5;
const W6_STEPS = 10;
const meteredSizes = (sizeDivisor) => ({
  ...scaledSizes(sizeDivisor),
  steps: METERED_STEPS,
  getPasses: W2_PASSES,
  concurrentSteps: W6_STEPS,
});
const sizes = meteredSizes(Number(divisor));

/** SIDES in the order that puts `side` first. */
const startingWith = (side) => (side === SIDES[0] ? SIDES : [...SIDES].reverse());

const openers = {};
for (const side of startingWith(first)) {
  openers[side] = larderOpener((await import(PACKAGES[side])).openStorage);
}

/** Runs `workload` on both `stores` step by step in alternation (the side
 *  that goes first changes every step, and with `round`); adds each side's
 *  rate to `rates`. */
async function runAlternating(workload, stores, round, rates) {
  for (const side of SIDES) await workload.setUp?.(stores.get(side));
  globalThis.gc?.();
  const elapsedMs = { counted: 0, uncounted: 0 };
  for (const [index, step] of workload.steps.entries()) {
    for (const side of startingWith(SIDES[(index + round) % 2])) {
      // An empty young generation: no step pays for collecting what the
      // step before it (the other side's) left.
      globalThis.gc?.({ type: "minor" });
      const start = performance.now();
      await step(stores.get(side));
      elapsedMs[side] += performance.now() - start;
    }
  }
  for (const side of SIDES) {
    await workload.check?.(stores.get(side));
    (rates[side][workload.id] ??= []).push(workload.ops / (elapsedMs[side] / 1000));
  }
}

/** Opens a fresh counted store and a fresh uncounted one (the row's options
 *  and `options`), runs `workloads` on them (`runAlternating`), closes them. */
async function runPair(round, workloads, options, rates) {
  const roundDir = join(dir, String(round));
  await mkdir(roundDir, { recursive: true });
  const stores = new Map();
  try {
    // Which store opens first alternates by round too: the first opened ran
    // W2 a few percent slower than the other in a test of both orders.
    for (const side of startingWith(SIDES[round % 2])) {
      const file = isPersistent(engine) ? join(roundDir, `${side}.sqlite`) : undefined;
      stores.set(side, await openers[side]({ file, ...engine.options, ...options }));
    }
    for (const workload of workloads) await runAlternating(workload, stores, round, rates);
  } finally {
    for (const store of stores.values()) await store.close();
    await rm(roundDir, { recursive: true, force: true });
  }
}

/** Runs the rounds at `roundSizes`, recording their rates in `rates`. */
async function runRounds(roundSizes, count, rates) {
  const workloads = makeWorkloads(roundSizes);
  const capacity = makeCapacityWorkload(roundSizes);
  for (let round = 0; round < count; round += 1) {
    await runPair(round, workloads, {}, rates);
    await runPair(round, [capacity], { maxSizeBytes: roundSizes.capacityBytes }, rates);
  }
}

// First a round at a tenth of the sizes, not recorded: the first side to
// run a step would otherwise also pay for compiling the code both share.
await runRounds(meteredSizes(Number(divisor) * 10), 1, { counted: {}, uncounted: {} });
const rates = { counted: {}, uncounted: {} };
await runRounds(sizes, Number(rounds), rates);
process.stdout.write(`${JSON.stringify(rates)}\n`);
