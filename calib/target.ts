/**
 * What a neuron calibration aims for and how it runs: calix's
 * `NeuronCalibTarget` and `NeuronCalibOptions`, as JSON-friendly inputs
 * (times with units, scalars or one value per neuron) that
 * {@linkcode resolveTarget} and {@linkcode resolveOptions} validate and turn
 * into per-neuron SI arrays, and that {@linkcode targetToJson} and
 * {@linkcode optionsToJson} turn back.
 *
 * Validation follows calix's `check_target`: values outside calix's standard
 * ranges only produce warnings; values outside the hard limits, wrong shapes
 * and times without units throw. Shapes and types are checked by zod schemas;
 * their issues are reported as `TypeError`s naming the field. Wrong lengths
 * and values out of range are `RangeError`s naming the field and, for
 * per-neuron values, the neurons.
 *
 * @example Defaults, one change, and a warning
 * ```ts
 * import { resolveTarget } from "./target.ts";
 * import assert from "node:assert/strict";
 * const { target, warnings } = resolveTarget({ tau_mem: "20 us", leak: 40 });
 * assert.equal(target.tau_mem[511], 20e-6);
 * assert.equal(target.threshold[0], 125);
 * assert.match(warnings[0]!, /leak of all 512 neurons is outside calix's standard range 50\.\.160/);
 * ```
 *
 * @module
 */

import { z } from "../deps/zod.ts";
import { NEURONS } from "../backends/layout.ts";
import { formatTimes, parseTimes, type TimesValue } from "./units.ts";

/**
 * A number for every neuron, or one per neuron (512).
 *
 * @example
 * ```ts
 * import type { PerNeuronValue } from "./target.ts";
 * const same: PerNeuronValue = 80;
 * const each: PerNeuronValue = Array.from({ length: 512 }, (_, i) => 70 + (i % 20));
 * ```
 */
export type PerNeuronValue = number | readonly number[] | Float64Array | Int32Array;

/**
 * Synaptic time constants: one time (or 512) for both inputs, or a pair
 * `[exc, inh]` whose elements may each be one time or 512. A two-element
 * array always means `[exc, inh]`; a 512-element array means one time per
 * neuron for both inputs.
 *
 * @example
 * ```ts
 * import type { TauSynValue } from "./target.ts";
 * const both: TauSynValue = "10 us";
 * const pair: TauSynValue = ["5 us", "8 us"];
 * ```
 */
export type TauSynValue = TimesValue | readonly [TimesValue, TimesValue];

/**
 * The strength of the current-based synaptic inputs (OTA bias, CapMem code),
 * whose shape chooses the mode, as calix's legacy `i_synin_gm`:
 * - a number: "matching" mode; both inputs are calibrated to the median
 *   excitatory amplitude at that bias;
 * - `[exc, inh]`: "calibrated" mode; each input to its own median;
 * - `{ exc, inh }` (512 codes or one each), `[[...512], [...512]]` or one
 *   512-array for both: "uncalibrated" mode; the codes are used as given.
 *
 * @example
 * ```ts
 * import type { SyninGmValue } from "./target.ts";
 * const matching: SyninGmValue = 500;
 * const calibrated: SyninGmValue = [400, 600];
 * const uncalibrated: SyninGmValue = { exc: 500, inh: 450 };
 * ```
 */
export type SyninGmValue =
  | number
  | readonly number[]
  | Float64Array
  | Int32Array
  | readonly [readonly number[] | Int32Array, readonly number[] | Int32Array]
  | { readonly exc: PerNeuronValue; readonly inh: PerNeuronValue };

/**
 * One COBA potential per input (CADC LSB): one value for every neuron, or
 * 512; `null` is calix's None (see {@linkcode CobaValue}).
 *
 * @example
 * ```ts
 * import type { CobaInputValue } from "./target.ts";
 * const all: CobaInputValue = 300;
 * const some: CobaInputValue = Array.from({ length: 512 }, (_, n) => (n < 490 ? 300 : null));
 * ```
 */
export type CobaInputValue = number | null | readonly (number | null)[];

/**
 * calix's `e_coba_reversal` / `e_coba_reference` (CADC LSB): `null` (calix's
 * default: every entry None), a pair `[exc, inh]` of
 * {@linkcode CobaInputValue}s, or calix's own shape, 512 pairs
 * `[exc, inh]`. A reversal of `null` means CUBA for that neuron and input; a
 * reference of `null` becomes the mean of the neuron's leak and threshold
 * targets wherever any neuron uses COBA. (JSON has no Infinity: `null` is
 * also how results store calix's ±inf.)
 *
 * @example calix's hardware test: reversal exc 300 / inh 30, reference exc 150
 * ```ts
 * import type { CobaValue } from "./target.ts";
 * const reversal: CobaValue = [300, 30];
 * const reference: CobaValue = [150, null];
 * ```
 */
export type CobaValue =
  | null
  | readonly [CobaInputValue, CobaInputValue]
  | readonly (readonly [number | null, number | null])[];

/**
 * The user-facing neuron calibration target (calix's `NeuronCalibTarget`).
 * Every field is optional and defaults to calix's value. CADC targets are in
 * CADC LSB, times carry units, biases are CapMem codes.
 *
 * @example A JSON target
 * ```ts
 * import { resolveTarget, type NeuronCalibTarget } from "./target.ts";
 * import assert from "node:assert/strict";
 * const t: NeuronCalibTarget = JSON.parse('{"tau_syn": ["5 us", "8 us"], "i_synin_gm": [400, 600]}');
 * const r = resolveTarget(t).target;
 * assert.equal(r.tau_syn_inh[0], 8e-6);
 * assert.deepEqual(r.synin, { mode: "calibrated", gm: [400, 600] });
 * ```
 */
