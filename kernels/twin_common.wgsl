// twin_common.wgsl — shared by every lifcal twin kernel (concatenated in front
// of params.wgsl, measure.wgsl and search.wgsl by backends/webgpu/kernels.ts).
//
// What it holds: the buffer layouts (structs whose field order the TypeScript
// packers in backends/webgpu/layout.ts mirror), the one bind group every
// pipeline shares, the counter-based RNG of backends/rng.ts (PCG hash chain,
// inverse-normal-CDF normals: the CPU executor's stream, each draw the same
// quantile of the same uniform to f32 precision),
// and the readout and integration helpers of backends/cpu/*.ts.
//
// Invariants: only lifStep loops (at most six segment iterations per step);
// callers keep every invocation's total loop iterations below 65 535
// (llvmpipe silently stops loops there, counting every loop's back-edges).
//
// Written for llvmpipe as much as for GPUs: llvmpipe runs the code of every
// branch, taken or not (masked), so costs add up over all paths; hot code is
// straight-line with selects, a mode that must not cost the others is an
// entry point of its own, and a short loop is a do-while (a loop whose test
// sits at the top runs its body once more, masked, after the last pass).

// ---- layouts --------------------------------------------------------------

// Model numbers of TwinConfig that kernels need (one uniform, uploaded once).
struct Twin {
  cellOffset: f32, cellSpan: f32, railLow: f32, railHigh: f32,
  sigmaMembrane: f32, sigmaLine: f32, sigmaCadc: f32, sigmaMadc: f32,
  lineRest: f32, madcOffset: f32, madcLsb: f32, cadcPeriod: f32,
  kappaPivot: f32, capFull: f32, leakG: f32, synCs: f32,
  synG: f32, otaFull: f32, refPivot: f32, dacPerWeight: f32,
  dacRef: f32, offsetPerCode: f32, resetTau: f32, resetCodeRef: f32,
  cadcOffsetSpan: f32, cadcLsbBase: f32, cadcLsbSpan: f32, xtPivot: f32,
  xtRamp: f32, xtSameCode: f32, refractoryClock: f32, infinity: f32,
  cobaBeta: f32, cobaCodeRef: f32, cobaMax: f32, pad0: f32,
}

// Per-dispatch settings (one 256-byte slot of a uniform buffer, dynamic offset).
// `chips`: act chips of the dispatch; `op`: operation counter offset added
// to each chip's base; `u*`/`f*`: kind-specific, named where they are used.
struct Desc {
  chips: u32, op: u32, u0: u32, u1: u32,
  u2: u32, u3: u32, u4: u32, u5: u32,
  u6: u32, u7: u32, u8: u32, u9: u32,
  u10: u32, u11: u32, u12: u32, u13: u32,
  f0: f32, f1: f32, f2: f32, f3: f32,
  f4: f32, f5: f32, f6: f32, f7: f32,
}

struct NeuronMismatch {
  leakA: f32, leakB: f32, leakKappa: f32, resetA: f32,
  resetB: f32, thresholdA: f32, thresholdB: f32, capIntrinsic: f32,
  capGain: f32, leakK: f32, leakGamma: f32, leakDivRatio: f32,
  leakMulRatio: f32, leakParasitic: f32, synTauKExc: f32, synTauKInh: f32,
  synTauGammaExc: f32, synTauGammaInh: f32, synHrExc: f32, synHrInh: f32,
  synParasiticExc: f32, synParasiticInh: f32, gmKExc: f32, gmKInh: f32,
  refRhoExc: f32, refRhoInh: f32, refLambdaExc: f32, refLambdaInh: f32,
  offsetK: f32, resetK: f32, crosstalkCoupling: f32, sameCodeLeak: f32,
  sameCodeReset: f32, sameCodeThreshold: f32, cobaAExc: f32, cobaAInh: f32,
  cobaBExc: f32, cobaBInh: f32, cobaKExc: f32, cobaKInh: f32,
  cobaGammaExc: f32, cobaGammaInh: f32, sameCodeCobaExc: f32, sameCodeCobaInh: f32,
}

struct QuadrantMismatch { gain: f32, dacK: f32, cadcOffsetK: f32, cadcSlopeK: f32 }

