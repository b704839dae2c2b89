/**
 * A backend wrapper that records how a calibration converges on twins, in
 * true numbers: for every step of every search, the true residual of every
 * searched neuron (`backend.truth()` against the search's target), the
 * measurements and the emulated hardware time spent so far
 * (`hardware_time.ts`).
 *
 * The wrapper runs every search itself with {@linkcode genericSearch} over
 * its own `write`, `measure` and `search` — never the inner backend's fused
 * search — so it sees every write, every measurement and every sub-search
 * (`spec.before`). The inner backend claims the same operations in the same
 * order either way (the reproducibility contract), so the codes are those of
 * a calibration without the wrapper.
 *
 * While a search is on top of the wrapper's stack, each `measure` is that
 * search's step k. The recorder then asks `inner.truth()` (the current
 * configuration: step k's codes, the sub-searches' codes included) and keeps,
 * for every instance of every chip the search runs on, the true residual:
 * |truth − target| in CADC LSB for the potentials (`resting-potential` →
 * `V_rest_cadc`, `reset-potential` → `V_R_cadc`, `threshold-max` →
 * `V_T_cadc`), |truth / target − 1| for the time constants (`tau-mem`,
 * `tau-mem-reset` → `tau_mem`, `tau-syn-*` → `tau_syn_*`). Where the truth
 * has no such quantity (PSP amplitudes, synaptic-line drop, the CADC τ_mem
 * read, spike counts, CADC references, quadrant means) the residual is the
 * measured one, |reading − target| after the reading maps, and the search's
 * basis is `measured`.
 *
 * Searches are grouped by calibration step ({@linkcode enterStep}, from
 * `calibrate`'s `onStep`), field, measurement kind and occurrence (per
 * chip, so the chip groups of one search — calix's per-chip event counts,
 * run one after the other — join one group); sub-searches form groups of
 * their own under their parent, by occurrence within the parent search. A
 * group's statistics are computed when the next top-level search of another
 * group starts, so only one search's residuals are held at a time. Writes and measurements outside
 * any search (preludes, postludes, and the searches `calib/coba.ts` drives
 * with `driveSearch`, which are not searches to the wrapper) count into the
 * totals; their residual is not recorded.
 *
 * @module
 */

import type {
  Backend,
  BackendInfo,
  ChipRef,
  ChipSelection,
  SearchResult,
  SearchSpec,
  Truth,
} from "../backends/backend.ts";
import type { ChipConfig, ConfigPatch } from "../backends/config.ts";
import {
  expandPerInstance,
  genericSearch,
  selectRows,
  validateSearchSpec,
} from "../backends/generic_search.ts";
import type { Measurement, MeasurementKind } from "../backends/measurement.ts";
import type { TwinConfig } from "../backends/twin/twin_config.ts";
import { errorUnit } from "./convergence.ts";
import { measurementSeconds, writeSeconds } from "./hardware_time.ts";
import { quantiles } from "./stats.ts";
import { TRUE_QUANTITY_OF_KIND, type TrueQuantity, trueResiduals } from "./true_residual.ts";

/**
 * The fields whose searches keep calix's BinarySearch (and LinearPrediction)
 * whatever the calibration's `algorithm` option: the CADC ramps and channel
 * offsets and the synapse DAC bias.
 *
 * @example
 * ```ts
 * import { FIXED_ALGORITHM_FIELDS } from "./convergence_recorder.ts";
 * import assert from "node:assert/strict";
 * assert.ok(FIXED_ALGORITHM_FIELDS.includes("syn_i_bias_dac"));
 * ```
 */
export const FIXED_ALGORITHM_FIELDS: readonly string[] = [
  "cadc_v_ramp_offset",
  "cadc_i_ramp_slope",
  "cadc_channel_offset",
  "syn_i_bias_dac",
];

