// An HTTP API whose slow upstream call is cached in larder: each city's
// answer is kept for `ttlMs`, concurrent requests for the same city share one
// upstream call (getOrSet), and the cache survives a restart (a file).
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { openStorage } from "larderdb";

/** The slow upstream: a weather service taking `delayMs` per call. */
function weatherUpstream(delayMs) {
  const upstream = async (city) => {
    upstream.calls += 1;
    await sleep(delayMs);
    return { city, celsius: [...city].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 35 };
  };
  upstream.calls = 0;
  return upstream;
}

/** Starts the API on `port` (0: any free one) with its cache in `path`. */
export async function startApi({ path, ttlMs = 60_000, port = 0, upstreamDelayMs = 200 }) {
  const store = await openStorage({ path });
  const cache = store.namespace("weather");
  const upstream = weatherUpstream(upstreamDelayMs);
  const server = createServer(async (request, response) => {
    const city = new URL(request.url, "http://api").searchParams.get("city");
    if (!city) {
      response.writeHead(400).end("city is required\n");
      return;
    }
    try {
      const weather = await cache.getOrSet(city, upstream, { ttlMs });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ...weather, upstreamCalls: upstream.calls }));
    } catch (error) {
      response.writeHead(503).end(`${error.code ?? "ERROR"}: ${error.message}\n`);
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await store.dispose();
    },
  };
}
