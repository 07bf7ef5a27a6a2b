// What the browser test (tests/browser/run.mjs) and the browser benchmark
// (bench/browser/run.mjs) share: a static file server for a folder on
// 127.0.0.1 (a secure context, so OPFS and module workers work: GET and HEAD
// only, nothing outside the folder, no caching), and how Chromium is started.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, isAbsolute, relative, resolve, sep } from "node:path";

/** Debian's Chromium, driven through playwright-core. */
export const CHROMIUM = "/usr/bin/chromium";
/** Without these, Chromium run as root stalls on the closed network. */
export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
};

/** Resolves with the listening server; its origin is http://127.0.0.1:<port> (`port` 0: any free one). */
export function startServer(root, port = 0) {
  const server = createServer(async (request, response) => {
    const send = (status, text) => {
      response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      response.end(request.method === "HEAD" ? undefined : text);
    };
    try {
      if (request.method !== "GET" && request.method !== "HEAD") return send(405, "method not allowed");
      // The raw request path, decoded but not normalised: resolve() below does that.
      const pathname = decodeURIComponent(request.url.split(/[?#]/, 1)[0]);
      if (!pathname.startsWith("/") || pathname.includes("\0")) return send(400, "bad path");
      const file = resolve(root, `.${pathname}`);
      const inside = relative(root, file);
      if (inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return send(403, "forbidden");
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) return send(404, "not found");
      response.writeHead(200, {
        "content-type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
        "content-length": info.size,
        "cache-control": "no-store",
      });
      if (request.method === "HEAD") return response.end();
      createReadStream(file)
        .on("error", () => response.destroy())
        .pipe(response);
    } catch {
      send(400, "bad request");
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolvePromise(server));
  });
}

export function closeServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolvePromise) => server.close(() => resolvePromise()));
}
