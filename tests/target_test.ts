import assert from "node:assert/strict";
import {
  type NeuronCalibOptions,
  type NeuronCalibTarget,
  NeuronCalibTargetSchema,
  optionsToJson,
  type ResolvedTarget,
  resolveOptions,
  resolveTarget,
  targetToJson,
} from "../calib/target.ts";
import {
  formatRate,
  formatRates,
  formatTime,
  formatTimes,
  parseRate,
  parseRates,
  parseTime,
  parseTimes,
} from "../calib/units.ts";
import { rng } from "./_helpers.ts";

const N = 512;

/** A target as it would arrive from a JSON file, bypassing the static types. */
function fromJson(text: string): NeuronCalibTarget {
  return JSON.parse(text);
}

function perNeuron<T>(f: (i: number) => T): T[] {
  return Array.from({ length: N }, (_, i) => f(i));
}

function filled(v: number): Float64Array {
  return new Float64Array(N).fill(v);
}

// ---------------------------------------------------------------------------
// units

Deno.test("parseTime accepts every unit form", () => {
  const tenMicro = [
    "10us",
    "10 us",
    "10 µs",
    "10μs",
    "10\u00b5s",
    "10 \u03bcs",
    "1e-5 s",
    "1e-5s",
    "0.00001 s",
    "10000 ns",
    "0.01 ms",
    " 10 us ",
    { value: 10, unit: "us" },
    { value: 10, unit: "µs" },
    { value: 10, unit: "μs" },
    { value: 1e-5, unit: "s" },
    { value: 0.01, unit: "ms" },
    { value: 10000, unit: "ns" },
  ];
  for (const t of tenMicro) assert.equal(parseTime(t, "tau_mem"), 1e-5, JSON.stringify(t));
  assert.equal(parseTime("2e-6 s", "t"), 2e-6);
  assert.equal(parseTime("2e-6s", "t"), 2e-6);
  assert.equal(parseTime("500 ns", "t"), 5e-7);
  assert.equal(parseTime("1 ms", "t"), 1e-3);
  assert.equal(parseTime("0.5us", "t"), 5e-7);
  assert.equal(parseTime(".5 us", "t"), 5e-7);
  assert.equal(parseTime("0 us", "t"), 0);
  assert.equal(parseTime("-1 us", "t"), -1e-6);
  // Decimal conversion: the double nearest to 1e-7, not 0.1 × 1e-6.
  assert.equal(parseTime("0.1 us", "t"), 1e-7);
  assert.equal(parseTime({ value: 0.1, unit: "us" }, "t"), 1e-7);
  assert.equal(parseTime({ value: 3, unit: "us" }, "t"), 3e-6);
});

Deno.test("parseTime rejects numbers without units, unknown units and non-finite values", () => {
  assert.throws(
    () => parseTime(10, "tau_mem"),
    (e: unknown) =>
      e instanceof TypeError && e.message === 'tau_mem needs a unit, e.g. "10 us"; got 10',
  );
  assert.throws(() => parseTime("10", "tau_mem"), /tau_mem needs a unit, e\.g\. "10 us"; got "10"/);
  assert.throws(() => parseTime("10 min", "tau_mem"), /tau_mem has an unknown time unit "min"/);
  assert.throws(() => parseTime("10 Hz", "tau_mem"), TypeError);
  assert.throws(() => parseTime({ value: 10, unit: "h" }, "tau_mem"), TypeError);
  assert.throws(() => parseTime({ value: 10 }, "tau_mem"), /needs a unit/);
  assert.throws(() => parseTime({ value: NaN, unit: "us" }, "tau_mem"), TypeError);
  assert.throws(() => parseTime({ value: Infinity, unit: "us" }, "tau_mem"), TypeError);
  assert.throws(() => parseTime("NaN us", "tau_mem"), TypeError);
  assert.throws(() => parseTime("1e400 us", "tau_mem"), /finite/);
  assert.throws(() => parseTime("ten us", "tau_mem"), TypeError);
  assert.throws(() => parseTime(null, "tau_mem"), TypeError);
  assert.throws(() => parseTime(["10 us"], "tau_mem"), TypeError);
});

