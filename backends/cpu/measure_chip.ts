/**
 * The CPU executor's measurements: one function per measurement kind,
 * computing one chip's readings from its effective parameters. Settled reads
 * use the analytic steady state plus one noise draw (CapMem settling is
 * skipped, as on the twin's spec); everything time-resolved integrates the
 * dynamics with exact exponential updates. Every random number comes from
 * `hash3(key, operation, lane)` + a sample index (`../rng.ts`), so the same
 * chip, operation and neuron always draws the same numbers.
 *
 * @module
 */

import {
  MADC_SAMPLE_RATE,
  type Measurement,
  type MembraneTrace,
  type PerNeuron,
  perNeuron,
  TAU_MEM_BOUNDS,
  TAU_SYN_BOUNDS,
  traceEventSteps,
  traceSampling,
  withDefaults,
} from "../measurement.ts";
import { CADC_CHANNELS, NEURONS, QUADRANTS } from "../layout.ts";
import { hash3, lane, NoiseStream, normalAt } from "../rng.ts";
import {
  cadcRead,
  type ChipParams,
  cobaModulation,
  heldResetPotential,
  madcRead,
  restingPotential,
} from "../twin/physics.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { type LifConstants, type LifState, lifStep, prepareStep, relax } from "./lif_step.ts";
import { sampling, tauFromThreeSums } from "./tau_estimator.ts";

/** What a chip's measurement needs besides the parameters. */
export interface ChipContext {
  /** The chip's RNG key. */
  readonly key: number;
  /** The chip's operation counter claimed by this measurement. */
  readonly op: number;
  /** The model numbers. */
  readonly twin: TwinConfig;
  /** The chip's index in its batch (to pick per-neuron settings given for the whole batch). */
  readonly chip?: number;
}

/**
 * Runs one measurement on one chip.
 *
 * @example Resting potentials of a fresh twin
 * ```ts
 * import { measureChip } from "./measure_chip.ts";
 * import { chipParams } from "../twin/physics.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG as twin } from "../twin/twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, twin), twin);
 * const r = measureChip({ kind: "resting-potential" }, p, { key: 1, op: 0, twin });
 * assert.equal(r.length, 512);
 * ```
 */
export function measureChip(m: Measurement, p: ChipParams, ctx: ChipContext): Float32Array {
  switch (m.kind) {
    case "resting-potential":
      return _settled(p, ctx, withDefaults(m).reads, (n) => _restBelowThreshold(p, n, ctx.twin));
    case "reset-potential":
      return _settled(p, ctx, withDefaults(m).reads, (n) => heldResetPotential(p, n, ctx.twin));
    case "threshold-max": {
      const d = withDefaults(m);
      return _thresholdMax(p, ctx, d.samples, d.batches, d.dtSeconds);
    }
    case "tau-mem": {
      const d = withDefaults(m);
      return _tauMem(p, ctx, "offset", d.windowSeconds, d.stepSeconds, d.maxSamples);
    }
    case "tau-mem-reset": {
      const d = withDefaults(m);
      return _tauMem(p, ctx, "reset", d.windowSeconds, 0, d.maxSamples);
    }
    case "tau-mem-cadc":
      return _tauMemCadc(p, ctx, m.waitSeconds);
    case "tau-syn-exc":
    case "tau-syn-inh": {
      const d = withDefaults(m);
      const input = m.kind === "tau-syn-exc" ? 0 : 1;
      return _tauSyn(p, ctx, input, d.windowSeconds, d.events, d.weight, d.maxSamples);
    }
    case "synline-drop":
      return _synlineDrop(p, ctx, withDefaults(m).weight);
    case "psp-amplitude-exc":
    case "psp-amplitude-inh": {
      const d = withDefaults(m);
      return _psp(p, ctx, m.kind === "psp-amplitude-exc" ? 0 : 1, {
        events: d.events,
        spacing: d.spacingSeconds,
        runs: d.runs,
        weight: d.weight,
        dt: d.dtSeconds,
      });
    }
    case "spike-count": {
      const d = withDefaults(m);
      return _spikeCount(p, ctx, d.windowSeconds, d.dtSeconds, d.counter, d.overflowValue);
    }
    case "cadc-reference":
      return _cadcReference(p, ctx, m.code);
    case "membrane-trace":
      return _membraneTrace(p, ctx, m);
  }
}

