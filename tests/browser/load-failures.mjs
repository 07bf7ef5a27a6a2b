// larder's own files failing to load, in headless Chromium: the wasm module
// or the worker script aborted, answered 404, or answered with an HTML page.
// Each open fails with LOAD_FAILED naming the file (and the HTTP status and
// content type when there is one), and nothing of the failure is kept: the
// next open in the same page loads the file and works. Also the wasmUrl and
// workerUrl options (checked, and followed by the page and by the worker),
// and UNSUPPORTED where there is no Worker at all.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { closeServer, startServer } from "../../scripts/static-server.mjs";
import { STEP_TIMEOUT_MS, check, finish, launchChromium, watchdog } from "./harness.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WASM = "**/pkg/wasm/larder_bg.wasm*";
const WORKER = "**/pkg/worker.js*";
const LOADED = { ok: true, value: { loaded: true } };

const show = (outcome) => JSON.stringify(outcome);
const loadFailed = (outcome) =>
  outcome.ok === false && outcome.name === "StorageError" && outcome.code === "LOAD_FAILED" &&
  outcome.category === "LIFECYCLE" && outcome.retryable === true && outcome.recoveryAction === "RETRY";

/** Answers the first request matching `pattern` with `respond`, then lets the rest through. */
async function failOnce(context, pattern, respond) {
  let failed = false;
  await context.route(pattern, async (route) => {
    if (failed) return route.continue();
    failed = true;
    await respond(route);
  });
  return () => context.unroute(pattern);
}

/** `attempt(options)` in a fresh page, with the first request for `pattern`
 *  answered by `respond`; then the same again, which must work. */
async function failThenRecover(context, origin, what, { pattern, respond, options, mentions }) {
  const page = await context.newPage();
  await page.goto(`${origin}/tests/browser/load-failures.html`, { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: STEP_TIMEOUT_MS });
  const stop = await failOnce(context, pattern, respond);
  try {
    const first = await page.evaluate((opts) => window.attempt(opts), options);
    check(`${what}: LOAD_FAILED (LIFECYCLE, retryable, RETRY)`, loadFailed(first), show(first));
    for (const words of mentions) check(`... its message names ${words}`, first.message?.includes(words), first.message);
    const second = await page.evaluate((opts) => window.attempt(opts), options);
    check("... and the next open in the same page loads it and works", show(second) === show(LOADED), show(second));
  } finally {
    await stop();
    await page.close();
  }
}

/** One `attempt(options)` in a fresh page; resolves with its outcome and the URLs requested. */
async function attemptIn(context, origin, options, before = () => {}) {
  const page = await context.newPage();
  const requested = [];
  page.on("request", (request) => requested.push(request.url()));
  try {
    await page.goto(`${origin}/tests/browser/load-failures.html`, { timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: STEP_TIMEOUT_MS });
    await page.evaluate(before);
    const outcome = await page.evaluate((opts) => window.attempt(opts), options);
    return { outcome, requested };
  } finally {
    await page.close();
  }
}

const html = "<!doctype html><html><body>the app's index page</body></html>";
const cases = (origin) => [
  ["the wasm module aborted (a page's store)", {
    pattern: WASM, respond: (route) => route.abort("connectionreset"), options: { path: ":memory:" },
    mentions: [`${origin}/pkg/wasm/larder_bg.wasm`, "could not be fetched"],
  }],
  ["the wasm module answered 404", {
    pattern: WASM, respond: (route) => route.fulfill({ status: 404, contentType: "text/plain", body: "not found" }),
    options: { path: ":memory:" }, mentions: ["larder_bg.wasm", "HTTP 404, text/plain"],
  }],
  ["an HTML page instead of the wasm module", {
    pattern: WASM, respond: (route) => route.fulfill({ status: 200, contentType: "text/html", body: html }),
    options: { path: ":memory:" },
    mentions: ["larder_bg.wasm", "HTTP 200, text/html", 'optimizeDeps: { exclude: ["larderdb"] }', "wasmUrl"],
  }],
  ["HTML bytes served as application/wasm", {
    pattern: WASM, respond: (route) => route.fulfill({ status: 200, contentType: "application/wasm", body: html }),
    options: { path: ":memory:" }, mentions: ["HTML page", "optimizeDeps"],
  }],
  ["bytes that are not wasm", {
    pattern: WASM, respond: (route) => route.fulfill({ status: 200, contentType: "application/wasm", body: "nope" }),
    options: { path: ":memory:" }, mentions: ["larder_bg.wasm", "could not be compiled", "CompileError"],
  }],
  ["the worker script aborted (an OPFS store)", {
    pattern: WORKER, respond: (route) => route.abort("connectionreset"), options: { path: "load-failures" },
    mentions: ["larderdb's worker.js", "failed to load"],
  }],
  ["an HTML page instead of the worker script", {
    pattern: WORKER, respond: (route) => route.fulfill({ status: 200, contentType: "text/html", body: html }),
    options: { path: "load-failures" }, mentions: ["worker.js", 'optimizeDeps: { exclude: ["larderdb"] }'],
  }],
  ["the wasm module aborted in the worker", {
    pattern: WASM, respond: (route) => route.abort("connectionreset"), options: { path: "load-failures" },
    mentions: ["larder_bg.wasm", "could not be fetched"],
  }],
];

