// Assembles pkg/ from the release wasm: wasm-bindgen glue (made a factory,
// see wasm-factory.mjs), the optimised wasm, the compiled facade and the
// package manifest; then checks what each entry of the package loads
// against the budget. Run by `make build` after `cargo build --release`.
//
// With --test-hooks it assembles target/pkg-test-hooks/ instead: the same
// facade over the debug wasm built with the `test-hooks` feature (the
// panic trigger of tests/js/panic.test.mjs). It needs pkg/ built first.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { build as esbuild, transformSync } from "esbuild";
import { fileSize, packageEntries, unreachedFiles } from "./runtime-files.mjs";
import { glueFactory, glueFactoryTypes } from "./wasm-factory.mjs";

const root = new URL("..", import.meta.url).pathname;
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: "inherit" });
const bin = (name) => `${root}node_modules/.bin/${name}`;

/** wasm-bindgen's glue for `wasm` in `dir`, rewritten as a factory. */
function glue(wasm, dir) {
  run("wasm-bindgen", ["--target", "web", "--out-dir", dir, "--out-name", "larder", wasm]);
  const js = `${root}${dir}/larder.js`;
  const dts = `${root}${dir}/larder.d.ts`;
  writeFileSync(js, glueFactory(readFileSync(js, "utf8")));
  writeFileSync(dts, glueFactoryTypes(readFileSync(dts, "utf8")));
}

if (process.argv.includes("--test-hooks")) {
  const dir = "target/test-hooks-glue";
  glue("target/wasm32-unknown-unknown/debug/larder.wasm", dir);
  const out = `${root}target/pkg-test-hooks`;
  rmSync(out, { recursive: true, force: true });
  cpSync(`${root}pkg`, out, { recursive: true });
  for (const file of ["larder.js", "larder.d.ts", "larder_bg.wasm"]) copyFileSync(`${root}${dir}/${file}`, `${out}/wasm/${file}`);
  console.log(`test-hooks package: ${out}`);
  process.exit(0);
}

/** The facade's entries: the package's exports (the browser module also
 *  starts the worker), and the tests' ways in (js/internals.ts,
 *  js/browser-internals.ts), which the npm package leaves out. */
const FACADE_ENTRIES = ["node", "browser", "worker", "keyv"];
const TEST_ENTRIES = ["internals", "browser-internals"];

const releaseWasm = "target/wasm32-unknown-unknown/release/larder.wasm";
const glueDir = "js/wasm"; // generated, git-ignored: lets tsc see the glue's types

glue(releaseWasm, glueDir);

rmSync(`${root}pkg`, { recursive: true, force: true });
mkdirSync(`${root}pkg/wasm`, { recursive: true });
// The facade twice: its types with their doc comments, one .d.ts per
// module; its code without (what an app loads; the comments are in the
// sources and the .d.ts), bundled: Node's loader takes about 0.4 ms a
// module, and the Node entry reached 30 (importing it took 23 ms, 12-14
// bundled). One build of every entry, the code they share split into
// chunks, so that the entries share one copy of each module.
run(bin("tsc"), ["-p", "js", "--emitDeclarationOnly"]);
const facade = `${root}target/facade`;
rmSync(facade, { recursive: true, force: true });
run(bin("tsc"), ["-p", "js", "--declaration", "false", "--removeComments", "--outDir", facade]);
await esbuild({
  entryPoints: [...FACADE_ENTRIES, ...TEST_ENTRIES].map((name) => `${facade}/${name}.js`),
  outdir: `${root}pkg`,
  // The same bundle, chunk names included, wherever the build runs from.
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  // The glue stays a file of its own, beside the module it loads.
  external: ["node:*", "./wasm/larder.js"],
  chunkNames: "shared-[hash]",
  // As the glue below: every name and statement as tsc wrote it, without
  // the indentation and line breaks (a fifth of the facade's bytes).
  minifyWhitespace: true,
  logLevel: "warning",
});
copyFileSync(`${root}${glueDir}/larder.d.ts`, `${root}pkg/wasm/larder.d.ts`);
// The glue is generated code nobody reads in the package: without its
// whitespace it is 40% smaller, and every name and statement stays as it was.
const glueCode = readFileSync(`${root}${glueDir}/larder.js`, "utf8");
writeFileSync(`${root}pkg/wasm/larder.js`, transformSync(glueCode, { format: "esm", minifyWhitespace: true }).code);
// --converge repeats -Oz until the module stops shrinking (about 1.3 KiB more).
const wasmOptArgs = [
  "-Oz",
  "--converge",
  "--enable-bulk-memory",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
  "--strip-debug",
  "--strip-producers",
];
optimiseWasm(`${glueDir}/larder_bg.wasm`, "pkg/wasm/larder_bg.wasm");

