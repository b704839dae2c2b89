/**
 * The twin's conductance-based synaptic input (`TWIN.md` §8) on the CPU
 * executor: PSP amplitudes linear in the starting potential and vanishing at
 * truth's reversal, the clamp of the modulation, truth against the mismatch
 * draws, the new mismatch statistics, and — with every COBA flag off — the
 * twin exactly as it was before COBA existed.
 */

import assert from "node:assert/strict";
import {
  type Backend,
  type ConfigPatch,
  CpuBackend,
  DEFAULT_TWIN_CONFIG,
  type Measurement,
  NEURONS,
  openBackend,
  type Truth,
  type TwinConfigOverride,
} from "../mod.ts";
import { drawMismatch } from "../backends/twin/mismatch.ts";
import { cobaModulation } from "../backends/twin/physics.ts";
import { fraction, mean, median, rng, std } from "./_helpers.ts";

const QUIET: TwinConfigOverride = { noise: { membrane: 0, line: 0, cadc: 0, madc: 0 } };

/** s = +1 for the excitatory input, −1 for the inhibitory one. */
const SIGN = { exc: 1, inh: -1 } as const;
type Input = keyof typeof SIGN;

/** Synaptic input `input` on, strong and slow, COBA on; the leak set by the caller. */
function cobaSetup(input: Input, coba: number, reference: number): ConfigPatch {
  return {
    threshold_enable: 0,
    i_bias_leak: 300,
    [`synin_${input}_enable`]: 1,
    [`i_bias_synin_${input}_gm`]: 1022,
    [`i_bias_synin_${input}_tau`]: 60,
    [`coba_${input}_enable`]: 1,
    [`i_bias_synin_${input}_coba`]: coba,
    [`e_synin_${input}_rev`]: reference,
  };
}

/**
 * Per-neuron `v_leak` codes that bring each neuron's settled potential
 * (truth's `V_rest_cadc`, which rises with the code) closest to its own
 * target, by bisection on truth; `extra` applied as well.
 */
async function leakCodesFor(
  be: Backend,
  target: ArrayLike<number>,
  extra: ConfigPatch,
): Promise<Int32Array> {
  const n = target.length;
  const lo = new Int32Array(n);
  const hi = new Int32Array(n).fill(1022);
  const at = async (codes: Int32Array) =>
    (await be.truth!({ ...extra, v_leak: codes })).V_rest_cadc;
  for (let it = 0; it < 11; it++) {
    const mid = lo.map((l, i) => (l + hi[i]!) >> 1);
    const v = await at(mid);
    for (let i = 0; i < n; i++) {
      if (v[i]! < target[i]!) lo[i] = mid[i]!;
      else hi[i] = mid[i]!;
    }
  }
  const vl = await at(lo);
  const vh = await at(hi);
  return lo.map((l, i) =>
    Math.abs(vl[i]! - target[i]!) <= Math.abs(vh[i]! - target[i]!) ? l : hi[i]!
  );
}

/** Least-squares line through (x, y): slope, intercept, residuals. */
function fitLine(x: readonly number[], y: readonly number[]) {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  x.forEach((v, k) => {
    sxy += (v - mx) * (y[k]! - my);
    sxx += (v - mx) ** 2;
  });
  const slope = sxy / sxx;
  return {
    slope,
    zero: mx - my / slope,
    residuals: x.map((v, k) => y[k]! - (my + slope * (v - mx))),
  };
}

/** Modulations m(V0) at which the PSP amplitudes are taken: inside the linear range (0, 3). */
const M0 = [0.4, 0.8, 1.2, 1.6, 2.0];

