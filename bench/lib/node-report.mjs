// The Node benchmark's output: the main table (W1–W6 with ratios), W7, bytes
// written per operation, the runtime files, and the targets, as Markdown.
import { isPersistent } from "../engines/index.mjs";
import { quick } from "./config.mjs";
import { runtimeFileSizes } from "./file-sizes.mjs";
import { describeMachine } from "./machine.mjs";
import { formatKiB, formatMiB, formatRate, formatRatio, markdownTable, rateWithRatio } from "./table.mjs";
import { median } from "./stats.mjs";
import { TARGET_COLUMNS, atLeast, atMost, ratioTargets, targetRow } from "./targets.mjs";
import { makeCapacityWorkload, makeWorkloads, scaledSizes } from "./workloads.mjs";

const count = (n) => n.toLocaleString("en-US");
const right = (title) => ({ title, align: "right" });
const SIX = ["W1", "W2", "W3", "W4", "W5", "W6"];

function mainTable(engines, summary, workloads) {
  const rows = engines.map((engine) => {
    const result = summary.get(engine.id);
    if (!result) return [engine.id, ...workloads.map(() => "failed"), "–", "–"];
    const baseline = summary.get(engine.baseline);
    return [
      engine.id,
      ...workloads.map(({ id }) =>
        rateWithRatio(result.opsPerSecond[id], baseline?.opsPerSecond[id], engine.id === engine.baseline),
      ),
      result.timeToFirstOpMs.toFixed(0),
      formatMiB(result.peakRssBytes),
    ];
  });
  const columns = [{ title: "engine" }, ...workloads.map(({ id, name }) => right(`${id} ${name}`))];
  return markdownTable([...columns, right("first op (ms)"), right("peak RSS (MiB)")], rows);
}

function capacityTable(engines, summary) {
  const rows = engines
    .filter((engine) => engine.atCapacity)
    .map((engine) => {
      const result = summary.get(engine.id);
      const w1 = result?.opsPerSecond.W1;
      const w7 = result?.w7;
      const ratio = w7 === undefined || w1 === undefined ? "–" : formatRatio(w7 / w1);
      return [engine.id, w7 === undefined ? "failed" : formatRate(w7), w1 === undefined ? "failed" : formatRate(w1), ratio];
    });
  return markdownTable([{ title: "engine" }, right("W7 set at capacity"), right("W1 set"), right("W7 / W1")], rows);
}

function bytesTable(engines, summary) {
  const bytes = (engine, id) => summary.get(engine.id)?.bytesPerOp?.[id];
  const cell = (engine, id) => {
    const value = bytes(engine, id);
    if (value === undefined) return "–";
    const baseline = bytes({ id: engine.baseline }, id);
    const text = grouped(value);
    return engine.id === engine.baseline || baseline === undefined ? text : `${text} (${formatRatio(value / baseline)})`;
  };
  const rows = engines.filter(isPersistent).map((engine) => [engine.id, cell(engine, "W1"), cell(engine, "W5")]);
  return markdownTable([{ title: "engine" }, right("bytes per W1 set"), right("bytes per W5 op")], rows);
}

const grouped = (n) => Math.round(n).toLocaleString("en-US");

const METERED = [...SIX, "W7"];

/** `workload`'s counted / uncounted rate ratio in each round of a metered row. */
function meteringRatios(rounds, workload) {
  const counted = rounds?.counted[workload] ?? [];
  return counted.map((rate, round) => rate / rounds.uncounted[workload]?.[round]).filter((ratio) => Number.isFinite(ratio));
}

/** Each metered row with metrics and without (median rates of the rounds),
 *  and the median of the rounds' ratios with their range. */
