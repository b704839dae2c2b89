/**
 * A block of neurons of one chip as struct-of-arrays: the constants and the
 * state of {@linkcode lifStep} for neurons `n0..n1`, one typed array per
 * quantity, so the time-stepped measurements loop over neurons without
 * per-neuron objects. {@linkcode lifStepAt} is `lifStep` on slot `i` of a
 * block, with the same arithmetic in the same order: a reading does not
 * depend on how the neurons are cut into blocks, nor on which thread runs a
 * block.
 *
 * @module
 */

import { normalAt } from "./fast_normal.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import type { KernelParams } from "./kernel_params.ts";
import { relax } from "./lif_step.ts";

/** Constants and state of a block of neurons (slot `i` is neuron `n0 + i`). */
export interface LifBlock {
  /** Neurons in the block. */
  readonly len: number;
  /** Capacitance (F). */
  readonly C: Float64Array;
  /** Leak conductance (S). */
  readonly gL: Float64Array;
  /** Leak potential (V). */
  readonly EL: Float64Array;
  /** Reset cell potential (V). */
  readonly VRcell: Float64Array;
  /** Reset clamp conductance (S). */
  readonly gR: Float64Array;
  /** Threshold (V). */
  readonly VT: Float64Array;
  /** Comparator on (0/1). */
  readonly thr: Uint8Array;
  /** Refractory time (s). */
  readonly tRef: Float64Array;
  /** Clamped part of the refractory time (s). */
  readonly tReset: Float64Array;
  /** Whole-step decay factor `exp(−dt·gL/C)`. */
  readonly decay: Float64Array;
  /** Whole-step noise scale `σ·sqrt(1 − decay²)`. */
  readonly kick: Float64Array;
  /** Whole-step decay `exp(−dt/τ)` under the reset clamp (`τ = C/(gL + gR)`) and its kick. */
  readonly clampDecay: Float64Array;
  /** Noise scale of a whole clamped step. */
  readonly clampKick: Float64Array;
  /** Whole-step decay `exp(−dt/τ)` (`τ = C/gL`) of a free refractory step and its kick. */
  readonly freeDecay: Float64Array;
  /** Noise scale of a whole free refractory step. */
  readonly freeKick: Float64Array;
  /** Membrane noise hash prefix per neuron. */
  readonly prefix: Float64Array;
  /** Membrane potential (V). */
  readonly v: Float64Array;
  /** Refractory time left (s). */
  readonly refLeft: Float64Array;
  /** Spikes so far. */
  readonly spikes: Float64Array;
  /** The whole step the cache holds (s). */
  readonly stepDt: number;
  /** Rails (V). */
  readonly low: number;
  /** Rails (V). */
  readonly high: number;
  /** Stationary membrane noise (V). */
  readonly sigma: number;
}

/**
 * The block of neurons `n0..n1` of a chip for whole steps of `dt`
 * (state zeroed; the caller sets `v`, `refLeft` and `prefix`).
 *
 * @example
 * ```ts
 * import { lifBlock } from "./lif_block.ts";
 * import { chipParams } from "../twin/physics.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG as twin } from "../twin/twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, twin), twin);
 * const b = lifBlock(p, twin, 64, 128, 0.1e-6);
 * assert.equal(b.len, 64);
 * assert.equal(b.gL[0], p.gL[64]);
 * ```
 */
export function lifBlock(
  p: KernelParams,
  twin: TwinConfig,
  n0: number,
  n1: number,
  dt: number,
  forceThreshold = false,
): LifBlock {
  const len = n1 - n0;
  const sigma = twin.noise.membrane;
  const b: LifBlock = {
    len,
    C: p.C.slice(n0, n1),
    gL: p.gL.slice(n0, n1),
    EL: p.EL.slice(n0, n1),
    VRcell: p.VRcell.slice(n0, n1),
    gR: p.gR.slice(n0, n1),
    VT: p.VT.slice(n0, n1),
    thr: forceThreshold ? new Uint8Array(len).fill(1) : p.thresholdEnable.slice(n0, n1),
    tRef: p.tRef.slice(n0, n1),
    tReset: p.tReset.slice(n0, n1),
    decay: new Float64Array(len),
    kick: new Float64Array(len),
    clampDecay: new Float64Array(len),
    clampKick: new Float64Array(len),
    freeDecay: new Float64Array(len),
    freeKick: new Float64Array(len),
    prefix: new Float64Array(len),
    v: new Float64Array(len),
    refLeft: new Float64Array(len),
    spikes: new Float64Array(len),
    stepDt: dt,
    low: twin.rails.low,
    high: twin.rails.high,
    sigma,
  };
  for (let i = 0; i < len; i++) {
    // As prepareStep: exp(−dt·gL/C), σ·sqrt(1 − e²).
    const decay = Math.exp(-dt * b.gL[i]! / b.C[i]!);
    b.decay[i] = decay;
    b.kick[i] = sigma * Math.sqrt(1 - decay * decay);
    // What relax computes for a whole step (span = dt), cached: the same expressions.
    const clampE = Math.exp(-dt / (b.C[i]! / (b.gL[i]! + b.gR[i]!)));
    b.clampDecay[i] = clampE;
    b.clampKick[i] = sigma * Math.sqrt(1 - clampE * clampE);
    const freeE = Math.exp(-dt / (b.C[i]! / b.gL[i]!));
    b.freeDecay[i] = freeE;
    b.freeKick[i] = sigma * Math.sqrt(1 - freeE * freeE);
  }
  return b;
}