Deno.test("parseTimes handles scalars, arrays of times and one-unit arrays", () => {
  assert.equal(parseTimes("2 us", "t"), 2e-6);
  assert.deepEqual(
    parseTimes(["2 us", { value: 3, unit: "us" }], "t"),
    Float64Array.of(2e-6, 3e-6),
  );
  assert.deepEqual(parseTimes({ value: [2, 3], unit: "us" }, "t"), Float64Array.of(2e-6, 3e-6));
  assert.deepEqual(
    parseTimes({ value: Float64Array.of(2e-6), unit: "s" }, "t"),
    Float64Array.of(2e-6),
  );
  assert.throws(() => parseTimes(["2 us", 3], "tau"), /tau\[1\] needs a unit/);
  assert.throws(() => parseTimes({ value: [2, "3"], unit: "us" }, "tau"), /tau\.value\[1\]/);
  assert.throws(() => parseTimes({ value: [2, 3] }, "tau"), /tau needs a unit/);
  assert.throws(() => parseTimes({ value: [2, 3], unit: "m" }, "tau"), /unknown time unit "m"/);
});

Deno.test("parseRate and parseRates accept Hz, kHz and MHz and reject bare numbers", () => {
  for (const r of ["100kHz", "100 kHz", "1e5 Hz", "0.1 MHz", "100000Hz"]) {
    assert.equal(parseRate(r, "rate"), 1e5, r);
  }
  assert.equal(parseRate({ value: 100, unit: "kHz" }, "rate"), 1e5);
  assert.equal(parseRate({ value: 0.1, unit: "MHz" }, "rate"), 1e5);
  assert.throws(() => parseRate(1e5, "rate"), /rate needs a unit, e\.g\. "100 kHz"; got 100000/);
  assert.throws(() => parseRate("100 khz", "rate"), /unknown rate unit/);
  assert.throws(() => parseRate("100 us", "rate"), TypeError);
  assert.deepEqual(parseRates(["10 kHz", "0.1 MHz"], "r"), Float64Array.of(1e4, 1e5));
  assert.deepEqual(parseRates({ value: [10, 100], unit: "kHz" }, "r"), Float64Array.of(1e4, 1e5));
  assert.equal(parseRates("10 kHz", "r"), 1e4);
});

Deno.test("formatTime and formatRate round-trip random doubles bit-exactly", () => {
  const next = rng(7);
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  const samples = [
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    Number.EPSILON,
    1e-5,
    2e-6,
    1.5e-6,
    0.1 * 1e-6,
    1 / 3,
    123456.789,
    1e21,
    1e-7,
  ];
  for (let i = 0; i < 20000; i++) {
    // Random bit patterns (any finite positive double) and random values near µs.
    words[0] = Math.floor(next() * 2 ** 32);
    words[1] = Math.floor(next() * 0x7fefffff);
    samples.push(bits[0]!);
    samples.push(next() * 10 ** Math.floor(next() * 12 - 10));
  }
  for (const x of samples) {
    assert.ok(Number.isFinite(x) && x > 0);
    assert.ok(Object.is(parseTime(formatTime(x), "t"), x), `${x} → ${formatTime(x)}`);
    assert.ok(Object.is(parseRate(formatRate(x), "r"), x), `${x} → ${formatRate(x)}`);
  }
  assert.equal(formatTime(1e-5), "10 us");
  assert.equal(formatTime(2e-6), "2 us");
  assert.equal(formatTime(0), "0 us");
  assert.equal(formatTime(40e-9), "0.04 us");
  assert.equal(formatRate(1e5), "100000 Hz");
  assert.throws(() => formatTime(NaN), RangeError);
});

Deno.test("formatTimes collapses uniform arrays and round-trips mixed ones exactly", () => {
  assert.equal(formatTimes(filled(2e-6)), "2 us");
  assert.equal(formatTimes(3e-6), "3 us");
  const next = rng(3);
  const mixed = Float64Array.from({ length: N }, () => next() * 1e-4);
  const json = formatTimes(mixed);
  assert.equal(typeof json, "object");
  assert.deepEqual(parseTimes(json, "t"), mixed);
  assert.deepEqual(parseTimes(JSON.parse(JSON.stringify(json)), "t"), mixed);
  assert.equal(formatRates(filled(1e5)), "100000 Hz");
  const rates = Float64Array.from({ length: N }, () => next() * 1e6);
  assert.deepEqual(parseRates(JSON.parse(JSON.stringify(formatRates(rates))), "r"), rates);
});

