/**
 * The time-constant estimator of the twin's trace measurements.
 *
 * **Method (three successive sums).** The sampled trace of an exponential
 * relaxation with an unknown offset, `y_j = A·e^(−j·dt/τ) + c`, is split into
 * three consecutive windows of `n` samples each. With `S_k` the window sums,
 * `(S₂ − S₃)/(S₁ − S₂) = e^(−n·dt/τ)` holds exactly for any `A`, `c`, `τ`, so
 * `τ = −n·dt / ln((S₂ − S₃)/(S₁ − S₂))`. It needs no initial guess and no
 * iteration, is linear in the data up to the final ratio (zero-mean noise
 * does not bias the sums), works for decays (`A > 0`) and rises (`A < 0`)
 * alike, and streams: three accumulators per neuron, so a GPU kernel
 * computes it without storing the trace. It is most precise when the window
 * `n·dt` is near τ (ratio ≈ 1/e); callers choose the whole window ≈ 3× the
 * expected τ.
 *
 * Degenerate traces map like calix's fit bounds: a ratio ≤ 0 (no signal left
 * after the first window: τ far below the window) gives the lower bound, a
 * ratio ≥ 1 (no visible decay) the upper bound.
 *
 * @module
 */

/** Result of the estimator: τ (s) and the amplitude at the first sample (same unit as the data). */
export interface TauEstimate {
  /** The time constant, clamped to the bounds. */
  readonly tau: number;
  /** Signed amplitude `A` of the relaxation at the first sample. */
  readonly amplitude: number;
}

/**
 * Estimates τ from the three window sums of a sampled relaxation.
 *
 * @param s1 Sum over the first window.
 * @param s2 Sum over the second window.
 * @param s3 Sum over the third window.
 * @param n Samples per window.
 * @param dt Sample period (s).
 * @param bounds Lower and upper bound on τ (s).
 *
 * @example An exact exponential is recovered exactly
 * ```ts
 * import { tauFromThreeSums } from "./tau_estimator.ts";
 * import assert from "node:assert/strict";
 * const tau = 7e-6, dt = 0.1e-6, n = 70;
 * const s = [0, 0, 0];
 * for (let j = 0; j < 3 * n; j++) s[Math.floor(j / n)]! += 300 * Math.exp(-j * dt / tau) + 40;
 * const est = tauFromThreeSums(s[0]!, s[1]!, s[2]!, n, dt, [0.1e-6, 2e-3]);
 * assert.ok(Math.abs(est.tau / tau - 1) < 1e-9);
 * assert.ok(Math.abs(est.amplitude / 300 - 1) < 1e-9);
 * ```
 */
export function tauFromThreeSums(
  s1: number,
  s2: number,
  s3: number,
  n: number,
  dt: number,
  bounds: readonly [number, number],
): TauEstimate {
  const d1 = s1 - s2;
  const d2 = s2 - s3;
  const window = n * dt;
  if (d1 === 0) return { tau: bounds[1], amplitude: 0 };
  const ratio = d2 / d1;
  if (!(ratio > 0)) return { tau: bounds[0], amplitude: d1 / n };
  if (ratio >= 1) return { tau: bounds[1], amplitude: d1 / n };
  const tau = -window / Math.log(ratio);
  // mean1 − mean2 = A·f·(1 − r), f = (1/n)·Σ e^(−j·dt/τ) = (1 − r)/(n·(1 − e^(−dt/τ)))
  const step = Math.exp(-dt / tau);
  const f = (1 - ratio) / (n * (1 - step));
  const amplitude = d1 / (n * f * (1 - ratio));
  const clamped = tau < bounds[0] ? bounds[0] : tau > bounds[1] ? bounds[1] : tau;
  return { tau: clamped, amplitude };
}

/**
 * Splits a window into three sub-windows of equal sample count at the MADC
 * rate or coarser: returns samples per sub-window and the sample period.
 *
 * @example
 * ```ts
 * import { sampling } from "./tau_estimator.ts";
 * import assert from "node:assert/strict";
 * const s = sampling(30e-6, 1 / 29.4e6, 3000);
 * assert.equal(s.n, 294);
 * assert.ok(Math.abs(s.n * 3 * s.dt - 30e-6) < 1e-12);
 * ```
 */
export function sampling(
  windowSeconds: number,
  samplePeriod: number,
  maxSamples: number,
): { n: number; dt: number } {
  const total = Math.min(Math.floor(windowSeconds / samplePeriod), maxSamples);
  const n = Math.max(4, Math.floor(total / 3));
  return { n, dt: windowSeconds / (3 * n) };
}
