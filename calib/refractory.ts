/**
 * calix's refractory clock arithmetic (`calculate_settings`): from per-neuron
 * refractory and holdoff times, choose the two refractory clock scalers of a
 * backend (fast and slow), each neuron's clock, refractory counter and reset
 * holdoff. Pure arithmetic; nothing is measured.
 *
 * The clock of scaler `s` has the period 2^(s+1) / 250 MHz (8 ns at s = 0,
 * 64 ns at s = 3, 262 µs at s = 15). A neuron's refractory time is
 * `refractory_counter × period` of its clock; the reset clamp is released
 * `31 − 2·reset_holdoff` cycles before the end (the holdoff).
 *
 * - Fast neurons are those whose refractory time is at most the mean. The
 *   comparison has a relative tolerance of 1e-9, so a uniform target is
 *   always fast (in plain floating point, calix puts e.g. a uniform 1.5 µs on
 *   the slow clock because the mean rounds low). They get the minimum holdoff
 *   of one cycle: the holdoff target is only honoured on the slow clock.
 * - Slow neurons are the rest, plus any neuron whose holdoff is longer than
 *   31 fast periods.
 * - Counters are `⌊t / period⌋ + 1`, with the quotient taken as exact decimal
 *   arithmetic would (a relative tolerance of 1e-9 before the floor, so
 *   2.048 µs on a 64 ns clock is 32 whole periods, not 31.999…). A target of
 *   exactly 255 periods would give 256, which does not fit the 8-bit counter:
 *   it is clamped to 255, which realizes the target exactly.
 * - When no neuron needs the slow clock, calix's formula has nothing to work
 *   on; the slow scaler is then set equal to the fast one.
 *
 * @example The default target: 2 µs everywhere
 * ```ts
 * import { clockPeriod, refractorySettings } from "./refractory.ts";
 * import assert from "node:assert/strict";
 * const s = refractorySettings(new Float64Array(512).fill(2e-6), new Float64Array(512));
 * assert.equal(s.clock_scale_fast, 3);
 * assert.equal(s.refractory_counter[0], 32);
 * assert.ok(Math.abs(32 * clockPeriod(3) - 2.048e-6) < 1e-18);
 * ```
 *
 * @module
 */

/** Base frequency of the refractory clocks: ADPLL core_1 output at default settings (Hz). */
export const REFRACTORY_BASE_CLOCK_HZ = 250e6;

/** Largest clock scaler (4 bits). */
export const MAX_CLOCK_SCALE = 15;
/** Largest refractory counter (8 bits). */
export const MAX_REFRACTORY_COUNTER = 255;
/** Largest reset holdoff setting (4 bits); it means the minimum holdoff of one cycle. */
export const MAX_RESET_HOLDOFF = 15;

/** Longest holdoff in cycles: 2·15 + 1. */
const _MAX_HOLDOFF_CYCLES = 2 * MAX_RESET_HOLDOFF + 1;
/** Fewest refractory cycles wanted, to keep the quantization below about 3 %. */
const _MIN_REFRACTORY_CYCLES = 30;
/** Fewest holdoff cycles. */
const _MIN_HOLDOFF_CYCLES = 1;
/** Scaler `chooseScale` starts from, leaving room to change counters later. */
const _START_SCALE = 4;
/** Relative tolerance of the fast/slow split and of the floor of cycle counts. */
const _TOLERANCE = 1e-9;

/**
 * The digital refractory configuration of one chip's neurons.
 *
 * @example
 * ```ts
 * import { refractorySettings, type RefractorySettings } from "./refractory.ts";
 * import assert from "node:assert/strict";
 * const s: RefractorySettings = refractorySettings(
 *   new Float64Array(512).fill(10e-6),
 *   new Float64Array(512),
 * );
 * assert.equal(s.input_clock[0], 1);
 * assert.equal(s.reset_holdoff[0], 15);
 * assert.deepEqual(s.warnings, []);
 * ```
 */
export interface RefractorySettings {
  /** Refractory time per neuron in cycles of its clock, 0..255. */
  readonly refractory_counter: Int32Array;
  /** Reset holdoff setting per neuron, 0..15: the holdoff is `31 − 2·reset_holdoff` cycles. */
  readonly reset_holdoff: Int32Array;
  /** Clock per neuron: 1 = fast scaler, 0 = slow scaler. */
  readonly input_clock: Int32Array;
  /** Fast clock scaler, 0..15 (the same for both hemispheres). */
  readonly clock_scale_fast: number;
  /** Slow clock scaler, 0..15; equal to the fast one when no neuron uses the slow clock. */
  readonly clock_scale_slow: number;
  /** Why a scaler was clamped to 0 (the clock cannot be made fast enough), if it was. */
  readonly warnings: string[];
}