/** wasm-opt on `input`, reusing the last output when neither the module nor
 * the arguments changed (a facade-only rebuild then skips a minute of -Oz). */
function optimiseWasm(input, output) {
  const key = createHash("sha256").update(readFileSync(`${root}${input}`)).update(wasmOptArgs.join(" ")).digest("hex");
  const cached = `${root}target/wasm-opt-cache/${key}.wasm`;
  if (!existsSync(cached)) {
    // One entry kept: the cache holds the module of the current sources only.
    rmSync(`${root}target/wasm-opt-cache`, { recursive: true, force: true });
    mkdirSync(`${root}target/wasm-opt-cache`, { recursive: true });
    run(bin("wasm-opt"), [...wasmOptArgs, input, "-o", `${cached}.partial`]);
    renameSync(`${cached}.partial`, cached);
  }
  copyFileSync(cached, `${root}${output}`);
}

const manifest = JSON.parse(readFileSync(`${root}pkg-template/package.json`, "utf8"));
writeFileSync(`${root}pkg/package.json`, `${JSON.stringify(manifest, null, 2)}\n`);
// The package's README is for its users (PACKAGE.md); README.md is the contributors'.
copyFileSync(`${root}PACKAGE.md`, `${root}pkg/README.md`);
copyFileSync(`${root}LICENSE`, `${root}pkg/LICENSE`);

// Lets the demo and the tests import the built package by its name.
rmSync(`${root}node_modules/larderdb`, { recursive: true, force: true });
symlinkSync("../pkg", `${root}node_modules/larderdb`, "dir");

// The budget for what an app loads: 1.0 MB raw, 450 KB gzipped (decimal
// units, the stricter reading), checked for each entry of the package with
// every file it loads (scripts/runtime-files.mjs). A build over it fails.
const budget = { raw: 1_000_000, gzip: 450_000 };
const pkg = new URL("../pkg/", import.meta.url);
const entries = packageEntries(pkg);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const row = (label, raw, gzip) => `${label.padEnd(22)} ${raw.padStart(11)} ${gzip.padStart(11)}`;
const over = [];
for (const { name, files } of entries) {
  if (!files.some((url) => url.pathname.endsWith(".wasm"))) over.push(`${name}: loads no wasm, so its references were not followed`);
  const sizes = files.map((url) => ({ file: url.pathname.slice(pkg.pathname.length), ...fileSize(url) }));
  const total = sizes.reduce((sum, s) => ({ raw: sum.raw + s.raw, gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
  console.log(`\n${name}\n${row("file", "raw", "gzip")}`);
  for (const { file, raw, gzip } of sizes) console.log(row(file, kb(raw), kb(gzip)));
  console.log(row("total", kb(total.raw), kb(total.gzip)));
  console.log(row("room", `${budget.raw - total.raw} B`, `${budget.gzip - total.gzip} B`));
  if (total.raw > budget.raw || total.gzip > budget.gzip) over.push(`${name}: ${total.raw} bytes raw, ${total.gzip} bytes gzipped`);
}
console.log(`\nbudget per entry: ${budget.raw / 1e6} MB raw, ${budget.gzip / 1e3} KB gzipped`);
const testEntries = new Set(TEST_ENTRIES.map((name) => `${name}.js`));
const unreached = unreachedFiles(pkg, entries).filter((file) => !testEntries.has(file));
if (unreached.length > 0) console.log(`loaded by no entry: ${unreached.map((file) => `${file} (${statSync(new URL(file, pkg)).size} B)`).join(", ")}`);
if (over.length > 0) {
  console.error(`over budget:\n  ${over.join("\n  ")}`);
  process.exit(1);
}
