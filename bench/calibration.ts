/**
 * Wall time of a full calibration (CADC + calibrate + CADC again + refine) on
 * the CPU executor, and the work it took.
 *
 * Run: `deno run -A bench/calibration.ts [--chips 1,8] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CpuBackend } from "../backends/cpu/cpu_backend.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { calibrate } from "../calib/calibrate.ts";

/** One benchmark row. */
export interface CalibrationBenchRow {
  /** Chips calibrated together. */
  readonly chips: number;
  /** Wall time (s). */
  readonly wallSeconds: number;
  /** Chips per second. */
  readonly chipsPerSecond: number;
  /** Measurements run on the backend (each covers every chip of the batch). */
  readonly measurements: number;
  /** Searches run (nested ones included). */
  readonly searches: number;
  /** Wall time per step (s). */
  readonly steps: Record<string, number>;
}

/**
 * Calibrates `chips` twins once and times it.
 *
 * @example
 * ```ts ignore
 * const row = await benchCalibration(1);
 * console.log(row.wallSeconds);
 * ```
 */
export async function benchCalibration(chips: number): Promise<CalibrationBenchRow> {
  const backend = new CpuBackend(
    Array.from({ length: chips }, (_, i) => i + 1),
    DEFAULT_TWIN_CONFIG,
  );
  const steps: Record<string, number> = {};
  let current = "";
  let mark = performance.now();
  const t0 = mark;
  await calibrate(backend, undefined, {
    onStep: (step) => {
      const now = performance.now();
      if (current) steps[current] = (steps[current] ?? 0) + (now - mark) / 1000;
      current = step;
      mark = now;
    },
  });
  const end = performance.now();
  steps[current] = (steps[current] ?? 0) + (end - mark) / 1000;
  const wallSeconds = (end - t0) / 1000;
  return {
    chips,
    wallSeconds,
    chipsPerSecond: chips / wallSeconds,
    measurements: backend.stats.measurements,
    searches: backend.stats.searches,
    steps,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      chips: { type: "string", default: "1,8" },
      json: { type: "boolean", default: false },
    },
  });
  const counts = values.chips.split(",").map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) {
    console.error(`Chip counts must be positive integers, got "${values.chips}"`);
    Deno.exit(2);
  }
  const rows: CalibrationBenchRow[] = [];
  for (const n of counts) rows.push(await benchCalibration(n));
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    console.log("chips  wall s  chips/s  measurements  searches  slowest steps");
    for (const r of rows) {
      const slow = Object.entries(r.steps).sort((a, b) => b[1] - a[1]).slice(0, 3)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ");
      console.log(
        `${String(r.chips).padStart(5)}  ${r.wallSeconds.toFixed(1).padStart(6)}  ${
          r.chipsPerSecond.toFixed(3).padStart(7)
        }  ${String(r.measurements).padStart(12)}  ${String(r.searches).padStart(8)}  ${slow}`,
      );
    }
  }
}
