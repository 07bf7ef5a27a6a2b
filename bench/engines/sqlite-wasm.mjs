// @sqlite.org/sqlite-wasm (the official SQLite wasm build). In Node only
// ":memory:": its persistent VFSes (OPFS) exist only in browsers.
import sqlite3InitModule from "@sqlite.org/sqlite-wasm";
import { oo1Database } from "./sqlite-oo1.mjs";
import { sqlKvStore } from "./sql-kv.mjs";

export async function open() {
  const sqlite3 = await sqlite3InitModule();
  return sqlKvStore(oo1Database(new sqlite3.oo1.DB(":memory:")));
}
