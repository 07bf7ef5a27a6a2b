/**
 * What the tests import from inside the package, besides its public
 * entries. The package's modules are bundled (scripts/build.mjs), so an
 * internal module is not a file of its own: this entry of the same build
 * shares their code with the public entries (one `StorageError` class, one
 * registry of store metrics). Not exported by package.json.
 */

export { ownError } from "./errors.js";
export { FS_FUNCTION_NAMES } from "./fs-functions.js";
export { assessHealth } from "./health.js";
export { LOAD_OPTIONS } from "./load-options.js";
export { STORE_LEVEL_OPTIONS } from "./open-stores.js";
export { RemoteStore } from "./remote.js";
export { metricsOf, storageOpener } from "./storage.js";
export { MAX_DEPTH, isPlainObject } from "./values.js";
