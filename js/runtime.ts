/**
 * Loading the wasm core, for every entry: the module (beside this file, or
 * where the `wasmUrl` option says) is compiled once per thread, and each
 * store runs in a fresh instance of it (a runtime), which a trap can end
 * without touching the others. Node reads the module from its file
 * (js/node.ts); browsers fetch it (js/fetched-runtime.ts). A load that fails
 * is LOAD_FAILED and is not kept: the next store tries again.
 */

import { describe, ownError, type StorageError } from "./errors.js";
import { createRuntime, type Runtime } from "./wasm/larder.js";

/** Starts a fresh runtime of the module at `wasmUrl` (default: the
 *  package's own); `trapped` hears of a trap in a task it ran. */
export type RuntimeStarter = (trapped: (error: unknown) => void, wasmUrl?: URL) => Promise<Runtime>;

/** Where the package keeps its module. Written out here, not computed, so
 *  that bundlers which follow `new URL(…, import.meta.url)` copy the file. */
export const packagedWasmUrl = (): URL => new URL("./wasm/larder_bg.wasm", import.meta.url);

/** A starter of runtimes of the module `read` gives (its bytes, or a
 *  LOAD_FAILED), compiled by `compile`, instantiated by `instantiate`. */
export function runtimeStarter(
  read: (url: URL) => Promise<BufferSource>,
  compile: (bytes: BufferSource) => WebAssembly.Module | Promise<WebAssembly.Module>,
  instantiate: (runtime: Runtime, module: WebAssembly.Module) => unknown,
): RuntimeStarter {
  const compiled = new Map<string, Promise<WebAssembly.Module>>();
  const compileOnce = (url: URL) => {
    let module = compiled.get(url.href);
    if (!module) {
      module = read(url).then(async (bytes) => {
        try {
          return await compile(bytes);
        } catch (error) {
          throw loadFailed(`larder's wasm module ${where(url)} could not be compiled (${describe(error)})`, error);
        }
      });
      // A failure is not kept: the next store fetches and compiles again.
      module.catch(() => compiled.delete(url.href));
      compiled.set(url.href, module);
    }
    return module;
  };
  return async (trapped, wasmUrl = packagedWasmUrl()) => {
    const module = await compileOnce(wasmUrl);
    const runtime = createRuntime(trapped);
    await instantiate(runtime, module);
    return runtime;
  };
}

/** A module's address as its messages give it: a file's path, or the URL. */
const where = (url: URL) => (url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href);

export function loadFailed(message: string, cause?: unknown): StorageError {
  return ownError("LOAD_FAILED", message, { cause });
}
