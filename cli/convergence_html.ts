/**
 * `convergence.html`: one self-contained page (inline CSS and SVG, no
 * scripts, opens offline) comparing the calibration algorithms of a
 * `lifcal convergence` run: the comparison table, and per parameter the
 * median and 90th-percentile true residual of the search that sets its
 * codes, against the measurements and against the emulated hardware time,
 * one colour per algorithm; then the cost per calibration step, every
 * search, and the definitions.
 *
 * @module
 */

import {
  CONVERGENCE_DEFINITIONS,
  type ConvergenceDocument,
  parameterSearch,
} from "./convergence_data.ts";
import type { SearchGroup } from "./convergence_recorder.ts";
import { comparisonRows, ratioToFirst } from "./convergence_table.ts";
import { SUMMARY_PARAMETERS, type SummaryParameter } from "./median_code_reference.ts";
import { PARAMETER_DISPLAY } from "./report_data.ts";
import {
  escapeXml as esc,
  formatNumber as fmt,
  PAGE_STYLE,
  xyChartSvg,
  type XySeries,
} from "./svg.ts";

const _PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

const _STYLE = PAGE_STYLE;

function _residual(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined) return "–";
  return unit === "relative" ? `${fmt(100 * v)} %` : fmt(v);
}

function _comparison(doc: ConvergenceDocument): string {
  const names = doc.algorithms.map((r) => r.algorithm);
  const head = `<tr><th>quantity</th>${names.map((n) => `<th>${esc(n)}</th>`).join("")}${
    names.slice(1).map((n) => `<th>${esc(n)} / ${esc(names[0]!)}</th>`).join("")
  }</tr>`;
  const rows = comparisonRows(doc).map((r) =>
    `<tr><td>${esc(r.label)}</td>${r.values.map((v) => `<td>${fmt(v)}</td>`).join("")}${
      names.slice(1).map((_, k) => `<td>${fmt(ratioToFirst(r.values, k + 1))}</td>`).join("")
    }</tr>`
  );
  return `<table>${head}\n${rows.join("\n")}</table>`;
}

function _charts(doc: ConvergenceDocument, p: SummaryParameter): string {
  const found = doc.algorithms.map((r) => ({ run: r, g: parameterSearch(r.searches, p) }));
  const withSearch = found.filter((f): f is { run: typeof f.run; g: SearchGroup } => !!f.g);
  if (withSearch.length === 0) return `<p class="note">No search of ${esc(p)} was recorded.</p>`;
  const unit = withSearch[0]!.g.unit;
  const relative = unit === "relative";
  const yLabel = relative ? "|τ/τ* − 1| (relative)" : `|truth − target| (${unit})`;
  const chart = (x: "measurements" | "hardware_seconds", xLabel: string) => {
    const lines: XySeries[] = [];
    withSearch.forEach(({ run, g }) => {
      const k = doc.algorithms.indexOf(run);
      const color = _PALETTE[k % _PALETTE.length]!;
      const xs = g.steps.map((s) => s[x] ?? NaN);
      lines.push(
        {
          label: `${run.algorithm} median`,
          color,
          points: g.steps.map((s, i) => [xs[i]!, s.median] as const),
          marker: g.result ? [xs.at(-1) ?? 0, g.result.median] : undefined,
        },
        {
          label: `${run.algorithm} p90`,
          color,
          dashed: true,
          points: g.steps.map((s, i) => [xs[i]!, s.p90] as const),
        },
      );
    });
    return xyChartSvg({
      title: `${p}: ${x === "measurements" ? "per measurement" : "per emulated second"}`,
      xLabel,
      yLabel,
      lines,
      floor: relative ? 1e-4 : 1e-2,
    });
  };
  const which = withSearch.map(({ run, g }) =>
    `${esc(run.algorithm)}: step “${esc(g.step)}”, ${esc(g.field)} (${
      esc(g.measurement)
    }) #${g.occurrence}, ${g.steps.length} steps, result median ${
      _residual(g.result?.median, unit)
    }, p90 ${_residual(g.result?.p90, unit)}`
  ).join("; ");
  return `<p class="note">The search that sets the final codes — ${which}. Solid: median over all neurons of all chips; dashed: 90th percentile; open circle: the residual at the codes the search settled on.</p>
<div class="grid">${
    chart("measurements", "measurements since the search started (median over chips)")
  }${chart("hardware_seconds", "emulated hardware time since the search started (s)")}</div>`;
}

