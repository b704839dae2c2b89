/**
 * The twin's per-neuron effective parameters for the peer simulators
 * (`bench/peers/numpy_lif.py`, `bench/peers/brian2_lif.py`): every chip of a
 * batch of twins under the benchmark configuration {@linkcode PEER_CONFIG},
 * flattened chip by chip (neuron `c·512 + n`), with the model numbers and
 * the measurement settings the peers need. The peers then simulate the same
 * neurons as lifcal's executors; only the noise streams differ.
 *
 * Run: `deno run -A bench/peers/export_params.ts [--chips 16] --out FILE.json`
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { ConfigPatch } from "../../backends/config.ts";
import { NEURONS } from "../../backends/layout.ts";
import {
  MADC_SAMPLE_RATE,
  type Measurement,
  MEASUREMENT_DEFAULTS,
  TAU_MEM_BOUNDS,
} from "../../backends/measurement.ts";
import { TwinBatch } from "../../backends/twin/twin_batch.ts";
import { DEFAULT_TWIN_CONFIG, type TwinConfig } from "../../backends/twin/twin_config.ts";

/**
 * The configuration of the peer benchmark: every neuron fires regularly
 * (leak potential far above the threshold, leak divided), the excitatory
 * input is connected. `bench/webgpu_vs_cpu.ts` times its measurements
 * under it too, so that the two benches time the same work.
 *
 * @example
 * ```ts
 * import { PEER_CONFIG } from "./export_params.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PEER_CONFIG.threshold_enable, 1);
 * ```
 */
export const PEER_CONFIG: ConfigPatch = {
  v_leak: 900,
  v_threshold: 500,
  v_reset: 300,
  i_bias_leak: 300,
  leak_division: 1,
  threshold_enable: 1,
  i_mem_offset: 300,
  synin_exc_enable: 1,
  i_bias_synin_exc_gm: 300,
};

/**
 * The three measurements the peers mirror, with lifcal's settings: the noisy
 * spike count over 1 ms at 0.1 µs steps, the excitatory PSP amplitude with
 * its defaults, τ_mem by the offset method over a 30 µs window.
 *
 * @example
 * ```ts
 * import { PEER_MEASUREMENTS } from "./export_params.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(PEER_MEASUREMENTS.map((m) => m.kind), [
 *   "spike-count",
 *   "psp-amplitude-exc",
 *   "tau-mem",
 * ]);
 * ```
 */
export const PEER_MEASUREMENTS: readonly Measurement[] = [
  { kind: "spike-count", windowSeconds: 1e-3 },
  { kind: "psp-amplitude-exc" },
  { kind: "tau-mem", windowSeconds: 30e-6 },
];

/**
 * Per-neuron fields of {@linkcode PeerParams}, in SI units (CADC numbers in LSB).
 *
 * @example
 * ```ts
 * import { PEER_FIELDS } from "./export_params.ts";
 * import assert from "node:assert/strict";
 * assert.ok(PEER_FIELDS.includes("tauSynExc"));
 * ```
 */
export const PEER_FIELDS = [
  "C",
  "gL",
  "EL",
  "VRcell",
  "gR",
  "VT",
  "thresholdEnable",
  "tRef",
  "tReset",
  "Ioff",
  "offsetEnable",
  "Isyn",
  "gmExc",
  "gmInh",
  "tauSynExc",
  "tauSynInh",
  "dacAmp",
  // The neuron's two CADC channels (n and n + 512): ramp start, analog offset,
  // volts per LSB, digital offset.
  "cadc0Low",
  "cadc0Delta",
  "cadc0Lsb",
  "cadc0Digital",
  "cadc1Low",
  "cadc1Delta",
  "cadc1Lsb",
  "cadc1Digital",
] as const;

/** One per-neuron field name. */
export type PeerField = (typeof PEER_FIELDS)[number];

/** What the peers read: the neurons of a batch of twins and the numbers of the model. */
export interface PeerParams {
  /** File format tag. */
  readonly format: "lifcal-peer-params/1";
  /** The chips' seeds, in the order of the neurons. */
  readonly seeds: readonly number[];
  /** Neurons in all (`seeds.length × 512`). */
  readonly neurons: number;
  /** The configuration written to every chip before the parameters were taken. */
  readonly config: ConfigPatch;
  /** Model numbers: rails (V), noise (V or LSB), MADC (V, V/LSB, s), τ_mem fit bounds (s). */
  readonly twin: {
    readonly rails: { readonly low: number; readonly high: number };
    readonly noise: TwinConfig["noise"];
    readonly madc: { readonly offset: number; readonly lsb: number; readonly samplePeriod: number };
    readonly tauMemBounds: readonly [number, number];
  };
  /** The measurements' settings (lifcal's defaults, the benchmark's windows). */
  readonly measurements: {
    readonly "spike-count": { readonly windowSeconds: number; readonly dtSeconds: number };
    readonly "psp-amplitude-exc": {
      readonly events: number;
      readonly spacingSeconds: number;
      readonly runs: number;
      readonly weight: number;
      readonly dtSeconds: number;
    };
    readonly "tau-mem": {
      readonly windowSeconds: number;
      readonly stepSeconds: number;
      readonly maxSamples: number;
    };
  };
  /** Per-neuron effective parameters, `neurons` numbers each. */
  readonly params: { readonly [F in PeerField]: number[] };
}

