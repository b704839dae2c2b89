/**
 * Shards: splitting one batch of chips over several independent runs (a
 * Slurm job array, a Kubernetes indexed job) that write into one folder
 * without colliding. Shard `i/n` gets the `i`-th of `n` contiguous, nearly
 * equal blocks of the chip list (twins in seed order, a remote host's chips
 * in the order its hello lists them).
 *
 * @module
 */

import { InvalidArgumentError } from "../deps/commander.ts";
import { UsageError } from "./usage_error.ts";

/** Shard `index` of `count` (0-based). */
export interface Shard {
  /** 0-based index, below `count`. */
  readonly index: number;
  /** Number of shards. */
  readonly count: number;
}

/**
 * Parses `--shard i/n` (0 ≤ i < n) or `auto`.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shard.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseShard("1/3"), { index: 1, count: 3 });
 * assert.equal(parseShard("auto"), "auto");
 * assert.throws(() => parseShard("3/2"), /Shard 3\/2 does not exist/);
 * ```
 */
export function parseShard(text: string): Shard | "auto" {
  if (text === "auto") return "auto";
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a shard like 0/4 or auto`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new InvalidArgumentError(`Shard ${text} has no shards`);
  if (index >= count) {
    throw new InvalidArgumentError(
      `Shard ${text} does not exist: the index must be 0..${count - 1}`,
    );
  }
  return { index, count };
}

function _int(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`--shard auto: ${name}=${text} is not a non-negative integer`);
  }
  return Number(text);
}

/**
 * Resolves `--shard auto` from the environment: Slurm's
 * `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT` (with
 * `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_STEP` for arrays such as
 * `--array=1-10` or `0-18:2`), or Kubernetes' `JOB_COMPLETION_INDEX` with
 * the count from `shardCount` (`--shard-count`) or `LIFCAL_SHARD_COUNT`.
 * Under Slurm, a count given that way wins over Slurm's: the task id is then
 * the shard index (arrays `0-(n-1)`), so a single index re-submitted with
 * `sbatch --array=3` (whose `SLURM_ARRAY_TASK_COUNT` is 1) keeps its shard.
 *
 * @example
 * ```ts
 * import { resolveAutoShard } from "./shard.ts";
 * import assert from "node:assert/strict";
 * const slurm = { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "10", SLURM_ARRAY_TASK_MIN: "0" };
 * assert.deepEqual(resolveAutoShard(slurm), { index: 4, count: 10 });
 * assert.deepEqual(resolveAutoShard({ JOB_COMPLETION_INDEX: "2" }, 5), { index: 2, count: 5 });
 * // `sbatch --array=3` re-submitting one task of ten, with --shard-count 10:
 * const rerun = { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "1", SLURM_ARRAY_TASK_MIN: "3" };
 * assert.deepEqual(resolveAutoShard(rerun, 10), { index: 3, count: 10 });
 * assert.deepEqual(resolveAutoShard({ ...rerun, LIFCAL_SHARD_COUNT: "10" }), { index: 3, count: 10 });
 * assert.throws(() => resolveAutoShard({}), /found neither/);
 * ```
 */
export function resolveAutoShard(
  env: Readonly<Record<string, string | undefined>>,
  shardCount?: number,
): Shard {
  const id = _int(env, "SLURM_ARRAY_TASK_ID");
  const explicit = shardCount ?? _int(env, "LIFCAL_SHARD_COUNT");
  let shard: Shard;
  if (id !== undefined && explicit !== undefined) {
    // The count given: the task id is the shard, even for a re-submitted
    // single index (`sbatch --array=3`, where Slurm's own count is 1).
    if (explicit < 1) {
      throw new UsageError(`--shard auto: the shard count must be at least 1, got ${explicit}`);
    }
    shard = { index: id, count: explicit };
  } else if (id !== undefined) {
    const count = _int(env, "SLURM_ARRAY_TASK_COUNT");
    if (count === undefined || count < 1) {
      throw new UsageError(
        "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
      );
    }
    const min = _int(env, "SLURM_ARRAY_TASK_MIN") ?? 0;
    const step = _int(env, "SLURM_ARRAY_TASK_STEP") ?? 1;
    if (step < 1 || (id - min) % step !== 0) {
      throw new UsageError(
        `--shard auto: SLURM_ARRAY_TASK_ID ${id} is not on the array's grid (min ${min}, step ${step})`,
      );
    }
    shard = { index: (id - min) / step, count };
  } else {
    const index = _int(env, "JOB_COMPLETION_INDEX");
    if (index === undefined) {
      throw new UsageError(
        "--shard auto found neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX in the environment",
      );
    }
    const count = explicit;
    if (count === undefined || count < 1) {
      throw new UsageError(
        "--shard auto with JOB_COMPLETION_INDEX needs the shard count: --shard-count N or LIFCAL_SHARD_COUNT",
      );
    }
    shard = { index, count };
  }
  if (shard.index < 0 || shard.index >= shard.count) {
    throw new UsageError(
      `--shard auto: shard ${shard.index}/${shard.count} does not exist (index must be 0..${
        shard.count - 1
      })`,
    );
  }
  return shard;
}

/**
 * The chips of one shard (ids, or any list): the `index`-th of `count`
 * contiguous blocks whose sizes differ by at most one.
 *
 * @example
 * ```ts
 * import { shardChips } from "./shard.ts";
 * import assert from "node:assert/strict";
 * const chips = [1, 2, 3, 4, 5, 6, 7];
 * assert.deepEqual([0, 1, 2].map((index) => shardChips(chips, { index, count: 3 })), [[1, 2], [3, 4], [5, 6, 7]]);
 * ```
 */
export function shardChips<T>(chips: readonly T[], shard: Shard): T[] {
  const n = chips.length;
  return chips.slice(
    Math.floor((shard.index * n) / shard.count),
    Math.floor(((shard.index + 1) * n) / shard.count),
  );
}

/**
 * The file name of a shard's summary: `summary.shard-<i>-of-<n>.json`.
 *
 * @example
 * ```ts
 * import { shardSummaryName } from "./shard.ts";
 * import assert from "node:assert/strict";
 * assert.equal(shardSummaryName({ index: 2, count: 10 }), "summary.shard-2-of-10.json");
 * ```
 */
export function shardSummaryName(shard: Shard): string {
  return `summary.shard-${shard.index}-of-${shard.count}.json`;
}

/**
 * The shard of a summary file name, or undefined for any other name.
 *
 * @example
 * ```ts
 * import { parseShardSummaryName } from "./shard.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseShardSummaryName("summary.shard-2-of-10.json"), { index: 2, count: 10 });
 * assert.equal(parseShardSummaryName("summary.json"), undefined);
 * ```
 */
export function parseShardSummaryName(name: string): Shard | undefined {
  const m = /^summary\.shard-(\d+)-of-(\d+)\.json$/.exec(name);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
}
