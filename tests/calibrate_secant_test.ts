/**
 * `calibrate` with lifcal's secant search (`algorithm: "secant"`): calix's
 * criteria, accuracy by the twins' truth against NoisyBinarySearch on the
 * same chips, the measurements it saves, its search specs, reproducibility
 * and CPU/WebGPU agreement.
 */

import assert from "node:assert/strict";
import {
  type Backend,
  calibrate,
  type NeuronCalibResult,
  openBackend,
  resolveTarget,
  type SearchSpec,
  type Truth,
} from "../mod.ts";
import { requestTwinDevice } from "../backends/webgpu/gpu_runtime.ts";
import { assertCalibrationQuality } from "./_calib_quality.ts";
import { lifcal } from "./_cli.ts";

const SEEDS = [5, 6];

/** A CPU backend that keeps every search spec (sub-searches included) it is asked to run. */
async function recording(seeds: number[]): Promise<{ backend: Backend; specs: SearchSpec[] }> {
  const backend = await openBackend({ backend: "cpu", chips: seeds });
  const specs: SearchSpec[] = [];
  const search = backend.search.bind(backend);
  const walk = (s: SearchSpec) => {
    specs.push(s);
    s.before?.forEach(walk);
  };
  backend.search = (spec) => {
    walk(spec);
    return search(spec);
  };
  return { backend, specs };
}

/** 90th percentile of |truth − target| per parameter (relative for time constants). */
function p90s(t: Truth): Record<string, number> {
  const target = resolveTarget(undefined).target;
  const q = (f: (i: number) => number) => {
    const v = Array.from({ length: t.E_L.length }, (_, i) => f(i)).sort((a, b) => a - b);
    return v[Math.floor(0.9 * v.length)]!;
  };
  return {
    leak: q((i) => Math.abs(t.V_rest_cadc[i]! - target.leak[i % 512]!)),
    reset: q((i) => Math.abs(t.V_R_cadc[i]! - target.reset[i % 512]!)),
    threshold: q((i) => Math.abs(t.V_T_cadc[i]! - target.threshold[i % 512]!)),
    tau_mem: q((i) => Math.abs(t.tau_mem[i]! / target.tau_mem[i % 512]! - 1)),
    tau_syn_exc: q((i) => Math.abs(t.tau_syn_exc[i]! / target.tau_syn_exc[i % 512]! - 1)),
    tau_syn_inh: q((i) => Math.abs(t.tau_syn_inh[i]! / target.tau_syn_inh[i % 512]! - 1)),
  };
}

const runs: Record<
  string,
  { backend: Backend; specs: SearchSpec[]; results: NeuronCalibResult[] }
> = {};
async function run(algorithm: "noisy-binary" | "secant") {
  if (!runs[algorithm]) {
    const { backend, specs } = await recording(SEEDS);
    const results = await calibrate(backend, undefined, { algorithm });
    runs[algorithm] = { backend, specs, results };
  }
  return runs[algorithm];
}

Deno.test("the secant search meets calix's criteria and the targets by truth", async () => {
  const { backend, results } = await run("secant");
  await assertCalibrationQuality(backend, results, {
    leak: 80,
    reset: 70,
    threshold: 125,
    tau_mem: 10e-6,
    tau_syn: 10e-6,
  });
});

Deno.test("the secant search is as accurate as NoisyBinarySearch with under half its operations", async () => {
  const secant = await run("secant");
  const binary = await run("noisy-binary");
  const s = p90s(await secant.backend.truth!());
  const b = p90s(await binary.backend.truth!());
  for (const p of Object.keys(s)) {
    assert.ok(s[p]! <= 1.1 * b[p]!, `${p}: p90 ${s[p]} against noisy-binary's ${b[p]}`);
  }
  const ops = (be: Backend) => be.counters().reduce((a, c) => a + c, 0);
  const ratio = ops(secant.backend) / ops(binary.backend);
  assert.ok(ratio < 0.5, `operations ratio ${ratio.toFixed(3)}`);
  const ok = (rs: NeuronCalibResult[]) =>
    rs.reduce((a, r) => a + r.success.filter(Boolean).length, 0);
  assert.ok(ok(secant.results) >= ok(binary.results) - 2, "success");
});

Deno.test("its specs: the secant replaces NoisyBinarySearch only, with scales and limits", async () => {
  const { specs } = await run("secant");
  const names = new Set(specs.map((s) => s.algorithm.name));
  assert.deepEqual([...names].sort(), ["binary", "linear-prediction", "secant"]);
  for (const s of specs) {
    if (s.algorithm.name !== "secant") {
      // Only the CADC and the synapse DAC bias keep calix's BinarySearch.
      assert.ok(
        s.field.startsWith("cadc_") || s.field === "syn_i_bias_dac",
        `${s.field} uses ${s.algorithm.name}`,
      );
      continue;
    }
    const a = s.algorithm;
    const tau = s.measurement.kind.startsWith("tau-") && s.measurement.kind !== "tau-mem-cadc";
    assert.equal(a.scale === "reciprocal", tau, `${s.field} ${s.measurement.kind} scale`);
    // Every sentinel a reading map writes lies on the search's clamp limits.
    for (const m of s.map ?? []) {
      assert.ok(a.limits, `${s.field} maps readings but declares no limits`);
      assert.ok(m.value <= a.limits[0] || m.value >= a.limits[1], `${s.field} ${m.op}`);
    }
  }
});

Deno.test("a chip calibrated by the secant search alone and in a batch gives identical codes", async () => {
  const alone = await openBackend({ backend: "cpu", chips: [6] });
  const [single] = await calibrate(alone, undefined, { algorithm: "secant" });
  const { results } = await run("secant");
  assert.deepEqual(single!.capmem, results[1]!.capmem);
  assert.deepEqual(single!.success, results[1]!.success);
  await alone.close();
});

const gpu = await requestTwinDevice();
gpu?.device.destroy();

Deno.test({
  name: "the secant search gives the same codes on the WebGPU and the CPU executor",
  ignore: gpu === undefined,
  async fn() {
    const { results } = await run("secant");
    const be = await openBackend({ backend: "webgpu", chips: SEEDS });
    const onGpu = await calibrate(be, undefined, { algorithm: "secant" });
    await be.close();
    let same = 0;
    let total = 0;
    results.forEach((r, c) => {
      for (const [row, codes] of Object.entries(r.capmem)) {
        const other = onGpu[c]!.capmem[row as keyof typeof r.capmem];
        codes.forEach((v, n) => {
          total++;
          if (v === other[n]) same++;
        });
      }
    });
    assert.ok(same / total >= 0.99, `${same} of ${total} codes identical`);
  },
});

Deno.test("lifcal calibrate --set algorithm=secant calibrates with the secant search", async () => {
  const out = await Deno.makeTempDir();
  try {
    const run = await lifcal([
      "calibrate",
      "--chips",
      "1",
      "--backend",
      "cpu",
      "--set",
      "algorithm=secant",
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(await Deno.readTextFile(`${out}/chips/sim-1.json`));
    assert.equal(result.options.algorithm, "secant");
    assert.ok(result.success.filter(Boolean).length >= 0.99 * 512);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
