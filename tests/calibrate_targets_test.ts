import assert from "node:assert/strict";
import { calibrate, openBackend } from "../mod.ts";
import { assertCalibrationQuality, RATIO_LIMITS, spreadRatios } from "./_calib_quality.ts";
import { fraction } from "./_helpers.ts";

Deno.test("a non-default target meets the same limits", async () => {
  const backend = await openBackend({ backend: "cpu", chips: [21] });
  const results = await calibrate(backend, {
    tau_mem: "25 us",
    leak: 100,
    reset: 60,
    threshold: 150,
    tau_syn: "5 us",
  });
  await assertCalibrationQuality(backend, results, {
    leak: 100,
    reset: 60,
    threshold: 150,
    tau_mem: 25e-6,
    tau_syn: 5e-6,
  });
  assert.equal(results[0]!.target.tau_mem, "25 us");
});

/** The range ends: calix's ratio limits with ≥ 97 % success. */
async function rangeEnd(seed: number, tauMem: string, tauSyn: string): Promise<void> {
  const backend = await openBackend({ backend: "cpu", chips: [seed] });
  const results = await calibrate(backend, { tau_mem: tauMem, tau_syn: tauSyn });
  await assertCalibrationQuality(backend, results, {} as never, { truth: false });
}

Deno.test("the range ends: tau_mem 3 µs (offset method) and tau_syn 0.3 µs", async () => {
  await rangeEnd(22, "3 us", "0.3 us");
});

Deno.test("the range ends: tau_mem 0.5 µs (reset method) and tau_syn 30 µs", async () => {
  const backend = await openBackend({ backend: "cpu", chips: [23] });
  const results = await calibrate(backend, { tau_mem: "0.5 us", tau_syn: "30 us" });
  await assertCalibrationQuality(backend, results, {} as never, { truth: false });
  // The reset method needs no leak division at 0.5 µs, some multiplication.
  assert.ok(fraction(results[0]!.neuron.leak_division, (v) => v === 0) > 0.9);
});

Deno.test("BinarySearch, calix's plain algorithm, calibrates too", async () => {
  const backend = await openBackend({ backend: "cpu", chips: [24] });
  const results = await calibrate(backend, undefined, { algorithm: "binary" });
  for (const [p, limit] of Object.entries(RATIO_LIMITS)) {
    const [r] = await spreadRatios(backend, results, p as keyof typeof RATIO_LIMITS);
    assert.ok(r! < limit, `${p}: ${r}`);
  }
  assert.equal(results[0]!.options.algorithm, "binary");
});
