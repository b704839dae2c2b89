/**
 * `lifcal selftest`: what this machine offers and whether the executors
 * measure what they should. It prints the WebGPU adapter, the WebGPU
 * executor's start-up self-test (the loop-cap probe and the kernels' parity
 * with the CPU executor), then opens each simulator backend on one twin:
 * where it opens, its measurements are checked against the twin's truth
 * and, when more than one opens, against each other; where it does not, the
 * reason is printed. Checks are plain data ({@linkcode SELFTEST_CHECKS}), so
 * a new executor or probe is one entry more.
 *
 * @module
 */

import type { Backend, Truth } from "../backends/backend.ts";
import { openBackend, webgpuSelfTest } from "../backends/open_backend.ts";
import type { GpuSelfTest } from "../backends/webgpu/self_test.ts";
import { VERSION } from "../version.ts";

/** The outcome of one check. */
export interface CheckOutcome {
  /** Whether it passed. */
  readonly ok: boolean;
  /** One line: what was measured, against what limit. */
  readonly detail: string;
}

/** Readings a check takes from a backend (kept for the cross-backend comparison). */
export type CheckReadings = Float32Array;

/** A check of an opened one-twin backend against the twin's truth. */
export interface SelftestCheck {
  /** Its name. */
  readonly name: string;
  /** Puts the twin into the check's state and measures. */
  measure(backend: Backend): Promise<CheckReadings>;
  /** Judges the readings against the truth under the same state. */
  judge(readings: CheckReadings, truth: Truth): CheckOutcome;
  /** Judges two executors' readings of the same twin and operations. */
  compare(a: CheckReadings, b: CheckReadings): CheckOutcome;
}

const _STATE = { threshold_enable: 0, i_bias_leak: 300, leak_division: 1, i_mem_offset: 1000 };

function _meanAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

function _medianRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const r = Array.from(a, (v, i) => Math.abs(v / b[i]! - 1)).sort((x, y) => x - y);
  return r[r.length >> 1]!;
}

/**
 * The checks: the resting potential (8 reads) within 1 CADC LSB of the
 * truth on average, τ_mem (offset method) within 3 % in the median.
 */
export const SELFTEST_CHECKS: readonly SelftestCheck[] = [
  {
    name: "resting potential",
    async measure(backend) {
      await backend.write(_STATE);
      return await backend.measure({ kind: "resting-potential", reads: 8 });
    },
    judge(readings, truth) {
      const d = _meanAbs(readings, truth.V_rest_cadc);
      return { ok: d < 1, detail: `mean |Δ| to truth ${d.toFixed(2)} CADC LSB (limit 1)` };
    },
    compare(a, b) {
      const d = _meanAbs(a, b);
      return { ok: d < 0.5, detail: `mean |Δ| ${d.toFixed(3)} CADC LSB (limit 0.5)` };
    },
  },
  {
    name: "tau_mem",
    async measure(backend) {
      await backend.write(_STATE);
      return await backend.measure({ kind: "tau-mem", windowSeconds: 30e-6 });
    },
    judge(readings, truth) {
      const r = _medianRel(readings, truth.tau_mem);
      return {
        ok: r < 0.03,
        detail: `median |Δ|/τ to truth ${(100 * r).toFixed(2)} % (limit 3 %)`,
      };
    },
    compare(a, b) {
      const r = _medianRel(a, b);
      return { ok: r < 0.02, detail: `median |Δ|/τ ${(100 * r).toFixed(2)} % (limit 2 %)` };
    },
  },
];

/**
 * The WebGPU adapter's description, `no adapter`, or why WebGPU is absent.
 *
 * @example
 * ```ts ignore
 * import { describeAdapter } from "./selftest.ts";
 * console.log(await describeAdapter()); // e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (fallback adapter)"
 * ```
 */
