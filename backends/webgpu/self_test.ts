/**
 * The start-up self-test of the WebGPU executor: which adapter, whether it
 * caps shader loops (llvmpipe does, silently, at 65 535 iterations per
 * invocation), and whether the kernels reproduce the CPU executor on a
 * twin.
 *
 * @module
 */

import { CpuBackend } from "../cpu/cpu_backend.ts";
import type { Measurement } from "../measurement.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { requestTwinDevice } from "./gpu_runtime.ts";
import { WebGpuBackend } from "./webgpu_backend.ts";
import { wgslSource } from "./wgsl_source.ts";

/**
 * Runs a shader that counts to `limit` in one invocation and returns how far
 * it got (`limit` without a cap, 65 535 on llvmpipe).
 *
 * @example
 * ```ts ignore
 * const gpu = await requestTwinDevice();
 * if (gpu) console.log(await probeLoopCap(gpu.device));
 * ```
 */
export async function probeLoopCap(device: GPUDevice, limit = 100_000): Promise<number> {
  const code = await wgslSource("loop_probe");
  const module = device.createShaderModule({ code, label: "loop probe" });
  const pipeline = await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module, entryPoint: "countLoop" },
  });
  const uniform = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const out = device.createBuffer({
    size: 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(uniform, 0, new Uint32Array([limit, 0, 0, 0]));
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: uniform } }, {
      binding: 1,
      resource: { buffer: out },
    }],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(out, 0, read, 0, 4);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const reached = new Uint32Array(read.getMappedRange().slice(0))[0]!;
  read.unmap();
  for (const b of [uniform, out, read]) b.destroy();
  return reached;
}

/** What the self-test found. */
export interface GpuSelfTest {
  /** Whether a WebGPU adapter exists that can bind the kernels' buffers. */
  readonly available: boolean;
  /** The adapter's description. */
  readonly adapter?: string;
  /** Whether it is a software (fallback) adapter such as llvmpipe. */
  readonly fallback?: boolean;
  /** Iterations a loop of 100 000 reached in one invocation. */
  readonly loopIterations?: number;
  /** Largest difference of the GPU against the CPU executor per checked measurement. */
  readonly parity?: Record<string, number>;
  /** Whether every check passed. */
  readonly passed: boolean;
  /** Why not, in one line. */
  readonly reason?: string;
}

const _CHECKS: readonly [Measurement, number][] = [
  [{ kind: "cadc-reference", code: 310 }, 0],
  [{ kind: "resting-potential", reads: 2 }, 0],
  [{ kind: "tau-syn-exc", windowSeconds: 30e-6, maxSamples: 300 }, 0.05],
];

/**
 * Checks the adapter, the loop cap and CPU/GPU parity on one twin (exact
 * equality of CADC reads, τ within 5 %).
 *
 * @example
 * ```ts ignore
 * const r = await gpuSelfTest(DEFAULT_TWIN_CONFIG);
 * console.log(r.passed ? `WebGPU on ${r.adapter}` : r.reason);
 * ```
 */
export async function gpuSelfTest(twin: TwinConfig): Promise<GpuSelfTest> {
  const gpu = await requestTwinDevice();
  if (!gpu) return { available: false, passed: false, reason: "no usable WebGPU adapter" };
  const adapter = gpu.adapter.info.description || "unnamed adapter";
  const fallback = gpu.adapter.info.isFallbackAdapter;
  const loopIterations = await probeLoopCap(gpu.device);
  gpu.device.destroy();
  let backend: WebGpuBackend | undefined;
  try {
    backend = await WebGpuBackend.open([1], twin);
    if (!backend) return { available: false, passed: false, reason: "no usable WebGPU adapter" };
    const cpu = new CpuBackend([1], twin);
    const parity: Record<string, number> = {};
    let passed = true;
    for (const [m, tolerance] of _CHECKS) {
      const a = await cpu.measure(m);
      const b = await backend.measure(m);
      let worst = 0;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!) / (tolerance > 0 ? Math.abs(a[i]!) : 1);
        worst = Math.max(worst, d);
      }
      parity[m.kind] = worst;
      if (!(worst <= tolerance) && fractionOver(a, b, tolerance) > 0.01) passed = false;
    }
    return {
      available: true,
      adapter,
      fallback,
      loopIterations,
      parity,
      passed,
      ...(passed ? {} : { reason: "the WebGPU kernels disagree with the CPU executor" }),
    };
  } catch (e) {
    return {
      available: true,
      adapter,
      fallback,
      loopIterations,
      passed: false,
      reason: (e as Error).message,
    };
  } finally {
    await backend?.close();
  }
}

function fractionOver(a: Float32Array, b: Float32Array, tolerance: number): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / (tolerance > 0 ? Math.abs(a[i]!) : 1);
    if (d > tolerance) k++;
  }
  return k / a.length;
}
