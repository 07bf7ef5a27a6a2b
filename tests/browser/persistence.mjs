// Browser persistence checks, run by run.mjs in its persistent Chromium
// context (one fresh user-data dir, so OPFS outlives a reload): a store kept
// in OPFS through www/persist.html survives a reload; a second page on the
// same name is refused with LOCKED until the first disposes its store or
// closes; where OPFS is missing (an insecure origin) such a store is
// UNSUPPORTED; and the in-page worker-store checks (worker-store-checks.mjs).

const NAME = "persist-check";
const OTHER_NAME = "persist-check-other";
const OPEN_TIMEOUT_MS = 15_000;
const IN_PAGE_TIMEOUT_MS = 90_000; // the whole of worker-store-checks.mjs

/**
 * @param {object} t
 * @param {import("playwright-core").BrowserContext} t.context
 * @param {string} t.origin
 * @param {string} t.insecureOrigin the same server, from an origin that is not a secure context
 * @param {(name: string, ok: boolean, detail?: string) => boolean} t.check
 * @param {<T>(promise: Promise<T>, ms: number, what: string) => Promise<T>} t.withTimeout
 * @param {number} t.stepTimeoutMs
 */
export async function persistenceSection({ context, origin, insecureOrigin, check, withTimeout, stepTimeoutMs }) {
  const problems = [];
  const watch = (page, label) => {
    page.on("pageerror", (error) => problems.push(`${label}: page error ${error}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`${label}: console error ${message.text()}`);
    });
  };

  /** page.evaluate, bounded (Playwright's has no timeout of its own). */
  const evaluate = (page, fn, ms = stepTimeoutMs) => withTimeout(page.evaluate(fn), ms, "a step in the page");

  /** Opens www/persist.html on `name` in a new page; resolves with the page and the status it shows. */
  async function openPage(name, label, from = origin) {
    const page = await context.newPage();
    watch(page, label);
    const url = `${from}/www/persist.html?name=${encodeURIComponent(name)}`;
    await page.goto(url, { waitUntil: "load", timeout: stepTimeoutMs });
    return { page, status: await settledStatus(page) };
  }

  /** The page's store status once it has stopped "opening". */
  async function settledStatus(page) {
    await page.waitForFunction(() => document.querySelector("#status")?.textContent !== "opening", undefined, {
      timeout: OPEN_TIMEOUT_MS,
    });
    return (await page.textContent("#status", { timeout: stepTimeoutMs }))?.trim();
  }

  /** What the page's table shows: [key, value] rows. */
  const table = (page) =>
    page.$$eval("#entries tr", (rows) =>
      rows.map((row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent)),
    );

  /** Totals and the namespaced entry, read through the page's store. */
  const totals = (page) =>
    evaluate(page, async () => {
      const { store } = window.persist;
      return {
        count: await store.count(),
        size: await store.getCurrentCacheSize(),
        draft: await store.namespace("drafts").get("note"),
      };
    });

  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  // ---- write, reload, read back ----------------------------------------------
  const first = await openPage(NAME, "first page");
  const pageA = first.page;
  const opened = check(`persist.html opens the OPFS store "${NAME}" in a worker`, first.status === "open", `status ${first.status}`);
  if (!opened) return;
  const written = await evaluate(pageA, async () => {
    const { store, render } = window.persist;
    await store.set("note", { text: "hello", tags: ["a", "b"], n: 1.5 });
    await store.set("bytes", new Uint8Array([0, 1, 254, 255]));
    await store.mset([["list", [true, null, "x"]], ["number", 42]]);
    await store.set("forever", "kept", { ttlMs: Infinity });
    await store.namespace("drafts").set("note", "a draft");
    await render();
    return { bytes: [...(await store.get("bytes"))], isBytes: (await store.get("bytes")) instanceof Uint8Array };
  });
  check("values written in the page read back, a Uint8Array as a Uint8Array",
    written.isBytes && same(written.bytes, [0, 1, 254, 255]), JSON.stringify(written));
  const before = await table(pageA);
  const beforeTotals = await totals(pageA);
  check("the page lists the five root entries", before.length === 5, JSON.stringify(before));
  check("the whole store counts six entries (one in a namespace)", beforeTotals.count === 6,
    JSON.stringify(beforeTotals));

  await pageA.reload({ waitUntil: "load", timeout: stepTimeoutMs });
  const reloaded = await settledStatus(pageA);
  check("after a reload the store opens again", reloaded === "open", `status ${reloaded}`);
  const after = await table(pageA);
  check("after a reload every entry reads back the same", same(after, before),
    `before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
  const afterTotals = await totals(pageA);
  check("after a reload count, cache size and the namespaced entry are the same",
    same(afterTotals, beforeTotals), `before ${JSON.stringify(beforeTotals)}, after ${JSON.stringify(afterTotals)}`);

  // ---- a second page on the same name ----------------------------------------
  const second = await openPage(NAME, "second page");
  const pageB = second.page;
  check(`a second page on "${NAME}" is refused with LOCKED`, second.status === "LOCKED", `status ${second.status}`);
  const locked = await evaluate(pageB, () => {
    const { error, StorageError } = window.persist;
    return error && {
      isStorageError: error instanceof StorageError,
      code: error.code,
      category: error.category,
      retryable: error.retryable,
      recoveryAction: error.recoveryAction,
    };
  });
  check("LOCKED crosses from the worker as a StorageError: CONCURRENCY, retryable, WAIT",
    locked?.isStorageError && locked.category === "CONCURRENCY" && locked.retryable === true
      && locked.recoveryAction === "WAIT",
    JSON.stringify(locked));

  const other = await openPage(OTHER_NAME, "page on another name");
  check(`meanwhile a store of another name ("${OTHER_NAME}") opens`, other.status === "open", `status ${other.status}`);
  await other.page.close();

  await pageA.click("#close", { timeout: stepTimeoutMs });
  await pageA.waitForFunction(() => document.querySelector("#status")?.textContent === "closed", undefined, {
    timeout: stepTimeoutMs,
  });
  const reopened = await evaluate(pageB, () => window.persist.open());
  check("once the first page disposes its store, the second page opens it", reopened === "open", `status ${reopened}`);
  const handedOver = await table(pageB);
  check("... and sees the same data", same(handedOver, before), JSON.stringify(handedOver));
  await evaluate(pageB, () => window.persist.store.set("written-by", "the second page"));

  // ---- closing the page that holds it ------------------------------------------
  const refusedAgain = await evaluate(pageA, () => window.persist.open());
  check("while the second page holds it, the first is refused with LOCKED", refusedAgain === "LOCKED",
    `status ${refusedAgain}`);
  await pageB.close();
  const afterClose = await openUntilFree(pageA);
  check("once the second page closes (without disposing), the first opens the store",
    afterClose.status === "open", `status ${afterClose.status} after ${afterClose.attempts} attempts`);
  const lastWrite = await evaluate(pageA, () => window.persist.store.get("written-by"));
  check("... and sees what the second page wrote", lastWrite === "the second page", JSON.stringify(lastWrite));

  await evaluate(pageA, () => window.persist.store.dispose());

  // ---- no OPFS: an origin that is not a secure context ------------------------
  const insecure = await openPage(NAME, "insecure page", insecureOrigin);
  check("where OPFS is missing (an insecure origin) the store is refused with UNSUPPORTED",
    insecure.status === "UNSUPPORTED", `status ${insecure.status}`);
  const there = await evaluate(insecure.page, async () => {
    const { error, openStorage } = window.persist;
    const memory = await openStorage({ path: ":memory:" });
    await memory.set("k", [1]);
    const value = await memory.get("k");
    await memory.dispose();
    return { secure: isSecureContext, category: error?.category, recoveryAction: error?.recoveryAction, value };
  });
  check("... (LIFECYCLE, recoveryAction NONE), while a \":memory:\" store works there",
    !there.secure && there.category === "LIFECYCLE" && there.recoveryAction === "NONE" && same(there.value, [1]),
    JSON.stringify(there));
  await insecure.page.close();

  // ---- worker-store behaviour, checked inside a page -------------------------
  const checks = await evaluate(
    pageA,
    () => import("/tests/browser/worker-store-checks.mjs").then((m) => m.run()),
    IN_PAGE_TIMEOUT_MS,
  );
  for (const { name, ok, detail } of checks) check(`in page: ${name}`, ok, detail);

  check("no page or console errors in the persistence pages", problems.length === 0, problems.join(" | "));
  await pageA.close();

  /** Opens again until the lock is free: a closing page's worker ends a moment after close() resolves. */
  async function openUntilFree(page) {
    const deadline = Date.now() + OPEN_TIMEOUT_MS;
    for (let attempts = 1; ; attempts += 1) {
      const status = await evaluate(page, () => window.persist.open());
      if (status !== "LOCKED" || Date.now() >= deadline) return { status, attempts };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
