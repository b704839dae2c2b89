import assert from "node:assert/strict";
import { type Measurement, openBackend, type TwinConfigOverride } from "../mod.ts";
import { drawMismatch } from "../backends/twin/mismatch.ts";
import { chipParams } from "../backends/twin/physics.ts";
import { twinConfig } from "../backends/twin/twin_config.ts";
import { codesForTruth, fraction, mean, median, std } from "./_helpers.ts";

const QUIET: TwinConfigOverride = { noise: { membrane: 0, line: 0, cadc: 0, madc: 0 } };

Deno.test("a settled resting potential equals the truth within the read noise", async () => {
  const be = await openBackend({ backend: "cpu", chips: 2 });
  await be.write({ v_leak: 420, i_bias_leak: 300, threshold_enable: 0 });
  const t = await be.truth!();
  const r = await be.measure({ kind: "resting-potential" });
  const residual = Array.from(r, (v, i) => v - t.V_rest_cadc[i]!);
  // Membrane noise 1.5 mV ≈ 0.34 LSB, channel noise 1 LSB averaged over 2 channels, rounding.
  assert.ok(Math.abs(mean(residual)) < 0.12, `mean residual ${mean(residual)}`);
  const s = std(residual);
  assert.ok(s > 0.6 && s < 1.0, `residual scatter ${s} LSB`);
  // Averaging reads shrinks the scatter.
  const r8 = await be.measure({ kind: "resting-potential", reads: 8 });
  const s8 = std(Array.from(r8, (v, i) => v - t.V_rest_cadc[i]!));
  assert.ok(s8 < s / 2, `8 reads scatter ${s8} vs ${s}`);
  await be.close();
});

Deno.test("the reset potential reads the potential held during reset", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1, twin: QUIET });
  await be.write({ v_reset: 350, v_leak: 600, threshold_enable: 0 });
  const t = await be.truth!();
  const r = await be.measure({ kind: "reset-potential" });
  // Noise off: only the rounding of each channel (±0.5 LSB) remains.
  for (let n = 0; n < 512; n++) assert.ok(Math.abs(r[n]! - t.V_R_cadc[n]!) <= 0.5 + 1e-9);
  // The clamp holds the membrane below the leak potential it fights against.
  assert.ok(fraction(t.V_R, (v, i) => v < t.E_L[i]!) === 1);
  await be.close();
});

async function tauCase(
  noise: boolean,
  kind: "tau-mem" | "tau-mem-reset",
  tau: number,
): Promise<number[]> {
  const be = await openBackend({ backend: "cpu", chips: 1, twin: noise ? {} : QUIET });
  const extra = kind === "tau-mem"
    ? { leak_division: 1, i_mem_offset: 1000, threshold_enable: 0 }
    : { v_reset: 520, v_leak: 880, leak_division: 0, threshold_enable: 0 };
  const codes = await codesForTruth(be, "i_bias_leak", (t) => t.tau_mem, tau, extra);
  await be.write({ ...extra, i_bias_leak: codes });
  const truth = await be.truth!();
  const r = await be.measure({ kind, windowSeconds: 3 * tau });
  await be.close();
  return Array.from(r, (v, i) => v / truth.tau_mem[i]! - 1);
}

const TAU_MEM_CASES = [
  ["tau-mem-reset", 0.5e-6],
  ["tau-mem-reset", 1e-6],
  ["tau-mem-reset", 2e-6],
  ["tau-mem", 3e-6],
  ["tau-mem", 10e-6],
  ["tau-mem", 30e-6],
  ["tau-mem", 60e-6],
] as const;

Deno.test("fitted tau_mem is within 3 % of the truth over 0.5..60 µs without noise", async (t) => {
  for (const [kind, tau] of TAU_MEM_CASES) {
    await t.step(`${kind} at ${tau * 1e6} µs`, async () => {
      const rel = await tauCase(false, kind, tau);
      const worst = Math.max(...rel.map(Math.abs));
      assert.ok(worst < 0.03, `worst relative error ${worst}`);
    });
  }
});

