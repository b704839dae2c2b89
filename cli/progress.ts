/**
 * Progress of `lifcal calibrate` on stderr: on a terminal one status line
 * (chips done / total, the batch's current step, elapsed time and an
 * estimate of the time left), otherwise one line per chip, and nothing with
 * `--quiet`.
 *
 * @module
 */

import pc from "../deps/picocolors.ts";

/** How progress is shown. */
export type ProgressMode = "tty" | "lines" | "quiet";

/** What the calibration loop tells the progress display. */
export interface Progress {
  /** The run starts: chips in all, the steps a batch goes through, chips already finished. */
  begin(total: number, steps: readonly string[], skipped: readonly string[]): void;
  /** A batch starts. */
  batch(ids: readonly string[]): void;
  /** The batch enters a step. */
  step(name: string): void;
  /** A chip is finished and written. */
  chipDone(id: string, successFraction: number, wallSeconds: number): void;
  /** The run ends (clears the status line). */
  end(): void;
}

/**
 * Rough relative durations of the steps on the CPU executor, for the
 * estimate within a batch; unknown steps count 0.5.
 */
const _STEP_WEIGHTS: Readonly<Record<string, number>> = {
  "CADC": 0.05,
  "configure": 0.02,
  "tau_syn": 1.1,
  "synapse DAC bias": 0.05,
  "threshold": 1.7,
  "synaptic inputs": 2.9,
  "tau_mem": 0.65,
  "reset": 0.05,
  "leak": 0.05,
  "verification": 0.35,
  "CADC (again)": 0.05,
  "refine potentials": 1.5,
  "leak over threshold": 1.0,
  "median-code reference": 0.35,
};

/**
 * A duration for humans: `42 s`, `3 min 05 s`, `2 h 07 min`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatDuration(185), "3 min 05 s");
 * ```
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * Creates the progress display; `write` receives the text for stderr and
 * `now` gives milliseconds (both replaceable for tests).
 *
 * @example One line per chip
 * ```ts
 * import { createProgress } from "./progress.ts";
 * import assert from "node:assert/strict";
 * const out: string[] = [];
 * const p = createProgress("lines", (s) => out.push(s));
 * p.begin(2, ["leak"], ["sim-1"]);
 * p.batch(["sim-2"]);
 * p.step("leak");
 * p.chipDone("sim-2", 1, 8.2);
 * p.end();
 * assert.equal(out.length, 2);
 * assert.match(out[1]!, /sim-2 calibrated \(2\/2\)/);
 * ```
 */
export function createProgress(
  mode: ProgressMode,
  write: (text: string) => void = (text) => {
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  },
  now: () => number = () => performance.now(),
): Progress {
  let total = 0;
  let done = 0;
  let computed = 0;
  let toCompute = 0;
  let weights: number[] = [];
  let steps: readonly string[] = [];
  let batchSize = 0;
  let stepIndex = -1;
  let stepName = "";
  let start = now();
  let shown = false;

  const weightOf = (name: string) => _STEP_WEIGHTS[name] ?? 0.5;
  const render = () => {
    if (mode !== "tty") return;
    const elapsed = (now() - start) / 1000;
    const all = weights.reduce((a, b) => a + b, 0);
    const fraction = all > 0 && stepIndex >= 0
      ? weights.slice(0, stepIndex).reduce((a, b) => a + b, 0) / all
      : 0;
    const progress = computed + batchSize * fraction;
    const eta = progress > 0 && elapsed > 1
      ? `ETA ${formatDuration((elapsed / progress) * (toCompute - progress))}`
      : "ETA …";
    const what = batchSize > 0 ? ` · batch of ${batchSize}: ${stepName}` : "";
    const line = `lifcal: ${done}/${total} chips${what} · ${formatDuration(elapsed)} · ${eta}`;
    write(`\r\x1b[2K${pc.dim(line)}`);
    shown = true;
  };
  const lineOut = (text: string) => {
    if (mode === "lines") write(`${text}\n`);
  };

  return {
    begin(n, stepList, skipped) {
      total = n;
      done = skipped.length;
      toCompute = n - skipped.length;
      steps = stepList;
      weights = steps.map(weightOf);
      start = now();
      skipped.forEach((id, k) =>
        lineOut(`lifcal: ${id} skipped (${k + 1}/${total}): its result is already there`)
      );
    },
    batch(ids) {
      batchSize = ids.length;
      stepIndex = -1;
      stepName = "starting";
      render();
    },
    step(name) {
      const i = steps.indexOf(name);
      stepIndex = i >= 0 ? i : stepIndex;
      stepName = name;
      render();
    },
    chipDone(id, successFraction, wallSeconds) {
      done++;
      computed++;
      batchSize = Math.max(0, batchSize - 1);
      lineOut(
        `lifcal: ${id} calibrated (${done}/${total}): ${
          (100 * successFraction).toFixed(1)
        } % of neurons, ${wallSeconds.toFixed(1)} s`,
      );
      render();
    },
    end() {
      if (shown) write("\r\x1b[2K");
      shown = false;
    },
  };
}
