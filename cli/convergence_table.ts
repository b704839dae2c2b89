/**
 * The comparison table of `lifcal convergence` — one row per number, one
 * column per algorithm, and each algorithm's ratio to the first — shared by
 * `convergence.md`, `convergence.html` and the summary on stdout.
 *
 * @module
 */

import type { ConvergenceDocument } from "./convergence_data.ts";
import { SUMMARY_PARAMETERS } from "./median_code_reference.ts";
import { formatNumber } from "./svg.ts";

/** One row of the comparison table. */
export interface ComparisonRow {
  /** What the row shows, with its unit. */
  readonly label: string;
  /** One value per algorithm, in the document's order. */
  readonly values: readonly (number | null)[];
  /** Whether the row belongs in the short summary on stdout. */
  readonly short: boolean;
}

/**
 * The rows of the comparison: per parameter the final p90 and median true
 * residual (potentials in CADC LSB, time constants in % of the target) and
 * calix's median spread ratio; the success fraction; measurements,
 * emulated hardware time and wall time per chip; and the share of the
 * searches that keep calix's BinarySearch.
 *
 * @example
 * ```ts
 * import { comparisonRows } from "./convergence_table.ts";
 * import assert from "node:assert/strict";
 * const rows = comparisonRows({ chips: ["sim-1"], algorithms: [] } as never);
 * assert.equal(rows[0]!.label, "leak: p90 true residual (CADC LSB)");
 * ```
 */
export function comparisonRows(doc: ConvergenceDocument): ComparisonRow[] {
  const runs = doc.algorithms;
  const rows: ComparisonRow[] = [];
  for (const p of SUMMARY_PARAMETERS) {
    const relative = (runs[0]?.final[p].unit ?? (p.startsWith("tau") ? "relative" : "")) ===
      "relative";
    const unit = relative ? "% of target" : "CADC LSB";
    const scale = relative ? 100 : 1;
    const scaled = (v: number | null) => (v === null ? null : v * scale);
    rows.push(
      {
        label: `${p}: p90 true residual (${unit})`,
        values: runs.map((r) => scaled(r.final[p].p90)),
        short: true,
      },
      {
        label: `${p}: median true residual (${unit})`,
        values: runs.map((r) => scaled(r.final[p].median)),
        short: false,
      },
    );
  }
  for (const p of SUMMARY_PARAMETERS) {
    const limit = runs[0]?.ratios[p].limit;
    rows.push({
      label: `${p}: calix ratio, median over chips${
        limit === undefined ? "" : ` (limit ${limit})`
      }`,
      values: runs.map((r) => r.ratios[p].median),
      short: false,
    });
  }
  const chips = doc.chips.length;
  rows.push(
    {
      label: "success fraction (median over chips)",
      values: runs.map((r) => r.success_fraction.median),
      short: true,
    },
    {
      label: "measurements per chip",
      values: runs.map((r) => r.totals.measurements.median),
      short: true,
    },
    {
      label: "emulated hardware time per chip (s)",
      values: runs.map((r) => r.totals.hardware_seconds.median),
      short: true,
    },
    {
      label: "CapMem writes per chip",
      values: runs.map((r) => r.totals.capmem_writes.median),
      short: false,
    },
    {
      label: "share of measurements in CADC / synapse-DAC-bias searches (%)",
      values: runs.map((r) => {
        const s = r.totals.fixed_algorithm_share.measurements;
        return s === null ? null : 100 * s;
      }),
      short: false,
    },
    {
      label: "wall time per chip (s)",
      values: runs.map((r) => (chips > 0 ? r.wall_s / chips : null)),
      short: true,
    },
  );
  return rows;
}

/**
 * `value / first`, or null where either is missing or the first is 0.
 *
 * @example
 * ```ts
 * import { ratioToFirst } from "./convergence_table.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ratioToFirst([4, 2], 1), 0.5);
 * assert.equal(ratioToFirst([0, 2], 1), null);
 * ```
 */
export function ratioToFirst(values: readonly (number | null)[], k: number): number | null {
  const first = values[0];
  const v = values[k];
  if (first === null || first === undefined || v === null || v === undefined || first === 0) {
    return null;
  }
  return v / first;
}

/**
 * The comparison as plain text columns (the summary on stdout): the short
 * rows, or all of them.
 *
 * @example
 * ```ts
 * import { comparisonText } from "./convergence_table.ts";
 * import assert from "node:assert/strict";
 * const text = comparisonText({ chips: [], algorithms: [] } as never);
 * assert.match(text, /^quantity/);
 * ```
 */
export function comparisonText(doc: ConvergenceDocument, all = false): string {
  const names = doc.algorithms.map((r) => r.algorithm);
  const rows = comparisonRows(doc).filter((r) => all || r.short);
  const width = Math.max(8, ...rows.map((r) => r.label.length)) + 2;
  const col = Math.max(12, ...names.map((n) => n.length + 2));
  const ratioNames = names.slice(1).map((n) => `${n} / ${names[0]}`);
  const rcol = Math.max(12, ...ratioNames.map((n) => n.length + 2));
  const head = [
    "quantity".padEnd(width),
    ...names.map((n) => n.padStart(col)),
    ...ratioNames.map((n) => n.padStart(rcol)),
  ].join("");
  const lines = rows.map((r) =>
    [
      r.label.padEnd(width),
      ...r.values.map((v) => formatNumber(v).padStart(col)),
      ...names.slice(1).map((_, k) => formatNumber(ratioToFirst(r.values, k + 1)).padStart(rcol)),
    ].join("")
  );
  return [head, ...lines].join("\n");
}
