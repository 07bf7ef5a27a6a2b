/**
 * What may cross to a store's worker. Arguments cross by structured clone,
 * which changes some values the core would judge differently: these checks
 * refuse such arguments on the calling thread, with the code the core would
 * give, and name the argument when cloning fails outright.
 */

import { describe, ownError, type OwnCode, type StorageError } from "./errors.js";
import { constructorName, isPlainObject, nestsTooDeep } from "./values.js";

/**
 * What an argument is, which decides the code it is refused with, as the core
 * would: a `key` (or namespace) → INVALID_KEY; a `value` → INVALID_VALUE; an
 * `option` bag → INVALID_ARGUMENT; a list of `keys` or mset's `entries` →
 * INVALID_ARGUMENT for the argument itself, else the code of the key or value
 * inside at fault; `flat` data the facade made itself (mset's JSON text and
 * lengths, mget's keys and lengths), which clones as it is.
 */
export type ArgKind = "key" | "keys" | "value" | "entries" | "flat" | "option";
/** An argument and its kind. */
export type Arg = readonly [kind: ArgKind, value: unknown];

/** The name of an argument of each kind, in messages. */
const NAMES: Record<ArgKind, string> = {
  key: "key",
  keys: "keys",
  value: "value",
  entries: "entries",
  flat: "entries",
  option: "options",
};

const isObject = (value: unknown): value is object =>
  (typeof value === "object" && value !== null) || typeof value === "function";

const tag = (value: unknown) => Object.prototype.toString.call(value);
const isUint8Array = (value: unknown) => ArrayBuffer.isView(value) && tag(value) === "[object Uint8Array]";
const isMap = (value: unknown): value is Map<unknown, unknown> => tag(value) === "[object Map]";

/** mset's entries (a Map, [key, value] pairs or a plain object) as labelled
 *  pairs; elements that are not pairs are the core's to refuse. */
function entryPairs(entries: object): Array<[label: string, key: unknown, value: unknown]> {
  const pairs: Array<[string, unknown, unknown]> = [];
  const add = (key: unknown, value: unknown) =>
    pairs.push([`entries[${pairs.length}] (key ${typeof key === "string" ? JSON.stringify(key) : "?"})`, key, value]);
  if (isMap(entries)) {
    Map.prototype.forEach.call(entries, (value, key) => add(key, value));
  } else if (Array.isArray(entries)) {
    for (const pair of entries) Array.isArray(pair) ? add(pair[0], pair[1]) : add(undefined, undefined);
  } else {
    for (const [key, value] of Object.entries(entries)) add(key, value);
  }
  return pairs;
}

/**
 * Why structured cloning would not carry `value` to the worker as it is, or
 * undefined if it would: cloning turns class instances into plain objects and
 * (`symbols`) drops symbol-keyed properties, both of which the core refuses.
 * What cloning keeps (Date, Map, holes, undefined, cycles, too deep a
 * nesting, ...) the core judges itself.
 */
function unfaithful(
  value: unknown,
  label: string,
  symbols: boolean,
  seen = new Set<object>(),
  depth = 0,
): string | undefined {
  if (typeof value !== "object" || value === null || seen.has(value) || nestsTooDeep(depth)) return undefined;
  seen.add(value);
  if (!Array.isArray(value)) {
    if (isUint8Array(value)) return undefined;
    if (!isPlainObject(value)) return `${label} is an instance of ${constructorName(value)}, not a plain object`;
    if (symbols && Object.getOwnPropertySymbols(value).length > 0) {
      return `${label} has symbol-keyed properties, which JSON cannot store`;
    }
  }
  for (const [name, member] of Object.entries(value)) {
    const reason = unfaithful(member, `${label}[${JSON.stringify(name)}]`, symbols, seen, depth + 1);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** Why cloning would not carry mset's `entries` as they are, if it would not:
 *  an object of a class would arrive as a plain object, a value inside as
 *  `unfaithful` says. */
function unfaithfulEntries(entries: object): [OwnCode, string] | undefined {
  if (!isMap(entries) && !Array.isArray(entries) && !isPlainObject(entries)) {
    const reason = `entries is an instance of ${constructorName(entries)}, which cannot be sent to the storage worker as it is`;
    return ["INVALID_ARGUMENT", reason];
  }
  for (const [label, , value] of entryPairs(entries)) {
    const reason = unfaithful(value, `${label}: value`, true);
    if (reason !== undefined) return ["INVALID_VALUE", reason];
  }
  return undefined;
}

/** The refusal of an argument that cloning would change, if any. */
export function refuseUnfaithful([kind, arg]: Arg): StorageError | undefined {
  const refuse = (code: OwnCode, reason: string | undefined) =>
    reason === undefined ? undefined : ownError(code, reason);
  try {
    switch (kind) {
      case "value":
        return refuse("INVALID_VALUE", unfaithful(arg, NAMES.value, true));
      case "option":
        return refuse("INVALID_ARGUMENT", unfaithful(arg, NAMES.option, false));
      case "entries": {
        // Anything but an object does not change (or does not clone at all).
        const refusal = typeof arg === "object" && arg !== null ? unfaithfulEntries(arg) : undefined;
        return refusal && ownError(...refusal);
      }
      default:
        return undefined;
    }
  } catch (thrown) {
    // A getter or a Proxy trap threw while the argument was read.
    const code = kind === "option" ? "INVALID_ARGUMENT" : "INVALID_VALUE";
    return ownError(code, `${NAMES[kind]} threw while being read: ${describe(thrown)}`);
  }
}

/** The refusal of arguments postMessage could not clone (DataCloneError, or
 *  what a getter threw): blames the first argument that does not clone alone. */
export function cloneFailure(args: readonly Arg[], error: unknown): StorageError {
  const [kind, arg] = args.find(([, arg]) => !clones(arg)) ?? args[0] ?? ["option", undefined];
  return ownError(uncloneableCode(kind, arg), `${NAMES[kind]} cannot be sent to the storage worker: ${describe(error)}`);
}

function uncloneableCode(kind: ArgKind, arg: unknown): OwnCode {
  switch (kind) {
    case "key":
      return "INVALID_KEY";
    case "value":
      return "INVALID_VALUE";
    case "keys":
      return Array.isArray(arg) ? "INVALID_KEY" : "INVALID_ARGUMENT";
    case "entries":
      for (const [, key, value] of isObject(arg) ? entryPairs(arg) : []) {
        if (!clones(key)) return "INVALID_KEY";
        if (!clones(value)) return "INVALID_VALUE";
      }
      return "INVALID_ARGUMENT";
    default:
      return "INVALID_ARGUMENT";
  }
}

function clones(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}
