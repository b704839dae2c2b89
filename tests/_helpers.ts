/**
 * Test helpers: statistics and a truth-driven per-neuron code finder (tests
 * may read a twin's truth; calibration code never does).
 *
 * @module
 */

import type { Backend, ConfigPatch, NeuronCapMemRow, Truth } from "../mod.ts";

/** A small seeded generator (mulberry32), uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mean of an array. */
export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Sample standard deviation. */
export function std(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return Math.sqrt(s / (a.length - 1));
}

/** Median. */
export function median(a: ArrayLike<number>): number {
  const s = Array.from(a).sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : 0.5 * (s[h - 1]! + s[h]!);
}

/** Fraction of elements satisfying a predicate. */
export function fraction(a: ArrayLike<number>, pred: (v: number, i: number) => boolean): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i]!, i)) k++;
  return k / a.length;
}

/**
 * Finds per-neuron codes of `row` (monotonic truth quantity) that bring
 * `quantity(truth)` closest to `target`, by bisection on the twin's truth,
 * with `extra` applied as well. Returns chip-major codes.
 */
export async function codesForTruth(
  backend: Backend,
  row: NeuronCapMemRow,
  quantity: (t: Truth) => Float64Array,
  target: number,
  extra: ConfigPatch = {},
): Promise<Int32Array> {
  const n = backend.chips.length * 512;
  const lo = new Int32Array(n);
  const hi = new Int32Array(n).fill(1022);
  const probe = async (codes: Int32Array) =>
    quantity(await backend.truth!({ ...extra, [row]: codes }));
  const atLo = await probe(lo);
  const atHi = await probe(hi);
  for (let it = 0; it < 11; it++) {
    const mid = lo.map((l, i) => (l + hi[i]!) >> 1);
    const v = await probe(mid);
    for (let i = 0; i < n; i++) {
      const increasing = atHi[i]! > atLo[i]!;
      if ((v[i]! < target) === increasing) lo[i] = mid[i]!;
      else hi[i] = mid[i]!;
    }
  }
  const vl = await probe(lo);
  const vh = await probe(hi);
  return lo.map((l, i) => Math.abs(vl[i]! - target) <= Math.abs(vh[i]! - target) ? l : hi[i]!);
}
