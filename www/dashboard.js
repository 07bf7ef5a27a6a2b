// The larder dashboard: runs a steady workload against an OPFS store (in a
// worker, through the browser entry) and shows, every second, what
// metrics() and scheduled health checks report, as charts. Two buttons add
// trouble: bursts of writes beyond the queue's capacity, and a loop of
// lookups of keys that were never written.
import { openStorage, isStorageError } from "../pkg/browser.js";
import { drawBars, drawLegend, drawLines } from "./dashboard-charts.js";

const STORE_NAME = new URLSearchParams(location.search).get("name") || "larder-dashboard";
const MAX_QUEUE_LENGTH = 64; // small, so that a burst of writes fills it
const BUDGET_BYTES = 256 * 1024;
const HISTORY_S = 60;
const KEY_SPACE = 400; // the workload's keys: all of them fit the budget, with little room to spare
const KINDS = [
  ["get", "#0969da"],
  ["set", "#1a7f37"],
  ["has", "#8250df"],
  ["mget", "#bf8700"],
  ["delete", "#cf222e"],
];
const STATUS_COLORS = { HEALTHY: "#1a7f37", DEGRADED: "#bf8700", UNHEALTHY: "#bc4c00", CRITICAL: "#cf222e" };

const $ = (selector) => document.querySelector(selector);
const value = (i) => ({ id: i, text: "x".repeat(200 + (i % 7) * 100), at: Date.now() });
const history = (length = HISTORY_S) => Array.from({ length }, () => null);

/** What the page keeps of the last minute, one point a second. */
const series = {
  opsByKind: Object.fromEntries(KINDS.map(([kind]) => [kind, history()])),
  queueDepth: history(),
  queueMaxSeen: history(),
  hitRatio: history(),
  sizeBytes: history(),
  status: history(),
};
const failures = {}; // code → count, of the workload's failed calls

/** Keeps `list` at HISTORY_S points, the newest last. */
const push = (list, point) => list.splice(0, list.length, ...list.slice(1), point);

function noteFailure(error) {
  const code = isStorageError(error) ? error.code : "OTHER";
  failures[code] = (failures[code] ?? 0) + 1;
}

/** Fires a call without waiting for it; a failure is counted, never thrown. */
const fire = (call) => void call.catch(noteFailure);

// ---- the workload and its trouble ------------------------------------------

function steadyTick(store) {
  for (let n = 0; n < 6; n += 1) {
    const i = Math.floor(Math.random() * KEY_SPACE);
    const roll = Math.random();
    if (roll < 0.55) fire(store.get(`item:${i}`));
    else if (roll < 0.8) fire(store.set(`item:${i}`, value(i)));
    else if (roll < 0.9) fire(store.has(`item:${i}`));
    else if (roll < 0.97) fire(store.mget([0, 1, 2, 3].map((d) => `item:${(i + d) % KEY_SPACE}`)));
    else fire(store.delete(`item:${i}`));
  }
}

/** More calls in one turn than the queue holds: the rest fail with QUEUE_FULL. */
function burstTick(store) {
  for (let n = 0; n < MAX_QUEUE_LENGTH * 1.5; n += 1) fire(store.set(`burst:${n % 50}`, value(n)));
}

/** Lookups of keys never written: every one is a miss. */
function missTick(store) {
  for (let n = 0; n < 40; n += 1) fire(store.get(`missing:${Math.random()}`));
}

/** A toggle button that runs `tick` every `everyMs` while on. */
function trouble(button, everyMs, tick) {
  let timer;
  button.addEventListener("click", () => {
    const on = timer === undefined;
    if (on) timer = setInterval(tick, everyMs);
    else timer = void clearInterval(timer);
    button.setAttribute("aria-pressed", String(on));
  });
}

// ---- reading the numbers -------------------------------------------------------

/** Calls per second since the previous snapshot, by kind. */
function rates(snapshot, previous, seconds) {
  return Object.fromEntries(
    KINDS.map(([kind]) => {
      const calls = snapshot.operations[kind]?.calls ?? 0;
      const before = previous?.operations[kind]?.calls ?? calls;
      return [kind, (calls - before) / seconds];
    }),
  );
}

/** The latency histogram of every operation since the store opened: calls per bucket (not cumulative). */
function latencyBars(snapshot) {
  const totals = new Map();
  for (const { latencyMs } of Object.values(snapshot.operations)) {
    let below = 0;
    for (const { le, count } of latencyMs.buckets) {
      totals.set(le, (totals.get(le) ?? 0) + count - below);
      below = count;
    }
  }
  return [...totals].sort(([a], [b]) => a - b).map(([le, count]) => ({ label: le === Infinity ? "more" : `≤${le}`, value: count }));
}

