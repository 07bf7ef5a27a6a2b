import { openStorage } from "larder";
import * as realFs from "node:fs";
const dir = realFs.mkdtempSync("/tmp/lx/f-");
const p = dir + "/f.sqlite";
const log = []; let armed = false; let failAt = 0; let n = 0; let code = "EIO";
const fs = { ...realFs,
  writeSync(...a) { if (armed) { n++; log.push(["w", a[0], a[3], a[4]]); if (n === failAt) { const e = new Error("boom"); e.code = code; throw e; } } return realFs.writeSync(...a); },
  fsyncSync(...a) { if (armed) { n++; log.push(["s", a[0]]); if (n === failAt) { const e = new Error("boom"); e.code = code; throw e; } } return realFs.fsyncSync(...a); },
};
const s = await openStorage({ path: p, fs });
await s.mset(Array.from({length: 20}, (_, i) => [`seed${i}`, { i, text: "x".repeat(50) }]));
armed = true;
failAt = Number(process.argv[2] ?? 0);
code = process.argv[3] ?? "EIO";
const batch = Array.from({length: 50}, (_, i) => [`new${i}`, { i, text: "y".repeat(100) }]);
try { await s.mset(batch); console.log("mset ok"); } catch (e) { console.log("mset failed", e.code, e.retryable, e.recoveryAction, e.sqliteCode, e.message); }
armed = false;
console.log("calls", n, JSON.stringify(log));
try { await s.set("after", 1); console.log("after", await s.get("after"), await s.count()); } catch (e) { console.log("after failed", e.code, e.message); }
await s.dispose();
console.log(realFs.readdirSync(dir));
