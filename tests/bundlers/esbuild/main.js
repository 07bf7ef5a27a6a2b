// esbuild does not follow new URL(…, import.meta.url): the build copies
// larderdb's files to /larderdb/ beside the bundle, and the app says where.
import { openStorage } from "larderdb";
import { runChecks } from "../app.js";

runChecks(openStorage, { wasmUrl: "/larderdb/wasm/larder_bg.wasm", workerUrl: "/larderdb/worker.js" });
