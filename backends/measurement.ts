/**
 * The measurement kinds every backend implements, one name each (trait,
 * kernels, wire protocol), with their settings and the shape of what they
 * return. Times are SI seconds; potentials are CADC LSB; time constants are
 * seconds; counts are counts.
 *
 * @module
 */

import { CADC_CHANNELS, NEURONS, QUADRANTS } from "./layout.ts";

/**
 * A setting given once for all neurons, or per neuron: 512 values shared by
 * all chips, or `chips × 512` (chip-major).
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { PerNeuron } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0 });
 * // a longer window for the second half of the neurons
 * const windowSeconds: PerNeuron = Float64Array.from({ length: 512 }, (_, n) => n < 256 ? 30e-6 : 60e-6);
 * const tau = await backend.measure({ kind: "tau-mem", windowSeconds });
 * assert.equal(tau.length, 512);
 * await backend.close();
 * ```
 */
export type PerNeuron = number | ArrayLike<number>;

/**
 * The value of a {@linkcode PerNeuron} setting for neuron `n` of chip `c`.
 *
 * @example
 * ```ts
 * import { perNeuron } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * assert.equal(perNeuron(5, 1, 3), 5);
 * const a = new Float64Array(1024).map((_, i) => i);
 * assert.equal(perNeuron(a, 1, 3), 515);
 * ```
 */
export function perNeuron(v: PerNeuron, c: number, n: number): number {
  if (typeof v === "number") return v;
  return v.length === NEURONS ? v[n]! : v[c * NEURONS + n]!;
}

/**
 * Every measurement kind, in a stable order.
 *
 * @example
 * ```ts
 * import { MEASUREMENT_KINDS, validateMeasurement } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(MEASUREMENT_KINDS.includes("resting-potential"));
 * const fromAFile = JSON.parse('{ "kind": "leak" }');
 * assert.throws(() => validateMeasurement(fromAFile), /known kinds are resting-potential/);
 * ```
 */
export const MEASUREMENT_KINDS = [
  "resting-potential",
  "reset-potential",
  "threshold-max",
  "tau-mem",
  "tau-mem-reset",
  "tau-mem-cadc",
  "tau-syn-exc",
  "tau-syn-inh",
  "synline-drop",
  "psp-amplitude-exc",
  "psp-amplitude-inh",
  "spike-count",
  "cadc-reference",
  "membrane-trace",
] as const;

/**
 * The name of a measurement kind.
 *
 * @example
 * ```ts
 * import { MEASUREMENT_KINDS, type MeasurementKind } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const timeConstants: MeasurementKind[] = MEASUREMENT_KINDS.filter((k) => k.startsWith("tau-"));
 * assert.deepEqual(timeConstants, ["tau-mem", "tau-mem-reset", "tau-mem-cadc", "tau-syn-exc", "tau-syn-inh"]);
 * ```
 */
export type MeasurementKind = (typeof MEASUREMENT_KINDS)[number];

/**
 * CADC reading of each neuron's settled membrane (mean of its two channels).
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { RestingPotential } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0, v_leak: 400 });
 * const m: RestingPotential = { kind: "resting-potential", reads: 4 };
 * const rest = await backend.measure(m); // CADC LSB per neuron
 * assert.ok(rest.every((v) => v > 0 && v < 255));
 * await backend.close();
 * ```
 */
export interface RestingPotential {
  /** The measurement kind. */
  readonly kind: "resting-potential";
  /** Independent reads averaged per neuron (default 1). */
  readonly reads?: number;
}

/**
 * CADC reading while each neuron is held in reset.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { ResetPotential } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const m: ResetPotential = { kind: "reset-potential" };
 * const low = await backend.measure(m);
 * await backend.write({ v_reset: 500 });
 * const high = await backend.measure(m);
 * assert.ok(high.reduce((a, b) => a + b) > low.reduce((a, b) => a + b));
 * await backend.close();
 * ```
 */
export interface ResetPotential {
  /** The measurement kind. */
  readonly kind: "reset-potential";
  /** Independent reads averaged per neuron (default 1). */
  readonly reads?: number;
}

