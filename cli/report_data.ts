/**
 * What the reports show, computed from the finished chips' files: how each
 * parameter is displayed, calix's acceptance limits, the convergence of the
 * searches across chips, the wall time per calibration step, and the
 * warnings grouped by text.
 *
 * @module
 */

import { parseRates } from "../calib/units.ts";
import type { ChipFiles } from "./chip_record.ts";
import { SUMMARY_PARAMETERS, type SummaryParameter } from "./median_code_reference.ts";
import type { SummaryTarget } from "./summary.ts";
import { formatNumber } from "./svg.ts";

/** How a parameter is displayed: its name, unit and the factor from SI. */
export const PARAMETER_DISPLAY: Readonly<
  Record<
    SummaryParameter,
    { readonly label: string; readonly unit: string; readonly scale: number }
  >
> = {
  leak: { label: "Leak potential", unit: "CADC LSB", scale: 1 },
  reset: { label: "Reset potential", unit: "CADC LSB", scale: 1 },
  threshold: { label: "Threshold potential", unit: "CADC LSB", scale: 1 },
  tau_mem: { label: "Membrane time constant τ_mem", unit: "µs", scale: 1e6 },
  tau_syn_exc: { label: "Excitatory synaptic time constant τ_syn,exc", unit: "µs", scale: 1e6 },
  tau_syn_inh: { label: "Inhibitory synaptic time constant τ_syn,inh", unit: "µs", scale: 1e6 },
};

/** A row of the summary's tables: a parameter, or the leak-over-threshold rate. */
export type SummaryRow = SummaryParameter | "rate";

/**
 * The rows a summary's tables show, in order: the parameters, with `rate`
 * in place of `threshold` where a leak-over-threshold rate was calibrated
 * (the threshold's CADC target no longer describes the chips).
 *
 * @example
 * ```ts
 * import { summaryRows } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * assert.equal(summaryRows({ leak: 110 })[2], "threshold");
 * assert.equal(summaryRows({ leak: 110, leak_over_threshold: "100000 Hz" })[2], "rate");
 * ```
 */
export function summaryRows(target: SummaryTarget): SummaryRow[] {
  return SUMMARY_PARAMETERS.map((p) =>
    p === "threshold" && target.leak_over_threshold !== undefined ? "rate" : p
  );
}

/**
 * A rate for people, in Hz, kHz, MHz or GHz.
 *
 * @example
 * ```ts
 * import { formatHertz } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatHertz(100e3), "100 kHz");
 * assert.equal(formatHertz(1e9), "1 GHz");
 * assert.equal(formatHertz(null), "–");
 * ```
 */
export function formatHertz(hertz: number | null): string {
  if (hertz === null || !Number.isFinite(hertz)) return "–";
  const [scale, unit] =
    ([[1e9, "GHz"], [1e6, "MHz"], [1e3, "kHz"]] as const).find(([f]) => Math.abs(hertz) >= f) ??
      [1, "Hz"];
  return `${formatNumber(hertz / scale, 4)} ${unit}`;
}

/**
 * A summary target's leak-over-threshold rate for people (`100 kHz`; a
 * per-neuron rate as its range), or undefined without one.
 *
 * @example
 * ```ts
 * import { targetRateText } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * assert.equal(targetRateText({ leak_over_threshold: "100000 Hz" }), "100 kHz");
 * assert.equal(targetRateText({}), undefined);
 * ```
 */
export function targetRateText(target: SummaryTarget): string | undefined {
  const rate = target.leak_over_threshold;
  if (rate === undefined) return undefined;
  const parsed = parseRates(rate, "leak_over_threshold");
  if (typeof parsed === "number") return formatHertz(parsed);
  const set = [...parsed].filter((r) => r > 0);
  return `${formatHertz(Math.min(...set))} to ${formatHertz(Math.max(...set))} per neuron`;
}

/**
 * The largest spread ratios calix's hardware acceptance test accepts
 * (calix `tests/hw/py/test_neuron_distribution.py`); the reports mark the
 * chips above them.
 */
export const CALIX_RATIO_LIMITS: Readonly<Record<SummaryParameter, number>> = {
  leak: 0.3,
  reset: 0.2,
  threshold: 0.35,
  tau_mem: 0.45,
  tau_syn_exc: 0.2,
  tau_syn_inh: 0.2,
};

/** The n-th search of one field, aggregated over chips. */
export interface ConvergenceLine {
  /** 1-based occurrence of the field among the chip's searches. */
  readonly occurrence: number;
  /** The measurement kind. */
  readonly measurement: string;
  /** Chips that ran it. */
  readonly chips: number;
  /** Median over chips of the per-chip median |error| after each step. */
  readonly median_abs_error: (number | null)[];
}

