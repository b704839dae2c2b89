/**
 * picocolors, the terminal colours of the `lifcal` command line (off with
 * `NO_COLOR` or without a terminal). Its version is written here and nowhere
 * else.
 *
 * @example
 * ```ts
 * import pc from "./picocolors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(pc.bold("lifcal"), /lifcal/);
 * ```
 *
 * @module
 */

export { default } from "npm:picocolors@^1.1.1";
