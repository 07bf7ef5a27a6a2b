// What each entry of a built package loads at run time, and how big it is:
// the files reachable from the entry by its relative imports, re-exports,
// dynamic imports and `new URL(…, import.meta.url)` (the worker, the wasm).
// Shared by the size budget of scripts/build.mjs and the benchmark's tables
// (bench/lib/file-sizes.mjs), so both count by one rule.
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

/** Relative module and asset references: `from "./x"` (imports and re-exports), `import "./x"`, `import("./x")`, `new URL("x", import.meta.url)`. */
const REFERENCE =
  /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.\.?\/[^"']+)["']|new URL\(\s*["']((?![a-z]+:|\/)[^"']+)["']\s*,\s*import\.meta\.url\s*\)/g;

/** Every file reachable from `entry` (a file: URL), the entry first. */
export function runtimeFiles(entry) {
  const seen = new Set([entry.href]);
  const queue = [entry];
  for (let i = 0; i < queue.length; i += 1) {
    if (!queue[i].pathname.endsWith(".js")) continue;
    for (const [, module, asset] of readFileSync(queue[i], "utf8").matchAll(REFERENCE)) {
      const url = new URL(module ?? asset, queue[i]);
      if (seen.has(url.href)) continue;
      seen.add(url.href);
      queue.push(url);
    }
  }
  return queue;
}

/** A file's size in bytes, raw and gzipped at level 9. */
export function fileSize(file) {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

/** The JS files an export of package.json maps to, each with the outermost
 * condition that leads to it (types and non-JS targets left out). */
function exportTargets(target, outermost = []) {
  if (typeof target === "string") return target.endsWith(".js") ? [{ file: target.replace(/^\.\//, ""), conditions: outermost }] : [];
  if (target === null || typeof target !== "object") return [];
  return Object.entries(target)
    .filter(([condition]) => condition !== "types")
    .flatMap(([condition, value]) => exportTargets(value, outermost.length > 0 ? outermost : [condition]));
}

/** Distinct files, each with every condition that leads to it. */
function byFile(targets) {
  const files = new Map();
  for (const { file, conditions } of targets) files.set(file, [...(files.get(file) ?? []), ...conditions]);
  return [...files].map(([file, conditions]) => ({ file, conditions: [...new Set(conditions)] }));
}

/** The package's entries and what each loads: [{ name, files: [URL] }].
 * Each file the main export (".") maps to is an entry (the browser module,
 * with the worker it starts; the Node module); a further subpath export is
 * counted together with the main entry of its environment (the browser one
 * under a "browser" condition, else the Node one), since an app loads it
 * beside that. `pkg` is the package's directory as a file: URL ending in "/". */
export function packageEntries(pkg) {
  const { name, exports } = JSON.parse(readFileSync(new URL("package.json", pkg), "utf8"));
  const main = byFile(exportTargets(exports["."]));
  const mainFor = (condition) => main.find(({ conditions }) => conditions.includes(condition));
  const closure = (...files) => [...new Map(files.flatMap((file) => runtimeFiles(new URL(file, pkg))).map((url) => [url.href, url])).values()];
  const entries = main.map(({ file, conditions }) => ({ name: `${name} (${conditions.join(", ")}): ${file}`, files: closure(file) }));
  for (const [subpath, target] of Object.entries(exports)) {
    if (subpath === ".") continue;
    for (const { file, conditions } of byFile(exportTargets(target))) {
      const beside = mainFor(conditions.includes("browser") ? "browser" : "node");
      const label = `${name}${subpath.slice(1)} (${conditions.join(", ") || "any"}): ${file} with ${beside.file}`;
      entries.push({ name: label, files: closure(beside.file, file) });
    }
  }
  return entries;
}

/** The package's run-time files (JS and wasm, any depth) that no entry loads. */
export function unreachedFiles(pkg, entries) {
  const reached = new Set(entries.flatMap(({ files }) => files.map((url) => url.href)));
  return readdirSync(pkg, { recursive: true })
    .filter((file) => /\.(js|wasm)$/.test(file))
    .sort()
    .filter((file) => !reached.has(new URL(file, pkg).href));
}
