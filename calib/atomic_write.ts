/**
 * Atomic file writes: the text goes to a temporary file in the same folder,
 * which is then renamed over the target, so a reader (or a crash) never sees
 * a half-written file.
 *
 * @module
 */

import { dirname, join } from "node:path";

/**
 * Writes `text` to `path` atomically (temporary file + rename), creating the
 * folder if needed.
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
  const tmp = join(dir, `.${crypto.randomUUID()}.tmp`);
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
