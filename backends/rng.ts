/**
 * The counter-based random numbers of lifcal, shared by the twin's mismatch,
 * its temporal noise and the search start points. Everything is a pure
 * function of 32-bit keys (no generator state), so any executor — the CPU
 * loops here, a WGSL kernel — draws the identical stream in any order, and a
 * chip's numbers never depend on which chips share its batch.
 *
 * The hash is PCG's output permutation used as a hash (Jarzynski & Olano,
 * "Hash Functions for GPU Rendering", JCGT 2020), chained over the keys:
 * `hash4(a, b, c, d) = pcg(d ^ pcg(c ^ pcg(b ^ pcg(a))))`. Only 32-bit
 * integer multiply, add, xor and shifts are used, all exact in WGSL `u32`.
 *
 * @module
 */

/**
 * PCG hash of one 32-bit word.
 *
 * @example
 * ```ts
 * import { pcg } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.equal(pcg(0), pcg(0));
 * assert.notEqual(pcg(1), pcg(2));
 * assert.ok(pcg(12345) >= 0 && pcg(12345) < 2 ** 32);
 * ```
 */
export function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/**
 * Hash prefix of three keys; finish it with {@linkcode hashFinish} per sample.
 * Splitting the chain lets a loop over samples pay two PCG rounds per draw.
 *
 * @example
 * ```ts
 * import { hash3, hashFinish, hash4 } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.equal(hashFinish(hash3(1, 2, 3), 4), hash4(1, 2, 3, 4));
 * ```
 */
export function hash3(a: number, b: number, c: number): number {
  return pcg((c ^ pcg((b ^ pcg(a >>> 0)) >>> 0)) >>> 0);
}

/**
 * Completes a {@linkcode hash3} prefix with a fourth key.
 *
 * @example
 * ```ts
 * import { hash3, hashFinish } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.notEqual(hashFinish(hash3(1, 2, 3), 0), hashFinish(hash3(1, 2, 3), 1));
 * ```
 */
export function hashFinish(prefix: number, d: number): number {
  return pcg((d ^ prefix) >>> 0);
}

/**
 * Hash of four 32-bit keys.
 *
 * @example
 * ```ts
 * import { hash4 } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.notEqual(hash4(7, 0, 0, 0), hash4(7, 1, 0, 0));
 * ```
 */
export function hash4(a: number, b: number, c: number, d: number): number {
  return hashFinish(hash3(a, b, c), d);
}

/**
 * A uniform number in (0, 1) from a 32-bit hash: the top 24 bits, centred in
 * their bin, so neither 0 nor 1 can occur (`f32(x >> 8) + 0.5) / 2^24`).
 *
 * @example
 * ```ts
 * import { toUniform } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.ok(toUniform(0) > 0);
 * assert.ok(toUniform(0xffffffff) < 1);
 * ```
 */
export function toUniform(h: number): number {
  return ((h >>> 8) + 0.5) * 5.9604644775390625e-8;
}

/**
 * A standard normal draw from a {@linkcode hash3} prefix and a sample index:
 * the uniform of `hashFinish(prefix, sample)` through the inverse normal CDF
 * (Acklam's rational approximation, relative error < 1.2e-9). One hash and
 * no trigonometry per draw; the 24-bit uniform bounds draws to ±5.4σ.
 *
 * @example Moments of many draws
 * ```ts
 * import { hash3, normalAt } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const p = hash3(42, 0, 0);
 * let s = 0, s2 = 0;
 * for (let i = 0; i < 20000; i++) { const z = normalAt(p, i); s += z; s2 += z * z; }
 * assert.ok(Math.abs(s / 20000) < 0.03);
 * assert.ok(Math.abs(s2 / 20000 - 1) < 0.05);
 * ```
 */
export function normalAt(prefix: number, sample: number): number {
  return inverseNormal(toUniform(hashFinish(prefix, sample >>> 0)));
}

/**
 * The inverse of the standard normal CDF for `p` in (0, 1) (Acklam's
 * algorithm: a rational function in the centre, of `sqrt(−2·ln p)` in the tails).
 *
 * @example
 * ```ts
 * import { inverseNormal } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.ok(Math.abs(inverseNormal(0.5)) < 1e-12);
 * assert.ok(Math.abs(inverseNormal(0.975) - 1.959963985) < 1e-8);
 * assert.ok(Math.abs(inverseNormal(0.001) + 3.090232306) < 1e-8);
 * ```
 */
export function inverseNormal(p: number): number {
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q -
              2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q +
            3.754408661907416) * q + 1);
  }
  if (p > 0.97575) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q -
              2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q +
            3.754408661907416) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r +
            1.383577518672690e2) * r - 3.066479806614716e1) * r + 2.506628277459239) *
    q /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r +
              6.680131188771972e1) * r - 1.328068155288572e1) * r + 1);
}

/**
 * Domain separators for the third hash key ("lane") of temporal noise:
 * `lane = stream << 11 | index` with `index` a neuron (0..511) or a CADC
 * channel (0..1023). Each physical noise source has its own stream so that
 * the draws never collide.
 */
export const NoiseStream = {
  /** Membrane OU noise, one draw per integration segment. */
  membrane: 1,
  /** Excitatory synaptic line OU noise. */
  lineExc: 2,
  /** Inhibitory synaptic line OU noise. */
  lineInh: 3,
  /** CADC read noise, per channel and read. */
  cadc: 4,
  /** MADC read noise, per sample. */
  madc: 5,
  /** Initial (stationary) state draws. */
  initial: 6,
  /** NoisyBinarySearch start offsets, per search instance. */
  searchStart: 7,
} as const;

/**
 * The lane key of a noise stream and element.
 *
 * @example
 * ```ts
 * import { lane, NoiseStream } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.equal(lane(NoiseStream.cadc, 3), (4 << 11) | 3);
 * ```
 */
export function lane(stream: number, index: number): number {
  return ((stream << 11) | index) >>> 0;
}

/**
 * The mismatch key of a chip seed: fixed-pattern draws use
 * `hash4(mismatchKey(seed), quantity, index, k)`, temporal noise uses
 * `hash4(seed, operation, lane, sample)`; the separate first key keeps the two
 * families apart.
 *
 * @example
 * ```ts
 * import { mismatchKey } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.notEqual(mismatchKey(1), 1);
 * ```
 */
export function mismatchKey(seed: number): number {
  return (pcg(seed >>> 0) ^ 0x6d69736d) >>> 0;
}

/**
 * A 32-bit key for a chip without a seed (hardware): FNV-1a of its id.
 *
 * @example
 * ```ts
 * import { keyOfId } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.equal(keyOfId("hx-07"), keyOfId("hx-07"));
 * assert.notEqual(keyOfId("hx-07"), keyOfId("hx-08"));
 * ```
 */
export function keyOfId(id: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(id)) {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Uniform integer in `[-noise, +noise]` for a NoisyBinarySearch start point
 * (calix's ±noise offset), keyed by the chip key, the chip's operation
 * counter at the start of the search, and the search instance.
 *
 * @example
 * ```ts
 * import { searchStartOffset } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const v = searchStartOffset(3, 10, 5, 5);
 * assert.ok(Number.isInteger(v) && v >= -5 && v <= 5);
 * ```
 */
export function searchStartOffset(
  key: number,
  counter: number,
  instance: number,
  noise: number,
): number {
  const u = toUniform(hash4(key, counter, lane(NoiseStream.searchStart, 0), instance));
  return Math.min(noise, Math.floor(u * (2 * noise + 1)) - noise);
}
