/**
 * The twin's transfer functions (`TWIN.md` §3, §5, §6, §8): from a chip's
 * configuration and mismatch to the effective physical parameters of every
 * neuron and CADC channel. Both simulators integrate the dynamics from these
 * numbers, so this is the one place that says what a CapMem code means.
 *
 * @module
 */

import type { ChipConfig } from "../config.ts";
import { CADC_CHANNELS, NEURONS, NEURONS_PER_QUADRANT, QUADRANTS } from "../layout.ts";
import type { ChipMismatch } from "./mismatch.ts";
import type { TwinConfig } from "./twin_config.ts";

/** Effective parameters of every neuron and channel of one chip (SI units). */
export interface ChipParams {
  /** Membrane capacitance (F). */
  readonly C: Float64Array;
  /** Leak conductance (S). */
  readonly gL: Float64Array;
  /** Leak potential, OTA offset and crosstalk included (V). */
  readonly EL: Float64Array;
  /** Potential of the reset cell the clamp pulls towards (V). */
  readonly VRcell: Float64Array;
  /** Reset clamp conductance (S); 0 for a reset bias of 0. */
  readonly gR: Float64Array;
  /** Spike threshold (V). */
  readonly VT: Float64Array;
  /** Threshold comparator enabled (0/1). */
  readonly thresholdEnable: Uint8Array;
  /** Offset current magnitude at the configured code (A), whether enabled or not. */
  readonly Ioff: Float64Array;
  /** Offset current enabled in the configuration (0/1). */
  readonly offsetEnable: Uint8Array;
  /** DC current of the enabled synaptic-input references (A). */
  readonly Isyn: Float64Array;
  /** Excitatory OTA strength (S), 0 where the input is disabled. */
  readonly gmExc: Float64Array;
  /** Inhibitory OTA strength (S), 0 where the input is disabled. */
  readonly gmInh: Float64Array;
  /** Excitatory synaptic line time constant (s). */
  readonly tauSynExc: Float64Array;
  /** Inhibitory synaptic line time constant (s). */
  readonly tauSynInh: Float64Array;
  /** Synaptic-line drop per event and weight LSB (V), from the quadrant's DAC. */
  readonly dacAmp: Float64Array;
  /** Refractory time (s). */
  readonly tRef: Float64Array;
  /** Part of the refractory time in which the reset clamp holds (s). */
  readonly tReset: Float64Array;
  /** Per CADC channel: start of its quadrant's ramp (V), crosstalk included. */
  readonly cadcLow: Float64Array;
  /** Per CADC channel: volts per LSB of its quadrant's ramp. */
  readonly cadcLsb: Float64Array;
  /** Per CADC channel: analog offset δ (V). */
  readonly cadcDelta: Float64Array;
  /** Per CADC channel: digital offset (LSB). */
  readonly cadcDigital: Int32Array;
  /** Voltage of the CADC reference (debug line) cell at a code (V). */
  readonly referenceVoltage: (code: number) => number;
  /** Excitatory COBA reference `V_cref` (V), whether COBA is on or not. */
  readonly crefExc: Float64Array;
  /** Inhibitory COBA reference `V_cref` (V), whether COBA is on or not. */
  readonly crefInh: Float64Array;
  /** Excitatory COBA strength β (1/V); 0 where the input's COBA flag is off. */
  readonly betaExc: Float64Array;
  /** Inhibitory COBA strength β (1/V); 0 where the input's COBA flag is off. */
  readonly betaInh: Float64Array;
  /** Excitatory COBA flag (0/1). */
  readonly cobaExcEnable: Uint8Array;
  /** Inhibitory COBA flag (0/1). */
  readonly cobaInhEnable: Uint8Array;
  /** The readout neuron (`enable_readout`), or −1 where the chip has none. */
  readonly readout: number;
}

const _CURRENT_ROWS = [
  "i_bias_leak",
  "i_bias_reset",
  "i_mem_offset",
  "i_bias_synin_exc_tau",
  "i_bias_synin_exc_gm",
  "i_bias_synin_exc_shift",
  "i_bias_synin_inh_tau",
  "i_bias_synin_inh_gm",
  "i_bias_synin_inh_shift",
] as const;

/**
 * Mean code of all per-neuron current cells of each quadrant (`m_q` of the
 * crosstalk model).
 *
 * @example
 * ```ts
 * import { meanCurrentCode } from "./physics.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const m = meanCurrentCode(initialConfig());
 * assert.equal(m.length, 4);
 * assert.ok(m[0]! > 0 && m[0]! < 1022);
 * ```
 */
