/**
 * `calibrate`: calix's spiking-neuron calibration (calix-behaviour §2, steps
 * 0–17, without COBA and multicompartment), on every chip of a backend at
 * once. Each step is prelude (writes) → search (data, run by the backend) →
 * postlude; every decision that depends on measured data is made per chip.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { NEURONS } from "../backends/layout.ts";
import { VERSION } from "../version.ts";
import { type CadcCalibResult, calibrateCadc } from "./cadc.ts";
import { CalibContext, describeNeurons } from "./context.ts";
import { refractorySettings } from "./refractory.ts";
import { refinePotentials } from "./refine.ts";
import {
  applyResult,
  type NeuronCalibResult,
  RESULT_FORMAT,
  type ResultDigitalField,
} from "./result.ts";
import { cacheKey, readCache, writeCache } from "./cache.ts";
import { CalibNotSuccessful } from "./errors.ts";
import { chipRow, groupChips, perChipValues, tileCodes, tileNeurons } from "./chip_arrays.ts";
import { equalizeTauMemCadc, reliableEvents } from "./working_point.ts";
import { calibrateCoba } from "./coba.ts";
import { NEURON_CAPMEM_ROWS, type NeuronCapMemRow } from "../backends/config.ts";
import {
  leakPotential,
  resetPotential,
  spikeThreshold,
  type SynapticInput,
  synapticReference,
  synapticStrength,
  synapticTau,
  TAU_SYN_EVENTS,
  tauMemOffset,
  tauMemReset,
  THRESHOLD_PRELUDE,
  windowsFor,
} from "./steps.ts";
import {
  type NeuronCalibOptions,
  type NeuronCalibTarget,
  optionsToJson,
  type ResolvedOptions,
  type ResolvedTarget,
  resolveOptions,
  resolveTarget,
  targetToJson,
  usesCoba,
} from "./target.ts";
import { verifyResults } from "./verify.ts";

/**
 * lifcal's additions to calix's options for {@linkcode calibrate}.
 *
 * @example
 * ```ts
 * import { type CalibrateExtras, stepPlan } from "./calibrate.ts";
 * import assert from "node:assert/strict";
 *
 * const steps: string[] = [];
 * const extras: CalibrateExtras = {
 *   calibrate_cadc: false, // the CADC was calibrated before (calibrateCadc)
 *   cache: "./lifcal-cache", // calibrate(backend, target, { ...extras }) reuses results found there
 *   onStep: (step) => void steps.push(step),
 * };
 * assert.equal(stepPlan({}, extras).cadc, false);
 * ```
 */
export interface CalibrateExtras {
  /** Calibrate the CADC first (default true; calix requires a calibrated CADC). */
  readonly calibrate_cadc?: boolean;
  /**
   * A folder for the content-addressed cache: chips whose result is there
   * (same target, options, chip id, twin model and lifcal version) are not
   * calibrated again; when every chip hits, the results are applied and
   * returned without touching anything else.
   */
  readonly cache?: string;
  /** Report progress: the step that starts now (awaited, so a caller may inspect the chips). */
  readonly onStep?: (step: string) => void | Promise<void>;
}

/** Per-chip state kept across the steps. */
interface _Work {
  readonly ctx: CalibContext;
  readonly target: ResolvedTarget;
  readonly refractory: ReturnType<typeof refractorySettings>;
  readonly success: Uint8Array;
  readonly codes: Partial<Record<NeuronCapMemRow, Int32Array>>;
  readonly flags: Partial<Record<ResultDigitalField, Int32Array>>;
  /** The step-3 synaptic time constants, written back in step 10. */
  tauSyn: { exc: Int32Array; inh: Int32Array };
  dac: Int32Array;
  events: number[];
  pspTarget: number[];
  /** The resting potential the synaptic references aim for (step 6). */
  restTarget: Float64Array;
  cadc: CadcCalibResult[] | undefined;
  results: NeuronCalibResult[];
}

function _and(success: Uint8Array, step: Uint8Array): void {
  for (let i = 0; i < success.length; i++) success[i] = success[i]! & step[i]!;
}

