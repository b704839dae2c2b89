import assert from "node:assert/strict";
import { sampling, tauFromThreeSums } from "../backends/cpu/tau_estimator.ts";

function sums(tau: number, amplitude: number, offset: number, n: number, dt: number): number[] {
  const s = [0, 0, 0];
  for (let j = 0; j < 3 * n; j++) {
    s[Math.floor(j / n)]! += amplitude * Math.exp(-j * dt / tau) + offset;
  }
  return s;
}

Deno.test("the three-sum estimator recovers decays and rises exactly for any window", () => {
  for (const tau of [0.3e-6, 3e-6, 60e-6]) {
    for (const windowFactor of [1, 3, 10]) {
      const { n, dt } = sampling(windowFactor * tau, 34e-9, 3000);
      for (const amplitude of [250, -180]) {
        const [s1, s2, s3] = sums(tau, amplitude, 300, n, dt);
        const est = tauFromThreeSums(s1!, s2!, s3!, n, dt, [1e-8, 1]);
        assert.ok(Math.abs(est.tau / tau - 1) < 1e-6, `tau ${tau}, window ${windowFactor}τ`);
        assert.ok(Math.abs(est.amplitude / amplitude - 1) < 1e-6);
      }
    }
  }
});

Deno.test("degenerate traces map to the fit bounds like calix's bounded fits", () => {
  const bounds = [0.1e-6, 2000e-6] as const;
  // Everything decayed inside the first window: the lower bound.
  assert.equal(tauFromThreeSums(100, 0, 1, 10, 1e-6, bounds).tau, 0.1e-6);
  // No decay visible: the upper bound.
  assert.equal(tauFromThreeSums(100, 99, 98, 10, 1e-6, bounds).tau, 2000e-6);
  // A flat trace: the upper bound, amplitude 0.
  assert.deepEqual(tauFromThreeSums(5, 5, 5, 10, 1e-6, bounds), { tau: 2000e-6, amplitude: 0 });
  // Estimates outside the bounds are clamped.
  const [s1, s2, s3] = sums(5000e-6, 100, 0, 100, 1e-6);
  assert.equal(tauFromThreeSums(s1!, s2!, s3!, 100, 1e-6, bounds).tau, 2000e-6);
});
