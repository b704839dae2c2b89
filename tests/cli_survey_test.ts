import assert from "node:assert/strict";
import { lifcal } from "./_cli.ts";

Deno.test("lifcal survey --json reports every chip and parameter", async () => {
  const r = await lifcal(["survey", "--seeds", "3,5", "--backend", "cpu", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.chips.map((c: { id: string }) => c.id), ["sim-3", "sim-5"]);
  for (const c of doc.chips) {
    for (const p of ["leak", "reset", "tau_mem", "tau_syn_exc", "tau_syn_inh"]) {
      assert.ok(c.params[p].std > 0, `${c.id} ${p}`);
    }
  }
});