/** One step k of a search group, over every instance of every chip that ran it. */
export interface ConvergenceStep {
  /** Median residual (true, or measured where the basis is `measured`); null: nothing finite. */
  readonly median: number | null;
  /** 90th percentile of the residual. */
  readonly p90: number | null;
  /** Median |reading − target| after the reading maps, in `measured_unit`. */
  readonly measured_median: number | null;
  /** Median over chips of the measurements since the search started (sub-searches' included). */
  readonly measurements: number | null;
  /** Median over chips of the emulated hardware time since the search started (s). */
  readonly hardware_seconds: number | null;
}

/** Every run of one search of a calibration, step by step. */
export interface SearchGroup {
  /** The calibration step it ran in (`""` outside any). */
  readonly step: string;
  /** The searched field. */
  readonly field: string;
  /** The measurement kind. */
  readonly measurement: MeasurementKind;
  /** 1-based: the how-many-th search of this field and kind in the step (or the parent search). */
  readonly occurrence: number;
  /** The search algorithm's name. */
  readonly algorithm: string;
  /** A search that keeps calix's algorithm whatever the option (see {@linkcode FIXED_ALGORITHM_FIELDS}). */
  readonly fixed_algorithm: boolean;
  /** Chips that ran it. */
  readonly chips: number;
  /** Backend searches joined in the group (chip groups). */
  readonly runs: number;
  /** `truth`: the residual is the true one; `measured`: the truth lacks the quantity. */
  readonly basis: "truth" | "measured";
  /** Unit of `median` and `p90`: `CADC LSB`, `relative`, or the measured unit. */
  readonly unit: string;
  /** Unit of `measured_median`. */
  readonly measured_unit: string;
  /** Step k = 1, 2, … (index k − 1). */
  readonly steps: readonly ConvergenceStep[];
  /**
   * The true residual at the codes the search settled on (after its final
   * write; a noisy binary search picks the best code of its last steps), or
   * null where the basis is `measured` (the recorder adds no measurement).
   */
  readonly result: { readonly median: number | null; readonly p90: number | null } | null;
  /** Sub-searches run before every measurement, grouped by occurrence within this search. */
  readonly sub_searches: readonly SearchGroup[];
}

/** Per-chip totals of a calibration (arrays in batch order). */
export interface RecordedTotals {
  /** Measurements (each `measure` call counts 1 per selected chip). */
  readonly measurements: readonly number[];
  /** Emulated hardware time (s). */
  readonly hardware_seconds: readonly number[];
  /** Writes. */
  readonly writes: readonly number[];
  /** Writes that touched a CapMem cell. */
  readonly capmem_writes: readonly number[];
  /** What happened outside any search (preludes, postludes, driven searches). */
  readonly outside_searches: {
    readonly measurements: readonly number[];
    readonly hardware_seconds: readonly number[];
  };
  /** What the searches of {@linkcode FIXED_ALGORITHM_FIELDS} took. */
  readonly fixed_algorithm: {
    readonly measurements: readonly number[];
    readonly hardware_seconds: readonly number[];
  };
}

/** What a {@linkcode ConvergenceRecorder} recorded. */
export interface CalibrationRecording {
  /** The chips, in batch order. */
  readonly chips: readonly string[];
  /** Top-level search groups, in the order they first ran. */
  readonly searches: readonly SearchGroup[];
  /** Per calibration step, per chip: measurements and emulated time. */
  readonly steps: readonly {
    readonly name: string;
    readonly measurements: readonly number[];
    readonly hardware_seconds: readonly number[];
  }[];
  /** Whole-calibration totals per chip. */
  readonly totals: RecordedTotals;
  /** Wall time the recorder itself spent (truth and residuals), s. */
  readonly recorder_seconds: number;
}

/** One step of one running search: per active chip and instance. */
interface _RunStep {
  readonly measurements: Float64Array;
  readonly seconds: Float64Array;
  readonly residual: Float64Array | undefined;
}

