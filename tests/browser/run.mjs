// Browser tests: serves the repo root from 127.0.0.1 and drives Debian's
// Chromium through playwright-core, in one persistent context with a fresh
// user-data dir. Sections (all by default, or those named as arguments):
//   demo         — www/index.html: what the page shows, and a screenshot to
//                  test-output/browser-demo.png;
//   persistence  — www/persist.html: OPFS stores in a worker survive a reload,
//                  LOCKED for a second page, handover; worker-store checks
//                  in a page (persistence.mjs, worker-store-checks.mjs);
//   panic        — a Rust panic in a page's store and in a worker's, through
//                  the test-hooks package (panic.mjs; needs `make test-hooks`);
//   dashboard    — www/dashboard.html: charts drawn, a loop of misses changes
//                  the health status, a screenshot to test-output/dashboard.png
//                  (dashboard.mjs).
// Prints one line per check and ends with "N passed, N failed".
import { request as httpRequest } from "node:http";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, closeServer, startServer } from "../../scripts/static-server.mjs";
import { dashboardSection } from "./dashboard.mjs";
import { panicSection } from "./panic.mjs";
import { persistenceSection } from "./persistence.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SCREENSHOT = join(ROOT, "test-output", "browser-demo.png");
const INSECURE_HOST = "insecure.test";
const BROWSER_ARGS = [
  ...CHROMIUM_ARGS,
  // An origin on 127.0.0.1 that is not a secure context (no OPFS, no Web Locks).
  `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`,
];
const STEP_TIMEOUT_MS = 15_000; // any single launch, navigation, wait or screenshot
const CLOSE_TIMEOUT_MS = 5_000;
const WATCHDOG_MS = 180_000; // the whole run

// ---- checks ---------------------------------------------------------------

let passed = 0;
let failed = 0;

function check(name, ok, detail = "") {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${!ok && detail ? ` — ${detail}` : ""}`);
  return ok;
}

/** Checks that a step's result text parses as JSON equal to `expected`. */
function checkJson(name, text, expected) {
  let actual;
  try {
    actual = JSON.parse(text);
  } catch {
    return check(name, false, `not JSON: ${JSON.stringify(text)}`);
  }
  return check(name, isDeepStrictEqual(actual, expected), `shown ${text}, expected ${JSON.stringify(expected)}`);
}

// ---- helpers --------------------------------------------------------------

/** Resolves with `promise`, or rejects once `ms` have passed. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- sections -------------------------------------------------------------

/** The demo page: every step shown in order with its result, and a screenshot. */
async function demoSection({ context, origin }) {
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  const consoleErrors = [];
  const consoleWarnings = []; // e.g. wasm-bindgen's fallback when .wasm is not served as application/wasm
  const badResponses = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
    if (message.type() === "warning") consoleWarnings.push(message.text());
  });
  page.on("requestfailed", (request) => badResponses.push(`${request.url()}: ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) badResponses.push(`${response.url()}: HTTP ${response.status()}`);
  });

  const response = await page.goto(`${origin}/www/index.html`, { waitUntil: "load", timeout: STEP_TIMEOUT_MS });
  check("page loads", response?.status() === 200, `status ${response?.status()}`);

  try {
    await page.waitForFunction(
      () => document.querySelector("#status")?.textContent !== "running",
      undefined,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch (error) {
    check("status leaves 'running'", false, error.message.split("\n")[0]);
  }
  const statusText = (await page.textContent("#status", { timeout: STEP_TIMEOUT_MS }))?.trim();
  check("status is 'done'", statusText === "done", `status ${JSON.stringify(statusText)}`);

  const steps = await page.$$eval("[data-step]", (rows) =>
    rows.map((row) => ({
      id: row.dataset.step,
      outcome: row.dataset.outcome,
      result: row.querySelector(".result")?.textContent ?? "",
    })),
  );
  const byId = new Map(steps.map((s) => [s.id, s]));
  const expectedOrder = [
    "open", "set-button", "set-dashboard", "get-button", "keys-component", "size-initial",
    "mset-invalid", "keys-after-mset", "count-after-mset", "delete-button", "size-after-delete", "dispose",
  ];
  check("every step is shown once, in order", isDeepStrictEqual(steps.map((s) => s.id), expectedOrder),
    `shown ${steps.map((s) => s.id).join(", ")}`);

  const result = (id) => byId.get(id)?.result;
  const outcome = (id) => byId.get(id)?.outcome;
  const okStep = (id, name, expected) => {
    if (!check(`${name}: outcome ok`, outcome(id) === "ok", `outcome ${outcome(id)}, result ${result(id)}`)) return;
    if (typeof expected === "string") check(`${name}: shows ${expected}`, result(id) === expected, `shown ${JSON.stringify(result(id))}`);
    else checkJson(`${name}: shows ${JSON.stringify(expected)}`, result(id), expected);
  };

  okStep("open", "openStorage(:memory:)", "opened");
  okStep("set-button", "set component:react:button", "stored");
  okStep("set-dashboard", "set block:react:dashboard-01", "stored");
  okStep("get-button", "get component:react:button returns the record",
    { kind: "component", framework: "react", name: "button", files: ["button.tsx"] });
  okStep("keys-component", "keys with prefix \"component:\"", ["component:react:button"]);
  okStep("size-initial", "cache size after two sets", 300);
  check("mset with a Date in the middle is refused", outcome("mset-invalid") === "refused",
    `outcome ${outcome("mset-invalid")}, result ${result("mset-invalid")}`);
  check("refused mset shows INVALID_VALUE", result("mset-invalid") === "INVALID_VALUE",
    `shown ${JSON.stringify(result("mset-invalid"))}`);
  okStep("keys-after-mset", "refused mset wrote nothing (keys)", ["component:react:button"]);
  okStep("count-after-mset", "refused mset wrote nothing (count)", 2);
  okStep("delete-button", "delete component:react:button", true);
  okStep("size-after-delete", "cache size after the delete", 200);
  okStep("dispose", "dispose", "disposed");

  check("no page errors", pageErrors.length === 0, pageErrors.join(" | "));
  check("no console errors", consoleErrors.length === 0, consoleErrors.join(" | "));
  check("no console warnings", consoleWarnings.length === 0, consoleWarnings.join(" | "));
  check("no failed requests", badResponses.length === 0, badResponses.join(" | "));

  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: STEP_TIMEOUT_MS });
  const shot = await stat(SCREENSHOT).catch(() => undefined);
  check(`screenshot saved to ${relative(ROOT, SCREENSHOT)}`, (shot?.size ?? 0) > 0);
}

