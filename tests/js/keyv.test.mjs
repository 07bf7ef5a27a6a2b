// larderdb/keyv where keyv's own suite (tests/keyv/) cannot see: what the
// adapter leaves in the larder file, read back through larder's own API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStorage } from "larderdb";
import { KeyvLarder } from "larderdb/keyv";
import { Keyv } from "../keyv/keyv.mjs";
import { tempDir } from "./file-helpers.mjs";
import { assertStorageError, manualClock } from "./helpers.mjs";

/** A Keyv over `adapter` that records the errors it emits. */
function recordingKeyv(adapter, options) {
  const keyv = new Keyv({ store: adapter, ...options });
  keyv.errors = [];
  keyv.on("error", (error) => keyv.errors.push(error));
  return keyv;
}

test("TTLs are the store's: an expired entry is gone for a plain larder store on the same file", async (t) => {
  const path = join(tempDir(t, "keyv"), "ttl.sqlite");
  const clock = manualClock();
  const keyv = new Keyv({ store: new KeyvLarder({ path, clock }) });
  await keyv.set("session", "token", 1_000);
  for (const ttl of [0, -5, undefined]) await keyv.set(`forever ${ttl}`, "kept", ttl);
  clock.advance(1_001);
  await keyv.disconnect();

  const store = await openStorage({ path, clock });
  t.after(() => store.dispose());
  const keyvNamespace = store.namespace("keyv");
  assert.equal(await keyvNamespace.get("session"), undefined);
  assert.equal(await keyvNamespace.has("session"), false);
  clock.advance(10 * 365 * 24 * 3600 * 1000);
  assert.deepEqual(await keyvNamespace.keys(), ["forever -5", "forever 0", "forever undefined"]);
  // The value is kept as keyv serialized it.
  assert.deepEqual(JSON.parse(await keyvNamespace.get("forever 0")), { value: "kept" });
});

test("keyv namespaces are larder namespaces: clearing one leaves the other, keys are not prefixed", async (t) => {
  const path = join(tempDir(t, "keyv"), "namespaces.sqlite");
  const store = await openStorage({ path });
  t.after(() => store.dispose());
  const users = new Keyv({ store: new KeyvLarder(store), namespace: "users" });
  const sessions = new Keyv({ store: new KeyvLarder(store), namespace: "sessions" });
  const root = new Keyv({ store: new KeyvLarder(store), namespace: undefined });
  await users.set("a", 1);
  await users.set("users:b", 2); // keyv leaves a key already carrying its prefix alone
  await sessions.set("a", "s1");
  await sessions.set("b", "s2");
  await root.set("a", "r");

  assert.deepEqual(await store.namespace("users").keys(), ["a", "b"]);
  assert.deepEqual(await store.namespace("sessions").keys(), ["a", "b"]);
  assert.deepEqual(await store.keys(), ["a"]);
  await users.clear();
  assert.equal(await store.namespace("users").count(), 0);
  assert.equal(await store.namespace("sessions").count(), 2);
  assert.equal(await sessions.get("a"), "s1");
  await root.clear(); // the root's own keys only
  assert.deepEqual(await store.keys(), []);
  assert.equal(await store.count(), 2);

  const listed = [];
  for await (const entry of sessions.iterator()) listed.push(entry);
  assert.deepEqual(listed, [["a", "s1"], ["b", "s2"]]);
});

test("the iterator pages through more entries than a page holds, skipping other namespaces", async (t) => {
  const store = await openStorage({ maxBatchSize: 7 });
  t.after(() => store.dispose());
  const keyv = new Keyv({ store: new KeyvLarder(store, { maxBatchSize: 7 }), namespace: "many" });
  const other = new Keyv({ store: new KeyvLarder(store), namespace: "other" });
  const entries = Array.from({ length: 250 }, (_, i) => ({ key: `k${String(i).padStart(3, "0")}`, value: i }));
  await keyv.setMany(entries);
  await other.set("k000", "not mine");
  const seen = [];
  for await (const [key, value] of keyv.iterator()) seen.push({ key, value });
  assert.deepEqual(seen, entries);
});

test("batches above maxBatchSize are split: setMany, getMany and deleteMany of 10 with a limit of 3", async (t) => {
  const path = join(tempDir(t, "keyv"), "chunks.sqlite");
  const clock = manualClock();
  const keyv = recordingKeyv(new KeyvLarder({ path, maxBatchSize: 3, clock }));
  const entries = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: { i }, ttl: i < 5 ? 60_000 : undefined }));
  assert.deepEqual(await keyv.setMany(entries), entries.map(() => true));
  assert.deepEqual(await keyv.get(entries.map((e) => e.key)), entries.map((e) => e.value));
  await keyv.disconnect();

  const store = await openStorage({ path, maxBatchSize: 3, clock });
  t.after(() => store.dispose());
  assert.equal(await store.namespace("keyv").count(), 10);
  clock.advance(60_001); // each run of entries kept its own TTL
  assert.deepEqual(await store.namespace("keyv").keys(), ["k5", "k6", "k7", "k8", "k9"]);
  // What the adapter spares keyv: the store refuses such a batch whole.
  await assert.rejects(store.namespace("keyv").mdelete(entries.map((e) => e.key)), (error) =>
    Boolean(assertStorageError(error, "BATCH_TOO_LARGE")),
  );
  const again = recordingKeyv(new KeyvLarder(store, { maxBatchSize: 3 }));
  assert.equal(await again.delete(entries.map((e) => e.key)), true);
  assert.equal(await store.namespace("keyv").count(), 0);
  assert.deepEqual(again.errors, []);
});

