// The two-tier setup: larder (through larderdb/keyv) as this process's
// durable first tier, Redis (through @keyv/redis) as the second tier shared by
// every process, combined by cacheable.
import KeyvRedis from "@keyv/redis";
import { Cacheable } from "cacheable";
import { Keyv } from "keyv";
import { KeyvLarder } from "larderdb/keyv";

/**
 * A cacheable cache over the larder file `path` and the Redis at `redisUrl`.
 * Reads try larder first, then Redis (copying what Redis has into larder);
 * writes go to both. `onError` hears every failure of either tier.
 */
export function openTwoTierCache({ path, redisUrl, namespace = "app", onError }) {
  const primary = new Keyv({ store: new KeyvLarder({ path }), namespace });
  const redis = new KeyvRedis(
    {
      url: redisUrl,
      // Without Redis, a command fails at once instead of waiting in the
      // client's queue for a reconnection that may never come.
      disableOfflineQueue: true,
      socket: { connectTimeout: 500, reconnectStrategy: () => 500 },
    },
    // A first connection gives up after a second; the call then answers a
    // miss (or a failed write) instead of throwing.
    { connectionTimeout: 1_000, throwOnConnectError: false },
  );
  const secondary = new Keyv({ store: redis, namespace });
  const cache = new Cacheable({ primary, secondary, nonBlocking: false });
  for (const emitter of [cache, primary, secondary]) emitter.on("error", onError);
  return cache;
}
