/**
 * The CPU executor: twins simulated with typed-array loops, the fallback of
 * every other simulator and the reference they are held to.
 *
 * @module
 */

import type {
  Backend,
  BackendInfo,
  ChipRef,
  ChipSelection,
  SearchResult,
  SearchSpec,
  Truth,
} from "../backend.ts";
import { type ChipConfig, cloneConfig, type ConfigPatch } from "../config.ts";
import { genericSearch } from "../generic_search.ts";
import { type Measurement, measurementSize, validateMeasurement } from "../measurement.ts";
import { TwinBatch } from "../twin/twin_batch.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { measureChip } from "./measure_chip.ts";

/**
 * A {@linkcode Backend} that simulates twin chips on the CPU.
 *
 * @example Measure the resting potentials of two twins
 * ```ts
 * import { CpuBackend } from "./cpu_backend.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * const be = new CpuBackend([1, 2], DEFAULT_TWIN_CONFIG);
 * const r = await be.measure({ kind: "resting-potential" });
 * assert.equal(r.length, 2 * 512);
 * await be.close();
 * ```
 */
export class CpuBackend implements Backend {
  /** What runs the chips. */
  readonly info: BackendInfo;
  /** The chips of the batch. */
  readonly chips: readonly ChipRef[];
  /** RNG key per chip. */
  readonly keys: Uint32Array;
  readonly #batch: TwinBatch;
  #closed = false;
  /** Work done so far: measurements and searches run (per batch, not per chip). */
  readonly stats: { measurements: number; searches: number } = { measurements: 0, searches: 0 };

  /**
   * Creates twins with the given seeds.
   *
   * @param seeds One u32 seed per chip.
   * @param twin The model numbers.
   */
  constructor(seeds: readonly number[], twin: TwinConfig) {
    this.#batch = new TwinBatch(seeds, twin);
    this.chips = this.#batch.chips;
    this.keys = this.#batch.keys;
    this.info = {
      kind: "cpu",
      description: `CPU executor (twin model, ${seeds.length} chip${
        seeds.length === 1 ? "" : "s"
      })`,
    };
  }

  /** The model numbers of the twins. */
  get twin(): TwinConfig {
    return this.#batch.twin;
  }

  /** A copy of each chip's operation counter. */
  counters(): Uint32Array {
    return this.#batch.counters();
  }

  /** Returns each chip's counter and advances it by `n`. */
  claim(n = 1, selection: ChipSelection = {}): Uint32Array {
    return this.#batch.claim(n, selection);
  }

  /** Sets the counters of the (selected) chips, one value per selected chip. */
  restoreCounters(counters: ArrayLike<number>, selection: ChipSelection = {}): void {
    this.#batch.restoreCounters(counters, selection);
  }

  /** Writes a patch to every chip (validated whole first). */
  // deno-lint-ignore require-await
  async write(patch: ConfigPatch, selection: ChipSelection = {}): Promise<void> {
    this.#open();
    this.#batch.write(patch, selection);
  }

  /** Snapshots of every chip's configuration. */
  // deno-lint-ignore require-await
  async config(): Promise<ChipConfig[]> {
    this.#open();
    return this.chips.map((_, c) => cloneConfig(this.#batch.config(c)));
  }

  /** Runs a measurement on every chip; one operation per chip. */
  // deno-lint-ignore require-await
  async measure(m: Measurement, selection: ChipSelection = {}): Promise<Float32Array> {
    this.#open();
    validateMeasurement(m);
    const chips = this.#batch.selected(selection);
    if (m.kind === "membrane-trace") this.#batch.readoutNeurons(chips);
    const size = measurementSize(m);
    const out = new Float32Array(this.chips.length * size).fill(NaN);
    const ops = this.#batch.claim(1, selection);
    this.stats.measurements++;
    for (const c of chips) {
      const r = measureChip(m, this.#batch.params(c), {
        key: this.keys[c]!,
        op: ops[c]!,
        twin: this.#batch.twin,
        chip: c,
      });
      out.set(r, c * size);
    }
    return out;
  }

  /** Runs a whole search with the generic driver. */
  async search(spec: SearchSpec): Promise<SearchResult> {
    this.#open();
    this.stats.searches++;
    return await genericSearch(this, spec);
  }

  /** The twins' true parameters (tests and benchmarks only). */
  // deno-lint-ignore require-await
  async truth(patch?: ConfigPatch): Promise<Truth> {
    this.#open();
    return this.#batch.truth(patch);
  }

  /** Closes the backend; later calls reject. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #open(): void {
    if (this.#closed) throw new Error("The CPU backend is closed");
  }
}
