/**
 * The stores open in this process (or page, or worker), by database: a
 * second `openStorage` on a database already open here, or still opening,
 * joins that store as another handle instead of opening the file again,
 * provided its store-level options agree with the first's. The database
 * closes when its last handle lets go; an open after that opens it afresh.
 */

import { ownError } from "./errors.js";
import { LOAD_OPTIONS } from "./load-options.js";
import type { StorageOptions } from "./types.js";

/**
 * The options that shape the store itself rather than one handle: every
 * handle on a database must give the same ones. A new store-level option is
 * one more name here.
 */
export const STORE_LEVEL_OPTIONS = [
  "maxSizeBytes",
  "defaultTtlMs",
  "durability",
  "maxBatchSize",
  "maxKeyBytes",
  "maxValueBytes",
  "maxQueueLength",
  "operationTimeoutMs",
  "breaker",
  "retry",
  "clock",
  "fs",
  "slowOperationMs",
  "healthThresholds",
  "trace",
] as const;

/** Paths that always open a fresh store of their own. */
const PRIVATE_PATHS = new Set([":memory:", ":temp:"]);

/** The options that are not store-level: `path`, which picks the database,
 *  and where larder's files load from, which a store already open ignores. */
const KNOWN_OPTIONS = new Set<string>(["path", ...LOAD_OPTIONS, ...STORE_LEVEL_OPTIONS]);

/** The store-level options of a call, as given: a value, or undefined when omitted. */
type OptionValues = Map<string, unknown>;

/** What a handle holds of a shared store: the store, and how to let go of it. */
export interface Lease<S> {
  store: S;
  /** Gives the handle back; the last one calls `close`. */
  release(close: () => Promise<void>): Promise<void>;
}

interface Entry<S> {
  path: string;
  options: OptionValues;
  /** The store, once open; every handle joining meanwhile waits for it. */
  store: Promise<S>;
  /** Handles given out or promised (joined while the store was opening). */
  handles: number;
}

/** A private store's lease: it is its store's only handle. */
const privateLease = <S>(store: S): Lease<S> => ({ store, release: (close) => close() });

export class OpenStores<S> {
  /** Turns a `path` into the key of its database: paths naming the same
   *  database have the same key. */
  readonly #databaseKey: (path: string) => string;
  readonly #open = new Map<string, Entry<S>>();

  constructor(databaseKey: (path: string) => string) {
    this.#databaseKey = databaseKey;
  }

  /**
   * A lease on the store `options` name: the one open here, or a new one
   * from `open`. `open` also serves every call that cannot be shared, so
   * that the core judges it: a private store, options that cannot be read,
   * or an option the core will refuse by name.
   */
  async lease(options: StorageOptions | undefined, open: () => Promise<S>): Promise<Lease<S>> {
    const request = shareable(options);
    if (request === undefined || PRIVATE_PATHS.has(request.path)) return privateLease(await open());
    const key = this.#databaseKey(request.path);
    const entry = this.#open.get(key) ?? this.#start(key, request, open);
    const disagreement = differences(entry, request);
    if (disagreement !== undefined) throw ownError("INVALID_ARGUMENT", disagreement);
    entry.handles += 1;
    try {
      return { store: await entry.store, release: (close) => this.#release(key, entry, close) };
    } catch (error) {
      entry.handles -= 1;
      throw error;
    }
  }

  /** Opens the store of `key`, for the handles that join it. */
  #start(key: string, request: { path: string; options: OptionValues }, open: () => Promise<S>): Entry<S> {
    const entry: Entry<S> = { ...request, store: open(), handles: 0 };
    this.#open.set(key, entry);
    // A failed open is every joined caller's answer; the next call starts over.
    entry.store.catch(() => this.#forget(key, entry));
    return entry;
  }

  #release(key: string, entry: Entry<S>, close: () => Promise<void>): Promise<void> {
    entry.handles -= 1;
    if (entry.handles > 0) return Promise.resolve();
    this.#forget(key, entry);
    return close();
  }

  #forget(key: string, entry: Entry<S>): void {
    if (this.#open.get(key) === entry) this.#open.delete(key);
  }
}

/**
 * `options`' path and store-level options, if the call can join a store:
 * a string path, every option readable, and no option outside the known
 * ones (the core names an unknown option better than a mismatch would).
 */
function shareable(options: StorageOptions | undefined): { path: string; options: OptionValues } | undefined {
  try {
    if (options === null || typeof options !== "object") return undefined;
    const path = options.path;
    if (typeof path !== "string" || Object.keys(options).some((name) => !KNOWN_OPTIONS.has(name))) return undefined;
    const values: OptionValues = new Map();
    for (const name of STORE_LEVEL_OPTIONS) values.set(name, comparable(options[name]));
    return { path, options: values };
  } catch {
    return undefined;
  }
}

/** A nested option object (`breaker`, `retry`, `healthThresholds` and its
 *  checks) as its given fields, so two objects with the same fields agree;
 *  any other value as it is. */
function comparable(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const fields = Object.entries(value)
    .filter(([, field]) => field !== undefined)
    .map(([name, field]): [string, unknown] => [name, comparable(field)]);
  return new NestedOption(fields.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A plain option object's fields, sorted by name. */
class NestedOption {
  constructor(readonly fields: Array<[string, unknown]>) {}

  equals(other: unknown): boolean {
    return (
      other instanceof NestedOption &&
      other.fields.length === this.fields.length &&
      this.fields.every(([name, value], i) => other.fields[i][0] === name && agree(value, other.fields[i][1]))
    );
  }

  toString(): string {
    return `{ ${this.fields.map(([name, value]) => `${name}: ${describe(value)}`).join(", ")} }`;
  }
}

const agree = (a: unknown, b: unknown): boolean => (a instanceof NestedOption ? a.equals(b) : Object.is(a, b));

/** How a value reads in a message. Functions and objects are compared by
 *  identity, so the one a call asks for is "another" one. */
function describe(value: unknown, asked = false): string {
  if (value === undefined) return "(not given)";
  if (value instanceof NestedOption) return String(value);
  const kind = typeof value === "function" ? "function" : typeof value === "object" && value !== null ? "object" : "";
  if (kind !== "") return asked ? `(another ${kind})` : `(${kind === "object" ? "an" : "a"} ${kind})`;
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** The message naming every store-level option on which `request` and the
 *  open store disagree, or undefined if they agree. */
function differences(entry: Entry<unknown>, request: { path: string; options: OptionValues }): string | undefined {
  const names = STORE_LEVEL_OPTIONS.filter((name) => !agree(entry.options.get(name), request.options.get(name)));
  if (names.length === 0) return undefined;
  const list = (options: OptionValues, asked: boolean) =>
    names.map((name) => `${name} ${describe(options.get(name), asked)}`).join(", ");
  return (
    `path ${JSON.stringify(request.path)} is already open in this process (as ${JSON.stringify(entry.path)}) ` +
    `with ${list(entry.options, false)}; this call asks for ${list(request.options, true)}. ` +
    "Every openStorage on an open path must give the same store-level options"
  );
}
