/**
 * mget's and mdelete's keys made flat, so that they cross into wasm (or to a
 * worker) in one step instead of one per key: every key back to back in
 * `text`, their UTF-16 lengths in `lengths` (src/api/flat.rs `key_list`
 * reads them and checks each key as it would one read from the array). Only
 * an array of well-formed strings is made flat; anything else goes to the
 * core as it is, element by element, and the core explains the refusal.
 */

export interface FlatKeys {
  text: string;
  lengths: Uint32Array;
}

/** Longer arrays, possible only with `maxBatchSize` raised, go to the core as
 *  they are: it checks an array's length before reading any element. */
const MOST_FLAT_KEYS = 10_000;

/** `keys` made flat, each element read once, or undefined. */
export function flatKeys(keys: unknown): FlatKeys | undefined {
  try {
    if (!Array.isArray(keys)) return undefined;
    const count = keys.length;
    if (count > MOST_FLAT_KEYS) return undefined;
    const parts: string[] = [];
    const lengths = new Uint32Array(count);
    for (let index = 0; index < count; index += 1) {
      const key: unknown = keys[index];
      if (typeof key !== "string" || !key.isWellFormed()) return undefined;
      parts.push(key);
      lengths[index] = key.length;
    }
    return { text: parts.join(""), lengths };
  } catch {
    return undefined; // a Proxy trap or a getter threw: the core explains it
  }
}

/** The keys of a flat batch, as an array again: of mget's keys (`stride`
 *  1), or of mset's flat entries (2: each key, then its value's JSON text,
 *  js/plain-json.ts `FlatEntries`). */
export function keysOf(text: string, lengths: Uint32Array, stride = 1): string[] {
  const keys: string[] = [];
  let start = 0;
  for (let index = 0; index < lengths.length; index += stride) {
    keys.push(text.slice(start, start + lengths[index]));
    for (let part = index; part < index + stride; part += 1) start += lengths[part];
  }
  return keys;
}
