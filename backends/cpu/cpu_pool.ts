/**
 * The CPU executor's workers: one module worker per core (or as many as
 * asked), started on first use, reused for every measurement, terminated by
 * {@linkcode CpuWorkerPool.close} — and after a while without work, so that
 * a program that forgets to close its backend still exits (they start again
 * when needed).
 *
 * A measurement is cut into blocks of neurons; block `k` goes to worker
 * `k mod workers` (or contiguous runs, as the caller arranges). Each worker
 * keeps a copy of the mismatch and configuration of the chips it has seen and
 * derives their parameters itself; after a write only the changed rows cross.
 *
 * @module
 */

import { type ChipConfig, cloneConfig, FIELD_NAMES } from "../config.ts";
import type { Measurement } from "../measurement.ts";
import type { ChipMismatch } from "../twin/mismatch.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import type { WorkerChip, WorkerJob, WorkerReply, WorkerTask } from "./cpu_worker.ts";

/** A block of neurons of a chip to measure, with what the chip's measurement needs. */
export interface PoolTask {
  /** The chip's index in its batch. */
  readonly chip: number;
  /** The chip's RNG key. */
  readonly key: number;
  /** The operation the measurement claimed on the chip. */
  readonly op: number;
  /** The chip's mismatch. */
  readonly mismatch: ChipMismatch;
  /** The chip's live configuration. */
  readonly config: Readonly<ChipConfig>;
  /** The configuration's version (changes with every write that changes it). */
  readonly version: number;
  /** First neuron. */
  readonly n0: number;
  /** One past the last neuron. */
  readonly n1: number;
}

interface Slot {
  readonly worker: Worker;
  /** Per chip: the configuration version the worker holds, and a copy of it. */
  readonly held: Map<number, { version: number; readonly config: ChipConfig }>;
}

/**
 * The worker count from the environment: `LIFCAL_CPU_WORKERS` if set (a
 * positive integer), else `navigator.hardwareConcurrency`.
 *
 * @example
 * ```ts
 * import { defaultWorkerCount } from "./cpu_pool.ts";
 * import assert from "node:assert/strict";
 * assert.ok(defaultWorkerCount() >= 1);
 * ```
 */
export function defaultWorkerCount(): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("LIFCAL_CPU_WORKERS");
  } catch {
    text = undefined; // no --allow-env: the default
  }
  if (text !== undefined && text.trim() !== "") {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`LIFCAL_CPU_WORKERS must be a positive integer, got "${text}"`);
    }
    return n;
  }
  const cores = globalThis.navigator?.hardwareConcurrency;
  return Number.isInteger(cores) && cores! > 0 ? cores! : 1;
}

/**
 * A pool of CPU workers for one backend.
 *
 * @example
 * ```ts
 * import { CpuWorkerPool } from "./cpu_pool.ts";
 * import { TwinBatch } from "../twin/twin_batch.ts";
 * import { DEFAULT_TWIN_CONFIG as twin } from "../twin/twin_config.ts";
 * import assert from "node:assert/strict";
 * const b = new TwinBatch([1], twin);
 * const chip = { mismatch: b.mismatch(0), config: b.config(0), version: b.configVersion(0) };
 * const pool = new CpuWorkerPool(2, twin);
 * const [a, c] = await pool.run({ kind: "reset-potential" }, [
 *   [{ chip: 0, key: 1, op: 0, ...chip, n0: 0, n1: 256 }],
 *   [{ chip: 0, key: 1, op: 0, ...chip, n0: 256, n1: 512 }],
 * ]);
 * assert.equal(a!.length + c!.length, 512);
 * pool.close();
 * ```
 */
export class CpuWorkerPool {
  /** Workers. */
  readonly size: number;
  readonly #twin: TwinConfig;
  readonly #idleMs: number;
  #slots: Slot[] | undefined;
  readonly #pending = new Map<
    number,
    { resolve: (out: Float32Array) => void; reject: (e: Error) => void }
  >();
  #jobs = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #unavailable: Error | undefined;
  /** Whether a worker of this pool has ever answered (its module loaded). */
  #answered = false;

  /**
   * @param size Workers (≥ 1).
   * @param twin The model numbers.
   * @param idleMs Workers are terminated after this long without work (restarted on demand).
   */
  constructor(size: number, twin: TwinConfig, idleMs = 2000) {
    this.size = size;
    this.#twin = twin;
    this.#idleMs = idleMs;
  }

  /** Why workers could not be started here (no `Worker`, no permission), if they could not. */
  get unavailable(): Error | undefined {
    return this.#unavailable;
  }

  /** Whether workers are running now. */
  get running(): boolean {
    return this.#slots !== undefined;
  }

