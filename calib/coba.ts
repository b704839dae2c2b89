/**
 * Step 9 of calix's neuron calibration, `calibrate_synin_coba`: the
 * conductance-based (COBA) modulation of each synaptic input. Per input, a
 * NoisyBinarySearch of the modulation strength `i_bias_synin_*_coba`
 * (calix's `COBABiasCalib`) runs a full search of the COBA reference cell
 * `e_synin_*_rev` (calix's `COBAReferenceCalib`) inside every step, then
 * compares the amplitude near the reversal with what a linear model expects.
 *
 * The outer loops run here, on the host, over the Backend trait (writes,
 * measurements and whole searches), because each step of them mixes a
 * write, two searches, a reading that sets the expected value, per-neuron
 * negation and −∞: see docs/calibration.md for what that costs.
 *
 * One deviation on purpose (docs/calibration.md, TWIN.md §8): calix anchors
 * the expected amplitude `A·(E_rev − V)/(E_rev − anchor)` at the reference,
 * although its reference search matched the amplitudes with the leak 15 LSB
 * away from it; lifcal anchors it where they were matched (`coba_anchor:
 * "matched"`, the default), which lands on the target reversal; calix's
 * anchor is kept as `coba_anchor: "reference"`.
 *
 * @module
 */

import type { SearchResult } from "../backends/backend.ts";
import { driveSearch } from "../backends/generic_search.ts";
import { NEURONS } from "../backends/layout.ts";
import { groupChips, tileNeurons } from "./chip_arrays.ts";
import type { CalibContext } from "./context.ts";
import { leakPotential, POTENTIAL_READS, PSP_SETTINGS, type SynapticInput } from "./steps.ts";
import { COBA_LIMITS, cobaWorkingPoint, type ResolvedTarget } from "./target.ts";
import { equalizeTauMemCadc, reliableEvents } from "./working_point.ts";

/**
 * Runs per COBA amplitude measurement; {@linkcode COBA_PSP_REPEATS} of them
 * are averaged per amplitude: 80 runs where calix takes 5. The working
 * points lie far from the reversal (60..165 against e.g. 300), so the
 * amplitude there changes by only ≈0.5 % per code of the bias, and noise in
 * the amplitudes moves the reversal reached: with calix's 5 runs 54 % of the
 * excitatory reversals of calix's hardware-test set-up land within 10 % of
 * their distance from the reference, with 40 runs 88–94 %, with 80 runs
 * 94–99 % (seeds 1–3; docs/calibration.md). Two measurements of 40 keep each
 * within the GPU's per-invocation loop bound.
 */
export const COBA_PSP_RUNS = 40;

/** Measurements of {@linkcode COBA_PSP_RUNS} runs averaged per COBA amplitude. */
export const COBA_PSP_REPEATS = 2;

/** Where the expected amplitude of the COBA bias search is anchored. */
export type CobaAnchor = "matched" | "reference";

/** What step 9 found for one input: per neuron of every chip. */
export interface CobaInputResult {
  /** `i_bias_synin_*_coba` codes (0..255). */
  readonly bias: Int32Array;
  /** `e_synin_*_rev` codes: the COBA reference, calibrated last at the final bias. */
  readonly reference: Int32Array;
}

/** The fields of one input. */
function _fields(input: SynapticInput) {
  const x = input;
  const other = input === "exc" ? "inh" : "exc";
  return {
    sign: input === "exc" ? 1 : -1,
    bias: `i_bias_synin_${x}_coba`,
    reference: `e_synin_${x}_rev`,
    enable: `coba_${x}_enable`,
    synin: `synin_${x}_enable`,
    otherSynin: `synin_${other}_enable`,
    psp: input === "exc" ? "psp-amplitude-exc" : "psp-amplitude-inh",
  } as const;
}

/**
 * PSP amplitudes of one input on every chip, each chip with its own event
 * count (chips of equal count measured together).
 */
