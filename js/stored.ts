/**
 * Values as they cross back from the core: a JSON value as its stored text,
 * which one `JSON.parse` here turns into a fresh copy (the core building it
 * would cross the wasm boundary per property), bytes as a fresh Uint8Array.
 * See src/codec.rs `stored_form` and `stored_batch`.
 */

import { ownError } from "./errors.js";
import type { StorageValue } from "./types.js";

/** A stored value: JSON text, or bytes. */
export type StoredValue = string | Uint8Array;

/**
 * The values of an `mget` as one flat batch: `kinds[i]` is 0 (missing),
 * 1 or 3 (JSON: its text is `text` from the previous JSON value's end up to
 * `ends[i]`; 3 if its entry expires, at the next of `expiries`) or 2 (bytes:
 * the next of `bytes`).
 */
export type StoredBatch = [text: string, ends: Uint32Array, kinds: Uint8Array, bytes: Uint8Array[], expiries: Float64Array];

const MISSING = 0;
const JSON_TEXT = 1;
const EXPIRING_JSON_TEXT = 3;

const isJson = (kind: number): boolean => kind === JSON_TEXT || kind === EXPIRING_JSON_TEXT;

/** The value a stored form holds (undefined for a missing one). */
export function fromStored<T extends StoredValue | undefined>(stored: T): T extends StoredValue ? StorageValue : undefined;
export function fromStored(stored: StoredValue | undefined): StorageValue | undefined {
  return typeof stored === "string" ? parse(stored) : stored;
}

/** The values of an `mget`'s batch, in the order of its keys. */
export function fromStoredBatch([text, ends, kinds, bytes]: StoredBatch): Array<StorageValue | undefined> {
  const values: Array<StorageValue | undefined> = [];
  let start = 0;
  let nextBytes = 0;
  for (let index = 0; index < kinds.length; index += 1) {
    const kind = kinds[index];
    if (isJson(kind)) {
      values.push(parse(text.slice(start, ends[index])));
      start = ends[index];
    } else {
      values.push(kind === MISSING ? undefined : bytes[nextBytes++]);
    }
  }
  return values;
}

/** Calls `each` with the index, JSON text and expiry (Infinity: never) of
 *  every JSON value of `batch`, in order. */
export function forEachJsonText(
  [text, ends, kinds, , expiries]: StoredBatch,
  each: (index: number, text: string, expiresAt: number) => void,
): void {
  let start = 0;
  let nextExpiry = 0;
  for (let index = 0; index < kinds.length; index += 1) {
    if (!isJson(kinds[index])) continue;
    const expiresAt = kinds[index] === EXPIRING_JSON_TEXT ? expiries[nextExpiry++] : Infinity;
    each(index, text.slice(start, ends[index]), expiresAt);
    start = ends[index];
  }
}

/** A batch of JSON texts only, as the core would answer it (for the read
 *  cache's answers, which nothing reads the expiries of). */
export function jsonBatch(texts: readonly string[]): StoredBatch {
  const ends = new Uint32Array(texts.length);
  let end = 0;
  texts.forEach((text, index) => (ends[index] = end += text.length));
  return [texts.join(""), ends, new Uint8Array(texts.length).fill(JSON_TEXT), [], new Float64Array(0)];
}

function parse(json: string): StorageValue {
  try {
    return JSON.parse(json) as StorageValue;
  } catch (error) {
    throw ownError("CORRUPT", "a stored value is not valid JSON", { cause: error });
  }
}
