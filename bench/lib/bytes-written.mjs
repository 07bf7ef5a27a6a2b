// Bytes this process has passed to write syscalls so far: `wchar` of
// /proc/self/io (all threads, whatever the file or VFS), counted the same way
// for every engine. Linux only: elsewhere there is no counter and none is reported.
import { readFileSync } from "node:fs";

const readWchar = () => Number(/^wchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))[1]);

function available() {
  try {
    return Number.isFinite(readWchar());
  } catch {
    return false;
  }
}

/** A function returning the running total, or undefined where there is none. */
export const bytesWrittenCounter = () => (available() ? readWchar : undefined);
