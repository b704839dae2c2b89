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
import { hash3, lane, NoiseStream } from "../rng.ts";
import { normalAt } from "./fast_normal.ts";
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
import { type LifBlock, lifBlock, lifStepAt } from "./lif_block.ts";
import type { KernelParams } from "./kernel_params.ts";
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

/** The kinds whose readings are per neuron and computed neuron by neuron: any block of neurons may be measured on its own. */
export const NEURON_KINDS: ReadonlySet<Measurement["kind"]> = new Set([
  "resting-potential",
  "reset-potential",
  "threshold-max",
  "tau-mem",
  "tau-mem-reset",
  "tau-mem-cadc",
  "tau-syn-exc",
  "tau-syn-inh",
  "psp-amplitude-exc",
  "psp-amplitude-inh",
  "spike-count",
]);

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
    case "synline-drop":
      return _synlineDrop(p, ctx, withDefaults(m).weight);
    case "cadc-reference":
      return _cadcReference(p, ctx, m.code);
    case "membrane-trace":
      return _membraneTrace(p, ctx, m);
    default:
      return measureNeurons(m, p, ctx, 0, NEURONS);
  }
}

/**
 * Runs a per-neuron measurement ({@linkcode NEURON_KINDS}) on neurons
 * `n0..n1` of one chip: the readings `measureChip` gives for them, bit for
 * bit, whatever the block.
 *
 * @example A block reads what the whole chip reads
 * ```ts
 * import { measureChip, measureNeurons } from "./measure_chip.ts";
 * import { chipParams } from "../twin/physics.ts";
 * import { drawMismatch } from "../twin/mismatch.ts";
 * import { DEFAULT_TWIN_CONFIG as twin } from "../twin/twin_config.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const p = chipParams(initialConfig(), drawMismatch(1, twin), twin);
 * const m = { kind: "tau-mem-reset" as const, windowSeconds: 10e-6, maxSamples: 100 };
 * const all = measureChip(m, p, { key: 1, op: 3, twin });
 * const part = measureNeurons(m, p, { key: 1, op: 3, twin }, 250, 300);
 * assert.deepEqual(part, all.slice(250, 300));
 * ```
 */
export function measureNeurons(
  m: Measurement,
  p: KernelParams,
  ctx: ChipContext,
  n0: number,
  n1: number,
): Float32Array {
  const out = new Float32Array(n1 - n0);
  switch (m.kind) {
    case "resting-potential":
      _settled(p, ctx, withDefaults(m).reads, false, n0, n1, out);
      break;
    case "reset-potential":
      _settled(p, ctx, withDefaults(m).reads, true, n0, n1, out);
      break;
    case "threshold-max": {
      const d = withDefaults(m);
      const twin = ctx.twin;
      const period = twin.cadc.readPeriod;
      const sub = Math.max(1, Math.round(period / (d.dtSeconds ?? period / 2)));
      // Top hemisphere is read first, the bottom one after it (calix's row order).
      const split = Math.min(Math.max(256, n0), n1);
      if (split > n0) _thresholdMax(p, ctx, d.samples, d.batches, sub, 0, n0, split, out, 0);
      if (n1 > split) {
        _thresholdMax(p, ctx, d.samples, d.batches, sub, d.samples, split, n1, out, split - n0);
      }
      break;
    }
    case "tau-mem": {
      const d = withDefaults(m);
      _tauMem(p, ctx, "offset", d.windowSeconds, d.stepSeconds, d.maxSamples, n0, n1, out);
      break;
    }
    case "tau-mem-reset": {
      const d = withDefaults(m);
      _tauMem(p, ctx, "reset", d.windowSeconds, 0, d.maxSamples, n0, n1, out);
      break;
    }
    case "tau-mem-cadc":
      _tauMemCadc(p, ctx, m.waitSeconds, n0, n1, out);
      break;
    case "tau-syn-exc":
    case "tau-syn-inh": {
      const d = withDefaults(m);
      const input = m.kind === "tau-syn-exc" ? 0 : 1;
      _tauSyn(p, ctx, input, d.windowSeconds, d.events, d.weight, d.maxSamples, n0, n1, out);
      break;
    }
    case "psp-amplitude-exc":
    case "psp-amplitude-inh": {
      const d = withDefaults(m);
      _psp(
        p,
        ctx,
        m.kind === "psp-amplitude-exc" ? 0 : 1,
        {
          events: d.events,
          spacing: d.spacingSeconds,
          runs: d.runs,
          weight: d.weight,
          dt: d.dtSeconds,
        },
        n0,
        n1,
        out,
      );
      break;
    }
    case "spike-count": {
      const d = withDefaults(m);
      _spikeCount(p, ctx, d.windowSeconds, d.dtSeconds, d.counter, d.overflowValue, n0, n1, out);
      break;
    }
    default:
      throw new RangeError(`${m.kind} is measured per chip, not per block of neurons`);
  }
  return out;
}

