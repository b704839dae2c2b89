/**
 * The bearer token of `lifcal serve` and of remote clients: from
 * `--token-file FILE` (its first line) or the `LIFCAL_TOKEN` variable.
 *
 * @module
 */

import { UsageError } from "./usage_error.ts";

/**
 * Reads the token: the file's content without its trailing newline, else
 * `LIFCAL_TOKEN`, else `undefined`. An unreadable file or an empty token is
 * a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { readToken } from "./token.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await readToken(undefined, { LIFCAL_TOKEN: "abc" }), "abc");
 * assert.equal(await readToken(undefined, {}), undefined);
 * ```
 */
export async function readToken(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  let token: string | undefined;
  let source: string;
  if (file !== undefined) {
    source = `--token-file ${file}`;
    try {
      token = (await Deno.readTextFile(file)).replace(/\r?\n$/, "");
    } catch (e) {
      throw new UsageError(
        `Cannot read the token file ${file}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  } else {
    source = "LIFCAL_TOKEN";
    token = env.LIFCAL_TOKEN === "" ? undefined : env.LIFCAL_TOKEN;
  }
  if (token !== undefined && token.trim() === "") {
    throw new UsageError(`The token from ${source} is empty`);
  }
  return token;
}
