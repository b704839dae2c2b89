/**
 * `TwinConfig`: every number of the simulated chip model (`TWIN.md`) as a
 * default field, so that a test or a study can change any of them. SI units
 * throughout (volts, siemens, farads, seconds, amperes); CADC and MADC
 * numbers in LSB. Normal mismatch is `{ mean, sd }`; log-normal mismatch with
 * median 1 is given by its `sigma` (of the logarithm).
 *
 * @module
 */

/**
 * A normal distribution `N(mean, sd)`.
 *
 * @example
 * ```ts
 * import { DEFAULT_TWIN_CONFIG, type Normal } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 *
 * const coupling: Normal = DEFAULT_TWIN_CONFIG.crosstalk.coupling;
 * assert.deepEqual(coupling, { mean: 16e-3, sd: 8e-3 });
 * ```
 */
export interface Normal {
  /** Mean. */
  readonly mean: number;
  /** Standard deviation. */
  readonly sd: number;
}

/**
 * The simulated chip model's numbers.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "../cpu/cpu_backend.ts";
 * import { DEFAULT_TWIN_CONFIG, type TwinConfig } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 *
 * // A twin without CADC read noise, for a benchmark that compares executors.
 * const twin: TwinConfig = { ...DEFAULT_TWIN_CONFIG, noise: { ...DEFAULT_TWIN_CONFIG.noise, cadc: 0 } };
 * const backend = new CpuBackend([1, 2], twin);
 * assert.equal(backend.twin.noise.cadc, 0);
 * await backend.close();
 * ```
 */
