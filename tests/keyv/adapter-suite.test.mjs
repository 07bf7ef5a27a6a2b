// keyv's official adapter suite (@keyv/test-suite) against larderdb/keyv, on
// a database file and on ":memory:", under three namespace mappings: keyv's
// default namespace ("keyv"), a chosen one, and none (larder's root
// namespace). Each Keyv the suite makes gets its own adapter over one store,
// as keyv sets the adapter's `namespace` per Keyv.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as vitest from "vitest";
import keyvTestSuite, { keyvIteratorTests } from "@keyv/test-suite";
import Keyv from "keyv";
import { openStorage } from "larderdb";
import { KeyvLarder } from "larderdb/keyv";

const dir = mkdtempSync(join(tmpdir(), "larder-keyv-suite-"));
const stores = {
  file: await openStorage({ path: join(dir, "suite.sqlite") }),
  ":memory:": await openStorage({ path: ":memory:" }),
};
vitest.afterAll(async () => {
  for (const store of Object.values(stores)) await store.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A Keyv whose namespace, when the suite gives none, is `namespace`. */
const keyvIn = (namespace) =>
  class extends Keyv {
    constructor(options) {
      super({ namespace, ...options });
    }
  };

const mappings = [
  { name: "keyv's default namespace", Keyv, iterates: true },
  { name: "namespace 'app'", Keyv: keyvIn("app"), iterates: true },
  // keyv's iterator strips everything up to the first ':' from each key when
  // it has no namespace (keyv 5.6.0), whatever the adapter: not run there.
  { name: "no namespace (larder's root)", Keyv: keyvIn(undefined), iterates: false },
];

for (const [storeName, store] of Object.entries(stores)) {
  for (const mapping of mappings) {
    vitest.describe(`${storeName}, ${mapping.name}`, () => {
      const adapter = () => new KeyvLarder(store);
      keyvTestSuite(vitest, mapping.Keyv, adapter);
      if (mapping.iterates) keyvIteratorTests(vitest, mapping.Keyv, adapter);
    });
  }
}