export function meanCurrentCode(config: ChipConfig): Float64Array {
  const out = new Float64Array(QUADRANTS);
  for (const row of _CURRENT_ROWS) {
    const codes = config[row];
    for (let n = 0; n < NEURONS; n++) out[n >> 7]! += codes[n]!;
  }
  for (let q = 0; q < QUADRANTS; q++) {
    out[q] = out[q]! / (NEURONS_PER_QUADRANT * _CURRENT_ROWS.length);
  }
  return out;
}

/**
 * How many neurons of each neuron's quadrant hold the same code ±1 in a row,
 * itself included (`n_i` of the same-code crosstalk).
 *
 * @example A scalar row: every neuron shares its code with the 127 others
 * ```ts
 * import { sameCodeCount } from "./physics.ts";
 * import assert from "node:assert/strict";
 * const n = sameCodeCount(new Int32Array(512).fill(300));
 * assert.equal(n[0], 128);
 * ```
 */
export function sameCodeCount(codes: Int32Array): Int32Array {
  const out = new Int32Array(NEURONS);
  const hist = new Int32Array(1025);
  for (let q = 0; q < QUADRANTS; q++) {
    hist.fill(0);
    const base = q * NEURONS_PER_QUADRANT;
    for (let i = 0; i < NEURONS_PER_QUADRANT; i++) hist[codes[base + i]! + 1]!++;
    for (let i = 0; i < NEURONS_PER_QUADRANT; i++) {
      const c = codes[base + i]! + 1;
      out[base + i] = hist[c - 1]! + hist[c]! + hist[c + 1]!;
    }
  }
  return out;
}

/**
 * Computes the effective parameters of a chip under a configuration.
 *
 * @example Leak potential rises with v_leak
 * ```ts
 * import { chipParams } from "./physics.ts";
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const mm = drawMismatch(1, DEFAULT_TWIN_CONFIG);
 * const cfg = initialConfig();
 * const low = chipParams(cfg, mm, DEFAULT_TWIN_CONFIG).EL[0]!;
 * cfg.v_leak.fill(700);
 * assert.ok(chipParams(cfg, mm, DEFAULT_TWIN_CONFIG).EL[0]! > low);
 * ```
 */
