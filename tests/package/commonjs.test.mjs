// require("larderdb") from a CommonJS module, in a child process, on this
// Node; and this Node is one `engines` admits, so passing here means
// something for every Node the package claims.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const here = path.dirname(new URL(import.meta.url).pathname);
const manifest = JSON.parse(readFileSync(path.join(here, "../../pkg/package.json"), "utf8"));

/** `version` (like "v20.19.0") against a range of the one form `engines` uses, ">=major.minor". */
function satisfies(version, range) {
  const floor = /^>=(\d+)\.(\d+)$/.exec(range);
  assert.ok(floor, `engines.node is ${range}: this test reads only the form >=major.minor`);
  const [major, minor] = version.slice(1).split(".").map(Number);
  return major > Number(floor[1]) || (major === Number(floor[1]) && minor >= Number(floor[2]));
}

test("this Node is one the package's engines admit", () => {
  assert.ok(satisfies(process.version, manifest.engines.node), `${process.version} vs ${manifest.engines.node}`);
  assert.equal(satisfies("v20.18.3", manifest.engines.node), false, "engines must leave out Node without require(esm)");
});

test("a CommonJS module requires the package, opens a file store, writes, reads and disposes", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "larder-cjs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(here, "require-store.cjs"), dir]);
  assert.deepEqual(JSON.parse(stdout), {
    value: { name: "Ada", roles: ["admin"] },
    count: 1,
    disposed: true,
    afterDispose: "DISPOSED",
  });
  // No warning either: require() of the package is not experimental on this Node.
  assert.equal(stderr, "");
});
