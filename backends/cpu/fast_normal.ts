/**
 * `normalAt` of `../rng.ts` for the CPU executor's hot loops: the same
 * operations in the same order (so the same bits — `tests/cpu_workers_test.ts`
 * holds them together over every branch), with the rare tails of the inverse
 * CDF out of line so that the common path stays small enough to inline.
 *
 * @module
 */

function _pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

function _tail(p: number): number {
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q -
              2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q +
            3.754408661907416) * q + 1);
  }
  const q = Math.sqrt(-2 * Math.log(1 - p));
  return -(((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q -
            2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) /
    ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q +
          3.754408661907416) * q + 1);
}

/**
 * A standard normal draw from a `hash3` prefix and a sample index, bit for
 * bit `normalAt(prefix, sample)`.
 *
 * @example
 * ```ts
 * import { normalAt as fast } from "./fast_normal.ts";
 * import { hash3, normalAt } from "../rng.ts";
 * import assert from "node:assert/strict";
 * const p = hash3(5, 6, 7);
 * for (let i = 0; i < 10000; i++) assert.ok(Object.is(fast(p, i), normalAt(p, i)));
 * ```
 */
export function normalAt(prefix: number, sample: number): number {
  const h = _pcg(((sample >>> 0) ^ prefix) >>> 0);
  const p = ((h >>> 8) + 0.5) * 5.9604644775390625e-8;
  if (p < 0.02425 || p > 0.97575) return _tail(p);
  const q = p - 0.5;
  const r = q * q;
  return (((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r +
            1.383577518672690e2) * r - 3.066479806614716e1) * r + 2.506628277459239) *
    q /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r +
              6.680131188771972e1) * r - 1.328068155288572e1) * r + 1);
}