/** A search on the stack. */
interface _Run {
  readonly spec: SearchSpec;
  readonly active: readonly number[];
  readonly size: number;
  readonly target: Float64Array;
  readonly quantity: TrueQuantity | undefined;
  readonly group: _Group;
  readonly fixed: boolean;
  readonly startMeasurements: Float64Array;
  readonly startSeconds: Float64Array;
  readonly steps: _RunStep[];
  readonly subCounts: Map<string, number>;
}

/** A step of a group while it collects. */
interface _GroupStep {
  residual: Float64Array[];
  measured: Float64Array[];
  measurements: number[];
  seconds: number[];
}

/** A search group while it collects. */
interface _Group {
  readonly step: string;
  readonly field: string;
  readonly measurement: MeasurementKind;
  readonly occurrence: number;
  readonly algorithm: string;
  readonly fixed: boolean;
  readonly basis: "truth" | "measured";
  readonly unit: string;
  readonly measuredUnit: string;
  readonly chips: Set<number>;
  runs: number;
  steps: _GroupStep[];
  result: Float64Array[];
  readonly subs: _Group[];
  readonly subByKey: Map<string, _Group>;
  final: SearchGroup | undefined;
}

function _median(values: readonly number[]): number | null {
  return quantiles(values, [0.5])[0]!;
}

function _concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function _finalize(g: _Group): SearchGroup {
  if (g.final) return g.final;
  const steps = g.steps.map((s): ConvergenceStep => {
    const measured = _concat(s.measured);
    const residual = g.basis === "truth" ? _concat(s.residual) : measured;
    const [median, p90] = quantiles(residual, [0.5, 0.9]);
    return {
      median: median!,
      p90: p90!,
      measured_median: _median(Array.from(measured)),
      measurements: _median(s.measurements),
      hardware_seconds: _median(s.seconds),
    };
  });
  const [median, p90] = quantiles(_concat(g.result), [0.5, 0.9]);
  const result = g.basis === "truth" ? { median: median!, p90: p90! } : null;
  g.steps = [];
  g.result = [];
  g.final = {
    step: g.step,
    field: g.field,
    measurement: g.measurement,
    occurrence: g.occurrence,
    algorithm: g.algorithm,
    fixed_algorithm: g.fixed,
    chips: g.chips.size,
    runs: g.runs,
    basis: g.basis,
    unit: g.unit,
    measured_unit: g.measuredUnit,
    steps,
    result,
    sub_searches: g.subs.map(_finalize),
  };
  return g.final;
}

/**
 * A {@linkcode Backend} over a twin backend that records the convergence of
 * every search run through it (see the module doc). Pass it to `calibrate`
 * with `onStep: (s) => recorder.enterStep(s)`, then read
 * {@linkcode recording}.
 *
 * @example The leak of one twin: the true residual falls below a CADC LSB
 * ```ts
 * import { openBackend } from "../mod.ts";
 * import { ConvergenceRecorder } from "./convergence_recorder.ts";
 * import assert from "node:assert/strict";
 * const recorder = new ConvergenceRecorder(await openBackend({ backend: "cpu", chips: 1 }));
 * recorder.enterStep("leak");
 * await recorder.write({ threshold_enable: 0 });
 * await recorder.search({ field: "v_leak", algorithm: { name: "noisy-binary" }, target: 80,
 *   measurement: { kind: "resting-potential", reads: 8 } });
 * const rec = recorder.recording();
 * const [leak] = rec.searches;
 * assert.equal(leak!.basis, "truth");
 * assert.equal(leak!.steps.length, 13);
 * assert.ok(leak!.steps[0]!.median! > 10 && leak!.steps[12]!.median! < 1);
 * assert.ok(leak!.result!.median! < 1);
 * assert.equal(leak!.steps[12]!.measurements, 13);
 * assert.deepEqual(rec.totals.measurements, [13]);
 * await recorder.close();
 * ```
 */