/**
 * Maximum of CADC samples while the offset current (chip's `i_mem_offset`,
 * switched on by the measurement together with the threshold comparator)
 * drives regular firing: the reading just below the spike threshold. calix
 * takes 3 batches of 1000 back-to-back reads per hemisphere (1.7 µs apart).
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { ThresholdMax } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ i_mem_offset: 500 });
 * const m: ThresholdMax = { kind: "threshold-max", samples: 200, batches: 1 };
 * const threshold = await backend.measure(m);
 * assert.ok(threshold.every((v) => v >= 0 && v <= 255));
 * await backend.close();
 * ```
 */
export interface ThresholdMax {
  /** The measurement kind. */
  readonly kind: "threshold-max";
  /** Back-to-back CADC reads per hemisphere and batch (default 1000). */
  readonly samples?: number;
  /** Batches, each starting with a reset of all neurons (default 3). */
  readonly batches?: number;
  /** Integration step (default the CADC read period / 2 = 0.85 µs). */
  readonly dtSeconds?: number;
}

/**
 * τ_mem from the decay after an offset-current step (calix's offset method,
 * for τ ≥ 3 µs): the offset current is on for `stepSeconds`, then switched
 * off; the MADC samples the decay and the estimator fits it. Threshold off.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { TauMem } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0, leak_division: 1, i_mem_offset: 1000 });
 * const truth = await backend.truth!(); // the twin's true tau_mem: about 6 µs
 * const m: TauMem = { kind: "tau-mem", windowSeconds: 20e-6 };
 * const tau = await backend.measure(m); // seconds
 * const error = Array.from(tau, (t, n) => t / truth.tau_mem[n]! - 1).sort((a, b) => a - b);
 * assert.ok(Math.abs(error[256]!) < 0.05); // the median neuron's fit is within 5 %
 * await backend.close();
 * ```
 */
export interface TauMem {
  /** The measurement kind. */
  readonly kind: "tau-mem";
  /** Length of the sampled decay (default 30 µs; choose ≈3× the expected τ). */
  readonly windowSeconds?: PerNeuron;
  /** Duration of the offset-current step before the decay (default 100 µs). */
  readonly stepSeconds?: number;
  /** Cap on MADC samples (decimates long windows; default 3000). */
  readonly maxSamples?: number;
}

/**
 * τ_mem from the rise after a reset (calix's reset method, for short τ). Threshold off.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { TauMemReset } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0, v_reset: 520, v_leak: 880, i_bias_leak: 900 });
 * const truth = await backend.truth!(); // a short tau_mem: about 0.5 µs
 * const m: TauMemReset = { kind: "tau-mem-reset", windowSeconds: 1.5e-6 };
 * const tau = await backend.measure(m);
 * const error = Array.from(tau, (t, n) => t / truth.tau_mem[n]! - 1).sort((a, b) => a - b);
 * assert.ok(Math.abs(error[256]!) < 0.05);
 * await backend.close();
 * ```
 */
export interface TauMemReset {
  /** The measurement kind. */
  readonly kind: "tau-mem-reset";
  /** Length of the sampled rise (default 30 µs; choose ≈3× the expected τ). */
  readonly windowSeconds?: PerNeuron;
  /** Cap on MADC samples (default 3000). */
  readonly maxSamples?: number;
}

/**
 * Reset, release, wait `waitSeconds`, one CADC read (calix's CADC τ_mem method). Threshold off.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { TauMemCadc } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0 });
 * const m: TauMemCadc = { kind: "tau-mem-cadc", waitSeconds: 2e-6 };
 * const reading = await backend.measure(m); // CADC LSB, between reset and leak
 * assert.equal(reading.length, 512);
 * await backend.close();
 * ```
 */
export interface TauMemCadc {
  /** The measurement kind. */
  readonly kind: "tau-mem-cadc";
  /** Wait between the release from reset and the read. */
  readonly waitSeconds: number;
}

/**
 * τ_syn from the decay of the synaptic line after back-to-back events
 * (the line itself is read out, as calix does). `+Infinity` where the drop
 * is below 10 MADC LSB (a floating line).
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { TauSyn } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const m: TauSyn = { kind: "tau-syn-exc", windowSeconds: 30e-6 };
 * const tau = await backend.measure(m); // seconds; +Infinity for a floating line
 * assert.ok(tau.every((t) => t > 0));
 * await backend.close();
 * ```
 */
export interface TauSyn {
  /** The measurement kind. */
  readonly kind: "tau-syn-exc" | "tau-syn-inh";
  /** Length of the sampled decay (default 30 µs; choose ≈3× the expected τ). */
  readonly windowSeconds?: PerNeuron;
  /** Back-to-back events (default 5). */
  readonly events?: number;
  /** Total weight per event in weight LSB, rows × weight (default 8 × 10 = 80). */
  readonly weight?: number;
  /** Cap on MADC samples (default 3000). */
  readonly maxSamples?: number;
}