/**
 * The effective parameters of the twins with `seeds` under `config`.
 * Refuses a configuration with conductance-based inputs (the peers model
 * current-based synapses only).
 *
 * @param seeds Chip seeds.
 * @param twin The model numbers.
 * @param config Written to every chip first.
 *
 * @example
 * ```ts
 * import { peerParams } from "./export_params.ts";
 * import assert from "node:assert/strict";
 * const p = peerParams([1, 2]);
 * assert.equal(p.neurons, 1024);
 * assert.equal(p.params.gL.length, 1024);
 * assert.ok(p.params.VT[0]! < p.params.EL[0]!);
 * ```
 */
export function peerParams(
  seeds: readonly number[],
  twin: TwinConfig = DEFAULT_TWIN_CONFIG,
  config: ConfigPatch = PEER_CONFIG,
): PeerParams {
  const batch = new TwinBatch(seeds, twin);
  batch.write(config);
  const out = Object.fromEntries(PEER_FIELDS.map((f) => [f, [] as number[]])) as {
    [F in PeerField]: number[];
  };
  for (let c = 0; c < seeds.length; c++) {
    const p = batch.params(c);
    for (let n = 0; n < NEURONS; n++) {
      if (p.betaExc[n] !== 0 || p.betaInh[n] !== 0) {
        throw new RangeError("peerParams: the peers model current-based inputs only (COBA is on)");
      }
      const row: Record<PeerField, number> = {
        C: p.C[n]!,
        gL: p.gL[n]!,
        EL: p.EL[n]!,
        VRcell: p.VRcell[n]!,
        gR: p.gR[n]!,
        VT: p.VT[n]!,
        thresholdEnable: p.thresholdEnable[n]!,
        tRef: p.tRef[n]!,
        tReset: p.tReset[n]!,
        Ioff: p.Ioff[n]!,
        offsetEnable: p.offsetEnable[n]!,
        Isyn: p.Isyn[n]!,
        gmExc: p.gmExc[n]!,
        gmInh: p.gmInh[n]!,
        tauSynExc: p.tauSynExc[n]!,
        tauSynInh: p.tauSynInh[n]!,
        dacAmp: p.dacAmp[n]!,
        cadc0Low: p.cadcLow[n]!,
        cadc0Delta: p.cadcDelta[n]!,
        cadc0Lsb: p.cadcLsb[n]!,
        cadc0Digital: p.cadcDigital[n]!,
        cadc1Low: p.cadcLow[n + NEURONS]!,
        cadc1Delta: p.cadcDelta[n + NEURONS]!,
        cadc1Lsb: p.cadcLsb[n + NEURONS]!,
        cadc1Digital: p.cadcDigital[n + NEURONS]!,
      };
      for (const f of PEER_FIELDS) out[f].push(row[f]);
    }
  }
  const spike = PEER_MEASUREMENTS[0]!;
  const psp = MEASUREMENT_DEFAULTS["psp-amplitude-exc"];
  const tau = MEASUREMENT_DEFAULTS["tau-mem"];
  return {
    format: "lifcal-peer-params/1",
    seeds: [...seeds],
    neurons: seeds.length * NEURONS,
    config,
    twin: {
      rails: { low: twin.rails.low, high: twin.rails.high },
      noise: { ...twin.noise },
      madc: {
        offset: twin.madc.offset,
        lsb: twin.madc.lsb,
        samplePeriod: 1 / MADC_SAMPLE_RATE,
      },
      tauMemBounds: [TAU_MEM_BOUNDS[0], TAU_MEM_BOUNDS[1]],
    },
    measurements: {
      "spike-count": {
        windowSeconds: spike.kind === "spike-count" ? spike.windowSeconds : 1e-3,
        dtSeconds: MEASUREMENT_DEFAULTS["spike-count"].dtSeconds,
      },
      "psp-amplitude-exc": { ...psp },
      "tau-mem": { ...tau, windowSeconds: 30e-6 },
    },
    params: out,
  };
}

/**
 * Writes {@linkcode peerParams} of the twins with seeds 1..`chips` to `path` as JSON.
 *
 * @example
 * ```ts
 * import { writePeerParams } from "./export_params.ts";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await writePeerParams(path, 1);
 * assert.equal(JSON.parse(await Deno.readTextFile(path)).neurons, 512);
 * await Deno.remove(path);
 * ```
 */
export async function writePeerParams(path: string, chips: number): Promise<void> {
  const seeds = Array.from({ length: chips }, (_, i) => i + 1);
  await Deno.writeTextFile(path, JSON.stringify(peerParams(seeds)));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { chips: { type: "string", default: "16" }, out: { type: "string" } },
  });
  const chips = Number(values.chips);
  if (!Number.isInteger(chips) || chips < 1 || !values.out) {
    console.error("Usage: export_params.ts [--chips N] --out FILE.json");
    Deno.exit(2);
  }
  await writePeerParams(values.out, chips);
}