test("setMany answers per entry: a run written before a failing one stays written", async (t) => {
  const store = await openStorage();
  t.after(() => store.dispose());
  const adapter = new KeyvLarder(store);
  const errors = [];
  adapter.on("error", (error) => errors.push(error));
  const written = await adapter.setMany([
    { key: "a", value: "1" },
    { key: "b", value: "2" },
    { key: "c", value: Number.NaN, ttl: 5_000 },
  ]);
  assert.deepEqual(written, [true, true, false]);
  assert.deepEqual(await store.mget(["a", "b", "c"]), ["1", "2", undefined]);
  assertStorageError(errors[0], "INVALID_VALUE");
});

test("failures reach keyv's error event", async (t) => {
  await t.test("a store that cannot open: every call emits its error", async () => {
    const keyv = recordingKeyv(new KeyvLarder({ path: ":memory:", maxBatchSize: 0 }));
    assert.equal(await keyv.set("a", 1), false);
    assert.equal(await keyv.get("a"), undefined);
    assert.equal(await keyv.has("a"), false);
    assert.equal(await keyv.delete("a"), false);
    assert.equal(await keyv.delete(["a", "b"]), false);
    assert.deepEqual(await keyv.setMany([{ key: "a", value: 1 }]), [false]);
    await keyv.clear();
    assert.equal(keyv.errors.length, 7);
    for (const error of keyv.errors) assertStorageError(error, "INVALID_ARGUMENT", /maxBatchSize/);
    await keyv.disconnect(); // nothing to close, nothing more to report
    assert.equal(keyv.errors.length, 7);
    const badPath = recordingKeyv(new KeyvLarder({ path: 42 }));
    assert.equal(await badPath.set("a", 1), false);
    assertStorageError(badPath.errors[0], "INVALID_ARGUMENT", /path/);
  });
  await t.test("a call the store refuses", async () => {
    const keyv = recordingKeyv(new KeyvLarder({ maxKeyBytes: 8 }));
    assert.equal(await keyv.set("much too long a key", 1), false);
    assert.deepEqual(await keyv.get(["much too long a key"]), [undefined]);
    assert.equal(keyv.errors.length, 2);
    for (const error of keyv.errors) assertStorageError(error, "INVALID_KEY");
    await keyv.disconnect();
  });
  await t.test("an iterator over a disposed store", async () => {
    const store = await openStorage();
    const keyv = recordingKeyv(new KeyvLarder(store));
    await store.dispose();
    for await (const entry of keyv.iterator()) assert.fail(`yielded ${entry}`);
    assertStorageError(keyv.errors[0], "DISPOSED");
  });
  await t.test("throwOnErrors also rejects the call, after the event", async () => {
    const adapter = new KeyvLarder({ maxKeyBytes: 8, throwOnErrors: true });
    const errors = [];
    adapter.on("error", (error) => errors.push(error));
    await assert.rejects(adapter.get("much too long a key"), (error) => Boolean(assertStorageError(error, "INVALID_KEY")));
    assert.equal(errors.length, 1);
    await adapter.disconnect();
  });
  await t.test("without an error listener the call rejects", async () => {
    const adapter = new KeyvLarder({ maxKeyBytes: 8 });
    await assert.rejects(adapter.get("much too long a key"), (error) => Boolean(assertStorageError(error, "INVALID_KEY")));
    await adapter.disconnect();
  });
});

test("bad constructor arguments are INVALID_ARGUMENT, naming what is wrong", async (t) => {
  const store = await openStorage();
  t.after(() => store.dispose());
  const cases = [
    [() => new KeyvLarder(null), /larder store, a path/],
    [() => new KeyvLarder(42), /larder store, a path/],
    [() => new KeyvLarder("x.sqlite", { throwOnErrors: true }), /second argument/],
    [() => new KeyvLarder(store, { maxBatchSize: 0 }), /maxBatchSize/],
    [() => new KeyvLarder(store, { throwOnErrors: "yes" }), /throwOnErrors/],
    [() => new KeyvLarder({ throwOnErrors: 1 }), /throwOnErrors/],
  ];
  for (const [construct, mentions] of cases) {
    assert.throws(construct, (error) => Boolean(assertStorageError(error, "INVALID_ARGUMENT", mentions)));
  }
});

test("a larder:// URI or a bare path names the file; disconnect disposes only a store the adapter opened", async (t) => {
  const dir = tempDir(t, "keyv");
  const uri = new Keyv({ store: new KeyvLarder(`larder://${join(dir, "uri.sqlite")}`) });
  await uri.set("k", "via uri");
  await uri.disconnect();
  const bare = new Keyv({ store: new KeyvLarder(join(dir, "uri.sqlite")) });
  assert.equal(await bare.get("k"), "via uri");
  await bare.disconnect();
  assert.equal(new KeyvLarder("larder://:memory:").opts.url, "larder://:memory:");

  const store = await openStorage({ path: join(dir, "given.sqlite") });
  t.after(() => store.dispose());
  const given = new Keyv({ store: new KeyvLarder(store) });
  await given.set("k", 1);
  await given.disconnect();
  assert.equal(store.isDisposed(), false);
  assert.equal(await given.get("k"), 1);
});

test("one Keyv per instance on the same path in one process", async (t) => {
  const path = join(tempDir(t, "keyv"), "shared.sqlite");
  const first = recordingKeyv(new KeyvLarder({ path }), { namespace: "first" });
  const second = recordingKeyv(new KeyvLarder({ path }), { namespace: "second" });
  assert.equal(await first.set("k", "one"), true);
  assert.equal(await second.set("k", "two"), true);
  assert.equal(await first.get("k"), "one");
  assert.equal(await second.get("k"), "two");
  assert.deepEqual([...first.errors, ...second.errors], []);
  await first.disconnect();
  assert.equal(await second.get("k"), "two");
  await second.disconnect();
});
