/**
 * `report.md`: the report as Markdown tables for terminals and code review —
 * per chip the success and spread ratios, per parameter the pooled numbers,
 * the wall time per step and the warnings.
 *
 * @module
 */

import type { ChipFiles } from "./chip_record.ts";
import { SUMMARY_PARAMETERS } from "./median_code_reference.ts";
import {
  CALIX_RATIO_LIMITS,
  groupedWarnings,
  listChips,
  PARAMETER_DISPLAY,
  stepTimes,
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
  for (const p of SUMMARY_PARAMETERS) {
    const { scale } = PARAMETER_DISPLAY[p];
    const col = (pick: (c: Summary["chips"][number]) => number | null, s = scale) => {
      const m = _median(summary.chips.map(pick));
      return fmt(m === null ? null : m * s);
    };
    const over = summary.chips.filter((c) => !(c.params[p].ratio! < CALIX_RATIO_LIMITS[p])).length;
    lines.push(
      `| ${p} | ${col((c) => c.params[p].target_mean)} | ${
        col((c) => c.params[p].measured_mean)
      } | ${col((c) => c.params[p].measured_std)} | ${col((c) => c.params[p].uncalibrated_std)} | ${
        col((c) => c.params[p].ratio, 1)
      } | ${CALIX_RATIO_LIMITS[p]} | ${over} |`,
    );
  }
  lines.push(
    "",
    "## Chips",
    "",
    `| chip | success | wall (s) | ${SUMMARY_PARAMETERS.map((p) => `${p} ratio`).join(" | ")} |`,
    `| --- | ---: | ---: | ${SUMMARY_PARAMETERS.map(() => "---:").join(" | ")} |`,
    ...summary.chips.map((c) =>
      `| ${c.id} | ${(100 * c.success_fraction).toFixed(1)} % | ${c.wall_s.toFixed(1)} | ${
        SUMMARY_PARAMETERS.map((p) => fmt(c.params[p].ratio)).join(" | ")
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
