/**
 * Batched, pure update rules for calix's parameter searches: `BinarySearch`,
 * `NoisyBinarySearch` and `LinearPrediction`, and lifcal's secant search. A search is a state machine
 * whose update step is a pure function of (state, measurement, target): the
 * caller configures {@linkcode SearchState.codes}, measures one reading per
 * instance and hands the readings to {@linkcode searchUpdate}, which returns
 * the next state. The rule is plain integer and float logic over typed arrays
 * so that a WGSL kernel can apply the identical step.
 *
 * Binary searches (range `lower..upper`, `N = upper − lower + 1`):
 *
 * - `n_steps = ceil(log2 N) + 2` measurements (one more for the noisy
 *   variant), increments `inc[k] = ceil(N / 2^(k+2))`, the noise amplitude
 *   inserted into the descending list for the noisy variant;
 * - step `k` (with `left = n_steps − k − 1` steps still to come) records the
 *   measured code and `|reading − target|` in history slot `left` when
 *   `left < best`, then bisects (`left > 1`), mirrors around the previous
 *   point (`left = 1`) or, after the last measurement, picks the best code of
 *   the history; codes are clipped to the range after every step.
 *
 * `LinearPrediction` measures once at the probe and predicts
 * `round(poly(target) + probe − poly(reading))` with `poly(r) = offset + slope·r`.
 *
 * `Secant` is lifcal's own search (not in calix): a safeguarded secant
 * search on the monotonic code → reading map with a fixed budget of
 * measurements (6 over 0..1022 against NoisyBinarySearch's 13). It probes
 * the middle and a quarter of the range towards the target, then takes
 * secant (Newton) steps with a slope from two readings at least `span`
 * codes apart, inside the bracket of codes known to read too low and too
 * high; where a step is not possible (no slope, a NaN, infinite or clamped
 * reading, a prediction outside the bracket) it bisects the bracket, or
 * moves to the range bound on a side no reading has bracketed. Its result
 * is the mean of the secant predictions of the readings within `window`
 * codes of the last one, so read noise averages out instead of being
 * picked from. Its arithmetic is f32, as in WGSL.
 *
 * A search "succeeds" unless its final code lies on (or beyond) a range bound,
 * exactly as calix's `Calib.run` reports it.
 *
 * @module
 */

import { searchStartOffset } from "./rng.ts";

/**
 * calix's `ExcessiveNoiseError`: a NoisyBinarySearch whose noise amplitude
 * exceeds its first increment, i.e. the range is too narrow for its random
 * starts. A `RangeError`; a calibration adds the step that asked for it.
 *
 * @example
 * ```ts
 * import { ExcessiveNoiseError, planSearch } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => planSearch({ name: "noisy-binary" }, 0, 10),
 *   (e) => e instanceof ExcessiveNoiseError && e.noise === 5 && e.limit === 3);
 * ```
 */
export class ExcessiveNoiseError extends RangeError {
  /** The error's name. */
  override name = "ExcessiveNoiseError";
  /** The noise amplitude asked for. */
  readonly noise: number;
  /** The first increment it exceeds. */
  readonly limit: number;
  /** The calibration step, where one asked for the search. */
  readonly step: string | undefined;

  /**
   * An excessive noise amplitude.
   *
   * @param message What is wrong, naming the range.
   * @param details The amplitude, the limit and the step.
   */
  constructor(message: string, details: { noise: number; limit: number; step?: string }) {
    super(message);
    this.noise = details.noise;
    this.limit = details.limit;
    this.step = details.step;
  }
}

/**
 * A search algorithm and its settings, as calix's algorithm classes take them.
 *
 * @example
 * ```ts
 * import { planSearch, type SearchAlgorithm } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 *
 * const algorithms: SearchAlgorithm[] = [
 *   { name: "binary" },
 *   { name: "noisy-binary", noise: 5 },
 *   { name: "secant", measurements: 6 },
 * ];
 * assert.deepEqual(algorithms.map((a) => planSearch(a, 0, 1022).measurements), [12, 13, 6]);
 * ```
 */
