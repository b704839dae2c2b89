/**
 * The calibration target and options of `lifcal calibrate`: a JSON file
 * (`--target`), `--set field=value` on top, `--no-refine` last — validated
 * in full before anything runs, every problem a {@linkcode UsageError}
 * naming the field and value.
 *
 * @module
 */

import { refractorySettings } from "../calib/refractory.ts";
import {
  type NeuronCalibOptions,
  type NeuronCalibTarget,
  optionsToJson,
  resolveOptions,
  resolveTarget,
  targetToJson,
} from "../calib/target.ts";
import type { Assignment } from "./args.ts";
import { asUsageError, UsageError } from "./usage_error.ts";

/** A validated target and options. */
export interface TargetInput {
  /** The target as the user gave it (file, then `--set`). */
  readonly target: NeuronCalibTarget;
  /** The options as given (`--set` of an option field, `--no-refine`). */
  readonly options: NeuronCalibOptions;
  /** The canonical target a result stores (`targetToJson` of the resolved target). */
  readonly canonicalTarget: NeuronCalibTarget;
  /** The canonical options a result stores. */
  readonly canonicalOptions: NeuronCalibOptions;
  /** Warnings of the target (values outside calix's standard ranges). */
  readonly warnings: readonly string[];
}

/** The option fields (everything else is a target field). */
const _OPTION_FIELDS: ReadonlySet<string> = new Set(Object.keys(resolveOptions()));

async function _readTargetFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(
      `Cannot read target file ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `Target file ${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new UsageError(`Target file ${path} must hold a JSON object of target fields`);
  }
  return doc as Record<string, unknown>;
}

/**
 * Reads, merges and validates the target and options: the fields of the
 * target file (option fields such as `noise_seed` may stand beside the
 * target fields), then each `--set` in order, then `refine: false` for
 * `--no-refine`. Checks everything the calibration would reject at its
 * start (units, shapes, limits, the refractory clock).
 *
 * @example
 * ```ts
 * import { loadTargetInput } from "./target_input.ts";
 * import { parseAssignment } from "./args.ts";
 * import assert from "node:assert/strict";
 * const t = await loadTargetInput(undefined, [parseAssignment("tau_mem=20us"), parseAssignment("leak=100")], true);
 * assert.equal(t.canonicalTarget.tau_mem, "20 us");
 * assert.equal(t.canonicalTarget.leak, 100);
 * await assert.rejects(() => loadTargetInput(undefined, [parseAssignment("tau_mem=10")], true), /tau_mem needs a unit/);
 * ```
 */
export async function loadTargetInput(
  targetFile: string | undefined,
  sets: readonly Assignment[],
  refine: boolean,
): Promise<TargetInput> {
  const fields: [string, unknown, string][] = [];
  if (targetFile !== undefined) {
    for (const [k, v] of Object.entries(await _readTargetFile(targetFile))) {
      fields.push([k, v, `target file ${targetFile}`]);
    }
  }
  for (const s of sets) fields.push([s.field, s.value, `--set ${s.text}`]);
  const target: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  for (const [k, v] of fields) (_OPTION_FIELDS.has(k) ? options : target)[k] = v;
  if (!refine) options.refine = false;
  const where = [
    ...(targetFile !== undefined ? [`target file ${targetFile}`] : []),
    ...(sets.length > 0 ? ["--set"] : []),
  ].join(" and ") || "default target";
  const resolved = asUsageError(
    `Invalid target (${where})`,
    () => resolveTarget(target as NeuronCalibTarget),
  );
  const opts = asUsageError(
    `Invalid options (${where})`,
    () => resolveOptions(options as NeuronCalibOptions),
  );
  asUsageError(
    `Invalid target (${where})`,
    () => refractorySettings(resolved.target.refractory_time, resolved.target.holdoff_time),
  );
  return {
    target: target as NeuronCalibTarget,
    options: options as NeuronCalibOptions,
    canonicalTarget: JSON.parse(JSON.stringify(targetToJson(resolved.target))),
    canonicalOptions: JSON.parse(JSON.stringify(optionsToJson(opts))),
    warnings: resolved.warnings,
  };
}
