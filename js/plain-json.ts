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
