/**
 * Two measurements that set up a working point for later searches, shared
 * by the synaptic-input steps and the COBA step: calix's
 * `MembraneTimeConstCalibCADC` (τ_mem equalised from one CADC read after a
 * reset) and the prelude of calix's `SynBiasCalib` (fewer events until the
 * PSP amplitudes are reliable).
 *
 * @module
 */

import { NEURONS } from "../backends/layout.ts";
import { groupChips } from "./chip_arrays.ts";
import { type CalibContext, chipMedians, describeNeurons } from "./context.ts";
import { CalibNotSuccessful } from "./errors.ts";
import { PSP_SETTINGS, resetPotential, type SynapticInput, tauMemCadc } from "./steps.ts";

/**
 * calix's `MembraneTimeConstCalibCADC` (§2.A): τ_mem equalised at a long value
 * from one CADC read after a reset, the leak re-calibrated before every read.
 * The reset aims `amplitude` below each neuron's leak (clamped to 30, with a
 * warning; more than 5 % clamped is a {@linkcode CalibNotSuccessful}).
 *
 * @example
 * ```ts ignore
 * await equalizeTauMemCadc(ctx, 60e-6);
 * ```
 */
export async function equalizeTauMemCadc(
  ctx: CalibContext,
  tau: number,
  amplitude = 50,
): Promise<void> {
  const chips = ctx.chips;
  const leakRead = await ctx.backend.measure({ kind: "resting-potential", reads: 4 });
  const resetTarget = new Float64Array(chips * NEURONS);
  for (let c = 0; c < chips; c++) {
    const low: number[] = [];
    for (let n = 0; n < NEURONS; n++) {
      const i = c * NEURONS + n;
      resetTarget[i] = leakRead[i]! - amplitude;
      if (resetTarget[i]! < 30) {
        low.push(n);
        resetTarget[i] = 30;
      }
    }
    if (low.length > 0.05 * NEURONS) {
      throw new CalibNotSuccessful(
        `the reset target of the CADC τ_mem method is below 30 for ${describeNeurons(low)}`,
        { step: ctx.step, chipId: ctx.backend.chips[c]!.id, neurons: low },
      );
    }
    if (low.length > 0) {
      ctx.warn(
        c,
        `Reset target of the CADC τ_mem method clamped to 30 for ${describeNeurons(low)}`,
      );
    }
  }
  await ctx.search(resetPotential(resetTarget));
  const target = Float64Array.from(leakRead, (l, i) => l - (l - resetTarget[i]!) / Math.E);
  await ctx.search(tauMemCadc(tau, target, leakRead));
}

/**
 * The prelude of calix's `SynBiasCalib`: PSP amplitudes of one input with
 * 15 events, then fewer (×0.8) per chip until the chip's median amplitude
 * is below `limit`. Returns per chip the event count and the median, and
 * the amplitudes of the last measurement (`chips × 512`). Chips are
 * measured in groups of equal event count, so no chip's reductions add
 * operations to another chip.
 *
 * @example
 * ```ts ignore
 * const { events, medians, amplitudes } = await reliableEvents(ctx, "exc", 60);
 * ```
 */
export async function reliableEvents(
  ctx: CalibContext,
  input: SynapticInput,
  limit: number,
): Promise<{ events: number[]; medians: number[]; amplitudes: Float32Array }> {
  const chips = ctx.chips;
  const events = new Array<number>(chips).fill(15);
  const medians = new Array<number>(chips).fill(NaN);
  const amplitudes = new Float32Array(chips * NEURONS).fill(NaN);
  let open = Array.from({ length: chips }, (_, c) => c);
  for (let it = 0; it < 50 && open.length > 0; it++) {
    const next: number[] = [];
    for (const group of groupChips(open, (c) => events[c]!)) {
      const amp = await ctx.backend.measure(
        {
          kind: input === "exc" ? "psp-amplitude-exc" : "psp-amplitude-inh",
          events: events[group[0]!]!,
          ...PSP_SETTINGS,
        },
        { chips: group },
      );
      const m = chipMedians(amp, NEURONS);
      for (const c of group) {
        medians[c] = m[c]!;
        amplitudes.set(amp.subarray(c * NEURONS, (c + 1) * NEURONS), c * NEURONS);
        if (m[c]! < limit) continue;
        events[c] = Math.floor(0.8 * events[c]!);
        if (events[c]! < 1) {
          throw new CalibNotSuccessful(
            `PSP amplitudes stay above ${limit} with a single event`,
            { step: ctx.step, chipId: ctx.backend.chips[c]!.id },
          );
        }
        next.push(c);
      }
    }
    open = next;
  }
  if (open.length > 0) {
    throw new CalibNotSuccessful(
      `PSP amplitudes stay above ${limit} after 50 reductions of the event count`,
      { step: ctx.step, chipId: ctx.backend.chips[open[0]!]!.id },
    );
  }
  return { events, medians, amplitudes };
}