async function _amplitudes(
  ctx: CalibContext,
  input: SynapticInput,
  events: readonly number[],
): Promise<Float32Array> {
  const out = new Float32Array(ctx.chips * NEURONS);
  const all = Array.from({ length: ctx.chips }, (_, c) => c);
  for (const group of groupChips(all, (c) => events[c]!)) {
    for (let k = 0; k < COBA_PSP_REPEATS; k++) {
      const r = await ctx.backend.measure(
        {
          kind: _fields(input).psp,
          events: events[group[0]!]!,
          ...PSP_SETTINGS,
          runs: COBA_PSP_RUNS,
        },
        { chips: group },
      );
      for (const c of group) {
        for (let i = c * NEURONS; i < (c + 1) * NEURONS; i++) {
          out[i] = out[i]! + r[i]! / COBA_PSP_REPEATS;
        }
      }
    }
  }
  return out;
}

async function _rest(ctx: CalibContext): Promise<Float32Array> {
  return await ctx.backend.measure({ kind: "resting-potential", reads: POTENTIAL_READS });
}

/** What the COBA reference search needs to know. */
interface _ReferenceSetup {
  readonly input: SynapticInput;
  /** The CUBA amplitudes it matches (chips × 512). */
  readonly amplitudes: Float32Array;
  /** Events per chip. */
  readonly events: readonly number[];
  /** The potential the leak was calibrated to (e_ref − 15·s, chips × 512). */
  readonly intended: Float64Array;
  /** The `v_leak` codes that reached it (chips × 512). */
  readonly leakCodes: Int32Array;
}

/**
 * calix's `COBAReferenceCalib`: the reference cell so that the amplitude
 * with COBA on equals the CUBA amplitude, with the leak where the CUBA
 * amplitude was measured. Where the resting potential strays more than 15
 * LSB from that potential, the reading becomes ±∞: towards less deviation
 * where the resting potential follows the reference (|slope| > 0.1 per
 * code, measured ±80 codes around the current ones), towards the leak's own
 * code otherwise.
 */
async function _cobaReference(ctx: CalibContext, setup: _ReferenceSetup): Promise<SearchResult> {
  const f = _fields(setup.input);
  const inverted = setup.input === "inh";
  const n = ctx.chips * NEURONS;
  // ±∞ that moves the search's code up or down.
  const towards = (up: boolean) => (up !== inverted ? -Infinity : Infinity);
  return await driveSearch(ctx.backend, {
    field: f.reference,
    range: [0, 1022],
    inverted,
    algorithm: ctx.algorithm,
    target: setup.amplitudes,
  }, async (codes) => {
    const readings = await _amplitudes(ctx, setup.input, setup.events);
    const rest = await _rest(ctx);
    const deviating: number[] = [];
    for (let i = 0; i < n; i++) {
      if (Math.abs(rest[i]! - setup.intended[i]!) > COBA_LIMITS.allowedDeviation) deviating.push(i);
    }
    if (deviating.length === 0) return readings;
    const up = Int32Array.from(codes, (c) => Math.min(1022, c + 80));
    const down = Int32Array.from(codes, (c) => Math.max(0, c - 80));
    await ctx.backend.write({ [f.reference]: up });
    const restUp = await _rest(ctx);
    await ctx.backend.write({ [f.reference]: down });
    const restDown = await _rest(ctx);
    await ctx.backend.write({ [f.reference]: codes });
    for (const i of deviating) {
      const slope = (restUp[i]! - restDown[i]!) / Math.max(1, up[i]! - down[i]!);
      const high = rest[i]! > setup.intended[i]!;
      readings[i] = Math.abs(slope) > 0.1
        ? towards(high !== slope > 0)
        : towards(codes[i]! < setup.leakCodes[i]!);
    }
    return readings;
  });
}

/**
 * calix's `COBABiasCalib` for one input, COBA reference search nested in
 * every step (calix-behaviour §2, step 9).
 */
