/**
 * The lifcal version, kept equal to `deno.json`'s `version` (a test checks it).
 *
 * @module
 */

/**
 * The lifcal version.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * import assert from "node:assert/strict";
 * assert.match(VERSION, /^\d+\.\d+\.\d+$/);
 * ```
 */
export const VERSION = "0.1.0";
