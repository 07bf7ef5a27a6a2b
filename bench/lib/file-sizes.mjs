// The files each library loads at run time, raw and gzipped (level 9, as
// scripts/build.mjs reports larder's), wasm and JS apart. larder's are found
// by scripts/runtime-files.mjs, the rule the build's size budget counts by,
// from the entries the benchmark imports, so the list follows the package as
// it is built.
import { fileURLToPath } from "node:url";
import { fileSize, runtimeFiles } from "../../scripts/runtime-files.mjs";

const SQLITE_WASM = "bench/node_modules/@sqlite.org/sqlite-wasm/sqlite-wasm/jswasm";

/** The libraries and their files; larder's from its entries, the others' listed by hand. */
function libraries(root) {
  const fromRoot = (files) => files.map((file) => new URL(file, root));
  return [
    { library: "larder (Node entry)", files: runtimeFiles(new URL(import.meta.resolve("larderdb"))) },
    { library: "larder (browser entry and OPFS worker)", files: runtimeFiles(new URL("pkg/browser.js", root)) },
    {
      library: "@sqlite.org/sqlite-wasm (browser)",
      files: fromRoot([
        `${SQLITE_WASM}/sqlite3.wasm`,
        "bench/node_modules/@sqlite.org/sqlite-wasm/index.mjs",
        `${SQLITE_WASM}/sqlite3-bundler-friendly.mjs`,
        `${SQLITE_WASM}/sqlite3-worker1-promiser.mjs`,
      ]),
    },
    { library: "@sqlite.org/sqlite-wasm (Node)", files: fromRoot([`${SQLITE_WASM}/sqlite3.wasm`, `${SQLITE_WASM}/sqlite3-node.mjs`]) },
    { library: "sql.js", files: fromRoot(["bench/node_modules/sql.js/dist/sql-wasm.wasm", "bench/node_modules/sql.js/dist/sql-wasm.js"]) },
    {
      library: "node-sqlite3-wasm",
      files: fromRoot([
        "bench/node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm",
        "bench/node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.js",
      ]),
    },
  ];
}

/** [{ library, files, wasm: { raw, gzip }, js: { raw, gzip } }], in bytes; `files` relative to `root`. */
export function runtimeFileSizes(root) {
  const rootPath = fileURLToPath(root);
  return libraries(root).map(({ library, files }) => {
    const totals = { wasm: { raw: 0, gzip: 0 }, js: { raw: 0, gzip: 0 } };
    for (const file of files) {
      const { raw, gzip } = fileSize(file);
      const total = totals[file.pathname.endsWith(".wasm") ? "wasm" : "js"];
      total.raw += raw;
      total.gzip += gzip;
    }
    return { library, files: files.map((file) => fileURLToPath(file).slice(rootPath.length)), ...totals };
  });
}