async function _cobaBias(
  ctx: CalibContext,
  input: SynapticInput,
  reference: Float64Array,
  reversal: Float64Array,
  anchor: CobaAnchor,
): Promise<CobaInputResult> {
  const f = _fields(input);
  const s = f.sign;
  const n = ctx.chips * NEURONS;
  const enable = Int32Array.from(reversal, (v) => (Number.isFinite(v) ? 1 : 0));
  // Neurons without COBA get a working value; their COBA is off, so it has no effect.
  const rev = Float64Array.from(
    reversal,
    (v, i) => (Number.isFinite(v) ? v : reference[i]! + s * 300),
  );

  // Prelude: COBA off, the leak 15 LSB from the reference, the CUBA amplitudes there.
  await ctx.backend.write({ [f.enable]: 0 });
  const intended = Float64Array.from(reference, (r) => r - COBA_LIMITS.allowedDeviation * s);
  const leak = await ctx.backend.search(ctx.complete(leakPotential(intended)));
  const { events } = await reliableEvents(ctx, input, COBA_LIMITS.reliableAmplitude);
  const amplitudes = await _amplitudes(ctx, input, events);
  const aim = new Float64Array(n);
  const flipped = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Feasible for every COBA neuron (resolveTarget checks); the others' working values always are.
    const point = cobaWorkingPoint(reference[i]!, rev[i]!, s as 1 | -1) ??
      { leak: COBA_LIMITS.maxLeak, flipped: false };
    aim[i] = point.leak;
    flipped[i] = point.flipped ? 1 : 0;
  }
  const anchorAt = anchor === "matched" ? intended : reference;
  await ctx.backend.write({ [f.enable]: enable });
  const setup: _ReferenceSetup = { input, amplitudes, events, intended, leakCodes: leak.codes };

  let referenceCodes: Int32Array = new Int32Array(n);
  const bias = await driveSearch(ctx.backend, {
    field: f.bias,
    range: [0, 255],
    inverted: true,
    algorithm: ctx.algorithm,
    target: 0,
  }, async () => {
    await ctx.backend.write({ v_leak: leak.codes });
    referenceCodes = (await _cobaReference(ctx, setup)).codes;
    await ctx.backend.search(ctx.complete(leakPotential(aim)));
    const reached = await _rest(ctx);
    const measured = await _amplitudes(ctx, input, events);
    const result = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const a = anchorAt[i]!;
      const expected = amplitudes[i]! * (rev[i]! - reached[i]!) / (rev[i]! - a);
      let r = measured[i]! - expected;
      if (flipped[i]) r = -r;
      if (Math.abs(reached[i]! - aim[i]!) > COBA_LIMITS.allowedDeviation) r = -Infinity;
      result[i] = r;
    }
    return result;
  });
  ctx.warnBounds({ field: f.bias, range: [0, 255] }, bias);
  // Postlude: the reference again, at the final bias.
  await ctx.backend.write({ v_leak: leak.codes });
  referenceCodes = (await _cobaReference(ctx, setup)).codes;
  return { bias: bias.codes, reference: referenceCodes };
}

/**
 * calix's `calibrate_synin_coba` (step 9) on every chip: τ_mem equalised at
 * 30 µs by the CADC method, then per input (excitatory, then inhibitory,
 * the other input off, threshold off) the modulation
 * strength and reference (docs/calibration.md: the high-resistance flags
 * of step 6 stay). The synaptic strengths and CUBA references of
 * steps 7–8 must be on the chips. An input no neuron uses COBA for is left
 * out (calix calibrates it anyway; with its COBA off the result has no
 * effect).
 *
 * @example
 * ```ts ignore
 * const { exc, inh } = await calibrateCoba(ctx, target, "matched");
 * ```
 */
export async function calibrateCoba(
  ctx: CalibContext,
  target: ResolvedTarget,
  anchor: CobaAnchor,
): Promise<Partial<Record<SynapticInput, CobaInputResult>>> {
  const chips = ctx.chips;
  await equalizeTauMemCadc(ctx, 30e-6);
  const out: Partial<Record<SynapticInput, CobaInputResult>> = {};
  for (const input of ["exc", "inh"] as const) {
    const reversal = input === "exc" ? target.coba.reversal_exc : target.coba.reversal_inh;
    if (!reversal.some(Number.isFinite)) continue;
    const reference = input === "exc" ? target.coba.reference_exc : target.coba.reference_inh;
    const f = _fields(input);
    // calix also switches the input's high resistance off: its step 6 calibrates
    // the temporary 1.5 µs without it. lifcal's step 6 keeps it on for lines
    // too fast without it, so switching it off here would shorten their τ_syn
    // tenfold and leave ≈1 LSB amplitudes: the step-6 flags stay.
    await ctx.backend.write({
      threshold_enable: 0,
      [f.otherSynin]: 0,
      [f.synin]: 1,
    });
    out[input] = await _cobaBias(
      ctx,
      input,
      tileNeurons(reference, chips),
      tileNeurons(reversal, chips),
      anchor,
    );
  }
  return out;
}
