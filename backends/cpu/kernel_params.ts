/**
 * What the CPU executor's per-neuron kernels read of a chip: its effective
 * parameters without the reference cell's closure (the per-neuron kinds
 * never read the reference cell).
 *
 * @module
 */

import type { ChipParams } from "../twin/physics.ts";

/** A chip's effective parameters as plain typed arrays (no closures). */
export type KernelParams = Omit<ChipParams, "referenceVoltage">;
