import assert from "node:assert/strict";
import { join } from "node:path";
import { applyResult, calibrate, openBackend } from "../mod.ts";

Deno.test("a calibration with readout_neuron: 17 leaves exactly neuron 17's readout on, in the result and on the chip", async () => {
  const be = await openBackend({ backend: "cpu", chips: [2] });
  const [r] = await calibrate(be, {}, { readout_neuron: 17, refine: false });
  const on = (row: ArrayLike<number>) => Array.from(row).flatMap((v, n) => (v ? [n] : []));
  assert.deepEqual(on(r!.neuron.enable_readout), [17]);
  assert.deepEqual(on((await be.config())[0]!.enable_readout), [17]);
  assert.equal(r!.options.readout_neuron, 17);
  // The trace measurement reads that neuron.
  const trace = await be.measure({ kind: "membrane-trace", windowSeconds: 5e-6 });
  assert.equal(trace.length, 147);
  // Applying the result to another twin of the chip moves its readout there too.
  const other = await openBackend({ backend: "cpu", chips: [2] });
  await other.write({ enable_readout: Array.from({ length: 512 }, (_, n) => (n === 3 ? 1 : 0)) });
  await applyResult(other, [r!]);
  assert.deepEqual(on((await other.config())[0]!.enable_readout), [17]);
  // Without the option the readout is off, on the chip and in the result.
  const [plain] = await calibrate(other, {}, { refine: false });
  assert.deepEqual(on(plain!.neuron.enable_readout), []);
  assert.deepEqual(on((await other.config())[0]!.enable_readout), []);
  await be.close();
  await other.close();
});

Deno.test("examples/membrane_trace.ts draws a calibrated neuron's membrane as an SVG", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const svg = join(dir, "trace.svg");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../examples/membrane_trace.ts", import.meta.url).pathname, svg],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      new TextDecoder().decode(out.stdout),
      /neuron 17 of sim-1, readout flag in the result: 1, 1764 samples/,
    );
    const text = await Deno.readTextFile(svg);
    assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const points = /<polyline [^>]*points="([^"]+)"/.exec(text)![1]!.split(" ");
    assert.equal(points.length, 1764);
    // The excitatory events lift the trace: its top lies after 10 µs, well above the start.
    const ys = points.map((p) => Number(p.split(",")[1]));
    const top = ys.indexOf(Math.min(...ys));
    assert.ok(top > 1764 / 6 && ys[0]! - ys[top]! > 50, `top at ${top}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
