import assert from "node:assert/strict";
import {
  initSearch,
  planSearch,
  runSearchSync,
  type SearchAlgorithm,
  searchResult,
  searchUpdate,
  startOffsets,
} from "../backends/search_rules.ts";
import { rng } from "./_helpers.ts";

const SIZES = [16, 511, 1024] as const;

/**
 * Targets spread over 1..1021: random integers, plus a few values between
 * codes (never at .5) whose nearest code is the expected answer.
 */
function targets(n: number, seed: number): Float64Array {
  const next = rng(seed);
  const out = new Float64Array(n);
  const between = [100.25, 300.7, 511.1, 777.9];
  for (let i = 0; i < n; i++) {
    out[i] = i < between.length && n > 8 ? between[i]! : 1 + Math.floor(next() * 1021);
  }
  return out;
}

const identity = (c: Int32Array) => Float64Array.from(c);
const invertedIdentity = (c: Int32Array) => Float64Array.from(c, (x) => 1022 - x);

function offsetsFor(algorithm: SearchAlgorithm, n: number, key = 1): Int32Array | undefined {
  return startOffsets(algorithm, key, 0, n);
}

function assertRecovers(algorithm: SearchAlgorithm, n: number, seed: number): void {
  const t = targets(n, seed);
  const expected = Int32Array.from(t, (x) => Math.round(x));
  const plan = planSearch(algorithm, 0, 1022);
  const out = runSearchSync(plan, false, t, n, identity, offsetsFor(algorithm, n, seed));
  assert.deepEqual(out.codes, expected);
  assert.ok(out.success.every((s) => s === 1));
  assert.equal(out.steps, plan.measurements);
}

function assertRecoversInverted(algorithm: SearchAlgorithm, n: number, seed: number): void {
  const t = targets(n, seed);
  const expected = Int32Array.from(t, (x) => Math.round(1022 - x));
  const plan = planSearch(algorithm, 0, 1022);
  const out = runSearchSync(plan, true, t, n, invertedIdentity, offsetsFor(algorithm, n, seed));
  assert.deepEqual(out.codes, expected);
  assert.ok(out.success.every((s) => s === 1));
}

Deno.test("plans follow calix's step counts, starts and increments", async (t) => {
  await t.step("binary search over 0..1022 makes 12 measurements from 511", () => {
    const plan = planSearch({ name: "binary" }, 0, 1022);
    assert.equal(plan.measurements, 12);
    assert.equal(plan.start, 511);
    assert.equal(plan.best, 3);
    assert.equal(plan.noise, 0);
    assert.deepEqual(plan.increments.slice(0, 10), [256, 128, 64, 32, 16, 8, 4, 2, 1, 1]);
    assert.equal(plan.increments.length, 12);
  });
  await t.step("noisy binary search over 0..1022 makes 13 measurements, best of 6", () => {
    const plan = planSearch({ name: "noisy-binary" }, 0, 1022);
    assert.equal(plan.measurements, 13);
    assert.equal(plan.start, 511);
    assert.equal(plan.best, 6);
    assert.equal(plan.noise, 5);
    assert.deepEqual(
      plan.increments.slice(0, plan.measurements - 2),
      [256, 128, 64, 32, 16, 8, 5, 4, 2, 1, 1],
    );
  });
  await t.step("noisy binary search over 0..1000 starts at 500", () => {
    const plan = planSearch({ name: "noisy-binary", noise: 5 }, 0, 1000);
    assert.equal(plan.start, 500);
    assert.equal(plan.measurements, 13);
    assert.deepEqual(
      plan.increments.slice(0, plan.measurements - 2),
      [251, 126, 63, 32, 16, 8, 5, 4, 2, 1, 1],
    );
  });
  await t.step("smaller ranges match calix's table", () => {
    const coba = planSearch({ name: "binary" }, 0, 255);
    assert.equal(coba.measurements, 10);
    assert.equal(coba.start, 128);
    assert.deepEqual(coba.increments.slice(0, 8), [64, 32, 16, 8, 4, 2, 1, 1]);
    const cadc = planSearch({ name: "binary" }, -128, 127);
    assert.equal(cadc.measurements, 10);
    assert.equal(cadc.start, 0);
    assert.deepEqual(cadc.increments.slice(0, 8), [64, 32, 16, 8, 4, 2, 1, 1]);
    const stp = planSearch({ name: "binary" }, 0, 15);
    assert.equal(stp.measurements, 6);
    assert.equal(stp.start, 8);
  });
  await t.step("noise grows the history by ceil(log2(noise))", () => {
    for (const [noise, best] of [[1, 3], [2, 4], [3, 5], [4, 5], [5, 6], [29, 8]] as const) {
      assert.equal(planSearch({ name: "noisy-binary", noise }, 0, 1022).best, best);
    }
  });
  await t.step("linear prediction measures once at the probe", () => {
    const plan = planSearch({ name: "linear-prediction", probe: 0, offset: -127 }, -128, 127);
    assert.equal(plan.measurements, 1);
    assert.equal(plan.start, 0);
    assert.equal(plan.best, 1);
    assert.deepEqual(plan.increments, []);
  });
});

