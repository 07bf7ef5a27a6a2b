// larder's browser entry, exactly as a page uses it.
import { openStorage } from "/pkg/browser.js";

export async function open({ path, durability, maxSizeBytes }) {
  const store = await openStorage({ path, durability, maxSizeBytes });
  return {
    set: (key, value) => store.set(key, value),
    get: (key) => store.get(key),
    mset: (entries) => store.mset(entries),
    mget: (keys) => store.mget(keys),
    count: () => store.count(),
    size: () => store.getCurrentCacheSize(),
    close: () => store.dispose(), // a ":temp:" store deletes its OPFS files here
  };
}
