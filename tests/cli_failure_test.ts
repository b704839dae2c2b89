import assert from "node:assert/strict";
import { join } from "node:path";
import { parseResult } from "../mod.ts";
import { lifcal, listFiles, logTime } from "./_cli.ts";

Deno.test("lifcal calibrate: a runtime failure exits 3 and keeps the chips finished before it", async () => {
  const out = await Deno.makeTempDir({ prefix: "lifcal-failure-" });
  try {
    // An I/O error on the second chip: its result path is taken by a folder.
    await Deno.mkdir(join(out, "chips", "sim-2.json"), { recursive: true });
    const run = await lifcal([
      "calibrate",
      "--seeds",
      "1-2",
      "--batch-size",
      "1",
      "--no-refine",
      "--backend",
      "cpu",
      "--out",
      out,
    ]);
    logTime("calibrate, failing on the second chip", run);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /sim-1 calibrated \(1\/2\)/);
    assert.match(
      run.stderr,
      /^lifcal: calibration of sim-2 failed: .*; finished chips stay in .*\(1 chip in this run;/m,
    );
    const files = await listFiles(out);
    assert.ok(files.includes("chips/sim-1.json") && files.includes("chips/sim-1.run.json"));
    assert.ok(!files.includes("summary.json"));
    assert.ok(!files.some((f) => f.endsWith(".tmp")), files.join(", "));
    parseResult(await Deno.readTextFile(join(out, "chips", "sim-1.json")));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
