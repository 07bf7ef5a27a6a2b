// node-sqlite3-wasm (SQLite in wasm with a Node file VFS). Its fastest file
// setting: exclusive locking and WAL; synchronous=NORMAL as for better-sqlite3.
import sqlite3 from "node-sqlite3-wasm";
import { sqlKvStore } from "./sql-kv.mjs";

export async function open({ file }) {
  const db = new sqlite3.Database(file);
  db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  return sqlKvStore({
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run: (params) => statement.run(params),
        first: (params) => statement.get(params) ?? undefined,
        all: (params) => statement.all(params),
        finalize: () => statement.finalize(),
      };
    },
    close: () => db.close(),
  });
}
