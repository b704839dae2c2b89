/**
 * Parsers of the command line's flag values. Each throws commander's
 * `InvalidArgumentError` with a sentence naming the value, which `lifcal`
 * reports in one line with exit code 2.
 *
 * @module
 */

import { InvalidArgumentError } from "../deps/commander.ts";

/** The largest seed of a simulated chip (seeds are u32). */
export const MAX_SEED = 0xffffffff;

/**
 * Parses a seed list such as `1-4,10,12-13` into seeds in the order given.
 * A seed listed twice, a backwards range or a seed above 2³²−1 is an error.
 *
 * @example
 * ```ts
 * import { parseSeeds } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseSeeds("1-3,7"), [1, 2, 3, 7]);
 * assert.throws(() => parseSeeds("1-3,2"), /Seed 2 is listed twice/);
 * ```
 */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new InvalidArgumentError(`"${part}" is not a seed or a range like 1-64`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new InvalidArgumentError(`Range ${part} runs backwards`);
    if (hi > MAX_SEED) throw new InvalidArgumentError(`Seed ${hi} is above ${MAX_SEED}`);
    if (hi - lo > 1_000_000) throw new InvalidArgumentError(`Range ${part} is too long`);
    for (let s = lo; s <= hi; s++) {
      if (seen.has(s)) throw new InvalidArgumentError(`Seed ${s} is listed twice`);
      seen.add(s);
      out.push(s);
    }
  }
  return out;
}

/**
 * Parses a positive integer (`--chips`, `--batch-size`, `--shard-count`).
 *
 * @example
 * ```ts
 * import { parsePositiveInt } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parsePositiveInt("8"), 8);
 * assert.throws(() => parsePositiveInt("0"), /positive integer/);
 * ```
 */
export function parsePositiveInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < 1) {
    throw new InvalidArgumentError(`Expected a positive integer, got "${text}"`);
  }
  return v;
}

/**
 * Parses a non-negative integer (`--reconnect-timeout`).
 *
 * @example
 * ```ts
 * import { parseNonNegativeInt } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseNonNegativeInt("0"), 0);
 * assert.throws(() => parseNonNegativeInt("-1"), /non-negative integer/);
 * ```
 */
export function parseNonNegativeInt(text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v)) {
    throw new InvalidArgumentError(`Expected a non-negative integer, got "${text}"`);
  }
  return v;
}

/**
 * Parses a fraction 0..1 (`--min-success`).
 *
 * @example
 * ```ts
 * import { parseFraction } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseFraction("0.95"), 0.95);
 * assert.throws(() => parseFraction("95"), /between 0 and 1/);
 * ```
 */
export function parseFraction(text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !(v >= 0 && v <= 1)) {
    throw new InvalidArgumentError(`Expected a fraction between 0 and 1, got "${text}"`);
  }
  return v;
}

/** One `--set field=value`. */
export interface Assignment {
  /** The target or option field. */
  readonly field: string;
  /** The value: parsed as JSON where it is JSON, else the text itself. */
  readonly value: unknown;
  /** The flag as given, for messages. */
  readonly text: string;
}

/**
 * Parses `field=value`; the value is JSON where it parses as JSON (`100`,
 * `[400, 600]`, `false`), else the text itself (`20us`).
 *
 * @example
 * ```ts
 * import { parseAssignment } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseAssignment("leak=100").value, 100);
 * assert.equal(parseAssignment("tau_mem=20us").value, "20us");
 * assert.deepEqual(parseAssignment('tau_syn=["5 us","8 us"]').value, ["5 us", "8 us"]);
 * ```
 */
export function parseAssignment(text: string): Assignment {
  const eq = text.indexOf("=");
  const field = eq < 0 ? "" : text.slice(0, eq).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) {
    throw new InvalidArgumentError(`"${text}" is not of the form field=value`);
  }
  const raw = text.slice(eq + 1).trim();
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // Not JSON: the text itself, e.g. a time with its unit.
  }
  return { field, value, text };
}

/**
 * Appends a parsed `--set` to the ones before (commander's repeatable option).
 *
 * @example
 * ```ts
 * import { collectAssignment } from "./args.ts";
 * import assert from "node:assert/strict";
 * assert.equal(collectAssignment("leak=90", collectAssignment("reset=60", [])).length, 2);
 * ```
 */
export function collectAssignment(text: string, previous: Assignment[]): Assignment[] {
  return [...previous, parseAssignment(text)];
}
