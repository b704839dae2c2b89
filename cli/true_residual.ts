/**
 * The true residual of a calibrated quantity on a twin: how far the
 * noise-free truth (`backend.truth()`) lies from the target, per neuron —
 * |truth − target| in CADC LSB for the potentials (their noise-free,
 * unrounded CADC readings), |truth / target − 1| for the time constants.
 * A measurement cannot show it: every reading carries read noise.
 *
 * @module
 */

import type { Truth } from "../backends/backend.ts";
import type { MeasurementKind } from "../backends/measurement.ts";
import type { SummaryParameter } from "./median_code_reference.ts";

/** Which quantity of the truth a residual compares, and how. */
export interface TrueQuantity {
  /** The field of {@linkcode Truth}. */
  readonly quantity:
    | "V_rest_cadc"
    | "V_R_cadc"
    | "V_T_cadc"
    | "tau_mem"
    | "tau_syn_exc"
    | "tau_syn_inh";
  /** True: |truth / target − 1| (a fraction); false: |truth − target| (CADC LSB). */
  readonly relative: boolean;
  /** The residual's unit: `CADC LSB` or `relative`. */
  readonly unit: "CADC LSB" | "relative";
}

const _POTENTIAL = (quantity: "V_rest_cadc" | "V_R_cadc" | "V_T_cadc"): TrueQuantity => ({
  quantity,
  relative: false,
  unit: "CADC LSB",
});
const _TIME = (quantity: "tau_mem" | "tau_syn_exc" | "tau_syn_inh"): TrueQuantity => ({
  quantity,
  relative: true,
  unit: "relative",
});

/**
 * The truth a search's measurement kind estimates, for the kinds the twin's
 * truth holds (the others — PSP amplitudes, synaptic-line drop, the CADC
 * τ_mem read, spike counts, CADC references — have none).
 *
 * @example
 * ```ts
 * import { TRUE_QUANTITY_OF_KIND } from "./true_residual.ts";
 * import assert from "node:assert/strict";
 * assert.equal(TRUE_QUANTITY_OF_KIND["resting-potential"]?.quantity, "V_rest_cadc");
 * assert.equal(TRUE_QUANTITY_OF_KIND["tau-mem-reset"]?.relative, true);
 * assert.equal(TRUE_QUANTITY_OF_KIND["psp-amplitude-exc"], undefined);
 * ```
 */
export const TRUE_QUANTITY_OF_KIND: Readonly<Partial<Record<MeasurementKind, TrueQuantity>>> = {
  "resting-potential": _POTENTIAL("V_rest_cadc"),
  "reset-potential": _POTENTIAL("V_R_cadc"),
  "threshold-max": _POTENTIAL("V_T_cadc"),
  "tau-mem": _TIME("tau_mem"),
  "tau-mem-reset": _TIME("tau_mem"),
  "tau-syn-exc": _TIME("tau_syn_exc"),
  "tau-syn-inh": _TIME("tau_syn_inh"),
};

/**
 * The truth each summary parameter is compared with after a calibration:
 * the leak is the settled membrane (`V_rest`, as the verification reads
 * it), the reset the held reset potential, the threshold `V_T`.
 *
 * @example
 * ```ts
 * import { TRUE_QUANTITY_OF_PARAMETER } from "./true_residual.ts";
 * import assert from "node:assert/strict";
 * assert.equal(TRUE_QUANTITY_OF_PARAMETER.leak.quantity, "V_rest_cadc");
 * assert.equal(TRUE_QUANTITY_OF_PARAMETER.tau_syn_inh.unit, "relative");
 * ```
 */
export const TRUE_QUANTITY_OF_PARAMETER: Readonly<Record<SummaryParameter, TrueQuantity>> = {
  leak: _POTENTIAL("V_rest_cadc"),
  reset: _POTENTIAL("V_R_cadc"),
  threshold: _POTENTIAL("V_T_cadc"),
  tau_mem: _TIME("tau_mem"),
  tau_syn_exc: _TIME("tau_syn_exc"),
  tau_syn_inh: _TIME("tau_syn_inh"),
};

/**
 * The true residual of every instance of some chips: for each chip of
 * `chips` (batch indices) and neuron `n`, `truth[c·512 + n]` against
 * `target[c·512 + n]` (`target` is chip-major over the whole batch). The
 * result holds `chips.length × 512` values in the order of `chips`; NaN
 * where the residual is not finite.
 *
 * @example
 * ```ts
 * import { trueResiduals, TRUE_QUANTITY_OF_PARAMETER } from "./true_residual.ts";
 * import assert from "node:assert/strict";
 * const truth = { tau_mem: new Float64Array(1024).fill(11e-6) } as never;
 * const r = trueResiduals(truth, TRUE_QUANTITY_OF_PARAMETER.tau_mem,
 *   new Float64Array(1024).fill(10e-6), [1]);
 * assert.equal(r.length, 512);
 * assert.ok(Math.abs(r[0]! - 0.1) < 1e-12);
 * ```
 */
export function trueResiduals(
  truth: Truth,
  q: TrueQuantity,
  target: ArrayLike<number>,
  chips: readonly number[],
  size = 512,
): Float64Array {
  const values = truth[q.quantity];
  const out = new Float64Array(chips.length * size);
  chips.forEach((c, k) => {
    for (let i = 0; i < size; i++) {
      const t = values[c * size + i]!;
      const want = target[c * size + i]!;
      const r = q.relative ? Math.abs(t / want - 1) : Math.abs(t - want);
      out[k * size + i] = Number.isFinite(r) ? r : NaN;
    }
  });
  return out;
}
