/**
 * Which WebGPU adapter Deno gets here, as one JSON line on stdout: the
 * adapter's description, whether it is a software adapter, whether it can
 * bind the twin kernels' storage buffers, and whether it has timestamp
 * queries. `bench/device/run.sh` runs it once per `DENO_WEBGPU_BACKEND`
 * choice to pick a GPU adapter before the benchmark.
 *
 * Run: `deno run -A bench/device/probe.ts` — exit 0 with a usable adapter,
 * 2 without.
 *
 * @module
 */

import { STORAGE_BUFFERS } from "../../backends/webgpu/gpu_runtime.ts";
import { type AdapterReport, describeAdapter } from "../gpu_scale.ts";

/** What {@linkcode probeAdapter} found. */
export interface ProbeResult {
  /** `DENO_WEBGPU_BACKEND` as set (`null`: unset). */
  readonly backendEnv: string | null;
  /** The adapter; `null` when `requestAdapter()` returned none. */
  readonly adapter: AdapterReport | null;
  /** Whether the adapter runs the twin kernels (binds enough storage buffers per stage). */
  readonly usable: boolean;
  /** Whether it looks like a software adapter (fallback flag, or llvmpipe/lavapipe/SwiftShader by name). */
  readonly software: boolean;
  /** The adapter's `maxStorageBuffersPerShaderStage` (0 without an adapter). */
  readonly maxStorageBuffersPerShaderStage: number;
}

/**
 * Asks for the default WebGPU adapter and says whether the twin kernels can
 * run on it and whether it is a real GPU.
 *
 * @example
 * ```ts ignore
 * const probe = await probeAdapter();
 * console.log(probe.usable && !probe.software ? "GPU" : "no GPU");
 * ```
 */
export async function probeAdapter(): Promise<ProbeResult> {
  const backendEnv = Deno.env.get("DENO_WEBGPU_BACKEND") ?? null;
  const adapter = await describeAdapter();
  if (!adapter) {
    return {
      backendEnv,
      adapter: null,
      usable: false,
      software: false,
      maxStorageBuffersPerShaderStage: 0,
    };
  }
  // describeAdapter released its adapter; ask again for the limits.
  const raw = await navigator.gpu.requestAdapter();
  const buffers = raw?.limits.maxStorageBuffersPerShaderStage ?? 0;
  return {
    backendEnv,
    adapter,
    usable: buffers >= STORAGE_BUFFERS,
    software: adapter.fallback === true ||
      /llvmpipe|lavapipe|softpipe|swiftshader/i.test(adapter.description),
    maxStorageBuffersPerShaderStage: buffers,
  };
}

if (import.meta.main) {
  const probe = await probeAdapter();
  console.log(JSON.stringify(probe));
  Deno.exit(probe.usable ? 0 : 2);
}
