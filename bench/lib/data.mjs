// Seeded test data, shared by the Node and browser halves: every engine gets
// the same keys, the same values and the same operation sequences.

/** mulberry32: a small, fast seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "cache store entry value record button dashboard react vue svelte layout form input table chart " +
  "modal toast avatar badge card dialog drawer menu popover select slider switch tabs tooltip sheet"
).split(" ");
const VALUE_BYTES = 1000;

/** A JSON object of about 1 KB (JSON text between 1000 and ~1010 bytes, ASCII). */
function makeValue(random, id) {
  const word = () => WORDS[Math.floor(random() * WORDS.length)];
  const value = {
    id,
    kind: word(),
    name: `${word()}-${word()}-${id}`,
    tags: [word(), word(), word(), word()],
    score: Math.round(random() * 1e6) / 100,
    active: random() < 0.5,
    createdAt: 1_700_000_000_000 + Math.floor(random() * 1e10),
    owner: { id: Math.floor(random() * 1e6), name: `${word()} ${word()}` },
    files: [`${word()}.tsx`, `${word()}.css`, `${word()}.test.ts`],
    description: "",
  };
  while (JSON.stringify(value).length < VALUE_BYTES) value.description += `${word()} `;
  return value;
}

/** Values are drawn from a pool rather than made per entry, so that holding
 *  100,000 of them does not dominate the peak RSS being measured. */
export const VALUE_POOL_SIZE = 1000;

export function makeValuePool(seed = 1) {
  const random = seededRandom(seed);
  return Array.from({ length: VALUE_POOL_SIZE }, (_, id) => makeValue(random, id));
}

/** Fixed-width keys such as "w1:000042", so every key has the same length. */
export function makeKeys(prefix, count) {
  return Array.from({ length: count }, (_, i) => `${prefix}:${String(i).padStart(6, "0")}`);
}

/** The integers 0..n-1 in a seeded random order (Fisher–Yates). */
export function shuffledIndices(n, seed) {
  const random = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** `count` operations over `keyCount` keys: a Zipf (s = 1) choice of key, so a
 *  few keys are hot, and a set with probability `setShare`, else a get. */
export function mixedOperations(count, keyCount, setShare, seed) {
  const random = seededRandom(seed);
  const cumulative = new Float64Array(keyCount);
  let total = 0;
  for (let rank = 0; rank < keyCount; rank += 1) cumulative[rank] = total += 1 / (rank + 1);
  // Ranks are mapped through a shuffle so the hot keys are not the first ones written.
  const keyOfRank = shuffledIndices(keyCount, seed + 1);
  const operations = [];
  for (let i = 0; i < count; i += 1) {
    const target = random() * total;
    let low = 0;
    let high = keyCount - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle] < target) low = middle + 1;
      else high = middle;
    }
    operations.push({ isSet: random() < setShare, key: keyOfRank[low] });
  }
  return operations;
}