export type SearchAlgorithm =
  | { readonly name: "binary" }
  | {
    readonly name: "noisy-binary";
    /** Start-point spread and extra increment (calix `noise_amplitude`, default 5). */
    readonly noise?: number;
  }
  | {
    /**
     * lifcal's safeguarded secant search (see the module doc): fewer
     * measurements for the same accuracy. Not part of calix.
     */
    readonly name: "secant";
    /**
     * Measurements per search, 3..16 (default `ceil(log2(N) / 2) + 1`: 6 over
     * 0..1022, 5 over 0..255).
     */
    readonly measurements?: number;
    /**
     * The scale on which the map is close to linear: `"linear"` (default;
     * potentials, amplitudes) or `"reciprocal"` for positive readings whose
     * reciprocal grows linearly with the code, as a time constant `C/g` with
     * a conductance proportional to its bias current does.
     */
    readonly scale?: "linear" | "reciprocal";
    /**
     * Limits at which the measurement clamps its readings (see
     * `readingLimits`): a reading on or beyond one counts for its side of
     * the target only, never for a slope.
     */
    readonly limits?: readonly [number, number];
  }
  | {
    readonly name: "linear-prediction";
    /** The parameter code measured once. */
    readonly probe: number;
    /** Constant term of the result → parameter polynomial (default 0). */
    readonly offset?: number;
    /** Linear term of the result → parameter polynomial (default 1). */
    readonly slope?: number;
  };

/**
 * The fixed schedule of a search over one parameter range.
 *
 * @example
 * ```ts
 * import { planSearch, type SearchPlan } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 *
 * const plan: SearchPlan = planSearch({ name: "binary" }, 0, 1022);
 * assert.equal(plan.start, 511);
 * assert.deepEqual(plan.increments.slice(0, 3), [256, 128, 64]);
 * ```
 */
export interface SearchPlan {
  /** The algorithm the plan was made for. */
  readonly algorithm: SearchAlgorithm;
  /** Lowest allowed code (inclusive). */
  readonly lower: number;
  /** Highest allowed code (inclusive). */
  readonly upper: number;
  /** Number of measurements (calix `n_steps`; 1 for linear prediction). */
  readonly measurements: number;
  /**
   * calix's increment list, indexed by step: step `k` bisects with
   * `increments[k]`. Only the first `measurements − 2` entries are used; the
   * last two steps are the mirror step and the final measurement. Empty for
   * linear prediction.
   */
  readonly increments: readonly number[];
  /** Start code before any start offset (the probe for linear prediction). */
  readonly start: number;
  /** History slots kept, i.e. how many of the last measurements compete for the result. */
  readonly best: number;
  /** Noise amplitude of a noisy binary search, else 0. */
  readonly noise: number;
  /** Secant search: the least code distance of two readings that give a slope (`ceil(N / 16)`), else 0. */
  readonly span: number;
  /** Secant search: readings this close to the last one (`ceil(N / 64)`) make the result, else 0. */
  readonly window: number;
}

/** The most measurements a secant search may be given. */
export const SECANT_MAX_MEASUREMENTS = 16;

/**
 * The schedule of a search over the inclusive range `lower..upper`.
 *
 * @throws {RangeError} for a range narrower than two codes, non-integer
 * bounds, probe or noise, a noise below 1 or above the first increment
 * ("excessive noise"), a probe outside the range, or non-finite polynomial
 * coefficients.
 *
 * @example Binary and noisy binary search over the 10-bit CapMem range
 * ```ts
 * import { planSearch } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * const binary = planSearch({ name: "binary" }, 0, 1022);
 * assert.equal(binary.measurements, 12);
 * assert.equal(binary.start, 511);
 * assert.deepEqual(binary.increments.slice(0, 10), [256, 128, 64, 32, 16, 8, 4, 2, 1, 1]);
 * const noisy = planSearch({ name: "noisy-binary" }, 0, 1022);
 * assert.equal(noisy.measurements, 13);
 * assert.equal(noisy.best, 6);
 * assert.throws(() => planSearch({ name: "noisy-binary", noise: 257 }, 0, 1022), RangeError);
 * ```
 */
