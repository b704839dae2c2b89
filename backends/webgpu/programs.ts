/**
 * The kernels' per-dispatch settings as named slots: one program object per
 * kernel (or per mode of a kernel) lists which `Desc` slot (`u0..u13`,
 * `f0..f7`, `kernels/twin_common.wgsl`) holds which setting, so a dispatch
 * names its settings instead of placing numbers by position, and a slot a
 * kernel does not read stays 0. The WGSL reads the same slots; the comments
 * at each entry point name them as here.
 *
 * @module
 */

import type { KernelName } from "./gpu_runtime.ts";
import type { DescValues } from "./layout.ts";
import type { SearchPlan } from "../search_rules.ts";

/** A kernel and the names of its `u` and `f` slots, in slot order (`null`: not read). */
export interface KernelProgram<U extends string, F extends string> {
  /** The WGSL entry point. */
  readonly kernel: KernelName;
  /** Names of `u0, u1, …`. */
  readonly u: readonly (U | null)[];
  /** Names of `f0, f1, …`. */
  readonly f: readonly (F | null)[];
}

/** The values of a program's named slots. */
export type ProgramValues<P> = P extends KernelProgram<infer U, infer F> ? Record<U | F, number>
  : never;

/**
 * Declares a program: its kernel and the names of its slots.
 *
 * @example
 * ```ts
 * import { descOf, program } from "./programs.ts";
 * import assert from "node:assert/strict";
 * const p = program("measureSettled", ["reads", "kind"], []);
 * assert.deepEqual(descOf(p, { reads: 8, kind: 1 }), { u: [8, 1], f: [] });
 * ```
 */
export function program<const U extends string, const F extends string>(
  kernel: KernelName,
  u: readonly (U | null)[],
  f: readonly (F | null)[],
): KernelProgram<U, F> {
  if (u.length > 14 || f.length > 8) {
    throw new RangeError(`${kernel}: a Desc has 14 u and 8 f slots`);
  }
  return { kernel, u, f };
}

/**
 * The positional `u`/`f` arrays of a dispatch from its named values (slots
 * a program does not name are 0).
 *
 * @example
 * ```ts
 * import { descOf, PROGRAMS } from "./programs.ts";
 * import assert from "node:assert/strict";
 * const d = descOf(PROGRAMS.quadrantMean, { instances: 512, perChip: 512, out: 3 });
 * assert.deepEqual(d.u, [512, 512, 3]);
 * ```
 */
export function descOf<U extends string, F extends string>(
  p: KernelProgram<U, F>,
  values: Record<U | F, number>,
): { u: number[]; f: number[] } {
  const pick = (names: readonly (string | null)[]) =>
    names.map((name) => (name === null ? 0 : (values as Record<string, number>)[name]!));
  return { u: pick(p.u), f: pick(p.f) };
}

/**
 * Every kernel's program. Search kernels address the search state in the
 * `sInt`/`sFloat` buffers by region offsets; `source` is the readings'
 * region offset + 1 (0: the readings buffer).
 *
 * @example
 * ```ts
 * import { PROGRAMS } from "./programs.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PROGRAMS.searchSecant.kernel, "searchSecant");
 * assert.equal(PROGRAMS.searchSecant.u.indexOf("left"), 11);
 * ```
 */
export const PROGRAMS = {
  quadrantStats: program("quadrantStats", ["rows"], []),
  computeParams: program("computeParams", [], []),
  updatePotentials: program("updatePotentials", ["voltageRows"], []),
  measureSettled: program("measureSettled", ["reads", "kind"], []),
  measureThresholdMax: program(
    "measureThresholdMax",
    ["samples", "batches", "sub", "start", "stepsPerDispatch"],
    ["dt"],
  ),
  measureTauMem: program("measureTauMem", ["method"], ["stepSeconds", "tauLow", "tauHigh"]),
  measureTauMemCadc: program("measureTauMemCadc", [], ["waitSeconds"]),
  measureTauSyn: program("measureTauSyn", ["input", "events"], ["weight", "tauLow", "tauHigh"]),
  measureSynlineDrop: program("measureSynlineDrop", [], ["weight"]),
  quadrantMedian: program("quadrantMedian", [], []),
  measurePsp: program("measurePsp", ["input", "events", "runs", "sub"], ["weight", "dt"]),
  measureSpikeCount: program(
    "measureSpikeCount",
    ["counter8bit", null, null, "start", "stepsPerDispatch", "steps"],
    ["dt", "overflowValue"],
  ),
  measureCadcReference: program("measureCadcReference", [], ["code"]),
  measureTrace: program(
    "measureTrace",
    [
      "samples",
      "decimation",
      "events",
      "start",
      "stepsPerDispatch",
      "total",
      "eventSteps",
      "eventWeights",
      "samplesPerChip",
    ],
    ["samplePeriod"],
  ),
  searchInit: program(
    "searchInit",
    ["instances", "perChip", "codes", null, null, "offsets", "write", null, "lower", "upper"],
    ["start"],
  ),
  quadrantMean: program("quadrantMean", ["instances", "perChip", "out"], []),
  applyMap: program(
    "applyMap",
    [
      "instances",
      "perChip",
      "codes",
      null,
      null,
      "limits",
      "before",
      null,
      null,
      null,
      null,
      null,
      "op",
      "source",
    ],
    ["value"],
  ),
  traceStep: program(
    "traceStep",
    [
      "instances",
      "perChip",
      "codes",
      "outCodes",
      "outReadings",
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      "source",
    ],
    [],
  ),
  searchBisect: program("searchUpdate", _updateSlots(), [null, "increment"]),
  searchLinearPrediction: program("searchUpdate", _updateSlots(), [
    null,
    "probe",
    "offset",
    "slope",
  ]),
  searchSecant: program("searchSecant", _updateSlots(), [
    null,
    "firstIncrement",
    "span",
    "window",
    "reciprocal",
    "lowLimit",
    "highLimit",
  ]),
  searchSuccess: program(
    "searchSuccess",
    ["instances", "perChip", "codes", null, null, null, "success", null, "lower", "upper"],
    [],
  ),
  combineFlags: program(
    "combineFlags",
    ["instances", "perChip", null, null, null, "other", "flags", "mode"],
    [],
  ),
} as const;

