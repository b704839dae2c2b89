/**
 * `convergence.json`, the document `lifcal convergence` writes: per
 * calibration algorithm, the recorded convergence of every search
 * (`convergence_recorder.ts`), the whole calibration's measurements and
 * emulated hardware time per chip, the final true residual of every
 * parameter, calix's spread ratios and the success fraction.
 *
 * @module
 */

import type { Truth } from "../backends/backend.ts";
import { expandPerInstance } from "../backends/generic_search.ts";
import type { MeasurementKind } from "../backends/measurement.ts";
import type { NeuronCalibResult } from "../calib/result.ts";
import type { NeuronCalibTarget, ResolvedTarget } from "../calib/target.ts";
import { makeChipRecord } from "./chip_record.ts";
import type { CalibrationRecording, SearchGroup } from "./convergence_recorder.ts";
import { HARDWARE_TIME_MODEL } from "./hardware_time.ts";
import {
  type MedianCodeValues,
  SUMMARY_PARAMETERS,
  type SummaryParameter,
} from "./median_code_reference.ts";
import { CALIX_RATIO_LIMITS } from "./report_data.ts";
import { quantiles } from "./stats.ts";
import { chipSummary } from "./summary.ts";
import { TRUE_QUANTITY_OF_PARAMETER, trueResiduals } from "./true_residual.ts";

/** Version of the `convergence.json` format. */
export const CONVERGENCE_FORMAT = 1;

/** A per-chip quantity over the chips: median, smallest and largest. */
export interface Spread {
  /** Median over chips. */
  readonly median: number | null;
  /** Smallest chip's value. */
  readonly min: number | null;
  /** Largest chip's value. */
  readonly max: number | null;
}

/**
 * Median, smallest and largest of per-chip values (non-finite ones left out).
 *
 * @example
 * ```ts
 * import { spread } from "./convergence_data.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
 * assert.deepEqual(spread([]), { median: null, min: null, max: null });
 * ```
 */
export function spread(values: readonly (number | null)[]): Spread {
  const [median, min, max] = quantiles(values, [0.5, 0, 1]);
  return { median: median!, min: min!, max: max! };
}

/** The final true residual of one parameter over all neurons of all chips. */
export interface ParameterResidual {
  /** `CADC LSB` (potentials) or `relative` (|τ/τ* − 1|). */
  readonly unit: string;
  /** Median over neurons. */
  readonly median: number | null;
  /** 90th percentile over neurons. */
  readonly p90: number | null;
}

/** calix's spread ratio of one parameter over the chips. */
export interface ParameterRatio {
  /** calix's acceptance limit (a chip passes below it). */
  readonly limit: number;
  /** Median ratio over chips. */
  readonly median: number | null;
  /** Largest ratio of a chip. */
  readonly max: number | null;
  /** Chips below the limit. */
  readonly chips_within: number;
  /** Chips. */
  readonly chips: number;
}

/** Where a parameter's codes come from: the last search of its row in its defining steps. */
export interface SearchRef {
  /** Calibration step. */
  readonly step: string;
  /** Searched field. */
  readonly field: string;
  /** Measurement kind. */
  readonly measurement: MeasurementKind;
  /** Occurrence within the step. */
  readonly occurrence: number;
}

/** One algorithm's calibration of all chips. */
export interface AlgorithmRun {
  /** The `algorithm` option. */
  readonly algorithm: string;
  /** Wall time of the calibration through the recorder (s). */
  readonly wall_s: number;
  /** Part of `wall_s` the recorder spent on truth and residuals (s). */
  readonly recorder_s: number;
  /** Fraction of each chip's neurons whose calibration succeeded. */
  readonly success_fraction: Spread;
  /** Whole-calibration totals per chip (inside and outside searches). */
  readonly totals: {
    readonly measurements: Spread;
    readonly hardware_seconds: Spread;
    readonly writes: Spread;
    readonly capmem_writes: Spread;
    /** Preludes, postludes, verification and driven (COBA) searches. */
    readonly outside_searches: { readonly measurements: Spread; readonly hardware_seconds: Spread };
    /** Share of all chips' measurements and time taken by the searches that keep calix's algorithm. */
    readonly fixed_algorithm_share: {
      readonly measurements: number | null;
      readonly hardware_seconds: number | null;
    };
  };
  /** Per calibration step: medians over chips. */
  readonly steps: readonly {
    readonly name: string;
    readonly measurements: number | null;
    readonly hardware_seconds: number | null;
  }[];
  /** Final true residual per parameter, from `truth()` after the calibration. */
  readonly final: Readonly<Record<SummaryParameter, ParameterResidual>>;
  /** calix's acceptance ratios (calibrated spread / spread at the median code). */
  readonly ratios: Readonly<Record<SummaryParameter, ParameterRatio>>;
  /** Per parameter, the search that sets its final codes (the plots show it). */
  readonly parameter_searches: Readonly<Record<SummaryParameter, SearchRef | null>>;
  /** Every search group, in the order they first ran. */
  readonly searches: readonly SearchGroup[];
}

