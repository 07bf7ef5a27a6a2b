// The Node engine rows: what each one runs and with which settings. Modules
// are named, not imported, so the worker can time their import. `baseline`
// is the row its ratios are taken against (the same kind of storage and
// durability); `atCapacity` rows also run W7 (a cache at its size budget).
// A `metered` row is also run against the package's copy that counts
// nothing, in one process (metering.mjs): what its metrics cost.

const FILE = "better-sqlite3-file";
const FILE_FULL = "better-sqlite3-file-full";
const MEMORY = "better-sqlite3-memory";

export const ENGINES = [
  {
    id: "larder-file-normal",
    storage: "file",
    module: "./larder.mjs",
    options: { durability: "normal" },
    baseline: FILE,
    atCapacity: true,
    metered: true,
    settings: 'larder, file, `durability: "normal"` (WAL, synchronous=NORMAL, exclusive lock)',
  },
  {
    id: "larder-file-full",
    storage: "file",
    module: "./larder.mjs",
    options: { durability: "full" },
    baseline: FILE_FULL,
    atCapacity: true,
    settings: 'larder, file, `durability: "full"` (WAL, synchronous=FULL: fsync per commit)',
  },
  { id: FILE, storage: "file", module: "./better-sqlite3.mjs", baseline: FILE, settings: "better-sqlite3 12, file, WAL, synchronous=NORMAL" },
  {
    id: FILE_FULL,
    storage: "file",
    module: "./better-sqlite3.mjs",
    options: { synchronous: "FULL" },
    baseline: FILE_FULL,
    settings: "better-sqlite3 12, file, WAL, synchronous=FULL (fsync per commit)",
  },
  {
    id: "node-sqlite3-wasm-file",
    storage: "file",
    module: "./node-sqlite3-wasm.mjs",
    baseline: FILE,
    settings: "node-sqlite3-wasm, file, locking_mode=EXCLUSIVE, WAL, synchronous=NORMAL",
  },
  {
    id: "pglite-file",
    storage: "directory",
    module: "./pglite.mjs",
    baseline: FILE,
    settings: "PGlite, data directory, default settings, `expires_at BIGINT`",
  },
  {
    id: "larder-memory",
    storage: "memory",
    module: "./larder.mjs",
    baseline: MEMORY,
    atCapacity: true,
    metered: true,
    settings: 'larder, `":memory:"`',
  },
  { id: MEMORY, storage: "memory", module: "./better-sqlite3.mjs", baseline: MEMORY, settings: "better-sqlite3 12, `:memory:`" },
  {
    id: "sqlite-wasm-memory",
    storage: "memory",
    module: "./sqlite-wasm.mjs",
    baseline: MEMORY,
    settings: "@sqlite.org/sqlite-wasm, oo1 API, `:memory:`",
  },
  { id: "sql.js-memory", storage: "memory", module: "./sql-js.mjs", baseline: MEMORY, settings: "sql.js, in memory" },
  { id: "pglite-memory", storage: "memory", module: "./pglite.mjs", baseline: MEMORY, settings: "PGlite, in memory, `expires_at BIGINT`" },
  {
    id: "map",
    storage: "memory",
    module: "./map.mjs",
    baseline: MEMORY,
    settings: "a `Map` of JSON text behind async functions (the floor)",
  },
];

export const isPersistent = (engine) => engine.storage !== "memory";
