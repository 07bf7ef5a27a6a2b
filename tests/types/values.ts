// What the published types accept and refuse as values, compiled against the
// built package by name (see tsconfig.*.json): interfaces and type aliases of
// JSON data are accepted; functions, Date, Map, Set, undefined and nested
// Uint8Arrays are refused. Each `@ts-expect-error` fails the compile if its
// line stops being an error.
import { openStorage, isStorageError, type Entries, type StorageValue, type StorageError } from "larderdb";

interface User {
  id: number;
  name: string;
  nickname?: string;
  roles: readonly string[];
  address: { city: string; lines: string[] };
}
type Point = { x: number; y: number };
interface Event {
  name: string;
  at: Date;
}
interface WithMethod {
  id: number;
  greet(): string;
}
interface WithUndefined {
  id: number;
  gone: undefined;
}

const tag: unique symbol = Symbol("tag");
const user: User = { id: 1, name: "Ada", roles: ["admin"], address: { city: "London", lines: [] } };

export async function accepted(): Promise<void> {
  const store = await openStorage();
  await store.set("user:1", user);
  await store.set("point", { x: 1, y: 2 } satisfies Point);
  await store.set("mixed", { a: 1, b: [1, "x", null, { c: true }] });
  await store.set("bytes", new Uint8Array([1, 2, 3]));
  await store.set("text", "hello", { ttlMs: 1_000 });
  await store.set("nothing", null);
  const read: User | undefined = await store.get<User>("user:1");
  const city: string | undefined = read?.address.city;
  const any: StorageValue | undefined = await store.get("user:1");
  const users: Array<User | undefined> = await store.mget<User>(["user:1", "user:2"]);
  await store.mset([["user:1", user], ["user:2", user]]);
  await store.mset(new Map([["user:1", user]]));
  await store.mset({ "user:1": user });
  await store.mset([["a", 1], ["b", "x"]]);
  const entries: Entries<User> = { "user:3": user };
  await store.mset(entries, { ttlMs: 60_000 });
  const loaded: User = await store.getOrSet("user:4", async () => user);
  const loadedNow: Point = await store.getOrSet("point:2", () => ({ x: 0, y: 0 }));
  await store.namespace("people").set("user:1", user);
  try {
    await store.set("bad", JSON.parse("{}") as unknown as User);
  } catch (error) {
    if (isStorageError(error)) {
      const code: StorageError["code"] = error.code;
      void code;
    }
  }
  void [city, any, users, loaded, loadedNow];
  await store.dispose();
}

export async function refused(): Promise<void> {
  const store = await openStorage();
  // @ts-expect-error a function is not a value
  await store.set("f", () => 1);
  // @ts-expect-error Date does not read back
  await store.set("d", new Date());
  // @ts-expect-error Map does not read back
  await store.set("m", new Map([["a", 1]]));
  // @ts-expect-error Set does not read back
  await store.set("s", new Set([1]));
  // @ts-expect-error undefined is not a value
  await store.set("u", undefined);
  // @ts-expect-error undefined inside a value is refused too
  await store.set("u", { a: undefined });
  // @ts-expect-error an array hole or undefined element
  await store.set("u", [1, undefined]);
  // @ts-expect-error bigint is not JSON
  await store.set("n", { n: 1n });
  // @ts-expect-error a symbol-keyed property
  await store.set("k", { [tag]: 1 });
  // @ts-expect-error a Uint8Array only at the top level
  await store.set("b", { bytes: new Uint8Array(1) });
  // @ts-expect-error an interface with a Date member
  await store.get<Event>("e");
  // @ts-expect-error an interface with a method
  await store.get<WithMethod>("w");
  // @ts-expect-error a required undefined member
  await store.get<WithUndefined>("w");
  // @ts-expect-error a Map
  await store.mget<Map<string, number>>(["m"]);
  // @ts-expect-error a Date in entries
  await store.mset([["d", new Date()]]);
  // @ts-expect-error a function in entries
  await store.mset({ f: () => 1 });
  // @ts-expect-error a loader's Map
  await store.getOrSet("m", async () => new Map<string, number>());
  // @ts-expect-error a loader's undefined
  await store.getOrSet("u", () => undefined);
  await store.dispose();
}
