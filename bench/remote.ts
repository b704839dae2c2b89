/**
 * What the wire costs: a full default calibration of the same twins on the
 * CPU executor in-process, and through the remote backend to `lifcal serve`
 * of the CPU executor in another process — over loopback WebSocket and over
 * stdio (`--bridge`) — with the round trips, bytes and wall time of each, and
 * a check that the results are identical.
 *
 * Run: `deno run -A bench/remote.ts [--chips 2] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Backend } from "../backends/backend.ts";
import { CpuBackend } from "../backends/cpu/cpu_backend.ts";
import { twinId } from "../backends/twin/twin_batch.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";
import { calibrate } from "../calib/calibrate.ts";
import { resultToJson } from "../calib/result.ts";
import { RemoteBackend, type RemoteStats } from "../backends/remote/remote_backend.ts";

/** One row of the benchmark. */
export interface RemoteBenchRow {
  /** `in-process`, `websocket` or `stdio`. */
  readonly transport: string;
  /** Chips calibrated together. */
  readonly chips: number;
  /** Wall time of the calibration (s), connection set-up excluded. */
  readonly wallSeconds: number;
  /** The remote backend's counts (absent in-process). */
  readonly stats?: RemoteStats;
  /** Whether the results equal the in-process ones. */
  readonly identical: boolean;
}

const _MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

async function _time(be: Backend): Promise<{ seconds: number; results: string[] }> {
  const t0 = performance.now();
  const results = (await calibrate(be)).map(resultToJson);
  return { seconds: (performance.now() - t0) / 1000, results };
}

/**
 * Calibrates seeds 1..`chips` on each transport and compares.
 *
 * @example
 * ```ts ignore
 * for (const row of await benchRemote(1)) console.log(row.transport, row.wallSeconds);
 * ```
 */
export async function benchRemote(chips: number): Promise<RemoteBenchRow[]> {
  const seeds = Array.from({ length: chips }, (_, i) => i + 1);
  const local = await _time(new CpuBackend(seeds, DEFAULT_TWIN_CONFIG));
  const rows: RemoteBenchRow[] = [
    { transport: "in-process", chips, wallSeconds: local.seconds, identical: true },
  ];
  const serve = ["run", "-A", _MAIN, "serve", "--backend", "cpu", "--seeds", seeds.join(",")];
  const token = crypto.randomUUID();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const server = new Deno.Command(Deno.execPath(), {
    args: [...serve, "--listen", `127.0.0.1:${port}`],
    env: { LIFCAL_TOKEN: token },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
  for (let text = ""; !text.includes(" on ws://");) {
    const { value, done } = await log.read();
    if (done) throw new Error(`lifcal serve did not start: ${text}`);
    text += value;
  }
  try {
    for (
      const [transport, options] of [
        ["websocket", { url: `ws://127.0.0.1:${port}`, token }],
        ["stdio", { bridge: [Deno.execPath(), ...serve, "--stdio"] }],
      ] as const
    ) {
      const be = await RemoteBackend.open({
        ...options,
        chips: seeds.map(twinId),
        onNotice: () => {},
      });
      const r = await _time(be);
      await be.close();
      rows.push({
        transport,
        chips,
        wallSeconds: r.seconds,
        stats: be.stats,
        identical: r.results.every((x, i) => x === local.results[i]),
      });
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await log.cancel();
  }
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { chips: { type: "string", default: "2" }, json: { type: "boolean", default: false } },
  });
  const rows = await benchRemote(Number(values.chips));
  if (values.json) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(
      "| transport | chips | wall (s) | × in-process | round trips | searches | measurements | writes | MB sent | MB received | identical |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    const base = rows[0]!.wallSeconds;
    for (const r of rows) {
      const s = r.stats;
      console.log(
        `| ${r.transport} | ${r.chips} | ${r.wallSeconds.toFixed(2)} | ${
          (r.wallSeconds / base).toFixed(2)
        } | ${s?.requests ?? "–"} | ${s?.byType.search ?? "–"} | ${s?.byType.measure ?? "–"} | ${
          s?.byType.write ?? "–"
        } | ${s ? (s.bytesSent / 1e6).toFixed(2) : "–"} | ${
          s ? (s.bytesReceived / 1e6).toFixed(2) : "–"
        } | ${r.identical ? "yes" : "NO"} |`,
      );
    }
  }
}