/** `convergence.json`. */
export interface ConvergenceDocument {
  /** Discriminates the file. */
  readonly kind: "lifcal-convergence";
  /** {@linkcode CONVERGENCE_FORMAT}. */
  readonly format: number;
  /** lifcal version. */
  readonly lifcal_version: string;
  /** When the run started (ISO 8601). */
  readonly date: string;
  /** The machine that ran it. */
  readonly machine: {
    readonly deno: string;
    readonly os: string;
    readonly arch: string;
    readonly cpus: number;
  };
  /** The executor. */
  readonly backend: {
    readonly kind: string;
    readonly description: string;
    readonly adapter: string | null;
  };
  /** The chips, in order. */
  readonly chips: readonly string[];
  /** The calibration target (canonical). */
  readonly target: NeuronCalibTarget;
  /** The calibration options besides the algorithm (canonical). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The constants of `hardware_time.ts`. */
  readonly hardware_time_model: typeof HARDWARE_TIME_MODEL;
  /** What the numbers mean. */
  readonly definitions: Readonly<Record<string, string>>;
  /** One entry per algorithm, in the order given. */
  readonly algorithms: readonly AlgorithmRun[];
}

/** What `convergence.json`'s numbers mean (also in docs/BENCHMARKS.md). */
export const CONVERGENCE_DEFINITIONS: Readonly<Record<string, string>> = {
  residual:
    "true residual per neuron: |truth - target| in CADC LSB for potentials (noise-free, unrounded CADC reading of V_rest, V_R, V_T), |truth/target - 1| for time constants (tau_mem, tau_syn); median and p90 (linear interpolation) over all neurons of all chips that ran the search",
  basis:
    "truth: the residual is the true one; measured: the twin's truth lacks the quantity (PSP amplitudes, synaptic-line drop, CADC tau_mem read, spike counts, CADC references, quadrant means) and the residual is |reading - target| after the reading maps, in the measured unit",
  step:
    "step k of a search: its k-th measurement, with the codes of step k and the sub-searches' codes",
  result:
    "the true residual at the codes the search settled on, after its final write (null for basis measured)",
  measurements:
    "each measure call counts 1 for each chip it runs on; in a search step: median over chips of the measurements since the search started, sub-searches included",
  hardware_seconds:
    "emulated hardware time (hardware_time_model): 20 ms CapMem settling per write with a CapMem cell, plus each measurement's duration on the chip",
  fixed_algorithm_share:
    "share of all measurements (and hardware time) taken by the CADC and synapse-DAC-bias searches, which keep calix's BinarySearch/LinearPrediction whatever the algorithm option",
  outside_searches:
    "writes and measurements outside any search: preludes, postludes, the verification, and searches calib/coba.ts drives with driveSearch (counted, their residual not recorded)",
  final: "after the calibration, truth() of the calibrated chips against the resolved target",
  ratios:
    "calix's acceptance ratio per chip: 5 %-trimmed std of the verification measurement / the same with every neuron at the chip's median code",
};

const _DEFINING: Readonly<
  Record<SummaryParameter, { field: string; kinds: readonly string[]; steps: readonly string[] }>
> = {
  leak: { field: "v_leak", kinds: ["resting-potential"], steps: ["leak", "refine potentials"] },
  reset: { field: "v_reset", kinds: ["reset-potential"], steps: ["reset", "refine potentials"] },
  threshold: {
    field: "v_threshold",
    kinds: ["threshold-max"],
    steps: ["threshold", "refine potentials"],
  },
  tau_mem: { field: "i_bias_leak", kinds: ["tau-mem", "tau-mem-reset"], steps: ["tau_mem"] },
  tau_syn_exc: { field: "i_bias_synin_exc_tau", kinds: ["tau-syn-exc"], steps: ["tau_syn"] },
  tau_syn_inh: { field: "i_bias_synin_inh_tau", kinds: ["tau-syn-inh"], steps: ["tau_syn"] },
};

/**
 * The search that sets a parameter's final codes: the last top-level search
 * of its row with its measurement in its defining steps (the leak: `leak` or
 * `refine potentials`; τ_syn: `tau_syn`, not the 1.5 µs working point).
 *
 * @example
 * ```ts
 * import { parameterSearch } from "./convergence_data.ts";
 * import assert from "node:assert/strict";
 * const g = (step: string, occurrence: number) =>
 *   ({ step, field: "v_leak", measurement: "resting-potential", occurrence }) as never;
 * const found = parameterSearch([g("leak", 1), g("refine potentials", 1), g("refine potentials", 2)], "leak");
 * assert.deepEqual([found!.step, found!.occurrence], ["refine potentials", 2]);
 * ```
 */
