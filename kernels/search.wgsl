// search.wgsl — calix's search update rules (backends/search_rules.ts) and
// the glue of a GPU-resident search: start, reduce and map the readings,
// update (writing each new code into the configuration), keep history,
// report success.
//
// Dispatch: one invocation per search instance (act chips × instances per
// chip), workgroups of 128. Search state lives in two storage buffers
// (sInt, sFloat), in regions whose offsets the host passes in desc:
//   u0 instances, u1 instances per chip, u2 codes, u3 history codes,
//   u4 history distances, u5 targets, u6 success / before flags (or, in
//   the init and update kernels, field + 1 to write new codes to), u7 step
//   mode (update), u8 lower, u9 upper (i32 bits),
//   u10 history slots (best), u11 left, u12 inverted / map op, u13 readings source
//   (0: readings buffer, else sFloat region offset + 1).

fn instanceOf(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return linearIndex(wid, nwg, lid, 128u);
}

// Where instance i's reading is: readings[chip × 1024 + local] or a region of sFloat.
fn readingIndex(i: u32) -> u32 {
  if (desc.u13 != 0u) {
    return desc.u13 - 1u + i;
  }
  return chipInfo[i / desc.u1].chip * CHANNELS + i % desc.u1;
}

fn readingOf(i: u32) -> f32 {
  if (desc.u13 != 0u) {
    return sFloat[readingIndex(i)];
  }
  return readings[readingIndex(i)];
}

fn setReading(i: u32, v: f32) {
  if (desc.u13 != 0u) {
    sFloat[readingIndex(i)] = v;
  } else {
    readings[readingIndex(i)] = v;
  }
}

fn clipCode(v: i32) -> i32 {
  return clamp(v, bitcast<i32>(desc.u8), bitcast<i32>(desc.u9));
}

// Start codes: u2 codes, f0 start, u5 start offsets region (0: none, else
// offset + 1), u6 field + 1 to write them to.
@compute @workgroup_size(128)
fn searchInit(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  if (i >= desc.u0) { return; }
  var code = i32(desc.f0);
  if (desc.u5 != 0u) {
    code += sInt[desc.u5 - 1u + i];
  }
  setCode(i, clipCode(code));
}

// Code c of instance i into configuration field `field` of its chip (the
// field ids of layout.ts fieldId). searchInit, searchUpdate and searchSecant
// write each new code this way (desc.u6 = field + 1; 0: no write), so a
// search step needs no dispatch of its own for it.
fn writeCode(i: u32, field: u32, c: i32) {
  let chip = chipInfo[i / desc.u1].chip;
  let k = i % desc.u1;
  let n = chip * NEURONS + k;
  switch field {
    case 0u: { cfgNeuron[n].v_leak = c; }
    case 1u: { cfgNeuron[n].v_reset = c; }
    case 2u: { cfgNeuron[n].v_threshold = c; }
    case 3u: { cfgNeuron[n].i_bias_leak = c; }
    case 4u: { cfgNeuron[n].i_bias_reset = c; }
    case 5u: { cfgNeuron[n].i_mem_offset = c; }
    case 6u: { cfgNeuron[n].i_bias_synin_exc_tau = c; }
    case 7u: { cfgNeuron[n].i_bias_synin_exc_gm = c; }
    case 8u: { cfgNeuron[n].i_bias_synin_exc_shift = c; }
    case 9u: { cfgNeuron[n].i_bias_synin_inh_tau = c; }
    case 10u: { cfgNeuron[n].i_bias_synin_inh_gm = c; }
    case 11u: { cfgNeuron[n].i_bias_synin_inh_shift = c; }
    case 12u: { cfgNeuron[n].e_synin_exc_rev = c; }
    case 13u: { cfgNeuron[n].e_synin_inh_rev = c; }
    case 14u: { cfgNeuron[n].i_bias_synin_exc_coba = c; }
    case 15u: { cfgNeuron[n].i_bias_synin_inh_coba = c; }
    case 16u: { cfgChip[chip].syn_i_bias_dac[k] = c; }
    case 17u: { cfgChip[chip].cadc_v_ramp_offset[k] = c; }
    case 18u: { cfgChip[chip].cadc_i_ramp_slope[k] = c; }
    case 19u: { cfgChannel[chip * CHANNELS + k] = c; }
    default: {}
  }
}

