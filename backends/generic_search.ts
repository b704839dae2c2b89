/**
 * A `search` for any executor, built on `write` + `measure`: the search
 * update rules of `search_rules.ts` drive the codes, one measurement per
 * step, with the spec's sub-searches run before every measurement. An
 * executor may replace it with a fused search as long as it claims the same
 * operations in the same order (then a chip's codes do not depend on the
 * executor's batch).
 *
 * @module
 */

import type { Backend, ReadingMap, SearchResult, SearchSpec } from "./backend.ts";
import { FIELDS, fieldSize, SEARCHABLE_FIELDS } from "./config.ts";
import { NEURONS, QUADRANTS } from "./layout.ts";
import { measurementSize, validateMeasurement } from "./measurement.ts";
import {
  initSearch,
  planSearch,
  searchResult,
  searchUpdate,
  startOffsets,
} from "./search_rules.ts";

const _SEARCHABLE: ReadonlySet<string> = new Set(SEARCHABLE_FIELDS);

/**
 * Checks a search spec and returns its shape: instances per chip and range.
 * Every CapMem cell (the COBA rows included), quadrant cell and CADC channel
 * offset can be searched. Throws `TypeError` for an unknown field or
 * measurement kind and `RangeError` for a bad range, target length, a
 * measurement whose shape does not match the field, or a `membrane-trace`
 * (a trace cannot drive a search).
 *
 * @example
 * ```ts
 * import { validateSearchSpec } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * const s = validateSearchSpec({
 *   field: "v_leak", algorithm: { name: "binary" }, target: 80,
 *   measurement: { kind: "resting-potential" },
 * }, 2);
 * assert.deepEqual(s, { size: 512, lower: 0, upper: 1022 });
 * assert.throws(() => validateSearchSpec({
 *   field: "e_synin_exc_rev", algorithm: { name: "binary" }, target: 80,
 *   measurement: { kind: "membrane-trace", windowSeconds: 1e-5 },
 * }, 1), /membrane-trace cannot drive a search/);
 * ```
 */
export function validateSearchSpec(
  spec: SearchSpec,
  chips: number,
): { size: number; lower: number; upper: number } {
  const field = spec.field;
  const { size, lower, upper } = _searchShape(field, spec.range);
  if ((spec.measurement as { kind?: unknown } | undefined)?.kind === "membrane-trace") {
    throw new RangeError(
      `Measurement membrane-trace cannot drive a search: it records one readout neuron's samples, not a reading per ${field} element`,
    );
  }
  validateMeasurement(spec.measurement);
  let produced = measurementSize(spec.measurement);
  if (spec.reduce === "quadrant-mean") produced = QUADRANTS;
  if (produced !== size) {
    throw new RangeError(
      `Measurement ${spec.measurement.kind} gives ${produced} values per chip, but ${field} has ${size}`,
    );
  }
  _checkLength("target", spec.target, size, chips);
  for (const m of spec.map ?? []) {
    if (m.op !== "before-failed") _checkLength(`map ${m.op} limit`, m.limit, size, chips);
  }
  return { size, lower, upper };
}

/** The instances per chip and the range of a searched field; throws for a field that cannot be searched. */
function _searchShape(
  field: SearchSpec["field"],
  range: readonly [number, number] | undefined,
): { size: number; lower: number; upper: number } {
  if (!Object.hasOwn(FIELDS, field)) {
    throw new TypeError(`Unknown search field "${String(field)}"`);
  }
  const f = FIELDS[field];
  if (!_SEARCHABLE.has(field)) {
    throw new TypeError(`Field "${field}" cannot be searched`);
  }
  const [lower, upper] = range ?? [f.min, f.max];
  if (!Number.isInteger(lower) || !Number.isInteger(upper) || lower < f.min || upper > f.max) {
    throw new RangeError(
      `Search range ${lower}..${upper} of ${field} must be integers inside ${f.min}..${f.max}`,
    );
  }
  return { size: fieldSize(field), lower, upper };
}

function _checkLength(
  name: string,
  v: number | ArrayLike<number>,
  size: number,
  chips: number,
): void {
  if (typeof v === "number") return;
  if (v.length !== size && v.length !== size * chips) {
    throw new RangeError(
      `Search ${name} has ${v.length} values, expected 1, ${size} or ${size * chips}`,
    );
  }
}

/**
 * Expands a scalar, a per-chip-shared array or a chip-major array to
 * `chips × size` values.
 *
 * @example
 * ```ts
 * import { expandPerInstance } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...expandPerInstance([1, 2], 2, 2)], [1, 2, 1, 2]);
 * assert.deepEqual([...expandPerInstance(5, 1, 3)], [5, 5, 5]);
 * ```
 */
export function expandPerInstance(
  v: number | ArrayLike<number>,
  size: number,
  chips: number,
): Float64Array {
  const out = new Float64Array(size * chips);
  if (typeof v === "number") return out.fill(v);
  if (v.length === size * chips) {
    for (let i = 0; i < out.length; i++) out[i] = v[i]!;
    return out;
  }
  for (let c = 0; c < chips; c++) {
    for (let i = 0; i < size; i++) out[c * size + i] = v[i]!;
  }
  return out;
}