function _searchTable(groups: readonly SearchGroup[]): string {
  const rows: string[] = [];
  const add = (g: SearchGroup, prefix: string) => {
    const last = g.steps.at(-1);
    rows.push(
      `<tr><td>${esc(g.step)}</td><td style="text-align:left">${esc(prefix + g.field)}</td><td>${
        esc(g.measurement)
      }</td><td>${g.occurrence}</td><td>${
        esc(g.algorithm)
      }</td><td>${g.basis}</td><td>${g.steps.length}</td><td>${_residual(last?.median, g.unit)} / ${
        _residual(last?.p90, g.unit)
      }</td><td>${
        g.result
          ? `${_residual(g.result.median, g.unit)} / ${_residual(g.result.p90, g.unit)}`
          : "–"
      }</td><td>${esc(g.unit === "relative" ? "%" : g.unit)}</td><td>${
        fmt(last?.measurements)
      }</td><td>${fmt(last?.hardware_seconds)}</td></tr>`,
    );
  };
  for (const g of groups) {
    add(g, "");
    const byKind = new Map<string, SearchGroup[]>();
    for (const s of g.sub_searches) {
      const key = `${s.field} ${s.measurement}`;
      byKind.set(key, [...(byKind.get(key) ?? []), s]);
    }
    for (const subs of byKind.values()) {
      add({ ...subs.at(-1)!, step: "" }, `↳ (×${subs.length}, last) `);
    }
  }
  return `<table><tr><th>step</th><th>field</th><th>measurement</th><th>#</th><th>algorithm</th><th>basis</th><th>steps</th><th>last step<br>median / p90</th><th>result<br>median / p90</th><th>unit</th><th>measurements</th><th>hardware s</th></tr>\n${
    rows.join("\n")
  }</table>`;
}

/**
 * Renders `convergence.html`.
 *
 * @example
 * ```ts
 * import { renderConvergenceHtml } from "./convergence_html.ts";
 * import assert from "node:assert/strict";
 * const html = renderConvergenceHtml({ lifcal_version: "0.1.0", date: "2026-01-01",
 *   backend: { description: "CPU" }, chips: ["sim-1"], target: {}, options: {},
 *   hardware_time_model: {}, algorithms: [] } as never);
 * assert.match(html, /^<!doctype html>/);
 * assert.doesNotMatch(html, /<script/);
 * ```
 */
export function renderConvergenceHtml(doc: ConvergenceDocument): string {
  const names = doc.algorithms.map((r) => r.algorithm);
  const steps = [...new Set(doc.algorithms.flatMap((r) => r.steps.map((s) => s.name)))];
  const stepRows = steps.map((name) =>
    `<tr><td>${esc(name)}</td>${
      doc.algorithms.map((r) => {
        const s = r.steps.find((x) => x.name === name);
        return `<td>${fmt(s?.measurements)}</td><td>${fmt(s?.hardware_seconds)}</td>`;
      }).join("")
    }</tr>`
  );
  const parts: string[] = [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><title>lifcal convergence: ${
      esc(names.join(" vs "))
    }</title><style>${_STYLE}</style></head><body>`,
    `<h1>lifcal convergence: ${esc(names.join(" vs "))}</h1>`,
    `<p class="note">lifcal ${esc(doc.lifcal_version)}, ${
      esc(doc.backend.description)
    }, ${doc.chips.length} chips (${esc(doc.chips.join(", "))}), ${esc(doc.date)}. Target <code>${
      esc(JSON.stringify(doc.target))
    }</code>.</p>`,
    "<h2>Comparison</h2>",
    `<p class="note">True residuals over all neurons of all chips, from the twins' noise-free truth after the calibration; the other numbers are medians over chips.</p>`,
    _comparison(doc),
    "<h2>Convergence per parameter</h2>",
  ];
  for (const p of SUMMARY_PARAMETERS) {
    parts.push(`<h3>${esc(PARAMETER_DISPLAY[p].label)}</h3>`, _charts(doc, p));
  }
  parts.push(
    "<h2>Calibration steps</h2>",
    `<p class="note">Measurements and emulated hardware time (s) per chip in each step, medians over chips.</p>`,
    `<table><tr><th>step</th>${
      names.map((n) => `<th>${esc(n)}<br>measurements</th><th>${esc(n)}<br>hardware s</th>`).join(
        "",
      )
    }</tr>\n${stepRows.join("\n")}</table>`,
  );
  for (const run of doc.algorithms) {
    parts.push(
      `<h2>Searches: ${esc(run.algorithm)}</h2>`,
      `<p class="note">Residual at the last step and at the result; measurements and hardware time from the search's start to its last step, sub-searches included.</p>`,
      _searchTable(run.searches),
    );
  }
  parts.push(
    "<h2>Definitions</h2><ul>",
    ...Object.entries(CONVERGENCE_DEFINITIONS).map(([k, v]) =>
      `<li><b>${esc(k)}</b>: ${esc(v)}</li>`
    ),
    "</ul><p>Hardware-time model (<code>cli/hardware_time.ts</code>):</p><ul>",
    ...Object.entries(doc.hardware_time_model).map(([k, v]) =>
      `<li><code>${esc(k)}</code>: ${fmt(v as number, 4)}</li>`
    ),
    "</ul></body></html>",
    "",
  );
  return parts.join("\n");
}