export function planSearch(
  algorithm: SearchAlgorithm,
  lower: number,
  upper: number,
): SearchPlan {
  if (!Number.isSafeInteger(lower) || !Number.isSafeInteger(upper)) {
    throw new RangeError(`Search bounds must be integers, got ${lower}..${upper}`);
  }
  if (upper - lower < 1) {
    throw new RangeError(`Search range ${lower}..${upper} must span at least two codes`);
  }
  if (algorithm.name === "linear-prediction") {
    const { probe, offset = 0, slope = 1 } = algorithm;
    if (!Number.isSafeInteger(probe)) {
      throw new RangeError(`Linear prediction probe must be an integer, got ${probe}`);
    }
    if (probe < lower || probe > upper) {
      throw new RangeError(
        `Linear prediction probe ${probe} lies outside the range ${lower}..${upper}`,
      );
    }
    if (!Number.isFinite(offset) || !Number.isFinite(slope)) {
      throw new RangeError(
        `Linear prediction offset and slope must be finite, got ${offset} and ${slope}`,
      );
    }
    return {
      algorithm,
      lower,
      upper,
      measurements: 1,
      increments: [],
      start: probe,
      best: 1,
      noise: 0,
      span: 0,
      window: 0,
    };
  }
  const n = upper - lower + 1;
  if (algorithm.name === "secant") {
    const measurements = algorithm.measurements ?? Math.ceil(Math.log2(n) / 2) + 1;
    if (
      algorithm.scale !== undefined && algorithm.scale !== "linear" &&
      algorithm.scale !== "reciprocal"
    ) {
      throw new RangeError(
        `Secant search scale must be "linear" or "reciprocal", got ${
          JSON.stringify(algorithm.scale)
        }`,
      );
    }
    const limits = algorithm.limits;
    if (
      limits !== undefined &&
      !(Array.isArray(limits) && limits.length === 2 && limits[0] < limits[1])
    ) {
      throw new RangeError(
        `Secant search limits must be a pair [low, high] with low < high, got ${
          JSON.stringify(limits)
        }`,
      );
    }
    if (
      !Number.isSafeInteger(measurements) || measurements < 3 ||
      measurements > SECANT_MAX_MEASUREMENTS
    ) {
      throw new RangeError(
        `Secant search measurements must be an integer in 3..${SECANT_MAX_MEASUREMENTS}, got ${measurements}`,
      );
    }
    return {
      algorithm,
      lower,
      upper,
      measurements,
      increments: [Math.ceil(n / 4)],
      start: lower + Math.floor(n / 2),
      best: measurements,
      noise: 0,
      span: Math.max(2, Math.ceil(n / 64)),
      window: Math.max(1, Math.ceil(n / 64)),
    };
  }
  const bisections = Math.ceil(Math.log2(n));
  let steps = bisections + 2;
  if (steps < 3) {
    throw new RangeError(`Binary search needs at least 3 steps, got ${steps}`);
  }
  const increments: number[] = [];
  for (let k = 0; k < steps; k++) increments.push(Math.ceil(n / 2 ** (k + 2)));
  let best = 3;
  let noise = 0;
  if (algorithm.name === "noisy-binary") {
    noise = algorithm.noise ?? 5;
    if (!Number.isSafeInteger(noise)) {
      throw new RangeError(`Noise amplitude must be an integer, got ${noise}`);
    }
    if (noise < 1) {
      throw new RangeError(`Noise amplitude must be at least 1, got ${noise}`);
    }
    if (noise > increments[0]!) {
      throw new ExcessiveNoiseError(
        `Excessive noise: amplitude ${noise} exceeds the first increment ${increments[
          0
        ]!} of the range ${lower}..${upper}`,
        { noise, limit: increments[0]! },
      );
    }
    increments.push(noise);
    increments.sort((a, b) => b - a);
    steps += 1;
    best += Math.ceil(Math.log2(noise));
  }
  return {
    algorithm,
    lower,
    upper,
    measurements: steps,
    increments,
    start: lower + Math.floor(n / 2),
    best,
    noise,
    span: 0,
    window: 0,
  };
}