function meteringTable(metering) {
  const rates = (list) => (list?.length ? formatRate(median(list)) : "–");
  const rows = [...metering].flatMap(([id, rounds]) => [
    [`${id} with metrics`, ...METERED.map((workload) => rates(rounds.counted[workload]))],
    [`${id} without`, ...METERED.map((workload) => rates(rounds.uncounted[workload]))],
    [
      `${id} with / without`,
      ...METERED.map((workload) => {
        const ratios = meteringRatios(rounds, workload);
        if (ratios.length === 0) return "–";
        const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})` : "";
        return `${median(ratios).toFixed(3)}×${range}`;
      }),
    ],
  ]);
  return markdownTable([{ title: "metering" }, ...METERED.map(right)], rows);
}

function sizeTable(root) {
  const sizes = runtimeFileSizes(root);
  const larderFiles = sizes
    .filter(({ library }) => library.startsWith("larder"))
    .map(({ library, files }) => `- ${library}: ${files.join(", ")}`);
  const table = markdownTable(
    [{ title: "runtime files" }, right("wasm KiB"), right("wasm gzip KiB"), right("JS KiB"), right("JS gzip KiB"), right("total gzip KiB")],
    sizes.map(({ library, wasm, js }) => [
      library,
      formatKiB(wasm.raw),
      formatKiB(wasm.gzip),
      formatKiB(js.raw),
      formatKiB(js.gzip),
      formatKiB(wasm.gzip + js.gzip),
    ]),
  );
  return `${table}\n\nlarder's files, followed from each entry's imports:\n${larderFiles.join("\n")}`;
}

/** The issue's Node targets, each with its measured value and verdict. */
function targets(engines, summary, metering) {
  const rates = new Map([...summary].map(([id, result]) => [id, result.opsPerSecond]));
  const field = (id, name) => summary.get(id)?.[name];
  const bytes = (id, workload) => field(id, "bytesPerOp")?.[workload];
  const ms = (value) => `${value.toFixed(0)} ms`;
  const times = (value) => formatRatio(value);
  const metered = (id, workload) => {
    const ratios = meteringRatios(metering.get(id), workload);
    return ratios.length === 0 ? NaN : median(ratios);
  };
  return [
    ...ratioTargets(rates, "larder-file-normal", "better-sqlite3-file", SIX.slice(0, 5), 1.0),
    ...ratioTargets(rates, "larder-file-normal", "better-sqlite3-file", ["W6"], 3),
    ...ratioTargets(rates, "larder-file-normal", "node-sqlite3-wasm-file", SIX, 1.5),
    ...ratioTargets(rates, "larder-file-full", "better-sqlite3-file-full", SIX, 1.0),
    ...ratioTargets(rates, "larder-memory", "sqlite-wasm-memory", SIX, 1.5),
    ...ratioTargets(rates, "larder-memory", "sql.js-memory", SIX, 1.5),
    ...ratioTargets(rates, "larder-memory", "better-sqlite3-memory", SIX, 0.7),
    ...["larder-file-normal", "larder-memory"].map((id) =>
      atLeast(`W7 / W1 of \`${id}\``, field(id, "w7") / rates.get(id)?.W1, 0.8, times),
    ),
    ...[["larder-file-normal", "better-sqlite3-file"], ["larder-file-full", "better-sqlite3-file-full"]].flatMap(([id, base]) => [
      atMost(`bytes per W1 set: \`${id}\` / \`${base}\``, bytes(id, "W1") / bytes(base, "W1"), 1.0, times),
      atMost(`bytes per W5 op: \`${id}\` / \`${base}\``, bytes(id, "W5") / bytes(base, "W5"), 1.5, times),
    ]),
    ...["larder-file-normal", "larder-file-full", "larder-memory"].map((id) =>
      atMost(`time to first op of \`${id}\``, field(id, "timeToFirstOpMs"), 60, ms),
    ),
    ...[["larder-file-normal", "better-sqlite3-file"], ["larder-file-full", "better-sqlite3-file-full"], ["larder-memory", "better-sqlite3-memory"]].map(
      ([id, base]) => atMost(`peak RSS: \`${id}\` / \`${base}\``, field(id, "peakRssBytes") / field(base, "peakRssBytes"), 1.0, times),
    ),
    ...engines
      .filter((engine) => engine.metered)
      .flatMap(({ id }) =>
        METERED.map((workload) =>
          atLeast(`${workload} with metrics / without: \`${id}\``, metered(id, workload), 0.97, (value) => `${value.toFixed(3)}×`),
        ),
      ),
  ];
}

