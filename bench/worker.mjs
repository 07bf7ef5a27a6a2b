// One engine in one fresh process: `node bench/worker.mjs ENGINE DIR SIZE_DIVISOR [W7]`.
// By default times the first operation (import + open + first set), runs
// W1–W6 on one store, counting the bytes each writes, and prints one JSON
// line: { timeToFirstOpMs, opsPerSecond, bytesPerOp, peakRssBytes }. With
// W7, runs only W7 on a store with a size budget: { opsPerSecond }. Nothing
// is printed before the end, so the process writes only what the engine does.
import { join } from "node:path";
import { ENGINES, isPersistent } from "./engines/index.mjs";
import { bytesWrittenCounter } from "./lib/bytes-written.mjs";
import { makeValuePool } from "./lib/data.mjs";
import { makeCapacityWorkload, makeWorkloads, runWorkloads, scaledSizes } from "./lib/workloads.mjs";

const [engineId, dir, divisor, mode] = process.argv.slice(2);
const engine = ENGINES.find((candidate) => candidate.id === engineId);
if (!engine || !dir || !divisor || (mode !== undefined && !(mode === "W7" && engine.atCapacity))) {
  console.error("usage: node bench/worker.mjs ENGINE DIR SIZE_DIVISOR [W7] (W7 only for engines marked atCapacity)");
  process.exit(2);
}
const file = isPersistent(engine) ? join(dir, engine.storage === "directory" ? "pgdata" : "kv.sqlite") : undefined;
const sizes = scaledSizes(Number(divisor));
const importEngine = async () => (await import(new URL(`./engines/${engine.module}`, import.meta.url))).open;

let result;
if (mode === "W7") {
  const open = await importEngine();
  const store = await open({ file, ...engine.options, maxSizeBytes: sizes.capacityBytes });
  result = await runWorkloads(store, [makeCapacityWorkload(sizes)]);
  await store.close();
} else {
  const firstValue = makeValuePool()[0];
  const start = performance.now();
  const open = await importEngine();
  const store = await open({ file, ...engine.options });
  await store.set("first", firstValue);
  const timeToFirstOpMs = performance.now() - start;
  const { opsPerSecond, bytesPerOp } = await runWorkloads(store, makeWorkloads(sizes), bytesWrittenCounter());
  await store.close();
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  result = { timeToFirstOpMs, opsPerSecond, bytesPerOp, peakRssBytes };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
