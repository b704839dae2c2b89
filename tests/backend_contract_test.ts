import assert from "node:assert/strict";
import { type Backend, type ConfigPatch, openBackend, type SearchSpec, VERSION } from "../mod.ts";
import { BACKEND_KINDS, withBackends } from "./_backends.ts";

/** The same sequence of operations on any backend: writes, measurements of every kind, searches. */
async function script(be: Backend): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  await be.write({ v_leak: 500, i_bias_leak: 300, leak_division: 1, threshold_enable: 0 });
  out.push(await be.measure({ kind: "resting-potential" }));
  out.push(await be.measure({ kind: "tau-mem", windowSeconds: 20e-6, maxSamples: 300 }));
  out.push(await be.measure({ kind: "tau-syn-exc", maxSamples: 300 }));
  out.push(await be.measure({ kind: "cadc-reference", code: 310 }));
  const spec: SearchSpec = {
    field: "v_reset",
    algorithm: { name: "noisy-binary" },
    target: 70,
    measurement: { kind: "reset-potential" },
  };
  const r = await be.search(spec);
  out.push(Float32Array.from(r.codes));
  const secant = await be.search({
    field: "i_bias_leak",
    inverted: true,
    algorithm: { name: "secant", scale: "reciprocal", limits: [0.1e-6, 2000e-6] },
    target: 15e-6,
    measurement: { kind: "tau-mem", windowSeconds: 45e-6, maxSamples: 300 },
  });
  out.push(Float32Array.from(secant.codes));
  await be.write({ synin_exc_enable: 1, i_bias_synin_exc_gm: 400 });
  out.push(await be.measure({ kind: "psp-amplitude-exc", events: 3, runs: 1 }));
  await be.write({ threshold_enable: 1, v_threshold: 420, v_leak: 700 });
  out.push(await be.measure({ kind: "spike-count", windowSeconds: 50e-6 }));
  return out;
}

function chipSlice(arrays: Float32Array[], chip: number, chips: number): Float32Array[] {
  return arrays.map((a) => {
    const per = a.length / chips;
    return a.slice(chip * per, (chip + 1) * per);
  });
}

/** Patches every backend must reject whole, with the message it must give. */
const BAD_WRITES: [string, ConfigPatch, ErrorConstructor, RegExp][] = [
  [
    "a code above 1022",
    { v_threshold: 500, v_leak: 1023 },
    RangeError,
    /v_leak must lie in 0\.\.1022, got 1023/,
  ],
  ["a negative code", { v_reset: -1 }, RangeError, /v_reset.*0\.\.1022/],
  ["a non-integer code", { i_bias_leak: 10.5 }, RangeError, /i_bias_leak must be an integer/],
  [
    "one bad neuron in an array",
    {
      v_leak: Array.from({ length: 512 }, (_, n) => (n === 17 ? 2000 : 300)),
    },
    RangeError,
    /neurons 17 of chip 0/,
  ],
  [
    "a wrong array length",
    { v_leak: [1, 2, 3] },
    RangeError,
    /v_leak has 3 values, expected 1, 512/,
  ],
  [
    "an unknown row",
    { v_leek: 300 } as unknown as ConfigPatch,
    TypeError,
    /Unknown configuration field "v_leek"/,
  ],
  [
    "a string value",
    { v_leak: "300" } as unknown as ConfigPatch,
    TypeError,
    /v_leak must be a number/,
  ],
  [
    "a quadrant cell with 5 values",
    { syn_i_bias_dac: [1, 2, 3, 4, 5] },
    RangeError,
    /syn_i_bias_dac has 5 values/,
  ],
  ["a flag of 2", { leak_division: 2 }, RangeError, /leak_division must lie in 0\.\.1/],
  [
    "a channel offset of 128",
    { cadc_channel_offset: 128 },
    RangeError,
    /cadc_channel_offset must lie in -128\.\.127/,
  ],
  [
    "per-chip arrays for 3 chips",
    { v_leak: [[1], [2], [3]] },
    RangeError,
    /3 per-chip arrays, expected one per chip \(2\)/,
  ],
];

