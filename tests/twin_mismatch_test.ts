/**
 * The fixed-pattern mismatch of eight twin chips against what `TWIN.md`'s
 * distributions (§3, §5, §6) imply at the codes used. Every expectation is
 * derived here from the `DEFAULT_TWIN_CONFIG` numbers, never from the chips'
 * mismatch arrays; spreads must agree within ±15 %, means within three
 * standard errors (the per-quadrant draws counted as 32 samples).
 */

import assert from "node:assert/strict";
import {
  type Backend,
  CADC_CHANNELS,
  type ChipConfig,
  type ConfigPatch,
  DEFAULT_TWIN_CONFIG,
  NEURONS,
  NEURONS_PER_QUADRANT,
  type Normal,
  openBackend,
  QUADRANTS,
  type TwinConfig,
} from "../mod.ts";
import { drawMismatch } from "../backends/twin/mismatch.ts";
import { type ChipParams, chipParams, sameCodeCount } from "../backends/twin/physics.ts";
import { twinConfig } from "../backends/twin/twin_config.ts";
import { mean, std } from "./_helpers.ts";

const TWIN = DEFAULT_TWIN_CONFIG;
const CHIPS = 8;
/** Independent per-quadrant draws (g_q, k_q, ramp) over the batch. */
const QUADRANT_DRAWS = CHIPS * QUADRANTS;
const SPREAD_TOLERANCE = 0.15;

/** The per-neuron current rows whose quadrant mean code `m_q` drives the crosstalk (§6). */
const CURRENT_ROWS = [
  "i_bias_leak",
  "i_bias_reset",
  "i_mem_offset",
  "i_bias_synin_exc_tau",
  "i_bias_synin_exc_gm",
  "i_bias_synin_exc_shift",
  "i_bias_synin_inh_tau",
  "i_bias_synin_inh_gm",
  "i_bias_synin_inh_shift",
] as const;
type CurrentRow = (typeof CURRENT_ROWS)[number];

/**
 * A patch that gives the rows in `fixed` their codes and fills the other
 * current rows so that every neuron's current codes sum to 9·pivot: then the
 * quadrant mean `m_q` equals the pivot exactly and `c_i·(m_q − pivot)/1022`
 * vanishes.
 */
function balancedCurrents(fixed: Partial<Record<CurrentRow, number>> = {}): ConfigPatch {
  const free = CURRENT_ROWS.filter((row) => fixed[row] === undefined);
  const rest = CURRENT_ROWS.length * TWIN.crosstalk.pivot -
    Object.values(fixed).reduce((s, v) => s + v, 0);
  const base = Math.floor(rest / free.length);
  const extra = rest - base * free.length;
  const patch: Record<string, number> = { ...fixed };
  free.forEach((row, k) => patch[row] = base + (k < extra ? 1 : 0));
  return patch;
}

/** The voltage cell without its quadrant gain: `0.02 V + u·1.90 V`. */
function cellVolts(code: number): number {
  return TWIN.voltageCell.offset + (code / 1022) * TWIN.voltageCell.span;
}

/** Mean and variance of one neuron's quantity; `shared` is the part drawn per quadrant. */
interface Expectation {
  readonly mean: number;
  readonly variance: number;
  readonly shared: number;
}

/**
 * A potential `a·(g_q·V0 + S·z·(n−1)/127) + b + κ·(u_leakbias − pivot)` with
 * `a, b, κ` normal, `g_q ~ N(1, σ_g)` and `z ~ N(0, 1)`, all independent. With
 * `X = g_q·V0 + S'·z` (`S' = S·(n−1)/127`): `E[X] = V0`,
 * `E[X²] = V0²(1 + σ_g²) + S'²`, hence
 * `Var(a·X) = (μ_a² + σ_a²)·E[X²] − μ_a²·V0²`
 * `       = σ_a²·V0²(1 + σ_g²) + (μ_a² + σ_a²)(V0²σ_g² + S'²)`;
 * `b` adds `σ_b²`, `κ` adds `d²σ_κ²` (d = u − pivot). The mean is `μ_a·V0 + μ_b + μ_κ·d`.
 * Shared by a quadrant: `μ_a²·V0²·σ_g²`.
 */
