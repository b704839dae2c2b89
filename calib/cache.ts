/**
 * The content-addressed calibration cache: one file per chip, named by the
 * SHA-256 of everything that determines its result — the target and options,
 * the full chip id, the twin model's numbers (for simulated chips) and the
 * lifcal version. Files are written atomically; a file that does not parse,
 * does not validate or belongs to another key is reported and recomputed,
 * never trusted.
 *
 * @module
 */

import { join } from "node:path";
import type { TwinConfig } from "../backends/twin/twin_config.ts";
import { VERSION } from "../version.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { type NeuronCalibResult, parseResult, resultToJson } from "./result.ts";
import type { NeuronCalibOptions, NeuronCalibTarget } from "./target.ts";

/** What the cache key covers. */
export interface CacheKeyInput {
  /** The resolved target, as JSON with units. */
  readonly target: NeuronCalibTarget;
  /** The resolved options, as JSON. */
  readonly options: NeuronCalibOptions;
  /** Whether the CADC is calibrated first (part of what the result means). */
  readonly calibrateCadc: boolean;
  /** Full chip id. */
  readonly chipId: string;
  /** The twin model's numbers, for simulated chips. */
  readonly twin?: TwinConfig;
}

/**
 * The cache key of one chip's calibration: SHA-256 hex of a canonical JSON
 * document of the inputs and the lifcal version.
 *
 * @example
 * ```ts
 * import { cacheKey } from "./cache.ts";
 * import assert from "node:assert/strict";
 * const a = await cacheKey({ target: {}, options: {}, calibrateCadc: true, chipId: "sim-1" });
 * const b = await cacheKey({ target: {}, options: {}, calibrateCadc: true, chipId: "sim-2" });
 * assert.match(a, /^[0-9a-f]{64}$/);
 * assert.notEqual(a, b);
 * ```
 */
export async function cacheKey(input: CacheKeyInput): Promise<string> {
  const doc = _canonical({ ...input, twin: input.twin ?? null, lifcal_version: VERSION });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(doc));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function _canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(_canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v as object).sort();
    return `{${
      keys.filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${_canonical((v as Record<string, unknown>)[k])}`)
        .join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** What a cache lookup found. */
export type CacheLookup =
  | { readonly status: "hit"; readonly result: NeuronCalibResult }
  | { readonly status: "miss" }
  | { readonly status: "corrupt"; readonly reason: string };

/**
 * Looks a key up in a cache folder.
 *
 * @example
 * ```ts
 * import { readCache } from "./cache.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * assert.equal((await readCache(dir, "0".repeat(64), "sim-1")).status, "miss");
 * await Deno.writeTextFile(`${dir}/${"0".repeat(64)}.json`, "{ half a file");
 * assert.equal((await readCache(dir, "0".repeat(64), "sim-1")).status, "corrupt");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readCache(dir: string, key: string, chipId: string): Promise<CacheLookup> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, `${key}.json`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { status: "miss" };
    throw e;
  }
  try {
    const doc = JSON.parse(text) as { key?: unknown; result?: unknown };
    if (doc.key !== key) return { status: "corrupt", reason: "it belongs to another key" };
    const result = parseResult(JSON.stringify(doc.result));
    if (result.kind !== "neuron" || result.chipId !== chipId) {
      return { status: "corrupt", reason: `it holds no neuron result for ${chipId}` };
    }
    return { status: "hit", result };
  } catch (e) {
    return { status: "corrupt", reason: (e as Error).message };
  }
}

/**
 * Stores a result under its key, atomically.
 *
 * @example
 * ```ts ignore
 * await writeCache(dir, key, result);
 * ```
 */
export async function writeCache(
  dir: string,
  key: string,
  result: NeuronCalibResult,
): Promise<void> {
  const body = resultToJson(result).trimEnd();
  await writeFileAtomic(
    join(dir, `${key}.json`),
    `{"key":${JSON.stringify(key)},"result":${body}}\n`,
  );
}