const cpuReadings = new Map<string, Float32Array[]>();

/** The script's readings on the CPU executor, computed once per seed list. */
async function onCpu(seeds: number[]): Promise<Float32Array[]> {
  const key = seeds.join(",");
  if (!cpuReadings.has(key)) {
    const be = await openBackend({ backend: "cpu", chips: seeds });
    cpuReadings.set(key, await script(be));
    await be.close();
  }
  return cpuReadings.get(key)!;
}

for (const kind of BACKEND_KINDS) {
  Deno.test(`${kind}: the same seed gives bit-identical readings in two runs`, async () => {
    await withBackends(kind, async (open, k) => {
      const a = await script(await open([5]));
      const b = await script(await open([5]));
      assert.deepEqual(a, b);
      if (k.exact) assert.deepEqual(a, await onCpu([5]));
    });
  });

  Deno.test(`${kind}: different seeds give different chips`, async () => {
    await withBackends(kind, async (open) => {
      const both = await script(await open([5, 6]));
      const [r5, r6] = [chipSlice(both, 0, 2), chipSlice(both, 1, 2)];
      for (let i = 0; i < r5.length; i++) assert.notDeepEqual(r5[i], r6[i]);
      const truth = await (await open([5, 6])).truth!();
      assert.notDeepEqual(truth.tau_mem.slice(0, 512), truth.tau_mem.slice(512));
    });
  });

  Deno.test(`${kind}: chip 7 alone and inside the batch [3, 7, 11] gives bit-identical readings`, async () => {
    await withBackends(kind, async (open, k) => {
      const alone = await script(await open([7]));
      const batch = await script(await open([3, 7, 11]));
      assert.deepEqual(chipSlice(batch, 1, 3), alone);
      // And its position in the batch does not matter either.
      const first = await script(await open([7, 3]));
      assert.deepEqual(chipSlice(first, 0, 2), alone);
      if (k.exact) assert.deepEqual(alone, await onCpu([7]));
    });
  });

  Deno.test(`${kind}: each measurement claims one operation per chip, a search one more for its start points`, async () => {
    await withBackends(kind, async (open) => {
      const be = await open([1, 2]);
      await be.measure({ kind: "resting-potential" });
      assert.deepEqual([...be.counters()], [1, 1]);
      await be.search({
        field: "v_leak",
        algorithm: { name: "noisy-binary" },
        target: 80,
        measurement: { kind: "resting-potential" },
      });
      assert.deepEqual([...be.counters()], [15, 15]);
      be.restoreCounters([40], { chips: [1] });
      assert.deepEqual([...be.counters()], [15, 40]);
      assert.throws(() => be.restoreCounters([1, 2, 3]), RangeError);
    });
  });

  Deno.test(`${kind}: bad measurements and searches are rejected naming the problem`, async () => {
    await withBackends(kind, async (open) => {
      const be = await open([1]);
      await assert.rejects(() => be.measure({ kind: "tau-men" } as never), TypeError);
      await assert.rejects(() => be.measure({ kind: "spike-count", windowSeconds: 0 }), RangeError);
      await assert.rejects(
        () => be.measure({ kind: "cadc-reference", code: 1023 }),
        /code must be an integer in 0\.\.1022/,
      );
      const search = (s: Partial<SearchSpec>) =>
        be.search({
          field: "v_leak",
          algorithm: { name: "binary" },
          target: 80,
          measurement: { kind: "resting-potential" },
          ...s,
        });
      await assert.rejects(
        () => search({ measurement: { kind: "synline-drop" } }),
        /synline-drop gives 4 values per chip, but v_leak has 512/,
      );
      await assert.rejects(
        () => search({ field: "membrane_capacitance" as never }),
        /cannot be searched/,
      );
      await assert.rejects(() => search({ target: [1, 2] }), /target has 2 values/);
    });
  });

  Deno.test(`${kind}: a closed backend refuses work`, async () => {
    await withBackends(kind, async (open) => {
      const be = await open([1]);
      await be.close();
      await assert.rejects(() => be.measure({ kind: "resting-potential" }), /closed/);
    });
  });

  Deno.test(`${kind}: truth(patch) evaluates a configuration without applying it`, async () => {
    await withBackends(kind, async (open) => {
      const be = await open([1, 2]);
      const now = await be.truth!();
      const what = await be.truth!({ v_leak: 800 });
      assert.ok(what.E_L.every((v, i) => v > now.E_L[i]!));
      assert.deepEqual(await be.truth!(), now);
    });
  });

  Deno.test(`${kind}: an operation on a chip selection leaves the other chips untouched`, async () => {
    await withBackends(kind, async (open) => {
      const spec: SearchSpec = {
        field: "v_leak",
        algorithm: { name: "noisy-binary" },
        target: 90,
        measurement: { kind: "resting-potential" },
      };
      const batch = await open([3, 7, 11]);
      const alone = await open([7]);
      await batch.measure({ kind: "resting-potential" }, { chips: [1] });
      await alone.measure({ kind: "resting-potential" });
      assert.deepEqual([...batch.counters()], [0, 1, 0]);
      const before = await batch.config();
      await batch.write({ v_reset: [[100], [200]].map((v) => new Array(512).fill(v[0])) }, {
        chips: [0, 2],
      });
      await alone.write({ v_reset: 500 });
      await batch.write({ v_reset: 500 }, { chips: [1] });
      const r = await batch.search({ ...spec, chips: [1] });
      const a = await alone.search(spec);
      assert.deepEqual(r.codes.slice(512, 1024), a.codes);
      assert.ok(r.codes.slice(0, 512).every((c) => c === -1));
      const after = await batch.config();
      assert.deepEqual(after[0]!.v_leak, before[0]!.v_leak);
      assert.equal(after[0]!.v_reset[0], 100);
      assert.equal(after[2]!.v_reset[0], 200);
      const m = await batch.measure({ kind: "reset-potential" }, { chips: [0, 2] });
      assert.ok(m.slice(512, 1024).every((v) => Number.isNaN(v)));
      assert.deepEqual([...batch.counters()], [1, 15, 1]);
      await assert.rejects(
        () => batch.measure({ kind: "resting-potential" }, { chips: [2, 1] }),
        RangeError,
      );
    });
  });

  Deno.test(`${kind}: bad writes are rejected whole, naming the problem, and leave the chips unchanged`, async (t) => {
    await withBackends(kind, async (open) => {
      const be = await open([1, 2]);
      await be.write({ v_leak: 400 });
      const before = await be.config();
      for (const [name, patch, type, message] of BAD_WRITES) {
        await t.step(name, async () => {
          await assert.rejects(
            () => be.write(patch),
            (e: Error) => e instanceof type && message.test(e.message),
          );
          assert.deepEqual(await be.config(), before);
        });
      }
    });
  });
}

Deno.test("openBackend resolves chip counts and seed lists and rejects bad ones", async () => {
  assert.deepEqual((await openBackend({ backend: "cpu", chips: 3 })).chips.map((c) => c.id), [
    "sim-1",
    "sim-2",
    "sim-3",
  ]);
  assert.deepEqual(
    (await openBackend({ backend: "cpu", chips: [9, 4] })).keys,
    Uint32Array.from([9, 4]),
  );
  await assert.rejects(() => openBackend({ backend: "cpu", chips: 0 }), RangeError);
  await assert.rejects(() => openBackend({ backend: "cpu", chips: [1, 1] }), /appears twice/);
  await assert.rejects(() => openBackend({ backend: "cpu", chips: [-1] }), RangeError);
  await assert.rejects(() => openBackend({ backend: "tpu" as never, chips: 1 }), TypeError);
  await assert.rejects(
    () => openBackend({ backend: "cpu", chips: 1, twin: { nosie: {} } as never }),
    /nosie/,
  );
});

Deno.test("VERSION matches deno.json", async () => {
  const json = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(VERSION, json.version);
});
