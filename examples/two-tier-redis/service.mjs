// A process with a two-tier cache, driven by lines on stdin:
//   set <key> <value>   get <key>   quit
// Each answer is one JSON line on stdout; failures of a tier go to stderr.
// Usage: node service.mjs <name> <larder file> <redis url>
import { createInterface } from "node:readline";
import { openTwoTierCache } from "./cache.mjs";

const [name, path, redisUrl] = process.argv.slice(2);
const cache = openTwoTierCache({
  path,
  redisUrl,
  onError: (error) => console.error(`${name}: ${error?.message ?? error}`),
});
const answer = (fields) => console.log(JSON.stringify({ name, ...fields }));

const commands = {
  set: async (key, value) => answer({ op: "set", key, ok: await cache.set(key, value) }),
  get: async (key) => answer({ op: "get", key, value: (await cache.get(key)) ?? null }),
  quit: async () => {
    await cache.disconnect();
    answer({ op: "quit" });
    process.exit(0);
  },
};

answer({ op: "ready" });
for await (const line of createInterface({ input: process.stdin })) {
  const [op, ...args] = line.trim().split(" ");
  await commands[op](...args);
}
