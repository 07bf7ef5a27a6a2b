/** What the ownership lock records of a process, read from Linux's /proc
 *  with node:fs itself (never the `fs` option: these are facts about the
 *  machine, not storage). Elsewhere, or where /proc does not match this
 *  process (a pid namespace without its own /proc), the facts are empty,
 *  which the core reads as "unknown" and judges by the lock's heartbeat. */

import { readFileSync, readlinkSync } from "node:fs";

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot. */
  startTime: string;
  bootId: string;
  pidNamespace: string;
}

/** `/proc/<pid>/stat` split after the command name (which may hold spaces):
 *  [0] is the state, [19] the start time. */
function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function read(fact: () => string): string {
  try {
    return fact().trim();
  } catch {
    return "";
  }
}

let self: ProcessIdentity | undefined;

export function thisProcess(): ProcessIdentity {
  self ??= (() => {
    const procPid = read(() => readFileSync("/proc/self/stat", "utf8").split(" ")[0]);
    if (procPid !== String(process.pid)) return { pid: process.pid, startTime: "", bootId: "", pidNamespace: "" };
    return {
      pid: process.pid,
      startTime: read(() => statFields("self")[19]),
      bootId: read(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8")),
      pidNamespace: read(() => readlinkSync("/proc/self/ns/pid")),
    };
  })();
  return self;
}

/** When process `pid` (of this pid namespace) started: `null` if it does
 *  not exist (or is a zombie), `""` if it exists but that cannot be told. */
export function processStartTime(pid: number): string | null {
  if (thisProcess().startTime !== "") {
    try {
      const fields = statFields(pid);
      return fields[0] === "Z" ? null : fields[19];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    }
  }
  try {
    process.kill(pid, 0);
    return "";
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? "" : null;
  }
}