function potentialExpectation(
  model: { readonly a: Normal; readonly b: Normal; readonly kappa?: Normal },
  code: number,
  sameCount: number,
  kappaLever = 0,
): Expectation {
  const v0 = cellVolts(code);
  const sg = TWIN.voltageCell.gainSd;
  const s = TWIN.crosstalk.sameCode * (sameCount - 1) / (NEURONS_PER_QUADRANT - 1);
  const { a, b } = model;
  const kappa = model.kappa ?? { mean: 0, sd: 0 };
  const ex2 = v0 * v0 * (1 + sg * sg) + s * s;
  const variance = (a.mean ** 2 + a.sd ** 2) * ex2 - a.mean ** 2 * v0 * v0 + b.sd ** 2 +
    kappaLever ** 2 * kappa.sd ** 2;
  return {
    mean: a.mean * v0 + b.mean + kappa.mean * kappaLever,
    variance,
    shared: a.mean ** 2 * v0 * v0 * sg * sg,
  };
}

/** A positive term `median·LN(σ)` of a sum, as the median and the variance of its log. */
interface LogTerm {
  readonly median: number;
  readonly logVariance: number;
}

/**
 * `ln(Σ_j e^{x_j})` with independent `x_j ~ (ln median_j, v_j)`, to second order
 * (delta method): with weights `w_j = median_j/Σ median`, the gradient is `w`
 * and the Hessian `diag(w) − w·wᵀ`, so
 * `E ≈ ln Σ median + ½·Σ w_j(1 − w_j)·v_j` and `Var ≈ Σ w_j²·v_j`.
 */
function logOfSum(terms: readonly LogTerm[]): { mean: number; variance: number } {
  const total = terms.reduce((s, t) => s + t.median, 0);
  let meanShift = 0;
  let variance = 0;
  for (const t of terms) {
    const w = t.median / total;
    meanShift += 0.5 * w * (1 - w) * t.logVariance;
    variance += w * w * t.logVariance;
  }
  return { mean: Math.log(total) + meanShift, variance };
}

/**
 * `ln C` for `C = C_int + cap/63·C_full·gain`, `C_int ~ N(μ, σ)`,
 * `gain ~ LN(s)`: `E[C] = μ + F·e^{s²/2}`, `Var C = σ² + F²·e^{s²}(e^{s²} − 1)`
 * (`F = cap/63·C_full`); to second order `Var ln C ≈ Var C/E[C]²` and
 * `E[ln C] ≈ ln E[C] − ½·Var ln C`.
 */
function logCapacitance(cap: number): { mean: number; variance: number } {
  const c = TWIN.capacitance;
  const f = (cap / 63) * c.full;
  const s2 = c.gainSigma ** 2;
  const ec = c.intrinsic.mean + f * Math.exp(s2 / 2);
  const varC = c.intrinsic.sd ** 2 + f * f * Math.exp(s2) * (Math.exp(s2) - 1);
  const variance = varC / (ec * ec);
  return { mean: Math.log(ec) - variance / 2, variance };
}

/** TWIN.md §3: leak division scales the leak conductance by 1/8 (times its own LN ratio). */
const LEAK_DIVISION = 1 / 8;

/**
 * `ln τ_mem = ln C − ln g_L`, `g_L = k·G·u^γ·m + g_par` with `ln k ~ N(0, σ_k)`,
 * `ln u^γ ~ N(μ_γ ln u, (ln u)²σ_γ²)`, `ln m ~ N(ln m₀, σ_ratio²)` with division,
 * `ln g_par ~ N(ln g_par₀, σ_par²)`; C independent of g_L. Where `g_par ≪ g_L`
 * this is `Var ln τ ≈ σ_k² + (ln u)²σ_γ² + σ_lnC² [+ σ_ratio²]`.
 */
function tauMemExpectation(code: number, division: boolean): Expectation {
  const lc = TWIN.leakConductance;
  const lnU = Math.log(code / 1022);
  const gl = logOfSum([
    {
      median: lc.G * Math.exp(lc.gamma.mean * lnU) * (division ? LEAK_DIVISION : 1),
      logVariance: lc.kSigma ** 2 + (lnU * lc.gamma.sd) ** 2 +
        (division ? lc.ratioSigma ** 2 : 0),
    },
    { median: lc.parasitic, logVariance: lc.parasiticSigma ** 2 },
  ]);
  const cap = logCapacitance(63);
  return { mean: cap.mean - gl.mean, variance: cap.variance + gl.variance, shared: 0 };
}

