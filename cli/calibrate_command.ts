/**
 * `lifcal calibrate`: calibrates a list of chips batch by batch (one backend
 * batch of `--batch-size` chips in lock-step at a time), writing each chip's
 * result and run record atomically as its batch finishes, then the summary
 * and the reports. Everything the user gave is validated — flags, target,
 * shard, backend, output folder — before the first file is written.
 *
 * @module
 */

import { join } from "node:path";
import pc from "../deps/picocolors.ts";
import type { Backend } from "../backends/backend.ts";
import { calibrate, calibrationSteps, stepPlan } from "../calib/calibrate.ts";
import { calibrateLeakOverThreshold } from "../calib/leak_over_threshold.ts";
import { type NeuronCalibResult, resultToJson } from "../calib/result.ts";
import { formatRate, parseRate } from "../calib/units.ts";
import { VERSION } from "../version.ts";
import type { Assignment } from "./args.ts";
import { type ChipFlags, type ChipSource, resolveChips } from "./chip_source.ts";
import { type ChipFiles, chipPaths, loadChip, makeChipRecord } from "./chip_record.ts";
import { tracingBackend } from "./convergence.ts";
import { checkOutputFolder, ensureWritableDir, removeStaleTemps, writeAtomic } from "./files.ts";
import { measureAtMedianCodes, SUMMARY_PARAMETERS } from "./median_code_reference.ts";
import { createProgress, type Progress } from "./progress.ts";
import { writeReports } from "./report.ts";
import { formatHertz, summaryRows, targetRateText } from "./report_data.ts";
import { resolveAutoShard, type Shard, shardChips, shardSummaryName } from "./shard.ts";
import { buildSummary, type ShardSummary, type Summary, summaryToJson } from "./summary.ts";
import { formatNumber } from "./svg.ts";
import { loadTargetInput, type TargetInput } from "./target_input.ts";
import { asUsageError, oneLine, UsageError } from "./usage_error.ts";

export { BACKEND_KINDS, type BackendKind } from "./chip_source.ts";

/** The flags of `lifcal calibrate`, parsed (chips and backend: {@linkcode ChipFlags}). */
export interface CalibrateFlags extends ChipFlags {
  /** `--target FILE.json`. */
  readonly target?: string | undefined;
  /** `--set field=value`, in order. */
  readonly set: readonly Assignment[];
  /** `--leak-over-threshold RATE`. */
  readonly leakOverThreshold?: string | undefined;
  /** False with `--no-refine`. */
  readonly refine: boolean;
  /** `--batch-size K`. */
  readonly batchSize: number;
  /** `--out DIR`. */
  readonly out: string;
  /** `--resume`. */
  readonly resume: boolean;
  /** `--shard i/n` or `auto`. */
  readonly shard?: Shard | "auto" | undefined;
  /** `--shard-count N` (for `--shard auto` with `JOB_COMPLETION_INDEX`). */
  readonly shardCount?: number | undefined;
  /** `--json`. */
  readonly json: boolean;
  /** `--quiet`. */
  readonly quiet: boolean;
  /** `--min-success`. */
  readonly minSuccess: number;
}

/** The default number of chips (`--chips`). */
export const DEFAULT_CHIPS = 8;

/** The default batch size (`--batch-size`). */
export const DEFAULT_BATCH_SIZE = 8;

/** Everything a run needs, validated. */
interface _Plan {
  readonly source: ChipSource;
  readonly shard: Shard | undefined;
  readonly mine: readonly string[];
  readonly input: TargetInput;
  readonly rate: number | undefined;
  readonly skipped: ReadonlyMap<string, ChipFiles>;
  readonly notes: readonly string[];
}

