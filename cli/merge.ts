/**
 * `lifcal merge DIR...`: joins the outputs of shards — one shared folder or
 * several — into one `summary.json` and report. It refuses (exit 1), naming
 * the chips, when shards are missing, duplicated or inconsistent (another
 * plan, target, leak-over-threshold rate, options or lifcal version), or
 * when a chip's files are missing or broken.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type ChipFiles, chipPaths, loadChip } from "./chip_record.ts";
import { checkOutputFolder, ensureWritableDir, writeAtomic } from "./files.ts";
import { writeReports } from "./report.ts";
import { parseShardSummaryName, shardChips } from "./shard.ts";
import {
  buildSummary,
  calibrationTarget,
  parseShardSummary,
  type ShardSummary,
  summaryTarget,
  summaryToJson,
} from "./summary.ts";
import { listChips, targetRateText } from "./report_data.ts";
import { MergeRefusal, UsageError } from "./usage_error.ts";

/** Flags of `lifcal merge`. */
export interface MergeFlags {
  /** Where the merged summary and report go (default: the one DIR). */
  readonly out?: string | undefined;
  /** Print the merged summary on stdout. */
  readonly json: boolean;
  /** Print nothing else. */
  readonly quiet: boolean;
}

interface _Shard {
  readonly dir: string;
  readonly file: string;
  readonly summary: ShardSummary;
}

function _message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function _readShards(dirs: readonly string[]): Promise<_Shard[]> {
  const shards: _Shard[] = [];
  const seenFiles = new Set<string>();
  for (const dir of dirs) {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile && parseShardSummaryName(e.name)) names.push(e.name);
      }
    } catch (e) {
      throw new UsageError(`Cannot read folder ${dir}: ${_message(e)}`);
    }
    for (const name of names.sort()) {
      const file = join(dir, name);
      const real = await Deno.realPath(file);
      if (seenFiles.has(real)) continue;
      seenFiles.add(real);
      let summary: ShardSummary;
      try {
        summary = parseShardSummary(await Deno.readTextFile(file));
      } catch (e) {
        throw new MergeRefusal(`Shard summary ${file} is broken: ${_message(e)}`);
      }
      const named = parseShardSummaryName(name)!;
      if (named.index !== summary.shard.index || named.count !== summary.shard.count) {
        throw new MergeRefusal(
          `Shard summary ${file} holds shard ${summary.shard.index}/${summary.shard.count}`,
        );
      }
      shards.push({ dir, file, summary });
    }
  }
  if (shards.length === 0) {
    throw new UsageError(
      `No shard summaries (summary.shard-<i>-of-<n>.json) in ${dirs.join(", ")}`,
    );
  }
  return shards;
}

/** Groups shards by a key; returns the groups if there is more than one. */
function _disagree(shards: readonly _Shard[], key: (s: _Shard) => string): _Shard[][] | undefined {
  const groups = new Map<string, _Shard[]>();
  for (const s of shards) groups.set(key(s), [...(groups.get(key(s)) ?? []), s]);
  return groups.size > 1 ? [...groups.values()] : undefined;
}

function _chipsOf(shards: readonly _Shard[]): string {
  return listChips(shards.flatMap((s) => s.summary.chips.map((c) => c.id)));
}

/** Checks the shards against each other; returns the problems found. */
function _checkShards(shards: readonly _Shard[]): string[] {
  const problems: string[] = [];
  const plan = _disagree(
    shards,
    (s) => JSON.stringify([s.summary.plan.chips, s.summary.shard.count]),
  );
  if (plan) {
    problems.push(
      `the shards belong to different runs: ${
        plan.map((g) =>
          `${g.map((s) => s.file).join(", ")} plan ${g[0]!.summary.plan.chips.length} chips in ${
            g[0]!.summary.shard.count
          } shards`
        ).join("; ")
      }`,
    );
    return problems;
  }
  const version = _disagree(shards, (s) => s.summary.lifcal_version);
  if (version) {
    problems.push(
      `the shards come from different lifcal versions: ${
        version.map((g) => `${_chipsOf(g)} by ${g[0]!.summary.lifcal_version}`).join("; ")
      }`,
    );
  }
  const target = _disagree(
    shards,
    (s) => JSON.stringify(calibrationTarget(s.summary.target)),
  );
  if (target) {
    problems.push(
      `the shards have different targets: ${
        target.map((g) =>
          `${_chipsOf(g)} with ${JSON.stringify(calibrationTarget(g[0]!.summary.target))}`
        ).join("; ")
      }`,
    );
  }
  const rate = _disagree(shards, (s) => JSON.stringify(s.summary.target.leak_over_threshold));
  if (rate) {
    problems.push(
      `the shards have different leak-over-threshold rates: ${
        rate.map((g) =>
          `${g.map((s) => s.file).join(", ")} (chips ${_chipsOf(g) || "none"}) with ${
            targetRateText(g[0]!.summary.target) ?? "no rate"
          }`
        ).join("; ")
      }`,
    );
  }
  const { plan: { chips: planned }, shard: { count } } = shards[0]!.summary;
  const byIndex = new Map<number, _Shard[]>();
  for (const s of shards) {
    byIndex.set(s.summary.shard.index, [...(byIndex.get(s.summary.shard.index) ?? []), s]);
  }
  for (let i = 0; i < count; i++) {
    const found = byIndex.get(i) ?? [];
    const expected = shardChips(planned, { index: i, count });
    if (found.length === 0) {
      if (expected.length > 0) {
        problems.push(`shard ${i}/${count} is missing: chips ${listChips(expected)}`);
      }
    } else if (found.length > 1) {
      problems.push(
        `shard ${i}/${count} is duplicated (${found.map((s) => s.file).join(", ")}): chips ${
          listChips(expected)
        }`,
      );
    } else {
      const got = found[0]!.summary.chips.map((c) => c.id);
      const lacking = expected.filter((id) => !got.includes(id));
      const extra = got.filter((id) => !expected.includes(id));
      if (lacking.length > 0) {
        problems.push(`shard ${i}/${count} lacks chips ${listChips(lacking)}`);
      }
      if (extra.length > 0) {
        problems.push(`shard ${i}/${count} holds chips of other shards: ${listChips(extra)}`);
      }
    }
  }
  return problems;
}

