// `make dashboard`: serves the repository on 127.0.0.1 (a secure context, so
// OPFS and module workers work) until interrupted, and prints the page's
// address. PORT picks the port (default 8787).
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./static-server.mjs";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const page = process.argv[2] ?? "www/dashboard.html";
const server = await startServer(root, Number(process.env.PORT ?? 8787));
console.log(`serving ${root} — open http://127.0.0.1:${server.address().port}/${page} (Ctrl-C stops)`);