/**
 * A batch of searches between two measurements.
 *
 * @example
 * ```ts
 * import { initSearch, planSearch, searchResult, type SearchState, searchUpdate } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 *
 * // Three searches over 0..1022 for the code of an identity map: reading = code.
 * const targets = [17, 500, 1000];
 * let state: SearchState = initSearch(planSearch({ name: "binary" }, 0, 1022), false, 3);
 * while (!state.done) state = searchUpdate(state, state.codes, targets);
 * assert.deepEqual([...searchResult(state).codes], targets);
 * ```
 */
export interface SearchState {
  /** The schedule all instances follow. */
  readonly plan: SearchPlan;
  /** Whether a higher code lowers the reading (bisection signs swapped). */
  readonly inverted: boolean;
  /** Number of independent searches in the batch. */
  readonly instances: number;
  /** Measurements consumed so far (0..plan.measurements). */
  readonly step: number;
  /** Codes to configure for the next measurement; once done, the final codes. */
  readonly codes: Int32Array;
  /** History codes, `plan.best × instances`, slot-major; slot `s` holds the measurement with `s` steps left. */
  readonly histCodes: Int32Array;
  /**
   * `|reading − target|` for each history slot; for a secant search the
   * signed, f32 `reading − target` (`target − reading` when inverted).
   */
  readonly histDist: Float64Array;
  /** Whether every measurement has been consumed. */
  readonly done: boolean;
}

/**
 * The state before the first measurement: every instance at the plan's start
 * code, plus its start offset for a noisy binary search, clipped to the range.
 * Offsets are ignored by the other algorithms.
 *
 * @throws {RangeError} for a non-positive or non-integer instance count, or a
 * noisy binary search without one integer offset per instance.
 *
 * @example
 * ```ts
 * import { initSearch, planSearch } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * const plan = planSearch({ name: "noisy-binary", noise: 5 }, 0, 1022);
 * const state = initSearch(plan, false, 3, [-5, 0, 4]);
 * assert.deepEqual([...state.codes], [506, 511, 515]);
 * assert.equal(state.step, 0);
 * assert.equal(state.done, false);
 * ```
 */
export function initSearch(
  plan: SearchPlan,
  inverted: boolean,
  instances: number,
  startOffsets?: ArrayLike<number>,
): SearchState {
  if (!Number.isSafeInteger(instances) || instances < 1) {
    throw new RangeError(`Instance count must be a positive integer, got ${instances}`);
  }
  const codes = new Int32Array(instances).fill(plan.start);
  if (plan.algorithm.name === "noisy-binary") {
    if (startOffsets === undefined) {
      throw new RangeError("Noisy binary search requires start offsets");
    }
    if (startOffsets.length !== instances) {
      throw new RangeError(
        `Expected ${instances} start offsets, got ${startOffsets.length}`,
      );
    }
    for (let i = 0; i < instances; i++) {
      const o = startOffsets[i]!;
      if (!Number.isSafeInteger(o)) {
        throw new RangeError(`Start offset ${i} must be an integer, got ${o}`);
      }
      codes[i] = _clip(plan.start + o, plan.lower, plan.upper);
    }
  }
  return {
    plan,
    inverted,
    instances,
    step: 0,
    codes,
    histCodes: new Int32Array(plan.best * instances),
    histDist: new Float64Array(plan.best * instances),
    done: false,
  };
}

