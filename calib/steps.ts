/**
 * The searches of calix's neuron calibration as data: which CapMem row,
 * which direction, what to measure and how. `calibrate` strings them
 * together with the writes (preludes and postludes) between them; every
 * executor runs them with its own `search`.
 *
 * @module
 */

import type { SearchSpec } from "../backends/backend.ts";
import type { PerNeuron } from "../backends/measurement.ts";
import type { SearchAlgorithm } from "../backends/search_rules.ts";

/**
 * A search spec whose algorithm (and its sub-searches' algorithms) the
 * calibration context fills in from the options.
 */
export type StepSpec = Omit<SearchSpec, "algorithm" | "before"> & {
  readonly algorithm?: SearchAlgorithm;
  readonly before?: readonly StepSpec[];
  /**
   * A hint for the secant search: the reading's reciprocal grows about
   * linearly with the code (time constants `C/g`, `g` ∝ bias current).
   */
  readonly readingScale?: "reciprocal";
  /** A hint for the secant search: measurements to give it (its default otherwise). */
  readonly secantMeasurements?: number;
};

/** One synaptic input: excitatory or inhibitory. */
export type SynapticInput = "exc" | "inh";

/**
 * Reads of the settled membrane averaged per step of potential searches.
 * calix reads once; eight reads cut the read noise a NoisyBinarySearch has to
 * see through to a third (≈0.3 LSB), for eight CADC row reads (microseconds
 * on hardware). It matters where a potential responds weakly to its code:
 * with τ_mem near 0.5 µs the leak conductance rivals the reset clamp and
 * halves the reset potential's response to `v_reset`.
 */
export const POTENTIAL_READS = 8;

/**
 * Measurements of the secant search in the τ_mem-by-CADC working point
 * (8, against its default 6): its map (the membrane a wait after reset) is
 * flat wherever τ_mem is short, so the search bisects before its secant
 * steps apply. Twins, 4 chips: with 6 some neurons end 10 codes from the
 * code NoisyBinarySearch finds.
 */
export const TAU_MEM_CADC_SECANT_MEASUREMENTS = 8;

/**
 * Leak potential (`v_leak`) to a CADC target: calix's `LeakPotentialCalib`.
 *
 * @example
 * ```ts
 * import { leakPotential } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(leakPotential(80).field, "v_leak");
 * ```
 */
export function leakPotential(target: number | ArrayLike<number>): StepSpec {
  return {
    field: "v_leak",
    target,
    measurement: { kind: "resting-potential", reads: POTENTIAL_READS },
  };
}

/**
 * Reset potential (`v_reset`) to a CADC target, read while held in reset:
 * calix's `ResetPotentialCalib`.
 *
 * @example
 * ```ts
 * import { resetPotential } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(resetPotential(70).measurement.kind, "reset-potential");
 * ```
 */
export function resetPotential(target: number | ArrayLike<number>): StepSpec {
  return {
    field: "v_reset",
    target,
    measurement: { kind: "reset-potential", reads: POTENTIAL_READS },
  };
}

/**
 * CADC reads per hemisphere and batch of the threshold measurement. calix
 * takes 1000; on the twin a membrane ramps through its cycle in ≈80 reads, so
 * 200 reads cover ≈2.5 cycles per batch and ≈7 in all. Measured on a twin:
 * the maximum then reads +0.3 LSB above the true threshold (scatter 0.6 LSB),
 * against +1.0 LSB (0.4) with 1000 reads, which the noise maximum pushes up.
 */
export const THRESHOLD_SAMPLES = 200;

/**
 * calix's prelude of every threshold measurement (`ThresholdCalibCADC`): a
 * weak offset current ramps the membrane with the leak off and the reset at
 * the bottom, the threshold comparator on, the synaptic inputs off. Write it
 * through the calibration context (the offset code gets calix's ±5 noise).
 */
