// Redis as the shared second tier (examples/two-tier-redis): two real Node
// processes, each with its own larder file as first tier, share values through
// a real redis-server, keep serving from larder while Redis is down and across
// a restart, and share again once Redis is back. Prints a transcript.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { tempDir } from "./file-helpers.mjs";

const SERVICE = fileURLToPath(new URL("../../examples/two-tier-redis/service.mjs", import.meta.url));
/** Real time allowed for one answer: a guard against a hang, not a speed check. */
const ANSWER_GUARD_MS = 15_000;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Lines of `stream`, each resolved in turn by `next()`. */
function lineReader(stream, label) {
  const waiting = [];
  const ready = [];
  createInterface({ input: stream }).on("line", (line) => (waiting.length ? waiting.shift()(line) : ready.push(line)));
  return {
    next: (guardMs = ANSWER_GUARD_MS) =>
      ready.length
        ? Promise.resolve(ready.shift())
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${label}: no answer within ${guardMs} ms`)), guardMs);
            waiting.push((line) => (clearTimeout(timer), resolve(line)));
          }),
  };
}

/** A redis-server of its own: 127.0.0.1, `port`, nothing saved to disk. */
async function startRedis(port, dir) {
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]);
  const lines = lineReader(redis.stdout, "redis-server");
  while (!(await lines.next()).includes("Ready to accept connections"));
  return {
    stop: async () => {
      redis.kill("SIGTERM");
      if (redis.exitCode === null) await once(redis, "exit");
    },
  };
}

/** examples/two-tier-redis/service.mjs as a child process. */
async function startService(name, path, redisUrl) {
  const child = spawn(process.execPath, [SERVICE, name, path, redisUrl], { stdio: ["pipe", "pipe", "pipe"] });
  const failures = []; // its tier failures (stderr), expected while Redis is down
  createInterface({ input: child.stderr }).on("line", (line) => failures.push(line));
  const lines = lineReader(child.stdout, name);
  assert.equal(JSON.parse(await lines.next()).op, "ready");
  const ask = async (command) => {
    child.stdin.write(`${command}\n`);
    return JSON.parse(await lines.next());
  };
  return {
    set: async (key, value) => (await ask(`set ${key} ${value}`)).ok,
    get: async (key) => (await ask(`get ${key}`)).value,
    quit: () => ask("quit"),
    failures,
    kill: async () => {
      child.kill("SIGKILL");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  };
}

test("Redis as the shared second tier behind each process's larder", async (t) => {
  const dir = tempDir(t, "redis-tier");
  const port = await freePort();
  const redisUrl = `redis://127.0.0.1:${port}`;
  const step = (text) => t.diagnostic(text);

  let redis = await startRedis(port, dir);
  t.after(() => redis.stop());
  let a = await startService("A", join(dir, "a.sqlite"), redisUrl);
  const b = await startService("B", join(dir, "b.sqlite"), redisUrl);
  t.after(() => a.kill());
  t.after(() => b.kill());
  step(`redis-server on port ${port}; processes A and B, each with its own larder file`);

  assert.equal(await a.set("greeting", "hello"), true);
  assert.equal(await b.get("greeting"), "hello");
  step("A set greeting=hello; B (which never saw it) read it through Redis: hello");
  assert.equal(await b.set("fromB", "world"), true);
  assert.equal(await a.get("fromB"), "world");
  step("B set fromB=world; A read it through Redis: world");

  await redis.stop();
  step("Redis stopped");
  assert.equal(await a.get("greeting"), "hello");
  assert.equal(await b.get("greeting"), "hello");
  step("A and B still read greeting=hello from their own larder (B kept the copy it read from Redis)");
  assert.equal(await a.set("offline", "kept"), true);
  assert.equal(await a.get("offline"), "kept");
  assert.equal(await b.get("offline"), null);
  step("A set offline=kept: written to its larder; B, without Redis, cannot see it (null), and did not hang");
  assert.ok(b.failures.length > 0, "B's failed Redis read was reported");
  step(`B's error listener heard of it: "${b.failures.at(-1)}"`);

  await a.kill();
  a = await startService("A", join(dir, "a.sqlite"), redisUrl);
  assert.equal(await a.get("offline"), "kept");
  assert.equal(await a.get("greeting"), "hello");
  assert.equal(await a.get("fromB"), "world");
  step("A killed (SIGKILL) and restarted with Redis still down: it serves offline, greeting, fromB from its larder");
  assert.equal(await a.get("neverSet"), null);
  step("A's miss, which tries Redis (never connected since the restart), answers null once the connection attempt gives up");

  redis = await startRedis(port, dir);
  step("Redis started again (empty)");
  // Each client reconnects on its own schedule: write until the other side
  // reads the value just written (bounded by the answer guard of each call).
  let shared = false;
  let round = 0;
  for (; round < 20 && !shared; round++) {
    await a.set(`back${round}`, `again${round}`);
    shared = (await b.get(`back${round}`)) === `again${round}`;
    if (!shared) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.ok(shared, "B never read what A wrote after Redis came back");
  step(`A set back${round - 1} after Redis came back; B read it through Redis (round ${round}): sharing resumed`);
  assert.equal(await b.get("offline"), null);
  assert.equal(await a.get("offline"), "kept");
  step("offline, written by A while Redis was down, is still A's alone: nothing replays it to Redis");

  await a.quit();
  await b.quit();
});
