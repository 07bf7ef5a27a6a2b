// idb-keyval on its own database, deleted on close.
import { createStore, get, getMany, set, setMany } from "idb-keyval";

export async function open() {
  const name = `bench-idb-keyval-${crypto.randomUUID()}`;
  const store = createStore(name, "kv");
  return {
    set: (key, value) => set(key, value, store),
    get: (key) => get(key, store),
    mset: (entries) => setMany(entries, store),
    mget: (keys) => getMany(keys, store),
    async close() {
      // idb-keyval keeps its connection open; close it so the delete is not blocked.
      (await store("readonly", (objectStore) => objectStore.transaction.db)).close();
      await new Promise((resolve, reject) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = resolve;
        request.onerror = () => reject(request.error);
      });
    },
  };
}