Deno.test("bad plans are rejected with a RangeError", async (t) => {
  await t.step("a range of width 0", () => {
    assert.throws(() => planSearch({ name: "binary" }, 5, 5), RangeError);
    assert.throws(() => planSearch({ name: "binary" }, 5, 4), RangeError);
  });
  await t.step("a noise amplitude of 0 or a negative one", () => {
    assert.throws(() => planSearch({ name: "noisy-binary", noise: 0 }, 0, 1022), RangeError);
    assert.throws(() => planSearch({ name: "noisy-binary", noise: -1 }, 0, 1022), RangeError);
  });
  await t.step("a noise amplitude above the first increment is excessive", () => {
    assert.doesNotThrow(() => planSearch({ name: "noisy-binary", noise: 256 }, 0, 1022));
    assert.throws(
      () => planSearch({ name: "noisy-binary", noise: 257 }, 0, 1022),
      (e: unknown) => e instanceof RangeError && /excessive noise/i.test(e.message),
    );
  });
  await t.step("non-integer bounds, noise or probe", () => {
    assert.throws(() => planSearch({ name: "binary" }, 0.5, 10), RangeError);
    assert.throws(() => planSearch({ name: "binary" }, 0, Infinity), RangeError);
    assert.throws(() => planSearch({ name: "noisy-binary", noise: 2.5 }, 0, 1022), RangeError);
    assert.throws(() => planSearch({ name: "linear-prediction", probe: 1.5 }, 0, 10), RangeError);
    assert.throws(() => planSearch({ name: "linear-prediction", probe: 11 }, 0, 10), RangeError);
  });
});

Deno.test("binary search recovers an identity map exactly", async (t) => {
  for (const n of SIZES) {
    await t.step(`for ${n} instances`, () => assertRecovers({ name: "binary" }, n, n));
    await t.step(`for ${n} instances of an inverted map`, () => {
      assertRecoversInverted({ name: "binary" }, n, n + 1);
    });
  }
});

Deno.test("noisy binary search recovers an identity map exactly for noise 1..29", async (t) => {
  for (const n of SIZES) {
    await t.step(`for ${n} instances`, () => {
      for (let noise = 1; noise <= 29; noise++) {
        assertRecovers({ name: "noisy-binary", noise }, n, 1000 * noise + n);
        assertRecoversInverted({ name: "noisy-binary", noise }, n, 1000 * noise + n + 1);
      }
    });
  }
});

Deno.test("linear prediction recovers an identity map exactly", async (t) => {
  for (const n of SIZES) {
    await t.step(`for ${n} instances with slope 1`, () => {
      assertRecovers({ name: "linear-prediction", probe: 511 }, n, n + 2);
      assertRecovers({ name: "linear-prediction", probe: 200, offset: 17 }, n, n + 3);
    });
    await t.step(`for ${n} instances of an inverted map with slope -1`, () => {
      const algorithm = { name: "linear-prediction", probe: 511, slope: -1 } as const;
      const target = targets(n, n + 4);
      const plan = planSearch(algorithm, 0, 1022);
      const out = runSearchSync(plan, false, target, n, invertedIdentity);
      assert.deepEqual(out.codes, Int32Array.from(target, (x) => Math.round(1022 - x)));
      assert.ok(out.success.every((s) => s === 1));
      assert.equal(out.steps, 1);
    });
  }
  await t.step("a CADC-style offset prediction is target minus reading", () => {
    const plan = planSearch({ name: "linear-prediction", probe: 0, offset: -127 }, -128, 127);
    const out = runSearchSync(plan, false, 0, 3, () => [10, -20, 0]);
    assert.deepEqual([...out.codes], [-10, 20, 0]);
  });
  await t.step("rounding is half to even", () => {
    const plan = planSearch({ name: "linear-prediction", probe: 0 }, -10, 10);
    const out = runSearchSync(plan, false, [0.5, 1.5, -0.5, 2.5, -1.5], 5, () => [0, 0, 0, 0, 0]);
    assert.deepEqual([...out.codes], [0, 2, 0, 2, -2]);
  });
});