export interface NeuronCalibTarget {
  /** CADC reading at the resting (leak) potential; default 80; standard range 50..160; limits 0..255. */
  leak?: PerNeuronValue | undefined;
  /** CADC reading while the neuron is held at reset; default 70; standard range 50..160. */
  reset?: PerNeuronValue | undefined;
  /** CADC reading just below the spike threshold; default 125; standard range 50..220. */
  threshold?: PerNeuronValue | undefined;
  /** Membrane time constant; default `"10 us"`; standard range 0.5..60 µs; limits 0.1..2000 µs. */
  tau_mem?: TimesValue | undefined;
  /** Synaptic time constants (see {@linkcode TauSynValue}); default `"10 us"`; standard range 0.3..30 µs; limits 0.1..100 µs. */
  tau_syn?: TauSynValue | undefined;
  /** Synaptic input strength and mode (see {@linkcode SyninGmValue}); default 500 (matching); standard range 30..800; limits 0..1022. */
  i_synin_gm?: SyninGmValue | undefined;
  /** Membrane capacitor size, integer 0..63, written as given; default 63. */
  membrane_capacitance?: PerNeuronValue | undefined;
  /** Total refractory time, holdoff included; default `"2 us"`; standard range 40 ns..32 µs. */
  refractory_time?: TimesValue | undefined;
  /** Final part of the refractory time with the reset released; default `"0 us"`; standard range 0..4 µs; at most the refractory time. */
  holdoff_time?: TimesValue | undefined;
  /** Synapse DAC bias (CapMem code, calibrated per quadrant); default 600; standard range 30..1022; limits 0..1022. */
  synapse_dac_bias?: number | undefined;
  /** COBA reversal potentials (see {@linkcode CobaValue}); default `null`: CUBA everywhere. */
  e_coba_reversal?: CobaValue | undefined;
  /** COBA reference potentials (see {@linkcode CobaValue}); default `null`; standard range 60..160; limits 60..165. */
  e_coba_reference?: CobaValue | undefined;
}

/**
 * The search algorithms a calibration can use (the `algorithm` option):
 * calix's NoisyBinarySearch (the default) and BinarySearch, and lifcal's
 * secant search.
 *
 * @example
 * ```ts
 * import { CALIB_ALGORITHMS } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(CALIB_ALGORITHMS, ["noisy-binary", "binary", "secant"]);
 * ```
 */
export const CALIB_ALGORITHMS = ["noisy-binary", "binary", "secant"] as const;

/**
 * One of {@linkcode CALIB_ALGORITHMS}.
 *
 * @example
 * ```ts
 * import { CALIB_ALGORITHMS, type CalibAlgorithm, resolveOptions } from "./target.ts";
 * import assert from "node:assert/strict";
 *
 * const algorithm: CalibAlgorithm = "secant";
 * assert.ok(CALIB_ALGORITHMS.includes(algorithm));
 * assert.equal(resolveOptions({ algorithm }).algorithm, "secant");
 * ```
 */
export type CalibAlgorithm = (typeof CALIB_ALGORITHMS)[number];

/**
 * Options of a neuron calibration (calix's `NeuronCalibOptions` plus lifcal's
 * choices).
 *
 * @example
 * ```ts
 * import { resolveOptions, type NeuronCalibOptions } from "./target.ts";
 * import assert from "node:assert/strict";
 * const o: NeuronCalibOptions = { readout_neuron: 17, algorithm: "binary" };
 * assert.equal(resolveOptions(o).refine, null);
 * ```
 */
export interface NeuronCalibOptions {
  /** Neuron whose membrane is connected to the readout (0..511), or null for none; default null. Changes no calibrated value. */
  readout_neuron?: number | null | undefined;
  /**
   * Search algorithm wherever calix uses NoisyBinarySearch: calix's
   * `"noisy-binary"` (default), plain `"binary"`, or lifcal's `"secant"`
   * (fewer measurements, see `backends/search_rules.ts`). The CADC and
   * synapse-DAC-bias searches keep calix's BinarySearch.
   */
  algorithm?: CalibAlgorithm | undefined;
  /**
   * Seed (integer 0..2³²−1) of calix's ±5 noise on scalar CapMem writes,
   * combined with each chip's key; default 0. (The noisy search's start
   * points are keyed by the chip's key and its operation counter, like
   * every draw of a backend, so they do not depend on it.)
   */
  noise_seed?: number | undefined;
  /**
   * Whether to refine the potentials at the end (calix's `refine_potentials`):
   * `true`, `false`, or `null` (the default, calix's None): refine unless a
   * neuron uses COBA.
   */
  refine?: boolean | null | undefined;
  /**
   * lifcal's choice (not calix's): where the COBA bias search anchors the
   * amplitude it expects near the reversal. `"matched"` (default): where the
   * amplitudes were matched (the leak 15 LSB from the reference), which lands
   * on the target reversal; `"reference"`: at the reference, as calix does,
   * which biases the reversal reached (docs/calibration.md).
   */
  coba_anchor?: "matched" | "reference" | undefined;
}

/**
 * A validated target: one value per neuron, SI units (seconds) for times,
 * CADC LSB for potentials, CapMem codes for biases.
 *
 * @example
 * ```ts
 * import { resolveTarget, type ResolvedTarget } from "./target.ts";
 * import assert from "node:assert/strict";
 * const t: ResolvedTarget = resolveTarget().target;
 * assert.equal(t.refractory_time[0], 2e-6);
 * assert.equal(t.membrane_capacitance[3], 63);
 * ```
 */
export interface ResolvedTarget {
  /** Leak potential per neuron (CADC LSB). */
  readonly leak: Float64Array;
  /** Reset potential per neuron (CADC LSB). */
  readonly reset: Float64Array;
  /** Threshold potential per neuron (CADC LSB). */
  readonly threshold: Float64Array;
  /** Membrane time constant per neuron (s). */
  readonly tau_mem: Float64Array;
  /** Excitatory synaptic time constant per neuron (s). */
  readonly tau_syn_exc: Float64Array;
  /** Inhibitory synaptic time constant per neuron (s). */
  readonly tau_syn_inh: Float64Array;
  /** Synaptic input strength and mode (see {@linkcode SyninGmValue}). */
  readonly synin:
    | { readonly mode: "matching"; readonly gm: number }
    | { readonly mode: "calibrated"; readonly gm: readonly [number, number] }
    | { readonly mode: "uncalibrated"; readonly exc: Int32Array; readonly inh: Int32Array };
  /** Membrane capacitor size per neuron (0..63). */
  readonly membrane_capacitance: Int32Array;
  /** Refractory time per neuron (s). */
  readonly refractory_time: Float64Array;
  /** Holdoff time per neuron (s). */
  readonly holdoff_time: Float64Array;
  /** Synapse DAC bias (CapMem code). */
  readonly synapse_dac_bias: number;
  /**
   * COBA per neuron and input (CADC LSB): reversals (+Infinity for a CUBA
   * excitatory input, −Infinity for a CUBA inhibitory one) and references
   * (NaN where none is given and no neuron uses COBA).
   */
  readonly coba: {
    readonly reversal_exc: Float64Array;
    readonly reversal_inh: Float64Array;
    readonly reference_exc: Float64Array;
    readonly reference_inh: Float64Array;
  };
}

