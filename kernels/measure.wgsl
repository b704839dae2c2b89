// measure.wgsl — the measurement kinds of backends/measurement.ts, one entry
// point each, mirroring backends/cpu/measure_chip.ts draw for draw: the same
// noise keys (chip key, operation, lane, sample), the same order of updates.
//
// Dispatch: one invocation per neuron of every act chip (workgroups of
// 128, desc.chips × 4 of them) — or per CADC channel for cadc-reference
// (desc.chips × 8), or per act chip for membrane-trace (one workgroup per
// 128 chips). Results go to readings[chip × 1024 + index]; a trace's to
// readings[chip × samples + sample].
// Time loops: spike-count and threshold-max run a range of steps per
// dispatch (desc.u3 = first step, desc.u4 = step count) with their state in
// `mstate`, so no invocation exceeds MAX steps per dispatch chosen by the
// host (≤ 4096 steps, each at most 6 iterations of lifStep's segment loop,
// plus one per read: below 8 × 4096 loop iterations); membrane-trace does
// the same for its readout neuron. Kernels that run whole (PSP, settled
// reads, τ traces) are bounded on the host (MAX_LOOP_ITERATIONS).

fn neuronOf(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> vec2<u32> {
  let idx = linearIndex(wid, nwg, lid, 128u);
  return vec2<u32>(idx / NEURONS, idx % NEURONS);
}

fn membraneNoise(info: ChipInfo, op: u32, n: u32, sample: u32) -> f32 {
  if (twin.sigmaMembrane == 0.0) {
    return 0.0;
  }
  return twin.sigmaMembrane * normalAt(hash3(info.key, op, lane(STREAM_INITIAL, n)), sample);
}

fn restBelowThreshold(p: NeuronParams) -> f32 {
  let v = restingPotential(p);
  if (p.thresholdEnable > 0.5 && v > p.VT) {
    return p.VT;
  }
  return v;
}

// desc.u0: reads; desc.u1: 0 = resting potential, 1 = reset potential.
@compute @workgroup_size(128)
fn measureSettled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let op = info.opBase + desc.op;
  let p = parNeuron[info.chip * NEURONS + n];
  var v0: f32;
  if (desc.u1 == 0u) { v0 = restBelowThreshold(p); } else { v0 = heldResetPotential(p); }
  let cadc = neuronCadcOf(info, op, n);
  var sum = 0.0;
  // reads ≥ 1 (validated on the host): a do-while, as every short loop here —
  // llvmpipe runs the body of a loop whose test sits at the top once more,
  // masked, after the last iteration.
  var r = 0u;
  loop {
    sum += readNeuronCadc(cadc, v0 + membraneNoise(info, op, n, r), r);
    r++;
    if (r >= desc.u0) { break; }
  }
  readings[info.chip * CHANNELS + n] = sum / f32(desc.u0);
}

