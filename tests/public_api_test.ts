/**
 * The public API is chosen on purpose: `mod.ts` exports exactly the names
 * below (an accidental export fails here), every one of them documented with
 * an example that `deno test --doc` runs, and the subpath exports of
 * `deno.json` point at modules that exist.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** What `mod.ts` exports, by who needs it. */
const EXPECTED: Record<string, readonly string[]> = {
  "calix's interface: calibrations, targets, options, results and errors": [
    "calibrate",
    "CalibrateExtras",
    "calibrateCadc",
    "CadcCalibTarget",
    "CadcCalibOptions",
    "CadcCalibResult",
    "refinePotentials",
    "calibrateLeakOverThreshold",
    "applyResult",
    "parseResult",
    "resultToJson",
    "NeuronCalibResult",
    "Verification",
    "RESULT_DIGITAL_FIELDS",
    "ResultDigitalField",
    "verifyResults",
    "VerifiedParameter",
    "NeuronCalibTarget",
    "NeuronCalibTargetSchema",
    "NeuronCalibOptions",
    "NeuronCalibOptionsSchema",
    "ShapeSchema",
    "resolveTarget",
    "resolveOptions",
    "ResolvedTarget",
    "ResolvedOptions",
    "PerNeuronValue",
    "TauSynValue",
    "SyninGmValue",
    "CobaInputValue",
    "CobaValue",
    "TimeValue",
    "TimesValue",
    "TimeUnit",
    "RateValue",
    "RateUnit",
    "CALIB_ALGORITHMS",
    "CalibAlgorithm",
    "CALIBRATION_STEPS",
    "calibrationSteps",
    "stepPlan",
    "StepPlan",
    "CalibStep",
    "CalibNotSuccessful",
    "FailureDetails",
    "ExcessiveNoiseError",
    "ConnectionError",
    "RequestTimeoutError",
    "ProtocolError",
    "ERROR_CODES",
    "ErrorCode",
    "VERSION",
  ],
  "backend authors: opening a backend, the trait and its vocabulary": [
    "openBackend",
    "OpenBackendOptions",
    "TwinBackendOptions",
    "RemoteOpenOptions",
    "RemoteBackendOptions",
    "RemoteOptions",
    "Backend",
    "BackendInfo",
    "ChipRef",
    "ChipSelection",
    "ReadingMap",
    "SearchSpec",
    "SearchResult",
    "Truth",
    "Measurement",
    "MEASUREMENT_KINDS",
    "MeasurementKind",
    "PerNeuron",
    "RestingPotential",
    "ResetPotential",
    "ThresholdMax",
    "TauMem",
    "TauMemReset",
    "TauMemCadc",
    "TauSyn",
    "SynlineDrop",
    "PspAmplitude",
    "SpikeCount",
    "CadcReference",
    "MembraneTrace",
    "TraceEvent",
    "traceSampling",
    "validateMeasurement",
    "MEASUREMENT_DEFAULTS",
    "MeasurementDefaults",
    "withDefaults",
    "WithDefaults",
    "readingLimits",
    "ConfigPatch",
    "PatchValue",
    "ChipConfig",
    "FIELDS",
    "FieldName",
    "FieldSpec",
    "FieldScope",
    "NEURON_CAPMEM_ROWS",
    "NeuronCapMemRow",
    "SEARCHABLE_FIELDS",
    "SearchableField",
    "resolvePatch",
    "NEURONS",
    "QUADRANTS",
    "HEMISPHERES",
    "CADC_CHANNELS",
    "NEURONS_PER_QUADRANT",
    "genericSearch",
    "driveSearch",
    "DrivenSearch",
    "planSearch",
    "initSearch",
    "searchUpdate",
    "searchResult",
    "SearchAlgorithm",
    "SearchPlan",
    "SearchState",
  ],
  "benchmark authors: the executors and the twin model's numbers": [
    "CpuBackend",
    "CpuBackendOptions",
    "WebGpuBackend",
    "DEFAULT_TWIN_CONFIG",
    "TwinConfig",
    "TwinConfigOverride",
    "Normal",
  ],
};

interface _DocTag {
  readonly kind: string;
  readonly doc?: string;
}

interface _DocSymbol {
  readonly name: string;
  readonly declarations: readonly {
    readonly location: { readonly filename: string };
    readonly jsDoc?: { readonly doc?: string; readonly tags?: readonly _DocTag[] };
  }[];
}

