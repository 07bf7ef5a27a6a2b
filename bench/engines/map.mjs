// The floor: a Map of JSON text behind the same async API. Every engine pays
// at least this (JSON encoding, decoding and a promise per call).
export async function open() {
  const map = new Map();
  const decode = (text) => (text === undefined ? undefined : JSON.parse(text));
  return {
    async set(key, value) {
      map.set(key, JSON.stringify(value));
    },
    async get(key) {
      return decode(map.get(key));
    },
    async mset(entries) {
      for (const [key, value] of entries) map.set(key, JSON.stringify(value));
    },
    async mget(keys) {
      return keys.map((key) => decode(map.get(key)));
    },
    async close() {},
  };
}
