/**
 * The fixed geometry of a BrainScaleS-2 (HICANN-X) neuron array: 512 neurons
 * in 2 hemispheres of 256 and 4 quadrants of 128, read by 1024 CADC channels
 * (a causal and an acausal channel per neuron).
 *
 * @module
 */

/** Neurons per chip. */
export const NEURONS = 512;
/** Quadrants (CapMem blocks, neuron config blocks) per chip. */
export const QUADRANTS = 4;
/** Hemispheres (neuron backend blocks) per chip. */
export const HEMISPHERES = 2;
/** CADC channels per chip: channel `n` is neuron `n`'s causal channel, `512 + n` its acausal one. */
export const CADC_CHANNELS = 1024;
/** Neurons per quadrant. */
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
