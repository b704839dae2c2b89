/**
 * The WebGPU runtime of the twin executor: one device, the shader modules of
 * `kernels/`, one explicit bind group layout shared by every pipeline,
 * pipelines built once (async) and cached, buffers sized per batch and grown
 * on demand, and a recorder that turns a list of dispatches into one compute
 * pass, one submit and at most one readback.
 *
 * @module
 */

import { DESC_STRIDE, type DescValues, writeDesc } from "./layout.ts";
import { wgslSource } from "./wgsl_source.ts";

/** The kernel entry points, by the WGSL module that holds them. */
export const KERNELS = {
  params: ["quadrantStats", "computeParams", "updatePotentials"],
  measure: [
    "measureSettled",
    "measureThresholdMax",
    "measureTauMem",
    "measureTauMemCadc",
    "measureTauSyn",
    "measureSynlineDrop",
    "quadrantMedian",
    "measurePsp",
    "measureSpikeCount",
    "measureCadcReference",
    "measureTrace",
  ],
  search: [
    "searchInit",
    "quadrantMean",
    "applyMap",
    "searchUpdate",
    "searchSecant",
    "searchSuccess",
    "combineFlags",
    "traceStep",
  ],
} as const;

/** The name of a kernel entry point. */
export type KernelName =
  | (typeof KERNELS.params)[number]
  | (typeof KERNELS.measure)[number]
  | (typeof KERNELS.search)[number];

/** The buffers bound at group 0, by binding number (see `kernels/twin_common.wgsl`). */
export const BINDINGS = [
  "twin",
  "desc",
  "mismNeuron",
  "mismQuadrant",
  "mismChannel",
  "cfgNeuron",
  "cfgChip",
  "cfgChannel",
  "parNeuron",
  "parChannel",
  "chipInfo",
  "readings",
  "mstate",
  "aux",
  "sInt",
  "sFloat",
  "stats",
] as const;

/** A buffer of the bind group. */
export type BindingName = (typeof BINDINGS)[number];

const _READ_ONLY: ReadonlySet<BindingName> = new Set([
  "mismNeuron",
  "mismQuadrant",
  "mismChannel",
  "chipInfo",
  "aux",
]);

/** Storage buffers a pipeline needs per shader stage. */
export const STORAGE_BUFFERS = 15;

/**
 * Requests a device for the twin kernels, with limits raised to what the
 * kernels need and capped at the adapter's. Returns `undefined` when no
 * adapter exists or it cannot bind enough storage buffers.
 *
 * @example
 * ```ts ignore
 * const gpu = await requestTwinDevice();
 * console.log(gpu?.adapter.info.description ?? "no adapter");
 * ```
 */
export async function requestTwinDevice(): Promise<
  { adapter: GPUAdapter; device: GPUDevice } | undefined
> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return undefined;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return undefined;
  const a = adapter.limits;
  if (a.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS) return undefined;
  const features: GPUFeatureName[] = adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBuffersPerShaderStage: STORAGE_BUFFERS,
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
      maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
    },
  });
  return { adapter, device };
}

/** One recorded dispatch. */
interface _Dispatch {
  readonly kernel: KernelName;
  readonly desc: DescValues;
  readonly groups: number;
}

/** A buffer read back after a submit: which, from where, how many bytes. */
export interface Readback {
  /** Source buffer. */
  readonly buffer: BindingName;
  /** Byte offset in it. */
  readonly offset: number;
  /** Bytes to read. */
  readonly size: number;
}

/** Counters of a {@linkcode GpuRuntime}. */
export interface GpuStats {
  /** Queue submits. */
  submits: number;
  /** Compute dispatches. */
  dispatches: number;
  /** Submits that read results back (one `mapAsync` each). */
  readbacks: number;
  /** GPU time of the profiled dispatches (s), from timestamp queries. */
  passSeconds: number;
  /** The same time by kernel entry point (s). */
  kernelSeconds: Partial<Record<KernelName, number>>;
  /** Dispatches by kernel entry point. */
  kernelDispatches: Partial<Record<KernelName, number>>;
}