for (const input of ["exc", "inh"] as const) {
  Deno.test(`with COBA on, ${input} PSP amplitudes are linear in the starting potential and vanish at truth's E_rev`, async () => {
    const s = SIGN[input];
    const be = await openBackend({ backend: "cpu", chips: [1, 2] });
    // Reference ≈ 105 LSB; strength code 150: 1/β ≈ 210 mV ≈ 47 LSB, so the
    // reversal lies ≈ 47 LSB above (exc) or below (inh) the reference.
    const setup = cobaSetup(input, 150, input === "exc" ? 460 : 430);
    await be.write(setup);
    const t0 = await be.truth!();
    const rev = s > 0 ? t0.E_rev_exc_cadc : t0.E_rev_inh_cadc;
    const cref = s > 0 ? t0.E_cref_exc_cadc : t0.E_cref_inh_cadc;
    // Starting potentials V0 = E_rev − m0·(E_rev − E_cref): the modulation at V0 is m0.
    const targets = M0.map((m0) => rev.map((r, i) => r - m0 * (r - cref[i]!)));
    // Neurons whose targets all stay inside the CADC's range (a reading is clamped to 0..255).
    const usable = Array.from(rev, (_, i) => targets.every((t) => t[i]! > 12 && t[i]! < 243));
    const x: number[][] = [];
    const y: number[][] = [];
    for (const target of targets) {
      await be.write({ v_leak: await leakCodesFor(be, target, setup) });
      x.push(Array.from((await be.truth!()).V_rest_cadc));
      const m: Measurement = {
        kind: input === "exc" ? "psp-amplitude-exc" : "psp-amplitude-inh",
        events: 15,
        weight: 300,
        runs: 20,
      };
      y.push(Array.from(await be.measure(m)));
    }
    const errors: number[] = [];
    const residuals: number[] = [];
    let span = 0;
    for (let i = 0; i < rev.length; i++) {
      if (!usable[i]) continue;
      const f = fitLine(x.map((r) => r[i]!), y.map((r) => r[i]!));
      errors.push(f.zero - rev[i]!);
      residuals.push(...f.residuals);
      span += Math.abs(y[y.length - 1]![i]! - y[0]![i]!);
    }
    span /= errors.length;
    const rms = Math.sqrt(mean(residuals.map((r) => r * r)));
    const absErr = median(errors.map(Math.abs));
    console.log(
      `${input}: ${errors.length} neurons; amplitude span ${span.toFixed(1)} LSB, residual rms ${
        rms.toFixed(3)
      } LSB; zero − E_rev: mean ${mean(errors).toFixed(3)}, median |·| ${absErr.toFixed(2)} LSB`,
    );
    assert.ok(errors.length >= 0.9 * rev.length, `${errors.length} usable neurons`);
    // Linear: what the five amplitudes leave off a line is the read noise of
    // the amplitudes (2 × 2 channel reads of σ = 1 LSB, 20 runs: σ ≈ 0.16 LSB
    // with the membrane and line noise), not a bend of a 30-LSB span.
    assert.ok(span > 20, `the amplitudes change by ${span} LSB over the starting potentials`);
    assert.ok(rms < 0.3, `residual rms ${rms} LSB`);
    // Zero at E_rev: a line through amplitudes of σ ≈ 0.2 LSB and slope
    // ≈ span/(1.6·47 LSB) puts its zero within ≈ 1.5 LSB per neuron; over
    // ≥ 900 neurons the mean error is known to ≈ 0.05 LSB, so a systematic
    // offset of the reversal by 0.25 LSB (≈ 1 mV) would fail.
    assert.ok(absErr < 1.5, `median |zero − E_rev| ${absErr} LSB`);
    assert.ok(Math.abs(mean(errors)) < 0.25, `mean zero − E_rev ${mean(errors)} LSB`);
    await be.close();
  });
}