function _updateSlots() {
  return [
    "instances",
    "perChip",
    "codes",
    "histCodes",
    "histDist",
    "targets",
    "write",
    "mode",
    "lower",
    "upper",
    "best",
    "left",
    "inverted",
    "source",
  ] as const;
}

/** The largest finite f32: the WGSL stand-in for an absent clamp limit. */
const _F32_MAX = 3.4028234663852886e38;

/** Where a search's state lies in the `sInt`/`sFloat` buffers. */
export interface SearchRegions {
  /** Instances (act chips × per chip). */
  readonly instances: number;
  /** Instances per chip. */
  readonly perChip: number;
  /** Codes (`sInt`). */
  readonly codes: number;
  /** History codes (`sInt`). */
  readonly histCodes: number;
  /** History distances or residuals (`sFloat`). */
  readonly histDist: number;
  /** Targets (`sFloat`). */
  readonly targets: number;
  /** Readings: their `sFloat` offset + 1, or 0 for the readings buffer. */
  readonly source: number;
  /** The field (`fieldId`) + 1 each new code is written to, or 0 for none. */
  readonly write: number;
}

function _withKernel<U extends string, F extends string>(
  p: KernelProgram<U, F>,
  values: Record<U | F, number>,
): { kernel: KernelName; u: number[]; f: number[] } {
  return { kernel: p.kernel, ...descOf(p, values) };
}

/**
 * The update dispatch of step `step` of a search: its kernel (`searchSecant`
 * for the secant search, `searchUpdate` for the others) and the mode its
 * algorithm and step call for, as `search_rules.ts`'s `searchUpdate` takes
 * the step; the one place that encodes a plan for the kernels.
 *
 * @example
 * ```ts
 * import { searchUpdateDesc } from "./programs.ts";
 * import { planSearch } from "../search_rules.ts";
 * import assert from "node:assert/strict";
 * const plan = planSearch({ name: "binary" }, 0, 1022);
 * const regions = {
 *   instances: 4, perChip: 4, codes: 0, histCodes: 4, histDist: 0, targets: 12, source: 0, write: 1,
 * };
 * const d = searchUpdateDesc(plan, false, 0, regions);
 * assert.equal(d.kernel, "searchUpdate");
 * assert.equal(d.u[7], 0); // mode 0: bisect
 * assert.equal(d.f[1], 256); // by the first increment
 * assert.equal(searchUpdateDesc(plan, false, 11, regions).u[7], 2); // the final pick
 * ```
 */
export function searchUpdateDesc(
  plan: SearchPlan,
  inverted: boolean,
  step: number,
  regions: SearchRegions,
): { kernel: KernelName; u: number[]; f: number[] } {
  const left = plan.measurements - step - 1;
  const common = {
    ...regions,
    lower: plan.lower,
    upper: plan.upper,
    best: plan.best,
    left,
    inverted: inverted ? 1 : 0,
  };
  const a = plan.algorithm;
  if (a.name === "linear-prediction") {
    return _withKernel(PROGRAMS.searchLinearPrediction, {
      ...common,
      mode: 3,
      probe: plan.start,
      offset: a.offset ?? 0,
      slope: a.slope ?? 1,
    });
  }
  if (a.name === "secant") {
    const [floor, ceiling] = a.limits ?? [-_F32_MAX, _F32_MAX];
    return _withKernel(PROGRAMS.searchSecant, {
      ...common,
      mode: 4,
      firstIncrement: plan.increments[0]!,
      span: plan.span,
      window: plan.window,
      reciprocal: a.scale === "reciprocal" ? 1 : 0,
      lowLimit: Math.max(floor, -_F32_MAX),
      highLimit: Math.min(ceiling, _F32_MAX),
    });
  }
  return _withKernel(PROGRAMS.searchBisect, {
    ...common,
    mode: left > 1 ? 0 : left === 1 ? 1 : 2,
    increment: left > 1 ? plan.increments[step]! : 0,
  });
}

/** The settings of one dispatch of a program, for `_Job.dispatch`. */
export type ProgramDesc = Omit<DescValues, "chips">;