/**
 * Drop of the (excitatory) synaptic line per event, CADC before minus after,
 * median per quadrant: returns `chips × 4`.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { SynlineDrop } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 2 });
 * const m: SynlineDrop = { kind: "synline-drop" };
 * const drop = await backend.measure(m);
 * assert.equal(drop.length, 2 * 4); // chips × quadrants
 * await backend.close();
 * ```
 */
export interface SynlineDrop {
  /** The measurement kind. */
  readonly kind: "synline-drop";
  /** Total weight per event, rows × weight (default 64 × 31). */
  readonly weight?: number;
}

/**
 * PSP amplitude: CADC after `events` events (1 µs apart, read 1 µs after the
 * last) minus before, times +1 (exc) or −1 (inh), averaged over `runs`.
 * Uses the chip's synaptic-input configuration as it is.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { PspAmplitude } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0, synin_exc_enable: 1, i_bias_synin_exc_gm: 300 });
 * const m: PspAmplitude = { kind: "psp-amplitude-exc", events: 5, runs: 1 };
 * const amplitude = await backend.measure(m); // CADC LSB
 * assert.ok(amplitude.reduce((a, b) => a + b) > 0);
 * await backend.close();
 * ```
 */
export interface PspAmplitude {
  /** The measurement kind. */
  readonly kind: "psp-amplitude-exc" | "psp-amplitude-inh";
  /** Events per run (default 15). */
  readonly events?: number;
  /** Spacing of the events (default 1 µs). */
  readonly spacingSeconds?: number;
  /** Runs averaged (default 5). */
  readonly runs?: number;
  /** Total weight per event, rows × weight (default 8 × 10 = 80). */
  readonly weight?: number;
  /** Integration step (default 40 ns). */
  readonly dtSeconds?: number;
}

/**
 * Spikes counted over a window, with the chip's configuration as it is.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { SpikeCount } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const m: SpikeCount = { kind: "spike-count", windowSeconds: 20e-6 };
 * const silent = await backend.measure(m);
 * await backend.write({ v_leak: 1000, v_threshold: 300 }); // leak over threshold: it fires
 * const firing = await backend.measure(m);
 * assert.ok(firing.reduce((a, b) => a + b) > silent.reduce((a, b) => a + b));
 * await backend.close();
 * ```
 */
export interface SpikeCount {
  /** The measurement kind. */
  readonly kind: "spike-count";
  /** Counting window. */
  readonly windowSeconds: number;
  /**
   * `"8bit"` (hardware counter: an overflow reads `overflowValue`) or
   * `"exact"` (32-bit count, the twin's extra). Default `"exact"`.
   */
  readonly counter?: "8bit" | "exact";
  /** Reported for an overflowed 8-bit counter (default 65025 = 255², as calix). */
  readonly overflowValue?: number;
  /** Integration step (default 0.1 µs; threshold crossings are interpolated inside a step). */
  readonly dtSeconds?: number;
}

/**
 * All 1024 CADC channels read one reference voltage driven onto the debug
 * line by a CapMem voltage cell at `code`: returns `chips × 1024` raw channel
 * readings (digital offsets included).
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { CadcReference } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const m: CadcReference = { kind: "cadc-reference", code: 400 };
 * const channels = await backend.measure(m);
 * assert.equal(channels.length, 1024); // every CADC channel of the chip
 * await backend.close();
 * ```
 */
export interface CadcReference {
  /** The measurement kind. */
  readonly kind: "cadc-reference";
  /** CapMem code of the reference voltage cell, 0..1022. */
  readonly code: number;
}

/**
 * An input event of a {@linkcode MembraneTrace}.
 *
 * @example
 * ```ts
 * import type { TraceEvent } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const events: TraceEvent[] = [
 *   { input: "exc", timeSeconds: 2e-6 },
 *   { input: "inh", timeSeconds: 6e-6, weight: 160 },
 * ];
 * assert.equal(events.length, 2);
 * ```
 */
export interface TraceEvent {
  /** Which synaptic input receives the event. */
  readonly input: "exc" | "inh";
  /** When the event arrives, from the start of the trace (s; 0 ≤ time < window). */
  readonly timeSeconds: number;
  /** Total weight of the event in weight LSB, rows × weight (default 8 × 10 = 80). */
  readonly weight?: number;
}

