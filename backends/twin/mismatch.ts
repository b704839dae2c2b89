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
  cobaAExc: 46,
  cobaAInh: 47,
  cobaBExc: 48,
  cobaBInh: 49,
  cobaKExc: 50,
  cobaKInh: 51,
  cobaGammaExc: 52,
  cobaGammaInh: 53,
  sameCodeCobaExc: 54,
  sameCodeCobaInh: 55,
} as const;

/** All mismatch variables of one chip, already in physical units. */
export interface ChipMismatch {
  /** The chip's seed. */
  readonly seed: number;
  /** Leak potential gain `a_L`. */
  readonly leakA: Float64Array;
  /** Leak potential offset `b_L` (V). */
  readonly leakB: Float64Array;
  /** Leak OTA offset slope `κ_L` over the leak bias (V). */
  readonly leakKappa: Float64Array;
  /** Reset potential gain `a_R`. */
  readonly resetA: Float64Array;
  /** Reset potential offset `b_R` (V). */
  readonly resetB: Float64Array;
  /** Threshold gain `a_T`. */
  readonly thresholdA: Float64Array;
  /** Threshold offset `b_T` (V). */
  readonly thresholdB: Float64Array;
  /** Intrinsic membrane capacitance `C_int` (F). */
  readonly capIntrinsic: Float64Array;
  /** Gain of the capacitor array (log-normal). */
  readonly capGain: Float64Array;
  /** Leak conductance factor `k_L` (log-normal). */
  readonly leakK: Float64Array;
  /** Leak conductance exponent `γ_L`. */
  readonly leakGamma: Float64Array;
  /** Actual leak division ratio (≈1/8). */
  readonly leakDivRatio: Float64Array;
  /** Actual leak multiplication ratio (≈8). */
  readonly leakMulRatio: Float64Array;
  /** Parasitic leak conductance `g_par` (S). */
  readonly leakParasitic: Float64Array;
  /** Synaptic line conductance factor `k_s` [exc, inh]. */
  readonly synTauK: readonly [Float64Array, Float64Array];
  /** Synaptic line conductance exponent `γ_s` [exc, inh]. */
  readonly synTauGamma: readonly [Float64Array, Float64Array];
  /** High-resistance factor `h` [exc, inh] (≈0.1). */
  readonly synHr: readonly [Float64Array, Float64Array];
  /** Parasitic line conductance `g_s,par` (S) [exc, inh]. */
  readonly synParasitic: readonly [Float64Array, Float64Array];
  /** OTA strength factor `k_gm` [exc, inh]. */
  readonly gmK: readonly [Float64Array, Float64Array];
  /** Reference offset `ρ` (V) [exc, inh]. */
  readonly refRho: readonly [Float64Array, Float64Array];
  /** Reference slope `λ` over the shift code (V) [exc, inh]. */
  readonly refLambda: readonly [Float64Array, Float64Array];
  /** Offset current factor `k_off`. */
  readonly offsetK: Float64Array;
  /** Reset clamp factor `k_R`. */
  readonly resetK: Float64Array;
  /** Coupling `c_i` of the voltage cells to the quadrant's mean current code (V). */
  readonly crosstalkCoupling: Float64Array;
  /** Same-code crosstalk `z` per voltage row: v_leak, v_reset, v_threshold. */
  readonly sameCode: readonly [Float64Array, Float64Array, Float64Array];
  /** Voltage cell gain `g_q` per quadrant. */
  readonly quadrantGain: Float64Array;
  /** Synapse DAC factor `k_q` per quadrant. */
  readonly dacK: Float64Array;
  /** CADC ramp offset factor `k_o,q` per quadrant. */
  readonly cadcOffsetK: Float64Array;
  /** CADC ramp slope factor `k_s,q` per quadrant. */
  readonly cadcSlopeK: Float64Array;
  /** Per CADC channel (1024): analog offset δ (V). */
  readonly cadcChannel: Float64Array;
  /** Crosstalk coupling of the CADC reference cell (V). */
  readonly referenceCoupling: number;
  /** COBA reference gain `a_C` [exc, inh]. */
  readonly cobaA: readonly [Float64Array, Float64Array];
  /** COBA reference offset `b_C` (V) [exc, inh]. */
  readonly cobaB: readonly [Float64Array, Float64Array];
  /** COBA strength factor `k_C` (log-normal) [exc, inh]. */
  readonly cobaK: readonly [Float64Array, Float64Array];
  /** COBA strength exponent `γ_C` [exc, inh]. */
  readonly cobaGamma: readonly [Float64Array, Float64Array];
  /** Same-code crosstalk `z` of the COBA reference rows: e_synin_exc_rev, e_synin_inh_rev. */
  readonly sameCodeCoba: readonly [Float64Array, Float64Array];
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
    cobaA: [
      _normal(seed, Q.cobaAExc, N, config.coba.a),
      _normal(seed, Q.cobaAInh, N, config.coba.a),
    ],
    cobaB: [
      _normal(seed, Q.cobaBExc, N, config.coba.b),
      _normal(seed, Q.cobaBInh, N, config.coba.b),
    ],
    cobaK: [
      _logNormal(seed, Q.cobaKExc, N, config.coba.kSigma),
      _logNormal(seed, Q.cobaKInh, N, config.coba.kSigma),
    ],
    cobaGamma: [
      _normal(seed, Q.cobaGammaExc, N, config.coba.gamma),
      _normal(seed, Q.cobaGammaInh, N, config.coba.gamma),
    ],
    sameCodeCoba: [
      _normal(seed, Q.sameCodeCobaExc, N, _standard),
      _normal(seed, Q.sameCodeCobaInh, N, _standard),
    ],
  };
}
