/**
 * The check after a calibration: every calibrated parameter measured once
 * more with the calibrated codes, per neuron, and stored in the result, so a
 * user sees the residuals and not only the codes.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { NEURONS } from "../backends/layout.ts";
import {
  applyResult,
  type NeuronCalibResult,
  type Verification,
  VERIFIED_PARAMETERS,
} from "./result.ts";
import { PSP_SETTINGS, THRESHOLD_SAMPLES, windowsFor } from "./steps.ts";
import { resolveTarget } from "./target.ts";

function _rows(values: Float32Array, c: number): (number | null)[] {
  return Array.from(
    values.subarray(c * NEURONS, (c + 1) * NEURONS),
    (v) => (Number.isFinite(v) ? v : null),
  );
}

function _targets(
  results: readonly NeuronCalibResult[],
  pick: (t: ReturnType<typeof resolveTarget>["target"]) => Float64Array,
): Float64Array {
  const out = new Float64Array(results.length * NEURONS);
  results.forEach((r, c) => out.set(pick(resolveTarget(r.target).target), c * NEURONS));
  return out;
}

/**
 * Events of the PSP check: with the final τ_syn and τ_mem (10 µs each by
 * default) six events move the membrane by ≈25 LSB, which stays inside
 * the CADC range on both sides of the leak potential.
 */
export const VERIFY_PSP_EVENTS = 6;

/**
 * Events of the τ_syn check: after the synapse DAC bias calibration the line
 * drops ≈40 mV per event, so 15 events stay inside the MADC range and bring
 * the scatter of one estimate to ≈1.6 % (the search itself runs with 10, as
 * the DAC bias is still at 1022 then).
 */
export const VERIFY_TAU_SYN_EVENTS = 15;

/** Reads averaged per neuron for the potentials of the check. */
export const VERIFY_READS = 16;

/**
 * Which parameters to measure.
 *
 * @example
 * ```ts
 * import type { VerifiedParameter } from "./verify.ts";
 * import { VERIFIED_PARAMETERS } from "./result.ts";
 * import assert from "node:assert/strict";
 *
 * const potentials: VerifiedParameter[] = ["leak", "reset", "threshold"];
 * assert.ok(potentials.every((p) => VERIFIED_PARAMETERS.includes(p)));
 * ```
 */
export type VerifiedParameter = keyof Omit<Verification, "rate">;

/**
 * Applies the results (one per chip, in batch order), measures the
 * calibrated parameters and stores them in `results[c].verification`; the
 * chips are left in the calibrated state.
 *
 * @example
 * ```ts
 * import { calibrate, openBackend, verifyResults } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const results = await calibrate(be, { leak: 90 });
 * await be.write({ v_leak: 0 }); // the chip forgets its calibration ...
 * await verifyResults(be, results, ["leak"]); // ... and gets it back, measured again
 * const leak = results[0]!.verification.leak.filter((v) => v !== null).sort((a, b) => a - b);
 * assert.ok(Math.abs(leak[leak.length >> 1]! - 90) < 2);
 * await be.close();
 * ```
 */
export async function verifyResults(
  backend: Backend,
  results: NeuronCalibResult[],
  parameters: readonly VerifiedParameter[] = VERIFIED_PARAMETERS,
): Promise<void> {
  if (results.length !== backend.chips.length) {
    throw new RangeError(
      `verifyResults needs one result per chip (${backend.chips.length}), got ${results.length}`,
    );
  }
  const want = new Set(parameters);
  const store = (name: VerifiedParameter, values: Float32Array) =>
    results.forEach((r, c) => (r.verification = { ...r.verification, [name]: _rows(values, c) }));
  await applyResult(backend, results);
  if (want.has("leak")) {
    store("leak", await backend.measure({ kind: "resting-potential", reads: VERIFY_READS }));
  }
  if (want.has("reset")) {
    store("reset", await backend.measure({ kind: "reset-potential", reads: VERIFY_READS }));
  }
  if (want.has("threshold")) {
    await backend.write({
      i_mem_offset: 70,
      i_bias_leak: 0,
      v_reset: 0,
      synin_exc_enable: 0,
      synin_inh_enable: 0,
      offset_current_enable: 1,
    });
    store(
      "threshold",
      await backend.measure({ kind: "threshold-max", samples: THRESHOLD_SAMPLES }),
    );
    await applyResult(backend, results);
  }
  await backend.write({ threshold_enable: 0 });
  if (want.has("tau_mem")) {
    const target = _targets(results, (t) => t.tau_mem);
    const offset = results.every((r) =>
      resolveTarget(r.target).target.tau_mem.every((t) => t >= 3e-6)
    );
    if (offset) {
      await backend.write({ i_mem_offset: 1000 });
      store(
        "tau_mem",
        await backend.measure({ kind: "tau-mem", windowSeconds: windowsFor(target) }),
      );
      await backend.write({ i_mem_offset: 0 });
    } else {
      // The reset method needs calix's large swing from reset to leak.
      await backend.write({ v_reset: 520, v_leak: 880 });
      store(
        "tau_mem",
        await backend.measure({ kind: "tau-mem-reset", windowSeconds: windowsFor(target) }),
      );
      await applyResult(backend, results);
      await backend.write({ threshold_enable: 0 });
    }
  }
  if (want.has("tau_syn_exc")) {
    const target = _targets(results, (t) => t.tau_syn_exc);
    store(
      "tau_syn_exc",
      await backend.measure({
        kind: "tau-syn-exc",
        windowSeconds: windowsFor(target),
        events: VERIFY_TAU_SYN_EVENTS,
      }),
    );
  }
  if (want.has("tau_syn_inh")) {
    const target = _targets(results, (t) => t.tau_syn_inh);
    store(
      "tau_syn_inh",
      await backend.measure({
        kind: "tau-syn-inh",
        windowSeconds: windowsFor(target),
        events: VERIFY_TAU_SYN_EVENTS,
      }),
    );
  }
  for (const input of ["exc", "inh"] as const) {
    const name = input === "exc" ? "psp_exc" : "psp_inh";
    if (!want.has(name)) continue;
    store(
      name,
      await backend.measure({
        kind: input === "exc" ? "psp-amplitude-exc" : "psp-amplitude-inh",
        events: VERIFY_PSP_EVENTS,
        ...PSP_SETTINGS,
      }),
    );
  }
  await applyResult(backend, results);
}
