// The browser entry: an OPFS name, and an explicit dispose (this project's
// libs have no AsyncDisposable, as a plain ES2022 + DOM project's do not).
import { openStorage } from "larderdb";

export async function browserOnly(): Promise<void> {
  const store = await openStorage({ path: "app-cache" });
  await store.set("k", { seen: true });
  await store[Symbol.asyncDispose]();
}
