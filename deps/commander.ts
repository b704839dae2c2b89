/**
 * commander with its strict typings (`@commander-js/extra-typings`), the
 * argument parser of the `lifcal` command line. The versions are written here
 * and nowhere else, so `cli/main.ts` runs by path, by URL and through
 * `deno install -g` without lifcal's `deno.json`.
 *
 * @example
 * ```ts
 * import { Command } from "./commander.ts";
 * import assert from "node:assert/strict";
 *
 * const program = new Command().option("--chips <n>").exitOverride();
 * program.parse(["--chips", "2"], { from: "user" });
 * assert.equal(program.opts().chips, "2");
 * ```
 *
 * @module
 */

// The typings wrap commander's classes; commander itself is their peer
// dependency, pinned here to the version the typings were written for.
import "npm:commander@^15.1.0";

export {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "npm:@commander-js/extra-typings@^15.1.0";
