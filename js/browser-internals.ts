/**
 * What the browser tests import from inside the package: `internals.ts`'s
 * counterpart for the browser entry, whose code it reaches whole for the
 * same reason. Left out of the npm package.
 */

import "./browser.js";

export { RemoteStore } from "./remote.js";
export { storageOpener } from "./storage.js";
