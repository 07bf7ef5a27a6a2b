// The health judge (js/health.ts, README "Health") over made-up readings:
// every check at and just on the better side of each level's threshold
// ("at or above" for queue, latency, errors and budget; "at or below" for
// storage and hitRatio), overrides of `healthThresholds`, checks with nothing
// to judge, the report's status as the worst check, and one recommendation,
// naming the numbers, exactly per check that is not HEALTHY. A seeded
// randomised run checks the same rules over 2,000 mixed readings.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assessHealth } from "../../pkg/internals.js";
import { seededRandom } from "./seeded-random.mjs";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const CHECK_ORDER = ["breaker", "queue", "latency", "errors", "budget", "storage", "hitRatio"];
const STATUSES = ["HEALTHY", "DEGRADED", "UNHEALTHY", "CRITICAL"];
const LEVELS = [
  ["degraded", "DEGRADED"],
  ["unhealthy", "UNHEALTHY"],
  ["critical", "CRITICAL"],
];

/** A reading where every check is HEALTHY or has nothing to judge; `change` edits it. */
function reading(change = (input) => input) {
  return change({
    snapshot: { queue: { depth: 0 }, breaker: { state: "CLOSED", opened: 0 }, storage: { sizeBytes: 0 }, cache: { evictions: 0 } },
    recent: { calls: 0, errors: 0, latencyP95Ms: null, hits: 0, misses: 0 },
    maxQueueLength: 1000,
    budgetBytes: null,
    freeBytes: null,
    location: "/data",
    breakerOptions: { failureThreshold: 5, recoveryTimeoutMs: 30_000 },
    thresholds: {},
    now: 1_234_567,
  });
}

/**
 * Per check: its default thresholds (as the README's table gives them), which
 * way is worse, a reading whose value is `value`, and a value just on the
 * better side of a threshold.
 */
const NUMERIC = {
  queue: {
    defaults: { degraded: 0.5, unhealthy: 0.8, critical: 0.95 },
    worse: "higher",
    set: (input, value) => ((input.snapshot.queue.depth = Math.round(value * 1000)), input),
    better: (threshold) => threshold - 0.001,
    shows: (threshold) => [`${Math.round(threshold * 1000)} of 1000`],
  },
  latency: {
    defaults: { degraded: 100, unhealthy: 500, critical: 2000 },
    worse: "higher",
    set: (input, value) => Object.assign(input, { recent: { ...input.recent, calls: 10, latencyP95Ms: value } }),
    better: (threshold) => threshold - 0.1,
    shows: (threshold) => [threshold >= 1000 ? `${threshold / 1000} s` : `${threshold} ms`],
  },
  errors: {
    defaults: { degraded: 0.01, unhealthy: 0.05, critical: 0.2 },
    worse: "higher",
    set: (input, value) => Object.assign(input, { recent: { ...input.recent, calls: 1000, errors: Math.round(value * 1000) } }),
    better: (threshold) => threshold - 0.001,
    shows: (threshold) => [`${Math.round(threshold * 1000)} of 1000 calls failed`],
  },
  budget: {
    defaults: { degraded: null, unhealthy: null, critical: null },
    worse: "higher",
    set: (input, value) => {
      input.budgetBytes = 1000;
      input.snapshot.storage.sizeBytes = Math.round(value * 1000);
      return input;
    },
    better: (threshold) => threshold - 0.001,
    shows: (threshold) => [`${Math.round(threshold * 1000)} B of its 1000 B budget`],
  },
  storage: {
    defaults: { degraded: GIB, unhealthy: 256 * MIB, critical: 64 * MIB },
    worse: "lower",
    set: (input, value) => Object.assign(input, { freeBytes: value }),
    better: (threshold) => threshold + 1,
    shows: (threshold) => [`/data`, threshold >= GIB ? `${threshold / GIB} GiB` : `${threshold / MIB} MiB`],
  },
  hitRatio: {
    defaults: { degraded: 0.5, unhealthy: 0.2, critical: 0.05 },
    worse: "lower",
    set: (input, value) => {
      const hits = Math.round(value * 1000);
      return Object.assign(input, { recent: { ...input.recent, calls: 1000, hits, misses: 1000 - hits } });
    },
    better: (threshold) => threshold + 0.001,
    shows: (threshold) => [`${Math.round(threshold * 1000)} of 1000 lookups hit`],
  },
};

/** An override for the budget, which has no default thresholds. */
const BUDGET_LEVELS = { degraded: 0.8, unhealthy: 0.9, critical: 0.95 };

const checkOf = (report, name) => report.checks.find((check) => check.name === name);

/** Asserts that only `name` is not HEALTHY, at `status`, with one recommendation. */
function assertOnly(report, name, status) {
  for (const check of report.checks) {
    assert.equal(check.status, check.name === name ? status : "HEALTHY", `${check.name}: ${check.message}`);
  }
  assert.equal(report.status, status);
  assert.equal(report.recommendations.length, status === "HEALTHY" ? 0 : 1, report.recommendations.join(" | "));
}

