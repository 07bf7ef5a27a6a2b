// The browser benchmark: headless Debian Chromium through playwright-core,
// W1–W4 at a fifth of the Node sizes, and W7 (a cache at capacity) for the
// rows that run it. Each (engine, repetition) runs in a fresh page, engines
// interleaved, W7 in a page and store of its own; medians are printed as
// Markdown tables (report.mjs). Settings: see ../lib/config.mjs.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { repetitions, selectEngines, sizeDivisor } from "../lib/config.mjs";
import { median, medianRecord } from "../lib/stats.mjs";
import { BROWSER_ENGINES } from "./engines/index.mjs";
import { printBrowserReport } from "./report.mjs";
import { CHROMIUM, CHROMIUM_ARGS, closeServer, startServer } from "../../scripts/static-server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUN_TIMEOUT_MS = 5 * 60_000;

const engines = selectEngines(BROWSER_ENGINES);
const reps = repetitions();
const divisor = sizeDivisor(5);

/** One engine (W1–W4, or W7 alone) in a fresh page; resolves with its ops/second by workload. */
async function runOnce(context, origin, engine, mode) {
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  try {
    await page.goto(`${origin}/bench/browser/bench.html`, { waitUntil: "load" });
    const { opsPerSecond } = await page.evaluate(
      async ({ engineId, divisor, mode }) => (await import("/bench/browser/page.mjs")).run(engineId, divisor, mode),
      { engineId: engine.id, divisor, mode },
    );
    if (pageErrors.length > 0) throw new Error(pageErrors.join(" | "));
    return opsPerSecond;
  } finally {
    await page.close();
  }
}

const capacityName = (engine) => `${engine.id} W7`;
const started = performance.now();
const server = await startServer(ROOT);
const origin = `http://127.0.0.1:${server.address().port}`;
const userDataDir = await mkdtemp(join(tmpdir(), "larder-bench-chromium-"));
const runs = new Map([
  ...engines.map((engine) => [engine.id, []]),
  ...engines.filter((engine) => engine.atCapacity).map((engine) => [capacityName(engine), []]),
]);
const failures = new Map();
// The user agent string hides the minor version; the binary tells it.
const browserVersion = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
  .split(" built")[0]
  .trim();

/** Runs `engine` in `mode` unless that already failed; records the result or the failure under `name`. */
async function record(context, name, engine, mode, progress) {
  if (failures.has(name)) return;
  const t0 = performance.now();
  try {
    runs.get(name).push(await runOnce(context, origin, engine, mode));
    console.error(`${progress} ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    failures.set(name, error.message.split("\n")[0]);
    console.error(`${progress} ${name}: FAILED ${error.message}`);
  }
}

try {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  context.setDefaultTimeout(RUN_TIMEOUT_MS);
  for (let rep = 0; rep < reps; rep += 1) {
    const order = engines.map((_, i) => engines[(i + rep) % engines.length]);
    for (const engine of order) {
      const progress = `rep ${rep + 1}/${reps}`;
      await record(context, engine.id, engine, undefined, progress);
      if (engine.atCapacity) await record(context, capacityName(engine), engine, "W7", progress);
    }
  }
  await context.close();
} finally {
  await closeServer(server);
  await rm(userDataDir, { recursive: true, force: true });
}

const medians = new Map(
  engines.filter((engine) => !failures.has(engine.id)).map((engine) => [engine.id, medianRecord(runs.get(engine.id))]),
);
const capacity = new Map(
  engines
    .filter((engine) => engine.atCapacity && !failures.has(capacityName(engine)))
    .map((engine) => [engine.id, median(runs.get(capacityName(engine)).map((rates) => rates.W7))]),
);
const elapsedMinutes = (performance.now() - started) / 60_000;
printBrowserReport({ engines, medians, capacity, failures, reps, divisor, browserVersion, elapsedMinutes, root: new URL("../../", import.meta.url) });
if (failures.size > 0) process.exitCode = 1;
