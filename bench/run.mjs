// The Node benchmark: every engine in a fresh process per repetition, engines
// interleaved (repetition 1 runs them all, then repetition 2…), medians
// printed as one Markdown table with ratios to better-sqlite3, then the sizes
// of the files each library loads. Progress goes to stderr, tables to stdout.
// Settings: see lib/config.mjs.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASELINE, ENGINES, isPersistent } from "./engines/index.mjs";
import { quick, repetitions, selectEngines, sizeDivisor } from "./lib/config.mjs";
import { runtimeFileSizes } from "./lib/file-sizes.mjs";
import { describeMachine } from "./lib/machine.mjs";
import { median, medianRecord } from "./lib/stats.mjs";
import { formatKiB, formatMiB, markdownTable, rateWithRatio } from "./lib/table.mjs";
import { makeWorkloads, scaledSizes } from "./lib/workloads.mjs";

const CHILD_TIMEOUT_MS = 10 * 60_000;
const WORKER = new URL("./worker.mjs", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url);

const engines = selectEngines(ENGINES);
const reps = repetitions();
const divisor = sizeDivisor(1);
const workloads = makeWorkloads(scaledSizes(divisor)).map(({ id, name, ops }) => ({ id, name, ops }));

/** Runs one engine in a fresh process on a fresh directory; resolves with its JSON result. */
async function runOnce(engine) {
  const dir = await mkdtemp(join(tmpdir(), "larder-bench-"));
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [WORKER, engine.id, dir, String(divisor)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
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

const started = performance.now();
const runs = new Map(engines.map((engine) => [engine.id, []]));
const failures = new Map();
for (let rep = 0; rep < reps; rep += 1) {
  // Rotate the order each repetition, so no engine always runs first or after the same neighbour.
  const order = engines.map((_, i) => engines[(i + rep) % engines.length]);
  for (const engine of order) {
    if (failures.has(engine.id)) continue;
    const t0 = performance.now();
    try {
      runs.get(engine.id).push(await runOnce(engine));
      console.error(`rep ${rep + 1}/${reps} ${engine.id}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      failures.set(engine.id, error.message);
      console.error(`rep ${rep + 1}/${reps} ${engine.id}: FAILED ${error.message}`);
    }
  }
}
const elapsedMinutes = (performance.now() - started) / 60_000;

const summary = new Map(
  engines
    .filter((engine) => !failures.has(engine.id))
    .map((engine) => {
      const results = runs.get(engine.id);
      return [
        engine.id,
        {
          opsPerSecond: medianRecord(results.map((result) => result.opsPerSecond)),
          timeToFirstOpMs: median(results.map((result) => result.timeToFirstOpMs)),
          peakRssBytes: median(results.map((result) => result.peakRssBytes)),
        },
      ];
    }),
);

const columns = [
  { title: "engine" },
  ...workloads.map(({ id, name }) => ({ title: `${id} ${name}`, align: "right" })),
  { title: "first op (ms)", align: "right" },
  { title: "peak RSS (MiB)", align: "right" },
];
const rows = engines.map((engine) => {
  const result = summary.get(engine.id);
  if (!result) return [engine.id, ...workloads.map(() => "failed"), "–", "–"];
  const baselineId = BASELINE[isPersistent(engine) ? "persistent" : "memory"];
  const baseline = summary.get(baselineId);
  return [
    engine.id,
    ...workloads.map(({ id }) =>
      rateWithRatio(result.opsPerSecond[id], baseline?.opsPerSecond[id], engine.id === baselineId),
    ),
    result.timeToFirstOpMs.toFixed(0),
    formatMiB(result.peakRssBytes),
  ];
});

const sizes = runtimeFileSizes(ROOT);
const sizeTable = markdownTable(
  [
    { title: "runtime files" },
    { title: "wasm KiB", align: "right" },
    { title: "wasm gzip KiB", align: "right" },
    { title: "JS KiB", align: "right" },
    { title: "JS gzip KiB", align: "right" },
    { title: "total gzip KiB", align: "right" },
  ],
  sizes.map(({ library, wasm, js }) => [
    library,
    formatKiB(wasm.raw),
    formatKiB(wasm.gzip),
    formatKiB(js.raw),
    formatKiB(js.gzip),
    formatKiB(wasm.gzip + js.gzip),
  ]),
);

const count = (n) => n.toLocaleString("en-US");
console.log(`larder benchmark (Node): median of ${reps} repetition${reps === 1 ? "" : "s"}${quick ? ", QUICK mode (a tenth of the sizes)" : ""}`);
console.log(`${describeMachine()}; the whole run took ${elapsedMinutes.toFixed(1)} min\n`);
console.log(markdownTable(columns, rows));
console.log(`
Operations per second (W3, W4: entries per second), median over ${reps} fresh processes per engine;
in parentheses the ratio to better-sqlite3 on the same kind of storage (file rows to
\`better-sqlite3-file\`, memory rows to \`better-sqlite3-memory\`); higher is better.
- W1: ${count(workloads[0].ops)} distinct keys, one awaited \`set\` at a time. W2: ${count(workloads[1].ops)} awaited \`get\`s of those keys.
- W3: ${count(workloads[2].ops)} entries in \`mset\` batches of 1,000; SQLite engines: BEGIN, 1,000 prepared upserts,
  COMMIT; PGlite: one upsert of the whole batch over arrays (each of its queries is an async round trip).
- W4: ${count(workloads[3].ops)} keys in \`mget\` batches of 100; SQL engines: one prepared \`SELECT … WHERE key IN (?, … 100)\`.
- W5: ${count(workloads[4].ops)} operations, 90% get / 10% set, Zipf (s = 1) over W1's keys.
- W6: ${count(workloads[5].ops)} \`set\`s issued at once and awaited with \`Promise.all\`; for the SQL engines each is its
  own autocommit insert (its own transaction), as a naive app would do; larder queues them.
- Values are seeded JSON objects of about 1 KB; every engine takes and returns objects (the SQL
  engines and the Map store JSON text). SQL engines: table \`kv(key TEXT PRIMARY KEY, value TEXT,
  expires_at INTEGER, size INTEGER)\`, an upsert per set, reads skip expired rows. One store per
  process, workloads in order W1…W6 (W3 leaves ${count(workloads[2].ops)} more rows for the rest).
- first op: import + open + first \`set\` in a fresh process. peak RSS: the process's maxRSS.
${engines.map((engine) => `- \`${engine.id}\`: ${engine.settings}`).join("\n")}
`);
console.log(sizeTable);
if (failures.size > 0) {
  console.log("\nFailed:");
  for (const [id, message] of failures) console.log(`- ${id}: ${message}`);
  process.exitCode = 1;
}