/**
 * One search step: consumes one reading per instance (measured at
 * `state.codes`) and returns the next state, leaving the input untouched.
 *
 * Binary searches, at step `k` with `left = measurements − k − 1`:
 * 1. when `left < best`, history slot `left` gets the code and
 *    `|reading − target|`;
 * 2. `left > 1`: `hi = reading > target`; a high reading lowers the code by
 *    `increments[k]`, any other reading (also NaN) raises it; signs swap when
 *    inverted;
 * 3. `left = 1`: mirror step `2·hist[2] − hist[1]`, nudged one code inwards
 *    when both points sat on the same bound;
 * 4. the code is clipped to the range;
 * 5. `left = 0`: the code becomes the history code with the smallest distance.
 *    Slots are scanned from 0 (the last measurement) upwards and the first
 *    minimum wins, as numpy's `argmin` over calix's history does: ties go to
 *    the most recent measurement, and a NaN distance wins outright.
 *
 * Secant search (f32 arithmetic, `g = h(reading) − h(target)`, negated when
 * inverted, with `h(v) = v`, or `−1/v` on the reciprocal scale, and
 * `h(v) = ∓∞` for a reading on or beyond the lower or upper clamp limit; a
 * code "reads high" when `g > 0`, or when inverted and the reading is NaN,
 * as the binary searches decide): every measurement is kept.
 * 1. After the first measurement the code moves by `increments[0]` towards
 *    the target (down when it reads high).
 * 2. Later: the bracket is the highest code that read low and the lowest
 *    that read high (a side without one is open; crossed sides are widened
 *    by their overlap). With `u = Δcode/Δg` from the newest reading and the
 *    nearest finite one at least `span` codes away — one across the target
 *    if there is one, the most recent of equals —, the secant step is
 *    `code − g·u` when `u > 0`, towards the open side's bound when `Δg = 0`.
 *    A step rounded (half to even) and clipped to a code inside the bracket
 *    (an open side does not limit it; an end only where it read no further
 *    off than the newest reading) is taken; otherwise the code bisects the
 *    bracket, or goes to the bound of an open side.
 * 3. After the last measurement: the mean of `code − g·u` over the finite
 *    readings within `window` codes of the newest, rounded and clipped, if
 *    that lies inside the bracket and within `window` of the newest; else,
 *    where both ends of the bracket read finite values, the code where the
 *    line through them meets the target (regula falsi); else the measured
 *    code with the smallest `|g|` (NaN never wins, ties go to the most
 *    recent).
 *
 * Linear prediction: `round(poly(target) + probe − poly(reading))` with
 * `poly(r) = offset + slope·r`, rounding half to even (numpy and WGSL
 * `round`), then clipped; a NaN prediction becomes `lower`, ±Infinity the
 * matching bound. `inverted` does not apply (use a negative slope).
 *
 * @throws {RangeError} when the search is done, or readings or a target array
 * do not have one entry per instance.
 *
 * @example Three steps of a binary search over 0..15
 * ```ts
 * import { initSearch, planSearch, searchUpdate } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * const plan = planSearch({ name: "binary" }, 0, 15);
 * let state = initSearch(plan, false, 2);
 * assert.deepEqual([...state.codes], [8, 8]);
 * state = searchUpdate(state, [8, 8], [3, 12]);
 * assert.deepEqual([...state.codes], [4, 12]);
 * state = searchUpdate(state, [4, 12], [3, 12]);
 * assert.deepEqual([...state.codes], [2, 14]);
 * assert.equal(state.step, 2);
 * ```
 */
