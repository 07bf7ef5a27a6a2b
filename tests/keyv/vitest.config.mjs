import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["*.test.mjs"],
    // larderdb resolves to the built package (../../pkg): Node loads it as
    // an app would, instead of vite transforming it.
    server: { deps: { external: [/\/pkg\//] } },
  },
});
