// What every bundler fixture's page does with larderdb: a ":memory:" store
// (on the page's thread) and an OPFS store (in larder's worker), set and get
// on each, the outcome written to <body data-status data-result> for
// tests/bundlers/run.mjs to read.

/** Runs the checks with `openStorage` (imported by the fixture by package
 *  name) and the fixture's own open options. */
export async function runChecks(openStorage, options = {}) {
  try {
    const result = {};
    for (const [name, path] of [["memory", ":memory:"], ["opfs", "bundler-check"]]) {
      const store = await openStorage({ ...options, path });
      await store.set("greeting", { from: name, bytes: [1, 2, 3] });
      result[name] = await store.get("greeting");
      await store.dispose();
    }
    report("done", result);
  } catch (error) {
    report("failed", { code: error?.code, message: String(error?.message ?? error) });
  }
}

function report(status, result) {
  document.body.dataset.result = JSON.stringify(result);
  document.body.dataset.status = status;
}