function _plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function _message(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

async function _plan(f: CalibrateFlags, env: Readonly<Record<string, string | undefined>>) {
  if (f.shardCount !== undefined && f.shard !== "auto") {
    throw new UsageError("--shard-count is only used with --shard auto");
  }
  const shard = f.shard === "auto" ? resolveAutoShard(env, f.shardCount) : f.shard;
  await checkOutputFolder(f.out, "--out");
  const input = await loadTargetInput(f.target, f.set, f.refine);
  let rate: number | undefined;
  if (f.leakOverThreshold !== undefined) {
    rate = asUsageError(
      "--leak-over-threshold",
      () => parseRate(f.leakOverThreshold, "the leak-over-threshold rate"),
    );
    if (!(rate > 0)) {
      throw new UsageError(
        `--leak-over-threshold must be a positive rate, got ${f.leakOverThreshold}`,
      );
    }
  }
  // The chips last: a remote host is asked for its chips only once the rest is valid.
  const source = await resolveChips(f, env, DEFAULT_CHIPS);
  const mine = shard ? shardChips(source.ids, shard) : [...source.ids];
  const skipped = new Map<string, ChipFiles>();
  const notes: string[] = [];
  if (f.resume) {
    for (const id of mine) {
      const loaded = await loadChip(f.out, id);
      if (!loaded.ok) {
        if (!loaded.missing) notes.push(`${id}: recomputed (${loaded.reason})`);
        continue;
      }
      const why = _mismatch(loaded.chip, input, rate);
      if (why) notes.push(`${id}: recomputed (${why})`);
      else skipped.set(id, loaded.chip);
    }
  }
  return { source, shard, mine, input, rate, skipped, notes } satisfies _Plan;
}

/** Why a finished chip does not belong to this run, or undefined if it does. */
function _mismatch(
  chip: ChipFiles,
  input: TargetInput,
  rate: number | undefined,
): string | undefined {
  const { result, record } = chip;
  if (result.lifcal_version !== VERSION || record.lifcal_version !== VERSION) {
    return `written by lifcal ${result.lifcal_version}, this is ${VERSION}`;
  }
  if (JSON.stringify(result.target) !== JSON.stringify(input.canonicalTarget)) {
    return "its result has another target";
  }
  if (JSON.stringify(result.options) !== JSON.stringify(input.canonicalOptions)) {
    return "its result has other options";
  }
  const had = record.leak_over_threshold === null
    ? undefined
    : parseRate(record.leak_over_threshold, "leak_over_threshold");
  if (had !== rate) return "its leak-over-threshold rate differs";
  return undefined;
}

/** The steps of a run as progress shows them: the calibration's own, then the CLI's. */
function _steps(input: TargetInput, rate: number | undefined): string[] {
  return [
    ...calibrationSteps(stepPlan(input.canonicalTarget, input.canonicalOptions)),
    "median-code reference",
    ...(rate !== undefined ? ["leak over threshold"] : []),
  ];
}

/** Calibrates one batch and writes its chips; returns their files. */
async function _runBatch(
  inner: Backend,
  f: CalibrateFlags,
  plan: _Plan,
  progress: Progress,
  warn: (message: string) => void,
): Promise<ChipFiles[]> {
  const t0 = performance.now();
  const marks: { name: string; t: number }[] = [];
  const onStep = (name: string) => {
    marks.push({ name, t: performance.now() });
    progress.step(name);
  };
  const { backend, traces } = tracingBackend(inner);
  const results: NeuronCalibResult[] = await calibrate(backend, plan.input.canonicalTarget, {
    ...plan.input.canonicalOptions,
    onStep,
  });
  onStep("median-code reference");
  const reference = await measureAtMedianCodes(inner, results);
  if (plan.rate !== undefined) {
    onStep("leak over threshold");
    const before = results.map((r) => r.warnings.length);
    await calibrateLeakOverThreshold(backend, results, f.leakOverThreshold);
    // Its warnings say which neurons cannot reach the rate: success does not (as in calix).
    results.forEach((r, c) => {
      for (const w of r.warnings.slice(before[c])) warn(`${r.chipId}: ${w}`);
    });
  }
  const t1 = performance.now();
  const steps = marks.map((m, i) => ({
    name: m.name,
    seconds: ((marks[i + 1]?.t ?? t1) - m.t) / 1000,
  }));
  const batch = inner.chips.map((c) => c.id);
  const wall = (t1 - t0) / 1000 / inner.chips.length;
  const files: ChipFiles[] = [];
  for (const [c, result] of results.entries()) {
    const chip = inner.chips[c]!;
    const record = makeChipRecord({
      chipId: chip.id,
      seed: chip.seed ?? null,
      backend: { kind: inner.info.kind, adapter: inner.info.adapter ?? null },
      batch,
      wall_s: wall,
      leak_over_threshold: f.leakOverThreshold ?? null,
      median_code: Object.fromEntries(
        SUMMARY_PARAMETERS.map((p) => [p, reference[p][c]!]),
      ) as Record<(typeof SUMMARY_PARAMETERS)[number], (number | null)[]>,
      searches: traces[c]!,
      steps,
    });
    const paths = chipPaths(f.out, chip.id);
    // The record first: a chip counts as finished once its result is there.
    await writeAtomic(paths.record, JSON.stringify(record, null, 1) + "\n");
    await writeAtomic(paths.result, resultToJson(result));
    files.push({ result, record });
  }
  return files;
}

function _percent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)} %`;
}

function _table(summary: Summary): string {
  const rows = summaryRows(summary.target);
  const head = [
    "chip".padEnd(12),
    "success".padStart(9),
    ...rows.map((
      p,
    ) => (p === "rate" ? "rate".padStart(12) + "±10 %".padStart(12) : p.padStart(12))),
  ].join("");
  const lines = summary.chips.map((c) =>
    [
      c.id.padEnd(12),
      _percent(c.success_fraction).padStart(9),
      ...rows.map((p) => {
        if (p !== "rate") return formatNumber(c.params[p]?.ratio).padStart(12);
        const r = c.params.rate;
        return formatHertz(r?.measured_median ?? null).padStart(12) +
          (r ? _percent(r.within_10_percent) : "–").padStart(12);
      }),
    ].join("")
  );
  const rate = targetRateText(summary.target);
  const title = rate === undefined
    ? "spread ratio calibrated / median code, per chip"
    : `spread ratio calibrated / median code, per chip; leak over threshold at ${rate}: median rate and neurons within ±10 % (instead of the threshold)`;
  const bound = summary.chips.filter((c) => (c.params.rate?.at_range_bound ?? 0) > 0).map((c) =>
    `${c.id}: ${
      _plural(c.params.rate!.at_range_bound, "neuron")
    } ended the threshold search on a range bound: ${rate} is out of their reach`
  );
  return [pc.bold(title), head, ...lines, ...bound.map((b) => pc.yellow(b))].join("\n");
}

/**
 * Runs `lifcal calibrate` with parsed flags and returns the exit code: 0
 * done, 1 some chip below `--min-success`, 3 a runtime failure (finished
 * chips stay written). Usage and input errors throw a
 * {@linkcode UsageError} before anything is written.
 *
 * @example
 * ```ts ignore
 * import { calibrateCommand } from "./calibrate_command.ts";
 * const code = await calibrateCommand({ chips: 1, backend: "cpu", set: [], refine: false,
 *   batchSize: 1, out: "./lifcal-out", resume: false, json: false, quiet: true, minSuccess: 0.95 });
 * ```
 */
export async function calibrateCommand(
  f: CalibrateFlags,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
  stderrIsTerminal: boolean = Deno.stderr.isTerminal(),
): Promise<number> {
  const plan = await _plan(f, env);
  const todo = plan.mine.filter((id) => !plan.skipped.has(id));
  const batches: string[][] = [];
  for (let i = 0; i < todo.length; i += f.batchSize) batches.push(todo.slice(i, i + f.batchSize));

  // The backend is opened (and so validated) before anything is written.
  let first: Backend;
  const notices: string[] = [];
  const open = (ids: readonly string[]) => plan.source.open(ids, (m) => notices.push(m));
  try {
    first = await open(batches[0] ?? [plan.mine[0] ?? plan.source.ids[0]!]);
  } catch (e) {
    // A remote host that went away or refuses now is a runtime failure (exit 3).
    if (f.backend === "remote") throw e;
    throw new UsageError(`Cannot open the ${f.backend} backend: ${_message(e)}`);
  }
  const info = { kind: first.info.kind, adapter: first.info.adapter ?? null };
  try {
    await ensureWritableDir(f.out);
  } catch (e) {
    await first.close();
    throw e;
  }
  if (batches.length === 0) await first.close();

  const progress = createProgress(f.quiet ? "quiet" : stderrIsTerminal ? "tty" : "lines");
  const notify = () => {
    if (!f.quiet) { for (const n of notices.splice(0)) console.error(pc.yellow(n)); }
  };
  notify();
  if (!f.quiet) { for (const n of plan.notes) console.error(pc.yellow(`lifcal: ${n}`)); }
  for (const id of todo) {
    const paths = chipPaths(f.out, id);
    await removeStaleTemps(paths.result);
    await removeStaleTemps(paths.record);
  }
  progress.begin(
    plan.mine.length,
    _steps(plan.input, plan.rate),
    plan.mine.filter((id) => plan.skipped.has(id)),
  );
  const finished = new Map(plan.skipped);
  const warnings: string[] = [];
  for (const [k, ids] of batches.entries()) {
    let backend: Backend | undefined;
    try {
      backend = k === 0 ? first : await open(ids);
      notify();
      progress.batch(ids);
      const files = await _runBatch(backend, f, plan, progress, (w) => warnings.push(w));
      files.forEach((file, c) => {
        finished.set(ids[c]!, file);
        progress.chipDone(
          file.result.chipId,
          file.result.success.filter((s) => s).length / file.result.success.length,
          file.record.wall_s,
        );
      });
    } catch (e) {
      progress.end();
      console.error(
        pc.red(
          `lifcal: calibration of ${ids.join(", ")} failed: ${
            _message(e)
          }; finished chips stay in ${join(f.out, "chips")} (${
            _plural(finished.size - plan.skipped.size, "chip")
          } in this run; rerun with --resume to continue)`,
        ),
      );
      return 3;
    } finally {
      await backend?.close().catch(() => {});
    }
  }
  progress.end();
  if (!f.quiet) { for (const w of warnings) console.error(pc.yellow(`lifcal: ${w}`)); }

  const chips = plan.mine.map((id) => finished.get(id)!);
  const target = plan.rate === undefined
    ? plan.input.canonicalTarget
    : { ...plan.input.canonicalTarget, leak_over_threshold: formatRate(plan.rate) };
  const summary = buildSummary(chips, target, info);
  let written: Summary = summary;
  if (plan.shard) {
    const shardSummary: ShardSummary = {
      ...summary,
      shard: plan.shard,
      plan: { chips: plan.source.ids },
    };
    written = shardSummary;
    await writeAtomic(join(f.out, shardSummaryName(plan.shard)), summaryToJson(shardSummary));
  } else {
    await writeAtomic(join(f.out, "summary.json"), summaryToJson(summary));
    await writeReports(f.out, summary, chips);
  }
  if (f.json) console.log(summaryToJson(written).trimEnd());
  else if (!f.quiet) {
    console.log(_table(summary));
    console.log(
      pc.dim(
        `${summary.totals.chips} chip${summary.totals.chips === 1 ? "" : "s"} in ${
          summary.totals.wall_s.toFixed(1)
        } s; wrote ${
          plan.shard
            ? join(f.out, shardSummaryName(plan.shard))
            : `${join(f.out, "summary.json")}, report.html, report.md`
        }`,
      ),
    );
  }
  const low = summary.chips.filter((c) => c.success_fraction < f.minSuccess);
  if (low.length > 0) {
    // Printed with --quiet too: it explains the exit code.
    console.error(
      pc.red(
        `lifcal: ${_plural(low.length, "chip")} below --min-success ${f.minSuccess}: ${
          low.map((c) => `${c.id} (${(100 * c.success_fraction).toFixed(1)} %)`).join(", ")
        }`,
      ),
    );
    return 1;
  }
  return 0;
}