Deno.test("searches whose answer lies at a bound end there and report failure", async (t) => {
  const algorithms: SearchAlgorithm[] = [
    { name: "binary" },
    { name: "noisy-binary", noise: 5 },
    { name: "linear-prediction", probe: 511 },
  ];
  for (const algorithm of algorithms) {
    await t.step(`for ${algorithm.name}`, () => {
      const target = [0, 1022, -50, 5000, 1, 1021, 400];
      const n = target.length;
      const plan = planSearch(algorithm, 0, 1022);
      const out = runSearchSync(plan, false, target, n, identity, offsetsFor(algorithm, n));
      assert.deepEqual([...out.codes], [0, 1022, 0, 1022, 1, 1021, 400]);
      assert.deepEqual([...out.success], [0, 0, 0, 0, 1, 1, 1]);
    });
  }
  await t.step("an always-infinite reading drives the code down to the nudged mirror point", () => {
    // All history distances are Infinity, so the first slot (the last
    // measurement, lower + 1 after the bound nudge) wins, as in calix: the
    // search then reports success although the reading never came in range.
    const plan = planSearch({ name: "binary" }, 0, 1022);
    const out = runSearchSync(plan, false, 500, 2, (c) => [Infinity, c[1]!]);
    assert.deepEqual([...out.codes], [1, 500]);
    assert.deepEqual([...out.success], [1, 1]);
    const lp = planSearch({ name: "linear-prediction", probe: 511 }, 0, 1022);
    const pred = runSearchSync(lp, false, 500, 1, () => [Infinity]);
    assert.deepEqual([...pred.codes], [0]);
  });
});

Deno.test("noisy binary search tolerates measurement noise", () => {
  // Not a guarantee: over 200 seeds about 0.1 % of instances end 3 codes away
  // (a far code can read closer than the right one); this seed ends all
  // within ±2, and the stream is deterministic.
  const n = 512;
  const next = rng(99);
  const target = Float64Array.from({ length: n }, () => 20 + Math.floor(next() * 983));
  const algorithm = { name: "noisy-binary", noise: 5 } as const;
  const plan = planSearch(algorithm, 0, 1022);
  const measure = (c: Int32Array) => Float64Array.from(c, (x) => x + (next() * 4 - 2));
  const out = runSearchSync(plan, false, target, n, measure, startOffsets(algorithm, 3, 0, n));
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(out.codes[i]! - target[i]!) <= 2, `instance ${i}`);
  }
});

Deno.test("start offsets are bounded and deterministic", async (t) => {
  await t.step("they lie within ±noise", () => {
    for (const noise of [1, 5, 29]) {
      const o = startOffsets({ name: "noisy-binary", noise }, 12, 3, 1024)!;
      assert.ok(o.every((x) => x >= -noise && x <= noise));
      assert.ok(o.some((x) => x === noise) && o.some((x) => x === -noise));
    }
  });
  await t.step("they depend only on key, counter and instance", () => {
    const a = { name: "noisy-binary" } as const;
    assert.deepEqual(startOffsets(a, 5, 2, 64), startOffsets(a, 5, 2, 64));
    assert.deepEqual(startOffsets(a, 5, 2, 64)!.slice(0, 16), startOffsets(a, 5, 2, 16));
    assert.notDeepEqual(startOffsets(a, 5, 2, 64), startOffsets(a, 6, 2, 64));
    assert.notDeepEqual(startOffsets(a, 5, 2, 64), startOffsets(a, 5, 3, 64));
  });
  await t.step("other algorithms have none", () => {
    assert.equal(startOffsets({ name: "binary" }, 5, 2, 64), undefined);
    assert.equal(startOffsets({ name: "linear-prediction", probe: 0 }, 5, 2, 64), undefined);
  });
  await t.step("they shift and clip the start codes", () => {
    const plan = planSearch({ name: "noisy-binary", noise: 4 }, 0, 15);
    assert.deepEqual([...initSearch(plan, false, 3, [-4, 0, 4]).codes], [4, 8, 12]);
    assert.deepEqual([...initSearch(plan, false, 2, [-20, 20]).codes], [0, 15]);
  });
});

