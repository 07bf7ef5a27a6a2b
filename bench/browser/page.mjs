// The in-page half: opens one engine, runs W1–W4 on it (or W7 alone, on a
// store with a size budget), timed with performance.now(), and closes it
// (deleting its data).
import { makeCapacityWorkload, makeWorkloads, runWorkloads, scaledSizes } from "../lib/workloads.mjs";
import { BROWSER_ENGINES } from "./engines/index.mjs";

const BROWSER_WORKLOADS = ["W1", "W2", "W3", "W4"];

/** Resolves with { opsPerSecond } for `engineId` at the sizes divided by `divisor`; `mode` "W7" runs W7 alone. */
export async function run(engineId, divisor, mode) {
  const engine = BROWSER_ENGINES.find((candidate) => candidate.id === engineId);
  const sizes = scaledSizes(divisor);
  const atCapacity = mode === "W7";
  const workloads = atCapacity
    ? [makeCapacityWorkload(sizes)]
    : makeWorkloads(sizes).filter(({ id }) => BROWSER_WORKLOADS.includes(id));
  const { open } = await import(engine.module);
  const store = await open(atCapacity ? { ...engine.options, maxSizeBytes: sizes.capacityBytes } : engine.options);
  try {
    return await runWorkloads(store, workloads);
  } finally {
    await store.close();
  }
}
