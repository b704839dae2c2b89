import { openBackend, initialConfig, FIELD_NAMES } from "./mod.ts";
const ic = initialConfig();
const power = Object.fromEntries(FIELD_NAMES.map((f) => [f, ic[f]]));
const be = await openBackend({ backend: "cpu", chips: [1] });
const rows: [string, Record<string, number>, string, number, number, any][] = [
  ["leak", { threshold_enable: 0 }, "v_leak", 300, 700, { kind: "resting-potential", reads: 4 }],
  ["reset", { threshold_enable: 0 }, "v_reset", 200, 500, { kind: "reset-potential", reads: 4 }],
  ["threshold", { i_mem_offset: 70, i_bias_leak: 0, v_reset: 0, threshold_enable: 1, offset_current_enable: 1 }, "v_threshold", 300, 500, { kind: "threshold-max", samples: 300 }],
  ["tau_mem", { threshold_enable: 0, leak_division: 1, i_mem_offset: 1000 }, "i_bias_leak", 200, 600, { kind: "tau-mem", windowSeconds: 30e-6, maxSamples: 600 }],
  ["tau_syn_exc", { threshold_enable: 0, synin_exc_high_resistance: 1 }, "i_bias_synin_exc_tau", 300, 700, { kind: "tau-syn-exc", maxSamples: 600 }],
  ["tau_syn_inh", { threshold_enable: 0, synin_inh_high_resistance: 1 }, "i_bias_synin_inh_tau", 300, 700, { kind: "tau-syn-inh", maxSamples: 600 }],
  ["psp", { threshold_enable: 0, synin_exc_enable: 1, leak_division: 1, i_bias_leak: 300 }, "i_bias_synin_exc_gm", 150, 600, { kind: "psp-amplitude-exc", events: 10, runs: 2, weight: 1000 }],
  ["psp_inh", { threshold_enable: 0, synin_inh_enable: 1, leak_division: 1, i_bias_leak: 300 }, "i_bias_synin_inh_gm", 150, 600, { kind: "psp-amplitude-inh", events: 10, runs: 2, weight: 1000 }],
  ["dac", { threshold_enable: 0 }, "syn_i_bias_dac", 300, 800, { kind: "synline-drop" }],
  ["cadc", {}, "cadc_v_ramp_offset", 400, 700, { kind: "cadc-reference", code: 400 }],
];
for (const [name, base, field, lo, hi, m] of rows) {
  await be.write(power);
  await be.write(base);
  await be.write({ [field]: lo });
  const t = performance.now();
  const a = await be.measure(m);
  await be.write({ [field]: hi });
  const b = await be.measure(m);
  let up = 0, down = 0;
  for (let i = 0; i < a.length; i++) { if (b[i] > a[i]) up++; else if (b[i] < a[i]) down++; }
  const med = (x) => Array.from(x).sort((p, q) => p - q)[x.length >> 1];
  console.log(name, "up", up / a.length, "down", down / a.length, "med", med(a), med(b), (performance.now() - t).toFixed(0), "ms");
  await be.write({ [field]: 500 > 1022 ? 0 : (field === "i_mem_offset" ? 0 : undefined) ?? lo });
}
