/**
 * The WebGPU executor: twins simulated and searched by the WGSL kernels of
 * `kernels/`, one invocation per neuron of every chip. A `measure` is one
 * submit and one readback; a `search` — every step of it, nested searches
 * included — is encoded into one submit and read back once at the end. The
 * configuration lives on the GPU (a search moves codes there) and is mirrored
 * on the host for validation, `config()` and `truth()`.
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
import { type ChipConfig, cloneConfig, type ConfigPatch, type FieldName } from "../config.ts";
import { expandPerInstance, selectRows, validateSearchSpec } from "../generic_search.ts";
import { CADC_CHANNELS, NEURONS } from "../layout.ts";
import {
  MADC_SAMPLE_RATE,
  type Measurement,
  measurementSize,
  perNeuron,
  TAU_MEM_BOUNDS,
  TAU_SYN_BOUNDS,
  traceEventSteps,
  traceSampling,
  validateMeasurement,
  withDefaults,
} from "../measurement.ts";
import { planSearch, startOffsets } from "../search_rules.ts";
import { descOf, type KernelProgram, PROGRAMS, searchUpdateDesc } from "./programs.ts";

import { sampling } from "../cpu/tau_estimator.ts";
import { TwinBatch } from "../twin/twin_batch.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { type Dispatch, GpuRuntime, type KernelName, requestTwinDevice } from "./gpu_runtime.ts";
import {
  ALL_STATS_ROWS,
  CHIP_CONFIG_INTS,
  type DescValues,
  fieldId,
  MEAS_STATE_FLOATS,
  MISMATCH_FLOATS,
  NEURON_CONFIG_INTS,
  packChannelMismatch,
  packConfig,
  packNeuronMismatch,
  packQuadrantMismatch,
  packTwin,
  PARAM_FLOATS,
  statsRows,
} from "./layout.ts";

/**
 * Most integration steps one invocation runs per dispatch. A step is one
 * iteration of its measurement's loop and at most six of its segment loop
 * (threshold-max adds one per read), so an invocation stays below 8 × 4096
 * = 32 768 of llvmpipe's 65 535 loop iterations.
 */
export const MAX_STEPS_PER_DISPATCH = 4096;

/**
 * Most loop iterations a measurement that is not split across dispatches may
 * ask of one invocation (settled reads, MADC traces, PSP runs): checked on the
 * host, so llvmpipe's silent cap can never truncate a loop.
 */
export const MAX_LOOP_ITERATIONS = 50_000;

function _bounded(kind: string, setting: string, iterations: number): void {
  if (iterations > MAX_LOOP_ITERATIONS) {
    throw new RangeError(
      `${kind}: ${setting} asks ${iterations} loop iterations of one GPU invocation, more than ${MAX_LOOP_ITERATIONS}`,
    );
  }
}

/** Where a search keeps its state inside the job's integer and float regions. */
interface _Regions {
  /** The field searched and its values per chip: what the final codes are written to. */
  field: SearchSpec["field"];
  size: number;
  codes: number;
  histCodes: number;
  histDist: number;
  targets: number;
  success: number;
  before: number;
  limits: number[];
  reduced: number;
}