// ---------------------------------------------------------------------------
// targets

Deno.test("resolveTarget fills in calix's defaults without warnings", () => {
  const { target, warnings } = resolveTarget();
  assert.deepEqual(warnings, []);
  assert.deepEqual(target.leak, filled(80));
  assert.deepEqual(target.reset, filled(70));
  assert.deepEqual(target.threshold, filled(125));
  assert.deepEqual(target.tau_mem, filled(10e-6));
  assert.deepEqual(target.tau_syn_exc, filled(10e-6));
  assert.deepEqual(target.tau_syn_inh, filled(10e-6));
  assert.deepEqual(target.synin, { mode: "matching", gm: 500 });
  assert.deepEqual(target.membrane_capacitance, new Int32Array(N).fill(63));
  assert.deepEqual(target.refractory_time, filled(2e-6));
  assert.deepEqual(target.holdoff_time, filled(0));
  assert.equal(target.synapse_dac_bias, 600);
  assert.deepEqual(resolveTarget({}).target, target);
  assert.deepEqual(NeuronCalibTargetSchema.parse({}).refractory_time, "2 us");
});

Deno.test("resolveTarget accepts times in every unit form", () => {
  const forms: NeuronCalibTarget["tau_mem"][] = [
    "20us",
    "20 us",
    "20 µs",
    "20μs",
    "2e-5 s",
    "2e-5s",
    "20000 ns",
    "0.02 ms",
    { value: 20, unit: "us" },
    { value: 2e-5, unit: "s" },
    perNeuron(() => "20 us"),
    perNeuron(() => ({ value: 20, unit: "us" as const })),
    { value: perNeuron(() => 20), unit: "us" },
    { value: filled(2e-5), unit: "s" },
  ];
  for (const tau_mem of forms) {
    assert.deepEqual(resolveTarget({ tau_mem }).target.tau_mem, filled(2e-5));
  }
  const r = resolveTarget({ refractory_time: "500 ns", holdoff_time: "100 ns" }).target;
  assert.equal(r.refractory_time[0], 5e-7);
  assert.equal(r.holdoff_time[511], 1e-7);
});

Deno.test("a time without a unit is a TypeError naming the field", () => {
  assert.throws(
    () => resolveTarget(fromJson('{"tau_mem": 10}')),
    (e: unknown) =>
      e instanceof TypeError && e.message === 'tau_mem needs a unit, e.g. "10 us"; got 10',
  );
  assert.throws(() => resolveTarget(fromJson('{"refractory_time": "2"}')), /refractory_time/);
  assert.throws(() => resolveTarget(fromJson('{"tau_syn": [5, "8 us"]}')), /tau_syn\[0\]/);
  assert.throws(() => resolveTarget(fromJson('{"holdoff_time": {"value": 1}}')), TypeError);
  const each = perNeuron((i) => (i === 7 ? 10 : "10 us"));
  assert.throws(() => resolveTarget(fromJson(JSON.stringify({ tau_mem: each }))), /tau_mem\[7\]/);
});

Deno.test("a wrong array length is a RangeError naming the field", () => {
  const short = new Array<number>(511).fill(80);
  assert.throws(() => resolveTarget({ leak: short }), /leak has 511 values, expected 1 or 512/);
  assert.throws(
    () => resolveTarget({ tau_mem: new Array<string>(511).fill("10 us") }),
    (e: unknown) => e instanceof RangeError && e.message.startsWith("tau_mem has 511 values"),
  );
  assert.throws(
    () => resolveTarget({ membrane_capacitance: new Int32Array(511) }),
    /membrane_capacitance has 511/,
  );
  assert.throws(
    () => resolveTarget({ tau_syn: new Array<string>(3).fill("10 us") }),
    /tau_syn has 3 values, expected 1, 2 \(\[exc, inh\]\) or 512/,
  );
  assert.throws(() => resolveTarget({ i_synin_gm: [1, 2, 3] }), /i_synin_gm has 3 values/);
  assert.throws(
    () => resolveTarget({ i_synin_gm: { exc: new Array<number>(511).fill(500), inh: 500 } }),
    /i_synin_gm\.exc has 511 values/,
  );
});