Deno.test("the modulation clamps at 0 (beyond the reversal) and at 3", async () => {
  // The function itself.
  assert.equal(cobaModulation(0.9, 0.5, 8, 1, 3), 0);
  assert.equal(cobaModulation(-2, 0.5, 8, 1, 3), 3);
  assert.equal(cobaModulation(0.1, 0.5, 8, -1, 3), 0);
  assert.equal(cobaModulation(2, 0.5, 8, -1, 3), 3);
  assert.ok(Math.abs(cobaModulation(0.45, 0.5, 8, -1, 3) - 0.6) < 1e-12);

  const be = await openBackend({ backend: "cpu", chips: [3], twin: QUIET });
  const psp = (input: Input) =>
    be.measure({ kind: `psp-amplitude-${input}`, events: 5, weight: 120, runs: 1 });
  for (const input of ["exc", "inh"] as const) {
    const s = SIGN[input];
    // The leak (exc ≈ 0.35 V, inh ≈ 0.7 V: room for a PSP 3× the CUBA one
    // inside the CADC's range) beyond the reversal: β ≈ 32/V puts E_rev
    // ≈ 30 mV from a reference ≥ 0.35 V away, on the far side of V0.
    await be.write({
      ...cobaSetup(input, 1022, input === "exc" ? 150 : 800),
      v_leak: input === "exc" ? 350 : 600,
    });
    const beyond = await be.truth!();
    const e = s > 0 ? beyond.E_rev_exc : beyond.E_rev_inh;
    assert.equal(fraction(beyond.V_rest, (v, i) => s * (v - e[i]!) > 0.05), 1);
    // m = 0: no PSP at all, never one of the other sign.
    const none = await psp(input);
    assert.ok(
      none.every((v) => v === 0),
      `${input}: largest |amplitude| ${Math.max(...none.map(Math.abs))}`,
    );

    // The reference far on the other side: 1 − s·β·(V0 − V_cref) ≫ 3, clamped to 3.
    await be.write({ [`e_synin_${input}_rev`]: input === "exc" ? 1000 : 30 });
    const far = await be.truth!();
    const c = s > 0 ? far.E_cref_exc : far.E_cref_inh;
    const rv = s > 0 ? far.E_rev_exc : far.E_rev_inh;
    // Unclamped, m would exceed 6 at the start and stay above 3 through the PSP.
    // (β = s/(E_rev − E_cref), so 1 − s·β·(V0 − V_cref) = 1 − (V0 − E_cref)/(E_rev − E_cref).)
    assert.equal(fraction(far.V_rest, (v, i) => 1 - (v - c[i]!) / (rv[i]! - c[i]!) > 6), 1);
    const clamped = await psp(input);
    await be.write({ [`coba_${input}_enable`]: 0 });
    const cuba = await psp(input);
    const ratio = median(Array.from(clamped, (v, n) => v / cuba[n]!));
    // Noise off: each amplitude is a difference of two 2-channel means of
    // rounded reads (±1 LSB), so 3·CUBA ± 4 LSB; CUBA amplitudes ≈ 5–25 LSB.
    assert.ok(median(cuba) > 6, `CUBA amplitude ${median(cuba)} LSB`);
    assert.ok(Math.abs(ratio - 3) < 0.1, `${input}: median ratio ${ratio}`);
    assert.ok(
      Array.from(clamped).every((v, n) => Math.abs(v - 3 * cuba[n]!) <= 4),
      `${input}: an amplitude is not 3 × the CUBA one`,
    );
    await be.write({ [`coba_${input}_enable`]: 0, [`synin_${input}_enable`]: 0 });
  }
  await be.close();
});

