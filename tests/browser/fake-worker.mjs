// A stand-in for pkg/worker.js that misbehaves on purpose, for the checks
// that a RemoteStore settles every promise when its worker goes wrong. It
// answers `open` as the real worker does (holding the life lock), then, by
// its ?mode=:
//   close   — ends itself (self.close()) on the first call, answering nothing;
//   throw   — throws an uncaught error on the first call, answering nothing;
//   silent  — never answers anything after open (not even dispose).
const mode = new URL(import.meta.url).searchParams.get("mode");

// Requests arrive, and replies leave, in arrays: the batches of js/outbox.ts.
self.addEventListener("message", ({ data: requests }) => {
  for (const { id, method, args } of requests) {
    if (method === "open") {
      const lifeLock = args[1];
      const held = typeof lifeLock === "string"
        ? new Promise((granted) => navigator.locks.request(lifeLock, () => (granted(), new Promise(() => {}))))
        : Promise.resolve();
      // The store's operationTimeoutMs as the core would settle it (default 30 s).
      const operationTimeoutMs = args[0]?.operationTimeoutMs ?? 30_000;
      const value = { holdsLifeLock: typeof lifeLock === "string", operationTimeoutMs };
      held.then(() => self.postMessage([{ id, ok: true, value }]));
      continue;
    }
    if (mode === "close") self.close();
    if (mode === "throw") throw new Error("the fake worker fails on purpose");
  }
});
