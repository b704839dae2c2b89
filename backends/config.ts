/**
 * The configuration vocabulary of a chip: every CapMem row, quadrant cell and
 * digital setting a backend accepts in {@linkcode ConfigPatch}, with its size,
 * range and power-on value, and the validation that turns a patch into
 * per-chip integer arrays (or rejects it whole, naming the field and the
 * elements).
 *
 * @module
 */

import { CADC_CHANNELS, HEMISPHERES, NEURONS, QUADRANTS } from "./layout.ts";

/**
 * How many elements a field has per chip, and how they are addressed.
 *
 * @example
 * ```ts
 * import type { FieldScope } from "./config.ts";
 * import { FIELDS, scopeSize } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const scope: FieldScope = FIELDS.clock_scale_fast.scope;
 * assert.equal(scope, "hemisphere");
 * assert.equal(scopeSize(scope), 2);
 * ```
 */
export type FieldScope = "neuron" | "quadrant" | "hemisphere" | "channel";

/**
 * Description of one configurable field.
 *
 * @example
 * ```ts
 * import { FIELDS, type FieldSpec } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const spec: FieldSpec = FIELDS.refractory_counter;
 * assert.deepEqual([spec.group, spec.min, spec.max], ["digital", 0, 255]);
 * ```
 */
export interface FieldSpec {
  /** What kind of cell or setting this is. */
  readonly group: "capmem" | "quadrant-capmem" | "digital";
  /** Elements per chip are neurons, quadrants, hemispheres or CADC channels. */
  readonly scope: FieldScope;
  /** Smallest legal value (inclusive). */
  readonly min: number;
  /** Largest legal value (inclusive). */
  readonly max: number;
  /** Value after power-on (the twin's initial state). */
  readonly initial: number;
  /** One line on what the field does. */
  readonly doc: string;
}

const _capmem = (initial: number, doc: string): FieldSpec => ({
  group: "capmem",
  scope: "neuron",
  min: 0,
  max: 1022,
  initial,
  doc,
});
const _quadrant = (initial: number, doc: string): FieldSpec => ({
  group: "quadrant-capmem",
  scope: "quadrant",
  min: 0,
  max: 1022,
  initial,
  doc,
});
const _flag = (initial: number, doc: string): FieldSpec => ({
  group: "digital",
  scope: "neuron",
  min: 0,
  max: 1,
  initial,
  doc,
});

/**
 * The name of any configurable field (the keys of {@linkcode FIELDS}).
 *
 * @example
 * ```ts
 * import { FIELD_NAMES, type FieldName, FIELDS } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const capmemRows: FieldName[] = FIELD_NAMES.filter((name) => FIELDS[name].group === "capmem");
 * assert.ok(capmemRows.includes("v_leak"));
 * ```
 */
export type FieldName =
  | "v_leak"
  | "v_reset"
  | "v_threshold"
  | "i_bias_leak"
  | "i_bias_reset"
  | "i_mem_offset"
  | "i_bias_synin_exc_tau"
  | "i_bias_synin_exc_gm"
  | "i_bias_synin_exc_shift"
  | "i_bias_synin_inh_tau"
  | "i_bias_synin_inh_gm"
  | "i_bias_synin_inh_shift"
  | "e_synin_exc_rev"
  | "e_synin_inh_rev"
  | "i_bias_synin_exc_coba"
  | "i_bias_synin_inh_coba"
  | "syn_i_bias_dac"
  | "cadc_v_ramp_offset"
  | "cadc_i_ramp_slope"
  | "membrane_capacitance"
  | "leak_division"
  | "leak_multiplication"
  | "synin_exc_enable"
  | "synin_inh_enable"
  | "synin_exc_high_resistance"
  | "synin_inh_high_resistance"
  | "coba_exc_enable"
  | "coba_inh_enable"
  | "threshold_enable"
  | "offset_current_enable"
  | "refractory_counter"
  | "reset_holdoff"
  | "input_clock"
  | "enable_readout"
  | "clock_scale_fast"
  | "clock_scale_slow"
  | "cadc_channel_offset";

/**
 * Every field a patch may set, by its hardware name. CapMem codes are
 * 0..1022 (1023 is not a value); digital flags are 0/1 (booleans accepted).
 *
 * @example Look up a field
 * ```ts
 * import { FIELDS } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(FIELDS.v_leak.max, 1022);
 * assert.equal(FIELDS.syn_i_bias_dac.scope, "quadrant");
 * ```
 */
