/**
 * `lifcal convergence`: calibrates the same twins once per search algorithm
 * (a fresh backend each) through the {@linkcode ConvergenceRecorder}, and
 * writes `convergence.json`, `convergence.html` and `convergence.md`: how
 * fast each algorithm's searches close in on the true parameters, per
 * measurement and per second of emulated hardware time, and where each
 * calibration ends. Everything the user gave is checked before anything is
 * written; the three files are written atomically at the end.
 *
 * @module
 */

import { join } from "node:path";
import { InvalidArgumentError } from "../deps/commander.ts";
import pc from "../deps/picocolors.ts";
import type { Backend } from "../backends/backend.ts";
import { calibrate, calibrationSteps, stepPlan } from "../calib/calibrate.ts";
import { CALIB_ALGORITHMS, type CalibAlgorithm, resolveTarget } from "../calib/target.ts";
import { VERSION } from "../version.ts";
import type { Assignment } from "./args.ts";
import { resolveChips } from "./chip_source.ts";
import {
  type AlgorithmRun,
  algorithmRun,
  CONVERGENCE_DEFINITIONS,
  CONVERGENCE_FORMAT,
  type ConvergenceDocument,
  convergenceToJson,
} from "./convergence_data.ts";
import { renderConvergenceHtml } from "./convergence_html.ts";
import { renderConvergenceMarkdown } from "./convergence_md.ts";
import { ConvergenceRecorder } from "./convergence_recorder.ts";
import { comparisonText } from "./convergence_table.ts";
import { ensureWritableDir, writeAtomic } from "./files.ts";
import { HARDWARE_TIME_MODEL } from "./hardware_time.ts";
import { measureAtMedianCodes } from "./median_code_reference.ts";
import { createProgress } from "./progress.ts";
import { loadTargetInput } from "./target_input.ts";
import { UsageError } from "./usage_error.ts";

/** The executors `lifcal convergence` runs on (twins only: the recorder needs `truth()`). */
export const CONVERGENCE_BACKENDS = ["auto", "cpu", "webgpu"] as const;

/** The default number of chips (`--chips`). */
export const DEFAULT_CONVERGENCE_CHIPS = 32;

/** The default algorithms (`--algorithms`): calix's NoisyBinarySearch against lifcal's secant search. */
export const DEFAULT_ALGORITHMS: readonly CalibAlgorithm[] = ["noisy-binary", "secant"];

/** The default output folder (`--out`). */
export const DEFAULT_CONVERGENCE_OUT = "./lifcal-convergence";

/** The flags of `lifcal convergence`, parsed. */
export interface ConvergenceFlags {
  /** `--chips N`. */
  readonly chips?: number | undefined;
  /** `--seeds L`. */
  readonly seeds?: readonly number[] | undefined;
  /** `--backend`. */
  readonly backend: (typeof CONVERGENCE_BACKENDS)[number];
  /** `--target FILE.json`. */
  readonly target?: string | undefined;
  /** `--set field=value`, in order. */
  readonly set: readonly Assignment[];
  /** False with `--no-refine`. */
  readonly refine: boolean;
  /** `--algorithms a,b`. */
  readonly algorithms: readonly string[];
  /** `--out DIR`. */
  readonly out: string;
  /** `--quiet`. */
  readonly quiet: boolean;
}

/**
 * Parses `--algorithms noisy-binary,secant`: names of the calibration's
 * `algorithm` option ({@linkcode CALIB_ALGORITHMS}), at least one, none
 * twice. Throws commander's `InvalidArgumentError` (exit 2).
 *
 * @example
 * ```ts
 * import { parseAlgorithms } from "./convergence_command.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseAlgorithms("noisy-binary, binary"), ["noisy-binary", "binary"]);
 * assert.throws(() => parseAlgorithms(""), /at least one/);
 * assert.throws(() => parseAlgorithms("bisect"), /Unknown algorithm "bisect"/);
 * assert.throws(() => parseAlgorithms("binary,binary"), /twice/);
 * ```
 */
export function parseAlgorithms(text: string): CalibAlgorithm[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) {
    throw new InvalidArgumentError(
      `Expected at least one algorithm of ${CALIB_ALGORITHMS.join(", ")}, got "${text}"`,
    );
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (!(CALIB_ALGORITHMS as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(
        `Unknown algorithm "${n}"; the calibration knows ${CALIB_ALGORITHMS.join(", ")}`,
      );
    }
    if (seen.has(n)) throw new InvalidArgumentError(`Algorithm ${n} is listed twice`);
    seen.add(n);
  }
  return names as CalibAlgorithm[];
}

function _message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `lifcal convergence` with parsed flags and returns the exit code: 0
 * done, 3 a runtime failure (nothing written). Usage and input errors
 * throw a {@linkcode UsageError} before anything is written.
 *
 * @example
 * ```ts ignore
 * import { convergenceCommand } from "./convergence_command.ts";
 * const code = await convergenceCommand({ chips: 2, backend: "cpu", set: [], refine: true,
 *   algorithms: ["noisy-binary", "binary"], out: "./lifcal-convergence", quiet: true });
 * ```
 */
