/**
 * Test helpers for calibration quality: calix's acceptance ratio (trimmed
 * spread with the calibrated codes over the spread with every neuron at the
 * median code) and per-chip slices of truth arrays.
 *
 * @module
 */

import {
  applyResult,
  type Backend,
  type NeuronCalibResult,
  type VerifiedParameter,
  verifyResults,
} from "../mod.ts";
import { atMedianCode } from "../cli/median_code_reference.ts";
import { upperMedian } from "../cli/stats.ts";

/** Standard deviation after trimming `trim` of the values from each tail (calix: 5 %). */
export function trimmedStd(values: readonly (number | null)[], trim = 0.05): number {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) =>
    a - b
  );
  const k = Math.floor(v.length * trim);
  const kept = v.slice(k, v.length - k);
  const m = kept.reduce((a, b) => a + b, 0) / kept.length;
  return Math.sqrt(kept.reduce((a, b) => a + (b - m) ** 2, 0) / (kept.length - 1));
}

const _GM_ROWS = { psp_exc: "i_bias_synin_exc_gm", psp_inh: "i_bias_synin_inh_gm" } as const;

function _atMedian(r: NeuronCalibResult, parameter: VerifiedParameter): NeuronCalibResult {
  if (parameter === "psp_exc" || parameter === "psp_inh") {
    const row = _GM_ROWS[parameter];
    const copy = structuredClone(r);
    copy.capmem[row] = new Array(512).fill(upperMedian(r.capmem[row]));
    return copy;
  }
  return atMedianCode(r, parameter);
}

/**
 * calix's relative criterion per chip: trimmed std of the calibrated
 * verification values over that with every neuron at the median code of the
 * parameter's row (and the majority range flags; `cli/median_code_reference.ts`).
 * Leaves the chips calibrated.
 */
export async function spreadRatios(
  backend: Backend,
  results: NeuronCalibResult[],
  parameter: VerifiedParameter,
): Promise<number[]> {
  const uncal = results.map((r) => _atMedian(r, parameter));
  await verifyResults(backend, uncal, [parameter]);
  await applyResult(backend, results);
  return results.map((r, c) =>
    trimmedStd(r.verification[parameter]) / trimmedStd(uncal[c]!.verification[parameter])
  );
}

/** The 512 values of chip `c` of a chip-major array. */
export function chipSlice(values: Float64Array, c: number): number[] {
  return Array.from(values.subarray(c * 512, (c + 1) * 512));
}

/** calix's required ratios σ_cal/σ_uncal (tests/hw/py/test_neuron_distribution.py). */
export const RATIO_LIMITS = {
  leak: 0.3,
  reset: 0.2,
  threshold: 0.35,
  tau_mem: 0.45,
  tau_syn_exc: 0.2,
  tau_syn_inh: 0.2,
} as const;

/** Fraction of values satisfying a predicate. */
function _fraction(a: readonly number[], pred: (v: number) => boolean): number {
  return a.filter(pred).length / a.length;
}

/** What a calibration must reach, judged by the twin's truth. */
export interface TruthLimits {
  /** Targets: CADC for potentials, seconds for time constants. */
  readonly leak: number;
  readonly reset: number;
  readonly threshold: number;
  readonly tau_mem: number;
  readonly tau_syn: number;
}

/**
 * Asserts calix's relative criterion, ≥ 97 % success, and the target by
 * truth: τ within 5 % for ≥ 90 %, potentials within 2 LSB for ≥ 90 % and
 * 1 LSB on average. Returns the numbers for the report.
 */
export async function assertCalibrationQuality(
  backend: Backend,
  results: NeuronCalibResult[],
  target: TruthLimits,
  check: { ratios?: boolean; truth?: boolean } = {},
): Promise<Record<string, number[]>> {
  const report: Record<string, number[]> = {};
  for (const r of results) {
    const ok = _fraction(r.success.map(Number), (v) => v === 1);
    if (ok < 0.97) {
      throw new Error(`${r.chipId}: only ${(100 * ok).toFixed(1)} % of neurons succeeded`);
    }
  }
  if (check.ratios ?? true) {
    for (
      const [p, limit] of Object.entries(RATIO_LIMITS) as [keyof typeof RATIO_LIMITS, number][]
    ) {
      const ratios = await spreadRatios(backend, results, p);
      report[p] = ratios;
      ratios.forEach((x, c) => {
        if (!(x < limit)) {
          throw new Error(`${results[c]!.chipId}: ${p} ratio ${x.toFixed(3)} ≥ ${limit}`);
        }
      });
    }
  }
  if (check.truth ?? true) {
    const t = await backend.truth!();
    results.forEach((r, c) => {
      const taus: [string, Float64Array, number][] = [
        ["tau_mem", t.tau_mem, target.tau_mem],
        ["tau_syn_exc", t.tau_syn_exc, target.tau_syn],
        ["tau_syn_inh", t.tau_syn_inh, target.tau_syn],
      ];
      for (const [name, values, want] of taus) {
        const f = _fraction(chipSlice(values, c), (v) => Math.abs(v / want - 1) < 0.05);
        (report[`${name} within 5 %`] ??= []).push(f);
        if (f < 0.9) {
          throw new Error(`${r.chipId}: ${name} within 5 % for only ${(100 * f).toFixed(1)} %`);
        }
      }
      const pots: [string, Float64Array, number][] = [
        ["leak", t.V_rest_cadc, target.leak],
        ["reset", t.V_R_cadc, target.reset],
        ["threshold", t.V_T_cadc, target.threshold],
      ];
      for (const [name, values, want] of pots) {
        const d = chipSlice(values, c).map((v) => v - want);
        const f = _fraction(d, (v) => Math.abs(v) <= 2);
        const meanAbs = d.reduce((a, b) => a + Math.abs(b), 0) / d.length;
        (report[`${name} within 2 LSB`] ??= []).push(f);
        (report[`${name} mean |error|`] ??= []).push(meanAbs);
        if (f < 0.9 || meanAbs > 1) {
          throw new Error(
            `${r.chipId}: ${name} within 2 LSB for ${(100 * f).toFixed(1)} %, mean |error| ${
              meanAbs.toFixed(2)
            } LSB`,
          );
        }
      }
    });
  }
  return report;
}
