/**
 * `NeuronCalibResult`: what a calibration found for one chip, as plain,
 * versioned JSON that round-trips exactly — every calibrated CapMem row and
 * digital setting per neuron, the success mask, the target and options used
 * (times as strings with units), warnings, and what the check after the
 * calibration measured, so users see residuals, not only codes. The CADC
 * calibration the neuron calibration ran on is kept beside it.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import {
  COBA_CAPMEM_ROWS,
  type ConfigPatch,
  FIELDS,
  NEURON_CAPMEM_ROWS,
  type NeuronCapMemRow,
} from "../backends/config.ts";
import { CADC_CHANNELS, NEURONS } from "../backends/layout.ts";
import type { CadcCalibResult } from "./cadc.ts";
import type { NeuronCalibOptions, NeuronCalibTarget } from "./target.ts";

/**
 * Version of the result file format; bumped on incompatible changes.
 * Format 2 added the COBA CapMem rows and the COBA and readout flags;
 * format-1 files are read with those at their power-on values.
 */
export const RESULT_FORMAT = 2;

/**
 * The per-neuron digital settings a neuron calibration stores.
 *
 * @example
 * ```ts
 * import { RESULT_DIGITAL_FIELDS } from "./result.ts";
 * import { FIELDS } from "../backends/config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(RESULT_DIGITAL_FIELDS.every((f) => FIELDS[f].group === "digital"));
 * ```
 */
export const RESULT_DIGITAL_FIELDS = [
  "membrane_capacitance",
  "leak_division",
  "leak_multiplication",
  "synin_exc_enable",
  "synin_inh_enable",
  "synin_exc_high_resistance",
  "synin_inh_high_resistance",
  "threshold_enable",
  "offset_current_enable",
  "refractory_counter",
  "reset_holdoff",
  "input_clock",
  "coba_exc_enable",
  "coba_inh_enable",
  "enable_readout",
] as const;

/**
 * A per-neuron digital setting of a result.
 *
 * @example
 * ```ts
 * import type { NeuronCalibResult, ResultDigitalField } from "./result.ts";
 * import assert from "node:assert/strict";
 *
 * function neuronsWith(result: Pick<NeuronCalibResult, "neuron">, flag: ResultDigitalField): number[] {
 *   return result.neuron[flag].flatMap((v, n) => (v ? [n] : []));
 * }
 * const readout = new Array(512).fill(0);
 * readout[17] = 1;
 * const neuron = { enable_readout: readout } as NeuronCalibResult["neuron"];
 * assert.deepEqual(neuronsWith({ neuron }, "enable_readout"), [17]);
 * ```
 */
export type ResultDigitalField = (typeof RESULT_DIGITAL_FIELDS)[number];

/** The parameters every verification measures, in order. */
export const VERIFIED_PARAMETERS = [
  "leak",
  "reset",
  "threshold",
  "tau_mem",
  "tau_syn_exc",
  "tau_syn_inh",
  "psp_exc",
  "psp_inh",
] as const;

/**
 * Per-neuron values measured after the calibration (null where a value is not measurable).
 *
 * @example
 * ```ts
 * import type { Verification } from "./result.ts";
 * import assert from "node:assert/strict";
 *
 * // The largest distance of a verified potential from its target, over the neurons measured.
 * function worst(v: Verification, p: "leak" | "reset" | "threshold", target: number): number {
 *   return Math.max(...v[p].filter((x) => x !== null).map((x) => Math.abs(x - target)));
 * }
 * const measured = { leak: [79.5, 80.25, null, 81] } as Verification;
 * assert.equal(worst(measured, "leak", 80), 1);
 * ```
 */
export interface Verification {
  /** Resting potential (CADC LSB). */
  readonly leak: (number | null)[];
  /** Reset potential (CADC LSB). */
  readonly reset: (number | null)[];
  /** Threshold: maximum membrane reading while firing (CADC LSB). */
  readonly threshold: (number | null)[];
  /** Membrane time constant (s). */
  readonly tau_mem: (number | null)[];
  /** Excitatory synaptic time constant (s). */
  readonly tau_syn_exc: (number | null)[];
  /** Inhibitory synaptic time constant (s). */
  readonly tau_syn_inh: (number | null)[];
  /** Excitatory PSP amplitude of 6 events 1 µs apart, read 1 µs after the last (CADC LSB). */
  readonly psp_exc: (number | null)[];
  /** Inhibitory PSP amplitude of 6 events, as `psp_exc` (CADC LSB, positive). */
  readonly psp_inh: (number | null)[];
  /** Firing rate without input after a leak-over-threshold calibration (Hz). */
  readonly rate?: (number | null)[];
}