/** calix's `configure_chip` (step 1): the common starting state. */
async function _configureChip(w: _Work): Promise<void> {
  await w.ctx.write({
    v_leak: 700,
    v_reset: 700,
    i_bias_leak: 200,
    i_bias_reset: 1012,
    i_mem_offset: 0,
    i_bias_synin_exc_gm: 0,
    i_bias_synin_inh_gm: 0,
    i_bias_synin_exc_shift: 310,
    i_bias_synin_inh_shift: 310,
    i_bias_synin_exc_tau: 1017,
    i_bias_synin_inh_tau: 1017,
    i_bias_synin_exc_coba: 0,
    i_bias_synin_inh_coba: 0,
    coba_exc_enable: 0,
    coba_inh_enable: 0,
    syn_i_bias_dac: 1022,
    leak_division: 1,
    leak_multiplication: 0,
    synin_exc_enable: 1,
    synin_inh_enable: 1,
    synin_exc_high_resistance: 0,
    synin_inh_high_resistance: 0,
    threshold_enable: 1,
    offset_current_enable: 0,
    membrane_capacitance: w.target.membrane_capacitance,
    refractory_counter: 70,
    input_clock: 1,
    clock_scale_fast: 2,
    clock_scale_slow: 9,
  });
}

/** calix's `disable_synin_and_threshold` (steps 2 and 11). */
async function _disableSyninAndThreshold(w: _Work): Promise<void> {
  await w.ctx.write({
    threshold_enable: 0,
    i_bias_synin_exc_gm: 0,
    i_bias_synin_inh_gm: 0,
    synin_exc_enable: 0,
    synin_inh_enable: 0,
    offset_current_enable: 0,
  });
}

/**
 * Synaptic time constant of one input with calix's high-resistance decision:
 * high resistance everywhere, τ measured at bias 919 (the shortest it then
 * reaches); where that is still above the target, high resistance goes off.
 */
async function _tauSyn(w: _Work, input: SynapticInput, target: Float64Array) {
  const ctx = w.ctx;
  const hrField = input === "exc" ? "synin_exc_high_resistance" : "synin_inh_high_resistance";
  const tauField = input === "exc" ? "i_bias_synin_exc_tau" : "i_bias_synin_inh_tau";
  await ctx.write({ [hrField]: 1, [tauField]: 919 });
  const probe = await ctx.backend.measure({
    kind: input === "exc" ? "tau-syn-exc" : "tau-syn-inh",
    windowSeconds: windowsFor(tileNeurons(target, ctx.chips)),
    events: TAU_SYN_EVENTS,
  });
  const chips = ctx.chips;
  const tiled = tileNeurons(target, chips);
  const hr = new Int32Array(chips * NEURONS);
  for (let i = 0; i < hr.length; i++) hr[i] = probe[i]! > tiled[i]! ? 0 : 1;
  await ctx.backend.write({ [hrField]: hr });
  const r = await ctx.search(synapticTau(input, tiled));
  return { codes: r.codes, success: r.success, hr };
}

/** Step 4: the synapse DAC bias per quadrant, equalising the quadrants to the weakest. */
async function _synapseDacBias(w: _Work): Promise<void> {
  const ctx = w.ctx;
  const chips = ctx.chips;
  await ctx.backend.write({ syn_i_bias_dac: w.target.synapse_dac_bias });
  await ctx.write({
    i_bias_synin_exc_gm: 0,
    i_bias_synin_inh_gm: 0,
    i_bias_synin_exc_tau: 0,
    i_bias_synin_inh_tau: 0,
    synin_exc_enable: 0,
    synin_inh_enable: 0,
  });
  // Find a usable number of synapse rows per chip (weight 31 each): the
  // weakest quadrant's median drop must lie in (30, 40) CADC LSB.
  const rows = new Array<number>(chips).fill(64);
  const amplitude = new Array<number>(chips).fill(NaN);
  let open = Array.from({ length: chips }, (_, c) => c);
  for (let it = 0; it < 30 && open.length > 0; it++) {
    const stillOpen: number[] = [];
    for (const group of groupChips(open, (c) => rows[c]!)) {
      const drop = await ctx.backend.measure(
        { kind: "synline-drop", weight: rows[group[0]!]! * 31 },
        { chips: group },
      );
      for (const c of group) {
        const t = Math.min(...drop.subarray(c * 4, c * 4 + 4));
        amplitude[c] = t;
        if (t > 30 && t < 40) continue;
        rows[c] = t >= 40
          ? Math.floor(rows[c]! * 0.8)
          : Math.max(Math.floor(rows[c]! * 1.1), rows[c]! + 1);
        if (rows[c]! < 1 || rows[c]! > 256) {
          throw new CalibNotSuccessful(
            "no number of synapse rows gives a line drop between 30 and 40 CADC LSB",
            { step: ctx.step, chipId: ctx.backend.chips[c]!.id },
          );
        }
        stillOpen.push(c);
      }
    }
    open = stillOpen;
  }
  if (open.length > 0) {
    throw new CalibNotSuccessful(
      `no number of synapse rows gives a line drop between 30 and 40 CADC LSB within 30 tries (chips ${
        open.map((c) => ctx.backend.chips[c]!.id).join(", ")
      })`,
      { step: ctx.step, chipId: ctx.backend.chips[open[0]!]!.id },
    );
  }
  const dac = new Int32Array(chips * 4);
  for (const group of groupChips(Array.from({ length: chips }, (_, c) => c), (c) => rows[c]!)) {
    const r = await ctx.backend.search({
      field: "syn_i_bias_dac",
      algorithm: { name: "binary" },
      target: perChipValues(amplitude, 4),
      measurement: { kind: "synline-drop", weight: rows[group[0]!]! * 31 },
      chips: group,
    });
    for (const c of group) {
      dac.set(r.codes.subarray(c * 4, c * 4 + 4), c * 4);
      const failed = [0, 1, 2, 3].filter((q) => !r.success[c * 4 + q]);
      if (failed.length > 0) {
        ctx.warn(c, `Synapse DAC bias of quadrants ${failed.join(", ")} ended on a range bound`);
      }
    }
  }
  w.dac = dac;
}