Deno.test("truth's E_rev is V_cref + s/β with β and V_cref from the chip's mismatch draws", async () => {
  const seeds = [5, 6];
  const be = await openBackend({ backend: "cpu", chips: seeds });
  const r = rng(17);
  // Distinct reference codes two apart in each quadrant (no same-code error)
  // and current codes that keep every neuron's nine current rows at a mean
  // of 500 (no crosstalk shift): then V_cref = a_C·g_q·Vcell(code) + b_C.
  const refExc = Array.from({ length: NEURONS }, (_, n) => 200 + 2 * (n % 128));
  const refInh = Array.from({ length: NEURONS }, (_, n) => 300 + 2 * ((n * 37) % 128));
  const codeExc = Array.from({ length: NEURONS }, () => 1 + Math.floor(r() * 1022));
  const codeInh = Array.from({ length: NEURONS }, () => 1 + Math.floor(r() * 1022));
  await be.write({
    i_bias_leak: 500,
    i_bias_reset: 500,
    i_mem_offset: 500,
    i_bias_synin_exc_shift: 500,
    i_bias_synin_inh_shift: 500,
    i_bias_synin_exc_gm: 500,
    i_bias_synin_inh_gm: 500,
    e_synin_exc_rev: refExc,
    e_synin_inh_rev: refInh,
    i_bias_synin_exc_coba: codeExc,
    i_bias_synin_inh_coba: codeInh,
    coba_exc_enable: 1,
    coba_inh_enable: 1,
  });
  const t = await be.truth!();
  const tw = DEFAULT_TWIN_CONFIG;
  const cell = (code: number) => tw.voltageCell.offset + (code / 1022) * tw.voltageCell.span;
  let worst = 0;
  seeds.forEach((seed, c) => {
    const mm = drawMismatch(seed, tw);
    for (let n = 0; n < NEURONS; n++) {
      const i = c * NEURONS + n;
      const g = mm.quadrantGain[n >> 7]!;
      for (
        const [k, s, ref, code, eRev, eRef] of [
          [0, 1, refExc, codeExc, t.E_rev_exc, t.E_cref_exc],
          [1, -1, refInh, codeInh, t.E_rev_inh, t.E_cref_inh],
        ] as const
      ) {
        const vCref = mm.cobaA[k][n]! * g * cell(ref[n]!) + mm.cobaB[k][n]!;
        const beta = mm.cobaK[k][n]! * tw.coba.beta *
          Math.pow(code[n]! / tw.coba.codeRef, mm.cobaGamma[k][n]!);
        worst = Math.max(
          worst,
          Math.abs(eRef[i]! - vCref),
          Math.abs(eRev[i]! - (vCref + s / beta)),
        );
      }
    }
  });
  assert.ok(worst < 1e-12, `largest deviation ${worst} V`);
  // The CADC readings of the reversals are not clamped: low strength codes put
  // excitatory reversals far above the CADC's 255.
  assert.ok(t.E_rev_exc_cadc.some((v) => v > 300));
  assert.ok(t.E_rev_inh_cadc.some((v) => v < -50));
  // …and they are the same linear reading as the other potentials.
  assert.ok(t.E_L_cadc[0]! > 0 && t.E_L_cadc[0]! < 255);
  const slope = (t.E_L_cadc[0]! - t.E_cref_exc_cadc[0]!) / (t.E_L[0]! - t.E_cref_exc[0]!);
  const predicted = t.E_L_cadc[0]! + slope * (t.E_rev_exc[0]! - t.E_L[0]!);
  assert.ok(Math.abs(t.E_rev_exc_cadc[0]! - predicted) < 1e-9);

  // COBA off: the reversal is infinitely far, on its side, in volts and LSB.
  const off = await be.truth!({ coba_exc_enable: 0, coba_inh_enable: 0 });
  for (
    const [f, v] of [
      ["E_rev_exc", Infinity],
      ["E_cref_exc", Infinity],
      ["E_rev_exc_cadc", Infinity],
      ["E_cref_exc_cadc", Infinity],
      ["E_rev_inh", -Infinity],
      ["E_cref_inh", -Infinity],
      ["E_rev_inh_cadc", -Infinity],
      ["E_cref_inh_cadc", -Infinity],
    ] as const
  ) {
    assert.ok(off[f as keyof Truth].every((x) => x === v), f);
  }
  // Strength code 0 with the flag on: β = 0, reversal at infinity, reference finite.
  const zero = await be.truth!({ i_bias_synin_exc_coba: 0 });
  assert.ok(zero.E_rev_exc.every((x) => x === Infinity));
  assert.ok(zero.E_cref_exc.every(Number.isFinite));
  await be.close();
});

/** Every existing measurement kind, with the set-up it needs. */
const KINDS: [Measurement, ConfigPatch][] = [
  [{ kind: "resting-potential", reads: 4 }, {}],
  [{ kind: "reset-potential" }, {}],
  [{ kind: "threshold-max", samples: 100 }, {}],
  [{ kind: "tau-mem", windowSeconds: 30e-6 }, {}],
  [{ kind: "tau-mem-reset", windowSeconds: 30e-6 }, {}],
  [{ kind: "tau-mem-cadc", waitSeconds: 10e-6 }, {}],
  [{ kind: "tau-syn-exc", windowSeconds: 10e-6 }, {}],
  [{ kind: "tau-syn-inh", windowSeconds: 10e-6 }, {}],
  [{ kind: "synline-drop", weight: 310 }, {}],
  [{ kind: "psp-amplitude-exc", events: 8 }, {}],
  [{ kind: "psp-amplitude-inh", events: 8 }, {}],
  [{ kind: "cadc-reference", code: 310 }, {}],
  [
    { kind: "spike-count", windowSeconds: 100e-6 },
    { v_leak: 900, v_threshold: 500, v_reset: 300, threshold_enable: 1 },
  ],
];

