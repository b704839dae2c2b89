/**
 * The errors of the command line that choose its exit code: a usage or input
 * error (exit 2, nothing written) and a refusal of `lifcal merge` (exit 1).
 *
 * @module
 */

/**
 * A usage or input error: a bad flag, target or output folder. `lifcal`
 * prints its one-line message and exits with code 2 before writing anything.
 *
 * @example
 * ```ts
 * import { UsageError } from "./usage_error.ts";
 * import assert from "node:assert/strict";
 * assert.equal(new UsageError("Bad flag").name, "UsageError");
 * ```
 */
export class UsageError extends Error {
  /** The error's name. */
  override name = "UsageError";
}

/**
 * `lifcal merge` refusing to join shard outputs (missing, duplicated or
 * inconsistent chips): exit code 1.
 *
 * @example
 * ```ts
 * import { MergeRefusal } from "./usage_error.ts";
 * import assert from "node:assert/strict";
 * assert.match(new MergeRefusal("Chips sim-4 are missing").message, /sim-4/);
 * ```
 */
export class MergeRefusal extends Error {
  /** The error's name. */
  override name = "MergeRefusal";
}

/**
 * Runs `fn` and turns the `TypeError`s and `RangeError`s it throws (the
 * library's validation errors) into a {@linkcode UsageError} whose message
 * starts with `context`.
 *
 * @example
 * ```ts
 * import { asUsageError, UsageError } from "./usage_error.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => asUsageError("Target", () => { throw new RangeError("leak is 300") }), UsageError);
 * ```
 */
export function asUsageError<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) {
      throw new UsageError(`${context}: ${e.message}`);
    }
    throw e;
  }
}

/**
 * A message in one line: line breaks (from a file's own content quoted in a
 * parser's message, or a library's multi-line text) and the blanks around
 * them become one space, so every error `lifcal` prints is one line.
 *
 * @example
 * ```ts
 * import { oneLine } from "./usage_error.ts";
 * import assert from "node:assert/strict";
 * assert.equal(oneLine('Unexpected token, "{\n  \"leak\": x\r\n}" is not valid JSON'),
 *   'Unexpected token, "{ \"leak\": x }" is not valid JSON');
 * ```
 */
export function oneLine(message: string): string {
  return message.replace(/[ \t]*(?:\r\n|\r|\n|\u2028|\u2029)\s*/g, " ").trim();
}
