// The in-page half: opens one engine, runs W1–W4 on it, timed with
// performance.now(), and closes it (deleting its data).
import { makeWorkloads, runWorkloads, scaledSizes } from "../lib/workloads.mjs";
import { BROWSER_ENGINES } from "./engines/index.mjs";

const BROWSER_WORKLOADS = ["W1", "W2", "W3", "W4"];

/** Resolves with { opsPerSecond } for `engineId` at the sizes divided by `divisor`. */
export async function run(engineId, divisor) {
  const engine = BROWSER_ENGINES.find((candidate) => candidate.id === engineId);
  const workloads = makeWorkloads(scaledSizes(divisor)).filter(({ id }) => BROWSER_WORKLOADS.includes(id));
  const { open } = await import(engine.module);
  const store = await open(engine.options);
  try {
    return { opsPerSecond: await runWorkloads(store, workloads) };
  } finally {
    await store.close();
  }
}