export function chipParams(config: ChipConfig, mm: ChipMismatch, twin: TwinConfig): ChipParams {
  const N = NEURONS;
  const vc = twin.voltageCell;
  const xt = twin.crosstalk;
  const m = meanCurrentCode(config);
  const same = [
    sameCodeCount(config.v_leak),
    sameCodeCount(config.v_reset),
    sameCodeCount(config.v_threshold),
  ] as const;
  const sameCoba = [
    sameCodeCount(config.e_synin_exc_rev),
    sameCodeCount(config.e_synin_inh_rev),
  ] as const;
  const p = {
    C: new Float64Array(N),
    gL: new Float64Array(N),
    EL: new Float64Array(N),
    VRcell: new Float64Array(N),
    gR: new Float64Array(N),
    VT: new Float64Array(N),
    thresholdEnable: new Uint8Array(N),
    Ioff: new Float64Array(N),
    offsetEnable: new Uint8Array(N),
    Isyn: new Float64Array(N),
    gmExc: new Float64Array(N),
    gmInh: new Float64Array(N),
    tauSynExc: new Float64Array(N),
    tauSynInh: new Float64Array(N),
    dacAmp: new Float64Array(N),
    tRef: new Float64Array(N),
    tReset: new Float64Array(N),
    cadcLow: new Float64Array(CADC_CHANNELS),
    cadcLsb: new Float64Array(CADC_CHANNELS),
    cadcDelta: mm.cadcChannel,
    cadcDigital: config.cadc_channel_offset.slice(),
    referenceVoltage: (code: number) =>
      mm.quadrantGain[0]! * (vc.offset + (code / 1022) * vc.span) +
      mm.referenceCoupling * (m[0]! - xt.pivot) / 1022,
    crefExc: new Float64Array(N),
    crefInh: new Float64Array(N),
    betaExc: new Float64Array(N),
    betaInh: new Float64Array(N),
    cobaExcEnable: new Uint8Array(N),
    cobaInhEnable: new Uint8Array(N),
    readout: config.enable_readout.indexOf(1),
  };
  const lc = twin.leakConductance;
  const st = twin.synapticTau;
  for (let n = 0; n < N; n++) {
    const q = n >> 7;
    const h = n >> 8;
    const g = mm.quadrantGain[q]!;
    const shift = mm.crosstalkCoupling[n]! * (m[q]! - xt.pivot) / 1022;
    const voltage = (code: number, z: number, count: number) =>
      g * (vc.offset + (code / 1022) * vc.span) + shift + xt.sameCode * z * (count - 1) / 127;
    const cell = (code: number, row: 0 | 1 | 2) =>
      voltage(code, mm.sameCode[row][n]!, same[row][n]!);
    const uLeakBias = config.i_bias_leak[n]! / 1022;
    p.EL[n] = mm.leakA[n]! * cell(config.v_leak[n]!, 0) + mm.leakB[n]! +
      mm.leakKappa[n]! * (uLeakBias - twin.leak.kappaPivot);
    p.VRcell[n] = mm.resetA[n]! * cell(config.v_reset[n]!, 1) + mm.resetB[n]!;
    p.VT[n] = mm.thresholdA[n]! * cell(config.v_threshold[n]!, 2) + mm.thresholdB[n]!;
    const C = mm.capIntrinsic[n]! +
      (config.membrane_capacitance[n]! / 63) * twin.capacitance.full * mm.capGain[n]!;
    p.C[n] = C;
    let range = 1;
    if (config.leak_division[n]) range *= mm.leakDivRatio[n]!;
    if (config.leak_multiplication[n]) range *= mm.leakMulRatio[n]!;
    p.gL[n] = mm.leakK[n]! * lc.G * Math.pow(uLeakBias, mm.leakGamma[n]!) * range +
      mm.leakParasitic[n]!;
    const resetCode = config.i_bias_reset[n]!;
    p.gR[n] = resetCode === 0 ? 0 : C /
      (twin.resetClamp.tau * (twin.resetClamp.codeRef / resetCode) * mm.resetK[n]!);
    p.thresholdEnable[n] = config.threshold_enable[n]!;
    p.offsetEnable[n] = config.offset_current_enable[n]!;
    p.Ioff[n] = mm.offsetK[n]! * twin.offsetCurrent.perCode * config.i_mem_offset[n]!;
    const tauSyn = (input: 0 | 1, code: number, hr: number) =>
      st.Cs /
      (mm.synTauK[input][n]! * st.G * Math.pow(code / 1022, mm.synTauGamma[input][n]!) *
          (hr ? mm.synHr[input][n]! : 1) + mm.synParasitic[input][n]!);
    p.tauSynExc[n] = tauSyn(
      0,
      config.i_bias_synin_exc_tau[n]!,
      config.synin_exc_high_resistance[n]!,
    );
    p.tauSynInh[n] = tauSyn(
      1,
      config.i_bias_synin_inh_tau[n]!,
      config.synin_inh_high_resistance[n]!,
    );
    const rf = twin.reference;
    let Isyn = 0;
    if (config.synin_exc_enable[n]) {
      const gm = mm.gmK[0][n]! * twin.ota.full * (config.i_bias_synin_exc_gm[n]! / 1022);
      p.gmExc[n] = gm;
      Isyn -= gm *
        (mm.refRho[0][n]! +
          mm.refLambda[0][n]! * (config.i_bias_synin_exc_shift[n]! / 1022 - rf.pivot));
    }
    if (config.synin_inh_enable[n]) {
      const gm = mm.gmK[1][n]! * twin.ota.full * (config.i_bias_synin_inh_gm[n]! / 1022);
      p.gmInh[n] = gm;
      Isyn += gm *
        (mm.refRho[1][n]! +
          mm.refLambda[1][n]! * (config.i_bias_synin_inh_shift[n]! / 1022 - rf.pivot));
    }
    p.Isyn[n] = Isyn;
    const cb = twin.coba;
    const coba = (input: 0 | 1, code: number) =>
      code === 0
        ? 0
        : mm.cobaK[input][n]! * cb.beta * Math.pow(code / cb.codeRef, mm.cobaGamma[input][n]!);
    p.crefExc[n] = mm.cobaA[0][n]! *
        voltage(config.e_synin_exc_rev[n]!, mm.sameCodeCoba[0][n]!, sameCoba[0][n]!) +
      mm.cobaB[0][n]!;
    p.crefInh[n] = mm.cobaA[1][n]! *
        voltage(config.e_synin_inh_rev[n]!, mm.sameCodeCoba[1][n]!, sameCoba[1][n]!) +
      mm.cobaB[1][n]!;
    p.cobaExcEnable[n] = config.coba_exc_enable[n]!;
    p.cobaInhEnable[n] = config.coba_inh_enable[n]!;
    p.betaExc[n] = config.coba_exc_enable[n] ? coba(0, config.i_bias_synin_exc_coba[n]!) : 0;
    p.betaInh[n] = config.coba_inh_enable[n] ? coba(1, config.i_bias_synin_inh_coba[n]!) : 0;
    p.dacAmp[n] = mm.dacK[q]! * twin.synapseDac.perWeight *
      (config.syn_i_bias_dac[q]! / twin.synapseDac.dacRef);
    const scale = config.input_clock[n] ? config.clock_scale_fast[h]! : config.clock_scale_slow[h]!;
    const period = Math.pow(2, scale + 1) / twin.refractoryClock;
    const counter = config.refractory_counter[n]!;
    const holdoffCycles = 31 - 2 * config.reset_holdoff[n]!;
    p.tRef[n] = counter * period;
    p.tReset[n] = Math.max(0, counter - holdoffCycles) * period;
  }
  const cd = twin.cadc;
  for (let ch = 0; ch < CADC_CHANNELS; ch++) {
    const q = (ch & 511) >> 7;
    p.cadcLow[ch] = cd.offsetSpan * (config.cadc_v_ramp_offset[q]! / 1022) * mm.cadcOffsetK[q]! +
      xt.ramp * (m[q]! - xt.pivot) / 1022;
    p.cadcLsb[ch] = (cd.lsbBase + cd.lsbSpan * (config.cadc_i_ramp_slope[q]! / 1022)) *
      mm.cadcSlopeK[q]!;
  }
  return p;
}