/**
 * The MADC trace of each chip's readout neuron (the one neuron with
 * `enable_readout` set): `read = round((V − 0.05 V)/1.8 mV + N(0, 1 LSB))`,
 * 0..1023, at the MADC rate ({@linkcode MADC_SAMPLE_RATE}) over
 * `windowSeconds`, decimated by a whole factor to at most `maxSamples`
 * samples (see {@linkcode traceSampling}). The trace starts from the settled
 * state (sample 0 at time 0); the membrane is integrated at the MADC sample
 * period with the chip's configuration as it is (threshold, synaptic inputs,
 * COBA), and `events` arrive on the synaptic lines at the sample-period
 * boundary nearest their time. Returns `chips × samples` readings; a chip
 * without a readout neuron is refused. Cannot be searched.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import { type MembraneTrace, traceSamples } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const readout = Array.from({ length: 512 }, (_, n) => n === 17 ? 1 : 0);
 * await backend.write({ enable_readout: readout, threshold_enable: 0, synin_exc_enable: 1 });
 * const m: MembraneTrace = {
 *   kind: "membrane-trace",
 *   windowSeconds: 10e-6,
 *   events: [{ input: "exc", timeSeconds: 2e-6 }],
 * };
 * const trace = await backend.measure(m); // MADC LSB of neuron 17
 * assert.equal(trace.length, traceSamples(m));
 * await backend.close();
 * ```
 */
export interface MembraneTrace {
  /** The measurement kind. */
  readonly kind: "membrane-trace";
  /** Length of the trace (s); at least one MADC sample period. */
  readonly windowSeconds: number;
  /** Cap on the samples of the trace (default 4096, at most {@linkcode MAX_TRACE_SAMPLES}). */
  readonly maxSamples?: number;
  /** Input events during the trace (default none: a resting membrane). */
  readonly events?: readonly TraceEvent[];
}

/**
 * A measurement: one of the kinds with its settings.
 *
 * @example
 * ```ts
 * import { type Measurement, measurementSize, validateMeasurement } from "./measurement.ts";
 * import assert from "node:assert/strict";
 *
 * const measurements: Measurement[] = [
 *   { kind: "resting-potential" },
 *   { kind: "synline-drop" },
 *   { kind: "spike-count", windowSeconds: 1e-4, counter: "8bit" },
 * ];
 * measurements.forEach(validateMeasurement);
 * assert.deepEqual(measurements.map(measurementSize), [512, 4, 512]);
 * ```
 */
export type Measurement =
  | RestingPotential
  | ResetPotential
  | ThresholdMax
  | TauMem
  | TauMemReset
  | TauMemCadc
  | TauSyn
  | SynlineDrop
  | PspAmplitude
  | SpikeCount
  | CadcReference
  | MembraneTrace;

/**
 * The defaults of every measurement setting that has one, by kind: the one
 * place both executors, the remote host, the hardware-time model and the
 * benches take them from (through {@linkcode withDefaults}). A threshold
 * read's `dtSeconds` defaults to half the twin's CADC read period and is not
 * listed.
 *
 * @example
 * ```ts
 * import { MEASUREMENT_DEFAULTS } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * assert.equal(MEASUREMENT_DEFAULTS["psp-amplitude-exc"].runs, 5);
 * assert.equal(MEASUREMENT_DEFAULTS["spike-count"].overflowValue, 65025);
 * ```
 */
