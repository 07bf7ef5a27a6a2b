// The Node entry's own option, and `await using` (Node types declare
// Symbol.asyncDispose and AsyncDisposable).
import * as fs from "node:fs";
import { openStorage } from "larderdb";

export async function nodeOnly(): Promise<void> {
  await using store = await openStorage({ path: ":temp:", fs, durability: "normal" });
  await store.set("k", 1);
}