/** Loads every chip of the shards and checks it against its shard; returns chips and problems. */
async function _loadChips(shards: readonly _Shard[]) {
  const chips = new Map<string, ChipFiles>();
  const problems: string[] = [];
  const broken: string[] = [];
  for (const s of shards) {
    for (const entry of s.summary.chips) {
      const loaded = await loadChip(s.dir, entry.id);
      if (!loaded.ok) {
        broken.push(`${entry.id} (${loaded.reason})`);
        continue;
      }
      const r = loaded.chip.result;
      if (
        JSON.stringify(summaryTarget(r)) !== JSON.stringify(s.summary.target) ||
        r.lifcal_version !== s.summary.lifcal_version
      ) {
        problems.push(`chip ${entry.id}'s result does not match its shard summary ${s.file}`);
      }
      chips.set(entry.id, loaded.chip);
    }
  }
  if (broken.length > 0) problems.push(`result files missing or broken: ${broken.join(", ")}`);
  const options = new Map<string, string[]>();
  for (const [id, c] of chips) {
    const key = JSON.stringify(c.result.options);
    options.set(key, [...(options.get(key) ?? []), id]);
  }
  if (options.size > 1) {
    problems.push(
      `the chips were calibrated with different options: ${
        [...options].map(([o, ids]) => `${listChips(ids)} with ${o}`).join("; ")
      }`,
    );
  }
  return { chips, problems };
}

/**
 * `lifcal merge DIR... [--out OUT]`: returns the exit code (0 merged);
 * throws {@linkcode MergeRefusal} (exit 1) naming the chips of missing,
 * duplicated or inconsistent shards, and {@linkcode UsageError} (exit 2)
 * for folders without shard summaries or several folders without `--out`.
 *
 * @example
 * ```ts
 * import { mergeCommand } from "./merge.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(() => mergeCommand([dir], { json: false, quiet: true }), /No shard summaries/);
 * await Deno.remove(dir);
 * ```
 */
export async function mergeCommand(dirs: readonly string[], flags: MergeFlags): Promise<number> {
  if (dirs.length === 0) throw new UsageError("lifcal merge needs at least one folder");
  if (flags.out === undefined && dirs.length > 1) {
    throw new UsageError("Merging several folders needs --out DIR for the merged output");
  }
  if (flags.out !== undefined) await checkOutputFolder(flags.out, "--out");
  const out = flags.out ?? dirs[0]!;
  const shards = await _readShards(dirs);
  const problems = _checkShards(shards);
  if (problems.length > 0) throw new MergeRefusal(`Cannot merge: ${problems.join("; ")}`);
  const loaded = await _loadChips(shards);
  if (loaded.problems.length > 0) {
    throw new MergeRefusal(`Cannot merge: ${loaded.problems.join("; ")}`);
  }
  const ids = shards[0]!.summary.plan.chips;
  const chips = ids.map((id) => loaded.chips.get(id)!);
  const first = shards[0]!.summary;
  const summary = buildSummary(chips, first.target, first.backend);
  await ensureWritableDir(out);
  const outReal = await Deno.realPath(out);
  for (const s of shards) {
    if (resolve(await Deno.realPath(s.dir)) === resolve(outReal)) continue;
    for (const entry of s.summary.chips) {
      const from = chipPaths(s.dir, entry.id);
      const to = chipPaths(out, entry.id);
      await writeAtomic(to.record, await Deno.readTextFile(from.record));
      await writeAtomic(to.result, await Deno.readTextFile(from.result));
    }
  }
  await writeAtomic(join(out, "summary.json"), summaryToJson(summary));
  await writeReports(out, summary, chips);
  if (flags.json) console.log(summaryToJson(summary).trimEnd());
  else if (!flags.quiet) {
    console.log(
      `Merged ${shards.length} shards (${summary.totals.chips} chips) into ${
        join(out, "summary.json")
      }, report.html, report.md`,
    );
  }
  return 0;
}