export const MEASUREMENT_DEFAULTS: {
  readonly "resting-potential": { readonly reads: number };
  readonly "reset-potential": { readonly reads: number };
  readonly "threshold-max": { readonly samples: number; readonly batches: number };
  readonly "tau-mem": {
    readonly windowSeconds: number;
    readonly stepSeconds: number;
    readonly maxSamples: number;
  };
  readonly "tau-mem-reset": { readonly windowSeconds: number; readonly maxSamples: number };
  readonly "tau-syn-exc": {
    readonly windowSeconds: number;
    readonly events: number;
    readonly weight: number;
    readonly maxSamples: number;
  };
  readonly "tau-syn-inh": {
    readonly windowSeconds: number;
    readonly events: number;
    readonly weight: number;
    readonly maxSamples: number;
  };
  readonly "synline-drop": { readonly weight: number };
  readonly "psp-amplitude-exc": {
    readonly events: number;
    readonly spacingSeconds: number;
    readonly runs: number;
    readonly weight: number;
    readonly dtSeconds: number;
  };
  readonly "psp-amplitude-inh": {
    readonly events: number;
    readonly spacingSeconds: number;
    readonly runs: number;
    readonly weight: number;
    readonly dtSeconds: number;
  };
  readonly "spike-count": {
    readonly dtSeconds: number;
    readonly counter: "exact" | "8bit";
    readonly overflowValue: number;
  };
} = (() => {
  const tauSyn = { windowSeconds: 30e-6, events: 5, weight: 80, maxSamples: 3000 };
  const psp = { events: 15, spacingSeconds: 1e-6, runs: 5, weight: 80, dtSeconds: 40e-9 };
  return {
    "resting-potential": { reads: 1 },
    "reset-potential": { reads: 1 },
    "threshold-max": { samples: 1000, batches: 3 },
    "tau-mem": { windowSeconds: 30e-6, stepSeconds: 100e-6, maxSamples: 3000 },
    "tau-mem-reset": { windowSeconds: 30e-6, maxSamples: 3000 },
    "tau-syn-exc": tauSyn,
    "tau-syn-inh": tauSyn,
    "synline-drop": { weight: 64 * 31 },
    "psp-amplitude-exc": psp,
    "psp-amplitude-inh": psp,
    "spike-count": { dtSeconds: 0.1e-6, counter: "exact", overflowValue: 65025 },
  };
})();

/**
 * The defaults of one measurement kind ({@linkcode MEASUREMENT_DEFAULTS}),
 * empty for a kind without any.
 *
 * @example
 * ```ts
 * import type { MeasurementDefaults } from "./measurement.ts";
 * const d: MeasurementDefaults<"resting-potential"> = { reads: 1 };
 * ```
 */
export type MeasurementDefaults<K> = K extends keyof typeof MEASUREMENT_DEFAULTS
  ? (typeof MEASUREMENT_DEFAULTS)[K]
  : Record<never, never>;

/**
 * A measurement with every setting that has a default filled in.
 *
 * @example
 * ```ts
 * import { type WithDefaults, withDefaults } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * const m: WithDefaults<{ kind: "spike-count"; windowSeconds: number }> = withDefaults({
 *   kind: "spike-count" as const,
 *   windowSeconds: 1e-3,
 * });
 * assert.equal(m.dtSeconds, 0.1e-6);
 * ```
 */
export type WithDefaults<M extends Measurement> =
  & M
  & {
    readonly [P in keyof MeasurementDefaults<M["kind"]>]-?: P extends keyof M ? NonNullable<M[P]>
      : MeasurementDefaults<M["kind"]>[P];
  };

/**
 * A measurement with every setting it leaves out (or sets to `undefined`)
 * taken from {@linkcode MEASUREMENT_DEFAULTS}.
 *
 * @example
 * ```ts
 * import { withDefaults } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * const m = withDefaults({ kind: "tau-syn-exc" as const, events: 10 });
 * assert.equal(m.events, 10);
 * assert.equal(m.maxSamples, 3000);
 * assert.equal(m.windowSeconds, 30e-6);
 * ```
 */
export function withDefaults<M extends Measurement>(m: M): WithDefaults<M> {
  const defaults = (MEASUREMENT_DEFAULTS as Record<string, object | undefined>)[m.kind] ?? {};
  const given = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined));
  return { ...defaults, ...given } as WithDefaults<M>;
}

/** Fit bounds of the τ_mem estimators (s): calix's `tau_mem_range`, 0.1..2000 µs. */
export const TAU_MEM_BOUNDS: readonly [number, number] = [0.1e-6, 2000e-6];

/** Fit bounds of the τ_syn estimators (s): calix's `tau_syn_range`, 0.1..100 µs. */
export const TAU_SYN_BOUNDS: readonly [number, number] = [0.1e-6, 100e-6];

/**
 * The limits at which a measurement clamps its readings: the CADC's rails 0
 * and 255 for CADC readings of the membrane, the fit bounds for the time
 * constants, 0 and the overflow value for a spike count; `undefined` where
 * readings are not clamped. A reading on (or beyond) a limit says on which
 * side of a target it lies, not how far — calix's sentinels (0 for a
 * floating membrane, 65025 for an overflowed counter) lie on them too.
 *
 * @example
 * ```ts
 * import { readingLimits } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(readingLimits({ kind: "resting-potential" }), [0, 255]);
 * assert.deepEqual(readingLimits({ kind: "tau-syn-exc", windowSeconds: 3e-5 }), [0.1e-6, 100e-6]);
 * assert.deepEqual(readingLimits({ kind: "spike-count", windowSeconds: 1e-3 }), [0, 65025]);
 * assert.equal(readingLimits({ kind: "psp-amplitude-exc" }), undefined);
 * ```
 */
