/**
 * Atomic file writes: the text goes to a temporary file in the same folder,
 * which is then renamed over the target, so a reader (or a crash) never sees
 * a half-written file.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/**
 * The name prefix of `path`'s temporary files (`.<name>.`): a writer's
 * leftovers after a crash can be found, and removed, for exactly its own
 * files.
 *
 * @example
 * ```ts
 * import { temporaryPrefix } from "./atomic_write.ts";
 * import assert from "node:assert/strict";
 * assert.equal(temporaryPrefix("/out/chips/sim-1.json"), ".sim-1.json.");
 * ```
 */
export function temporaryPrefix(path: string): string {
  return `.${basename(path)}.`;
}

/**
 * Writes `text` to `path` atomically — to `.<name>.<uuid>.tmp` in the same
 * folder, then renamed over `path` — creating the folder if needed. Readers
 * and crashes see the old file or the new one, never a part.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a/b.json`, "{}");
 * assert.equal(await Deno.readTextFile(`${dir}/a/b.json`), "{}");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `${temporaryPrefix(path)}${crypto.randomUUID()}.tmp`);
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
