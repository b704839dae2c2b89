/**
 * `report.md`: the report as Markdown tables for terminals and code review —
 * per chip the success and spread ratios, per parameter the pooled numbers,
 * the wall time per step and the warnings. After a leak-over-threshold
 * calibration a `rate` row (median measured rate, spread, neurons within
 * ±10 % of the target, neurons at a range bound) replaces the threshold's.
 *
 * @module
 */

import type { ChipFiles } from "./chip_record.ts";
import {
  CALIX_RATIO_LIMITS,
  groupedWarnings,
  listChips,
  PARAMETER_DISPLAY,
  stepTimes,
  summaryRows,
  targetRateText,
} from "./report_data.ts";
import type { Summary } from "./summary.ts";
import { formatNumber as fmt } from "./svg.ts";

function _median(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) =>
    a - b
  );
  return v.length === 0 ? null : v[v.length >> 1]!;
}

/**
 * Renders the Markdown report (no clock in it: rebuilt from the same files,
 * it is the same).
 *
 * @example
 * ```ts
 * import { renderMarkdownReport } from "./report_md.ts";
 * import { buildSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const md = renderMarkdownReport(buildSummary([], {}, { kind: "cpu", adapter: null }), []);
 * assert.match(md, /^# lifcal calibration report/);
 * ```
 */
export function renderMarkdownReport(summary: Summary, chips: readonly ChipFiles[]): string {
  const lines: string[] = [
    "# lifcal calibration report",
    "",
    `lifcal ${summary.lifcal_version}, backend ${summary.backend.kind}${
      summary.backend.adapter ? ` (${summary.backend.adapter})` : ""
    }, ${summary.totals.chips} chips (${summary.totals.neurons} neurons), wall time ${
      summary.totals.wall_s.toFixed(1)
    } s summed over chips.`,
    "",
    "Target: `" + JSON.stringify(summary.target) + "`",
    "",
    "## Parameters",
    "",
    "Medians over chips. Potentials in CADC LSB, times in µs. Spreads are 5 %-trimmed standard",
    "deviations over a chip's neurons; *uncalibrated* is every neuron at the chip's median code",
    "(calix's acceptance reference); ratio = calibrated / uncalibrated spread.",
    "",
    "| parameter | target | calibrated mean | calibrated spread | uncalibrated spread | ratio | calix limit | chips at or above |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const rows = summaryRows(summary.target);
  const rate = targetRateText(summary.target);
  for (const p of rows) {
    if (p === "rate") {
      const kHz = (
        pick: (r: NonNullable<Summary["chips"][number]["params"]["rate"]>) => number | null,
      ) => {
        const m = _median(summary.chips.map((c) => (c.params.rate ? pick(c.params.rate) : null)));
        return fmt(m === null ? null : m / 1e3);
      };
      const within = _median(summary.chips.map((c) => c.params.rate?.within_10_percent ?? null));
      lines.push(
        `| rate (kHz, median) | ${kHz((r) => r.target_mean)} | ${kHz((r) => r.measured_median)} | ${
          kHz((r) => r.measured_std)
        } | – | – | ${within === null ? "–" : (100 * within).toFixed(1)} % within ±10 % | ${
          summary.chips.filter((c) => (c.params.rate?.at_range_bound ?? 0) > 0).length
        } with neurons at a range bound |`,
      );
      continue;
    }
    const { scale } = PARAMETER_DISPLAY[p];
    const col = (pick: (c: Summary["chips"][number]) => number | null, s = scale) => {
      const m = _median(summary.chips.map(pick));
      return fmt(m === null ? null : m * s);
    };
    const over = summary.chips.filter((c) => !(c.params[p]!.ratio! < CALIX_RATIO_LIMITS[p]))
      .length;
    lines.push(
      `| ${p} | ${col((c) => c.params[p]?.target_mean ?? null)} | ${
        col((c) => c.params[p]?.measured_mean ?? null)
      } | ${col((c) => c.params[p]?.measured_std ?? null)} | ${
        col((c) => c.params[p]?.uncalibrated_std ?? null)
      } | ${col((c) => c.params[p]?.ratio ?? null, 1)} | ${CALIX_RATIO_LIMITS[p]} | ${over} |`,
    );
  }
  if (rate !== undefined) {
    lines.push(
      "",
      `Leak over threshold: after the calibration each neuron's threshold was set so that it fires at ${rate}`,
      "without input (calix's `calibrate_leak_over_threshold`), so the rate row replaces the threshold's,",
      "whose CADC target no longer describes the chips. Rates measured over 1.5 ms (or the calibration",
      "window if longer); neurons at a range bound cannot reach the rate (see the warnings).",
    );
  }
  const columns = rows.flatMap((p) =>
    p === "rate" ? ["rate (kHz)", "±10 %", "at a range bound"] : [`${p} ratio`]
  );
  lines.push(
    "",
    "## Chips",
    "",
    `| chip | success | wall (s) | ${columns.join(" | ")} |`,
    `| --- | ---: | ---: | ${columns.map(() => "---:").join(" | ")} |`,
    ...summary.chips.map((c) =>
      `| ${c.id} | ${(100 * c.success_fraction).toFixed(1)} % | ${c.wall_s.toFixed(1)} | ${
        rows.flatMap((p) => {
          if (p !== "rate") return [fmt(c.params[p]?.ratio)];
          const r = c.params.rate;
          return r
            ? [
              fmt(r.measured_median === null ? null : r.measured_median / 1e3),
              `${(100 * r.within_10_percent).toFixed(1)} %`,
              String(r.at_range_bound),
            ]
            : ["–", "–", "–"];
        }).join(" | ")
      } |`
    ),
    "",
    "## Wall time per step",
    "",
    "| step | wall (s, all batches) |",
    "| --- | ---: |",
    ...stepTimes(chips).map((s) => `| ${s.name} | ${s.seconds.toFixed(2)} |`),
    "",
    "## Warnings",
    "",
  );
  const warnings = groupedWarnings(chips);
  if (warnings.length === 0) lines.push("None.");
  for (const w of warnings) lines.push(`- ${w.text} (${listChips(w.chips)})`);
  lines.push("", "The histograms, search convergence and success maps are in report.html.", "");
  return lines.join("\n");
}
