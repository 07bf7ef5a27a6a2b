// @sqlite.org/sqlite-wasm on its opfs-sahpool VFS, in a dedicated worker (the
// VFS needs OPFS sync access handles, which only workers have), running the
// same table and statements as the Node SQLite rows. Workers get no import
// map, hence the paths.
import sqlite3InitModule from "/bench/node_modules/@sqlite.org/sqlite-wasm/index.mjs";
import { sqlKvStore } from "/bench/engines/sql-kv.mjs";
import { oo1Database } from "/bench/engines/sqlite-oo1.mjs";

let pool;
let store;

const methods = {
  async open(poolName) {
    const sqlite3 = await sqlite3InitModule();
    pool = await sqlite3.installOpfsSAHPoolVfs({ name: poolName });
    const db = new pool.OpfsSAHPoolDb("/kv.sqlite");
    // WAL without shared memory needs exclusive locking; one connection is all there is.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    const journalMode = db.selectValue("PRAGMA journal_mode = WAL");
    if (journalMode !== "wal") throw new Error(`journal_mode is ${journalMode}, not wal`);
    store = sqlKvStore(oo1Database(db));
  },
  set: (key, value) => store.set(key, value),
  get: (key) => store.get(key),
  mset: (entries) => store.mset(entries),
  mget: (keys) => store.mget(keys),
  async close() {
    await store.close();
    await pool.removeVfs(); // deletes the pool's files
  },
};

onmessage = async ({ data: { id, method, args } }) => {
  try {
    postMessage({ id, result: await methods[method](...args) });
  } catch (error) {
    postMessage({ id, error: String(error?.stack ?? error) });
  }
};
