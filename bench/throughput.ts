/**
 * Throughput of the CPU executor in neuron-steps per second: for each chip
 * count, times one spike-count (1 ms window at dt 0.1 µs, 10,000 steps per
 * neuron), one psp-amplitude-exc (defaults) and one tau-mem (30 µs window)
 * measurement and prints a table, or a JSON array with `--json`.
 *
 * ```sh
 * deno run -A bench/throughput.ts [--chips 1,16,64] [--json]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { ConfigPatch } from "../backends/config.ts";
import { NEURONS } from "../backends/layout.ts";
import type { Measurement } from "../backends/measurement.ts";
import { openBackend } from "../backends/open_backend.ts";
import { neuronSteps } from "./_neuron_steps.ts";

/** Configuration under which every neuron fires regularly. */
export const FIRING: ConfigPatch = {
  v_leak: 900,
  v_threshold: 500,
  v_reset: 300,
  i_bias_leak: 300,
  leak_division: 1,
  threshold_enable: 1,
};

/** One timed case: a measurement and the configuration written before it. */
export interface ThroughputCase {
  /** The measurement timed. */
  readonly measurement: Measurement;
  /** Written to every chip of a fresh batch before the measurement. */
  readonly setup: ConfigPatch;
}

/** The cases timed per chip count. */
export const CASES: readonly ThroughputCase[] = [
  { measurement: { kind: "spike-count", windowSeconds: 1e-3 }, setup: FIRING },
  { measurement: { kind: "psp-amplitude-exc" }, setup: {} },
  // An offset current, so that the measured step has a decay to fit.
  { measurement: { kind: "tau-mem", windowSeconds: 30e-6 }, setup: { i_mem_offset: 300 } },
];

/** One row of the result. */
export interface ThroughputRow {
  /** Chips in the batch. */
  readonly chips: number;
  /** Measurement kind. */
  readonly kind: Measurement["kind"];
  /** Integration steps per neuron ({@linkcode neuronSteps}). */
  readonly stepsPerNeuron: number;
  /** Wall time of one measurement of the whole batch (ms). */
  readonly wallMs: number;
  /** `chips × 512 × stepsPerNeuron / seconds`. */
  readonly neuronStepsPerSecond: number;
}

/**
 * Times one measurement of a fresh batch of `chips` CPU twins.
 *
 * @param chips Chips in the batch.
 * @param c The case to time.
 * @returns The row of the table.
 */
export async function timeCase(chips: number, c: ThroughputCase): Promise<ThroughputRow> {
  const backend = await openBackend({ backend: "cpu", chips });
  try {
    await backend.write(c.setup);
    const start = performance.now();
    await backend.measure(c.measurement);
    const wallMs = performance.now() - start;
    const stepsPerNeuron = neuronSteps(c.measurement);
    return {
      chips,
      kind: c.measurement.kind,
      stepsPerNeuron,
      wallMs,
      neuronStepsPerSecond: (chips * NEURONS * stepsPerNeuron) / (wallMs / 1000),
    };
  } finally {
    await backend.close();
  }
}

/**
 * Parses a comma-separated list of positive chip counts.
 *
 * @example
 * ```ts
 * import { parseChips } from "./throughput.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseChips("1, 16,64"), [1, 16, 64]);
 * assert.throws(() => parseChips("1,0"), RangeError);
 * ```
 */
export function parseChips(text: string): number[] {
  return text.split(",").map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Chip counts must be positive integers, got "${part.trim()}"`);
    }
    return n;
  });
}

/**
 * Formats rows as an aligned text table.
 *
 * @example
 * ```ts
 * import { formatTable } from "./throughput.ts";
 * import assert from "node:assert/strict";
 * const t = formatTable([{ chips: 1, kind: "spike-count", stepsPerNeuron: 10_000, wallMs: 400,
 *   neuronStepsPerSecond: 1.28e7 }]);
 * assert.match(t, /spike-count/);
 * assert.match(t, /1\.28e\+7/);
 * ```
 */
export function formatTable(rows: readonly ThroughputRow[]): string {
  const header = ["chips", "kind", "steps/neuron", "wall ms", "neuron-steps/s"];
  const body = rows.map((r) => [
    String(r.chips),
    r.kind,
    String(r.stepsPerNeuron),
    r.wallMs.toFixed(1),
    r.neuronStepsPerSecond.toExponential(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => i === 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))
      .join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      chips: { type: "string", default: "1,16,64" },
      json: { type: "boolean", default: false },
    },
  });
  const counts = parseChips(values.chips);
  // Compile the hot loops before anything is timed.
  for (const c of CASES) await timeCase(1, c);
  const rows: ThroughputRow[] = [];
  for (const chips of counts) {
    for (const c of CASES) {
      const row = await timeCase(chips, c);
      rows.push(row);
      if (!values.json) {
        console.error(`Timed ${row.kind} on ${chips} chip${chips === 1 ? "" : "s"}`);
      }
    }
  }
  console.log(values.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
}
