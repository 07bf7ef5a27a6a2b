// better-sqlite3 (native SQLite). File: WAL with synchronous=NORMAL.
import Database from "better-sqlite3";
import { sqlKvStore } from "./sql-kv.mjs";

export async function open({ file }) {
  const db = new Database(file ?? ":memory:");
  if (file) db.pragma("journal_mode = WAL");
  if (file) db.pragma("synchronous = NORMAL");
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
