/**
 * Host-side packing of the twin's data into the GPU buffers whose layouts
 * `kernels/twin_common.wgsl` declares: the `Twin` uniform, per-neuron and
 * per-quadrant mismatch, the configuration, and the per-dispatch `Desc`
 * slots. The field orders here and in the WGSL structs must agree; the
 * CPU/GPU parity tests hold them together.
 *
 * @module
 */

import {
  type ChipConfig,
  FIELD_NAMES,
  type FieldName,
  FIELDS,
  SEARCHABLE_FIELDS,
} from "../config.ts";
import { CADC_CHANNELS, NEURONS, QUADRANTS } from "../layout.ts";
import type { ChipMismatch } from "../twin/mismatch.ts";
import type { TwinConfig } from "../twin/twin_config.ts";

/** Bytes of one `Desc` slot (the dynamic-offset alignment). */
export const DESC_STRIDE = 256;

/** f32 values per `NeuronMismatch`. */
export const MISMATCH_FLOATS = 44;
/** f32 values per `NeuronParams`. */
export const PARAM_FLOATS = 24;
/** i32 values per `ChipConfig`. */
export const CHIP_CONFIG_INTS = 16;
/** f32 values per `MeasState`. */
export const MEAS_STATE_FLOATS = 8;

/**
 * The per-neuron configuration fields, in the order of the WGSL
 * `NeuronConfig` (the order of `FIELDS`): the 16 CapMem rows first, then the
 * digital settings.
 */
export const NEURON_FIELDS: readonly FieldName[] = FIELD_NAMES.filter((f) =>
  FIELDS[f].scope === "neuron"
);

/** i32 values per `NeuronConfig`: one per per-neuron field, in {@linkcode NEURON_FIELDS} order (31). */
export const NEURON_CONFIG_INTS: number = NEURON_FIELDS.length;

/**
 * The `Twin` uniform: the model numbers the kernels read.
 *
 * @example
 * ```ts
 * import { packTwin } from "./layout.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * const u = packTwin(DEFAULT_TWIN_CONFIG);
 * assert.equal(u.length, 36);
 * assert.equal(u[31], Infinity);
 * assert.equal(u[32], 8);
 * ```
 */
export function packTwin(t: TwinConfig): Float32Array {
  return Float32Array.from([
    t.voltageCell.offset,
    t.voltageCell.span,
    t.rails.low,
    t.rails.high,
    t.noise.membrane,
    t.noise.line,
    t.noise.cadc,
    t.noise.madc,
    t.lineRest,
    t.madc.offset,
    t.madc.lsb,
    t.cadc.readPeriod,
    t.leak.kappaPivot,
    t.capacitance.full,
    t.leakConductance.G,
    t.synapticTau.Cs,
    t.synapticTau.G,
    t.ota.full,
    t.reference.pivot,
    t.synapseDac.perWeight,
    t.synapseDac.dacRef,
    t.offsetCurrent.perCode,
    t.resetClamp.tau,
    t.resetClamp.codeRef,
    t.cadc.offsetSpan,
    t.cadc.lsbBase,
    t.cadc.lsbSpan,
    t.crosstalk.pivot,
    t.crosstalk.ramp,
    t.crosstalk.sameCode,
    t.refractoryClock,
    Infinity,
    t.coba.beta,
    t.coba.codeRef,
    t.coba.maxModulation,
    0,
  ]);
}

/**
 * Per-neuron mismatch of one chip, `NeuronMismatch` × 512.
 *
 * @example
 * ```ts
 * import { packNeuronMismatch, MISMATCH_FLOATS } from "./layout.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * const m = drawMismatch(1, DEFAULT_TWIN_CONFIG);
 * const a = packNeuronMismatch(m);
 * assert.equal(a.length, 512 * MISMATCH_FLOATS);
 * assert.equal(a[0], Math.fround(m.leakA[0]!));
 * ```
 */
