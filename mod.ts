/**
 * lifcal calibrates the 512 analog leaky integrate-and-fire neurons of
 * BrainScaleS-2 chips — simulated twins ("twins") on the CPU or through
 * WebGPU, or real hardware behind a remote host — many chips at once, with
 * the interface of calix's `calix.spiking.neuron`.
 *
 * Import it by path, by `file://` or `https://` URL: lifcal needs no import
 * map of yours (its npm dependencies are written with their versions in
 * `deps/`), and the WebGPU kernels load from wherever the module came from.
 *
 * ## Quick start
 *
 * {@linkcode calibrate} searches, for every neuron of every chip of a
 * backend, the CapMem codes and digital settings that make its leak, reset and
 * threshold potentials, time constants, synaptic strength and refractory time
 * hit a {@linkcode NeuronCalibTarget} (calix's default where a field is left
 * out; times carry units). It returns one {@linkcode NeuronCalibResult} per
 * chip: the codes, the per-neuron `success` mask, warnings, and what a
 * measurement after the calibration found (`verification`). Results are
 * versioned JSON ({@linkcode resultToJson}, {@linkcode parseResult}) and go
 * back onto a chip with {@linkcode applyResult}.
 *
 * @example Calibrate one simulated chip and read its result
 * ```ts
 * import { calibrate, openBackend, parseResult, resultToJson } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 1 }); // the twin sim-1
 * const [result] = await calibrate(backend, { leak: 90, tau_mem: "20 us" });
 *
 * const calibrated = result!.success.filter((ok) => ok).length;
 * assert.ok(calibrated > 0.95 * 512, `${calibrated} of 512 neurons calibrated`);
 * const leak = result!.verification.leak.filter((v) => v !== null).sort((a, b) => a - b);
 * assert.ok(Math.abs(leak[256]! - 90) < 2); // the median neuron rests at 90 CADC LSB
 * assert.equal(result!.capmem.v_leak.length, 512); // one CapMem code per neuron
 *
 * const text = resultToJson(result!); // what `lifcal calibrate` writes to chips/sim-1.json
 * assert.deepEqual(parseResult(text), result);
 * await backend.close();
 * ```
 *
 * ## Backends
 *
 * {@linkcode openBackend} opens a batch of chips behind the
 * {@linkcode Backend} trait; every calibration calibrates all of them in
 * lock-step, and a chip's result never depends on its batch.
 *
 * - `{ backend: "cpu", chips: 8 }` (or `chips: [3, 7, 11]`): twins by seed,
 *   simulated on the CPU ({@linkcode CpuBackend});
 * - `{ backend: "webgpu", chips }`: the same twins simulated and searched by
 *   WGSL kernels on a WebGPU adapter — a GPU, or Mesa's llvmpipe without one
 *   ({@linkcode WebGpuBackend});
 * - `{ backend: "auto", chips }`: WebGPU where an adapter passes its start-up
 *   self-test, the CPU otherwise;
 * - `{ backend: "remote", url, token }` or `{ backend: "remote", bridge }`:
 *   the chips of a host that speaks lifcal's wire protocol — real hardware,
 *   or any backend served by `lifcal serve` — by the ids the host gives.
 *
 * A backend measures ({@linkcode Measurement}, one of
 * {@linkcode MEASUREMENT_KINDS}), writes configuration
 * ({@linkcode ConfigPatch}) and runs whole searches ({@linkcode SearchSpec})
 * with calix's search algorithms as pure update rules
 * ({@linkcode planSearch}, {@linkcode initSearch}, {@linkcode searchUpdate},
 * {@linkcode searchResult}); a new backend implements the trait and may run
 * its searches with {@linkcode genericSearch}.
 *
 * @example A backend by hand: search every neuron's leak code for a reading of 80
 * ```ts
 * import { openBackend } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = await openBackend({ backend: "cpu", chips: 2 });
 * await backend.write({ threshold_enable: 0 });
 * const result = await backend.search({
 *   field: "v_leak",
 *   algorithm: { name: "noisy-binary" },
 *   target: 80,
 *   measurement: { kind: "resting-potential" },
 * });
 * assert.ok(result.success.reduce((a, b) => a + b) > 0.97 * 2 * 512);
 * const rest = await backend.measure({ kind: "resting-potential", reads: 4 });
 * const sorted = rest.toSorted((a, b) => a - b);
 * assert.ok(Math.abs(sorted[512]! - 80) < 2);
 * await backend.close();
 * ```
 *
 * ## More
 *
 * - `./twin` (`twin.ts`): the chip model — its numbers, mismatch, transfer
 *   functions and the twin batch — for studies of the model itself;
 * - `./remote` (`remote.ts`): the remote backend, the host and server that
 *   serve a backend over the wire protocol, the conformance suite and the
 *   protocol's messages;
 * - `./cli` (`cli/main.ts`): the `lifcal` command line.
 *
 * @module
 */