/**
 * Period of the refractory clock with scaler `scale`: 2^(s+1) / 250 MHz, in
 * seconds.
 *
 * @example
 * ```ts
 * import { clockPeriod } from "./refractory.ts";
 * import assert from "node:assert/strict";
 * assert.equal(clockPeriod(0), 8e-9);
 * assert.equal(clockPeriod(3), 64e-9);
 * assert.equal(clockPeriod(9), 4.096e-6);
 * ```
 */
export function clockPeriod(scale: number): number {
  return 2 ** (scale + 1) / REFRACTORY_BASE_CLOCK_HZ;
}

/**
 * calix's `choose_scale`: the clock scaler whose period lies in
 * `[minT, maxT]` (seconds). If `maxT < 2·minT`, `maxT` becomes `2·minT`, so
 * the interval spans a factor of two and holds a power-of-two period. The
 * search starts at 4 and steps up (period too short) or down (too long) at
 * most 15 times. Below 0 the scaler is clamped to 0 with a warning; above 15
 * it throws `RangeError` ("Refractory times or holdoff times are larger than
 * feasible").
 *
 * @example
 * ```ts
 * import { chooseScale } from "./refractory.ts";
 * import assert from "node:assert/strict";
 * // 2 µs: at least 2 µs / 255, at most 2 µs / 30.
 * assert.deepEqual(chooseScale(2e-6 / 255, 2e-6 / 30), { scale: 3 });
 * assert.equal(chooseScale(1e-12, 1e-12).scale, 0);
 * assert.match(chooseScale(1e-12, 1e-12).warning!, /clamped to 0/);
 * assert.throws(() => chooseScale(1, 2), RangeError);
 * ```
 */
export function chooseScale(minT: number, maxT: number): { scale: number; warning?: string } {
  if (maxT < 2 * minT) maxT = 2 * minT;
  let scale = _START_SCALE;
  for (let i = 0; i < MAX_CLOCK_SCALE; i++) {
    const period = clockPeriod(scale);
    if (period >= minT && period <= maxT) break;
    scale += period < minT ? 1 : -1;
  }
  if (scale > MAX_CLOCK_SCALE) {
    throw new RangeError(
      `Refractory times or holdoff times are larger than feasible: a clock period of at least ${
        _us(minT)
      } is needed, the slowest clock (scaler ${MAX_CLOCK_SCALE}) has ${
        _us(clockPeriod(MAX_CLOCK_SCALE))
      }`,
    );
  }
  if (scale < 0) {
    return {
      scale: 0,
      warning: `Refractory clock scaler clamped to 0: a clock period of at most ${
        _us(maxT)
      } is wanted, the fastest clock has ${_us(clockPeriod(0))}`,
    };
  }
  return { scale };
}

/**
 * calix's `calculate_settings`: the refractory configuration for per-neuron
 * refractory times and holdoff times (seconds, the same number of each,
 * normally 512). See the module documentation for the rules.
 *
 * Throws `RangeError` for arrays of different or zero length, for negative or
 * non-finite times, and when a scaler above 15 would be needed.
 *
 * @example A mixture: short neurons on the fast clock, long ones on the slow clock
 * ```ts
 * import { refractorySettings } from "./refractory.ts";
 * import assert from "node:assert/strict";
 * const tau = new Float64Array(512).fill(2e-6).fill(20e-6, 256);
 * const holdoff = new Float64Array(512).fill(1e-6, 256);
 * const s = refractorySettings(tau, holdoff);
 * assert.equal(s.input_clock[0], 1);
 * assert.equal(s.input_clock[300], 0);
 * assert.ok(s.clock_scale_slow > s.clock_scale_fast);
 * ```
 */
