import assert from "node:assert/strict";
import {
  calibrate,
  calibrateCadc,
  calibrateLeakOverThreshold,
  type NeuronCalibResult,
  openBackend,
  refinePotentials,
  type Truth,
} from "../mod.ts";
import { chipSlice } from "./_calib_quality.ts";
import { fraction, mean } from "./_helpers.ts";

const backend = await openBackend({ backend: "cpu", chips: [5] });
let afterThreshold: Truth | undefined;
const results: NeuronCalibResult[] = await calibrate(backend, undefined, {
  refine: false,
  onStep: async (step) => {
    if (step === "synaptic inputs") afterThreshold = await backend.truth!();
  },
});

function meanAbs(t: Truth, pick: (t: Truth) => Float64Array, target: number): number {
  return mean(chipSlice(pick(t), 0).map((v) => Math.abs(v - target)));
}

Deno.test("refinePotentials after a CADC re-calibration removes the drift of early-calibrated potentials", async () => {
  const end = await backend.truth!();
  // Crosstalk from the later steps moved the threshold calibrated in step 5.
  const drift = mean(chipSlice(end.V_T, 0).map((v, n) => Math.abs(v - afterThreshold!.V_T[n]!)));
  assert.ok(drift > 0.3e-3, `threshold drift ${drift * 1e3} mV`);
  const before = meanAbs(end, (t) => t.V_T_cadc, 125);
  await calibrateCadc(backend);
  const recalibrated = await backend.truth!();
  await refinePotentials(backend, results);
  const after = await backend.truth!();
  for (
    const [name, pick, target] of [
      ["threshold", (t: Truth) => t.V_T_cadc, 125],
      ["reset", (t: Truth) => t.V_R_cadc, 70],
      ["leak", (t: Truth) => t.V_rest_cadc, 80],
    ] as const
  ) {
    const mid = meanAbs(recalibrated, pick, target);
    const fin = meanAbs(after, pick, target);
    assert.ok(fin < mid, `${name}: ${fin} after refinement vs ${mid} before`);
    assert.ok(fin < 0.6, `${name}: mean |error| ${fin} LSB after refinement`);
  }
  assert.ok(meanAbs(after, (t) => t.V_T_cadc, 125) < before);
  // Success is left as it was; the new codes are in the result.
  assert.deepEqual(
    Array.from((await backend.config())[0]!.v_threshold),
    results[0]!.capmem.v_threshold,
  );
});

Deno.test("leak over threshold at 100 kHz: > 90 % of neurons fire at 90..115 kHz", async () => {
  await refinePotentials(backend, results, { leak: 110, reset: 60, threshold: 120 });
  assert.equal(results[0]!.target.leak, 110);
  await calibrateLeakOverThreshold(backend, results, "100 kHz");
  const window = 1.5e-3;
  const counts = await backend.measure({ kind: "spike-count", windowSeconds: window });
  const rates = Array.from(counts, (c) => c / window);
  assert.ok(fraction(rates, (r) => r > 90e3) > 0.9);
  assert.ok(fraction(rates, (r) => r < 115e3) > 0.9);
  assert.equal(results[0]!.leak_over_threshold, "100000 Hz");
});

Deno.test("leak over threshold with variable targets; a 0 target leaves the threshold as it was", async () => {
  const levels = Array.from(
    { length: 512 },
    (_, n) => (n % 4 === 3 ? 0 : 20e3 + Math.floor(n / 32) * (100e3 / 15)),
  );
  const before = results[0]!.capmem.v_threshold.slice();
  await calibrateLeakOverThreshold(backend, results, { value: levels, unit: "Hz" });
  const window = 1.5e-3;
  const counts = await backend.measure({ kind: "spike-count", windowSeconds: window });
  const hits = levels.flatMap((l, n) =>
    l === 0 ? [] : [Math.abs(counts[n]! / window - l) <= 8e3 + 0.08 * l ? 1 : 0]
  );
  assert.ok(mean(hits) > 0.85, `${(100 * mean(hits)).toFixed(1)} % within 8 kHz + 8 %`);
  for (let n = 3; n < 512; n += 4) assert.equal(results[0]!.capmem.v_threshold[n], before[n]);
});

Deno.test("leak over threshold rejects bad rates naming the problem", async () => {
  await assert.rejects(() => calibrateLeakOverThreshold(backend, results, 100e3), TypeError);
  await assert.rejects(
    () => calibrateLeakOverThreshold(backend, results, "0 Hz"),
    /none of the thresholds/,
  );
  await assert.rejects(
    () =>
      calibrateLeakOverThreshold(backend, results, {
        value: [-1, ...new Array(511).fill(1e5)],
        unit: "Hz",
      }),
    /neuron 0 is negative/,
  );
  await assert.rejects(() => calibrateLeakOverThreshold(backend, [], "100 kHz"), RangeError);
});