export async function convergenceCommand(
  f: ConvergenceFlags,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
  stderrIsTerminal: boolean = Deno.stderr.isTerminal(),
): Promise<number> {
  const algorithms = _algorithms(f.algorithms);
  const input = await loadTargetInput(f.target, f.set, f.refine);
  if (input.options.algorithm !== undefined) {
    throw new UsageError(
      "The algorithm option is chosen by --algorithms in lifcal convergence, not by --set or --target",
    );
  }
  const source = await resolveChips(
    { backend: f.backend, chips: f.chips, seeds: f.seeds },
    env,
    DEFAULT_CONVERGENCE_CHIPS,
  );
  const ids = source.ids;
  const notices: string[] = [];
  const open = () => source.open(ids, (m) => notices.push(m));
  let first: Backend;
  try {
    first = await open();
  } catch (e) {
    throw new UsageError(`Cannot open the ${f.backend} backend: ${_message(e)}`);
  }
  if (!first.truth) {
    await first.close();
    throw new UsageError(`${first.info.description} has no truth(); convergence needs twins`);
  }
  try {
    await ensureWritableDir(f.out);
  } catch (e) {
    await first.close();
    throw e;
  }
  const info = first.info;
  const progress = createProgress(f.quiet ? "quiet" : stderrIsTerminal ? "tty" : "lines");
  const notify = () => {
    if (!f.quiet) { for (const n of notices.splice(0)) console.error(pc.yellow(n)); }
  };
  notify();
  const { canonicalTarget, canonicalOptions } = input;
  const { algorithm: _algorithm, ...options } = canonicalOptions;
  const resolved = resolveTarget(canonicalTarget).target;
  const steps = [
    ...calibrationSteps(stepPlan(canonicalTarget, canonicalOptions)),
    "median-code reference",
  ];
  const date = new Date().toISOString();
  progress.begin(ids.length * algorithms.length, steps, []);
  const runs: AlgorithmRun[] = [];
  for (const [k, algorithm] of algorithms.entries()) {
    let backend: Backend | undefined;
    try {
      backend = k === 0 ? first : await open();
      notify();
      progress.batch(ids);
      const recorder = new ConvergenceRecorder(backend);
      const t0 = performance.now();
      const results = await calibrate(recorder, canonicalTarget, {
        ...canonicalOptions,
        algorithm,
        onStep: (name) => {
          recorder.enterStep(name);
          progress.step(name);
        },
      });
      const wallSeconds = (performance.now() - t0) / 1000;
      const recording = recorder.recording();
      const truth = await backend.truth!();
      progress.step("median-code reference");
      const medianCode = await measureAtMedianCodes(backend, results);
      runs.push(algorithmRun({
        algorithm,
        recording,
        results,
        truth,
        target: resolved,
        medianCode,
        wallSeconds,
      }));
      for (const r of results) {
        progress.chipDone(
          `${r.chipId} (${algorithm})`,
          r.success.filter((s) => s).length / r.success.length,
          wallSeconds / results.length,
        );
      }
    } catch (e) {
      progress.end();
      console.error(
        pc.red(`lifcal: the ${algorithm} calibration failed: ${_message(e)}; nothing written`),
      );
      return 3;
    } finally {
      await backend?.close().catch(() => {});
    }
  }
  progress.end();
  const doc: ConvergenceDocument = {
    kind: "lifcal-convergence",
    format: CONVERGENCE_FORMAT,
    lifcal_version: VERSION,
    date,
    machine: {
      deno: Deno.version.deno,
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
    },
    backend: { kind: info.kind, description: info.description, adapter: info.adapter ?? null },
    chips: ids,
    target: canonicalTarget,
    options,
    hardware_time_model: HARDWARE_TIME_MODEL,
    definitions: CONVERGENCE_DEFINITIONS,
    algorithms: runs,
  };
  await writeAtomic(join(f.out, "convergence.json"), convergenceToJson(doc));
  await writeAtomic(join(f.out, "convergence.html"), renderConvergenceHtml(doc));
  await writeAtomic(join(f.out, "convergence.md"), renderConvergenceMarkdown(doc));
  if (!f.quiet) {
    console.log(pc.bold(`${info.description}: ${algorithms.join(" vs ")}, medians over chips`));
    console.log(comparisonText(doc));
    console.log(
      pc.dim(
        `wrote ${join(f.out, "convergence.json")}, convergence.html, convergence.md`,
      ),
    );
  }
  return 0;
}

/** The algorithm list of flags given programmatically, checked like `--algorithms`. */
function _algorithms(names: readonly string[]): CalibAlgorithm[] {
  try {
    return parseAlgorithms(names.join(","));
  } catch (e) {
    throw new UsageError(`--algorithms: ${_message(e)}`);
  }
}
