// The one line larderdb needs with Vite: its dev server's dependency
// optimiser would bundle larderdb into .vite/deps, away from the wasm module
// and worker script it loads from beside itself. `vite build` needs nothing.
export default {
  optimizeDeps: { exclude: ["larderdb"] },
};
