/**
 * Browsers (a page or a worker): the wasm module fetched, with a LOAD_FAILED
 * that says what came back and why when it is not the module.
 */

import { describe } from "./errors.js";
import { loadFailed, runtimeStarter } from "./runtime.js";

/** The module's bytes, fetched; LOAD_FAILED naming the URL, the HTTP status
 *  and content type, and the likely cause when a page came back instead. */
async function fetchWasm(url: URL): Promise<ArrayBuffer> {
  let response: Response;
  let bytes: ArrayBuffer;
  try {
    response = await fetch(url);
    bytes = await response.arrayBuffer();
  } catch (error) {
    throw loadFailed(`larder's wasm module ${url} could not be fetched (${describe(error)})`, error);
  }
  const type = response.headers.get("content-type") ?? "no content type";
  const served = `HTTP ${response.status}, ${type}`;
  if (!response.ok) {
    const hint = response.status === 404 ? `. ${NOT_THERE}` : "";
    throw loadFailed(`larder's wasm module ${url} could not be fetched (${served})${hint}`);
  }
  if (type.startsWith("text/html") || new Uint8Array(bytes)[0] === 0x3c) {
    throw loadFailed(`larder's wasm module ${url} came back as an HTML page (${served}). ${PAGE_INSTEAD}`);
  }
  return bytes;
}

/** Why a page comes back for one of larder's files, and what to do. */
export const PAGE_INSTEAD =
  "A dev server's dependency optimiser has probably moved larderdb away from its files: " +
  'with Vite, add optimizeDeps: { exclude: ["larderdb"] } to vite.config; ' +
  "otherwise serve larderdb's files and pass their addresses as the wasmUrl and workerUrl options.";

/** Why one of larder's files is missing, and what to do. */
const NOT_THERE =
  "If a bundler did not copy it beside larderdb's code (esbuild and Rollup do not), " +
  "serve larderdb's files and pass their addresses as the wasmUrl and workerUrl options.";

/** Browsers (a page or a worker): the module fetched, instantiated asynchronously. */
export const startFetchedRuntime = runtimeStarter(
  fetchWasm,
  // Browsers refuse to compile a module this size synchronously on a page's thread.
  (bytes) => WebAssembly.compile(bytes),
  (runtime, module) => runtime.init({ module_or_path: module }),
);
