// params.wgsl — the twin's transfer functions (backends/twin/physics.ts) on
// the GPU: configuration + mismatch → effective parameters of every neuron
// and CADC channel, so a search can change codes without leaving the GPU.
//
// Two dispatches, neither with workgroup memory or barriers (on llvmpipe a
// workgroup that synchronises runs as coroutines, which cost more than the
// whole computation):
// - quadrantStats: one invocation per (row, quadrant) of every act chip
//   (6 × desc.chips × 4 invocations): row 0 sums the quadrant's current
//   codes (crosstalk m_q; the COBA current cells are not part of it), rows
//   1..5 count, for each neuron, the quadrant's neurons whose code of a
//   voltage row lies within 1 of its own (a histogram of the row's codes in
//   private memory: 257 + 2 × 128 loop iterations). Results go to `stats`.
//   desc.u0: the rows to compute (bit r: row r), those the writes since the
//   last dispatch made stale.
// - computeParams: one invocation per neuron (desc.chips × 4 workgroups of
//   128), reading its stats.
// - updatePotentials, instead of computeParams when only voltage rows were
//   written since the last update: those potentials alone.

const STAT_ROWS: u32 = 8u;
const STAT_MQ: u32 = 5u;

// The sum of the nine current codes of neuron `i` (crosstalk), loading only them (a loop that loads a
// whole NeuronConfig gathers all 31 of them on a SIMD CPU).
fn currentSumAt(i: u32) -> i32 {
  return cfgNeuron[i].i_bias_leak + cfgNeuron[i].i_bias_reset + cfgNeuron[i].i_mem_offset +
    cfgNeuron[i].i_bias_synin_exc_tau + cfgNeuron[i].i_bias_synin_exc_gm +
    cfgNeuron[i].i_bias_synin_exc_shift + cfgNeuron[i].i_bias_synin_inh_tau +
    cfgNeuron[i].i_bias_synin_inh_gm + cfgNeuron[i].i_bias_synin_inh_shift;
}

// The code of voltage row `row` (1..5: v_leak, v_reset, v_threshold,
// e_synin_exc_rev, e_synin_inh_rev) of neuron `i`, as a histogram bin
// (codes 0..1022 at bins 1..1023; bins 0 and 1024 stay empty).
fn voltageBin(i: u32, row: u32) -> u32 {
  var code: i32;
  switch (row) {
    case 1u: { code = cfgNeuron[i].v_leak; }
    case 2u: { code = cfgNeuron[i].v_reset; }
    case 3u: { code = cfgNeuron[i].v_threshold; }
    case 4u: { code = cfgNeuron[i].e_synin_exc_rev; }
    default: { code = cfgNeuron[i].e_synin_inh_rev; }
  }
  return u32(clamp(code, 0, 1022)) + 1u;
}

// One invocation per (row, quadrant): the row varies slowest, so the lanes of
// a SIMD group mostly share it (one switch case, and whole workgroups skip a
// row that is not stale).
@compute @workgroup_size(8)
fn quadrantStats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let idx = linearIndex(wid, nwg, lid, 8u);
  let quadrants = desc.chips * 4u;
  let row = idx / quadrants;
  if (row >= 6u) { return; }
  if (((desc.u0 >> row) & 1u) == 0u) { return; }
  let info = chipInfo[(idx % quadrants) / 4u];
  let first = info.chip * NEURONS + (idx % 4u) * 128u;
  if (row == 0u) {
    var sum = 0;
    for (var j = 0u; j < 128u; j++) {
      sum += currentSumAt(first + j);
    }
    let mq = bitcast<u32>(f32(sum) / (128.0 * 9.0));
    for (var j = 0u; j < 128u; j++) {
      stats[(first + j) * STAT_ROWS + STAT_MQ] = mq;
    }
    return;
  }
  // Four bins a word, one byte each: at most 128 neurons share a code.
  var hist: array<u32, 257>;
  for (var w = 0u; w < 257u; w++) {
    hist[w] = 0u;
  }
  for (var j = 0u; j < 128u; j++) {
    let bin = voltageBin(first + j, row);
    hist[bin >> 2u] += 1u << (8u * (bin & 3u));
  }
  for (var j = 0u; j < 128u; j++) {
    let bin = voltageBin(first + j, row);
    var count = 0u;
    var b = bin - 1u;
    loop {
      count += (hist[b >> 2u] >> (8u * (b & 3u))) & 255u;
      b++;
      if (b > bin + 1u) { break; }
    }
    stats[(first + j) * STAT_ROWS + row - 1u] = count;
  }
}

