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
  type NeuronCapMemRow,
  type ResultDigitalField,
  type VerifiedParameter,
  verifyResults,
} from "../mod.ts";

/** Standard deviation after trimming `trim` of the values from each tail (calix: 5 %). */
export function trimmedStd(values: readonly (number | null)[], trim = 0.05): number {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  const k = Math.floor(v.length * trim);
  const kept = v.slice(k, v.length - k);
  const m = kept.reduce((a, b) => a + b, 0) / kept.length;
  return Math.sqrt(kept.reduce((a, b) => a + (b - m) ** 2, 0) / (kept.length - 1));
}

const _ROWS: Record<VerifiedParameter, { row: NeuronCapMemRow; flags: ResultDigitalField[] }> = {
  leak: { row: "v_leak", flags: [] },
  reset: { row: "v_reset", flags: [] },
  threshold: { row: "v_threshold", flags: [] },
  tau_mem: { row: "i_bias_leak", flags: ["leak_division", "leak_multiplication"] },
  tau_syn_exc: { row: "i_bias_synin_exc_tau", flags: ["synin_exc_high_resistance"] },
  tau_syn_inh: { row: "i_bias_synin_inh_tau", flags: ["synin_inh_high_resistance"] },
  psp_exc: { row: "i_bias_synin_exc_gm", flags: [] },
  psp_inh: { row: "i_bias_synin_inh_gm", flags: [] },
};

function _median(a: readonly number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1]!;
}

/**
 * calix's relative criterion per chip: trimmed std of the calibrated
 * verification values over that with every neuron at the median code of the
 * parameter's row (and the majority range flags). Leaves the chips calibrated.
 */
export async function spreadRatios(
  backend: Backend,
  results: NeuronCalibResult[],
  parameter: VerifiedParameter,
): Promise<number[]> {
  const { row, flags } = _ROWS[parameter];
  const uncal = results.map((r) => {
    const copy = JSON.parse(JSON.stringify(r)) as NeuronCalibResult;
    copy.capmem[row] = new Array(512).fill(_median(r.capmem[row]));
    for (const f of flags) {
      const ones = r.neuron[f].filter((v) => v === 1).length;
      copy.neuron[f] = new Array(512).fill(ones > 256 ? 1 : 0);
    }
    return copy;
  });
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
