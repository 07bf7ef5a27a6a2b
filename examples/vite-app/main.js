// larderdb in a Vite app: a ":memory:" store on the page's thread and an
// OPFS store, which larder runs in its own worker. Each is written, read back
// and shown; <body data-status data-result> carries the outcome for the test
// that loads this app (tests/bundlers/run.mjs).
import { openStorage } from "larderdb";

async function roundTrip(path) {
  const store = await openStorage({ path });
  try {
    await store.set("greeting", { from: path, at: "vite" });
    return await store.get("greeting");
  } finally {
    await store.dispose();
  }
}

try {
  const memory = await roundTrip(":memory:");
  document.querySelector("#memory").textContent = JSON.stringify(memory);
  const opfs = await roundTrip("vite-app");
  document.querySelector("#opfs").textContent = JSON.stringify(opfs);
  document.body.dataset.result = JSON.stringify({ memory, opfs });
  document.body.dataset.status = "done";
} catch (error) {
  document.body.dataset.result = JSON.stringify({ code: error.code, message: error.message });
  document.body.dataset.status = "failed";
  document.body.append(`larderdb failed: ${error.code} ${error.message}`);
}
