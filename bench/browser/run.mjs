// The browser benchmark: headless Debian Chromium through playwright-core,
// W1–W4 at a fifth of the Node sizes. Each (engine, repetition) runs in a
// fresh page, engines interleaved; medians are printed as Markdown tables
// with ratios to sqlite-wasm (opfs-sahpool) and idb-keyval. Settings: see
// ../lib/config.mjs.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { quick, repetitions, selectEngines, sizeDivisor } from "../lib/config.mjs";
import { describeMachine } from "../lib/machine.mjs";
import { medianRecord } from "../lib/stats.mjs";
import { formatRate, formatRatio, markdownTable } from "../lib/table.mjs";
import { makeWorkloads, scaledSizes } from "../lib/workloads.mjs";
import { BROWSER_BASELINES, BROWSER_ENGINES } from "./engines/index.mjs";
import { CHROMIUM, CHROMIUM_ARGS, closeServer, startServer } from "../../scripts/static-server.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUN_TIMEOUT_MS = 5 * 60_000;

const engines = selectEngines(BROWSER_ENGINES);
const reps = repetitions();
const divisor = sizeDivisor(5);
const workloads = makeWorkloads(scaledSizes(divisor)).slice(0, 4);

/** One engine in a fresh page; resolves with its ops/second by workload. */
async function runOnce(context, origin, engine) {
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  try {
    await page.goto(`${origin}/bench/browser/bench.html`, { waitUntil: "load" });
    const { opsPerSecond } = await page.evaluate(
      async ({ engineId, divisor }) => (await import("/bench/browser/page.mjs")).run(engineId, divisor),
      { engineId: engine.id, divisor },
    );
    if (pageErrors.length > 0) throw new Error(pageErrors.join(" | "));
    return opsPerSecond;
  } finally {
    await page.close();
  }
}

const started = performance.now();
const server = await startServer(ROOT);
const origin = `http://127.0.0.1:${server.address().port}`;
const userDataDir = await mkdtemp(join(tmpdir(), "larder-bench-chromium-"));
const runs = new Map(engines.map((engine) => [engine.id, []]));
const failures = new Map();
// The user agent string hides the minor version; the binary tells it.
const browserVersion = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
  .split(" built")[0]
  .trim();
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
      if (failures.has(engine.id)) continue;
      const t0 = performance.now();
      try {
        runs.get(engine.id).push(await runOnce(context, origin, engine));
        console.error(`rep ${rep + 1}/${reps} ${engine.id}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } catch (error) {
        failures.set(engine.id, error.message.split("\n")[0]);
        console.error(`rep ${rep + 1}/${reps} ${engine.id}: FAILED ${error.message}`);
      }
    }
  }
  await context.close();
} finally {
  await closeServer(server);
  await rm(userDataDir, { recursive: true, force: true });
}
const elapsedMinutes = (performance.now() - started) / 60_000;

const medians = new Map(
  engines.filter((engine) => !failures.has(engine.id)).map((engine) => [engine.id, medianRecord(runs.get(engine.id))]),
);
const workloadColumns = workloads.map(({ id, name }) => ({ title: `${id} ${name}`, align: "right" }));
const rateRows = engines.map((engine) => [
  engine.id,
  ...workloads.map(({ id }) => (medians.has(engine.id) ? formatRate(medians.get(engine.id)[id]) : "failed")),
]);
const ratioRows = engines.map((engine) => [
  engine.id,
  ...workloads.map(({ id }) => {
    const rate = medians.get(engine.id)?.[id];
    return BROWSER_BASELINES.map((baselineId) => {
      const baseline = medians.get(baselineId)?.[id];
      return rate === undefined || baseline === undefined ? "–" : formatRatio(rate / baseline);
    }).join(" / ");
  }),
]);

const count = (n) => n.toLocaleString("en-US");
console.log(`larder benchmark (browser): median of ${reps} repetition${reps === 1 ? "" : "s"}${quick ? ", QUICK mode (a tenth of the full sizes)" : ""}`);
console.log(`${describeMachine()}; headless ${browserVersion}; the whole run took ${elapsedMinutes.toFixed(1)} min\n`);
console.log(markdownTable([{ title: "engine" }, ...workloadColumns], rateRows));
console.log(`\nRatios: vs ${BROWSER_BASELINES.join(" / vs ")} (higher is better)\n`);
console.log(markdownTable([{ title: "engine" }, ...workloadColumns], ratioRows));
console.log(`
Operations per second (W3, W4: entries per second), median over ${reps} fresh pages per engine,
timed in the page with performance.now(); the page's main thread drives every engine.
- W1: ${count(workloads[0].ops)} distinct keys, one awaited \`set\` at a time. W2: ${count(workloads[1].ops)} awaited \`get\`s of those keys.
- W3: ${count(workloads[2].ops)} entries in \`mset\` batches of 1,000 (sqlite-wasm: BEGIN, 1,000 prepared upserts, COMMIT).
- W4: ${count(workloads[3].ops)} keys in \`mget\` batches of 100 (sqlite-wasm: one prepared \`SELECT … WHERE key IN (?, … 100)\`).
- Values: the same seeded ~1 KB JSON objects as the Node half.
${engines.map((engine) => `- \`${engine.id}\`: ${engine.settings}`).join("\n")}`);
if (failures.size > 0) {
  console.log("\nFailed:");
  for (const [id, message] of failures) console.log(`- ${id}: ${message}`);
  process.exitCode = 1;
}
