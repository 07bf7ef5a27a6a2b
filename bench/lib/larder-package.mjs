// Which larder the Node benchmark measures: the engines import it by name
// ("larderdb"), which must resolve to the pkg/ freshly built in this checkout
// (scripts/build.mjs links node_modules/larderdb to it), not to a copy
// installed elsewhere.
import { realpathSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** { entry, builtAt }: the file "larderdb" resolves to, and when pkg/ was built; throws if it is not this checkout's. */
export function larderPackage(root) {
  const pkg = realpathSync(fileURLToPath(new URL("pkg/", root)));
  const entry = realpathSync(fileURLToPath(import.meta.resolve("larderdb")));
  if (!entry.startsWith(`${pkg}/`)) {
    throw new Error(`"larderdb" resolves to ${entry}, not to this checkout's ${pkg}; run make build`);
  }
  return { entry, builtAt: statSync(`${pkg}/package.json`).mtime };
}