export function searchUpdate(
  state: SearchState,
  readings: ArrayLike<number>,
  target: number | ArrayLike<number>,
): SearchState {
  const { plan, instances, inverted } = state;
  if (state.done) {
    throw new RangeError("Search is already done");
  }
  if (readings.length !== instances) {
    throw new RangeError(`Expected ${instances} readings, got ${readings.length}`);
  }
  if (typeof target !== "number" && target.length !== instances) {
    throw new RangeError(`Expected ${instances} targets, got ${target.length}`);
  }
  const codes = new Int32Array(instances);
  const histCodes = state.histCodes.slice();
  const histDist = state.histDist.slice();
  const { lower, upper, best } = plan;
  const k = state.step;
  const left = plan.measurements - k - 1;
  const algorithm = plan.algorithm;
  for (let i = 0; i < instances; i++) {
    const p = state.codes[i]!;
    const r = readings[i]!;
    const t = typeof target === "number" ? target : target[i]!;
    if (algorithm.name === "secant") {
      const reciprocal = algorithm.scale === "reciprocal";
      const [floor, ceiling] = algorithm.limits ?? [-Infinity, Infinity];
      const r32 = _f32(r);
      const hr = r32 <= _f32(floor)
        ? -Infinity
        : r32 >= _f32(ceiling)
        ? Infinity
        : reciprocal
        ? _f32(-_f32(1 / r32))
        : r32;
      const ht = reciprocal ? _f32(-_f32(1 / _f32(t))) : _f32(t);
      histCodes[left * instances + i] = p;
      histDist[left * instances + i] = _f32(inverted ? ht - hr : hr - ht);
      codes[i] = _secantNext(plan, histCodes, histDist, instances, i, k, inverted);
      continue;
    }
    if (left < best) {
      histCodes[left * instances + i] = p;
      histDist[left * instances + i] = Math.abs(r - t);
    }
    if (algorithm.name === "linear-prediction") {
      codes[i] = _predict(algorithm, r, t, lower, upper);
      continue;
    }
    let q = p;
    if (left > 1) {
      const inc = plan.increments[k]!;
      const down = (r > t) !== inverted;
      q = down ? p - inc : p + inc;
    } else if (left === 1) {
      const h2 = histCodes[2 * instances + i]!;
      const h1 = histCodes[instances + i]!;
      q = 2 * h2 - h1;
      if (h2 === h1 && h2 === lower) q += 1;
      if (h2 === h1 && h2 === upper) q -= 1;
    }
    q = _clip(q, lower, upper);
    if (left === 0) q = _bestOfHistory(histCodes, histDist, best, instances, i);
    codes[i] = q;
  }
  return {
    plan,
    inverted,
    instances,
    step: k + 1,
    codes,
    histCodes,
    histDist,
    done: left === 0,
  };
}

/**
 * The outcome of a finished search: its final codes, and `success[i] = 1`
 * unless instance `i` ended on (or beyond) a range bound, which calix counts
 * as a failed calibration.
 *
 * @throws {RangeError} when the search is not done.
 *
 * @example
 * ```ts
 * import { planSearch, runSearchSync } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * const plan = planSearch({ name: "binary" }, 0, 1022);
 * const out = runSearchSync(plan, false, [0, 400, 1022], 3, (c) => Float64Array.from(c));
 * assert.deepEqual([...out.codes], [0, 400, 1022]);
 * assert.deepEqual([...out.success], [0, 1, 0]);
 * ```
 */
export function searchResult(state: SearchState): { codes: Int32Array; success: Uint8Array } {
  if (!state.done) {
    throw new RangeError(
      `Search is not done: ${state.step} of ${state.plan.measurements} measurements consumed`,
    );
  }
  const { lower, upper } = state.plan;
  const codes = state.codes.slice();
  const success = new Uint8Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    success[i] = c <= lower || c >= upper ? 0 : 1;
  }
  return { codes, success };
}

/**
 * Start offsets of a noisy binary search, uniform in `[−noise, +noise]` and
 * keyed by (chip key, operation counter, instance) through
 * {@linkcode searchStartOffset}; `undefined` for the other algorithms.
 *
 * @example
 * ```ts
 * import { startOffsets } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * const a = startOffsets({ name: "noisy-binary", noise: 5 }, 7, 0, 512)!;
 * assert.ok(a.every((o) => o >= -5 && o <= 5));
 * assert.deepEqual(a, startOffsets({ name: "noisy-binary", noise: 5 }, 7, 0, 512));
 * assert.equal(startOffsets({ name: "binary" }, 7, 0, 512), undefined);
 * ```
 */
export function startOffsets(
  algorithm: SearchAlgorithm,
  key: number,
  counter: number,
  instances: number,
): Int32Array | undefined {
  if (algorithm.name !== "noisy-binary") return undefined;
  const noise = algorithm.noise ?? 5;
  const out = new Int32Array(instances);
  for (let i = 0; i < instances; i++) out[i] = searchStartOffset(key, counter, i, noise);
  return out;
}

