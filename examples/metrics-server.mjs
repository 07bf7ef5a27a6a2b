// A store under a workload, its metrics served at /metrics for Prometheus to
// scrape (README, "Observability").
//
//   node examples/metrics-server.mjs [port]      (or PORT=...; 0 or none: a free port)
//
// At start it runs a fixed workload (SETS sets, then one get of each key and
// one of a key that is not there; SETS defaults to 100), prints
// "listening on <port>" and serves /metrics. With WORKLOAD_INTERVAL_MS it
// then goes on: one set and one get every that many milliseconds.
import { createServer } from "node:http";
import { openStorage } from "larderdb";

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const sets = Number(process.env.SETS ?? 100);
const intervalMs = Number(process.env.WORKLOAD_INTERVAL_MS ?? 0);

const store = await openStorage({ path: process.env.STORE_PATH ?? ":memory:", maxSizeBytes: 10_000_000 });

for (let i = 0; i < sets; i += 1) await store.set(`user:${i}`, { id: i, name: `user ${i}` });
for (let i = 0; i < sets; i += 1) await store.get(`user:${i}`);
await store.get("user:none");

let tick = 0;
const timer =
  intervalMs > 0 &&
  setInterval(() => {
    tick += 1;
    void store.set(`tick:${tick % 100}`, tick).then(() => store.get(`tick:${tick % 100}`));
  }, intervalMs);

const server = createServer(async (request, response) => {
  if (request.url !== "/metrics") {
    response.writeHead(404).end("not found\n");
    return;
  }
  try {
    const text = await store.metricsText({ labels: { store: "example" } });
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(text);
  } catch (error) {
    response.writeHead(500).end(`${error}\n`);
  }
});

server.listen(port, "127.0.0.1", () => console.log(`listening on ${server.address().port}`));

const stop = async () => {
  if (timer) clearInterval(timer);
  server.close();
  await store.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
