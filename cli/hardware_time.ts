/**
 * A model of how long a calibration would keep a real BrainScaleS-2 chip
 * busy ("emulated hardware time"): the CapMem settling after every write of
 * CapMem cells and each measurement's own duration on the chip, from the
 * timings calix uses (`docs/BENCHMARKS.md`; `bss2-physics.md` §2.1, §3 and
 * §5.2). Host round trips, FPGA transfers and fits are left out: the model
 * counts what the chip itself needs, which no executor can shorten.
 *
 * - A write whose patch holds any CapMem cell (per-neuron rows and quadrant
 *   cells such as `syn_i_bias_dac`, `cadc_v_ramp_offset`) costs calix's
 *   `capmem_level_off_time`, 20 ms; a digital-only write (flags, capacitor
 *   size, clock scalers, CADC channel offsets) costs nothing.
 * - A CADC read of all neurons takes one sample per synram, 2 µs each, for
 *   both synrams: 4 µs per read.
 * - An MADC sweep (`tau-mem`, `tau-mem-reset`, `tau-syn-*`) visits the 512
 *   neurons one after another and waits 10 sampling times per neuron; the
 *   sampling time is `max(70 µs, 8τ) + step` for τ_mem (step: the offset
 *   step, `stepSeconds`, 100 µs by default; 100 µs for the reset method)
 *   and `max(50 µs, 8τ)` for τ_syn, with τ = windowSeconds / 3 (the window
 *   the calibration chooses is ≈3 τ of the neuron's target).
 *
 * @module
 */

import { type ConfigPatch, FIELDS } from "../backends/config.ts";
import { NEURONS } from "../backends/layout.ts";
import {
  type Measurement,
  perNeuron,
  traceSampling,
  withDefaults,
} from "../backends/measurement.ts";

/** The constants of the hardware-time model (seconds unless named otherwise). */
export const HARDWARE_TIME_MODEL = {
  /** Settling after a write that touches a CapMem cell (calix `capmem_level_off_time`). */
  capmemSettleSeconds: 20e-3,
  /** A write of digital settings only (neuron config bits, clock scalers, CADC offsets). */
  digitalWriteSeconds: 0,
  /** One CADC sample of one synram (hxtorch: ≈1.7–2 µs with samples in SRAM). */
  cadcSampleSeconds: 2e-6,
  /** Synrams (CADCs) read one after the other for all 512 neurons. */
  synrams: 2,
  /** Neurons an MADC sweep visits one by one. */
  madcNeurons: NEURONS,
  /** calix waits `wait_between_neurons` = 10 sampling times per neuron. */
  madcSamplingTimesPerNeuron: 10,
  /** The shortest τ_mem sampling time (calix: max(70 µs, 8τ) + step). */
  tauMemMinSamplingSeconds: 70e-6,
  /** τ_mem's offset-current step (and the reset method's equivalent). */
  tauMemStepSeconds: 100e-6,
  /** The shortest τ_syn sampling time (calix: max(50 µs, 8τ)). */
  tauSynMinSamplingSeconds: 50e-6,
  /** Sampling time per time constant (calix: 8τ). */
  tausPerSampling: 8,
  /** An MADC sample: 1 / 29.4 MSa/s. */
  madcSampleSeconds: 1 / 29.4e6,
  /** The invalid start of every MADC recording (calix `invalid_samples_time`). */
  madcInvalidSeconds: 8e-6,
} as const;

/** CADC reads of every neuron (both synrams), in seconds. */
function _cadc(reads: number): number {
  const m = HARDWARE_TIME_MODEL;
  return reads * m.synrams * m.cadcSampleSeconds;
}

/** The sum over a chip's neurons of `f(τ)`, with τ = window / 3. */
function _sweep(
  window: number | ArrayLike<number>,
  chip: number,
  f: (tau: number) => number,
): number {
  const m = HARDWARE_TIME_MODEL;
  let sum = 0;
  for (let n = 0; n < m.madcNeurons; n++) {
    const w = perNeuron(window, chip, n);
    sum += m.madcSamplingTimesPerNeuron * f(w / 3);
  }
  return sum;
}

