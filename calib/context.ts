/**
 * The state a calibration carries across its steps: the backend, the
 * options, each chip's counter of noisy writes and its warnings. Every random
 * draw (calix's ±5 noise on scalar CapMem writes) is keyed by the chip's key,
 * the noise seed and that chip's own counter, so a chip's calibration never
 * depends on its batch.
 *
 * @module
 */

import type { Backend, ChipSelection, SearchResult, SearchSpec } from "../backends/backend.ts";
import { type ConfigPatch, FIELDS, NEURON_CAPMEM_ROWS } from "../backends/config.ts";
import { NEURONS } from "../backends/layout.ts";
import { readingLimits } from "../backends/measurement.ts";
import { hash4, toUniform } from "../backends/rng.ts";
import { ExcessiveNoiseError, planSearch, type SearchAlgorithm } from "../backends/search_rules.ts";
import type { StepSpec } from "./steps.ts";
import type { ResolvedOptions } from "./target.ts";

/** Stream key separating write noise from every other draw. */
const _WRITE_NOISE = 0x776e6f69;

/**
 * Uniform integer noise in `[−amplitude, amplitude]` for a noisy CapMem write
 * of one neuron (calix adds ±5 to every scalar non-zero write).
 *
 * @example
 * ```ts
 * import { writeNoise } from "./context.ts";
 * import assert from "node:assert/strict";
 * const v = writeNoise(7, 0, 3, 100, 5);
 * assert.ok(Number.isInteger(v) && Math.abs(v) <= 5);
 * assert.equal(v, writeNoise(7, 0, 3, 100, 5));
 * ```
 */
export function writeNoise(
  key: number,
  seed: number,
  counter: number,
  neuron: number,
  amplitude: number,
): number {
  const u = toUniform(hash4(key, (seed ^ _WRITE_NOISE) >>> 0, counter, neuron));
  return Math.min(amplitude, Math.floor(u * (2 * amplitude + 1)) - amplitude);
}

/**
 * Which calibration a context serves; each draws its own write noise, so a
 * refinement does not repeat the noise pattern of the calibration before it.
 */
export type CalibPhase = "calibrate" | "refine" | "leak-over-threshold";

const _PHASES: Record<CalibPhase, number> = {
  calibrate: 0,
  refine: 0x3c6ef372,
  "leak-over-threshold": 0x78dde6e4,
};

/** A calibration in progress on a backend. */
export class CalibContext {
  /** The backend being calibrated. */
  readonly backend: Backend;
  /** The calibration options. */
  readonly options: ResolvedOptions;
  /** Warnings per chip, in the order they arose. */
  readonly warnings: string[][];
  /** The step running now (it names the step in range-bound warnings). */
  step = "";
  readonly #noiseCounters: Uint32Array;
  readonly #phase: number;

  /**
   * Starts a calibration context.
   *
   * @example
   * ```ts
   * import { CalibContext } from "./context.ts";
   * import { resolveOptions } from "./target.ts";
   * import { openBackend } from "../mod.ts";
   * import assert from "node:assert/strict";
   * const ctx = new CalibContext(await openBackend({ backend: "cpu", chips: 2 }), resolveOptions());
   * assert.equal(ctx.chips, 2);
   * ```
   */
  constructor(backend: Backend, options: ResolvedOptions, phase: CalibPhase = "calibrate") {
    this.backend = backend;
    this.options = options;
    this.#phase = _PHASES[phase];
    if (phase !== "calibrate") {
      this.step = phase === "refine" ? "refine potentials" : "leak over threshold";
    }
    this.warnings = backend.chips.map(() => []);
    this.#noiseCounters = new Uint32Array(backend.chips.length);
  }

  /** Number of chips. */
  get chips(): number {
    return this.backend.chips.length;
  }

  /** The search algorithm the options ask for (calix's NoisyBinarySearch by default). */
  get algorithm(): SearchAlgorithm {
    return { name: this.options.algorithm };
  }