Deno.test("search state is handled purely and validated", async (t) => {
  await t.step("searchUpdate does not mutate its input state", () => {
    const plan = planSearch({ name: "noisy-binary", noise: 5 }, 0, 1022);
    const n = 32;
    let state = initSearch(plan, false, n, startOffsets(plan.algorithm, 1, 0, n));
    const target = targets(n, 7);
    while (!state.done) {
      const codes = state.codes.slice();
      const hc = state.histCodes.slice();
      const hd = state.histDist.slice();
      const step = state.step;
      const next = searchUpdate(state, identity(state.codes), target);
      assert.deepEqual(state.codes, codes);
      assert.deepEqual(state.histCodes, hc);
      assert.deepEqual(state.histDist, hd);
      assert.equal(state.step, step);
      assert.equal(next.step, step + 1);
      state = next;
    }
  });
  await t.step("a finished search reports its history's best code", () => {
    const plan = planSearch({ name: "binary" }, 0, 15);
    const out = runSearchSync(plan, false, 5, 1, identity);
    assert.deepEqual([...out.codes], [5]);
    assert.equal(out.steps, 6);
  });
  await t.step("ties go to the most recent measurement", () => {
    // Measured 8, 4, 6, 5, 6, 4: history slots 2, 1, 0 hold 5, 6, 4 and the
    // codes 5 and 6 tie at distance 0.5; slot 1 (measured later) wins.
    const plan = planSearch({ name: "binary" }, 0, 15);
    const out = runSearchSync(plan, false, 5.5, 1, identity);
    assert.deepEqual([...out.codes], [6]);
  });
  await t.step("the mirror step is nudged off a bound", () => {
    const seen: number[] = [];
    const record = (c: Int32Array) => {
      seen.push(c[0]!);
      return identity(c);
    };
    const plan = planSearch({ name: "binary" }, 0, 16);
    assert.deepEqual([...runSearchSync(plan, false, -3, 1, record).codes], [0]);
    assert.deepEqual(seen, [8, 3, 0, 0, 0, 0, 1]);
    seen.length = 0;
    assert.deepEqual([...runSearchSync(plan, false, 99, 1, record).codes], [16]);
    assert.deepEqual(seen, [8, 13, 16, 16, 16, 16, 15]);
  });
  await t.step("misuse throws a RangeError", () => {
    const plan = planSearch({ name: "binary" }, 0, 15);
    const state = initSearch(plan, false, 2);
    assert.throws(() => searchUpdate(state, [1], 3), RangeError);
    assert.throws(() => searchUpdate(state, [1, 2], [3]), RangeError);
    assert.throws(() => searchResult(state), RangeError);
    assert.throws(() => initSearch(plan, false, 0), RangeError);
    const noisy = planSearch({ name: "noisy-binary", noise: 2 }, 0, 15);
    assert.throws(() => initSearch(noisy, false, 2), RangeError);
    assert.throws(() => initSearch(noisy, false, 2, [0]), RangeError);
    let done = state;
    while (!done.done) done = searchUpdate(done, identity(done.codes), 3);
    assert.throws(() => searchUpdate(done, [1, 2], 3), RangeError);
    assert.deepEqual([...searchResult(done).codes], [3, 3]);
  });
});

/** |code − expected| over instances, sorted. */
function codeErrors(codes: Int32Array, expected: ArrayLike<number>): number[] {
  return Array.from(codes, (c, i) => Math.abs(c - expected[i]!)).sort((a, b) => a - b);
}

