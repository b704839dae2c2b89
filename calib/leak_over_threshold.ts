/**
 * `calibrateLeakOverThreshold`: calix's `calibrate_leak_over_threshold`
 * (calix-behaviour §4.2). With the leak potential above the threshold a
 * neuron fires regularly without input; the threshold is searched (inverted:
 * a higher threshold, fewer spikes) so that it fires at a given rate.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { FIELDS } from "../backends/config.ts";
import { NEURONS } from "../backends/layout.ts";
import { CalibContext, describeNeurons } from "./context.ts";
import { applyResult, type NeuronCalibResult } from "./result.ts";
import { spikeThreshold, THRESHOLD_PRELUDE } from "./steps.ts";
import { formatRates, parseRates } from "./units.ts";
import { resolveOptions } from "./target.ts";

/**
 * Integration step of the rate measurements. Threshold crossings are solved
 * inside a step, so 0.25 µs (a 40th of the inter-spike interval at 100 kHz)
 * keeps rates within a fraction of a percent of finer steps.
 */
const SPIKE_DT = 0.25e-6;

/** calix's counter budget: 80 % of the 8-bit spike counter. */
const _MAX_COUNT = Math.floor(255 * 0.8);

/**
 * Per chip, the calibrated neurons whose threshold search ended on a range
 * bound: at the ends of the CapMem range (the search warned of those
 * already), or at the lower bound the search cannot pass — the threshold at
 * the reset potential, below which a reading counts as too many spikes —
 * or within its last step (one code) of it. Their target rate is out of
 * reach; calix's range-bound warning names them.
 */
function _atBound(
  codes: Int32Array,
  thresholdAtReset: Int32Array,
  keep: ArrayLike<number>,
  ctx: CalibContext,
  rates: Float64Array,
): number[][] {
  const { min, max } = FIELDS.v_threshold;
  return ctx.backend.chips.map((_, c) => {
    const all: number[] = [];
    const atReset: number[] = [];
    for (let n = 0; n < NEURONS; n++) {
      if (keep[n]) continue;
      const code = codes[c * NEURONS + n]!;
      if (code <= min || code >= max) all.push(n);
      else if (code <= thresholdAtReset[c * NEURONS + n]! + 1) {
        all.push(n);
        atReset.push(n);
      }
    }
    if (atReset.length > 0) {
      const target = formatRates(atReset.map((n) => rates[n]!));
      ctx.warn(
        c,
        `${ctx.step}: v_threshold ended on a range bound for ${atReset.length} neuron${
          atReset.length === 1 ? "" : "s"
        }: ${
          describeNeurons(atReset)
        } at the lower bound, the threshold at the reset potential (a rate of ${
          typeof target === "string" ? target : "their targets"
        } is out of their reach)`,
      );
    }
    return all;
  });
}

/**
 * Sets each neuron's threshold so that it fires at `rate` (hardware time,
 * with a unit: `"100 kHz"`, a per-neuron array of such values, or
 * `{ value: number[512], unit: "kHz" }`) without input; a rate of 0 leaves
 * that neuron's threshold as it was. Updates the results in place (codes,
 * the measured `verification.rate`, and `leak_over_threshold_at_bound`: the
 * neurons whose search ended on a range bound, named in a warning too),
 * leaves success unchanged (as calix), and returns them.
 *
 * @example
 * ```ts
 * import { calibrate, calibrateLeakOverThreshold, openBackend, refinePotentials } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const be = await openBackend({ backend: "cpu", chips: 1 });
 * const results = await calibrate(be);
 * await refinePotentials(be, results, { leak: 110, reset: 60, threshold: 120 });
 * await calibrateLeakOverThreshold(be, results, "100 kHz");
 * const rates = results[0]!.verification.rate!.filter((v) => v !== null).sort((a, b) => a - b);
 * assert.ok(Math.abs(rates[rates.length >> 1]! / 1e5 - 1) < 0.1); // the median neuron fires at 100 kHz
 * await be.close();
 * ```
 */
