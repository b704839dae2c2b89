/**
 * `summary.json`: per chip the success fraction, wall time and, per
 * parameter, the target, the calibrated mean and spread, the spread with
 * every neuron at the median code (calix's acceptance reference) and their
 * ratio. Potentials are CADC LSB, times seconds. Spreads are standard
 * deviations after trimming 5 % of the neurons from each tail, as in calix's
 * acceptance test, so `ratio = measured_std / uncalibrated_std`.
 *
 * After a leak-over-threshold calibration the rate is part of the target
 * (`target.leak_over_threshold`), and each chip's `rate` (measured rates,
 * the fraction within ±10 % of the target, the neurons whose search ended on
 * a range bound) replaces its `threshold`, whose CADC target no longer
 * describes the chip.
 *
 * A summary is a pure function of the chips' result files and run records;
 * a shard writes the same document for its chips, plus its shard and the
 * plan it is a part of, as `summary.shard-<i>-of-<n>.json`.
 *
 * @module
 */

import { z } from "../deps/zod.ts";
import { twinId } from "../backends/twin/twin_batch.ts";
import { type NeuronCalibTarget, resolveTarget } from "../calib/target.ts";
import { VERSION } from "../version.ts";
import type { ChipFiles } from "./chip_record.ts";
import { SUMMARY_PARAMETERS, type SummaryParameter } from "./median_code_reference.ts";
import type { Shard } from "./shard.ts";
import { finiteMean, quantiles, trimmedStd } from "./stats.ts";
import { parseRates } from "../calib/units.ts";
import { NEURONS } from "../backends/layout.ts";

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

/** The leak-over-threshold rate of one chip, where one was calibrated (rates in Hz). */
export interface RateSummary {
  /** The target rate (the mean over the adjusted neurons where their targets differ). */
  readonly target_mean: number | null;
  /** Median of the rates measured without input after the calibration. */
  readonly measured_median: number | null;
  /** Trimmed spread of the measured rates. */
  readonly measured_std: number | null;
  /** Fraction of the adjusted neurons that fire within ±10 % of their target rate. */
  readonly within_10_percent: number;
  /** Neurons whose threshold search ended on a range bound: their rate is out of reach. */
  readonly at_range_bound: number;
}

/**
 * The parameters of one chip: `threshold`, or `rate` in its place after a
 * leak-over-threshold calibration.
 */
export type ChipParameters =
  & Readonly<Record<Exclude<SummaryParameter, "threshold">, ParameterSummary>>
  & {
    /** The threshold potential (absent where a leak-over-threshold rate replaced it). */
    readonly threshold?: ParameterSummary;
    /** The leak-over-threshold rate (only after a leak-over-threshold calibration). */
    readonly rate?: RateSummary;
  };

/** The target of a summary: the calibration's, and the leak-over-threshold rate if one was set. */
export type SummaryTarget = NeuronCalibTarget & {
  /** The leak-over-threshold rate calibrated after the calibration (`"100000 Hz"`). */
  readonly leak_over_threshold?: string | { value: number[]; unit: string };
};

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
  readonly params: ChipParameters;
}

