/**
 * The Backend trait: the one interface through which calibration talks to
 * chips — simulated twins on the CPU or the GPU, or real hardware behind a
 * transport. A backend holds a fixed batch of chips; every array it takes or
 * returns is chip-major (`chips × 512` per neuron, `chips × 4` per quadrant,
 * `chips × 1024` per CADC channel, `chips × samples` for a membrane trace),
 * and every call applies to all chips in lock-step.
 *
 * Reproducibility contract: every random draw of a chip is keyed by that
 * chip's key (its seed, or a hash of its id) and its own operation counter,
 * never by its position in the batch. Each `measure` claims one operation,
 * each `search` one for its start points plus those of its measurements and
 * sub-searches, so a chip gives the same readings alone or in any batch.
 *
 * @module
 */

import type { ChipConfig, ConfigPatch, SearchableField } from "./config.ts";
import type { Measurement } from "./measurement.ts";
import type { TwinConfig } from "./twin/twin_config.ts";
import type { SearchAlgorithm } from "./search_rules.ts";

/**
 * A chip of a batch: its id, and for a twin its seed.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { ChipRef } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: [7] });
 * const chip: ChipRef = backend.chips[0]!;
 * assert.deepEqual(chip, { id: "sim-7", seed: 7 });
 * await backend.close();
 * ```
 */
export interface ChipRef {
  /** Full chip identifier, e.g. `sim-7` for the twin with seed 7. */
  readonly id: string;
  /** Seed of a simulated chip (u32). */
  readonly seed?: number;
}

/**
 * What a backend is and runs on.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { BackendInfo } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 2 });
 * const info: BackendInfo = backend.info;
 * assert.equal(info.kind, "cpu");
 * assert.equal(info.adapter, undefined);
 * await backend.close();
 * ```
 */
export interface BackendInfo {
  /** The executor kind. */
  readonly kind: "cpu" | "webgpu" | "remote";
  /** One line for humans, e.g. `CPU executor (twin model, 8 chips)`. */
  readonly description: string;
  /** The GPU adapter's description, where there is one. */
  readonly adapter?: string;
}

/**
 * Rewrites readings before the search compares them with its target: calix's
 * sentinels as data, so every executor applies them the same way.
 * - `above`: a reading greater than `limit` becomes `value` (e.g. a floating
 *   membrane, reading > leak + 5, reads 0);
 * - `code-below`: where the searched code is below `limit`, the reading
 *   becomes `value` (e.g. a threshold under the reset reports 65025 spikes);
 * - `before-failed`: where a sub-search run before this measurement failed,
 *   the reading becomes `value`.
 * `limit` is a scalar or per instance (`size` or `chips × size`).
 *
 * @example
 * ```ts
 * import type { ReadingMap } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * // calix's leak search: a floating membrane (reading above 200) counts as 0.
 * const floating: ReadingMap = { op: "above", limit: 200, value: 0 };
 * assert.equal(floating.op, "above");
 * ```
 */
export type ReadingMap =
  | { readonly op: "above"; readonly limit: number | ArrayLike<number>; readonly value: number }
  | {
    readonly op: "code-below";
    readonly limit: number | ArrayLike<number>;
    readonly value: number;
  }
  | { readonly op: "before-failed"; readonly value: number };

/**
 * A whole search as data: which field, its range and direction, the
 * algorithm, the target per instance, the measurement (with an optional
 * reduction to quadrant means and reading maps), and sub-searches to run
 * before every measurement step.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { SearchSpec } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0 });
 * const spec: SearchSpec = {
 *   field: "v_leak",
 *   algorithm: { name: "binary" },
 *   target: 80,
 *   measurement: { kind: "resting-potential" },
 * };
 * const result = await backend.search(spec);
 * assert.equal(result.codes.length, 512);
 * await backend.close();
 * ```
 */
export interface SearchSpec {
  /** The searched field (a CapMem row, a quadrant cell, or CADC channel offsets). */
  readonly field: SearchableField;
  /** Inclusive search range (default: the field's whole range). */
  readonly range?: readonly [number, number];
  /** Whether a larger code gives a smaller reading. */
  readonly inverted?: boolean;
  /** The search algorithm. */
  readonly algorithm: SearchAlgorithm;
  /** Target reading: a scalar, one per instance of a chip, or `chips × instances`. */
  readonly target: number | ArrayLike<number>;
  /** What to measure after each step. */
  readonly measurement: Measurement;
  /** Reduce per-neuron or per-channel readings to quadrant means first. */
  readonly reduce?: "quadrant-mean";
  /** Sentinel rewrites applied to the readings, in order. */
  readonly map?: readonly ReadingMap[];
  /** Searches run to completion before every measurement of this one. */
  readonly before?: readonly SearchSpec[];
  /** Keep the codes and readings of every step. */
  readonly trace?: boolean;
  /**
   * Run on these chips only (see {@linkcode ChipSelection}); sub-searches
   * inherit it. Targets and limits are still given for the whole batch (or
   * per chip, or as a scalar); results for chips left out are code −1, success 0.
   */
  readonly chips?: readonly number[];
}