/**
 * The settled membrane potential of neuron `n` without noise: the leak
 * potential moved by the DC currents (enabled synaptic references and an
 * enabled offset current), clamped to the rails.
 *
 * @example
 * ```ts
 * import { chipParams, restingPotential } from "./physics.ts";
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, DEFAULT_TWIN_CONFIG), DEFAULT_TWIN_CONFIG);
 * assert.ok(Math.abs(restingPotential(p, 0, DEFAULT_TWIN_CONFIG) - p.EL[0]!) < 1e-12);
 * ```
 */
export function restingPotential(p: ChipParams, n: number, twin: TwinConfig): number {
  const I = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
  return _clamp(p.EL[n]! + I / p.gL[n]!, twin.rails.low, twin.rails.high);
}

/**
 * The potential at which neuron `n` settles while held in reset: the clamp
 * towards the reset cell and the leak (with the DC currents) in balance.
 *
 * @example
 * ```ts
 * import { chipParams, heldResetPotential } from "./physics.ts";
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, DEFAULT_TWIN_CONFIG), DEFAULT_TWIN_CONFIG);
 * const v = heldResetPotential(p, 0, DEFAULT_TWIN_CONFIG);
 * // Between the reset cell and the leak potential the leak pulls towards.
 * assert.ok((v - p.VRcell[0]!) * (p.EL[0]! - v) > 0);
 * ```
 */
export function heldResetPotential(p: ChipParams, n: number, twin: TwinConfig): number {
  const I = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
  const g = p.gR[n]! + p.gL[n]!;
  return _clamp(
    (p.gR[n]! * p.VRcell[n]! + p.gL[n]! * p.EL[n]! + I) / g,
    twin.rails.low,
    twin.rails.high,
  );
}

/**
 * The noise-free, unrounded CADC reading of a voltage on channel `ch`,
 * clamped to 0..255.
 *
 * @example
 * ```ts
 * import { cadcContinuous, chipParams } from "./physics.ts";
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, DEFAULT_TWIN_CONFIG), DEFAULT_TWIN_CONFIG);
 * assert.ok(cadcContinuous(p, 0, 0.6) > cadcContinuous(p, 0, 0.3));
 * assert.equal(cadcContinuous(p, 0, 5), 255);
 * ```
 */
export function cadcContinuous(p: ChipParams, ch: number, volts: number): number {
  const r = (volts - p.cadcLow[ch]! - p.cadcDelta[ch]!) / p.cadcLsb[ch]! + p.cadcDigital[ch]!;
  return _clamp(r, 0, 255);
}

