// The files each library loads at run time, raw and gzipped (level 9, as
// scripts/build.mjs reports larder's), wasm and JS apart.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const SQLITE_WASM = "bench/node_modules/@sqlite.org/sqlite-wasm/sqlite-wasm/jswasm";

/** Paths from the repo root, by what an app loads: the entry and what it imports. */
const RUNTIME_FILES = [
  {
    library: "larder (Node entry)",
    files: ["pkg/wasm/larder_bg.wasm", "pkg/wasm/larder.js", "pkg/node.js", "pkg/storage.js", "pkg/errors.js"],
  },
  {
    library: "larder (browser entry and OPFS worker)",
    files: [
      "pkg/wasm/larder_bg.wasm",
      "pkg/wasm/larder.js",
      "pkg/browser.js",
      "pkg/remote.js",
      "pkg/worker.js",
      "pkg/storage.js",
      "pkg/errors.js",
    ],
  },
  {
    library: "@sqlite.org/sqlite-wasm (browser)",
    files: [
      `${SQLITE_WASM}/sqlite3.wasm`,
      "bench/node_modules/@sqlite.org/sqlite-wasm/index.mjs",
      `${SQLITE_WASM}/sqlite3-bundler-friendly.mjs`,
      `${SQLITE_WASM}/sqlite3-worker1-promiser.mjs`,
    ],
  },
  { library: "@sqlite.org/sqlite-wasm (Node)", files: [`${SQLITE_WASM}/sqlite3.wasm`, `${SQLITE_WASM}/sqlite3-node.mjs`] },
  { library: "sql.js", files: ["bench/node_modules/sql.js/dist/sql-wasm.wasm", "bench/node_modules/sql.js/dist/sql-wasm.js"] },
  {
    library: "node-sqlite3-wasm",
    files: ["bench/node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm", "bench/node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.js"],
  },
];

/** [{ library, wasm: { raw, gzip }, js: { raw, gzip } }], in bytes. */
export function runtimeFileSizes(root) {
  return RUNTIME_FILES.map(({ library, files }) => {
    const totals = { wasm: { raw: 0, gzip: 0 }, js: { raw: 0, gzip: 0 } };
    for (const file of files) {
      const bytes = readFileSync(new URL(file, root));
      const total = totals[file.endsWith(".wasm") ? "wasm" : "js"];
      total.raw += bytes.length;
      total.gzip += gzipSync(bytes, { level: 9 }).length;
    }
    return { library, ...totals };
  });
}
