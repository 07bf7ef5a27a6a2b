// sql.js (SQLite compiled with Emscripten): memory only; it persists by
// exporting the whole image, which is not a durable store.
import initSqlJs from "sql.js";
import { sqlKvStore } from "./sql-kv.mjs";

export async function open() {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  return sqlKvStore({
    exec: (sql) => db.run(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run: (params) => statement.run(params),
        first(params) {
          try {
            return statement.bind(params) && statement.step() ? statement.getAsObject() : undefined;
          } finally {
            statement.reset();
          }
        },
        all(params) {
          const rows = [];
          try {
            statement.bind(params);
            while (statement.step()) rows.push(statement.getAsObject());
          } finally {
            statement.reset();
          }
          return rows;
        },
        finalize: () => statement.free(),
      };
    },
    close: () => db.close(),
  });
}