/**
 * Validated options with defaults filled in.
 *
 * @example
 * ```ts
 * import { resolveOptions, type ResolvedOptions } from "./target.ts";
 * import assert from "node:assert/strict";
 * const o: ResolvedOptions = resolveOptions();
 * assert.equal(o.algorithm, "noisy-binary");
 * ```
 */
export interface ResolvedOptions {
  /** Neuron connected to the readout, or null. */
  readonly readout_neuron: number | null;
  /** Search algorithm. */
  readonly algorithm: CalibAlgorithm;
  /** Seed of the write noise (not of the search start points, which the backend keys). */
  readonly noise_seed: number;
  /** Whether potentials are refined at the end; `null`: unless a neuron uses COBA (calix's None). */
  readonly refine: boolean | null;
  /** Where the COBA bias search anchors its expected amplitude. */
  readonly coba_anchor: "matched" | "reference";
}

/**
 * The public face of a zod schema: shape and type validation with defaults
 * filled in. It checks shapes and types only; units, lengths and ranges are
 * checked by {@linkcode resolveTarget} and {@linkcode resolveOptions}, which
 * also turn zod's issues into `TypeError`s. (zod's own types are kept out of
 * lifcal's documented API.)
 *
 * @example
 * ```ts
 * import { NeuronCalibTargetSchema } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.equal(NeuronCalibTargetSchema.safeParse({ leak: "high" }).success, false);
 * assert.equal(NeuronCalibTargetSchema.parse({}).leak, 80);
 * ```
 */
export interface ShapeSchema<T> {
  /** Returns the value with defaults filled in, or throws zod's error. */
  parse(value: unknown): T;
  /** Like `parse`, but reports failure instead of throwing. */
  safeParse(
    value: unknown,
  ):
    | { readonly success: true; readonly data: T }
    | { readonly success: false; readonly error: Error };
}

// ---------------------------------------------------------------------------
// zod schemas

/**
 * The schema with a readonly type, without zod's `.readonly()`, which freezes
 * values (even the caller's, when a union branch fails) and cannot freeze
 * typed arrays.
 */
function _ro<O, I>(schema: z.ZodType<O, I>): z.ZodType<Readonly<O>, Readonly<I>> {
  return schema;
}

const _numberArray = _ro(z.array(z.number()));
const _float64 = z.custom<Float64Array>((v) => v instanceof Float64Array);
const _int32 = z.custom<Int32Array>((v) => v instanceof Int32Array);
const _perNeuron = z.union([z.number(), _numberArray, _float64, _int32]);
const _timeUnit = z.enum(["s", "ms", "us", "\u00b5s", "\u03bcs", "ns"]);
const _time = z.union([
  z.string(),
  _ro(z.strictObject({ value: z.number(), unit: _timeUnit })),
]);
const _times = z.union([
  _time,
  _ro(z.array(_time)),
  _ro(z.strictObject({ value: z.union([_numberArray, _float64]), unit: _timeUnit })),
]);
const _codes = z.union([_numberArray, _int32]);
const _cobaEntry = z.union([z.number(), z.null()]);
const _cobaInputSchema = z.union([z.number(), z.null(), _ro(z.array(_cobaEntry))]);
const _coba = z.union([
  z.null(),
  _ro(z.tuple([_cobaInputSchema, _cobaInputSchema])),
  _ro(z.array(_ro(z.tuple([_cobaEntry, _cobaEntry])))),
]).default(null);

const _targetSchema = z.strictObject({
  leak: _perNeuron.default(80),
  reset: _perNeuron.default(70),
  threshold: _perNeuron.default(125),
  tau_mem: _times.default("10 us"),
  tau_syn: z.union([_times, _ro(z.tuple([_times, _times]))]).default("10 us"),
  i_synin_gm: z.union([
    z.number(),
    _numberArray,
    _float64,
    _int32,
    _ro(z.tuple([_codes, _codes])),
    _ro(z.strictObject({ exc: _perNeuron, inh: _perNeuron })),
  ]).default(500),
  membrane_capacitance: _perNeuron.default(63),
  refractory_time: _times.default("2 us"),
  holdoff_time: _times.default("0 us"),
  synapse_dac_bias: z.number().default(600),
  e_coba_reversal: _coba,
  e_coba_reference: _coba,
});

const _optionsSchema = z.strictObject({
  readout_neuron: z.number().nullable().default(null),
  algorithm: z.enum(CALIB_ALGORITHMS).default("noisy-binary"),
  noise_seed: z.number().default(0),
  refine: z.boolean().nullable().default(null),
  coba_anchor: z.enum(["matched", "reference"]).default("matched"),
});

type _Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The documented interfaces are exactly the schemas' input types.
const _targetTypesAgree: _Same<z.input<typeof _targetSchema>, NeuronCalibTarget> = true;
const _optionsTypesAgree: _Same<z.input<typeof _optionsSchema>, NeuronCalibOptions> = true;
void _targetTypesAgree, _optionsTypesAgree;

/**
 * zod schema of {@linkcode NeuronCalibTarget} (its input type): checks
 * shapes and types and fills in calix's defaults.
 *
 * @example
 * ```ts
 * import { NeuronCalibTargetSchema } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.equal(NeuronCalibTargetSchema.parse({}).tau_mem, "10 us");
 * assert.equal(NeuronCalibTargetSchema.safeParse({ bogus: 1 }).success, false);
 * ```
 */
