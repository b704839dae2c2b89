/**
 * The state of a batch of twin chips that every simulating executor shares:
 * per chip its seed, mismatch, configuration, operation counter and the
 * effective parameters derived from them (recomputed lazily after a write),
 * plus the ground truth of `TWIN.md` §7.
 *
 * @module
 */

import type { ChipRef, ChipSelection, Truth } from "../backend.ts";
import {
  type ChipConfig,
  cloneConfig,
  type ConfigPatch,
  initialConfig,
  resolvePatch,
} from "../config.ts";
import { NEURONS } from "../layout.ts";
import { OperationCounters, selectChips } from "../counters.ts";
import { type ChipMismatch, drawMismatch } from "./mismatch.ts";
import {
  cadcContinuous,
  cadcLinear,
  type ChipParams,
  chipParams,
  cobaReversal,
  heldResetPotential,
  restingPotential,
} from "./physics.ts";
import type { TwinConfig } from "./twin_config.ts";

/**
 * The id of the twin with a seed.
 *
 * @example
 * ```ts
 * import { twinId } from "./twin_batch.ts";
 * import assert from "node:assert/strict";
 * assert.equal(twinId(7), "sim-7");
 * ```
 */
export function twinId(seed: number): string {
  return `sim-${seed}`;
}

/** A batch of twin chips with their state. */
export class TwinBatch {
  /** The chips, in batch order. */
  readonly chips: readonly ChipRef[];
  /** RNG key per chip (its seed). */
  readonly keys: Uint32Array;
  /** The model numbers. */
  readonly twin: TwinConfig;
  readonly #mismatch: ChipMismatch[];
  readonly #configs: ChipConfig[];
  readonly #counters: OperationCounters;
  #params: (ChipParams | undefined)[];
  readonly #versions: Uint32Array;