Deno.test("the secant search plans a fixed, short schedule", async (t) => {
  await t.step("6 measurements over 0..1022, 5 over 0..255, probes a quarter away", () => {
    const plan = planSearch({ name: "secant" }, 0, 1022);
    assert.equal(plan.measurements, 6);
    assert.equal(plan.start, 511);
    assert.deepEqual(plan.increments, [256]);
    assert.equal(plan.best, 6);
    assert.equal(plan.span, 16);
    assert.equal(plan.window, 16);
    assert.equal(planSearch({ name: "secant" }, 0, 255).measurements, 5);
    assert.equal(planSearch({ name: "secant", measurements: 9 }, 0, 1022).measurements, 9);
  });
  await t.step("bad settings are RangeErrors naming them", () => {
    assert.throws(() => planSearch({ name: "secant", measurements: 2 }, 0, 1022), /3\.\.16/);
    assert.throws(() => planSearch({ name: "secant", measurements: 17 }, 0, 1022), /3\.\.16/);
    assert.throws(
      () => planSearch({ name: "secant", scale: "log" as "linear" }, 0, 1022),
      /scale must be "linear" or "reciprocal"/,
    );
    assert.throws(
      () => planSearch({ name: "secant", limits: [5, 5] }, 0, 1022),
      /limits must be a pair/,
    );
  });
});

Deno.test("the secant search recovers identity maps exactly in 6 measurements", async (t) => {
  for (const n of SIZES) {
    await t.step(`for ${n} instances`, () => assertRecovers({ name: "secant" }, n, n + 5));
    await t.step(`for ${n} instances of an inverted map`, () => {
      assertRecoversInverted({ name: "secant" }, n, n + 6);
    });
  }
  await t.step("on a negative range with 3..16 measurements", () => {
    const target = Float64Array.from({ length: 200 }, (_, i) => -120 + i * 1.2);
    for (let m = 4; m <= 16; m++) {
      const plan = planSearch({ name: "secant", measurements: m }, -128, 127);
      const out = runSearchSync(plan, false, target, target.length, identity);
      assert.deepEqual(out.codes, Int32Array.from(target, (x) => Math.round(x)), `m = ${m}`);
    }
  });
  await t.step("a reciprocal map on the reciprocal scale", () => {
    // τ = 2000 / (code + 40): the reciprocal grows linearly, so two probes suffice.
    const tau = (c: number) => 2000 / (c + 40);
    const codes = Float64Array.from({ length: 500 }, (_, i) => 10 + 2 * i);
    const target = Float64Array.from(codes, tau);
    const plan = planSearch({ name: "secant", scale: "reciprocal" }, 0, 1022);
    const out = runSearchSync(plan, true, target, 500, (c) => Float32Array.from(c, tau));
    assert.deepEqual(out.codes, Int32Array.from(codes));
  });
});

Deno.test("the secant search converges on a u^0.9 map and under 2 LSB of read noise", async (t) => {
  const n = 2000;
  const next = rng(5);
  const target = Float64Array.from({ length: n }, () => 20 + Math.floor(next() * 983));
  await t.step("u^0.9: exact for 98 %, never more than 1 code off", () => {
    const map = (c: number) => 1022 ** 0.1 * c ** 0.9;
    const plan = planSearch({ name: "secant" }, 0, 1022);
    const out = runSearchSync(
      plan,
      false,
      Float64Array.from(target, map),
      n,
      (c) => Float32Array.from(c, map),
    );
    const e = codeErrors(out.codes, target);
    assert.ok(e.filter((x) => x === 0).length >= 0.98 * n, `${e.filter((x) => x === 0).length}`);
    assert.ok(e.at(-1)! <= 1, `max ${e.at(-1)}`);
  });
  await t.step(
    "read noise of 2 LSB: as close as noisy binary search with half the readings",
    () => {
      const noisy = (seed: number) => {
        const r = rng(seed);
        return (c: Int32Array) =>
          Float64Array.from(
            c,
            (x) => x + 2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(7 * r()),
          );
      };
      const secant = runSearchSync(
        planSearch({ name: "secant" }, 0, 1022),
        false,
        target,
        n,
        noisy(1),
      );
      const nb = { name: "noisy-binary" } as const;
      const binary = runSearchSync(
        planSearch(nb, 0, 1022),
        false,
        target,
        n,
        noisy(1),
        startOffsets(nb, 1, 0, n),
      );
      const es = codeErrors(secant.codes, target);
      const eb = codeErrors(binary.codes, target);
      assert.equal(secant.steps, 6);
      assert.equal(binary.steps, 13);
      const p90 = (e: number[]) => e[Math.floor(0.9 * e.length)]!;
      assert.ok(p90(es) <= 3 && p90(es) <= p90(eb), `p90 ${p90(es)} vs ${p90(eb)}`);
      assert.ok(es[n >> 1]! <= 1, `median ${es[n >> 1]}`);
      assert.ok(secant.success.every((s) => s === 1));
    },
  );
});

