// Assembles pkg/ from the release wasm: wasm-bindgen glue (made a factory,
// see wasm-factory.mjs), the optimised wasm, the compiled facade and the
// package manifest; then prints the sizes. Run by `make build` after
// `cargo build --release`.
//
// With --test-hooks it assembles target/pkg-test-hooks/ instead: the same
// facade over the debug wasm built with the `test-hooks` feature (the
// panic trigger of tests/js/panic.test.mjs). It needs pkg/ built first.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
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

const releaseWasm = "target/wasm32-unknown-unknown/release/larder.wasm";
const glueDir = "js/wasm"; // generated, git-ignored: lets tsc see the glue's types

glue(releaseWasm, glueDir);

rmSync(`${root}pkg`, { recursive: true, force: true });
mkdirSync(`${root}pkg/wasm`, { recursive: true });
// The facade twice: its types with their doc comments, its code without
// (what an app loads; the comments are in the sources and the .d.ts).
run(bin("tsc"), ["-p", "js", "--emitDeclarationOnly"]);
run(bin("tsc"), ["-p", "js", "--declaration", "false", "--removeComments"]);
for (const file of ["larder.js", "larder.d.ts"]) copyFileSync(`${root}${glueDir}/${file}`, `${root}pkg/wasm/${file}`);
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

// Every file an app loads at run time: the wasm, the glue and the facade's
// modules (types.js is type-only and empty at run time, but counted too).
const runtimeFiles = [
  "wasm/larder_bg.wasm",
  "wasm/larder.js",
  ...readdirSync(`${root}pkg`).filter((file) => file.endsWith(".js")).sort(),
];
const sizes = runtimeFiles.map(
  (file) => {
    const bytes = readFileSync(`${root}pkg/${file}`);
    return { file, raw: statSync(`${root}pkg/${file}`).size, gzip: gzipSync(bytes, { level: 9 }).length };
  },
);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log("\npkg/ runtime files       raw        gzip");
for (const { file, raw, gzip } of sizes) console.log(`${file.padEnd(22)} ${kb(raw).padStart(11)} ${kb(gzip).padStart(11)}`);
const total = sizes.reduce((sum, s) => ({ raw: sum.raw + s.raw, gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
console.log(`${"total".padEnd(22)} ${kb(total.raw).padStart(11)} ${kb(total.gzip).padStart(11)}`);

// larder's budget for what an app loads: 1.0 MB raw, 450 KB gzipped
// (decimal units, the stricter reading). A build over it fails.
const budget = { raw: 1_000_000, gzip: 450_000 };
console.log(`${"budget".padEnd(22)} ${`${(budget.raw / 1e6).toFixed(1)} MB`.padStart(11)} ${`${budget.gzip / 1e3} KB`.padStart(11)}`);
if (total.raw > budget.raw || total.gzip > budget.gzip) {
  console.error(`pkg/ runtime files over budget: ${total.raw} bytes raw, ${total.gzip} bytes gzipped`);
  process.exit(1);
}
