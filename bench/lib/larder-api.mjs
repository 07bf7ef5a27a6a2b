// larder through its public API, exactly as a user calls it, given the
// package's `openStorage` (the built package, or its uncounted copy).

export function larderOpener(openStorage) {
  return async ({ file, durability, maxSizeBytes }) => {
    const store = await openStorage({ path: file ?? ":memory:", durability, maxSizeBytes });
    return {
      set: (key, value) => store.set(key, value),
      get: (key) => store.get(key),
      mset: (entries) => store.mset(entries),
      mget: (keys) => store.mget(keys),
      count: () => store.count(),
      size: () => store.getCurrentCacheSize(),
      close: () => store.dispose(),
    };
  };
}