/** Step 5: the spike threshold, with calix's prelude and postlude. */
async function _threshold(ctx: CalibContext, target: Float64Array): Promise<Int32Array> {
  const saved = await ctx.backend.config();
  await ctx.write(THRESHOLD_PRELUDE);
  const r = await ctx.search(spikeThreshold(tileNeurons(target, ctx.chips)));
  await ctx.backend.write({
    i_mem_offset: 0,
    synin_exc_enable: saved.map((c) => c.synin_exc_enable),
    synin_inh_enable: saved.map((c) => c.synin_inh_enable),
    threshold_enable: saved.map((c) => c.threshold_enable),
    offset_current_enable: saved.map((c) => c.offset_current_enable),
  });
  return r.codes;
}

/** Measures PSP amplitudes per chip and reduces the event count until the median is below 60. */
async function _pspTarget(
  w: _Work,
  input: SynapticInput,
  restTarget: Float64Array,
): Promise<{ events: number[]; target: number[] }> {
  await w.ctx.search(synapticReference(input, restTarget));
  const { events, medians } = await reliableEvents(w.ctx, input, 60);
  return { events, target: medians.map(Math.floor) };
}

/** Step 7 for one input: the OTA strength with the nested reference calibration. */
async function _synapticStrength(
  w: _Work,
  input: SynapticInput,
  gm: number,
  events: number[],
  target: number[],
  restTarget: Float64Array,
): Promise<Int32Array> {
  const ctx = w.ctx;
  const chips = ctx.chips;
  const codes = new Int32Array(chips * NEURONS);
  for (const group of groupChips(Array.from({ length: chips }, (_, c) => c), (c) => events[c]!)) {
    const r = await ctx.search({
      ...synapticStrength(input, perChipValues(target), events[group[0]!]!, gm, restTarget),
      chips: group,
    });
    for (const c of group) codes.set(r.codes.subarray(c * NEURONS, (c + 1) * NEURONS), c * NEURONS);
    _andChips(w.success, r.success, group);
  }
  return codes;
}

function _andChips(success: Uint8Array, step: Uint8Array, chips: readonly number[]): void {
  for (const c of chips) {
    for (let n = 0; n < NEURONS; n++) {
      const i = c * NEURONS + n;
      success[i] = success[i]! & step[i]!;
    }
  }
}

