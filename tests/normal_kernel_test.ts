/**
 * The WGSL normal draw against the CPU executor's (`backends/rng.ts`): the
 * kernels evaluate the same quantile of the same uniform with their own f32
 * approximation (`normalQuantile` in `kernels/twin_common.wgsl`), so this runs
 * it on the GPU for every one of the 2^24 uniforms `toUniform` can give and
 * bounds its distance from the CPU's f64 value — every draw a kernel can
 * make is checked.
 */

import assert from "node:assert/strict";
import { requestTwinDevice } from "../backends/webgpu/gpu_runtime.ts";
import { wgslSource } from "../backends/webgpu/wgsl_source.ts";
import { hash3, inverseNormal, normalAt } from "../backends/rng.ts";

const probe = await requestTwinDevice();
probe?.device.destroy();

const _UNIFORMS = 1 << 24;
const _PER_INVOCATION = 4;

/** Runs `body` (WGSL statements writing `out[k]` for `k`) once per index. */
async function _evaluate(device: GPUDevice, body: string): Promise<Float32Array> {
  const code = `${await wgslSource("twin_common")}
@group(1) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32) {
  let idx = linearIndex(wid, nwg, lid, 128u);
  for (var j = 0u; j < ${_PER_INVOCATION}u; j++) {
    let k = idx * ${_PER_INVOCATION}u + j;
    ${body}
  }
}`;
  const module = device.createShaderModule({ code });
  const pipeline = await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const bytes = _UNIFORMS * 4;
  const out = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    1,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(1),
      entries: [{ binding: 0, resource: { buffer: out } }],
    }),
  );
  const groups = _UNIFORMS / _PER_INVOCATION / 128;
  pass.dispatchWorkgroups(512, groups / 512);
  pass.end();
  encoder.copyBufferToBuffer(out, 0, read, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const values = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  out.destroy();
  read.destroy();
  return values;
}

Deno.test({
  name: "the WGSL inverse normal CDF is the CPU's within 2e-6 for every one of the 2^24 uniforms",
  ignore: probe === undefined,
  async fn() {
    const gpu = (await requestTwinDevice())!;
    try {
      // toUniform's values: (k + 0.5)·2^−24, k = 0 … 2^24 − 1 (exact in f32).
      const z = await _evaluate(
        gpu.device,
        "out[k] = normalQuantile(k);",
      );
      let worst = 0;
      let at = 0;
      for (let k = 0; k < _UNIFORMS; k++) {
        const d = Math.abs(z[k]! - inverseNormal((k + 0.5) * 5.9604644775390625e-8));
        if (!(d <= worst)) {
          worst = d;
          at = k;
        }
      }
      assert.ok(worst <= 2e-6, `largest deviation ${worst} at k = ${at}`);
      // Symmetric, signed, and the extremes where they belong (±5.42).
      assert.ok(z[0]! < -5.4 && z[_UNIFORMS - 1]! > 5.4);
      assert.equal(Math.sign(z[(_UNIFORMS >> 1) - 1]!), -1);
      assert.equal(Math.sign(z[_UNIFORMS >> 1]!), 1);
      for (const k of [0, 1, 1000, 406_000, 4_000_000]) {
        assert.ok(Math.abs(z[k]! + z[_UNIFORMS - 1 - k]!) <= 4e-6, `symmetry at ${k}`);
      }
    } finally {
      gpu.device.destroy();
    }
  },
});

Deno.test({
  name: "WGSL normalAt draws the CPU's normal for the same prefix and sample",
  ignore: probe === undefined,
  async fn() {
    const gpu = (await requestTwinDevice())!;
    try {
      const prefix = hash3(12345, 6, 7);
      const z = await _evaluate(gpu.device, `out[k] = normalAt(${prefix}u, k);`);
      let worst = 0;
      for (let k = 0; k < _UNIFORMS; k += 97) {
        worst = Math.max(worst, Math.abs(z[k]! - normalAt(prefix, k)));
      }
      assert.ok(worst <= 2e-6, `largest deviation ${worst}`);
    } finally {
      gpu.device.destroy();
    }
  },
});