/**
 * Quadrant means of per-neuron (512) or per-channel (1024) readings, per chip.
 *
 * @example
 * ```ts
 * import { quadrantMeans } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * const r = new Float32Array(512).map((_, n) => n >> 7);
 * assert.deepEqual([...quadrantMeans(r, 1)], [0, 1, 2, 3]);
 * ```
 */
export function quadrantMeans(readings: Float32Array, chips: number): Float32Array {
  const per = readings.length / chips;
  const out = new Float32Array(chips * QUADRANTS);
  const sums = new Float64Array(QUADRANTS);
  for (let c = 0; c < chips; c++) {
    sums.fill(0);
    for (let i = 0; i < per; i++) sums[(i % NEURONS) >> 7]! += readings[c * per + i]!;
    for (let q = 0; q < QUADRANTS; q++) out[c * QUADRANTS + q] = sums[q]! / (per / QUADRANTS);
  }
  return out;
}

/**
 * Applies reading maps in order (see {@linkcode ReadingMap}).
 *
 * @example A floating membrane reads 0
 * ```ts
 * import { applyReadingMaps } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * const r = applyReadingMaps(new Float32Array([10, 99]), new Int32Array(2), undefined,
 *   [{ op: "above", limit: 50, value: 0 }], 2, 1);
 * assert.deepEqual([...r], [10, 0]);
 * ```
 */
export function applyReadingMaps(
  readings: Float32Array,
  codes: Int32Array,
  beforeSuccess: Uint8Array | undefined,
  maps: readonly ReadingMap[],
  size: number,
  chips: number,
): Float32Array {
  const out = readings.slice();
  for (const m of maps) {
    if (m.op === "before-failed") {
      if (!beforeSuccess) continue;
      for (let i = 0; i < out.length; i++) if (!beforeSuccess[i]) out[i] = m.value;
      continue;
    }
    const limit = expandPerInstance(m.limit, size, chips);
    for (let i = 0; i < out.length; i++) {
      if (m.op === "above" ? out[i]! > limit[i]! : codes[i]! < limit[i]!) out[i] = m.value;
    }
  }
  return out;
}

/**
 * Selects the rows of the active chips from a `chips × size` array.
 *
 * @example
 * ```ts
 * import { selectRows } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...selectRows(new Float32Array([1, 2, 3, 4, 5, 6]), [0, 2], 2)], [1, 2, 5, 6]);
 * ```
 */
export function selectRows<T extends Float32Array | Float64Array>(
  values: T,
  chips: readonly number[],
  size: number,
): T {
  const out = new (values.constructor as new (n: number) => T)(chips.length * size);
  chips.forEach((c, k) => out.set(values.subarray(c * size, (c + 1) * size), k * size));
  return out;
}

/**
 * A search whose readings come from a function instead of one measurement:
 * the field, range, direction, algorithm, target and chips of a
 * {@linkcode SearchSpec}, without the measurement.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import { type DrivenSearch, driveSearch } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 *
 * // Find each neuron's v_leak code where a made-up reading, code / 4, hits 100.
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const search: DrivenSearch = { field: "v_leak", algorithm: { name: "binary" }, target: 100 };
 * const result = await driveSearch(backend, search, (codes) => Promise.resolve(Float32Array.from(codes, (c) => c / 4)));
 * assert.ok(result.codes.every((c) => Math.abs(c - 400) <= 1));
 * await backend.close();
 * ```
 */
export interface DrivenSearch {
  /** The searched field. */
  readonly field: SearchSpec["field"];
  /** Inclusive search range (default: the field's whole range). */
  readonly range?: readonly [number, number];
  /** Whether a larger code gives a smaller reading. */
  readonly inverted?: boolean;
  /** The search algorithm. */
  readonly algorithm: SearchSpec["algorithm"];
  /** Target reading: a scalar, one per instance of a chip, or `chips × instances`. */
  readonly target: number | ArrayLike<number>;
  /** Run on these chips only; the others' codes are −1, success 0. */
  readonly chips?: readonly number[];
  /** Keep the codes and readings of every step. */
  readonly trace?: boolean;
}

/**
 * Runs a search rule over any backend, asking `measure` for the readings of
 * every step: the search claims one operation per chip for its start
 * points, writes each step's codes to the field, calls `measure` with them
 * (`active chips × size`, in the order of `active`), and writes the final
 * codes. `measure` returns one reading per instance of the active chips;
 * ±Infinity pushes a code to a bound, as calix's sentinels do. This is the
 * loop {@linkcode genericSearch} runs with one measurement per step, and
 * what a calibration step uses when a step's reading is more than one
 * measurement (calix's COBA bias search).
 *
 * @example A search of the leak whose reading is the mean of two measurements
 * ```ts
 * import { openBackend } from "../mod.ts";
 * import { driveSearch, selectRows } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * await be.write({ threshold_enable: 0 });
 * const r = await driveSearch(be, { field: "v_leak", algorithm: { name: "binary" }, target: 80 },
 *   async (_codes, active) => {
 *     const a = selectRows(await be.measure({ kind: "resting-potential" }), active, 512);
 *     const b = selectRows(await be.measure({ kind: "resting-potential" }), active, 512);
 *     return a.map((v, i) => (v + b[i]!) / 2);
 *   });
 * assert.ok(r.success.every((s) => s === 1));
 * await be.close();
 * ```
 */
