// Run settings from the environment, shared by the Node and browser runners.
//   LARDER_BENCH_QUICK=1     one repetition at a tenth of the sizes (development)
//   LARDER_BENCH_REPS=n      repetitions (default 5; the median is reported)
//   LARDER_BENCH_ROUNDS=n    rounds of each metering process, two per repetition (what metrics cost; default 2)
//   LARDER_BENCH_ENGINES=a,b only these engines

export const quick = process.env.LARDER_BENCH_QUICK === "1";

export function repetitions() {
  const reps = Number(process.env.LARDER_BENCH_REPS ?? (quick ? 1 : 5));
  if (!Number.isInteger(reps) || reps < 1) throw new Error("LARDER_BENCH_REPS must be a positive integer");
  return reps;
}

/** How many rounds metering.mjs runs for each metered row, per repetition. */
export function meteringRounds() {
  const rounds = Number(process.env.LARDER_BENCH_ROUNDS ?? (quick ? 1 : 2));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error("LARDER_BENCH_ROUNDS must be a positive integer");
  return rounds;
}

/** How much smaller than the sizes this run is: `base` times 10 when quick. */
export const sizeDivisor = (base) => (quick ? base * 10 : base);

/** The engines of `all` named in LARDER_BENCH_ENGINES ("a,b"), or all of them. */
export function selectEngines(all) {
  const list = process.env.LARDER_BENCH_ENGINES;
  if (!list) return all;
  const ids = list.split(",").map((id) => id.trim()).filter(Boolean);
  const unknown = ids.filter((id) => !all.some((engine) => engine.id === id));
  if (unknown.length > 0) {
    throw new Error(`unknown engine ${unknown.join(", ")}; known: ${all.map((engine) => engine.id).join(", ")}`);
  }
  return all.filter((engine) => ids.includes(engine.id));
}
