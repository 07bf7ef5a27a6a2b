// PGlite (PostgreSQL in wasm), on a data directory or in memory, with its
// default settings. The same table and statements as the SQLite engines, in
// PostgreSQL's dialect (BIGINT is SQLite's 64-bit INTEGER). PGlite has no
// prepare API (parameterised queries use the extended protocol) and every
// query is an async round trip, so mset writes a batch with one statement
// over arrays rather than 1,000 awaited queries.
import { PGlite } from "@electric-sql/pglite";

const SCHEMA = "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT, expires_at BIGINT, size INTEGER)";
const UPSERT =
  "INSERT INTO kv (key, value, expires_at, size) VALUES ($1, $2, NULL, $3) " +
  "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, size = excluded.size";
const UPSERT_MANY =
  "INSERT INTO kv (key, value, expires_at, size) " +
  "SELECT key, value, NULL, size FROM unnest($1::text[], $2::text[], $3::int[]) AS batch (key, value, size) " +
  "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, size = excluded.size";
const GET = "SELECT value FROM kv WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)";
const mgetSql = (n) =>
  `SELECT key, value FROM kv WHERE key IN (${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(", ")}) ` +
  `AND (expires_at IS NULL OR expires_at > $${n + 1})`;

export async function open({ file }) {
  const pg = new PGlite(file); // undefined: in memory
  await pg.exec(SCHEMA);
  return {
    async set(key, value) {
      const text = JSON.stringify(value);
      await pg.query(UPSERT, [key, text, text.length]);
    },
    async get(key) {
      const { rows } = await pg.query(GET, [key, Date.now()]);
      return rows.length === 0 ? undefined : JSON.parse(rows[0].value);
    },
    async mset(entries) {
      const keys = [];
      const texts = [];
      const sizes = [];
      for (const [key, value] of entries) {
        const text = JSON.stringify(value);
        keys.push(key);
        texts.push(text);
        sizes.push(text.length);
      }
      await pg.query(UPSERT_MANY, [keys, texts, sizes]);
    },
    async mget(keys) {
      const { rows } = await pg.query(mgetSql(keys.length), [...keys, Date.now()]);
      const byKey = new Map(rows.map((row) => [row.key, row.value]));
      return keys.map((key) => {
        const text = byKey.get(key);
        return text === undefined ? undefined : JSON.parse(text);
      });
    },
    close: () => pg.close(),
  };
}
