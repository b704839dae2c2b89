import assert from "node:assert/strict";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

async function lifcal(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("lifcal survey --json reports every chip and parameter", async () => {
  const r = await lifcal("survey", "--seeds", "3,5", "--json");
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.chips.map((c: { id: string }) => c.id), ["sim-3", "sim-5"]);
  for (const c of doc.chips) {
    for (const p of ["leak", "reset", "tau_mem", "tau_syn_exc", "tau_syn_inh"]) {
      assert.ok(c.params[p].std > 0, `${c.id} ${p}`);
    }
  }
});

Deno.test("lifcal calibrate says what it does and prints the chips", async () => {
  const r = await lifcal("calibrate", "--chips", "1");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /does not calibrate neurons yet/);
  assert.match(r.stdout, /sim-1 .* CADC/);
});

Deno.test("lifcal rejects bad input with exit code 2", async () => {
  for (
    const args of [["survey", "--chips", "0"], ["survey", "--seeds", "5-1"], [
      "survey",
      "--frobnicate",
    ], [
      "survey",
      "--backend",
      "tpu",
    ]]
  ) {
    const r = await lifcal(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0);
  }
});
