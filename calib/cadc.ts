/**
 * `calibrateCadc`: calix's CADC calibration (calix-behaviour §5). One
 * reference voltage drives all 1024 channels through the debug line; per
 * quadrant a BinarySearch sets the ramp offset (the reference at CapMem 70
 * reads 20) and the ramp slope (CapMem 550 reads 220); then a
 * LinearPrediction sets every channel's digital offset so that all channels
 * read their chip's median at CapMem 310.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { CADC_CHANNELS, QUADRANTS } from "../backends/layout.ts";
import { VERSION } from "../version.ts";
import { chipMedians } from "./context.ts";

/**
 * Target of the CADC calibration (calix's `CADCCalibTarget`).
 *
 * @example
 * ```ts
 * import { calibrateCadc, type CadcCalibTarget } from "./cadc.ts";
 * import { openBackend } from "../backends/open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const target: CadcCalibTarget = { read_range: [30, 210] };
 * const [result] = await calibrateCadc(be, target);
 * assert.deepEqual(result!.target, { dynamic_range: [70, 550], read_range: [30, 210] });
 * await be.close();
 * ```
 */
export interface CadcCalibTarget {
  /** CapMem codes of the reference at the ends of the dynamic range (default [70, 550]). */
  readonly dynamic_range?: readonly [number, number];
  /** CADC readings wanted at those ends (default [20, 220]). */
  readonly read_range?: readonly [number, number];
}

/**
 * Options of the CADC calibration (calix's `CADCCalibOptions`).
 *
 * @example
 * ```ts
 * import { calibrateCadc, type CadcCalibOptions } from "./cadc.ts";
 * import { openBackend } from "../backends/open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const options: CadcCalibOptions = { calibrate_offsets: false }; // ramps only
 * const [result] = await calibrateCadc(be, {}, options);
 * assert.ok(result!.cadc_channel_offset.every((o) => o === 0));
 * await be.close();
 * ```
 */
export interface CadcCalibOptions {
  /** Calibrate the per-channel digital offsets (default true). */
  readonly calibrate_offsets?: boolean;
}

/**
 * The result of a CADC calibration of one chip.
 *
 * @example
 * ```ts
 * import { calibrateCadc, type CadcCalibResult } from "./cadc.ts";
 * import { openBackend } from "../backends/open_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await openBackend({ backend: "cpu", chips: 2 });
 * const results: CadcCalibResult[] = await calibrateCadc(be);
 * assert.deepEqual(results.map((r) => r.chipId), ["sim-1", "sim-2"]);
 * assert.equal(results[0]!.cadc_channel_offset.length, 1024);
 * assert.ok(results.every((r) => r.verification.std < 3)); // CADC LSB across channels
 * await be.close();
 * ```
 */
export interface CadcCalibResult {
  /** Discriminates result files. */
  readonly kind: "cadc";
  /** lifcal version that produced it. */
  readonly lifcal_version: string;
  /** Full chip id. */
  readonly chipId: string;
  /** Ramp offset code per quadrant. */
  readonly cadc_v_ramp_offset: number[];
  /** Ramp slope code per quadrant. */
  readonly cadc_i_ramp_slope: number[];
  /** Digital offset per channel. */
  readonly cadc_channel_offset: number[];
  /** Per channel: its quadrant's ramp searches and its offset did not end on a bound. */
  readonly success: boolean[];
  /** The target used (defaults filled in). */
  readonly target: { dynamic_range: [number, number]; read_range: [number, number] };
  /** The options used. */
  readonly options: { calibrate_offsets: boolean };
  /** What went wrong or looked suspicious. */
  readonly warnings: string[];
  /** After calibration, all channels reading the middle reference: std and quadrant means. */
  readonly verification: { readonly std: number; readonly quadrant_means: number[] };
}

function _checkRange(name: string, r: readonly [number, number], max: number): void {
  if (
    r.length !== 2 || !Number.isInteger(r[0]) || !Number.isInteger(r[1]) || r[0] < 0 ||
    r[1] > max || r[0] >= r[1]
  ) {
    throw new RangeError(
      `${name} must be two increasing integers in 0..${max}, got [${r.join(", ")}]`,
    );
  }
}

/**
 * Calibrates the CADC of every chip of a backend.
 *
 * @example
 * ```ts
 * import { calibrateCadc, openBackend } from "../mod.ts";
 * import assert from "node:assert/strict";
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const [r] = await calibrateCadc(be);
 * assert.ok(r!.verification.std < 3);
 * await be.close();
 * ```
 */
