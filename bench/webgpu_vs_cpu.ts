/**
 * WebGPU against the CPU executor, side by side in one run: neuron-steps/s
 * of the time-resolved measurements and the wall time of a full calibration
 * (CADC + calibrate + CADC + refine), per chip count, with where the GPU's
 * time goes (submits, dispatches, readbacks, pass time from timestamp
 * queries).
 *
 * Run: `deno run -A bench/webgpu_vs_cpu.ts [--chips 1,16,64,256] [--calibrate 1,16,64]
 * [--backends cpu,webgpu] [--algorithms noisy-binary,secant] [--profile] [--baseline DIR] [--json]`
 *
 * A calibration is timed without GPU profiling (profiling puts every dispatch
 * in a pass of its own); `--profile` times it with profiling on instead and
 * prints where the GPU's time went by kernel. `--baseline DIR` runs the same
 * calibrations with the bench of another checkout (an older commit) right
 * after these, in a subprocess, and prints the speed-up per row.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Backend } from "../backends/backend.ts";
import { CpuBackend } from "../backends/cpu/cpu_backend.ts";
import type { Measurement } from "../backends/measurement.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { WebGpuBackend } from "../backends/webgpu/webgpu_backend.ts";
import { calibrate } from "../calib/calibrate.ts";
import { CALIB_ALGORITHMS, type CalibAlgorithm } from "../calib/target.ts";
import { neuronSteps } from "./_neuron_steps.ts";
import { PEER_CONFIG } from "./peers/export_params.ts";

/** One row of the comparison. */
export interface ComparisonRow {
  /** What was timed: a measurement kind, or "calibration" with its search algorithm. */
  readonly what: string;
  /** Chips in the batch. */
  readonly chips: number;
  /** Executor. */
  readonly backend: "cpu" | "webgpu";
  /** Wall time (s). */
  readonly seconds: number;
  /** Neuron-steps per second (measurements only). */
  readonly neuronStepsPerSecond?: number;
  /** GPU work: submits, dispatches, readbacks, pass seconds (webgpu only). */
  readonly gpu?: { submits: number; dispatches: number; readbacks: number; passSeconds: number };
  /** GPU seconds by kernel (a profiled calibration only). */
  readonly kernels?: Record<string, number>;
}

/** Every neuron firing: the configuration the peers (bench/peers/) time too. */
const _FIRING = PEER_CONFIG;

const _KINDS: Measurement[] = [
  { kind: "spike-count", windowSeconds: 1e-3 },
  { kind: "psp-amplitude-exc" },
  { kind: "tau-mem", windowSeconds: 30e-6 },
  { kind: "threshold-max", samples: 200 },
];

function _seeds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

async function _open(kind: "cpu" | "webgpu", n: number, profile = true): Promise<Backend> {
  if (kind === "cpu") return new CpuBackend(_seeds(n), DEFAULT_TWIN_CONFIG);
  const gpu = await WebGpuBackend.open(_seeds(n), DEFAULT_TWIN_CONFIG);
  if (!gpu) throw new Error("No usable WebGPU adapter");
  gpu.profile(profile);
  return gpu;
}

function _gpuDelta(be: Backend, before: ComparisonRow["gpu"]): ComparisonRow["gpu"] {
  if (!(be instanceof WebGpuBackend) || !before) return undefined;
  const after = be.gpuStats;
  return {
    submits: after.submits - before.submits,
    dispatches: after.dispatches - before.dispatches,
    readbacks: after.readbacks - before.readbacks,
    passSeconds: after.passSeconds - before.passSeconds,
  };
}

/**
 * Times the measurements on `n` chips on one executor (after one warm-up run each).
 *
 * @example
 * ```ts ignore
 * const rows = await benchMeasurements("cpu", 1);
 * ```
 */
export async function benchMeasurements(
  kind: "cpu" | "webgpu",
  n: number,
): Promise<ComparisonRow[]> {
  const be = await _open(kind, n);
  await be.write(_FIRING);
  const rows: ComparisonRow[] = [];
  for (const m of _KINDS) {
    await be.measure(m, { chips: [0] });
    const before = be instanceof WebGpuBackend ? be.gpuStats : undefined;
    const t0 = performance.now();
    await be.measure(m);
    const seconds = (performance.now() - t0) / 1000;
    const gpu = _gpuDelta(be, before);
    rows.push({
      what: m.kind,
      chips: n,
      backend: kind,
      seconds,
      neuronStepsPerSecond: (n * 512 * neuronSteps(m)) / seconds,
      ...(gpu ? { gpu } : {}),
    });
  }
  await be.close();
  return rows;
}

/**
 * Times a full calibration of `n` chips on one executor with one search
 * algorithm; with `profile`, with GPU profiling on and the GPU time by kernel.
 *
 * @example
 * ```ts ignore
 * const row = await benchCalibrationOn("webgpu", 16, "secant");
 * ```
 */