// desc.u0: samples, u1: batches, u2: sub-steps per read, u3/u4: step range; f0: dt.
// Step g of the measurement is step w = g % perBatch of batch g / perBatch;
// the loop keeps (batch, w, read j, sub-step r) as counters, no division per step.
@compute @workgroup_size(128)
fn measureThresholdMax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let i = info.chip * NEURONS + n;
  let op = info.opBase + desc.op;
  let p = parNeuron[i];
  let samples = desc.u0;
  let sub = desc.u2;
  var first = 0u;
  if (n >= 256u) { first = samples; }
  let per = first + samples;
  let perBatch = per * sub;
  let total = desc.u1 * perBatch;
  let I = p.Isyn + p.Ioff;
  let prefix = hash3(info.key, op, lane(STREAM_MEMBRANE, n));
  let cadc = neuronCadcOf(info, op, n);
  var st = mstate[i];
  if (desc.u3 == 0u) { st.best = -1.0; }
  var s = Lif(st.v, st.refLeft, st.spikes, 0.0);
  let k = lifConstants(p, desc.f0);
  let end = min(desc.u3 + desc.u4, total);
  let vHeld = heldResetPotential(p);
  var g = desc.u3;
  var b = g / perBatch;
  var w = g % perBatch;
  var j = w / sub;
  var r = w % sub;
  // One iteration per read: the read, then the sub-steps up to the next one
  // (or the end of the range). A read inside the step loop would cost its
  // draws on every step on llvmpipe, which runs the code of branches not
  // taken too. Loop iterations per invocation: reads + steps + the steps'
  // segments (≤ 6 each), within llvmpipe's 65 535 for 4096 steps.
  loop {
    if (g >= end) { break; }
    if (w == 0u) {
      s = Lif(vHeld, p.tRef, 0.0, 0.0);
    }
    if (r == 0u && j >= first) {
      st.best = max(st.best, readNeuronCadc(cadc, s.v, b * samples + (j - first)));
    }
    let n = min(sub - r, end - g);
    // The steps after a batch's last read change no reading.
    if (j + 1u < per) {
      // n ≥ 1: a do-while (see measureSettled).
      var q = 0u;
      loop {
        lifStep(&s, p, k, true, I, prefix, g + q);
        q++;
        if (q >= n) { break; }
      }
    }
    g += n;
    w += n;
    r += n;
    if (r == sub) {
      r = 0u;
      j++;
    }
    if (w == perBatch) {
      w = 0u;
      j = 0u;
      b++;
    }
    if (g >= end) { break; }
  }
  st.v = s.v;
  st.refLeft = s.refLeft;
  st.spikes = s.spikes;
  mstate[i] = st;
  readings[info.chip * CHANNELS + n] = st.best;
}

fn tauFromThreeSums(s1: f32, s2: f32, s3: f32, n: f32, dt: f32, lo: f32, hi: f32) -> f32 {
  let d1 = s1 - s2;
  let d2 = s2 - s3;
  if (d1 == 0.0) { return hi; }
  let ratio = d2 / d1;
  if (isNanF(ratio) || ratio <= 0.0) { return lo; }
  if (ratio >= 1.0) { return hi; }
  return clampf(-(n * dt) / log(ratio), lo, hi);
}

// desc.u0: 0 = offset-current step, 1 = rise after reset; f0: step duration;
// f1, f2: the fit bounds (TAU_MEM_BOUNDS).
// aux[neuron] = (samples per window, sample period).
@compute @workgroup_size(128)
fn measureTauMem(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let i = info.chip * NEURONS + n;
  let op = info.opBase + desc.op;
  let p = parNeuron[i];
  let per = u32(aux[i].x);
  let dt = aux[i].y;
  let tau = p.C / p.gL;
  let vRest = clampf(p.EL + p.Isyn / p.gL, twin.railLow, twin.railHigh);
  let prefix = hash3(info.key, op, lane(STREAM_MEMBRANE, n));
  let madcPrefix = hash3(info.key, op, lane(STREAM_MADC, n));
  var v: f32;
  if (desc.u0 == 0u) {
    let vOn = p.EL + (p.Isyn + p.Ioff) / p.gL;
    v = ou(vRest + membraneNoise(info, op, n, 0u), vOn, tau, desc.f0, prefix, 0u);
  } else {
    let g = p.gL + p.gR;
    v = (p.gR * p.VRcell + p.gL * p.EL + p.Isyn) / g + membraneNoise(info, op, n, 0u);
  }
  v = clampf(v, twin.railLow, twin.railHigh);
  let e = exp(-dt / tau);
  let kick = twin.sigmaMembrane * sqrt(1.0 - e * e);
  // The three windows' sums: `sum` collects the current window, `window`
  // counts its samples (no division per sample).
  var sums = vec3<f32>(0.0, 0.0, 0.0);
  var sum = 0.0;
  var window = 0u;
  for (var j = 0u; j < 3u * per; j++) {
    var eps = 0.0;
    if (twin.sigmaMadc > 0.0) { eps = twin.sigmaMadc * normalAt(madcPrefix, j); }
    sum += madcRead(v, eps);
    window++;
    if (window == per) {
      sums = vec3<f32>(sums.y, sums.z, sum);
      sum = 0.0;
      window = 0u;
    }
    var kickNow = 0.0;
    if (kick > 0.0) { kickNow = kick * normalAt(prefix, j + 1u); }
    v = clampf(vRest + (v - vRest) * e + kickNow, twin.railLow, twin.railHigh);
  }
  readings[info.chip * CHANNELS + n] = tauFromThreeSums(sums.x, sums.y, sums.z, f32(per), dt, desc.f1, desc.f2);
}