Deno.test("fitted tau_mem with noise is unbiased: median within 3 % of the truth", async (t) => {
  for (const [kind, tau] of TAU_MEM_CASES) {
    await t.step(`${kind} at ${tau * 1e6} µs`, async () => {
      const rel = await tauCase(true, kind, tau);
      assert.ok(Math.abs(median(rel)) < 0.03, `median relative error ${median(rel)}`);
      // Scatter of single measurements (reported in docs/twin.md): a few percent.
      assert.ok(std(rel) > 0.005 && std(rel) < 0.08, `scatter ${std(rel)}`);
    });
  }
});

async function tauSynCase(noise: boolean, tau: number, inh: boolean): Promise<number[]> {
  const be = await openBackend({ backend: "cpu", chips: 1, twin: noise ? {} : QUIET });
  const hr = tau >= 2e-6 ? 1 : 0;
  const row = inh ? "i_bias_synin_inh_tau" : "i_bias_synin_exc_tau";
  const extra = inh ? { synin_inh_high_resistance: hr } : { synin_exc_high_resistance: hr };
  const pick = inh
    ? (t: { tau_syn_inh: Float64Array }) => t.tau_syn_inh
    : (t: { tau_syn_exc: Float64Array }) => t.tau_syn_exc;
  const codes = await codesForTruth(be, row, pick, tau, extra);
  await be.write({ ...extra, [row]: codes });
  const truth = pick(await be.truth!());
  const r = await be.measure({ kind: inh ? "tau-syn-inh" : "tau-syn-exc", windowSeconds: 3 * tau });
  await be.close();
  return Array.from(r, (v, i) => v / truth[i]! - 1);
}

Deno.test("fitted tau_syn is within 3 % of the truth over 0.3..30 µs without noise", async (t) => {
  for (const tau of [0.3e-6, 1e-6, 3e-6, 10e-6, 30e-6]) {
    for (const inh of [false, true]) {
      await t.step(`${inh ? "inh" : "exc"} at ${tau * 1e6} µs`, async () => {
        const rel = await tauSynCase(false, tau, inh);
        const worst = Math.max(...rel.map(Math.abs));
        assert.ok(worst < 0.03, `worst relative error ${worst}`);
      });
    }
  }
});

Deno.test("fitted tau_syn with noise is unbiased: median within 3 % of the truth", async (t) => {
  for (const tau of [0.3e-6, 1e-6, 3e-6, 10e-6, 30e-6]) {
    await t.step(`exc at ${tau * 1e6} µs`, async () => {
      const rel = await tauSynCase(true, tau, false);
      assert.ok(Math.abs(median(rel)) < 0.03, `median relative error ${median(rel)}`);
      assert.ok(std(rel) < 0.1, `scatter ${std(rel)}`);
    });
  }
});

Deno.test("a floating synaptic line reads tau_syn = +Infinity", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  // No synaptic events of any weight reach the line: it does not drop.
  const r = await be.measure({ kind: "tau-syn-exc", weight: 1e-3 });
  assert.equal(fraction(r, (v) => v === Infinity), 1);
  await be.close();
});

Deno.test("the spike rate of a driven neuron matches the analytic LIF rate without noise", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1, twin: QUIET });
  await be.write({
    v_leak: 400,
    v_reset: 300,
    v_threshold: 520,
    leak_division: 1,
    i_mem_offset: 600,
    offset_current_enable: 1,
    threshold_enable: 1,
  });
  const codes = await codesForTruth(be, "i_bias_leak", (t) => t.tau_mem, 10e-6);
  await be.write({ i_bias_leak: codes });
  const t = await be.truth!();
  const window = 5e-3;
  const counts = await be.measure({ kind: "spike-count", windowSeconds: window });
  let checked = 0;
  for (let n = 0; n < 512; n++) {
    const vInf = t.V_rest[n]!;
    if (vInf < t.V_T[n]! + 0.02) continue;
    const rate = 1 /
      (t.t_ref[n]! + t.tau_mem[n]! * Math.log((vInf - t.V_R[n]!) / (vInf - t.V_T[n]!)));
    const measured = counts[n]! / window;
    assert.ok(
      Math.abs(measured / rate - 1) < 0.03,
      `neuron ${n}: ${measured} Hz vs analytic ${rate} Hz`,
    );
    checked++;
  }
  assert.ok(checked > 400, `only ${checked} neurons fire`);
  await be.close();
});