export interface TwinConfig {
  /** Voltage cell: `Vcell = g_q·(offset + u·span)`, `g_q ~ N(1, gainSd)` per quadrant. */
  readonly voltageCell: { readonly offset: number; readonly span: number; readonly gainSd: number };
  /** Leak potential `E_L = a·Vcell + b + κ·(u_leakbias − kappaPivot)`. */
  readonly leak: {
    readonly a: Normal;
    readonly b: Normal;
    readonly kappa: Normal;
    readonly kappaPivot: number;
  };
  /** Reset potential `V_R = a·Vcell + b`. */
  readonly reset: { readonly a: Normal; readonly b: Normal };
  /** Threshold `V_T = a·Vcell + b`. */
  readonly threshold: { readonly a: Normal; readonly b: Normal };
  /** Capacitance `C = C_int + cap/63 · full·gain`, `gain ~ LN(gainSigma)`. */
  readonly capacitance: {
    readonly intrinsic: Normal;
    readonly full: number;
    readonly gainSigma: number;
  };
  /**
   * Leak conductance `g_L = k·G·u^γ·m + g_par`; `m` = 1/8, 1, 8 by
   * division/multiplication, each ratio itself log-normal.
   */
  readonly leakConductance: {
    readonly G: number;
    readonly kSigma: number;
    readonly gamma: Normal;
    readonly ratioSigma: number;
    readonly parasitic: number;
    readonly parasiticSigma: number;
  };
  /** Synaptic line: `τ = C_s/(k·G·u^γ·(hr ? h : 1) + g_par)`; `h = highResistance·LN(hrSigma)`. */
  readonly synapticTau: {
    readonly Cs: number;
    readonly G: number;
    readonly kSigma: number;
    readonly gamma: Normal;
    readonly highResistance: number;
    readonly hrSigma: number;
    readonly parasitic: number;
    readonly parasiticSigma: number;
  };
  /** OTA strength `gm = k·full·u_gm`, `k ~ LN(kSigma)`. */
  readonly ota: { readonly full: number; readonly kSigma: number };
  /** Reference offset current `∓gm·(ρ + λ·(u_shift − pivot))`. */
  readonly reference: { readonly rho: Normal; readonly lambda: Normal; readonly pivot: number };
  /**
   * Conductance-based synaptic input (`TWIN.md` §8), per input: reference
   * `V_cref = a·Vcell(e_synin_rev) + b`; strength
   * `β = k·beta·(code/codeRef)^γ` (1/V), `k ~ LN(kSigma)`; while the input's
   * COBA flag is on its current `gm·x` becomes `gm·x·m(V)` with
   * `m(V) = clamp(1 − s·β·(V − V_cref), 0, maxModulation)`, `s = ±1`.
   */
  readonly coba: {
    readonly a: Normal;
    readonly b: Normal;
    readonly beta: number;
    readonly codeRef: number;
    readonly kSigma: number;
    readonly gamma: Normal;
    readonly maxModulation: number;
  };
  /** Synapse DAC: amplitude per event and weight LSB `k_q·perWeight·(dac/dacRef)`. */
  readonly synapseDac: {
    readonly perWeight: number;
    readonly dacRef: number;
    readonly kSigma: number;
  };
  /** Offset current `I_off = k·perCode·code`. */
  readonly offsetCurrent: { readonly perCode: number; readonly kSigma: number };
  /** Reset clamp `τ_R = tau·(codeRef/code)·k`. */
  readonly resetClamp: { readonly tau: number; readonly codeRef: number; readonly kSigma: number };
  /** Rails of the membrane. */
  readonly rails: { readonly low: number; readonly high: number };
  /** Synaptic line rest voltage: `V_line = rest − x`. */
  readonly lineRest: number;
  /** Temporal noise; all zero switches noise off. */
  readonly noise: {
    /** Membrane OU stationary std (V). */
    readonly membrane: number;
    /** Synaptic line OU stationary std (V). */
    readonly line: number;
    /** CADC read noise per channel (LSB). */
    readonly cadc: number;
    /** MADC read noise (LSB). */
    readonly madc: number;
  };
  /** CADC ramp and channels. */
  readonly cadc: {
    /** `V_lo = offsetSpan·u_off·k_o` (V). */
    readonly offsetSpan: number;
    /** `V/LSB = (lsbBase + lsbSpan·u_slope)·k_s` (V). */
    readonly lsbBase: number;
    readonly lsbSpan: number;
    readonly rampSigma: number;
    /** Analog channel offset `δ ~ N(0, channelSd)` (V). */
    readonly channelSd: number;
    /** Read period of a row (s). */
    readonly readPeriod: number;
  };
  /** MADC: `read = round((V − offset)/lsb + noise)`, 0..1023. */
  readonly madc: { readonly offset: number; readonly lsb: number; readonly samplePeriod: number };
  /** CapMem crosstalk (TWIN.md §6). */
  readonly crosstalk: {
    /** Per-neuron coupling `c ~ N(mean, sd)` of voltage cells to the quadrant's mean current code (V). */
    readonly coupling: Normal;
    /** Mean current code at which crosstalk vanishes. */
    readonly pivot: number;
    /** Shift of the CADC ramp start per unit of `(m_q − pivot)/1022` (V). */
    readonly ramp: number;
    /** Same-code error scale (V) for cells whose quadrant neighbours hold the same code ±1. */
    readonly sameCode: number;
  };
  /** Base clock of the refractory counters (Hz). */
  readonly refractoryClock: number;
}

/**
 * The defaults of `TWIN.md`.
 *
 * @example
 * ```ts
 * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_TWIN_CONFIG.noise.membrane, 1.5e-3);
 * assert.equal(DEFAULT_TWIN_CONFIG.leakConductance.G, 5.5e-6);
 * ```
 */