Deno.test("the secant search fails at a bound where a target cannot be reached", async (t) => {
  await t.step("a flat map ends on the bound it points to", () => {
    const plan = planSearch({ name: "secant" }, 0, 1022);
    const out = runSearchSync(plan, false, [80, 20], 2, () => [50, 50]);
    assert.deepEqual([...out.codes], [1022, 0]);
    assert.deepEqual([...out.success], [0, 0]);
  });
  await t.step("targets beyond the map's range end on its bounds", () => {
    const plan = planSearch({ name: "secant" }, 0, 1022);
    const target = [0, 1022, -50, 5000, 1, 1021, 400];
    const out = runSearchSync(plan, false, target, target.length, identity);
    assert.deepEqual([...out.codes], [0, 1022, 0, 1022, 1, 1021, 400]);
    assert.deepEqual([...out.success], [0, 0, 0, 0, 1, 1, 1]);
  });
  await t.step("NaN readings everywhere end on the bound the binary searches would", () => {
    const plan = planSearch({ name: "secant" }, 0, 1022);
    const up = runSearchSync(plan, false, 300, 1, () => [NaN]);
    const down = runSearchSync(plan, true, 300, 1, () => [NaN]);
    assert.deepEqual([...up.codes, ...down.codes], [1022, 0]);
  });
});

Deno.test("the secant search bisects past sentinel readings", async (t) => {
  const n = 600;
  const target = Float64Array.from({ length: n }, (_, i) => 330 + i);
  await t.step("a floating membrane reading 0 below code 300, declared as a limit", () => {
    const plan = planSearch({ name: "secant", limits: [0, 255] }, 0, 1022);
    const t2 = Float64Array.from(target, (x) => x / 4);
    const out = runSearchSync(
      plan,
      false,
      t2,
      n,
      (c) => Float64Array.from(c, (x) => x < 300 ? 0 : x / 4),
    );
    assert.deepEqual(out.codes, Int32Array.from(target));
  });
  await t.step("an overflowed counter reading 65025 below code 300, declared (inverted)", () => {
    const plan = planSearch({ name: "secant", limits: [0, 65025] }, 0, 1022);
    const out = runSearchSync(
      plan,
      true,
      Float64Array.from(target, (x) => 1022 - x),
      n,
      (c) => Float64Array.from(c, (x) => x < 300 ? 65025 : 1022 - x),
    );
    assert.deepEqual(out.codes, Int32Array.from(target));
  });
  await t.step("±Infinity and NaN beyond code 960", () => {
    const plan = planSearch({ name: "secant" }, 0, 1022);
    const out = runSearchSync(
      plan,
      false,
      target,
      n,
      (c) => Float64Array.from(c, (x) => x > 960 ? (x % 2 ? Infinity : NaN) : x),
    );
    assert.deepEqual(out.codes, Int32Array.from(target));
  });
  await t.step("readings clamped at the measurement's limits count for their side only", () => {
    // A CADC that rails at 0 and 255: the map saturates steeply on both sides.
    const map = (x: number) => Math.min(255, Math.max(0, 4 * (x - 400)));
    const t2 = Float64Array.from({ length: 200 }, (_, i) => 20 + i);
    const expected = Int32Array.from(t2, (v) => Math.round(v / 4 + 400));
    const limited = planSearch({ name: "secant", limits: [0, 255] }, 0, 1022);
    const out = runSearchSync(limited, false, t2, t2.length, (c) => Float64Array.from(c, map));
    const e = codeErrors(out.codes, expected);
    assert.ok(e.at(-1)! <= 1, `max ${e.at(-1)}`);
  });
});
