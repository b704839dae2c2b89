/**
 * `openBackend`: the one entry point that picks an executor and creates its
 * batch of chips.
 *
 * @module
 */

import type { Backend } from "./backend.ts";
import { CpuBackend } from "./cpu/cpu_backend.ts";
import { twinConfig, type TwinConfigOverride } from "./twin/twin_config.ts";

/** Options of {@linkcode openBackend}. */
export interface OpenBackendOptions {
  /**
   * Which executor: `"cpu"` (the twin simulator on the CPU), `"auto"` (the
   * best available simulator: the CPU executor in this version), `"webgpu"`
   * or `"remote"` (not available in this version: a clear error).
   */
  readonly backend: "auto" | "cpu" | "webgpu" | "remote";
  /** A chip count (seeds 1..n) or a list of seeds. */
  readonly chips: number | readonly number[];
  /** Changes to the twin model's default numbers. */
  readonly twin?: TwinConfigOverride;
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
 * Opens a backend with a batch of chips.
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
// deno-lint-ignore require-await
export async function openBackend(options: OpenBackendOptions): Promise<Backend> {
  const seeds = chipSeeds(options.chips);
  switch (options.backend) {
    case "cpu":
    case "auto":
      return new CpuBackend(seeds, twinConfig(options.twin ?? {}));
    case "webgpu":
    case "remote":
      throw new Error(
        `The ${options.backend} backend is not available in this version of lifcal; use cpu`,
      );
    default:
      throw new TypeError(
        `Unknown backend "${String(options.backend)}"; use auto, cpu, webgpu or remote`,
      );
  }
}
