/** The functions of the `fs` option that larder calls, all synchronous: the
 *  one list of them. The Node facade binds these (js/node.ts) and hands the
 *  list to the core with its host; the core refuses an `fs` that lacks one,
 *  naming it (src/vfs/node_host.rs); the tests read the list from here. */

import type { FileSystem } from "./types.js";

/** Keyed by `FileSystem`, the option's public type, so that the compiler
 *  refuses a function left out of it or one it does not declare. */
const FUNCTIONS: { readonly [name in keyof FileSystem]: true } = {
  openSync: true,
  closeSync: true,
  readSync: true,
  writeSync: true,
  fsyncSync: true,
  ftruncateSync: true,
  fstatSync: true,
  statSync: true,
  unlinkSync: true,
  readFileSync: true,
  mkdirSync: true,
};

export const FS_FUNCTION_NAMES = Object.freeze(Object.keys(FUNCTIONS) as (keyof FileSystem)[]);
