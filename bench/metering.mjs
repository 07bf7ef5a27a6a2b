// What metrics cost, for one larder row, in one process:
// `node --expose-gc bench/metering.mjs ENGINE DIR SIZE_DIVISOR ROUNDS`.
// Each round opens two fresh stores with the row's options, one from the
// package and one from its copy that counts nothing (lib/uncounted-package.mjs,
// made by the runner), and runs W1–W6 on them workload by workload: each
// workload on one store, then at once on the other, the counted store first
// in even rounds and second in odd ones. Then W7 the same way, on two fresh
// stores with the budget. The two runs of a workload are seconds apart in one
// process; rows run in separate processes minutes apart meet a machine whose
// speed has drifted by more than the few percent being measured. Each timed
// run starts after a full garbage collection (with node's --expose-gc, as
// run.mjs starts it), so neither side is charged for what the other left.
// Prints one JSON line: each side's rates by workload, one per round:
// { counted: { W1: [...], ... }, uncounted: { W1: [...], ... } }.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { openStorage } from "larderdb";
import { openStorage as openUncounted } from "../target/pkg-uncounted/node.js";
import { ENGINES, isPersistent } from "./engines/index.mjs";
import { larderOpener } from "./lib/larder-api.mjs";
import { makeCapacityWorkload, makeWorkloads, runWorkloads, scaledSizes } from "./lib/workloads.mjs";

const [engineId, dir, divisor, rounds] = process.argv.slice(2);
const engine = ENGINES.find((candidate) => candidate.id === engineId && candidate.metered);
if (!engine || !dir || !(Number(divisor) > 0) || !(Number(rounds) >= 1)) {
  console.error("usage: node bench/metering.mjs ENGINE DIR SIZE_DIVISOR ROUNDS (ENGINE: a row marked metered)");
  process.exit(2);
}
const sizes = scaledSizes(Number(divisor));
const openers = { counted: larderOpener(openStorage), uncounted: larderOpener(openUncounted) };

/** Runs `workloads` on a fresh counted store and a fresh uncounted one
 *  (opened with the row's options and `options`), alternating workload by
 *  workload, and adds their rates to `rates`; the side that goes first
 *  changes with `round`. */
async function runPair(round, workloads, options, rates) {
  const sides = round % 2 === 0 ? ["counted", "uncounted"] : ["uncounted", "counted"];
  const roundDir = join(dir, String(round));
  await mkdir(roundDir, { recursive: true });
  const stores = new Map();
  try {
    for (const side of sides) {
      const file = isPersistent(engine) ? join(roundDir, `${side}.sqlite`) : undefined;
      stores.set(side, await openers[side]({ file, ...engine.options, ...options }));
    }
    for (const workload of workloads) {
      for (const side of sides) {
        globalThis.gc?.();
        const { opsPerSecond } = await runWorkloads(stores.get(side), [workload]);
        (rates[side][workload.id] ??= []).push(opsPerSecond[workload.id]);
      }
    }
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

// First a round at a tenth of the sizes, not recorded: the first store to
// run a workload would otherwise also pay for compiling the code both share.
await runRounds(scaledSizes(Number(divisor) * 10), 1, { counted: {}, uncounted: {} });
const rates = { counted: {}, uncounted: {} };
await runRounds(sizes, Number(rounds), rates);
process.stdout.write(`${JSON.stringify(rates)}\n`);