// f0: wait between release and read.
@compute @workgroup_size(128)
fn measureTauMemCadc(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let op = info.opBase + desc.op;
  let p = parNeuron[info.chip * NEURONS + n];
  let vRest = clampf(p.EL + p.Isyn / p.gL, twin.railLow, twin.railHigh);
  let g = p.gL + p.gR;
  let vHeld = (p.gR * p.VRcell + p.gL * p.EL + p.Isyn) / g;
  let prefix = hash3(info.key, op, lane(STREAM_MEMBRANE, n));
  let v = ou(vHeld + membraneNoise(info, op, n, 0u), vRest, p.C / p.gL, desc.f0, prefix, 0u);
  readings[info.chip * CHANNELS + n] = neuronCadc(info, op, n, clampf(v, twin.railLow, twin.railHigh), 0u);
}

// desc.u0: 0 = excitatory, 1 = inhibitory; u1: events; f0: weight; f1, f2: the fit
// bounds (TAU_SYN_BOUNDS). aux as measureTauMem.
@compute @workgroup_size(128)
fn measureTauSyn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let i = info.chip * NEURONS + n;
  let op = info.opBase + desc.op;
  let p = parNeuron[i];
  let per = u32(aux[i].x);
  let dt = aux[i].y;
  var tau = p.tauSynExc;
  var stream = STREAM_LINE_EXC;
  if (desc.u0 == 1u) {
    tau = p.tauSynInh;
    stream = STREAM_LINE_INH;
  }
  let prefix = hash3(info.key, op, lane(stream, n));
  let madcPrefix = hash3(info.key, op, lane(STREAM_MADC, n));
  var x = f32(desc.u1) * p.dacAmp * desc.f0;
  if (twin.sigmaLine > 0.0) { x = twin.sigmaLine * normalAt(prefix, 0u) + x; }
  let e = exp(-dt / tau);
  let kick = twin.sigmaLine * sqrt(1.0 - e * e);
  // The three windows' sums, as in measureTauMem.
  var sums = vec3<f32>(0.0, 0.0, 0.0);
  var sum = 0.0;
  var window = 0u;
  var first = 0.0;
  for (var j = 0u; j < 3u * per; j++) {
    var eps = 0.0;
    if (twin.sigmaMadc > 0.0) { eps = twin.sigmaMadc * normalAt(madcPrefix, j); }
    let read = madcRead(twin.lineRest - x, eps);
    if (j == 0u) { first = read; }
    sum += read;
    window++;
    if (window == per) {
      sums = vec3<f32>(sums.y, sums.z, sum);
      sum = 0.0;
      window = 0u;
    }
    var kickNow = 0.0;
    if (kick > 0.0) { kickNow = kick * normalAt(prefix, j + 1u); }
    x = x * e + kickNow;
  }
  var out = twin.infinity;
  if (sums.z / f32(per) - first >= 10.0) {
    out = tauFromThreeSums(sums.x, sums.y, sums.z, f32(per), dt, desc.f1, desc.f2);
  }
  readings[info.chip * CHANNELS + n] = out;
}

