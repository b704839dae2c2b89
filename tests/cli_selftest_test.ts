import assert from "node:assert/strict";
import { lifcal, logTime } from "./_cli.ts";

Deno.test("lifcal selftest prints the adapter and checks every available executor", async () => {
  const run = await lifcal(["selftest"]);
  logTime("selftest", run);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^adapter: .+$/m);
  assert.match(run.stdout, /^cpu backend: CPU executor/m);
  assert.match(run.stdout, /resting potential: mean \|Δ\| to truth [\d.]+ CADC LSB \(limit 1\) ok/);
  // WebGPU: either it runs (with the loop-cap probe and parity) or the reason it does not.
  assert.match(run.stdout, /^webgpu backend: (WebGPU executor|not available \(.+\))/m);
  if (/^webgpu backend: WebGPU executor/m.test(run.stdout)) {
    assert.match(run.stdout, /^webgpu loop-cap probe: a loop of 100000 iterations reached \d+/m);
    assert.match(run.stdout, /^webgpu vs cpu, tau_mem: .* ok$/m);
  }
  assert.match(run.stdout, /^selftest passed$/m);
});
