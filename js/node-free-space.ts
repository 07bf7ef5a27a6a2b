/** Free space where a Node store keeps its database: `statfs` of its directory. */

import * as nodeFs from "node:fs";
import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { FreeSpace } from "./health-checks.js";
import type { StorageOptions } from "./types.js";

interface StatFs {
  bavail: number | bigint;
  bsize: number | bigint;
}

type StatFsCallback = (dir: string, callback: (error: Error | null, stats: StatFs) => void) => void;

/** Free bytes at `dir`, through the `fs` option's `statfs` if it has one. */
function statFree(fs: unknown, dir: string): Promise<number> {
  const statfsOption = (fs as { statfs?: unknown } | undefined)?.statfs;
  const stats =
    typeof statfsOption === "function"
      ? new Promise<StatFs>((resolve, reject) =>
          (statfsOption as StatFsCallback).call(fs, dir, (error, result) => (error ? reject(error) : resolve(result))),
        )
      : statfs(dir);
  return stats.then(({ bavail, bsize }) => Number(bavail) * Number(bsize));
}

/** The store was opened with these options, so they are valid and readable. */
export function nodeFreeSpace(options: StorageOptions | undefined): FreeSpace {
  const file = options?.path ?? ":memory:";
  if (file === ":memory:") return { location: "memory", freeBytes: async () => null };
  const dir = file === ":temp:" ? tmpdir() : path.dirname(path.resolve(file));
  const fs = options?.fs ?? nodeFs;
  // A directory that cannot be examined has unknown free space: the other checks still count.
  return { location: dir, freeBytes: () => statFree(fs, dir).catch(() => null) };
}