// The voltage cells (TWIN.md §4): a CapMem code through the quadrant's gain
// g, plus the crosstalk shift and the same-code term of `count` neighbours.
fn voltageCell(g: f32, code: i32, shift: f32, sameCode: f32, count: u32) -> f32 {
  return g * (twin.cellOffset + f32(code) / 1022.0 * twin.cellSpan) + shift +
    twin.xtSameCode * sameCode * f32(i32(count) - 1) / 127.0;
}

// The five potentials a voltage row sets, for neuron i (quadrant gain g,
// crosstalk shift): the same expressions for a full and a partial update.
fn leakPotential(i: u32, g: f32, shift: f32) -> f32 {
  let cell = voltageCell(g, cfgNeuron[i].v_leak, shift, mismNeuron[i].sameCodeLeak, stats[i * STAT_ROWS]);
  let uLeakBias = f32(cfgNeuron[i].i_bias_leak) / 1022.0;
  return mismNeuron[i].leakA * cell + mismNeuron[i].leakB + mismNeuron[i].leakKappa * (uLeakBias - twin.kappaPivot);
}

fn resetCell(i: u32, g: f32, shift: f32) -> f32 {
  let cell = voltageCell(g, cfgNeuron[i].v_reset, shift, mismNeuron[i].sameCodeReset, stats[i * STAT_ROWS + 1u]);
  return mismNeuron[i].resetA * cell + mismNeuron[i].resetB;
}

fn thresholdPotential(i: u32, g: f32, shift: f32) -> f32 {
  let cell = voltageCell(g, cfgNeuron[i].v_threshold, shift, mismNeuron[i].sameCodeThreshold,
    stats[i * STAT_ROWS + 2u]);
  return mismNeuron[i].thresholdA * cell + mismNeuron[i].thresholdB;
}

// COBA (TWIN.md §8): the reference cells are voltage cells like the others.
fn cobaReferenceExc(i: u32, g: f32, shift: f32) -> f32 {
  let cell = voltageCell(g, cfgNeuron[i].e_synin_exc_rev, shift, mismNeuron[i].sameCodeCobaExc,
    stats[i * STAT_ROWS + 3u]);
  return mismNeuron[i].cobaAExc * cell + mismNeuron[i].cobaBExc;
}

fn cobaReferenceInh(i: u32, g: f32, shift: f32) -> f32 {
  let cell = voltageCell(g, cfgNeuron[i].e_synin_inh_rev, shift, mismNeuron[i].sameCodeCobaInh,
    stats[i * STAT_ROWS + 4u]);
  return mismNeuron[i].cobaAInh * cell + mismNeuron[i].cobaBInh;
}