/**
 * The result of a neuron calibration of one chip.
 *
 * @example
 * ```ts
 * import { calibrate, openBackend, parseResult, resultToJson } from "../mod.ts";
 * import type { NeuronCalibResult } from "./result.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const [result]: NeuronCalibResult[] = await calibrate(backend, { leak: 90 });
 * assert.equal(result!.chipId, "sim-1");
 * assert.equal(result!.capmem.v_leak.length, 512); // CapMem codes per neuron
 * assert.equal(result!.target.leak, 90);
 * const leak = result!.verification.leak.filter((v) => v !== null).sort((a, b) => a - b);
 * assert.ok(Math.abs(leak[256]! - 90) < 2); // measured after the calibration, CADC LSB
 * assert.deepEqual(parseResult(resultToJson(result!)), result); // a file round-trips exactly
 * await backend.close();
 * ```
 */
export interface NeuronCalibResult {
  /** Discriminates result files. */
  readonly kind: "neuron";
  /** File format version ({@linkcode RESULT_FORMAT}). */
  readonly format: number;
  /** lifcal version that produced it. */
  readonly lifcal_version: string;
  /** Full chip id. */
  readonly chipId: string;
  /** Calibrated CapMem rows, 512 codes each. */
  readonly capmem: Record<NeuronCapMemRow, number[]>;
  /** Per-neuron digital settings, 512 values each. */
  readonly neuron: Record<ResultDigitalField, number[]>;
  /** Per-hemisphere refractory clock scalers. */
  readonly hemisphere: { clock_scale_fast: number[]; clock_scale_slow: number[] };
  /** Per-quadrant synapse DAC bias. */
  readonly quadrant: { syn_i_bias_dac: number[] };
  /** The synaptic-input working point: events per PSP measurement and the amplitude aimed at (CADC LSB). */
  readonly synin: { events: number; psp_target: number };
  /** The CADC calibration this chip was calibrated with (re-run before refinement). */
  cadc?: CadcCalibResult;
  /** Per neuron: no search of steps that count ended on a range bound. */
  readonly success: boolean[];
  /** The target used, with units. */
  target: NeuronCalibTarget;
  /** The options used. */
  readonly options: NeuronCalibOptions;
  /** Warnings, in the order they arose. */
  readonly warnings: string[];
  /** What the check after the calibration measured. */
  verification: Verification;
  /** The leak-over-threshold rate calibrated last (Hz, with unit), if any. */
  leak_over_threshold?: string | { value: number[]; unit: string };
  /**
   * With `leak_over_threshold`: the neurons whose threshold search ended on a
   * range bound (their rate is out of reach; a warning names them too).
   */
  leak_over_threshold_at_bound?: number[];
}

/** Format 1 knew neither the COBA cells nor the COBA and readout flags: they were at power-on. */
function _upgradeFormat1(r: Record<string, unknown>): void {
  const capmem = r.capmem as Record<string, unknown> | undefined;
  const neuron = r.neuron as Record<string, unknown> | undefined;
  if (!capmem || !neuron) return;
  for (const row of COBA_CAPMEM_ROWS) {
    capmem[row] ??= new Array(NEURONS).fill(FIELDS[row].initial);
  }
  for (const flag of ["coba_exc_enable", "coba_inh_enable", "enable_readout"] as const) {
    neuron[flag] ??= new Array(NEURONS).fill(FIELDS[flag].initial);
  }
  r.format = RESULT_FORMAT;
}