/** Steps 6–8: working point, synaptic strength and references. */
async function _synapticInputs(w: _Work): Promise<void> {
  const ctx = w.ctx;
  const chips = ctx.chips;
  // Step 6: a hagen-like working point.
  await _configureChip(w);
  await ctx.backend.write({ v_threshold: w.codes.v_threshold!, syn_i_bias_dac: w.dac });
  await ctx.write({ i_bias_synin_exc_gm: 0, i_bias_synin_inh_gm: 0 });
  await ctx.search(leakPotential(120));
  await ctx.backend.write({
    threshold_enable: 0,
    synin_exc_enable: 0,
    synin_inh_enable: 0,
    synin_exc_high_resistance: w.flags.synin_exc_high_resistance!,
    synin_inh_high_resistance: w.flags.synin_inh_high_resistance!,
  });
  const short = new Float64Array(NEURONS).fill(1.5e-6);
  await _tauSyn(w, "exc", short);
  await _tauSyn(w, "inh", short);
  await equalizeTauMemCadc(ctx, 60e-6);
  await ctx.search(leakPotential(120));
  const restTarget = Float64Array.from(
    await ctx.backend.measure({ kind: "resting-potential", reads: 8 }),
  );
  w.restTarget = restTarget;

  // Step 7: synaptic strength.
  const synin = w.target.synin;
  let gmExc: Int32Array;
  let gmInh: Int32Array;
  if (synin.mode === "uncalibrated") {
    gmExc = tileCodes(synin.exc, chips);
    gmInh = tileCodes(synin.inh, chips);
    w.events = new Array(chips).fill(15);
    w.pspTarget = new Array(chips).fill(NaN);
  } else {
    const [gmE, gmI] = synin.mode === "matching" ? [synin.gm, synin.gm] : synin.gm;
    await ctx.write({
      synin_exc_enable: 1,
      synin_inh_enable: 0,
      i_bias_synin_exc_gm: gmE,
      i_bias_synin_inh_gm: 0,
    });
    const e = await _pspTarget(w, "exc", restTarget);
    gmExc = await _synapticStrength(w, "exc", gmE, e.events, e.target, restTarget);
    await ctx.write({
      synin_exc_enable: 0,
      synin_inh_enable: 1,
      i_bias_synin_exc_gm: 0,
      i_bias_synin_inh_gm: gmI,
    });
    const i = synin.mode === "matching" ? e : await _pspTarget(w, "inh", restTarget);
    gmInh = await _synapticStrength(w, "inh", gmI, i.events, i.target, restTarget);
    w.events = e.events;
    w.pspTarget = e.target;
  }
  w.codes.i_bias_synin_exc_gm = gmExc;
  w.codes.i_bias_synin_inh_gm = gmInh;

  // Step 8: references, inhibitory first, then excitatory with both inputs on.
  await ctx.backend.write({
    synin_exc_enable: 0,
    synin_inh_enable: 1,
    i_bias_synin_exc_gm: 0,
    i_bias_synin_inh_gm: gmInh,
  });
  const refInh = await ctx.search(synapticReference("inh", restTarget));
  _and(w.success, refInh.success);
  await ctx.backend.write({ synin_exc_enable: 1, i_bias_synin_exc_gm: gmExc });
  const refExc = await ctx.search(synapticReference("exc", restTarget));
  _and(w.success, refExc.success);
  w.codes.i_bias_synin_inh_shift = refInh.codes;
  w.codes.i_bias_synin_exc_shift = refExc.codes;
}

/**
 * Step 10: undo the temporary 1.5 µs — the step-3 codes AND the step-3
 * high-resistance flags (step 6's decision switched them off).
 */
async function _finalizeSynin(w: _Work): Promise<void> {
  await w.ctx.backend.write({
    i_bias_synin_exc_tau: w.tauSyn.exc,
    i_bias_synin_inh_tau: w.tauSyn.inh,
    synin_exc_high_resistance: w.flags.synin_exc_high_resistance!,
    synin_inh_high_resistance: w.flags.synin_inh_high_resistance!,
  });
}