Deno.test("the 8-bit spike counter reports an overflow as 65025", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1, twin: QUIET });
  await be.write({
    v_leak: 900,
    v_threshold: 400,
    v_reset: 200,
    i_bias_leak: 800,
    refractory_counter: 10,
  });
  const exact = await be.measure({ kind: "spike-count", windowSeconds: 1e-3 });
  const hw = await be.measure({ kind: "spike-count", windowSeconds: 1e-3, counter: "8bit" });
  for (let n = 0; n < 512; n++) {
    assert.ok(exact[n]! > 255);
    assert.equal(hw[n], 65025);
  }
  await be.close();
});

Deno.test("the PSP amplitude matches the analytic value of exponential synapses", async (t) => {
  for (const inh of [false, true]) {
    await t.step(inh ? "inhibitory" : "excitatory", async () => {
      const twin = twinConfig(QUIET);
      const be = await openBackend({ backend: "cpu", chips: 1, twin: QUIET });
      const input = inh ? "inh" : "exc";
      const patch = {
        v_leak: 560,
        i_bias_leak: 60,
        leak_division: 1,
        threshold_enable: 0,
        [`synin_${input}_enable`]: 1,
        [`i_bias_synin_${input}_gm`]: 300,
        [`i_bias_synin_${input}_tau`]: 200,
        [`i_bias_synin_${input}_shift`]: 300,
      };
      await be.write(patch);
      const cfg = (await be.config())[0]!;
      const p = chipParams(cfg, drawMismatch(1, twin), twin);
      const events = 4;
      const spacing = 1e-6;
      const weight = 200;
      const m: Measurement = {
        kind: inh ? "psp-amplitude-inh" : "psp-amplitude-exc",
        events,
        runs: 1,
        weight,
      };
      const r = await be.measure(m);
      const truth = await be.truth!();
      const errors: number[] = [];
      for (let n = 0; n < 512; n++) {
        // Leave out membranes whose reading the CADC clamps (tested on its own).
        const rest = truth.V_rest_cadc[n]!;
        if (rest < 30 || rest > 225) continue;
        const tm = p.C[n]! / p.gL[n]!;
        const ts = inh ? p.tauSynInh[n]! : p.tauSynExc[n]!;
        const gm = inh ? p.gmInh[n]! : p.gmExc[n]!;
        const jump = p.dacAmp[n]! * weight;
        const tRead = (events + 1) * spacing;
        let dv = 0;
        for (let k = 0; k < events; k++) {
          const s = tRead - k * spacing;
          dv += (gm * jump / p.C[n]!) * (tm * ts / (tm - ts)) *
            (Math.exp(-s / tm) - Math.exp(-s / ts));
        }
        const lsb = 0.5 * (p.cadcLsb[n]! + p.cadcLsb[n + 512]!);
        errors.push(r[n]! - dv / lsb);
      }
      // Each of the two reads rounds per channel: |error| stays below 1 LSB.
      assert.ok(
        Math.max(...errors.map(Math.abs)) < 1,
        `worst ${Math.max(...errors.map(Math.abs))}`,
      );
      assert.ok(Math.abs(mean(errors)) < 0.15, `mean error ${mean(errors)}`);
      assert.ok(errors.length > 450, `only ${errors.length} neurons in range`);
      assert.ok(mean(r) > 5, `amplitudes too small to test: ${mean(r)}`);
      await be.close();
    });
  }
});

