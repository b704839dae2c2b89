/**
 * A chip's run record, `chips/<chip-id>.run.json` beside its result
 * `chips/<chip-id>.json`: what the run measured besides the result — the
 * calix acceptance reference (every neuron at the median code), the search
 * convergence, the step times and the wall time — so summaries and reports
 * can be rebuilt from the files of finished chips alone.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "../deps/zod.ts";
import { MEASUREMENT_KINDS } from "../backends/measurement.ts";
import { type NeuronCalibResult, parseResult } from "../calib/result.ts";
import { VERSION } from "../version.ts";
import type { SearchTrace } from "./convergence.ts";
import { type MedianCodeValues, SUMMARY_PARAMETERS } from "./median_code_reference.ts";

/** Version of the run-record format. */
export const RECORD_FORMAT = 1;

/** A chip's run record. */
export interface ChipRecord {
  /** Discriminates record files. */
  readonly kind: "lifcal-chip-run";
  /** {@linkcode RECORD_FORMAT}. */
  readonly format: number;
  /** lifcal version of the run. */
  readonly lifcal_version: string;
  /** The chip's id. */
  readonly chipId: string;
  /** The twin's seed, or null for hardware. */
  readonly seed: number | null;
  /** The backend that calibrated the chip. */
  readonly backend: { readonly kind: string; readonly adapter: string | null };
  /** The chips calibrated together with it (its backend batch). */
  readonly batch: readonly string[];
  /** The batch's wall time divided by its chips (s). */
  readonly wall_s: number;
  /** The leak-over-threshold rate calibrated after the calibration, or null. */
  readonly leak_over_threshold: string | null;
  /** Per parameter, the 512 values with every neuron at the chip's median code. */
  readonly median_code: Readonly<Record<keyof MedianCodeValues, readonly (number | null)[]>>;
  /** The chip's searches in the order they ran, with their convergence. */
  readonly searches: readonly SearchTrace[];
  /** The calibration steps of the batch and their wall times (s). */
  readonly steps: readonly { readonly name: string; readonly seconds: number }[];
}

const _values = z.array(z.number().nullable()).length(512);
const _recordSchema = z.object({
  kind: z.literal("lifcal-chip-run"),
  format: z.literal(RECORD_FORMAT),
  lifcal_version: z.string(),
  chipId: z.string(),
  seed: z.number().int().nullable(),
  backend: z.object({ kind: z.string(), adapter: z.string().nullable() }),
  batch: z.array(z.string()),
  wall_s: z.number().nonnegative(),
  leak_over_threshold: z.string().nullable(),
  median_code: z.object(
    Object.fromEntries(SUMMARY_PARAMETERS.map((p) => [p, _values])) as Record<
      (typeof SUMMARY_PARAMETERS)[number],
      typeof _values
    >,
  ),
  searches: z.array(z.object({
    field: z.string(),
    measurement: z.enum(MEASUREMENT_KINDS),
    unit: z.string(),
    median_abs_error: z.array(z.number().nullable()),
  })),
  steps: z.array(z.object({ name: z.string(), seconds: z.number() })),
});

/**
 * Parses and validates a run record; throws `SyntaxError` for broken JSON
 * and `RangeError` naming the first bad field.
 *
 * @example
 * ```ts
 * import { parseChipRecord } from "./chip_record.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => parseChipRecord('{"kind": "lifcal-chip-run"}'), RangeError);
 * ```
 */
export function parseChipRecord(text: string): ChipRecord {
  const parsed = _recordSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RangeError(`Run record field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The paths of a chip's result and run record in an output folder.
 *
 * @example
 * ```ts
 * import { chipPaths } from "./chip_record.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(chipPaths("out", "sim-3"), { result: "out/chips/sim-3.json", record: "out/chips/sim-3.run.json" });
 * ```
 */
export function chipPaths(out: string, chipId: string): { result: string; record: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(chipId) || chipId.endsWith(".run")) {
    throw new RangeError(`Chip id "${chipId}" cannot name a file`);
  }
  return {
    result: join(out, "chips", `${chipId}.json`),
    record: join(out, "chips", `${chipId}.run.json`),
  };
}

/** A finished chip: its result and its run record. */
export interface ChipFiles {
  /** The calibration result. */
  readonly result: NeuronCalibResult;
  /** The run record. */
  readonly record: ChipRecord;
}

/**
 * Loads a finished chip from an output folder, or says why it cannot:
 * a file is missing, not valid JSON, of the wrong shape, or for another chip.
 *
 * @example
 * ```ts
 * import { loadChip } from "./chip_record.ts";
 * import assert from "node:assert/strict";
 * const r = await loadChip("/nonexistent", "sim-1");
 * assert.equal(r.ok, false);
 * ```
 */
export async function loadChip(
  out: string,
  chipId: string,
): Promise<{ ok: true; chip: ChipFiles } | { ok: false; missing: boolean; reason: string }> {
  const paths = chipPaths(out, chipId);
  let file = paths.result;
  const fail = (reason: string) => ({ ok: false as const, missing: false, reason });
  try {
    const result = parseResult(await Deno.readTextFile(paths.result));
    if (result.kind !== "neuron") return fail(`${paths.result} is a CADC result`);
    if (result.chipId !== chipId) return fail(`${paths.result} holds chip ${result.chipId}`);
    file = paths.record;
    const record = parseChipRecord(await Deno.readTextFile(paths.record));
    if (record.chipId !== chipId) return fail(`${paths.record} holds chip ${record.chipId}`);
    return { ok: true, chip: { result, record } };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { ok: false, missing: file === paths.result, reason: `${file} does not exist` };
    }
    return fail(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Builds a chip's run record.
 *
 * @example
 * ```ts
 * import { makeChipRecord } from "./chip_record.ts";
 * import assert from "node:assert/strict";
 * const empty = new Array(512).fill(null);
 * const mc = { leak: empty, reset: empty, threshold: empty, tau_mem: empty, tau_syn_exc: empty, tau_syn_inh: empty };
 * const r = makeChipRecord({ chipId: "sim-1", seed: 1, backend: { kind: "cpu", adapter: null },
 *   batch: ["sim-1"], wall_s: 1, leak_over_threshold: null, median_code: mc, searches: [], steps: [] });
 * assert.equal(r.kind, "lifcal-chip-run");
 * ```
 */
export function makeChipRecord(
  fields: Omit<ChipRecord, "kind" | "format" | "lifcal_version">,
): ChipRecord {
  return { kind: "lifcal-chip-run", format: RECORD_FORMAT, lifcal_version: VERSION, ...fields };
}
