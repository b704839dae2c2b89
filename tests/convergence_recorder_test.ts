import assert from "node:assert/strict";
import { calibrate, openBackend, resultToJson, type SearchSpec } from "../mod.ts";
import { ConvergenceRecorder } from "../cli/convergence_recorder.ts";
import { quantiles } from "../cli/stats.ts";

const LEAK: SearchSpec = {
  field: "v_leak",
  algorithm: { name: "noisy-binary" },
  target: 80,
  measurement: { kind: "resting-potential", reads: 8 },
};

const close = (a: number | null, b: number, tol = 1e-9) =>
  assert.ok(a !== null && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} is not ${b}`);

Deno.test("A calibration through the convergence recorder gives the plain calibration's results byte for byte", async () => {
  const plainBackend = await openBackend({ backend: "cpu", chips: [3] });
  const plain = await calibrate(plainBackend);
  const recorder = new ConvergenceRecorder(await openBackend({ backend: "cpu", chips: [3] }));
  const steps: string[] = [];
  const recorded = await calibrate(recorder, undefined, {
    onStep: (s) => {
      steps.push(s);
      recorder.enterStep(s);
    },
  });
  assert.equal(resultToJson(recorded[0]!), resultToJson(plain[0]!));
  // The same operations were claimed, so the noise streams continue alike.
  assert.deepEqual([...recorder.counters()], [...plainBackend.counters()]);
  const rec = recorder.recording();
  assert.deepEqual(rec.steps.map((s) => s.name), steps);
  // Every measurement is in a step, and the steps add up to the totals.
  const sum = rec.steps.reduce((n, s) => n + s.measurements[0]!, 0);
  assert.equal(sum, rec.totals.measurements[0]);
  assert.ok(rec.totals.measurements[0]! > 500, `${rec.totals.measurements[0]} measurements`);
  assert.ok(rec.totals.outside_searches.measurements[0]! > 0);
  // The synaptic strength searches nest a reference search before every step.
  const gm = rec.searches.find((g) => g.field === "i_bias_synin_exc_gm")!;
  assert.equal(gm.basis, "measured");
  assert.equal(gm.sub_searches.length, gm.steps.length);
  assert.ok(
    gm.sub_searches.every((s) => s.field === "i_bias_synin_exc_shift" && s.basis === "truth"),
  );
  await plainBackend.close();
  await recorder.close();
});

Deno.test("Step k's true residual is the truth at step k's codes, with k measurements and k settled writes", async () => {
  const recorder = new ConvergenceRecorder(await openBackend({ backend: "cpu", chips: 2 }));
  recorder.enterStep("leak");
  await recorder.write({ threshold_enable: 0 });
  const r = await recorder.search({ ...LEAK, trace: true });
  assert.equal(r.trace!.codes.length, 13);
  const rec = recorder.recording();
  const [leak] = rec.searches;
  assert.equal(leak!.step, "leak");
  assert.equal(leak!.basis, "truth");
  assert.equal(leak!.unit, "CADC LSB");
  assert.equal(leak!.chips, 2);
  for (const [k, codes] of r.trace!.codes.entries()) {
    const truth = await recorder.truth({ v_leak: codes });
    const residuals = Array.from(truth.V_rest_cadc, (v) => Math.abs(v - 80));
    const [median, p90] = quantiles(residuals, [0.5, 0.9]);
    close(leak!.steps[k]!.median, median!);
    close(leak!.steps[k]!.p90, p90!);
    assert.equal(leak!.steps[k]!.measurements, k + 1);
    // Each step writes v_leak (20 ms settling) and reads 8 times (8 × 2 synrams × 2 µs).
    close(leak!.steps[k]!.hardware_seconds, (k + 1) * (0.02 + 32e-6));
  }
  const final = await recorder.truth();
  const [median] = quantiles(Array.from(final.V_rest_cadc, (v) => Math.abs(v - 80)), [0.5]);
  close(leak!.result!.median, median!);
  assert.ok(leak!.result!.median! < 0.6, `median true residual ${leak!.result!.median}`);
  assert.ok(leak!.steps[0]!.median! > 20);
  // Totals: the digital write outside the search costs no time; the search wrote 14 times.
  assert.deepEqual(rec.totals.measurements, [13, 13]);
  assert.deepEqual(rec.totals.writes, [15, 15]);
  assert.deepEqual(rec.totals.capmem_writes, [14, 14]);
  assert.deepEqual(rec.totals.outside_searches.measurements, [0, 0]);
  close(rec.totals.hardware_seconds[0]!, 14 * 0.02 + 13 * 32e-6);
  await recorder.close();
});

Deno.test("Sub-searches are groups under their parent and count into its measurements and time", async () => {
  const recorder = new ConvergenceRecorder(await openBackend({ backend: "cpu", chips: 2 }));
  await recorder.write({ threshold_enable: 0 });
  const spec: SearchSpec = {
    field: "i_bias_leak",
    algorithm: { name: "binary" },
    target: 100,
    measurement: { kind: "tau-mem-cadc", waitSeconds: 60e-6 },
    before: [{
      field: "v_leak",
      algorithm: { name: "binary" },
      target: 120,
      measurement: { kind: "resting-potential" },
    }],
    chips: [1],
  };
  await recorder.search(spec);
  const rec = recorder.recording();
  assert.equal(rec.searches.length, 1);
  const [parent] = rec.searches;
  assert.equal(parent!.basis, "measured");
  assert.equal(parent!.unit, "CADC LSB");
  assert.equal(parent!.result, null);
  assert.equal(parent!.chips, 1);
  assert.equal(parent!.steps.length, 12);
  assert.equal(parent!.sub_searches.length, 12);
  assert.deepEqual(parent!.sub_searches.map((s) => s.occurrence), [
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
  ]);
  const sub = parent!.sub_searches[11]!;
  assert.equal(sub.field, "v_leak");
  assert.equal(sub.basis, "truth");
  assert.ok(sub.result!.median! < 1.5, `leak residual ${sub.result!.median}`);
  // 12 parent steps, each after a 12-step leak search: 12 × 13 measurements.
  assert.equal(parent!.steps[11]!.measurements, 156);
  // Per parent step: its write, 12 leak steps (write + one read), the leak's final write, the read after the wait.
  const perStep = 0.02 + 12 * (0.02 + 4e-6) + 0.02 + (60e-6 + 4e-6);
  close(parent!.steps[11]!.hardware_seconds, 12 * perStep);
  // Chip 0 was left out: nothing counted for it.
  assert.deepEqual(rec.totals.measurements, [0, 156]);
  await recorder.close();
});

Deno.test("Searches join by step, field, kind and occurrence per chip, across chip groups", async () => {
  const recorder = new ConvergenceRecorder(await openBackend({ backend: "cpu", chips: 2 }));
  await recorder.write({ threshold_enable: 0 });
  recorder.enterStep("leak");
  // One search split into two chip groups, as calix's per-chip event counts split searches.
  await recorder.search({ ...LEAK, chips: [0] });
  await recorder.search({ ...LEAK, chips: [1] });
  // The same search again: the second occurrence.
  await recorder.search(LEAK);
  recorder.enterStep("reset");
  await recorder.search({ ...LEAK, field: "v_reset", measurement: { kind: "reset-potential" } });
  const rec = recorder.recording();
  assert.deepEqual(
    rec.searches.map((g) => [g.step, g.field, g.occurrence, g.runs, g.chips]),
    [["leak", "v_leak", 1, 2, 2], ["leak", "v_leak", 2, 1, 2], ["reset", "v_reset", 1, 1, 2]],
  );
  assert.deepEqual(rec.steps.map((s) => [s.name, s.measurements]), [
    ["leak", [26, 26]],
    ["reset", [13, 13]],
  ]);
  await recorder.close();
});

Deno.test("The convergence recorder needs a backend with truth", async () => {
  const inner = await openBackend({ backend: "cpu", chips: 1 });
  const hardware = { info: inner.info, chips: inner.chips, keys: inner.keys };
  assert.throws(() => new ConvergenceRecorder(hardware as never), /needs a backend with truth/);
  await inner.close();
});