Deno.test("the CADC clamps to 0..255 and quantises", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  const ref = await be.measure({ kind: "cadc-reference", code: 310 });
  assert.ok(ref.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
  const rest = await be.measure({ kind: "resting-potential" });
  assert.ok(rest.every((v) => Number.isInteger(2 * v)));
  await be.write({ v_leak: 1022, i_bias_leak: 800, threshold_enable: 0 });
  const high = await be.measure({ kind: "resting-potential" });
  assert.ok(high.every((v) => v === 255), "a leak potential near the rail reads 255");
  await be.write({ v_leak: 0, cadc_v_ramp_offset: 1022 });
  const low = await be.measure({ kind: "resting-potential" });
  assert.ok(low.every((v) => v === 0), "a membrane at the low rail reads 0");
  const top = await be.measure({ kind: "cadc-reference", code: 1022 });
  assert.ok(top.every((v) => v === 255));
  await be.close();
});

Deno.test("threshold-max reads just below the spike threshold", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  await be.write({ i_mem_offset: 70, i_bias_leak: 0, v_reset: 0, v_threshold: 400 });
  const t = await be.truth!();
  const r = await be.measure({ kind: "threshold-max" });
  const residual = Array.from(r, (v, i) => v - t.V_T_cadc[i]!);
  // The ramp moves ≈1.7 LSB per read; the maximum of 3000 noisy reads sits
  // within a few LSB of the threshold.
  assert.ok(Math.abs(median(residual)) < 2, `median ${median(residual)}`);
  assert.ok(std(residual) < 2, `scatter ${std(residual)}`);
  await be.close();
});

Deno.test("synline-drop gives the quadrant median of the line's drop per event", async () => {
  const be = await openBackend({ backend: "cpu", chips: 2, twin: QUIET });
  await be.write({ syn_i_bias_dac: [300, 600, 900, 1022] });
  const r = await be.measure({ kind: "synline-drop", weight: 300 });
  assert.equal(r.length, 8);
  const twin = twinConfig(QUIET);
  const configs = await be.config();
  for (const c of [0, 1]) {
    const p = chipParams(configs[c]!, drawMismatch(c + 1, twin), twin);
    for (let q = 0; q < 4; q++) {
      const drops = [];
      for (let n = q * 128; n < (q + 1) * 128; n++) {
        drops.push(p.dacAmp[n]! * 300 / (0.5 * (p.cadcLsb[n]! + p.cadcLsb[n + 512]!)));
      }
      assert.ok(
        Math.abs(r[c * 4 + q]! - median(drops)) < 1.5,
        `${r[c * 4 + q]} vs ${median(drops)}`,
      );
    }
  }
  // A larger DAC bias gives a larger drop in every quadrant.
  await be.write({ syn_i_bias_dac: [400, 700, 1000, 1022] });
  const more = await be.measure({ kind: "synline-drop", weight: 300 });
  for (let i = 0; i < 7; i++) if (i % 4 !== 3) assert.ok(more[i]! > r[i]!);
  await be.close();
});

Deno.test("tau-mem-cadc reads the membrane on its way back from reset", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1, twin: QUIET });
  await be.write({ v_leak: 600, v_reset: 350, threshold_enable: 0, leak_division: 1 });
  const codes = await codesForTruth(be, "i_bias_leak", (t) => t.tau_mem, 20e-6);
  await be.write({ i_bias_leak: codes });
  const t = await be.truth!();
  const r = await be.measure({ kind: "tau-mem-cadc", waitSeconds: 20e-6 });
  for (let n = 0; n < 512; n++) {
    const expected = t.V_rest_cadc[n]! +
      (t.V_R_cadc[n]! - t.V_rest_cadc[n]!) * Math.exp(-20e-6 / t.tau_mem[n]!);
    assert.ok(Math.abs(r[n]! - expected) <= 0.6, `neuron ${n}: ${r[n]} vs ${expected}`);
  }
  await be.close();
});
