// larder demo: a cache of UI component records, as a component registry keeps,
// in a local database file. Run with `make demo` (builds the package first);
// run it again to see what the first run kept. LARDER_DEMO_PATH picks the file.
import { openStorage, isStorageError } from "larderdb";

const path = process.env.LARDER_DEMO_PATH ?? "./larder-demo.sqlite";
const store = await openStorage({ path, maxSizeBytes: 64 * 1024 * 1024 });
console.log(`opened a larder store at ${path}`);

const kept = await store.keys();
if (kept.length > 0) {
  const runs = ((await store.get("demo:runs")) ?? 0) + 1;
  console.log(`kept from earlier runs: ${kept.length} entries, ${await store.getCurrentCacheSize()} bytes; this is run ${runs}`);
  console.log("      ", kept.join(", "));
  await store.set("demo:runs", runs);
} else {
  console.log("a new database: nothing kept yet (run `make demo` again to see the entries survive)");
  await store.set("demo:runs", 1);
}

const records = [
  ["component:react:button", { framework: "react", name: "button", files: ["button.tsx"] }, 100],
  ["component:react:card", { framework: "react", name: "card", files: ["card.tsx"] }, 150],
  ["component:vue:button", { framework: "vue", name: "button", files: ["Button.vue"] }, 120],
  ["block:react:dashboard-01", { framework: "react", name: "dashboard-01", files: ["page.tsx", "chart.tsx"] }, 200],
];
for (const [key, record, size] of records) {
  await store.set(key, record, { size });
  console.log(`set   ${key.padEnd(26)} size ${size}`);
}

console.log("get  ", "component:react:button", "->", await store.get("component:react:button"));
console.log("keys  prefix component:react: ->", await store.keys({ prefix: "component:react:" }));
console.log("mget ", await store.mget(["block:react:dashboard-01", "component:svelte:button"]));
console.log(`count ${await store.count()} entries, getCurrentCacheSize() = ${await store.getCurrentCacheSize()} bytes`);

// All or nothing: one bad value (a function cannot be stored) refuses the whole batch.
try {
  await store.mset([
    ["component:react:dialog", { framework: "react", name: "dialog" }],
    ["component:react:broken", { render: () => "<div/>" }],
    ["component:react:input", { framework: "react", name: "input" }],
  ]);
} catch (error) {
  if (!isStorageError(error)) throw error;
  console.log(`mset  refused: ${error.code} (${error.recoveryAction}) ${error.message}`);
}
console.log("      component:react:dialog written?", await store.has("component:react:dialog"));

await store.delete("component:react:button");
console.log(`delete component:react:button -> getCurrentCacheSize() = ${await store.getCurrentCacheSize()} bytes`);

await store.dispose();
console.log("disposed; isDisposed() =", store.isDisposed());