Deno.test("values outside the hard limits are RangeErrors naming the field and the neurons", () => {
  const tau = perNeuron((i) => (i === 3 || i === 17 ? "0.05 us" : "10 us"));
  assert.throws(
    () => resolveTarget({ tau_mem: tau }),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message.includes("tau_mem of neurons 3, 17 (2 in all)") &&
      e.message.includes("0.1..2000 µs") &&
      e.message.includes("neuron 3 has 0.05 µs"),
  );
  assert.throws(() => resolveTarget({ tau_mem: "2001 us" }), /tau_mem of all 512 neurons/);
  assert.throws(
    () => resolveTarget({ tau_syn: "200 us" }),
    /tau_syn \(excitatory\).*0\.1\.\.100 µs/,
  );
  assert.throws(
    () => resolveTarget({ tau_syn: ["10 us", "0.01 us"] }),
    /tau_syn \(inhibitory\) of all 512 neurons/,
  );
  assert.throws(
    () => resolveTarget({ membrane_capacitance: 64 }),
    (e: unknown) =>
      e instanceof RangeError &&
      /membrane_capacitance of all 512 neurons must be an integer in 0\.\.63/.test(e.message),
  );
  const cap = perNeuron((i) => (i === 9 ? 2.5 : 63));
  assert.throws(
    () => resolveTarget({ membrane_capacitance: cap }),
    /membrane_capacitance of neuron 9/,
  );
  assert.throws(() => resolveTarget({ leak: 256 }), /leak .*0\.\.255/);
  assert.throws(() => resolveTarget({ threshold: -1 }), RangeError);
  const many = perNeuron((i) => (i % 2 ? 300 : 100));
  assert.throws(
    () => resolveTarget({ reset: many }),
    /reset of neurons 1, 3, 5, 7, 9, 11, 13, 15, … \(256 in all\)/,
  );
  assert.throws(
    () => resolveTarget({ i_synin_gm: 1023 }),
    /i_synin_gm must be an integer in 0\.\.1022/,
  );
  assert.throws(() => resolveTarget({ i_synin_gm: 2.5 }), RangeError);
  assert.throws(() => resolveTarget({ i_synin_gm: [500, -1] }), /i_synin_gm \(inhibitory\)/);
  assert.throws(
    () =>
      resolveTarget({ i_synin_gm: { exc: perNeuron((i) => (i === 4 ? 1100 : 500)), inh: 500 } }),
    /i_synin_gm\.exc of neuron 4/,
  );
  assert.throws(() => resolveTarget({ synapse_dac_bias: 1023 }), /synapse_dac_bias/);
  assert.throws(() => resolveTarget({ synapse_dac_bias: 600.5 }), RangeError);
  assert.throws(
    () => resolveTarget({ refractory_time: "-1 us", holdoff_time: "0 us" }),
    /refractory_time of all 512 neurons must not be negative/,
  );
  assert.throws(() => resolveTarget({ holdoff_time: "-1 ns" }), /holdoff_time .*negative/);
  const holdoff = perNeuron((i) => (i === 100 ? "3 us" : "0 us"));
  assert.throws(
    () => resolveTarget({ holdoff_time: holdoff }),
    /holdoff_time of neuron 100 exceeds refractory_time; neuron 100 has 3 µs holdoff and 2 µs/,
  );
  // The limits themselves are allowed.
  const edges = resolveTarget({
    tau_mem: ["0.1 us", "2000 us"].flatMap((t) => new Array<string>(256).fill(t)),
    tau_syn: ["0.1 us", "100 us"],
    leak: 0,
    threshold: 255,
    membrane_capacitance: 0,
    i_synin_gm: 1022,
    synapse_dac_bias: 0,
    refractory_time: "1 us",
    holdoff_time: "1 us",
  });
  assert.equal(edges.target.tau_mem[0], 1e-7);
  assert.ok(edges.warnings.length > 0);
});