export const NeuronCalibTargetSchema: ShapeSchema<NeuronCalibTarget> = _targetSchema;

/**
 * zod schema of {@linkcode NeuronCalibOptions}: checks shapes and types and
 * fills in the defaults.
 *
 * @example
 * ```ts
 * import { NeuronCalibOptionsSchema } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.equal(NeuronCalibOptionsSchema.parse({}).algorithm, "noisy-binary");
 * ```
 */
export const NeuronCalibOptionsSchema: ShapeSchema<NeuronCalibOptions> = _optionsSchema;

// ---------------------------------------------------------------------------
// Limits

interface _Range {
  readonly lo: number;
  readonly hi: number;
  readonly text: string;
}

// Decimal literals, so that the limits are the very doubles that "0.1 us" etc. parse to.
const _HARD = {
  cadc: { lo: 0, hi: 255, text: "0..255" },
  tau_mem: { lo: 0.1e-6, hi: 2000e-6, text: "0.1..2000 µs" },
  tau_syn: { lo: 0.1e-6, hi: 100e-6, text: "0.1..100 µs" },
  capacitance: { lo: 0, hi: 63, text: "0..63" },
  capmem: { lo: 0, hi: 1022, text: "0..1022" },
  coba_reference: { lo: 60, hi: 165, text: "60..165" },
} as const satisfies Record<string, _Range>;

const _STANDARD = {
  potential: { lo: 50, hi: 160, text: "50..160" },
  threshold: { lo: 50, hi: 220, text: "50..220" },
  tau_mem: { lo: 0.5e-6, hi: 60e-6, text: "0.5..60 µs" },
  tau_syn: { lo: 0.3e-6, hi: 30e-6, text: "0.3..30 µs" },
  gm: { lo: 30, hi: 800, text: "30..800" },
  refractory: { lo: 40e-9, hi: 32e-6, text: "40 ns..32 µs" },
  holdoff: { lo: 0, hi: 4e-6, text: "0..4 µs" },
  dac: { lo: 30, hi: 1022, text: "30..1022" },
  coba_reference: { lo: 60, hi: 160, text: "60..160" },
} as const satisfies Record<string, _Range>;

const _SHAPES: Readonly<Record<string, string>> = {
  leak: "a CADC value or an array of 512",
  reset: "a CADC value or an array of 512",
  threshold: "a CADC value or an array of 512",
  tau_mem: 'a time with a unit ("10 us" or { value: 10, unit: "us" }) or 512 of them',
  tau_syn: 'a time with a unit ("10 us"), 512 of them, or a pair [exc, inh]',
  i_synin_gm:
    "a CapMem code (matching), a pair [exc, inh] (calibrated), or per-neuron codes { exc, inh } (uncalibrated)",
  membrane_capacitance: "an integer 0..63 or an array of 512",
  refractory_time: 'a time with a unit ("2 us") or 512 of them',
  holdoff_time: 'a time with a unit ("0 us") or 512 of them',
  synapse_dac_bias: "a CapMem code (a number)",
  readout_neuron: "a neuron index 0..511 or null",
  algorithm: '"noisy-binary", "binary" or "secant"',
  noise_seed: "an integer 0..4294967295",
  refine: "a boolean or null",
  coba_anchor: '"matched" or "reference"',
  e_coba_reversal: "null, a pair [exc, inh] (each a CADC value, null, or 512 of them) or 512 pairs",
  e_coba_reference:
    "null, a pair [exc, inh] (each a CADC value, null, or 512 of them) or 512 pairs",
};

const _TIME_FIELDS = new Set(["tau_mem", "tau_syn", "refractory_time", "holdoff_time"]);

// ---------------------------------------------------------------------------
// Resolution

/**
 * Validates a target and resolves it into per-neuron arrays, filling in
 * calix's defaults. Returns warnings (values outside calix's standard ranges)
 * instead of throwing for them. Throws:
 * - `TypeError` for a wrong type or shape, an unknown field, or a time
 *   without a unit (naming the field);
 * - `RangeError` for a wrong array length (naming the field), or a value
 *   outside the hard limits (naming the field and the neurons): `tau_mem`
 *   outside 0.1..2000 µs, `tau_syn` outside 0.1..100 µs, CADC targets
 *   outside 0..255, capacitance not an integer in 0..63, `i_synin_gm` and
 *   `synapse_dac_bias` not integers in 0..1022, negative refractory or
 *   holdoff times, holdoff longer than the refractory time.
 *
 * Whether the refractory times fit the refractory clock is checked by
 * `refractorySettings` (calib/refractory.ts), as in calix.
 *
 * @example Errors name the field and the neurons
 * ```ts
 * import { resolveTarget } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => resolveTarget(JSON.parse('{"tau_mem": 10}')), /tau_mem needs a unit/);
 * const tau = Array.from({ length: 512 }, (_, i) => (i === 3 || i === 17 ? "0.05 us" : "10 us"));
 * assert.throws(() => resolveTarget({ tau_mem: tau }), /tau_mem of neurons 3, 17 \(2 in all\)/);
 * ```
 */