const CUBA: ConfigPatch = {
  v_leak: 500,
  i_bias_leak: 300,
  threshold_enable: 0,
  i_mem_offset: 300,
  synin_exc_enable: 1,
  synin_inh_enable: 1,
  i_bias_synin_exc_gm: 400,
  i_bias_synin_inh_gm: 400,
};

/** The truth fields that existed before COBA. */
const CUBA_TRUTH = [
  "E_L",
  "V_rest",
  "V_R",
  "V_T",
  "tau_mem",
  "tau_syn_exc",
  "tau_syn_inh",
  "C_m",
  "t_ref",
  "E_L_cadc",
  "V_rest_cadc",
  "V_R_cadc",
  "V_T_cadc",
] as const;

/** FNV-1a of an array's bytes: a fingerprint of bit-exact readings. */
function fingerprint(a: Float32Array | Float64Array): string {
  let h = 0x811c9dc5;
  for (const b of new Uint8Array(a.buffer, a.byteOffset, a.byteLength)) {
    h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h.toString(16);
}

/** Runs every kind of KINDS after CUBA on `be`; fingerprints of the readings and truth. */
async function fingerprints(be: Backend): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  out["power-on resting-potential"] = fingerprint(
    await be.measure({ kind: "resting-potential" }),
  );
  await be.write(CUBA);
  for (const [m, patch] of KINDS) {
    await be.write(patch);
    out[m.kind] = fingerprint(await be.measure(m));
  }
  const t = await be.truth!();
  for (const f of CUBA_TRUTH) out[`truth ${f}`] = fingerprint(t[f]);
  return out;
}

/**
 * Fingerprints of {@linkcode fingerprints} on seeds [1, 2], recorded with the
 * twin as it was before COBA was added (commit c5a4326, this procedure run
 * on that tree). Any change to an existing draw, transfer function or
 * measurement of the CUBA twin changes them.
 */
const BEFORE_COBA: Record<string, string> = {
  "power-on resting-potential": "9a0dc23e",
  "resting-potential": "d4a48c55",
  "reset-potential": "9f2f367c",
  "threshold-max": "d5882e31",
  "tau-mem": "5f03c08f",
  "tau-mem-reset": "ff98cef",
  "tau-mem-cadc": "43881228",
  "tau-syn-exc": "3e1232cc",
  "tau-syn-inh": "ddbbe3ca",
  "synline-drop": "c48e6f3f",
  "psp-amplitude-exc": "6ace90cb",
  "psp-amplitude-inh": "f6d1167e",
  "cadc-reference": "d2ba50e6",
  "spike-count": "93036915",
  "truth E_L": "d82318be",
  "truth V_rest": "3af2a2fa",
  "truth V_R": "f4bd12fd",
  "truth V_T": "6b38ed05",
  "truth tau_mem": "10f06314",
  "truth tau_syn_exc": "f8fec220",
  "truth tau_syn_inh": "cfaa259d",
  "truth C_m": "aad883a4",
  "truth t_ref": "417125c5",
  "truth E_L_cadc": "673db7ce",
  "truth V_rest_cadc": "91943f9c",
  "truth V_R_cadc": "231aac68",
  "truth V_T_cadc": "12e497a9",
};

Deno.test("with the COBA flags off every existing kind reads bit for bit as before COBA, whatever the COBA cells hold", async () => {
  const plain = new CpuBackend([1, 2], DEFAULT_TWIN_CONFIG);
  const cells = new CpuBackend([1, 2], DEFAULT_TWIN_CONFIG);
  // Random COBA cells and a readout neuron, flags off (their power-on state).
  const r = rng(5);
  const row = () => Array.from({ length: 2 * NEURONS }, () => Math.floor(r() * 1023));
  const readout = new Array(NEURONS).fill(0);
  readout[77] = 1;
  await cells.write({
    e_synin_exc_rev: row(),
    e_synin_inh_rev: row(),
    i_bias_synin_exc_coba: row(),
    i_bias_synin_inh_coba: row(),
    enable_readout: readout,
  });
  const a = await fingerprints(plain);
  const b = await fingerprints(cells);
  assert.deepEqual(b, a);
  assert.deepEqual(a, BEFORE_COBA);
});