/** A growable typed array: the host data of a job's `sInt` or `sFloat` region. */
class _Growable<T extends Int32Array | Float32Array> {
  #data: T;
  length = 0;
  constructor(readonly make: (n: number) => T) {
    this.#data = make(1024);
  }
  /** Appends `n` values (`data`, or zeros) and returns where they start. */
  alloc(n: number, data?: ArrayLike<number>): number {
    const at = this.length;
    if (at + n > this.#data.length) {
      const grown = this.make(Math.max(at + n, 2 * this.#data.length));
      grown.set(this.#data.subarray(0, at));
      this.#data = grown;
    }
    if (data) {
      const values = ArrayBuffer.isView(data)
        ? (data as unknown as Float64Array).subarray(0, n)
        : Array.prototype.slice.call(data, 0, n) as number[];
      this.#data.set(values, at);
    }
    this.length = at + n;
    return at;
  }
  /** The values so far (a view). */
  get values(): T {
    return this.#data.subarray(0, this.length) as T;
  }
}

/** One submission being recorded: dispatches, host data, operation count. */
class _Job {
  readonly dispatches: Dispatch[] = [];
  readonly ints = new _Growable((n) => new Int32Array(n));
  readonly floats = new _Growable((n) => new Float32Array(n));
  op = 0;
  aux: Float32Array | undefined;
  readonly regions = new Map<SearchSpec, _Regions>();
  /**
   * Per chip of the batch: the stale `quadrantStats` rows and parameters as
   * the encoded work leaves them (the backend takes them over on submit).
   */
  readonly staleStats: Uint8Array;
  readonly staleParams: Uint8Array;
  constructor(
    readonly active: readonly number[],
    stale: { stats: Uint8Array; params: Uint8Array },
  ) {
    this.staleStats = stale.stats.slice();
    this.staleParams = stale.params.slice();
  }

  dispatch(kernel: KernelName, groups: number, d: Omit<DescValues, "chips">): void {
    this.dispatches.push({ kernel, groups, desc: { chips: this.active.length, ...d } });
  }
  /** A dispatch of a program with its named settings (and the operation it measures for). */
  run<U extends string, F extends string>(
    p: KernelProgram<U, F>,
    groups: number,
    values: Record<U | F, number>,
    op?: number,
  ): void {
    this.dispatch(p.kernel, groups, { ...(op === undefined ? {} : { op }), ...descOf(p, values) });
  }
  allocInts(n: number, data?: ArrayLike<number>): number {
    return this.ints.alloc(n, data);
  }
  allocFloats(n: number, data?: ArrayLike<number>): number {
    return this.floats.alloc(n, data);
  }
}

/**
 * A {@linkcode Backend} that simulates and searches twin chips on the GPU.
 *
 * @example Open on whatever adapter exists (or learn that none does)
 * ```ts
 * import { WebGpuBackend } from "./webgpu_backend.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await WebGpuBackend.open([1, 2], DEFAULT_TWIN_CONFIG);
 * if (be) { // undefined without a usable adapter
 *   assert.equal(be.info.kind, "webgpu");
 *   await be.write({ threshold_enable: 0 });
 *   const rest = await be.measure({ kind: "resting-potential" });
 *   assert.equal(rest.length, 2 * 512);
 *   await be.close();
 * }
 * ```
 */
export class WebGpuBackend implements Backend {
  /** What runs the chips. */
  readonly info: BackendInfo;
  /** The chips of the batch. */
  readonly chips: readonly ChipRef[];
  /** RNG key per chip. */
  readonly keys: Uint32Array;
  /** Work done: measurements and searches requested (per batch). */
  readonly stats = { measurements: 0, searches: 0 };
  readonly #batch: TwinBatch;
  readonly #rt: GpuRuntime;
  readonly #dirty = new Set<number>();
  /**
   * Per chip, what the writes encoded since the last update left stale on
   * the GPU: the `quadrantStats` rows (bit mask), and the parameters — bit 0
   * all of them, bits 1..5 only the potential of that voltage row.
   */
  readonly #staleStats: Uint8Array;
  readonly #staleParams: Uint8Array;
  #closed = false;

  private constructor(batch: TwinBatch, rt: GpuRuntime) {
    this.#batch = batch;
    this.#rt = rt;
    this.chips = batch.chips;
    this.keys = batch.keys;
    this.info = {
      kind: "webgpu",
      description: `WebGPU executor on ${rt.adapter} (twin model, ${batch.chips.length} chip${
        batch.chips.length === 1 ? "" : "s"
      })`,
      adapter: rt.adapter,
    };
    const chips = batch.chips.length;
    this.#staleStats = new Uint8Array(chips).fill(ALL_STATS_ROWS);
    this.#staleParams = new Uint8Array(chips).fill(1);
    rt.upload("twin", packTwin(batch.twin));
    const mn = new Float32Array(chips * NEURONS * MISMATCH_FLOATS);
    const mq = new Float32Array(chips * 16);
    const mc = new Float32Array(chips * (CADC_CHANNELS + 1));
    for (let c = 0; c < chips; c++) {
      const m = batch.mismatch(c);
      mn.set(packNeuronMismatch(m), c * NEURONS * MISMATCH_FLOATS);
      mq.set(packQuadrantMismatch(m), c * 16);
      mc.set(packChannelMismatch(m), c * (CADC_CHANNELS + 1));
      this.#dirty.add(c);
    }
    rt.upload("mismNeuron", mn);
    rt.upload("mismQuadrant", mq);
    rt.upload("mismChannel", mc);
    rt.ensure("cfgNeuron", chips * NEURONS * NEURON_CONFIG_INTS * 4);
    rt.ensure("cfgChip", chips * CHIP_CONFIG_INTS * 4);
    rt.ensure("cfgChannel", chips * CADC_CHANNELS * 4);
    rt.ensure("parNeuron", chips * NEURONS * PARAM_FLOATS * 4);
    rt.ensure("parChannel", chips * (CADC_CHANNELS + 1) * 16);
    rt.ensure("chipInfo", chips * 16);
    rt.ensure("readings", chips * CADC_CHANNELS * 4);
    rt.ensure("mstate", chips * NEURONS * MEAS_STATE_FLOATS * 4);
    rt.ensure("aux", chips * NEURONS * 8);
    rt.ensure("stats", chips * NEURONS * 8 * 4);
  }

  /**
   * Opens twins on the GPU; `undefined` when there is no usable adapter.
   * Throws when the device cannot compile or run the kernels.
   *
   * @param seeds One u32 seed per chip.
   * @param twin The model numbers.
   */
  static async open(
    seeds: readonly number[],
    twin: TwinConfig,
  ): Promise<WebGpuBackend | undefined> {
    const batch = new TwinBatch(seeds, twin);
    const gpu = await requestTwinDevice();
    if (!gpu) return undefined;
    const rt = await GpuRuntime.create(
      gpu.device,
      gpu.adapter.info.description || "unnamed adapter",
    );
    return new WebGpuBackend(batch, rt);
  }

  /** The model numbers of the twins. */
  get twin(): TwinConfig {
    return this.#batch.twin;
  }

  /** Submits, dispatches, readbacks and (while profiling) GPU time so far, in all and by kernel. */
  get gpuStats(): {
    submits: number;
    dispatches: number;
    readbacks: number;
    passSeconds: number;
    kernelSeconds: Record<string, number>;
    kernelDispatches: Record<string, number>;
  } {
    const s = this.#rt.stats;
    return {
      ...s,
      kernelSeconds: { ...s.kernelSeconds },
      kernelDispatches: { ...s.kernelDispatches },
    };
  }

  /**
   * Times every dispatch on the GPU with timestamp queries (where the
   * adapter offers them), each in a compute pass of its own, so
   * `gpuStats.kernelSeconds` splits the time by kernel; returns whether
   * profiling is on.
   */
  profile(on: boolean): boolean {
    return this.#rt.profile(on);
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

  /** Writes a patch to every (selected) chip (validated whole first). */
  // deno-lint-ignore require-await
  async write(patch: ConfigPatch, selection: ChipSelection = {}): Promise<void> {
    this.#open();
    this.#batch.write(patch, selection);
    for (const c of this.#batch.selected(selection)) this.#dirty.add(c);
  }

  /** Snapshots of every chip's configuration. */
  // deno-lint-ignore require-await
  async config(): Promise<ChipConfig[]> {
    this.#open();
    return this.chips.map((_, c) => cloneConfig(this.#batch.config(c)));
  }

  /** The twins' true parameters (tests and benchmarks only). */
  // deno-lint-ignore require-await
  async truth(patch?: ConfigPatch): Promise<Truth> {
    this.#open();
    return this.#batch.truth(patch);
  }

  /** Runs a measurement on every (selected) chip: one submit, one readback. */
  async measure(m: Measurement, selection: ChipSelection = {}): Promise<Float32Array> {
    this.#open();
    validateMeasurement(m);
    const active = this.#batch.selected(selection);
    const size = measurementSize(m);
    // A trace's readings are `samples` per chip; every other kind's fit in 1024.
    const stride = m.kind === "membrane-trace" ? size : CADC_CHANNELS;
    if (m.kind === "membrane-trace") {
      this.#batch.readoutNeurons(active);
      const bytes = this.chips.length * stride * 4;
      const limit = this.#rt.device.limits.maxStorageBufferBindingSize;
      if (bytes > limit) {
        throw new RangeError(
          `membrane-trace: ${this.chips.length} chips × ${size} samples need ${bytes} bytes of readings, more than this GPU binds (${limit}); lower maxSamples`,
        );
      }
    }
    const job = this.#begin(active);
    this.#encodeMeasurement(job, m);
    this.stats.measurements++;
    this.#rt.ensure("readings", this.chips.length * stride * 4);
    const [bytes] = await this.#finish(job, [{
      buffer: "readings",
      offset: 0,
      size: this.chips.length * stride * 4,
    }]);
    const all = new Float32Array(bytes!);
    const out = new Float32Array(this.chips.length * size).fill(NaN);
    for (const c of active) {
      out.set(all.subarray(c * stride, c * stride + size), c * size);
    }
    return out;
  }

  /** Runs a whole search on the GPU: one submit, one readback at the end. */
  async search(spec: SearchSpec): Promise<SearchResult> {
    this.#open();
    const chips = this.chips.length;
    const { size } = validateSearchSpec(spec, chips);
    const active = spec.chips ?? Array.from({ length: chips }, (_, c) => c);
    this.#batch.selected({ chips: active });
    const job = this.#begin(active);
    const traceSteps: { codes: number; readings: number }[] | undefined = spec.trace
      ? []
      : undefined;
    const r = this.#encodeSearch(job, spec, 0, traceSteps);
    this.stats.searches++;
    const n = active.length * size;
    const readbacks = [
      { buffer: "sInt" as const, offset: 0, size: job.ints.length * 4 },
      { buffer: "sFloat" as const, offset: 0, size: Math.max(4, job.floats.length * 4) },
    ];
    const [ints, floats] = await this.#finish(job, readbacks);
    const sInt = new Int32Array(ints!);
    // Mirror on the host what the search and its sub-searches wrote: each
    // region's final codes are what its last update wrote into the
    // configuration (a sub-search encoded once per step of its parent has a
    // region per step; the last one ran last).
    active.forEach((c, k) => {
      const patch: Record<string, Int32Array> = {};
      for (const reg of job.regions.values()) {
        patch[reg.field] = sInt.slice(reg.codes + k * reg.size, reg.codes + (k + 1) * reg.size);
      }
      this.#batch.write(patch as ConfigPatch, { chips: [c] });
    });
    const codes = new Int32Array(chips * size).fill(-1);
    const success = new Uint8Array(chips * size);
    active.forEach((c, k) => {
      codes.set(sInt.subarray(r.codes + k * size, r.codes + (k + 1) * size), c * size);
      for (let i = 0; i < size; i++) success[c * size + i] = sInt[r.success + k * size + i]!;
    });
    if (!traceSteps) return { codes, success };
    const sFloat = new Float32Array(floats!);
    return {
      codes,
      success,
      trace: {
        codes: traceSteps.map((t) => sInt.slice(t.codes, t.codes + n)),
        readings: traceSteps.map((t) => sFloat.slice(t.readings, t.readings + n)),
      },
    };
  }

  /** Releases the device; later calls reject. */
  // deno-lint-ignore require-await
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#rt.destroy();
  }

  #open(): void {
    if (this.#closed) throw new Error("The WebGPU backend is closed");
  }

  #begin(active: readonly number[]): _Job {
    // Upload the configuration of chips the host changed since the last job.
    for (const c of this.#dirty) {
      this.#staleStats[c] = ALL_STATS_ROWS;
      this.#staleParams[c] = 1;
      const p = packConfig(this.#batch.config(c));
      this.#rt.upload("cfgNeuron", p.neuron, c * NEURONS * NEURON_CONFIG_INTS * 4);
      this.#rt.upload("cfgChip", p.chip, c * CHIP_CONFIG_INTS * 4);
      this.#rt.upload("cfgChannel", p.channel, c * CADC_CHANNELS * 4);
    }
    this.#dirty.clear();
    const counters = this.#batch.counters();
    const info = new Uint32Array(active.length * 4);
    active.forEach((c, k) => {
      const readout = this.#batch.config(c).enable_readout.indexOf(1);
      info.set([c, this.keys[c]!, counters[c]!, readout < 0 ? 0xffffffff : readout], k * 4);
    });
    this.#rt.upload("chipInfo", info);
    return new _Job(active, { stats: this.#staleStats, params: this.#staleParams });
  }

  async #finish(job: _Job, readbacks: Parameters<GpuRuntime["run"]>[1]): Promise<ArrayBuffer[]> {
    if (job.ints.length > 0) this.#rt.upload("sInt", job.ints.values);
    else this.#rt.ensure("sInt", 256);
    if (job.floats.length > 0) this.#rt.upload("sFloat", job.floats.values);
    else this.#rt.ensure("sFloat", 256);
    if (job.aux) this.#rt.upload("aux", job.aux);
    // The operations the job claimed, per active chip (the kernels used base + delta).
    this.#batch.claim(job.op, { chips: job.active });
    // The queue runs jobs in submit order, and `run` submits before it awaits.
    this.#staleStats.set(job.staleStats);
    this.#staleParams.set(job.staleParams);
    try {
      return await this.#rt.run(job.dispatches, readbacks.filter((r) => r.size > 0));
    } catch (e) {
      // What ran is unknown: recompute everything next time.
      this.#staleStats.fill(ALL_STATS_ROWS);
      this.#staleParams.fill(1);
      throw e;
    }
  }

  /** Per-neuron (samples per window, sample period) of a trace measurement. */
  #traceAux(
    job: _Job,
    window: { windowSeconds: number | ArrayLike<number>; maxSamples: number },
  ): void {
    const chips = this.chips.length;
    const aux = new Float32Array(chips * NEURONS * 2);
    const w = window.windowSeconds;
    for (const c of job.active) {
      for (let n = 0; n < NEURONS; n++) {
        const s = sampling(
          perNeuron(w, c, n),
          this.#batch.twin.madc.samplePeriod,
          window.maxSamples,
        );
        aux[(c * NEURONS + n) * 2] = s.n;
        aux[(c * NEURONS + n) * 2 + 1] = s.dt;
      }
    }
    if (job.aux && !job.aux.every((v, i) => v === aux[i])) {
      throw new RangeError("A GPU search cannot nest trace measurements with different windows");
    }
    job.aux = aux;
  }

  /**
   * Encodes the parameter update a measurement needs: the stale rows of the
   * quadrant statistics, then the parameters, or nothing when no write was
   * encoded since the last update of the job's chips.
   */
  #encodeParams(job: _Job): void {
    let rows = 0;
    let params = 0;
    for (const c of job.active) {
      rows |= job.staleStats[c]!;
      params |= job.staleParams[c]!;
      job.staleStats[c] = 0;
      job.staleParams[c] = 0;
    }
    if (rows !== 0) {
      job.run(PROGRAMS.quadrantStats, job.active.length * 3, { rows });
    }
    if (params & 1) {
      job.run(PROGRAMS.computeParams, job.active.length * 4, {});
    } else if (params !== 0) {
      // Voltage rows alone: only their potentials (kernels/params.wgsl).
      job.run(PROGRAMS.updatePotentials, job.active.length * 4, { voltageRows: params });
    }
  }

  /** Marks what a write of `field` on the GPU (a search's new codes) makes stale. */
  #markWritten(job: _Job, field: FieldName): void {
    const rows = statsRows(field);
    // A voltage row (bits 1..5) moves one potential; anything else every parameter.
    const params = rows > 1 ? rows : 1;
    for (const c of job.active) {
      job.staleStats[c]! |= rows;
      job.staleParams[c]! |= params;
    }
  }

  #encodeMeasurement(job: _Job, m: Measurement): void {
    const op = job.op++;
    const neuronGroups = job.active.length * 4;
    this.#encodeParams(job);
    const twin = this.#batch.twin;
    switch (m.kind) {
      case "resting-potential":
      case "reset-potential": {
        const { reads } = withDefaults(m);
        _bounded(m.kind, "reads", reads);
        job.run(PROGRAMS.measureSettled, neuronGroups, {
          reads,
          kind: m.kind === "resting-potential" ? 0 : 1,
        }, op);
        return;
      }
      case "threshold-max": {
        const period = twin.cadc.readPeriod;
        const { samples, batches } = withDefaults(m);
        const sub = Math.max(1, Math.round(period / (m.dtSeconds ?? period / 2)));
        const total = batches * 2 * samples * sub;
        for (let start = 0; start < total; start += MAX_STEPS_PER_DISPATCH) {
          job.run(PROGRAMS.measureThresholdMax, neuronGroups, {
            samples,
            batches,
            sub,
            start,
            stepsPerDispatch: MAX_STEPS_PER_DISPATCH,
            dt: period / sub,
          }, op);
        }
        return;
      }
      case "tau-mem":
      case "tau-mem-reset": {
        const d = withDefaults(m);
        _bounded(m.kind, "maxSamples", d.maxSamples);
        this.#traceAux(job, d);
        job.run(PROGRAMS.measureTauMem, neuronGroups, {
          method: m.kind === "tau-mem" ? 0 : 1,
          stepSeconds: m.kind === "tau-mem" ? withDefaults(m).stepSeconds : 0,
          tauLow: TAU_MEM_BOUNDS[0],
          tauHigh: TAU_MEM_BOUNDS[1],
        }, op);
        return;
      }
      case "tau-mem-cadc":
        job.run(PROGRAMS.measureTauMemCadc, neuronGroups, { waitSeconds: m.waitSeconds }, op);
        return;
      case "tau-syn-exc":
      case "tau-syn-inh": {
        const d = withDefaults(m);
        _bounded(m.kind, "maxSamples", d.maxSamples);
        this.#traceAux(job, d);
        job.run(PROGRAMS.measureTauSyn, neuronGroups, {
          input: m.kind === "tau-syn-exc" ? 0 : 1,
          events: d.events,
          weight: d.weight,
          tauLow: TAU_SYN_BOUNDS[0],
          tauHigh: TAU_SYN_BOUNDS[1],
        }, op);
        return;
      }
      case "synline-drop":
        job.run(PROGRAMS.measureSynlineDrop, neuronGroups, { weight: withDefaults(m).weight }, op);
        job.run(PROGRAMS.quadrantMedian, neuronGroups, {}, op);
        return;
      case "psp-amplitude-exc":
      case "psp-amplitude-inh": {
        const d = withDefaults(m);
        const sub = Math.max(1, Math.round(d.spacingSeconds / d.dtSeconds));
        // Each step may add up to 6 segment iterations at a spike or phase boundary.
        _bounded(m.kind, "runs × (events + 1) × spacing/dt", 7 * d.runs * (d.events + 1) * sub);
        job.run(PROGRAMS.measurePsp, neuronGroups, {
          input: m.kind === "psp-amplitude-exc" ? 0 : 1,
          events: d.events,
          runs: d.runs,
          sub,
          weight: d.weight,
          dt: d.spacingSeconds / sub,
        }, op);
        return;
      }
      case "spike-count": {
        const d = withDefaults(m);
        const steps = Math.max(1, Math.round(d.windowSeconds / d.dtSeconds));
        for (let start = 0; start < steps; start += MAX_STEPS_PER_DISPATCH) {
          job.run(PROGRAMS.measureSpikeCount, neuronGroups, {
            counter8bit: d.counter === "8bit" ? 1 : 0,
            start,
            stepsPerDispatch: MAX_STEPS_PER_DISPATCH,
            steps,
            dt: d.windowSeconds / steps,
            overflowValue: d.overflowValue,
          }, op);
        }
        return;
      }
      case "cadc-reference":
        job.run(PROGRAMS.measureCadcReference, job.active.length * 8, { code: m.code }, op);
        return;
      case "membrane-trace": {
        // One invocation per chip integrates its readout neuron, split into
        // dispatches of MAX_STEPS_PER_DISPATCH steps (state in mstate).
        const { samples, decimation } = traceSampling(m);
        const total = (samples - 1) * decimation + 1;
        const events = traceEventSteps(m);
        const count = events.steps.length;
        const steps = job.allocInts(count, events.steps);
        const weights = job.allocFloats(
          2 * count,
          Array.from({ length: 2 * count }, (_, i) => (i % 2 ? events.inh : events.exc)[i >> 1]!),
        );
        const groups = Math.ceil(job.active.length / 128);
        for (let start = 0; start < total; start += MAX_STEPS_PER_DISPATCH) {
          job.run(PROGRAMS.measureTrace, groups, {
            samples,
            decimation,
            events: count,
            start,
            stepsPerDispatch: MAX_STEPS_PER_DISPATCH,
            total,
            eventSteps: steps,
            eventWeights: weights,
            samplesPerChip: samples,
            samplePeriod: 1 / MADC_SAMPLE_RATE,
          }, op);
        }
        return;
      }
    }
  }