describe("a reading with nothing wrong", () => {
  test("every check is HEALTHY, in the documented order, with no recommendation", () => {
    const report = assessHealth(reading());
    assert.deepEqual(report.checks.map((check) => check.name), CHECK_ORDER);
    assert.equal(report.status, "HEALTHY");
    assert.deepEqual(report.recommendations, []);
    assert.equal(report.checkedAt, 1_234_567);
    for (const check of report.checks) assert.equal(typeof check.message, "string");
  });

  test("checks with nothing to judge (no calls, no lookups, no budget, unknown free space) are HEALTHY with value null", () => {
    const report = assessHealth(reading());
    for (const name of ["latency", "errors", "budget", "storage", "hitRatio"]) {
      assert.equal(checkOf(report, name).value, null, name);
      assert.equal(checkOf(report, name).status, "HEALTHY", name);
    }
    assert.equal(checkOf(report, "queue").value, 0);
    assert.equal(checkOf(report, "breaker").value, "CLOSED");
  });

  test("a budget at 100% is HEALTHY by default: eviction is what a budget is for", () => {
    const report = assessHealth(reading((input) => NUMERIC.budget.set(input, 1)));
    assert.equal(checkOf(report, "budget").value, 1);
    assertOnly(report, "budget", "HEALTHY");
  });
});

describe("each numeric check at each level's boundary", () => {
  for (const [name, rule] of Object.entries(NUMERIC)) {
    const thresholds = name === "budget" ? BUDGET_LEVELS : rule.defaults;
    const overrides = name === "budget" ? { budget: BUDGET_LEVELS } : {};
    LEVELS.forEach(([level, status], index) => {
      const threshold = thresholds[level];
      test(`${name} at ${threshold} (${rule.worse === "higher" ? "at or above" : "at or below"}) is ${status}`, () => {
        const report = assessHealth(reading((input) => ({ ...rule.set(input, threshold), thresholds: overrides })));
        const check = checkOf(report, name);
        assertOnly(report, name, status);
        assert.equal(check.threshold, threshold);
        for (const shown of rule.shows(threshold)) assert.ok(report.recommendations[0].includes(shown), `"${shown}" in: ${report.recommendations[0]}`);
      });
      const below = index === 0 ? "HEALTHY" : LEVELS[index - 1][1];
      test(`${name} just better than ${threshold} is ${below}`, () => {
        const report = assessHealth(reading((input) => ({ ...rule.set(input, rule.better(threshold)), thresholds: overrides })));
        assertOnly(report, name, below);
        const expectedThreshold = index === 0 ? thresholds.degraded : thresholds[LEVELS[index - 1][0]];
        assert.equal(checkOf(report, name).threshold, expectedThreshold);
      });
    });
  }
});

describe("the breaker", () => {
  test("OPEN is CRITICAL, and the recommendation names the failures, the place and the wait", () => {
    const report = assessHealth(reading((input) => ((input.snapshot.breaker = { state: "OPEN", opened: 2 }), input)));
    assertOnly(report, "breaker", "CRITICAL");
    assert.deepEqual([checkOf(report, "breaker").value, checkOf(report, "breaker").threshold], ["OPEN", "OPEN"]);
    const [advice] = report.recommendations;
    for (const shown of ["5 consecutive storage failures", "/data", "30 s", "CIRCUIT_OPEN", "opened 2 times"]) {
      assert.ok(advice.includes(shown), `"${shown}" in: ${advice}`);
    }
  });

  test("HALF_OPEN is DEGRADED", () => {
    const report = assessHealth(reading((input) => ((input.snapshot.breaker = { state: "HALF_OPEN", opened: 1 }), input)));
    assertOnly(report, "breaker", "DEGRADED");
    assert.deepEqual([checkOf(report, "breaker").value, checkOf(report, "breaker").threshold], ["HALF_OPEN", "HALF_OPEN"]);
    assert.match(report.recommendations[0], /half-open/);
  });

  test("CLOSED is HEALTHY, measured against HALF_OPEN; numbers given for the breaker change nothing", () => {
    const thresholds = { breaker: { degraded: 0, unhealthy: 0, critical: 0 } };
    const report = assessHealth(reading((input) => ({ ...input, thresholds })));
    assertOnly(report, "breaker", "HEALTHY");
    assert.deepEqual([checkOf(report, "breaker").value, checkOf(report, "breaker").threshold], ["CLOSED", "HALF_OPEN"]);
  });
});

describe("healthThresholds overrides", () => {
  test("an override replaces only the levels it names, of its own check", () => {
    const thresholds = { latency: { critical: 50 } };
    const report = assessHealth(reading((input) => ({ ...NUMERIC.latency.set(input, 60), thresholds })));
    assertOnly(report, "latency", "CRITICAL");
    assert.equal(checkOf(report, "latency").threshold, 50);
    const milder = assessHealth(reading((input) => ({ ...NUMERIC.latency.set(input, 40), thresholds })));
    assertOnly(milder, "latency", "HEALTHY");
    assert.equal(checkOf(milder, "latency").threshold, 100, "the default DEGRADED level stays");
  });

  test("an override can make a default-HEALTHY value reach a level (hitRatio, lower is worse)", () => {
    const thresholds = { hitRatio: { degraded: 0.9 } };
    const report = assessHealth(reading((input) => ({ ...NUMERIC.hitRatio.set(input, 0.85), thresholds })));
    assertOnly(report, "hitRatio", "DEGRADED");
  });
});