export async function benchCalibrationOn(
  kind: "cpu" | "webgpu",
  n: number,
  algorithm: CalibAlgorithm = "noisy-binary",
  profile = false,
): Promise<ComparisonRow> {
  const be = await _open(kind, n, profile);
  const before = be instanceof WebGpuBackend ? be.gpuStats : undefined;
  const t0 = performance.now();
  await calibrate(be, undefined, { algorithm });
  const seconds = (performance.now() - t0) / 1000;
  const gpu = _gpuDelta(be, before);
  const kernels = profile && be instanceof WebGpuBackend
    ? Object.fromEntries(
      Object.entries(be.gpuStats.kernelSeconds).sort((a, b) => b[1] - a[1]),
    )
    : undefined;
  await be.close();
  return {
    what: `calibration ${algorithm}`,
    chips: n,
    backend: kind,
    seconds,
    ...(gpu ? { gpu } : {}),
    ...(kernels ? { kernels } : {}),
  };
}

/**
 * Runs the bench of another checkout (`dir`, e.g. an older commit in a git
 * worktree) on the same calibrations and returns its rows (its `--json`).
 *
 * @example
 * ```ts ignore
 * const rows = await baselineRows("/tmp/base", ["--chips", "", "--calibrate", "16"]);
 * ```
 */
export async function baselineRows(dir: string, args: readonly string[]): Promise<ComparisonRow[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/webgpu_vs_cpu.ts", ...args, "--json"],
    cwd: dir,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`The baseline bench in ${dir} failed`);
  const text = new TextDecoder().decode(out.stdout);
  return JSON.parse(text.slice(text.indexOf("["))) as ComparisonRow[];
}

function _list(text: string, name: string): number[] {
  if (text === "") return [];
  const v = text.split(",").map(Number);
  if (v.some((x) => !Number.isInteger(x) || x < 1)) {
    console.error(`${name} must be positive integers, got "${text}"`);
    Deno.exit(2);
  }
  return v;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      chips: { type: "string", default: "1,16,64,256" },
      calibrate: { type: "string", default: "1,16,64" },
      backends: { type: "string", default: "cpu,webgpu" },
      algorithms: { type: "string", default: "noisy-binary" },
      profile: { type: "boolean", default: false },
      baseline: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const algorithms = values.algorithms.split(",") as CalibAlgorithm[];
  const unknown = algorithms.filter((a) => !(CALIB_ALGORITHMS as readonly string[]).includes(a));
  if (unknown.length > 0) {
    console.error(`Unknown algorithm ${unknown[0]}: use ${CALIB_ALGORITHMS.join(", ")}`);
    Deno.exit(2);
  }
  const kinds = values.backends.split(",").filter((k): k is "cpu" | "webgpu" =>
    k === "cpu" || k === "webgpu"
  );
  const rows: ComparisonRow[] = [];
  const print = (r: ComparisonRow) => {
    if (values.json) return;
    const nsps = r.neuronStepsPerSecond ? r.neuronStepsPerSecond.toExponential(2) : "";
    const gpu = r.gpu
      ? `${r.gpu.submits} submits, ${r.gpu.dispatches} dispatches, ${r.gpu.readbacks} readbacks${
        r.gpu.passSeconds > 0 ? `, pass ${r.gpu.passSeconds.toFixed(3)} s` : ""
      }`
      : "";
    console.log(
      `${r.what.padEnd(24)} ${String(r.chips).padStart(4)} ${r.backend.padEnd(7)} ${
        r.seconds.toFixed(3).padStart(9)
      } s ${nsps.padStart(10)}  ${gpu}`,
    );
  };
  for (const n of _list(values.chips, "--chips")) {
    for (const kind of kinds) {
      for (const r of await benchMeasurements(kind, n)) {
        rows.push(r);
        print(r);
      }
    }
  }
  for (const n of _list(values.calibrate, "--calibrate")) {
    for (const algorithm of algorithms) {
      for (const kind of kinds) {
        const r = await benchCalibrationOn(kind, n, algorithm, values.profile);
        rows.push(r);
        print(r);
        if (r.kernels && !values.json) {
          const top = Object.entries(r.kernels).slice(0, 6);
          console.log(
            `  GPU time by kernel: ${top.map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(", ")}`,
          );
        }
      }
    }
  }
  if (values.baseline !== undefined) {
    // The same calibrations in the other checkout, one after the other on this machine.
    const base = await baselineRows(values.baseline, [
      "--chips",
      "",
      "--calibrate",
      values.calibrate,
      "--backends",
      values.backends,
      ...(values.algorithms === "noisy-binary" ? [] : ["--algorithms", values.algorithms]),
    ]);
    for (const r of rows.filter((r) => r.what.startsWith("calibration"))) {
      const b = base.find((x) =>
        x.chips === r.chips && x.backend === r.backend &&
        (x.what === r.what || (x.what === "calibration" && r.what === "calibration noisy-binary"))
      );
      if (!b) continue;
      if (!values.json) {
        console.log(
          `baseline ${values.baseline}: ${r.what} ${r.chips} ${r.backend} ${
            b.seconds.toFixed(3)
          } s → ${r.seconds.toFixed(3)} s, ${(b.seconds / r.seconds).toFixed(2)}× faster`,
        );
      }
      rows.push({ ...b, what: `baseline ${b.what}` });
    }
  }
  if (values.json) console.log(JSON.stringify(rows, null, 2));
}