export function parameterSearch(
  searches: readonly SearchGroup[],
  parameter: SummaryParameter,
): SearchGroup | undefined {
  const d = _DEFINING[parameter];
  return searches.findLast((g) =>
    g.field === d.field && d.kinds.includes(g.measurement) && d.steps.includes(g.step)
  );
}

/** What one algorithm's run left behind. */
export interface AlgorithmRunInput {
  /** The `algorithm` option. */
  readonly algorithm: string;
  /** The recorder's recording. */
  readonly recording: CalibrationRecording;
  /** The results, one per chip in batch order. */
  readonly results: readonly NeuronCalibResult[];
  /** `truth()` of the calibrated chips. */
  readonly truth: Truth;
  /** The resolved target. */
  readonly target: ResolvedTarget;
  /** The median-code reference of every chip (`measureAtMedianCodes`). */
  readonly medianCode: MedianCodeValues;
  /** Wall time of the calibration (s). */
  readonly wallSeconds: number;
}

function _share(part: readonly number[], whole: readonly number[]): number | null {
  const w = whole.reduce((a, b) => a + b, 0);
  return w > 0 ? part.reduce((a, b) => a + b, 0) / w : null;
}

/**
 * One algorithm's entry of the document.
 *
 * @example
 * ```ts ignore
 * const run = algorithmRun({ algorithm: "binary", recording: recorder.recording(), results,
 *   truth: await backend.truth!(), target: resolveTarget(t).target, medianCode, wallSeconds: 7 });
 * ```
 */
export function algorithmRun(input: AlgorithmRunInput): AlgorithmRun {
  const { recording, results, truth, target } = input;
  const chips = results.length;
  const all = Array.from({ length: chips }, (_, c) => c);
  const t = recording.totals;
  const final = {} as Record<SummaryParameter, ParameterResidual>;
  const ratios = {} as Record<SummaryParameter, ParameterRatio>;
  const refs = {} as Record<SummaryParameter, SearchRef | null>;
  const summaries = results.map((result, c) =>
    chipSummary({
      result,
      record: makeChipRecord({
        chipId: result.chipId,
        seed: null,
        backend: { kind: "", adapter: null },
        batch: [],
        wall_s: 0,
        leak_over_threshold: null,
        median_code: Object.fromEntries(
          SUMMARY_PARAMETERS.map((p) => [p, input.medianCode[p][c]!]),
        ) as Record<SummaryParameter, (number | null)[]>,
        searches: [],
        steps: [],
      }),
    })
  );
  for (const p of SUMMARY_PARAMETERS) {
    const q = TRUE_QUANTITY_OF_PARAMETER[p];
    const r = trueResiduals(truth, q, expandPerInstance(target[p], 512, chips), all);
    const [median, p90] = quantiles(r, [0.5, 0.9]);
    final[p] = { unit: q.unit, median: median!, p90: p90! };
    const chipRatios = summaries.map((s) => s.params[p]?.ratio ?? null);
    const limit = CALIX_RATIO_LIMITS[p];
    const s = spread(chipRatios);
    ratios[p] = {
      limit,
      median: s.median,
      max: s.max,
      chips_within: chipRatios.filter((v) => v !== null && v < limit).length,
      chips,
    };
    const g = parameterSearch(recording.searches, p);
    refs[p] = g
      ? { step: g.step, field: g.field, measurement: g.measurement, occurrence: g.occurrence }
      : null;
  }
  return {
    algorithm: input.algorithm,
    wall_s: input.wallSeconds,
    recorder_s: recording.recorder_seconds,
    success_fraction: spread(
      results.map((r) => r.success.filter((s) => s).length / r.success.length),
    ),
    totals: {
      measurements: spread(t.measurements),
      hardware_seconds: spread(t.hardware_seconds),
      writes: spread(t.writes),
      capmem_writes: spread(t.capmem_writes),
      outside_searches: {
        measurements: spread(t.outside_searches.measurements),
        hardware_seconds: spread(t.outside_searches.hardware_seconds),
      },
      fixed_algorithm_share: {
        measurements: _share(t.fixed_algorithm.measurements, t.measurements),
        hardware_seconds: _share(t.fixed_algorithm.hardware_seconds, t.hardware_seconds),
      },
    },
    steps: recording.steps.map((s) => ({
      name: s.name,
      measurements: spread(s.measurements).median,
      hardware_seconds: spread(s.hardware_seconds).median,
    })),
    final,
    ratios,
    parameter_searches: refs,
    searches: recording.searches,
  };
}

/**
 * The document as the text of `convergence.json` (non-finite numbers are
 * written as null).
 *
 * @example
 * ```ts
 * import { convergenceToJson } from "./convergence_data.ts";
 * import assert from "node:assert/strict";
 * assert.equal(convergenceToJson({ a: NaN } as never), '{\n "a": null\n}\n');
 * ```
 */
export function convergenceToJson(doc: ConvergenceDocument): string {
  return JSON.stringify(doc, null, 1) + "\n";
}
