/**
 * Files of an output folder: atomic writes whose temporary files are named
 * after their target (so a run can clear the leftovers of a killed run for
 * exactly the files it owns, never another shard's), and the folder check
 * done before anything is written.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { temporaryPrefix, writeFileAtomic } from "../calib/atomic_write.ts";
import { UsageError } from "./usage_error.ts";

/**
 * Writes `text` to `path` atomically: to `.<name>.<uuid>.tmp` in the same
 * folder, then renamed over `path` (the library's `writeFileAtomic`).
 *
 * @example
 * ```ts
 * import { writeAtomic } from "./files.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await writeAtomic(`${dir}/a.json`, "{}");
 * assert.equal(await Deno.readTextFile(`${dir}/a.json`), "{}");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text);
}

/**
 * Removes the temporary files that an interrupted {@linkcode writeAtomic}
 * of `path` left behind. Returns how many were removed.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./files.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.a.json.123.tmp`, "{");
 * assert.equal(await removeStaleTemps(`${dir}/a.json`), 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleTemps(path: string): Promise<number> {
  const dir = dirname(path);
  const prefix = temporaryPrefix(path);
  let removed = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.startsWith(prefix) && e.name.endsWith(".tmp")) {
        await Deno.remove(join(dir, e.name));
        removed++;
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed;
}

/**
 * Makes sure `dir` exists (creating it) and that files can be created in
 * it, by writing and removing a probe file. Throws a {@linkcode UsageError}
 * naming the folder otherwise.
 *
 * @example
 * ```ts
 * import { ensureWritableDir } from "./files.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await ensureWritableDir(`${dir}/out`);
 * const file = `${dir}/file`;
 * await Deno.writeTextFile(file, "");
 * await assert.rejects(() => ensureWritableDir(`${file}/out`), /is not writable/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  _nonEmpty(dir, "The output folder");
  const probe = join(dir, `.lifcal-probe-${crypto.randomUUID()}.tmp`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    await Deno.remove(probe).catch(() => {});
    throw new UsageError(
      `Output folder ${dir} is not writable: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function _nonEmpty(dir: string, what: string): void {
  if (dir.trim() === "") {
    throw new UsageError(
      `${what} is an empty path; give a folder (--out . for the current folder)`,
    );
  }
}

/**
 * Checks an output folder before anything is run or written: `flag`'s value
 * must not be empty (an empty `--out ""` would otherwise write into the
 * current folder), and a `chips` entry in it must be a folder. Each problem
 * is a {@linkcode UsageError} in one line; whether files can be created is
 * {@linkcode ensureWritableDir}'s check.
 *
 * @example
 * ```ts
 * import { checkOutputFolder } from "./files.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await checkOutputFolder(dir, "--out");
 * await assert.rejects(() => checkOutputFolder("", "--out"), /--out is an empty path/);
 * await Deno.writeTextFile(`${dir}/chips`, "");
 * await assert.rejects(() => checkOutputFolder(dir, "--out"), /chips is a file, not a folder/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkOutputFolder(dir: string, flag: string): Promise<void> {
  _nonEmpty(dir, flag);
  const chips = join(dir, "chips");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(chips);
  } catch {
    return; // Missing (created later), or unreachable: ensureWritableDir says why.
  }
  if (!info.isDirectory) {
    throw new UsageError(
      `Output folder ${dir} cannot hold the chips' results: ${chips} is a file, not a folder`,
    );
  }
}

/**
 * Whether a path exists (anything at all).
 *
 * @example
 * ```ts
 * import { exists } from "./files.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await exists("/definitely/not/here"), false);
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
