// The durable-storage page: opens the OPFS store named by ?name= (a worker
// store, through the browser entry), lists its entries and saves new ones.
// `window.persist` gives tests the store and the package's exports.
import { openStorage, isStorageError, StorageError } from "../pkg/browser.js";

const name = new URLSearchParams(location.search).get("name") || "larder-persist-demo";
const statusElement = document.querySelector("#status");
const detailElement = document.querySelector("#detail");
const entriesElement = document.querySelector("#entries");

const persist = { name, store: undefined, error: undefined, openStorage, isStorageError, StorageError, open, render };
window.persist = persist;

function setStatus(state, text, detail = "") {
  statusElement.dataset.state = state;
  statusElement.textContent = text;
  detailElement.textContent = detail;
}

/** Opens the store (again, after a refusal or a close); resolves with the status shown. */
async function open() {
  setStatus("opening", "opening");
  try {
    persist.store = await openStorage({ path: name });
    persist.error = undefined;
    setStatus("open", "open");
    await render();
  } catch (error) {
    persist.store = undefined;
    persist.error = error;
    const code = isStorageError(error) ? error.code : String(error?.name ?? "ERROR");
    setStatus(isStorageError(error) ? "refused" : "failed", code, error?.userMessage ?? error?.message ?? "");
  }
  return statusElement.textContent;
}

/** Shows every entry of the store, in key order. */
async function render() {
  const keys = await persist.store.keys();
  const values = await persist.store.mget(keys);
  entriesElement.replaceChildren(
    ...keys.map((key, index) => {
      const row = document.createElement("tr");
      row.dataset.key = key;
      for (const text of [key, show(values[index])]) {
        const cell = document.createElement("td");
        const code = document.createElement("code");
        code.textContent = text;
        cell.append(code);
        row.append(cell);
      }
      return row;
    }),
  );
}

/** A value as the table shows it: JSON, or the bytes of a Uint8Array. */
function show(value) {
  return value instanceof Uint8Array ? `Uint8Array [${value.join(", ")}]` : JSON.stringify(value);
}

document.querySelector("#name").textContent = name;

document.querySelector("#save").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const key = form.elements.key.value;
  let value = form.elements.value.value;
  try {
    value = JSON.parse(value);
  } catch {
    // Not JSON: keep the text as a string.
  }
  try {
    await persist.store.set(key, value);
    form.reset();
    await render();
  } catch (error) {
    setStatus("failed", isStorageError(error) ? error.code : "ERROR", error?.message ?? "");
  }
});

document.querySelector("#close").addEventListener("click", async () => {
  await persist.store?.dispose();
  persist.store = undefined;
  setStatus("closed", "closed");
});

open();
