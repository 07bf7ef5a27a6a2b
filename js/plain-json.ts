/**
 * The fast path of value encoding. Encoding in the core crosses the wasm
 * boundary several times per property; V8's JSON.stringify does not cross at
 * all. A value made only of what the core stores unchanged — plain objects
 * (data properties only) and dense plain arrays of well-formed strings,
 * finite numbers, booleans and null, no cycles, not nested too deeply —
 * gets the exact text the core would write, from JSON.stringify. Anything
 * else (or a value whose reading throws) is left to the core, which encodes
 * it or explains why it cannot be stored.
 */

import { isPlainObject, nestsTooDeep } from "./values.js";

/** JSON text of `value` if it is plainly storable, else undefined. */
export function plainJson(value: unknown): string | undefined {
  try {
    return isPlain(value, [], 0) ? JSON.stringify(value) : undefined;
  } catch {
    return undefined; // a Proxy trap or some such threw: the core explains it
  }
}

function isPlain(value: unknown, ancestors: object[], depth: number): boolean {
  switch (typeof value) {
    case "string":
      return value.isWellFormed();
    case "number":
      return Number.isFinite(value);
    case "boolean":
      return true;
    case "object":
      if (value === null) return true;
      // toJSON (own or inherited) would make JSON.stringify write something else.
      if (nestsTooDeep(depth) || ancestors.includes(value) || "toJSON" in value) return false;
      ancestors.push(value);
      try {
        return Array.isArray(value) ? isPlainArray(value, ancestors, depth) : isPlainRecord(value, ancestors, depth);
      } finally {
        ancestors.pop();
      }
    default:
      return false;
  }
}

function isPlainArray(array: unknown[], ancestors: object[], depth: number): boolean {
  if (Object.getPrototypeOf(array) !== Array.prototype || Object.keys(array).length !== array.length) return false;
  for (let index = 0; index < array.length; index += 1) {
    const slot = Object.getOwnPropertyDescriptor(array, index);
    if (slot === undefined || !("value" in slot) || !isPlain(slot.value, ancestors, depth + 1)) return false;
  }
  return true;
}

/** A plain object of data properties only, each plainly storable. */
function isPlainRecord(object: object, ancestors: object[], depth: number): boolean {
  if (!isPlainObject(object) || Object.getOwnPropertySymbols(object).length > 0) return false;
  for (const name of Object.keys(object)) {
    const property = Object.getOwnPropertyDescriptor(object, name);
    if (!name.isWellFormed() || property === undefined || !("value" in property)) return false;
    if (!isPlain(property.value, ancestors, depth + 1)) return false;
  }
  return true;
}

/** mset's entries made flat: each key then its value's JSON text, joined in
 *  `text`, and their UTF-16 lengths in that order (src/api/convert.rs
 *  `json_entry_list` reads them). */
export interface FlatEntries {
  text: string;
  lengths: Uint32Array;
}

/** mset's entries as flat JSON text if every key is a well-formed string and
 *  every value plainly storable, else undefined (the core reads them one by
 *  one, and explains a refusal). */
export function plainJsonEntries(entries: unknown): FlatEntries | undefined {
  try {
    const pairs = plainPairs(entries);
    if (pairs === undefined) return undefined;
    const parts: string[] = [];
    const lengths = new Uint32Array(pairs.length * 2);
    for (let index = 0; index < pairs.length; index += 1) {
      const [key, value] = pairs[index];
      if (typeof key !== "string" || !key.isWellFormed() || !isPlain(value, [], 0)) return undefined;
      const json = JSON.stringify(value);
      parts.push(key, json);
      lengths[2 * index] = key.length;
      lengths[2 * index + 1] = json.length;
    }
    return { text: parts.join(""), lengths };
  } catch {
    return undefined; // a Proxy trap or some such threw: the core explains it
  }
}

/** The [key, value] pairs of mset's entries in the order the core reads them,
 *  if they are a Map, a dense array of two-element arrays or a plain object,
 *  read without running any getter; else undefined. */
function plainPairs(entries: unknown): Array<[unknown, unknown]> | undefined {
  if (typeof entries !== "object" || entries === null) return undefined;
  const prototype = Object.getPrototypeOf(entries);
  if (prototype === Map.prototype) {
    const pairs: Array<[unknown, unknown]> = [];
    Map.prototype.forEach.call(entries, (value, key) => pairs.push([key, value]));
    return pairs;
  }
  if (prototype === Array.prototype) {
    const array = entries as unknown[];
    if (Object.keys(array).length !== array.length) return undefined;
    const pairs: Array<[unknown, unknown]> = [];
    for (let index = 0; index < array.length; index += 1) {
      const pair = dataValue(array, index);
      if (!Array.isArray(pair) || Object.getPrototypeOf(pair) !== Array.prototype || pair.length !== 2) return undefined;
      pairs.push([dataValue(pair, 0), dataValue(pair, 1)]);
    }
    return pairs;
  }
  if (!isPlainObject(entries)) return undefined;
  return Object.keys(entries).map((key) => [key, dataValue(entries, key)]);
}

/** An own data property's value; throws for an accessor or a missing one. */
function dataValue(object: object, name: string | number): unknown {
  const property = Object.getOwnPropertyDescriptor(object, name);
  if (property === undefined || !("value" in property)) throw new Error("not plain data");
  return property.value;
}