export const FIELDS: { readonly [K in FieldName]: FieldSpec } = {
  v_leak: _capmem(400, "leak potential (voltage cell)"),
  v_reset: _capmem(300, "reset potential (voltage cell)"),
  v_threshold: _capmem(600, "spike threshold (voltage cell)"),
  i_bias_leak: _capmem(500, "leak OTA bias: higher code, shorter tau_mem"),
  i_bias_reset: _capmem(1012, "reset OTA bias: higher code, stronger clamp"),
  i_mem_offset: _capmem(0, "membrane offset current (step stimulus)"),
  i_bias_synin_exc_tau: _capmem(500, "excitatory line bias: higher code, shorter tau_syn"),
  i_bias_synin_exc_gm: _capmem(0, "excitatory OTA strength"),
  i_bias_synin_exc_shift: _capmem(300, "excitatory OTA reference (inverted)"),
  i_bias_synin_inh_tau: _capmem(500, "inhibitory line bias: higher code, shorter tau_syn"),
  i_bias_synin_inh_gm: _capmem(0, "inhibitory OTA strength"),
  i_bias_synin_inh_shift: _capmem(300, "inhibitory OTA reference"),
  e_synin_exc_rev: _capmem(
    500,
    "excitatory COBA reference (voltage cell; despite its name, where the modulation is zero)",
  ),
  e_synin_inh_rev: _capmem(
    500,
    "inhibitory COBA reference (voltage cell; despite its name, where the modulation is zero)",
  ),
  i_bias_synin_exc_coba: _capmem(
    0,
    "excitatory COBA modulation strength: higher code, reversal closer to the reference",
  ),
  i_bias_synin_inh_coba: _capmem(
    0,
    "inhibitory COBA modulation strength: higher code, reversal closer to the reference",
  ),
  syn_i_bias_dac: _quadrant(600, "synapse DAC bias: event amplitude per weight LSB"),
  cadc_v_ramp_offset: _quadrant(600, "CADC ramp start (inverted: more code, lower reading)"),
  cadc_i_ramp_slope: _quadrant(500, "CADC ramp slope (inverted: more code, lower reading)"),
  membrane_capacitance: {
    group: "digital",
    scope: "neuron",
    min: 0,
    max: 63,
    initial: 63,
    doc: "membrane capacitor size, 63 ≈ 2.2 pF",
  },
  leak_division: _flag(0, "leak conductance ÷8"),
  leak_multiplication: _flag(0, "leak conductance ×8"),
  synin_exc_enable: _flag(0, "excitatory synaptic input connected to the membrane"),
  synin_inh_enable: _flag(0, "inhibitory synaptic input connected to the membrane"),
  synin_exc_high_resistance: _flag(0, "excitatory line high-resistance mode (≈10× longer tau_syn)"),
  synin_inh_high_resistance: _flag(0, "inhibitory line high-resistance mode (≈10× longer tau_syn)"),
  coba_exc_enable: _flag(0, "excitatory input conductance-based (COBA modulation on)"),
  coba_inh_enable: _flag(0, "inhibitory input conductance-based (COBA modulation on)"),
  threshold_enable: _flag(1, "spike threshold comparator enabled"),
  offset_current_enable: _flag(0, "membrane offset current enabled"),
  refractory_counter: {
    group: "digital",
    scope: "neuron",
    min: 0,
    max: 255,
    initial: 32,
    doc: "refractory time in clock cycles",
  },
  reset_holdoff: {
    group: "digital",
    scope: "neuron",
    min: 0,
    max: 15,
    initial: 15,
    doc: "reset released (31 − 2·holdoff) cycles before the refractory time ends",
  },
  input_clock: _flag(1, "refractory clock: 1 = fast scaler, 0 = slow scaler"),
  enable_readout: _flag(
    0,
    "membrane routed to the MADC (the readout neuron): at most one neuron per chip",
  ),
  clock_scale_fast: {
    group: "digital",
    scope: "hemisphere",
    min: 0,
    max: 15,
    initial: 3,
    doc: "fast refractory clock scaler s: period 2^(s+1)/250 MHz",
  },
  clock_scale_slow: {
    group: "digital",
    scope: "hemisphere",
    min: 0,
    max: 15,
    initial: 9,
    doc: "slow refractory clock scaler s: period 2^(s+1)/250 MHz",
  },
  cadc_channel_offset: {
    group: "digital",
    scope: "channel",
    min: -128,
    max: 127,
    initial: 0,
    doc: "digital offset added to a CADC channel's reading",
  },
};