  /**
   * Creates twins for the given seeds (u32 each, unique).
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([3, 7], DEFAULT_TWIN_CONFIG);
   * assert.equal(b.chips[1]!.id, "sim-7");
   * ```
   */
  constructor(seeds: readonly number[], twin: TwinConfig) {
    const seen = new Set<number>();
    for (const s of seeds) {
      if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
        throw new RangeError(`Chip seed must be an integer in 0..4294967295, got ${s}`);
      }
      if (seen.has(s)) throw new RangeError(`Chip seed ${s} appears twice in the batch`);
      seen.add(s);
    }
    if (seeds.length === 0) throw new RangeError("A batch needs at least one chip");
    this.chips = seeds.map((seed) => ({ id: twinId(seed), seed }));
    this.keys = Uint32Array.from(seeds);
    this.twin = twin;
    this.#mismatch = seeds.map((s) => drawMismatch(s, twin));
    this.#configs = seeds.map(() => initialConfig());
    this.#counters = new OperationCounters(seeds.length);
    this.#params = seeds.map(() => undefined);
    this.#versions = new Uint32Array(seeds.length);
  }

  /**
   * How many writes have changed chip `c`'s configuration (a cache key for
   * copies of it).
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1, 2], DEFAULT_TWIN_CONFIG);
   * b.write({ v_leak: 600 }, { chips: [1] });
   * assert.deepEqual([b.configVersion(0), b.configVersion(1)], [0, 1]);
   * ```
   */
  configVersion(c: number): number {
    return this.#versions[c]!;
  }

  /**
   * A copy of each chip's operation counter.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1], DEFAULT_TWIN_CONFIG);
   * b.claim(2);
   * assert.equal(b.counters()[0], 2);
   * ```
   */
  counters(): Uint32Array {
    return this.#counters.values();
  }

  /**
   * Returns the counters and advances them by `n`.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1], DEFAULT_TWIN_CONFIG);
   * assert.equal(b.claim()[0], 0);
   * assert.equal(b.claim()[0], 1);
   * ```
   */
  claim(n = 1, selection: ChipSelection = {}): Uint32Array {
    return this.#counters.claim(n, selection);
  }

  /**
   * Sets the counters of the selected chips (one value per selected chip).
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1, 2], DEFAULT_TWIN_CONFIG);
   * b.restoreCounters([40], { chips: [1] });
   * assert.deepEqual([...b.counters()], [0, 40]);
   * assert.throws(() => b.restoreCounters([1, 2, 3]), RangeError);
   * ```
   */
  restoreCounters(counters: ArrayLike<number>, selection: ChipSelection = {}): void {
    this.#counters.restore(counters, selection);
  }

  /**
   * The chip indices a selection names (all chips without one), validated.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1, 2, 3], DEFAULT_TWIN_CONFIG);
   * assert.deepEqual(b.selected({}), [0, 1, 2]);
   * assert.deepEqual(b.selected({ chips: [2] }), [2]);
   * assert.throws(() => b.selected({ chips: [3] }), RangeError);
   * ```
   */
  selected(selection: ChipSelection): readonly number[] {
    return selectChips(selection, this.chips.length);
  }

  /**
   * The readout neuron (`enable_readout`) of each of the given chips, for a
   * `membrane-trace`: a `RangeError` naming every chip that has none, before
   * anything runs.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1, 2], DEFAULT_TWIN_CONFIG);
   * const row = new Array(512).fill(0);
   * row[17] = 1;
   * b.write({ enable_readout: row }, { chips: [0] });
   * assert.deepEqual(b.readoutNeurons([0]), [17]);
   * assert.throws(() => b.readoutNeurons([0, 1]), /chip 1 \(sim-2\)/);
   * ```
   */
  readoutNeurons(chips: readonly number[]): number[] {
    const neurons = chips.map((c) => this.#configs[c]!.enable_readout.indexOf(1));
    const missing = chips.filter((_, k) => neurons[k]! < 0);
    if (missing.length > 0) {
      throw new RangeError(
        `membrane-trace: ${missing.length === 1 ? "chip" : "chips"} ${
          missing.map((c) => `${c} (${this.chips[c]!.id})`).join(", ")
        } ${
          missing.length === 1 ? "has" : "have"
        } no readout neuron; set enable_readout on one neuron of each chip`,
      );
    }
    return neurons;
  }

  /**
   * Validates a patch completely, then applies it to every chip.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([1, 2], DEFAULT_TWIN_CONFIG);
   * b.write({ v_leak: 650 });
   * assert.equal(b.config(1).v_leak[3], 650);
   * assert.throws(() => b.write({ v_leak: 700, v_reset: -1 }), RangeError);
   * assert.equal(b.config(0).v_leak[3], 650);
   * ```
   */
  write(patch: ConfigPatch, selection: ChipSelection = {}): void {
    const chips = this.selected(selection);
    const resolved = resolvePatch(patch, chips.length);
    for (const [field, perChip] of resolved) {
      chips.forEach((c, k) => this.#configs[c]![field].set(perChip[k]!));
    }
    if (resolved.size > 0) {
      for (const c of chips) {
        this.#params[c] = undefined;
        this.#versions[c]!++;
      }
    }
  }

  /**
   * The live configuration of chip `c` (do not modify; use {@linkcode write}).
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * assert.equal(new TwinBatch([1], DEFAULT_TWIN_CONFIG).config(0).membrane_capacitance[0], 63);
   * ```
   */
  config(c: number): Readonly<ChipConfig> {
    return this.#configs[c]!;
  }

  /**
   * The mismatch of chip `c`.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * assert.equal(new TwinBatch([4], DEFAULT_TWIN_CONFIG).mismatch(0).seed, 4);
   * ```
   */
  mismatch(c: number): ChipMismatch {
    return this.#mismatch[c]!;
  }

  /**
   * The effective parameters of chip `c` under its current configuration.
   *
   * @example
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * assert.equal(new TwinBatch([4], DEFAULT_TWIN_CONFIG).params(0).gL.length, 512);
   * ```
   */
  params(c: number): ChipParams {
    let p = this.#params[c];
    if (!p) {
      p = chipParams(this.#configs[c]!, this.#mismatch[c]!, this.twin);
      this.#params[c] = p;
    }
    return p;
  }

  /**
   * The true parameters of every neuron (see {@linkcode Truth}), under the
   * current configuration or with `patch` applied to a copy of it.
   *
   * @example τ_mem follows the leak bias
   * ```ts
   * import { TwinBatch } from "./twin_batch.ts";
   * import { DEFAULT_TWIN_CONFIG } from "./twin_config.ts";
   * import assert from "node:assert/strict";
   * const b = new TwinBatch([4], DEFAULT_TWIN_CONFIG);
   * const slow = b.truth({ i_bias_leak: 100 }).tau_mem[0]!;
   * const fast = b.truth({ i_bias_leak: 900 }).tau_mem[0]!;
   * assert.ok(slow > fast);
   * assert.equal(b.config(0).i_bias_leak[0], 500);
   * ```
   */
  truth(patch?: ConfigPatch): Truth {
    const chips = this.chips.length;
    const resolved = patch ? resolvePatch(patch, chips) : undefined;
    const size = chips * NEURONS;
    const t = {
      E_L: new Float64Array(size),
      V_rest: new Float64Array(size),
      V_R: new Float64Array(size),
      V_T: new Float64Array(size),
      tau_mem: new Float64Array(size),
      tau_syn_exc: new Float64Array(size),
      tau_syn_inh: new Float64Array(size),
      C_m: new Float64Array(size),
      t_ref: new Float64Array(size),
      E_L_cadc: new Float64Array(size),
      V_rest_cadc: new Float64Array(size),
      V_R_cadc: new Float64Array(size),
      V_T_cadc: new Float64Array(size),
      E_rev_exc: new Float64Array(size),
      E_rev_inh: new Float64Array(size),
      E_cref_exc: new Float64Array(size),
      E_cref_inh: new Float64Array(size),
      E_rev_exc_cadc: new Float64Array(size),
      E_rev_inh_cadc: new Float64Array(size),
      E_cref_exc_cadc: new Float64Array(size),
      E_cref_inh_cadc: new Float64Array(size),
    };
    for (let c = 0; c < chips; c++) {
      let p: ChipParams;
      if (resolved) {
        const cfg = cloneConfig(this.#configs[c]!);
        for (const [field, perChip] of resolved) cfg[field].set(perChip[c]!);
        p = chipParams(cfg, this.#mismatch[c]!, this.twin);
      } else {
        p = this.params(c);
      }
      const cadc = (n: number, v: number) =>
        0.5 * (cadcContinuous(p, n, v) + cadcContinuous(p, n + NEURONS, v));
      const linear = (n: number, v: number) =>
        0.5 * (cadcLinear(p, n, v) + cadcLinear(p, n + NEURONS, v));
      for (let n = 0; n < NEURONS; n++) {
        const i = c * NEURONS + n;
        const vRest = restingPotential(p, n, this.twin);
        const vR = heldResetPotential(p, n, this.twin);
        t.E_L[i] = p.EL[n]!;
        t.V_rest[i] = vRest;
        t.V_R[i] = vR;
        t.V_T[i] = p.VT[n]!;
        t.tau_mem[i] = p.C[n]! / p.gL[n]!;
        t.tau_syn_exc[i] = p.tauSynExc[n]!;
        t.tau_syn_inh[i] = p.tauSynInh[n]!;
        t.C_m[i] = p.C[n]!;
        t.t_ref[i] = p.tRef[n]!;
        t.E_L_cadc[i] = cadc(n, p.EL[n]!);
        t.V_rest_cadc[i] = cadc(n, vRest);
        t.V_R_cadc[i] = cadc(n, vR);
        t.V_T_cadc[i] = cadc(n, p.VT[n]!);
        const exc = p.cobaExcEnable[n] === 1;
        const inh = p.cobaInhEnable[n] === 1;
        t.E_rev_exc[i] = exc ? cobaReversal(p.crefExc[n]!, p.betaExc[n]!, 1) : Infinity;
        t.E_rev_inh[i] = inh ? cobaReversal(p.crefInh[n]!, p.betaInh[n]!, -1) : -Infinity;
        t.E_cref_exc[i] = exc ? p.crefExc[n]! : Infinity;
        t.E_cref_inh[i] = inh ? p.crefInh[n]! : -Infinity;
        t.E_rev_exc_cadc[i] = linear(n, t.E_rev_exc[i]!);
        t.E_rev_inh_cadc[i] = linear(n, t.E_rev_inh[i]!);
        t.E_cref_exc_cadc[i] = linear(n, t.E_cref_exc[i]!);
        t.E_cref_inh_cadc[i] = linear(n, t.E_cref_inh[i]!);
      }
    }
    return t;
  }
}
