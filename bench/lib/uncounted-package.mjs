// The built package with its counting switched off (js/counting.ts), in
// target/pkg-uncounted: the same code as pkg/ but for that one constant, so
// the rows run from it show what metrics cost (the core's own counters,
// additions in the same step as each operation, stay in both).
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const COUNTED = "const COUNTING = true;\nexport {\n  COUNTING\n};\n";
const UNCOUNTED = COUNTED.replace("true", "false");

/** Makes target/pkg-uncounted from `root`'s pkg/ and returns its Node entry; throws if pkg/counting.js is not the switch it expects. */
export function makeUncountedPackage(root) {
  const pkg = fileURLToPath(new URL("pkg/", root));
  const copy = fileURLToPath(new URL("target/pkg-uncounted/", root));
  const switchFile = "counting.js";
  const compiled = readFileSync(`${pkg}${switchFile}`, "utf8");
  if (compiled !== COUNTED) throw new Error(`pkg/${switchFile} is not ${JSON.stringify(COUNTED)}: the uncounted copy cannot be made`);
  rmSync(copy, { recursive: true, force: true });
  cpSync(pkg, copy, { recursive: true });
  writeFileSync(`${copy}${switchFile}`, UNCOUNTED);
  return `${copy}node.js`;
}
