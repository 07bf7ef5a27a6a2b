// A CommonJS TypeScript module requiring the package: compiled to
// require("larderdb"), which `module: nodenext` (TypeScript 5.8 and later)
// accepts for an ES module package, as Node 20.19 and later do.
import { openStorage, type Storage } from "larderdb";

interface Session {
  user: string;
  expires: number;
}

export async function remember(session: Session): Promise<Storage> {
  const store = await openStorage({ path: ":temp:" });
  await store.set("session", session);
  return store;
}