/** Timestamp queries per query set (WebGPU's limit). */
const _QUERIES_PER_SET = 4096;

/** Device, pipelines and buffers of one WebGPU twin backend. */
export class GpuRuntime {
  /** The device. */
  readonly device: GPUDevice;
  /** The adapter's description. */
  readonly adapter: string;
  readonly #layout: GPUBindGroupLayout;
  readonly #pipelines = new Map<KernelName, GPUComputePipeline>();
  readonly #buffers = new Map<BindingName, GPUBuffer>();
  #bindGroup: GPUBindGroup | undefined;
  #staging: GPUBuffer | undefined;
  #lost: string | undefined;
  /**
   * Work done so far; `passSeconds` is GPU time from timestamp queries while
   * profiling, and `kernelSeconds` the same time by kernel entry point.
   */
  readonly stats: GpuStats = {
    submits: 0,
    dispatches: 0,
    readbacks: 0,
    passSeconds: 0,
    kernelSeconds: {},
    kernelDispatches: {},
  };
  #profiling = false;
  readonly #querySets: GPUQuerySet[] = [];
  #queryBuffer: GPUBuffer | undefined;

  private constructor(device: GPUDevice, adapter: string, layout: GPUBindGroupLayout) {
    this.device = device;
    this.adapter = adapter;
    this.#layout = layout;
    device.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * Creates the runtime: compiles every kernel (async pipelines, built once).
   *
   * @example
   * ```ts ignore
   * const gpu = await requestTwinDevice();
   * const rt = await GpuRuntime.create(gpu!.device, gpu!.adapter.info.description);
   * ```
   */
  static async create(device: GPUDevice, adapter: string): Promise<GpuRuntime> {
    const layout = device.createBindGroupLayout({
      entries: BINDINGS.map((name, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: name === "twin" || name === "desc"
          ? { type: "uniform" as const, hasDynamicOffset: name === "desc" }
          : { type: _READ_ONLY.has(name) ? "read-only-storage" as const : "storage" as const },
      })),
    });
    const rt = new GpuRuntime(device, adapter, layout);
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    const common = await wgslSource("twin_common");
    device.pushErrorScope("validation");
    const jobs: Promise<void>[] = [];
    for (const [module, entries] of Object.entries(KERNELS)) {
      const code = `${common}\n${await wgslSource(module)}`;
      const shader = device.createShaderModule({ code, label: module });
      const info = await shader.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === "error");
      if (errors.length > 0) {
        await device.popErrorScope();
        throw new Error(
          `WGSL kernel ${module}.wgsl does not compile: ${
            errors.map((e) => `line ${e.lineNum}: ${e.message}`).join("; ")
          }`,
        );
      }
      for (const entryPoint of entries) {
        jobs.push(
          device.createComputePipelineAsync({
            layout: pipelineLayout,
            compute: { module: shader, entryPoint },
            label: entryPoint,
          }).then((p) => void rt.#pipelines.set(entryPoint as KernelName, p)),
        );
      }
    }
    await Promise.all(jobs);
    const error = await device.popErrorScope();
    if (error) throw new Error(`WebGPU kernels failed to compile: ${error.message}`);
    return rt;
  }

  /**
   * Ensures a buffer holds at least `bytes` (grows it, dropping its content).
   *
   * @example
   * ```ts ignore
   * rt.ensure("readings", 4 * 1024);
   * ```
   */
  ensure(name: BindingName, bytes: number): GPUBuffer {
    const size = Math.max(256, Math.ceil(bytes / 256) * 256);
    const have = this.#buffers.get(name);
    if (have && have.size >= size) return have;
    have?.destroy();
    const usage = name === "twin" || name === "desc"
      ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
      : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    // Grow geometrically so repeated growth stays cheap.
    const grown = have ? Math.max(size, Math.ceil((have.size * 1.5) / 256) * 256) : size;
    const buffer = this.device.createBuffer({ size: grown, usage, label: name });
    this.#buffers.set(name, buffer);
    this.#bindGroup = undefined;
    return buffer;
  }