async function checkLoadOptions(context, origin) {
  for (const [options, mentions] of [
    [{ wasmUrl: 42 }, "option wasmUrl must be a string or a URL, got number"],
    [{ workerUrl: {} }, "option workerUrl must be a string or a URL, got object"],
    [{ wasmUrl: "http://[::1" }, "option wasmUrl is not a valid URL"],
    [{ path: "x", workerUrl: null }, "option workerUrl must be a string or a URL, got null"],
  ]) {
    const { outcome } = await attemptIn(context, origin, options);
    check(`${show(options)}: INVALID_ARGUMENT naming the option`,
      outcome.code === "INVALID_ARGUMENT" && outcome.message.includes(mentions), show(outcome));
  }
  const wasmUrl = `${origin}/pkg/wasm/larder_bg.wasm?from=option`;
  const workerUrl = `${origin}/pkg/worker.js?from=option`;
  for (const path of [":memory:", "load-options"]) {
    const { outcome, requested } = await attemptIn(context, origin, { path, wasmUrl, workerUrl });
    check(`wasmUrl and workerUrl (${path}): the store works`, show(outcome) === show(LOADED), show(outcome));
    const expected = path === ":memory:" ? [wasmUrl] : [wasmUrl, workerUrl];
    check("... loading its files from there", expected.every((url) => requested.includes(url)), requested.join(", "));
  }
  const { outcome } = await attemptIn(context, origin, { path: ":memory:", wasmUrl: "/nowhere/larder_bg.wasm" });
  check("a wasmUrl where nothing is served: LOAD_FAILED naming it",
    loadFailed(outcome) && outcome.message.includes(`${origin}/nowhere/larder_bg.wasm`) && outcome.message.includes("HTTP 404"),
    show(outcome));
  const noScript = await attemptIn(context, origin, { path: "load-options", workerUrl: "/nowhere/worker.js" });
  check("a workerUrl where nothing is served: LOAD_FAILED naming it",
    loadFailed(noScript.outcome) && noScript.outcome.message.includes(`${origin}/nowhere/worker.js`), show(noScript.outcome));
  const asUrl = await attemptIn(context, origin, { path: "load-options" }, () => {
    // A URL object as the option (it does not cross to the worker as one).
    const open = window.attempt;
    window.attempt = (options) => open({ ...options, wasmUrl: new URL("/pkg/wasm/larder_bg.wasm?from=url", location.href) });
  });
  check("wasmUrl as a URL object, for a worker store: it works", show(asUrl.outcome) === show(LOADED), show(asUrl.outcome));
  check("... the worker fetching the module from there", asUrl.requested.some((url) => url.endsWith("?from=url")),
    asUrl.requested.join(", "));
  const noWorker = await attemptIn(context, origin, { path: "no-worker" }, () => delete window.Worker);
  check("no Worker at all: UNSUPPORTED, not LOAD_FAILED", noWorker.outcome.code === "UNSUPPORTED", show(noWorker.outcome));
}

const stopWatchdog = watchdog(240_000);
const server = await startServer(ROOT);
const origin = `http://127.0.0.1:${server.address().port}`;
const { context, close } = await launchChromium();
try {
  for (const [what, scenario] of cases(origin)) await failThenRecover(context, origin, what, scenario);
  await checkLoadOptions(context, origin);
} finally {
  await close();
  await closeServer(server);
}
stopWatchdog();
finish();