// f0: weight. Writes each neuron's drop to mstate.a0; quadrantMedian reduces.
@compute @workgroup_size(128)
fn measureSynlineDrop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let i = info.chip * NEURONS + n;
  let op = info.opBase + desc.op;
  let p = parNeuron[i];
  var x0 = 0.0;
  if (twin.sigmaLine > 0.0) {
    x0 = twin.sigmaLine * normalAt(hash3(info.key, op, lane(STREAM_LINE_EXC, n)), 0u);
  }
  let before = neuronCadc(info, op, n, twin.lineRest - x0, 0u);
  let after = neuronCadc(info, op, n, twin.lineRest - x0 - p.dacAmp * desc.f0, 1u);
  mstate[i].a0 = before - after;
}

var<workgroup> wgValues: array<f32, 128>;
var<workgroup> wgMid: array<f32, 2>;

// Median of mstate.a0 over each quadrant → readings[chip × 1024 + quadrant].
@compute @workgroup_size(128)
fn quadrantMedian(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * nwg.x + wid.x;
  let act = min(group / 4u, desc.chips - 1u);
  let info = chipInfo[act];
  let q = group % 4u;
  let v = mstate[info.chip * NEURONS + q * 128u + lid].a0;
  wgValues[lid] = v;
  workgroupBarrier();
  var less = 0u;
  var equalBefore = 0u;
  var equal = 0u;
  for (var j = 0u; j < 128u; j++) {
    let w = wgValues[j];
    less += select(0u, 1u, w < v);
    equal += select(0u, 1u, w == v);
    equalBefore += select(0u, 1u, w == v && j < lid);
  }
  if (equalBefore == 0u) {
    if (less <= 63u && 63u < less + equal) { wgMid[0] = v; }
    if (less <= 64u && 64u < less + equal) { wgMid[1] = v; }
  }
  workgroupBarrier();
  if (lid == 0u && group / 4u < desc.chips) {
    readings[info.chip * CHANNELS + q] = 0.5 * (wgMid[0] + wgMid[1]);
  }
}

// desc.u0: input (0 exc, 1 inh), u1: events, u2: runs, u3: sub-steps per spacing; f0: weight, f1: dt.
@compute @workgroup_size(128)
fn measurePsp(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let op = info.opBase + desc.op;
  let p = parNeuron[info.chip * NEURONS + n];
  let dt = desc.f1;
  let sub = desc.u3;
  let I0 = p.Isyn + select(0.0, p.Ioff, p.offsetEnable > 0.5);
  let line = lineStep(p, dt);
  let jump = p.dacAmp * desc.f0;
  let prefix = hash3(info.key, op, lane(STREAM_MEMBRANE, n));
  let prefixE = hash3(info.key, op, lane(STREAM_LINE_EXC, n));
  let prefixI = hash3(info.key, op, lane(STREAM_LINE_INH, n));
  let vRest = restBelowThreshold(p);
  let threshold = p.thresholdEnable > 0.5;
  let cadc = neuronCadcOf(info, op, n);
  let stepsPerRun = (desc.u1 + 1u) * sub;
  let k = lifConstants(p, dt);
  var total = 0.0;
  // runs ≥ 1 (validated on the host): a do-while (see measureSettled).
  var r = 0u;
  loop {
    let base = r * (stepsPerRun + 1u);
    var s = Lif(vRest + membraneNoise(info, op, n, r), 0.0, 0.0, 0.0);
    var xe = 0.0;
    var xi = 0.0;
    if (twin.sigmaLine > 0.0) {
      xe = twin.sigmaLine * normalAt(prefixE, base);
      xi = twin.sigmaLine * normalAt(prefixI, base);
    }
    let before = readNeuronCadc(cadc, s.v, 2u * r);
    // Events at steps 0, sub, 2·sub, … (u1 of them): `phase` counts the
    // sub-steps since the last spacing, `sent` the events.
    var phase = 0u;
    var sent = 0u;
    for (var j = 0u; j < stepsPerRun; j++) {
      if (phase == 0u && sent < desc.u1) {
        if (desc.u0 == 0u) { xe += jump; } else { xi += jump; }
        sent++;
      }
      phase++;
      if (phase == sub) { phase = 0u; }
      // COBA: each input's current is modulated by the membrane at the step's start.
      let I = I0 + p.gmExc * xe * line.avgE * cobaModulation(s.v, p.crefExc, p.betaExc, 1.0) -
        p.gmInh * xi * line.avgI * cobaModulation(s.v, p.crefInh, p.betaInh, -1.0);
      lifStep(&s, p, k, threshold, I, prefix, base + j);
      // A line whose input is off (g_m = 0) moves no current: its noise is not drawn.
      var ke = 0.0;
      var ki = 0.0;
      if (line.kickE > 0.0 && p.gmExc != 0.0) { ke = line.kickE * normalAt(prefixE, base + j + 1u); }
      if (line.kickI > 0.0 && p.gmInh != 0.0) { ki = line.kickI * normalAt(prefixI, base + j + 1u); }
      xe = xe * line.eE + ke;
      xi = xi * line.eI + ki;
    }
    let after = readNeuronCadc(cadc, s.v, 2u * r + 1u);
    total += after - before;
    r++;
    if (r >= desc.u2) { break; }
  }
  var polarity = 1.0;
  if (desc.u0 == 1u) { polarity = -1.0; }
  readings[info.chip * CHANNELS + n] = polarity * total / f32(desc.u2);
}