export const THRESHOLD_PRELUDE = {
  i_mem_offset: 70,
  i_bias_leak: 0,
  v_reset: 0,
  synin_exc_enable: 0,
  synin_inh_enable: 0,
  threshold_enable: 1,
  offset_current_enable: 1,
} as const;

/**
 * Spike threshold (`v_threshold`) to a CADC target: the maximum of the
 * membrane while an offset current drives regular firing, calix's
 * `ThresholdCalibCADC`. The caller writes the prelude (offset current 70,
 * leak bias 0, reset 0).
 *
 * @example
 * ```ts
 * import { spikeThreshold } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(spikeThreshold(125).measurement.kind, "threshold-max");
 * ```
 */
export function spikeThreshold(target: number | ArrayLike<number>): StepSpec {
  return {
    field: "v_threshold",
    target,
    measurement: { kind: "threshold-max", samples: THRESHOLD_SAMPLES },
  };
}

/**
 * Events per τ_syn measurement. calix sends 5; the twin's synaptic line
 * carries 1.5 mV of OU noise against ≈40 mV per event, so 10 events halve
 * the scatter of a single τ estimate (≈2.4 % instead of ≈4.7 %). More would
 * drive the line out of the MADC's range while the synapse DAC bias is still
 * at calix's 1022 (τ_syn is calibrated before the DAC bias).
 */
export const TAU_SYN_EVENTS = 10;

/**
 * A window of ≈3 τ for each neuron's time-constant measurement, where the
 * three-sum estimator is best conditioned.
 *
 * @example
 * ```ts
 * import { windowsFor } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.ok(Math.abs(windowsFor(10e-6) as number - 30e-6) < 1e-18);
 * ```
 */
export function windowsFor(tau: number | ArrayLike<number>): PerNeuron {
  if (typeof tau === "number") return 3 * tau;
  return Float64Array.from(tau, (t) => 3 * t);
}

/**
 * Synaptic time constant (`i_bias_synin_*_tau`, inverted) to a target in
 * seconds: calix's `ExcSynTimeConstantCalib` / `InhSynTimeConstantCalib`.
 *
 * @example
 * ```ts
 * import { synapticTau } from "./steps.ts";
 * import assert from "node:assert/strict";
 * const s = synapticTau("inh", 10e-6);
 * assert.equal(s.field, "i_bias_synin_inh_tau");
 * assert.equal(s.inverted, true);
 * ```
 */
export function synapticTau(input: SynapticInput, target: number | ArrayLike<number>): StepSpec {
  return {
    readingScale: "reciprocal",
    field: input === "exc" ? "i_bias_synin_exc_tau" : "i_bias_synin_inh_tau",
    inverted: true,
    target,
    measurement: {
      kind: input === "exc" ? "tau-syn-exc" : "tau-syn-inh",
      windowSeconds: windowsFor(target),
      events: TAU_SYN_EVENTS,
    },
  };
}

/**
 * Synaptic-input reference (`i_bias_synin_*_shift`) so that the enabled
 * input does not move the resting potential: calix's `SynReferenceCalib`
 * (excitatory inverted, inhibitory not).
 *
 * @example
 * ```ts
 * import { synapticReference } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(synapticReference("exc", 120).inverted, true);
 * assert.equal(synapticReference("inh", 120).inverted, false);
 * ```
 */
export function synapticReference(
  input: SynapticInput,
  target: number | ArrayLike<number>,
): StepSpec {
  return {
    field: input === "exc" ? "i_bias_synin_exc_shift" : "i_bias_synin_inh_shift",
    inverted: input === "exc",
    target,
    measurement: { kind: "resting-potential", reads: POTENTIAL_READS },
  };
}

/** PSP measurement settings of the synaptic-strength calibration (calix: 5 runs, 1 µs apart). */
export const PSP_SETTINGS = {
  runs: 5,
  spacingSeconds: 1e-6,
  weight: 80,
  dtSeconds: 0.1e-6,
} as const;