// Every parameter of neuron i and its two CADC channels.
fn fullParams(s: Site) {
  let i = s.i;
  let info = s.info;
  let q = s.q;
  let n = s.n;
  let qm = s.qm;
  let g = qm.gain;
  let shift = s.shift;
  let xt = s.xt;
  let cfg = cfgNeuron[i];
  let uLeakBias = f32(cfg.i_bias_leak) / 1022.0;

  var p: NeuronParams;
  p.EL = leakPotential(i, g, shift);
  p.VRcell = resetCell(i, g, shift);
  p.VT = thresholdPotential(i, g, shift);
  p.C = mismNeuron[i].capIntrinsic + f32(cfg.membrane_capacitance) / 63.0 * twin.capFull * mismNeuron[i].capGain;
  var range = 1.0;
  if (cfg.leak_division != 0) { range = range * mismNeuron[i].leakDivRatio; }
  if (cfg.leak_multiplication != 0) { range = range * mismNeuron[i].leakMulRatio; }
  p.gL = mismNeuron[i].leakK * twin.leakG * pow(uLeakBias, mismNeuron[i].leakGamma) * range + mismNeuron[i].leakParasitic;
  if (cfg.i_bias_reset == 0) {
    p.gR = 0.0;
  } else {
    p.gR = p.C / (twin.resetTau * (twin.resetCodeRef / f32(cfg.i_bias_reset)) * mismNeuron[i].resetK);
  }
  p.thresholdEnable = f32(cfg.threshold_enable);
  p.offsetEnable = f32(cfg.offset_current_enable);
  p.Ioff = mismNeuron[i].offsetK * twin.offsetPerCode * f32(cfg.i_mem_offset);
  let hrExc = select(1.0, mismNeuron[i].synHrExc, cfg.synin_exc_high_resistance != 0);
  let hrInh = select(1.0, mismNeuron[i].synHrInh, cfg.synin_inh_high_resistance != 0);
  p.tauSynExc = twin.synCs / (mismNeuron[i].synTauKExc * twin.synG *
    pow(f32(cfg.i_bias_synin_exc_tau) / 1022.0, mismNeuron[i].synTauGammaExc) * hrExc + mismNeuron[i].synParasiticExc);
  p.tauSynInh = twin.synCs / (mismNeuron[i].synTauKInh * twin.synG *
    pow(f32(cfg.i_bias_synin_inh_tau) / 1022.0, mismNeuron[i].synTauGammaInh) * hrInh + mismNeuron[i].synParasiticInh);
  var isyn = 0.0;
  p.gmExc = 0.0;
  p.gmInh = 0.0;
  if (cfg.synin_exc_enable != 0) {
    let gm = mismNeuron[i].gmKExc * twin.otaFull * (f32(cfg.i_bias_synin_exc_gm) / 1022.0);
    p.gmExc = gm;
    isyn -= gm * (mismNeuron[i].refRhoExc + mismNeuron[i].refLambdaExc * (f32(cfg.i_bias_synin_exc_shift) / 1022.0 - twin.refPivot));
  }
  if (cfg.synin_inh_enable != 0) {
    let gm = mismNeuron[i].gmKInh * twin.otaFull * (f32(cfg.i_bias_synin_inh_gm) / 1022.0);
    p.gmInh = gm;
    isyn += gm * (mismNeuron[i].refRhoInh + mismNeuron[i].refLambdaInh * (f32(cfg.i_bias_synin_inh_shift) / 1022.0 - twin.refPivot));
  }
  p.Isyn = isyn;
  // COBA (TWIN.md §8): strength β = k·8/V·(code/255)^γ.
  p.crefExc = cobaReferenceExc(i, g, shift);
  p.crefInh = cobaReferenceInh(i, g, shift);
  p.betaExc = 0.0;
  p.betaInh = 0.0;
  if (cfg.coba_exc_enable != 0 && cfg.i_bias_synin_exc_coba > 0) {
    p.betaExc = mismNeuron[i].cobaKExc * twin.cobaBeta *
      pow(f32(cfg.i_bias_synin_exc_coba) / twin.cobaCodeRef, mismNeuron[i].cobaGammaExc);
  }
  if (cfg.coba_inh_enable != 0 && cfg.i_bias_synin_inh_coba > 0) {
    p.betaInh = mismNeuron[i].cobaKInh * twin.cobaBeta *
      pow(f32(cfg.i_bias_synin_inh_coba) / twin.cobaCodeRef, mismNeuron[i].cobaGammaInh);
  }
  p.dacAmp = qm.dacK * twin.dacPerWeight * (f32(cfgChip[info.chip].syn_i_bias_dac[q]) / twin.dacRef);
  let h = n / 256u;
  let scale = select(cfgChip[info.chip].clock_scale_slow[h], cfgChip[info.chip].clock_scale_fast[h],
    cfg.input_clock != 0);
  let period = exp2(f32(scale + 1)) / twin.refractoryClock;
  let holdoffCycles = 31 - 2 * cfg.reset_holdoff;
  p.tRef = f32(cfg.refractory_counter) * period;
  p.tReset = f32(max(0, cfg.refractory_counter - holdoffCycles)) * period;
  parNeuron[i] = p;

  let low = twin.cadcOffsetSpan * (f32(cfgChip[info.chip].cadc_v_ramp_offset[q]) / 1022.0) * qm.cadcOffsetK +
    twin.xtRamp * xt;
  let lsb = (twin.cadcLsbBase + twin.cadcLsbSpan * (f32(cfgChip[info.chip].cadc_i_ramp_slope[q]) / 1022.0)) *
    qm.cadcSlopeK;
  let cBase = info.chip * 1025u;
  let cm = info.chip * 1025u;
  parChannel[cBase + n] = ChannelParams(low, lsb, mismChannel[cm + n], f32(cfgChannel[info.chip * CHANNELS + n]));
  parChannel[cBase + n + NEURONS] = ChannelParams(
    low, lsb, mismChannel[cm + n + NEURONS], f32(cfgChannel[info.chip * CHANNELS + n + NEURONS]));
  if (n == 0u) {
    parChannel[cBase + CHANNELS] = ChannelParams(g, mismChannel[cm + CHANNELS] * xt, 0.0, 0.0);
  }
}

