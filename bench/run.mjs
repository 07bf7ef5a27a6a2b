// The Node benchmark: every engine in a fresh process per repetition, engines
// interleaved (repetition 1 runs them all, then repetition 2…), and W7 (a
// cache at capacity) in a process of its own for the rows that run it, and
// for each metered row what its metrics cost (metering.mjs, a process each).
// Medians are printed as Markdown tables (lib/node-report.mjs). Progress
// goes to stderr, tables to stdout. Settings: see lib/config.mjs.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENGINES } from "./engines/index.mjs";
import { meteringRounds, repetitions, selectEngines, sizeDivisor } from "./lib/config.mjs";
import { larderPackage } from "./lib/larder-package.mjs";
import { makeUncountedPackage } from "./lib/uncounted-package.mjs";
import { printNodeReport } from "./lib/node-report.mjs";
import { median, medianRecord } from "./lib/stats.mjs";

const CHILD_TIMEOUT_MS = 30 * 60_000;
const WORKER = new URL("./worker.mjs", import.meta.url).pathname;
const METERING = new URL("./metering.mjs", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url);

const larder = larderPackage(ROOT);
const engines = selectEngines(ENGINES);
const reps = repetitions();
const rounds = meteringRounds();
const divisor = sizeDivisor(1);
const metered = engines.filter((engine) => engine.metered);
if (metered.length > 0) console.error(`uncounted copy of the package: ${makeUncountedPackage(ROOT)}`);

/** Runs `script` with an engine's `args` in a fresh process (with `nodeFlags`),
 *  given a fresh directory after its first argument; resolves with its JSON result. */
async function runChild(script, [engineId, ...rest], nodeFlags = []) {
  const dir = await mkdtemp(join(tmpdir(), "larder-bench-"));
  try {
    return await new Promise((resolve, reject) => {
      const args = [...nodeFlags, script, engineId, dir, ...rest];
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(JSON.parse(stdout.trim().split("\n").at(-1)));
        else reject(new Error(`exited with ${signal ?? `code ${code}`}: ${stderr.trim().split("\n").slice(0, 5).join(" / ")}`));
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs one engine (W1–W6, or W7 alone) in a fresh worker process. */
const runOnce = (engine, mode) => runChild(WORKER, [engine.id, String(divisor), ...(mode ? [mode] : [])]);

/** Runs `engine` in `mode` unless that already failed; records the result or the failure under `name`. */
async function record(results, failures, name, engine, mode, progress) {
  if (failures.has(name)) return;
  const t0 = performance.now();
  try {
    results.get(name).push(await runOnce(engine, mode));
    console.error(`${progress} ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    failures.set(name, error.message);
    console.error(`${progress} ${name}: FAILED ${error.message}`);
  }
}

const failures = new Map();
/** What metrics cost, by metered engine id: each side's rates, one per round. */
const metering = new Map();

/** Runs `engine`'s metering (metering.mjs) for repetition `rep`, unless it
 *  failed before: two processes, one with each side's package loaded
 *  first; adds their rounds to `metering`. */
async function meter(engine, rep) {
  const name = `${engine.id} metering`;
  if (failures.has(name)) return;
  const t0 = performance.now();
  try {
    for (const first of ["counted", "uncounted"]) {
      const rates = await runChild(METERING, [engine.id, String(divisor), String(rounds), first], ["--expose-gc"]);
      const all = metering.get(engine.id) ?? { counted: {}, uncounted: {} };
      for (const [side, byWorkload] of Object.entries(rates)) {
        for (const [workload, list] of Object.entries(byWorkload)) (all[side][workload] ??= []).push(...list);
      }
      metering.set(engine.id, all);
    }
    console.error(`rep ${rep + 1}/${reps} ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    failures.set(name, error.message);
    console.error(`rep ${rep + 1}/${reps} ${name}: FAILED ${error.message}`);
  }
}

const capacityName = (engine) => `${engine.id} W7`;
const started = performance.now();
const results = new Map([
  ...engines.map((engine) => [engine.id, []]),
  ...engines.filter((engine) => engine.atCapacity).map((engine) => [capacityName(engine), []]),
]);
for (let rep = 0; rep < reps; rep += 1) {
  // Rotate the order each repetition, so no engine always runs first or after the same neighbour.
  const order = engines.map((_, i) => engines[(i + rep) % engines.length]);
  for (const engine of order) {
    const progress = `rep ${rep + 1}/${reps}`;
    await record(results, failures, engine.id, engine, undefined, progress);
    if (engine.atCapacity) await record(results, failures, capacityName(engine), engine, "W7", progress);
  }
  for (const engine of metered) await meter(engine, rep);
}

/** Medians by engine id; W7 apart, since it may fail while W1–W6 did not. */
const summary = new Map(
  engines
    .filter((engine) => !failures.has(engine.id))
    .map((engine) => {
      const runs = results.get(engine.id);
      const capacityRuns = failures.has(capacityName(engine)) ? [] : (results.get(capacityName(engine)) ?? []);
      return [
        engine.id,
        {
          opsPerSecond: medianRecord(runs.map((run) => run.opsPerSecond)),
          bytesPerOp: runs[0].bytesPerOp && medianRecord(runs.map((run) => run.bytesPerOp)),
          timeToFirstOpMs: median(runs.map((run) => run.timeToFirstOpMs)),
          peakRssBytes: median(runs.map((run) => run.peakRssBytes)),
          w7: capacityRuns.length > 0 ? median(capacityRuns.map((run) => run.opsPerSecond.W7)) : undefined,
        },
      ];
    }),
);

printNodeReport({
  engines,
  summary,
  metering,
  failures,
  reps,
  rounds,
  divisor,
  larder,
  elapsedMinutes: (performance.now() - started) / 60_000,
  root: ROOT,
});
if (failures.size > 0) process.exitCode = 1;
