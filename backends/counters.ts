/**
 * The operation counters of a batch of chips: each chip's random draws are
 * keyed by its own counter, which every measurement and search advances
 * (see the reproducibility contract in `backend.ts`). Shared by the twin
 * batch and the remote backend, which keeps its host's counters.
 *
 * @module
 */

import type { ChipSelection } from "./backend.ts";

/**
 * Resolves a {@linkcode ChipSelection} against a batch of `count` chips:
 * ascending unique indices, all chips when none are named.
 *
 * @example
 * ```ts
 * import { selectChips } from "./counters.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(selectChips({ chips: [0, 2] }, 3), [0, 2]);
 * assert.throws(() => selectChips({ chips: [2, 0] }, 3), RangeError);
 * ```
 */
export function selectChips(selection: ChipSelection, count: number): readonly number[] {
  const chips = selection.chips;
  if (chips === undefined) return Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < chips.length; i++) {
    const c = chips[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= count || (i > 0 && c <= chips[i - 1]!)) {
      throw new RangeError(
        `Chip selection must list ascending chip indices in 0..${count - 1}, got [${
          chips.join(", ")
        }]`,
      );
    }
  }
  return chips;
}

/**
 * One u32 operation counter per chip of a batch.
 *
 * @example
 * ```ts
 * import { OperationCounters } from "./counters.ts";
 * import assert from "node:assert/strict";
 * const c = new OperationCounters(2);
 * assert.deepEqual([...c.claim(3, { chips: [1] })], [0, 0]);
 * c.restore([40], { chips: [0] });
 * assert.deepEqual([...c.values()], [40, 3]);
 * assert.throws(() => c.restore([1, 2, 3]), RangeError);
 * ```
 */
export class OperationCounters {
  readonly #counters: Uint32Array;

  /**
   * Counters at `initial` (default all 0) for `count` chips.
   *
   * @param count Chips of the batch.
   * @param initial Starting values, one per chip.
   */
  constructor(count: number, initial?: ArrayLike<number>) {
    this.#counters = new Uint32Array(count);
    if (initial) this.restore(initial);
  }

  /** A copy of the counters. */
  values(): Uint32Array {
    return this.#counters.slice();
  }

  /** Returns the counters and advances the selected ones by `n`. */
  claim(n = 1, selection: ChipSelection = {}): Uint32Array {
    const before = this.#counters.slice();
    for (const c of selectChips(selection, this.#counters.length)) {
      this.#counters[c] = this.#counters[c]! + n;
    }
    return before;
  }

  /**
   * Sets the selected chips' counters, one value per selected chip; a wrong
   * count or a value that is not a u32 is a `RangeError` and changes nothing.
   */
  restore(counters: ArrayLike<number>, selection: ChipSelection = {}): void {
    const chips = selectChips(selection, this.#counters.length);
    if (counters.length !== chips.length) {
      throw new RangeError(
        `restoreCounters needs one counter per selected chip (${chips.length}), got ${counters.length}`,
      );
    }
    for (let k = 0; k < chips.length; k++) {
      const v = counters[k]!;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(
          `Operation counter of chip ${chips[k]} must be an integer in 0..4294967295, got ${v}`,
        );
      }
    }
    chips.forEach((c, k) => (this.#counters[c] = counters[k]!));
  }
}