  /**
   * Writes CapMem rows the way calix does: a scalar non-zero value gets
   * uniform ±5 noise per neuron (clipped to 0..1022), zero and arrays are
   * written exactly. Other fields in `patch` are written as they are.
   *
   * @example
   * ```ts
   * import { CalibContext } from "./context.ts";
   * import { resolveOptions } from "./target.ts";
   * import { openBackend } from "../mod.ts";
   * import assert from "node:assert/strict";
   * const be = await openBackend({ backend: "cpu", chips: 1 });
   * const ctx = new CalibContext(be, resolveOptions());
   * await ctx.write({ v_leak: 700, i_bias_synin_exc_gm: 0, leak_division: 1 });
   * const [c] = await be.config();
   * assert.ok(new Set(c!.v_leak).size > 5);
   * assert.ok(c!.v_leak.every((v) => v >= 695 && v <= 705));
   * assert.ok(c!.i_bias_synin_exc_gm.every((v) => v === 0));
   * ```
   */
  async write(patch: ConfigPatch, selection: ChipSelection = {}): Promise<void> {
    const chips = selection.chips ?? Array.from({ length: this.chips }, (_, c) => c);
    const out: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(patch)) {
      if (typeof value === "number" && value !== 0 && _isCapMemRow(field)) {
        out[field] = chips.map((c) => this.#noisy(c, value));
      } else {
        out[field] = value;
      }
    }
    await this.backend.write(out as ConfigPatch, selection);
  }