function _restBelowThreshold(p: ChipParams, n: number, twin: TwinConfig): number {
  const v = restingPotential(p, n, twin);
  return p.thresholdEnable[n] && v > p.VT[n]! ? p.VT[n]! : v;
}

/** Mean of a neuron's two CADC channels reading `volts`, read number `read`. */
function _neuronCadc(
  p: ChipParams,
  ctx: ChipContext,
  n: number,
  volts: number,
  read: number,
): number {
  const sd = ctx.twin.noise.cadc;
  let e0 = 0;
  let e1 = 0;
  if (sd > 0) {
    e0 = sd * normalAt(hash3(ctx.key, ctx.op, lane(NoiseStream.cadc, n)), read);
    e1 = sd * normalAt(hash3(ctx.key, ctx.op, lane(NoiseStream.cadc, n + NEURONS)), read);
  }
  return 0.5 * (cadcRead(p, n, volts, e0) + cadcRead(p, n + NEURONS, volts, e1));
}

function _membraneNoise(ctx: ChipContext, n: number, sample: number): number {
  const sd = ctx.twin.noise.membrane;
  return sd > 0 ? sd * normalAt(hash3(ctx.key, ctx.op, lane(NoiseStream.initial, n)), sample) : 0;
}

function _settled(
  p: ChipParams,
  ctx: ChipContext,
  reads: number,
  potential: (n: number) => number,
): Float32Array {
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const v0 = potential(n);
    let sum = 0;
    for (let r = 0; r < reads; r++) {
      sum += _neuronCadc(p, ctx, n, v0 + _membraneNoise(ctx, n, r), r);
    }
    out[n] = sum / reads;
  }
  return out;
}

function _lifConstants(p: ChipParams, n: number, twin: TwinConfig): LifConstants {
  return {
    C: p.C[n]!,
    gL: p.gL[n]!,
    EL: p.EL[n]!,
    VRcell: p.VRcell[n]!,
    gR: p.gR[n]!,
    VT: p.VT[n]!,
    threshold: p.thresholdEnable[n] === 1,
    tRef: p.tRef[n]!,
    tReset: p.tReset[n]!,
    low: twin.rails.low,
    high: twin.rails.high,
    sigma: twin.noise.membrane,
  };
}

function _thresholdMax(
  p: ChipParams,
  ctx: ChipContext,
  samples: number,
  batches: number,
  dtSeconds: number | undefined,
): Float32Array {
  const twin = ctx.twin;
  const period = twin.cadc.readPeriod;
  const sub = Math.max(1, Math.round(period / (dtSeconds ?? period / 2)));
  const dt = period / sub;
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const k = prepareStep(_lifConstants(p, n, twin), dt);
    k.threshold = true;
    const I = p.Isyn[n]! + p.Ioff[n]!;
    const prefix = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n));
    // Top hemisphere is read first, the bottom one after it (calix's row order).
    const first = n < 256 ? 0 : samples;
    let best = -Infinity;
    let step = 0;
    for (let b = 0; b < batches; b++) {
      const s: LifState = { v: heldResetPotential(p, n, twin), refLeft: k.tRef, spikes: 0 };
      for (let j = 0; j < first + samples; j++) {
        if (j >= first) {
          const read = _neuronCadc(p, ctx, n, s.v, b * samples + (j - first));
          if (read > best) best = read;
        }
        for (let i = 0; i < sub; i++) lifStep(k, s, I, dt, prefix, step++);
      }
    }
    out[n] = best;
  }
  return out;
}