  #encodeSearch(
    job: _Job,
    spec: SearchSpec,
    depth: number,
    trace: { codes: number; readings: number }[] | undefined,
  ): _Regions {
    if (depth > 3) throw new RangeError("GPU searches nest at most 3 levels deep");
    const chips = this.chips.length;
    const { size, lower, upper } = validateSearchSpec(spec, chips);
    const active = job.active;
    if (
      spec.chips &&
      (spec.chips.length !== active.length || spec.chips.some((c, k) => c !== active[k]))
    ) {
      throw new RangeError("A nested GPU search must run on the chips of its parent");
    }
    const plan = planSearch(spec.algorithm, lower, upper);
    const n = active.length * size;
    const groups = Math.ceil(n / 128);
    let reg = job.regions.get(spec);
    if (!reg) {
      const target = selectRows(expandPerInstance(spec.target, size, chips), active, size);
      reg = {
        field: spec.field,
        size,
        codes: job.allocInts(n),
        histCodes: job.allocInts(plan.best * n),
        success: job.allocInts(n),
        before: job.allocInts(n),
        histDist: job.allocFloats(plan.best * n),
        targets: job.allocFloats(n, target),
        limits: (spec.map ?? []).map((m) =>
          m.op === "before-failed"
            ? -1
            : job.allocFloats(n, selectRows(expandPerInstance(m.limit, size, chips), active, size))
        ),
        reduced: spec.reduce === "quadrant-mean" ? job.allocFloats(n) : -1,
      };
      job.regions.set(spec, reg);
    }
    const counters = this.#batch.counters();
    const startOp = job.op++;
    let offsetsAt = 0;
    active.forEach((c, k) => {
      const o = startOffsets(spec.algorithm, this.keys[c]!, counters[c]! + startOp, size);
      if (!o) return;
      if (k === 0) offsetsAt = job.allocInts(n) + 1;
      job.ints.values.set(o.subarray(0, size), offsetsAt - 1 + k * size);
    });
    const shape = { instances: n, perChip: size };
    // searchInit and every update write their new codes into the field.
    const write = fieldId(spec.field) + 1;
    job.run(PROGRAMS.searchInit, groups, {
      ...shape,
      codes: reg.codes,
      offsets: offsetsAt,
      lower,
      upper,
      start: plan.start,
      write,
    });
    this.#markWritten(job, spec.field);
    const source = reg.reduced >= 0 ? reg.reduced + 1 : 0;
    for (let k = 0; k < plan.measurements; k++) {
      if (spec.before && spec.before.length > 0) {
        job.run(PROGRAMS.combineFlags, groups, { ...shape, other: 0, flags: reg.before, mode: 0 });
        for (const sub of spec.before) {
          const child = this.#encodeSearch(job, { ...sub, chips: active }, depth + 1, undefined);
          if (validateSearchSpec(sub, chips).size === size) {
            job.run(PROGRAMS.combineFlags, groups, {
              ...shape,
              other: child.success,
              flags: reg.before,
              mode: 1,
            });
          }
        }
      }
      this.#encodeMeasurement(job, spec.measurement);
      if (reg.reduced >= 0) {
        job.run(PROGRAMS.quadrantMean, active.length * 4, {
          instances: n,
          perChip: measurementSize(spec.measurement),
          out: reg.reduced,
        });
      }
      (spec.map ?? []).forEach((m, j) => {
        const op = m.op === "above" ? 1 : m.op === "code-below" ? 2 : 3;
        job.run(PROGRAMS.applyMap, groups, {
          ...shape,
          codes: reg!.codes,
          limits: reg!.limits[j]!,
          before: reg!.before,
          op,
          source,
          value: m.value,
        });
      });
      if (trace) {
        const at = { codes: job.allocInts(n), readings: job.allocFloats(n) };
        trace.push(at);
        job.run(PROGRAMS.traceStep, groups, {
          ...shape,
          codes: reg.codes,
          outCodes: at.codes,
          outReadings: at.readings,
          source,
        });
      }
      const { kernel, ...update } = searchUpdateDesc(plan, spec.inverted ?? false, k, {
        ...shape,
        codes: reg.codes,
        histCodes: reg.histCodes,
        histDist: reg.histDist,
        targets: reg.targets,
        source,
        write,
      });
      job.dispatch(kernel, groups, update);
      this.#markWritten(job, spec.field);
    }
    job.run(PROGRAMS.searchSuccess, groups, {
      ...shape,
      codes: reg.codes,
      success: reg.success,
      lower,
      upper,
    });
    return reg;
  }
}