Deno.test("CUBA inputs (COBA flag off) give the same PSP amplitudes whatever the COBA cells hold", async () => {
  const readings: Float32Array[] = [];
  for (
    const cells of [{}, { e_synin_exc_rev: 100, i_bias_synin_exc_coba: 255 }, {
      e_synin_exc_rev: 900,
      i_bias_synin_exc_coba: 1022,
      e_synin_inh_rev: 50,
      i_bias_synin_inh_coba: 40,
      coba_inh_enable: 1,
    }]
  ) {
    const be = await openBackend({ backend: "cpu", chips: [8] });
    await be.write({ ...cobaSetup("exc", 0, 500), coba_exc_enable: 0, v_leak: 400, ...cells });
    readings.push(await be.measure({ kind: "psp-amplitude-exc", events: 10, weight: 200 }));
    await be.close();
  }
  assert.ok(median(readings[0]!) > 5, `amplitude ${median(readings[0]!)} LSB`);
  assert.deepEqual(readings[1], readings[0]);
  // The inhibitory input's COBA flag does not touch the excitatory input.
  assert.deepEqual(readings[2], readings[0]);
});

/** Spreads within ±15 %, means within 3 standard errors (as tests/twin_mismatch_test.ts). */
const SPREAD_TOLERANCE = 0.15;

function assertNormal(name: string, xs: readonly number[], mu: number, sd: number): void {
  const m = mean(xs);
  const s = std(xs);
  assert.ok(Math.abs(m - mu) < 3 * sd / Math.sqrt(xs.length), `${name}: mean ${m}, expected ${mu}`);
  assert.ok(Math.abs(s / sd - 1) < SPREAD_TOLERANCE, `${name}: sd ${s}, expected ${sd}`);
}

function correlation(a: readonly number[], b: readonly number[]): number {
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  a.forEach((v, i) => sab += (v - ma) * (b[i]! - mb));
  return sab / ((a.length - 1) * std(a) * std(b));
}

