/**
 * The `wasmUrl` and `workerUrl` options: where larder's own files are served,
 * for bundlers that do not copy the files `new URL(…, import.meta.url)` names
 * (esbuild, Rollup). The core accepts their names; their values are checked
 * here, as each entry resolves them (a page against its address, Node as
 * file paths).
 */

import { ownError } from "./errors.js";

export const LOAD_OPTIONS = ["wasmUrl", "workerUrl"] as const;
export type LoadOption = (typeof LOAD_OPTIONS)[number];

/** The options given, resolved by `resolve`; an absent option is undefined. */
export type LoadUrls = Partial<Record<LoadOption, URL>>;

/** Reads and checks the load options: each a string or a URL, else
 *  INVALID_ARGUMENT naming it, then resolved by `resolve` (undefined: not
 *  used here). Options that cannot be read are left for the core to refuse. */
export function loadUrls(
  options: unknown,
  resolve: (name: LoadOption, value: string | URL) => URL | undefined,
): LoadUrls {
  const urls: LoadUrls = {};
  for (const name of LOAD_OPTIONS) {
    const value = readOption(options, name);
    if (value === undefined) continue;
    if (typeof value !== "string" && !(value instanceof URL)) {
      throw ownError("INVALID_ARGUMENT", `option ${name} must be a string or a URL, got ${kindOf(value)}`);
    }
    const url = resolve(name, value);
    if (url) urls[name] = url;
  }
  return urls;
}

/** `value` as a URL relative to `base`; INVALID_ARGUMENT naming `name` if it is not one. */
export function urlOption(name: LoadOption, value: string | URL, base: string): URL {
  try {
    return new URL(value, base);
  } catch {
    throw ownError("INVALID_ARGUMENT", `option ${name} is not a valid URL: ${JSON.stringify(String(value))}`);
  }
}

/** An option's value, or undefined if `options` is not an object or reading
 *  it throws (the core reports that). */
export function readOption(options: unknown, name: string): unknown {
  try {
    return typeof options === "object" && options !== null ? (options as Record<string, unknown>)[name] : undefined;
  } catch {
    return undefined;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "an array" : typeof value;
}