/**
 * The configuration patch that puts a chip into the state of a result.
 *
 * @example
 * ```ts
 * import { resultPatch } from "./result.ts";
 * import assert from "node:assert/strict";
 * const r = { capmem: { v_leak: new Array(512).fill(400) }, neuron: {}, hemisphere: {
 *   clock_scale_fast: [3, 3], clock_scale_slow: [9, 9] }, quadrant: { syn_i_bias_dac: [600, 600, 600, 600] } };
 * const p = resultPatch(r as never);
 * assert.equal((p.v_leak as number[])[0], 400);
 * ```
 */
export function resultPatch(
  r: Pick<NeuronCalibResult, "capmem" | "neuron" | "hemisphere" | "quadrant" | "cadc">,
): ConfigPatch {
  const patch: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(r.capmem)) patch[k] = v;
  for (const [k, v] of Object.entries(r.neuron)) patch[k] = v;
  patch.clock_scale_fast = r.hemisphere.clock_scale_fast;
  patch.clock_scale_slow = r.hemisphere.clock_scale_slow;
  patch.syn_i_bias_dac = r.quadrant.syn_i_bias_dac;
  if (r.cadc) Object.assign(patch, cadcPatch(r.cadc));
  return patch as ConfigPatch;
}

/**
 * The configuration patch of a CADC calibration result.
 *
 * @example
 * ```ts
 * import { cadcPatch } from "./result.ts";
 * import assert from "node:assert/strict";
 * const p = cadcPatch({ cadc_v_ramp_offset: [1, 2, 3, 4], cadc_i_ramp_slope: [5, 6, 7, 8],
 *   cadc_channel_offset: new Array(1024).fill(0) } as never);
 * assert.deepEqual(p.cadc_v_ramp_offset, [1, 2, 3, 4]);
 * ```
 */
export function cadcPatch(r: CadcCalibResult): ConfigPatch {
  return {
    cadc_v_ramp_offset: r.cadc_v_ramp_offset,
    cadc_i_ramp_slope: r.cadc_i_ramp_slope,
    cadc_channel_offset: r.cadc_channel_offset,
  };
}

/**
 * Writes results to the chips of a backend, matching them by chip id.
 * Neuron results carry their CADC calibration; CADC results alone are
 * accepted too. A result for a chip the backend does not hold is a
 * `RangeError` naming it, and nothing is written.
 *
 * @example
 * ```ts
 * import { applyResult, calibrateCadc, openBackend } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const a = await openBackend({ backend: "cpu", chips: [4] });
 * const cadc = await calibrateCadc(a);
 * const b = await openBackend({ backend: "cpu", chips: [4] });
 * await applyResult(b, cadc);
 * assert.deepEqual((await b.config())[0]!.cadc_channel_offset, (await a.config())[0]!.cadc_channel_offset);
 * ```
 */
export async function applyResult(
  backend: Backend,
  results: readonly (NeuronCalibResult | CadcCalibResult)[],
): Promise<void> {
  const index = new Map(backend.chips.map((c, i) => [c.id, i]));
  const plan: [number, ConfigPatch][] = [];
  for (const r of results) {
    const c = index.get(r.chipId);
    if (c === undefined) {
      throw new RangeError(
        `Result for chip ${r.chipId} does not match any chip of the backend (${
          backend.chips.map((x) => x.id).join(", ")
        })`,
      );
    }
    plan.push([c, r.kind === "neuron" ? resultPatch(r) : cadcPatch(r)]);
  }
  for (const [c, patch] of plan) await backend.write(patch, { chips: [c] });
}

/**
 * Serialises a result as JSON (pretty-printed, stable key order of the object).
 *
 * @example
 * ```ts
 * import { resultToJson, parseResult } from "./result.ts";
 * import assert from "node:assert/strict";
 * const cadc = { kind: "cadc", lifcal_version: "0.1.0", chipId: "sim-1", cadc_v_ramp_offset: [1, 2, 3, 4],
 *   cadc_i_ramp_slope: [1, 2, 3, 4], cadc_channel_offset: new Array(1024).fill(0),
 *   success: new Array(1024).fill(true), target: { dynamic_range: [70, 550], read_range: [20, 220] },
 *   options: { calibrate_offsets: true }, warnings: [], verification: { std: 1, quadrant_means: [1, 2, 3, 4] } };
 * assert.deepEqual(parseResult(resultToJson(cadc as never)), cadc);
 * ```
 */