  /**
   * Uploads data at a byte offset of a buffer (growing it if needed, which
   * only happens before anything else was written to it).
   *
   * @example
   * ```ts ignore
   * rt.upload("aux", new Float32Array(1024));
   * ```
   */
  upload(name: BindingName, data: ArrayBufferView, offset = 0): void {
    const buffer = this.ensure(name, offset + data.byteLength);
    this.device.queue.writeBuffer(
      buffer,
      offset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  #group(): GPUBindGroup {
    if (!this.#bindGroup) {
      this.#bindGroup = this.device.createBindGroup({
        layout: this.#layout,
        entries: BINDINGS.map((name, binding) => ({
          binding,
          resource: name === "desc"
            ? { buffer: this.ensure(name, DESC_STRIDE), size: DESC_STRIDE }
            : { buffer: this.ensure(name, 256) },
        })),
      });
    }
    return this.#bindGroup;
  }

  /**
   * Encodes the dispatches in one compute pass, submits them with the
   * readbacks copied after them, and resolves to the read bytes (one
   * `mapAsync` for all of them).
   *
   * @example
   * ```ts ignore
   * const [bytes] = await rt.run(dispatches, [{ buffer: "readings", offset: 0, size: 4096 }]);
   * ```
   */
  async run(
    dispatches: readonly _Dispatch[],
    readbacks: readonly Readback[],
  ): Promise<ArrayBuffer[]> {
    if (this.#lost) throw new Error(`The WebGPU device was lost (${this.#lost})`);
    const descBytes = new ArrayBuffer(Math.max(1, dispatches.length) * DESC_STRIDE);
    dispatches.forEach((d, k) => writeDesc(descBytes, k, d.desc));
    this.upload("desc", new Uint8Array(descBytes));
    const group = this.#group();
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    this.device.pushErrorScope("validation");
    const encoder = this.device.createCommandEncoder();
    const timed = this.#profiling && dispatches.length > 0;
    if (timed) this.#ensureQueries(2 * dispatches.length);
    if (dispatches.length > 0) {
      // While profiling, every dispatch gets a pass of its own with timestamps
      // around it, so the GPU time splits by kernel; otherwise one pass.
      let pass = timed ? undefined : encoder.beginComputePass();
      let current: KernelName | undefined;
      dispatches.forEach((d, k) => {
        if (timed) {
          pass = encoder.beginComputePass({
            timestampWrites: {
              querySet: this.#querySets[Math.floor((2 * k) / _QUERIES_PER_SET)]!,
              beginningOfPassWriteIndex: (2 * k) % _QUERIES_PER_SET,
              endOfPassWriteIndex: (2 * k) % _QUERIES_PER_SET + 1,
            },
          });
          current = undefined;
        }
        if (d.kernel !== current) {
          pass!.setPipeline(this.#pipelines.get(d.kernel)!);
          current = d.kernel;
        }
        pass!.setBindGroup(0, group, [k * DESC_STRIDE]);
        // Reshape past the per-dimension limit; kernels rebuild the linear index.
        const x = Math.min(d.groups, max);
        const y = Math.ceil(d.groups / x);
        pass!.dispatchWorkgroups(x, y);
        if (timed) pass!.end();
      });
      if (!timed) pass!.end();
    }
    const queryBytes = 16 * dispatches.length;
    if (timed) {
      for (let set = 0; set * _QUERIES_PER_SET < 2 * dispatches.length; set++) {
        const count = Math.min(_QUERIES_PER_SET, 2 * dispatches.length - set * _QUERIES_PER_SET);
        encoder.resolveQuerySet(
          this.#querySets[set]!,
          0,
          count,
          this.#queryBuffer!,
          set * _QUERIES_PER_SET * 8,
        );
      }
      readbacks = [...readbacks, {
        buffer: "timestamps" as BindingName,
        offset: 0,
        size: queryBytes,
      }];
    }
    const total = readbacks.reduce((s, r) => s + Math.ceil(r.size / 4) * 4, 0);
    let staging: GPUBuffer | undefined;
    if (total > 0) {
      if (!this.#staging || this.#staging.size < total) {
        this.#staging?.destroy();
        this.#staging = this.device.createBuffer({
          size: Math.ceil(total / 256) * 256,
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        });
      }
      staging = this.#staging;
      let at = 0;
      for (const r of readbacks) {
        const source = (r.buffer as string) === "timestamps"
          ? this.#queryBuffer!
          : this.#buffers.get(r.buffer)!;
        encoder.copyBufferToBuffer(source, r.offset, staging, at, r.size);
        at += Math.ceil(r.size / 4) * 4;
      }
    }
    this.device.queue.submit([encoder.finish()]);
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`WebGPU rejected the work: ${error.message}`);
    this.stats.submits++;
    this.stats.dispatches += dispatches.length;
    for (const d of dispatches) {
      this.stats.kernelDispatches[d.kernel] = (this.stats.kernelDispatches[d.kernel] ?? 0) + 1;
    }
    if (!staging) {
      await this.device.queue.onSubmittedWorkDone();
      return [];
    }
    this.stats.readbacks++;
    await staging.mapAsync(GPUMapMode.READ, 0, Math.ceil(total / 256) * 256);
    const mapped = staging.getMappedRange(0, Math.ceil(total / 256) * 256);
    const out: ArrayBuffer[] = [];
    let at = 0;
    for (const r of readbacks) {
      out.push(mapped.slice(at, at + r.size));
      at += Math.ceil(r.size / 4) * 4;
    }
    staging.unmap();
    if (this.#lost) throw new Error(`The WebGPU device was lost (${this.#lost})`);
    if (timed) {
      const t = new BigUint64Array(out.pop()!);
      dispatches.forEach((d, k) => {
        const seconds = Number(t[2 * k + 1]! - t[2 * k]!) / 1e9;
        this.stats.passSeconds += seconds;
        this.stats.kernelSeconds[d.kernel] = (this.stats.kernelSeconds[d.kernel] ?? 0) + seconds;
      });
    }
    return out;
  }

  /**
   * Measures the GPU time of every compute pass with timestamp queries (when
   * the device has `timestamp-query`); returns whether profiling is on. Each
   * profiled submit then reads its timestamps back with its results.
   *
   * @example
   * ```ts ignore
   * rt.profile(true);
   * ```
   */
  profile(on: boolean): boolean {
    this.#profiling = on && this.device.features.has("timestamp-query");
    if (!this.#profiling) {
      for (const q of this.#querySets) q.destroy();
      this.#querySets.length = 0;
      this.#queryBuffer?.destroy();
      this.#queryBuffer = undefined;
    }
    return this.#profiling;
  }

  #ensureQueries(count: number): void {
    while (this.#querySets.length * _QUERIES_PER_SET < count) {
      this.#querySets.push(
        this.device.createQuerySet({ type: "timestamp", count: _QUERIES_PER_SET }),
      );
    }
    const bytes = this.#querySets.length * _QUERIES_PER_SET * 8;
    if (!this.#queryBuffer || this.#queryBuffer.size < bytes) {
      this.#queryBuffer?.destroy();
      this.#queryBuffer = this.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  /** Releases every buffer and the device. */
  destroy(): void {
    this.profile(false);
    for (const b of this.#buffers.values()) b.destroy();
    this.#staging?.destroy();
    this.#buffers.clear();
    this.device.destroy();
  }
}

export type { _Dispatch as Dispatch };