  #noisy(chip: number, value: number): Int32Array {
    const counter = this.#noiseCounters[chip]!;
    this.#noiseCounters[chip] = counter + 1;
    const key = this.backend.keys[chip]!;
    const out = new Int32Array(NEURONS);
    for (let n = 0; n < NEURONS; n++) {
      const v = value +
        writeNoise(key, (this.options.noise_seed ^ this.#phase) >>> 0, counter, n, 5);
      out[n] = v < 0 ? 0 : v > 1022 ? 1022 : v;
    }
    return out;
  }

  /**
   * Runs a search with the options' algorithm unless the spec names one.
   *
   * @example
   * ```ts
   * import { CalibContext } from "./context.ts";
   * import { resolveOptions } from "./target.ts";
   * import { openBackend } from "../mod.ts";
   * import assert from "node:assert/strict";
   * const ctx = new CalibContext(await openBackend({ backend: "cpu", chips: 1 }), resolveOptions());
   * const r = await ctx.search({ field: "v_reset", target: 70, measurement: { kind: "reset-potential" } });
   * assert.equal(r.codes.length, 512);
   * ```
   */
  async search(spec: StepSpec): Promise<SearchResult> {
    const full = this.complete(spec);
    _checkNoise(full, this.step);
    const result = await this.backend.search(full);
    this.warnBounds(full, result);
    return result;
  }

  /**
   * calix's warning when a search ends on a range bound (`Calib.run`): per
   * chip, which step, which field, how many elements at which bound.
   * {@linkcode search} calls it; steps that drive a search themselves call it
   * too.
   *
   * @example
   * ```ts
   * import { CalibContext } from "./context.ts";
   * import { resolveOptions } from "./target.ts";
   * import { openBackend } from "../mod.ts";
   * import assert from "node:assert/strict";
   * const ctx = new CalibContext(await openBackend({ backend: "cpu", chips: 1 }), resolveOptions());
   * ctx.step = "COBA";
   * ctx.warnBounds({ field: "i_bias_synin_exc_coba", range: [0, 255] },
   *   { codes: new Int32Array(512).fill(255), success: new Uint8Array(512) });
   * assert.match(ctx.warnings[0]![0]!, /^COBA: i_bias_synin_exc_coba ended on a range bound for 512 neurons/);
   * ```
   */
  warnBounds(
    spec: Pick<SearchSpec, "field" | "range" | "chips">,
    result: SearchResult,
  ): void {
    const field = FIELDS[spec.field];
    const [lower, upper] = spec.range ?? [field.min, field.max];
    const size = result.codes.length / this.chips;
    const what = field.scope === "channel" ? "channel" : field.scope;
    const chips = spec.chips ?? Array.from({ length: this.chips }, (_, c) => c);
    for (const c of chips) {
      const low: number[] = [];
      const high: number[] = [];
      for (let i = 0; i < size; i++) {
        const code = result.codes[c * size + i]!;
        if (code <= lower) low.push(i);
        else if (code >= upper) high.push(i);
      }
      if (low.length + high.length === 0) continue;
      const parts = [
        ...(low.length > 0 ? [`${_describe(what, low)} at the lower bound ${lower}`] : []),
        ...(high.length > 0 ? [`${_describe(what, high)} at the upper bound ${upper}`] : []),
      ];
      this.warn(
        c,
        `${this.step ? `${this.step}: ` : ""}${spec.field} ended on a range bound for ${
          low.length + high.length
        } ${what}${low.length + high.length === 1 ? "" : "s"}: ${parts.join("; ")}`,
      );
    }
  }

  /**
   * Fills in the options' algorithm wherever a spec or its sub-searches leave it open
   * (for the secant search with the spec's reading scale and the measurement's clamp limits).
   *
   * @example
   * ```ts
   * import { CalibContext } from "./context.ts";
   * import { resolveOptions } from "./target.ts";
   * import { openBackend } from "../mod.ts";
   * import assert from "node:assert/strict";
   * const ctx = new CalibContext(await openBackend({ backend: "cpu", chips: 1 }),
   *   resolveOptions({ algorithm: "binary" }));
   * const s = ctx.complete({ field: "v_leak", target: 80, measurement: { kind: "resting-potential" },
   *   before: [{ field: "v_reset", target: 70, measurement: { kind: "reset-potential" } }] });
   * assert.equal(s.before![0]!.algorithm.name, "binary");
   * ```
   */
  complete(spec: StepSpec): SearchSpec {
    const { before, readingScale, secantMeasurements, ...rest } = spec;
    let algorithm = spec.algorithm ?? this.algorithm;
    if (algorithm.name === "secant" && spec.algorithm === undefined) {
      const limits = readingLimits(spec.measurement);
      algorithm = {
        ...algorithm,
        ...(readingScale ? { scale: readingScale } : {}),
        ...(limits && !spec.reduce ? { limits } : {}),
        ...(secantMeasurements ? { measurements: secantMeasurements } : {}),
      };
    }
    const out: SearchSpec = { ...rest, algorithm };
    return before ? { ...out, before: before.map((b) => this.complete(b)) } : out;
  }

  /**
   * Records a warning for a chip.
   *
   * @example
   * ```ts
   * import { CalibContext } from "./context.ts";
   * import { resolveOptions } from "./target.ts";
   * import { openBackend } from "../mod.ts";
   * import assert from "node:assert/strict";
   * const ctx = new CalibContext(await openBackend({ backend: "cpu", chips: 1 }), resolveOptions());
   * ctx.warn(0, "Something to know");
   * assert.deepEqual(ctx.warnings[0], ["Something to know"]);
   * ```
   */
  warn(chip: number, message: string): void {
    this.warnings[chip]!.push(message);
  }
}

const _CAPMEM_ROWS: ReadonlySet<string> = new Set<string>(NEURON_CAPMEM_ROWS);

function _describe(what: string, indices: readonly number[]): string {
  const shown = indices.slice(0, 10).join(", ");
  return `${what}${indices.length === 1 ? "" : "s"} ${shown}${
    indices.length > 10 ? `, … (${indices.length} in all)` : ""
  }`;
}

/** Plans every search of a spec, so that an excessive noise names its step before anything runs. */
function _checkNoise(spec: SearchSpec, step: string): void {
  const field = FIELDS[spec.field];
  if (!field) return;
  const [lower, upper] = spec.range ?? [field.min, field.max];
  try {
    planSearch(spec.algorithm, lower, upper);
  } catch (e) {
    if (e instanceof ExcessiveNoiseError) {
      throw new ExcessiveNoiseError(`${step ? `${step}: ` : ""}${spec.field}: ${e.message}`, {
        noise: e.noise,
        limit: e.limit,
        step,
      });
    }
    throw e;
  }
  for (const sub of spec.before ?? []) _checkNoise(sub, step);
}

function _isCapMemRow(field: string): boolean {
  return _CAPMEM_ROWS.has(field);
}

/**
 * Median of each chip's block of `size` values.
 *
 * @example
 * ```ts
 * import { chipMedians } from "./context.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(chipMedians(new Float32Array([1, 2, 3, 10, 20, 30]), 3), [2, 20]);
 * ```
 */
export function chipMedians(values: ArrayLike<number>, size: number): number[] {
  const out: number[] = [];
  for (let c = 0; c * size < values.length; c++) {
    const part = Array.prototype.slice.call(values, c * size, (c + 1) * size) as number[];
    part.sort((a, b) => a - b);
    const h = part.length >> 1;
    out.push(part.length % 2 ? part[h]! : 0.5 * (part[h - 1]! + part[h]!));
  }
  return out;
}

/**
 * The neuron indices where a mask is 0, for warnings ("neurons 3, 17, … (n in all)").
 *
 * @example
 * ```ts
 * import { describeNeurons } from "./context.ts";
 * import assert from "node:assert/strict";
 * assert.equal(describeNeurons([3, 17]), "neurons 3, 17");
 * ```
 */
export function describeNeurons(indices: readonly number[]): string {
  const shown = indices.slice(0, 10).join(", ");
  return `neuron${indices.length === 1 ? "" : "s"} ${shown}${
    indices.length > 10 ? `, … (${indices.length} in all)` : ""
  }`;
}
