// Runs the cached API and calls it: a miss, a hit, concurrent misses sharing
// one upstream call, and a miss again once the TTL has passed.
// Usage: node demo.mjs [cache file] (default ./api-cache.sqlite)
import { setTimeout as sleep } from "node:timers/promises";
import { startApi } from "./server.mjs";

const ttlMs = 500;
const api = await startApi({ path: process.argv[2] ?? "./api-cache.sqlite", ttlMs });
const get = async (city) => (await fetch(`${api.url}/weather?city=${encodeURIComponent(city)}`)).json();
const show = (label, weather) => console.log(`${label}: ${weather.city} ${weather.celsius}°C, upstream calls so far: ${weather.upstreamCalls}`);

show("first request", await get("Paris"));
show("second request", await get("Paris"));
const together = await Promise.all(Array.from({ length: 5 }, () => get("Berlin")));
show("5 concurrent requests", together.at(-1));
await sleep(2 * ttlMs);
show("after the TTL", await get("Paris"));
await api.close();
