// The examples under examples/ run as an application would run them (child
// processes importing larderdb by name), and say what they should.
// examples/two-tier-redis runs in redis-tier.test.mjs, which needs Redis.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir } from "./file-helpers.mjs";

const run = promisify(execFile);
const example = (file) => fileURLToPath(new URL(`../../examples/${file}`, import.meta.url));

test("examples/api-cache: a miss, a hit, five concurrent misses sharing one call, a miss after the TTL", async (t) => {
  const { stdout } = await run(process.execPath, [example("api-cache/demo.mjs"), join(tempDir(t, "api-cache"), "cache.sqlite")], {
    timeout: 60_000,
  });
  t.diagnostic(stdout.trim());
  const calls = stdout.trim().split("\n").map((line) => [line.split(":")[0], Number(line.match(/upstream calls so far: (\d+)/)[1])]);
  assert.deepEqual(calls, [
    ["first request", 1],
    ["second request", 1],
    ["5 concurrent requests", 2],
    ["after the TTL", 3],
  ]);
});