export function readingLimits(m: Measurement): readonly [number, number] | undefined {
  switch (m.kind) {
    case "resting-potential":
    case "reset-potential":
    case "threshold-max":
    case "tau-mem-cadc":
      return [0, 255];
    case "tau-mem":
    case "tau-mem-reset":
      return TAU_MEM_BOUNDS;
    case "tau-syn-exc":
    case "tau-syn-inh":
      return TAU_SYN_BOUNDS;
    case "spike-count":
      return [0, withDefaults(m).overflowValue];
    default:
      return undefined;
  }
}

/** The MADC's sample rate (Hz): 29.4 MSa/s *(hw)*. */
export const MADC_SAMPLE_RATE = 29.4e6;

/** Most samples a {@linkcode MembraneTrace} may return per chip. */
export const MAX_TRACE_SAMPLES = 65536;

/** Default cap on the samples of a {@linkcode MembraneTrace}. */
export const DEFAULT_TRACE_SAMPLES = 4096;

/**
 * The sampling of a {@linkcode MembraneTrace}: `raw = floor(window · rate)`
 * MADC samples would fit the window; a whole decimation factor
 * `ceil(raw / maxSamples)` keeps every `decimation`-th of them, `samples =
 * floor(raw / decimation)` in all, `periodSeconds = decimation / rate` apart
 * (sample `j` at time `j · periodSeconds`). Depends on the settings only, so
 * every backend (and a client) agrees on the shape of the result.
 *
 * @example 100 µs at the full rate, and 1 ms decimated
 * ```ts
 * import { traceSampling } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * assert.equal(traceSampling({ kind: "membrane-trace", windowSeconds: 100e-6 }).samples, 2940);
 * const s = traceSampling({ kind: "membrane-trace", windowSeconds: 1e-3 });
 * assert.deepEqual([s.samples, s.decimation], [3675, 8]);
 * ```
 */
export function traceSampling(
  m: MembraneTrace,
): { samples: number; decimation: number; periodSeconds: number } {
  const raw = Math.max(1, Math.floor(m.windowSeconds * MADC_SAMPLE_RATE * (1 + 1e-12)));
  const cap = m.maxSamples ?? DEFAULT_TRACE_SAMPLES;
  const decimation = Math.max(1, Math.ceil(raw / cap));
  return {
    samples: Math.max(1, Math.floor(raw / decimation)),
    decimation,
    periodSeconds: decimation / MADC_SAMPLE_RATE,
  };
}

/**
 * Samples per chip of a {@linkcode MembraneTrace} (what
 * {@linkcode measurementSize} gives for it): `traceSampling(m).samples`.
 *
 * @example
 * ```ts
 * import { traceSamples } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * assert.equal(traceSamples({ kind: "membrane-trace", windowSeconds: 10e-6 }), 294);
 * assert.equal(traceSamples({ kind: "membrane-trace", windowSeconds: 1e-3, maxSamples: 1000 }), 980);
 * ```
 */
export function traceSamples(m: MembraneTrace): number {
  return traceSampling(m).samples;
}

/**
 * Events of a trace on the integration grid: per step index (sorted, unique)
 * the total weight arriving on each input.
 */
export interface TraceEventSteps {
  /** Step indices at which events arrive, ascending. */
  readonly steps: Int32Array;
  /** Excitatory weight per step (weight LSB). */
  readonly exc: Float64Array;
  /** Inhibitory weight per step (weight LSB). */
  readonly inh: Float64Array;
}

/**
 * The events of a membrane trace on its integration grid (steps of the MADC
 * sample period): each event at the step boundary nearest its time, weights
 * of events on the same step and input summed. Shared by the executors so
 * that both place the events alike.
 *
 * @example Two events on one step add up
 * ```ts
 * import { traceEventSteps } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * const e = traceEventSteps({ kind: "membrane-trace", windowSeconds: 10e-6, events: [
 *   { input: "exc", timeSeconds: 1e-6 }, { input: "exc", timeSeconds: 1.001e-6, weight: 20 },
 *   { input: "inh", timeSeconds: 0 },
 * ] });
 * assert.deepEqual([...e.steps], [0, 29]);
 * assert.deepEqual([...e.exc], [0, 100]);
 * assert.deepEqual([...e.inh], [80, 0]);
 * ```
 */