Deno.test("COBA mismatch: k_C ~ LN(0.20), γ_C ~ N(1, 0.05), references as the leak's a, b, own draws per input", async () => {
  const CHIPS = 8;
  const be = await openBackend({ backend: "cpu", chips: CHIPS });
  const tw = DEFAULT_TWIN_CONFIG;
  const on = { coba_exc_enable: 1, coba_inh_enable: 1 };
  // β = s/(E_rev − E_cref) from truth alone; at code 255 it is k_C·8/V.
  const beta = (t: Truth, input: Input) =>
    Array.from(
      input === "exc" ? t.E_rev_exc : t.E_rev_inh,
      (e, i) => SIGN[input] / (e - (input === "exc" ? t.E_cref_exc : t.E_cref_inh)[i]!),
    );
  const at255 = await be.truth!({ ...on, i_bias_synin_exc_coba: 255, i_bias_synin_inh_coba: 255 });
  const at64 = await be.truth!({ ...on, i_bias_synin_exc_coba: 64, i_bias_synin_inh_coba: 64 });
  const lnK: Record<Input, number[]> = { exc: [], inh: [] };
  for (const input of ["exc", "inh"] as const) {
    const b255 = beta(at255, input);
    const b64 = beta(at64, input);
    lnK[input] = b255.map((b) => Math.log(b / tw.coba.beta));
    assertNormal(`ln k_C ${input}`, lnK[input], 0, tw.coba.kSigma);
    const gamma = b255.map((b, i) => Math.log(b / b64[i]!) / Math.log(255 / 64));
    assertNormal(`γ_C ${input}`, gamma, tw.coba.gamma.mean, tw.coba.gamma.sd);
  }
  // Own draws per input and apart from the leak's: uncorrelated.
  assert.ok(Math.abs(correlation(lnK.exc, lnK.inh)) < 0.1);

  // References: distinct codes two apart per quadrant (no same-code error) and
  // balanced current rows (no crosstalk): V_cref = a·g_q·V0 + b. Standardised by
  // Var = σ_a²V0²(1 + σ_g²) + (μ_a² + σ_a²)·V0²σ_g² + σ_b² (tests/twin_mismatch_test.ts).
  const codes = Array.from({ length: NEURONS }, (_, n) => 250 + 2 * (n % 128));
  const t = await be.truth!({
    ...on,
    i_bias_leak: 500,
    i_bias_reset: 500,
    i_mem_offset: 500,
    i_bias_synin_exc_shift: 500,
    i_bias_synin_inh_shift: 500,
    i_bias_synin_exc_gm: 500,
    i_bias_synin_inh_gm: 500,
    e_synin_exc_rev: codes,
    e_synin_inh_rev: codes,
    v_leak: codes,
  });
  const { a, b } = tw.coba;
  const sg = tw.voltageCell.gainSd;
  const cellAt = (i: number) =>
    tw.voltageCell.offset + (codes[i % NEURONS]! / 1022) * tw.voltageCell.span;
  // Var(a·g·V0 + b) = σ_a²V0²(1 + σ_g²) + μ_a²V0²σ_g² + σ_b²; μ_a²V0²σ_g² of it is the
  // quadrant gain's, shared by the 128 neurons of a quadrant.
  const variance = (v0: number) =>
    a.sd ** 2 * v0 ** 2 * (1 + sg ** 2) + a.mean ** 2 * v0 ** 2 * sg ** 2 + b.sd ** 2;
  const shared = (v0: number) => a.mean ** 2 * v0 ** 2 * sg ** 2 / variance(v0);
  const z = (v: ArrayLike<number>) =>
    Array.from(v, (x, i) => (x - (a.mean * cellAt(i) + b.mean)) / Math.sqrt(variance(cellAt(i))));
  const zExc = z(t.E_cref_exc);
  const zInh = z(t.E_cref_inh);
  // The mean of z scatters by the shared part over 8 × 4 quadrant draws and
  // the rest over 4096 neurons.
  const n = zExc.length;
  const share = mean(Array.from({ length: n }, (_, i) => shared(cellAt(i))));
  const sem = Math.sqrt(share / (CHIPS * 4) + (1 - share) / n);
  for (const [name, zs] of [["exc", zExc], ["inh", zInh]] as const) {
    assert.ok(
      Math.abs(mean(zs)) < 3 * sem,
      `${name} reference: mean z ${mean(zs)} (3σ = ${3 * sem})`,
    );
    assert.ok(Math.abs(std(zs) - 1) < SPREAD_TOLERANCE, `${name} reference: sd of z ${std(zs)}`);
  }
  // Own draws: with each quadrant's mean (its shared gain) removed, the exc and
  // inh references and the leak potential are uncorrelated (±3/√4096 ≈ 0.05).
  const withinQuadrant = (zs: readonly number[]) => {
    const out = zs.slice();
    for (let g = 0; g < n / 128; g++) {
      const part = zs.slice(g * 128, (g + 1) * 128);
      const m = mean(part);
      for (let k = 0; k < 128; k++) out[g * 128 + k] = part[k]! - m;
    }
    return out;
  };
  const leak = withinQuadrant(Array.from(t.E_L));
  const exc = withinQuadrant(zExc);
  const inh = withinQuadrant(zInh);
  assert.ok(Math.abs(correlation(exc, inh)) < 0.06, `exc/inh ${correlation(exc, inh)}`);
  assert.ok(Math.abs(correlation(exc, leak)) < 0.06, `exc/leak ${correlation(exc, leak)}`);
  assert.ok(Math.abs(correlation(inh, leak)) < 0.06, `inh/leak ${correlation(inh, leak)}`);
  await be.close();
});

Deno.test("COBA rows can be searched; a membrane trace cannot drive a search", async () => {
  const be = await openBackend({ backend: "cpu", chips: [2], twin: QUIET });
  await be.write(cobaSetup("exc", 100, 450));
  // Strength bisected so that the PSP amplitude at this leak matches a target.
  const r = await be.search({
    field: "i_bias_synin_exc_coba",
    range: [0, 255],
    inverted: true,
    algorithm: { name: "binary" },
    target: 15,
    measurement: { kind: "psp-amplitude-exc", events: 5, weight: 200, runs: 1 },
  });
  assert.equal(r.codes.length, NEURONS);
  assert.ok(fraction(r.success, (s) => s === 1) > 0.5);
  assert.deepEqual(Array.from((await be.config())[0]!.i_bias_synin_exc_coba), Array.from(r.codes));
  await assert.rejects(
    () =>
      be.search({
        field: "e_synin_exc_rev",
        algorithm: { name: "binary" },
        target: 80,
        measurement: { kind: "membrane-trace", windowSeconds: 10e-6 },
      }),
    /membrane-trace cannot drive a search/,
  );
  await be.close();
});