/** Every search of one field. */
export interface ConvergenceGroup {
  /** The searched field. */
  readonly field: string;
  /** The unit of the errors. */
  readonly unit: string;
  /** One line per occurrence. */
  readonly lines: ConvergenceLine[];
}

function _median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = values.sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : 0.5 * (s[h - 1]! + s[h]!);
}

/**
 * The searches of all chips grouped by field (in the order the fields were
 * first searched) and by occurrence, each step's error the median over chips.
 *
 * @example
 * ```ts
 * import { convergenceGroups } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * const chip = (e: number) => ({ record: { searches: [
 *   { field: "v_leak", measurement: "resting-potential", unit: "CADC LSB", median_abs_error: [e, 1] },
 * ] } });
 * const g = convergenceGroups([chip(10), chip(20), chip(30)] as never);
 * assert.deepEqual(g[0]!.lines[0]!.median_abs_error, [20, 1]);
 * ```
 */
export function convergenceGroups(chips: readonly ChipFiles[]): ConvergenceGroup[] {
  const groups = new Map<
    string,
    { unit: string; lines: Map<number, { measurement: string; steps: number[][]; chips: number }> }
  >();
  for (const chip of chips) {
    const seen = new Map<string, number>();
    for (const s of chip.record.searches) {
      const occurrence = (seen.get(s.field) ?? 0) + 1;
      seen.set(s.field, occurrence);
      let g = groups.get(s.field);
      if (!g) groups.set(s.field, g = { unit: s.unit, lines: new Map() });
      let line = g.lines.get(occurrence);
      if (!line) {
        g.lines.set(occurrence, line = { measurement: s.measurement, steps: [], chips: 0 });
      }
      line.chips++;
      s.median_abs_error.forEach((e, i) => {
        if (e !== null && Number.isFinite(e)) (line.steps[i] ??= []).push(e);
      });
    }
  }
  return [...groups].map(([field, g]) => ({
    field,
    unit: g.unit,
    lines: [...g.lines].map(([occurrence, l]) => ({
      occurrence,
      measurement: l.measurement,
      chips: l.chips,
      median_abs_error: Array.from({ length: l.steps.length }, (_, i) => _median(l.steps[i] ?? [])),
    })),
  }));
}

/**
 * Wall time per calibration step, summed over the distinct batches, in the
 * order the steps ran.
 *
 * @example
 * ```ts
 * import { stepTimes } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * const rec = (batch: string[]) => ({ record: { batch, steps: [{ name: "leak", seconds: 2 }] } });
 * const t = stepTimes([rec(["a", "b"]), rec(["a", "b"]), rec(["c"])] as never);
 * assert.deepEqual(t, [{ name: "leak", seconds: 4, batches: 2 }]);
 * ```
 */
export function stepTimes(
  chips: readonly ChipFiles[],
): { name: string; seconds: number; batches: number }[] {
  const seen = new Set<string>();
  const out = new Map<string, { seconds: number; batches: number }>();
  for (const chip of chips) {
    const key = chip.record.batch.join("\n");
    if (seen.has(key)) continue;
    seen.add(key);
    for (const s of chip.record.steps) {
      const t = out.get(s.name) ?? { seconds: 0, batches: 0 };
      t.seconds += s.seconds;
      t.batches++;
      out.set(s.name, t);
    }
  }
  return [...out].map(([name, t]) => ({ name, ...t }));
}

/**
 * The chips' warnings grouped by text, in the order they first appear.
 *
 * @example
 * ```ts
 * import { groupedWarnings } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * const chip = (id: string, w: string[]) => ({ result: { chipId: id, warnings: w } });
 * assert.deepEqual(groupedWarnings([chip("a", ["x"]), chip("b", ["x", "y"])] as never),
 *   [{ text: "x", chips: ["a", "b"] }, { text: "y", chips: ["b"] }]);
 * ```
 */
export function groupedWarnings(chips: readonly ChipFiles[]): { text: string; chips: string[] }[] {
  const out = new Map<string, string[]>();
  for (const chip of chips) {
    for (const w of new Set(chip.result.warnings)) {
      const ids = out.get(w) ?? [];
      ids.push(chip.result.chipId);
      out.set(w, ids);
    }
  }
  return [...out].map(([text, ids]) => ({ text, chips: ids }));
}

/**
 * A list of chip ids, shortened after `max` entries.
 *
 * @example
 * ```ts
 * import { listChips } from "./report_data.ts";
 * import assert from "node:assert/strict";
 * assert.equal(listChips(["a", "b", "c"], 2), "a, b and 1 more");
 * ```
 */
export function listChips(ids: readonly string[], max = 12): string {
  return ids.length <= max
    ? ids.join(", ")
    : `${ids.slice(0, max).join(", ")} and ${ids.length - max} more`;
}
