/**
 * zod, the schema library behind `NeuronCalibTargetSchema` and the result
 * and summary parsers. lifcal's only runtime dependency of the library; its
 * version is written here and nowhere else, so lifcal works when imported from
 * a project with its own (or no) `deno.json`.
 *
 * @example
 * ```ts
 * import { z } from "./zod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(z.number().int().parse(3), 3);
 * ```
 *
 * @module
 */

export { z } from "npm:zod@^4.1.0";
