/**
 * `openBackend`: the one entry point that picks an executor and creates its
 * batch of chips.
 *
 * @module
 */

import type { Backend } from "./backend.ts";
import { CpuBackend } from "./cpu/cpu_backend.ts";
import { RemoteBackend, type RemoteBackendOptions } from "./remote/remote_backend.ts";
import { type TwinConfig, twinConfig, type TwinConfigOverride } from "./twin/twin_config.ts";
import { type GpuSelfTest, gpuSelfTest } from "./webgpu/self_test.ts";
import { WebGpuBackend } from "./webgpu/webgpu_backend.ts";

/**
 * Options of {@linkcode openBackend} for simulated chips (twins), identified by seed.
 *
 * @example
 * ```ts
 * import { openBackend, type TwinBackendOptions } from "./open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const options: TwinBackendOptions = { backend: "cpu", chips: [3, 7, 11], twin: { noise: { cadc: 0 } } };
 * const backend = await openBackend(options);
 * assert.deepEqual(backend.chips.map((c) => c.id), ["sim-3", "sim-7", "sim-11"]);
 * await backend.close();
 * ```
 */
export interface TwinBackendOptions {
  /**
   * Which executor: `"cpu"` (the twin simulator on the CPU), `"webgpu"` (the
   * WGSL kernels on a WebGPU adapter; an error without one) or `"auto"`
   * (WebGPU when an adapter exists and its start-up self-test passes, the
   * software adapter included; the CPU otherwise, with a one-line notice).
   */
  readonly backend: "auto" | "cpu" | "webgpu";
  /** A chip count (seeds 1..n) or a list of seeds; twin `s` is chip `sim-s`. */
  readonly chips: number | readonly number[];
  /** Changes to the twin model's default numbers. */
  readonly twin?: TwinConfigOverride;
  /** Receives `auto`'s one-line notice when it falls back to the CPU (default: stderr). */
  readonly onNotice?: (message: string) => void;
  /**
   * Threads of the CPU executor (1: in-process; default `LIFCAL_CPU_WORKERS`
   * or the core count). Readings do not depend on it.
   */
  readonly workers?: number;
}

/**
 * Options of {@linkcode openBackend} for chips on a remote host (hardware, or
 * any backend served by `lifcal serve`), identified by the ids the host
 * offers: `url` (WebSocket, with `token`) or `bridge` (a host process spoken
 * to over stdio), and `chips` (ids; default all the host offers).
 *
 * @example
 * ```ts
 * import { openBackend, type RemoteOpenOptions } from "./open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * // A host that serves twins 1..2 over its stdin/stdout: `lifcal serve --stdio`.
 * const main = new URL("../cli/main.ts", import.meta.url).href;
 * const options: RemoteOpenOptions = {
 *   backend: "remote",
 *   bridge: [Deno.execPath(), "run", "-A", main, "serve", "--stdio", "--backend", "cpu", "--chips", "2"],
 *   chips: ["sim-2"],
 * };
 * const backend = await openBackend(options);
 * assert.deepEqual(backend.chips.map((c) => c.id), ["sim-2"]);
 * assert.equal(backend.info.kind, "remote");
 * await backend.close();
 * ```
 */
export interface RemoteOpenOptions extends RemoteBackendOptions {
  /** The remote backend. */
  readonly backend: "remote";
}

/**
 * Options of {@linkcode openBackend}: twins by seed, or a remote host's chips by id.
 *
 * @example
 * ```ts
 * import { openBackend, type OpenBackendOptions } from "./open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const fromArgs = (kind: string): OpenBackendOptions =>
 *   kind === "remote" ? { backend: "remote", url: "ws://127.0.0.1:7878" } : { backend: "cpu", chips: 2 };
 * const backend = await openBackend(fromArgs("cpu"));
 * assert.equal(backend.chips.length, 2);
 * await backend.close();
 * ```
 */
export type OpenBackendOptions = TwinBackendOptions | RemoteOpenOptions;

let _selfTest: Promise<GpuSelfTest> | undefined;

/**
 * The WebGPU self-test of this process (run once, then remembered).
 *
 * @example
 * ```ts ignore
 * const t = await webgpuSelfTest();
 * console.log(t.passed, t.adapter);
 * ```
 */
export function webgpuSelfTest(twin: TwinConfig = twinConfig()): Promise<GpuSelfTest> {
  return (_selfTest ??= gpuSelfTest(twin));
}

/**
 * Resolves `chips` to a list of seeds: a count `n` means seeds 1..n.
 *
 * @example
 * ```ts
 * import { chipSeeds } from "./open_backend.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(chipSeeds(3), [1, 2, 3]);
 * assert.deepEqual(chipSeeds([7, 3]), [7, 3]);
 * ```
 */
export function chipSeeds(chips: number | readonly number[]): number[] {
  if (typeof chips === "number") {
    if (!Number.isInteger(chips) || chips < 1) {
      throw new RangeError(
        `chips must be a positive integer count or a list of seeds, got ${chips}`,
      );
    }
    return Array.from({ length: chips }, (_, i) => i + 1);
  }
  if (!Array.isArray(chips)) {
    throw new TypeError("chips must be a count or an array of seeds");
  }
  return [...chips];
}

/**
 * Opens a backend with a batch of chips: twins by seed on the CPU or the
 * GPU, or the chips of a remote host by id. Every backend opens its chips
 * in their power-on state with their operation counters at 0.
 *
 * @example The chips of a host served over WebSocket
 * ```ts ignore
 * const be = await openBackend({
 *   backend: "remote", url: "ws://127.0.0.1:7878", token: Deno.env.get("LIFCAL_TOKEN"),
 *   chips: ["sim-3", "sim-7"],
 * });
 * ```
 *
 * @example Eight simulated chips on the CPU
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import assert from "node:assert/strict";
 * const be = await openBackend({ backend: "cpu", chips: 8 });
 * assert.equal(be.chips.length, 8);
 * assert.equal(be.chips[0]!.id, "sim-1");
 * await be.close();
 * ```
 */
export async function openBackend(options: OpenBackendOptions): Promise<Backend> {
  if (options.backend === "remote") return await RemoteBackend.open(options);
  const seeds = chipSeeds(options.chips);
  const twin = twinConfig(options.twin ?? {});
  const notice = options.onNotice ?? ((m: string) => console.error(m));
  const cpuOptions = options.workers === undefined ? {} : { workers: options.workers };
  switch (options.backend) {
    case "cpu":
      return new CpuBackend(seeds, twin, cpuOptions);
    case "webgpu": {
      const backend = await WebGpuBackend.open(seeds, twin);
      if (!backend) {
        throw new Error(
          "No usable WebGPU adapter (set DENO_WEBGPU_BACKEND=vulkan or gl, or use the cpu backend)",
        );
      }
      return backend;
    }
    case "auto": {
      const test = await webgpuSelfTest();
      if (test.passed) {
        try {
          const backend = await WebGpuBackend.open(seeds, twin);
          if (backend) return backend;
        } catch (e) {
          notice(
            `lifcal: WebGPU failed to start (${(e as Error).message}); using the CPU executor`,
          );
          return new CpuBackend(seeds, twin, cpuOptions);
        }
      }
      notice(`lifcal: ${test.reason ?? "no usable WebGPU adapter"}; using the CPU executor`);
      return new CpuBackend(seeds, twin, cpuOptions);
    }
    default:
      throw new TypeError(
        `Unknown backend "${
          String((options as { backend: unknown }).backend)
        }"; use auto, cpu, webgpu or remote`,
      );
  }
}
