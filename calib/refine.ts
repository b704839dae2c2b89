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
import { leakPotential, resetPotential, spikeThreshold, THRESHOLD_PRELUDE } from "./steps.ts";
import {
  type NeuronCalibTarget,
  type ResolvedTarget,
  resolveOptions,
  resolveTarget,
  targetToJson,
} from "./target.ts";
import { verifyResults } from "./verify.ts";

/** Chip-major targets: the given target for every chip, or each result's own. */
function _targets(
  results: readonly NeuronCalibResult[],
  given: ResolvedTarget | undefined,
  pick: (t: ResolvedTarget) => Float64Array,
): Float64Array {
  const out = new Float64Array(results.length * NEURONS);
  results.forEach((r, c) => out.set(pick(given ?? resolveTarget(r.target).target), c * NEURONS));
  return out;
}

/**
 * Re-calibrates the leak, reset and threshold potentials of calibrated chips
 * (one result per chip, in batch order) to `target` (only leak, reset and
 * threshold are used; default: each result's own target, where calix falls
 * back to its default target). The results' CapMem
 * codes, target potentials and verification are updated in place; success
 * is left as it was, as calix does. Returns the results.
 *
 * @example
 * ```ts
 * import { calibrate, calibrateCadc, openBackend, refinePotentials } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const results = await calibrate(be, undefined, { refine: false });
 * await calibrateCadc(be);
 * await refinePotentials(be, results, { leak: 110, reset: 60, threshold: 120 });
 * const leak = results[0]!.verification.leak.filter((v) => v !== null).sort((a, b) => a - b);
 * assert.ok(Math.abs(leak[leak.length >> 1]! - 110) < 2); // the median neuron rests at 110
 * await be.close();
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
  const wanted = target === undefined ? undefined : resolveTarget(target).target;
  const ctx = new CalibContext(backend, resolveOptions(results[0]!.options), "refine");
  // The CADC result of a re-calibration may be newer than the chips' state: apply everything.
  await applyResult(backend, results);
  await ctx.write(THRESHOLD_PRELUDE);
  const threshold = await ctx.search(spikeThreshold(_targets(results, wanted, (t) => t.threshold)));
  results.forEach((r, c) => {
    r.capmem.v_threshold = Array.from(threshold.codes.subarray(c * NEURONS, (c + 1) * NEURONS));
  });
  await applyResult(backend, results);
  await backend.write({ threshold_enable: 0 });
  // lifcal: the leak once before the reset as well (see `calibrate`): where
  // the leak conductance rivals the reset clamp, the held reset potential
  // follows the leak potential, which the CADC re-calibration has moved.
  await ctx.search(leakPotential(_targets(results, wanted, (t) => t.leak)));
  const reset = await ctx.search(resetPotential(_targets(results, wanted, (t) => t.reset)));
  const leak = await ctx.search(leakPotential(_targets(results, wanted, (t) => t.leak)));
  results.forEach((r, c) => {
    r.capmem.v_reset = Array.from(reset.codes.subarray(c * NEURONS, (c + 1) * NEURONS));
    r.capmem.v_leak = Array.from(leak.codes.subarray(c * NEURONS, (c + 1) * NEURONS));
    if (wanted) {
      const t = resolveTarget(r.target).target;
      r.target = targetToJson({
        ...t,
        leak: wanted.leak,
        reset: wanted.reset,
        threshold: wanted.threshold,
      });
    }
    for (const m of ctx.warnings[c]!) r.warnings.push(m);
  });
  await verifyResults(backend, results, ["leak", "reset", "threshold"]);
  return results;
}
