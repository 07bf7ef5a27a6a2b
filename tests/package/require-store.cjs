// A CommonJS consumer: requires the package by name (Node's require() of ES
// modules), opens a file store in the directory it is given, writes, reads
// back, disposes, and prints what it read as one JSON line.
const path = require("node:path");
const { openStorage, isStorageError } = require("larderdb");

async function main(dir) {
  const store = await openStorage({ path: path.join(dir, "cjs.sqlite") });
  await store.set("user:1", { name: "Ada", roles: ["admin"] });
  const value = await store.get("user:1");
  const count = await store.count();
  await store.dispose();
  const refused = await store.get("user:1").catch((error) => isStorageError(error) && error.code);
  console.log(JSON.stringify({ value, count, disposed: store.isDisposed(), afterDispose: refused }));
}

main(process.argv[2]).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