// Where an invocation of computeParams or updatePotentials works (workgroup
// = quadrant of an act chip, lane = neuron) and the neuron's crosstalk from
// the quadrant's mean current code; `valid` is false past the act chips.
struct Site {
  valid: bool,
  info: ChipInfo,
  q: u32,
  n: u32,
  i: u32,
  qm: QuadrantMismatch,
  xt: f32,
  shift: f32,
}

fn siteOf(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> Site {
  let group = wid.y * nwg.x + wid.x;
  let act = group / 4u;
  let info = chipInfo[min(act, desc.chips - 1u)];
  let q = group % 4u;
  let n = q * 128u + lid;
  let i = info.chip * NEURONS + n;
  let mq = bitcast<f32>(stats[i * STAT_ROWS + STAT_MQ]);
  let xt = (mq - twin.xtPivot) / 1022.0;
  return Site(act < desc.chips, info, q, n, i, mismQuadrant[info.chip * 4u + q], xt,
    mismNeuron[i].crosstalkCoupling * xt);
}

@compute @workgroup_size(128)
fn computeParams(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let s = siteOf(wid, nwg, lid);
  if (!s.valid) {
    return;
  }
  fullParams(s);
}

// The potentials of the voltage rows in mask desc.u0 (bit r for row r of
// quadrantStats, 1..5), alone: what a search writing v_leak, v_reset,
// v_threshold or a COBA reference changes. A kernel of its own, because
// llvmpipe runs the code of a branch not taken too (masked), so a mode of
// computeParams would cost as much as the full update.
@compute @workgroup_size(128)
fn updatePotentials(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let s = siteOf(wid, nwg, lid);
  if (!s.valid) {
    return;
  }
  let i = s.i;
  let g = s.qm.gain;
  let shift = s.shift;
  let rows = desc.u0;
  if ((rows & 2u) != 0u) { parNeuron[i].EL = leakPotential(i, g, shift); }
  if ((rows & 4u) != 0u) { parNeuron[i].VRcell = resetCell(i, g, shift); }
  if ((rows & 8u) != 0u) { parNeuron[i].VT = thresholdPotential(i, g, shift); }
  if ((rows & 16u) != 0u) { parNeuron[i].crefExc = cobaReferenceExc(i, g, shift); }
  if ((rows & 32u) != 0u) { parNeuron[i].crefInh = cobaReferenceInh(i, g, shift); }
}
