import assert from "node:assert/strict";
import {
  CalibNotSuccessful,
  CALIBRATION_STEPS,
  calibrationSteps,
  ExcessiveNoiseError,
  openBackend,
  resolveOptions,
} from "../mod.ts";
import { stepPlan } from "../calib/calibrate.ts";
import { CalibContext } from "../calib/context.ts";

Deno.test("the calibration's steps are calix's list, and the CLI's progress takes its names from it", () => {
  const all = CALIBRATION_STEPS.map((s) => s.name);
  assert.deepEqual(all, [
    "CADC",
    "configure",
    "tau_syn",
    "synapse DAC bias",
    "threshold",
    "synaptic inputs",
    "COBA",
    "synaptic time constants",
    "tau_mem",
    "reset",
    "leak",
    "verification",
    "CADC (again)",
    "refine potentials",
  ]);
  for (const step of CALIBRATION_STEPS) assert.match(step.calix, /step|calix|refine|lifcal/);
  const cuba = all.filter((s) => s !== "COBA");
  assert.deepEqual(calibrationSteps(stepPlan()), cuba);
  assert.deepEqual(
    calibrationSteps(stepPlan({}, { refine: false, calibrate_cadc: false })),
    cuba.slice(1, -2),
  );
  // With COBA: step 9 runs and the refinement does not (calix's default).
  assert.deepEqual(
    calibrationSteps(stepPlan({ e_coba_reversal: [300, null] })),
    all.slice(0, -2),
  );
});

Deno.test("refine is calix's tri-state: unset refines unless a neuron uses COBA", () => {
  assert.equal(stepPlan().refine, true);
  assert.equal(stepPlan({}, { refine: null }).refine, true);
  assert.equal(stepPlan({ e_coba_reversal: [300, null] }).refine, false);
  assert.equal(stepPlan({ e_coba_reversal: [300, null] }, { refine: true }).refine, true);
  assert.equal(stepPlan({}, { refine: false }).refine, false);
});

Deno.test("a search that ends on a range bound warns with the step, the field, the count and the bound", async () => {
  const be = await openBackend({ backend: "cpu", chips: [4, 5] });
  const ctx = new CalibContext(be, resolveOptions());
  ctx.step = "leak";
  await be.write({ threshold_enable: 0 });
  // At most code 300 the leak stays below 250 LSB: the search runs into its upper bound.
  const r = await ctx.search({
    field: "v_leak",
    range: [0, 300],
    target: 250,
    measurement: { kind: "resting-potential" },
    chips: [1],
  });
  const failed = [...r.success.subarray(512)].flatMap((s, n) => (s ? [] : [n]));
  assert.ok(failed.length > 400, `${failed.length} neurons on the bound`);
  assert.ok(failed.every((n) => r.codes[512 + n] === 300));
  assert.deepEqual(ctx.warnings[0], []);
  assert.equal(ctx.warnings[1]!.length, 1);
  assert.equal(
    ctx.warnings[1]![0]!,
    `leak: v_leak ended on a range bound for ${failed.length} neurons: neurons ${
      failed.slice(0, 10).join(", ")
    }, … (${failed.length} in all) at the upper bound 300`,
  );
  // A reachable target: none.
  await ctx.search({ field: "v_leak", target: 80, measurement: { kind: "resting-potential" } });
  assert.equal(ctx.warnings[0]!.length, 0);
  await be.close();
});

Deno.test("calix's errors: ExcessiveNoiseError names the step before anything runs; CalibNotSuccessful names step, chip and neurons", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  const ctx = new CalibContext(be, resolveOptions());
  ctx.step = "threshold";
  await assert.rejects(
    () =>
      ctx.search({
        field: "v_threshold",
        range: [100, 110],
        target: 80,
        measurement: { kind: "threshold-max" },
      }),
    (e) =>
      e instanceof ExcessiveNoiseError && e instanceof RangeError && e.step === "threshold" &&
      e.noise === 5 && e.limit === 3 &&
      /^threshold: v_threshold: Excessive noise: amplitude 5 exceeds the first increment 3 of the range 100\.\.110$/
        .test(e.message),
  );
  assert.deepEqual([...be.counters()], [0]);
  const e = new CalibNotSuccessful("the reset target is below 30 for neurons 3, 9", {
    step: "synaptic inputs",
    chipId: "sim-1",
    neurons: [3, 9],
  });
  assert.ok(e instanceof Error);
  assert.deepEqual([e.step, e.chipId, e.neurons], ["synaptic inputs", "sim-1", [3, 9]]);
  await be.close();
});
