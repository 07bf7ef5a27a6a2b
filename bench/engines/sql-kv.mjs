// The key/value store every SQLite engine runs: one schema, one set of SQL
// statements, values kept as JSON text. Engine files only adapt their
// prepared-statement API to `db` below, so the SQL work is identical.

export const SCHEMA = "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT, expires_at INTEGER, size INTEGER)";

// An upsert, as a cache's set is; `size` is the JSON text's length (the data is ASCII).
const UPSERT =
  "INSERT INTO kv (key, value, expires_at, size) VALUES (?, ?, NULL, ?) " +
  "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, size = excluded.size";
// Reads skip expired rows, as a cache's reads must.
const GET = "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)";
const mgetSql = (n) =>
  `SELECT key, value FROM kv WHERE key IN (${new Array(n).fill("?").join(", ")}) ` +
  "AND (expires_at IS NULL OR expires_at > ?)";

/**
 * A store over `db`: { exec(sql), prepare(sql) → { run(params), first(params),
 * all(params), finalize() }, close() }, where rows are objects keyed by column
 * name. set/get are one statement each in autocommit; mset is one explicit
 * transaction per batch; mget one `key IN (?, …)` query per batch.
 */
export function sqlKvStore(db) {
  db.exec(SCHEMA);
  const upsert = db.prepare(UPSERT);
  const get = db.prepare(GET);
  const mgets = new Map(); // one prepared statement per batch length

  return {
    async set(key, value) {
      const text = JSON.stringify(value);
      upsert.run([key, text, text.length]);
    },
    async get(key) {
      const row = get.first([key, Date.now()]);
      return row === undefined ? undefined : JSON.parse(row.value);
    },
    async mset(entries) {
      db.exec("BEGIN");
      try {
        for (const [key, value] of entries) {
          const text = JSON.stringify(value);
          upsert.run([key, text, text.length]);
        }
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    async mget(keys) {
      let statement = mgets.get(keys.length);
      if (statement === undefined) mgets.set(keys.length, (statement = db.prepare(mgetSql(keys.length))));
      const byKey = new Map();
      for (const row of statement.all([...keys, Date.now()])) byKey.set(row.key, row.value);
      return keys.map((key) => {
        const text = byKey.get(key);
        return text === undefined ? undefined : JSON.parse(text);
      });
    },
    async close() {
      for (const statement of [upsert, get, ...mgets.values()]) statement.finalize();
      db.close();
    },
  };
}
