/**
 * The chip model behind lifcal's simulated chips ("twins"), for studies of
 * the model itself: its numbers ({@linkcode TwinConfig},
 * {@linkcode twinConfig}, {@linkcode noiseless}), the fixed-pattern mismatch
 * each chip draws from its seed ({@linkcode drawMismatch}), the transfer
 * functions from CapMem codes to physical parameters ({@linkcode chipParams},
 * {@linkcode restingPotential}, {@linkcode cadcRead}, …) and the batch of
 * twins both executors simulate ({@linkcode TwinBatch}). `docs/twin.md`
 * describes the model.
 *
 * Calibrating twins needs none of this: `openBackend` in `mod.ts` opens them.
 *
 * @example The true leak potential of a twin's neurons under a CapMem code
 * ```ts
 * import { chipParams, drawMismatch, twinConfig } from "./twin.ts";
 * import { initialConfig } from "./backends/config.ts";
 * import assert from "node:assert/strict";
 *
 * const model = twinConfig();
 * const mismatch = drawMismatch(7, model); // twin sim-7's fixed-pattern mismatch
 * const config = initialConfig();
 * const low = chipParams(config, mismatch, model).EL; // volts, per neuron
 * config.v_leak.fill(700);
 * const high = chipParams(config, mismatch, model).EL;
 * assert.ok(high.every((v, n) => v > low[n]!)); // a higher code, a higher leak potential
 * ```
 *
 * @module
 */

export * from "./backends/twin/twin_config.ts";
export * from "./backends/twin/mismatch.ts";
export * from "./backends/twin/physics.ts";
export * from "./backends/twin/twin_batch.ts";