  /**
   * Measures blocks: `perWorker[w]` runs on worker `w`; resolves to each
   * worker's readings, its tasks' one after the other.
   */
  async run(m: Measurement, perWorker: readonly (readonly PoolTask[])[]): Promise<Float32Array[]> {
    if (this.#closed) throw new Error("The CPU worker pool is closed");
    if (perWorker.length > this.size) throw new RangeError("More task lists than workers");
    if (this.#idle !== undefined) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
    }
    const slots = this.#start();
    const runs = perWorker.map((tasks, w) => {
      const slot = slots[w]!;
      const chips: WorkerChip[] = [];
      const wire: WorkerTask[] = tasks.map((t) => {
        const h = slot.held.get(t.chip);
        if (!h) {
          // postMessage copies the live configuration as it is now.
          const config = t.config as ChipConfig;
          chips.push({ chip: t.chip, version: t.version, whole: { mismatch: t.mismatch, config } });
          slot.held.set(t.chip, { version: t.version, config: cloneConfig(config) });
        } else if (h.version !== t.version) {
          const rows: [(typeof FIELD_NAMES)[number], Int32Array][] = [];
          for (const name of FIELD_NAMES) {
            const now = t.config[name];
            const was = h.config[name];
            for (let i = 0; i < now.length; i++) {
              if (now[i] !== was[i]) {
                was.set(now);
                rows.push([name, now.slice()]);
                break;
              }
            }
          }
          h.version = t.version;
          chips.push({ chip: t.chip, version: t.version, rows });
        }
        return { chip: t.chip, key: t.key, op: t.op, version: t.version, n0: t.n0, n1: t.n1 };
      });
      const job = ++this.#jobs;
      return new Promise<Float32Array>((resolve, reject) => {
        this.#pending.set(job, { resolve, reject });
        try {
          slot.worker.postMessage({ job, m, chips, tasks: wire } satisfies WorkerJob);
        } catch (e) {
          this.#pending.delete(job);
          // What was not sent is not held.
          for (const u of chips) slot.held.delete(u.chip);
          reject(e as Error);
        }
      });
    });
    try {
      return await Promise.all(runs);
    } finally {
      this.#armIdle();
    }
  }

  /** Terminates the workers; later runs reject. */
  close(): void {
    this.#closed = true;
    this.#stop(new Error("The CPU worker pool was closed"));
  }

  #start(): Slot[] {
    if (this.#slots) return this.#slots;
    const url = new URL("./cpu_worker.ts", import.meta.url);
    const slots: Slot[] = [];
    try {
      // Without read access to the module a worker fails to load (and says so on stderr).
      if (
        url.protocol === "file:" &&
        Deno.permissions.querySync({ name: "read", path: url }).state !== "granted"
      ) {
        throw new Error("no read access to the CPU worker module");
      }
      for (let w = 0; w < this.size; w++) {
        const worker = new Worker(url.href, { type: "module" });
        const slot: Slot = { worker, held: new Map() };
        slots.push(slot);
        worker.onmessage = (e: MessageEvent) => {
          const reply = e.data as WorkerReply;
          this.#answered = true;
          // After a failed job, send every chip whole again.
          if ("error" in reply) slot.held.clear();
          const p = this.#pending.get(reply.job);
          if (!p) return;
          this.#pending.delete(reply.job);
          if ("error" in reply) p.reject(new Error(reply.error));
          else p.resolve(reply.out);
          if (this.#pending.size === 0) this.#armIdle();
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          const error = new Error(`CPU worker failed: ${e.message}`);
          // A worker that fails before it ever answered could not load here (permissions,
          // an environment without module workers): the backend then runs in-process.
          if (!this.#answered) this.#unavailable = error;
          this.#stop(error);
        };
        worker.onmessageerror = () => {
          this.#stop(new Error("CPU worker: a message could not be read"));
        };
        worker.postMessage({ twin: this.#twin });
      }
    } catch (e) {
      for (const s of slots) s.worker.terminate();
      this.#unavailable = e instanceof Error ? e : new Error(String(e));
      throw this.#unavailable;
    }
    this.#slots = slots;
    return slots;
  }

  #armIdle(): void {
    if (this.#closed || this.#pending.size > 0 || !this.#slots) return;
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    const timer = setTimeout(() => {
      this.#idle = undefined;
      if (this.#pending.size === 0) this.#stop(new Error("CPU workers stopped"));
    }, this.#idleMs);
    this.#idle = timer;
    // The idle timer alone does not keep a program alive.
    Deno.unrefTimer(timer);
  }

  #stop(reason: Error): void {
    if (this.#idle !== undefined) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
    }
    const slots = this.#slots;
    this.#slots = undefined;
    for (const s of slots ?? []) s.worker.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(reason);
  }
}