export function packNeuronMismatch(m: ChipMismatch): Float32Array {
  const cols: ArrayLike<number>[] = [
    m.leakA,
    m.leakB,
    m.leakKappa,
    m.resetA,
    m.resetB,
    m.thresholdA,
    m.thresholdB,
    m.capIntrinsic,
    m.capGain,
    m.leakK,
    m.leakGamma,
    m.leakDivRatio,
    m.leakMulRatio,
    m.leakParasitic,
    m.synTauK[0],
    m.synTauK[1],
    m.synTauGamma[0],
    m.synTauGamma[1],
    m.synHr[0],
    m.synHr[1],
    m.synParasitic[0],
    m.synParasitic[1],
    m.gmK[0],
    m.gmK[1],
    m.refRho[0],
    m.refRho[1],
    m.refLambda[0],
    m.refLambda[1],
    m.offsetK,
    m.resetK,
    m.crosstalkCoupling,
    m.sameCode[0],
    m.sameCode[1],
    m.sameCode[2],
    m.cobaA[0],
    m.cobaA[1],
    m.cobaB[0],
    m.cobaB[1],
    m.cobaK[0],
    m.cobaK[1],
    m.cobaGamma[0],
    m.cobaGamma[1],
    m.sameCodeCoba[0],
    m.sameCodeCoba[1],
  ];
  const out = new Float32Array(NEURONS * MISMATCH_FLOATS);
  for (let n = 0; n < NEURONS; n++) {
    for (let k = 0; k < MISMATCH_FLOATS; k++) out[n * MISMATCH_FLOATS + k] = cols[k]![n]!;
  }
  return out;
}

/**
 * Per-quadrant mismatch of one chip, `QuadrantMismatch` × 4.
 *
 * @example
 * ```ts
 * import { packQuadrantMismatch } from "./layout.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(packQuadrantMismatch(drawMismatch(1, DEFAULT_TWIN_CONFIG)).length, 16);
 * ```
 */
export function packQuadrantMismatch(m: ChipMismatch): Float32Array {
  const out = new Float32Array(QUADRANTS * 4);
  for (let q = 0; q < QUADRANTS; q++) {
    out.set([m.quadrantGain[q]!, m.dacK[q]!, m.cadcOffsetK[q]!, m.cadcSlopeK[q]!], q * 4);
  }
  return out;
}

/**
 * The channel offsets of one chip followed by its reference-cell coupling (1025 values).
 *
 * @example
 * ```ts
 * import { packChannelMismatch } from "./layout.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(packChannelMismatch(drawMismatch(1, DEFAULT_TWIN_CONFIG)).length, 1025);
 * ```
 */
export function packChannelMismatch(m: ChipMismatch): Float32Array {
  const out = new Float32Array(CADC_CHANNELS + 1);
  out.set(m.cadcChannel);
  out[CADC_CHANNELS] = m.referenceCoupling;
  return out;
}

/**
 * One chip's configuration as the three GPU arrays: `NeuronConfig` × 512,
 * `ChipConfig`, channel offsets × 1024.
 *
 * @example
 * ```ts
 * import { packConfig } from "./layout.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = packConfig(initialConfig());
 * assert.equal(p.neuron.length, 512 * 31);
 * assert.equal(p.neuron[0], 400);
 * assert.equal(p.chip[0], 600);
 * ```
 */
export function packConfig(c: Readonly<ChipConfig>): {
  neuron: Int32Array;
  chip: Int32Array;
  channel: Int32Array;
} {
  const neuron = new Int32Array(NEURONS * NEURON_CONFIG_INTS);
  NEURON_FIELDS.forEach((f, k) => {
    const col = c[f];
    for (let n = 0; n < NEURONS; n++) neuron[n * NEURON_CONFIG_INTS + k] = col[n]!;
  });
  const chip = new Int32Array(CHIP_CONFIG_INTS);
  chip.set(c.syn_i_bias_dac, 0);
  chip.set(c.cadc_v_ramp_offset, 4);
  chip.set(c.cadc_i_ramp_slope, 8);
  chip.set(c.clock_scale_fast, 12);
  chip.set(c.clock_scale_slow, 14);
  return { neuron, chip, channel: c.cadc_channel_offset.slice() };
}