// The 31 per-neuron fields of backends/config.ts, in FIELD order (layout.ts NEURON_FIELDS;
// tests/webgpu_test.ts holds the two together).
struct NeuronConfig {
  v_leak: i32, v_reset: i32, v_threshold: i32, i_bias_leak: i32,
  i_bias_reset: i32, i_mem_offset: i32, i_bias_synin_exc_tau: i32, i_bias_synin_exc_gm: i32,
  i_bias_synin_exc_shift: i32, i_bias_synin_inh_tau: i32, i_bias_synin_inh_gm: i32, i_bias_synin_inh_shift: i32,
  e_synin_exc_rev: i32, e_synin_inh_rev: i32, i_bias_synin_exc_coba: i32, i_bias_synin_inh_coba: i32,
  membrane_capacitance: i32, leak_division: i32, leak_multiplication: i32, synin_exc_enable: i32,
  synin_inh_enable: i32, synin_exc_high_resistance: i32, synin_inh_high_resistance: i32, coba_exc_enable: i32,
  coba_inh_enable: i32, threshold_enable: i32, offset_current_enable: i32, refractory_counter: i32,
  reset_holdoff: i32, input_clock: i32, enable_readout: i32,
}

// Per-chip cells: quadrant cells ×4, then hemisphere scalers ×2.
struct ChipConfig {
  syn_i_bias_dac: array<i32, 4>,
  cadc_v_ramp_offset: array<i32, 4>,
  cadc_i_ramp_slope: array<i32, 4>,
  clock_scale_fast: array<i32, 2>,
  clock_scale_slow: array<i32, 2>,
}

// Effective parameters of a neuron (backends/twin/physics.ts ChipParams).
struct NeuronParams {
  C: f32, gL: f32, EL: f32, VRcell: f32,
  gR: f32, VT: f32, thresholdEnable: f32, Ioff: f32,
  offsetEnable: f32, Isyn: f32, gmExc: f32, gmInh: f32,
  tauSynExc: f32, tauSynInh: f32, dacAmp: f32, tRef: f32,
  tReset: f32, crefExc: f32, crefInh: f32, betaExc: f32,
  betaInh: f32, pad0: f32, pad1: f32, pad2: f32,
}

struct ChannelParams { low: f32, lsb: f32, delta: f32, digital: f32 }

// Per act chip of a dispatch: its index in the batch, its RNG key, its
// operation counter at the start of the encoded work, and its readout neuron
// (enable_readout; 0xffffffff where it has none).
struct ChipInfo { chip: u32, key: u32, opBase: u32, readout: u32 }

// State of a neuron kept between the dispatches of a chunked measurement.
struct MeasState { v: f32, refLeft: f32, best: f32, spikes: f32, xe: f32, xi: f32, a0: f32, a1: f32 }

@group(0) @binding(0) var<uniform> twin: Twin;
@group(0) @binding(1) var<uniform> desc: Desc;
@group(0) @binding(2) var<storage, read> mismNeuron: array<NeuronMismatch>;
@group(0) @binding(3) var<storage, read> mismQuadrant: array<QuadrantMismatch>;
// Per chip 1025 values: the 1024 channels' analog offsets, then the reference cell's coupling.
@group(0) @binding(4) var<storage, read> mismChannel: array<f32>;
@group(0) @binding(5) var<storage, read_write> cfgNeuron: array<NeuronConfig>;
@group(0) @binding(6) var<storage, read_write> cfgChip: array<ChipConfig>;
@group(0) @binding(7) var<storage, read_write> cfgChannel: array<i32>;
@group(0) @binding(8) var<storage, read_write> parNeuron: array<NeuronParams>;
// Per chip 1025 entries: the 1024 channels, then (g0, reference shift, 0, 0).
@group(0) @binding(9) var<storage, read_write> parChannel: array<ChannelParams>;
@group(0) @binding(10) var<storage, read> chipInfo: array<ChipInfo>;
@group(0) @binding(11) var<storage, read_write> readings: array<f32>;
@group(0) @binding(12) var<storage, read_write> mstate: array<MeasState>;
// Per neuron of every chip: kind-specific settings (e.g. samples and period of a trace).
@group(0) @binding(13) var<storage, read> aux: array<vec2<f32>>;
@group(0) @binding(14) var<storage, read_write> sInt: array<i32>;
@group(0) @binding(15) var<storage, read_write> sFloat: array<f32>;
// Per neuron of every chip 8 words from quadrantStats (params.wgsl): same-code
// counts of the five voltage rows, then the quadrant's mean current code (f32 bits).
@group(0) @binding(16) var<storage, read_write> stats: array<u32>;

