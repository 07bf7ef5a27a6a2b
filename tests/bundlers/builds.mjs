// How each bundler fixture is built, as its app would build it; each build
// resolves with the folder to serve. esbuild and Rollup do not follow
// new URL(…, import.meta.url), so their builds copy larderdb's files to
// /larderdb/ beside the bundle (the apps pass wasmUrl and workerUrl).
import { cpSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { rollup } from "rollup";
import { build as vite } from "vite";
import webpack from "webpack";

/** `vite build` of the app in `dir` with its vite.config.js. */
export async function buildVite(dir) {
  await vite({ root: dir, logLevel: "warn", cacheDir: join(dir, ".vite-build") });
  return join(dir, "dist");
}

/** The dev server of `vite` (a version's module) on the app in `dir`, with
 *  its vite.config.js unless `configFile: false`; resolves with its URL and
 *  how to close it. */
export async function startViteDev(vite, dir, { configFile } = {}) {
  const server = await vite.createServer({
    root: dir,
    configFile,
    logLevel: "warn",
    // Each version and configuration has its own pre-bundling cache.
    cacheDir: join(dir, `.vite-dev-${vite.version}-${configFile === false ? "default" : "config"}`),
    server: { host: "127.0.0.1", port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  return { url: server.resolvedUrls.local[0], close: () => server.close() };
}

/** webpack 5 in production mode, no configuration for larderdb. */
export function buildWebpack(dir) {
  const compiler = webpack({
    mode: "production",
    context: dir,
    entry: "./main.js",
    output: { path: join(dir, "bundle"), filename: "main.js" },
    // The wasm module is larger than webpack's advice for a web asset.
    performance: { hints: false },
  });
  return new Promise((resolve, reject) =>
    compiler.run((error, stats) => {
      compiler.close(() => {});
      if (error) return reject(error);
      if (stats.hasErrors()) return reject(new Error(stats.toString("errors-only")));
      resolve(dir);
    }),
  );
}

/** esbuild of the app in `dir`; with `entry` another app's main.js, bundled
 *  as is, without copying larderdb's files (what a build without the
 *  options does). */
export async function buildEsbuild(dir, entry) {
  await esbuild.build({
    entryPoints: [entry ?? join(dir, "main.js")],
    bundle: true,
    format: "esm",
    outdir: join(dir, "bundle"),
    logLevel: "warning",
  });
  if (!entry) copyPackageFiles(dir);
  return dir;
}

export async function buildRollup(dir) {
  const bundle = await rollup({ input: join(dir, "main.js"), plugins: [nodeResolve({ browser: true })] });
  await bundle.write({ dir: join(dir, "bundle"), format: "es" });
  await bundle.close();
  copyPackageFiles(dir);
  return dir;
}

/** larderdb's files, as installed, to /larderdb/ in the served folder. */
function copyPackageFiles(dir) {
  cpSync(join(dir, "..", "node_modules", "larderdb"), join(dir, "larderdb"), { recursive: true });
}