export function resolveTarget(
  target: NeuronCalibTarget = {},
): { target: ResolvedTarget; warnings: string[] } {
  _requireObject(target, "neuron calibration target");
  const parsed = _targetSchema.safeParse(target);
  if (!parsed.success) throw _shapeError(parsed.error.issues, target, "target");
  const data = parsed.data;
  const warnings: string[] = [];

  const leak = _perNeuronNumbers(data.leak, "leak");
  const reset = _perNeuronNumbers(data.reset, "reset");
  const threshold = _perNeuronNumbers(data.threshold, "threshold");
  const tauMem = _perNeuronTimes(data.tau_mem, "tau_mem");
  const [tauExc, tauInh] = _tauSyn(data.tau_syn);
  const synin = _synin(data.i_synin_gm);
  const capacitance = _perNeuronNumbers(data.membrane_capacitance, "membrane_capacitance");
  const refractory = _perNeuronTimes(data.refractory_time, "refractory_time");
  const holdoff = _perNeuronTimes(data.holdoff_time, "holdoff_time");
  const dacBias = data.synapse_dac_bias;
  const coba = _cobaTarget(data.e_coba_reversal, data.e_coba_reference, leak, threshold, warnings);

  _hard(leak, "leak", _HARD.cadc, false, _plain);
  _hard(reset, "reset", _HARD.cadc, false, _plain);
  _hard(threshold, "threshold", _HARD.cadc, false, _plain);
  _hard(tauMem, "tau_mem", _HARD.tau_mem, false, _micro);
  _hard(tauExc, "tau_syn (excitatory)", _HARD.tau_syn, false, _micro);
  _hard(tauInh, "tau_syn (inhibitory)", _HARD.tau_syn, false, _micro);
  _hard(capacitance, "membrane_capacitance", _HARD.capacitance, true, _plain);
  _nonNegative(refractory, "refractory_time");
  _nonNegative(holdoff, "holdoff_time");
  _holdoffWithinRefractory(holdoff, refractory);
  _hardScalar(dacBias, "synapse_dac_bias", _HARD.capmem);
  if (synin.mode === "matching") {
    _hardScalar(synin.gm, "i_synin_gm", _HARD.capmem);
  } else if (synin.mode === "calibrated") {
    _hardScalar(synin.gm[0], "i_synin_gm (excitatory)", _HARD.capmem);
    _hardScalar(synin.gm[1], "i_synin_gm (inhibitory)", _HARD.capmem);
  } else {
    _hard(synin.exc, "i_synin_gm (excitatory)", _HARD.capmem, true, _plain);
    _hard(synin.inh, "i_synin_gm (inhibitory)", _HARD.capmem, true, _plain);
  }

  _warn(warnings, leak, "leak", _STANDARD.potential);
  _warn(warnings, reset, "reset", _STANDARD.potential);
  _warn(warnings, threshold, "threshold", _STANDARD.threshold);
  _warn(warnings, tauMem, "tau_mem", _STANDARD.tau_mem);
  _warn(warnings, tauExc, "tau_syn (excitatory)", _STANDARD.tau_syn);
  _warn(warnings, tauInh, "tau_syn (inhibitory)", _STANDARD.tau_syn);
  if (synin.mode === "matching") {
    _warnScalar(warnings, synin.gm, "i_synin_gm", _STANDARD.gm);
  } else if (synin.mode === "calibrated") {
    _warnScalar(warnings, synin.gm[0], "i_synin_gm (excitatory)", _STANDARD.gm);
    _warnScalar(warnings, synin.gm[1], "i_synin_gm (inhibitory)", _STANDARD.gm);
  } else {
    _warn(warnings, synin.exc, "i_synin_gm (excitatory)", _STANDARD.gm);
    _warn(warnings, synin.inh, "i_synin_gm (inhibitory)", _STANDARD.gm);
  }
  _warn(warnings, refractory, "refractory_time", _STANDARD.refractory);
  _warn(warnings, holdoff, "holdoff_time", _STANDARD.holdoff);
  _warnScalar(warnings, dacBias, "synapse_dac_bias", _STANDARD.dac);

  return {
    target: {
      leak,
      reset,
      threshold,
      tau_mem: tauMem,
      tau_syn_exc: tauExc,
      tau_syn_inh: tauInh,
      synin,
      membrane_capacitance: Int32Array.from(capacitance),
      refractory_time: refractory,
      holdoff_time: holdoff,
      synapse_dac_bias: dacBias,
      coba,
    },
    warnings,
  };
}

/**
 * Whether any neuron of a target uses COBA for either input (a finite
 * reversal): calix's condition for step 9 and for skipping the refinement by
 * default.
 *
 * @example
 * ```ts
 * import { resolveTarget, usesCoba } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.equal(usesCoba(resolveTarget().target), false);
 * assert.equal(usesCoba(resolveTarget({ e_coba_reversal: [300, null] }).target), true);
 * ```
 */
export function usesCoba(target: ResolvedTarget): boolean {
  const { reversal_exc, reversal_inh } = target.coba;
  return reversal_exc.some(Number.isFinite) || reversal_inh.some(Number.isFinite);
}

/** calix's COBA working-point constants (`COBABiasCalib`). */
export const COBA_LIMITS = {
  /** Lowest leak target of the COBA steps (CADC LSB). */
  minLeak: 60,
  /** Highest leak target of the COBA steps (CADC LSB). */
  maxLeak: 165,
  /** Amplitudes are measured with at most this median (CADC LSB). */
  reliableAmplitude: 30,
  /** A reached leak further than this from its aim forces the bias down (CADC LSB). */
  allowedDeviation: 15,
} as const;

/**
 * calix's working point near the reversal of one COBA neuron and input:
 * `e_ref + 0.8·(e_rev − e_ref)` clipped to 60..165, or, where that lies
 * less than 60 from the reference ("too little separation"), 60 on the
 * other side of the reference. `undefined` where even that leaves 60..165
 * (calix's "Insufficient range" ValueError).
 *
 * @example calix's hardware test: excitatory 150 → 300 is measured on the other side
 * ```ts
 * import { cobaWorkingPoint } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(cobaWorkingPoint(150, 300, 1), { leak: 90, flipped: true });
 * assert.deepEqual(cobaWorkingPoint(100, 400, 1), { leak: 165, flipped: false });
 * assert.equal(cobaWorkingPoint(100, 120, 1), undefined);
 * ```
 */
export function cobaWorkingPoint(
  reference: number,
  reversal: number,
  sign: 1 | -1,
): { leak: number; flipped: boolean } | undefined {
  const { minLeak, maxLeak, reliableAmplitude } = COBA_LIMITS;
  let leak = Math.min(maxLeak, Math.max(minLeak, reference + 0.8 * (reversal - reference)));
  let flipped = false;
  if (Math.abs(reference - leak) < 2 * reliableAmplitude) {
    leak = reference - 2 * reliableAmplitude * sign;
    flipped = true;
  }
  return leak >= minLeak && leak <= maxLeak ? { leak, flipped } : undefined;
}

