// The workloads W1–W6, and W7 (a cache at capacity), shared by the Node and
// browser halves. A store is any object with async set(key, value), get(key),
// mset([[key, value]…]) and mget(keys); W7's store also has count() and
// size() (larder's count and getCurrentCacheSize). Every workload awaits the
// store exactly as an application would.
import { makeKeys, makeValuePool, mixedOperations, shuffledIndices } from "./data.mjs";

/** The sizes of the issue; batch sizes stay fixed when a run is scaled down. */
const FULL_SIZES = {
  set: 10_000,
  get: 10_000,
  msetEntries: 100_000,
  msetBatch: 1_000,
  mgetKeys: 10_000,
  mgetBatch: 100,
  mixed: 50_000,
  concurrent: 1_000,
  capacitySets: 10_000,
  /** W7's maxSizeBytes: about 4,000 of the ~1 KB entries, so every W7 set evicts. */
  capacityBytes: 4_000_000,
};

/** FULL_SIZES with every count divided by `divisor` (at least one batch each). */
export function scaledSizes(divisor) {
  const down = (n, floor = 1) => Math.max(floor, Math.round(n / divisor));
  return {
    set: down(FULL_SIZES.set),
    get: down(FULL_SIZES.get),
    msetEntries: down(FULL_SIZES.msetEntries, FULL_SIZES.msetBatch),
    msetBatch: FULL_SIZES.msetBatch,
    mgetKeys: down(FULL_SIZES.mgetKeys, FULL_SIZES.mgetBatch),
    mgetBatch: FULL_SIZES.mgetBatch,
    mixed: down(FULL_SIZES.mixed),
    concurrent: down(FULL_SIZES.concurrent),
    capacitySets: down(FULL_SIZES.capacitySets),
    capacityBytes: down(FULL_SIZES.capacityBytes),
  };
}