// The new code of instance i into region u2, and into its field (u6 = field + 1).
fn setCode(i: u32, c: i32) {
  sInt[desc.u2 + i] = c;
  if (desc.u6 != 0u) { writeCode(i, desc.u6 - 1u, c); }
}

var<workgroup> wgSum: array<f32, 128>;

// Quadrant means of the readings (512 or 1024 per chip, desc.u1) into the
// sFloat region at desc.u2: one workgroup per quadrant of every act chip.
@compute @workgroup_size(128)
fn quadrantMean(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * nwg.x + wid.x;
  let act = min(group / 4u, desc.chips - 1u);
  let chip = chipInfo[act].chip;
  let q = group % 4u;
  let per = desc.u1;
  var s = 0.0;
  // Every value k of a quadrant satisfies (k % 512) / 128 == q: 128 neurons, or 256 channels.
  s = readings[chip * CHANNELS + q * 128u + lid];
  if (per == CHANNELS) {
    s += readings[chip * CHANNELS + NEURONS + q * 128u + lid];
  }
  wgSum[lid] = s;
  workgroupBarrier();
  for (var stride = 64u; stride > 0u; stride = stride >> 1u) {
    if (lid < stride) { wgSum[lid] = wgSum[lid] + wgSum[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u && group / 4u < desc.chips) {
    sFloat[desc.u2 + act * 4u + q] = wgSum[0] / f32(per / 4u);
  }
}

// One reading map. u12: 1 above (limit region u5), 2 code-below (limit region u5), 3 before-failed (flags u6); f0: value.
@compute @workgroup_size(128)
fn applyMap(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  if (i >= desc.u0) { return; }
  let r = readingOf(i);
  var hit = false;
  if (desc.u12 == 1u) {
    hit = r > sFloat[desc.u5 + i];
  } else if (desc.u12 == 2u) {
    hit = f32(sInt[desc.u2 + i]) < sFloat[desc.u5 + i];
  } else {
    hit = sInt[desc.u6 + i] == 0;
  }
  if (hit) { setReading(i, desc.f0); }
}

fn infF() -> f32 {
  return bitcast<f32>(0x7f800000u);
}

// Whether a signed secant residual reads high (NaN: as the binary searches decide).
fn readsHigh(g: f32, inverted: bool) -> bool {
  return g > 0.0 || (isNanF(g) && inverted);
}

// The secant search's signed residual g = h(r) − h(t) (negated when inverted):
// f4 scale (0 linear, 1 reciprocal), f5/f6 clamp limits (±inf beyond them).
fn secantResidual(r: f32, t: f32) -> f32 {
  var hr: f32;
  var ht = t;
  if (r <= desc.f5) {
    hr = -infF();
  } else if (r >= desc.f6) {
    hr = infF();
  } else if (desc.f4 != 0.0) {
    hr = -(1.0 / r);
  } else {
    hr = r;
  }
  if (desc.f4 != 0.0) { ht = -(1.0 / t); }
  if (desc.u12 != 0u) { return ht - hr; }
  return hr - ht;
}

// The secant search's next code after step k of m (search_rules.ts
// _secantNext): history slot m − 1 − j holds step j. f1 first increment,
// f2 span, f3 window.
fn secantNext(i: u32, nInst: u32, k: u32, m: u32) -> i32 {
  let lower = bitcast<i32>(desc.u8);
  let upper = bitcast<i32>(desc.u9);
  let inverted = desc.u12 != 0u;
  let at = (m - 1u - k) * nInst + i;
  let ck = sInt[desc.u3 + at];
  let gk = sFloat[desc.u4 + at];
  let highK = readsHigh(gk, inverted);
  if (k == 0u) {
    let inc = i32(desc.f1);
    if (highK) { return clipCode(ck - inc); }
    return clipCode(ck + inc);
  }
  var lo = lower - 1;
  var hi = upper + 1;
  var gLo = 0.0;
  var gHi = 0.0;
  for (var j = 0u; j <= k; j++) {
    let s = (m - 1u - j) * nInst + i;
    let c = sInt[desc.u3 + s];
    let g = sFloat[desc.u4 + s];
    if (readsHigh(g, inverted)) {
      if (c < hi) {
        hi = c;
        gHi = g;
      }
    } else if (c > lo) {
      lo = c;
      gLo = g;
    }
  }
  if (lo >= hi) {
    let d = lo - hi;
    let a = hi - d - 1;
    hi = lo + d + 1;
    lo = a;
    gLo = 0.0;
    gHi = 0.0;
  }
  let openLo = lo < lower;
  let openHi = hi > upper;
  let span = i32(desc.f2);
  let window = i32(desc.f3);
  var haveU = false;
  var u = 0.0;
  var flat = false;
  if (finiteF(gk)) {
    // The nearest finite reading `span` away, preferably across the target.
    var partner = -1;
    var distance = 0;
    var across = -1;
    var acrossDistance = 0;
    for (var j = i32(k) - 1; j >= 0; j--) {
      let s = (m - 1u - u32(j)) * nInst + i;
      let gj = sFloat[desc.u4 + s];
      let d = abs(ck - sInt[desc.u3 + s]);
      if (!finiteF(gj) || d < span) { continue; }
      if (partner < 0 || d < distance) {
        partner = j;
        distance = d;
      }
      if (readsHigh(gj, inverted) != highK && (across < 0 || d < acrossDistance)) {
        across = j;
        acrossDistance = d;
      }
    }
    if (across >= 0) { partner = across; }
    if (partner >= 0) {
      let s = (m - 1u - u32(partner)) * nInst + i;
      let dg = gk - sFloat[desc.u4 + s];
      if (dg == 0.0) {
        flat = true;
      } else {
        u = f32(ck - sInt[desc.u3 + s]) / dg;
        haveU = true;
      }
    }
  }
  let usable = haveU && u > 0.0 && finiteF(u);
  let last = k == m - 1u;
  var hasX = false;
  var x = 0.0;
  var toward = 0;
  if (usable) {
    if (last) {
      var sum = 0.0;
      var count = 0.0;
      for (var j = i32(k); j >= 0; j--) {
        let s = (m - 1u - u32(j)) * nInst + i;
        let c = sInt[desc.u3 + s];
        let g = sFloat[desc.u4 + s];
        if (!finiteF(g) || abs(c - ck) > window) { continue; }
        sum = sum + (f32(c) - g * u);
        count = count + 1.0;
      }
      x = sum / count;
    } else {
      x = f32(ck) - gk * u;
    }
    if (finiteF(x)) {
      hasX = true;
    } else if (x > 0.0) {
      toward = 1;
    } else {
      toward = -1;
    }
  } else if (flat) {
    toward = select(1, -1, highK);
  }
  if (hasX) {
    let q = i32(round(clamp(x, f32(lower), f32(upper))));
    let near = abs(gk);
    let inside = (openLo || q > lo || (q == lo && (isNanF(gLo) || abs(gLo) <= near))) &&
      (openHi || q < hi || (q == hi && (isNanF(gHi) || abs(gHi) <= near)));
    if (inside && (!last || abs(q - ck) <= window)) { return q; }
  } else if (toward < 0 && openLo) {
    return lower;
  } else if (toward > 0 && openHi) {
    return upper;
  }
  if (last) {
    // Regula falsi between the bracket's ends where both read finite values.
    if (!openLo && !openHi && finiteF(gLo) && finiteF(gHi) && gHi != gLo) {
      let step = f32(hi - lo) / (gHi - gLo);
      return clamp(i32(round(f32(lo) + (-gLo * step))), lo, hi);
    }
    var best = ck;
    var least = infF();
    for (var j = i32(k); j >= 0; j--) {
      let s = (m - 1u - u32(j)) * nInst + i;
      let d = abs(sFloat[desc.u4 + s]);
      if (d < least) {
        least = d;
        best = sInt[desc.u3 + s];
      }
    }
    return best;
  }
  if (openHi && !openLo) { return upper; }
  if (openLo && !openHi) { return lower; }
  if (openLo && openHi) { return ck; }
  return (lo + hi) >> 1u;
}

// One step of BinarySearch / NoisyBinarySearch or LinearPrediction.
// u7 mode: 0 bisect (f1 = increment), 1 mirror, 2 final (no update beyond history),
// 3 linear prediction (f1 probe, f2 offset, f3 slope).
// u10 best, u11 left, u12 inverted.
@compute @workgroup_size(128)
fn searchUpdate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  let nInst = desc.u0;
  if (i >= nInst) { return; }
  let p = sInt[desc.u2 + i];
  let r = readingOf(i);
  let t = sFloat[desc.u5 + i];
  let left = desc.u11;
  if (left < desc.u10) {
    sInt[desc.u3 + left * nInst + i] = p;
    sFloat[desc.u4 + left * nInst + i] = abs(r - t);
  }
  var q = p;
  if (desc.u7 == 3u) {
    let poly = desc.f2 + desc.f3 * t;
    let pred = round(poly + (desc.f1 - (desc.f2 + desc.f3 * r)));
    let lo = f32(bitcast<i32>(desc.u8));
    let hi = f32(bitcast<i32>(desc.u9));
    if (isNanF(pred)) {
      q = bitcast<i32>(desc.u8);
    } else {
      q = i32(clamp(pred, lo, hi));
    }
    setCode(i, q);
    return;
  }
  if (desc.u7 == 0u) {
    let inc = i32(desc.f1);
    let down = (r > t) != (desc.u12 != 0u);
    if (down) { q = p - inc; } else { q = p + inc; }
  } else if (desc.u7 == 1u) {
    let h2 = sInt[desc.u3 + 2u * nInst + i];
    let h1 = sInt[desc.u3 + nInst + i];
    q = 2 * h2 - h1;
    if (h2 == h1 && h2 == bitcast<i32>(desc.u8)) { q += 1; }
    if (h2 == h1 && h2 == bitcast<i32>(desc.u9)) { q -= 1; }
  }
  q = clipCode(q);
  if (desc.u7 == 2u) {
    // numpy's argmin over calix's history, as search_rules.ts _bestOfHistory:
    // the first minimum from slot 0 (the last measurement) wins, a NaN outright.
    var bestSlot = 0u;
    var bestDist = sFloat[desc.u4 + i];
    if (!isNanF(bestDist)) {
      for (var s = 1u; s < desc.u10; s++) {
        let d = sFloat[desc.u4 + s * nInst + i];
        if (isNanF(d)) {
          bestSlot = s;
          break;
        }
        if (d < bestDist) {
          bestDist = d;
          bestSlot = s;
        }
      }
    }
    q = sInt[desc.u3 + bestSlot * nInst + i];
  }
  setCode(i, q);
}

// One step of the secant search (search_rules.ts; u7 mode 4, the slots as
// searchUpdate's, see secantNext): an entry point of its own, so that the
// binary searches' updates do not pay for its history loops (llvmpipe runs
// the code of a branch not taken too).
@compute @workgroup_size(128)
fn searchSecant(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  let nInst = desc.u0;
  if (i >= nInst) { return; }
  let left = desc.u11;
  sInt[desc.u3 + left * nInst + i] = sInt[desc.u2 + i];
  sFloat[desc.u4 + left * nInst + i] = secantResidual(readingOf(i), sFloat[desc.u5 + i]);
  setCode(i, secantNext(i, nInst, desc.u10 - 1u - left, desc.u10));
}

// Success of final codes (region u2) into region u6: 0 on a bound.
@compute @workgroup_size(128)
fn searchSuccess(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  if (i >= desc.u0) { return; }
  let c = sInt[desc.u2 + i];
  sInt[desc.u6 + i] = select(1, 0, c <= bitcast<i32>(desc.u8) || c >= bitcast<i32>(desc.u9));
}

// Flags (region u6) = 1 (u7 == 0), or flags &= region u5 (u7 == 1).
@compute @workgroup_size(128)
fn combineFlags(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  if (i >= desc.u0) { return; }
  if (desc.u7 == 0u) {
    sInt[desc.u6 + i] = 1;
  } else {
    sInt[desc.u6 + i] = sInt[desc.u6 + i] & sInt[desc.u5 + i];
  }
}

// Copies codes (u2, into sInt region u3) and readings (into sFloat region u4) for a trace.
@compute @workgroup_size(128)
fn traceStep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let i = instanceOf(wid, nwg, lid);
  if (i >= desc.u0) { return; }
  sInt[desc.u3 + i] = sInt[desc.u2 + i];
  sFloat[desc.u4 + i] = readingOf(i);
}
