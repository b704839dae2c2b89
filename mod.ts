/**
 * lifcal calibrates the 512 analog leaky integrate-and-fire neurons of
 * BrainScaleS-2 chips — simulated twins on the CPU (and, later, the GPU) or
 * real hardware — many chips at once, with calix's interface.
 *
 * This version provides the foundation: the chip twin, the Backend trait with
 * every measurement kind, calix's search algorithms as pure update rules, and
 * the CPU executor.
 *
 * @example Open eight twins and calibrate every neuron's leak potential to a CADC reading of 80
 * ```ts
 * import { openBackend } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 2 });
 * const result = await backend.search({
 *   field: "v_leak",
 *   algorithm: { name: "noisy-binary" },
 *   target: 80,
 *   measurement: { kind: "resting-potential" },
 * });
 * assert.ok(result.success.reduce((a, b) => a + b) > 0.97 * 1024);
 * await backend.close();
 * ```
 *
 * @module
 */

export * from "./backends/backend.ts";
export * from "./backends/config.ts";
export * from "./backends/counters.ts";
export * from "./backends/layout.ts";
export * from "./backends/measurement.ts";
export * from "./backends/search_rules.ts";
export * from "./backends/generic_search.ts";
export * from "./backends/open_backend.ts";
export * from "./backends/rng.ts";
export * from "./backends/twin/twin_config.ts";
export * from "./backends/twin/mismatch.ts";
export * from "./backends/twin/physics.ts";
export * from "./backends/twin/twin_batch.ts";
export * from "./backends/cpu/cpu_backend.ts";
export * from "./backends/cpu/tau_estimator.ts";
export { VERSION } from "./version.ts";
export * from "./calib/units.ts";
export * from "./calib/target.ts";
export * from "./calib/refractory.ts";
export * from "./calib/cadc.ts";
export * from "./calib/calibrate.ts";
export * from "./calib/errors.ts";
export * from "./calib/refine.ts";
export * from "./calib/leak_over_threshold.ts";
export * from "./calib/result.ts";
export * from "./calib/verify.ts";
export * from "./calib/cache.ts";
export * from "./calib/atomic_write.ts";
export * from "./backends/webgpu/webgpu_backend.ts";
export * from "./backends/webgpu/self_test.ts";
export * from "./backends/remote/frame.ts";
export * from "./backends/remote/messages.ts";
export * from "./backends/remote/link.ts";
export * from "./backends/remote/client.ts";
export * from "./backends/remote/remote_backend.ts";
export * from "./backends/remote/host.ts";
export * from "./backends/remote/server.ts";
export * from "./backends/remote/conformance.ts";
