/**
 * The fixed-pattern mismatch of one twin chip: every per-neuron, per-quadrant
 * and per-channel random variable of `TWIN.md`, drawn once from the
 * counter-based RNG keyed by `(seed, quantity, index)`. The same seed gives
 * the same chip on every backend and machine, whatever else is in the batch.
 *
 * @module
 */

import { CADC_CHANNELS, NEURONS, QUADRANTS } from "../layout.ts";
import { hash3, mismatchKey, normalAt } from "../rng.ts";
import type { Normal, TwinConfig } from "./twin_config.ts";

/**
 * Quantity ids: the second key of every mismatch draw. Never renumber: the
 * ids define which random numbers a seed gives.
 */
export const Quantity = {
  leakA: 1,
  leakB: 2,
  leakKappa: 3,
  resetA: 4,
  resetB: 5,
  thresholdA: 6,
  thresholdB: 7,
  capIntrinsic: 8,
  capGain: 9,
  leakK: 10,
  leakGamma: 11,
  leakDivRatio: 12,
  leakMulRatio: 13,
  leakParasitic: 14,
  synTauKExc: 15,
  synTauKInh: 16,
  synTauGammaExc: 17,
  synTauGammaInh: 18,
  synHrExc: 19,
  synHrInh: 20,
  synParasiticExc: 21,
  synParasiticInh: 22,
  gmKExc: 23,
  gmKInh: 24,
  refRhoExc: 25,
  refRhoInh: 26,
  refLambdaExc: 27,
  refLambdaInh: 28,
  offsetK: 29,
  resetK: 30,
  crosstalkCoupling: 31,
  sameCodeLeak: 32,
  sameCodeReset: 33,
  sameCodeThreshold: 34,
  quadrantGain: 40,
  dacK: 41,
  cadcOffsetK: 42,
  cadcSlopeK: 43,
  cadcChannel: 44,
  referenceCoupling: 45,
} as const;

/** All mismatch variables of one chip, already in physical units. */
export interface ChipMismatch {
  readonly seed: number;
  /** Per neuron (512 each). */
  readonly leakA: Float64Array;
  readonly leakB: Float64Array;
  readonly leakKappa: Float64Array;
  readonly resetA: Float64Array;
  readonly resetB: Float64Array;
  readonly thresholdA: Float64Array;
  readonly thresholdB: Float64Array;
  readonly capIntrinsic: Float64Array;
  readonly capGain: Float64Array;
  readonly leakK: Float64Array;
  readonly leakGamma: Float64Array;
  readonly leakDivRatio: Float64Array;
  readonly leakMulRatio: Float64Array;
  readonly leakParasitic: Float64Array;
  readonly synTauK: readonly [Float64Array, Float64Array];
  readonly synTauGamma: readonly [Float64Array, Float64Array];
  readonly synHr: readonly [Float64Array, Float64Array];
  readonly synParasitic: readonly [Float64Array, Float64Array];
  readonly gmK: readonly [Float64Array, Float64Array];
  readonly refRho: readonly [Float64Array, Float64Array];
  readonly refLambda: readonly [Float64Array, Float64Array];
  readonly offsetK: Float64Array;
  readonly resetK: Float64Array;
  readonly crosstalkCoupling: Float64Array;
  /** Same-code crosstalk `z` per voltage row: v_leak, v_reset, v_threshold. */
  readonly sameCode: readonly [Float64Array, Float64Array, Float64Array];
  /** Per quadrant (4 each). */
  readonly quadrantGain: Float64Array;
  readonly dacK: Float64Array;
  readonly cadcOffsetK: Float64Array;
  readonly cadcSlopeK: Float64Array;
  /** Per CADC channel (1024): analog offset δ (V). */
  readonly cadcChannel: Float64Array;
  /** Crosstalk coupling of the CADC reference cell (V). */
  readonly referenceCoupling: number;
}

/**
 * The standard normal draw of a chip's mismatch variable.
 *
 * @example
 * ```ts
 * import { mismatchNormal, Quantity } from "./mismatch.ts";
 * import assert from "node:assert/strict";
 * assert.equal(mismatchNormal(7, Quantity.leakA, 3), mismatchNormal(7, Quantity.leakA, 3));
 * assert.notEqual(mismatchNormal(7, Quantity.leakA, 3), mismatchNormal(8, Quantity.leakA, 3));
 * ```
 */
export function mismatchNormal(seed: number, quantity: number, index: number): number {
  return normalAt(hash3(mismatchKey(seed), quantity, index), 0);
}

function _normal(seed: number, q: number, n: number, d: Normal): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = d.mean + d.sd * mismatchNormal(seed, q, i);
  return out;
}

function _logNormal(seed: number, q: number, n: number, sigma: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.exp(sigma * mismatchNormal(seed, q, i));
  return out;
}

