/**
 * What the Node tests import from inside the package, besides its public
 * entries. The facade is bundled (scripts/build.mjs), so an internal module
 * is not a file of its own: this entry of the same build shares the Node
 * entry's code (one `StorageError` class, one registry of store metrics).
 * It imports the whole Node entry so that it reaches all of that entry's
 * code, not a part of it that the bundler would then split into a chunk of
 * its own. Left out of the npm package.
 */

import "./node.js";

export { ownError } from "./errors.js";
export { FS_FUNCTION_NAMES } from "./fs-functions.js";
export { assessHealth } from "./health.js";
export { LOAD_OPTIONS } from "./load-options.js";
export { STORE_LEVEL_OPTIONS } from "./open-stores.js";
export { metricsOf } from "./storage.js";
export { MAX_DEPTH, isPlainObject } from "./values.js";
