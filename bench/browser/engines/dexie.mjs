// Dexie on its own database, deleted on close.
import Dexie from "dexie";

export async function open() {
  const db = new Dexie(`bench-dexie-${crypto.randomUUID()}`);
  db.version(1).stores({ kv: "key" });
  await db.open();
  return {
    set: (key, value) => db.kv.put({ key, value }),
    get: async (key) => (await db.kv.get(key))?.value,
    mset: (entries) => db.kv.bulkPut(entries.map(([key, value]) => ({ key, value }))),
    mget: async (keys) => (await db.kv.bulkGet(keys)).map((row) => row?.value),
    close: () => db.delete(),
  };
}
