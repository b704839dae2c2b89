/**
 * `summary.json`: per chip the success fraction, wall time and, per
 * parameter, the target, the calibrated mean and spread, the spread with
 * every neuron at the median code (calix's acceptance reference) and their
 * ratio. Potentials are CADC LSB, times seconds. Spreads are standard
 * deviations after trimming 5 % of the neurons from each tail, as in calix's
 * acceptance test, so `ratio = measured_std / uncalibrated_std`.
 *
 * A summary is a pure function of the chips' result files and run records;
 * a shard writes the same document for its chips, plus its shard and the
 * plan it is a part of, as `summary.shard-<i>-of-<n>.json`.
 *
 * @module
 */

import { z } from "zod";
import { type NeuronCalibTarget, resolveTarget, twinId, VERSION } from "../mod.ts";
import type { ChipFiles } from "./chip_record.ts";
import { SUMMARY_PARAMETERS, type SummaryParameter } from "./median_code_reference.ts";
import type { Shard } from "./shard.ts";
import { finiteMean, trimmedStd } from "./stats.ts";

/** One parameter of one chip. */
export interface ParameterSummary {
  /** Mean of the per-neuron target (CADC LSB or s). */
  readonly target_mean: number | null;
  /** Mean of the calibrated values the verification measured. */
  readonly measured_mean: number | null;
  /** Trimmed spread of the calibrated values. */
  readonly measured_std: number | null;
  /** Trimmed spread with every neuron at the chip's median code. */
  readonly uncalibrated_std: number | null;
  /** `measured_std / uncalibrated_std` (calix requires e.g. < 0.3 for the leak). */
  readonly ratio: number | null;
}

/** One chip of a summary. */
export interface ChipSummary {
  /** Chip id. */
  readonly id: string;
  /** The twin's seed, or null. */
  readonly seed: number | null;
  /** Fraction of the 512 neurons whose calibration succeeded. */
  readonly success_fraction: number;
  /** The chip's share of its batch's wall time (s). */
  readonly wall_s: number;
  /** Per parameter. */
  readonly params: Readonly<Record<SummaryParameter, ParameterSummary>>;
}

/** `summary.json`. */
export interface Summary {
  /** lifcal version that wrote it. */
  readonly lifcal_version: string;
  /** The backend (several kinds joined by ", " if shards differed). */
  readonly backend: { readonly kind: string; readonly adapter: string | null };
  /** The calibration target (canonical form, times with units). */
  readonly target: NeuronCalibTarget;
  /** The chips, in the order of the plan. */
  readonly chips: readonly ChipSummary[];
  /** Totals: chips, neurons, and the sum of the chips' wall times (s). */
  readonly totals: { readonly chips: number; readonly neurons: number; readonly wall_s: number };
}

/** A shard's summary: a summary of its chips, its shard and the whole plan. */
export interface ShardSummary extends Summary {
  /** Which shard wrote it. */
  readonly shard: Shard;
  /** The whole run the shard belongs to: every chip id of every shard, in order. */
  readonly plan: { readonly chips: readonly string[] };
}

function _targetMean(target: NeuronCalibTarget, p: SummaryParameter): number | null {
  return finiteMean(Array.from(resolveTarget(target).target[p]));
}

/**
 * The summary of one finished chip.
 *
 * @example
 * ```ts ignore
 * import { chipSummary } from "./summary.ts";
 * import { loadChip } from "./chip_record.ts";
 * const loaded = await loadChip("lifcal-out", "sim-1");
 * if (loaded.ok) console.log(chipSummary(loaded.chip).params.leak.ratio);
 * ```
 */
export function chipSummary(chip: ChipFiles): ChipSummary {
  const { result, record } = chip;
  const params = {} as Record<SummaryParameter, ParameterSummary>;
  for (const p of SUMMARY_PARAMETERS) {
    const measured = trimmedStd(result.verification[p]);
    const uncalibrated = trimmedStd(record.median_code[p]);
    params[p] = {
      target_mean: _targetMean(result.target, p),
      measured_mean: finiteMean(result.verification[p]),
      measured_std: measured,
      uncalibrated_std: uncalibrated,
      ratio: measured !== null && uncalibrated !== null && uncalibrated > 0
        ? measured / uncalibrated
        : null,
    };
  }
  return {
    id: result.chipId,
    seed: record.seed,
    success_fraction: result.success.filter((s) => s).length / result.success.length,
    wall_s: record.wall_s,
    params,
  };
}