export function resultToJson(r: NeuronCalibResult | CadcCalibResult): string {
  return JSON.stringify(r, null, 1) + "\n";
}

function _array(
  v: unknown,
  length: number,
  name: string,
  check: (x: unknown) => boolean,
): void {
  if (!Array.isArray(v) || v.length !== length || !v.every(check)) {
    throw new RangeError(`Result field ${name} must be an array of ${length} valid values`);
  }
}

const _isInt = (x: unknown) => Number.isInteger(x);
const _isBool = (x: unknown) => typeof x === "boolean";
const _isNumOrNull = (x: unknown) => x === null || (typeof x === "number" && Number.isFinite(x));

/**
 * Parses and validates a result file (neuron or CADC). Throws `SyntaxError`
 * for broken JSON and `RangeError` naming the field for a result of the
 * wrong shape or an unknown format version.
 *
 * @example
 * ```ts
 * import { parseResult } from "./result.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => parseResult('{"kind": "neuron", "format": 99}'), RangeError);
 * assert.throws(() => parseResult("{"), SyntaxError);
 * ```
 */
export function parseResult(text: string): NeuronCalibResult | CadcCalibResult {
  const r = JSON.parse(text) as Record<string, unknown>;
  if (typeof r !== "object" || r === null) throw new RangeError("A result must be a JSON object");
  if (typeof r.chipId !== "string") throw new RangeError("Result field chipId must be a string");
  if (!Array.isArray(r.warnings)) throw new RangeError("Result field warnings must be an array");
  if (r.kind === "cadc") {
    _array(r.cadc_v_ramp_offset, 4, "cadc_v_ramp_offset", _isInt);
    _array(r.cadc_i_ramp_slope, 4, "cadc_i_ramp_slope", _isInt);
    _array(r.cadc_channel_offset, CADC_CHANNELS, "cadc_channel_offset", _isInt);
    _array(r.success, CADC_CHANNELS, "success", _isBool);
    return r as unknown as CadcCalibResult;
  }
  if (r.kind !== "neuron") throw new RangeError(`Unknown result kind ${JSON.stringify(r.kind)}`);
  if (r.format === 1) _upgradeFormat1(r);
  if (r.format !== RESULT_FORMAT) {
    throw new RangeError(
      `Result format ${
        JSON.stringify(r.format)
      } is not supported (this lifcal reads format ${RESULT_FORMAT})`,
    );
  }
  const capmem = r.capmem as Record<string, unknown> | undefined;
  const neuron = r.neuron as Record<string, unknown> | undefined;
  if (!capmem || !neuron) throw new RangeError("Result fields capmem and neuron are required");
  for (const row of NEURON_CAPMEM_ROWS) _array(capmem[row], NEURONS, `capmem.${row}`, _isInt);
  for (const f of RESULT_DIGITAL_FIELDS) _array(neuron[f], NEURONS, `neuron.${f}`, _isInt);
  const hemi = r.hemisphere as Record<string, unknown> | undefined;
  _array(hemi?.clock_scale_fast, 2, "hemisphere.clock_scale_fast", _isInt);
  _array(hemi?.clock_scale_slow, 2, "hemisphere.clock_scale_slow", _isInt);
  _array(
    (r.quadrant as Record<string, unknown> | undefined)?.syn_i_bias_dac,
    4,
    "quadrant.syn_i_bias_dac",
    _isInt,
  );
  _array(r.success, NEURONS, "success", _isBool);
  const v = r.verification as Record<string, unknown> | undefined;
  for (const f of VERIFIED_PARAMETERS) {
    _array(v?.[f], NEURONS, `verification.${f}`, _isNumOrNull);
  }
  if (v?.rate !== undefined) _array(v.rate, NEURONS, "verification.rate", _isNumOrNull);
  const atBound = r.leak_over_threshold_at_bound;
  if (
    atBound !== undefined &&
    !(Array.isArray(atBound) && atBound.every((n) => _isInt(n) && n >= 0 && n < NEURONS))
  ) {
    throw new RangeError(
      "Result field leak_over_threshold_at_bound must be an array of neuron indices",
    );
  }
  if (r.cadc !== undefined) parseResult(JSON.stringify(r.cadc));
  return r as unknown as NeuronCalibResult;
}
