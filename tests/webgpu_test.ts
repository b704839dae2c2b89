import assert from "node:assert/strict";
import {
  calibrate,
  CpuBackend,
  DEFAULT_TWIN_CONFIG,
  type Measurement,
  noiseless,
  openBackend,
  probeLoopCap,
  type SearchSpec,
  WebGpuBackend,
} from "../mod.ts";
import { requestTwinDevice } from "../backends/webgpu/gpu_runtime.ts";
import { assertCalibrationQuality } from "./_calib_quality.ts";
import { fraction } from "./_helpers.ts";

const probe = await requestTwinDevice();
const adapter = probe?.adapter.info.description;
probe?.device.destroy();
const ignore = probe === undefined;

Deno.test({
  name: "the loop-cap self-test detects llvmpipe's 65 535-iteration cap",
  ignore,
  async fn() {
    const gpu = (await requestTwinDevice())!;
    const reached = await probeLoopCap(gpu.device);
    gpu.device.destroy();
    if (adapter!.includes("llvmpipe")) assert.equal(reached, 65535);
    else assert.ok(reached === 100_000 || reached === 65535, `reached ${reached}`);
  },
});

/** Tolerances per kind: how far a reading may be from the CPU executor's (f32 against f64). */
const CASES: [Measurement, { abs?: number; rel?: number; within: number }][] = [
  [{ kind: "resting-potential", reads: 4 }, { abs: 0, within: 0.995 }],
  [{ kind: "reset-potential" }, { abs: 0, within: 0.995 }],
  [{ kind: "tau-mem", windowSeconds: 30e-6 }, { rel: 1e-3, within: 0.99 }],
  [{ kind: "tau-mem-reset", windowSeconds: 30e-6 }, { rel: 1e-3, within: 0.99 }],
  [{ kind: "tau-mem-cadc", waitSeconds: 10e-6 }, { abs: 0, within: 0.995 }],
  [{ kind: "tau-syn-exc", windowSeconds: 10e-6 }, { rel: 1e-3, within: 0.99 }],
  [{ kind: "tau-syn-inh", windowSeconds: 10e-6 }, { rel: 1e-3, within: 0.99 }],
  [{ kind: "synline-drop", weight: 310 }, { abs: 0, within: 1 }],
  [{ kind: "psp-amplitude-exc", events: 8 }, { abs: 0.2, within: 0.95 }],
  [{ kind: "psp-amplitude-inh", events: 8 }, { abs: 0.2, within: 0.95 }],
  [{ kind: "cadc-reference", code: 310 }, { abs: 0, within: 0.995 }],
  [{ kind: "threshold-max", samples: 200 }, { abs: 1, within: 0.95 }],
  [{ kind: "spike-count", windowSeconds: 1e-3 }, { abs: 1, within: 0.99 }],
];

Deno.test({
  name: "every measurement kind agrees with the CPU executor within its tolerance",
  ignore,
  async fn(t) {
    const seeds = [1, 2];
    const gpu = (await WebGpuBackend.open(seeds, DEFAULT_TWIN_CONFIG))!;
    const cpu = new CpuBackend(seeds, DEFAULT_TWIN_CONFIG);
    const both = async (patch: Parameters<CpuBackend["write"]>[0]) => {
      await cpu.write(patch);
      await gpu.write(patch);
    };
    await both({
      v_leak: 500,
      i_bias_leak: 300,
      leak_division: 1,
      threshold_enable: 0,
      i_mem_offset: 300,
      synin_exc_enable: 1,
      synin_inh_enable: 1,
      i_bias_synin_exc_gm: 400,
      i_bias_synin_inh_gm: 400,
    });
    for (const [m, tol] of CASES) {
      await t.step(m.kind, async () => {
        if (m.kind === "threshold-max") {
          await both({ i_mem_offset: 70, i_bias_leak: 0, v_reset: 0, offset_current_enable: 1 });
        }
        if (m.kind === "spike-count") {
          await both({
            v_leak: 900,
            v_threshold: 500,
            v_reset: 300,
            i_bias_leak: 300,
            threshold_enable: 1,
            offset_current_enable: 0,
          });
        }
        const a = await cpu.measure(m);
        const b = await gpu.measure(m);
        assert.equal(b.length, a.length);
        const ok = fraction(Array.from(a), (v, i) => {
          const d = Math.abs(v - b[i]!);
          return d <= (tol.abs ?? 0) + (tol.rel ?? 0) * Math.abs(v) || (v === b[i]);
        });
        assert.ok(ok >= tol.within, `${m.kind}: ${(100 * ok).toFixed(2)} % within tolerance`);
      });
    }
    assert.deepEqual(gpu.counters(), cpu.counters());
    await gpu.close();
  },
});

Deno.test({
  name: "a long measurement split across dispatches gives the CPU's answer",
  ignore,
  async fn() {
    const twin = noiseless(DEFAULT_TWIN_CONFIG);
    const gpu = (await WebGpuBackend.open([3], twin))!;
    const cpu = new CpuBackend([3], twin);
    const patch = {
      v_leak: 900,
      v_threshold: 500,
      v_reset: 300,
      i_bias_leak: 300,
      leak_division: 1,
    };
    await gpu.write(patch);
    await cpu.write(patch);
    // 10 ms at 0.1 µs: 100 000 steps per neuron, 25 dispatches of 4096.
    const m: Measurement = { kind: "spike-count", windowSeconds: 10e-3 };
    const a = await cpu.measure(m);
    const b = await gpu.measure(m);
    assert.ok(a.every((v) => v > 500), "every neuron fires often");
    assert.ok(fraction(Array.from(a), (v, i) => v === b[i]) >= 0.99);
    assert.ok(Array.from(a).every((v, i) => Math.abs(v - b[i]!) <= 1));
    await gpu.close();
  },
});

