/**
 * larderdb/keyv: a keyv storage adapter over a larder store (Node).
 *
 * keyv hands the adapter keys already prefixed `namespace:key` and tells it
 * the namespace through the `namespace` property; the adapter strips the
 * prefix and keeps the key in that larder namespace (its own column), so a
 * keyv namespace is a larder namespace and nothing is prefixed twice. Values
 * are stored exactly as keyv serialized them (a string, unless keyv's
 * `serialize` is turned off), because custom serializers (BigInt, compression)
 * write text that would not survive a JSON round trip. TTLs are larder TTLs,
 * enforced by the store itself. keyv itself is never imported: it is the
 * application's dependency, and the contract is only a shape.
 */

import { EventEmitter } from "node:events";
import { ownError } from "./errors.js";
import { openStorage } from "./node.js";
import { Storage, type StorageNamespace } from "./storage.js";
import type { SetOptions, StorageOptions, StorageValue } from "./types.js";

const URI_SCHEME = "larder://";
/** larder's own default for `maxBatchSize`. */
const DEFAULT_MAX_BATCH_SIZE = 10_000;
/** Keys read per page by `iterator()`. */
const ITERATION_PAGE = 100;

/** Options of the adapter itself, beside the store's. */
export interface KeyvLarderAdapterOptions {
  /** Rethrow a failure after emitting `error` (default false: a failure is
   *  emitted and the call answers a miss, `false` or nothing, as keyv's
   *  adapters do). */
  throwOnErrors?: boolean;
  /** The store's `maxBatchSize`, when the adapter is given a store opened
   *  with one other than larder's default (batches are split to fit it). */
  maxBatchSize?: number;
}

/** `openStorage` options for a store the adapter opens and owns. */
export type KeyvLarderOptions = StorageOptions & Omit<KeyvLarderAdapterOptions, "maxBatchSize">;

/** One entry of keyv's `setMany`. */
export interface KeyvEntry {
  key: string;
  value: StorageValue;
  ttl?: number;
}

/** The larder TTL for keyv's `ttl`: a positive number of milliseconds, or
 *  none (then the store's `defaultTtlMs`, if any) for 0, negatives, undefined. */
function ttlOptions(ttl: number | undefined): SetOptions | undefined {
  return typeof ttl === "number" && ttl > 0 ? { ttlMs: ttl } : undefined;
}

/** [start, end) of each run of consecutive entries with the same larder TTL,
 *  at most `size` long. */
function sameTtlBatches(entries: readonly KeyvEntry[], size: number): Array<[number, number]> {
  const ttlMs = (index: number) => ttlOptions(entries[index].ttl)?.ttlMs;
  const batches: Array<[number, number]> = [];
  for (let start = 0, end = 1; start < entries.length; start = end++) {
    while (end < entries.length && end - start < size && ttlMs(end) === ttlMs(start)) end++;
    batches.push([start, end]);
  }
  return batches;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

function checkMaxBatchSize(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_BATCH_SIZE;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw ownError("INVALID_ARGUMENT", "maxBatchSize must be a positive integer");
  }
  return value;
}

function checkThrowOnErrors(value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean") {
    throw ownError("INVALID_ARGUMENT", "throwOnErrors must be a boolean");
  }
  return value ?? false;
}

/**
 * A keyv storage adapter: `new KeyvLarder({ path, ...openStorageOptions })`,
 * `new KeyvLarder("larder://./data/cache.sqlite")` (or a bare path) opens a
 * store that `disconnect()` disposes; `new KeyvLarder(store)` uses a store you
 * opened, which stays yours to dispose.
 */
export class KeyvLarder extends EventEmitter {
  /** Set by keyv: the namespace of the keys it passes (`undefined`: none). */
  namespace?: string;
  /** keyv reads `dialect` to decide that the adapter can iterate. */
  readonly opts: { dialect: "sqlite"; url?: string };
  throwOnErrors: boolean;
  readonly #store: Promise<Storage>;
  readonly #owned: boolean;
  readonly #maxBatchSize: number;

  constructor(source?: string | Storage | KeyvLarderOptions, adapterOptions?: KeyvLarderAdapterOptions) {
    super();
    if (source instanceof Storage) {
      this.#owned = false;
      this.#store = Promise.resolve(source);
      this.#maxBatchSize = checkMaxBatchSize(adapterOptions?.maxBatchSize);
      this.throwOnErrors = checkThrowOnErrors(adapterOptions?.throwOnErrors);
      this.opts = { dialect: "sqlite" };
      return;
    }
    if (adapterOptions !== undefined) {
      throw ownError("INVALID_ARGUMENT", "KeyvLarder's second argument goes with a store; give throwOnErrors in the options object");
    }
    if (source !== undefined && typeof source !== "string" && (typeof source !== "object" || source === null)) {
      throw ownError("INVALID_ARGUMENT", "KeyvLarder takes a larder store, a path or larder:// URI, or openStorage options");
    }
    const { throwOnErrors, ...storeOptions } = typeof source === "string" ? { path: source } : (source ?? {});
    // Anything but a string is left for openStorage to refuse, naming `path`.
    const given = storeOptions.path;
    const path = typeof given === "string" && given.startsWith(URI_SCHEME) ? given.slice(URI_SCHEME.length) : given;
    this.throwOnErrors = checkThrowOnErrors(throwOnErrors);
    this.#owned = true;
    this.#store = openStorage({ ...storeOptions, path });
    // Each call reports a failed open through the error event; until one
    // does, the rejection is not unhandled.
    this.#store.catch(() => {});
    this.#maxBatchSize = storeOptions.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    this.opts = { dialect: "sqlite", url: URI_SCHEME + (path ?? ":memory:") };
  }

