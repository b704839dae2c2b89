/**
 * The `membrane-trace` measurement (`TWIN.md` §5, §10): the MADC trace of
 * each chip's readout neuron, against truth and the analytic PSP shape, and
 * its rules (one readout neuron per chip, one operation per chip, a chip's
 * trace independent of its batch).
 */

import assert from "node:assert/strict";
import {
  type Backend,
  type ConfigPatch,
  NEURONS,
  openBackend,
  traceSampling,
  validateMeasurement,
} from "../mod.ts";
import { validateSearchSpec } from "../backends/generic_search.ts";
import { MADC_SAMPLE_RATE, measurementSize, traceSamples } from "../backends/measurement.ts";
import { withBackends } from "./_backends.ts";
import { mean, std } from "./_helpers.ts";

const TWIN = { madcOffset: 0.05, madcLsb: 1.8e-3, sigmaV: 1.5e-3, readNoise: 1 };

/** An `enable_readout` row with neuron `n` on. */
function readout(n: number): number[] {
  const row = new Array<number>(NEURONS).fill(0);
  row[n] = 1;
  return row;
}

/** The noise-free MADC reading (unrounded) of a potential. */
function madc(volts: number): number {
  return (volts - TWIN.madcOffset) / TWIN.madcLsb;
}

/** Chip `c`'s samples of a `chips × samples` trace result. */
function chipTrace(r: Float32Array, chips: number, c: number): number[] {
  const s = r.length / chips;
  return Array.from(r.subarray(c * s, (c + 1) * s));
}

Deno.test("a trace has the samples of traceSamples: the MADC rate, decimated by a whole factor", () => {
  assert.equal(MADC_SAMPLE_RATE, 29.4e6);
  assert.deepEqual(traceSampling({ kind: "membrane-trace", windowSeconds: 100e-6 }), {
    samples: 2940,
    decimation: 1,
    periodSeconds: 1 / 29.4e6,
  });
  const long = traceSampling({ kind: "membrane-trace", windowSeconds: 2e-3 });
  assert.equal(traceSamples({ kind: "membrane-trace", windowSeconds: 2e-3 }), 3920);
  assert.equal(long.decimation, 15); // 58 800 raw samples, at most 4096 kept
  assert.equal(long.samples, 3920);
  assert.equal(measurementSize({ kind: "membrane-trace", windowSeconds: 2e-3 }), 3920);
  assert.equal(
    measurementSize({ kind: "membrane-trace", windowSeconds: 2e-3, maxSamples: 100 }),
    100, // decimation 588
  );
  assert.equal(measurementSize({ kind: "membrane-trace", windowSeconds: 35e-9 }), 1);
});