/**
 * The noise-free CADC reading of a voltage on channel `ch`, neither rounded
 * nor clamped (a potential outside the ramp reads below 0 or above 255;
 * ±Infinity stays ±Infinity): what truth reports for COBA reversals, which
 * may lie outside the CADC's range.
 *
 * @example
 * ```ts
 * import { cadcContinuous, cadcLinear, chipParams } from "./physics.ts";
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, DEFAULT_TWIN_CONFIG), DEFAULT_TWIN_CONFIG);
 * assert.equal(cadcLinear(p, 0, 0.5), cadcContinuous(p, 0, 0.5));
 * assert.ok(cadcLinear(p, 0, 5) > 255);
 * assert.equal(cadcLinear(p, 0, -Infinity), -Infinity);
 * ```
 */
export function cadcLinear(p: ChipParams, ch: number, volts: number): number {
  return (volts - p.cadcLow[ch]! - p.cadcDelta[ch]!) / p.cadcLsb[ch]! + p.cadcDigital[ch]!;
}

/**
 * The COBA modulation of a synaptic input's OTA current at membrane
 * potential `v` (`TWIN.md` §8): `clamp(1 − s·β·(v − V_cref), 0, max)` with
 * `s = +1` (excitatory) or `−1` (inhibitory). With β = 0 (COBA off) it is
 * exactly 1.
 *
 * @example
 * ```ts
 * import { cobaModulation } from "./physics.ts";
 * import assert from "node:assert/strict";
 * assert.equal(cobaModulation(0.7, 0.5, 0, 1, 3), 1);
 * assert.ok(Math.abs(cobaModulation(0.55, 0.5, 8, 1, 3) - 0.6) < 1e-12);
 * assert.equal(cobaModulation(0.9, 0.5, 8, 1, 3), 0);
 * assert.equal(cobaModulation(0.1, 0.5, 8, 1, 3), 3);
 * assert.equal(cobaModulation(0.1, 0.5, 8, -1, 3), 0);
 * ```
 */
export function cobaModulation(
  v: number,
  cref: number,
  beta: number,
  sign: 1 | -1,
  max: number,
): number {
  return _clamp(1 - sign * beta * (v - cref), 0, max);
}

/**
 * The effective reversal potential of a COBA input, `V_cref + s/β`: where
 * the modulation, extrapolated linearly, vanishes. `+Infinity` (excitatory)
 * or `−Infinity` (inhibitory) at β = 0 (COBA off).
 *
 * @example
 * ```ts
 * import { cobaReversal } from "./physics.ts";
 * import assert from "node:assert/strict";
 * assert.equal(cobaReversal(0.5, 8, 1), 0.625);
 * assert.equal(cobaReversal(0.5, 8, -1), 0.375);
 * assert.equal(cobaReversal(0.5, 0, 1), Infinity);
 * assert.equal(cobaReversal(0.5, 0, -1), -Infinity);
 * ```
 */
export function cobaReversal(cref: number, beta: number, sign: 1 | -1): number {
  return cref + sign / beta;
}

/**
 * One CADC channel read: quantised and clamped, with read noise `epsilon` (LSB) added before rounding.
 *
 * @example
 * ```ts
 * import { cadcRead, chipParams } from "./physics.ts";
 * import { drawMismatch } from "./mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, DEFAULT_TWIN_CONFIG), DEFAULT_TWIN_CONFIG);
 * const r = cadcRead(p, 0, 0.5, 0);
 * assert.ok(Number.isInteger(r) && r >= 0 && r <= 255);
 * ```
 */
export function cadcRead(p: ChipParams, ch: number, volts: number, epsilon: number): number {
  const r = (volts - p.cadcLow[ch]! - p.cadcDelta[ch]!) / p.cadcLsb[ch]! + p.cadcDigital[ch]! +
    epsilon;
  return _clamp(Math.round(r), 0, 255);
}

/**
 * One MADC sample of a voltage, with read noise `epsilon` (LSB): 10 bit, clamped.
 *
 * @example
 * ```ts
 * import { madcRead } from "./physics.ts";
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(madcRead(0.05, 0, DEFAULT_TWIN_CONFIG), 0);
 * assert.equal(madcRead(9, 0, DEFAULT_TWIN_CONFIG), 1023);
 * ```
 */
export function madcRead(volts: number, epsilon: number, twin: TwinConfig): number {
  return _clamp(Math.round((volts - twin.madc.offset) / twin.madc.lsb + epsilon), 0, 1023);
}

function _clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
