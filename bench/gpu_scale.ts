/**
 * How the WebGPU executor scales with the batch: a full calibration (CADC +
 * calibrate + CADC + refine, calix's default target) of 1, 64, 256 and 1,000
 * twins, each size on a fresh backend, with chips/s and where the time goes —
 * submits, dispatches, readbacks, GPU pass time from timestamp queries (when
 * the adapter has them), the host time outside the GPU passes, and the
 * slowest calibration steps.
 *
 * Run: `deno run -A bench/gpu_scale.ts [--chips 1,64,256,1000]
 * [--algorithm noisy-binary|binary|secant] [--max-seconds S] [--out FILE.json] [--json]`
 *
 * `--max-seconds` is a budget for the whole run: a size whose estimated time
 * (extrapolated from the sizes before it) does not fit in what is left is
 * skipped, and a calibration still running when the budget ends stops at its
 * next step and is reported with the steps it finished. `--out` rewrites the
 * report after every step, so a run killed from outside keeps everything
 * finished so far. Exit codes: 0 done (sizes may have been skipped or
 * stopped by the budget), 2 bad flags or no usable WebGPU adapter, 3 a
 * calibration failed.
 *
 * `bench/device/run.sh` runs it on a data-centre GPU machine in one command
 * (see docs/BENCHMARKS.md, "GPU scale").
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { WebGpuBackend } from "../backends/webgpu/webgpu_backend.ts";
import { calibrate } from "../calib/calibrate.ts";
import { CALIB_ALGORITHMS, type CalibAlgorithm } from "../calib/target.ts";
import { VERSION } from "../version.ts";

/** Which adapter the benchmark ran on. */
export interface AdapterReport {
  /** `GPUAdapterInfo.description` (the driver's name for the device). */
  readonly description: string;
  /** `GPUAdapterInfo.vendor`. */
  readonly vendor: string;
  /** `GPUAdapterInfo.architecture`. */
  readonly architecture: string;
  /** `GPUAdapterInfo.device`. */
  readonly device: string;
  /** Whether the adapter says it is a fallback (software) adapter; `null` when it does not say. */
  readonly fallback: boolean | null;
  /** Whether the adapter offers `timestamp-query` (GPU pass times). */
  readonly timestampQuery: boolean;
  /** `DENO_WEBGPU_BACKEND` as set for the run (`null`: unset, Deno's choice). */
  readonly backendEnv: string | null;
}

/** GPU work and time of one calibration step (or of a whole calibration). */
export interface StepTiming {
  /** The step's name, as `calibrate`'s `onStep` reports it. */
  readonly step: string;
  /** Wall time (s). */
  readonly seconds: number;
  /** Queue submits. */
  readonly submits: number;
  /** Compute dispatches. */
  readonly dispatches: number;
  /** Readbacks (buffer maps). */
  readonly readbacks: number;
  /** GPU time inside compute passes (s), from timestamp queries; `null` without them. */
  readonly passSeconds: number | null;
}

/** One batch size. */
export interface ScaleRow {
  /** Chips calibrated together (seeds 1..chips). */
  readonly chips: number;
  /** Opening the backend (s): device, kernel compilation, twin upload. */
  readonly openSeconds: number;
  /** Wall time of the calibration (s), opening excluded. */
  readonly wallSeconds: number;
  /** Chips per second of calibration wall time; `null` when the calibration stopped early. */
  readonly chipsPerSecond: number | null;
  /** Neurons per second of calibration wall time (512 per chip); `null` when stopped early. */
  readonly neuronsPerSecond: number | null;
  /** Queue submits. */
  readonly submits: number;
  /** Compute dispatches. */
  readonly dispatches: number;
  /** Readbacks (buffer maps). */
  readonly readbacks: number;
  /** GPU time inside compute passes (s); `null` without timestamp queries. */
  readonly passSeconds: number | null;
  /** Wall time outside the GPU passes (s): host work, uploads, readback waits; `null` without pass times. */
  readonly hostSeconds: number | null;
  /** Fraction of neurons calibrated over all chips; `null` when the calibration stopped early. */
  readonly successFraction: number | null;
  /** Every step in run order. */
  readonly steps: StepTiming[];
  /** Set when the budget ended the calibration: the step it stopped before. */
  readonly stoppedAt?: string;
}

