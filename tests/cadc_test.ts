import assert from "node:assert/strict";
import { applyResult, calibrateCadc, openBackend } from "../mod.ts";
import { std } from "./_helpers.ts";

function quadrantMeans(r: Float32Array): number[] {
  return [0, 1, 2, 3].map((q) => {
    let s = 0;
    for (let ch = 0; ch < 1024; ch++) if (((ch & 511) >> 7) === q) s += r[ch]!;
    return s / 256;
  });
}

Deno.test("after calibrateCadc all 1024 channels read one reference within 3 LSB, quadrants within 5", async () => {
  const be = await openBackend({ backend: "cpu", chips: [1, 2, 3] });
  const before = await be.measure({ kind: "cadc-reference", code: 310 });
  const results = await calibrateCadc(be);
  const after = await be.measure({ kind: "cadc-reference", code: 310 });
  for (let c = 0; c < 3; c++) {
    const raw = before.subarray(c * 1024, (c + 1) * 1024);
    const cal = after.subarray(c * 1024, (c + 1) * 1024);
    assert.ok(std(raw) > 5, `uncalibrated scatter ${std(raw)}`);
    assert.ok(std(cal) < 3, `calibrated scatter ${std(cal)}`);
    const q = quadrantMeans(cal);
    assert.ok(Math.max(...q) - Math.min(...q) < 5, `quadrant means ${q}`);
    assert.ok(q.every((m) => Math.abs(m - 127.5) < 40));
    assert.ok(results[c]!.success.every((s) => s));
    assert.ok(results[c]!.verification.std < 3);
  }
  // The ramp: 70 reads ≈ 20 and 550 reads ≈ 220 in every quadrant. At 70 a
  // few raw channels clamp at 0 while the offset search averages, and the
  // channel offsets then align everything to the median: ≈16 on the twin.
  for (const [code, want, tolerance] of [[70, 20, 5], [550, 220, 3]] as const) {
    const r = await be.measure({ kind: "cadc-reference", code });
    for (let c = 0; c < 3; c++) {
      for (const m of quadrantMeans(r.subarray(c * 1024, (c + 1) * 1024))) {
        assert.ok(Math.abs(m - want) < tolerance, `${code}: ${m}`);
      }
    }
  }
});

Deno.test("overwriting the CADC calibration breaks the checks and re-applying it restores them", async () => {
  const be = await openBackend({ backend: "cpu", chips: [4] });
  const [r] = await calibrateCadc(be);
  await be.write({ cadc_channel_offset: 0, cadc_v_ramp_offset: 500, cadc_i_ramp_slope: 500 });
  assert.ok(std(await be.measure({ kind: "cadc-reference", code: 310 })) > 3);
  await applyResult(be, [r!]);
  assert.ok(std(await be.measure({ kind: "cadc-reference", code: 310 })) < 3);
});

Deno.test("calibrateCadc rejects bad ranges", async () => {
  const be = await openBackend({ backend: "cpu", chips: 1 });
  await assert.rejects(() => calibrateCadc(be, { dynamic_range: [550, 70] }), RangeError);
  await assert.rejects(() => calibrateCadc(be, { read_range: [20, 300] }), /read_range/);
});