Deno.test("resolveTarget neither freezes nor aliases the caller's arrays", () => {
  const leak = perNeuron(() => 80);
  const gm = new Int32Array(N).fill(500);
  const strings = perNeuron(() => "x");
  const r = resolveTarget({ leak, i_synin_gm: { exc: gm, inh: gm } }).target;
  assert.throws(() => resolveTarget(fromJson(JSON.stringify({ reset: strings }))), TypeError);
  assert.ok(!Object.isFrozen(leak) && !Object.isFrozen(strings));
  leak[0] = 1;
  gm[0] = 1;
  assert.equal(r.leak[0], 80);
  assert.ok(r.synin.mode === "uncalibrated" && r.synin.exc[0] === 500);
});

Deno.test("wrong types and unknown fields are TypeErrors naming the field", () => {
  assert.throws(() => resolveTarget(fromJson('{"leak": "high"}')), /leak must be a CADC value/);
  const withString = perNeuron((i): unknown => (i === 3 ? "80" : 80));
  assert.throws(
    () => resolveTarget(fromJson(JSON.stringify({ leak: withString }))),
    /leak\[3\] must be a finite number; got "80"/,
  );
  assert.throws(
    () => resolveTarget(fromJson('{"coba_synin": 1}')),
    /Unknown target field "coba_synin"/,
  );
  assert.throws(() => resolveTarget(fromJson('{"i_synin_gm": "500"}')), /i_synin_gm must be/);
  assert.throws(() => resolveTarget(fromJson('{"synapse_dac_bias": [600]}')), TypeError);
  assert.throws(() => resolveTarget(fromJson("null")), /must be an object/);
  assert.throws(() => resolveTarget(fromJson("[]")), TypeError);
});

Deno.test("tau_syn: a pair is [exc, inh], a 512-array is per neuron for both inputs", () => {
  const pair = resolveTarget({ tau_syn: ["5 us", "8 us"] }).target;
  assert.deepEqual(pair.tau_syn_exc, filled(5e-6));
  assert.deepEqual(pair.tau_syn_inh, filled(8e-6));

  const each = perNeuron((i) => `${1 + (i % 10)} us`);
  const perN = resolveTarget({ tau_syn: each }).target;
  assert.equal(perN.tau_syn_exc[3], 4e-6);
  assert.deepEqual(perN.tau_syn_exc, perN.tau_syn_inh);
  assert.notEqual(perN.tau_syn_exc, perN.tau_syn_inh, "separate arrays");

  const mixed =
    resolveTarget({ tau_syn: [{ value: perNeuron((i) => 1 + i / 100), unit: "us" }, "8 us"] })
      .target;
  assert.equal(mixed.tau_syn_exc[100], 2e-6);
  assert.deepEqual(mixed.tau_syn_inh, filled(8e-6));

  const nested = resolveTarget({ tau_syn: [each, perNeuron(() => "3 us")] }).target;
  assert.equal(nested.tau_syn_exc[9], 10e-6);
  assert.equal(nested.tau_syn_inh[9], 3e-6);

  const oneUnit = resolveTarget({ tau_syn: { value: [5, 8], unit: "us" } }).target;
  assert.deepEqual(oneUnit.tau_syn_inh, filled(8e-6));
});

Deno.test("i_synin_gm: scalar is matching, a pair calibrated, per-neuron codes uncalibrated", () => {
  assert.deepEqual(resolveTarget({ i_synin_gm: 400 }).target.synin, { mode: "matching", gm: 400 });
  assert.deepEqual(resolveTarget({ i_synin_gm: [400, 600] }).target.synin, {
    mode: "calibrated",
    gm: [400, 600],
  });
  const exc = perNeuron((i) => 300 + (i % 100));
  const inh = perNeuron((i) => 600 - (i % 50));
  const expected = { mode: "uncalibrated", exc: Int32Array.from(exc), inh: Int32Array.from(inh) };
  assert.deepEqual(resolveTarget({ i_synin_gm: { exc, inh } }).target.synin, expected);
  assert.deepEqual(resolveTarget({ i_synin_gm: [exc, inh] }).target.synin, expected);
  assert.deepEqual(resolveTarget({ i_synin_gm: exc }).target.synin, {
    mode: "uncalibrated",
    exc: Int32Array.from(exc),
    inh: Int32Array.from(exc),
  });
  assert.deepEqual(resolveTarget({ i_synin_gm: { exc: 500, inh: 450 } }).target.synin, {
    mode: "uncalibrated",
    exc: new Int32Array(N).fill(500),
    inh: new Int32Array(N).fill(450),
  });
});

