/**
 * lifcal's executors against what a user would write or pick instead, side
 * by side in one run on one machine: the CPU and WebGPU executors and two
 * peer simulators of the same neurons — a vectorised NumPy program and
 * Brian2 (Cython code generation) — on the noisy spike count (1 ms at
 * 0.1 µs steps), the excitatory PSP amplitude and τ_mem (30 µs window).
 * Every executor simulates the twins with seeds 1..N under
 * {@linkcode PEER_CONFIG}; the peers read their effective parameters from
 * a file written by `bench/peers/export_params.ts`, so only the noise
 * streams differ. Prints neuron-steps/s with the ratios to the best peer
 * and to NumPy, and the mean readings with their deviation from lifcal's
 * CPU executor (the physics check). A peer whose Python package is missing
 * is skipped with a note; so is WebGPU without an adapter.
 *
 * Run: `deno task bench:peers [--chips 16] [--backends cpu,webgpu]
 * [--peers numpy,brian2] [--repeat 1] [--json]` (`--repeat N`: the fastest
 * of N timed runs of each measurement, for a loaded machine); the Python interpreter is the first of
 * `$LIFCAL_PYTHON`, `python3`, `/usr/bin/python3` that imports the peer's
 * package.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import type { Backend } from "../backends/backend.ts";
import { CpuBackend } from "../backends/cpu/cpu_backend.ts";
import type { Measurement } from "../backends/measurement.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { WebGpuBackend } from "../backends/webgpu/webgpu_backend.ts";
import { neuronSteps } from "./_neuron_steps.ts";
import { PEER_CONFIG, PEER_MEASUREMENTS, writePeerParams } from "./peers/export_params.ts";

/** The executors compared: lifcal's two and the two peers. */
export type PeerExecutor = "lifcal-cpu" | "lifcal-webgpu" | "numpy" | "brian2";

/**
 * The peer simulators, by name: their script in `bench/peers/` and the Python module they need.
 *
 * @example
 * ```ts
 * import { PEERS } from "./peers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PEERS.brian2.module, "brian2");
 * ```
 */
export const PEERS: Readonly<Record<"numpy" | "brian2", { script: string; module: string }>> = {
  numpy: { script: "numpy_lif.py", module: "numpy" },
  brian2: { script: "brian2_lif.py", module: "brian2" },
};

/**
 * How far a mean reading may lie from lifcal's CPU executor's (relative)
 * before the bench flags it: above the noise of the means (on one chip the
 * peer's mean moves by ±0.03 % (spike count), ±0.2 % (τ_mem), ±0.2 % (PSP)
 * from seed to seed, less on 16), below what a physics mismatch gives:
 * spikes snapped to the step grid instead of sub-step crossing times move
 * the spike count by −0.95 %, a wrong clamp or refractory time by tens of %.
 *
 * @example
 * ```ts
 * import { PEER_TOLERANCE } from "./peers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PEER_TOLERANCE["spike-count"], 0.005);
 * ```
 */
export const PEER_TOLERANCE: Readonly<Record<string, number>> = {
  "spike-count": 0.005,
  "psp-amplitude-exc": 0.02,
  "tau-mem": 0.01,
};

/** One timed measurement of one executor. */
export interface PeerRow {
  /** Who ran it. */
  readonly executor: PeerExecutor;
  /** The measurement kind. */
  readonly kind: string;
  /** Neurons measured. */
  readonly neurons: number;
  /** Integration steps per neuron. */
  readonly stepsPerNeuron: number;
  /** Wall time (s), after a warm-up. */
  readonly seconds: number;
  /** Neurons × steps / seconds. */
  readonly neuronStepsPerSecond: number;
  /** Mean, median and standard deviation of the finite readings. */
  readonly mean: number;
  readonly median: number;
  readonly sd: number;
}

/** The outcome of one run: rows, and a note for each executor that was skipped. */
export interface PeerComparison {
  /** Chips (512 neurons each). */
  readonly chips: number;
  /** Timed runs per measurement (the fastest counts). */
  readonly repeat: number;
  /** Logical CPU cores of the machine. */
  readonly cores: number;
  /** The timed rows, executor by executor. */
  readonly rows: PeerRow[];
  /** What each executor that ran is: its description, adapter or versions, warm-up time. */
  readonly about: Partial<Record<PeerExecutor, string>>;
  /** Why an executor is missing. */
  readonly notes: string[];
}

/**
 * Mean, median and standard deviation (population) of the finite values.
 *
 * @example
 * ```ts
 * import { stats } from "./peers.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(stats([1, 2, 3, Infinity]), { mean: 2, median: 2, sd: Math.sqrt(2 / 3) });
 * ```
 */
