import assert from "node:assert/strict";
import {
  calibrate,
  type ConfigPatch,
  CpuBackend,
  DEFAULT_TWIN_CONFIG,
  type Measurement,
  NEURON_CAPMEM_ROWS,
  openBackend,
  type SearchSpec,
  WebGpuBackend,
} from "../mod.ts";
import { COBA_CAPMEM_ROWS } from "../backends/config.ts";
import { drawMismatch } from "../backends/twin/mismatch.ts";
import { noiseless } from "../backends/twin/twin_config.ts";
import { probeLoopCap } from "../backends/webgpu/self_test.ts";
import { requestTwinDevice } from "../backends/webgpu/gpu_runtime.ts";
import {
  fieldId,
  MISMATCH_FLOATS,
  NEURON_CONFIG_INTS,
  NEURON_FIELDS,
  packNeuronMismatch,
  PARAM_FLOATS,
} from "../backends/webgpu/layout.ts";
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
  name: "after a GPU search, measurements see the codes it wrote (incremental parameter updates)",
  ignore,
  async fn() {
    // Without noise a reading depends on the parameters only: after a search
    // (whose writes leave only the statistics rows it changed stale), a
    // measurement must read exactly what a backend given the same
    // configuration by the host (everything recomputed) reads.
    const twin = noiseless(DEFAULT_TWIN_CONFIG);
    const setup = { i_bias_leak: 300, leak_division: 1, threshold_enable: 0 };
    const cases: [Omit<SearchSpec, "algorithm">, Measurement][] = [
      [{ field: "v_leak", target: 120, measurement: { kind: "resting-potential" } }, {
        kind: "resting-potential",
      }],
      [{ field: "v_reset", target: 90, measurement: { kind: "reset-potential" } }, {
        kind: "reset-potential",
      }],
      [{ field: "i_bias_leak", target: 100, measurement: { kind: "resting-potential" } }, {
        kind: "resting-potential",
      }],
      [
        { field: "v_threshold", target: 140, measurement: { kind: "threshold-max", samples: 50 } },
        { kind: "threshold-max", samples: 50 },
      ],
    ];
    for (const [search, after] of cases) {
      const gpu = (await WebGpuBackend.open([4], twin))!;
      await gpu.write({ ...setup, ...(search.field === "v_threshold" ? { v_leak: 1000 } : {}) });
      await gpu.measure(after);
      await gpu.search({ ...search, algorithm: { name: "binary" } });
      const got = await gpu.measure(after);
      const [config] = await gpu.config();
      const fresh = (await WebGpuBackend.open([4], twin))!;
      await fresh.write(config!);
      const want = await fresh.measure(after);
      const distinct = new Set(config![search.field as "v_leak"]).size;
      assert.ok(distinct > 5, `${search.field}: the search spread the codes (${distinct} values)`);
      assert.deepEqual(got, want, `${search.field} → ${after.kind}`);
      await gpu.close();
      await fresh.close();
    }
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

/** Field names of a WGSL struct in a kernel source, in order. */
async function wgslStruct(file: string, name: string): Promise<string[]> {
  const src = await Deno.readTextFile(new URL(`../kernels/${file}`, import.meta.url));
  const body = src.match(new RegExp(`struct ${name} \\{([^}]*)\\}`))?.[1];
  assert.ok(body, `struct ${name} in ${file}`);
  return [...body.matchAll(/(\w+)\s*:/g)].map((m) => m[1]!);
}

Deno.test("the WGSL layouts hold the fields layout.ts packs, in its order", async () => {
  assert.deepEqual(await wgslStruct("twin_common.wgsl", "NeuronConfig"), [...NEURON_FIELDS]);
  assert.equal(NEURON_CONFIG_INTS, 31);
  assert.equal((await wgslStruct("twin_common.wgsl", "NeuronMismatch")).length, MISMATCH_FLOATS);
  assert.equal(
    packNeuronMismatch(drawMismatch(1, DEFAULT_TWIN_CONFIG)).length,
    512 * MISMATCH_FLOATS,
  );
  assert.equal((await wgslStruct("twin_common.wgsl", "NeuronParams")).length, PARAM_FLOATS);
  // writeCode's cases: every searchable per-neuron row by its NeuronConfig name.
  const search = await Deno.readTextFile(new URL("../kernels/search.wgsl", import.meta.url));
  for (const row of [...NEURON_CAPMEM_ROWS, ...COBA_CAPMEM_ROWS]) {
    assert.match(
      search,
      new RegExp(`case ${fieldId(row)}u: \\{ cfgNeuron\\[n\\]\\.${row} = c; \\}`),
    );
  }
});

/** Both executors with the same seeds and patches. */
async function pair(seeds: number[], patch: ConfigPatch) {
  const gpu = (await WebGpuBackend.open(seeds, DEFAULT_TWIN_CONFIG))!;
  const cpu = new CpuBackend(seeds, DEFAULT_TWIN_CONFIG);
  await gpu.write(patch);
  await cpu.write(patch);
  return { gpu, cpu };
}

/** COBA on both inputs, references near the leak: modulations between the clamps. */
const COBA: ConfigPatch = {
  v_leak: 450,
  i_bias_leak: 300,
  threshold_enable: 0,
  synin_exc_enable: 1,
  synin_inh_enable: 1,
  i_bias_synin_exc_gm: 1022,
  i_bias_synin_inh_gm: 1022,
  i_bias_synin_exc_tau: 80,
  i_bias_synin_inh_tau: 80,
  coba_exc_enable: 1,
  coba_inh_enable: 1,
  i_bias_synin_exc_coba: 150,
  i_bias_synin_inh_coba: 150,
  e_synin_exc_rev: 460,
  e_synin_inh_rev: 430,
};

Deno.test({
  name: "PSP amplitudes with COBA on agree with the CPU executor",
  ignore,
  async fn() {
    const { gpu, cpu } = await pair([1, 2], COBA);
    const truth = await cpu.truth();
    for (const kind of ["psp-amplitude-exc", "psp-amplitude-inh"] as const) {
      const m: Measurement = { kind, events: 8, weight: 300 };
      const a = await cpu.measure(m);
      const b = await gpu.measure(m);
      const ok = fraction(Array.from(a), (v, i) => Math.abs(v - b[i]!) <= 0.2);
      assert.ok(ok >= 0.95, `${kind}: ${(100 * ok).toFixed(2)} % within 0.2 LSB`);
      // COBA changed these amplitudes: the same measurement with COBA off differs.
      const off = { coba_exc_enable: 0, coba_inh_enable: 0 };
      await gpu.write(off);
      await cpu.write(off);
      const cuba = await gpu.measure(m);
      await cpu.measure(m);
      const on = { coba_exc_enable: 1, coba_inh_enable: 1 };
      await gpu.write(on);
      await cpu.write(on);
      assert.ok(fraction(Array.from(b), (v, i) => Math.abs(v - cuba[i]!) > 2) > 0.5, kind);
    }
    assert.ok(truth.E_rev_exc.every(Number.isFinite));
    assert.deepEqual(gpu.counters(), cpu.counters());
    await gpu.close();
  },
});

Deno.test({
  name: "membrane traces agree with the CPU executor, across dispatches, spikes and COBA included",
  ignore,
  async fn() {
    const row = new Array(512).fill(0);
    row[33] = 1;
    const { gpu, cpu } = await pair([1, 2, 3], { ...COBA, enable_readout: row });
    const events = [
      { input: "exc", timeSeconds: 20e-6, weight: 300 },
      { input: "exc", timeSeconds: 20.01e-6, weight: 100 },
      { input: "inh", timeSeconds: 50e-6, weight: 400 },
    ] as const;
    const cases: [string, Measurement, ConfigPatch][] = [
      // 12 348 steps: four dispatches of ≤ 4096; decimated by 4.
      [
        "COBA, decimated",
        {
          kind: "membrane-trace",
          windowSeconds: 420e-6,
          events: [...events, { input: "inh", timeSeconds: 300e-6, weight: 400 }],
        },
        {},
      ],
      ["full rate", { kind: "membrane-trace", windowSeconds: 60e-6, events }, {}],
      [
        "firing",
        { kind: "membrane-trace", windowSeconds: 100e-6, maxSamples: 1000 },
        { threshold_enable: 1, v_leak: 900, v_threshold: 500, v_reset: 300 },
      ],
    ];
    for (const [name, m, patch] of cases) {
      await gpu.write(patch);
      await cpu.write(patch);
      const a = await cpu.measure(m);
      const b = await gpu.measure(m);
      assert.equal(b.length, a.length);
      const same = fraction(Array.from(a), (v, i) => v === b[i]);
      const near = fraction(Array.from(a), (v, i) => Math.abs(v - b[i]!) <= 1);
      assert.ok(same >= 0.99 && near === 1, `${name}: ${same} identical, ${near} within 1 LSB`);
    }
    // A chip without a readout neuron is refused before anything runs.
    await gpu.write({ enable_readout: 0 }, { chips: [1] });
    await assert.rejects(
      () => gpu.measure({ kind: "membrane-trace", windowSeconds: 1e-5 }),
      /chip 1 \(sim-2\) has no readout neuron/,
    );
    assert.deepEqual(gpu.counters(), cpu.counters());
    await gpu.close();
  },
});

Deno.test({
  name: "GPU searches over the COBA references find the CPU's codes",
  ignore,
  async fn() {
    const { gpu, cpu } = await pair([4], { ...COBA, v_leak: 350 });
    for (const input of ["exc", "inh"] as const) {
      // The amplitude follows the reversal, which follows the reference: up
      // for exc, down for inh (inverted).
      const spec: SearchSpec = {
        field: `e_synin_${input}_rev`,
        inverted: input === "inh",
        algorithm: { name: "binary" },
        target: 12,
        measurement: { kind: `psp-amplitude-${input}`, events: 8, weight: 300 },
      };
      const a = await cpu.search(spec);
      const b = await gpu.search(spec);
      const near = fraction(Array.from(a.codes), (v, i) => Math.abs(v - b.codes[i]!) <= 2);
      assert.ok(near >= 0.97, `${input}: ${near} of the codes within 2`);
      assert.ok(fraction(Array.from(a.success), (v) => v === 1) > 0.9, input);
      assert.deepEqual(
        Array.from((await gpu.config())[0]![`e_synin_${input}_rev`]),
        Array.from(b.codes),
      );
    }
    assert.deepEqual(gpu.counters(), cpu.counters());
    await gpu.close();
  },
});