/** Everything one run measured: what `--json` prints and `--out` writes. */
export interface ScaleReport {
  /** lifcal's version. */
  readonly lifcalVersion: string;
  /** Deno's version. */
  readonly deno: string;
  /** Host CPU threads (`navigator.hardwareConcurrency`). */
  readonly hostThreads: number;
  /** The calibration's search algorithm. */
  readonly algorithm: CalibAlgorithm;
  /** The adapter. */
  readonly adapter: AdapterReport;
  /** The budget (s) for the whole run; `null` for none. */
  readonly maxSeconds: number | null;
  /** The sizes asked for, in order. */
  readonly sizes: number[];
  /** The finished (or budget-stopped) sizes. */
  readonly rows: ScaleRow[];
  /** Sizes not run, with why. */
  readonly skipped: { chips: number; reason: string }[];
  /** The size being calibrated when the report was written (absent once a size ends). */
  running?: { chips: number; step: string; elapsedSeconds: number };
  /** The error that ended the run, if one did. */
  error?: string;
  /** Whether the run reached its end (false while running, or when killed). */
  complete: boolean;
  /** Seconds since the start of the run. */
  totalSeconds: number;
}

/**
 * Asks for the default WebGPU adapter (the one `WebGpuBackend.open` gets) and
 * describes it; `undefined` when there is none.
 *
 * @example
 * ```ts ignore
 * const adapter = await describeAdapter();
 * console.log(adapter?.description ?? "no WebGPU adapter");
 * ```
 */
export async function describeAdapter(): Promise<AdapterReport | undefined> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return undefined;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return undefined;
  const info = adapter.info;
  const flag = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    description: info.description || "unnamed adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    fallback: typeof flag === "boolean" ? flag : null,
    timestampQuery: adapter.features.has("timestamp-query"),
    backendEnv: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
  };
}

/**
 * Estimates how long the next size takes (s) from the sizes done so far,
 * assuming time ∝ chips^α: α from the last two sizes (kept within
 * 0.25–1.25), 0.75 after a single size (a GPU far from full scales
 * sublinearly), and 0 before any.
 *
 * @example Linear growth continues linearly
 * ```ts
 * import { estimateSeconds } from "./gpu_scale.ts";
 * import assert from "node:assert/strict";
 *
 * const done = [{ chips: 1, seconds: 2 }, { chips: 4, seconds: 8 }];
 * assert.equal(Math.round(estimateSeconds(done, 16)), 32);
 * assert.equal(estimateSeconds([], 64), 0);
 * ```
 */
export function estimateSeconds(
  done: readonly { chips: number; seconds: number }[],
  chips: number,
): number {
  const last = done.at(-1);
  if (!last) return 0;
  let alpha = 0.75;
  const prev = done.at(-2);
  if (prev && last.chips !== prev.chips && prev.seconds > 0 && last.seconds > 0) {
    alpha = Math.log(last.seconds / prev.seconds) / Math.log(last.chips / prev.chips);
    alpha = Math.min(1.25, Math.max(0.25, alpha));
  }
  return last.seconds * Math.pow(chips / last.chips, alpha);
}

/** Thrown from `onStep` when the budget is spent; ends the calibration between steps. */
class _BudgetSpent extends Error {
  constructor(readonly step: string) {
    super(`Budget spent before step ${step}`);
  }
}

/** Options of {@linkcode benchScale}. */
export interface BenchScaleOptions {
  /** Search algorithm (default `noisy-binary`). */
  readonly algorithm?: CalibAlgorithm;
  /** `performance.now()` (ms) after which the calibration stops at its next step. */
  readonly deadline?: number;
  /** Called as each step begins (progress, partial reports). */
  readonly onStep?: (step: string, elapsedSeconds: number) => void | Promise<void>;
}

/**
 * Calibrates `chips` twins (seeds 1..chips) on a fresh WebGPU backend with
 * profiling on, and times it step by step; `undefined` when no usable
 * adapter exists.
 *
 * @example
 * ```ts ignore
 * const row = await benchScale(4, { algorithm: "secant" });
 * if (row) console.log(row.chipsPerSecond, row.passSeconds);
 * ```
 */