/**
 * The outcome of a search, for every instance of every chip.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { SearchResult } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * await backend.write({ threshold_enable: 0 });
 * const result: SearchResult = await backend.search({
 *   field: "v_leak",
 *   algorithm: { name: "noisy-binary" },
 *   target: 80,
 *   measurement: { kind: "resting-potential" },
 *   trace: true,
 * });
 * assert.ok(result.success.reduce((a, b) => a + b) > 500);
 * assert.equal(result.trace!.codes.length, result.trace!.readings.length);
 * await backend.close();
 * ```
 */
export interface SearchResult {
  /** Final codes (also written to the chips). */
  readonly codes: Int32Array;
  /** 1 where the search did not end on a range bound. */
  readonly success: Uint8Array;
  /** Codes measured and readings (after maps) of every step, if asked for. */
  readonly trace?: { readonly codes: Int32Array[]; readonly readings: Float32Array[] };
}

/**
 * True (noise-free) physical parameters of every neuron of every twin chip
 * (`chips × 512` each, SI units), and the noise-free, unrounded CADC readings
 * of the potentials (`*_cadc`, LSB).
 * - `E_L`: the potential the leak OTA pulls towards (mismatch, OTA offset and
 *   crosstalk included);
 * - `V_rest`: where the membrane settles (DC currents of enabled synaptic
 *   references and of an enabled offset current included);
 * - `V_R`: where the membrane is held during reset (the clamp against the leak);
 * - `V_T`: the spike threshold; `tau_mem = C_m/g_L`; `tau_syn_*` of the lines;
 *   `t_ref`: the refractory time of the counter and clock;
 * - `E_rev_*`, `E_cref_*`: the effective reversal and the reference of the
 *   conductance-based (COBA) inputs (`TWIN.md` §8), `+Infinity` (exc) or
 *   `−Infinity` (inh) where the input's COBA flag is off; their `*_cadc`
 *   readings are neither rounded nor clamped (a reversal may lie outside the
 *   CADC's range), unlike the other `*_cadc` fields, which are clamped to 0..255.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { Truth } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 });
 * const truth: Truth = await backend.truth!({ i_bias_leak: 800 });
 * assert.equal(truth.tau_mem.length, 512);
 * assert.ok(truth.tau_mem.every((t) => t > 0 && t < 1e-3)); // seconds
 * await backend.close();
 * ```
 */
export interface Truth {
  /** Leak potential the leak OTA pulls towards (V). */
  readonly E_L: Float64Array;
  /** Potential the membrane settles at under the current configuration (V). */
  readonly V_rest: Float64Array;
  /** Potential the membrane is held at during reset (V). */
  readonly V_R: Float64Array;
  /** Spike threshold (V). */
  readonly V_T: Float64Array;
  /** Membrane time constant `C_m/g_L` (s). */
  readonly tau_mem: Float64Array;
  /** Excitatory synaptic time constant (s). */
  readonly tau_syn_exc: Float64Array;
  /** Inhibitory synaptic time constant (s). */
  readonly tau_syn_inh: Float64Array;
  /** Membrane capacitance (F). */
  readonly C_m: Float64Array;
  /** Refractory time (s). */
  readonly t_ref: Float64Array;
  /** Noise-free CADC reading of `E_L` (LSB, unrounded). */
  readonly E_L_cadc: Float64Array;
  /** Noise-free CADC reading of `V_rest` (LSB, unrounded). */
  readonly V_rest_cadc: Float64Array;
  /** Noise-free CADC reading of `V_R` (LSB, unrounded). */
  readonly V_R_cadc: Float64Array;
  /** Noise-free CADC reading of `V_T` (LSB, unrounded). */
  readonly V_T_cadc: Float64Array;
  /** Effective excitatory COBA reversal `V_cref + 1/β` (V); `+Infinity` where COBA is off. */
  readonly E_rev_exc: Float64Array;
  /** Effective inhibitory COBA reversal `V_cref − 1/β` (V); `−Infinity` where COBA is off. */
  readonly E_rev_inh: Float64Array;
  /** Excitatory COBA reference `V_cref` (V); `+Infinity` where COBA is off. */
  readonly E_cref_exc: Float64Array;
  /** Inhibitory COBA reference `V_cref` (V); `−Infinity` where COBA is off. */
  readonly E_cref_inh: Float64Array;
  /** Noise-free CADC reading of `E_rev_exc` (LSB, neither rounded nor clamped). */
  readonly E_rev_exc_cadc: Float64Array;
  /** Noise-free CADC reading of `E_rev_inh` (LSB, neither rounded nor clamped). */
  readonly E_rev_inh_cadc: Float64Array;
  /** Noise-free CADC reading of `E_cref_exc` (LSB, neither rounded nor clamped). */
  readonly E_cref_exc_cadc: Float64Array;
  /** Noise-free CADC reading of `E_cref_inh` (LSB, neither rounded nor clamped). */
  readonly E_cref_inh_cadc: Float64Array;
}