/**
 * Emulated hardware time of a write: 20 ms if the patch holds a CapMem cell
 * (`FIELDS[name].group` is `capmem` or `quadrant-capmem`), 0 for digital
 * settings only.
 *
 * @example
 * ```ts
 * import { writeSeconds } from "./hardware_time.ts";
 * import assert from "node:assert/strict";
 * assert.equal(writeSeconds({ v_leak: 400, threshold_enable: 0 }), 0.02);
 * assert.equal(writeSeconds({ syn_i_bias_dac: 600 }), 0.02);
 * assert.equal(writeSeconds({ threshold_enable: 0, cadc_channel_offset: 3 }), 0);
 * ```
 */
export function writeSeconds(patch: ConfigPatch): number {
  const m = HARDWARE_TIME_MODEL;
  for (const name of Object.keys(patch)) {
    const field = (FIELDS as Record<string, { group: string } | undefined>)[name];
    if (field && field.group !== "digital") return m.capmemSettleSeconds;
  }
  return m.digitalWriteSeconds;
}

/**
 * Emulated hardware time of one measurement on chip `chip` (its index in
 * the batch, for per-neuron windows given as `chips × 512`):
 *
 * | kind | time |
 * | --- | --- |
 * | `resting-potential`, `reset-potential` | reads × 2 synrams × 2 µs |
 * | `threshold-max` | batches × samples × 2 synrams × 2 µs |
 * | `tau-mem`, `tau-mem-reset` | Σ over 512 neurons of 10 × (max(70 µs, 8τ) + step), τ = window/3 |
 * | `tau-syn-exc`, `tau-syn-inh` | Σ over 512 neurons of 10 × max(50 µs, 8τ) |
 * | `tau-mem-cadc` | wait + one CADC read |
 * | `synline-drop` | two CADC reads (before and after) |
 * | `psp-amplitude-*` | runs × (events × spacing + two CADC reads) |
 * | `spike-count` | the window |
 * | `cadc-reference` | one CADC read |
 * | `membrane-trace` | MADC samples × 34 ns + 8 µs |
 *
 * Defaults are those of `backends/measurement.ts`.
 *
 * @example A leak search step, a τ_mem sweep at 10 µs and a threshold step
 * ```ts
 * import { measurementSeconds } from "./hardware_time.ts";
 * import assert from "node:assert/strict";
 * assert.equal(measurementSeconds({ kind: "resting-potential", reads: 8 }), 32e-6);
 * const sweep = measurementSeconds({ kind: "tau-mem", windowSeconds: 30e-6 });
 * assert.ok(Math.abs(sweep - 512 * 10 * 180e-6) < 1e-9); // 0.92 s, as bss2-physics §5.2
 * assert.ok(Math.abs(measurementSeconds({ kind: "threshold-max", samples: 200 }) - 2.4e-3) < 1e-12);
 * ```
 */
export function measurementSeconds(m: Measurement, chip = 0): number {
  const model = HARDWARE_TIME_MODEL;
  switch (m.kind) {
    case "resting-potential":
    case "reset-potential":
      return _cadc(withDefaults(m).reads);
    case "threshold-max": {
      const d = withDefaults(m);
      return _cadc(d.batches * d.samples);
    }
    case "tau-mem":
    case "tau-mem-reset": {
      const step = m.kind === "tau-mem" ? withDefaults(m).stepSeconds : model.tauMemStepSeconds;
      return _sweep(
        withDefaults(m).windowSeconds,
        chip,
        (tau) => Math.max(model.tauMemMinSamplingSeconds, model.tausPerSampling * tau) + step,
      );
    }
    case "tau-syn-exc":
    case "tau-syn-inh":
      return _sweep(
        withDefaults(m).windowSeconds,
        chip,
        (tau) => Math.max(model.tauSynMinSamplingSeconds, model.tausPerSampling * tau),
      );
    case "tau-mem-cadc":
      return m.waitSeconds + _cadc(1);
    case "synline-drop":
      return _cadc(2);
    case "psp-amplitude-exc":
    case "psp-amplitude-inh": {
      const d = withDefaults(m);
      return d.runs * (d.events * d.spacingSeconds + _cadc(2));
    }
    case "spike-count":
      return m.windowSeconds;
    case "cadc-reference":
      return _cadc(1);
    case "membrane-trace": {
      const s = traceSampling(m);
      return s.samples * s.decimation * model.madcSampleSeconds + model.madcInvalidSeconds;
    }
  }
}
