// One engine in one fresh process: `node bench/worker.mjs ENGINE DIR SIZE_DIVISOR`.
// Times the first operation (import + open + first set), runs W1–W6 on one
// store, and prints one JSON line: { timeToFirstOpMs, opsPerSecond, peakRssBytes }.
import { join } from "node:path";
import { ENGINES, isPersistent } from "./engines/index.mjs";
import { makeValuePool } from "./lib/data.mjs";
import { makeWorkloads, runWorkloads, scaledSizes } from "./lib/workloads.mjs";

const [engineId, dir, divisor] = process.argv.slice(2);
const engine = ENGINES.find((candidate) => candidate.id === engineId);
if (!engine || !dir || !divisor) {
  console.error("usage: node bench/worker.mjs ENGINE DIR SIZE_DIVISOR");
  process.exit(2);
}
const file = isPersistent(engine) ? join(dir, engine.storage === "directory" ? "pgdata" : "kv.sqlite") : undefined;
const firstValue = makeValuePool()[0];

const start = performance.now();
const { open } = await import(new URL(`./engines/${engine.module}`, import.meta.url));
const store = await open({ file, ...engine.options });
await store.set("first", firstValue);
const timeToFirstOpMs = performance.now() - start;

const opsPerSecond = await runWorkloads(store, makeWorkloads(scaledSizes(Number(divisor))));
await store.close();
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ timeToFirstOpMs, opsPerSecond, peakRssBytes })}\n`);
