/**
 * `lifcal survey`: measures what uncalibrated chips look like — the spread
 * of every neuron parameter at the power-on configuration — the problem a
 * calibration has to solve.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";

/** Spread of one parameter over one chip's neurons. */
export interface ParameterSpread {
  /** Mean over the chip's neurons. */
  readonly mean: number;
  /** Standard deviation over the chip's neurons. */
  readonly std: number;
  /** Unit of `mean` and `std`. */
  readonly unit: string;
}

/** A chip's survey. */
export interface ChipSurvey {
  /** Chip id. */
  readonly id: string;
  /** Per parameter, its spread over the 512 neurons. */
  readonly params: Record<string, ParameterSpread>;
}

function _spread(values: Float32Array, chip: number, unit: string, scale = 1): ParameterSpread {
  const v = values.subarray(chip * 512, (chip + 1) * 512);
  let s = 0;
  let s2 = 0;
  for (const x of v) s += x * scale;
  const mean = s / v.length;
  for (const x of v) s2 += (x * scale - mean) ** 2;
  return { mean, std: Math.sqrt(s2 / (v.length - 1)), unit };
}

/**
 * Measures every chip of a backend at a common working point (threshold off,
 * leak bias 300 with division, synaptic line biases 400 in high-resistance
 * mode) and reports the spread of the leak and reset potentials (CADC LSB),
 * τ_mem and τ_syn (µs).
 *
 * @example
 * ```ts
 * import { openBackend } from "../mod.ts";
 * import { surveyChips } from "./survey.ts";
 * import assert from "node:assert/strict";
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const [s] = await surveyChips(be);
 * assert.ok(s!.params.leak!.std > 2);
 * await be.close();
 * ```
 */
export async function surveyChips(backend: Backend): Promise<ChipSurvey[]> {
  await backend.write({
    threshold_enable: 0,
    i_bias_leak: 300,
    leak_division: 1,
    i_mem_offset: 1000,
    i_bias_synin_exc_tau: 400,
    i_bias_synin_inh_tau: 400,
    synin_exc_high_resistance: 1,
    synin_inh_high_resistance: 1,
  });
  const leak = await backend.measure({ kind: "resting-potential" });
  const reset = await backend.measure({ kind: "reset-potential" });
  const tauMem = await backend.measure({ kind: "tau-mem", windowSeconds: 30e-6 });
  const tauExc = await backend.measure({ kind: "tau-syn-exc", windowSeconds: 15e-6 });
  const tauInh = await backend.measure({ kind: "tau-syn-inh", windowSeconds: 15e-6 });
  return backend.chips.map((chip, c) => ({
    id: chip.id,
    params: {
      leak: _spread(leak, c, "CADC"),
      reset: _spread(reset, c, "CADC"),
      tau_mem: _spread(tauMem, c, "µs", 1e6),
      tau_syn_exc: _spread(tauExc, c, "µs", 1e6),
      tau_syn_inh: _spread(tauInh, c, "µs", 1e6),
    },
  }));
}
