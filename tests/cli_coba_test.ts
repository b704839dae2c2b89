import assert from "node:assert/strict";
import { join } from "node:path";
import { parseResult } from "../mod.ts";
import { lifcal, logTime, readJson } from "./_cli.ts";

Deno.test("lifcal calibrate --set e_coba_reversal/e_coba_reference: COBA through the CLI, in the result, summary.json and the reports", async () => {
  const out = await Deno.makeTempDir({ prefix: "lifcal-coba-" });
  try {
    const run = await lifcal([
      "calibrate",
      "--chips",
      "1",
      "--set",
      "e_coba_reversal=[300,null]",
      "--set",
      "e_coba_reference=[150,null]",
      "--set",
      "i_synin_gm=[180,250]",
      "--out",
      out,
      "--json",
    ]);
    logTime("calibrate with COBA (excitatory)", run);
    assert.equal(run.code, 0, run.stderr);
    const summary = await readJson<{ target: Record<string, unknown> }>(join(out, "summary.json"));
    assert.deepEqual(summary.target.e_coba_reversal, [300, null]);
    // The inhibitory reference is calix's default once a neuron uses COBA: mean of leak and threshold.
    assert.deepEqual(summary.target.e_coba_reference, [150, 102.5]);
    assert.deepEqual(JSON.parse(run.stdout).target, summary.target);
    const result = parseResult(await Deno.readTextFile(join(out, "chips", "sim-1.json")));
    assert.ok(result.kind === "neuron");
    if (result.kind !== "neuron") return;
    assert.ok(result.neuron.coba_exc_enable.every((v) => v === 1));
    assert.ok(result.neuron.coba_inh_enable.every((v) => v === 0));
    assert.ok(result.capmem.i_bias_synin_exc_coba.every((c) => c >= 0 && c <= 255));
    assert.equal(result.options.refine, null);
    assert.match(await Deno.readTextFile(join(out, "report.md")), /"e_coba_reversal":\[300,null\]/);
    assert.match(
      await Deno.readTextFile(join(out, "report.html")),
      /&quot;e_coba_reversal&quot;|"e_coba_reversal"/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