// desc.u0: 1 = 8-bit counter (overflow reads f1), u3/u4: step range, u5: total steps; f0: dt.
@compute @workgroup_size(128)
fn measureSpikeCount(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let at = neuronOf(wid, nwg, lid);
  if (at.x >= desc.chips) { return; }
  let info = chipInfo[at.x];
  let n = at.y;
  let i = info.chip * NEURONS + n;
  let op = info.opBase + desc.op;
  let p = parNeuron[i];
  let I = p.Isyn + select(0.0, p.Ioff, p.offsetEnable > 0.5);
  let prefix = hash3(info.key, op, lane(STREAM_MEMBRANE, n));
  let threshold = p.thresholdEnable > 0.5;
  var st = mstate[i];
  var s = Lif(st.v, st.refLeft, st.spikes, 0.0);
  if (desc.u3 == 0u) {
    s = Lif(heldResetPotential(p), p.tRef, 0.0, 0.0);
  }
  let end = min(desc.u3 + desc.u4, desc.u5);
  let k = lifConstants(p, desc.f0);
  for (var j = desc.u3; j < end; j++) {
    lifStep(&s, p, k, threshold, I, prefix, j);
  }
  st.v = s.v;
  st.refLeft = s.refLeft;
  st.spikes = s.spikes;
  mstate[i] = st;
  var out = s.spikes;
  if (desc.u0 == 1u && s.spikes > 255.0) { out = desc.f1; }
  readings[info.chip * CHANNELS + n] = out;
}

// f0: code of the reference cell. One invocation per channel.
@compute @workgroup_size(128)
fn measureCadcReference(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let idx = linearIndex(wid, nwg, lid, 128u);
  let act = idx / CHANNELS;
  if (act >= desc.chips) { return; }
  let info = chipInfo[act];
  let ch = idx % CHANNELS;
  let op = info.opBase + desc.op;
  let refCell = parChannel[info.chip * 1025u + CHANNELS];
  let v = refCell.low * (twin.cellOffset + desc.f0 / 1022.0 * twin.cellSpan) + refCell.lsb;
  var eps = 0.0;
  if (twin.sigmaCadc > 0.0) {
    eps = twin.sigmaCadc * normalAt(hash3(info.key, op, lane(STREAM_CADC, ch)), 0u);
  }
  readings[info.chip * CHANNELS + ch] = cadcRead(info.chip * 1025u + ch, v, eps);
}

