/**
 * Example: calibrate every neuron's leak potential of four twins to a CADC
 * reading of 80 with calix's NoisyBinarySearch, and compare the spread of
 * the true leak potential before and after.
 *
 * Run: `deno run -A examples/leak_search.ts`
 *
 * @module
 */

import { openBackend } from "../mod.ts";

const backend = await openBackend({ backend: "cpu", chips: 4 });
await backend.write({ threshold_enable: 0, i_bias_leak: 300, leak_division: 1, v_leak: 420 });
const before = await backend.truth!();
const result = await backend.search({
  field: "v_leak",
  algorithm: { name: "noisy-binary" },
  target: 80,
  measurement: { kind: "resting-potential" },
});
const after = await backend.truth!();

function spread(a: Float64Array): string {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  const sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
  return `${m.toFixed(1)} ± ${sd.toFixed(2)} LSB`;
}
const ok = result.success.reduce((s, v) => s + v, 0);
console.log(`leak (true, CADC LSB) before: ${spread(before.E_L_cadc)}`);
console.log(`leak (true, CADC LSB) after:  ${spread(after.E_L_cadc)}`);
console.log(`${ok} of ${result.success.length} neurons succeeded`);
await backend.close();
