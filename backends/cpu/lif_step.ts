/**
 * One integration step of a twin neuron with spikes and refractoriness
 * (`TWIN.md` §4), used by the CPU executor for every measurement in which
 * neurons may fire. The update is exact for inputs held constant over the
 * step: the membrane relaxes as an Ornstein–Uhlenbeck process towards
 * `V∞ = E_L + I/g_L` (or, while the reset clamp holds, towards the balance of
 * clamp and leak), with stationary noise `σ_V`. A step is split at phase
 * boundaries (reset clamp → holdoff → free) and at a threshold crossing,
 * whose time inside the step is solved from the deterministic relaxation, so
 * spike times do not snap to the step grid and coarse steps keep rates
 * accurate.
 *
 * @module
 */

import { normalAt } from "../rng.ts";

/** Constants of one neuron for a measurement. */
export interface LifConstants {
  /** Capacitance (F). */
  C: number;
  /** Leak conductance (S). */
  gL: number;
  /** Leak potential (V). */
  EL: number;
  /** Reset cell potential (V) and clamp conductance (S). */
  VRcell: number;
  gR: number;
  /** Threshold (V) and whether the comparator is on. */
  VT: number;
  threshold: boolean;
  /** Refractory time and its clamped part (s). */
  tRef: number;
  tReset: number;
  /** Membrane rails (V). */
  low: number;
  high: number;
  /** Stationary membrane noise (V). */
  sigma: number;
  /**
   * Cache of the free relaxation over a whole step `stepDt`: decay factor and
   * noise scale (see {@linkcode prepareStep}); used when a step is not split.
   */
  stepDt?: number;
  stepDecay?: number;
  stepKick?: number;
}

/**
 * Fills the whole-step cache of `k` for steps of `dt` (saves an `exp` and a
 * `sqrt` per step in long integrations).
 *
 * @example
 * ```ts
 * import { prepareStep } from "./lif_step.ts";
 * import assert from "node:assert/strict";
 * const k = prepareStep({ C: 1e-12, gL: 1e-7, EL: 0, VRcell: 0, gR: 0, VT: 1, threshold: false,
 *   tRef: 0, tReset: 0, low: 0, high: 1.8, sigma: 0 }, 1e-6);
 * assert.ok(Math.abs(k.stepDecay! - Math.exp(-0.1)) < 1e-15);
 * ```
 */
export function prepareStep(k: LifConstants, dt: number): LifConstants {
  const decay = Math.exp(-dt * k.gL / k.C);
  k.stepDt = dt;
  k.stepDecay = decay;
  k.stepKick = k.sigma * Math.sqrt(1 - decay * decay);
  return k;
}

/** Mutable state of one neuron. */
export interface LifState {
  /** Membrane potential (V). */
  v: number;
  /** Refractory time left (s). */
  refLeft: number;
  /** Spikes so far. */
  spikes: number;
}

const _MAX_SEGMENTS = 6;

/**
 * Advances a neuron by `dt` under a constant input current `I` (A).
 * Draws at most 6 normals, from samples `sample·8 + k` of the noise prefix.
 *
 * @example A neuron driven above threshold fires and is reset
 * ```ts
 * import { lifStep } from "./lif_step.ts";
 * import assert from "node:assert/strict";
 * const k = { C: 2e-12, gL: 2e-7, EL: 0.4, VRcell: 0.3, gR: 4e-6, VT: 0.6, threshold: true,
 *   tRef: 2e-6, tReset: 1.9e-6, low: 0, high: 1.8, sigma: 0 };
 * const s = { v: 0.4, refLeft: 0, spikes: 0 };
 * for (let i = 0; i < 1000; i++) lifStep(k, s, 60e-9, 0.1e-6, 0, i);
 * assert.ok(s.spikes > 5);
 * assert.ok(s.v < 0.6);
 * ```
 */
export function lifStep(
  k: LifConstants,
  s: LifState,
  I: number,
  dt: number,
  noisePrefix: number,
  sample: number,
): void {
  let t = dt;
  let seg = 0;
  const vInf = k.EL + I / k.gL;
  const tau = k.C / k.gL;
  while (t > 0 && seg < _MAX_SEGMENTS) {
    const noiseIndex = sample * 8 + seg;
    seg++;
    if (s.refLeft > 0) {
      const clampLeft = s.refLeft - (k.tRef - k.tReset);
      let span: number;
      if (clampLeft > 0) {
        span = t < clampLeft ? t : clampLeft;
        const g = k.gL + k.gR;
        const vEq = (k.gR * k.VRcell + k.gL * k.EL + I) / g;
        s.v = relax(s.v, vEq, k.C / g, span, k.sigma, noisePrefix, noiseIndex);
      } else {
        span = t < s.refLeft ? t : s.refLeft;
        s.v = relax(s.v, vInf, tau, span, k.sigma, noisePrefix, noiseIndex);
      }
      s.refLeft -= span;
      if (s.refLeft < 1e-15) s.refLeft = 0;
      t -= span;
    } else {
      const v0 = s.v;
      let v1: number;
      if (t === k.stepDt) {
        v1 = vInf + (v0 - vInf) * k.stepDecay!;
        if (k.stepKick! > 0) v1 += k.stepKick! * normalAt(noisePrefix, noiseIndex);
      } else {
        v1 = relax(v0, vInf, tau, t, k.sigma, noisePrefix, noiseIndex);
      }
      if (k.threshold && v1 >= k.VT) {
        let cross: number;
        if (v0 >= k.VT) cross = 0;
        else if (vInf > k.VT) cross = tau * Math.log((vInf - v0) / (vInf - k.VT));
        else cross = t * (k.VT - v0) / (v1 - v0);
        if (!(cross >= 0)) cross = 0;
        if (cross > t) cross = t;
        s.spikes++;
        s.v = k.VT;
        t -= cross;
        if (k.tRef > 0) s.refLeft = k.tRef;
        else s.v = k.VRcell;
      } else {
        s.v = v1;
        t = 0;
      }
    }
    if (s.v < k.low) s.v = k.low;
    else if (s.v > k.high) s.v = k.high;
  }
}

/**
 * Exact OU relaxation over `span` without spikes: the building block of the
 * settled and trace measurements.
 *
 * @example Noise-free relaxation
 * ```ts
 * import { relax } from "./lif_step.ts";
 * import assert from "node:assert/strict";
 * const v = relax(0, 1, 1e-6, 1e-6, 0, 0, 0);
 * assert.ok(Math.abs(v - (1 - Math.exp(-1))) < 1e-12);
 * ```
 */
export function relax(
  v: number,
  target: number,
  tau: number,
  span: number,
  sigma: number,
  prefix: number,
  index: number,
): number {
  const e = Math.exp(-span / tau);
  const next = target + (v - target) * e;
  if (sigma === 0) return next;
  return next + sigma * Math.sqrt(1 - e * e) * normalAt(prefix, index);
}