/** Step 13: the membrane time constant, by the offset method (all targets ≥ 3 µs) or the reset method. */
async function _tauMem(w: _Work): Promise<void> {
  const ctx = w.ctx;
  const chips = ctx.chips;
  const target = tileNeurons(w.target.tau_mem, chips);
  const offsetMethod = w.target.tau_mem.every((t) => t >= 3e-6);
  let division = new Int32Array(chips * NEURONS);
  let multiplication = new Int32Array(chips * NEURONS);
  if (offsetMethod) {
    await ctx.write({
      i_mem_offset: 1000,
      leak_division: 1,
      leak_multiplication: 0,
      i_bias_leak: 1017,
    });
    const tau = await ctx.backend.measure({ kind: "tau-mem", windowSeconds: windowsFor(target) });
    division = Int32Array.from(tau, (t, i) => (t < target[i]! ? 1 : 0));
    await ctx.backend.write({ leak_division: division });
    const r = await ctx.search(tauMemOffset(target));
    w.codes.i_bias_leak = r.codes;
    await ctx.write({ i_mem_offset: 0 });
  } else {
    await ctx.write({
      v_reset: 520,
      v_leak: 880,
      leak_division: 0,
      leak_multiplication: 0,
      i_bias_leak: 63,
    });
    const longest = await ctx.backend.measure({
      kind: "tau-mem-reset",
      windowSeconds: windowsFor(target),
    });
    await ctx.write({ i_bias_leak: 959 });
    const shortest = await ctx.backend.measure({
      kind: "tau-mem-reset",
      windowSeconds: windowsFor(target),
    });
    division = Int32Array.from(longest, (t, i) => (t < target[i]! ? 1 : 0));
    multiplication = Int32Array.from(shortest, (t, i) => (t > target[i]! && !division[i] ? 1 : 0));
    await ctx.backend.write({ leak_division: division, leak_multiplication: multiplication });
    const r = await ctx.search(tauMemReset(target));
    w.codes.i_bias_leak = r.codes;
  }
  w.flags.leak_division = division;
  w.flags.leak_multiplication = multiplication;
}

/**
 * Calibrates the neurons of every chip of a backend for spiking operation
 * (calix's `calix.spiking.neuron.calibrate`): refractory clocks, synaptic
 * time constants, synapse DAC bias, threshold, synaptic strength and
 * references, membrane time constant, reset and leak — then, unless
 * `options.refine` is false, re-calibrates the CADC and refines the
 * potentials. Returns one result per chip, in batch order, and leaves the
 * chips in the calibrated state.
 *
 * @example Calibrate one twin
 * ```ts
 * import { calibrate, openBackend } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const [result] = await calibrate(backend, { tau_mem: "20 us" });
 * const calibrated = result!.success.filter((s) => s).length;
 * assert.ok(calibrated > 0.95 * 512, `${calibrated} neurons calibrated`);
 * await backend.close();
 * ```
 */
export async function calibrate(
  backend: Backend,
  target?: NeuronCalibTarget,
  options?: NeuronCalibOptions & CalibrateExtras,
): Promise<NeuronCalibResult[]> {
  const { calibrate_cadc: calibrateCadcFirst = true, onStep, cache, ...calixOptions } = options ??
    {};
  const resolved = resolveTarget(target);
  const opts = resolveOptions(calixOptions);
  const refractory = refractorySettings(
    resolved.target.refractory_time,
    resolved.target.holdoff_time,
  );
  let cached: { keys: string[]; notes: string[][] } | undefined;
  if (cache !== undefined) {
    const keys = await Promise.all(backend.chips.map((chip) =>
      cacheKey({
        target: targetToJson(resolved.target),
        options: optionsToJson(opts),
        calibrateCadc: calibrateCadcFirst,
        chipId: chip.id,
        ...(backend.twin ? { twin: backend.twin } : {}),
      })
    ));
    const found = await Promise.all(keys.map((k, c) => readCache(cache, k, backend.chips[c]!.id)));
    if (found.every((f) => f.status === "hit")) {
      const hits = found.map((f) => (f as { result: NeuronCalibResult }).result);
      await applyResult(backend, hits);
      return hits;
    }
    const notes = found.map((f, c) =>
      f.status === "corrupt"
        ? [`Cache file ${keys[c]}.json was not trusted (${f.reason}); recomputed`]
        : []
    );
    cached = { keys, notes };
  }
  const plan: StepPlan = {
    cadc: calibrateCadcFirst,
    coba: usesCoba(resolved.target),
    refine: opts.refine ?? !usesCoba(resolved.target),
  };
  const results = await _calibrate(backend, resolved, opts, refractory, plan, onStep);
  if (cached) {
    for (const [c, r] of results.entries()) {
      await writeCache(cache!, cached.keys[c]!, r);
      r.warnings.push(...cached.notes[c]!);
    }
  }
  return results;
}

/**
 * What decides which steps run.
 *
 * @example
 * ```ts
 * import { calibrationSteps, type StepPlan } from "./calibrate.ts";
 * import assert from "node:assert/strict";
 *
 * const plan: StepPlan = { cadc: false, coba: true, refine: false };
 * const steps = calibrationSteps(plan);
 * assert.ok(steps.includes("COBA"));
 * assert.ok(!steps.includes("CADC"));
 * ```
 */
export interface StepPlan {
  /** The CADC is calibrated first. */
  readonly cadc: boolean;
  /** Some neuron uses COBA (a finite reversal). */
  readonly coba: boolean;
  /** The potentials are refined at the end. */
  readonly refine: boolean;
}

