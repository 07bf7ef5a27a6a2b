// Browser panic containment, run by run.mjs: the test-hooks package
// (target/pkg-test-hooks, `make test-hooks`) is loaded in a page, and a
// Rust panic is triggered in a ":memory:" store on the page's thread and in
// an OPFS store in its worker. Each time the caller gets INTERNAL, the page
// sees no uncaught error, and the store works again: the OPFS store in a new
// worker, with its data.

const PANIC_IN_CALL = "larder:test-hooks:panic-in-call";
const PANIC_IN_OPERATION = "larder:test-hooks:panic-in-operation";
const IN_PAGE_TIMEOUT_MS = 60_000;

/** Runs in the page: every outcome as [name, ok, detail]. */
async function inPage([inCall, inOperation]) {
  const { openStorage } = await import("/target/pkg-test-hooks/browser.js");
  const results = [];
  const record = (name, ok, detail = "") => results.push([name, ok, detail]);
  const codeOf = (promise) =>
    promise.then(
      () => "resolved",
      (error) => error?.code ?? String(error),
    );

  const memory = await openStorage({ path: ":memory:" });
  await memory.set("k", 1);
  let code = await codeOf(memory.get(inOperation));
  record("memory store: a panic in an operation rejects with INTERNAL", code === "INTERNAL", code);
  await memory.set("k", 2);
  record("memory store: works after it", (await memory.get("k")) === 2);
  code = await codeOf(memory.get(inCall));
  record("memory store: a panic in a call rejects with INTERNAL", code === "INTERNAL", code);
  record("memory store: works after it", (await memory.count()) === 0);
  const memoryCommits = (await memory.metrics()).commits.count;
  record("memory store: metrics() kept the commits made before the traps (2)", memoryCommits === 2, memoryCommits);
  await memory.dispose();

  const name = `panic-check-${Date.now()}`;
  let step = "open";
  const events = [];
  try {
    const retry = { maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 200 };
    const opfs = await openStorage({ path: name, retry, trace: (event) => events.push(event) });
    step = "set";
    await opfs.set("kept", { v: 1 });
    step = "panic in an operation";
    code = await codeOf(opfs.get(inOperation));
    record("OPFS store: a panic in its worker rejects with INTERNAL", code === "INTERNAL", code);
    step = "get after it";
    const kept = await opfs.get("kept");
    record("OPFS store: reopened in a new worker, with its data", kept?.v === 1, JSON.stringify(kept));
    step = "set after it";
    await opfs.set("after", 2);
    record("OPFS store: writes after it", (await opfs.count()) === 2);
    step = "panic in a call";
    code = await codeOf(opfs.get(inCall));
    record("OPFS store: a panic in a call rejects with INTERNAL", code === "INTERNAL", code);
    step = "the call right after it";
    record("OPFS store: the call right after it works", (await opfs.get("after")) === 2);
    step = "metrics";
    const { commits, operations } = await opfs.metrics();
    record("OPFS store: metrics() kept the worker's commits across both traps (2)", commits.count === 2, commits.count);
    record("OPFS store: metrics() counted the two failed gets", operations.get.errors.INTERNAL === 2,
      JSON.stringify(operations.get.errors));
    const traced = events.map(({ op, outcome, groupSize, retries }) => [op, outcome, groupSize, retries]);
    record("OPFS store, traced: one event per call across both traps; a new worker sends its facts back",
      traced.length === 7 && JSON.stringify(traced[3]) === JSON.stringify(["set", "ok", 1, 0]), JSON.stringify(traced));
    await opfs.dispose();
  } catch (error) {
    record(`OPFS store: ${step} completes`, false, `${error?.code} ${error?.message}`);
  }
  return results;
}

/** @param {{ context: import("playwright-core").BrowserContext, origin: string, check: Function, withTimeout: Function, stepTimeoutMs: number }} t */
export async function panicSection({ context, origin, check, withTimeout, stepTimeoutMs }) {
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(`${origin}/www/index.html`, { waitUntil: "load", timeout: stepTimeoutMs });
  const results = await withTimeout(
    page.evaluate(inPage, [PANIC_IN_CALL, PANIC_IN_OPERATION]),
    IN_PAGE_TIMEOUT_MS,
    "the panic checks in the page",
  );
  for (const [name, ok, detail] of results) check(name, ok, detail);
  check("no uncaught error reached the page", pageErrors.length === 0, pageErrors.join("; "));
  await page.close();
}
