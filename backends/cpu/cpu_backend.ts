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
import {
  type Measurement,
  measurementSize,
  validateMeasurement,
  withDefaults,
} from "../measurement.ts";
import { TwinBatch } from "../twin/twin_batch.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { CpuWorkerPool, defaultWorkerCount, type PoolTask } from "./cpu_pool.ts";
import { measureChip, NEURON_KINDS } from "./measure_chip.ts";
import { sampling } from "./tau_estimator.ts";
import { NEURONS } from "../layout.ts";

/**
 * Options of {@linkcode CpuBackend}.
 *
 * @example Two worker threads; readings equal the in-process ones
 * ```ts
 * import { CpuBackend, type CpuBackendOptions } from "./cpu_backend.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * const options: CpuBackendOptions = { workers: 2, workerThreshold: 0 };
 * const threads = new CpuBackend([1], DEFAULT_TWIN_CONFIG, options);
 * const inline = new CpuBackend([1], DEFAULT_TWIN_CONFIG, { workers: 1 });
 * const m = { kind: "tau-mem", windowSeconds: 30e-6 } as const;
 * assert.deepEqual(await threads.measure(m), await inline.measure(m));
 * await threads.close();
 * await inline.close();
 * ```
 */
export interface CpuBackendOptions {
  /**
   * Threads that run the measurements: 1 runs them in-process, more spread
   * blocks of neurons over that many workers. Default: `LIFCAL_CPU_WORKERS`
   * if set, else `navigator.hardwareConcurrency`. Readings are the same with
   * any count.
   */
  readonly workers?: number;
  /**
   * Noise draws (all chips together) below which a measurement runs
   * in-process even with workers, where posting it would cost more than it
   * saves (default 100 000, about a millisecond; 0: every per-neuron
   * measurement goes to the workers).
   */
  readonly workerThreshold?: number;
}

/** Neurons per block handed to a worker. */
const _BLOCK = 64;

/** Below this many noise draws (≈ 1 ms) a measurement runs in-process. */
const _WORKER_THRESHOLD = 100_000;

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
  /** Threads that run the measurements (1: in-process). */
  readonly workers: number;
  readonly #batch: TwinBatch;
  readonly #pool: CpuWorkerPool | undefined;
  readonly #threshold: number;
  #closed = false;
  /** Work done so far (per batch, not per chip): measurements, searches, measurements run on workers. */
  readonly stats: { measurements: number; searches: number; onWorkers: number } = {
    measurements: 0,
    searches: 0,
    onWorkers: 0,
  };

  /**
   * Creates twins with the given seeds.
   *
   * @param seeds One u32 seed per chip.
   * @param twin The model numbers.
   * @param options Worker count.
   */
  constructor(seeds: readonly number[], twin: TwinConfig, options: CpuBackendOptions = {}) {
    const workers = options.workers ?? defaultWorkerCount();
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${workers}`);
    }
    this.#batch = new TwinBatch(seeds, twin);
    this.workers = workers;
    this.#threshold = options.workerThreshold ?? _WORKER_THRESHOLD;
    this.#pool = workers > 1 ? new CpuWorkerPool(workers, twin) : undefined;
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
  async measure(m: Measurement, selection: ChipSelection = {}): Promise<Float32Array> {
    this.#open();
    validateMeasurement(m);
    const chips = this.#batch.selected(selection);
    if (m.kind === "membrane-trace") this.#batch.readoutNeurons(chips);
    const size = measurementSize(m);
    const out = new Float32Array(this.chips.length * size).fill(NaN);
    const ops = this.#batch.claim(1, selection);
    this.stats.measurements++;
    const pool = this.#pool;
    if (
      pool && !pool.unavailable && NEURON_KINDS.has(m.kind) &&
      chips.length * NEURONS * _drawsPerNeuron(m, this.#batch.twin) >= this.#threshold
    ) {
      try {
        await this.#measureOnWorkers(pool, m, chips, ops, out);
        this.stats.onWorkers++;
        return out;
      } catch (e) {
        // Where workers cannot start, everything runs in-process (the same readings).
        if (!pool.unavailable) throw e;
      }
    }
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

  async #measureOnWorkers(
    pool: CpuWorkerPool,
    m: Measurement,
    chips: readonly number[],
    ops: Uint32Array,
    out: Float32Array,
  ): Promise<void> {
    const blocks: PoolTask[] = [];
    for (const c of chips) {
      const mismatch = this.#batch.mismatch(c);
      const config = this.#batch.config(c);
      const version = this.#batch.configVersion(c);
      for (let n0 = 0; n0 < NEURONS; n0 += _BLOCK) {
        blocks.push({
          chip: c,
          key: this.keys[c]!,
          op: ops[c]!,
          mismatch,
          config,
          version,
          n0,
          n1: Math.min(NEURONS, n0 + _BLOCK),
        });
      }
    }
    // With a chip per worker or more, each worker takes a contiguous run of blocks (a chip's
    // parameters then cross to one or two workers); with fewer chips, blocks go round-robin
    // (both hemispheres of a chip to every worker: the threshold maximum reads the bottom
    // one for longer).
    const perWorker: PoolTask[][] = Array.from({ length: pool.size }, () => []);
    const contiguous = chips.length >= pool.size;
    blocks.forEach((t, k) => {
      const w = contiguous ? Math.floor(k * pool.size / blocks.length) : k % pool.size;
      perWorker[w]!.push(t);
    });
    const used = perWorker.filter((t) => t.length > 0);
    let results: Float32Array[];
    try {
      results = await pool.run(m, used);
    } catch (e) {
      if (this.#closed) throw new Error("The CPU backend is closed");
      throw e;
    }
    used.forEach((tasks, w) => {
      const r = results[w]!;
      let o = 0;
      for (const t of tasks) {
        out.set(r.subarray(o, o + t.n1 - t.n0), t.chip * NEURONS + t.n0);
        o += t.n1 - t.n0;
      }
    });
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

  /** Closes the backend (and terminates its workers); later calls reject. */
  close(): Promise<void> {
    this.#closed = true;
    this.#pool?.close();
    return Promise.resolve();
  }

  #open(): void {
    if (this.#closed) throw new Error("The CPU backend is closed");
  }
}

/** Roughly how many noise draws a measurement costs per neuron (to decide whether workers pay). */
function _drawsPerNeuron(m: Measurement, twin: TwinConfig): number {
  switch (m.kind) {
    case "resting-potential":
    case "reset-potential":
      return 3 * withDefaults(m).reads;
    case "tau-mem-cadc":
      return 4;
    case "spike-count": {
      const d = withDefaults(m);
      return Math.max(1, Math.round(d.windowSeconds / d.dtSeconds));
    }
    case "psp-amplitude-exc":
    case "psp-amplitude-inh": {
      const d = withDefaults(m);
      return 3 * d.runs * (d.events + 1) * Math.max(1, Math.round(d.spacingSeconds / d.dtSeconds));
    }
    case "threshold-max": {
      const d = withDefaults(m);
      const period = twin.cadc.readPeriod;
      const sub = Math.max(1, Math.round(period / (d.dtSeconds ?? period / 2)));
      return 1.5 * d.batches * d.samples * (sub + 2);
    }
    case "tau-mem":
    case "tau-mem-reset":
    case "tau-syn-exc":
    case "tau-syn-inh": {
      const d = withDefaults(m);
      const w = d.windowSeconds;
      const window = typeof w === "number" ? w : (w[0] ?? 0);
      return 6 * sampling(window, twin.madc.samplePeriod, d.maxSamples).n;
    }
    default:
      return 0;
  }
}
