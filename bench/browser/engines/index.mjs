// The browser engine rows. Imported by the page and by the Node runner (for
// names and settings), so nothing here touches browser APIs. `atCapacity`
// rows also run W7 (a cache at its size budget), in a page of its own.

export const BROWSER_ENGINES = [
  {
    id: "larder-opfs",
    module: "./engines/larder.mjs",
    options: { path: ":temp:" },
    atCapacity: true,
    settings: 'larder\'s browser entry, `path: ":temp:"`: a store in its dedicated worker on OPFS (sahpool), default `durability: "full"`, proxied from the page',
  },
  {
    // What `"full"` costs: IndexedDB's transactions in Chromium are relaxed
    // by default (since Chrome 121: no flush before `complete`), so this is
    // the row to hold against idb-keyval and Dexie on durability.
    id: "larder-opfs-normal",
    module: "./engines/larder.mjs",
    options: { path: ":temp:", durability: "normal" },
    settings:
      'larder-opfs with `durability: "normal"` (synchronous=NORMAL: flushed at checkpoints, not at each commit)',
  },
  {
    id: "larder-memory",
    module: "./engines/larder.mjs",
    options: { path: ":memory:" },
    atCapacity: true,
    settings: 'larder\'s browser entry, `":memory:"`, on the page\'s thread',
  },
  {
    id: "sqlite-wasm-sahpool",
    module: "./engines/sqlite-wasm-sahpool.mjs",
    settings:
      "@sqlite.org/sqlite-wasm in a dedicated worker, `opfs-sahpool` VFS, locking_mode=EXCLUSIVE, journal_mode=WAL, " +
      "default synchronous (FULL); the page sends one message per operation; the same SQL as the Node SQLite rows",
  },
  {
    id: "idb-keyval",
    module: "./engines/idb-keyval.mjs",
    settings:
      "idb-keyval (IndexedDB), objects stored as they are; `setMany` / `getMany` for batches; Chromium's default " +
      "durability for IndexedDB, relaxed (no flush before a transaction completes)",
  },
  {
    id: "dexie",
    module: "./engines/dexie.mjs",
    settings: "Dexie (IndexedDB), table `kv` keyed by `key`; `bulkPut` / `bulkGet` for batches; relaxed durability, as idb-keyval",
  },
];

/** The rows every other row's ratios are taken against. */
export const BROWSER_BASELINES = ["sqlite-wasm-sahpool", "idb-keyval"];