/**
 * Validates options and fills in the defaults. A value of the wrong type
 * (`algorithm: 3`, `refine: "yes"`, an unknown field) is a `TypeError`; a
 * value of the right type outside the allowed set or range
 * (`algorithm: "bogus"`, `readout_neuron: 512`, `noise_seed: 1.5`) is a
 * `RangeError`.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(resolveOptions(), {
 *   readout_neuron: null,
 *   algorithm: "noisy-binary",
 *   noise_seed: 0,
 *   refine: null,
 *   coba_anchor: "matched",
 * });
 * assert.throws(() => resolveOptions({ algorithm: "bogus" as "binary" }), RangeError);
 * ```
 */
export function resolveOptions(options: NeuronCalibOptions = {}): ResolvedOptions {
  _requireObject(options, "neuron calibration options");
  const parsed = _optionsSchema.safeParse(options);
  if (!parsed.success) throw _shapeError(parsed.error.issues, options, "options");
  const { readout_neuron, algorithm, noise_seed, refine, coba_anchor } = parsed.data;
  if (
    readout_neuron !== null &&
    !(Number.isInteger(readout_neuron) && readout_neuron >= 0 && readout_neuron < NEURONS)
  ) {
    throw new RangeError(
      `readout_neuron must be a neuron index 0..511 or null; got ${readout_neuron}`,
    );
  }
  if (!(Number.isInteger(noise_seed) && noise_seed >= 0 && noise_seed <= 0xffffffff)) {
    throw new RangeError(`noise_seed must be an integer 0..4294967295; got ${noise_seed}`);
  }
  return { readout_neuron, algorithm, noise_seed, refine, coba_anchor };
}

/**
 * A resolved target as a JSON-friendly {@linkcode NeuronCalibTarget}: times
 * as strings with units (or `{ value: [...], unit: "s" }` when they differ
 * between neurons), uniform arrays collapsed to scalars. Resolving the result
 * (also after `JSON.stringify`/`JSON.parse`) gives back exactly the same
 * target.
 *
 * @example
 * ```ts
 * import { resolveTarget, targetToJson } from "./target.ts";
 * import assert from "node:assert/strict";
 * const json = targetToJson(resolveTarget({ tau_syn: ["5 us", "8 us"] }).target);
 * assert.equal(json.tau_mem, "10 us");
 * assert.deepEqual(json.tau_syn, ["5 us", "8 us"]);
 * assert.equal(json.leak, 80);
 * ```
 */
export function targetToJson(t: ResolvedTarget): NeuronCalibTarget {
  const synin = t.synin;
  let gm: SyninGmValue;
  if (synin.mode === "matching") gm = synin.gm;
  else if (synin.mode === "calibrated") gm = [synin.gm[0], synin.gm[1]];
  else gm = { exc: _collapse(synin.exc), inh: _collapse(synin.inh) };
  return {
    leak: _collapse(t.leak),
    reset: _collapse(t.reset),
    threshold: _collapse(t.threshold),
    tau_mem: formatTimes(t.tau_mem),
    tau_syn: _equalArrays(t.tau_syn_exc, t.tau_syn_inh)
      ? formatTimes(t.tau_syn_exc)
      : [formatTimes(t.tau_syn_exc), formatTimes(t.tau_syn_inh)],
    i_synin_gm: gm,
    membrane_capacitance: _collapse(t.membrane_capacitance),
    refractory_time: formatTimes(t.refractory_time),
    holdoff_time: formatTimes(t.holdoff_time),
    synapse_dac_bias: t.synapse_dac_bias,
    e_coba_reversal: _cobaToJson(t.coba.reversal_exc, t.coba.reversal_inh),
    e_coba_reference: _cobaToJson(t.coba.reference_exc, t.coba.reference_inh),
  };
}

/**
 * Resolved options as a plain {@linkcode NeuronCalibOptions} object, every
 * field written out.
 *
 * @example
 * ```ts
 * import { optionsToJson, resolveOptions } from "./target.ts";
 * import assert from "node:assert/strict";
 * const o = resolveOptions({ noise_seed: 7 });
 * assert.deepEqual(resolveOptions(optionsToJson(o)), o);
 * ```
 */
export function optionsToJson(o: ResolvedOptions): NeuronCalibOptions {
  return {
    readout_neuron: o.readout_neuron,
    algorithm: o.algorithm,
    noise_seed: o.noise_seed,
    refine: o.refine,
    coba_anchor: o.coba_anchor,
  };
}

// ---------------------------------------------------------------------------
// Helpers

function _requireObject(value: unknown, what: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`The ${what} must be an object; got ${_describe(value)}`);
  }
}

function _describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `an array of ${(value as ArrayLike<unknown>).length}`;
  }
  return "an object";
}

/** Turns zod's issues into a TypeError or RangeError naming the field. */
function _shapeError(
  issues: readonly z.core.$ZodIssue[],
  input: object,
  what: "target" | "options",
): TypeError | RangeError {
  const issue = issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys(what === "target" ? _targetSchema.shape : _optionsSchema.shape);
    return new TypeError(
      `Unknown ${what} field${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }; known fields are ${known.join(", ")}`,
    );
  }
  const field = String(issue.path[0]);
  const raw: unknown = Reflect.get(input, field);
  if (_TIME_FIELDS.has(field)) {
    // Our own parser gives the precise reason (a missing unit, an unknown unit, …).
    if (field === "tau_syn") _tauSyn(raw as TauSynValue);
    else parseTimes(raw, field);
  }
  if ((field === "algorithm" || field === "coba_anchor") && typeof raw === "string") {
    return new RangeError(`${field} must be ${_SHAPES[field]}; got ${_describe(raw)}`);
  }
  if (Array.isArray(raw) && !_TIME_FIELDS.has(field) && field !== "i_synin_gm") {
    const bad = raw.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
    if (bad >= 0) {
      return new TypeError(
        `${field}[${bad}] must be a finite number; got ${_describe(raw[bad])}`,
      );
    }
  }
  return new TypeError(`${field} must be ${_SHAPES[field] ?? "valid"}; got ${_describe(raw)}`);
}