export const DEFAULT_TWIN_CONFIG: TwinConfig = {
  voltageCell: { offset: 0.02, span: 1.9, gainSd: 0.01 },
  leak: {
    a: { mean: 0.98, sd: 0.02 },
    b: { mean: -0.3, sd: 0.02 },
    kappa: { mean: 0, sd: 0.03 },
    kappaPivot: 0.3,
  },
  reset: { a: { mean: 0.98, sd: 0.02 }, b: { mean: -0.3, sd: 0.02 } },
  threshold: { a: { mean: 0.98, sd: 0.02 }, b: { mean: -0.3, sd: 0.02 } },
  capacitance: { intrinsic: { mean: 0.15e-12, sd: 0.03e-12 }, full: 2.2e-12, gainSigma: 0.02 },
  leakConductance: {
    G: 5.5e-6,
    kSigma: 0.2,
    gamma: { mean: 0.9, sd: 0.03 },
    ratioSigma: 0.05,
    parasitic: 1.5e-9,
    parasiticSigma: 0.3,
  },
  synapticTau: {
    Cs: 1e-12,
    G: 6e-6,
    kSigma: 0.15,
    gamma: { mean: 0.9, sd: 0.03 },
    highResistance: 0.1,
    hrSigma: 0.05,
    parasitic: 10e-9,
    parasiticSigma: 0.3,
  },
  ota: { full: 1e-6, kSigma: 0.15 },
  reference: { rho: { mean: 0, sd: 0.02 }, lambda: { mean: 0.25, sd: 0.02 }, pivot: 0.3 },
  coba: {
    a: { mean: 0.98, sd: 0.02 },
    b: { mean: -0.3, sd: 0.02 },
    beta: 8,
    codeRef: 255,
    kSigma: 0.2,
    gamma: { mean: 1.0, sd: 0.05 },
    maxModulation: 3,
  },
  synapseDac: { perWeight: 0.5e-3, dacRef: 600, kSigma: 0.1 },
  offsetCurrent: { perCode: 0.15e-9, kSigma: 0.1 },
  resetClamp: { tau: 0.5e-6, codeRef: 1012, kSigma: 0.1 },
  rails: { low: 0, high: 1.8 },
  lineRest: 1.0,
  noise: { membrane: 1.5e-3, line: 1.5e-3, cadc: 1.0, madc: 1.0 },
  cadc: {
    offsetSpan: 0.12,
    lsbBase: 2.5e-3,
    lsbSpan: 4.0e-3,
    rampSigma: 0.05,
    channelSd: 0.03,
    readPeriod: 1.7e-6,
  },
  madc: { offset: 0.05, lsb: 1.8e-3, samplePeriod: 1 / 29.4e6 },
  crosstalk: { coupling: { mean: 16e-3, sd: 8e-3 }, pivot: 500, ramp: 4e-3, sameCode: 5e-3 },
  refractoryClock: 250e6,
};

/**
 * A partial override of a {@linkcode TwinConfig}, merged field by field.
 *
 * @example
 * ```ts
 * import { openBackend } from "../open_backend.ts";
 * import type { TwinConfigOverride } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 *
 * const quietCadc: TwinConfigOverride = { noise: { cadc: 0 } }; // the other noise fields stay
 * const backend = await openBackend({ backend: "cpu", chips: 1, twin: quietCadc });
 * assert.equal(backend.twin!.noise.cadc, 0);
 * assert.equal(backend.twin!.noise.membrane, 1.5e-3);
 * await backend.close();
 * ```
 */
export type TwinConfigOverride = {
  readonly [K in keyof TwinConfig]?: TwinConfig[K] extends number ? number
    : { readonly [L in keyof TwinConfig[K]]?: TwinConfig[K][L] };
};

/**
 * Merges an override into the defaults (one level deep: groups are merged,
 * their fields replaced).
 *
 * @example Switch noise off
 * ```ts
 * import { twinConfig } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 * const quiet = twinConfig({ noise: { membrane: 0, line: 0, cadc: 0, madc: 0 } });
 * assert.equal(quiet.noise.cadc, 0);
 * assert.equal(quiet.leakConductance.G, 5.5e-6);
 * ```
 */
export function twinConfig(override: TwinConfigOverride = {}): TwinConfig {
  const out: Record<string, unknown> = { ...DEFAULT_TWIN_CONFIG };
  for (const [key, value] of Object.entries(override)) {
    if (!Object.hasOwn(DEFAULT_TWIN_CONFIG, key)) {
      throw new TypeError(`Unknown twin configuration group "${key}"`);
    }
    const base = (DEFAULT_TWIN_CONFIG as unknown as Record<string, unknown>)[key];
    out[key] = typeof base === "object" && base !== null
      ? { ...(base as object), ...(value as object) }
      : value;
  }
  return out as unknown as TwinConfig;
}

/**
 * The same configuration with every temporal noise source switched off
 * (mismatch stays).
 *
 * @example
 * ```ts
 * import { DEFAULT_TWIN_CONFIG, noiseless } from "./twin_config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(noiseless(DEFAULT_TWIN_CONFIG).noise.membrane, 0);
 * ```
 */
export function noiseless(config: TwinConfig): TwinConfig {
  return { ...config, noise: { membrane: 0, line: 0, cadc: 0, madc: 0 } };
}