function chunk(items, size) {
  const chunks = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** A check, not a timing: a benchmark of an adapter that loses data is worthless. */
function expectFound(found, key) {
  if (!found) throw new Error(`${key}: not read back`);
}

/** How many parts a workload is cut into (see `inSteps`), unless its sizes say (`sizes.steps`). */
const STEPS = 20;

/**
 * `items` cut into about `steps` contiguous parts, each a step that runs
 * `each(store, item)` on its items in order, awaiting one before the next.
 * A workload is its steps run in order; metering.mjs runs two stores' steps
 * in alternation, so that both meet the same moments of a noisy machine.
 */
function inSteps(items, each, steps) {
  const size = Math.max(1, Math.ceil(items.length / steps));
  return chunk(items, size).map((part) => async (store) => {
    for (const item of part) await each(store, item);
  });
}

/** A workload of `steps`, with `run(store)`: the steps in order. */
function fromSteps(fields, steps) {
  return {
    ...fields,
    steps,
    async run(store) {
      for (const step of steps) await step(store);
    },
  };
}

const indices = (n) => Array.from({ length: n }, (_, i) => i);

/**
 * The workloads, in the order they must run (W2, W4 and W5 read what W1 and
 * W3 wrote). Each has `ops` (operations, or entries for W3 and W4), `steps`
 * and `run(store)`; all keys, values and batches are built here, before any
 * timing.
 */
export function makeWorkloads(sizes) {
  const steps = sizes.steps ?? STEPS;
  const pool = makeValuePool();
  const valueOf = (i) => pool[i % pool.length];

  const setKeys = makeKeys("w1", sizes.set);
  const getOrder = shuffledIndices(sizes.set, 2).slice(0, sizes.get);
  const msetKeys = makeKeys("w3", sizes.msetEntries);
  const msetBatches = chunk(msetKeys.map((key, i) => [key, valueOf(i)]), sizes.msetBatch);
  const mgetBatches = chunk(
    shuffledIndices(sizes.msetEntries, 4).slice(0, sizes.mgetKeys).map((i) => msetKeys[i]),
    sizes.mgetBatch,
  );
  const mixed = mixedOperations(sizes.mixed, sizes.set, 0.1, 5);
  // W2 only reads: its steps can run again on the same store, as many
  // passes as `sizes.getPasses` asks (metering.mjs, for a longer sample).
  const getSteps = inSteps(getOrder, async (store, i) => {
    const value = await store.get(setKeys[i]);
    expectFound(value?.id === valueOf(i).id, setKeys[i]);
  }, steps);
  const getPasses = sizes.getPasses ?? 1;
  // Each of W6's steps sets its own keys (metering.mjs asks for several).
  const concurrentSteps = chunk(makeKeys("w6", sizes.concurrent * (sizes.concurrentSteps ?? 1)), sizes.concurrent);

  return [
    fromSteps(
      { id: "W1", name: "set", ops: sizes.set },
      inSteps(indices(setKeys.length), (store, i) => store.set(setKeys[i], valueOf(i)), steps),
    ),
    fromSteps(
      { id: "W2", name: "get", ops: sizes.get * getPasses },
      Array.from({ length: getPasses }, () => getSteps).flat(),
    ),
    fromSteps(
      { id: "W3", name: "mset", ops: sizes.msetEntries },
      inSteps(msetBatches, (store, batch) => store.mset(batch), steps),
    ),
    fromSteps(
      { id: "W4", name: "mget", ops: sizes.mgetKeys },
      inSteps(mgetBatches, async (store, batch) => {
        const values = await store.mget(batch);
        values.forEach((value, i) => expectFound(value !== undefined, batch[i]));
      }, steps),
    ),
    fromSteps(
      { id: "W5", name: "mixed", ops: sizes.mixed },
      inSteps(mixed, async (store, { isSet, key }) => {
        if (isSet) await store.set(setKeys[key], valueOf(key + 1));
        else expectFound((await store.get(setKeys[key])) !== undefined, setKeys[key]);
      }, steps),
    ),
    // One step unless `sizes.concurrentSteps` asks for more: a step's sets are issued together.
    fromSteps(
      { id: "W6", name: "concurrent set", ops: sizes.concurrent * concurrentSteps.length },
      concurrentSteps.map((keys) => async (store) => {
        await Promise.all(keys.map((key, i) => store.set(key, valueOf(i))));
      }),
    ),
  ];
}

/**
 * W7, on a store opened with `maxSizeBytes: sizes.capacityBytes`: filled to
 * its budget before the timing (twice the budget written, so eviction has
 * run), then `capacitySets` awaited sets of new keys, every one of which must
 * evict. Checked after the timing: the budget held, the count stayed bounded,
 * the last keys set are readable and the first ones evicted.
 */
export function makeCapacityWorkload(sizes) {
  const pool = makeValuePool(7);
  const valueOf = (i) => pool[i % pool.length];
  const entryBytes = 1000; // the least an entry takes: its JSON text alone
  const maxCount = Math.floor(sizes.capacityBytes / entryBytes);
  const fillKeys = makeKeys("w7-fill", 2 * maxCount);
  // Batches of a quarter of the budget at most: one batch must fit it whole.
  const fillBatches = chunk(fillKeys.map((key, i) => [key, valueOf(i)]), Math.max(1, Math.min(100, maxCount >> 2)));
  const keys = makeKeys("w7", sizes.capacitySets);
  const expect = (condition, message) => {
    if (!condition) throw new Error(`W7: ${message}`);
  };
  const sets = inSteps(indices(keys.length), (store, i) => store.set(keys[i], valueOf(i)), sizes.steps ?? STEPS);
  return {
    ...fromSteps({ id: "W7", name: "set at capacity", ops: sizes.capacitySets }, sets),
    async setUp(store) {
      for (const batch of fillBatches) await store.mset(batch);
      const size = await store.size();
      // Full: no room left for another entry of this size without evicting.
      expect(size > sizes.capacityBytes - 2 * 1100, `filled to ${size} bytes of ${sizes.capacityBytes}`);
    },
    async check(store) {
      const size = await store.size();
      const count = await store.count();
      expect(size <= sizes.capacityBytes, `${size} bytes stored, over the budget of ${sizes.capacityBytes}`);
      expect(count <= maxCount, `${count} entries stored, more than ${maxCount} fit the budget`);
      for (const key of keys.slice(-10)) expect((await store.get(key)) !== undefined, `${key}, set last, not read back`);
      if (keys.length > maxCount) expect((await store.get(keys[0])) === undefined, `${keys[0]} was never evicted`);
    },
  };
}

/**
 * Runs `workloads` in order on `store`; resolves with ops/second by workload
 * id and, when `bytesWritten` (a running total of bytes written) is given,
 * the bytes written per operation of each workload. `setUp(store)`, if a
 * workload has one, runs before its timing starts, `check(store)` after it ends.
 */
export async function runWorkloads(store, workloads, bytesWritten) {
  const opsPerSecond = {};
  const bytesPerOp = {};
  for (const workload of workloads) {
    await workload.setUp?.(store);
    const bytesBefore = bytesWritten?.();
    const start = performance.now();
    await workload.run(store);
    opsPerSecond[workload.id] = workload.ops / ((performance.now() - start) / 1000);
    if (bytesWritten) bytesPerOp[workload.id] = (bytesWritten() - bytesBefore) / workload.ops;
    await workload.check?.(store);
  }
  return bytesWritten ? { opsPerSecond, bytesPerOp } : { opsPerSecond };
}
