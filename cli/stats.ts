/**
 * Statistics over one chip's neurons, skipping values that were not
 * measurable (`null`, NaN, ±∞): the mean, calix's trimmed standard deviation
 * and the median.
 *
 * @module
 */

/** The finite values of an array. */
function _finite(values: ArrayLike<number | null>): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/**
 * Mean of the finite values, or null if there are none.
 *
 * @example
 * ```ts
 * import { finiteMean } from "./stats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(finiteMean([1, null, 3]), 2);
 * assert.equal(finiteMean([null]), null);
 * ```
 */
export function finiteMean(values: ArrayLike<number | null>): number | null {
  const v = _finite(values);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

/**
 * Standard deviation (n − 1) of the finite values after dropping `trim` of
 * them from each tail — calix's acceptance test trims 5 %. Null with fewer
 * than two values left.
 *
 * @example
 * ```ts
 * import { trimmedStd } from "./stats.ts";
 * import assert from "node:assert/strict";
 * const v = Array.from({ length: 100 }, (_, i) => (i === 0 ? 1e6 : i % 2));
 * assert.ok(trimmedStd(v)! < 0.6);
 * ```
 */
export function trimmedStd(values: ArrayLike<number | null>, trim = 0.05): number | null {
  const v = _finite(values).sort((a, b) => a - b);
  const k = Math.floor(v.length * trim);
  const kept = v.slice(k, v.length - k);
  if (kept.length < 2) return null;
  const m = kept.reduce((a, b) => a + b, 0) / kept.length;
  return Math.sqrt(kept.reduce((a, b) => a + (b - m) ** 2, 0) / (kept.length - 1));
}

/**
 * The median of the finite values (the upper one for an even count, as
 * calix's acceptance test picks its reference code), or null.
 *
 * @example
 * ```ts
 * import { upperMedian } from "./stats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(upperMedian([4, 1, 3, 2]), 3);
 * assert.equal(upperMedian([NaN]), null);
 * ```
 */
export function upperMedian(values: ArrayLike<number | null>): number | null {
  const v = _finite(values).sort((a, b) => a - b);
  return v.length === 0 ? null : v[v.length >> 1]!;
}

/**
 * Quantiles of the finite values, each linearly interpolated between the
 * two nearest ranks (numpy's default: `q = 0.5` is the median), or null
 * for each when there are none. Sorts once for all `qs`.
 *
 * @example Median and 90th percentile
 * ```ts
 * import { quantiles } from "./stats.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(quantiles([4, 1, NaN, 3, 2, 5], [0.5, 0.9]), [3, 4.6]);
 * assert.deepEqual(quantiles([null], [0.5]), [null]);
 * ```
 */
export function quantiles(
  values: ArrayLike<number | null>,
  qs: readonly number[],
): (number | null)[] {
  const finite = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isFinite(v)) finite[n++] = v;
  }
  if (n === 0) return qs.map(() => null);
  const sorted = finite.subarray(0, n).sort();
  return qs.map((q) => {
    const pos = Math.min(1, Math.max(0, q)) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
  });
}