export function refractorySettings(
  refractoryTime: Float64Array,
  holdoffTime: Float64Array,
): RefractorySettings {
  const n = refractoryTime.length;
  if (n === 0 || holdoffTime.length !== n) {
    throw new RangeError(
      `refractory_time has ${n} values and holdoff_time ${holdoffTime.length}; expected the same positive number (one per neuron)`,
    );
  }
  _checkTimes(refractoryTime, "refractory_time");
  _checkTimes(holdoffTime, "holdoff_time");

  let sum = 0;
  for (let i = 0; i < n; i++) sum += refractoryTime[i]!;
  const mean = sum / n;
  const fastLimit = mean * (1 + _TOLERANCE);

  let fastMax = -Infinity;
  let fastMin = Infinity;
  for (let i = 0; i < n; i++) {
    const t = refractoryTime[i]!;
    if (t <= fastLimit) {
      fastMax = Math.max(fastMax, t);
      fastMin = Math.min(fastMin, t);
    }
  }
  const warnings: string[] = [];
  const fast = chooseScale(fastMax / MAX_REFRACTORY_COUNTER, fastMin / _MIN_REFRACTORY_CYCLES);
  if (fast.warning !== undefined) warnings.push(`Fast clock: ${fast.warning}`);
  const fastPeriod = clockPeriod(fast.scale);
  const holdoffLimit = _MAX_HOLDOFF_CYCLES * fastPeriod * (1 + _TOLERANCE);

  const inputClock = new Int32Array(n);
  let slowMax = -Infinity;
  let slowMin = Infinity;
  let holdoffMax = -Infinity;
  let holdoffMin = Infinity;
  let anySlow = false;
  for (let i = 0; i < n; i++) {
    const t = refractoryTime[i]!;
    const h = holdoffTime[i]!;
    holdoffMax = Math.max(holdoffMax, h);
    holdoffMin = Math.min(holdoffMin, h);
    if (t <= fastLimit && h <= holdoffLimit) {
      inputClock[i] = 1;
    } else {
      anySlow = true;
      slowMax = Math.max(slowMax, t);
      slowMin = Math.min(slowMin, t);
    }
  }

  let slowScale = fast.scale;
  if (anySlow) {
    const slow = chooseScale(
      Math.max(holdoffMax / _MAX_HOLDOFF_CYCLES, slowMax / MAX_REFRACTORY_COUNTER),
      Math.min(holdoffMin / _MIN_HOLDOFF_CYCLES, slowMin / _MIN_REFRACTORY_CYCLES),
    );
    if (slow.warning !== undefined) warnings.push(`Slow clock: ${slow.warning}`);
    slowScale = slow.scale;
  }

  const counter = new Int32Array(n);
  const holdoff = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const scale = inputClock[i] === 1 ? fast.scale : slowScale;
    counter[i] = Math.min(MAX_REFRACTORY_COUNTER, _cycles(refractoryTime[i]!, scale) + 1);
    if (inputClock[i] === 1) {
      holdoff[i] = MAX_RESET_HOLDOFF;
    } else {
      const cycles = _cycles(holdoffTime[i]!, scale) + 1;
      const setting = Math.ceil(MAX_RESET_HOLDOFF - (cycles - 1) / 2);
      holdoff[i] = Math.min(MAX_RESET_HOLDOFF, Math.max(0, setting));
    }
  }
  return {
    refractory_counter: counter,
    reset_holdoff: holdoff,
    input_clock: inputClock,
    clock_scale_fast: fast.scale,
    clock_scale_slow: slowScale,
    warnings,
  };
}

/**
 * The times a configuration realizes, in seconds: refractory time
 * `refractory_counter × period` and holdoff `(31 − 2·reset_holdoff) × period`,
 * with each neuron's clock period.
 *
 * @example The default target realizes 2.048 µs
 * ```ts
 * import { refractorySettings, refractoryTimesOf } from "./refractory.ts";
 * import assert from "node:assert/strict";
 * const s = refractorySettings(new Float64Array(512).fill(2e-6), new Float64Array(512));
 * const t = refractoryTimesOf(s);
 * assert.ok(Math.abs(t.refractory_time[0]! - 2.048e-6) < 1e-18);
 * assert.ok(Math.abs(t.holdoff_time[0]! - 64e-9) < 1e-21);
 * ```
 */
export function refractoryTimesOf(
  settings: RefractorySettings,
): { refractory_time: Float64Array; holdoff_time: Float64Array } {
  const n = settings.refractory_counter.length;
  const refractory = new Float64Array(n);
  const holdoff = new Float64Array(n);
  const fast = clockPeriod(settings.clock_scale_fast);
  const slow = clockPeriod(settings.clock_scale_slow);
  for (let i = 0; i < n; i++) {
    const period = settings.input_clock[i] === 1 ? fast : slow;
    refractory[i] = settings.refractory_counter[i]! * period;
    holdoff[i] = (_MAX_HOLDOFF_CYCLES - 2 * settings.reset_holdoff[i]!) * period;
  }
  return { refractory_time: refractory, holdoff_time: holdoff };
}

/** Whole clock cycles in `t` at scaler `scale`, ⌊t·f_base / 2^(s+1)⌋ as exact arithmetic has it. */
function _cycles(t: number, scale: number): number {
  const x = t * REFRACTORY_BASE_CLOCK_HZ / 2 ** (scale + 1);
  return Math.floor(x * (1 + _TOLERANCE));
}

function _checkTimes(times: Float64Array, field: string): void {
  const bad: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (!(Number.isFinite(t) && t >= 0)) bad.push(i);
  }
  if (bad.length === 0) return;
  const shown = bad.slice(0, 8).join(", ");
  const more = bad.length > 8 ? ", …" : "";
  throw new RangeError(
    `${field} must be finite and not negative; neuron${
      bad.length > 1 ? "s" : ""
    } ${shown}${more} (${bad.length} in all) ${bad.length > 1 ? "are" : "is"} not (first: ${
      times[bad[0]!]
    } s)`,
  );
}

function _us(seconds: number): string {
  return `${Number((seconds * 1e6).toPrecision(6))} µs`;
}
