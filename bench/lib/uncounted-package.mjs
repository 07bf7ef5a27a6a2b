// The built package with its counting switched off (js/counting.ts), in
// target/pkg-uncounted: the same code as pkg/ but for that one constant, so
// the rows run from it show what metrics cost (the core's own counters,
// additions in the same step as each operation, stay in both).
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// The switch as the build bundles it (scripts/build.mjs, without
// whitespace), in whichever of the package's chunks holds it.
const COUNTED = "var COUNTING=true;";
const UNCOUNTED = COUNTED.replace("true", "false");

/** Makes target/pkg-uncounted from `root`'s pkg/ and returns its Node entry; throws unless exactly one file of pkg/ holds the switch it expects. */
export function makeUncountedPackage(root) {
  const pkg = fileURLToPath(new URL("pkg/", root));
  const copy = fileURLToPath(new URL("target/pkg-uncounted/", root));
  const holders = readdirSync(pkg)
    .filter((name) => name.endsWith(".js"))
    .map((name) => ({ name, text: readFileSync(`${pkg}${name}`, "utf8") }))
    .filter(({ text }) => text.includes(COUNTED));
  const [holder] = holders;
  if (holders.length !== 1 || holder.text.split(COUNTED).length !== 2) {
    throw new Error(`pkg/ does not hold ${JSON.stringify(COUNTED)} exactly once: the uncounted copy cannot be made`);
  }
  rmSync(copy, { recursive: true, force: true });
  cpSync(pkg, copy, { recursive: true });
  writeFileSync(`${copy}${holder.name}`, holder.text.replace(COUNTED, UNCOUNTED));
  return `${copy}node.js`;
}
