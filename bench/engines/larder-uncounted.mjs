// larder as larder.mjs runs it, from the copy of the package that counts
// nothing (lib/uncounted-package.mjs, made by the runner before any row
// runs): what the metrics cost is the difference.
import { openStorage } from "../../target/pkg-uncounted/node.js";
import { larderOpener } from "../lib/larder-api.mjs";

export const open = larderOpener(openStorage);
