// The larder browser demo: a few calls on an in-memory cache of UI component
// records, each shown as one row (`data-step`) with its result.
import { openStorage, isStorageError } from "../pkg/browser.js";

const stepsElement = document.querySelector("#steps");
const statusElement = document.querySelector("#status");

/** Thrown when the demo itself sees something other than what it demonstrates. */
class DemoFailure extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Shows a value as text: one-line JSON with spaces, except `undefined`. */
function format(value) {
  return value === undefined ? "undefined" : JSON.stringify(value, null, 1).replace(/\n\s*/g, " ");
}

function showStep(id, call, outcome, result, detail) {
  const row = document.createElement("tr");
  row.dataset.step = id;
  row.dataset.outcome = outcome;

  const callCell = document.createElement("th");
  callCell.scope = "row";
  const callCode = document.createElement("code");
  callCode.textContent = call;
  callCell.append(callCode);

  const outcomeCell = document.createElement("td");
  outcomeCell.className = "outcome";
  outcomeCell.textContent = outcome;

  const resultCell = document.createElement("td");
  const resultCode = document.createElement("code");
  resultCode.className = "result";
  resultCode.textContent = result;
  resultCell.append(resultCode);
  if (detail) {
    const detailText = document.createElement("span");
    detailText.className = "detail";
    detailText.textContent = detail;
    resultCell.append(detailText);
  }

  row.append(callCell, outcomeCell, resultCell);
  stepsElement.append(row);
}

function errorCode(error) {
  return isStorageError(error) || error instanceof DemoFailure ? error.code : error?.name ?? "ERROR";
}

/** Runs one call that should succeed and shows `render(result)`. */
async function step(id, call, action, render = format) {
  try {
    const value = await action();
    showStep(id, call, "ok", render(value));
    return value;
  } catch (error) {
    showStep(id, call, "error", errorCode(error), error?.message);
    throw error;
  }
}

/** Runs one call that larder should refuse with `expectedCode` and shows the refusal. */
async function refusedStep(id, call, expectedCode, action) {
  let value;
  try {
    value = await action();
  } catch (error) {
    if (isStorageError(error) && error.code === expectedCode) {
      showStep(id, call, "refused", error.code, error.message);
      return;
    }
    showStep(id, call, "error", errorCode(error), error?.message);
    throw error;
  }
  showStep(id, call, "error", `accepted: ${format(value)}`, `expected ${expectedCode}`);
  throw new DemoFailure("NOT_REFUSED", `${call} was not refused with ${expectedCode}`);
}

const button = { kind: "component", framework: "react", name: "button", files: ["button.tsx"] };
const dashboard = { kind: "block", framework: "react", name: "dashboard-01", files: ["page.tsx", "chart-area.tsx"] };

function setStatus(state, text) {
  statusElement.dataset.state = state;
  statusElement.textContent = text;
}

async function main() {
  let store;
  try {
    store = await step("open", 'openStorage({ path: ":memory:" })', () => openStorage({ path: ":memory:" }), () => "opened");

    await step("set-button", 'set("component:react:button", …, { size: 100 })',
      () => store.set("component:react:button", button, { size: 100 }), () => "stored");
    await step("set-dashboard", 'set("block:react:dashboard-01", …, { size: 200 })',
      () => store.set("block:react:dashboard-01", dashboard, { size: 200 }), () => "stored");
    await step("get-button", 'get("component:react:button")', () => store.get("component:react:button"));
    await step("keys-component", 'keys({ prefix: "component:" })', () => store.keys({ prefix: "component:" }));
    await step("size-initial", "getCurrentCacheSize()", () => store.getCurrentCacheSize());

    // A Date cannot be read back exactly, so the whole batch is refused.
    await refusedStep("mset-invalid", "mset([card, chart with a Date, input])", "INVALID_VALUE", () =>
      store.mset([
        ["component:react:card", { kind: "component", framework: "react", name: "card" }],
        ["component:react:chart", { kind: "component", framework: "react", name: "chart", updatedAt: new Date() }],
        ["component:react:input", { kind: "component", framework: "react", name: "input" }],
      ]));
    await step("keys-after-mset", 'keys({ prefix: "component:" })', () => store.keys({ prefix: "component:" }));
    await step("count-after-mset", "count()", () => store.count());

    await step("delete-button", 'delete("component:react:button")', () => store.delete("component:react:button"));
    await step("size-after-delete", "getCurrentCacheSize()", () => store.getCurrentCacheSize());

    await step("dispose", "dispose()", () => store.dispose(), () => (store.isDisposed() ? "disposed" : "still open"));
    setStatus("done", "done");
  } catch (error) {
    console.warn("larder demo failed:", error);
    setStatus("failed", `failed: ${errorCode(error)}`);
    await store?.dispose().catch(() => {});
  }
}

main();
