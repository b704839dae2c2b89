/**
 * How much integration work a measurement costs the CPU executor, per neuron:
 * the yardstick of the throughput benchmark.
 *
 * @module
 */

import { sampling } from "../backends/cpu/tau_estimator.ts";
import { type Measurement, traceSampling, withDefaults } from "../backends/measurement.ts";
import { DEFAULT_TWIN_CONFIG, type TwinConfig } from "../backends/twin/twin_config.ts";

/**
 * Integration steps the CPU executor takes per neuron for a measurement,
 * derived from its settings exactly as `backends/cpu/measure_chip.ts` does
 * (mean over a chip's 512 neurons where neurons differ):
 *
 * - `spike-count`: `max(1, round(windowSeconds / dt))`, dt default 0.1 µs;
 * - `psp-amplitude-*`: `runs × (events + 1) × max(1, round(spacing / dt))`;
 * - `threshold-max`: `batches × samples × sub` for the top hemisphere and
 *   twice that for the bottom one (read after it), so `1.5 × batches ×
 *   samples × sub` on average, with `sub = max(1, round(readPeriod / dt))`;
 * - `tau-mem`, `tau-mem-reset`, `tau-syn-*`: `3n` MADC samples, `n` from
 *   `sampling(window, madc.samplePeriod, maxSamples)`;
 * - `membrane-trace`: `(samples − 1) × decimation` steps of the one readout
 *   neuron, so that divided by 512 per neuron;
 * - settled kinds (`resting-potential`, `reset-potential`, `tau-mem-cadc`,
 *   `synline-drop`, `cadc-reference`): 0, as the executor reads them from the
 *   analytic steady state (or one exact relaxation) without stepping.
 *
 * @param m The measurement, with its settings.
 * @param twin The model numbers (CADC read period and MADC sample period).
 * @returns Steps per neuron.
 *
 * @example
 * ```ts
 * import { neuronSteps } from "./_neuron_steps.ts";
 * import assert from "node:assert/strict";
 * assert.equal(neuronSteps({ kind: "spike-count", windowSeconds: 1e-3 }), 10_000);
 * assert.equal(neuronSteps({ kind: "psp-amplitude-exc" }), 5 * 16 * 25);
 * assert.equal(neuronSteps({ kind: "tau-mem", windowSeconds: 30e-6 }), 3 * 294);
 * assert.equal(neuronSteps({ kind: "threshold-max", samples: 10, batches: 1 }), 1.5 * 10 * 2);
 * assert.equal(neuronSteps({ kind: "resting-potential" }), 0);
 * ```
 */
export function neuronSteps(m: Measurement, twin: TwinConfig = DEFAULT_TWIN_CONFIG): number {
  switch (m.kind) {
    case "spike-count": {
      const d = withDefaults(m);
      return Math.max(1, Math.round(d.windowSeconds / d.dtSeconds));
    }
    case "psp-amplitude-exc":
    case "psp-amplitude-inh": {
      const d = withDefaults(m);
      const sub = Math.max(1, Math.round(d.spacingSeconds / d.dtSeconds));
      return d.runs * (d.events + 1) * sub;
    }
    case "threshold-max": {
      const d = withDefaults(m);
      const period = twin.cadc.readPeriod;
      const sub = Math.max(1, Math.round(period / (m.dtSeconds ?? period / 2)));
      return 1.5 * d.batches * d.samples * sub;
    }
    case "tau-mem":
    case "tau-mem-reset":
    case "tau-syn-exc":
    case "tau-syn-inh": {
      // Per-neuron windows: the mean over the neurons of one chip.
      const d = withDefaults(m);
      const w = d.windowSeconds;
      const windows = typeof w === "number" ? [w] : Array.from(w).slice(0, 512);
      let total = 0;
      for (const x of windows) {
        total += 3 * sampling(x, twin.madc.samplePeriod, d.maxSamples).n;
      }
      return total / windows.length;
    }
    case "membrane-trace": {
      const t = traceSampling(m);
      return (t.samples - 1) * t.decimation / 512;
    }
    case "resting-potential":
    case "reset-potential":
    case "tau-mem-cadc":
    case "synline-drop":
    case "cadc-reference":
      return 0;
  }
}