/** The names of all fields, in a stable order. */
export const FIELD_NAMES: readonly FieldName[] = Object.keys(FIELDS) as FieldName[];

/**
 * The per-neuron CapMem rows of the conductance-based (COBA) synaptic input
 * (`TWIN.md` §8): the reference voltage cells and the modulation-strength
 * current cells, in a stable order.
 *
 * @example
 * ```ts
 * import { COBA_CAPMEM_ROWS, FIELDS } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(COBA_CAPMEM_ROWS.length, 4);
 * assert.ok(COBA_CAPMEM_ROWS.every((row) => FIELDS[row].group === "capmem"));
 * ```
 */
export const COBA_CAPMEM_ROWS = [
  "e_synin_exc_rev",
  "e_synin_inh_rev",
  "i_bias_synin_exc_coba",
  "i_bias_synin_inh_coba",
] as const satisfies readonly FieldName[];

/** Per-neuron CapMem rows of the COBA synaptic input (0..1022 per neuron). */
export type CobaCapMemRow = (typeof COBA_CAPMEM_ROWS)[number];

/**
 * The per-neuron CapMem rows, in a stable order (the COBA rows last).
 *
 * @example
 * ```ts
 * import { NEURON_CAPMEM_ROWS } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(NEURON_CAPMEM_ROWS.length, 16);
 * assert.equal(NEURON_CAPMEM_ROWS[0], "v_leak");
 * ```
 */
export const NEURON_CAPMEM_ROWS = [
  "v_leak",
  "v_reset",
  "v_threshold",
  "i_bias_leak",
  "i_bias_reset",
  "i_mem_offset",
  "i_bias_synin_exc_tau",
  "i_bias_synin_exc_gm",
  "i_bias_synin_exc_shift",
  "i_bias_synin_inh_tau",
  "i_bias_synin_inh_gm",
  "i_bias_synin_inh_shift",
  ...COBA_CAPMEM_ROWS,
] as const satisfies readonly FieldName[];

/**
 * Per-neuron CapMem rows (0..1022 per neuron).
 *
 * @example
 * ```ts
 * import { NEURON_CAPMEM_ROWS, type NeuronCapMemRow } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const row: NeuronCapMemRow = "i_bias_leak";
 * assert.ok(NEURON_CAPMEM_ROWS.includes(row));
 * ```
 */
export type NeuronCapMemRow = (typeof NEURON_CAPMEM_ROWS)[number];

/**
 * The fields a search may move, once for every executor: the per-neuron
 * CapMem rows, the quadrant cells and the CADC channel offsets. Its order
 * is the field number the WGSL `writeField` kernel switches on.
 *
 * @example
 * ```ts
 * import { SEARCHABLE_FIELDS } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(SEARCHABLE_FIELDS[0], "v_leak");
 * assert.equal(SEARCHABLE_FIELDS.at(-1), "cadc_channel_offset");
 * assert.ok(!(SEARCHABLE_FIELDS as readonly string[]).includes("membrane_capacitance"));
 * ```
 */
export const SEARCHABLE_FIELDS = [
  ...NEURON_CAPMEM_ROWS,
  "syn_i_bias_dac",
  "cadc_v_ramp_offset",
  "cadc_i_ramp_slope",
  "cadc_channel_offset",
] as const satisfies readonly FieldName[];

/**
 * Fields a search may move: CapMem rows, quadrant cells, channel offsets.
 *
 * @example
 * ```ts
 * import type { SearchableField } from "./config.ts";
 * import { fieldSize } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const field: SearchableField = "syn_i_bias_dac"; // one cell per quadrant
 * assert.equal(fieldSize(field), 4);
 * ```
 */
export type SearchableField = (typeof SEARCHABLE_FIELDS)[number];

/**
 * Number of elements a field has per chip.
 *
 * @example Sizes
 * ```ts
 * import { fieldSize } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(fieldSize("v_leak"), 512);
 * assert.equal(fieldSize("cadc_channel_offset"), 1024);
 * ```
 */
export function fieldSize(name: FieldName): number {
  return scopeSize(FIELDS[name].scope);
}

/**
 * Elements per chip for a scope.
 *
 * @example
 * ```ts
 * import { scopeSize } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(scopeSize("quadrant"), 4);
 * ```
 */
