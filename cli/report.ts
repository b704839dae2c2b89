/**
 * Writing the reports of an output folder (`report.html`, `report.md`), and
 * `lifcal report DIR`, which rebuilds them from `DIR/summary.json` and the
 * result files of its chips.
 *
 * @module
 */

import { join } from "node:path";
import { type ChipFiles, loadChip } from "./chip_record.ts";
import { writeAtomic } from "./files.ts";
import { renderHtmlReport } from "./report_html.ts";
import { renderMarkdownReport } from "./report_md.ts";
import { parseSummary, type Summary } from "./summary.ts";
import { UsageError } from "./usage_error.ts";

/**
 * Writes `report.html` and `report.md` into `out` (atomically).
 *
 * @example
 * ```ts
 * import { writeReports } from "./report.ts";
 * import { buildSummary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await writeReports(dir, buildSummary([], {}, { kind: "cpu", adapter: null }), []);
 * assert.match(await Deno.readTextFile(`${dir}/report.md`), /lifcal calibration report/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeReports(
  out: string,
  summary: Summary,
  chips: readonly ChipFiles[],
): Promise<void> {
  await writeAtomic(join(out, "report.html"), renderHtmlReport(summary, chips));
  await writeAtomic(join(out, "report.md"), renderMarkdownReport(summary, chips));
}

/**
 * Loads the files of every chip of a summary from `dir`; a chip whose files
 * are missing or broken is a {@linkcode UsageError} naming it.
 *
 * @example
 * ```ts
 * import { loadSummaryChips } from "./report.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(await loadSummaryChips("/nonexistent", []), []);
 * ```
 */
export async function loadSummaryChips(
  dir: string,
  ids: readonly string[],
): Promise<ChipFiles[]> {
  const chips: ChipFiles[] = [];
  const broken: string[] = [];
  for (const id of ids) {
    const loaded = await loadChip(dir, id);
    if (loaded.ok) chips.push(loaded.chip);
    else broken.push(`${id} (${loaded.reason})`);
  }
  if (broken.length > 0) {
    throw new UsageError(`Cannot read the result files of chips ${broken.join(", ")} in ${dir}`);
  }
  return chips;
}

/**
 * `lifcal report DIR`: rebuilds `report.html` and `report.md` from
 * `DIR/summary.json` and `DIR/chips/`. Returns the exit code.
 *
 * @example
 * ```ts
 * import { reportCommand } from "./report.ts";
 * import assert from "node:assert/strict";
 * await assert.rejects(() => reportCommand("/nonexistent"), /summary\.json/);
 * ```
 */
export async function reportCommand(dir: string): Promise<number> {
  const path = join(dir, "summary.json");
  let summary: Summary;
  try {
    summary = parseSummary(await Deno.readTextFile(path));
  } catch (e) {
    const hint = e instanceof Deno.errors.NotFound
      ? " (shard outputs: run lifcal merge first)"
      : "";
    throw new UsageError(
      `Cannot read ${path}: ${e instanceof Error ? e.message : String(e)}${hint}`,
    );
  }
  const chips = await loadSummaryChips(dir, summary.chips.map((c) => c.id));
  await writeReports(dir, summary, chips);
  return 0;
}