/**
 * One step of the neuron calibration, as progress reports and documentation name it.
 *
 * @example
 * ```ts
 * import { CALIBRATION_STEPS, type CalibStep } from "./calibrate.ts";
 * import assert from "node:assert/strict";
 *
 * const first: CalibStep = CALIBRATION_STEPS[0]!;
 * assert.equal(first.name, "CADC");
 * assert.equal(first.when?.({ cadc: false, coba: false, refine: true }), false);
 * ```
 */
export interface CalibStep {
  /** The step's short name (progress lines, range-bound warnings). */
  readonly name: string;
  /** What calix calls the step (calix-behaviour §2), and lifcal's difference where there is one. */
  readonly calix: string;
  /** Whether the step runs (default: always). */
  readonly when?: (plan: StepPlan) => boolean;
}

/** A step with its work: prelude → search(es) → postlude on every chip at once. */
interface _Step extends CalibStep {
  run(w: _Work): Promise<void>;
}

const _STEPS: readonly _Step[] = [
  {
    name: "CADC",
    calix: "calix.spiking.calibrate: the CADC calibration first (calibrateCadc)",
    when: (p) => p.cadc,
    async run(w) {
      w.cadc = await calibrateCadc(w.ctx.backend);
    },
  },
  {
    name: "configure",
    calix: "steps 1–2: configure_chip, disable_synin_and_threshold",
    async run(w) {
      await _configureChip(w);
      await _disableSyninAndThreshold(w);
    },
  },
  {
    name: "tau_syn",
    calix: "step 3: ExcSynTimeConstantCalib, InhSynTimeConstantCalib (high-resistance decision)",
    async run(w) {
      const exc = await _tauSyn(w, "exc", w.target.tau_syn_exc);
      const inh = await _tauSyn(w, "inh", w.target.tau_syn_inh);
      _and(w.success, exc.success);
      _and(w.success, inh.success);
      w.codes.i_bias_synin_exc_tau = exc.codes;
      w.codes.i_bias_synin_inh_tau = inh.codes;
      w.flags.synin_exc_high_resistance = exc.hr;
      w.flags.synin_inh_high_resistance = inh.hr;
      w.tauSyn = { exc: exc.codes, inh: inh.codes };
    },
  },
  {
    name: "synapse DAC bias",
    calix: "step 4: SynapseDACBiasCalib per quadrant",
    run: (w) => _synapseDacBias(w),
  },
  {
    name: "threshold",
    calix: "step 5: ThresholdCalibCADC",
    async run(w) {
      w.codes.v_threshold = await _threshold(w.ctx, w.target.threshold);
    },
  },
  {
    name: "synaptic inputs",
    calix:
      "steps 6–8: a hagen working point, ExcSynBiasCalib/InhSynBiasCalib (reference inside every step), ExcSynReferenceCalib/InhSynReferenceCalib",
    run: (w) => _synapticInputs(w),
  },
  {
    name: "COBA",
    calix:
      "step 9: calibrate_synin_coba (ExcCOBABiasCalib/InhCOBABiasCalib with COBAReferenceCalib; lifcal: the expected amplitude anchored where amplitudes were matched)",
    when: (p) => p.coba,
    async run(w) {
      const r = await calibrateCoba(w.ctx, w.target, w.ctx.options.coba_anchor);
      if (r.exc) {
        w.codes.i_bias_synin_exc_coba = r.exc.bias;
        w.codes.e_synin_exc_rev = r.exc.reference;
      }
      if (r.inh) {
        w.codes.i_bias_synin_inh_coba = r.inh.bias;
        w.codes.e_synin_inh_rev = r.inh.reference;
      }
    },
  },
  {
    name: "synaptic time constants",
    calix: "step 10: finalize_synin_calib",
    run: (w) => _finalizeSynin(w),
  },
  {
    name: "tau_mem",
    calix:
      "steps 11–13: disable_synin_and_threshold, preliminary leak, MembraneTimeConstCalibOffset or MembraneTimeConstCalibReset",
    async run(w) {
      await _disableSyninAndThreshold(w);
      await w.ctx.search(leakPotential(tileNeurons(w.target.leak, w.ctx.chips)));
      await _tauMem(w);
    },
  },
  {
    name: "reset",
    calix: "step 14: ResetPotentialCalib (lifcal: the leak again first, docs/calibration.md)",
    async run(w) {
      const chips = w.ctx.chips;
      // lifcal: the leak again before the reset. calix goes straight on (its
      // hardware's reset clamp dominates the leak), but for short τ_mem the leak
      // conductance rivals the clamp, the held reset potential lies between the
      // reset and leak potentials, and the leak still sits where the τ_mem step
      // left it (880 for the reset method).
      await w.ctx.search(leakPotential(tileNeurons(w.target.leak, chips)));
      const reset = await w.ctx.search(resetPotential(tileNeurons(w.target.reset, chips)));
      _and(w.success, reset.success);
      w.codes.v_reset = reset.codes;
    },
  },
  {
    name: "leak",
    calix: "step 15: LeakPotentialCalib",
    async run(w) {
      const leak = await w.ctx.search(leakPotential(tileNeurons(w.target.leak, w.ctx.chips)));
      _and(w.success, leak.success);
      w.codes.v_leak = leak.codes;
    },
  },
  {
    name: "verification",
    calix: "lifcal: the result, and a measurement of every parameter (calix's hardware tests)",
    async run(w) {
      w.results = await _results(w);
      await verifyResults(w.ctx.backend, w.results);
    },
  },
  {
    name: "CADC (again)",
    calix: "calix.spiking.calibrate: the CADC calibration again before refine_potentials",
    when: (p) => p.refine,
    async run(w) {
      const again = await calibrateCadc(w.ctx.backend);
      w.results.forEach((r, c) => (r.cadc = again[c]!));
    },
  },
  {
    name: "refine potentials",
    calix: "refine_potentials",
    when: (p) => p.refine,
    async run(w) {
      await refinePotentials(w.ctx.backend, w.results, targetToJson(w.target));
    },
  },
];

