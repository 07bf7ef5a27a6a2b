/**
 * Loading the wasm core, for every entry: the module (beside this file, or
 * where the `wasmUrl` option says) is compiled once per thread, and each
 * store runs in a fresh instance of it (a runtime), which a trap can end
 * without touching the others. Node reads the module from its file
 * (js/node.ts); browsers fetch it (`startFetchedRuntime`). A load that fails
 * is LOAD_FAILED and is not kept: the next store tries again.
 */

import { describe } from "./clone-check.js";
import { ownError, type StorageError } from "./errors.js";
import { createRuntime, type Runtime } from "./wasm/larder.js";

/** Starts a fresh runtime of the module at `wasmUrl` (default: the
 *  package's own); `trapped` hears of a trap in a task it ran. */
export type RuntimeStarter = (trapped: (error: unknown) => void, wasmUrl?: URL) => Promise<Runtime>;

/** Where the package keeps its module. Written out here, not computed, so
 *  that bundlers which follow `new URL(…, import.meta.url)` copy the file. */
export const packagedWasmUrl = (): URL => new URL("./wasm/larder_bg.wasm", import.meta.url);

/** A starter of runtimes of the module `read` gives (its bytes, or a
 *  LOAD_FAILED), instantiated by `instantiate`. */
export function runtimeStarter(
  read: (url: URL) => Promise<BufferSource>,
  instantiate: (runtime: Runtime, module: WebAssembly.Module) => unknown,
): RuntimeStarter {
  const compiled = new Map<string, Promise<WebAssembly.Module>>();
  const compile = (url: URL) => {
    let module = compiled.get(url.href);
    if (!module) {
      module = read(url).then((bytes) =>
        WebAssembly.compile(bytes).catch((error: unknown) => {
          throw loadFailed(`larder's wasm module ${where(url)} could not be compiled (${describe(error)})`, error);
        }),
      );
      // A failure is not kept: the next store fetches and compiles again.
      module.catch(() => compiled.delete(url.href));
      compiled.set(url.href, module);
    }
    return module;
  };
  return async (trapped, wasmUrl = packagedWasmUrl()) => {
    const module = await compile(wasmUrl);
    const runtime = createRuntime(trapped);
    await instantiate(runtime, module);
    return runtime;
  };
}

/** A module's address as its messages give it: a file's path, or the URL. */
const where = (url: URL) => (url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href);

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
export const startFetchedRuntime = runtimeStarter(fetchWasm, (runtime, module) =>
  runtime.init({ module_or_path: module }),
);

export function loadFailed(message: string, cause?: unknown): StorageError {
  return ownError("LOAD_FAILED", message, { cause });
}
