// No bundler: the page's import map names larderdb's browser entry, whose
// wasm and worker load from beside it.
import { openStorage } from "larderdb";
import { runChecks } from "../app.js";

runChecks(openStorage);
