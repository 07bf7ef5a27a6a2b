// What the load-failure and bundler runners share: one line per check and a
// summary, a watchdog over the whole run, and Debian's Chromium launched
// with a fresh profile (flags from scripts/static-server.mjs).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../../scripts/static-server.mjs";

export const STEP_TIMEOUT_MS = 30_000;

let passed = 0;
let failed = 0;

export function check(name, ok, detail = "") {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${!ok && detail ? ` — ${detail}` : ""}`);
  return ok;
}

/** Prints the summary and sets the exit code. */
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

/** Fails the run if it has not finished within `ms`. */
export function watchdog(ms) {
  const timer = setTimeout(() => {
    check(`the whole run finishes within ${ms} ms`, false);
    finish();
    process.exit(1);
  }, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

/** A persistent Chromium context on a fresh profile (OPFS as in a real
 *  browser), and how to close it and remove the profile. */
export async function launchChromium() {
  const userDataDir = await mkdtemp(join(tmpdir(), "larder-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: STEP_TIMEOUT_MS,
  });
  const close = async () => {
    await context.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  };
  return { context, close };
}

/** Collects a page's errors: console errors, uncaught errors (the page's and
 *  its workers'), and requests that failed or answered 4xx/5xx. */
export function watchPage(page) {
  const errors = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error}`));
  page.on("worker", (worker) => worker.on("console", (message) => {
    if (message.type() === "error") errors.push(`worker console: ${message.text()}`);
  }));
  page.on("requestfailed", (request) => errors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return errors;
}
