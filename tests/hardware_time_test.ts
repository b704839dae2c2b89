import assert from "node:assert/strict";
import { HARDWARE_TIME_MODEL, measurementSeconds, writeSeconds } from "../cli/hardware_time.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} is not ${b}`);

Deno.test("A write costs 20 ms of CapMem settling when it touches a CapMem cell and nothing otherwise", () => {
  assert.equal(HARDWARE_TIME_MODEL.capmemSettleSeconds, 20e-3);
  assert.equal(writeSeconds({ i_bias_leak: 300 }), 0.02);
  assert.equal(writeSeconds({ leak_division: 1, v_reset: [1, 2] as never }), 0.02);
  // Quadrant CapMem cells settle too.
  assert.equal(writeSeconds({ cadc_v_ramp_offset: 400 }), 0.02);
  assert.equal(writeSeconds({ syn_i_bias_dac: 1022 }), 0.02);
  // Digital settings only: neuron flags, capacitor, clocks, CADC channel offsets.
  assert.equal(
    writeSeconds({
      threshold_enable: 0,
      membrane_capacitance: 63,
      clock_scale_fast: 2,
      cadc_channel_offset: -3,
      enable_readout: 0,
    }),
    0,
  );
  assert.equal(writeSeconds({}), 0);
});

Deno.test("CADC measurements take 2 µs per sample and synram for both synrams", () => {
  close(measurementSeconds({ kind: "resting-potential" }), 4e-6);
  close(measurementSeconds({ kind: "reset-potential", reads: 16 }), 64e-6);
  close(measurementSeconds({ kind: "cadc-reference", code: 310 }), 4e-6);
  close(measurementSeconds({ kind: "synline-drop" }), 8e-6);
  // calix's threshold measurement: 3 batches of 1000 samples per hemisphere.
  close(measurementSeconds({ kind: "threshold-max" }), 3 * 1000 * 2 * 2e-6);
  close(measurementSeconds({ kind: "threshold-max", samples: 200, batches: 2 }), 1.6e-3);
  close(measurementSeconds({ kind: "tau-mem-cadc", waitSeconds: 60e-6 }), 64e-6);
  close(measurementSeconds({ kind: "spike-count", windowSeconds: 2e-3 }), 2e-3);
});

Deno.test("A PSP measurement takes its runs of events plus two CADC reads per run", () => {
  // Defaults: 5 runs of 15 events 1 µs apart.
  close(measurementSeconds({ kind: "psp-amplitude-exc" }), 5 * (15e-6 + 8e-6));
  close(
    measurementSeconds({ kind: "psp-amplitude-inh", runs: 5, events: 6, spacingSeconds: 1e-6 }),
    5 * (6e-6 + 8e-6),
  );
});

Deno.test("An MADC sweep visits 512 neurons and waits 10 sampling times each, as calix", () => {
  // τ_mem at 10 µs (window 30 µs): 10 × (max(70, 80) + 100) µs = 1.8 ms per neuron, 0.92 s a sweep.
  close(measurementSeconds({ kind: "tau-mem", windowSeconds: 30e-6 }), 512 * 1.8e-3, 1e-9);
  // Short τ: the 70 µs floor; the reset method adds 100 µs as well.
  close(measurementSeconds({ kind: "tau-mem-reset", windowSeconds: 3e-6 }), 512 * 1.7e-3, 1e-9);
  // A longer offset step adds to every neuron's sampling time.
  close(
    measurementSeconds({ kind: "tau-mem", windowSeconds: 30e-6, stepSeconds: 200e-6 }),
    512 * 2.8e-3,
    1e-9,
  );
  // τ_syn at 10 µs: 10 × max(50, 80) µs = 0.8 ms per neuron, 0.41 s a sweep; the default window is 30 µs.
  close(measurementSeconds({ kind: "tau-syn-exc" }), 512 * 0.8e-3, 1e-9);
  close(measurementSeconds({ kind: "tau-syn-inh", windowSeconds: 3e-6 }), 512 * 0.5e-3, 1e-9);
});

Deno.test("Per-neuron windows are summed over the neurons of the chip asked for", () => {
  // Chip-major windows: chip 0 at τ = 10 µs, chip 1 at τ = 1 µs (the 50 µs floor).
  const window = new Float64Array(1024);
  window.fill(30e-6, 0, 512).fill(3e-6, 512);
  const m = { kind: "tau-syn-exc", windowSeconds: window } as const;
  close(measurementSeconds(m, 0), 512 * 0.8e-3, 1e-9);
  close(measurementSeconds(m, 1), 512 * 0.5e-3, 1e-9);
  // 512 values are shared by every chip: half the neurons at each τ.
  const shared = new Float64Array(512).fill(30e-6, 0, 256).fill(3e-6, 256);
  close(measurementSeconds({ kind: "tau-syn-inh", windowSeconds: shared }, 5), 256 * 1.3e-3, 1e-9);
});

Deno.test("A membrane trace takes its MADC samples at 34 ns plus the invalid 8 µs", () => {
  // 100 µs at the full rate: 2940 samples.
  close(
    measurementSeconds({ kind: "membrane-trace", windowSeconds: 100e-6 }),
    2940 / 29.4e6 + 8e-6,
    1e-9,
  );
  // Decimated: every sample of the window still passes the MADC.
  close(
    measurementSeconds({ kind: "membrane-trace", windowSeconds: 1e-3 }),
    3675 * 8 / 29.4e6 + 8e-6,
    1e-9,
  );
});