/**
 * Every step of {@linkcode calibrate}, in calix's order, with calix's name
 * for it and the condition under which it runs.
 *
 * @example
 * ```ts
 * import { CALIBRATION_STEPS } from "./calibrate.ts";
 * import assert from "node:assert/strict";
 * assert.equal(CALIBRATION_STEPS[0]!.name, "CADC");
 * assert.match(CALIBRATION_STEPS.find((s) => s.name === "threshold")!.calix, /ThresholdCalibCADC/);
 * ```
 */
export const CALIBRATION_STEPS: readonly CalibStep[] = _STEPS.map(({ name, calix, when }) =>
  when ? { name, calix, when } : { name, calix }
);

/**
 * The names of the steps a calibration runs, in order: what `onStep`
 * reports.
 *
 * @example
 * ```ts
 * import { calibrationSteps } from "./calibrate.ts";
 * import assert from "node:assert/strict";
 * const steps = calibrationSteps({ cadc: true, coba: false, refine: true });
 * assert.equal(steps.at(-1), "refine potentials");
 * assert.ok(!steps.includes("COBA"));
 * ```
 */
export function calibrationSteps(plan: StepPlan): string[] {
  return _STEPS.filter((s) => !s.when || s.when(plan)).map((s) => s.name);
}

/**
 * The plan of a calibration: which optional steps it runs.
 *
 * @example
 * ```ts
 * import { stepPlan } from "./calibrate.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(stepPlan({}), { cadc: true, coba: false, refine: true });
 * assert.equal(stepPlan({ e_coba_reversal: [300, null] }).refine, false);
 * ```
 */
export function stepPlan(
  target?: NeuronCalibTarget,
  options?: NeuronCalibOptions & CalibrateExtras,
): StepPlan {
  const coba = usesCoba(resolveTarget(target).target);
  const { calibrate_cadc: cadc = true, onStep: _onStep, cache: _cache, ...calix } = options ?? {};
  return { cadc, coba, refine: resolveOptions(calix).refine ?? !coba };
}

