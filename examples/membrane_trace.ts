/**
 * Example: calibrate one twin with neuron 17 on the readout (calix's
 * `readout_neuron`), record that calibrated neuron's membrane through the
 * MADC for 60 µs while three excitatory and two inhibitory events arrive,
 * and draw the trace as an SVG.
 *
 * Run: `deno run -A examples/membrane_trace.ts [out.svg]` (default
 * `membrane_trace.svg`; about 5 s on the CPU).
 *
 * @module
 */

import { calibrate, openBackend, traceSampling } from "../mod.ts";

const out = Deno.args[0] ?? "membrane_trace.svg";
const NEURON = 17;

const backend = await openBackend({ backend: "cpu", chips: [1] });
const [result] = await calibrate(backend, { tau_mem: "10 us" }, {
  readout_neuron: NEURON,
  refine: false,
});
// The threshold stays on: strong enough input makes the neuron fire and reset.
const trace = {
  kind: "membrane-trace" as const,
  windowSeconds: 60e-6,
  events: [
    { input: "exc" as const, timeSeconds: 10e-6 },
    { input: "exc" as const, timeSeconds: 12e-6 },
    { input: "exc" as const, timeSeconds: 14e-6 },
    { input: "inh" as const, timeSeconds: 35e-6, weight: 160 },
    { input: "inh" as const, timeSeconds: 37e-6, weight: 160 },
  ],
};
const samples = await backend.measure(trace);
const { periodSeconds } = traceSampling(trace);
await backend.close();

const w = 640;
const h = 240;
const m = { l: 56, r: 12, t: 28, b: 40 };
const lo = Math.min(...samples) - 5;
const hi = Math.max(...samples) + 5;
const x = (i: number) => m.l + (i / (samples.length - 1)) * (w - m.l - m.r);
const y = (v: number) => m.t + (1 - (v - lo) / (hi - lo)) * (h - m.t - m.b);
const points = Array.from(samples, (v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
const ticks = [0, 10, 20, 30, 40, 50, 60].map((us) => {
  const px = m.l + (us / 60) * (w - m.l - m.r);
  return `<line x1="${px}" y1="${h - m.b}" x2="${px}" y2="${h - m.b + 4}" stroke="#333"/>` +
    `<text x="${px}" y="${h - m.b + 16}" text-anchor="middle">${us}</text>`;
}).join("");
const svg =
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">
<title>Membrane of neuron ${NEURON} of ${result!.chipId} after calibration</title>
<text x="${m.l}" y="16" font-size="13">Neuron ${NEURON} of ${
    result!.chipId
  }, calibrated (τ_mem 10 µs): MADC trace, ${samples.length} samples every ${
    (periodSeconds * 1e9).toFixed(0)
  } ns</text>
<rect x="${m.l}" y="${m.t}" width="${w - m.l - m.r}" height="${
    h - m.t - m.b
  }" fill="none" stroke="#333"/>
${ticks}
<text x="${(w + m.l) / 2}" y="${
    h - 6
  }" text-anchor="middle">time (µs): excitatory events at 10, 12, 14; inhibitory at 35, 37</text>
<text x="14" y="${(h - m.b + m.t) / 2}" transform="rotate(-90 14 ${
    (h - m.b + m.t) / 2
  })" text-anchor="middle">MADC (LSB)</text>
<text x="${m.l - 4}" y="${y(hi - 5) + 4}" text-anchor="end">${(hi - 5).toFixed(0)}</text>
<text x="${m.l - 4}" y="${y(lo + 5) + 4}" text-anchor="end">${(lo + 5).toFixed(0)}</text>
<polyline fill="none" stroke="#36c" stroke-width="1.2" points="${points}"/>
</svg>
`;
await Deno.writeTextFile(out, svg);
console.log(
  `${out}: neuron ${NEURON} of ${result!.chipId}, readout flag in the result: ${
    result!.neuron.enable_readout[NEURON]
  }, ${samples.length} samples from ${Math.min(...samples)} to ${Math.max(...samples)} MADC LSB`,
);
