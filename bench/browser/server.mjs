// A static file server for the repo root on 127.0.0.1 (a secure context, so
// OPFS and module workers work), as in tests/browser/run.mjs: GET and HEAD
// only, nothing outside the root, no caching.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, isAbsolute, relative, resolve, sep } from "node:path";

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json; charset=utf-8",
};

/** Resolves with the listening server; its origin is http://127.0.0.1:<port>. */
export function startServer(root) {
  const server = createServer(async (request, response) => {
    const send = (status, text) => {
      response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      response.end(request.method === "HEAD" ? undefined : text);
    };
    try {
      if (request.method !== "GET" && request.method !== "HEAD") return send(405, "method not allowed");
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
    server.listen(0, "127.0.0.1", () => resolvePromise(server));
  });
}

export function closeServer(server) {
  server.closeAllConnections();
  return new Promise((resolvePromise) => server.close(() => resolvePromise()));
}