async function _calibrate(
  backend: Backend,
  resolved: ReturnType<typeof resolveTarget>,
  opts: ResolvedOptions,
  refractory: ReturnType<typeof refractorySettings>,
  plan: StepPlan,
  onStep: CalibrateExtras["onStep"],
): Promise<NeuronCalibResult[]> {
  const ctx = new CalibContext(backend, opts, "calibrate");
  const chips = ctx.chips;
  for (let c = 0; c < chips; c++) {
    for (const m of [...resolved.warnings, ...refractory.warnings]) ctx.warn(c, m);
  }
  const w: _Work = {
    ctx,
    target: resolved.target,
    refractory,
    success: new Uint8Array(chips * NEURONS).fill(1),
    codes: {},
    flags: {},
    tauSyn: { exc: new Int32Array(0), inh: new Int32Array(0) },
    dac: new Int32Array(chips * 4),
    events: [],
    pspTarget: [],
    restTarget: new Float64Array(0),
    cadc: undefined,
    results: [],
  };
  for (const step of _STEPS) {
    if (step.when && !step.when(plan)) continue;
    ctx.step = step.name;
    await onStep?.(step.name);
    await step.run(w);
  }
  // calix's configure_readout_neurons: the neuron's membrane to the MADC and
  // the pads (calibrated values untouched); the result keeps the flag.
  await backend.write({ enable_readout: _readoutRow(opts.readout_neuron) });
  return w.results;
}

/** One chip's `enable_readout` row: the readout neuron alone, or none. */
function _readoutRow(neuron: number | null): Int32Array {
  const row = new Int32Array(NEURONS);
  if (neuron !== null) row[neuron] = 1;
  return row;
}

/** The results of every chip from the work so far (before the verification). */
async function _results(w: _Work): Promise<NeuronCalibResult[]> {
  const { ctx, target, refractory } = w;
  const backend = ctx.backend;
  const finalConfig = await backend.config();
  const opts = ctx.options;
  return backend.chips.map((chip, c) => {
    const capmem = {} as Record<NeuronCapMemRow, number[]>;
    for (const row of NEURON_CAPMEM_ROWS) {
      const codes = w.codes[row];
      capmem[row] = codes ? chipRow(codes, c) : Array.from(finalConfig[c]![row]);
    }
    capmem.i_mem_offset = new Array(NEURONS).fill(0);
    const success = chipRow(w.success, c).map((s) => s === 1);
    const failed = success.flatMap((s, n) => (s ? [] : [n]));
    if (failed.length > 0) ctx.warn(c, `Calibration failed for ${describeNeurons(failed)}`);
    return {
      kind: "neuron" as const,
      format: RESULT_FORMAT,
      lifcal_version: VERSION,
      chipId: chip.id,
      capmem,
      neuron: {
        membrane_capacitance: Array.from(target.membrane_capacitance),
        leak_division: chipRow(w.flags.leak_division!, c),
        leak_multiplication: chipRow(w.flags.leak_multiplication!, c),
        synin_exc_enable: new Array(NEURONS).fill(1),
        synin_inh_enable: new Array(NEURONS).fill(1),
        synin_exc_high_resistance: chipRow(w.flags.synin_exc_high_resistance!, c),
        synin_inh_high_resistance: chipRow(w.flags.synin_inh_high_resistance!, c),
        threshold_enable: new Array(NEURONS).fill(1),
        offset_current_enable: new Array(NEURONS).fill(0),
        refractory_counter: Array.from(refractory.refractory_counter),
        reset_holdoff: Array.from(refractory.reset_holdoff),
        input_clock: Array.from(refractory.input_clock),
        coba_exc_enable: Array.from(target.coba.reversal_exc, (v) => (Number.isFinite(v) ? 1 : 0)),
        coba_inh_enable: Array.from(target.coba.reversal_inh, (v) => (Number.isFinite(v) ? 1 : 0)),
        enable_readout: Array.from(_readoutRow(opts.readout_neuron)),
      },
      hemisphere: {
        clock_scale_fast: [refractory.clock_scale_fast, refractory.clock_scale_fast],
        clock_scale_slow: [refractory.clock_scale_slow, refractory.clock_scale_slow],
      },
      quadrant: { syn_i_bias_dac: Array.from(w.dac.subarray(c * 4, c * 4 + 4)) },
      synin: { events: w.events[c]!, psp_target: w.pspTarget[c]! },
      ...(w.cadc ? { cadc: w.cadc[c]! } : {}),
      success,
      target: targetToJson(target),
      options: optionsToJson(opts),
      warnings: ctx.warnings[c]!,
      verification: _emptyVerification(),
    };
  });
}

function _emptyVerification(): NeuronCalibResult["verification"] {
  const empty = () => new Array<number | null>(NEURONS).fill(null);
  return {
    leak: empty(),
    reset: empty(),
    threshold: empty(),
    tau_mem: empty(),
    tau_syn_exc: empty(),
    tau_syn_inh: empty(),
    psp_exc: empty(),
    psp_inh: empty(),
  };
}