Deno.test({
  name: "GPU-resident searches, nested ones included, find the CPU's codes",
  ignore,
  async fn() {
    const seeds = [1, 2];
    const gpu = (await WebGpuBackend.open(seeds, DEFAULT_TWIN_CONFIG))!;
    const cpu = new CpuBackend(seeds, DEFAULT_TWIN_CONFIG);
    const setup = { i_bias_leak: 300, leak_division: 1, threshold_enable: 0 };
    await cpu.write(setup);
    await gpu.write(setup);
    const leak: SearchSpec = {
      field: "v_leak",
      algorithm: { name: "noisy-binary" },
      target: 80,
      measurement: { kind: "resting-potential", reads: 8 },
    };
    const specs: SearchSpec[] = [
      { ...leak, trace: true },
      {
        field: "cadc_v_ramp_offset",
        inverted: true,
        algorithm: { name: "binary" },
        target: 20,
        measurement: { kind: "cadc-reference", code: 70 },
        reduce: "quadrant-mean",
      },
      {
        field: "cadc_channel_offset",
        algorithm: { name: "linear-prediction", probe: 0, offset: -127, slope: 1 },
        target: 118,
        measurement: { kind: "cadc-reference", code: 310 },
      },
      {
        field: "i_bias_leak",
        algorithm: { name: "noisy-binary" },
        target: 100,
        measurement: { kind: "tau-mem-cadc", waitSeconds: 60e-6 },
        before: [{ ...leak, target: 120 }],
        map: [{ op: "above", limit: 125, value: 0 }, { op: "before-failed", value: 0 }],
      },
      { ...leak, chips: [1] },
    ];
    for (const spec of specs) {
      const a = await cpu.search(spec);
      const before = gpu.gpuStats;
      const b = await gpu.search(spec);
      const after = gpu.gpuStats;
      assert.equal(after.submits - before.submits, 1, "one submit per search");
      assert.equal(after.readbacks - before.readbacks, 1, "one readback per search");
      assert.ok(fraction(Array.from(a.codes), (v, i) => v === b.codes[i]) >= 0.99, spec.field);
      assert.deepEqual(b.success, a.success);
      if (spec.trace) {
        assert.equal(b.trace!.codes.length, 13);
        assert.deepEqual(b.trace!.codes[0], a.trace!.codes[0]);
      }
    }
    assert.deepEqual(await gpu.config(), await cpu.config());
    assert.deepEqual(gpu.counters(), cpu.counters());
    await gpu.close();
  },
});

Deno.test({
  name: "calibrating on webgpu gives the CPU's codes and meets the calibration limits",
  ignore,
  async fn() {
    const gpu = (await WebGpuBackend.open([11], DEFAULT_TWIN_CONFIG))!;
    const onGpu = await calibrate(gpu);
    const onCpu = await calibrate(new CpuBackend([11], DEFAULT_TWIN_CONFIG));
    let same = 0;
    let near = 0;
    let total = 0;
    for (const row of Object.keys(onCpu[0]!.capmem) as (keyof typeof onCpu[0]["capmem"])[]) {
      const a = onCpu[0]!.capmem[row];
      const b = onGpu[0]!.capmem[row];
      for (let n = 0; n < 512; n++) {
        total++;
        if (a[n] === b[n]) same++;
        if (Math.abs(a[n]! - b[n]!) <= 2) near++;
      }
    }
    assert.ok(same / total >= 0.99, `${(100 * same / total).toFixed(2)} % identical codes`);
    assert.ok(near / total >= 0.995, `${(100 * near / total).toFixed(2)} % within ±2`);
    await assertCalibrationQuality(gpu, onGpu, {
      leak: 80,
      reset: 70,
      threshold: 125,
      tau_mem: 10e-6,
      tau_syn: 10e-6,
    });
    await gpu.close();
  },
});

Deno.test({
  name: "openBackend auto takes WebGPU when its self-test passes",
  ignore,
  async fn() {
    const notices: string[] = [];
    const be = await openBackend({ backend: "auto", chips: 1, onNotice: (m) => notices.push(m) });
    assert.equal(be.info.kind, "webgpu");
    assert.equal(be.info.adapter, adapter);
    assert.deepEqual(notices, []);
    await be.close();
  },
});

Deno.test("openBackend webgpu without an adapter is a clear error, auto falls back with a notice", async () => {
  const saved = Object.getOwnPropertyDescriptor(navigator, "gpu");
  const gpu = navigator.gpu;
  Object.defineProperty(navigator, "gpu", {
    value: {
      requestAdapter: () => Promise.resolve(null),
      getPreferredCanvasFormat: gpu?.getPreferredCanvasFormat,
    },
    configurable: true,
  });
  try {
    await assert.rejects(
      () => openBackend({ backend: "webgpu", chips: 1 }),
      /No usable WebGPU adapter/,
    );
  } finally {
    if (saved) Object.defineProperty(navigator, "gpu", saved);
    else delete (navigator as { gpu?: unknown }).gpu;
  }
});