  // `Value` is the caller's word for what is stored (keyv's own signatures).
  get<Value = StorageValue>(key: string): Promise<Value | undefined> {
    return this.#attempt(undefined, (view, local) => view.get(local(key)) as Promise<Value | undefined>);
  }

  getMany<Value = StorageValue>(keys: string[]): Promise<Array<Value | undefined>> {
    return this.#attempt(
      keys.map(() => undefined),
      async (view, local) => {
        const values: Array<Value | undefined> = [];
        for (const chunk of chunks(keys.map(local), this.#maxBatchSize)) {
          values.push(...((await view.mget(chunk)) as Array<Value | undefined>));
        }
        return values;
      },
    );
  }

  has(key: string): Promise<boolean> {
    return this.#attempt(false, (view, local) => view.has(local(key)));
  }

  set(key: string, value: StorageValue, ttl?: number): Promise<boolean> {
    return this.#attempt(false, async (view, local) => {
      await view.set(local(key), value, ttlOptions(ttl));
      return true;
    });
  }

  /** Writes runs of consecutive entries with the same TTL as `mset`s of at
   *  most `maxBatchSize`; each answer says whether its entry was written. */
  async setMany(entries: KeyvEntry[]): Promise<boolean[]> {
    const written = entries.map(() => false);
    await this.#attempt(undefined, async (view, local) => {
      for (const [start, end] of sameTtlBatches(entries, this.#maxBatchSize)) {
        const batch = entries.slice(start, end).map(({ key, value }) => [local(key), value] as const);
        await view.mset(batch, ttlOptions(entries[start].ttl));
        written.fill(true, start, end);
      }
    });
    return written;
  }

  delete(key: string): Promise<boolean> {
    return this.#attempt(false, (view, local) => view.delete(local(key)));
  }

  /** True when any of the keys was deleted. */
  deleteMany(keys: string[]): Promise<boolean> {
    return this.#attempt(false, async (view, local) => {
      let deleted = 0;
      for (const chunk of chunks(keys.map(local), this.#maxBatchSize)) deleted += await view.mdelete(chunk);
      return deleted > 0;
    });
  }

  /** Clears this adapter's namespace only; without one, larder's default
   *  namespace (the root store's own keys), leaving every named one. */
  clear(): Promise<void> {
    return this.#attempt(undefined, async (view) => {
      await (view instanceof Storage ? view.invalidate({ prefix: "" }) : view.clear());
    });
  }

  /** Every live `[key, value]` of `namespace`, in key order, a page at a
   *  time; keys come back prefixed as keyv expects. */
  async *iterator<Value = StorageValue>(namespace?: string): AsyncGenerator<[string, Awaited<Value>], void> {
    try {
      const view = await this.#view(namespace);
      const page = Math.min(ITERATION_PAGE, this.#maxBatchSize);
      for (let after: string | undefined; ; ) {
        const keys = await view.keys({ after, limit: page });
        if (keys.length === 0) return;
        const values = await view.mget(keys);
        for (const [index, key] of keys.entries()) {
          const value = values[index] as Awaited<Value> | undefined;
          if (value !== undefined) yield [namespace ? `${namespace}:${key}` : key, value];
        }
        after = keys[keys.length - 1];
      }
    } catch (error) {
      this.#report(error);
    }
  }

  /** Disposes the store if the adapter opened it; a store it was given is
   *  left open for its owner. */
  async disconnect(): Promise<void> {
    if (!this.#owned) return;
    // A store that never opened has nothing to close (its error was reported).
    const store = await this.#store.catch(() => undefined);
    await store?.dispose();
  }

  async #view(namespace: string | undefined): Promise<StorageNamespace> {
    const store = await this.#store;
    return namespace ? store.namespace(namespace) : store;
  }

  /**
   * Runs `run` on the view of the adapter's namespace as it is at the call,
   * with `local` turning keyv's `namespace:key` into the key within it. A
   * failure is emitted as `error`, then answered with `fallback` (or
   * rethrown with `throwOnErrors`, or when nobody listens for `error`).
   */
  async #attempt<T>(fallback: T, run: (view: StorageNamespace, local: (key: string) => string) => Promise<T>): Promise<T> {
    const namespace = this.namespace;
    const prefix = `${namespace}:`;
    const local = (key: string) => (namespace && key.startsWith(prefix) ? key.slice(prefix.length) : key);
    try {
      return await run(await this.#view(namespace), local);
    } catch (error) {
      this.#report(error);
      return fallback;
    }
  }

  #report(error: unknown): void {
    this.emit("error", error);
    if (this.throwOnErrors) throw error;
  }
}