export class ConvergenceRecorder implements Backend {
  /** The inner backend's info. */
  readonly info: BackendInfo;
  /** The chips of the batch. */
  readonly chips: readonly ChipRef[];
  /** Per-chip RNG keys. */
  readonly keys: Uint32Array;
  /** The twin model of the inner backend. */
  readonly twin?: TwinConfig;
  readonly #inner: Backend;
  readonly #truth: (patch?: ConfigPatch) => Promise<Truth>;
  #step = "";
  readonly #stack: _Run[] = [];
  readonly #groups: _Group[] = [];
  readonly #byKey = new Map<string, _Group>();
  readonly #occurrences: Map<string, number>[];
  readonly #measurements: Float64Array;
  readonly #seconds: Float64Array;
  readonly #writes: Float64Array;
  readonly #capmemWrites: Float64Array;
  readonly #outsideMeasurements: Float64Array;
  readonly #outsideSeconds: Float64Array;
  readonly #fixedMeasurements: Float64Array;
  readonly #fixedSeconds: Float64Array;
  readonly #stepLog: { name: string; measurements: number[]; hardware_seconds: number[] }[] = [];
  #stepStart: { measurements: Float64Array; seconds: Float64Array };
  #recorderMs = 0;

  /**
   * Wraps a backend that has `truth` (a twin); a `TypeError` otherwise.
   *
   * @param inner The backend whose chips are calibrated.
   */
  constructor(inner: Backend) {
    if (!inner.truth) {
      throw new TypeError(
        `The convergence recorder needs a backend with truth() (twins); ${inner.info.description} has none`,
      );
    }
    this.#inner = inner;
    this.#truth = inner.truth.bind(inner);
    this.info = inner.info;
    this.chips = inner.chips;
    this.keys = inner.keys;
    if (inner.twin) this.twin = inner.twin;
    const n = inner.chips.length;
    this.#occurrences = inner.chips.map(() => new Map());
    this.#measurements = new Float64Array(n);
    this.#seconds = new Float64Array(n);
    this.#writes = new Float64Array(n);
    this.#capmemWrites = new Float64Array(n);
    this.#outsideMeasurements = new Float64Array(n);
    this.#outsideSeconds = new Float64Array(n);
    this.#fixedMeasurements = new Float64Array(n);
    this.#fixedSeconds = new Float64Array(n);
    this.#stepStart = { measurements: new Float64Array(n), seconds: new Float64Array(n) };
  }

