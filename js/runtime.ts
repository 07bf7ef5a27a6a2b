/**
 * Loading the wasm core, for every entry: the module beside this file is
 * compiled once per thread, and each store runs in a fresh instance of it (a
 * runtime), which a trap can end without touching the others. Node reads the
 * module from its file (js/node.ts); browsers fetch it (`startFetchedRuntime`).
 */

import { createRuntime, type Runtime } from "./wasm/larder.js";

/** Starts a fresh runtime; `trapped` hears of a trap in a task it ran. */
export type RuntimeStarter = (trapped: (error: unknown) => void) => Promise<Runtime>;

/** A starter of runtimes of the module `read` gives, instantiated by `instantiate`. */
export function runtimeStarter(
  read: (url: URL) => Promise<BufferSource>,
  instantiate: (runtime: Runtime, module: WebAssembly.Module) => unknown,
): RuntimeStarter {
  let compiling: Promise<WebAssembly.Module> | undefined;
  return async (trapped) => {
    compiling ??= read(new URL("./wasm/larder_bg.wasm", import.meta.url)).then((bytes) => WebAssembly.compile(bytes));
    const runtime = createRuntime(trapped);
    await instantiate(runtime, await compiling);
    return runtime;
  };
}

/** Browsers (a page or a worker): the module fetched, instantiated asynchronously. */
export const startFetchedRuntime = runtimeStarter(
  (url) => fetch(url).then((response) => response.arrayBuffer()),
  (runtime, module) => runtime.init({ module_or_path: module }),
);
