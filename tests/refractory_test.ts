import assert from "node:assert/strict";
import {
  chooseScale,
  clockPeriod,
  MAX_REFRACTORY_COUNTER,
  MAX_RESET_HOLDOFF,
  type RefractorySettings,
  refractorySettings,
  refractoryTimesOf,
} from "../calib/refractory.ts";
import { rng } from "./_helpers.ts";

const N = 512;
const US = 1e-6;

function uniform(seconds: number): Float64Array {
  return new Float64Array(N).fill(seconds);
}

function periodOf(s: RefractorySettings, i: number): number {
  return clockPeriod(s.input_clock[i] === 1 ? s.clock_scale_fast : s.clock_scale_slow);
}

/** calix's test criteria: refractory time within 1.1 periods, holdoff within 2.1 (slow clock). */
function assertRealizes(tau: Float64Array, holdoff: Float64Array, s: RefractorySettings): void {
  const actual = refractoryTimesOf(s);
  for (let i = 0; i < tau.length; i++) {
    const counter = s.refractory_counter[i]!;
    const rh = s.reset_holdoff[i]!;
    const p = periodOf(s, i);
    assert.ok(counter >= 1 && counter <= MAX_REFRACTORY_COUNTER, `counter of neuron ${i}`);
    assert.ok(rh >= 0 && rh <= MAX_RESET_HOLDOFF, `reset_holdoff of neuron ${i}`);
    assert.equal(actual.refractory_time[i], counter * p);
    assert.equal(actual.holdoff_time[i], (31 - 2 * rh) * p);
    assert.ok(
      Math.abs(counter * p - tau[i]!) <= 1.1 * p,
      `neuron ${i}: ${counter} × ${p} s vs target ${tau[i]} s`,
    );
    if (s.input_clock[i] === 1) {
      assert.equal(rh, MAX_RESET_HOLDOFF, `fast neuron ${i} gets the minimum holdoff`);
    } else {
      assert.ok(
        Math.abs((31 - 2 * rh) * p - holdoff[i]!) <= 2.1 * p,
        `neuron ${i}: holdoff ${(31 - 2 * rh) * p} s vs target ${holdoff[i]} s`,
      );
    }
  }
}

Deno.test("clockPeriod is 2^(s+1) / 250 MHz", () => {
  assert.equal(clockPeriod(0), 8e-9);
  assert.equal(clockPeriod(3), 64e-9);
  assert.equal(clockPeriod(9), 4.096e-6);
  assert.ok(Math.abs(clockPeriod(15) - 262.144e-6) < 1e-15);
});

Deno.test("the default 2 µs uses fast scaler 3 and counter 32, i.e. 2.048 µs", () => {
  const s = refractorySettings(uniform(2 * US), uniform(0));
  assert.equal(s.clock_scale_fast, 3);
  assert.ok(s.refractory_counter.every((c) => c === 32));
  assert.ok(s.input_clock.every((c) => c === 1));
  assert.ok(s.reset_holdoff.every((h) => h === 15));
  assert.deepEqual(s.warnings, []);
  const t = refractoryTimesOf(s);
  assert.equal(t.refractory_time[0], 32 * clockPeriod(3));
  assert.ok(Math.abs(t.refractory_time[0]! - 2.048e-6) < 1e-18);
});

Deno.test("10 µs uses fast scaler 4 and counter 79", () => {
  const s = refractorySettings(uniform(10 * US), uniform(0));
  assert.equal(s.clock_scale_fast, 4);
  assert.ok(s.refractory_counter.every((c) => c === 79));
  assert.equal(refractoryTimesOf(s).refractory_time[7], 79 * clockPeriod(4));
});

Deno.test("a uniform 1.5 µs is all on the fast clock with scaler 2 despite the rounded mean", () => {
  const tau = uniform(1.5e-6);
  let sum = 0;
  for (const t of tau) sum += t;
  assert.ok(sum / N < 1.5e-6, "the plain floating-point mean rounds low (calix's caveat)");
  const s = refractorySettings(tau, uniform(0));
  assert.equal(s.clock_scale_fast, 2);
  assert.ok(s.input_clock.every((c) => c === 1));
  assert.equal(s.refractory_counter[0], Math.floor(1.5e-6 / clockPeriod(2)) + 1);
});

Deno.test("a slow scaler is not needed when every neuron is fast: it equals the fast one", () => {
  const s = refractorySettings(uniform(5 * US), uniform(0));
  assert.equal(s.clock_scale_slow, s.clock_scale_fast);
  assert.deepEqual(s.warnings, []);
});

Deno.test("uniform targets 0.1..30 µs are realized within 1.1 clock periods", () => {
  for (let k = 0; k <= 300; k++) {
    const tau = (0.1 + k * 0.0997) * US;
    const s = refractorySettings(uniform(tau), uniform(0));
    assert.ok(s.input_clock.every((c) => c === 1), `${tau} s is all fast`);
    assertRealizes(uniform(tau), uniform(0), s);
    // Below 30 × 8 ns the fastest clock cannot give 30 cycles: clamped with a warning.
    assert.equal(s.warnings.length > 0, tau < 240e-9, `warning for ${tau} s`);
    if (s.warnings.length > 0) {
      assert.equal(s.clock_scale_fast, 0);
      assert.match(s.warnings[0]!, /clamped to 0/);
    }
  }
});