const _MAX_SEGMENTS = 6;

/**
 * `lifStep` on slot `i` of a block: advances the neuron by `dt` under a
 * constant current `I` (A), drawing from samples `sample·8 + k` of the
 * block's noise prefix of that slot.
 *
 * @example Matches lifStep bit for bit
 * ```ts
 * import { lifBlock, lifStepAt } from "./lif_block.ts";
 * import { lifStep, prepareStep } from "./lif_step.ts";
 * import { chipParams } from "../twin/physics.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG as twin } from "../twin/twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, twin), twin);
 * const b = lifBlock(p, twin, 0, 1, 0.1e-6, true);
 * b.VT[0] = p.VT[0] = p.EL[0]! + 0.01;
 * b.prefix[0] = 77;
 * b.v[0] = p.EL[0]!;
 * const k = prepareStep({ C: p.C[0]!, gL: p.gL[0]!, EL: p.EL[0]!, VRcell: p.VRcell[0]!,
 *   gR: p.gR[0]!, VT: p.VT[0]!, threshold: true, tRef: p.tRef[0]!, tReset: p.tReset[0]!,
 *   low: twin.rails.low, high: twin.rails.high, sigma: twin.noise.membrane }, 0.1e-6);
 * const s = { v: p.EL[0]!, refLeft: 0, spikes: 0 };
 * for (let j = 0; j < 2000; j++) {
 *   lifStep(k, s, 3e-9, 0.1e-6, 77, j);
 *   lifStepAt(b, 0, 3e-9, 0.1e-6, j);
 * }
 * assert.equal(b.v[0], s.v);
 * assert.equal(b.spikes[0], s.spikes);
 * ```
 */
export function lifStepAt(b: LifBlock, i: number, I: number, dt: number, sample: number): void {
  let t = dt;
  let seg = 0;
  const C = b.C[i]!;
  const gL = b.gL[i]!;
  const EL = b.EL[i]!;
  const VT = b.VT[i]!;
  const tRef = b.tRef[i]!;
  const sigma = b.sigma;
  const noisePrefix = b.prefix[i]!;
  const vInf = EL + I / gL;
  const tau = C / gL;
  let v = b.v[i]!;
  let refLeft = b.refLeft[i]!;
  while (t > 0 && seg < _MAX_SEGMENTS) {
    const noiseIndex = sample * 8 + seg;
    seg++;
    if (refLeft > 0) {
      const clampLeft = refLeft - (tRef - b.tReset[i]!);
      let span: number;
      if (clampLeft > 0) {
        span = t < clampLeft ? t : clampLeft;
        const gR = b.gR[i]!;
        const g = gL + gR;
        const vEq = (gR * b.VRcell[i]! + gL * EL + I) / g;
        if (span === b.stepDt) {
          v = vEq + (v - vEq) * b.clampDecay[i]!;
          if (sigma !== 0) v = v + b.clampKick[i]! * normalAt(noisePrefix, noiseIndex);
        } else {
          v = relax(v, vEq, C / g, span, sigma, noisePrefix, noiseIndex);
        }
      } else {
        span = t < refLeft ? t : refLeft;
        if (span === b.stepDt) {
          v = vInf + (v - vInf) * b.freeDecay[i]!;
          if (sigma !== 0) v = v + b.freeKick[i]! * normalAt(noisePrefix, noiseIndex);
        } else {
          v = relax(v, vInf, tau, span, sigma, noisePrefix, noiseIndex);
        }
      }
      refLeft -= span;
      if (refLeft < 1e-15) refLeft = 0;
      t -= span;
    } else {
      const v0 = v;
      let v1: number;
      if (t === b.stepDt) {
        v1 = vInf + (v0 - vInf) * b.decay[i]!;
        const kick = b.kick[i]!;
        if (kick > 0) v1 += kick * normalAt(noisePrefix, noiseIndex);
      } else {
        v1 = relax(v0, vInf, tau, t, sigma, noisePrefix, noiseIndex);
      }
      if (b.thr[i] && v1 >= VT) {
        let cross: number;
        if (v0 >= VT) cross = 0;
        else if (vInf > VT) cross = tau * Math.log((vInf - v0) / (vInf - VT));
        else cross = t * (VT - v0) / (v1 - v0);
        if (!(cross >= 0)) cross = 0;
        if (cross > t) cross = t;
        b.spikes[i]!++;
        v = VT;
        t -= cross;
        if (tRef > 0) refLeft = tRef;
        else v = b.VRcell[i]!;
      } else {
        v = v1;
        t = 0;
      }
    }
    if (v < b.low) v = b.low;
    else if (v > b.high) v = b.high;
  }
  b.v[i] = v;
  b.refLeft[i] = refLeft;
}