const NEURONS: u32 = 512u;
const CHANNELS: u32 = 1024u;

// Linear invocation index across a 2-D grid of workgroups of size `wg`.
fn linearIndex(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, wg: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg + lid;
}

// ---- random numbers (backends/rng.ts) ----------------------------------------

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn hash3(a: u32, b: u32, c: u32) -> u32 {
  return pcg(c ^ pcg(b ^ pcg(a)));
}

fn hashFinish(prefix: u32, d: u32) -> u32 {
  return pcg(d ^ prefix);
}

// The standard normal quantile of the uniform (k + ½)·2^−24, k = h >> 8 of
// a hash (backends/rng.ts toUniform and inverseNormal), for f32 SIMD
// execution:
// - From k exactly: t = min(p, 1 − p) = m·2^−25 with m odd and below 2^24,
//   which f32 holds exactly (p itself it does not: for k ≥ 2^23 p needs 25
//   bits, and k = 2^24 − 1 would round to p = 1).
// - With s = √(−2 ln t), one rational function of x = s − 2 of degree (4, 3)
//   gives |z| over the whole range, without a branch: a SIMD CPU (llvmpipe)
//   runs both sides of a divergent branch, so a separate tail — Acklam's,
//   which the CPU executor evaluates in f64 — would cost every draw a second
//   rational and a logarithm.
// Over all 2^24 values of k it lies within 2e-6 of the CPU's draw
// (tests/normal_kernel_test.ts; a least-squares fit, minimax-weighted).
fn normalQuantile(k: u32) -> f32 {
  let upper = k >= 0x800000u;
  let m = select(2u * k + 1u, 0x2000000u - 2u * k - 1u, upper);
  let t = f32(m) * 2.98023223876953125e-8;
  let x = sqrt(-2.0 * log(t)) - 2.0;
  let z = ((((0.015745016694293734 * x + 0.25336731117281897) * x + 1.2436234601336804) * x +
    2.1994009472120526) * x + 1.1015196215430332) /
    (((0.015734341817283504 * x + 0.2225394302608118) * x + 0.8668664082786217) * x + 1.0);
  return select(-z, z, upper);
}

fn normalAt(prefix: u32, sample: u32) -> f32 {
  return normalQuantile(hashFinish(prefix, sample) >> 8u);
}

// Noise streams (backends/rng.ts NoiseStream) and lanes.
const STREAM_MEMBRANE: u32 = 1u;
const STREAM_LINE_EXC: u32 = 2u;
const STREAM_LINE_INH: u32 = 3u;
const STREAM_CADC: u32 = 4u;
const STREAM_MADC: u32 = 5u;
const STREAM_INITIAL: u32 = 6u;

fn lane(stream: u32, index: u32) -> u32 {
  return (stream << 11u) | index;
}

// ---- readout (backends/twin/physics.ts) -------------------------------------

