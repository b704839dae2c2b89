import assert from "node:assert/strict";
import { CpuBackend, type CpuBackendOptions } from "../backends/cpu/cpu_backend.ts";
import type { ConfigPatch } from "../backends/config.ts";
import { type Measurement, MEASUREMENT_KINDS } from "../backends/measurement.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { openBackend } from "../backends/open_backend.ts";
import { normalAt as fastNormalAt } from "../backends/cpu/fast_normal.ts";
import { hash3, normalAt } from "../backends/rng.ts";

const BASE: ConfigPatch = {
  v_leak: 500,
  i_bias_leak: 300,
  leak_division: 1,
  threshold_enable: 0,
  i_mem_offset: 300,
  synin_exc_enable: 1,
  synin_inh_enable: 1,
  i_bias_synin_exc_gm: 400,
  i_bias_synin_inh_gm: 400,
  refractory_counter: 20,
};
const FIRING: ConfigPatch = {
  v_leak: 900,
  v_threshold: 500,
  v_reset: 300,
  i_bias_leak: 300,
  threshold_enable: 1,
  offset_current_enable: 0,
};
const COBA: ConfigPatch = {
  coba_exc_enable: 1,
  i_bias_synin_exc_coba: 150,
  coba_inh_enable: 1,
  i_bias_synin_inh_coba: 100,
};

/** Every measurement kind, with the configuration written before it. */
const SCRIPT: [ConfigPatch, Measurement][] = [
  [BASE, { kind: "resting-potential", reads: 3 }],
  [{}, { kind: "reset-potential" }],
  [{}, { kind: "tau-mem", windowSeconds: 20e-6, maxSamples: 300 }],
  [{}, { kind: "tau-mem-reset", windowSeconds: 20e-6, maxSamples: 300 }],
  [{}, { kind: "tau-mem-cadc", waitSeconds: 10e-6 }],
  [{}, { kind: "tau-syn-exc", windowSeconds: 10e-6, maxSamples: 300 }],
  [{}, { kind: "tau-syn-inh", windowSeconds: 10e-6, maxSamples: 300 }],
  [{}, { kind: "synline-drop", weight: 310 }],
  [{}, { kind: "psp-amplitude-exc", events: 4, runs: 2 }],
  [{}, { kind: "psp-amplitude-inh", events: 4, runs: 2 }],
  [COBA, { kind: "psp-amplitude-exc", events: 4, runs: 1 }],
  [{}, { kind: "cadc-reference", code: 310 }],
  [
    { i_mem_offset: 70, i_bias_leak: 0, v_reset: 0, offset_current_enable: 1 },
    { kind: "threshold-max", samples: 20, batches: 2 },
  ],
  [FIRING, { kind: "spike-count", windowSeconds: 100e-6 }],
  [{ enable_readout: Array.from({ length: 512 }, (_, n) => (n === 5 ? 1 : 0)) }, {
    kind: "membrane-trace",
    windowSeconds: 20e-6,
  }],
];

/** Runs the script on twins with these seeds; the readings of each step. */
async function run(seeds: number[], options: CpuBackendOptions): Promise<Float32Array[]> {
  const be = new CpuBackend(seeds, DEFAULT_TWIN_CONFIG, { workerThreshold: 0, ...options });
  try {
    const out: Float32Array[] = [];
    for (const [patch, m] of SCRIPT) {
      await be.write(patch);
      out.push(await be.measure(m));
    }
    // Every per-neuron kind ran on the workers where there are any.
    if (be.workers > 1) assert.equal(be.stats.onWorkers, SCRIPT.length - 3);
    else assert.equal(be.stats.onWorkers, 0);
    return out;
  } finally {
    await be.close();
  }
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length &&
    new Uint32Array(a.buffer, a.byteOffset, a.length).every((x, i) =>
      x === new Uint32Array(b.buffer, b.byteOffset, b.length)[i]
    );
}

Deno.test("the script covers every measurement kind", () => {
  assert.deepEqual(
    new Set(SCRIPT.map(([, m]) => m.kind)),
    new Set(MEASUREMENT_KINDS),
  );
});