export function scopeSize(scope: FieldScope): number {
  switch (scope) {
    case "neuron":
      return NEURONS;
    case "quadrant":
      return QUADRANTS;
    case "hemisphere":
      return HEMISPHERES;
    case "channel":
      return CADC_CHANNELS;
  }
}

/**
 * The complete configuration of one chip: one integer array per field.
 *
 * @example
 * ```ts
 * import { type ChipConfig, initialConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config: ChipConfig = initialConfig();
 * assert.ok(config.v_leak instanceof Int32Array);
 * assert.equal(config.v_leak.length, 512);
 * ```
 */
export type ChipConfig = { [K in FieldName]: Int32Array };

/**
 * A value in a patch: a scalar for every element of every chip; an array of
 * one chip's size shared by all chips; an array of `chips × size` (chip-major);
 * or an array of per-chip arrays. Flags also take booleans.
 *
 * @example
 * ```ts
 * import { type PatchValue, resolvePatch } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const everywhere: PatchValue = 300; // every neuron of every chip
 * const perChip: PatchValue = [new Int32Array(512).fill(300), new Int32Array(512).fill(400)];
 * const values = resolvePatch({ i_bias_leak: everywhere, v_leak: perChip }, 2);
 * assert.equal(values.get("v_leak")![1]![0], 400);
 * ```
 */
export type PatchValue =
  | number
  | boolean
  | ArrayLike<number>
  | readonly boolean[]
  | readonly ArrayLike<number>[];

/**
 * A partial configuration written to every chip of a backend.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { ConfigPatch } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const patch: ConfigPatch = { threshold_enable: false, i_bias_leak: 300, leak_division: 1 };
 * await backend.write(patch);
 * const [config] = await backend.config();
 * assert.equal(config!.i_bias_leak[5], 300);
 * await assert.rejects(() => backend.write({ v_leak: 1023 }), RangeError);
 * await backend.close();
 * ```
 */
export type ConfigPatch = { readonly [K in FieldName]?: PatchValue };

/**
 * The power-on configuration of a chip.
 *
 * @example
 * ```ts
 * import { initialConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 * const c = initialConfig();
 * assert.equal(c.i_bias_reset[7], 1012);
 * assert.equal(c.cadc_channel_offset.length, 1024);
 * ```
 */
export function initialConfig(): ChipConfig {
  const out: Partial<ChipConfig> = {};
  for (const name of FIELD_NAMES) {
    out[name] = new Int32Array(fieldSize(name)).fill(FIELDS[name].initial);
  }
  return out as ChipConfig;
}

/**
 * A deep copy of a chip configuration.
 *
 * @example
 * ```ts
 * import { cloneConfig, initialConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 * const a = initialConfig();
 * const b = cloneConfig(a);
 * b.v_leak[0] = 1;
 * assert.notEqual(a.v_leak[0], 1);
 * ```
 */
export function cloneConfig(config: ChipConfig): ChipConfig {
  const out: Partial<ChipConfig> = {};
  for (const name of FIELD_NAMES) out[name] = config[name].slice();
  return out as ChipConfig;
}

function _describeIndices(indices: number[]): string {
  const shown = indices.slice(0, 8).join(", ");
  return indices.length > 8 ? `${shown}, … (${indices.length} in all)` : shown;
}

function _toNumber(v: unknown): number {
  return typeof v === "boolean" ? (v ? 1 : 0) : (v as number);
}

/**
 * Resolves a patch into per-chip integer arrays for `chips` chips, validating
 * every value. Throws before anything is applied, so a rejected patch leaves
 * the chip state unchanged:
 * - `TypeError` for an unknown field or a value that is not a number;
 * - `RangeError` for a wrong array length, a non-integer or an out-of-range
 *   value, naming the field and the offending elements;
 * - `RangeError` for an `enable_readout` row with more than one neuron on
 *   (one readout neuron per chip), naming the chip and the neurons.
 *
 * @example A shared scalar and a per-neuron array
 * ```ts
 * import { resolvePatch } from "./config.ts";
 * import assert from "node:assert/strict";
 * const r = resolvePatch({ v_leak: 500, leak_division: true }, 2);
 * assert.equal(r.get("v_leak")![1]![511], 500);
 * assert.equal(r.get("leak_division")![0]![0], 1);
 * assert.throws(() => resolvePatch({ v_leak: 1023 }, 1), RangeError);
 * assert.throws(() => resolvePatch({ enable_readout: 1 }, 1), /chip 0 .* neurons 0, 1/);
 * ```
 */