  /**
   * The calibration enters a step (`calibrate`'s `onStep`): the searches
   * from now on belong to it. The groups of the steps before are final.
   */
  enterStep(name: string): void {
    this.#closeStep();
    for (const g of this.#groups) _finalize(g);
    this.#step = name;
  }

  /** A copy of each chip's operation counter. */
  counters(): Uint32Array {
    return this.#inner.counters();
  }

  /** Claims operations on the inner backend. */
  claim(n?: number, selection?: ChipSelection): Uint32Array {
    return this.#inner.claim(n, selection);
  }

  /** Restores the inner backend's counters. */
  restoreCounters(counters: ArrayLike<number>, selection?: ChipSelection): void {
    this.#inner.restoreCounters(counters, selection);
  }

  /** Writes through, counting the write and its settling time per selected chip. */
  async write(patch: ConfigPatch, selection?: ChipSelection): Promise<void> {
    await this.#inner.write(patch, selection);
    const seconds = writeSeconds(patch);
    const root = this.#stack[0];
    for (const c of this.#selected(selection)) {
      this.#writes[c]!++;
      if (seconds > 0) this.#capmemWrites[c]!++;
      this.#seconds[c]! += seconds;
      if (!root) this.#outsideSeconds[c]! += seconds;
      else if (root.fixed) this.#fixedSeconds[c]! += seconds;
    }
  }

  /** The inner backend's configuration. */
  config(): Promise<ChipConfig[]> {
    return this.#inner.config();
  }

  /**
   * Measures through, counting the measurement and its duration per
   * selected chip; inside a search it is that search's next step, and the
   * true residuals are taken.
   */
  async measure(m: Measurement, selection?: ChipSelection): Promise<Float32Array> {
    const out = await this.#inner.measure(m, selection);
    const t0 = performance.now();
    const root = this.#stack[0];
    for (const c of this.#selected(selection)) {
      const seconds = measurementSeconds(m, c);
      this.#measurements[c]!++;
      this.#seconds[c]! += seconds;
      if (!root) {
        this.#outsideMeasurements[c]!++;
        this.#outsideSeconds[c]! += seconds;
      } else if (root.fixed) {
        this.#fixedMeasurements[c]!++;
        this.#fixedSeconds[c]! += seconds;
      }
    }
    const top = this.#stack.at(-1);
    if (top) await this.#recordStep(top);
    this.#recorderMs += performance.now() - t0;
    return out;
  }

  /**
   * Runs the search with {@linkcode genericSearch} on this wrapper (never
   * the inner backend's fused search) and records it.
   */
  async search(spec: SearchSpec): Promise<SearchResult> {
    const run = this.#begin(spec);
    this.#stack.push(run);
    let result: SearchResult;
    try {
      result = await genericSearch(this, { ...spec, trace: true });
    } finally {
      this.#stack.pop();
    }
    const t0 = performance.now();
    if (run.quantity) {
      run.group.result.push(
        trueResiduals(await this.#truth(), run.quantity, run.target, run.active, run.size),
      );
    }
    this.#end(run, result);
    this.#recorderMs += performance.now() - t0;
    if (spec.trace) return result;
    const { trace: _trace, ...rest } = result;
    return rest;
  }

  /** The inner backend's truth. */
  truth(patch?: ConfigPatch): Promise<Truth> {
    return this.#truth(patch);
  }

  /** Closes the inner backend. */
  close(): Promise<void> {
    return this.#inner.close();
  }

  /** What was recorded so far; every group is final afterwards. */
  recording(): CalibrationRecording {
    this.#closeStep();
    this.#stepStart = {
      measurements: this.#measurements.slice(),
      seconds: this.#seconds.slice(),
    };
    const list = (a: Float64Array) => Array.from(a);
    return {
      chips: this.chips.map((c) => c.id),
      searches: this.#groups.map(_finalize),
      steps: this.#stepLog.slice(),
      totals: {
        measurements: list(this.#measurements),
        hardware_seconds: list(this.#seconds),
        writes: list(this.#writes),
        capmem_writes: list(this.#capmemWrites),
        outside_searches: {
          measurements: list(this.#outsideMeasurements),
          hardware_seconds: list(this.#outsideSeconds),
        },
        fixed_algorithm: {
          measurements: list(this.#fixedMeasurements),
          hardware_seconds: list(this.#fixedSeconds),
        },
      },
      recorder_seconds: this.#recorderMs / 1000,
    };
  }

  #selected(selection: ChipSelection | undefined): readonly number[] {
    return selection?.chips ?? this.chips.map((_, c) => c);
  }

  /** Logs the measurements and time of the step that ends now (if any happened). */
  #closeStep(): void {
    const measurements = Array.from(
      this.#measurements,
      (v, c) => v - this.#stepStart.measurements[c]!,
    );
    const seconds = Array.from(this.#seconds, (v, c) => v - this.#stepStart.seconds[c]!);
    if (this.#step !== "" || measurements.some((v) => v > 0) || seconds.some((v) => v > 0)) {
      this.#stepLog.push({ name: this.#step, measurements, hardware_seconds: seconds });
    }
    this.#stepStart = { measurements: this.#measurements.slice(), seconds: this.#seconds.slice() };
  }

  #begin(spec: SearchSpec): _Run {
    const chips = this.chips.length;
    const { size } = validateSearchSpec(spec, chips);
    const active = spec.chips ?? this.chips.map((_, c) => c);
    const kind = spec.measurement.kind;
    const truthKind = TRUE_QUANTITY_OF_KIND[kind];
    const quantity = truthKind && spec.reduce === undefined && size === 512 ? truthKind : undefined;
    const parent = this.#stack.at(-1);
    const fixed = parent ? parent.fixed : FIXED_ALGORITHM_FIELDS.includes(spec.field);
    const base = `${spec.field}|${kind}`;
    let occurrence: number;
    let siblings: { list: _Group[]; byKey: Map<string, _Group> };
    let step = this.#step;
    if (parent) {
      occurrence = (parent.subCounts.get(base) ?? 0) + 1;
      parent.subCounts.set(base, occurrence);
      siblings = { list: parent.group.subs, byKey: parent.group.subByKey };
      step = parent.group.step;
    } else {
      const key = `${this.#step}|${base}`;
      occurrence = 1 + Math.max(...active.map((c) => this.#occurrences[c]!.get(key) ?? 0));
      for (const c of active) this.#occurrences[c]!.set(key, occurrence);
      siblings = { list: this.#groups, byKey: this.#byKey };
    }
    const key = `${step}|${base}|${occurrence}`;
    let group = siblings.byKey.get(key);
    if (!group || group.final) {
      const measured = errorUnit(kind).unit;
      group = {
        step,
        field: spec.field,
        measurement: kind,
        occurrence,
        algorithm: spec.algorithm.name,
        fixed,
        basis: quantity ? "truth" : "measured",
        unit: quantity ? quantity.unit : measured,
        measuredUnit: measured,
        chips: new Set(),
        runs: 0,
        steps: [],
        result: [],
        subs: [],
        subByKey: new Map(),
        final: undefined,
      };
      siblings.list.push(group);
      siblings.byKey.set(key, group);
    }
    // A new top-level search closes the groups before it (a calibration runs the chip
    // groups of one search one after the other), which bounds the memory of the residuals.
    if (!parent) { for (const g of this.#groups) if (g !== group) _finalize(g); }
    group.runs++;
    for (const c of active) group.chips.add(c);
    return {
      spec,
      active,
      size,
      target: expandPerInstance(spec.target, size, chips),
      quantity,
      group,
      fixed,
      startMeasurements: Float64Array.from(active, (c) => this.#measurements[c]!),
      startSeconds: Float64Array.from(active, (c) => this.#seconds[c]!),
      steps: [],
      subCounts: new Map(),
    };
  }

  async #recordStep(run: _Run): Promise<void> {
    const measurements = Float64Array.from(
      run.active,
      (c, j) => this.#measurements[c]! - run.startMeasurements[j]!,
    );
    const seconds = Float64Array.from(
      run.active,
      (c, j) => this.#seconds[c]! - run.startSeconds[j]!,
    );
    const residual = run.quantity
      ? trueResiduals(await this.#truth(), run.quantity, run.target, run.active, run.size)
      : undefined;
    run.steps.push({ measurements, seconds, residual });
  }

  #end(run: _Run, result: SearchResult): void {
    const readings = result.trace?.readings ?? [];
    const target = selectRows(run.target, run.active, run.size);
    const scale = errorUnit(run.spec.measurement.kind).scale;
    run.steps.forEach((s, k) => {
      const r = readings[k];
      const measured = new Float64Array(target.length).fill(NaN);
      if (r) {
        for (let i = 0; i < target.length; i++) {
          measured[i] = Math.abs(r[i]! - target[i]!) * scale;
        }
      }
      const g =
        (run.group.steps[k] ??= { residual: [], measured: [], measurements: [], seconds: [] });
      if (s.residual) g.residual.push(s.residual);
      g.measured.push(measured);
      g.measurements.push(...s.measurements);
      g.seconds.push(...s.seconds);
    });
  }
}