function _tauMem(
  p: ChipParams,
  ctx: ChipContext,
  method: "offset" | "reset",
  windowSeconds: PerNeuron,
  stepSeconds: number,
  maxSamples: number,
): Float32Array {
  const twin = ctx.twin;
  const sigma = twin.noise.membrane;
  const madcSd = twin.noise.madc;
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const window = perNeuron(windowSeconds, ctx.chip ?? 0, n);
    const { n: per, dt } = sampling(window, twin.madc.samplePeriod, maxSamples);
    const gL = p.gL[n]!;
    const tau = p.C[n]! / gL;
    const vRest = Math.min(Math.max(p.EL[n]! + p.Isyn[n]! / gL, twin.rails.low), twin.rails.high);
    const prefix = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n));
    const madcPrefix = hash3(ctx.key, ctx.op, lane(NoiseStream.madc, n));
    let v: number;
    if (method === "offset") {
      const vOn = p.EL[n]! + (p.Isyn[n]! + p.Ioff[n]!) / gL;
      v = relax(vRest + _membraneNoise(ctx, n, 0), vOn, tau, stepSeconds, sigma, prefix, 0);
    } else {
      const g = gL + p.gR[n]!;
      const vHeld = (p.gR[n]! * p.VRcell[n]! + gL * p.EL[n]! + p.Isyn[n]!) / g;
      v = vHeld + _membraneNoise(ctx, n, 0);
    }
    v = Math.min(Math.max(v, twin.rails.low), twin.rails.high);
    const e = Math.exp(-dt / tau);
    const kick = sigma * Math.sqrt(1 - e * e);
    const sums = [0, 0, 0];
    for (let j = 0; j < 3 * per; j++) {
      const eps = madcSd > 0 ? madcSd * normalAt(madcPrefix, j) : 0;
      sums[(j / per) | 0]! += madcRead(v, eps, twin);
      v = vRest + (v - vRest) * e + (kick > 0 ? kick * normalAt(prefix, j + 1) : 0);
      if (v < twin.rails.low) v = twin.rails.low;
      else if (v > twin.rails.high) v = twin.rails.high;
    }
    out[n] = tauFromThreeSums(sums[0]!, sums[1]!, sums[2]!, per, dt, TAU_MEM_BOUNDS).tau;
  }
  return out;
}

function _tauMemCadc(p: ChipParams, ctx: ChipContext, wait: number): Float32Array {
  const twin = ctx.twin;
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const gL = p.gL[n]!;
    const vRest = Math.min(Math.max(p.EL[n]! + p.Isyn[n]! / gL, twin.rails.low), twin.rails.high);
    const g = gL + p.gR[n]!;
    const vHeld = (p.gR[n]! * p.VRcell[n]! + gL * p.EL[n]! + p.Isyn[n]!) / g;
    const prefix = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n));
    const v = relax(
      vHeld + _membraneNoise(ctx, n, 0),
      vRest,
      p.C[n]! / gL,
      wait,
      twin.noise.membrane,
      prefix,
      0,
    );
    out[n] = _neuronCadc(p, ctx, n, Math.min(Math.max(v, twin.rails.low), twin.rails.high), 0);
  }
  return out;
}

function _tauSyn(
  p: ChipParams,
  ctx: ChipContext,
  input: 0 | 1,
  windowSeconds: PerNeuron,
  events: number,
  weight: number,
  maxSamples: number,
): Float32Array {
  const twin = ctx.twin;
  const sigma = twin.noise.line;
  const madcSd = twin.noise.madc;
  const taus = input === 0 ? p.tauSynExc : p.tauSynInh;
  const stream = input === 0 ? NoiseStream.lineExc : NoiseStream.lineInh;
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const window = perNeuron(windowSeconds, ctx.chip ?? 0, n);
    const { n: per, dt } = sampling(window, twin.madc.samplePeriod, maxSamples);
    const tau = taus[n]!;
    const prefix = hash3(ctx.key, ctx.op, lane(stream, n));
    const madcPrefix = hash3(ctx.key, ctx.op, lane(NoiseStream.madc, n));
    let x = (sigma > 0 ? sigma * normalAt(prefix, 0) : 0) + events * p.dacAmp[n]! * weight;
    const e = Math.exp(-dt / tau);
    const kick = sigma * Math.sqrt(1 - e * e);
    const sums = [0, 0, 0];
    let first = 0;
    for (let j = 0; j < 3 * per; j++) {
      const eps = madcSd > 0 ? madcSd * normalAt(madcPrefix, j) : 0;
      const read = madcRead(twin.lineRest - x, eps, twin);
      if (j === 0) first = read;
      sums[(j / per) | 0]! += read;
      x = x * e + (kick > 0 ? kick * normalAt(prefix, j + 1) : 0);
    }
    // A line that has not dropped by 10 MADC LSB at the first sample, against
    // the end of the window, is floating: calix reports +inf (pushes the bias up).
    const floating = sums[2]! / per - first < 10;
    out[n] = floating
      ? Infinity
      : tauFromThreeSums(sums[0]!, sums[1]!, sums[2]!, per, dt, TAU_SYN_BOUNDS).tau;
  }
  return out;
}