export function stats(values: ArrayLike<number>): { mean: number; median: number; sd: number } {
  const v = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : 0.5 * (v[mid - 1]! + v[mid]!);
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  return { mean, median, sd };
}

/**
 * Times the peer measurements on `chips` twins on one of lifcal's executors
 * (each after a warm-up on the first chip; the fastest of `repeat` runs,
 * the readings of the first); `undefined` for WebGPU without an adapter.
 *
 * @example
 * ```ts ignore
 * const rows = await benchLifcal("cpu", 1);
 * ```
 */
export async function benchLifcal(
  kind: "cpu" | "webgpu",
  chips: number,
  measurements: readonly Measurement[] = PEER_MEASUREMENTS,
  repeat = 1,
  about: (text: string) => void = () => {},
): Promise<PeerRow[] | undefined> {
  const seeds = Array.from({ length: chips }, (_, i) => i + 1);
  const be: Backend | undefined = kind === "cpu"
    ? new CpuBackend(seeds, DEFAULT_TWIN_CONFIG)
    : await WebGpuBackend.open(seeds, DEFAULT_TWIN_CONFIG);
  if (!be) return undefined;
  const { description, adapter } = be.info;
  about(adapter && !description.includes(adapter) ? `${description}; ${adapter}` : description);
  await be.write(PEER_CONFIG);
  const rows: PeerRow[] = [];
  for (const m of measurements) {
    await be.measure(m, { chips: [0] });
    let r: Float32Array | undefined;
    let seconds = Infinity;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const x = await be.measure(m);
      seconds = Math.min(seconds, (performance.now() - t0) / 1000);
      r ??= x;
    }
    const steps = neuronSteps(m);
    rows.push({
      executor: kind === "cpu" ? "lifcal-cpu" : "lifcal-webgpu",
      kind: m.kind,
      neurons: chips * 512,
      stepsPerNeuron: steps,
      seconds,
      neuronStepsPerSecond: (chips * 512 * steps) / seconds,
      ...stats(r!),
    });
  }
  await be.close();
  return rows;
}

