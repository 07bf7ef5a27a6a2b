// better-sqlite3 (native SQLite). File: WAL with synchronous=NORMAL, or FULL
// (an fsync per commit) for the row larder's `durability: "full"` is held to.
import Database from "better-sqlite3";
import { sqlKvStore } from "./sql-kv.mjs";

export async function open({ file, synchronous = "NORMAL" }) {
  const db = new Database(file ?? ":memory:");
  if (file) db.pragma("journal_mode = WAL");
  if (file) db.pragma(`synchronous = ${synchronous}`);
  return sqlKvStore({
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run: (params) => statement.run(params),
        first: (params) => statement.get(params),
        all: (params) => statement.all(params),
        finalize() {}, // better-sqlite3 finalizes statements when they are collected
      };
    },
    close: () => db.close(),
  });
}
