// The package as a user gets it: pkg/ packed with npm into a tarball,
// installed from that file alone into a fresh project, and the README's
// quick starts run there exactly as PACKAGE.md (the package's README) has
// them, so the README cannot drift from what works. Each snippet's
// `console.log(...); // output` comments are what it must print.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const readme = readFileSync(path.join(root, "PACKAGE.md"), "utf8");

/** The first ```lang code block after the heading `heading` in `markdown`. */
function codeBlock(markdown, heading, lang) {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `PACKAGE.md has no heading "${heading}"`);
  const open = markdown.indexOf(`\n\`\`\`${lang}\n`, start);
  assert.notEqual(open, -1, `PACKAGE.md has no ${lang} block after "${heading}"`);
  const body = open + lang.length + 5;
  return markdown.slice(body, markdown.indexOf("\n```\n", body) + 1);
}

/** What `snippet` says it prints: the comment after each console.log line. */
function promisedOutput(snippet) {
  return snippet
    .split("\n")
    .filter((line) => line.trim().startsWith("console.log("))
    .map((line) => {
      const comment = line.indexOf("; // ");
      assert.notEqual(comment, -1, `a console.log line without its output: ${line}`);
      return line.slice(comment + 5);
    });
}

const snippets = {
  esm: codeBlock(readme, "## Start in Node", "js"),
  cjs: codeBlock(readme, "## CommonJS", "js"),
  typescript: codeBlock(readme, "## TypeScript", "ts"),
  awaitUsing: codeBlock(readme, "### `await using`", "ts"),
};

/** The repository's tsc run in the installed project on `args`:
 *  strict, skipLibCheck off, Node types only (no DOM lib). */
function tsc(...args) {
  return run(path.join(root, "node_modules/.bin/tsc"), [
    ...["--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--strict", "--skipLibCheck", "false"],
    ...["--lib", "ES2022", "--types", "node", "--typeRoots", path.join(root, "node_modules/@types")],
    ...args,
  ], { cwd: project });
}

let project;
test.before(async () => {
  project = mkdtempSync(path.join(tmpdir(), "larder-install-"));
  const [{ filename }] = JSON.parse((await run("npm", ["pack", path.join(root, "pkg"), "--json", "--pack-destination", project])).stdout);
  await run("npm", ["init", "-y"], { cwd: project });
  // --offline: everything comes from the tarball (the package has no dependencies).
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", path.join(project, filename)], { cwd: project });
});
test.after(() => rmSync(project, { recursive: true, force: true }));

/** Runs `source` as `file` in the installed project; its stdout lines. */
async function runInProject(file, source) {
  writeFileSync(path.join(project, file), source);
  const { stdout, stderr } = await run(process.execPath, [file], { cwd: project });
  for (const line of stdout.trimEnd().split("\n")) console.log(`  ${file}: ${line}`);
  assert.equal(stderr, "");
  return stdout.trimEnd().split("\n");
}

test("the installed package carries the users' README and the licence, and no sources", () => {
  const installed = path.join(project, "node_modules/larderdb");
  assert.equal(readFileSync(path.join(installed, "README.md"), "utf8"), readme);
  assert.match(readFileSync(path.join(installed, "LICENSE"), "utf8"), /^MIT License\n\nCopyright \(c\) 2026 the larder authors\n/);
  const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
  assert.equal(manifest.name, "larderdb");
  const files = readdirSync(installed, { recursive: true });
  assert.ok(files.includes(path.join("wasm", "larder_bg.wasm")));
  assert.deepEqual(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts")), []);
});

test("the README's Node quick start (ES module) prints what it says", async () => {
  assert.deepEqual(await runInProject("quick-start.mjs", snippets.esm), promisedOutput(snippets.esm));
});

test("the README's CommonJS start prints what it says", async () => {
  assert.deepEqual(await runInProject("quick-start.cjs", snippets.cjs), promisedOutput(snippets.cjs));
});

test("the README's TypeScript example type-checks against the installed package", async () => {
  writeFileSync(path.join(project, "typed.mts"), snippets.typescript);
  await tsc("--noEmit", "typed.mts");
});

test("the README's `await using`, compiled by TypeScript to ES2022, runs on this Node and disposes", async () => {
  writeFileSync(path.join(project, "await-using.mts"), snippets.awaitUsing);
  await tsc("await-using.mts");
  const compiled = readFileSync(path.join(project, "await-using.mjs"), "utf8");
  // TypeScript's rewrite of `await using`, which Node 20 cannot parse.
  assert.match(compiled, /__addDisposableResource/);
  assert.deepEqual(await runInProject("await-using.mjs", compiled), promisedOutput(snippets.awaitUsing));
});
