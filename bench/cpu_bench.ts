/**
 * Benchmarks of the CPU executor with 1, 16 and 64 chips, one group per
 * measurement kind: a time-resolved kind (spike-count of firing neurons), a
 * trace kind (tau-mem over 30 µs) and a settled kind (resting-potential).
 * The iteration counts keep `deno bench -A bench/` to about a minute on two
 * cores; the 1-chip case of each group is its baseline.
 *
 * ```sh
 * deno bench -A bench/cpu_bench.ts
 * ```
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import type { Measurement } from "../backends/measurement.ts";
import { openBackend } from "../backends/open_backend.ts";
import { FIRING } from "./throughput.ts";

const CHIPS = [1, 16, 64] as const;

/**
 * Spike-count window of the benchmark: 0.2 ms at dt 0.1 µs, 2,000 steps per
 * neuron (a fifth of `throughput.ts`'s 1 ms, so that a 64-chip iteration
 * stays a few seconds).
 */
const SPIKE_WINDOW_SECONDS = 0.2e-3;

interface Group {
  /** Group and name prefix. */
  readonly name: string;
  readonly measurement: Measurement;
  /** Measured iterations per chip count (one warmup precedes them). */
  readonly n: Readonly<Record<(typeof CHIPS)[number], number>>;
}

const GROUPS: readonly Group[] = [
  {
    name: `spike-count ${SPIKE_WINDOW_SECONDS * 1e3} ms`,
    measurement: { kind: "spike-count", windowSeconds: SPIKE_WINDOW_SECONDS },
    n: { 1: 20, 16: 3, 64: 2 },
  },
  {
    name: "tau-mem 30 µs",
    measurement: { kind: "tau-mem", windowSeconds: 30e-6 },
    n: { 1: 20, 16: 5, 64: 3 },
  },
  {
    name: "resting-potential",
    measurement: { kind: "resting-potential" },
    n: { 1: 200, 16: 50, 64: 20 },
  },
];

// One batch per chip count, all chips firing (tau-mem and resting-potential
// cost the same whatever the configuration; spike-count needs spikes).
const backends = new Map<number, Backend>();
for (const chips of CHIPS) {
  const backend = await openBackend({ backend: "cpu", chips });
  await backend.write(FIRING);
  backends.set(chips, backend);
}

for (const group of GROUPS) {
  for (const chips of CHIPS) {
    const backend = backends.get(chips)!;
    Deno.bench({
      name: `cpu ${group.name}, ${chips} chip${chips === 1 ? "" : "s"}`,
      group: group.name,
      baseline: chips === 1,
      n: group.n[chips],
      warmup: 1,
      async fn() {
        await backend.measure(group.measurement);
      },
    });
  }
}
