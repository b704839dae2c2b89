import assert from "node:assert/strict";
import { join } from "node:path";
import type { ConvergenceDocument } from "../cli/convergence_data.ts";
import type { SearchGroup } from "../cli/convergence_recorder.ts";
import { DEFAULT_ALGORITHMS } from "../cli/convergence_command.ts";
import { SUMMARY_PARAMETERS } from "../cli/median_code_reference.ts";
import { lifcal, listFiles, logTime, readJson } from "./_cli.ts";

const close = (a: number | null | undefined, b: number, tol = 1e-9) =>
  assert.ok(
    typeof a === "number" && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)),
    `${a} is not ${b}`,
  );

function _find(run: ConvergenceDocument["algorithms"][number], step: string, field: string) {
  const g = run.searches.find((s) => s.step === step && s.field === field && s.occurrence === 1);
  assert.ok(g, `no ${field} search in step ${step}`);
  return g;
}

Deno.test("lifcal convergence compares two algorithms on two twins in true residuals, measurements and emulated time", async () => {
  const out = join(await Deno.makeTempDir({ prefix: "lifcal-convergence-" }), "out");
  try {
    const run = await lifcal([
      "convergence",
      "--chips",
      "2",
      "--backend",
      "cpu",
      "--algorithms",
      "noisy-binary,binary",
      "--set",
      "refine=false",
      "--out",
      out,
    ]);
    logTime("convergence --chips 2, two algorithms, no refinement", run);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await listFiles(out), [
      "convergence.html",
      "convergence.json",
      "convergence.md",
    ]);
    // One progress line per chip and algorithm; a summary table on stdout.
    const progress = run.stderr.trim().split("\n");
    assert.equal(progress.length, 4, run.stderr);
    assert.match(progress[3]!, /sim-2 \(binary\) calibrated \(4\/4\)/);
    assert.match(run.stdout, /binary \/ noisy-binary/);
    assert.match(run.stdout, /leak: p90 true residual \(CADC LSB\)/);

    const doc = await readJson<ConvergenceDocument>(join(out, "convergence.json"));
    assert.deepEqual(Object.keys(doc), [
      "kind",
      "format",
      "lifcal_version",
      "date",
      "machine",
      "backend",
      "chips",
      "target",
      "options",
      "hardware_time_model",
      "definitions",
      "algorithms",
    ]);
    assert.equal(doc.kind, "lifcal-convergence");
    assert.equal(doc.backend.kind, "cpu");
    assert.deepEqual(doc.chips, ["sim-1", "sim-2"]);
    assert.equal(doc.options.refine, false);
    assert.equal("algorithm" in doc.options, false);
    assert.equal(doc.hardware_time_model.capmemSettleSeconds, 0.02);
    assert.deepEqual(doc.algorithms.map((a) => a.algorithm), ["noisy-binary", "binary"]);

    const steps = { "noisy-binary": 13, binary: 12 } as Record<string, number>;
    for (const a of doc.algorithms) {
      const n = steps[a.algorithm]!;
      // The final leak search: n steps, each a settled v_leak write and 8 CADC reads.
      const leak = _find(a, "leak", "v_leak");
      assert.equal(leak.basis, "truth");
      assert.equal(leak.unit, "CADC LSB");
      assert.equal(leak.chips, 2);
      assert.equal(leak.steps.length, n);
      const last = leak.steps.at(-1)!;
      assert.ok(leak.steps[0]!.median! > 20, `first step ${leak.steps[0]!.median}`);
      assert.ok(last.median! < 1.5 && last.p90! < 3, `last step ${last.median} / ${last.p90}`);
      assert.ok(leak.result!.median! < 1 && leak.result!.p90! < 2);
      assert.equal(last.measurements, n);
      close(last.hardware_seconds, n * (0.02 + 8 * 2 * 2e-6));
      // τ_mem (offset method, window 30 µs): each step a write and a 512-neuron MADC sweep of
      // 10 × (max(70 µs, 8 · 10 µs) + 100 µs).
      const tau = _find(a, "tau_mem", "i_bias_leak");
      assert.equal(tau.unit, "relative");
      close(tau.steps.at(-1)!.hardware_seconds, n * (0.02 + 512 * 10 * 180e-6));
      assert.ok(tau.result!.p90! < 0.05, `τ_mem p90 ${tau.result!.p90}`);
      // A PSP search has no truth: measured basis, sub-searches of the reference nested.
      const psp = _find(a, "synaptic inputs", "i_bias_synin_exc_gm");
      assert.equal(psp.basis, "measured");
      assert.equal(psp.result, null);
      assert.equal(psp.sub_searches.length, n);
      assert.equal(psp.steps.at(-1)!.measurements, n * (n + 1));
      assert.ok(psp.sub_searches.every((s: SearchGroup) => s.basis === "truth"));
      // The CADC searches keep calix's BinarySearch whatever the option.
      const cadc = _find(a, "CADC", "cadc_v_ramp_offset");
      assert.equal(cadc.algorithm, "binary");
      assert.equal(cadc.fixed_algorithm, true);
      assert.equal(cadc.basis, "measured");

      assert.equal(a.success_fraction.min! >= 0.95, true);
      assert.ok(a.totals.measurements.median! > 500);
      assert.ok(a.totals.hardware_seconds.median! > 30);
      assert.ok(a.totals.outside_searches.measurements.median! > 0);
      const share = a.totals.fixed_algorithm_share.measurements!;
      assert.ok(share > 0.01 && share < 0.2, `fixed share ${share}`);
      assert.ok(a.wall_s > 0 && a.recorder_s >= 0 && a.recorder_s < a.wall_s);
      for (const p of SUMMARY_PARAMETERS) {
        const f = a.final[p];
        const bound = f.unit === "relative" ? 0.05 : 2;
        assert.ok(f.p90! > 0 && f.p90! < bound, `${a.algorithm} ${p} p90 ${f.p90}`);
        assert.ok(f.median! <= f.p90!);
        assert.ok(a.ratios[p].max! < a.ratios[p].limit, `${a.algorithm} ${p} ratio`);
        assert.equal(a.ratios[p].chips_within, 2);
        assert.ok(a.parameter_searches[p] !== null, p);
      }
      assert.deepEqual(a.parameter_searches.leak, {
        step: "leak",
        field: "v_leak",
        measurement: "resting-potential",
        occurrence: 1,
      });
    }
    // Binary search takes one measurement fewer per search than the noisy one.
    const [noisy, binary] = doc.algorithms;
    assert.ok(binary!.totals.measurements.median! < noisy!.totals.measurements.median!);

    const md = await Deno.readTextFile(join(out, "convergence.md"));
    assert.match(md, /^# lifcal convergence benchmark/);
    assert.match(md, /\| quantity \| noisy-binary \| binary \| binary \/ noisy-binary \|/);
    assert.match(md, /\| measurements per chip \|/);
    const html = await Deno.readTextFile(join(out, "convergence.html"));
    assert.equal(html.match(/<svg/g)?.length, 2 * SUMMARY_PARAMETERS.length);
    assert.match(html, /emulated hardware time since the search started \(s\)/);
    assert.doesNotMatch(html, /<script|https?:\/\//);
  } finally {
    await Deno.remove(join(out, ".."), { recursive: true });
  }
});

Deno.test("lifcal convergence refuses bad input in one line with exit code 2 and writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-convergence-bad-" });
  try {
    const out = join(dir, "out");
    const cases: [string[], RegExp][] = [
      [["--algorithms", "bisect"], /Unknown algorithm "bisect"/],
      [["--algorithms", ""], /at least one algorithm/],
      [["--algorithms", "binary,binary"], /listed twice/],
      [["--chips", "0"], /positive integer/],
      [["--chips", "2", "--seeds", "1-2"], /--chips or --seeds/],
      [["--set", "algorithm=binary"], /chosen by --algorithms/],
      [["--set", "tau_mem=10"], /tau_mem needs a unit/],
      [["--backend", "remote"], /remote/],
    ];
    for (const [args, message] of cases) {
      const run = await lifcal(["convergence", "--backend", "cpu", ...args, "--out", out]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "");
      assert.deepEqual(await listFiles(dir), [], args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lifcal convergence compares calix's noisy binary search with the secant search by default", async () => {
  assert.deepEqual(DEFAULT_ALGORITHMS, ["noisy-binary", "secant"]);
  const help = await lifcal(["help", "convergence"]);
  assert.match(help.stdout + help.stderr, /default noisy-binary,secant/);
  assert.match(help.stdout + help.stderr, /default 32/);
});