function _distinct(values: readonly (string | null)[]): string | null {
  const set = [...new Set(values.filter((v): v is string => v !== null))];
  return set.length === 0 ? null : set.join(", ");
}

/**
 * The summary of finished chips (in the given order). `target` is used when
 * there are no chips (an empty shard); otherwise the chips' own target.
 *
 * @example
 * ```ts
 * import { buildSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const s = buildSummary([], { leak: 80 }, { kind: "cpu", adapter: null });
 * assert.deepEqual(s.totals, { chips: 0, neurons: 0, wall_s: 0 });
 * ```
 */
export function buildSummary(
  chips: readonly ChipFiles[],
  target: NeuronCalibTarget,
  backend: { kind: string; adapter: string | null },
): Summary {
  const entries = chips.map(chipSummary);
  return {
    lifcal_version: VERSION,
    backend: chips.length === 0 ? backend : {
      kind: _distinct(chips.map((c) => c.record.backend.kind)) ?? backend.kind,
      adapter: _distinct(chips.map((c) => c.record.backend.adapter)),
    },
    target: chips.length === 0 ? target : chips[0]!.result.target,
    chips: entries,
    totals: {
      chips: entries.length,
      neurons: chips.reduce((n, c) => n + c.result.success.length, 0),
      wall_s: entries.reduce((s, c) => s + c.wall_s, 0),
    },
  };
}

const _param = z.object({
  target_mean: z.number().nullable(),
  measured_mean: z.number().nullable(),
  measured_std: z.number().nullable(),
  uncalibrated_std: z.number().nullable(),
  ratio: z.number().nullable(),
});
const _summarySchema = z.object({
  lifcal_version: z.string(),
  backend: z.object({ kind: z.string(), adapter: z.string().nullable() }),
  target: z.record(z.string(), z.unknown()),
  chips: z.array(z.object({
    id: z.string(),
    seed: z.number().int().nullable(),
    success_fraction: z.number(),
    wall_s: z.number(),
    params: z.object(
      Object.fromEntries(SUMMARY_PARAMETERS.map((p) => [p, _param])) as Record<
        SummaryParameter,
        typeof _param
      >,
    ),
  })),
  totals: z.object({ chips: z.number(), neurons: z.number(), wall_s: z.number() }),
});
const _shardSchema = _summarySchema.extend({
  shard: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }),
  plan: z.union([
    z.object({ chips: z.array(z.string()) }),
    // Shard summaries written before chips had ids beyond twins listed seeds.
    z.object({ seeds: z.array(z.number().int().nonnegative()) }).transform((p) => ({
      chips: p.seeds.map(twinId),
    })),
  ]),
});

function _parse<T>(schema: z.ZodType<T>, text: string, what: string): T {
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RangeError(`${what} field ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Parses and validates `summary.json` (`SyntaxError` for broken JSON,
 * `RangeError` naming a bad field).
 *
 * @example
 * ```ts
 * import { buildSummary, parseSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const s = buildSummary([], { leak: 80 }, { kind: "cpu", adapter: null });
 * assert.deepEqual(parseSummary(JSON.stringify(s)), s);
 * assert.throws(() => parseSummary("{}"), RangeError);
 * ```
 */
export function parseSummary(text: string): Summary {
  return _parse(_summarySchema, text, "Summary") as Summary;
}

/**
 * Parses and validates a shard's summary.
 *
 * @example
 * ```ts
 * import { buildSummary, parseShardSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const s = { ...buildSummary([], {}, { kind: "cpu", adapter: null }), shard: { index: 0, count: 2 },
 *   plan: { chips: ["sim-1"] } };
 * assert.deepEqual(parseShardSummary(JSON.stringify(s)).shard, { index: 0, count: 2 });
 * ```
 */
export function parseShardSummary(text: string): ShardSummary {
  return _parse(_shardSchema, text, "Shard summary") as ShardSummary;
}

/**
 * A summary as the text of its file.
 *
 * @example
 * ```ts
 * import { buildSummary, summaryToJson } from "./summary.ts";
 * import assert from "node:assert/strict";
 * assert.ok(summaryToJson(buildSummary([], {}, { kind: "cpu", adapter: null })).endsWith("}\n"));
 * ```
 */
export function summaryToJson(summary: Summary): string {
  return JSON.stringify(summary, null, 2) + "\n";
}
