/**
 * calix's calibration failures as lifcal's error classes:
 * {@linkcode CalibNotSuccessful} (a prelude, a measurement or a requirement
 * of a step failed; calix raises it rather than warning) and
 * `ExcessiveNoiseError` (in `backends/search_rules.ts`, beside the search
 * rules that raise it: a noisy search whose noise exceeds its range).
 *
 * @module
 */

/**
 * Where a calibration failed.
 *
 * @example
 * ```ts
 * import { CalibNotSuccessful, type FailureDetails } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const where: FailureDetails = { step: "leak", chipId: "sim-3", neurons: [17, 18] };
 * const e = new CalibNotSuccessful("The membrane floats", where);
 * assert.deepEqual([e.step, e.chipId, e.neurons], ["leak", "sim-3", [17, 18]]);
 * ```
 */
export interface FailureDetails {
  /** The calibration step (as `calibrationSteps` names it). */
  readonly step: string;
  /** The chip, where the failure concerns one. */
  readonly chipId?: string;
  /** The neurons concerned, where known. */
  readonly neurons?: readonly number[];
}

/**
 * A calibration step could not succeed (calix's `CalibNotSuccessful`): the
 * error names the step, the chip and the neurons.
 *
 * @example
 * ```ts
 * import { CalibNotSuccessful } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const e = new CalibNotSuccessful("PSP amplitudes stay above 60 with a single event", {
 *   step: "synaptic inputs", chipId: "sim-3" });
 * assert.equal(e.name, "CalibNotSuccessful");
 * assert.equal(e.message, "synaptic inputs, chip sim-3: PSP amplitudes stay above 60 with a single event");
 * assert.equal(e.step, "synaptic inputs");
 * ```
 */
export class CalibNotSuccessful extends Error {
  /** The error's name. */
  override name = "CalibNotSuccessful";
  /** The step that failed. */
  readonly step: string;
  /** The chip, where the failure concerns one. */
  readonly chipId: string | undefined;
  /** The neurons concerned (empty where the whole chip failed). */
  readonly neurons: readonly number[];

  /**
   * A failure of a step.
   *
   * @param reason What failed, one sentence.
   * @param details The step, and the chip and neurons where known.
   */
  constructor(reason: string, details: FailureDetails) {
    super(`${details.step}${details.chipId ? `, chip ${details.chipId}` : ""}: ${reason}`);
    this.step = details.step;
    this.chipId = details.chipId;
    this.neurons = details.neurons ?? [];
  }
}
