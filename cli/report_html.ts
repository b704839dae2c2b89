/**
 * `report.html`: one self-contained page (inline CSS and SVG, no external
 * resources, opens offline) with, per parameter, the histogram before and
 * after calibration and the target; the convergence of the searches step by
 * step; the wall time per step; a 512-neuron success map per chip; and the
 * warnings. A two-line inline script marks script errors in the page title
 * (`LIFCAL-REPORT-ERROR`), which the tests check in a headless browser.
 *
 * @module
 */

import { parseRates } from "../calib/units.ts";
import type { ChipFiles } from "./chip_record.ts";
import {
  CALIX_RATIO_LIMITS,
  convergenceGroups,
  formatHertz,
  groupedWarnings,
  listChips,
  PARAMETER_DISPLAY,
  stepTimes,
  summaryRows,
  targetRateText,
} from "./report_data.ts";
import type { Summary } from "./summary.ts";
import {
  escapeXml as esc,
  formatNumber as fmt,
  histogramSvg,
  lineChartSvg,
  PAGE_STYLE,
  successMapSvg,
} from "./svg.ts";

/** The page title a script error sets; the report test looks for it. */
export const REPORT_ERROR_MARKER = "LIFCAL-REPORT-ERROR";

const _PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

const _STYLE = `${PAGE_STYLE}.bad { color: #c00; font-weight: bold; }
.chipmap { font-size: 12px; } pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
`;

function _plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function _ratioCell(ratio: number | null, limit: number): string {
  const bad = ratio === null || ratio >= limit;
  return `<td${bad ? ' class="bad"' : ""}>${fmt(ratio)}</td>`;
}

function _rateCells(rate: Summary["chips"][number]["params"]["rate"]): string {
  if (!rate) return "<td>–</td><td>–</td><td>–</td>";
  const within = `${(100 * rate.within_10_percent).toFixed(1)} %`;
  return `<td>${esc(formatHertz(rate.measured_median))}</td><td${
    rate.within_10_percent < 0.9 ? ' class="bad"' : ""
  }>${within}</td><td${rate.at_range_bound > 0 ? ' class="bad"' : ""}>${rate.at_range_bound}</td>`;
}

function _overview(summary: Summary): string {
  const params = summaryRows(summary.target);
  const rows = summary.chips.map((c) =>
    `<tr><td>${esc(c.id)}</td><td>${c.seed ?? "–"}</td><td>${
      (100 * c.success_fraction).toFixed(1)
    } %</td><td>${c.wall_s.toFixed(1)}</td>${
      params.map((p) =>
        p === "rate"
          ? _rateCells(c.params.rate)
          : _ratioCell(c.params[p]?.ratio ?? null, CALIX_RATIO_LIMITS[p])
      ).join("")
    }</tr>`
  ).join("\n");
  return `<table><tr><th>chip</th><th>seed</th><th>success</th><th>wall (s)</th>${
    params.map((p) =>
      p === "rate"
        ? "<th>rate<br>median</th><th>rate within<br>±10 %</th><th>neurons at a<br>range bound</th>"
        : `<th>${p}<br>ratio &lt; ${CALIX_RATIO_LIMITS[p]}</th>`
    ).join("")
  }</tr>\n${rows}</table>`;
}

function _parameterSection(summary: Summary, chips: readonly ChipFiles[]): string {
  const out: string[] = [];
  for (const p of summaryRows(summary.target)) {
    if (p === "rate") {
      out.push(_rateCard(summary, chips));
      continue;
    }
    const { label, unit, scale } = PARAMETER_DISPLAY[p];
    const scaled = (v: number | null) => (v === null ? null : v * scale);
    const before = chips.flatMap((c) => c.record.median_code[p].map(scaled));
    const after = chips.flatMap((c) => c.result.verification[p].map(scaled));
    const targets = summary.chips.map((c) => c.params[p]?.target_mean ?? null).filter((t) =>
      t !== null
    );
    const target = targets.length
      ? (targets.reduce((a, b) => a + b, 0) / targets.length) * scale
      : null;
    const ratios = summary.chips.map((c) => c.params[p]?.ratio ?? null).filter((r) => r !== null)
      .sort((
        a,
        b,
      ) => a - b);
    const median = ratios.length ? ratios[ratios.length >> 1]! : null;
    out.push(
      `<div><h3>${esc(label)} (${esc(p)})</h3>`,
      histogramSvg({
        series: [
          { label: "before: every neuron at the median code", values: before, color: "#999" },
          { label: "after: calibrated", values: after, color: "#1f77b4" },
        ],
        target,
        unit,
      }),
      `<p class="note">${after.length} neurons of ${
        _plural(chips.length, "chip")
      }; median spread ratio ${fmt(median)} (calix accepts &lt; ${
        CALIX_RATIO_LIMITS[p]
      }).</p></div>`,
    );
  }
  return `<div class="grid">${out.join("\n")}</div>`;
}