const formatCount = (n) => (n >= 1000 ? `${Number((n / 1000).toFixed(1))}k` : String(Math.round(n)));
const formatPercent = (n) => `${Math.round(n * 100)}%`;
const formatBytes = (n) => (n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${Math.round(n)} B`);

// ---- drawing ------------------------------------------------------------------

function drawMetrics(snapshot, previous, seconds) {
  const perSecond = rates(snapshot, previous, seconds);
  for (const [kind] of KINDS) push(series.opsByKind[kind], perSecond[kind]);
  const lookups = previous ? snapshot.cache.hits + snapshot.cache.misses - previous.cache.hits - previous.cache.misses : 0;
  push(series.hitRatio, lookups > 0 ? (snapshot.cache.hits - previous.cache.hits) / lookups : null);
  push(series.queueDepth, snapshot.queue.depth);
  push(series.queueMaxSeen, snapshot.queue.maxDepth);
  push(series.sizeBytes, snapshot.storage.sizeBytes);

  const kinds = KINDS.map(([name, color]) => ({ name, color, points: series.opsByKind[name] }));
  drawLines($("#ops-chart"), { series: kinds, capacity: HISTORY_S, format: formatCount });
  drawLegend($("#ops-legend"), kinds, (n) => `${formatCount(n)}/s`);
  drawBars($("#latency-chart"), { bars: latencyBars(snapshot), color: "#0969da", format: formatCount });
  const all = Object.values(snapshot.operations);
  const p95 = Math.max(0, ...all.map((op) => op.latencyMs.p95));
  $("#latency-legend").textContent = `p95 of the slowest kind ${p95.toFixed(2)} ms · slow calls ${all.reduce((n, op) => n + op.slow, 0)}`;
  const queue = [
    { name: "depth", color: "#bc4c00", points: series.queueDepth },
    { name: "deepest so far", color: "#8c959f", points: series.queueMaxSeen },
  ];
  const capacity = { value: MAX_QUEUE_LENGTH, label: `maxQueueLength ${MAX_QUEUE_LENGTH}` };
  drawLines($("#queue-chart"), { series: queue, capacity: HISTORY_S, format: formatCount, guides: [capacity] });
  drawLegend($("#queue-legend"), queue, formatCount);
  const hits = [{ name: "hit ratio", color: "#1a7f37", points: series.hitRatio }];
  drawLines($("#hit-chart"), { series: hits, capacity: HISTORY_S, format: formatPercent, max: 1 });
  drawLegend($("#hit-legend"), hits, formatPercent);
  const size = [{ name: "size", color: "#8250df", points: series.sizeBytes }];
  const budget = { value: BUDGET_BYTES, label: `budget ${formatBytes(BUDGET_BYTES)}` };
  const sizeTop = BUDGET_BYTES * 1.25; // the budget and some room above it: eviction keeps the size under it
  drawLines($("#size-chart"), { series: size, capacity: HISTORY_S, format: formatBytes, max: sizeTop, guides: [budget] });
  drawLegend($("#size-legend"), size, formatBytes);
  $("#size-legend").append(` · ${snapshot.storage.entries} entries · ${snapshot.cache.evictions} evicted`);
  $("#failures").textContent = Object.entries(failures).map(([code, n]) => `${code} ${n}`).join(" · ") || "none";
}

function drawHealth(report) {
  const status = $("#health-status");
  status.textContent = report.status;
  status.dataset.status = report.status;
  push(series.status, report.status);
  $("#status-strip").replaceChildren(
    ...series.status.map((point) => {
      const cell = document.createElement("span");
      cell.style.background = point ? STATUS_COLORS[point] : "transparent";
      cell.title = point ?? "";
      return cell;
    }),
  );
  $("#checks").replaceChildren(
    ...report.checks.map((check) => {
      const row = document.createElement("tr");
      row.dataset.check = check.name;
      row.dataset.status = check.status;
      for (const text of [check.name, check.status, check.message]) row.append(Object.assign(document.createElement("td"), { textContent: text }));
      return row;
    }),
  );
  $("#recommendations").replaceChildren(
    ...report.recommendations.map((text) => Object.assign(document.createElement("li"), { textContent: text })),
  );
}

function logStatusChange(status, previous, report) {
  const item = document.createElement("li");
  const time = new Date(report.checkedAt).toLocaleTimeString();
  item.textContent = `${time} ${previous ?? "(first check)"} → ${status}`;
  $("#status-log").prepend(item);
}

// ---- the page -----------------------------------------------------------------

async function main() {
  const store = await openStorage({ path: STORE_NAME, maxSizeBytes: BUDGET_BYTES, maxQueueLength: MAX_QUEUE_LENGTH });
  // Each visit starts with every key of the workload written, so lookups hit.
  await store.clear();
  await store.mset(Array.from({ length: KEY_SPACE }, (_, i) => [`item:${i}`, value(i)]));
  $("#store").textContent = `OPFS "${STORE_NAME}", maxSizeBytes ${formatBytes(BUDGET_BYTES)}, maxQueueLength ${MAX_QUEUE_LENGTH}`;

  setInterval(() => steadyTick(store), 50);
  trouble($("#burst"), 100, () => burstTick(store));
  trouble($("#misses"), 20, () => missTick(store));
  store.scheduleHealthChecks({ intervalMs: 1000, onCheck: drawHealth, onStatusChange: logStatusChange });

  let previous;
  let previousAt = performance.now();
  const sample = async () => {
    const snapshot = await store.metrics();
    const now = performance.now();
    drawMetrics(snapshot, previous, (now - previousAt) / 1000);
    [previous, previousAt] = [snapshot, now];
  };
  await sample();
  const sampleEverySecond = () =>
    setTimeout(() => sample().then(sampleEverySecond, showFailure), 1000);
  sampleEverySecond();
  $("#state").textContent = "running";
  $("#state").dataset.state = "running";
}

function showFailure(error) {
  console.warn("larder dashboard failed:", error);
  $("#state").textContent = `failed: ${isStorageError(error) ? `${error.code}: ${error.message}` : String(error)}`;
  $("#state").dataset.state = "failed";
}

main().catch(showFailure);