// The MADC trace of each act chip's readout neuron (chipInfo.readout), one
// invocation per act chip, a range of steps per dispatch with the state in
// that neuron's mstate (v, refLeft, spikes, xe, xi; a0 = next event).
// desc.u0: samples, u1: decimation, u2: events, u3/u4: step range, u5: total
// steps ((samples − 1)·decimation + 1), u6: sInt offset of the event steps,
// u7: sFloat offset of their weights (exc, inh per event), u8: readings
// stride (samples); f0: dt (the MADC sample period).
@compute @workgroup_size(128)
fn measureTrace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let act = linearIndex(wid, nwg, lid, 128u);
  if (act >= desc.chips) { return; }
  let info = chipInfo[act];
  let n = info.readout;
  if (n >= NEURONS) { return; }
  let i = info.chip * NEURONS + n;
  let op = info.opBase + desc.op;
  let p = parNeuron[i];
  let dt = desc.f0;
  let I0 = p.Isyn + select(0.0, p.Ioff, p.offsetEnable > 0.5);
  let line = lineStep(p, dt);
  let prefix = hash3(info.key, op, lane(STREAM_MEMBRANE, n));
  let prefixE = hash3(info.key, op, lane(STREAM_LINE_EXC, n));
  let prefixI = hash3(info.key, op, lane(STREAM_LINE_INH, n));
  let madcPrefix = hash3(info.key, op, lane(STREAM_MADC, n));
  let threshold = p.thresholdEnable > 0.5;
  let k = lifConstants(p, dt);
  let dec = desc.u1;
  let total = desc.u5;
  var st = mstate[i];
  if (desc.u3 == 0u) {
    st.v = restBelowThreshold(p) + membraneNoise(info, op, n, 0u);
    st.refLeft = 0.0;
    st.spikes = 0.0;
    st.xe = 0.0;
    st.xi = 0.0;
    if (twin.sigmaLine > 0.0) {
      st.xe = twin.sigmaLine * normalAt(prefixE, 0u);
      st.xi = twin.sigmaLine * normalAt(prefixI, 0u);
    }
    st.a0 = 0.0;
  }
  var s = Lif(st.v, st.refLeft, st.spikes, 0.0);
  var xe = st.xe;
  var xi = st.xi;
  var next = u32(st.a0);
  let end = min(desc.u3 + desc.u4, total);
  for (var j = desc.u3; j < end; j++) {
    if (j % dec == 0u) {
      let sample = j / dec;
      var eps = 0.0;
      if (twin.sigmaMadc > 0.0) { eps = twin.sigmaMadc * normalAt(madcPrefix, sample); }
      readings[info.chip * desc.u8 + sample] = madcRead(s.v, eps);
    }
    if (j + 1u >= total) { break; }
    if (next < desc.u2 && u32(sInt[desc.u6 + next]) == j) {
      xe += p.dacAmp * sFloat[desc.u7 + 2u * next];
      xi += p.dacAmp * sFloat[desc.u7 + 2u * next + 1u];
      next += 1u;
    }
    let I = I0 + p.gmExc * xe * line.avgE * cobaModulation(s.v, p.crefExc, p.betaExc, 1.0) -
      p.gmInh * xi * line.avgI * cobaModulation(s.v, p.crefInh, p.betaInh, -1.0);
    lifStep(&s, p, k, threshold, I, prefix, j);
    var ke = 0.0;
    var ki = 0.0;
    if (line.kickE > 0.0) { ke = line.kickE * normalAt(prefixE, j + 1u); }
    if (line.kickI > 0.0) { ki = line.kickI * normalAt(prefixI, j + 1u); }
    xe = xe * line.eE + ke;
    xi = xi * line.eI + ki;
  }
  st.v = s.v;
  st.refLeft = s.refLeft;
  st.spikes = s.spikes;
  st.xe = xe;
  st.xi = xi;
  st.a0 = f32(next);
  mstate[i] = st;
}
