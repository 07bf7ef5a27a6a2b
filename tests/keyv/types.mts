// larderdb/keyv's declared types against keyv's own (tsc -p tests/keyv, run by
// make test-keyv). setMany is the one difference: keyv 5.6 declares an
// adapter's setMany as Promise<void>, while Keyv#setMany hands on what the
// adapter answers, and this one answers per entry (boolean[]).
import Keyv from "keyv";
import type { KeyvStoreAdapter } from "keyv";
import { openStorage } from "larderdb";
import { KeyvLarder } from "larderdb/keyv";

export const adapter: Omit<KeyvStoreAdapter, "setMany"> = new KeyvLarder({ path: ":memory:" });
export const written: Promise<boolean[]> = new KeyvLarder().setMany([{ key: "k", value: "v", ttl: 1_000 }]);
export const keyv = new Keyv<number>({ store: new KeyvLarder(await openStorage(), { maxBatchSize: 100 }), namespace: "n" });
