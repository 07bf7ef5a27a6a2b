// The dashboard page (www/dashboard.html), run by run.mjs: it opens its OPFS
// store and runs its workload; its charts fill in; the health status starts
// HEALTHY, the storage check reading the origin's free space; "Loop of
// misses" drives the hit ratio down until the status changes, shown with the
// hitRatio recommendation and logged as a change; "Burst of writes" shows
// QUEUE_FULL among the failed calls. Ends with a screenshot in
// test-output/dashboard.png (its path printed).
import { mkdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";

const STATUS_TIMEOUT_MS = 20_000; // a check a second; the window needs a few
const CHARTS = ["#ops-chart", "#latency-chart", "#queue-chart", "#hit-chart", "#size-chart"];

/**
 * @param {object} t
 * @param {import("playwright-core").BrowserContext} t.context
 * @param {string} t.origin
 * @param {string} t.root the repository, for the screenshot's path
 * @param {(name: string, ok: boolean, detail?: string) => boolean} t.check
 * @param {number} t.stepTimeoutMs
 */
export async function dashboardSection({ context, origin, root, check, stepTimeoutMs }) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error ${error}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console ${message.type()} ${message.text()}`);
  });
  const shown = (selector) => page.textContent(selector, { timeout: stepTimeoutMs }).then((text) => text?.trim());
  const status = () => page.getAttribute("#health-status", "data-status", { timeout: stepTimeoutMs });

  try {
    await page.goto(`${origin}/www/dashboard.html?name=dashboard-check`, { waitUntil: "load", timeout: stepTimeoutMs });
    await page.waitForFunction(() => document.querySelector("#state")?.dataset.state !== "starting", undefined, { timeout: stepTimeoutMs });
    if (!check("dashboard: the store opens and the workload runs", (await shown("#state")) === "running", await shown("#state"))) return;

    await page.waitForFunction(() => document.querySelector("#health-status")?.dataset.status, undefined, { timeout: stepTimeoutMs });
    check("dashboard: the first health check shows HEALTHY", (await status()) === "HEALTHY", `shown ${await status()}`);
    const checks = await page.$$eval("#checks tr", (rows) => rows.map((row) => row.dataset.check));
    check("dashboard: every check is listed", checks.join() === "breaker,queue,latency,errors,budget,storage,hitRatio", checks.join());
    // The OPFS store's free space: what navigator.storage.estimate() leaves of the origin's quota.
    const storage = await shown("#checks tr[data-check='storage'] td:nth-child(3)");
    check("dashboard: the storage check reads the origin's free space", /^[\d.]+ [KMG]iB free at this origin's storage$/.test(storage), storage);
    // Two seconds of samples: every chart has drawn a line or bars.
    await page.waitForTimeout(2_500);
    const drawn = await page.$$eval(CHARTS.join(","), (charts) => charts.map((chart) => chart.querySelectorAll("path[d^='M'], rect").length));
    check("dashboard: every chart is drawn", drawn.every((count) => count > 0), `marks per chart: ${drawn.join(", ")}`);

    await page.click("#misses");
    await page
      .waitForFunction(() => document.querySelector("#health-status")?.dataset.status !== "HEALTHY", undefined, { timeout: STATUS_TIMEOUT_MS })
      .catch(() => {});
    const after = await status();
    check("dashboard: a loop of misses changes the health status", after !== "HEALTHY", `still ${after}`);
    const hitRatio = await page.getAttribute("#checks tr[data-check='hitRatio']", "data-status");
    check("dashboard: the hitRatio check is what changed", hitRatio !== "HEALTHY", `hitRatio ${hitRatio}`);
    const advice = await page.$$eval("#recommendations li", (items) => items.map((item) => item.textContent));
    check("dashboard: a recommendation names the lookups", advice.some((text) => /lookups hit in the last 60 s/.test(text)), advice.join(" | "));
    const log = await shown("#status-log");
    check("dashboard: the change from HEALTHY is logged", log.includes("HEALTHY → "), log);
    await page.click("#misses");

    await page.click("#burst");
    await page.waitForFunction(() => /QUEUE_FULL/.test(document.querySelector("#failures")?.textContent ?? ""), undefined, { timeout: stepTimeoutMs }).catch(() => {});
    check("dashboard: a burst of writes shows QUEUE_FULL", /QUEUE_FULL \d+/.test(await shown("#failures")), await shown("#failures"));
    await page.waitForTimeout(1_500); // one more sample and check drawn
    await page.click("#burst");

    const screenshot = join(root, "test-output", "dashboard.png");
    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true, timeout: stepTimeoutMs });
    const saved = await stat(screenshot).catch(() => undefined);
    check(`dashboard: screenshot saved to ${relative(root, screenshot)}`, (saved?.size ?? 0) > 0);
    check("dashboard: no page errors, console errors or warnings", problems.length === 0, problems.join(" | "));
  } finally {
    await page.close().catch(() => {});
  }
}