export async function benchScale(
  chips: number,
  options: BenchScaleOptions = {},
): Promise<ScaleRow | undefined> {
  const seeds = Array.from({ length: chips }, (_, i) => i + 1);
  const t0 = performance.now();
  const be = await WebGpuBackend.open(seeds, DEFAULT_TWIN_CONFIG);
  if (!be) return undefined;
  try {
    const profiled = be.profile(true);
    const openSeconds = (performance.now() - t0) / 1000;
    const steps: StepTiming[] = [];
    const start = performance.now();
    let current: string | undefined;
    let mark = start;
    let at = be.gpuStats;
    const close = (now: number) => {
      if (current === undefined) return;
      const s = be.gpuStats;
      steps.push({
        step: current,
        seconds: (now - mark) / 1000,
        submits: s.submits - at.submits,
        dispatches: s.dispatches - at.dispatches,
        readbacks: s.readbacks - at.readbacks,
        passSeconds: profiled ? s.passSeconds - at.passSeconds : null,
      });
      at = s;
      mark = now;
    };
    const first = be.gpuStats;
    let stoppedAt: string | undefined;
    let successFraction: number | null = null;
    try {
      const results = await calibrate(be, undefined, {
        algorithm: options.algorithm ?? "noisy-binary",
        onStep: async (step) => {
          const now = performance.now();
          close(now);
          if (options.deadline !== undefined && now > options.deadline) {
            throw new _BudgetSpent(step);
          }
          current = step;
          await options.onStep?.(step, (now - start) / 1000);
        },
      });
      const ok = results.reduce((s, r) => s + r.success.filter((x) => x).length, 0);
      successFraction = ok / (chips * 512);
    } catch (e) {
      if (!(e instanceof _BudgetSpent)) throw e;
      stoppedAt = e.step;
      current = undefined;
    }
    const end = performance.now();
    close(end);
    const wallSeconds = (end - start) / 1000;
    const last = be.gpuStats;
    const passSeconds = profiled ? last.passSeconds - first.passSeconds : null;
    return {
      chips,
      openSeconds,
      wallSeconds,
      chipsPerSecond: stoppedAt === undefined ? chips / wallSeconds : null,
      neuronsPerSecond: stoppedAt === undefined ? (chips * 512) / wallSeconds : null,
      submits: last.submits - first.submits,
      dispatches: last.dispatches - first.dispatches,
      readbacks: last.readbacks - first.readbacks,
      passSeconds,
      hostSeconds: passSeconds === null ? null : wallSeconds - passSeconds,
      successFraction,
      steps,
      ...(stoppedAt !== undefined ? { stoppedAt } : {}),
    };
  } finally {
    await be.close();
  }
}

function _fail(message: string, code = 2): never {
  console.error(message);
  Deno.exit(code);
}

function _sizes(text: string): number[] {
  const v = text.split(",").map((s) => Number(s.trim()));
  if (text.trim() === "" || v.some((x) => !Number.isInteger(x) || x < 1)) {
    _fail(`--chips must be a comma-separated list of positive integers, got "${text}"`);
  }
  return v;
}

function _s(x: number | null, digits = 2): string {
  return x === null ? "—" : x.toFixed(digits);
}

function _slowest(row: ScaleRow, n = 3): string {
  return [...row.steps].sort((a, b) => b.seconds - a.seconds).slice(0, n).map((s) =>
    `${s.step} ${s.seconds.toFixed(2)} s (${s.submits} submits, ${s.dispatches} dispatches${
      s.passSeconds === null ? "" : `, pass ${s.passSeconds.toFixed(2)} s`
    })`
  ).join("; ");
}

