// metricsText() against Prometheus' own tools (Debian's package, installed
// by scripts/setup.sh): promtool checks the exposition, and a Prometheus
// server scrapes examples/metrics-server.mjs and answers a query with the
// store's counts.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { open, manualClock, rejectsWith } from "./helpers.mjs";
import { spawnNode, tempDir } from "./file-helpers.mjs";

const PROMTOOL = "/usr/bin/promtool";
const PROMETHEUS = "/usr/bin/prometheus";
const EXAMPLE = fileURLToPath(new URL("../../examples/metrics-server.mjs", import.meta.url));

/** promtool's verdict on `text`: its exit status and what it printed. */
function promtoolCheck(text) {
  const result = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8", timeout: 30_000 });
  assert.equal(result.error, undefined, `promtool could not run: ${result.error}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/** A store that has done a bit of everything, failures and a slow call included. */
async function busyStore(t, options = {}) {
  const clock = manualClock(1_000_000);
  const store = await open(t, { clock, maxSizeBytes: 200, slowOperationMs: 10, ...options });
  await Promise.all([store.set("a", 1), store.set("b", 2)]);
  for (let i = 0; i < 8; i += 1) await store.set(`k${i}`, "x".repeat(40));
  await store.mget(["a", "k7", "none"]);
  await store.has("k7");
  await rejectsWith(() => store.set("", 1), "INVALID_KEY");
  await store.getOrSet("slow", () => {
    clock.advance(30);
    return "v";
  });
  return store;
}

describe("metricsText()", () => {
  test("promtool check metrics accepts it, lint included", async (t) => {
    const store = await busyStore(t);
    const text = await store.metricsText({ labels: { store: "cache", note: 'a "quoted"\\ value\nwith a newline' } });
    const verdict = promtoolCheck(text);
    assert.deepEqual(verdict, { status: 0, output: "" }, text);
  });

  test("the numbers are the snapshot's, in seconds for durations, with every metric named", async (t) => {
    const store = await busyStore(t);
    const snapshot = await store.metrics();
    const text = await store.metricsText({ labels: { store: "cache" } });
    const line = (sample) => {
      const found = text.split("\n").find((each) => each.startsWith(`${sample} `));
      assert.ok(found, `no sample ${sample} in\n${text}`);
      return Number(found.slice(sample.length + 1));
    };
    assert.equal(line('larder_operations_total{store="cache",op="set"}'), snapshot.operations.set.calls);
    assert.equal(line('larder_operation_errors_total{store="cache",op="set",code="INVALID_KEY"}'), 1);
    assert.equal(line('larder_operation_duration_seconds_sum{store="cache",op="getOrSet"}'), 0.03);
    assert.equal(line('larder_operation_duration_seconds_bucket{store="cache",op="getOrSet",le="0.025"}'), 0);
    assert.equal(line('larder_operation_duration_seconds_bucket{store="cache",op="getOrSet",le="0.05"}'), 1);
    assert.equal(line('larder_operation_duration_seconds_bucket{store="cache",op="getOrSet",le="+Inf"}'), 1);
    assert.equal(line('larder_slow_operations_total{store="cache",op="getOrSet"}'), 1);
    assert.equal(line('larder_cache_hits_total{store="cache"}'), snapshot.cache.hits);
    assert.equal(line('larder_cache_misses_total{store="cache"}'), snapshot.cache.misses);
    assert.equal(line('larder_evictions_total{store="cache"}'), snapshot.cache.evictions);
    assert.ok(snapshot.cache.evictions > 0);
    assert.equal(line('larder_commits_total{store="cache"}'), snapshot.commits.count);
    assert.equal(line('larder_grouped_commits_total{store="cache"}'), 1);
    assert.equal(line('larder_queue_wait_seconds_count{store="cache"}'), snapshot.queue.waitMs.count);
    assert.equal(line('larder_breaker_state{store="cache",state="CLOSED"}'), 1);
    assert.equal(line('larder_breaker_state{store="cache",state="OPEN"}'), 0);
    assert.equal(line('larder_budget_bytes{store="cache"}'), 200);
    assert.equal(line('larder_entries{store="cache"}'), snapshot.storage.entries);
    for (const name of [
      "queue_depth", "expired_total", "retries_total", "timeouts_total", "rollbacks_total",
      "breaker_opened_total", "size_bytes", "file_bytes", "wal_bytes",
    ]) {
      assert.match(text, new RegExp(`^# HELP larder_${name} .+\\n# TYPE larder_${name} (counter|gauge)\\n`, "m"));
    }
    assert.doesNotMatch(text, /larder_health_status/, "no health status before health() has run");
  });

  test("no budget: no larder_budget_bytes", async (t) => {
    const store = await open(t);
    assert.doesNotMatch(await store.metricsText(), /larder_budget_bytes/);
  });

  for (const [labels, mentions] of [
    [{ "bad-name": "x" }, /label name "bad-name"/],
    [{ __reserved: "x" }, /must match .* and not start with __/],
    [{ "9lives": "x" }, /label name "9lives"/],
    [{ store: 5 }, /label store must be a string/],
    [{ op: "x" }, /label name "op" is one larder's metrics use/],
    ["store=cache", /labels must be an object/],
  ]) {
    test(`labels ${JSON.stringify(labels)} are refused`, async (t) => {
      const store = await open(t);
      await rejectsWith(() => store.metricsText({ labels }), "INVALID_ARGUMENT", mentions);
    });
  }
});

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts Prometheus scraping `target` every second; killed when `t` ends. */
async function startPrometheus(t, target) {
  const dir = tempDir(t, "prometheus");
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: larder\n    static_configs:\n      - targets: ["${target}"]\n`,
  );
  const port = await freePort();
  const server = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  server.stderr.on("data", (chunk) => (log += chunk));
  const exited = new Promise((resolve) => server.on("close", resolve));
  t.after(async () => {
    server.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  });
  return { url: `http://127.0.0.1:${port}`, log: () => log };
}

/** Polls Prometheus' query API until `query` has one sample equal to `expected`. */
async function waitForValue(prometheus, query, expected, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = await response.json();
      last = JSON.stringify(body);
      const [sample] = body.data?.result ?? [];
      if (sample && Number(sample.value[1]) === expected) return sample;
    } catch (error) {
      last = String(error); // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.fail(`${query} never showed ${expected}; last answer: ${last}\nprometheus log:\n${prometheus.log()}`);
}

describe("a Prometheus server scraping examples/metrics-server.mjs", () => {
  test("reads back larder_operations_total through its query API", { timeout: 120_000 }, async (t) => {
    const example = spawnNode(t, EXAMPLE, ["0"], { env: { SETS: "25" } });
    const listening = await example.waitForLine(/^listening on \d+$/, 30_000);
    const port = Number(listening.split(" ").pop());
    const prometheus = await startPrometheus(t, `127.0.0.1:${port}`);
    const sets = await waitForValue(prometheus, 'larder_operations_total{op="set",store="example"}', 25);
    assert.equal(sets.metric.job, "larder");
    // 25 gets of stored keys and one of a key that is not there.
    await waitForValue(prometheus, 'larder_operations_total{op="get",store="example"}', 26);
    await waitForValue(prometheus, 'larder_cache_misses_total{store="example"}', 1);
    await waitForValue(prometheus, 'larder_breaker_state{state="CLOSED",store="example"}', 1);
  });
});