/**
 * `ln τ_syn = ln C_s − ln(k·G·u^γ·(hr ? h : 1) + g_par)` with
 * `h = h₀·LN(σ_hr)`: the same sum of log-normal terms as the leak, the high
 * resistance adding `σ_hr²` to the log variance of the main term.
 */
function tauSynExpectation(code: number, highResistance: boolean): Expectation {
  const st = TWIN.synapticTau;
  const lnU = Math.log(code / 1022);
  const g = logOfSum([
    {
      median: st.G * Math.exp(st.gamma.mean * lnU) * (highResistance ? st.highResistance : 1),
      logVariance: st.kSigma ** 2 + (lnU * st.gamma.sd) ** 2 +
        (highResistance ? st.hrSigma ** 2 : 0),
    },
    { median: st.parasitic, logVariance: st.parasiticSigma ** 2 },
  ]);
  return { mean: Math.log(st.Cs) - g.mean, variance: g.variance, shared: 0 };
}

/** Measured spread over its expectation, and the mean's offset with its 3-standard-error bound. */
interface Comparison {
  readonly ratio: number;
  readonly offset: number;
  readonly bound: number;
}

/**
 * Compares values (one per neuron of the batch) with per-neuron expectations:
 * the residuals `v_i − E_i` have variance `mean(Var_i)`; their mean has
 * variance `mean(Var_i − shared_i)/N + mean(shared_i)/32` (the shared part is
 * one draw per quadrant).
 */
function compare(values: ArrayLike<number>, expect: (i: number) => Expectation): Comparison {
  const n = values.length;
  const residual = new Float64Array(n);
  let variance = 0;
  let shared = 0;
  for (let i = 0; i < n; i++) {
    const e = expect(i);
    residual[i] = values[i]! - e.mean;
    variance += e.variance / n;
    shared += e.shared / n;
  }
  return {
    ratio: std(residual) / Math.sqrt(variance),
    offset: mean(residual),
    bound: 3 * Math.sqrt((variance - shared) / n + shared / QUADRANT_DRAWS),
  };
}

function assertMatches(what: string, c: Comparison): void {
  assert.ok(
    Math.abs(c.ratio - 1) <= SPREAD_TOLERANCE,
    `${what}: measured/expected spread ${c.ratio.toFixed(3)}`,
  );
  assert.ok(
    Math.abs(c.offset) <= c.bound,
    `${what}: mean off by ${c.offset.toExponential(3)} (bound ${c.bound.toExponential(3)})`,
  );
}

/** Each chip's effective parameters under the backend's configuration (for cells truth lacks). */
async function paramsOf(backend: Backend, twin: TwinConfig): Promise<ChipParams[]> {
  const configs: ChipConfig[] = await backend.config();
  return backend.chips.map((chip, c) =>
    chipParams(configs[c]!, drawMismatch(chip.seed!, twin), twin)
  );
}

/** Per-neuron codes, distinct by at least 2 within every quadrant: no same-code crosstalk. */
function spreadCodes(base: number): Int32Array {
  return Int32Array.from(
    { length: NEURONS },
    (_, n) => base + 2 * ((n * 37) % NEURONS_PER_QUADRANT),
  );
}