Deno.test("values outside calix's standard ranges only warn", () => {
  const leak = resolveTarget({ leak: 40 });
  assert.deepEqual(leak.warnings, [
    "leak of all 512 neurons is outside calix's standard range 50..160; expect imperfect results",
  ]);
  assert.equal(leak.target.leak[0], 40);

  const tau = resolveTarget({ tau_mem: "80 us" });
  assert.equal(tau.warnings.length, 1);
  assert.match(
    tau.warnings[0]!,
    /^tau_mem of all 512 neurons is outside calix's standard range 0\.5\.\.60 µs/,
  );

  const some = resolveTarget({
    tau_mem: perNeuron((i) => (i === 3 || i === 17 ? "80 us" : "10 us")),
  });
  assert.deepEqual(some.warnings, [
    "tau_mem of neurons 3, 17 (2 in all) is outside calix's standard range 0.5..60 µs; expect imperfect results",
  ]);

  const all = resolveTarget({
    reset: 170,
    threshold: 230,
    tau_syn: ["0.2 us", "40 us"],
    i_synin_gm: [20, 900],
    refractory_time: "33 us",
    holdoff_time: "5 us",
    synapse_dac_bias: 10,
  });
  const fields = [
    "reset",
    "threshold",
    "tau_syn (excitatory)",
    "tau_syn (inhibitory)",
    "i_synin_gm (excitatory)",
    "i_synin_gm (inhibitory)",
    "refractory_time",
    "holdoff_time",
    "synapse_dac_bias",
  ];
  assert.equal(all.warnings.length, fields.length);
  fields.forEach((f, k) => assert.ok(all.warnings[k]!.startsWith(f), all.warnings[k]));
  assert.ok(all.warnings.every((w) => w.endsWith("expect imperfect results")));
  assert.match(resolveTarget({ refractory_time: "20 ns" }).warnings[0]!, /40 ns\.\.32 µs/);
});

// ---------------------------------------------------------------------------
// options

Deno.test("resolveOptions fills in the defaults", () => {
  const expected = {
    readout_neuron: null,
    algorithm: "noisy-binary",
    noise_seed: 0,
    refine: null,
    coba_anchor: "matched",
  };
  assert.deepEqual(resolveOptions(), expected);
  assert.deepEqual(resolveOptions({}), expected);
  assert.deepEqual(
    resolveOptions({
      readout_neuron: 511,
      algorithm: "binary",
      noise_seed: 2 ** 32 - 1,
      refine: false,
    }),
    {
      readout_neuron: 511,
      algorithm: "binary",
      noise_seed: 2 ** 32 - 1,
      refine: false,
      coba_anchor: "matched",
    },
  );
  assert.equal(resolveOptions({ readout_neuron: null }).readout_neuron, null);
  // calix's tri-state: null (None) means "refine unless a neuron uses COBA".
  assert.equal(resolveOptions({ refine: null }).refine, null);
  assert.equal(resolveOptions({ refine: true }).refine, true);
});

Deno.test("resolveOptions: wrong types are TypeErrors, values out of range or set are RangeErrors", () => {
  const options = (text: string): NeuronCalibOptions => JSON.parse(text);
  assert.throws(
    () => resolveOptions(options('{"algorithm": "bogus"}')),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'algorithm must be "noisy-binary", "binary" or "secant"; got "bogus"',
  );
  assert.throws(() => resolveOptions(options('{"algorithm": 3}')), TypeError);
  assert.throws(
    () => resolveOptions({ readout_neuron: 512 }),
    /readout_neuron must be a neuron index 0\.\.511/,
  );
  assert.throws(() => resolveOptions({ readout_neuron: -1 }), RangeError);
  assert.throws(() => resolveOptions({ readout_neuron: 1.5 }), RangeError);
  assert.throws(() => resolveOptions(options('{"readout_neuron": "3"}')), /readout_neuron must be/);
  assert.throws(() => resolveOptions({ noise_seed: -1 }), /noise_seed/);
  assert.throws(() => resolveOptions({ noise_seed: 2 ** 32 }), RangeError);
  assert.throws(() => resolveOptions({ noise_seed: 0.5 }), RangeError);
  assert.throws(
    () => resolveOptions(options('{"refine": "yes"}')),
    /refine must be a boolean or null/,
  );
  assert.throws(() => resolveOptions(options('{"seed": 1}')), /Unknown options field "seed"/);
  assert.throws(() => resolveOptions(options("3")), TypeError);
});

