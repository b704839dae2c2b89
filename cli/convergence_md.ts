/**
 * `convergence.md`: the comparison of `lifcal convergence` as Markdown
 * tables — final true residuals, calix ratios, success, measurements and
 * emulated hardware time per algorithm with their ratio to the first; the
 * cost of every calibration step; every search's convergence; and the
 * definitions and constants behind the numbers.
 *
 * @module
 */

import type { SearchGroup } from "./convergence_recorder.ts";
import { CONVERGENCE_DEFINITIONS, type ConvergenceDocument } from "./convergence_data.ts";
import { comparisonRows, ratioToFirst } from "./convergence_table.ts";
import { formatNumber as fmt } from "./svg.ts";

/** A residual for display: relative ones in % of the target. */
function _residual(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined) return "–";
  return unit === "relative" ? `${fmt(100 * v)} %` : fmt(v);
}

function _searchRows(groups: readonly SearchGroup[], indent: string): string[] {
  const rows: string[] = [];
  for (const g of groups) {
    const last = g.steps.at(-1);
    const unit = g.unit === "relative" ? "%" : g.unit;
    rows.push(
      `| ${g.step} | ${indent}${g.field} | ${g.measurement} | ${g.occurrence} | ${g.algorithm} | ${g.basis} | ${unit} | ${g.steps.length} | ${
        _residual(last?.median, g.unit)
      } / ${_residual(last?.p90, g.unit)} | ${
        g.result
          ? `${_residual(g.result.median, g.unit)} / ${_residual(g.result.p90, g.unit)}`
          : "–"
      } | ${fmt(last?.measurements)} | ${fmt(last?.hardware_seconds)} |`,
    );
    // Sub-searches: one row per field and kind, the last occurrence standing for all.
    const byKind = new Map<string, SearchGroup[]>();
    for (const s of g.sub_searches) {
      const key = `${s.field} ${s.measurement}`;
      byKind.set(key, [...(byKind.get(key) ?? []), s]);
    }
    for (const subs of byKind.values()) {
      const s = subs.at(-1)!;
      rows.push(
        ..._searchRows(
          [{ ...s, step: "", sub_searches: [] }],
          `${indent}↳ (×${subs.length}, last) `,
        ),
      );
    }
  }
  return rows;
}

/**
 * Renders `convergence.md`.
 *
 * @example
 * ```ts
 * import { renderConvergenceMarkdown } from "./convergence_md.ts";
 * import assert from "node:assert/strict";
 * const md = renderConvergenceMarkdown({ lifcal_version: "0.1.0", date: "2026-01-01",
 *   backend: { description: "CPU" }, chips: ["sim-1"], target: {}, options: {},
 *   hardware_time_model: {}, algorithms: [] } as never);
 * assert.match(md, /^# lifcal convergence benchmark/);
 * ```
 */
export function renderConvergenceMarkdown(doc: ConvergenceDocument): string {
  const names = doc.algorithms.map((r) => r.algorithm);
  const first = names[0] ?? "";
  const lines: string[] = [
    "# lifcal convergence benchmark",
    "",
    `lifcal ${doc.lifcal_version}, ${doc.backend.description}, ${doc.chips.length} chips (${
      doc.chips.join(", ")
    }), ${doc.date}.`,
    "",
    "Target: `" + JSON.stringify(doc.target) + "`; options: `" + JSON.stringify(doc.options) +
    "`.",
    "",
    "## Comparison",
    "",
    "True residuals over all neurons of all chips, from the twins' noise-free truth after the",
    "calibration; the other numbers are medians over chips. Ratios are each algorithm's value",
    `divided by ${first}'s.`,
    "",
    `| quantity | ${names.join(" | ")} |${
      names.slice(1).map((n) => ` ${n} / ${first} |`).join("")
    }`,
    `| --- |${names.map(() => " ---: |").join("")}${names.slice(1).map(() => " ---: |").join("")}`,
    ...comparisonRows(doc).map((r) =>
      `| ${r.label} | ${r.values.map((v) => fmt(v)).join(" | ")} |${
        names.slice(1).map((_, k) => ` ${fmt(ratioToFirst(r.values, k + 1))} |`).join("")
      }`
    ),
    "",
    "## Calibration steps",
    "",
    "Measurements and emulated hardware time (s) per chip in each step (medians over chips).",
    "",
    `| step | ${names.map((n) => `${n} measurements | ${n} hardware s`).join(" | ")} |`,
    `| --- |${names.map(() => " ---: | ---: |").join("")}`,
  ];
  const stepNames = [...new Set(doc.algorithms.flatMap((r) => r.steps.map((s) => s.name)))];
  for (const name of stepNames) {
    const cells = doc.algorithms.map((r) => {
      const s = r.steps.find((x) => x.name === name);
      return `${fmt(s?.measurements)} | ${fmt(s?.hardware_seconds)}`;
    });
    lines.push(`| ${name} | ${cells.join(" | ")} |`);
  }
  for (const run of doc.algorithms) {
    lines.push(
      "",
      `## Searches: ${run.algorithm}`,
      "",
      "Residual at the last step and at the search's result (median / p90); measurements and",
      "hardware time (s) from the search's start to its last step, sub-searches included.",
      "",
      "| step | field | measurement | # | algorithm | basis | unit | steps | last step | result | measurements | hardware s |",
      "| --- | --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
      ..._searchRows(run.searches, ""),
    );
  }
  lines.push("", "## Definitions", "");
  for (const [k, v] of Object.entries(CONVERGENCE_DEFINITIONS)) lines.push(`- **${k}**: ${v}`);
  lines.push("", "Hardware-time model (`cli/hardware_time.ts`, docs/BENCHMARKS.md):", "");
  for (const [k, v] of Object.entries(doc.hardware_time_model)) {
    lines.push(`- \`${k}\`: ${fmt(v as number, 4)}`);
  }
  lines.push("");
  return lines.join("\n");
}