function _lengthError(field: string, length: number, expected: string): RangeError {
  return new RangeError(
    `${field} has ${length} value${length === 1 ? "" : "s"}, expected ${expected}`,
  );
}

/** A number, a one-element array of it (`[80]`, as a scalar) or one value per neuron. */
function _broadcast(value: number | ArrayLike<number>, field: string): Float64Array {
  if (typeof value === "number") return new Float64Array(NEURONS).fill(value);
  if (value.length === 1) return new Float64Array(NEURONS).fill(value[0]!);
  if (value.length !== NEURONS) {
    throw _lengthError(field, value.length, `1 or ${NEURONS} (one per neuron)`);
  }
  return Float64Array.from(value);
}

function _perNeuronNumbers(value: PerNeuronValue, field: string): Float64Array {
  return _broadcast(value, field);
}

function _perNeuronTimes(value: unknown, field: string): Float64Array {
  return _broadcast(parseTimes(value, field), field);
}

function _tauSyn(value: TauSynValue): [Float64Array, Float64Array] {
  if (Array.isArray(value) && value.length === 2) {
    return [
      _perNeuronTimes(value[0], "tau_syn[0] (excitatory)"),
      _perNeuronTimes(value[1], "tau_syn[1] (inhibitory)"),
    ];
  }
  const parsed = parseTimes(value, "tau_syn");
  if (typeof parsed === "number") {
    const both = new Float64Array(NEURONS).fill(parsed);
    return [both, both.slice()];
  }
  if (parsed.length === 1 || parsed.length === 2) {
    return [
      new Float64Array(NEURONS).fill(parsed[0]!),
      new Float64Array(NEURONS).fill(parsed[parsed.length - 1]!),
    ];
  }
  if (parsed.length !== NEURONS) {
    throw _lengthError(
      "tau_syn",
      parsed.length,
      `1, 2 ([exc, inh]) or ${NEURONS} (one per neuron)`,
    );
  }
  return [parsed, parsed.slice()];
}

function _synin(value: z.output<typeof _targetSchema>["i_synin_gm"]): ResolvedTarget["synin"] {
  if (typeof value === "number") return { mode: "matching", gm: value };
  if (!("length" in value)) {
    return {
      mode: "uncalibrated",
      exc: _codesOf(value.exc, "i_synin_gm.exc"),
      inh: _codesOf(value.inh, "i_synin_gm.inh"),
    };
  }
  const first = value[0];
  if (value.length === 1 && typeof first === "number") return { mode: "matching", gm: first };
  if (value.length === 2 && typeof first === "number") {
    return { mode: "calibrated", gm: [first, value[1] as number] };
  }
  if (value.length === 2) {
    const pair = value as readonly [ArrayLike<number>, ArrayLike<number>];
    return {
      mode: "uncalibrated",
      exc: _codesOf(pair[0], "i_synin_gm[0] (excitatory)"),
      inh: _codesOf(pair[1], "i_synin_gm[1] (inhibitory)"),
    };
  }
  if (value.length !== NEURONS) {
    throw _lengthError(
      "i_synin_gm",
      value.length,
      `1 (matching), 2 ([exc, inh], calibrated) or ${NEURONS} (uncalibrated, one per neuron)`,
    );
  }
  const codes = _codesOf(value as ArrayLike<number>, "i_synin_gm");
  return { mode: "uncalibrated", exc: codes, inh: codes.slice() };
}

/** Per-neuron CapMem codes, checked to be integers in 0..1022. */
function _codesOf(value: number | ArrayLike<number>, field: string): Int32Array {
  const values = _broadcast(value, field);
  _hard(values, field, _HARD.capmem, true, _plain);
  return Int32Array.from(values);
}

function _who(indices: readonly number[]): string {
  if (indices.length === 1) return `neuron ${indices[0]}`;
  if (indices.length === NEURONS) return `all ${NEURONS} neurons`;
  const shown = indices.slice(0, 8).join(", ");
  return `neurons ${shown}${indices.length > 8 ? ", …" : ""} (${indices.length} in all)`;
}

function _plain(v: number): string {
  return String(v);
}

function _micro(seconds: number): string {
  return `${Number((seconds * 1e6).toPrecision(6))} µs`;
}

function _outside(values: ArrayLike<number>, range: _Range, integer: boolean): number[] {
  const bad: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= range.lo && v <= range.hi) || (integer && !Number.isInteger(v))) bad.push(i);
  }
  return bad;
}

function _hard(
  values: ArrayLike<number>,
  field: string,
  range: _Range,
  integer: boolean,
  show: (v: number) => string,
): void {
  const bad = _outside(values, range, integer);
  if (bad.length === 0) return;
  const first = bad[0]!;
  const problem = integer
    ? `must be an integer in ${range.text}`
    : `is outside the allowed range ${range.text}`;
  throw new RangeError(
    `${field} of ${_who(bad)} ${problem}; neuron ${first} has ${show(values[first]!)}`,
  );
}

function _hardScalar(value: number, field: string, range: _Range): void {
  if (Number.isInteger(value) && value >= range.lo && value <= range.hi) return;
  throw new RangeError(`${field} must be an integer in ${range.text}; got ${value}`);
}

function _nonNegative(values: Float64Array, field: string): void {
  const bad: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i]! < 0) bad.push(i);
  if (bad.length === 0) return;
  const first = bad[0]!;
  throw new RangeError(
    `${field} of ${_who(bad)} must not be negative; neuron ${first} has ${_micro(values[first]!)}`,
  );
}

function _holdoffWithinRefractory(holdoff: Float64Array, refractory: Float64Array): void {
  const bad: number[] = [];
  for (let i = 0; i < holdoff.length; i++) if (holdoff[i]! > refractory[i]!) bad.push(i);
  if (bad.length === 0) return;
  const first = bad[0]!;
  throw new RangeError(
    `holdoff_time of ${_who(bad)} exceeds refractory_time; neuron ${first} has ${
      _micro(holdoff[first]!)
    } holdoff and ${_micro(refractory[first]!)} refractory time`,
  );
}