export async function driveSearch(
  backend: Backend,
  search: DrivenSearch,
  measure: (codes: Int32Array, active: readonly number[]) => Promise<Float32Array>,
): Promise<SearchResult> {
  const chips = backend.chips.length;
  const { size, lower, upper } = _searchShape(search.field, search.range);
  _checkLength("target", search.target, size, chips);
  const active = search.chips ?? Array.from({ length: chips }, (_, c) => c);
  const selection = { chips: active };
  const plan = planSearch(search.algorithm, lower, upper);
  const counters = backend.claim(1, selection);
  const n = active.length * size;
  let offsets: Int32Array | undefined;
  active.forEach((c, k) => {
    const o = startOffsets(search.algorithm, backend.keys[c]!, counters[c]!, size);
    if (!o) return;
    offsets ??= new Int32Array(n);
    offsets.set(o, k * size);
  });
  const target = selectRows(expandPerInstance(search.target, size, chips), active, size);
  let state = initSearch(plan, search.inverted ?? false, n, offsets);
  const trace = search.trace
    ? { codes: [] as Int32Array[], readings: [] as Float32Array[] }
    : undefined;
  while (!state.done) {
    await backend.write({ [search.field]: state.codes }, selection);
    const readings = await measure(state.codes, active);
    if (readings.length !== n) {
      throw new RangeError(
        `A driven search of ${search.field} got ${readings.length} readings, expected ${n}`,
      );
    }
    trace?.codes.push(state.codes.slice());
    trace?.readings.push(readings);
    state = searchUpdate(state, readings, target);
  }
  const result = searchResult(state);
  await backend.write({ [search.field]: result.codes }, selection);
  if (active.length === chips) return trace ? { ...result, trace } : result;
  const codes = new Int32Array(chips * size).fill(-1);
  const success = new Uint8Array(chips * size);
  active.forEach((c, k) => {
    codes.set(result.codes.subarray(k * size, (k + 1) * size), c * size);
    success.set(result.success.subarray(k * size, (k + 1) * size), c * size);
  });
  return trace ? { codes, success, trace } : { codes, success };
}

/**
 * Runs a search on any backend through its `write`, `measure` and `search`
 * (for sub-searches), on all chips or on `spec.chips`: {@linkcode driveSearch}
 * with one measurement per step, the spec's sub-searches before it and its
 * reduction and reading maps after it.
 *
 * @example Calibrate every neuron's leak to read 80 on a twin
 * ```ts
 * import { openBackend } from "../mod.ts";
 * import { genericSearch } from "./generic_search.ts";
 * import assert from "node:assert/strict";
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const r = await genericSearch(be, {
 *   field: "v_leak", algorithm: { name: "noisy-binary" }, target: 80,
 *   measurement: { kind: "resting-potential" },
 * });
 * assert.equal(r.codes.length, 512);
 * const read = await be.measure({ kind: "resting-potential" });
 * assert.ok(Math.abs(read.reduce((a, b) => a + b) / 512 - 80) < 2);
 * await be.close();
 * ```
 */
export async function genericSearch(backend: Backend, spec: SearchSpec): Promise<SearchResult> {
  const chips = backend.chips.length;
  const { size } = validateSearchSpec(spec, chips);
  const active = spec.chips ?? Array.from({ length: chips }, (_, c) => c);
  const selection = { chips: active };
  const maps = spec.map?.map((m) =>
    m.op === "before-failed"
      ? m
      : { ...m, limit: selectRows(expandPerInstance(m.limit, size, chips), active, size) }
  );
  const n = active.length * size;
  return await driveSearch(backend, spec, async (codes) => {
    let beforeSuccess: Uint8Array | undefined;
    for (const sub of spec.before ?? []) {
      const r = await backend.search({ ...sub, chips: sub.chips ?? active });
      const subSize = r.success.length / chips;
      if (subSize !== size) continue;
      beforeSuccess ??= new Uint8Array(n).fill(1);
      active.forEach((c, k) => {
        for (let i = 0; i < size; i++) {
          beforeSuccess![k * size + i] = beforeSuccess![k * size + i]! & r.success[c * size + i]!;
        }
      });
    }
    const raw = await backend.measure(spec.measurement, selection);
    let readings = selectRows(raw, active, raw.length / chips);
    if (spec.reduce === "quadrant-mean") readings = quadrantMeans(readings, active.length);
    if (maps) {
      readings = applyReadingMaps(readings, codes, beforeSuccess, maps, size, active.length);
    }
    return readings;
  });
}