function _synlineDrop(p: ChipParams, ctx: ChipContext, weight: number): Float32Array {
  const twin = ctx.twin;
  const drops = new Float64Array(NEURONS);
  const sigma = twin.noise.line;
  for (let n = 0; n < NEURONS; n++) {
    const x0 = sigma > 0
      ? sigma * normalAt(hash3(ctx.key, ctx.op, lane(NoiseStream.lineExc, n)), 0)
      : 0;
    const before = _neuronCadc(p, ctx, n, twin.lineRest - x0, 0);
    const after = _neuronCadc(p, ctx, n, twin.lineRest - x0 - p.dacAmp[n]! * weight, 1);
    drops[n] = before - after;
  }
  const out = new Float32Array(QUADRANTS);
  for (let q = 0; q < QUADRANTS; q++) {
    const part = Array.from(drops.subarray(q * 128, (q + 1) * 128)).sort((a, b) => a - b);
    out[q] = 0.5 * (part[63]! + part[64]!);
  }
  return out;
}

function _psp(
  p: ChipParams,
  ctx: ChipContext,
  input: 0 | 1,
  o: { events: number; spacing: number; runs: number; weight: number; dt: number },
): Float32Array {
  const twin = ctx.twin;
  const sub = Math.max(1, Math.round(o.spacing / o.dt));
  const dt = o.spacing / sub;
  const sigmaLine = twin.noise.line;
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const k = prepareStep(_lifConstants(p, n, twin), dt);
    const I0 = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
    const { eE, eI, avgE, avgI, kickE, kickI } = _lineStep(p, n, dt, sigmaLine);
    const jump = p.dacAmp[n]! * o.weight;
    const prefix = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n));
    const prefixE = hash3(ctx.key, ctx.op, lane(NoiseStream.lineExc, n));
    const prefixI = hash3(ctx.key, ctx.op, lane(NoiseStream.lineInh, n));
    const vRest = _restBelowThreshold(p, n, twin);
    const stepsPerRun = (o.events + 1) * sub;
    const crefE = p.crefExc[n]!;
    const crefI = p.crefInh[n]!;
    const betaE = p.betaExc[n]!;
    const betaI = p.betaInh[n]!;
    const mMax = twin.coba.maxModulation;
    let total = 0;
    for (let r = 0; r < o.runs; r++) {
      const base = r * (stepsPerRun + 1);
      const s: LifState = { v: vRest + _membraneNoise(ctx, n, r), refLeft: 0, spikes: 0 };
      let xe = sigmaLine > 0 ? sigmaLine * normalAt(prefixE, base) : 0;
      let xi = sigmaLine > 0 ? sigmaLine * normalAt(prefixI, base) : 0;
      const before = _neuronCadc(p, ctx, n, s.v, 2 * r);
      for (let j = 0; j < stepsPerRun; j++) {
        if (j % sub === 0 && j / sub < o.events) {
          if (input === 0) xe += jump;
          else xi += jump;
        }
        // COBA: each input's current is modulated by the membrane at the step's start.
        const I = I0 + p.gmExc[n]! * xe * avgE * cobaModulation(s.v, crefE, betaE, 1, mMax) -
          p.gmInh[n]! * xi * avgI * cobaModulation(s.v, crefI, betaI, -1, mMax);
        lifStep(k, s, I, dt, prefix, base + j);
        xe = xe * eE + (kickE > 0 ? kickE * normalAt(prefixE, base + j + 1) : 0);
        xi = xi * eI + (kickI > 0 ? kickI * normalAt(prefixI, base + j + 1) : 0);
      }
      const after = _neuronCadc(p, ctx, n, s.v, 2 * r + 1);
      total += after - before;
    }
    out[n] = (input === 0 ? 1 : -1) * total / o.runs;
  }
  return out;
}

