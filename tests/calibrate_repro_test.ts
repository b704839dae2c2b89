import assert from "node:assert/strict";
import { calibrate, type NeuronCalibResult, openBackend, resultToJson } from "../mod.ts";

function codesOf(r: NeuronCalibResult) {
  return {
    capmem: r.capmem,
    neuron: r.neuron,
    quadrant: r.quadrant,
    cadc: r.cadc,
    success: r.success,
  };
}

Deno.test("chip 7 calibrated alone and inside the batch [3, 7, 11] gives identical codes", async () => {
  const alone = await calibrate(await openBackend({ backend: "cpu", chips: [7] }));
  const batch = await calibrate(await openBackend({ backend: "cpu", chips: [3, 7, 11] }));
  assert.equal(batch[1]!.chipId, "sim-7");
  assert.deepEqual(codesOf(batch[1]!), codesOf(alone[0]!));
  assert.deepEqual(batch[1]!.verification, alone[0]!.verification);
  assert.notDeepEqual(batch[0]!.capmem.v_leak, batch[1]!.capmem.v_leak);
});

Deno.test("the cache returns a stored calibration and never trusts a corrupt file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await calibrate(await openBackend({ backend: "cpu", chips: [9] }), undefined, {
      cache: dir,
    });
    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^[0-9a-f]{64}\.json$/);

    // A hit: no calibration runs (no operation is claimed), the chip is calibrated.
    const be = await openBackend({ backend: "cpu", chips: [9] });
    const hit = await calibrate(be, undefined, { cache: dir });
    assert.deepEqual(hit, first);
    assert.equal(be.counters()[0], 0);
    assert.deepEqual(Array.from((await be.config())[0]!.v_leak), first[0]!.capmem.v_leak);

    // Another target or another twin model is another key.
    await calibrate(await openBackend({ backend: "cpu", chips: [9] }), { leak: 90 }, {
      cache: dir,
      refine: false,
    });
    assert.equal([...Deno.readDirSync(dir)].length, 2);

    // A corrupt file is reported and recomputed.
    const path = `${dir}/${files[0]}`;
    await Deno.writeTextFile(path, (await Deno.readTextFile(path)).slice(0, 500));
    const again = await calibrate(await openBackend({ backend: "cpu", chips: [9] }), undefined, {
      cache: dir,
    });
    assert.match(again[0]!.warnings.at(-1)!, /was not trusted .* recomputed/);
    assert.deepEqual(again[0]!.capmem, first[0]!.capmem);
    // …and the file is whole again, without the note.
    const stored = JSON.parse(await Deno.readTextFile(path));
    assert.equal(resultToJson(stored.result), resultToJson(first[0]!));
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
