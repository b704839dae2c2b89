/**
 * Test helpers for the CLI tests: run `lifcal` as a subprocess (NO_COLOR,
 * no Slurm or Kubernetes variables from the test's own environment), list
 * an output folder, and compare per-chip results.
 *
 * @module
 */

import { join } from "node:path";

/** `cli/main.ts`. */
export const MAIN: string = new URL("../cli/main.ts", import.meta.url).pathname;

/** Environment of every subprocess: no colours, no shard variables. */
export const CLI_ENV: Record<string, string> = {
  NO_COLOR: "1",
  SLURM_ARRAY_TASK_ID: "",
  SLURM_ARRAY_TASK_COUNT: "",
  JOB_COMPLETION_INDEX: "",
  LIFCAL_SHARD_COUNT: "",
};

/** What a run of `lifcal` gave. */
export interface CliRun {
  /** Exit code. */
  readonly code: number;
  /** Standard output. */
  readonly stdout: string;
  /** Standard error. */
  readonly stderr: string;
  /** Wall time (s). */
  readonly seconds: number;
}

/** Runs `lifcal ...args` to completion (in `cwd` if given). */
export async function lifcal(
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<CliRun> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { ...CLI_ENV, ...env },
    stdin: "null",
    ...(cwd !== undefined ? { cwd } : {}),
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Every file under `dir` (relative paths, sorted); [] if `dir` does not exist. */
export async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(join(dir, prefix))) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory) out.push(...await listFiles(dir, rel));
      else out.push(rel);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
  }
  return out.sort();
}

/** A summary's chips without their wall times (which differ from run to run). */
export function chipsWithoutWall(summary: { chips: { wall_s: number }[] }): unknown[] {
  return summary.chips.map(({ wall_s: _wall, ...rest }) => rest);
}

/** Reads `dir/summary.json` (or another summary file). */
export async function readJson<T = Record<string, unknown>>(path: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(path)) as T;
}

/** Logs a CLI run's wall time for the test report. */
export function logTime(what: string, run: CliRun): void {
  console.log(`  ${what}: ${run.seconds.toFixed(1)} s (exit ${run.code})`);
}