/** The rate's card in the parameter grid, in place of the threshold's. */
function _rateCard(summary: Summary, chips: readonly ChipFiles[]): string {
  const parsed = parseRates(summary.target.leak_over_threshold, "leak_over_threshold");
  const target = typeof parsed === "number" ? parsed / 1e3 : null;
  const rates = chips.flatMap((c) =>
    (c.result.verification.rate ?? []).map((r) => (r === null ? null : r / 1e3))
  );
  const within = summary.chips.map((c) => c.params.rate?.within_10_percent ?? 0);
  const bound = summary.chips.reduce((n, c) => n + (c.params.rate?.at_range_bound ?? 0), 0);
  return `<div><h3>Firing rate without input (rate)</h3>
${
    histogramSvg({
      series: [{ label: "after: leak over threshold", values: rates, color: "#1f77b4" }],
      target,
      unit: "kHz",
    })
  }
<p class="note">${rates.length} neurons of ${_plural(chips.length, "chip")}; ${
    (100 * within.reduce((a, b) => a + b, 0) / Math.max(1, within.length)).toFixed(1)
  } % within ±10 % of the target; ${
    _plural(bound, "neuron")
  } at a range bound (the rate out of reach).</p></div>`;
}

function _rateSection(summary: Summary): string {
  const rate = targetRateText(summary.target);
  if (rate === undefined) return "";
  return `<h2>Leak over threshold</h2>
<p class="note">After the calibration, each neuron's threshold was set so that it fires at ${
    esc(rate)
  } without input (calix's <code>calibrate_leak_over_threshold</code>: the leak potential above the
threshold). The rate's card and columns replace the threshold's, whose CADC target no longer
describes the chips. Rates are measured over 1.5 ms (or the calibration window if longer); a neuron
whose threshold search ended on a range bound cannot reach its rate (its warning names it), and
counts as calibrated as in calix.</p>`;
}

function _convergenceSection(chips: readonly ChipFiles[]): string {
  const groups = convergenceGroups(chips);
  if (groups.length === 0) return "<p>No search traces were recorded.</p>";
  const charts = groups.map((g) =>
    lineChartSvg({
      title: `${g.field} (${g.lines.length} search${g.lines.length === 1 ? "" : "es"})`,
      yLabel: `median |error| (${g.unit === "us" ? "µs" : g.unit})`,
      floor: g.unit === "us" ? 1e-3 : 0.01,
      lines: g.lines.map((l, k) => ({
        label: `#${l.occurrence} (${l.measurement}, ${_plural(l.chips, "chip")})`,
        points: l.median_abs_error,
        color: _PALETTE[k % _PALETTE.length]!,
      })),
    })
  );
  return `<p class="note">Every search of the calibration, grouped by the searched field. For each
search and chip the median over the searched neurons (quadrants, channels) of |reading − target| is
kept after each step; the lines show its median over the chips (log scale, one colour per
occurrence of the field in the calibration; hover for the measurement). A search ends where the
binary search's step size is spent, so the last point is its final residual. Readings that a
search maps to sentinels (a floating membrane, a threshold below the reset) count as errors.</p>
<div class="grid">${charts.join("\n")}</div>`;
}

function _stepSection(chips: readonly ChipFiles[]): string {
  const steps = stepTimes(chips);
  const total = steps.reduce((s, t) => s + t.seconds, 0);
  const rows = steps.map((s) =>
    `<tr><td>${esc(s.name)}</td><td>${s.seconds.toFixed(2)}</td><td>${
      total > 0 ? ((100 * s.seconds) / total).toFixed(1) : "–"
    } %</td><td>${s.batches}</td></tr>`
  ).join("\n");
  return `<table><tr><th>step</th><th>wall (s, all batches)</th><th>share</th><th>batches</th></tr>
${rows}</table>`;
}

