/**
 * The convergence of a calibration's searches, step by step: a backend
 * wrapper that asks every search the calibration runs for its trace and
 * keeps, per chip and search, the median over the searched instances
 * (neurons, quadrants, channels) of |reading − target| after each step.
 * Tracing only records; codes, readings and the chips' operation counters
 * are the same as without it.
 *
 * @module
 */

import type { Backend, SearchResult, SearchSpec } from "../backends/backend.ts";
import { expandPerInstance } from "../backends/generic_search.ts";
import type { MeasurementKind } from "../backends/measurement.ts";

/** One search of one chip: what was searched and its median |error| per step. */
export interface SearchTrace {
  /** The searched field, e.g. `v_leak`. */
  readonly field: string;
  /** The measurement kind the search compared with its target. */
  readonly measurement: MeasurementKind;
  /** The unit of the errors: `CADC LSB`, `us` or `spikes`. */
  readonly unit: string;
  /** Median over the instances of |reading − target| after each step (null: nothing finite). */
  readonly median_abs_error: (number | null)[];
}

/**
 * The unit in which a measurement kind's errors are kept (times in µs).
 *
 * @example
 * ```ts
 * import { errorUnit } from "./convergence.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(errorUnit("tau-mem"), { unit: "us", scale: 1e6 });
 * assert.deepEqual(errorUnit("resting-potential"), { unit: "CADC LSB", scale: 1 });
 * ```
 */
export function errorUnit(kind: MeasurementKind): { unit: string; scale: number } {
  switch (kind) {
    case "tau-mem":
    case "tau-mem-reset":
    case "tau-syn-exc":
    case "tau-syn-inh":
      return { unit: "us", scale: 1e6 };
    case "spike-count":
      return { unit: "spikes", scale: 1 };
    default:
      return { unit: "CADC LSB", scale: 1 };
  }
}

function _median(values: number[]): number | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const h = values.length >> 1;
  return values.length % 2 ? values[h]! : 0.5 * (values[h - 1]! + values[h]!);
}

function _record(
  chips: number,
  spec: SearchSpec,
  result: SearchResult,
  traces: SearchTrace[][],
): void {
  const trace = result.trace;
  if (!trace) return;
  const size = result.success.length / chips;
  const active = spec.chips ?? Array.from({ length: chips }, (_, c) => c);
  const target = expandPerInstance(spec.target, size, chips);
  const { unit, scale } = errorUnit(spec.measurement.kind);
  active.forEach((c, k) => {
    const errors = trace.readings.map((readings) => {
      const abs: number[] = [];
      for (let i = 0; i < size; i++) {
        const e = Math.abs(readings[k * size + i]! - target[c * size + i]!) * scale;
        if (Number.isFinite(e)) abs.push(e);
      }
      return _median(abs);
    });
    traces[c]!.push({
      field: spec.field,
      measurement: spec.measurement.kind,
      unit,
      median_abs_error: errors,
    });
  });
}

/**
 * Wraps a backend so that every search run through it is traced; `traces[c]`
 * lists chip `c`'s searches in the order they ran.
 *
 * @example
 * ```ts
 * import { openBackend } from "../mod.ts";
 * import { tracingBackend } from "./convergence.ts";
 * import assert from "node:assert/strict";
 * const inner = await openBackend({ backend: "cpu", chips: 1 });
 * const { backend, traces } = tracingBackend(inner);
 * const r = await backend.search({ field: "v_leak", algorithm: { name: "binary" }, target: 80,
 *   measurement: { kind: "resting-potential" } });
 * assert.equal(r.trace, undefined);
 * assert.equal(traces[0]![0]!.field, "v_leak");
 * assert.ok(traces[0]![0]!.median_abs_error.at(-1)! < 3);
 * await backend.close();
 * ```
 */
export function tracingBackend(inner: Backend): { backend: Backend; traces: SearchTrace[][] } {
  const traces: SearchTrace[][] = inner.chips.map(() => []);
  const backend: Backend = {
    info: inner.info,
    chips: inner.chips,
    keys: inner.keys,
    ...(inner.twin ? { twin: inner.twin } : {}),
    counters: () => inner.counters(),
    claim: (n, selection) => inner.claim(n, selection),
    restoreCounters: (counters, selection) => inner.restoreCounters(counters, selection),
    write: (patch, selection) => inner.write(patch, selection),
    config: () => inner.config(),
    measure: (m, selection) => inner.measure(m, selection),
    search: async (spec) => {
      const result = await inner.search({ ...spec, trace: true });
      _record(inner.chips.length, spec, result, traces);
      if (spec.trace) return result;
      const { trace: _trace, ...rest } = result;
      return rest;
    },
    ...(inner.truth ? { truth: (patch) => inner.truth!(patch) } : {}),
    close: () => inner.close(),
  };
  return { backend, traces };
}
