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

Deno.test("lifcal survey measures the chips --chips names (default 2), and refuses --chips with --seeds", async () => {
  const one = await lifcal(["survey", "--chips", "1", "--backend", "cpu", "--json"]);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout).chips.map((c: { id: string }) => c.id), ["sim-1"]);
  const both = await lifcal(["survey", "--chips", "2", "--seeds", "5", "--backend", "cpu"]);
  assert.equal(both.code, 2);
  assert.equal(both.stderr, "lifcal: Give --chips or --seeds, not both\n");
  assert.equal(both.stdout, "");
  const help = await lifcal(["help", "survey"]);
  assert.match(help.stdout, /--chips <n> +simulated chips with seeds 1\.\.n \(default 2\)/);
});