Deno.test("random per-neuron mixtures are realized within 1.1 periods, holdoffs within 2.1", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const next = rng(seed);
    const tau = new Float64Array(N);
    const holdoff = new Float64Array(N);
    const spread = 1 + next() * 299; // up to 30 µs / 0.1 µs
    const lo = 0.1 * US * (1 + next() * (300 / spread - 1));
    for (let i = 0; i < N; i++) {
      tau[i] = lo * spread ** next();
      if (next() < 0.3) holdoff[i] = Math.min(tau[i]!, 4 * US) * next();
    }
    const s = refractorySettings(tau, holdoff);
    assertRealizes(tau, holdoff, s);
    assert.ok(s.clock_scale_slow >= 0 && s.clock_scale_slow <= 15);
  }
});

Deno.test("neurons longer than the mean go to the slow clock and keep their holdoff", () => {
  const tau = uniform(2 * US).fill(20 * US, 256);
  const holdoff = uniform(0).fill(1 * US, 256);
  const s = refractorySettings(tau, holdoff);
  assert.equal(s.clock_scale_fast, 3);
  assert.ok(s.input_clock.subarray(0, 256).every((c) => c === 1));
  assert.ok(s.input_clock.subarray(256).every((c) => c === 0));
  // Slow scaler: periods in [20 µs / 255, 2 × that] → 128 ns (scaler 4).
  assert.equal(s.clock_scale_slow, 4);
  // 1 µs / 128 ns = 7.8 → 8 cycles → reset_holdoff ceil(15 − 3.5) = 12 → 7 cycles = 896 ns.
  assert.equal(s.reset_holdoff[300], 12);
  assert.equal(refractoryTimesOf(s).holdoff_time[300], 7 * clockPeriod(4));
  assertRealizes(tau, holdoff, s);
});

Deno.test("a holdoff longer than 31 fast periods moves a short neuron to the slow clock", () => {
  const tau = uniform(10 * US);
  const holdoff = uniform(0);
  holdoff[5] = 5 * US; // 31 × 128 ns = 3.97 µs < 5 µs
  const s = refractorySettings(tau, holdoff);
  assert.equal(s.clock_scale_fast, 4);
  assert.equal(s.input_clock[5], 0);
  assert.equal(s.input_clock.reduce((a, b) => a + b, 0), N - 1);
  assertRealizes(tau, holdoff, s);
});

Deno.test("a target of exactly 255 periods clamps the counter to 255 (8 bits), not 256", () => {
  const tau = uniform(255 * clockPeriod(4));
  const s = refractorySettings(tau, uniform(0));
  // ⌊255⌋ + 1 = 256 does not fit; 255 cycles realize the target exactly.
  assert.equal(s.clock_scale_fast, 4);
  assert.ok(s.refractory_counter.every((c) => c === 255));
  assert.equal(refractoryTimesOf(s).refractory_time[0], tau[0]);
  assertRealizes(tau, uniform(0), s);
  // At the upper edge of every scaler: counters never exceed 255.
  for (let scale = 0; scale <= 15; scale++) {
    const t = uniform(255 * clockPeriod(scale));
    const r = refractorySettings(t, uniform(0));
    assert.ok(r.refractory_counter.every((c) => c <= 255), `scaler ${scale}`);
    assertRealizes(t, uniform(0), r);
  }
});

Deno.test("infeasible refractory or holdoff times raise RangeError", () => {
  assert.throws(
    () => refractorySettings(uniform(100e-3), uniform(0)),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message.startsWith("Refractory times or holdoff times are larger than feasible"),
  );
  const tau = uniform(2 * US).fill(20e-3, 256);
  const holdoff = uniform(0).fill(10e-3, 256);
  assert.throws(() => refractorySettings(tau, holdoff), /larger than feasible/);
  // The longest feasible refractory time, 255 × 262 µs, still works.
  const longest = uniform(255 * clockPeriod(15));
  assert.equal(refractorySettings(longest, uniform(0)).clock_scale_fast, 15);
});

Deno.test("refractorySettings rejects mismatched, empty, negative and non-finite inputs", () => {
  assert.throws(() => refractorySettings(uniform(2 * US), new Float64Array(511)), RangeError);
  assert.throws(() => refractorySettings(new Float64Array(0), new Float64Array(0)), RangeError);
  const neg = uniform(2 * US);
  neg[9] = -1e-6;
  assert.throws(() => refractorySettings(neg, uniform(0)), /refractory_time .*neuron 9/);
  const nan = uniform(0);
  nan[3] = NaN;
  assert.throws(() => refractorySettings(uniform(2 * US), nan), /holdoff_time .*neuron 3/);
});

Deno.test("chooseScale starts at 4, doubles a too-narrow interval, clamps below 0 and raises above 15", () => {
  assert.deepEqual(chooseScale(100e-9, 300e-9), { scale: 4 });
  assert.deepEqual(chooseScale(2e-6 / 255, 2e-6 / 30), { scale: 3 });
  assert.deepEqual(chooseScale(1.5e-6 / 255, 1.5e-6 / 30), { scale: 2 });
  // Upper limit 0 (a zero holdoff): the interval becomes [min, 2·min].
  assert.deepEqual(chooseScale(100e-9, 0), { scale: 4 });
  assert.deepEqual(chooseScale(200e-9, 0), { scale: 5 });
  const clamped = chooseScale(1e-9, 2e-9);
  assert.equal(clamped.scale, 0);
  assert.match(clamped.warning!, /clamped to 0/);
  assert.throws(() => chooseScale(300e-6, 600e-6), RangeError);
  assert.equal(chooseScale(200e-6, 400e-6).scale, 15);
});
