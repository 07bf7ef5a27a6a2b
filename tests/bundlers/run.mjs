// larderdb imported by package name through every common bundler, each app
// loaded in headless Chromium: Vite's dev server and `vite build`
// (examples/vite-app, with its one documented line; Vite 8 and 7), webpack 5, esbuild and
// Rollup (tests/bundlers/<name>/), and a page with no bundler (an import
// map). Each app opens a ":memory:" store and an OPFS store (in larder's
// worker), sets and gets on both and shows the outcome; a check fails on a
// wrong outcome or on any console error, page error or failed request. Also:
// Vite 7's dev server without that line fails with a LOAD_FAILED that says
// what to add (Vite 8's works without it), and an esbuild bundle without
// the wasmUrl option fails with one that names the 404 and the option. Everything is built under test-output/bundlers/, against the
// package as npm installs it (pkg/ packed, then unpacked into node_modules).
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { closeServer, startServer } from "../../scripts/static-server.mjs";
import { STEP_TIMEOUT_MS, check, finish, launchChromium, watchPage, watchdog } from "../browser/harness.mjs";
import * as vite8 from "vite";
import * as vite7 from "vite7";
import { buildEsbuild, buildRollup, buildVite, buildWebpack, startViteDev } from "./builds.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const OUT = join(ROOT, "test-output", "bundlers");

const appResult = {
  memory: { from: "memory", bytes: [1, 2, 3] },
  opfs: { from: "opfs", bytes: [1, 2, 3] },
};
const viteAppResult = {
  memory: { from: ":memory:", at: "vite" },
  opfs: { from: "vite-app", at: "vite" },
};

/** pkg/ packed by npm and unpacked into each of `dirs`' node_modules, as an install would. */
function installPackage(dirs) {
  const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", OUT], { cwd: join(ROOT, "pkg") })
    .toString()
    .trim()
    .split("\n")
    .at(-1);
  for (const dir of dirs) {
    const target = join(dir, "node_modules", "larderdb");
    mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", join(OUT, tarball), "-C", target, "--strip-components=1"]);
  }
}

/** Loads `url` and checks what the app reports and that nothing went wrong. */
async function checkApp(context, name, url, expected) {
  const page = await context.newPage();
  const errors = watchPage(page);
  try {
    await page.goto(url, { timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction(() => document.body?.dataset.status, undefined, { timeout: STEP_TIMEOUT_MS });
    const { status, result } = await page.evaluate(() => ({ ...document.body.dataset }));
    check(`${name}: the app opens both stores, sets and gets`, status === "done" && isDeepStrictEqual(JSON.parse(result), expected),
      `status ${status}, result ${result}`);
    check(`${name}: no console error, page error or failed request`, errors.length === 0, errors.join("; "));
  } catch (error) {
    check(`${name}: the app reports`, false, `${error.message.split("\n")[0]}; ${errors.join("; ")}`);
  } finally {
    await page.close();
  }
}

/** The Vite app on a dev server: with its vite.config.js it works in every
 *  version; without it, Vite 8 still works, while Vite 7's dependency
 *  optimiser moves larderdb away from its files and the open fails with a
 *  LOAD_FAILED that names the page that came back and the fix. */
async function checkViteDev(context) {
  for (const vite of [vite8, vite7]) {
    for (const configFile of [undefined, false]) {
      const name = `vite ${vite.version} dev (examples/vite-app${configFile === false ? " without its vite.config.js" : ""})`;
      const dev = await startViteDev(vite, join(OUT, "vite-app"), { configFile });
      try {
        if (vite === vite7 && configFile === false) {
          await checkLoadFailed(context, name, dev.url, "HTTP 200, text/html", ['optimizeDeps: { exclude: ["larderdb"] }']);
        }
        else await checkApp(context, name, dev.url, viteAppResult);
      } finally {
        await dev.close();
      }
    }
  }
}

/** Loads `url`, whose app must fail to open with LOAD_FAILED, the message
 *  naming the wasm module, how it was served and each of `mentions`. */
async function checkLoadFailed(context, name, url, served, mentions = []) {
  const page = await context.newPage();
  try {
    await page.goto(url, { timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction(() => document.body?.dataset.status, undefined, { timeout: STEP_TIMEOUT_MS });
    const { status, result } = await page.evaluate(() => ({ ...document.body.dataset }));
    const { code, message = "" } = JSON.parse(result);
    check(`${name}: the open fails with LOAD_FAILED`, status === "failed" && code === "LOAD_FAILED",
      `status ${status}, result ${result}`);
    check(`... naming the wasm module and ${served}`, /larder_bg\.wasm/.test(message) && message.includes(served), message);
    for (const words of mentions) check(`... and ${words}`, message.includes(words), message);
  } finally {
    await page.close();
  }
}

const stopWatchdog = watchdog(600_000);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const fixture of ["plain", "webpack", "esbuild", "rollup"]) {
  cpSync(join(ROOT, "tests", "bundlers", fixture), join(OUT, fixture), { recursive: true });
}
cpSync(join(ROOT, "tests", "bundlers", "esbuild", "index.html"), join(OUT, "esbuild-defaults", "index.html"));
cpSync(join(ROOT, "tests", "bundlers", "app.js"), join(OUT, "app.js"));
cpSync(join(ROOT, "examples", "vite-app"), join(OUT, "vite-app"), { recursive: true });
installPackage([OUT, join(OUT, "vite-app")]);

const builds = [
  ["vite build", () => buildVite(join(OUT, "vite-app"))],
  ["webpack", () => buildWebpack(join(OUT, "webpack"))],
  ["esbuild", () => buildEsbuild(join(OUT, "esbuild"))],
  ["rollup", () => buildRollup(join(OUT, "rollup"))],
  ["esbuild without the options", () => buildEsbuild(join(OUT, "esbuild-defaults"), join(OUT, "plain", "main.js"))],
];
const built = new Map();
for (const [name, build] of builds) {
  try {
    built.set(name, await build());
    check(`${name}: builds`, true);
  } catch (error) {
    check(`${name}: builds`, false, error.message.split("\n").slice(0, 5).join(" "));
  }
}

const { context, close } = await launchChromium();
const servers = [];
const serve = async (dir) => {
  const server = await startServer(dir);
  servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
};
try {
  await checkApp(context, "no bundler (import map)", `${await serve(OUT)}/plain/index.html`, appResult);
  await checkViteDev(context);
  for (const [name, served] of built) {
    const url = `${await serve(served)}/index.html`;
    if (name === "esbuild without the options") await checkLoadFailed(context, name, url, "HTTP 404", ["wasmUrl"]);
    else await checkApp(context, name, url, name === "vite build" ? viteAppResult : appResult);
  }
} finally {
  await close();
  for (const server of servers) await closeServer(server);
}
stopWatchdog();
finish();