Deno.test("options survive optionsToJson and JSON exactly", () => {
  const o = resolveOptions({
    readout_neuron: 12,
    algorithm: "binary",
    noise_seed: 99,
    refine: false,
  });
  assert.deepEqual(resolveOptions(optionsToJson(o)), o);
  assert.deepEqual(resolveOptions(JSON.parse(JSON.stringify(optionsToJson(o)))), o);
  assert.deepEqual(optionsToJson(resolveOptions()), {
    readout_neuron: null,
    algorithm: "noisy-binary",
    noise_seed: 0,
    refine: null,
    coba_anchor: "matched",
  });
  assert.equal(resolveOptions({ coba_anchor: "reference" }).coba_anchor, "reference");
  assert.throws(
    () => resolveOptions({ coba_anchor: "middle" as never }),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'coba_anchor must be "matched" or "reference"; got "middle"',
  );
});

// ---------------------------------------------------------------------------
// JSON round trip

function assertRoundTrips(t: ResolvedTarget): void {
  const json = targetToJson(t);
  assert.deepEqual(resolveTarget(json).target, t);
  assert.deepEqual(resolveTarget(JSON.parse(JSON.stringify(json))).target, t);
}

Deno.test("targetToJson collapses uniform values and round-trips the defaults", () => {
  const t = resolveTarget().target;
  assert.deepEqual(targetToJson(t), {
    leak: 80,
    reset: 70,
    threshold: 125,
    tau_mem: "10 us",
    tau_syn: "10 us",
    i_synin_gm: 500,
    membrane_capacitance: 63,
    refractory_time: "2 us",
    holdoff_time: "0 us",
    synapse_dac_bias: 600,
    e_coba_reversal: null,
    e_coba_reference: null,
  });
  assertRoundTrips(t);
  assertRoundTrips(resolveTarget({ tau_syn: ["5 us", "8 us"], i_synin_gm: [400, 600] }).target);
  assertRoundTrips(resolveTarget({ i_synin_gm: { exc: 500, inh: 450 } }).target);
});

Deno.test("random per-neuron targets survive targetToJson and JSON.stringify exactly", () => {
  for (let seed = 1; seed <= 25; seed++) {
    const next = rng(seed);
    const logUniform = (lo: number, hi: number) => lo * (hi / lo) ** next();
    const refractory = perNeuron(() => logUniform(40e-9, 30e-6));
    const gmMode = seed % 3;
    const target: NeuronCalibTarget = {
      leak: perNeuron(() => next() * 255),
      reset: perNeuron(() => Math.round(next() * 255)),
      threshold: seed % 2 ? 125 : perNeuron(() => 50 + next() * 170),
      tau_mem: { value: perNeuron(() => logUniform(0.1e-6, 2000e-6)), unit: "s" },
      tau_syn: seed % 2
        ? [
          { value: perNeuron(() => logUniform(0.1e-6, 100e-6)), unit: "s" },
          { value: perNeuron(() => logUniform(0.1, 100)), unit: "us" },
        ]
        : perNeuron(() => ({ value: logUniform(0.1, 100), unit: "us" as const })),
      i_synin_gm: gmMode === 0
        ? Math.floor(next() * 1023)
        : gmMode === 1
        ? [Math.floor(next() * 1023), Math.floor(next() * 1023)]
        : {
          exc: perNeuron(() => Math.floor(next() * 1023)),
          inh: perNeuron(() => Math.floor(next() * 1023)),
        },
      membrane_capacitance: perNeuron(() => Math.floor(next() * 64)),
      refractory_time: { value: refractory, unit: "s" },
      holdoff_time: { value: refractory.map((r) => r * next()), unit: "s" },
      synapse_dac_bias: Math.floor(next() * 1023),
    };
    const t = resolveTarget(target).target;
    assertRoundTrips(t);
    assert.equal(t.synin.mode, ["matching", "calibrated", "uncalibrated"][gmMode]);
  }
});