export function resolvePatch(
  patch: ConfigPatch,
  chips: number,
): Map<FieldName, Int32Array[]> {
  const out = new Map<FieldName, Int32Array[]>();
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(FIELDS, name)) {
      throw new TypeError(
        `Unknown configuration field "${name}"; known fields are ${FIELD_NAMES.join(", ")}`,
      );
    }
    const field = name as FieldName;
    const rows = _resolveValue(field, value as PatchValue, chips);
    if (field === "enable_readout") _checkReadout(rows);
    out.set(field, rows);
  }
  return out;
}

/** At most one readout neuron per chip: a row with more 1s is refused whole. */
function _checkReadout(rows: readonly Int32Array[]): void {
  rows.forEach((row, chip) => {
    const on: number[] = [];
    row.forEach((v, n) => {
      if (v !== 0) on.push(n);
    });
    if (on.length > 1) {
      throw new RangeError(
        `enable_readout may be on for at most one neuron per chip; chip ${chip} would have it on neurons ${
          _describeIndices(on)
        } (write a row with a single 1 to move the readout)`,
      );
    }
  });
}

function _resolveValue(field: FieldName, value: PatchValue, chips: number): Int32Array[] {
  const spec: FieldSpec = FIELDS[field];
  const size = fieldSize(field);
  const perChip: ArrayLike<unknown>[] = [];
  if (typeof value === "number" || typeof value === "boolean") {
    const v = _toNumber(value);
    if (!Number.isInteger(v)) throw new RangeError(`${field} must be an integer, got ${v}`);
    if (v < spec.min || v > spec.max) {
      throw new RangeError(`${field} must lie in ${spec.min}..${spec.max}, got ${v}`);
    }
    const arr = new Array<number>(size).fill(_toNumber(value));
    for (let c = 0; c < chips; c++) perChip.push(arr);
  } else if (
    typeof value === "object" && value !== null && "length" in value
  ) {
    const first = (value as ArrayLike<unknown>)[0];
    if (typeof first === "object" && first !== null) {
      const nested = value as readonly ArrayLike<number>[];
      if (nested.length !== chips) {
        throw new RangeError(
          `${field} has ${nested.length} per-chip arrays, expected one per chip (${chips})`,
        );
      }
      nested.forEach((a, chip) => {
        if (a === null || typeof a !== "object" || typeof a.length !== "number") {
          throw new TypeError(`${field} of chip ${chip} is not an array`);
        }
        perChip.push(a);
      });
    } else if (value.length === size) {
      for (let c = 0; c < chips; c++) perChip.push(value as ArrayLike<unknown>);
    } else if (value.length === size * chips) {
      const flat = value as ArrayLike<unknown>;
      for (let c = 0; c < chips; c++) {
        perChip.push(Array.prototype.slice.call(flat, c * size, (c + 1) * size));
      }
    } else {
      throw new RangeError(
        `${field} has ${value.length} values, expected 1, ${size} (one per ${spec.scope}) or ${
          size * chips
        } (${chips} chips × ${size})`,
      );
    }
  } else {
    throw new TypeError(`${field} must be a number, a boolean or an array, got ${typeof value}`);
  }
  return perChip.map((arr, chip) => {
    if (arr.length !== size) {
      throw new RangeError(`${field} of chip ${chip} has ${arr.length} values, expected ${size}`);
    }
    const out = new Int32Array(size);
    const notInteger: number[] = [];
    const outside: number[] = [];
    for (let i = 0; i < size; i++) {
      const raw = arr[i];
      if (typeof raw !== "number" && typeof raw !== "boolean") {
        throw new TypeError(`${field}[${i}] of chip ${chip} is not a number (${typeof raw})`);
      }
      const v = _toNumber(raw);
      if (!Number.isInteger(v)) notInteger.push(i);
      else if (v < spec.min || v > spec.max) outside.push(i);
      out[i] = v;
    }
    if (notInteger.length > 0) {
      throw new RangeError(
        `${field} must be an integer; ${spec.scope}s ${
          _describeIndices(notInteger)
        } of chip ${chip} are not (first: ${arr[notInteger[0]!]})`,
      );
    }
    if (outside.length > 0) {
      throw new RangeError(
        `${field} must lie in ${spec.min}..${spec.max}; ${spec.scope}s ${
          _describeIndices(outside)
        } of chip ${chip} are outside (first: ${arr[outside[0]!]})`,
      );
    }
    return out;
  });
}
