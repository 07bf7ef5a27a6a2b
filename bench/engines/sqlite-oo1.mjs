// The statement adapter for @sqlite.org/sqlite-wasm's oo1 API, shared by its
// Node row and its browser worker (which cannot resolve bare imports, hence
// no imports here).

/** `db` (an oo1.DB) in the shape sqlKvStore takes. */
export function oo1Database(db) {
  return {
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const statement = db.prepare(sql);
      return {
        run(params) {
          statement.bind(params).stepReset();
        },
        first(params) {
          try {
            return statement.bind(params).step() ? statement.get({}) : undefined;
          } finally {
            statement.reset();
          }
        },
        all(params) {
          const rows = [];
          try {
            statement.bind(params);
            while (statement.step()) rows.push(statement.get({}));
          } finally {
            statement.reset();
          }
          return rows;
        },
        finalize: () => statement.finalize(),
      };
    },
    close: () => db.close(),
  };
}