/**
 * Runs a whole search synchronously: init, then measure and update until
 * done. `measure` receives a copy of the codes to configure and returns one
 * reading per instance. `steps` is the number of measurements made; calix's
 * final configuration of the result is left to the caller.
 *
 * @example Inverted identity map
 * ```ts
 * import { planSearch, runSearchSync } from "./search_rules.ts";
 * import assert from "node:assert/strict";
 * const plan = planSearch({ name: "binary" }, 0, 1022);
 * const measure = (c: Int32Array) => Float64Array.from(c, (x) => 1022 - x);
 * const out = runSearchSync(plan, true, [100, 700.25], 2, measure);
 * assert.deepEqual([...out.codes], [922, 322]);
 * assert.equal(out.steps, 12);
 * ```
 */
export function runSearchSync(
  plan: SearchPlan,
  inverted: boolean,
  target: number | ArrayLike<number>,
  instances: number,
  measure: (codes: Int32Array) => ArrayLike<number>,
  offsets?: ArrayLike<number>,
): { codes: Int32Array; success: Uint8Array; steps: number } {
  let state = initSearch(plan, inverted, instances, offsets);
  while (!state.done) {
    state = searchUpdate(state, measure(state.codes.slice()), target);
  }
  return { ...searchResult(state), steps: state.step };
}

const _f32 = Math.fround;

/** Whether a signed secant residual says the code reads high (NaN: as the binary searches). */
function _readsHigh(g: number, inverted: boolean): boolean {
  return g > 0 || (g !== g && inverted);
}

/** Whether an f32 value is finite (the WGSL check: `abs(x) <= f32 max`). */
function _finite(x: number): boolean {
  return Math.abs(x) <= 3.4028234663852886e38;
}

/**
 * The secant search's next code for instance `i` after step `k` (see
 * {@linkcode searchUpdate}); the final code after the last step. History
 * slot `m − 1 − j` holds step `j`.
 */