// Calibration with calix's interface: targets, options, results and errors.
export {
  calibrate,
  type CalibrateExtras,
  CALIBRATION_STEPS,
  calibrationSteps,
  type CalibStep,
  type StepPlan,
  stepPlan,
} from "./calib/calibrate.ts";
export {
  type CadcCalibOptions,
  type CadcCalibResult,
  type CadcCalibTarget,
  calibrateCadc,
} from "./calib/cadc.ts";
export { refinePotentials } from "./calib/refine.ts";
export { calibrateLeakOverThreshold } from "./calib/leak_over_threshold.ts";
export {
  applyResult,
  type NeuronCalibResult,
  parseResult,
  RESULT_DIGITAL_FIELDS,
  type ResultDigitalField,
  resultToJson,
  type Verification,
} from "./calib/result.ts";
export { type VerifiedParameter, verifyResults } from "./calib/verify.ts";
export {
  CALIB_ALGORITHMS,
  type CalibAlgorithm,
  type CobaInputValue,
  type CobaValue,
  type NeuronCalibOptions,
  NeuronCalibOptionsSchema,
  type NeuronCalibTarget,
  NeuronCalibTargetSchema,
  type PerNeuronValue,
  type ResolvedOptions,
  type ResolvedTarget,
  resolveOptions,
  resolveTarget,
  type ShapeSchema,
  type SyninGmValue,
  type TauSynValue,
} from "./calib/target.ts";
export {
  type RateUnit,
  type RateValue,
  type TimesValue,
  type TimeUnit,
  type TimeValue,
} from "./calib/units.ts";
export { CalibNotSuccessful, type FailureDetails } from "./calib/errors.ts";
export { VERSION } from "./version.ts";

// Backends: opening one, the trait every executor implements and its vocabulary.
export {
  openBackend,
  type OpenBackendOptions,
  type RemoteOpenOptions,
  type TwinBackendOptions,
} from "./backends/open_backend.ts";
export type {
  Backend,
  BackendInfo,
  ChipRef,
  ChipSelection,
  ReadingMap,
  SearchResult,
  SearchSpec,
  Truth,
} from "./backends/backend.ts";
export {
  type CadcReference,
  type Measurement,
  MEASUREMENT_DEFAULTS,
  MEASUREMENT_KINDS,
  type MeasurementDefaults,
  type MeasurementKind,
  type MembraneTrace,
  type PerNeuron,
  type PspAmplitude,
  readingLimits,
  type ResetPotential,
  type RestingPotential,
  type SpikeCount,
  type SynlineDrop,
  type TauMem,
  type TauMemCadc,
  type TauMemReset,
  type TauSyn,
  type ThresholdMax,
  type TraceEvent,
  traceSampling,
  validateMeasurement,
  type WithDefaults,
  withDefaults,
} from "./backends/measurement.ts";
export {
  type ChipConfig,
  type ConfigPatch,
  type FieldName,
  FIELDS,
  type FieldScope,
  type FieldSpec,
  NEURON_CAPMEM_ROWS,
  type NeuronCapMemRow,
  type PatchValue,
  resolvePatch,
  SEARCHABLE_FIELDS,
  type SearchableField,
} from "./backends/config.ts";
export {
  CADC_CHANNELS,
  HEMISPHERES,
  NEURONS,
  NEURONS_PER_QUADRANT,
  QUADRANTS,
} from "./backends/layout.ts";
export { type DrivenSearch, driveSearch, genericSearch } from "./backends/generic_search.ts";
export {
  ExcessiveNoiseError,
  initSearch,
  planSearch,
  type SearchAlgorithm,
  type SearchPlan,
  searchResult,
  type SearchState,
  searchUpdate,
} from "./backends/search_rules.ts";
export { ConnectionError } from "./backends/remote/link.ts";
export { RequestTimeoutError } from "./backends/remote/client.ts";
export { type RemoteBackendOptions, type RemoteOptions } from "./backends/remote/remote_backend.ts";
export { ERROR_CODES, type ErrorCode, ProtocolError } from "./backends/remote/frame.ts";

// Executors, for benchmarks: the twin on the CPU and on WebGPU.
export { CpuBackend, type CpuBackendOptions } from "./backends/cpu/cpu_backend.ts";
export { WebGpuBackend } from "./backends/webgpu/webgpu_backend.ts";
export {
  DEFAULT_TWIN_CONFIG,
  type Normal,
  type TwinConfig,
  type TwinConfigOverride,
} from "./backends/twin/twin_config.ts";
