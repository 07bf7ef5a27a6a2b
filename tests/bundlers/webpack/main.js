// webpack 5 follows new URL(…, import.meta.url) and new Worker(new URL(…)):
// larderdb works with no configuration.
import { openStorage } from "larderdb";
import { runChecks } from "../app.js";

runChecks(openStorage);
