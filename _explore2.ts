import { openBackend } from "./mod.ts";
const be = await openBackend({ backend: "cpu", chips: [1] });
await be.write({ threshold_enable: 0 });
const reads = [];
for (let k = 0; k < 6; k++) reads.push(await be.measure({ kind: "resting-potential" }));
const stds = [];
for (let n = 0; n < 512; n++) { const v = reads.map((r) => r[n]); const m = v.reduce((a, b) => a + b) / 6; stds.push(Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / 5)); }
stds.sort((a, b) => a - b);
console.log("median std", stds[256], "frac>0", stds.filter((s) => s > 0).length / 512, "max", stds[511]);