export async function calibrateLeakOverThreshold(
  backend: Backend,
  results: NeuronCalibResult[],
  rate: unknown = "100 kHz",
): Promise<NeuronCalibResult[]> {
  if (results.length !== backend.chips.length) {
    throw new RangeError(
      `calibrateLeakOverThreshold needs one result per chip (${backend.chips.length}), got ${results.length}`,
    );
  }
  const parsed = parseRates(rate, "leak_over_threshold_rate");
  const rates = typeof parsed === "number" || parsed.length === 1
    ? new Float64Array(NEURONS).fill(typeof parsed === "number" ? parsed : parsed[0]!)
    : parsed;
  if (rates.length !== NEURONS) {
    throw new RangeError(`leak_over_threshold_rate has ${rates.length} values, expected 1 or 512`);
  }
  const negative = [...rates.keys()].filter((n) => !(rates[n]! >= 0));
  if (negative.length > 0) {
    throw new RangeError(`leak_over_threshold_rate of ${describeNeurons(negative)} is negative`);
  }
  const maxRate = Math.max(...rates);
  if (maxRate === 0) {
    throw new RangeError(
      "leak_over_threshold_rate is 0 everywhere: none of the thresholds shall be adjusted",
    );
  }
  const keep = rates.map((r) => (r === 0 ? 1 : 0));
  const window = _MAX_COUNT / maxRate;
  const counts = rates.map((r) => (r === 0 ? maxRate : r) * window);
  const ctx = new CalibContext(backend, resolveOptions(results[0]!.options), "leak-over-threshold");
  const low = [...counts.keys()].filter((n) => counts[n]! < 0.1 * _MAX_COUNT);
  if (low.length > 0) {
    results.forEach((_, c) =>
      ctx.warn(
        c,
        `Target rates of ${
          describeNeurons(low)
        } are below a tenth of the highest: expect imprecise rates`,
      )
    );
  }
  const chips = results.length;
  const tile = (v: ArrayLike<number>) => {
    const out = new Float64Array(chips * NEURONS);
    for (let c = 0; c < chips; c++) out.set(v, c * NEURONS);
    return out;
  };

  // Prelude: the threshold code at which the threshold equals the reset
  // potential. Below it a neuron never fires and would look "too high".
  await applyResult(backend, results);
  const atReset = await backend.measure({ kind: "reset-potential", reads: 4 });
  await ctx.write(THRESHOLD_PRELUDE);
  const thresholdAtReset = (await ctx.search(spikeThreshold(atReset))).codes;
  await applyResult(backend, results);

  const r = await ctx.search({
    field: "v_threshold",
    inverted: true,
    target: tile(counts),
    measurement: {
      kind: "spike-count",
      windowSeconds: window,
      counter: "8bit",
      dtSeconds: SPIKE_DT,
    },
    map: [{ op: "code-below", limit: thresholdAtReset, value: 65025 }],
  });
  const atBound = _atBound(r.codes, thresholdAtReset, keep, ctx, rates);
  results.forEach((res, c) => {
    const codes = res.capmem.v_threshold.slice();
    for (let n = 0; n < NEURONS; n++) if (!keep[n]) codes[n] = r.codes[c * NEURONS + n]!;
    res.capmem.v_threshold = codes;
    res.leak_over_threshold = formatRates(rates);
    res.leak_over_threshold_at_bound = atBound[c]!;
    for (const m of ctx.warnings[c]!) res.warnings.push(m);
  });
  await applyResult(backend, results);
  // The check counts over 1.5 ms (calix's test) or the calibration window if longer.
  const check = Math.max(window, 1.5e-3);
  const measured = await backend.measure({
    kind: "spike-count",
    windowSeconds: check,
    dtSeconds: SPIKE_DT,
  });
  results.forEach((res, c) => {
    res.verification = {
      ...res.verification,
      rate: Array.from(measured.subarray(c * NEURONS, (c + 1) * NEURONS), (v) => v / check),
    };
  });
  return results;
}
