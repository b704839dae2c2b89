/**
 * Per-chip arrays of a calibration: per-neuron values tiled over the chips
 * of a batch, one value per chip spread over its neurons, and chips grouped
 * by a per-chip decision (so that each group runs on a chip selection and
 * no chip's decision adds operations to another chip).
 *
 * @module
 */

import { NEURONS } from "../backends/layout.ts";

/**
 * One value per chip, spread over `size` elements of each chip.
 *
 * @example
 * ```ts
 * import { perChipValues } from "./chip_arrays.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...perChipValues([1, 2], 2)], [1, 1, 2, 2]);
 * ```
 */
export function perChipValues(values: readonly number[], size: number = NEURONS): Float64Array {
  const out = new Float64Array(values.length * size);
  values.forEach((v, c) => out.fill(v, c * size, (c + 1) * size));
  return out;
}

/**
 * A per-neuron array (512) repeated for every chip.
 *
 * @example
 * ```ts
 * import { tileNeurons } from "./chip_arrays.ts";
 * import assert from "node:assert/strict";
 * const t = tileNeurons(new Float64Array(512).fill(3), 2);
 * assert.equal(t.length, 1024);
 * assert.equal(t[1023], 3);
 * ```
 */
export function tileNeurons(perNeuron: ArrayLike<number>, chips: number): Float64Array {
  const out = new Float64Array(chips * NEURONS);
  for (let c = 0; c < chips; c++) out.set(perNeuron, c * NEURONS);
  return out;
}

/**
 * Per-neuron CapMem codes (512) repeated for every chip.
 *
 * @example
 * ```ts
 * import { tileCodes } from "./chip_arrays.ts";
 * import assert from "node:assert/strict";
 * assert.equal(tileCodes(new Int32Array(512).fill(7), 3)[1535], 7);
 * ```
 */
export function tileCodes(perNeuron: ArrayLike<number>, chips: number): Int32Array {
  const out = new Int32Array(chips * NEURONS);
  for (let c = 0; c < chips; c++) out.set(perNeuron, c * NEURONS);
  return out;
}

/**
 * Chips grouped by a key, groups in order of first appearance.
 *
 * @example
 * ```ts
 * import { groupChips } from "./chip_arrays.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(groupChips([0, 1, 2], (c) => (c === 1 ? 5 : 9)), [[0, 2], [1]]);
 * ```
 */
export function groupChips(chips: readonly number[], key: (c: number) => number): number[][] {
  const groups = new Map<number, number[]>();
  for (const c of chips) {
    const k = key(c);
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  return [...groups.values()];
}

/**
 * The 512 values of chip `c` of a chip-major array.
 *
 * @example
 * ```ts
 * import { chipRow } from "./chip_arrays.ts";
 * import assert from "node:assert/strict";
 * assert.equal(chipRow(new Int32Array(1024).map((_, i) => i), 1)[0], 512);
 * ```
 */
export function chipRow<T extends Int32Array | Uint8Array | Float32Array | Float64Array>(
  values: T,
  c: number,
): number[] {
  return Array.from(values.subarray(c * NEURONS, (c + 1) * NEURONS));
}