export function traceEventSteps(m: MembraneTrace): TraceEventSteps {
  const dt = 1 / MADC_SAMPLE_RATE;
  const byStep = new Map<number, [number, number]>();
  for (const e of m.events ?? []) {
    const step = Math.round(e.timeSeconds / dt);
    const w = byStep.get(step) ?? [0, 0];
    w[e.input === "exc" ? 0 : 1] += e.weight ?? 80;
    byStep.set(step, w);
  }
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return {
    steps: Int32Array.from(steps),
    exc: Float64Array.from(steps, (k) => byStep.get(k)![0]),
    inh: Float64Array.from(steps, (k) => byStep.get(k)![1]),
  };
}

/**
 * Values per chip a measurement returns: 512 (per neuron), 4 (per quadrant),
 * 1024 (per CADC channel), or a trace's samples ({@linkcode traceSamples}).
 *
 * @example
 * ```ts
 * import { measurementSize } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * assert.equal(measurementSize({ kind: "synline-drop" }), 4);
 * assert.equal(measurementSize({ kind: "cadc-reference", code: 310 }), 1024);
 * assert.equal(measurementSize({ kind: "resting-potential" }), 512);
 * assert.equal(measurementSize({ kind: "membrane-trace", windowSeconds: 10e-6 }), 294);
 * ```
 */
export function measurementSize(m: Measurement): number {
  switch (m.kind) {
    case "synline-drop":
      return QUADRANTS;
    case "cadc-reference":
      return CADC_CHANNELS;
    case "membrane-trace":
      return traceSamples(m);
    default:
      return NEURONS;
  }
}

function _positive(
  kind: string,
  name: string,
  v: unknown,
  integer = false,
  perNeuron = false,
): void {
  if (v === undefined) return;
  if (typeof v === "object" && v !== null && "length" in v) {
    if (!perNeuron) {
      throw new RangeError(`${kind}: ${name} must be one number, not an array`);
    }
    const arr = v as ArrayLike<unknown>;
    if (arr.length === 0 || arr.length % NEURONS !== 0) {
      throw new RangeError(
        `${kind}: ${name} has ${arr.length} values, expected 1, 512 or chips × 512`,
      );
    }
    const bad: number[] = [];
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i];
      if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) bad.push(i);
    }
    if (bad.length > 0) {
      throw new RangeError(
        `${kind}: ${name} must be positive and finite; elements ${
          bad.slice(0, 8).join(", ")
        } are not`,
      );
    }
    return;
  }
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(
      `${kind}: ${name} must be a positive ${integer ? "integer" : "finite number"}, got ${
        String(v)
      }`,
    );
  }
}

/**
 * Checks a measurement before anything runs: `TypeError` for an unknown kind,
 * `RangeError` for a bad setting, naming it.
 *
 * @example
 * ```ts
 * import { validateMeasurement } from "./measurement.ts";
 * import assert from "node:assert/strict";
 * validateMeasurement({ kind: "tau-mem", windowSeconds: 30e-6 });
 * assert.throws(() => validateMeasurement({ kind: "tau-men" } as never), TypeError);
 * assert.throws(() => validateMeasurement({ kind: "spike-count", windowSeconds: -1 }), RangeError);
 * assert.throws(() => validateMeasurement({ kind: "resting-potential", reads: [1, 2] } as never), /one number/);
 * assert.throws(
 *   () => validateMeasurement({ kind: "membrane-trace", windowSeconds: 1e-5,
 *     events: [{ input: "exc", timeSeconds: 2e-5 }] }),
 *   /events\[0\]\.timeSeconds/,
 * );
 * ```
 */