function notes(engines, reps, sizes) {
  const [w1, w2, w3, w4, w5, w6] = makeWorkloads(sizes);
  const w7 = makeCapacityWorkload(sizes);
  return `
Operations per second (W3, W4: entries per second), median over ${reps} fresh processes per engine;
in parentheses the ratio to the row's baseline (below); higher is better.
- W1: ${count(w1.ops)} distinct keys, one awaited \`set\` at a time. W2: ${count(w2.ops)} awaited \`get\`s of those keys.
- W3: ${count(w3.ops)} entries in \`mset\` batches of 1,000; SQLite engines: BEGIN, 1,000 prepared upserts,
  COMMIT; PGlite: one upsert of the whole batch over arrays (each of its queries is an async round trip).
- W4: ${count(w4.ops)} keys in \`mget\` batches of 100; SQL engines: one prepared \`SELECT … WHERE key IN (?, … 100)\`.
- W5: ${count(w5.ops)} operations, 90% get / 10% set, Zipf (s = 1) over W1's keys.
- W6: ${count(w6.ops)} \`set\`s issued at once and awaited with \`Promise.all\`; for the SQL engines each is its
  own autocommit insert (its own transaction), as a naive app would do; larder queues them.
- W7 (larder rows, in a process and store of their own): \`maxSizeBytes: ${count(sizes.capacityBytes)}\`, filled to it
  before the timing, then ${count(w7.ops)} awaited \`set\`s of new ~1 KB keys, each evicting; checked after: the
  budget held, the count bounded, the last keys readable, the first evicted.
- Values are seeded JSON objects of about 1 KB; every engine takes and returns objects (the SQL
  engines and the Map store JSON text). SQL engines: table \`kv(key TEXT PRIMARY KEY, value TEXT,
  expires_at INTEGER, size INTEGER)\`, an upsert per set, reads skip expired rows. One store per
  process, workloads in order W1…W6 (W3 leaves ${count(w3.ops)} more rows for the rest).
- first op: import + open + first \`set\` in a fresh process. peak RSS: the process's maxRSS.
- bytes written: \`wchar\` of /proc/self/io (bytes passed to write syscalls by any thread of the
  worker process) before and after W1 and W5, per operation; the worker prints nothing until the end.
${engines.map((engine) => `- \`${engine.id}\`: ${engine.settings}${engine.id === engine.baseline ? "" : `; ratios to \`${engine.baseline}\``}`).join("\n")}
`;
}

/** Prints every table of a Node run to stdout. */
export function printNodeReport({ engines, summary, metering, failures, reps, rounds, divisor, larder, elapsedMinutes, root }) {
  const sizes = scaledSizes(divisor);
  console.log(`larder benchmark (Node): median of ${reps} repetition${reps === 1 ? "" : "s"}${quick ? ", QUICK mode (a tenth of the sizes)" : ""}`);
  console.log(`${describeMachine()}; the whole run took ${elapsedMinutes.toFixed(1)} min`);
  console.log(`larder: ${larder.entry}, built ${larder.builtAt.toISOString()}\n`);
  console.log(mainTable(engines, summary, makeWorkloads(sizes)));
  console.log(notes(engines, reps, sizes));
  console.log("W7, a cache at capacity (sets per second), against the same row's W1:\n");
  console.log(capacityTable(engines, summary));
  console.log("\nBytes written per operation (file rows), in parentheses the ratio to the row's baseline; lower is better:\n");
  console.log(bytesTable(engines, summary));
  if (metering.size > 0) {
    // run.mjs runs two per repetition, one with each package imported first.
    const processes = `${2 * reps} processes`;
    console.log(`\nWhat metrics cost (metering.mjs): ${processes} per metered row, each of ${rounds} round${rounds === 1 ? "" : "s"}: every workload run`);
    console.log("step by step in alternation on a store of the package and on one of its copy that counts nothing; the");
    console.log("median rates of all rounds, and the median of the rounds' with / without ratios (1.000× = free) with");
    console.log("their range in parentheses:\n");
    console.log(meteringTable(metering));
  }
  console.log("");
  console.log(sizeTable(root));
  console.log("\nTargets:\n");
  console.log(markdownTable(TARGET_COLUMNS, targets(engines, summary, metering).map(targetRow)));
  if (failures.size > 0) {
    console.log("\nFailed:");
    for (const [id, message] of failures) console.log(`- ${id}: ${message}`);
  }
}
