import assert from "node:assert/strict";
import {
  applyResult,
  calibrate,
  type NeuronCalibResult,
  openBackend,
  parseResult,
  resultToJson,
} from "../mod.ts";
import { assertCalibrationQuality, chipSlice, spreadRatios } from "./_calib_quality.ts";
import { fraction, median } from "./_helpers.ts";

const backend = await openBackend({ backend: "cpu", chips: [1, 2, 3, 4] });
let calibrated: Promise<NeuronCalibResult[]> | undefined;
const results = () => (calibrated ??= calibrate(backend));

Deno.test("calibrating 4 twins with the default target meets calix's criteria and hits the target", async () => {
  const report = await assertCalibrationQuality(backend, await results(), {
    leak: 80,
    reset: 70,
    threshold: 125,
    tau_mem: 10e-6,
    tau_syn: 10e-6,
  });
  // Every ratio has a margin: the limits are calix's, the twin does better.
  assert.ok(report.leak!.every((r) => r < 0.2));
});

Deno.test("matching synaptic inputs: equal exc/inh PSP amplitudes with a small spread", async () => {
  const rs = await results();
  for (const r of rs) {
    const exc = median(r.verification.psp_exc as number[]);
    const inh = median(r.verification.psp_inh as number[]);
    assert.ok(exc > 10, `${r.chipId}: PSP amplitude ${exc} too small to judge`);
    assert.ok(Math.abs(exc / inh - 1) < 0.1, `${r.chipId}: exc ${exc} vs inh ${inh}`);
  }
  for (const p of ["psp_exc", "psp_inh"] as const) {
    const ratios = await spreadRatios(backend, rs, p);
    assert.ok(ratios.every((x) => x < 0.3), `${p} ratios ${ratios}`);
  }
});

Deno.test("the synaptic references keep the resting potential when the inputs are switched on", async () => {
  await results();
  const on = await backend.truth!();
  const off = await backend.truth!({ synin_exc_enable: 0, synin_inh_enable: 0 });
  for (let c = 0; c < 4; c++) {
    const moved = chipSlice(on.V_rest_cadc, c).map((v, n) => v - off.V_rest_cadc[c * 512 + n]!);
    assert.ok(fraction(moved, (d) => Math.abs(d) < 2) >= 0.9);
  }
});

Deno.test("the synapse DAC bias equalises the quadrants' median amplitudes within 10 %", async () => {
  await results();
  const drop = await backend.measure({ kind: "synline-drop", weight: 300 });
  for (let c = 0; c < 4; c++) {
    const q = Array.from(drop.subarray(c * 4, c * 4 + 4));
    assert.ok(Math.max(...q) / Math.min(...q) < 1.1, `chip ${c}: ${q}`);
  }
  // Before calibration (one DAC bias for all quadrants) they differ by more.
  const raw = await openBackend({ backend: "cpu", chips: [1, 2, 3, 4] });
  const rawDrop = await raw.measure({ kind: "synline-drop", weight: 300 });
  const spreads = [0, 1, 2, 3].map((c) => {
    const q = Array.from(rawDrop.subarray(c * 4, c * 4 + 4));
    return Math.max(...q) / Math.min(...q);
  });
  assert.ok(Math.max(...spreads) > 1.1);
});

Deno.test("refractory settings, capacitance and flags land in the result and on the chips", async () => {
  const rs = await results();
  const configs = await backend.config();
  const t = await backend.truth!();
  for (const [c, r] of rs.entries()) {
    assert.deepEqual(r.hemisphere.clock_scale_fast, [3, 3]);
    assert.ok(r.neuron.refractory_counter.every((v) => v === 32));
    assert.ok(chipSlice(t.t_ref, c).every((v) => Math.abs(v - 2.048e-6) < 1e-12));
    assert.ok(r.neuron.membrane_capacitance.every((v) => v === 63));
    assert.deepEqual(Array.from(configs[c]!.v_leak), r.capmem.v_leak);
    assert.deepEqual(Array.from(configs[c]!.cadc_channel_offset), r.cadc!.cadc_channel_offset);
    // τ_syn 10 µs needs high resistance on most lines; the 1.5 µs working point must not leak into the result.
    assert.ok(fraction(r.neuron.synin_exc_high_resistance, (v) => v === 1) > 0.9);
    assert.ok(fraction(r.neuron.leak_division, (v) => v === 1) > 0.9);
  }
});

Deno.test("a result round-trips through JSON exactly and re-applies to a fresh backend", async () => {
  const rs = await results();
  for (const r of rs) assert.deepEqual(parseResult(resultToJson(r)), r);
  const fresh = await openBackend({ backend: "cpu", chips: [1, 2, 3, 4] });
  await applyResult(fresh, rs.map((r) => parseResult(resultToJson(r))));
  assert.deepEqual(await fresh.truth!(), await backend.truth!());
  await assert.rejects(
    () => applyResult(fresh, [{ ...rs[0]!, chipId: "sim-99" }]),
    /sim-99 does not match any chip/,
  );
});

Deno.test("the verification stores a measured value of every parameter per neuron", async () => {
  for (const r of await results()) {
    const v = r.verification;
    assert.ok(Math.abs(median(v.leak as number[]) - 80) < 0.6);
    assert.ok(Math.abs(median(v.reset as number[]) - 70) < 0.6);
    assert.ok(Math.abs(median(v.threshold as number[]) - 125) < 1);
    assert.ok(Math.abs(median(v.tau_mem as number[]) / 10e-6 - 1) < 0.02);
    assert.ok(Math.abs(median(v.tau_syn_exc as number[]) / 10e-6 - 1) < 0.02);
    assert.ok(Math.abs(median(v.tau_syn_inh as number[]) / 10e-6 - 1) < 0.02);
    assert.equal(r.lifcal_version, "0.1.0");
    assert.equal(r.target.tau_mem, "10 us");
  }
});