function _secantNext(
  plan: SearchPlan,
  histCodes: Int32Array,
  histG: Float64Array,
  n: number,
  i: number,
  k: number,
  inverted: boolean,
): number {
  const { lower, upper, measurements: m, span, window } = plan;
  const at = (j: number) => (m - 1 - j) * n + i;
  const ck = histCodes[at(k)]!;
  const gk = histG[at(k)]!;
  const highK = _readsHigh(gk, inverted);
  if (k === 0) {
    return _clip(highK ? ck - plan.increments[0]! : ck + plan.increments[0]!, lower, upper);
  }
  let lo = lower - 1;
  let hi = upper + 1;
  let gLo = 0;
  let gHi = 0;
  for (let j = 0; j <= k; j++) {
    const c = histCodes[at(j)]!;
    const g = histG[at(j)]!;
    if (_readsHigh(g, inverted)) {
      if (c < hi) {
        hi = c;
        gHi = g;
      }
    } else if (c > lo) {
      lo = c;
      gLo = g;
    }
  }
  if (lo >= hi) {
    const d = lo - hi;
    const a = hi - d - 1;
    hi = lo + d + 1;
    lo = a;
    gLo = 0;
    gHi = 0;
  }
  const openLo = lo < lower;
  const openHi = hi > upper;
  // Inverse slope u = Δcode/Δg from the newest reading and a partner `span` away.
  let u = NaN;
  let flat = false;
  if (_finite(gk)) {
    // The nearest finite reading `span` away, preferably across the target.
    let partner = -1;
    let distance = 0;
    let across = -1;
    let acrossDistance = 0;
    for (let j = k - 1; j >= 0; j--) {
      const gj = histG[at(j)]!;
      const d = Math.abs(ck - histCodes[at(j)]!);
      if (!_finite(gj) || d < span) continue;
      if (partner < 0 || d < distance) {
        partner = j;
        distance = d;
      }
      if (_readsHigh(gj, inverted) !== highK && (across < 0 || d < acrossDistance)) {
        across = j;
        acrossDistance = d;
      }
    }
    if (across >= 0) partner = across;
    if (partner >= 0) {
      const dg = _f32(gk - histG[at(partner)]!);
      if (dg === 0) flat = true;
      else u = _f32((ck - histCodes[at(partner)]!) / dg);
    }
  }
  const usable = u > 0 && _finite(u);
  const final = k === m - 1;
  let x = NaN;
  let toward = 0;
  if (usable) {
    if (final) {
      let sum = 0;
      let count = 0;
      for (let j = k; j >= 0; j--) {
        const c = histCodes[at(j)]!;
        const g = histG[at(j)]!;
        if (!_finite(g) || Math.abs(c - ck) > window) continue;
        sum = _f32(sum + _f32(c - _f32(g * u)));
        count += 1;
      }
      x = _f32(sum / count);
    } else {
      x = _f32(ck - _f32(gk * u));
    }
    if (!_finite(x)) {
      toward = x > 0 ? 1 : -1;
      x = NaN;
    }
  } else if (flat) {
    toward = highK ? -1 : 1;
  }
  if (x === x) {
    const q = _roundHalfEven(x < lower ? lower : x > upper ? upper : x);
    // A bracket end may be measured again only where it read no further off than the newest.
    const near = Math.abs(gk);
    const inside = (openLo || q > lo || (q === lo && !(Math.abs(gLo) > near))) &&
      (openHi || q < hi || (q === hi && !(Math.abs(gHi) > near)));
    if (inside && (!final || Math.abs(q - ck) <= window)) return q;
  } else if (toward < 0 && openLo) {
    return lower;
  } else if (toward > 0 && openHi) {
    return upper;
  }
  if (final) {
    // Regula falsi between the bracket's ends where both read finite values.
    if (!openLo && !openHi && _finite(gLo) && _finite(gHi) && gHi !== gLo) {
      const step = _f32((hi - lo) / _f32(gHi - gLo));
      return _clip(_roundHalfEven(_f32(lo + _f32(-gLo * step))), lo, hi);
    }
    return _secantBest(histCodes, histG, m, n, i, k);
  }
  if (openHi && !openLo) return upper;
  if (openLo && !openHi) return lower;
  if (openLo && openHi) return ck;
  return Math.floor((lo + hi) / 2);
}

/** The measured code with the smallest `|g|` (NaN never wins, ties to the most recent). */
function _secantBest(
  histCodes: Int32Array,
  histG: Float64Array,
  m: number,
  n: number,
  i: number,
  k: number,
): number {
  let best = histCodes[(m - 1 - k) * n + i]!;
  let min = Infinity;
  for (let j = k; j >= 0; j--) {
    const d = Math.abs(histG[(m - 1 - j) * n + i]!);
    if (d < min) {
      min = d;
      best = histCodes[(m - 1 - j) * n + i]!;
    }
  }
  return best;
}

function _clip(v: number, lower: number, upper: number): number {
  return v < lower ? lower : v > upper ? upper : v;
}

function _bestOfHistory(
  histCodes: Int32Array,
  histDist: Float64Array,
  best: number,
  instances: number,
  i: number,
): number {
  let slot = 0;
  let min = histDist[i]!;
  if (min === min) {
    for (let s = 1; s < best; s++) {
      const d = histDist[s * instances + i]!;
      if (d !== d) {
        slot = s;
        break;
      }
      if (d < min) {
        min = d;
        slot = s;
      }
    }
  }
  return histCodes[slot * instances + i]!;
}

function _predict(
  algorithm: { readonly probe: number; readonly offset?: number; readonly slope?: number },
  reading: number,
  target: number,
  lower: number,
  upper: number,
): number {
  const { probe, offset = 0, slope = 1 } = algorithm;
  const x = (offset + slope * target) + (probe - (offset + slope * reading));
  if (x !== x) return lower;
  return _clip(_roundHalfEven(x), lower, upper);
}

function _roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}
