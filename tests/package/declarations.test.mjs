// Which of the package's declaration files a user's project reaches from
// each entry: only the public ones, so no wasm-bindgen glue, worker or DOM
// types ever reach a Node project (tests/types/ compiles them; this pins
// what they are).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** The files of pkg/ in the program of the type-test project `name`. */
async function packageFilesOf(name) {
  const { stdout } = await promisify(execFile)(path.join(root, "node_modules/.bin/tsc"), [
    "-p",
    path.join(root, `tests/types/tsconfig.${name}.json`),
    "--listFilesOnly",
  ]);
  const pkg = `${path.join(root, "pkg")}${path.sep}`;
  return stdout
    .split("\n")
    .filter((file) => file.startsWith(pkg))
    .map((file) => file.slice(pkg.length))
    .sort();
}

const shared = ["errors.d.ts", "storage.d.ts", "types.d.ts"];

test("the Node entry's types reach only the public declarations", async () => {
  assert.deepEqual(await packageFilesOf("node16"), ["node.d.ts", ...shared].sort());
  assert.deepEqual(await packageFilesOf("nodenext-cjs"), ["node.d.ts", ...shared].sort());
});

test("the browser entry's types reach only the public declarations", async () => {
  assert.deepEqual(await packageFilesOf("bundler-browser"), ["browser.d.ts", ...shared].sort());
});