async function _quiet(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * The first of `$LIFCAL_PYTHON`, `python3`, `/usr/bin/python3` that imports
 * `module`, or `undefined`.
 *
 * @example
 * ```ts ignore
 * const python = await findPython("numpy"); // "/usr/bin/python3"
 * ```
 */
export async function findPython(module: string): Promise<string | undefined> {
  const env = Deno.env.get("LIFCAL_PYTHON");
  const candidates = [...new Set([...(env ? [env] : []), "python3", "/usr/bin/python3"])];
  for (const python of candidates) {
    if (await _quiet(python, ["-c", `import ${module}`])) return python;
  }
  return undefined;
}

/** What a peer prints with `--json`. */
export interface PeerOutput {
  /** Peer name. */
  readonly peer: string;
  /** Python and package versions. */
  readonly versions: Record<string, string>;
  /** Chips and neurons simulated. */
  readonly chips: number;
  readonly neurons: number;
  /** Seconds of the warm-up run (compilation included). */
  readonly warmup_seconds: number;
  /** One row per measurement. */
  readonly rows: {
    kind: string;
    steps_per_neuron: number;
    seconds: number;
    neuron_steps_per_second: number;
    mean: number;
    median: number;
    sd: number;
    values?: number[];
  }[];
}

/**
 * Runs one peer script on a parameter file and returns its `--json` output,
 * or the reason it did not run (a missing package, a failure).
 *
 * @param peer Which peer.
 * @param params A file from `bench/peers/export_params.ts`.
 * @param extra More arguments for the script (`--chips`, `--measurements`, `--per-neuron`, …).
 *
 * @example
 * ```ts ignore
 * const out = await runPeer("numpy", "/tmp/params.json", ["--chips", "1"]);
 * if ("skipped" in out) console.log(out.skipped);
 * ```
 */
export async function runPeer(
  peer: keyof typeof PEERS,
  params: string,
  extra: string[] = [],
): Promise<PeerOutput | { skipped: string }> {
  const { script, module } = PEERS[peer];
  const python = await findPython(module);
  if (!python) {
    return {
      skipped: `${peer} peer skipped: no Python with ${module} ` +
        `(Debian: apt-get install python3-${module === "brian2" ? "brian" : module}; ` +
        `or set LIFCAL_PYTHON)`,
    };
  }
  const path = fileURLToPath(new URL(`./peers/${script}`, import.meta.url));
  const out = await new Deno.Command(python, {
    args: [path, "--params", params, "--json", ...extra],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    return { skipped: `${peer} peer failed (exit ${out.code}): ${err}` };
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as PeerOutput;
}

/**
 * Runs lifcal's executors and the peers on `chips` twins, one after the other.
 *
 * @example
 * ```ts ignore
 * const result = await comparePeers(16);
 * console.log(formatComparison(result));
 * ```
 */
export async function comparePeers(
  chips: number,
  backends: readonly ("cpu" | "webgpu")[] = ["cpu", "webgpu"],
  peers: readonly (keyof typeof PEERS)[] = ["numpy", "brian2"],
  progress: (line: string) => void = () => {},
  repeat = 1,
): Promise<PeerComparison> {
  const rows: PeerRow[] = [];
  const notes: string[] = [];
  const about: Partial<Record<PeerExecutor, string>> = {};
  for (const kind of backends) {
    progress(`lifcal ${kind}, ${chips} chips …`);
    const r = await benchLifcal(
      kind,
      chips,
      PEER_MEASUREMENTS,
      repeat,
      (text) => about[kind === "cpu" ? "lifcal-cpu" : "lifcal-webgpu"] = text,
    );
    if (r) rows.push(...r);
    else notes.push(`lifcal-${kind} skipped: no usable WebGPU adapter`);
  }
  if (peers.length > 0) {
    const params = await Deno.makeTempFile({ prefix: "lifcal-peers-", suffix: ".json" });
    try {
      await writePeerParams(params, chips);
      for (const peer of peers) {
        progress(`${peer} peer, ${chips} chips …`);
        const out = await runPeer(peer, params, ["--repeat", String(repeat)]);
        if ("skipped" in out) {
          notes.push(out.skipped);
          continue;
        }
        about[peer] = `${
          Object.entries(out.versions).map(([k, v]) => `${k} ${v}`).join(", ")
        }; warm-up ${out.warmup_seconds.toFixed(2)} s`;
        for (const m of PEER_MEASUREMENTS) {
          const r = out.rows.find((x) => x.kind === m.kind);
          if (!r) continue;
          if (r.steps_per_neuron !== neuronSteps(m)) {
            notes.push(
              `${peer}: ${m.kind} took ${r.steps_per_neuron} steps per neuron, lifcal ${
                neuronSteps(m)
              }`,
            );
          }
          rows.push({
            executor: peer,
            kind: r.kind,
            neurons: out.neurons,
            stepsPerNeuron: r.steps_per_neuron,
            seconds: r.seconds,
            neuronStepsPerSecond: r.neuron_steps_per_second,
            mean: r.mean,
            median: r.median,
            sd: r.sd,
          });
        }
      }
    } finally {
      await Deno.remove(params).catch(() => {});
    }
  }
  return { chips, repeat, cores: navigator.hardwareConcurrency, rows, about, notes };
}

const _LABEL: Record<PeerExecutor, string> = {
  "lifcal-webgpu": "lifcal WebGPU",
  "lifcal-cpu": "lifcal CPU",
  brian2: "Brian2 (Cython)",
  numpy: "NumPy",
};

const _KIND_LABEL: Record<string, string> = {
  "spike-count": "spike-count 1 ms",
  "psp-amplitude-exc": "psp-amplitude-exc",
  "tau-mem": "tau-mem 30 µs",
};

function _row(r: PeerComparison["rows"], executor: PeerExecutor, kind: string) {
  return r.find((x) => x.executor === executor && x.kind === kind);
}

function _ratio(x: number): string {
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(x >= 1 ? 1 : 2)}×`;
}

function _mdTable(head: string[], body: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(" | ")} |`;
  return [line(head), `| ${w.map((n) => "-".repeat(n)).join(" | ")} |`, ...body.map(line)].join(
    "\n",
  );
}

function _percent(dev: number): string {
  return `${dev >= 0 ? "+" : "−"}${Math.abs(dev * 100).toFixed(2)} %`;
}

/**
 * Two Markdown tables: neuron-steps/s per executor and measurement with the
 * ratios to the best peer and to NumPy, and the mean and median readings with
 * their deviation from lifcal's CPU executor (flagged when both lie beyond
 * {@linkcode PEER_TOLERANCE}).
 *
 * @example
 * ```ts
 * import { formatComparison } from "./peers.ts";
 * import assert from "node:assert/strict";
 * const row = { kind: "spike-count", neurons: 512, stepsPerNeuron: 10, seconds: 1, median: 1, sd: 0 };
 * const text = formatComparison({
 *   chips: 1, repeat: 1, cores: 2, about: {}, notes: [],
 *   rows: [
 *     { ...row, executor: "lifcal-cpu", neuronStepsPerSecond: 4e7, mean: 100 },
 *     { ...row, executor: "numpy", neuronStepsPerSecond: 2e7, mean: 100.5 },
 *   ],
 * });
 * assert.match(text, /4\.00e\+7 \(2\.0× best peer, 2\.0× NumPy\)/);
 * assert.match(text, /100\.50 \(\+0\.50 %\) \/ 1\.0000 \(\+0\.00 %\) \|/);
 * ```
 */
export function formatComparison(c: PeerComparison): string {
  const executors = (["lifcal-webgpu", "lifcal-cpu", "brian2", "numpy"] as const).filter((e) =>
    c.rows.some((r) => r.executor === e)
  );
  const kinds = PEER_MEASUREMENTS.map((m) => m.kind as string).filter((k) =>
    c.rows.some((r) => r.kind === k)
  );
  const speed = executors.map((e) => [
    _LABEL[e],
    ...kinds.map((k) => {
      const r = _row(c.rows, e, k);
      if (!r) return "—";
      const peerRates = (["numpy", "brian2"] as const)
        .map((p) => _row(c.rows, p, k)?.neuronStepsPerSecond)
        .filter((x): x is number => x !== undefined);
      const best = peerRates.length ? Math.max(...peerRates) : undefined;
      const numpy = _row(c.rows, "numpy", k)?.neuronStepsPerSecond;
      const ratios = [
        ...(best ? [`${_ratio(r.neuronStepsPerSecond / best)} best peer`] : []),
        ...(numpy ? [`${_ratio(r.neuronStepsPerSecond / numpy)} NumPy`] : []),
      ];
      return `${r.neuronStepsPerSecond.toExponential(2)}${
        ratios.length ? ` (${ratios.join(", ")})` : ""
      }`;
    }),
  ]);
  const unit: Record<string, [number, string]> = {
    "spike-count": [1, ""],
    "psp-amplitude-exc": [1, " LSB"],
    "tau-mem": [1e6, " µs"],
  };
  const check = executors.map((e) => [
    _LABEL[e],
    ...kinds.map((k) => {
      const r = _row(c.rows, e, k);
      if (!r) return "—";
      const [scale, u] = unit[k] ?? [1, ""];
      const ref = _row(c.rows, "lifcal-cpu", k);
      const value = `${(r.mean * scale).toPrecision(5)}${u}`;
      const median = `${(r.median * scale).toPrecision(5)}${u}`;
      if (!ref || e === "lifcal-cpu") return `${value} / ${median}`;
      const dev = r.mean / ref.mean - 1;
      const devMedian = r.median / ref.median - 1;
      // A physics slip moves both; one degenerate neuron moves only the mean,
      // and a discrete reading's median may step by one count alone.
      const tolerance = PEER_TOLERANCE[k] ?? 0.01;
      const flag = Math.min(Math.abs(dev), Math.abs(devMedian)) > tolerance
        ? " OUT OF TOLERANCE"
        : "";
      return `${value} (${_percent(dev)}) / ${median} (${_percent(devMedian)})${flag}`;
    }),
  ]);
  const neurons = c.chips * 512;
  return [
    `neuron-steps/s, ${c.chips} chips (${neurons} neurons), ${c.cores} cores${
      c.repeat > 1 ? `, fastest of ${c.repeat} runs` : ""
    }:`,
    "",
    _mdTable(["executor", ...kinds.map((k) => _KIND_LABEL[k] ?? k)], speed),
    "",
    "mean / median reading (deviation from lifcal CPU; flagged when both exceed the tolerance: " +
    kinds.map((k) => `${k} ${(PEER_TOLERANCE[k] ?? 0.01) * 100} %`).join(", ") +
    "):",
    "",
    _mdTable(["executor", ...kinds], check),
    "",
    ...executors.filter((e) => c.about[e]).map((e) => `${_LABEL[e]}: ${c.about[e]}`),
    ...(c.notes.length ? ["", ...c.notes.map((n) => `note: ${n}`)] : []),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      chips: { type: "string", default: "16" },
      backends: { type: "string", default: "cpu,webgpu" },
      peers: { type: "string", default: "numpy,brian2" },
      repeat: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
    },
  });
  const chips = Number(values.chips);
  if (!Number.isInteger(chips) || chips < 1) {
    console.error(`--chips must be a positive integer, got "${values.chips}"`);
    Deno.exit(2);
  }
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) {
    console.error(`--repeat must be a positive integer, got "${values.repeat}"`);
    Deno.exit(2);
  }
  const list = (text: string, allowed: readonly string[], name: string) => {
    const v = text.split(",").filter((x) => x !== "");
    const bad = v.find((x) => !allowed.includes(x));
    if (bad) {
      console.error(`${name}: unknown "${bad}"; use ${allowed.join(", ")}`);
      Deno.exit(2);
    }
    return v;
  };
  const backends = list(values.backends, ["cpu", "webgpu"], "--backends") as ("cpu" | "webgpu")[];
  const peers = list(values.peers, Object.keys(PEERS), "--peers") as (keyof typeof PEERS)[];
  const result = await comparePeers(chips, backends, peers, (l) => console.error(l), repeat);
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else console.log(formatComparison(result));
}