function _warn(warnings: string[], values: ArrayLike<number>, field: string, range: _Range): void {
  const bad = _outside(values, range, false);
  if (bad.length === 0) return;
  warnings.push(
    `${field} of ${
      _who(bad)
    } is outside calix's standard range ${range.text}; expect imperfect results`,
  );
}

function _warnScalar(warnings: string[], value: number, field: string, range: _Range): void {
  if (value >= range.lo && value <= range.hi) return;
  warnings.push(
    `${field} is ${value}, outside calix's standard range ${range.text}; expect imperfect results`,
  );
}

function _collapse(values: Float64Array | Int32Array): number | number[] {
  const first = values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return Array.from(values);
  return first;
}

function _equalArrays(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function _cobaInput(value: CobaInputValue, field: string): Float64Array {
  if (value === null) return new Float64Array(NEURONS).fill(NaN);
  if (typeof value === "number") return new Float64Array(NEURONS).fill(value);
  if (value.length === 1) return new Float64Array(NEURONS).fill(value[0] ?? NaN);
  if (value.length !== NEURONS) {
    throw _lengthError(field, value.length, `1 or ${NEURONS} (one per neuron, null allowed)`);
  }
  return Float64Array.from(value, (v) => (v === null ? NaN : v));
}

/** A COBA value as two per-neuron arrays, NaN for null. */
function _cobaPair(value: CobaValue, field: string): [Float64Array, Float64Array] {
  if (value === null) {
    return [new Float64Array(NEURONS).fill(NaN), new Float64Array(NEURONS).fill(NaN)];
  }
  if (value.length === 2) {
    const [exc, inh] = value as readonly [CobaInputValue, CobaInputValue];
    return [
      _cobaInput(exc, `${field}[0] (excitatory)`),
      _cobaInput(inh, `${field}[1] (inhibitory)`),
    ];
  }
  if (value.length !== NEURONS) {
    throw _lengthError(field, value.length, `2 ([exc, inh]) or ${NEURONS} pairs (one per neuron)`);
  }
  const pairs = value as readonly (readonly [number | null, number | null])[];
  return [
    Float64Array.from(pairs, (p) => (p[0] === null ? NaN : p[0])),
    Float64Array.from(pairs, (p) => (p[1] === null ? NaN : p[1])),
  ];
}

function _indices(n: number, keep: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep(i)) out.push(i);
  return out;
}

/** calix's COBA target: reversals (±inf for None), references (defaults and checks). */
function _cobaTarget(
  reversalValue: CobaValue,
  referenceValue: CobaValue,
  leak: Float64Array,
  threshold: Float64Array,
  warnings: string[],
): ResolvedTarget["coba"] {
  const [revExc, revInh] = _cobaPair(reversalValue, "e_coba_reversal");
  const [refExc, refInh] = _cobaPair(referenceValue, "e_coba_reference");
  const any = revExc.some((v) => !Number.isNaN(v)) || revInh.some((v) => !Number.isNaN(v));
  const inputs = [
    { name: "excitatory", sign: 1 as const, rev: revExc, ref: refExc, none: Infinity },
    { name: "inhibitory", sign: -1 as const, rev: revInh, ref: refInh, none: -Infinity },
  ];
  for (const { name, sign, rev, ref, none } of inputs) {
    const given = _indices(NEURONS, (n) => !Number.isNaN(ref[n]!));
    _hard(
      given.map((n) => ref[n]!),
      `e_coba_reference (${name})`,
      _HARD.coba_reference,
      false,
      _plain,
    );
    if (any) {
      for (let n = 0; n < NEURONS; n++) {
        if (Number.isNaN(ref[n]!)) ref[n] = (leak[n]! + threshold[n]!) / 2;
      }
    }
    const coba = _indices(NEURONS, (n) => !Number.isNaN(rev[n]!));
    const badDefault = coba.filter((n) => !(ref[n]! >= 60 && ref[n]! <= 165));
    if (badDefault.length > 0) {
      const first = badDefault[0]!;
      throw new RangeError(
        `e_coba_reference (${name}) of ${
          _who(badDefault)
        } must lie in ${_HARD.coba_reference.text}; neuron ${first} has ${
          ref[first]
        } (the mean of its leak and threshold targets)`,
      );
    }
    const wrongSide = coba.filter((n) => !((rev[n]! - ref[n]!) * sign > 0));
    if (wrongSide.length > 0) {
      const first = wrongSide[0]!;
      throw new RangeError(
        `e_coba_reversal (${name}) of ${_who(wrongSide)} must lie ${
          sign > 0 ? "above" : "below"
        } its reference: the modulation can only move the reversal that way; neuron ${first} has reversal ${
          rev[first]
        } and reference ${ref[first]}`,
      );
    }
    const infeasible = coba.filter((n) => !cobaWorkingPoint(ref[n]!, rev[n]!, sign));
    if (infeasible.length > 0) {
      const first = infeasible[0]!;
      throw new RangeError(
        `Insufficient range for COBA reference and reversal potential (${name}) of ${
          _who(infeasible)
        }: no leak target in 60..165 lies 60 or more from the reference; neuron ${first} has reference ${
          ref[first]
        } and reversal ${rev[first]}`,
      );
    }
    if (any) {
      _warn(
        warnings,
        ref.filter((_, n) => !Number.isNaN(rev[n]!)),
        `e_coba_reference (${name})`,
        _STANDARD.coba_reference,
      );
    }
    for (let n = 0; n < NEURONS; n++) if (Number.isNaN(rev[n]!)) rev[n] = none;
  }
  return {
    reversal_exc: revExc,
    reversal_inh: revInh,
    reference_exc: refExc,
    reference_inh: refInh,
  };
}

/** One input's values for JSON: ±Infinity and NaN become null; uniform arrays collapse. */
function _cobaInputJson(values: Float64Array): CobaInputValue {
  const out = Array.from(values, (v) => (Number.isFinite(v) ? v : null));
  return out.every((v) => v === out[0]) ? out[0]! : out;
}

function _cobaToJson(exc: Float64Array, inh: Float64Array): CobaValue {
  const e = _cobaInputJson(exc);
  const i = _cobaInputJson(inh);
  return e === null && i === null ? null : [e, i];
}