/** The exported symbols of a module of this package, as `deno doc --json` lists them. */
async function _exports(module: string): Promise<_DocSymbol[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", module],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const json = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: _DocSymbol[] }>;
  };
  const node = json.nodes[new URL(module, ROOT).href];
  assert.ok(node, `deno doc lists ${module}`);
  return node.symbols;
}

/** Whether an `@example` holds a code block that `deno test --doc` runs (not `ignore`). */
function _runnableExample(tag: _DocTag): boolean {
  return tag.kind === "example" &&
    /```(ts|typescript|js|javascript)?[ \t]*\n/.test(tag.doc ?? "") &&
    !/```\w*[ \t]+ignore/.test(tag.doc ?? "");
}

const mod = await _exports("mod.ts");

Deno.test("mod.ts exports exactly the chosen public API", () => {
  const expected = Object.values(EXPECTED).flat();
  assert.equal(new Set(expected).size, expected.length, "the expected list has no repeats");
  const actual = new Set(mod.map((s) => s.name));
  const extra = [...actual].filter((n) => !expected.includes(n)).sort();
  const missing = expected.filter((n) => !actual.has(n)).sort();
  assert.deepEqual({ extra, missing }, { extra: [], missing: [] });
});

Deno.test("mod.ts keeps internals out: RNG, atomic writes, dispatch caps, frame codecs", () => {
  const names = new Set(mod.map((s) => s.name));
  for (
    const internal of [
      "pcg",
      "hash3",
      "NoiseStream",
      "writeFileAtomic",
      "MAX_STEPS_PER_DISPATCH",
      "encodeFrame",
      "decodeFrame",
      "twinId",
      "drawMismatch",
      "ChipHost",
    ]
  ) {
    assert.ok(!names.has(internal), `${internal} is not part of mod.ts`);
  }
});

Deno.test("every export of mod.ts is documented with an example that deno test --doc runs", () => {
  const without = mod.filter((s) =>
    !s.declarations.some((d) =>
      (d.jsDoc?.doc ?? "").trim() !== "" && (d.jsDoc?.tags ?? []).some(_runnableExample)
    )
  ).map((s) => s.name);
  assert.deepEqual(without, []);
});

Deno.test("the module doc of mod.ts is a quick start with runnable examples", async () => {
  const text = await Deno.readTextFile(new URL("mod.ts", ROOT));
  const doc = text.slice(0, text.indexOf("@module"));
  for (
    const word of ["calibrate(", "openBackend(", '"cpu"', '"webgpu"', '"remote"', "parseResult"]
  ) {
    assert.ok(doc.includes(word), `the quick start mentions ${word}`);
  }
  assert.ok(!/later/i.test(doc), "nothing is promised for later");
  assert.ok((doc.match(/```ts\n/g) ?? []).length >= 2, "runnable examples");
});

Deno.test("the subpath exports of deno.json are documented modules", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    exports: Record<string, string>;
  };
  assert.deepEqual(Object.keys(config.exports).sort(), [".", "./cli", "./remote", "./twin"]);
  for (const [subpath, file] of Object.entries(config.exports)) {
    await Deno.stat(new URL(file, ROOT)); // exists
    if (subpath === "." || subpath === "./cli") continue;
    const symbols = await _exports(file);
    assert.ok(symbols.length > 0, `${subpath} exports something`);
    const undocumented = symbols.filter((s) =>
      !s.declarations.some((d) => (d.jsDoc?.doc ?? "").trim() !== "")
    ).map((s) => s.name);
    assert.deepEqual(undocumented, [], `every export of ${subpath} is documented`);
  }
});

Deno.test("the twin and remote subpaths hold the specialists' modules", async () => {
  const twin = new Set((await _exports("twin.ts")).map((s) => s.name));
  for (
    const name of ["TwinConfig", "twinConfig", "drawMismatch", "chipParams", "TwinBatch", "twinId"]
  ) {
    assert.ok(twin.has(name), `./twin exports ${name}`);
  }
  const remote = new Set((await _exports("remote.ts")).map((s) => s.name));
  for (
    const name of ["RemoteBackend", "ChipHost", "serveWebSocket", "serveStdio", "runConformance"]
  ) {
    assert.ok(remote.has(name), `./remote exports ${name}`);
  }
  for (const name of ["PROTOCOL_VERSION", "REQUEST_TYPES", "encodeFrame", "decodeFrame"]) {
    assert.ok(remote.has(name), `./remote exports the protocol's ${name}`);
  }
});