export async function describeAdapter(timeoutMs = 15_000): Promise<string> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return "no adapter (this runtime has no WebGPU)";
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const adapter = await Promise.race([
      gpu.requestAdapter(),
      new Promise<"timeout">((
        resolve,
      ) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
    ]);
    if (adapter === "timeout") return `no adapter (no answer within ${timeoutMs / 1000} s)`;
    if (!adapter) return "no adapter";
    const info = adapter.info;
    const name = info.description || [info.vendor, info.device].filter((s) => s).join(" ") ||
      "unnamed adapter";
    return `${name}${info.isFallbackAdapter ? " (fallback adapter)" : ""}`;
  } catch (e) {
    return `no adapter (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    clearTimeout(timer);
  }
}

/** The loop length the WebGPU start-up self-test's loop-cap probe asks for. */
const _LOOP_PROBE = 100_000;

function _gpuLines(t: GpuSelfTest): { lines: string[]; ok: boolean } {
  if (!t.available) {
    return {
      lines: [`webgpu start-up self-test: no usable adapter (${t.reason ?? "none"})`],
      ok: true,
    };
  }
  const lines: string[] = [];
  if (t.loopIterations !== undefined) {
    const capped = t.loopIterations < _LOOP_PROBE;
    lines.push(
      `webgpu loop-cap probe: a loop of ${_LOOP_PROBE} iterations reached ${t.loopIterations} in one invocation (${
        capped ? "capped: the kernels run long loops in chunks" : "no cap"
      })`,
    );
  }
  const parity = Object.entries(t.parity ?? {}).map(([k, v]) => `${k} ${v.toPrecision(3)}`);
  lines.push(
    `webgpu start-up self-test: ${t.passed ? "passed" : `FAILED (${t.reason ?? "unknown"})`}${
      parity.length ? `; largest GPU−CPU difference: ${parity.join(", ")}` : ""
    }`,
  );
  return { lines, ok: t.passed };
}

/**
 * Runs the self test, printing through `log`; returns the exit code (0
 * everything available passed, 1 a check failed). A missing GPU adapter is
 * reported, not a failure.
 *
 * @example
 * ```ts
 * import { selftestCommand } from "./selftest.ts";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * const noGpu = () => Promise.resolve({ available: false, passed: false, reason: "none here" });
 * const code = await selftestCommand((s) => lines.push(s), ["cpu"], () => Promise.resolve("no adapter"), noGpu);
 * assert.equal(code, 0);
 * assert.match(lines.join("\n"), /cpu backend: CPU executor/);
 * ```
 */
export async function selftestCommand(
  log: (line: string) => void = console.log,
  kinds: readonly ("cpu" | "webgpu")[] = ["cpu", "webgpu"],
  adapter: () => Promise<string> = describeAdapter,
  gpuTest: () => Promise<GpuSelfTest> = () => webgpuSelfTest(),
): Promise<number> {
  log(`lifcal ${VERSION} selftest`);
  log(`adapter: ${await adapter()}`);
  let ok = true;
  if (kinds.includes("webgpu")) {
    const gpu = _gpuLines(await gpuTest());
    gpu.lines.forEach((l) => log(l));
    ok &&= gpu.ok;
  }
  const readings = new Map<string, CheckReadings[]>();
  for (const kind of kinds) {
    let backend: Backend;
    try {
      backend = await openBackend({ backend: kind, chips: [1] });
    } catch (e) {
      log(`${kind} backend: not available (${e instanceof Error ? e.message : String(e)})`);
      continue;
    }
    log(`${kind} backend: ${backend.info.description}`);
    try {
      const got: CheckReadings[] = [];
      for (const check of SELFTEST_CHECKS) {
        const r = await check.measure(backend);
        got.push(r);
        if (!backend.truth) {
          log(`  ${check.name}: measured (no truth to compare with)`);
          continue;
        }
        const outcome = check.judge(r, await backend.truth());
        ok &&= outcome.ok;
        log(`  ${check.name}: ${outcome.detail} ${outcome.ok ? "ok" : "FAILED"}`);
      }
      readings.set(kind, got);
    } catch (e) {
      ok = false;
      log(`  check failed to run: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await backend.close();
    }
  }
  const [reference, ...others] = [...readings];
  for (const [kind, got] of others) {
    SELFTEST_CHECKS.forEach((check, k) => {
      const outcome = check.compare(got[k]!, reference![1][k]!);
      ok &&= outcome.ok;
      log(
        `${kind} vs ${reference![0]}, ${check.name}: ${outcome.detail} ${
          outcome.ok ? "ok" : "FAILED"
        }`,
      );
    });
  }
  log(ok ? "selftest passed" : "selftest FAILED");
  return ok ? 0 : 1;
}
