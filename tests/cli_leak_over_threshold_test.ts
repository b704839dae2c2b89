import assert from "node:assert/strict";
import { join } from "node:path";
import { parseResult } from "../calib/result.ts";
import { lifcal, listFiles, logTime, readJson } from "./_cli.ts";

/** The calix test's set-up: room between reset and leak, the leak above the threshold. */
const FLAGS = [
  "--backend",
  "cpu",
  "--no-refine",
  // A one-element array is a scalar.
  "--set",
  "leak=[110]",
  "--set",
  "threshold=120",
  "--set",
  "reset=60",
];

interface _Rate {
  target_mean: number;
  measured_median: number;
  measured_std: number;
  within_10_percent: number;
  at_range_bound: number;
}

interface _Summary {
  target: Record<string, unknown>;
  chips: {
    id: string;
    success_fraction: number;
    params: Record<string, Record<string, number | null>> & { rate?: _Rate };
  }[];
}

const WITH_RATE = ["leak", "reset", "rate", "tau_mem", "tau_syn_exc", "tau_syn_inh"];

async function _result(out: string, id: string) {
  const r = parseResult(await Deno.readTextFile(join(out, "chips", `${id}.json`)));
  assert.ok(r.kind === "neuron");
  return r;
}

Deno.test("lifcal calibrate --leak-over-threshold: the rate in summary.json, table and reports; an unreachable rate warns and is counted; resume and merge go by the rate", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lifcal-lot-" });
  try {
    const out = join(dir, "out");
    const shared = join(dir, "shared");
    const [run, far] = await Promise.all([
      lifcal([
        "calibrate",
        "--chips",
        "1",
        ...FLAGS,
        "--leak-over-threshold",
        "100kHz",
        "--out",
        out,
      ]),
      // sim-2 as shard 1/2 of seeds 1-2, at a rate no neuron reaches.
      lifcal([
        "calibrate",
        "--seeds",
        "1-2",
        "--shard",
        "1/2",
        ...FLAGS,
        "--leak-over-threshold",
        "1e9Hz",
        "--json",
        "--out",
        shared,
      ]),
    ]);
    logTime("calibrate sim-1 at 100 kHz", run);
    logTime("calibrate sim-2 at 1 GHz (shard 1/2)", far);

    await t.step("the rate replaces the threshold in summary.json", async () => {
      assert.equal(run.code, 0, run.stderr);
      // One progress line, no warning: every neuron reaches 100 kHz.
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, /sim-1 calibrated \(1\/1\)/);
      const summary = await readJson<_Summary>(join(out, "summary.json"));
      assert.equal(summary.target.leak_over_threshold, "100000 Hz");
      assert.equal(summary.target.leak, 110); // from --set leak=[110]
      assert.equal(summary.target.threshold, 120); // the calibration's, kept in the target
      const [chip] = summary.chips;
      assert.deepEqual(Object.keys(chip!.params), WITH_RATE);
      const rate = chip!.params.rate!;
      assert.deepEqual(Object.keys(rate), [
        "target_mean",
        "measured_median",
        "measured_std",
        "within_10_percent",
        "at_range_bound",
      ]);
      assert.equal(rate.target_mean, 100e3);
      assert.ok(Math.abs(rate.measured_median - 100e3) < 3e3, `median ${rate.measured_median}`);
      assert.ok(rate.measured_std > 0 && rate.measured_std < 5e3, `spread ${rate.measured_std}`);
      assert.ok(rate.within_10_percent > 0.95, `within ${rate.within_10_percent}`);
      assert.equal(rate.at_range_bound, 0);
      // The numbers are the result file's measured rates.
      const result = await _result(out, "sim-1");
      assert.equal(result.leak_over_threshold, "100000 Hz");
      assert.deepEqual(result.leak_over_threshold_at_bound, []);
      const rates = result.verification.rate!;
      const within = rates.filter((r) => r !== null && Math.abs(r - 100e3) <= 10e3).length;
      assert.equal(rate.within_10_percent, within / 512);
      const sorted = rates.map((r) => r!).sort((a, b) => a - b);
      assert.equal(rate.measured_median, (sorted[255]! + sorted[256]!) / 2);
      // The calibrated potentials still describe the chip.
      assert.ok(Math.abs(chip!.params.leak!.measured_mean! - 110) < 2);
    });

    await t.step("the stdout table and both reports show the rate row", async () => {
      const [title, head, row] = run.stdout.split("\n");
      assert.match(title!, /leak over threshold at 100 kHz: median rate and neurons within ±10 %/);
      assert.deepEqual(head!.trim().split(/\s+/), [
        "chip",
        "success",
        "leak",
        "reset",
        "rate",
        "±10",
        "%",
        "tau_mem",
        "tau_syn_exc",
        "tau_syn_inh",
      ]);
      assert.match(row!, /^sim-1 +\d+\.\d % +[\d.]+ +[\d.]+ +(9\d|10\d)(\.\d+)? kHz +\d+\.\d %/);
      const md = await Deno.readTextFile(join(out, "report.md"));
      assert.match(md, /"leak_over_threshold":"100000 Hz"/);
      assert.match(
        md,
        /^\| rate \(kHz, median\) \| 100 \| (9\d|10\d)(\.\d+)? \| [\d.]+ \| – \| – \| \d+\.\d % within ±10 % \| 0 with neurons at a range bound \|$/m,
      );
      assert.doesNotMatch(md, /^\| threshold \| 120 \|/m);
      assert.match(md, /^\| leak \| 110 \|/m);
      assert.match(
        md,
        /\| leak ratio \| reset ratio \| rate \(kHz\) \| ±10 % \| at a range bound \| tau_mem ratio \|/,
      );
      assert.match(md, /fires at 100 kHz\nwithout input/);
      const html = await Deno.readTextFile(join(out, "report.html"));
      assert.match(html, /<tr><td>leak over threshold<\/td><td>100 kHz<\/td><\/tr>/);
      assert.match(html, /<h3>Firing rate without input \(rate\)<\/h3>/);
      assert.match(html, /<th>rate<br>median<\/th><th>rate within<br>±10 %<\/th>/);
      assert.doesNotMatch(html, /<th>threshold<br>|Threshold potential \(threshold\)/);
      // lifcal report rebuilds both from the files.
      await Deno.remove(join(out, "report.html"));
      await Deno.remove(join(out, "report.md"));
      const report = await lifcal(["report", out]);
      assert.equal(report.code, 0, report.stderr);
      assert.equal(await Deno.readTextFile(join(out, "report.md")), md);
      assert.equal(await Deno.readTextFile(join(out, "report.html")), html);
    });

    await t.step(
      "an unreachable rate: calix's range-bound warning names the neurons, the summary counts them, success stays",
      async () => {
        assert.equal(far.code, 0, far.stderr);
        const warning =
          /^lifcal: sim-2: leak over threshold: v_threshold ended on a range bound for 512 neurons: neurons 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … \(512 in all\) at the lower bound, the threshold at the reset potential \(a rate of 1000000000 Hz is out of their reach\)$/m;
        assert.match(far.stderr, warning);
        const summary = JSON.parse(far.stdout) as _Summary;
        assert.deepEqual(
          summary,
          await readJson<_Summary>(join(shared, "summary.shard-1-of-2.json")),
        );
        const [chip] = summary.chips;
        assert.equal(chip!.id, "sim-2");
        const rate = chip!.params.rate!;
        assert.equal(rate.target_mean, 1e9);
        assert.equal(rate.at_range_bound, 512);
        assert.equal(rate.within_10_percent, 0);
        // The neurons fire as fast as they can, far below 1 GHz.
        assert.ok(
          rate.measured_median > 200e3 && rate.measured_median < 2e6,
          `${rate.measured_median}`,
        );
        const result = await _result(shared, "sim-2");
        assert.deepEqual(
          result.leak_over_threshold_at_bound,
          Array.from({ length: 512 }, (_, n) => n),
        );
        assert.ok(result.warnings.some((w) => warning.test(`lifcal: sim-2: ${w}`)));
        // As in calix, success is not touched: the calibration's own success stays.
        assert.equal(chip!.success_fraction, result.success.filter((s) => s).length / 512);
        assert.ok(chip!.success_fraction > 0.95, `${chip!.success_fraction}`);
      },
    );

    await t.step(
      "resume skips a chip of the same rate; merge refuses shards of different rates",
      async () => {
        // sim-1's files, calibrated at 100 kHz above, become shard 0/2 by --resume (nothing recomputed).
        await Deno.mkdir(join(shared, "chips"), { recursive: true });
        for (const f of ["sim-1.json", "sim-1.run.json"]) {
          await Deno.copyFile(join(out, "chips", f), join(shared, "chips", f));
        }
        const resumed = await lifcal([
          "calibrate",
          "--seeds",
          "1-2",
          "--shard",
          "0/2",
          ...FLAGS,
          "--leak-over-threshold",
          "100 kHz",
          "--resume",
          "--quiet",
          "--out",
          shared,
        ]);
        logTime("resume shard 0/2", resumed);
        assert.equal(resumed.code, 0, resumed.stderr);
        const shard0 = await readJson<_Summary>(join(shared, "summary.shard-0-of-2.json"));
        const whole = await readJson<_Summary>(join(out, "summary.json"));
        assert.deepEqual(shard0.chips, whole.chips);
        assert.equal(shard0.target.leak_over_threshold, "100000 Hz");

        const merged = await lifcal(["merge", shared]);
        assert.equal(merged.code, 1, merged.stderr);
        assert.equal(merged.stderr.trim().split("\n").length, 1, merged.stderr);
        assert.match(
          merged.stderr,
          /^lifcal: Cannot merge: the shards have different leak-over-threshold rates: .*summary\.shard-0-of-2\.json \(chips sim-1\) with 100 kHz; .*summary\.shard-1-of-2\.json \(chips sim-2\) with 1 GHz$/m,
        );
        assert.doesNotMatch(merged.stderr, /different targets/);
        assert.ok(!(await listFiles(shared)).includes("summary.json"));
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
