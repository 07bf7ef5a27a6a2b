// The browser benchmark's output: rates, ratios to the baselines, W7, the
// size of what larder's browser entry loads, and the targets, as Markdown.
import { quick } from "../lib/config.mjs";
import { runtimeFileSizes } from "../lib/file-sizes.mjs";
import { describeMachine } from "../lib/machine.mjs";
import { formatKiB, formatRate, formatRatio, markdownTable } from "../lib/table.mjs";
import { TARGET_COLUMNS, atMost, ratioTargets, targetRow } from "../lib/targets.mjs";
import { makeCapacityWorkload, makeWorkloads, scaledSizes } from "../lib/workloads.mjs";
import { BROWSER_BASELINES } from "./engines/index.mjs";

const BROWSER_ENTRY = "larder (browser entry and OPFS worker)";
/** larder's budget for what an app loads, gzipped, in bytes (scripts/build.mjs). */
const GZIP_BUDGET = 450_000;
const count = (n) => n.toLocaleString("en-US");
const right = (title) => ({ title, align: "right" });

function rateTables(engines, medians, workloads) {
  const columns = [{ title: "engine" }, ...workloads.map(({ id, name }) => right(`${id} ${name}`))];
  const rates = engines.map((engine) => [
    engine.id,
    ...workloads.map(({ id }) => (medians.has(engine.id) ? formatRate(medians.get(engine.id)[id]) : "failed")),
  ]);
  const ratios = engines.map((engine) => [
    engine.id,
    ...workloads.map(({ id }) => {
      const rate = medians.get(engine.id)?.[id];
      return BROWSER_BASELINES.map((baselineId) => {
        const baseline = medians.get(baselineId)?.[id];
        return rate === undefined || baseline === undefined ? "–" : formatRatio(rate / baseline);
      }).join(" / ");
    }),
  ]);
  return [markdownTable(columns, rates), markdownTable(columns, ratios)];
}

function capacityTable(engines, medians, capacity) {
  const rows = engines
    .filter((engine) => engine.atCapacity)
    .map((engine) => {
      const w1 = medians.get(engine.id)?.W1;
      const w7 = capacity.get(engine.id);
      const ratio = w1 === undefined || w7 === undefined ? "–" : formatRatio(w7 / w1);
      return [engine.id, w7 === undefined ? "failed" : formatRate(w7), w1 === undefined ? "failed" : formatRate(w1), ratio];
    });
  return markdownTable([{ title: "engine" }, right("W7 set at capacity"), right("W1 set"), right("W7 / W1")], rows);
}

/** The issue's browser targets, each with its measured value and verdict. */
function targets(medians, entry) {
  const gzip = entry.wasm.gzip + entry.js.gzip;
  return [
    ...ratioTargets(medians, "larder-opfs", "sqlite-wasm-sahpool", ["W1", "W2"], 2),
    ...ratioTargets(medians, "larder-opfs", "sqlite-wasm-sahpool", ["W3", "W4"], 1.5),
    ...ratioTargets(medians, "larder-opfs", "idb-keyval", ["W1", "W2", "W3", "W4"], 3),
    atMost(`${BROWSER_ENTRY}, gzipped`, gzip, GZIP_BUDGET, (bytes) => `${(bytes / 1000).toFixed(1)} KB`),
  ];
}

/** Prints every table of a browser run to stdout. */
export function printBrowserReport({ engines, medians, capacity, failures, reps, divisor, browserVersion, elapsedMinutes, root }) {
  const sizes = scaledSizes(divisor);
  const workloads = makeWorkloads(sizes).slice(0, 4);
  const [w1, w2, w3, w4] = workloads;
  const [rates, ratios] = rateTables(engines, medians, workloads);
  const entry = runtimeFileSizes(root).find(({ library }) => library === BROWSER_ENTRY);
  console.log(`larder benchmark (browser): median of ${reps} repetition${reps === 1 ? "" : "s"}${quick ? ", QUICK mode (a tenth of the full sizes)" : ""}`);
  console.log(`${describeMachine()}; headless ${browserVersion}; the whole run took ${elapsedMinutes.toFixed(1)} min\n`);
  console.log(rates);
  console.log(`\nRatios: vs ${BROWSER_BASELINES.join(" / vs ")} (higher is better)\n`);
  console.log(ratios);
  console.log(`
Operations per second (W3, W4: entries per second), median over ${reps} fresh pages per engine,
timed in the page with performance.now(); the page's main thread drives every engine.
- W1: ${count(w1.ops)} distinct keys, one awaited \`set\` at a time. W2: ${count(w2.ops)} awaited \`get\`s of those keys.
- W3: ${count(w3.ops)} entries in \`mset\` batches of 1,000 (sqlite-wasm: BEGIN, 1,000 prepared upserts, COMMIT).
- W4: ${count(w4.ops)} keys in \`mget\` batches of 100 (sqlite-wasm: one prepared \`SELECT … WHERE key IN (?, … 100)\`).
- W7 (larder rows, in a page and store of their own): \`maxSizeBytes: ${count(sizes.capacityBytes)}\`, filled to it before
  the timing, then ${count(makeCapacityWorkload(sizes).ops)} awaited \`set\`s of new ~1 KB keys, each evicting; checked after.
- Values: the same seeded ~1 KB JSON objects as the Node half.
${engines.map((engine) => `- \`${engine.id}\`: ${engine.settings}`).join("\n")}

W7, a cache at capacity (sets per second), against the same row's W1:
`);
  console.log(capacityTable(engines, medians, capacity));
  console.log(`\n${BROWSER_ENTRY}: ${formatKiB(entry.wasm.gzip + entry.js.gzip)} KiB gzipped, ${entry.files.join(", ")}`);
  console.log("\nTargets:\n");
  console.log(markdownTable(TARGET_COLUMNS, targets(medians, entry).map(targetRow)));
  if (failures.size > 0) {
    console.log("\nFailed:");
    for (const [id, message] of failures) console.log(`- ${id}: ${message}`);
  }
}