Deno.test("readings are bit-identical with 1, 2 and 3 workers, alone and in a batch", async () => {
  const seeds = [3, 7, 11];
  const one = await run(seeds, { workers: 1 });
  for (const workers of [2, 3]) {
    const many = await run(seeds, { workers });
    SCRIPT.forEach(([, m], i) => {
      assert.ok(sameBits(many[i]!, one[i]!), `${m.kind} differs with ${workers} workers`);
    });
  }
  for (const workers of [1, 2, 3]) {
    const alone = await run([7], { workers });
    SCRIPT.forEach(([, m], i) => {
      const per = one[i]!.length / seeds.length;
      assert.ok(
        sameBits(alone[i]!, one[i]!.slice(per, 2 * per)),
        `${m.kind}: chip 7 alone with ${workers} workers differs from chip 7 in the batch`,
      );
    });
  }
});

Deno.test("a selection on the workers leaves the other chips NaN and matches in-process", async () => {
  const m: Measurement = { kind: "spike-count", windowSeconds: 50e-6 };
  const a = new CpuBackend([1, 2, 3], DEFAULT_TWIN_CONFIG, { workers: 2, workerThreshold: 0 });
  const b = new CpuBackend([1, 2, 3], DEFAULT_TWIN_CONFIG, { workers: 1 });
  await a.write(FIRING);
  await b.write(FIRING);
  const ra = await a.measure(m, { chips: [0, 2] });
  const rb = await b.measure(m, { chips: [0, 2] });
  assert.ok(ra.subarray(512, 1024).every(Number.isNaN));
  assert.ok(sameBits(ra, rb) || ra.every((v, i) => Object.is(v, rb[i])));
  assert.deepEqual(a.counters(), b.counters());
  await a.close();
  await b.close();
  await assert.rejects(() => a.measure(m), /closed/);
});

Deno.test("the worker count comes from the option, LIFCAL_CPU_WORKERS or the cores", async () => {
  const be = new CpuBackend([1], DEFAULT_TWIN_CONFIG, { workers: 3 });
  assert.equal(be.workers, 3);
  await be.close();
  assert.throws(() => new CpuBackend([1], DEFAULT_TWIN_CONFIG, { workers: 0 }), RangeError);
  const saved = Deno.env.get("LIFCAL_CPU_WORKERS");
  try {
    Deno.env.set("LIFCAL_CPU_WORKERS", "1");
    const viaEnv = await openBackend({ backend: "cpu", chips: 1 });
    assert.equal((viaEnv as CpuBackend).workers, 1);
    await viaEnv.close();
    const viaOption = await openBackend({ backend: "cpu", chips: 1, workers: 2 });
    assert.equal((viaOption as CpuBackend).workers, 2);
    await viaOption.close();
    Deno.env.set("LIFCAL_CPU_WORKERS", "two");
    assert.throws(() => new CpuBackend([1], DEFAULT_TWIN_CONFIG), /LIFCAL_CPU_WORKERS/);
    Deno.env.delete("LIFCAL_CPU_WORKERS");
    const byCores = new CpuBackend([1], DEFAULT_TWIN_CONFIG);
    assert.equal(byCores.workers, navigator.hardwareConcurrency);
    await byCores.close();
  } finally {
    if (saved === undefined) Deno.env.delete("LIFCAL_CPU_WORKERS");
    else Deno.env.set("LIFCAL_CPU_WORKERS", saved);
  }
});

Deno.test("the CPU's inlined normal draw is rng.ts's normalAt bit for bit, tails included", () => {
  let tails = 0;
  for (let k = 0; k < 4; k++) {
    const prefix = hash3(k, 1000 + k, 7);
    for (let i = 0; i < 250_000; i++) {
      const a = fastNormalAt(prefix, i);
      const b = normalAt(prefix, i);
      if (!Object.is(a, b)) assert.fail(`draw ${i} of prefix ${prefix}: ${a} ≠ ${b}`);
      if (Math.abs(b) > 1.97) tails++;
    }
  }
  assert.ok(tails > 40_000, `${tails} tail draws`);
});