/**
 * Restricts an operation to some chips of the batch (indices into `chips`,
 * ascending, no repeats). Chips left out are not touched: no write, no
 * measurement, no operation claimed. Per-chip arrays in the operation then
 * have one entry per selected chip. This is how a calibration makes a
 * data-dependent decision per chip (calix's "reduce the number of events
 * until the amplitude is below 60") without other chips of the batch
 * changing that chip's sequence of operations.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { ChipSelection } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 3 });
 * const second: ChipSelection = { chips: [1] };
 * const rest = await backend.measure({ kind: "resting-potential" }, second);
 * assert.ok(Number.isNaN(rest[0]!)); // chip 0 was left out
 * assert.ok(Number.isFinite(rest[512]!));
 * await backend.close();
 * ```
 */
export interface ChipSelection {
  /** Indices of the chips the operation applies to (default: all). */
  readonly chips?: readonly number[];
}

/**
 * The interface every executor implements.
 *
 * @example
 * ```ts
 * import { openBackend } from "./open_backend.ts";
 * import type { Backend } from "./backend.ts";
 * import assert from "node:assert/strict";
 *
 * async function meanRestingPotential(backend: Backend): Promise<number> {
 *   const rest = await backend.measure({ kind: "resting-potential" });
 *   return rest.reduce((a, b) => a + b) / rest.length;
 * }
 *
 * const backend = await openBackend({ backend: "cpu", chips: 2 });
 * await backend.write({ threshold_enable: 0 });
 * const mean = await meanRestingPotential(backend);
 * assert.ok(mean > 0 && mean < 256); // CADC LSB
 * await backend.close();
 * ```
 */
export interface Backend {
  /** What runs the chips. */
  readonly info: BackendInfo;
  /** The chips of the batch, in order. */
  readonly chips: readonly ChipRef[];
  /** Per-chip RNG keys: the seed for twins, a hash of the id otherwise. */
  readonly keys: Uint32Array;
  /** The model numbers of simulated chips (absent for hardware). */
  readonly twin?: TwinConfig;
  /** A copy of each chip's operation counter. */
  counters(): Uint32Array;
  /**
   * Returns each chip's counter and advances it by `n` (default 1), for the
   * selected chips only (the others' entries are returned unchanged).
   */
  claim(n?: number, selection?: ChipSelection): Uint32Array;
  /**
   * Sets the operation counters of every (selected) chip — one value per
   * selected chip, in selection order — so that a chip continues the noise
   * stream it had elsewhere (a restarted server, a resumed session). Throws
   * a `RangeError` for a wrong count or a value that is not a u32.
   */
  restoreCounters(counters: ArrayLike<number>, selection?: ChipSelection): void;
  /** Writes a configuration patch to every (selected) chip; rejects it whole on bad input. */
  write(patch: ConfigPatch, selection?: ChipSelection): Promise<void>;
  /** A snapshot of every chip's configuration. */
  config(): Promise<ChipConfig[]>;
  /**
   * Runs a measurement on every (selected) chip; the result always has the
   * whole batch's shape, with NaN for chips left out.
   */
  measure(m: Measurement, selection?: ChipSelection): Promise<Float32Array>;
  /** Runs a whole search on every chip. */
  search(spec: SearchSpec): Promise<SearchResult>;
  /**
   * Twins only: the true parameters under the current configuration, or
   * under it with `patch` applied (without applying it). Calibration code
   * must never call it.
   */
  truth?(patch?: ConfigPatch): Promise<Truth>;
  /** Releases the backend's resources. */
  close(): Promise<void>;
}