Deno.test("the mismatch of eight twin chips spreads as TWIN.md implies at the codes used", async (t) => {
  const be = await openBackend({ backend: "cpu", chips: CHIPS });

  await t.step(
    "the leak potential at one shared code spreads with gain, offset, OTA offset and same-code terms",
    async () => {
      // E_L = a·(g_q·Vcell0 + 5 mV·z·(128−1)/127) + b + κ·(u_lb − 0.3): one scalar
      // v_leak row puts all 128 neurons of a quadrant within ±1, so the
      // same-code term is a full 5 mV·z. i_bias_leak 900 gives κ a lever of
      // 0.58, so κ adds ≈(17 mV)²; the per-quadrant g_q (32 draws) adds ≈(11 mV)²
      // of ≈(37 mV)² in all: its sample variance scatters by ≈25 %, which moves
      // the spread by ≈1 %, well inside ±15 %.
      const leakBias = 900;
      await be.write({ v_leak: 600, ...balancedCurrents({ i_bias_leak: leakBias }) });
      const truth = await be.truth!();
      const e = potentialExpectation(
        TWIN.leak,
        600,
        NEURONS_PER_QUADRANT,
        leakBias / 1022 - TWIN.leak.kappaPivot,
      );
      assertMatches("E_L", compare(truth.E_L, () => e));
    },
  );

  await t.step(
    "the threshold at distinct per-neuron codes spreads with gain and offset only",
    async () => {
      // V_T = a·g_q·Vcell0(code_i) + b: codes 400, 402, … 654 (permuted) are ≥ 2
      // apart within a quadrant, so the same-code term is 0; no κ.
      const codes = spreadCodes(400);
      await be.write({ v_threshold: codes, ...balancedCurrents() });
      const config = (await be.config())[0]!;
      assert.ok(
        sameCodeCount(config.v_threshold).every((n) => n === 1),
        "every threshold code is alone within ±1 in its quadrant",
      );
      const truth = await be.truth!();
      assertMatches(
        "V_T",
        compare(truth.V_T, (i) => potentialExpectation(TWIN.threshold, codes[i % NEURONS]!, 1)),
      );
    },
  );

  await t.step(
    "the reset cell at one shared code spreads with gain, offset and the same-code term",
    async () => {
      // V_R in truth is the held-reset equilibrium (clamp against leak), so the
      // cell itself comes from chipParams: VRcell = a·(g_q·Vcell0 + 5 mV·z) + b.
      await be.write({ v_reset: 350, ...balancedCurrents() });
      const params = await paramsOf(be, TWIN);
      const cells = new Float64Array(CHIPS * NEURONS);
      params.forEach((p, c) => cells.set(p.VRcell, c * NEURONS));
      const e = potentialExpectation(TWIN.reset, 350, NEURONS_PER_QUADRANT);
      assertMatches("V_R cell", compare(cells, () => e));
    },
  );

  for (const division of [false, true]) {
    await t.step(
      `tau_mem at leak bias 300 ${
        division ? "with" : "without"
      } leak division spreads log-normally`,
      async () => {
        // std ln τ_mem ≈ sqrt(σ_k² + (ln u)²σ_γ² + σ_lnC² [+ σ_ratio²]) ≈ 0.205 [0.211].
        // The parasitic leak is negligible here: at code 300 the leak is
        // G·u^0.9 ≈ 1.8 µS (÷8: 0.23 µS) against g_par ≈ 1.5 nS; the check below
        // keeps it under 1 %, and logOfSum carries its small share anyway.
        const code = 300;
        const lc = TWIN.leakConductance;
        const main = lc.G * Math.pow(code / 1022, lc.gamma.mean) * (division ? LEAK_DIVISION : 1);
        assert.ok(lc.parasitic / main < 0.01, `parasitic share ${lc.parasitic / main}`);
        await be.write({
          leak_division: division ? 1 : 0,
          leak_multiplication: 0,
          membrane_capacitance: 63,
          ...balancedCurrents({ i_bias_leak: code }),
        });
        const truth = await be.truth!();
        const e = tauMemExpectation(code, division);
        assertMatches("ln tau_mem", compare(truth.tau_mem.map(Math.log), () => e));
      },
    );
  }

  for (const hr of [false, true]) {
    await t.step(
      `tau_syn of both inputs at code 400 ${
        hr ? "with" : "without"
      } high resistance spreads log-normally`,
      async () => {
        // std ln τ_syn ≈ sqrt(σ_k² + (ln u)²σ_γ² [+ σ_hr²]) ≈ 0.153 [0.161]; with
        // high resistance the line conductance drops to ≈0.26 µS, so the
        // 10 nS·LN(0.3) parasitic takes a ≈4 % share: logOfSum weighs it in.
        const code = 400;
        await be.write({
          synin_exc_high_resistance: hr ? 1 : 0,
          synin_inh_high_resistance: hr ? 1 : 0,
          ...balancedCurrents({ i_bias_synin_exc_tau: code, i_bias_synin_inh_tau: code }),
        });
        const truth = await be.truth!();
        const e = tauSynExpectation(code, hr);
        assertMatches("ln tau_syn_exc", compare(truth.tau_syn_exc.map(Math.log), () => e));
        assertMatches("ln tau_syn_inh", compare(truth.tau_syn_inh.map(Math.log), () => e));
      },
    );
  }

  await t.step("the synapse DAC amplitude of the 32 quadrants spreads loosely as k_q", async () => {
    // dacAmp = k_q·0.5 mV·dac/600, ln k_q ~ N(0, σ): only 32 draws, so the
    // sample spread scatters by ≈1/sqrt(62) ≈ 13 %; check it within ±40 %.
    const dac = 450;
    await be.write({ syn_i_bias_dac: dac, ...balancedCurrents() });
    const params = await paramsOf(be, TWIN);
    const logs = params.flatMap((p) =>
      Array.from({ length: QUADRANTS }, (_, q) => Math.log(p.dacAmp[q * NEURONS_PER_QUADRANT]!))
    );
    const sd = TWIN.synapseDac;
    const ratio = std(logs) / sd.kSigma;
    assert.ok(ratio > 0.6 && ratio < 1.4, `ln dacAmp spread ratio ${ratio}`);
    const offset = mean(logs) - Math.log(sd.perWeight * dac / sd.dacRef);
    assert.ok(Math.abs(offset) < 3 * sd.kSigma / Math.sqrt(QUADRANT_DRAWS), `offset ${offset}`);
  });

  await be.close();
});

