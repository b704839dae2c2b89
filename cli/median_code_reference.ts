/**
 * The reference of calix's acceptance test: every neuron of a chip set to
 * the chip's median calibrated code of a parameter's CapMem row (and the
 * majority setting of its range flags), measured exactly as the
 * verification measures the calibrated chip. Its spread is the
 * "uncalibrated" spread the calibrated one is divided by.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import type { NeuronCapMemRow } from "../backends/config.ts";
import { applyResult, type NeuronCalibResult, type ResultDigitalField } from "../calib/result.ts";
import { type VerifiedParameter, verifyResults } from "../calib/verify.ts";
import { upperMedian } from "./stats.ts";

/** The parameters the summary and report describe. */
export const SUMMARY_PARAMETERS = [
  "leak",
  "reset",
  "threshold",
  "tau_mem",
  "tau_syn_exc",
  "tau_syn_inh",
] as const;

/** One of {@linkcode SUMMARY_PARAMETERS}. */
export type SummaryParameter = (typeof SUMMARY_PARAMETERS)[number];

/** Per parameter and chip, the 512 values measured at the median code. */
export type MedianCodeValues = Record<SummaryParameter, (number | null)[][]>;

const _ROWS: Record<SummaryParameter, { row: NeuronCapMemRow; flags: ResultDigitalField[] }> = {
  leak: { row: "v_leak", flags: [] },
  reset: { row: "v_reset", flags: [] },
  threshold: { row: "v_threshold", flags: [] },
  tau_mem: { row: "i_bias_leak", flags: ["leak_division", "leak_multiplication"] },
  tau_syn_exc: { row: "i_bias_synin_exc_tau", flags: ["synin_exc_high_resistance"] },
  tau_syn_inh: { row: "i_bias_synin_inh_tau", flags: ["synin_inh_high_resistance"] },
};

/**
 * The result with one parameter's row at its median code and the row's
 * range flags at their majority setting; everything else calibrated.
 *
 * @example
 * ```ts
 * import { atMedianCode } from "./median_code_reference.ts";
 * import assert from "node:assert/strict";
 * const r = { capmem: { v_leak: Array.from({ length: 512 }, (_, n) => n) }, neuron: {} };
 * assert.equal(atMedianCode(r as never, "leak").capmem.v_leak[3], 256);
 * ```
 */
export function atMedianCode(
  result: NeuronCalibResult,
  parameter: SummaryParameter,
): NeuronCalibResult {
  const { row, flags } = _ROWS[parameter];
  const copy = structuredClone(result);
  copy.capmem[row] = new Array(result.capmem[row].length).fill(upperMedian(result.capmem[row]));
  for (const f of flags) {
    const ones = result.neuron[f].filter((v) => v === 1).length;
    copy.neuron[f] = new Array(result.neuron[f].length).fill(
      ones > result.neuron[f].length / 2 ? 1 : 0,
    );
  }
  return copy;
}

/**
 * Measures, for every chip of the backend (one result each, in batch order)
 * and every parameter, the 512 values with that parameter at its median
 * code. Leaves the chips calibrated and the results unchanged.
 *
 * @example
 * ```ts ignore
 * import { calibrate, openBackend } from "../mod.ts";
 * import { measureAtMedianCodes } from "./median_code_reference.ts";
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const results = await calibrate(be, undefined, { refine: false });
 * const reference = await measureAtMedianCodes(be, results);
 * console.log(reference.leak[0]!.length); // 512
 * ```
 */
export async function measureAtMedianCodes(
  backend: Backend,
  results: readonly NeuronCalibResult[],
  parameters: readonly SummaryParameter[] = SUMMARY_PARAMETERS,
): Promise<MedianCodeValues> {
  const out = Object.fromEntries(SUMMARY_PARAMETERS.map((p) => [p, [] as (number | null)[][]]));
  for (const p of parameters) {
    const reference = results.map((r) => atMedianCode(r, p));
    await verifyResults(backend, reference, [p as VerifiedParameter]);
    out[p] = reference.map((r) => r.verification[p]);
  }
  await applyResult(backend, results);
  return out as MedianCodeValues;
}