export function validateMeasurement(m: Measurement): void {
  if (
    typeof m !== "object" || m === null ||
    !(MEASUREMENT_KINDS as readonly string[]).includes((m as { kind: string }).kind)
  ) {
    const kind = (m as { kind?: unknown } | null)?.kind;
    throw new TypeError(
      `Unknown measurement kind "${String(kind)}"; known kinds are ${MEASUREMENT_KINDS.join(", ")}`,
    );
  }
  const k = m.kind;
  switch (m.kind) {
    case "resting-potential":
    case "reset-potential":
      _positive(k, "reads", m.reads, true);
      break;
    case "threshold-max":
      _positive(k, "samples", m.samples, true);
      _positive(k, "batches", m.batches, true);
      _positive(k, "dtSeconds", m.dtSeconds);
      break;
    case "tau-mem":
      _positive(k, "windowSeconds", m.windowSeconds, false, true);
      _positive(k, "stepSeconds", m.stepSeconds);
      _positive(k, "maxSamples", m.maxSamples, true);
      break;
    case "tau-mem-reset":
      _positive(k, "windowSeconds", m.windowSeconds, false, true);
      _positive(k, "maxSamples", m.maxSamples, true);
      break;
    case "tau-mem-cadc":
      if (m.waitSeconds === undefined) throw new RangeError(`${k}: waitSeconds is required`);
      _positive(k, "waitSeconds", m.waitSeconds);
      break;
    case "tau-syn-exc":
    case "tau-syn-inh":
      _positive(k, "windowSeconds", m.windowSeconds, false, true);
      _positive(k, "events", m.events, true);
      _positive(k, "weight", m.weight);
      _positive(k, "maxSamples", m.maxSamples, true);
      break;
    case "synline-drop":
      _positive(k, "weight", m.weight);
      break;
    case "psp-amplitude-exc":
    case "psp-amplitude-inh":
      _positive(k, "events", m.events, true);
      _positive(k, "spacingSeconds", m.spacingSeconds);
      _positive(k, "runs", m.runs, true);
      _positive(k, "weight", m.weight);
      _positive(k, "dtSeconds", m.dtSeconds);
      break;
    case "spike-count":
      if (m.windowSeconds === undefined) throw new RangeError(`${k}: windowSeconds is required`);
      _positive(k, "windowSeconds", m.windowSeconds);
      _positive(k, "dtSeconds", m.dtSeconds);
      if (m.counter !== undefined && m.counter !== "8bit" && m.counter !== "exact") {
        throw new RangeError(`${k}: counter must be "8bit" or "exact", got ${String(m.counter)}`);
      }
      break;
    case "cadc-reference":
      if (!Number.isInteger(m.code) || m.code < 0 || m.code > 1022) {
        throw new RangeError(`${k}: code must be an integer in 0..1022, got ${String(m.code)}`);
      }
      break;
    case "membrane-trace":
      _validateTrace(m);
      break;
  }
}

function _validateTrace(m: MembraneTrace): void {
  const k = m.kind;
  if (m.windowSeconds === undefined) throw new RangeError(`${k}: windowSeconds is required`);
  _positive(k, "windowSeconds", m.windowSeconds);
  if (m.windowSeconds * MADC_SAMPLE_RATE * (1 + 1e-12) < 1) {
    throw new RangeError(
      `${k}: windowSeconds ${m.windowSeconds} s is shorter than one MADC sample (${
        (1e9 / MADC_SAMPLE_RATE).toFixed(1)
      } ns)`,
    );
  }
  _positive(k, "maxSamples", m.maxSamples, true);
  if (m.maxSamples !== undefined && m.maxSamples > MAX_TRACE_SAMPLES) {
    throw new RangeError(
      `${k}: maxSamples must be at most ${MAX_TRACE_SAMPLES}, got ${m.maxSamples}`,
    );
  }
  const events = m.events;
  if (events === undefined) return;
  if (!Array.isArray(events)) {
    throw new TypeError(`${k}: events must be an array of events, got ${typeof events}`);
  }
  events.forEach((e: unknown, i) => {
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      throw new TypeError(
        `${k}: events[${i}] must be an object { input, timeSeconds, weight? }, got ${
          e === null ? "null" : typeof e
        }`,
      );
    }
    const ev = e as Record<string, unknown>;
    if (ev.input !== "exc" && ev.input !== "inh") {
      throw new RangeError(
        `${k}: events[${i}].input must be "exc" or "inh", got ${String(ev.input)}`,
      );
    }
    const t = ev.timeSeconds;
    if (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t >= m.windowSeconds) {
      throw new RangeError(
        `${k}: events[${i}].timeSeconds must be a number in [0, windowSeconds = ${m.windowSeconds}), got ${
          String(t)
        }`,
      );
    }
    _positive(k, `events[${i}].weight`, ev.weight);
  });
}