export async function calibrateCadc(
  backend: Backend,
  target: CadcCalibTarget = {},
  options: CadcCalibOptions = {},
): Promise<CadcCalibResult[]> {
  const dynamic = target.dynamic_range ?? [70, 550];
  const read = target.read_range ?? [20, 220];
  _checkRange("dynamic_range", dynamic, 1022);
  _checkRange("read_range", read, 255);
  const calibrateOffsets = options.calibrate_offsets ?? true;
  const chips = backend.chips.length;
  const warnings: string[][] = backend.chips.map(() => []);
  if (dynamic[0] < 70 || dynamic[1] > 550) {
    warnings.forEach((w) =>
      w.push(`dynamic_range [${dynamic.join(", ")}] is outside calix's 70..550`)
    );
  }
  if (read[0] < 20 || read[1] > 220) {
    warnings.forEach((w) => w.push(`read_range [${read.join(", ")}] is outside calix's 20..220`));
  }

  await backend.write({ cadc_channel_offset: 0, cadc_i_ramp_slope: 350 });
  const offset = await backend.search({
    field: "cadc_v_ramp_offset",
    inverted: true,
    algorithm: { name: "binary" },
    target: read[0],
    measurement: { kind: "cadc-reference", code: dynamic[0] },
    reduce: "quadrant-mean",
  });
  const slope = await backend.search({
    field: "cadc_i_ramp_slope",
    inverted: true,
    algorithm: { name: "binary" },
    target: read[1],
    measurement: { kind: "cadc-reference", code: dynamic[1] },
    reduce: "quadrant-mean",
  });
  const middle = Math.round((dynamic[0] + dynamic[1]) / 2);
  const channelSuccess = new Uint8Array(chips * CADC_CHANNELS).fill(1);
  let channelOffsets: Int32Array = new Int32Array(chips * CADC_CHANNELS);
  if (calibrateOffsets) {
    const before = await backend.measure({ kind: "cadc-reference", code: middle });
    const medians = chipMedians(before, CADC_CHANNELS);
    medians.forEach((m, c) => {
      if (Math.abs(m - 128) > 50) {
        warnings[c]!.push(
          `CADC channels read a median of ${m} at CapMem ${middle}, more than 50 from 128`,
        );
      }
    });
    const targets = new Float64Array(chips * CADC_CHANNELS);
    medians.forEach((m, c) => targets.fill(m, c * CADC_CHANNELS, (c + 1) * CADC_CHANNELS));
    const r = await backend.search({
      field: "cadc_channel_offset",
      algorithm: { name: "linear-prediction", probe: 0, offset: -127, slope: 1 },
      target: targets,
      measurement: { kind: "cadc-reference", code: middle },
    });
    channelOffsets = r.codes;
    channelSuccess.set(r.success);
  }
  const after = await backend.measure({ kind: "cadc-reference", code: middle });

  return backend.chips.map((chip, c) => {
    const success: boolean[] = [];
    for (let ch = 0; ch < CADC_CHANNELS; ch++) {
      const q = (ch & 511) >> 7;
      success.push(
        offset.success[c * QUADRANTS + q] === 1 && slope.success[c * QUADRANTS + q] === 1 &&
          channelSuccess[c * CADC_CHANNELS + ch] === 1,
      );
    }
    const readings = after.subarray(c * CADC_CHANNELS, (c + 1) * CADC_CHANNELS);
    const mean = readings.reduce((a, b) => a + b, 0) / CADC_CHANNELS;
    const std = Math.sqrt(
      readings.reduce((a, b) => a + (b - mean) ** 2, 0) / (CADC_CHANNELS - 1),
    );
    const quadrantMeans = [0, 1, 2, 3].map((q) => {
      let s = 0;
      for (let ch = 0; ch < CADC_CHANNELS; ch++) if (((ch & 511) >> 7) === q) s += readings[ch]!;
      return s / 256;
    });
    if (std > 3) {
      warnings[c]!.push(`CADC channels scatter by ${std.toFixed(2)} LSB after calibration`);
    }
    const failed = success.filter((s) => !s).length;
    if (failed > 0) warnings[c]!.push(`CADC calibration failed for ${failed} channels`);
    return {
      kind: "cadc" as const,
      lifcal_version: VERSION,
      chipId: chip.id,
      cadc_v_ramp_offset: Array.from(offset.codes.subarray(c * QUADRANTS, (c + 1) * QUADRANTS)),
      cadc_i_ramp_slope: Array.from(slope.codes.subarray(c * QUADRANTS, (c + 1) * QUADRANTS)),
      cadc_channel_offset: Array.from(
        channelOffsets.subarray(c * CADC_CHANNELS, (c + 1) * CADC_CHANNELS),
      ),
      success,
      target: { dynamic_range: [dynamic[0], dynamic[1]], read_range: [read[0], read[1]] },
      options: { calibrate_offsets: calibrateOffsets },
      warnings: warnings[c]!,
      verification: { std, quadrant_means: quadrantMeans },
    };
  });
}