/**
 * The id of a searchable field in the search kernels' `writeCode` (`kernels/search.wgsl`).
 *
 * @example
 * ```ts
 * import { fieldId } from "./layout.ts";
 * import assert from "node:assert/strict";
 * assert.equal(fieldId("v_leak"), 0);
 * assert.equal(fieldId("i_bias_synin_inh_coba"), 15);
 * assert.equal(fieldId("cadc_channel_offset"), 19);
 * ```
 */
export function fieldId(field: FieldName): number {
  const id = (SEARCHABLE_FIELDS as readonly FieldName[]).indexOf(field);
  if (id < 0) throw new TypeError(`Field "${field}" cannot be written by a GPU search`);
  return id;
}

/** Every row of `quadrantStats` (`kernels/params.wgsl`): bit 0 the mean current code, bits 1..5 the voltage rows. */
export const ALL_STATS_ROWS = 0b111111;

const _STATS_ROW: Partial<Record<FieldName, number>> = {
  i_bias_leak: 0,
  i_bias_reset: 0,
  i_mem_offset: 0,
  i_bias_synin_exc_tau: 0,
  i_bias_synin_exc_gm: 0,
  i_bias_synin_exc_shift: 0,
  i_bias_synin_inh_tau: 0,
  i_bias_synin_inh_gm: 0,
  i_bias_synin_inh_shift: 0,
  v_leak: 1,
  v_reset: 2,
  v_threshold: 3,
  e_synin_exc_rev: 4,
  e_synin_inh_rev: 5,
};

/**
 * The rows of `quadrantStats` a change of `field` makes stale, as a bit mask
 * (0 for a field the quadrant statistics do not read: they hold the mean of
 * the nine current rows of `currentSum` and the same-code counts of the five
 * voltage rows).
 *
 * @example
 * ```ts
 * import { ALL_STATS_ROWS, statsRows } from "./layout.ts";
 * import assert from "node:assert/strict";
 * assert.equal(statsRows("i_bias_leak"), 0b1);
 * assert.equal(statsRows("v_threshold"), 0b1000);
 * assert.equal(statsRows("syn_i_bias_dac"), 0);
 * assert.equal(statsRows("i_bias_synin_exc_coba"), 0);
 * assert.equal(ALL_STATS_ROWS, 0b111111);
 * ```
 */
export function statsRows(field: FieldName): number {
  const row = _STATS_ROW[field];
  return row === undefined ? 0 : 1 << row;
}

/** Values of one `Desc` slot; unnamed fields are 0. */
export interface DescValues {
  /** Active chips. */
  chips: number;
  /** Operation counter offset. */
  op?: number;
  /** `u0..u13`, kind-specific. */
  u?: readonly number[];
  /** `f0..f7`, kind-specific. */
  f?: readonly number[];
}

/**
 * Writes a `Desc` into slot `slot` of a byte buffer.
 *
 * @example
 * ```ts
 * import { DESC_STRIDE, writeDesc } from "./layout.ts";
 * import assert from "node:assert/strict";
 * const buf = new ArrayBuffer(2 * DESC_STRIDE);
 * writeDesc(buf, 1, { chips: 3, u: [7, -1], f: [0.5] });
 * const u = new Uint32Array(buf, DESC_STRIDE, 16);
 * assert.equal(u[0], 3);
 * assert.equal(u[2], 7);
 * assert.equal(new Int32Array(buf, DESC_STRIDE, 16)[3], -1);
 * assert.equal(new Float32Array(buf, DESC_STRIDE + 64, 8)[0], 0.5);
 * ```
 */
export function writeDesc(buffer: ArrayBuffer, slot: number, d: DescValues): void {
  const base = slot * DESC_STRIDE;
  const u = new Int32Array(buffer, base, 16);
  const f = new Float32Array(buffer, base + 64, 8);
  u.fill(0);
  f.fill(0);
  u[0] = d.chips;
  u[1] = d.op ?? 0;
  (d.u ?? []).forEach((v, k) => (u[2 + k] = v | 0));
  (d.f ?? []).forEach((v, k) => (f[k] = v));
}
