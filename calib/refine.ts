/**
 * `refinePotentials`: calix's `refine_potentials` (calix-behaviour §4.1).
 * After a calibration (and a CADC re-calibration), the potentials that were
 * calibrated early have drifted through CapMem crosstalk; this re-calibrates
 * threshold, reset and leak last. Updates the results in place.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { NEURONS } from "../backends/layout.ts";
import { CalibContext } from "./context.ts";
import { applyResult, type NeuronCalibResult } from "./result.ts";
import { leakPotential, resetPotential, spikeThreshold } from "./steps.ts";
import { type NeuronCalibTarget, resolveOptions, resolveTarget, targetToJson } from "./target.ts";
import { verifyResults } from "./verify.ts";

function _tile(results: readonly NeuronCalibResult[], values: Float64Array): Float64Array {
  const out = new Float64Array(results.length * NEURONS);
  results.forEach((_, c) => out.set(values, c * NEURONS));
  return out;
}

/**
 * Re-calibrates the leak, reset and threshold potentials of calibrated chips
 * (one result per chip, in batch order) to `target` (default: calix's
 * defaults; only leak, reset and threshold are used). The results' CapMem
 * codes, target potentials and verification are updated in place; success
 * is left as it was, as calix does. Returns the results.
 *
 * @example
 * ```ts ignore
 * import { calibrate, calibrateCadc, openBackend, refinePotentials } from "../mod.ts";
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const results = await calibrate(be, undefined, { refine: false });
 * await calibrateCadc(be);
 * await refinePotentials(be, results, { leak: 110, reset: 60, threshold: 120 });
 * ```
 */
export async function refinePotentials(
  backend: Backend,
  results: NeuronCalibResult[],
  target?: NeuronCalibTarget,
): Promise<NeuronCalibResult[]> {
  if (results.length !== backend.chips.length) {
    throw new RangeError(
      `refinePotentials needs one result per chip (${backend.chips.length}), got ${results.length}`,
    );
  }
  const wanted = resolveTarget(target).target;
  const ctx = new CalibContext(backend, resolveOptions(results[0]!.options), "refine");
  // The CADC result of a re-calibration may be newer than the chips' state: apply everything.
  await applyResult(backend, results);
  await ctx.write({
    i_mem_offset: 70,
    i_bias_leak: 0,
    v_reset: 0,
    synin_exc_enable: 0,
    synin_inh_enable: 0,
    threshold_enable: 1,
    offset_current_enable: 1,
  });
  const threshold = await ctx.search(spikeThreshold(_tile(results, wanted.threshold)));
  results.forEach((r, c) => {
    r.capmem.v_threshold = Array.from(threshold.codes.subarray(c * NEURONS, (c + 1) * NEURONS));
  });
  await applyResult(backend, results);
  await backend.write({ threshold_enable: 0 });
  const reset = await ctx.search(resetPotential(_tile(results, wanted.reset)));
  const leak = await ctx.search(leakPotential(_tile(results, wanted.leak)));
  results.forEach((r, c) => {
    r.capmem.v_reset = Array.from(reset.codes.subarray(c * NEURONS, (c + 1) * NEURONS));
    r.capmem.v_leak = Array.from(leak.codes.subarray(c * NEURONS, (c + 1) * NEURONS));
    const t = resolveTarget(r.target).target;
    r.target = targetToJson({
      ...t,
      leak: wanted.leak,
      reset: wanted.reset,
      threshold: wanted.threshold,
    });
    for (const m of ctx.warnings[c]!) r.warnings.push(m);
  });
  await verifyResults(backend, results, ["leak", "reset", "threshold"]);
  return results;
}