describe("the hitRatio recommendation", () => {
  const lowHits = (budgetBytes, evictions) =>
    assessHealth(reading((input) => {
      NUMERIC.hitRatio.set(input, 0.1);
      input.budgetBytes = budgetBytes;
      input.snapshot.cache.evictions = evictions;
      return input;
    })).recommendations[0];

  test("names the budget when it has evicted entries", () => {
    assert.match(lowHits(64 * 1024, 12), /12 entries were evicted for the 64 KiB budget/);
  });

  test("leaves the budget out when nothing was evicted, or there is none", () => {
    assert.doesNotMatch(lowHits(64 * 1024, 0), /budget/);
    assert.doesNotMatch(lowHits(null, 0), /budget/);
  });
});

describe("several checks at once", () => {
  test("the status is the worst, with one recommendation per unhealthy check, in check order", () => {
    const report = assessHealth(
      reading((input) => {
        NUMERIC.queue.set(input, 0.6);
        NUMERIC.storage.set(input, 10 * MIB);
        input.snapshot.breaker = { state: "HALF_OPEN", opened: 1 };
        return input;
      }),
    );
    assert.equal(report.status, "CRITICAL");
    assert.deepEqual(
      report.checks.map((check) => check.status),
      ["DEGRADED", "DEGRADED", "HEALTHY", "HEALTHY", "HEALTHY", "CRITICAL", "HEALTHY"],
    );
    assert.equal(report.recommendations.length, 3);
    assert.match(report.recommendations[0], /half-open/);
    assert.match(report.recommendations[1], /600 of 1000/);
    assert.match(report.recommendations[2], /10 MiB free at \/data/);
  });
});

/** The level a value reaches, computed here from the README's rules. */
function expectedStatus(value, thresholds, worse) {
  if (value === null) return "HEALTHY";
  const reached = (threshold) => threshold !== null && threshold !== undefined && (worse === "higher" ? value >= threshold : value <= threshold);
  for (const [level, status] of [...LEVELS].reverse()) if (reached(thresholds[level])) return status;
  return "HEALTHY";
}

describe("randomised readings (seed 20261206)", () => {
  test("2,000 readings: each status follows its thresholds, the report's is the worst, one recommendation per non-HEALTHY check", () => {
    const random = seededRandom(20261206);
    for (let round = 0; round < 2000; round += 1) {
      const input = reading((base) => {
        base.snapshot.breaker = { state: random.pick(["CLOSED", "CLOSED", "OPEN", "HALF_OPEN"]), opened: random.int(0, 3) };
        base.snapshot.queue.depth = random.int(0, 1000);
        const calls = random.int(0, 50);
        const hits = random.int(0, calls);
        base.recent = { calls, errors: random.int(0, calls), latencyP95Ms: calls ? random.int(0, 3000) : null, hits, misses: random.int(0, calls - hits) };
        base.budgetBytes = random.chance(0.5) ? 1000 : null;
        base.snapshot.storage.sizeBytes = random.int(0, 1000);
        base.freeBytes = random.chance(0.8) ? random.int(0, 2 * GIB) : null;
        base.thresholds = random.chance(0.5) ? { budget: BUDGET_LEVELS, latency: { degraded: random.int(1, 3000) } } : {};
        return base;
      });
      const report = assessHealth(input);
      const { recent, snapshot, budgetBytes } = input;
      const lookups = recent.hits + recent.misses;
      const values = {
        queue: snapshot.queue.depth / 1000,
        latency: recent.latencyP95Ms,
        errors: recent.calls ? recent.errors / recent.calls : null,
        budget: budgetBytes ? snapshot.storage.sizeBytes / budgetBytes : null,
        storage: input.freeBytes,
        hitRatio: lookups ? recent.hits / lookups : null,
      };
      for (const [name, rule] of Object.entries(NUMERIC)) {
        assert.equal(checkOf(report, name).value, values[name], `round ${round} ${name} value`);
        const thresholds = { ...rule.defaults, ...input.thresholds[name] };
        const check = checkOf(report, name);
        assert.equal(check.status, expectedStatus(check.value, thresholds, rule.worse), `round ${round} ${name} ${check.value}`);
      }
      const breakerStatus = { CLOSED: "HEALTHY", HALF_OPEN: "DEGRADED", OPEN: "CRITICAL" }[input.snapshot.breaker.state];
      assert.equal(checkOf(report, "breaker").status, breakerStatus, `round ${round} breaker`);
      const worst = report.checks.reduce((max, check) => Math.max(max, STATUSES.indexOf(check.status)), 0);
      assert.equal(report.status, STATUSES[worst], `round ${round}`);
      const unhealthy = report.checks.filter((check) => check.status !== "HEALTHY").length;
      assert.equal(report.recommendations.length, unhealthy, `round ${round}`);
    }
  });
});
