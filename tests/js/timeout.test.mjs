// A running operation that passes operationTimeoutMs is interrupted inside
// SQLite, rolled back and rejected with TIMEOUT, leaving no effect; the store
// works right after. (Queue-wait timeouts are in queue.test.mjs.)

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { open, rejectsWith, manualClock } from "./helpers.mjs";
import { tempDir } from "./file-helpers.mjs";

const ENTRIES = Array.from({ length: 100_000 }, (_, i) => [`k${i}`, { i, text: "x".repeat(20) }]);

describe("timeouts of running operations", () => {
  for (const where of ["memory", "file"]) {
    test(`a 100,000-entry mset with a tiny timeout (${where}): TIMEOUT, nothing written, the store works after`, async (t) => {
      // Real time only while the mset runs, so that nothing else can time out.
      let realTime = false;
      const clock = () => (realTime ? Date.now() : 0);
      const file = where === "file" ? { path: path.join(tempDir(t, "timeout"), "t.sqlite") } : {};
      const store = await open(t, { clock, maxBatchSize: 100_000, operationTimeoutMs: 5, ...file });
      await store.set("before", 1);
      realTime = true;
      const error = await rejectsWith(() => store.mset(ENTRIES), "TIMEOUT");
      realTime = false;
      assert.equal(error.retryable, true);
      assert.equal(await store.count(), 1, "nothing of the batch was written");
      assert.deepEqual(await store.mget(["k0", "k99999"]), [undefined, undefined]);
      await store.mset(ENTRIES.slice(0, 10));
      assert.equal(await store.count(), 11, "the store works right after");
    });
  }

  test("the deadline runs on the injected clock, from the call: a clock that jumps past it mid-operation times it out", async (t) => {
    const clock = manualClock(0);
    const store = await open(t, { clock, operationTimeoutMs: 1_000, maxBatchSize: 100_000 });
    const batch = store.mset(ENTRIES.slice(0, 1_000));
    clock.step = 2; // every reading of the clock moves it on: the mset outlives its 1 s
    await rejectsWith(() => batch, "TIMEOUT");
    clock.step = 0;
    assert.equal(await store.count(), 0);
  });
});