/**
 * Synaptic strength (`i_bias_synin_*_gm`) to a PSP amplitude of `events`
 * events, re-calibrating the input's reference before every measurement:
 * calix's `ExcSynBiasCalib` / `InhSynBiasCalib`. Range 0..min(1.8·gm + 100, 1022).
 *
 * @example
 * ```ts
 * import { synapticStrength } from "./steps.ts";
 * import assert from "node:assert/strict";
 * const s = synapticStrength("exc", 40, 15, 500, 120);
 * assert.deepEqual(s.range, [0, 1000]);
 * assert.equal(s.before?.length, 1);
 * ```
 */
export function synapticStrength(
  input: SynapticInput,
  target: number | ArrayLike<number>,
  events: number,
  gm: number,
  restTarget: number | ArrayLike<number>,
): StepSpec {
  const reference = synapticReference(input, restTarget);
  return {
    field: input === "exc" ? "i_bias_synin_exc_gm" : "i_bias_synin_inh_gm",
    range: [0, Math.min(Math.floor(1.8 * gm + 100), 1022)],
    target,
    measurement: {
      kind: input === "exc" ? "psp-amplitude-exc" : "psp-amplitude-inh",
      events,
      ...PSP_SETTINGS,
    },
    before: [reference],
  };
}

/**
 * Membrane time constant by the offset-current step (`i_bias_leak`,
 * inverted): calix's `MembraneTimeConstCalibOffset`, for targets ≥ 3 µs.
 *
 * @example
 * ```ts
 * import { tauMemOffset } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(tauMemOffset(10e-6).measurement.kind, "tau-mem");
 * ```
 */
export function tauMemOffset(target: number | ArrayLike<number>): StepSpec {
  return {
    readingScale: "reciprocal",
    field: "i_bias_leak",
    inverted: true,
    target,
    measurement: { kind: "tau-mem", windowSeconds: windowsFor(target) },
  };
}

/**
 * Membrane time constant by the rise after a reset (`i_bias_leak`,
 * inverted): calix's `MembraneTimeConstCalibReset`, for short targets.
 *
 * @example
 * ```ts
 * import { tauMemReset } from "./steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(tauMemReset(1e-6).measurement.kind, "tau-mem-reset");
 * ```
 */
export function tauMemReset(target: number | ArrayLike<number>): StepSpec {
  return {
    readingScale: "reciprocal",
    field: "i_bias_leak",
    inverted: true,
    target,
    measurement: { kind: "tau-mem-reset", windowSeconds: windowsFor(target) },
  };
}

/**
 * Membrane time constant by one CADC read `tau` after a reset, re-calibrating
 * the leak before every read (calix's `MembraneTimeConstCalibCADC`, §2.A):
 * not inverted (a larger bias recovers further). A floating membrane (reading
 * above leak + 5) and a failed nested leak search read 0, pushing the bias up.
 *
 * @example
 * ```ts
 * import { tauMemCadc } from "./steps.ts";
 * import assert from "node:assert/strict";
 * const s = tauMemCadc(60e-6, 100, 120);
 * assert.equal(s.measurement.kind, "tau-mem-cadc");
 * assert.equal(s.map?.length, 2);
 * ```
 */
export function tauMemCadc(
  tau: number,
  target: number | ArrayLike<number>,
  leakRead: number | ArrayLike<number>,
): StepSpec {
  const leakLimit = typeof leakRead === "number"
    ? leakRead + 5
    : Float64Array.from(leakRead, (v) => v + 5);
  return {
    secantMeasurements: TAU_MEM_CADC_SECANT_MEASUREMENTS,
    field: "i_bias_leak",
    target,
    measurement: { kind: "tau-mem-cadc", waitSeconds: tau },
    before: [leakPotential(leakRead)],
    map: [
      { op: "above", limit: leakLimit, value: 0 },
      { op: "before-failed", value: 0 },
    ],
  };
}
