// A one-line description of the machine a run happened on.
import { availableParallelism, cpus, totalmem } from "node:os";

export function describeMachine() {
  const model = cpus()[0]?.model?.trim() ?? "unknown CPU";
  return `${model}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}