function _successMaps(chips: readonly ChipFiles[]): string {
  return `<p class="note">Neuron n is drawn in row ⌊n/32⌋, column n mod 32; green: calibrated,
red: a search of the calibration ended on a range bound.</p><div class="grid">${
    chips.map((c) => {
      const failed = c.result.success.filter((s) => !s).length;
      return `<div class="chipmap"><b>${esc(c.result.chipId)}</b> · ${
        failed === 0 ? "all 512 calibrated" : `${failed} failed`
      }<br>${successMapSvg(c.result.success)}</div>`;
    }).join("\n")
  }</div>`;
}

function _warnings(chips: readonly ChipFiles[]): string {
  const groups = groupedWarnings(chips);
  if (groups.length === 0) return "<p>None.</p>";
  return `<ul>${
    groups.map((g) =>
      `<li>${esc(g.text)} <span class="note">— ${esc(listChips(g.chips))}</span></li>`
    ).join("\n")
  }</ul>`;
}

/**
 * Renders the HTML report of a summary and its chips' files (in the
 * summary's order). The output depends on nothing else (no clock), so a
 * report rebuilt from the same files is the same byte for byte.
 *
 * @example
 * ```ts
 * import { renderHtmlReport, REPORT_ERROR_MARKER } from "./report_html.ts";
 * import { buildSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const html = renderHtmlReport(buildSummary([], {}, { kind: "cpu", adapter: null }), []);
 * assert.match(html, /^<!doctype html>/);
 * assert.ok(html.includes(REPORT_ERROR_MARKER));
 * assert.ok(!/(src|href)="https?:/.test(html));
 * ```
 */
export function renderHtmlReport(summary: Summary, chips: readonly ChipFiles[]): string {
  const fails = summary.chips.filter((c) => c.success_fraction < 1).length;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lifcal report: ${_plural(summary.totals.chips, "chip")}</title>
<script>addEventListener("error", function () { document.title = "${REPORT_ERROR_MARKER}"; });</script>
<style>${_STYLE}</style>
</head>
<body>
<h1>lifcal calibration report</h1>
<table>
<tr><td>lifcal</td><td>${esc(summary.lifcal_version)}</td></tr>
<tr><td>backend</td><td>${esc(summary.backend.kind)}${
    summary.backend.adapter ? ` (${esc(summary.backend.adapter)})` : ""
  }</td></tr>
<tr><td>chips</td><td>${summary.totals.chips} (${summary.totals.neurons} neurons)</td></tr>
<tr><td>chips with failed neurons</td><td>${fails}</td></tr>
<tr><td>wall time, sum over chips</td><td>${summary.totals.wall_s.toFixed(1)} s</td></tr>${
    targetRateText(summary.target) === undefined
      ? ""
      : `\n<tr><td>leak over threshold</td><td>${esc(targetRateText(summary.target)!)}</td></tr>`
  }
</table>
<h3>Target</h3>
<pre>${esc(JSON.stringify(summary.target, null, 1))}</pre>

<h2>Chips</h2>
<p class="note">Ratio: spread of the calibrated values over the spread with every neuron at the
chip's median code of that parameter (5 % trimmed on each side), calix's acceptance criterion; red
where it is not below calix's limit.</p>
${_overview(summary)}

<h2>Parameters before and after calibration</h2>
<p class="note"><b>Before</b> is calix's acceptance reference, not the power-on state: every neuron
of a chip at that chip's median calibrated code of the parameter's CapMem row (and the majority
setting of its range flags), everything else calibrated, measured exactly as <b>after</b> (the
verification measurement stored in each result). All chips' neurons pooled; the dashed line is the
target.</p>
${_parameterSection(summary, chips)}
${_rateSection(summary)}

<h2>Convergence of the searches</h2>
${_convergenceSection(chips)}

<h2>Wall time per step</h2>
${_stepSection(chips)}

<h2>Success maps</h2>
${_successMaps(chips)}

<h2>Warnings</h2>
${_warnings(chips)}
<script>document.body.setAttribute("data-rendered", "yes");</script>
</body>
</html>
`;
}
