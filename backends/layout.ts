/**
 * The fixed geometry of a BrainScaleS-2 (HICANN-X) neuron array: 512 neurons
 * in 2 hemispheres of 256 and 4 quadrants of 128, read by 1024 CADC channels
 * (a causal and an acausal channel per neuron).
 *
 * @module
 */

/**
 * Neurons per chip.
 *
 * @example
 * ```ts
 * import { NEURONS } from "./layout.ts";
 * import { openBackend } from "./open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 2 });
 * const rest = await backend.measure({ kind: "resting-potential" });
 * assert.equal(rest.length, 2 * NEURONS); // chip-major: chip 1's neurons start at 512
 * await backend.close();
 * ```
 */
export const NEURONS = 512;
/**
 * Quadrants (CapMem blocks, neuron config blocks) per chip.
 *
 * @example
 * ```ts
 * import { QUADRANTS } from "./layout.ts";
 * import { fieldSize } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(fieldSize("syn_i_bias_dac"), QUADRANTS);
 * ```
 */
export const QUADRANTS = 4;
/**
 * Hemispheres (neuron backend blocks) per chip.
 *
 * @example
 * ```ts
 * import { HEMISPHERES } from "./layout.ts";
 * import { fieldSize } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(fieldSize("clock_scale_slow"), HEMISPHERES);
 * ```
 */
export const HEMISPHERES = 2;
/**
 * CADC channels per chip: channel `n` is neuron `n`'s causal channel, `512 + n` its acausal one.
 *
 * @example
 * ```ts
 * import { CADC_CHANNELS, NEURONS } from "./layout.ts";
 * import { fieldSize } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(fieldSize("cadc_channel_offset"), CADC_CHANNELS);
 * assert.equal(CADC_CHANNELS, 2 * NEURONS);
 * ```
 */
export const CADC_CHANNELS = 1024;
/**
 * Neurons per quadrant.
 *
 * @example
 * ```ts
 * import { NEURONS, NEURONS_PER_QUADRANT, QUADRANTS, quadrantOf } from "./layout.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(NEURONS_PER_QUADRANT * QUADRANTS, NEURONS);
 * assert.equal(quadrantOf(NEURONS_PER_QUADRANT), 1);
 * ```
 */
export const NEURONS_PER_QUADRANT = 128;

/**
 * The quadrant of a neuron: `2·hemisphere + (column ≥ 128)`, which for the
 * enum order 0..511 is simply `neuron >> 7`.
 *
 * @example Quadrant of a few neurons
 * ```ts
 * import { quadrantOf } from "./layout.ts";
 * import assert from "node:assert/strict";
 * assert.equal(quadrantOf(0), 0);
 * assert.equal(quadrantOf(200), 1);
 * assert.equal(quadrantOf(300), 2);
 * assert.equal(quadrantOf(511), 3);
 * ```
 */
export function quadrantOf(neuron: number): number {
  return neuron >> 7;
}

/**
 * The hemisphere of a neuron (0 = top, neurons 0..255; 1 = bottom).
 *
 * @example Hemisphere of a neuron
 * ```ts
 * import { hemisphereOf } from "./layout.ts";
 * import assert from "node:assert/strict";
 * assert.equal(hemisphereOf(255), 0);
 * assert.equal(hemisphereOf(256), 1);
 * ```
 */
export function hemisphereOf(neuron: number): number {
  return neuron >> 8;
}

/**
 * The neuron a CADC channel belongs to (channel `n` and `512 + n` read neuron `n`).
 *
 * @example Channel to neuron
 * ```ts
 * import { neuronOfChannel } from "./layout.ts";
 * import assert from "node:assert/strict";
 * assert.equal(neuronOfChannel(7), 7);
 * assert.equal(neuronOfChannel(519), 7);
 * ```
 */
export function neuronOfChannel(channel: number): number {
  return channel & 511;
}
