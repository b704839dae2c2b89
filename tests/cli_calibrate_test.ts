import assert from "node:assert/strict";
import { join } from "node:path";
import { parseResult } from "../mod.ts";
import { chipsWithoutWall, lifcal, listFiles, logTime, readJson } from "./_cli.ts";

const PARAMS = ["leak", "reset", "threshold", "tau_mem", "tau_syn_exc", "tau_syn_inh"];

interface _Summary {
  lifcal_version: string;
  backend: { kind: string; adapter: string | null };
  target: Record<string, unknown>;
  chips: {
    id: string;
    seed: number | null;
    success_fraction: number;
    wall_s: number;
    params: Record<string, Record<string, number | null>>;
  }[];
  totals: { chips: number; neurons: number; wall_s: number };
}

Deno.test("lifcal calibrate with default settings writes results, summary and reports; --json matches summary.json; report rebuilds them", async () => {
  const out = await Deno.makeTempDir({ prefix: "lifcal-default-" });
  try {
    const run = await lifcal([
      "calibrate",
      "--chips",
      "1",
      "--backend",
      "cpu",
      "--json",
      "--out",
      out,
    ]);
    logTime("calibrate --chips 1 (refine on)", run);
    assert.equal(run.code, 0, run.stderr);
    // Not a terminal: one progress line per chip, nothing else.
    assert.deepEqual(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /sim-1 calibrated \(1\/1\)/);

    const files = await listFiles(out);
    assert.deepEqual(files, [
      "chips/sim-1.json",
      "chips/sim-1.run.json",
      "report.html",
      "report.md",
      "summary.json",
    ]);
    const summary = await readJson<_Summary>(join(out, "summary.json"));
    assert.deepEqual(JSON.parse(run.stdout), summary);
    assert.deepEqual(Object.keys(summary), [
      "lifcal_version",
      "backend",
      "target",
      "chips",
      "totals",
    ]);
    assert.deepEqual(summary.backend, { kind: "cpu", adapter: null });
    assert.equal(summary.target.tau_mem, "10 us");
    assert.deepEqual(summary.totals.chips, 1);
    assert.deepEqual(summary.totals.neurons, 512);
    const [chip] = summary.chips;
    assert.equal(chip!.id, "sim-1");
    assert.equal(chip!.seed, 1);
    assert.ok(chip!.success_fraction > 0.95);
    assert.deepEqual(Object.keys(chip!.params), PARAMS);
    for (const p of PARAMS) {
      const s = chip!.params[p]!;
      assert.deepEqual(Object.keys(s), [
        "target_mean",
        "measured_mean",
        "measured_std",
        "uncalibrated_std",
        "ratio",
      ]);
      assert.ok(s.ratio! > 0 && s.ratio! < 0.35, `${p} ratio ${s.ratio}`);
      assert.ok(Math.abs(s.ratio! - s.measured_std! / s.uncalibrated_std!) < 1e-12);
    }
    assert.ok(Math.abs(chip!.params.tau_mem!.measured_mean! / 10e-6 - 1) < 0.03);

    const result = parseResult(await Deno.readTextFile(join(out, "chips/sim-1.json")));
    assert.equal(result.kind, "neuron");
    assert.equal(result.chipId, "sim-1");
    // calix's None: refined, because no neuron uses COBA.
    assert.equal(result.kind === "neuron" && result.options.refine, null);

    // `lifcal report` rebuilds the same reports from the files.
    const html = await Deno.readTextFile(join(out, "report.html"));
    const md = await Deno.readTextFile(join(out, "report.md"));
    await Deno.remove(join(out, "report.html"));
    await Deno.remove(join(out, "report.md"));
    const report = await lifcal(["report", out]);
    logTime("report", report);
    assert.equal(report.code, 0, report.stderr);
    assert.equal(await Deno.readTextFile(join(out, "report.html")), html);
    assert.equal(await Deno.readTextFile(join(out, "report.md")), md);
    assert.match(md, /\| leak \| 80 \|/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("lifcal calibrate takes a target file with --set on top and --no-refine", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-target-" });
  try {
    const target = join(dir, "target.json");
    await Deno.writeTextFile(target, JSON.stringify({ tau_syn: "8 us", leak: 90, noise_seed: 3 }));
    const out = join(dir, "out");
    const run = await lifcal([
      "calibrate",
      "--seeds",
      "2",
      "--backend",
      "cpu",
      "--target",
      target,
      "--set",
      "leak=100",
      "--set",
      "tau_mem=20us",
      "--no-refine",
      "--min-success",
      "1",
      "--quiet",
      "--out",
      out,
    ]);
    logTime("calibrate --target --set --no-refine", run);
    const summary = await readJson<_Summary>(join(out, "summary.json"));
    const [chip] = summary.chips;
    // Exit 1 exactly when a chip is below --min-success.
    assert.equal(run.code, chip!.success_fraction < 1 ? 1 : 0, run.stderr);
    if (run.code === 0) assert.equal(run.stderr, "");
    assert.equal(run.stdout, "");
    assert.equal(chip!.id, "sim-2");
    assert.equal(summary.target.leak, 100);
    assert.equal(summary.target.tau_mem, "20 us");
    assert.equal(summary.target.tau_syn, "8 us");
    assert.equal(chip!.params.leak!.target_mean, 100);
    assert.ok(Math.abs(chip!.params.leak!.measured_mean! - 100) < 2);
    assert.ok(Math.abs(chip!.params.tau_mem!.measured_mean! / 20e-6 - 1) < 0.05);
    assert.ok(Math.abs(chip!.params.tau_syn_exc!.measured_mean! / 8e-6 - 1) < 0.05);
    const result = parseResult(await Deno.readTextFile(join(out, "chips/sim-2.json")));
    assert.ok(result.kind === "neuron");
    assert.equal(result.options.refine, false);
    assert.equal(result.options.noise_seed, 3);
    assert.equal(result.cadc !== undefined, true);
    assert.ok(chipsWithoutWall(summary).length === 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
