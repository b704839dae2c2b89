/**
 * A worker of the CPU executor: measures blocks of neurons of the chips it is
 * sent with {@linkcode measureNeurons}, the same function the executor runs
 * in-process, so a reading never depends on the thread or the block.
 *
 * The worker keeps a copy of each chip's mismatch and configuration and
 * derives the effective parameters itself (`chipParams`, as the executor
 * does), so a search step ships only the rows its write changed.
 *
 * Messages in: `{ twin }` once, then jobs `{ job, m, chips, tasks }`; out:
 * `{ job, out }` (the tasks' readings one after the other, transferred) or
 * `{ job, error }`.
 *
 * @module
 */

import type { ChipConfig, FieldName } from "../config.ts";
import type { Measurement } from "../measurement.ts";
import type { ChipMismatch } from "../twin/mismatch.ts";
import { type ChipParams, chipParams } from "../twin/physics.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { measureNeurons } from "./measure_chip.ts";

/** One block of neurons of one chip. */
export interface WorkerTask {
  /** The chip's index in its batch. */
  readonly chip: number;
  /** The chip's RNG key. */
  readonly key: number;
  /** The operation the measurement claimed on the chip. */
  readonly op: number;
  /** The configuration version the task needs. */
  readonly version: number;
  /** First neuron. */
  readonly n0: number;
  /** One past the last neuron. */
  readonly n1: number;
}

/** What a worker is told of a chip: all of it the first time, later the rows that changed. */
export interface WorkerChip {
  /** The chip's index in its batch. */
  readonly chip: number;
  /** The configuration version after this update. */
  readonly version: number;
  /** The chip's mismatch and whole configuration (first contact). */
  readonly whole?: { readonly mismatch: ChipMismatch; readonly config: ChipConfig };
  /** Rows that changed since the worker's version. */
  readonly rows?: readonly (readonly [FieldName, Int32Array])[];
}

/** A job for one worker. */
export interface WorkerJob {
  /** Job id (echoed). */
  readonly job: number;
  /** The measurement. */
  readonly m: Measurement;
  /** Chip updates, applied before the tasks. */
  readonly chips: readonly WorkerChip[];
  /** Blocks to measure, in the order of the readings returned. */
  readonly tasks: readonly WorkerTask[];
}

/** What a worker answers. */
export type WorkerReply = { readonly job: number; readonly out: Float32Array } | {
  readonly job: number;
  readonly error: string;
};

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

interface Held {
  version: number;
  readonly mismatch: ChipMismatch;
  readonly config: ChipConfig;
  params: ChipParams | undefined;
}

const scope = globalThis as unknown as Scope;
const held = new Map<number, Held>();
let twin: TwinConfig | undefined;

function _apply(u: WorkerChip): void {
  if (u.whole) {
    held.set(u.chip, { version: u.version, ...u.whole, params: undefined });
    return;
  }
  const h = held.get(u.chip);
  if (!h) throw new Error(`CPU worker: chip ${u.chip} updated before it was sent`);
  for (const [name, row] of u.rows ?? []) h.config[name] = row;
  h.version = u.version;
  h.params = undefined;
}

scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as WorkerJob | { twin: TwinConfig };
  if ("twin" in msg) {
    twin = msg.twin;
    return;
  }
  try {
    if (!twin) throw new Error("CPU worker: no twin configuration");
    for (const u of msg.chips) _apply(u);
    let total = 0;
    for (const t of msg.tasks) total += t.n1 - t.n0;
    const out = new Float32Array(total);
    let o = 0;
    for (const t of msg.tasks) {
      const h = held.get(t.chip);
      if (!h || h.version !== t.version) {
        throw new Error(`CPU worker: configuration ${t.version} of chip ${t.chip} missing`);
      }
      h.params ??= chipParams(h.config, h.mismatch, twin);
      const ctx = { key: t.key, op: t.op, twin, chip: t.chip };
      out.set(measureNeurons(msg.m, h.params, ctx, t.n0, t.n1), o);
      o += t.n1 - t.n0;
    }
    scope.postMessage({ job: msg.job, out } satisfies WorkerReply, [out.buffer]);
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    scope.postMessage({ job: msg.job, error } satisfies WorkerReply);
  }
};