const SECTIONS = {
  demo: demoSection,
  persistence: ({ context, origin }) =>
    persistenceSection({
      context,
      origin,
      insecureOrigin: origin.replace("127.0.0.1", INSECURE_HOST),
      check,
      withTimeout,
      stepTimeoutMs: STEP_TIMEOUT_MS,
    }),
  panic: ({ context, origin }) => panicSection({ context, origin, check, withTimeout, stepTimeoutMs: STEP_TIMEOUT_MS }),
  dashboard: ({ context, origin }) => dashboardSection({ context, origin, root: ROOT, check, stepTimeoutMs: STEP_TIMEOUT_MS }),
};

// ---- the run --------------------------------------------------------------

const sections = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(SECTIONS);
const unknown = sections.filter((name) => !Object.hasOwn(SECTIONS, name));
if (unknown.length > 0) {
  console.error(`unknown section ${unknown.join(", ")}; known: ${Object.keys(SECTIONS).join(", ")}`);
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.log(`FAIL whole run finished within ${WATCHDOG_MS} ms`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

let server;
let context;
let userDataDir;
try {
  server = await startServer(ROOT);
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  check(`static server listening on ${origin}`, true);

  // The server refuses paths outside the root (raw request: URLs would normalise `..` away).
  for (const path of ["/../../etc/passwd", "/www/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd"]) {
    const status = await withTimeout(rawGet(port, path), STEP_TIMEOUT_MS, "escape request");
    check(`server refuses ${path} (outside the repo root)`, status === 403, `status ${status}`);
  }

  userDataDir = await mkdtemp(join(tmpdir(), "larder-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: BROWSER_ARGS,
    timeout: STEP_TIMEOUT_MS,
    viewport: { width: 1000, height: 700 },
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  check("Chromium launched", true);

  for (const name of sections) {
    try {
      await SECTIONS[name]({ context, origin });
    } catch (error) {
      check(`section ${name} completes without an exception`, false, error?.stack ?? String(error));
    }
  }
} catch (error) {
  check("run completes without an exception", false, error?.stack ?? String(error));
} finally {
  if (context) {
    await withTimeout(context.close(), CLOSE_TIMEOUT_MS, "closing Chromium").catch((error) =>
      check("Chromium closes", false, error.message),
    );
  }
  if (server) {
    await withTimeout(closeServer(server), CLOSE_TIMEOUT_MS, "closing the server").catch((error) =>
      check("server closes", false, error.message),
    );
  }
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

console.log(`${passed} passed, ${failed} failed`);
clearTimeout(watchdog);
process.exitCode = failed > 0 ? 1 : 0;

/** GETs `path` verbatim (no URL normalisation) and resolves with the status code. */
function rawGet(port, path) {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      res.resume();
      resolvePromise(res.statusCode);
    });
    req.on("error", reject);
    req.end();
  });
}
