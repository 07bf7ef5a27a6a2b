/**
 * What the core accepts of a JS value, for the checks the facade makes ahead
 * of it (the JSON fast path, what may cross to a worker): the nesting limit
 * and what a plain object is, as src/codec.rs decides them, and the words the
 * core describes values with. tests/js/limits.test.mjs holds the limit and
 * the plain-object rule equal to the core's.
 */

/** How deeply arrays and objects may nest in a value (codec::MAX_DEPTH). */
export const MAX_DEPTH = 128;

/** Whether an array or object at `depth` (the value itself is at 0) nests too deeply to be stored. */
export const nestsTooDeep = (depth: number): boolean => depth >= MAX_DEPTH;

/** A plain object: `{}` or `Object.create(null)`, from this realm or another. */
export function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) return true;
  // Object.prototype of another realm (a vm context, an iframe).
  return Object.getPrototypeOf(prototype) === null && constructorName(value) === "Object";
}

/** The name of `value`'s class, for messages. */
export function constructorName(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? name : "an anonymous class";
}

/** What kind of value `value` is, for messages ("a string", "null", "an array"). */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (isArray(value)) return "an array";
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "boolean":
      return "a boolean";
    case "number":
      return "a number";
    case "string":
      return "a string";
    case "bigint":
      return "a BigInt";
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      return "an object";
  }
}

/** Array.isArray, false where it throws (a revoked Proxy). */
function isArray(value: unknown): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}
