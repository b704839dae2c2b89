/**
 * What calix's COBA step (step 9) costs, and what running its outer loops
 * on the host costs on the GPU: one full calibration of a twin with calix's
 * hardware-test set-up on each executor, the wall time of every step, the
 * measurements and searches, and on WebGPU the submits and readbacks of the
 * COBA step against the floor of one round trip (a one-read measurement),
 * which bounds what fusing the step into one submission per search could
 * save.
 *
 * Run: `deno run -A bench/coba.ts [--backends cpu,webgpu] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CpuBackend } from "../backends/cpu/cpu_backend.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { WebGpuBackend } from "../backends/webgpu/webgpu_backend.ts";
import { calibrate } from "../calib/calibrate.ts";
import type { NeuronCalibTarget } from "../calib/target.ts";

/** calix's `test_neuron_coba.py` set-up. */
export const COBA_TEST_TARGET: NeuronCalibTarget = {
  e_coba_reversal: [
    Array.from({ length: 512 }, (_, n) => (n < 490 ? 300 : null)),
    Array.from({ length: 512 }, (_, n) => (n < 490 ? 30 : null)),
  ],
  e_coba_reference: [150, null],
  i_synin_gm: [180, 250],
};

/** One executor's numbers. */
export interface CobaBenchRow {
  /** `cpu` or `webgpu`. */
  readonly backend: string;
  /** Wall time of the whole calibration (s). */
  readonly totalSeconds: number;
  /** Wall time of each step (s). */
  readonly steps: Record<string, number>;
  /** Measurements and searches requested during the COBA step. */
  readonly coba: { measurements: number; searches: number };
  /** WebGPU only: submits and readbacks of the COBA step, and one round trip's floor (s). */
  readonly gpu?: { submits: number; readbacks: number; roundTripSeconds: number };
}

type _Stats = { measurements: number; searches: number };

/**
 * Calibrates chip `seed` with the COBA set-up on one executor.
 *
 * @example
 * ```ts ignore
 * const row = await benchCoba("cpu");
 * console.log(row.steps.COBA);
 * ```
 */
export async function benchCoba(kind: "cpu" | "webgpu", seed = 1): Promise<CobaBenchRow> {
  const backend = kind === "cpu"
    ? new CpuBackend([seed], DEFAULT_TWIN_CONFIG)
    : await WebGpuBackend.open([seed], DEFAULT_TWIN_CONFIG);
  if (!backend) throw new Error("No WebGPU adapter");
  const gpu = backend instanceof WebGpuBackend ? backend : undefined;
  let roundTripSeconds = 0;
  if (gpu) {
    await gpu.measure({ kind: "resting-potential" });
    const t = performance.now();
    for (let i = 0; i < 20; i++) await gpu.measure({ kind: "resting-potential" });
    roundTripSeconds = (performance.now() - t) / 20 / 1000;
  }
  const stats = (): _Stats => ({ ...(backend.stats as _Stats) });
  const steps: Record<string, number> = {};
  let current = "";
  let mark = performance.now();
  let cobaStart: { stats: _Stats; gpu?: { submits: number; readbacks: number } } | undefined;
  let cobaEnd: typeof cobaStart;
  const t0 = mark;
  const snapshot = () => ({
    stats: stats(),
    ...(gpu ? { gpu: { submits: gpu.gpuStats.submits, readbacks: gpu.gpuStats.readbacks } } : {}),
  });
  await calibrate(backend, COBA_TEST_TARGET, {
    onStep: (step) => {
      const now = performance.now();
      if (current) steps[current] = (now - mark) / 1000;
      if (current === "COBA") cobaEnd = snapshot();
      if (step === "COBA") cobaStart = snapshot();
      current = step;
      mark = now;
    },
  });
  const end = performance.now();
  steps[current] = (end - mark) / 1000;
  await backend.close();
  const a = cobaStart!;
  const b = cobaEnd!;
  return {
    backend: kind,
    totalSeconds: (end - t0) / 1000,
    steps,
    coba: {
      measurements: b.stats.measurements - a.stats.measurements,
      searches: b.stats.searches - a.stats.searches,
    },
    ...(gpu
      ? {
        gpu: {
          submits: b.gpu!.submits - a.gpu!.submits,
          readbacks: b.gpu!.readbacks - a.gpu!.readbacks,
          roundTripSeconds,
        },
      }
      : {}),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string", default: "cpu,webgpu" },
      json: { type: "boolean", default: false },
    },
  });
  const rows: CobaBenchRow[] = [];
  for (const kind of values.backends.split(",") as ("cpu" | "webgpu")[]) {
    rows.push(await benchCoba(kind));
  }
  if (values.json) console.log(JSON.stringify(rows, null, 2));
  else {
    for (const r of rows) {
      const g = r.gpu;
      console.log(
        `${r.backend}: calibration ${r.totalSeconds.toFixed(1)} s, COBA step ${
          r.steps.COBA!.toFixed(1)
        } s (${r.coba.measurements} measurements, ${r.coba.searches} searches)${
          g
            ? `; ${g.submits} submits, ${g.readbacks} readbacks, round trip ${
              (g.roundTripSeconds * 1e3).toFixed(1)
            } ms → fusing could save at most ${(g.readbacks * g.roundTripSeconds).toFixed(1)} s (${
              (100 * g.readbacks * g.roundTripSeconds / r.steps.COBA!).toFixed(0)
            } % of the step)`
            : ""
        }`,
      );
    }
  }
}