function _restBelowThreshold(p: KernelParams, n: number, twin: TwinConfig): number {
  const v = restingPotential(p as ChipParams, n, twin);
  return p.thresholdEnable[n] && v > p.VT[n]! ? p.VT[n]! : v;
}

/** The two CADC channels of a block of neurons, as struct-of-arrays. */
interface CadcBlock {
  readonly low0: Float64Array;
  readonly delta0: Float64Array;
  readonly lsb0: Float64Array;
  readonly dig0: Float64Array;
  readonly pre0: Float64Array;
  readonly low1: Float64Array;
  readonly delta1: Float64Array;
  readonly lsb1: Float64Array;
  readonly dig1: Float64Array;
  readonly pre1: Float64Array;
  /** CADC read noise (LSB). */
  readonly sd: number;
}

function _cadcBlock(p: KernelParams, ctx: ChipContext, n0: number, n1: number): CadcBlock {
  const len = n1 - n0;
  const b: CadcBlock = {
    low0: p.cadcLow.slice(n0, n1),
    delta0: p.cadcDelta.slice(n0, n1),
    lsb0: p.cadcLsb.slice(n0, n1),
    dig0: Float64Array.from(p.cadcDigital.subarray(n0, n1)),
    pre0: new Float64Array(len),
    low1: p.cadcLow.slice(n0 + NEURONS, n1 + NEURONS),
    delta1: p.cadcDelta.slice(n0 + NEURONS, n1 + NEURONS),
    lsb1: p.cadcLsb.slice(n0 + NEURONS, n1 + NEURONS),
    dig1: Float64Array.from(p.cadcDigital.subarray(n0 + NEURONS, n1 + NEURONS)),
    pre1: new Float64Array(len),
    sd: ctx.twin.noise.cadc,
  };
  for (let i = 0; i < len; i++) {
    b.pre0[i] = hash3(ctx.key, ctx.op, lane(NoiseStream.cadc, n0 + i));
    b.pre1[i] = hash3(ctx.key, ctx.op, lane(NoiseStream.cadc, n0 + i + NEURONS));
  }
  return b;
}

/** A bound on |normalAt(·)|: the extreme uniforms give ±5.41998. */
const _NORMAL_BOUND = 5.5;

