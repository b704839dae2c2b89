/**
 * The WGSL source of a kernel in `kernels/`, loaded from wherever lifcal was
 * imported from: a local checkout (`file:`), a web server or a package
 * registry (`http:`/`https:`). `fetch` reads all of them in Deno (`file:`
 * needs read permission, `http(s):` net permission).
 *
 * @module
 */

/**
 * Where the kernel `name` (`kernels/<name>.wgsl`) lives, relative to this
 * module.
 *
 * @example
 * ```ts
 * import { wgslUrl } from "./wgsl_source.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(wgslUrl("measure").href, /\/kernels\/measure\.wgsl$/);
 * ```
 */
export function wgslUrl(name: string): URL {
  return new URL(`../../kernels/${name}.wgsl`, import.meta.url);
}

/**
 * Reads the WGSL source of `kernels/<name>.wgsl`. Throws an `Error` naming
 * the URL when it cannot be read.
 *
 * @example
 * ```ts
 * import { wgslSource } from "./wgsl_source.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(await wgslSource("loop_probe"), /fn countLoop/);
 * await assert.rejects(() => wgslSource("no_such_kernel"), /no_such_kernel\.wgsl/);
 * ```
 */
export async function wgslSource(name: string): Promise<string> {
  const url = wgslUrl(name);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(
      `Cannot load the WGSL kernel ${url.href}: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(
      `Cannot load the WGSL kernel ${url.href}: HTTP ${response.status} ${response.statusText}`,
    );
  }
  return await response.text();
}