/** `summary.json`. */
export interface Summary {
  /** lifcal version that wrote it. */
  readonly lifcal_version: string;
  /** The backend (several kinds joined by ", " if shards differed). */
  readonly backend: { readonly kind: string; readonly adapter: string | null };
  /** The calibration target (canonical form, times with units) and the leak-over-threshold rate. */
  readonly target: SummaryTarget;
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
 * The measured leak-over-threshold rates of a result against its targets,
 * or undefined for a result without a leak-over-threshold calibration.
 *
 * @example
 * ```ts
 * import { rateSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const rate = Array.from({ length: 512 }, (_, n) => (n < 384 ? 100e3 : 150e3));
 * const s = rateSummary({ leak_over_threshold: "100 kHz", verification: { rate },
 *   leak_over_threshold_at_bound: [] } as never)!;
 * assert.equal(s.within_10_percent, 0.75);
 * assert.equal(s.measured_median, 100e3);
 * ```
 */
export function rateSummary(
  result: Pick<
    ChipFiles["result"],
    "leak_over_threshold" | "verification" | "leak_over_threshold_at_bound"
  >,
): RateSummary | undefined {
  if (result.leak_over_threshold === undefined) return undefined;
  const targets = parseRates(result.leak_over_threshold, "leak_over_threshold");
  const measured = result.verification.rate ?? [];
  const target = (n: number) => (typeof targets === "number" ? targets : targets[n] ?? 0);
  const adjusted = Array.from({ length: NEURONS }, (_, n) => n).filter(
    (n) => target(n) > 0,
  );
  const rates = adjusted.map((n) => measured[n] ?? null);
  const within = adjusted.filter((n, k) => {
    const r = rates[k];
    return r !== null && r !== undefined && Math.abs(r - target(n)) <= 0.1 * target(n);
  }).length;
  return {
    target_mean: finiteMean(adjusted.map(target)),
    measured_median: quantiles(rates, [0.5])[0]!,
    measured_std: trimmedStd(rates),
    within_10_percent: adjusted.length === 0 ? 0 : within / adjusted.length,
    at_range_bound: result.leak_over_threshold_at_bound?.length ?? 0,
  };
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
  const params: Record<string, ParameterSummary | RateSummary> = {};
  const rate = rateSummary(result);
  for (const p of SUMMARY_PARAMETERS) {
    if (p === "threshold" && rate !== undefined) {
      params.rate = rate;
      continue;
    }
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
    params: params as ChipParameters,
  };
}

/**
 * A result's target as a summary shows it: with its leak-over-threshold rate, if any.
 *
 * @example
 * ```ts
 * import { summaryTarget } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const t = summaryTarget({ target: { leak: 110 }, leak_over_threshold: "100000 Hz" } as never);
 * assert.deepEqual(t, { leak: 110, leak_over_threshold: "100000 Hz" });
 * ```
 */
export function summaryTarget(
  result: Pick<ChipFiles["result"], "target" | "leak_over_threshold">,
): SummaryTarget {
  return result.leak_over_threshold === undefined
    ? result.target
    : { ...result.target, leak_over_threshold: result.leak_over_threshold };
}

/**
 * A summary's target without its leak-over-threshold rate: the calibration target.
 *
 * @example
 * ```ts
 * import { calibrationTarget } from "./summary.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(calibrationTarget({ leak: 110, leak_over_threshold: "100000 Hz" }), { leak: 110 });
 * ```
 */
export function calibrationTarget(target: SummaryTarget): NeuronCalibTarget {
  const { leak_over_threshold: _rate, ...rest } = target;
  return rest;
}

function _distinct(values: readonly (string | null)[]): string | null {
  const set = [...new Set(values.filter((v): v is string => v !== null))];
  return set.length === 0 ? null : set.join(", ");
}

/**
 * The summary of finished chips (in the given order). `target` is used when
 * there are no chips (an empty shard); otherwise the chips' own target (and
 * leak-over-threshold rate).
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
  target: SummaryTarget,
  backend: { kind: string; adapter: string | null },
): Summary {
  const entries = chips.map(chipSummary);
  return {
    lifcal_version: VERSION,
    backend: chips.length === 0 ? backend : {
      kind: _distinct(chips.map((c) => c.record.backend.kind)) ?? backend.kind,
      adapter: _distinct(chips.map((c) => c.record.backend.adapter)),
    },
    target: chips.length === 0 ? target : summaryTarget(chips[0]!.result),
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
const _rate = z.object({
  target_mean: z.number().nullable(),
  measured_median: z.number().nullable(),
  measured_std: z.number().nullable(),
  within_10_percent: z.number(),
  at_range_bound: z.number().int().nonnegative(),
});
const _params = z.object({
  leak: _param,
  reset: _param,
  threshold: _param.optional(),
  rate: _rate.optional(),
  tau_mem: _param,
  tau_syn_exc: _param,
  tau_syn_inh: _param,
}).refine((p) => (p.threshold === undefined) !== (p.rate === undefined), {
  message: "a chip has either threshold or rate",
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
    params: _params,
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