// NaN and infinity tests on the bits. WGSL lets an implementation assume
// that float arithmetic and comparisons see neither (lavapipe folds x != x to
// false and |x| ≤ max to true), so a test written with comparisons may
// vanish; integer tests of the bit pattern cannot.
fn isNanF(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn finiteF(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u;
}

fn clampf(v: f32, lo: f32, hi: f32) -> f32 {
  return min(max(v, lo), hi);
}

fn cadcReadWith(p: ChannelParams, volts: f32, epsilon: f32) -> f32 {
  let r = (volts - p.low - p.delta) / p.lsb + p.digital + epsilon;
  return clampf(round(r), 0.0, 255.0);
}

fn cadcRead(ch: u32, volts: f32, epsilon: f32) -> f32 {
  return cadcReadWith(parChannel[ch], volts, epsilon);
}

fn madcRead(volts: f32, epsilon: f32) -> f32 {
  return clampf(round((volts - twin.madcOffset) / twin.madcLsb + epsilon), 0.0, 1023.0);
}

// A neuron's two CADC channels for an operation: their noise-hash prefixes
// and parameters, loaded once (hoisted out of loops).
struct NeuronCadc { prefixes: vec2<u32>, c0: ChannelParams, c1: ChannelParams }

fn neuronCadcOf(info: ChipInfo, op: u32, n: u32) -> NeuronCadc {
  let base = info.chip * 1025u + n;
  return NeuronCadc(
    vec2<u32>(
      hash3(info.key, op, lane(STREAM_CADC, n)),
      hash3(info.key, op, lane(STREAM_CADC, n + NEURONS)),
    ),
    parChannel[base],
    parChannel[base + NEURONS],
  );
}

// Mean of a neuron's two CADC channels reading `volts`, read number `read`.
fn readNeuronCadc(c: NeuronCadc, volts: f32, read: u32) -> f32 {
  var e0 = 0.0;
  var e1 = 0.0;
  if (twin.sigmaCadc > 0.0) {
    e0 = twin.sigmaCadc * normalAt(c.prefixes.x, read);
    e1 = twin.sigmaCadc * normalAt(c.prefixes.y, read);
  }
  return 0.5 * (cadcReadWith(c.c0, volts, e0) + cadcReadWith(c.c1, volts, e1));
}

// Mean of a neuron's two CADC channels reading `volts`; read number `read`.
fn neuronCadc(info: ChipInfo, op: u32, n: u32, volts: f32, read: u32) -> f32 {
  return readNeuronCadc(neuronCadcOf(info, op, n), volts, read);
}

fn restingPotential(p: NeuronParams) -> f32 {
  let I = p.Isyn + select(0.0, p.Ioff, p.offsetEnable > 0.5);
  return clampf(p.EL + I / p.gL, twin.railLow, twin.railHigh);
}

// COBA modulation of an input's OTA current at membrane potential v
// (backends/twin/physics.ts cobaModulation): clamp(1 − s·β·(v − V_cref), 0, max);
// exactly 1 where COBA is off (β = 0).
fn cobaModulation(v: f32, cref: f32, beta: f32, sign: f32) -> f32 {
  return clampf(1.0 - sign * beta * (v - cref), 0.0, twin.cobaMax);
}

// One integration step of a neuron's two synaptic lines: decay factors,
// mean over the step relative to the start value (what the membrane sees),
// and the OU noise kick of each (the CPU's `_lineStep`).
struct LineStep { eE: f32, eI: f32, avgE: f32, avgI: f32, kickE: f32, kickI: f32 }

fn lineStep(p: NeuronParams, dt: f32) -> LineStep {
  let eE = exp(-dt / p.tauSynExc);
  let eI = exp(-dt / p.tauSynInh);
  return LineStep(
    eE,
    eI,
    (p.tauSynExc / dt) * (1.0 - eE),
    (p.tauSynInh / dt) * (1.0 - eI),
    twin.sigmaLine * sqrt(1.0 - eE * eE),
    twin.sigmaLine * sqrt(1.0 - eI * eI),
  );
}

fn heldResetPotential(p: NeuronParams) -> f32 {
  let I = p.Isyn + select(0.0, p.Ioff, p.offsetEnable > 0.5);
  return clampf((p.gR * p.VRcell + p.gL * p.EL + I) / (p.gR + p.gL), twin.railLow, twin.railHigh);
}

// ---- integration (backends/cpu/lif_step.ts) ---------------------------------

// 1 − e^(−x) without cancellation for small x (f32 has no expm1).
fn oneMinusExp(x: f32) -> f32 {
  return select(1.0 - exp(-x), x * (1.0 - x * (0.5 - x * 0.16666667)), x < 1e-3);
}

// ln(1 + x) without cancellation for small x (f32 has no log1p).
fn log1pSelect(x: f32) -> f32 {
  let u = 1.0 + x;
  return select(log(u) * x / (u - 1.0), x, u == 1.0);
}

// Exact OU relaxation over `span`, written as v + (goal − v)·(1 − e^(−span/τ))
// so that f32 keeps the step when the goal is far away and τ long (a
// membrane ramping on an offset current with the leak off).
fn ou(v: f32, goal: f32, tau: f32, span: f32, prefix: u32, index: u32) -> f32 {
  let om = oneMinusExp(span / tau);
  let next = v + (goal - v) * om;
  if (twin.sigmaMembrane == 0.0) {
    return next;
  }
  return next + twin.sigmaMembrane * sqrt(om * (2.0 - om)) * normalAt(prefix, index);
}

struct Lif {
  v: f32,
  refLeft: f32,
  spikes: f32,
  t: f32,
}

// Per-neuron constants of a step `dt`: the relaxation factor and noise scale
// of a whole step free and of a whole step inside the reset clamp, and the
// free and clamped time constants.
struct LifK {
  dt: f32,
  omFree: f32,
  kickFree: f32,
  omClamp: f32,
  kickClamp: f32,
  tau: f32,
  tauClamp: f32,
  rateFree: f32,
  rateClamp: f32,
}

fn lifConstants(p: NeuronParams, dt: f32) -> LifK {
  let omFree = oneMinusExp(dt * p.gL / p.C);
  let omClamp = oneMinusExp(dt * (p.gL + p.gR) / p.C);
  return LifK(
    dt,
    omFree,
    twin.sigmaMembrane * sqrt(omFree * (2.0 - omFree)),
    omClamp,
    twin.sigmaMembrane * sqrt(omClamp * (2.0 - omClamp)),
    p.C / p.gL,
    p.C / (p.gL + p.gR),
    p.gL / p.C,
    (p.gL + p.gR) / p.C,
  );
}

// One step of `k.dt` at input current I, as segments (backends/cpu/lif_step.ts):
// a segment runs to the end of the step or of the neuron's phase (reset
// clamp, holdoff, free), and a threshold crossing ends a free one; segment
// `seg` draws normal number base + seg. A whole step in one phase takes the
// precomputed factors (the CPU's whole-step update).
//
// Written for SIMD CPUs (llvmpipe) as much as for GPUs: llvmpipe runs both
// sides of every branch whose condition differs between lanes, so the
// segment is one straight-line update whose phase-dependent inputs and
// outcomes are selected, and the loop runs as many segments as the busiest
// lane needs (one, in a step without a boundary).
fn lifStep(s: ptr<function, Lif>, p: NeuronParams, k: LifK, threshold: bool, I: f32, prefix: u32, sample: u32) {
  let base = sample * 8u;
  let vInf = p.EL + I / p.gL;
  let vEq = (p.gR * p.VRcell + p.gL * p.EL + I) / (p.gL + p.gR);
  (*s).t = k.dt;
  // A do-while: the exit test sits at the end of the body, so that when no
  // lane has time left the loop ends. With the test at the top (a `for`),
  // llvmpipe ran the whole body once more, masked, on every step: measured,
  // that doubled the cost of a step.
  var seg = 0u;
  loop {
    var z = 0.0;
    if (twin.sigmaMembrane > 0.0) { z = normalAt(prefix, base + seg); }
    let t = (*s).t;
    let refractory = (*s).refLeft > 0.0;
    let clampLeft = (*s).refLeft - (p.tRef - p.tReset);
    let inClamp = refractory && clampLeft > 0.0;
    let span = select(t, min(t, select((*s).refLeft, clampLeft, inClamp)), refractory);
    let goal = select(vInf, vEq, inClamp);
    let whole = span == k.dt;
    let omPart = oneMinusExp(span * select(k.rateFree, k.rateClamp, inClamp));
    let om = select(omPart, select(k.omFree, k.omClamp, inClamp), whole);
    let kick = select(twin.sigmaMembrane * sqrt(om * (2.0 - om)), select(k.kickFree, k.kickClamp, inClamp), whole);
    let v0 = (*s).v;
    let v1 = v0 + (goal - v0) * om + kick * z;
    let crossing = !refractory && threshold && v1 >= p.VT;
    // Where a crossing lies inside the segment: at once (already above V_T),
    // on the exact trajectory towards a goal above V_T, or linearly.
    let crossExact = k.tau * log1pSelect((p.VT - v0) / (vInf - p.VT));
    let crossLinear = t * (p.VT - v0) / (v1 - v0);
    let crossAt = clampf(select(select(crossLinear, crossExact, vInf > p.VT), 0.0, v0 >= p.VT), 0.0, t);
    let spent = select(select(t, span, refractory), crossAt, crossing);
    var v = select(v1, p.VT, crossing);
    if (crossing && !(p.tRef > 0.0)) { v = p.VRcell; }
    (*s).v = clampf(v, twin.railLow, twin.railHigh);
    (*s).spikes = (*s).spikes + select(0.0, 1.0, crossing);
    var left = select((*s).refLeft, (*s).refLeft - span, refractory);
    left = select(left, p.tRef, crossing && p.tRef > 0.0);
    (*s).refLeft = select(left, 0.0, left < 1e-15);
    (*s).t = t - spent;
    seg = seg + 1u;
    if (!((*s).t > 0.0) || seg >= 6u) { break; }
  }
}