function _membraneTrace(p: ChipParams, ctx: ChipContext, m: MembraneTrace): Float32Array {
  const twin = ctx.twin;
  const n = p.readout;
  if (n < 0) {
    throw new RangeError("membrane-trace: the chip has no readout neuron (enable_readout)");
  }
  const { samples, decimation } = traceSampling(m);
  const dt = 1 / MADC_SAMPLE_RATE;
  const events = traceEventSteps(m);
  const k = prepareStep(_lifConstants(p, n, twin), dt);
  const I0 = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
  const sigmaLine = twin.noise.line;
  const madcSd = twin.noise.madc;
  const { eE, eI, avgE, avgI, kickE, kickI } = _lineStep(p, n, dt, sigmaLine);
  const jump = p.dacAmp[n]!;
  const prefix = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n));
  const prefixE = hash3(ctx.key, ctx.op, lane(NoiseStream.lineExc, n));
  const prefixI = hash3(ctx.key, ctx.op, lane(NoiseStream.lineInh, n));
  const madcPrefix = hash3(ctx.key, ctx.op, lane(NoiseStream.madc, n));
  const mMax = twin.coba.maxModulation;
  const s: LifState = {
    v: _restBelowThreshold(p, n, twin) + _membraneNoise(ctx, n, 0),
    refLeft: 0,
    spikes: 0,
  };
  let xe = sigmaLine > 0 ? sigmaLine * normalAt(prefixE, 0) : 0;
  let xi = sigmaLine > 0 ? sigmaLine * normalAt(prefixI, 0) : 0;
  const out = new Float32Array(samples);
  const steps = (samples - 1) * decimation + 1;
  let next = 0;
  for (let j = 0; j < steps; j++) {
    if (j % decimation === 0) {
      const i = j / decimation;
      out[i] = madcRead(s.v, madcSd > 0 ? madcSd * normalAt(madcPrefix, i) : 0, twin);
    }
    if (j === steps - 1) break;
    if (next < events.steps.length && events.steps[next] === j) {
      xe += jump * events.exc[next]!;
      xi += jump * events.inh[next]!;
      next++;
    }
    const I = I0 +
      p.gmExc[n]! * xe * avgE * cobaModulation(s.v, p.crefExc[n]!, p.betaExc[n]!, 1, mMax) -
      p.gmInh[n]! * xi * avgI * cobaModulation(s.v, p.crefInh[n]!, p.betaInh[n]!, -1, mMax);
    lifStep(k, s, I, dt, prefix, j);
    xe = xe * eE + (kickE > 0 ? kickE * normalAt(prefixE, j + 1) : 0);
    xi = xi * eI + (kickI > 0 ? kickI * normalAt(prefixI, j + 1) : 0);
  }
  return out;
}

function _spikeCount(
  p: ChipParams,
  ctx: ChipContext,
  window: number,
  dtSeconds: number,
  counter: "8bit" | "exact",
  overflowValue: number,
): Float32Array {
  const twin = ctx.twin;
  const steps = Math.max(1, Math.round(window / dtSeconds));
  const dt = window / steps;
  const out = new Float32Array(NEURONS);
  for (let n = 0; n < NEURONS; n++) {
    const k = prepareStep(_lifConstants(p, n, twin), dt);
    const I = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
    const prefix = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n));
    // Counting starts right after a reset of every neuron (calix resets the counters).
    const s: LifState = { v: heldResetPotential(p, n, twin), refLeft: k.tRef, spikes: 0 };
    for (let j = 0; j < steps; j++) lifStep(k, s, I, dt, prefix, j);
    out[n] = counter === "8bit" && s.spikes > 255 ? overflowValue : s.spikes;
  }
  return out;
}

function _cadcReference(p: ChipParams, ctx: ChipContext, code: number): Float32Array {
  const v = p.referenceVoltage(code);
  const sd = ctx.twin.noise.cadc;
  const out = new Float32Array(CADC_CHANNELS);
  for (let ch = 0; ch < CADC_CHANNELS; ch++) {
    const eps = sd > 0 ? sd * normalAt(hash3(ctx.key, ctx.op, lane(NoiseStream.cadc, ch)), 0) : 0;
    out[ch] = cadcRead(p, ch, v, eps);
  }
  return out;
}

/**
 * One integration step of a neuron's two synaptic lines: their decay
 * factors, their mean over the step relative to the start value (what the
 * membrane sees), and the OU noise kick of each.
 */
function _lineStep(p: ChipParams, n: number, dt: number, sigmaLine: number) {
  const tauE = p.tauSynExc[n]!;
  const tauI = p.tauSynInh[n]!;
  const eE = Math.exp(-dt / tauE);
  const eI = Math.exp(-dt / tauI);
  return {
    eE,
    eI,
    avgE: (tauE / dt) * (1 - eE),
    avgI: (tauI / dt) * (1 - eI),
    kickE: sigmaLine * Math.sqrt(1 - eE * eE),
    kickI: sigmaLine * Math.sqrt(1 - eI * eI),
  };
}
