// The Node engine rows: what each one runs and with which settings. Modules
// are named, not imported, so the worker can time their import.

export const ENGINES = [
  {
    id: "larder-file-normal",
    storage: "file",
    module: "./larder.mjs",
    options: { durability: "normal" },
    settings: 'larder, file, `durability: "normal"` (WAL, synchronous=NORMAL, exclusive lock)',
  },
  {
    id: "larder-file-full",
    storage: "file",
    module: "./larder.mjs",
    options: { durability: "full" },
    settings: 'larder, file, `durability: "full"` (WAL, synchronous=FULL: fsync per commit)',
  },
  { id: "better-sqlite3-file", storage: "file", module: "./better-sqlite3.mjs", settings: "better-sqlite3 12, file, WAL, synchronous=NORMAL" },
  {
    id: "node-sqlite3-wasm-file",
    storage: "file",
    module: "./node-sqlite3-wasm.mjs",
    settings: "node-sqlite3-wasm, file, locking_mode=EXCLUSIVE, WAL, synchronous=NORMAL",
  },
  { id: "pglite-file", storage: "directory", module: "./pglite.mjs", settings: "PGlite, data directory, default settings, `expires_at BIGINT`" },
  { id: "larder-memory", storage: "memory", module: "./larder.mjs", settings: 'larder, `":memory:"`' },
  { id: "better-sqlite3-memory", storage: "memory", module: "./better-sqlite3.mjs", settings: "better-sqlite3 12, `:memory:`" },
  { id: "sqlite-wasm-memory", storage: "memory", module: "./sqlite-wasm.mjs", settings: "@sqlite.org/sqlite-wasm, oo1 API, `:memory:`" },
  { id: "sql.js-memory", storage: "memory", module: "./sql-js.mjs", settings: "sql.js, in memory" },
  { id: "pglite-memory", storage: "memory", module: "./pglite.mjs", settings: "PGlite, in memory, `expires_at BIGINT`" },
  { id: "map", storage: "memory", module: "./map.mjs", settings: "a `Map` of JSON text behind async functions (the floor)" },
];

/** The row each engine's ratios are taken against: the same kind of storage. */
export const BASELINE = { persistent: "better-sqlite3-file", memory: "better-sqlite3-memory" };

export const isPersistent = (engine) => engine.storage !== "memory";