Deno.test("bad trace settings are refused naming the setting", () => {
  const bad: [unknown, RegExp, ErrorConstructor][] = [
    [{}, /windowSeconds is required/, RangeError],
    [{ windowSeconds: -1 }, /windowSeconds must be a positive/, RangeError],
    [{ windowSeconds: [1e-5, 2e-5] }, /windowSeconds must be one number/, RangeError],
    [{ windowSeconds: 20e-9 }, /shorter than one MADC sample/, RangeError],
    [{ windowSeconds: 1e-5, maxSamples: 1.5 }, /maxSamples must be a positive integer/, RangeError],
    [{ windowSeconds: 1e-5, maxSamples: 70000 }, /maxSamples must be at most 65536/, RangeError],
    [{ windowSeconds: 1e-5, events: "exc" }, /events must be an array/, TypeError],
    [{ windowSeconds: 1e-5, events: [7] }, /events\[0\] must be an object/, TypeError],
    [
      { windowSeconds: 1e-5, events: [{ input: "exc", timeSeconds: 0 }, { input: "ampa" }] },
      /events\[1\]\.input must be "exc" or "inh"/,
      RangeError,
    ],
    [
      { windowSeconds: 1e-5, events: [{ input: "inh", timeSeconds: 1e-5 }] },
      /events\[0\]\.timeSeconds must be a number in \[0, windowSeconds/,
      RangeError,
    ],
    [
      { windowSeconds: 1e-5, events: [{ input: "inh", timeSeconds: 0, weight: 0 }] },
      /events\[0\]\.weight must be a positive/,
      RangeError,
    ],
  ];
  for (const [settings, message, type] of bad) {
    assert.throws(
      () => validateMeasurement({ kind: "membrane-trace", ...(settings as object) } as never),
      (e: unknown) => e instanceof type && message.test((e as Error).message),
      JSON.stringify(settings),
    );
  }
  assert.throws(
    () =>
      validateSearchSpec({
        field: "v_leak",
        algorithm: { name: "binary" },
        target: 100,
        measurement: { kind: "membrane-trace", windowSeconds: 1e-5 },
      }, 1),
    /membrane-trace cannot drive a search/,
  );
});

Deno.test("a resting neuron's trace sits at the MADC reading of V_rest, scattered by σ_V and the read noise", async () => {
  const CHIPS = 8;
  const n = 200;
  const be = await openBackend({ backend: "cpu", chips: CHIPS });
  await be.write({
    enable_readout: readout(n),
    v_leak: 500,
    i_bias_leak: 300,
    threshold_enable: 0,
  });
  const t = await be.truth!();
  // 120 µs at the full rate: 3528 samples, ≈ 40 τ_mem (τ ≈ 1.5 µs).
  const r = await be.measure({ kind: "membrane-trace", windowSeconds: 120e-6 });
  assert.equal(r.length, CHIPS * 3528);
  const dt = 1 / MADC_SAMPLE_RATE;
  const sigmaV = TWIN.sigmaV / TWIN.madcLsb; // 0.83 LSB
  const readVariance = TWIN.readNoise ** 2 + 1 / 12; // read noise and rounding
  const offsets: number[] = [];
  const read: number[] = [];
  const membrane: number[] = [];
  for (let c = 0; c < CHIPS; c++) {
    const trace = chipTrace(r, CHIPS, c);
    const i = c * NEURONS + n;
    offsets.push(mean(trace) - madc(t.V_rest[i]!));
    // Successive samples 34 ns apart: their difference holds twice the read
    // variance and a sliver of the membrane's (the OU decorrelates by dt/τ).
    const diff = trace.slice(1).map((v, k) => v - trace[k]!);
    const ouPart = sigmaV ** 2 * (1 - Math.exp(-dt / t.tau_mem[i]!));
    read.push(std(diff) ** 2 / 2 - ouPart);
    membrane.push(std(trace) ** 2 - readVariance);
  }
  console.log(
    `trace − MADC(V_rest): ${offsets.map((o) => o.toFixed(2)).join(", ")} LSB; read variance ${
      mean(read).toFixed(3)
    } (expected ${readVariance.toFixed(3)}), membrane variance ${mean(membrane).toFixed(3)} (${
      (sigmaV ** 2).toFixed(3)
    }) LSB²`,
  );
  // Each mean averages ≈ 40 independent stretches of σ_V = 0.83 LSB: ±0.15 LSB.
  assert.ok(offsets.every((o) => Math.abs(o) < 0.6), `offsets ${offsets}`);
  assert.ok(Math.abs(mean(offsets)) < 0.25, `mean offset ${mean(offsets)}`);
  // Pooled over 8 × 3527 differences the read variance is known to ≈ 1 %, the
  // membrane variance (≈ 300 correlation times in all) to ≈ 10 %.
  assert.ok(Math.abs(mean(read) / readVariance - 1) < 0.06, `read variance ${mean(read)}`);
  assert.ok(Math.abs(mean(membrane) / sigmaV ** 2 - 1) < 0.25, `σ_V² ${mean(membrane)} LSB²`);
  await be.close();
});

Deno.test("after an excitatory event the trace rises and decays with τ_mem (the double-exponential PSP)", async () => {
  const n = 100;
  const be = await openBackend({ backend: "cpu", chips: [4] });
  await be.write({
    enable_readout: readout(n),
    v_leak: 400,
    i_bias_leak: 300,
    leak_division: 1,
    threshold_enable: 0,
    synin_exc_enable: 1,
    i_bias_synin_exc_gm: 1022,
    i_bias_synin_exc_tau: 100,
  });
  const t = await be.truth!();
  const tauM = t.tau_mem[n]!; // ≈ 10 µs
  const tauS = t.tau_syn_exc[n]!; // ≈ 1.3 µs
  const t0 = 5e-6;
  const window = 80e-6;
  const samples = measurementSize({ kind: "membrane-trace", windowSeconds: window });
  // 16 traces (each its own operation, so its own noise) averaged.
  const avg = new Float64Array(samples);
  for (let k = 0; k < 16; k++) {
    const r = await be.measure({
      kind: "membrane-trace",
      windowSeconds: window,
      events: [{ input: "exc", timeSeconds: t0, weight: 300 }],
    });
    r.forEach((v, j) => avg[j] = avg[j]! + v / 16);
  }
  const dt = 1 / MADC_SAMPLE_RATE;
  const before = Math.round(t0 / dt);
  const base = mean(avg.subarray(0, before));
  assert.ok(Math.abs(base - madc(t.V_rest[n]!)) < 0.5, `baseline ${base}`);
  // V(t) − V0 = A·(e^(−t/τ_m) − e^(−t/τ_s)) after the event; A by least squares.
  const shape = (j: number, tau: number) => {
    const s = j * dt - t0;
    return s <= 0 ? 0 : Math.exp(-s / tau) - Math.exp(-s / tauS);
  };
  const fit = (tau: number) => {
    let sxy = 0;
    let sxx = 0;
    avg.forEach((v, j) => {
      const f = shape(j, tau);
      sxy += f * (v - base);
      sxx += f * f;
    });
    const a = sxy / sxx;
    let ss = 0;
    avg.forEach((v, j) => ss += (v - base - a * shape(j, tau)) ** 2);
    return { a, rms: Math.sqrt(ss / samples) };
  };
  // The trace rises to its peak within a few τ_syn, then decays.
  let peak = 0;
  let at = 0;
  avg.forEach((v, j) => {
    if (v - base > peak) [peak, at] = [v - base, j];
  });
  const tPeak = at * dt - t0;
  const analyticPeak = Math.log(tauM / tauS) * tauM * tauS / (tauM - tauS);
  assert.ok(peak > 25, `PSP height ${peak} LSB`);
  assert.ok(
    Math.abs(tPeak - analyticPeak) < 0.6e-6,
    `peak at ${tPeak} s, expected ${analyticPeak}`,
  );
  // With truth's time constants the shape leaves only the averaged noise
  // (1.33 LSB/√16 ≈ 0.33 LSB per sample).
  const atTruth = fit(tauM);
  assert.ok(atTruth.rms < 0.45, `residual rms ${atTruth.rms} LSB`);
  // The decay time fitted to the trace (golden section over τ) is τ_mem.
  let lo = 0.3 * tauM;
  let hi = 3 * tauM;
  for (let k = 0; k < 50; k++) {
    const a = lo + 0.382 * (hi - lo);
    const b = lo + 0.618 * (hi - lo);
    if (fit(a).rms < fit(b).rms) hi = b;
    else lo = a;
  }
  const fitted = (lo + hi) / 2;
  console.log(
    `PSP: height ${peak.toFixed(1)} LSB at ${(tPeak * 1e6).toFixed(2)} µs (analytic ${
      (analyticPeak * 1e6).toFixed(2)
    }); rms ${atTruth.rms.toFixed(3)} LSB at truth's τ; fitted τ_mem / truth ${
      (fitted / tauM).toFixed(4)
    }`,
  );
  assert.ok(Math.abs(fitted / tauM - 1) < 0.05, `fitted τ_mem ${fitted} against ${tauM}`);
  await be.close();
});

Deno.test("moving the readout moves the trace to the other neuron", async () => {
  const be = await openBackend({ backend: "cpu", chips: [9] });
  const leak = new Array<number>(NEURONS).fill(400);
  leak[10] = 300;
  leak[300] = 700;
  await be.write({ v_leak: leak, threshold_enable: 0 });
  const t = await be.truth!();
  const traces: number[] = [];
  for (const n of [10, 300, 10]) {
    await be.write({ enable_readout: readout(n) });
    const m = mean(await be.measure({ kind: "membrane-trace", windowSeconds: 30e-6 }));
    assert.ok(
      Math.abs(m - madc(t.V_rest[n]!)) < 1,
      `neuron ${n}: ${m} against ${madc(t.V_rest[n]!)}`,
    );
    traces.push(m);
  }
  assert.ok(traces[1]! - traces[0]! > 100, `${traces}`);
  await be.close();
});

Deno.test("two readout neurons in one patch are refused whole; a row with a single 1 moves it", async () => {
  const be = await openBackend({ backend: "cpu", chips: [1, 2] });
  await be.write({ enable_readout: readout(3) });
  const two = readout(3);
  two[9] = 1;
  await assert.rejects(
    () => be.write({ v_leak: 700, enable_readout: [readout(5), two] }),
    (e: unknown) =>
      e instanceof RangeError &&
      /enable_readout .*at most one neuron per chip; chip 1 would have it on neurons 3, 9/.test(
        e.message,
      ),
  );
  await assert.rejects(() => be.write({ enable_readout: 1 }), /neurons 0, 1, 2, 3, 4, 5, 6, 7, …/);
  const [c0, c1] = await be.config();
  for (const c of [c0!, c1!]) {
    assert.equal(c.v_leak[0], 400, "nothing of the refused patch was applied");
    assert.deepEqual([...c.enable_readout].flatMap((v, n) => v ? [n] : []), [3]);
  }
  await be.write({ enable_readout: readout(42) });
  assert.deepEqual([...(await be.config())[1]!.enable_readout].flatMap((v, n) => v ? [n] : []), [
    42,
  ]);
  // Off everywhere is allowed (no readout).
  await be.write({ enable_readout: 0 });
  await be.close();
});

Deno.test("a chip without a readout neuron is refused naming it, before anything runs", async () => {
  const be = await openBackend({ backend: "cpu", chips: [4, 5, 6] });
  await be.write({ enable_readout: readout(7) }, { chips: [0] });
  const m = { kind: "membrane-trace", windowSeconds: 10e-6 } as const;
  await assert.rejects(
    () => be.measure(m),
    (e: unknown) =>
      e instanceof RangeError &&
      /chips 1 \(sim-5\), 2 \(sim-6\) have no readout neuron/.test(e.message),
  );
  await assert.rejects(() => be.measure(m, { chips: [0, 2] }), /chip 2 \(sim-6\) has no readout/);
  assert.deepEqual([...be.counters()], [0, 0, 0], "no operation was claimed");
  // The selected chip with a readout neuron traces; the others read NaN.
  const r = await be.measure(m, { chips: [0] });
  assert.equal(r.length, 3 * 294);
  assert.ok(r.subarray(0, 294).every((v) => v > 0 && v < 1023));
  assert.ok(r.subarray(294).every(Number.isNaN));
  await be.close();
});

Deno.test("a trace claims one operation per chip and is bit-identical alone and in a batch", async () => {
  const patch: ConfigPatch = {
    enable_readout: readout(77),
    synin_inh_enable: 1,
    i_bias_synin_inh_gm: 800,
    coba_inh_enable: 1,
    i_bias_synin_inh_coba: 200,
    e_synin_inh_rev: 300,
  };
  const m = {
    kind: "membrane-trace",
    windowSeconds: 300e-6,
    maxSamples: 2000,
    events: [{ input: "inh", timeSeconds: 20e-6, weight: 400 }, {
      input: "exc",
      timeSeconds: 30e-6,
    }],
  } as const;
  const run = async (be: Backend) => {
    await be.write(patch);
    await be.measure({ kind: "resting-potential" });
    const before = be.counters();
    const r = await be.measure(m);
    assert.deepEqual([...be.counters()], [...before].map((c) => c + 1));
    return r;
  };
  const alone = await run(await openBackend({ backend: "cpu", chips: [7] }));
  const batch = await run(await openBackend({ backend: "cpu", chips: [3, 7, 11] }));
  assert.equal(alone.length, 1764); // 8820 raw samples, decimation 5
  assert.deepEqual(chipTrace(batch, 3, 1), Array.from(alone));
  assert.notDeepEqual(chipTrace(batch, 3, 0), Array.from(alone));
});

Deno.test("a trace over the wire is the CPU's, and a missing readout is the same RangeError", async () => {
  await withBackends("remote-ws", async (open) => {
    const remote = await open([2, 3]);
    const local = await openBackend({ backend: "cpu", chips: [2, 3] });
    const m = {
      kind: "membrane-trace",
      windowSeconds: 20e-6,
      events: [{ input: "exc", timeSeconds: 2e-6 }],
    } as const;
    for (const be of [remote, local]) {
      await be.write({ enable_readout: readout(5) }, { chips: [0] });
      await assert.rejects(() => be.measure(m), /chip 1 \(sim-3\) has no readout neuron/);
      await be.write({ enable_readout: readout(6), synin_exc_enable: 1, i_bias_synin_exc_gm: 500 });
    }
    assert.deepEqual(await remote.measure(m), await local.measure(m));
    assert.deepEqual(remote.counters(), local.counters());
    await local.close();
  });
});