async function _write(path: string | undefined, report: ScaleReport): Promise<void> {
  if (!path) return;
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(report, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

async function _main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      chips: { type: "string", default: "1,64,256,1000" },
      algorithm: { type: "string", default: "noisy-binary" },
      "max-seconds": { type: "string" },
      out: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const sizes = _sizes(values.chips);
  const algorithm = values.algorithm as CalibAlgorithm;
  if (!(CALIB_ALGORITHMS as readonly string[]).includes(algorithm)) {
    _fail(`Unknown algorithm ${algorithm}: use ${CALIB_ALGORITHMS.join(", ")}`);
  }
  let maxSeconds: number | null = null;
  if (values["max-seconds"] !== undefined) {
    maxSeconds = Number(values["max-seconds"]);
    if (!Number.isFinite(maxSeconds) || maxSeconds <= 0) {
      _fail(`--max-seconds must be a positive number, got "${values["max-seconds"]}"`);
    }
  }
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const adapter = await describeAdapter();
  if (!adapter) {
    _fail(
      `No WebGPU adapter: navigator.gpu.requestAdapter() returned null (DENO_WEBGPU_BACKEND=${
        Deno.env.get("DENO_WEBGPU_BACKEND") ?? "unset"
      }); install a Vulkan loader and driver (Debian: libvulkan1 + mesa-vulkan-drivers or the GPU's) or Mesa's GL, and set XDG_RUNTIME_DIR`,
    );
  }
  const log = (line: string) => console.error(`[gpu_scale ${elapsed().toFixed(1)} s] ${line}`);
  log(
    `adapter: ${adapter.description} (vendor ${adapter.vendor || "?"}, architecture ${
      adapter.architecture || "?"
    }, fallback ${adapter.fallback ?? "?"}, timestamp-query ${
      adapter.timestampQuery ? "yes" : "no"
    }, DENO_WEBGPU_BACKEND=${adapter.backendEnv ?? "unset"})`,
  );
  const report: ScaleReport = {
    lifcalVersion: VERSION,
    deno: Deno.version.deno,
    hostThreads: navigator.hardwareConcurrency,
    algorithm,
    adapter,
    maxSeconds,
    sizes,
    rows: [],
    skipped: [],
    complete: false,
    totalSeconds: 0,
  };
  const save = () => {
    report.totalSeconds = elapsed();
    return _write(values.out, report);
  };
  await save();
  const done: { chips: number; seconds: number }[] = [];
  for (const chips of sizes) {
    if (maxSeconds !== null) {
      const left = maxSeconds - elapsed();
      const estimate = estimateSeconds(done, chips);
      if (estimate > left) {
        const reason = `estimated ${estimate.toFixed(0)} s, ${
          Math.max(0, left).toFixed(0)
        } s of the ${maxSeconds} s budget left`;
        report.skipped.push({ chips, reason });
        log(`${chips} chips skipped: ${reason}`);
        await save();
        continue;
      }
    }
    log(`${chips} chips: opening`);
    let row: ScaleRow | undefined;
    try {
      row = await benchScale(chips, {
        algorithm,
        ...(maxSeconds !== null ? { deadline: t0 + maxSeconds * 1000 } : {}),
        onStep: (step, s) => {
          log(`${chips} chips: ${step} (${s.toFixed(1)} s into the calibration)`);
          report.running = { chips, step, elapsedSeconds: s };
          return save();
        },
      });
    } catch (e) {
      report.error = `${chips} chips: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
      delete report.running;
      await save();
      if (values.json) console.log(JSON.stringify(report, null, 2));
      _fail(`Calibration of ${chips} chips failed: ${report.error}`, 3);
    }
    delete report.running;
    if (!row) {
      report.error = "The adapter cannot run the twin kernels (too few storage buffers per stage)";
      await save();
      _fail(`No usable WebGPU adapter: ${report.error}`);
    }
    report.rows.push(row);
    done.push({ chips, seconds: row.openSeconds + row.wallSeconds });
    log(
      `${chips} chips: ${row.wallSeconds.toFixed(2)} s ${
        row.stoppedAt
          ? `(stopped by the budget before ${row.stoppedAt})`
          : `(${_s(row.chipsPerSecond, 3)} chips/s)`
      }`,
    );
    await save();
  }
  report.complete = true;
  await save();
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`adapter: ${adapter.description}; algorithm ${algorithm}`);
  console.log(
    "chips  open s   wall s   chips/s  submits  dispatches  readbacks  pass s   host s  success",
  );
  for (const r of report.rows) {
    console.log(
      `${String(r.chips).padStart(5)}  ${r.openSeconds.toFixed(2).padStart(6)}  ${
        r.wallSeconds.toFixed(2).padStart(7)
      }  ${_s(r.chipsPerSecond, 3).padStart(8)}  ${String(r.submits).padStart(7)}  ${
        String(r.dispatches).padStart(10)
      }  ${String(r.readbacks).padStart(9)}  ${_s(r.passSeconds).padStart(6)}  ${
        _s(r.hostSeconds).padStart(7)
      }  ${r.successFraction === null ? "—" : `${(100 * r.successFraction).toFixed(1)} %`}${
        r.stoppedAt ? ` (stopped before ${r.stoppedAt})` : ""
      }`,
    );
    console.log(`       slowest: ${_slowest(r)}`);
  }
  for (const s of report.skipped) {
    console.log(`${String(s.chips).padStart(5)}  skipped: ${s.reason}`);
  }
}

if (import.meta.main) await _main();