const _standard: Normal = { mean: 0, sd: 1 };

/**
 * Draws the mismatch of the chip with `seed` under `config`.
 *
 * @example Same seed, same chip
 * ```ts
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 * const a = drawMismatch(3, DEFAULT_TWIN_CONFIG);
 * const b = drawMismatch(3, DEFAULT_TWIN_CONFIG);
 * assert.deepEqual(a.leakK, b.leakK);
 * ```
 */
export function drawMismatch(seed: number, config: TwinConfig): ChipMismatch {
  const N = NEURONS;
  const Q = Quantity;
  const lc = config.leakConductance;
  const st = config.synapticTau;
  return {
    seed,
    leakA: _normal(seed, Q.leakA, N, config.leak.a),
    leakB: _normal(seed, Q.leakB, N, config.leak.b),
    leakKappa: _normal(seed, Q.leakKappa, N, config.leak.kappa),
    resetA: _normal(seed, Q.resetA, N, config.reset.a),
    resetB: _normal(seed, Q.resetB, N, config.reset.b),
    thresholdA: _normal(seed, Q.thresholdA, N, config.threshold.a),
    thresholdB: _normal(seed, Q.thresholdB, N, config.threshold.b),
    capIntrinsic: _normal(seed, Q.capIntrinsic, N, config.capacitance.intrinsic),
    capGain: _logNormal(seed, Q.capGain, N, config.capacitance.gainSigma),
    leakK: _logNormal(seed, Q.leakK, N, lc.kSigma),
    leakGamma: _normal(seed, Q.leakGamma, N, lc.gamma),
    leakDivRatio: _logNormal(seed, Q.leakDivRatio, N, lc.ratioSigma).map((r) => r / 8),
    leakMulRatio: _logNormal(seed, Q.leakMulRatio, N, lc.ratioSigma).map((r) => r * 8),
    leakParasitic: _logNormal(seed, Q.leakParasitic, N, lc.parasiticSigma).map((r) =>
      r * lc.parasitic
    ),
    synTauK: [
      _logNormal(seed, Q.synTauKExc, N, st.kSigma),
      _logNormal(seed, Q.synTauKInh, N, st.kSigma),
    ],
    synTauGamma: [
      _normal(seed, Q.synTauGammaExc, N, st.gamma),
      _normal(seed, Q.synTauGammaInh, N, st.gamma),
    ],
    synHr: [
      _logNormal(seed, Q.synHrExc, N, st.hrSigma).map((r) => r * st.highResistance),
      _logNormal(seed, Q.synHrInh, N, st.hrSigma).map((r) => r * st.highResistance),
    ],
    synParasitic: [
      _logNormal(seed, Q.synParasiticExc, N, st.parasiticSigma).map((r) => r * st.parasitic),
      _logNormal(seed, Q.synParasiticInh, N, st.parasiticSigma).map((r) => r * st.parasitic),
    ],
    gmK: [
      _logNormal(seed, Q.gmKExc, N, config.ota.kSigma),
      _logNormal(seed, Q.gmKInh, N, config.ota.kSigma),
    ],
    refRho: [
      _normal(seed, Q.refRhoExc, N, config.reference.rho),
      _normal(seed, Q.refRhoInh, N, config.reference.rho),
    ],
    refLambda: [
      _normal(seed, Q.refLambdaExc, N, config.reference.lambda),
      _normal(seed, Q.refLambdaInh, N, config.reference.lambda),
    ],
    offsetK: _logNormal(seed, Q.offsetK, N, config.offsetCurrent.kSigma),
    resetK: _logNormal(seed, Q.resetK, N, config.resetClamp.kSigma),
    crosstalkCoupling: _normal(seed, Q.crosstalkCoupling, N, config.crosstalk.coupling),
    sameCode: [
      _normal(seed, Q.sameCodeLeak, N, _standard),
      _normal(seed, Q.sameCodeReset, N, _standard),
      _normal(seed, Q.sameCodeThreshold, N, _standard),
    ],
    quadrantGain: _normal(seed, Q.quadrantGain, QUADRANTS, {
      mean: 1,
      sd: config.voltageCell.gainSd,
    }),
    dacK: _logNormal(seed, Q.dacK, QUADRANTS, config.synapseDac.kSigma),
    cadcOffsetK: _logNormal(seed, Q.cadcOffsetK, QUADRANTS, config.cadc.rampSigma),
    cadcSlopeK: _logNormal(seed, Q.cadcSlopeK, QUADRANTS, config.cadc.rampSigma),
    cadcChannel: _normal(seed, Q.cadcChannel, CADC_CHANNELS, {
      mean: 0,
      sd: config.cadc.channelSd,
    }),
    referenceCoupling: config.crosstalk.coupling.mean +
      config.crosstalk.coupling.sd * mismatchNormal(seed, Q.referenceCoupling, 0),
  };
}
