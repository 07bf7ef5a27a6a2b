// The page's side of @sqlite.org/sqlite-wasm in a worker: one message per
// operation, answered by sqlite-wasm-worker.mjs.

export async function open() {
  const worker = new Worker(new URL("./sqlite-wasm-worker.mjs", import.meta.url), { type: "module" });
  const pending = new Map();
  let nextId = 0;
  worker.onmessage = ({ data: { id, result, error } }) => {
    const { resolve, reject } = pending.get(id);
    pending.delete(id);
    if (error === undefined) resolve(result);
    else reject(new Error(error));
  };
  const call = (method, ...args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });

  await call("open", `bench-sahpool-${crypto.randomUUID()}`);
  return {
    set: (key, value) => call("set", key, value),
    get: (key) => call("get", key),
    mset: (entries) => call("mset", entries),
    mget: (keys) => call("mget", keys),
    async close() {
      await call("close");
      worker.terminate();
    },
  };
}