Deno.test("the CADC channel offsets of eight twin chips spread as δ over each quadrant's LSB", async () => {
  // Noise off: read_ch = round((V_ref − V_lo,q − δ_ch)/lsb_q) with a digital
  // offset of 0, so within one quadrant (256 channels: both hemispheres'
  // channels of its neurons) the reading varies by −δ_ch/lsb_q plus rounding:
  // variance σ_δ²/lsb_q² + 1/12. Pooled over the 32 chip-quadrants.
  const quiet = { noise: { membrane: 0, line: 0, cadc: 0, madc: 0 } } as const;
  const twin = twinConfig(quiet);
  const be = await openBackend({ backend: "cpu", chips: CHIPS, twin: quiet });
  const code = 310;
  await be.write(balancedCurrents());
  const readings = await be.measure({ kind: "cadc-reference", code });
  const params = await paramsOf(be, twin);
  await be.close();
  assert.equal(readings.length, CHIPS * CADC_CHANNELS);
  assert.ok(readings.every((r) => r > 0 && r < 255), "no reading is clamped");

  const groups = new Map<number, number[]>();
  let offsetSum = 0;
  params.forEach((p, c) => {
    const vRef = p.referenceVoltage(code);
    for (let ch = 0; ch < CADC_CHANNELS; ch++) {
      const key = c * QUADRANTS + ((ch % NEURONS) >> 7);
      const r = readings[c * CADC_CHANNELS + ch]!;
      const group = groups.get(key) ?? [];
      group.push(r);
      groups.set(key, group);
      // The reading without δ is (V_ref − V_lo)/lsb; what remains is −δ/lsb + rounding.
      offsetSum += r - (vRef - p.cadcLow[ch]!) / p.cadcLsb[ch]!;
    }
  });
  let squares = 0;
  let expected = 0;
  for (const [key, values] of groups) {
    const m = mean(values);
    for (const v of values) squares += (v - m) ** 2;
    const lsb = params[Math.floor(key / QUADRANTS)]!.cadcLsb[(key % QUADRANTS) * 128]!;
    expected += values.length * ((twin.cadc.channelSd / lsb) ** 2 + 1 / 12);
  }
  const total = CHIPS * CADC_CHANNELS;
  const ratio = Math.sqrt(squares / (total - groups.size)) / Math.sqrt(expected / total);
  assert.ok(Math.abs(ratio - 1) <= SPREAD_TOLERANCE, `channel spread ratio ${ratio}`);
  // δ has mean 0: the channels' mean residual is 0 within 3 standard errors.
  const offset = offsetSum / total;
  assert.ok(Math.abs(offset) < 3 * Math.sqrt(expected / total / total), `mean offset ${offset}`);
});