function _clampRound(r: number): number {
  const v = Math.round(r);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Mean of slot `i`'s two CADC channels reading `volts`, read number `read` (as `cadcRead`). */
function _cadcAt(b: CadcBlock, i: number, volts: number, read: number): number {
  let e0 = 0;
  let e1 = 0;
  const sd = b.sd;
  if (sd > 0) {
    e0 = sd * normalAt(b.pre0[i]!, read);
    e1 = sd * normalAt(b.pre1[i]!, read);
  }
  const r0 = (volts - b.low0[i]! - b.delta0[i]!) / b.lsb0[i]! + b.dig0[i]! + e0;
  const r1 = (volts - b.low1[i]! - b.delta1[i]!) / b.lsb1[i]! + b.dig1[i]! + e1;
  return 0.5 * (_clampRound(r0) + _clampRound(r1));
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

function _initialPrefix(ctx: ChipContext, n: number): number {
  return hash3(ctx.key, ctx.op, lane(NoiseStream.initial, n));
}

function _membraneNoise(ctx: ChipContext, n: number, sample: number): number {
  const sd = ctx.twin.noise.membrane;
  return sd > 0 ? sd * normalAt(_initialPrefix(ctx, n), sample) : 0;
}

function _settled(
  p: KernelParams,
  ctx: ChipContext,
  reads: number,
  held: boolean,
  n0: number,
  n1: number,
  out: Float32Array,
): void {
  const twin = ctx.twin;
  const sd = twin.noise.membrane;
  const cb = _cadcBlock(p, ctx, n0, n1);
  for (let i = 0; i < n1 - n0; i++) {
    const n = n0 + i;
    const v0 = held
      ? heldResetPotential(p as ChipParams, n, twin)
      : _restBelowThreshold(p, n, twin);
    const init = _initialPrefix(ctx, n);
    let sum = 0;
    for (let r = 0; r < reads; r++) {
      sum += _cadcAt(cb, i, v0 + (sd > 0 ? sd * normalAt(init, r) : 0), r);
    }
    out[i] = sum / reads;
  }
}

/**
 * One whole step of slot `i` (`lifStep`'s common case inline: free membrane,
 * no crossing; everything else through {@linkcode lifStepAt}).
 */
function _step(L: LifBlock, i: number, I: number, vInf: number, dt: number, sample: number): void {
  if (L.refLeft[i]! > 0) {
    lifStepAt(L, i, I, dt, sample);
    return;
  }
  let v1 = vInf + (L.v[i]! - vInf) * L.decay[i]!;
  const kick = L.kick[i]!;
  if (kick > 0) v1 += kick * normalAt(L.prefix[i]!, sample * 8);
  if (L.thr[i] && v1 >= L.VT[i]!) {
    lifStepAt(L, i, I, dt, sample);
    return;
  }
  L.v[i] = v1 < L.low ? L.low : v1 > L.high ? L.high : v1;
}

function _membranePrefixes(L: LifBlock, ctx: ChipContext, n0: number): void {
  for (let i = 0; i < L.len; i++) {
    L.prefix[i] = hash3(ctx.key, ctx.op, lane(NoiseStream.membrane, n0 + i));
  }
}

function _thresholdMax(
  p: KernelParams,
  ctx: ChipContext,
  samples: number,
  batches: number,
  sub: number,
  first: number,
  n0: number,
  n1: number,
  out: Float32Array,
  offset: number,
): void {
  const twin = ctx.twin;
  const dt = twin.cadc.readPeriod / sub;
  const len = n1 - n0;
  const L = lifBlock(p, twin, n0, n1, dt, true);
  _membranePrefixes(L, ctx, n0);
  const cb = _cadcBlock(p, ctx, n0, n1);
  const I = new Float64Array(len);
  const vInf = new Float64Array(len);
  const vHeld = new Float64Array(len);
  const best = new Float64Array(len).fill(-Infinity);
  for (let i = 0; i < len; i++) {
    const n = n0 + i;
    I[i] = p.Isyn[n]! + p.Ioff[n]!;
    vInf[i] = L.EL[i]! + I[i]! / L.gL[i]!;
    vHeld[i] = heldResetPotential(p as ChipParams, n, twin);
  }
  // Every normal draw lies within ±5.42 (24-bit uniforms through the inverse CDF).
  const bound = cb.sd * _NORMAL_BOUND;
  const s0 = new Float64Array(len);
  const s1 = new Float64Array(len);
  const o0 = new Float64Array(len);
  const o1 = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    s0[i] = 1 / cb.lsb0[i]!;
    s1[i] = 1 / cb.lsb1[i]!;
    o0[i] = -(cb.low0[i]! + cb.delta0[i]!) / cb.lsb0[i]! + cb.dig0[i]! + bound + 0.5;
    o1[i] = -(cb.low1[i]! + cb.delta1[i]!) / cb.lsb1[i]! + cb.dig1[i]! + bound + 0.5;
  }
  const per = first + samples;
  for (let b = 0; b < batches; b++) {
    L.v.set(vHeld);
    L.refLeft.set(L.tRef);
    for (let j = 0; j < per; j++) {
      if (j >= first) {
        const read = b * samples + (j - first);
        for (let i = 0; i < len; i++) {
          const v = L.v[i]!;
          // A read whose largest possible value (noise at its bound) cannot beat the best
          // so far changes nothing: skip its draws. First a cheap linear bound (round(x) ≤
          // x + 0.5, with a margin far above rounding errors), then the exact one.
          const l0 = s0[i]! * v + o0[i]!;
          const l1 = s1[i]! * v + o1[i]!;
          if (0.5 * ((l0 > 0 ? l0 : 0) + (l1 > 0 ? l1 : 0)) + 1e-6 <= best[i]!) continue;
          const a0 = (v - cb.low0[i]! - cb.delta0[i]!) / cb.lsb0[i]! + cb.dig0[i]!;
          const a1 = (v - cb.low1[i]! - cb.delta1[i]!) / cb.lsb1[i]! + cb.dig1[i]!;
          if (0.5 * (_clampRound(a0 + bound) + _clampRound(a1 + bound)) <= best[i]!) continue;
          const r = _cadcAt(cb, i, v, read);
          if (r > best[i]!) best[i] = r;
        }
      }
      // The steps after a batch's last read change no reading.
      if (j === per - 1) break;
      const base = (b * per + j) * sub;
      for (let s = 0; s < sub; s++) {
        for (let i = 0; i < len; i++) _step(L, i, I[i]!, vInf[i]!, dt, base + s);
      }
    }
  }
  for (let i = 0; i < len; i++) out[offset + i] = best[i]!;
}

function _tauMem(
  p: KernelParams,
  ctx: ChipContext,
  method: "offset" | "reset",
  windowSeconds: PerNeuron,
  stepSeconds: number,
  maxSamples: number,
  n0: number,
  n1: number,
  out: Float32Array,
): void {
  const twin = ctx.twin;
  const sigma = twin.noise.membrane;
  const madcSd = twin.noise.madc;
  const low = twin.rails.low;
  const high = twin.rails.high;
  const madcOffset = twin.madc.offset;
  const madcLsb = twin.madc.lsb;
  for (let n = n0; n < n1; n++) {
    const window = perNeuron(windowSeconds, ctx.chip ?? 0, n);
    const { n: per, dt } = sampling(window, twin.madc.samplePeriod, maxSamples);
    const gL = p.gL[n]!;
    const tau = p.C[n]! / gL;
    const vRest = Math.min(Math.max(p.EL[n]! + p.Isyn[n]! / gL, low), high);
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
    v = Math.min(Math.max(v, low), high);
    const e = Math.exp(-dt / tau);
    const kick = sigma * Math.sqrt(1 - e * e);
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const total = 3 * per;
    for (let j = 0; j < total; j++) {
      const eps = madcSd > 0 ? madcSd * normalAt(madcPrefix, j) : 0;
      // madcRead, inline.
      const m = Math.round((v - madcOffset) / madcLsb + eps);
      const read = m < 0 ? 0 : m > 1023 ? 1023 : m;
      if (j < per) s1 += read;
      else if (j < 2 * per) s2 += read;
      else s3 += read;
      v = vRest + (v - vRest) * e + (kick > 0 ? kick * normalAt(prefix, j + 1) : 0);
      if (v < low) v = low;
      else if (v > high) v = high;
    }
    out[n - n0] = tauFromThreeSums(s1, s2, s3, per, dt, TAU_MEM_BOUNDS).tau;
  }
}

function _tauMemCadc(
  p: KernelParams,
  ctx: ChipContext,
  wait: number,
  n0: number,
  n1: number,
  out: Float32Array,
): void {
  const twin = ctx.twin;
  const cb = _cadcBlock(p, ctx, n0, n1);
  for (let n = n0; n < n1; n++) {
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
    out[n - n0] = _cadcAt(
      cb,
      n - n0,
      Math.min(Math.max(v, twin.rails.low), twin.rails.high),
      0,
    );
  }
}

function _tauSyn(
  p: KernelParams,
  ctx: ChipContext,
  input: 0 | 1,
  windowSeconds: PerNeuron,
  events: number,
  weight: number,
  maxSamples: number,
  n0: number,
  n1: number,
  out: Float32Array,
): void {
  const twin = ctx.twin;
  const sigma = twin.noise.line;
  const madcSd = twin.noise.madc;
  const madcOffset = twin.madc.offset;
  const madcLsb = twin.madc.lsb;
  const lineRest = twin.lineRest;
  const taus = input === 0 ? p.tauSynExc : p.tauSynInh;
  const stream = input === 0 ? NoiseStream.lineExc : NoiseStream.lineInh;
  for (let n = n0; n < n1; n++) {
    const window = perNeuron(windowSeconds, ctx.chip ?? 0, n);
    const { n: per, dt } = sampling(window, twin.madc.samplePeriod, maxSamples);
    const tau = taus[n]!;
    const prefix = hash3(ctx.key, ctx.op, lane(stream, n));
    const madcPrefix = hash3(ctx.key, ctx.op, lane(NoiseStream.madc, n));
    let x = (sigma > 0 ? sigma * normalAt(prefix, 0) : 0) + events * p.dacAmp[n]! * weight;
    const e = Math.exp(-dt / tau);
    const kick = sigma * Math.sqrt(1 - e * e);
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let first = 0;
    const total = 3 * per;
    for (let j = 0; j < total; j++) {
      const eps = madcSd > 0 ? madcSd * normalAt(madcPrefix, j) : 0;
      // madcRead, inline.
      const m = Math.round((lineRest - x - madcOffset) / madcLsb + eps);
      const read = m < 0 ? 0 : m > 1023 ? 1023 : m;
      if (j === 0) first = read;
      if (j < per) s1 += read;
      else if (j < 2 * per) s2 += read;
      else s3 += read;
      x = x * e + (kick > 0 ? kick * normalAt(prefix, j + 1) : 0);
    }
    // A line that has not dropped by 10 MADC LSB at the first sample, against
    // the end of the window, is floating: calix reports +inf (pushes the bias up).
    const floating = s3 / per - first < 10;
    out[n - n0] = floating ? Infinity : tauFromThreeSums(s1, s2, s3, per, dt, TAU_SYN_BOUNDS).tau;
  }
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
  p: KernelParams,
  ctx: ChipContext,
  input: 0 | 1,
  o: { events: number; spacing: number; runs: number; weight: number; dt: number },
  n0: number,
  n1: number,
  out: Float32Array,
): void {
  const twin = ctx.twin;
  const sub = Math.max(1, Math.round(o.spacing / o.dt));
  const dt = o.spacing / sub;
  const sigmaLine = twin.noise.line;
  const sdV = twin.noise.membrane;
  const mMax = twin.coba.maxModulation;
  const len = n1 - n0;
  const L = lifBlock(p, twin, n0, n1, dt);
  _membranePrefixes(L, ctx, n0);
  const cb = _cadcBlock(p, ctx, n0, n1);
  const f = () => new Float64Array(len);
  const I0 = f();
  const eE = f();
  const eI = f();
  const avgE = f();
  const avgI = f();
  const kickE = f();
  const kickI = f();
  const jump = f();
  const prefE = f();
  const prefI = f();
  const vRest = f();
  const init = f();
  const xe = f();
  const xi = f();
  const before = f();
  const total = f();
  for (let i = 0; i < len; i++) {
    const n = n0 + i;
    I0[i] = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
    // The lines' decay over a step, their mean over it relative to the start, their noise kick.
    const tauE = p.tauSynExc[n]!;
    const tauI = p.tauSynInh[n]!;
    eE[i] = Math.exp(-dt / tauE);
    eI[i] = Math.exp(-dt / tauI);
    avgE[i] = (tauE / dt) * (1 - eE[i]!);
    avgI[i] = (tauI / dt) * (1 - eI[i]!);
    kickE[i] = sigmaLine * Math.sqrt(1 - eE[i]! * eE[i]!);
    kickI[i] = sigmaLine * Math.sqrt(1 - eI[i]! * eI[i]!);
    jump[i] = p.dacAmp[n]! * o.weight;
    prefE[i] = hash3(ctx.key, ctx.op, lane(NoiseStream.lineExc, n));
    prefI[i] = hash3(ctx.key, ctx.op, lane(NoiseStream.lineInh, n));
    vRest[i] = _restBelowThreshold(p, n, twin);
    init[i] = _initialPrefix(ctx, n);
  }
  const gmE = p.gmExc.subarray(n0, n1);
  const gmI = p.gmInh.subarray(n0, n1);
  const crefE = p.crefExc.subarray(n0, n1);
  const crefI = p.crefInh.subarray(n0, n1);
  const betaE = p.betaExc.subarray(n0, n1);
  const betaI = p.betaInh.subarray(n0, n1);
  const stepsPerRun = (o.events + 1) * sub;
  const v = L.v;
  for (let r = 0; r < o.runs; r++) {
    const base = r * (stepsPerRun + 1);
    for (let i = 0; i < len; i++) {
      v[i] = vRest[i]! + (sdV > 0 ? sdV * normalAt(init[i]!, r) : 0);
      L.refLeft[i] = 0;
      xe[i] = sigmaLine > 0 ? sigmaLine * normalAt(prefE[i]!, base) : 0;
      xi[i] = sigmaLine > 0 ? sigmaLine * normalAt(prefI[i]!, base) : 0;
      before[i] = _cadcAt(cb, i, v[i]!, 2 * r);
    }
    for (let j = 0; j < stepsPerRun; j++) {
      const event = j % sub === 0 && j / sub < o.events;
      const sample = base + j;
      for (let i = 0; i < len; i++) {
        if (event) {
          if (input === 0) xe[i]! += jump[i]!;
          else xi[i]! += jump[i]!;
        }
        // COBA: each input's current is modulated by the membrane at the step's start.
        const vi = v[i]!;
        const I = I0[i]! +
          gmE[i]! * xe[i]! * avgE[i]! * cobaModulation(vi, crefE[i]!, betaE[i]!, 1, mMax) -
          gmI[i]! * xi[i]! * avgI[i]! * cobaModulation(vi, crefI[i]!, betaI[i]!, -1, mMax);
        _step(L, i, I, L.EL[i]! + I / L.gL[i]!, dt, sample);
        // A line whose input is off (gm = 0) adds ±0 to the current whatever its value: its
        // draws change no reading, and are skipped.
        if (gmE[i] !== 0) {
          const ke = kickE[i]!;
          xe[i] = xe[i]! * eE[i]! + (ke > 0 ? ke * normalAt(prefE[i]!, sample + 1) : 0);
        }
        if (gmI[i] !== 0) {
          const ki = kickI[i]!;
          xi[i] = xi[i]! * eI[i]! + (ki > 0 ? ki * normalAt(prefI[i]!, sample + 1) : 0);
        }
      }
    }
    for (let i = 0; i < len; i++) total[i]! += _cadcAt(cb, i, v[i]!, 2 * r + 1) - before[i]!;
  }
  for (let i = 0; i < len; i++) out[i] = (input === 0 ? 1 : -1) * total[i]! / o.runs;
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
  p: KernelParams,
  ctx: ChipContext,
  window: number,
  dtSeconds: number,
  counter: "8bit" | "exact",
  overflowValue: number,
  n0: number,
  n1: number,
  out: Float32Array,
): void {
  const twin = ctx.twin;
  const steps = Math.max(1, Math.round(window / dtSeconds));
  const dt = window / steps;
  const len = n1 - n0;
  const L = lifBlock(p, twin, n0, n1, dt);
  _membranePrefixes(L, ctx, n0);
  const I = new Float64Array(len);
  const vInf = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    const n = n0 + i;
    I[i] = p.Isyn[n]! + (p.offsetEnable[n] ? p.Ioff[n]! : 0);
    vInf[i] = L.EL[i]! + I[i]! / L.gL[i]!;
    // Counting starts right after a reset of every neuron (calix resets the counters).
    L.v[i] = heldResetPotential(p as ChipParams, n, twin);
    L.refLeft[i] = L.tRef[i]!;
  }
  const { v, refLeft, decay, kick, prefix, thr, VT, low, high } = L;
  for (let j = 0; j < steps; j++) {
    const sample = j * 8;
    for (let i = 0; i < len; i++) {
      // lifStep's common case inline: free membrane, whole step, no crossing.
      if (refLeft[i]! > 0) {
        lifStepAt(L, i, I[i]!, dt, j);
        continue;
      }
      const inf = vInf[i]!;
      let v1 = inf + (v[i]! - inf) * decay[i]!;
      const k = kick[i]!;
      if (k > 0) v1 += k * normalAt(prefix[i]!, sample);
      if (thr[i] && v1 >= VT[i]!) {
        lifStepAt(L, i, I[i]!, dt, j);
        continue;
      }
      v[i] = v1 < low ? low : v1 > high ? high : v1;
    }
  }
  for (let i = 0; i < len; i++) {
    const s = L.spikes[i]!;
    out[i] = counter === "8bit" && s > 255 ? overflowValue : s;
  }
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
