/**
 * The WGSL `searchUpdate` and `searchSecant` kernels against the TypeScript rules they mirror
 * (`backends/search_rules.ts`), one step at a time on random states: every
 * algorithm's codes and history must be identical, NaN, ±Infinity and
 * clamped readings included (the binary searches' final pick lets a NaN
 * distance win, as numpy's argmin over calix's history does).
 */

import assert from "node:assert/strict";
import { GpuRuntime, requestTwinDevice } from "../backends/webgpu/gpu_runtime.ts";
import { searchUpdateDesc } from "../backends/webgpu/programs.ts";
import {
  initSearch,
  planSearch,
  type SearchAlgorithm,
  type SearchState,
  searchUpdate,
} from "../backends/search_rules.ts";
import { rng } from "./_helpers.ts";

const probe = await requestTwinDevice();
probe?.device.destroy();

/** One step on the GPU from `state` with `readings`: the next codes, history codes and distances. */
async function gpuStep(
  rt: GpuRuntime,
  state: SearchState,
  readings: Float32Array,
  targets: Float32Array,
): Promise<{ codes: Int32Array; histCodes: Int32Array; histG: Float32Array }> {
  const { plan, instances: n } = state;
  const m = plan.best;
  const ints = new Int32Array(n + m * n);
  ints.set(state.codes, 0);
  ints.set(state.histCodes, n);
  const floats = new Float32Array(m * n + 2 * n);
  floats.set(state.histDist, 0);
  floats.set(targets, m * n);
  floats.set(readings, m * n + n);
  rt.upload("sInt", ints);
  rt.upload("sFloat", floats);
  const { kernel, ...update } = searchUpdateDesc(plan, state.inverted, state.step, {
    instances: n,
    perChip: n,
    codes: 0,
    histCodes: n,
    histDist: 0,
    targets: m * n,
    source: m * n + n + 1,
    write: 0,
  });
  const [intBytes, floatBytes] = await rt.run([{
    kernel,
    groups: Math.ceil(n / 128),
    desc: { chips: 1, ...update },
  }], [
    { buffer: "sInt", offset: 0, size: ints.byteLength },
    { buffer: "sFloat", offset: 0, size: m * n * 4 },
  ]);
  const back = new Int32Array(intBytes!);
  return {
    codes: back.slice(0, n),
    histCodes: back.slice(n),
    histG: new Float32Array(floatBytes!),
  };
}

/** Readings near a monotone map of the codes, with specials mixed in. */
function readingsFor(
  codes: Int32Array,
  next: () => number,
  limits: readonly [number, number] | undefined,
  positive: boolean,
): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const u = next();
    if (u < 0.03) out[i] = NaN;
    else if (u < 0.05) out[i] = next() < 0.5 ? Infinity : -Infinity;
    else if (u < 0.08 && limits) out[i] = limits[next() < 0.5 ? 0 : 1];
    else if (u < 0.1) out[i] = 0;
    else if (u < 0.4) out[i] = positive ? 1 + next() * 50 : -20 + next() * 300;
    else {
      const base = positive ? 1 + codes[i]! * 0.05 : 0.2 * codes[i]! + 10;
      out[i] = base + (next() - 0.5) * 4 * next();
    }
  }
  return out;
}

const CASES: {
  name: string;
  algorithm: SearchAlgorithm;
  range: [number, number];
  inverted: boolean;
}[] = [
  { name: "linear, 0..1022", algorithm: { name: "secant" }, range: [0, 1022], inverted: false },
  { name: "linear, inverted", algorithm: { name: "secant" }, range: [0, 1022], inverted: true },
  {
    name: "CADC limits",
    algorithm: { name: "secant", limits: [0, 255] },
    range: [0, 1022],
    inverted: false,
  },
  {
    name: "reciprocal, inverted, fit limits",
    algorithm: { name: "secant", scale: "reciprocal", limits: [0.5, 40] },
    range: [0, 1022],
    inverted: true,
  },
  {
    name: "a negative range, 9 measurements",
    algorithm: { name: "secant", measurements: 9 },
    range: [-128, 127],
    inverted: false,
  },
  {
    name: "3 measurements",
    algorithm: { name: "secant", measurements: 3 },
    range: [0, 255],
    inverted: true,
  },
  { name: "binary", algorithm: { name: "binary" }, range: [0, 1022], inverted: false },
  { name: "binary, inverted", algorithm: { name: "binary" }, range: [0, 255], inverted: true },
  {
    name: "noisy binary (history of 6)",
    algorithm: { name: "noisy-binary" },
    range: [0, 1022],
    inverted: false,
  },
  {
    name: "noisy binary, a negative range",
    algorithm: { name: "noisy-binary", noise: 3 },
    range: [-128, 127],
    inverted: true,
  },
  {
    name: "linear prediction",
    algorithm: { name: "linear-prediction", probe: 0, offset: -127, slope: 1 },
    range: [-128, 127],
    inverted: false,
  },
];

Deno.test({
  name: "the searchUpdate kernel takes the TS rules' steps exactly on random states",
  ignore: probe === undefined,
  async fn(t) {
    const gpu = (await requestTwinDevice())!;
    const rt = await GpuRuntime.create(gpu.device, gpu.adapter.info.description);
    try {
      for (const c of CASES) {
        await t.step(c.name, async () => {
          const n = 2048;
          const next = rng(c.range[1] * 7 + (c.inverted ? 1 : 0));
          const plan = planSearch(c.algorithm, c.range[0], c.range[1]);
          const positive = c.algorithm.name === "secant" && c.algorithm.scale === "reciprocal";
          const targets = Float32Array.from(
            { length: n },
            () => positive ? 2 + next() * 30 : 20 + next() * 200,
          );
          // Random start codes: the rule must hold from any state, not only from its own.
          let state: SearchState = {
            ...initSearch(
              plan,
              c.inverted,
              n,
              c.algorithm.name === "noisy-binary" ? new Int32Array(n) : undefined,
            ),
            codes: Int32Array.from(
              { length: n },
              () => c.range[0] + Math.floor(next() * (c.range[1] - c.range[0] + 1)),
            ),
          };
          let branches = 0;
          while (!state.done) {
            const readings = readingsFor(
              state.codes,
              next,
              c.algorithm.name === "secant" ? c.algorithm.limits : undefined,
              positive,
            );
            const gpuNext = await gpuStep(rt, state, readings, targets);
            const tsNext = searchUpdate(state, readings, targets);
            assert.deepEqual(gpuNext.codes, tsNext.codes, `codes after step ${state.step}`);
            assert.deepEqual(gpuNext.histCodes, tsNext.histCodes, `history after ${state.step}`);
            const want = Float32Array.from(tsNext.histDist);
            const bad = [...want.keys()].filter((k) => !Object.is(want[k], gpuNext.histG[k]));
            assert.deepEqual(
              bad.slice(0, 5).map((k) => [gpuNext.histG[k], want[k]]),
              [],
              `residuals after step ${state.step}: ${bad.length} differ`,
            );
            branches += new Set(tsNext.codes).size;
            state = tsNext;
          }
          // The random states reach many different codes (the test is not vacuous).
          assert.ok(branches > plan.measurements * 100, `only ${branches} distinct codes`);
        });
      }
    } finally {
      rt.destroy(); // destroys its device too
    }
  },
});
