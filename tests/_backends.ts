/**
 * Test helpers: every backend a contract test runs against — the CPU
 * executor, the WebGPU executor where an adapter exists, and the remote
 * backend to a loopback host serving the CPU executor, over WebSocket (an
 * in-process `serveWebSocket`) and over stdio (`lifcal serve --stdio` as a
 * subprocess) — plus in-process hosts for fault tests.
 *
 * @module
 */

import { type Backend, CpuBackend, DEFAULT_TWIN_CONFIG, openBackend } from "../mod.ts";
import { twinId } from "../backends/twin/twin_batch.ts";
import { ChipHost, type ChipHostOptions } from "../backends/remote/host.ts";
import { serveWebSocket, type WebSocketServer } from "../backends/remote/server.ts";
import { requestTwinDevice } from "../backends/webgpu/gpu_runtime.ts";
import { MAIN } from "./_cli.ts";

/** The token of the test hosts. */
export const TOKEN = "lifcal-test-token";

/** The seeds every test host offers. */
export const HOST_SEEDS: readonly number[] = Array.from({ length: 12 }, (_, i) => i + 1);

/** A backend kind under test and how to open twins on it. */
export interface BackendUnderTest {
  /** `cpu`, `webgpu`, `remote-ws` or `remote-stdio`. */
  readonly name: string;
  /** Whether it gives the CPU executor's readings bit for bit. */
  readonly exact: boolean;
  /** Opens twins with these seeds (each from 1..12). */
  open(seeds: readonly number[]): Promise<Backend>;
  /** Stops what the kind started. */
  close(): Promise<void>;
}

/**
 * A host of twins on the CPU executor, with lines logged to `log`.
 */
export function cpuHost(
  seeds: readonly number[] = HOST_SEEDS,
  options: Partial<ChipHostOptions> & { log?: (line: string) => void } = {},
): ChipHost {
  return new ChipHost({
    chips: seeds.map((seed) => ({ id: twinId(seed), seed, key: seed })),
    open: (ix) => Promise.resolve(new CpuBackend(ix.map((i) => seeds[i]!), DEFAULT_TWIN_CONFIG)),
    description: "CPU executor (twin model)",
    twin: DEFAULT_TWIN_CONFIG,
    token: TOKEN,
    log: () => {},
    ...options,
  });
}

/** The argv of `lifcal serve --stdio` for some seeds. */
export function stdioServeCommand(seeds: readonly number[], backend = "cpu"): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "serve",
    "--stdio",
    "--backend",
    backend,
    "--seeds",
    seeds.join(","),
  ];
}

/** Whether this machine has a WebGPU adapter. */
export const HAS_GPU: boolean = await (async () => {
  const gpu = await requestTwinDevice();
  gpu?.device.destroy();
  return gpu !== undefined;
})();

/** The kinds a contract test runs against (WebGPU only where an adapter exists). */
export const BACKEND_KINDS: readonly string[] = [
  "cpu",
  ...(HAS_GPU ? ["webgpu"] : []),
  "remote-ws",
  "remote-stdio",
];

/** Starts a backend kind (a loopback host for the remote kinds). */
export function backendUnderTest(name: string): BackendUnderTest {
  switch (name) {
    case "cpu":
    case "webgpu":
      return {
        name,
        exact: name === "cpu",
        open: (seeds) => openBackend({ backend: name, chips: seeds }),
        close: () => Promise.resolve(),
      };
    case "remote-ws": {
      // One host per backend, as two local backends of one seed are two twins.
      const servers: WebSocketServer[] = [];
      return {
        name,
        exact: true,
        open(seeds) {
          const server = serveWebSocket(cpuHost(), { port: 0 });
          servers.push(server);
          return openBackend({
            backend: "remote",
            url: server.url,
            token: TOKEN,
            chips: seeds.map(twinId),
          });
        },
        async close() {
          for (const server of servers) await server.shutdown();
        },
      };
    }
    case "remote-stdio":
      return {
        name,
        exact: true,
        open: (seeds) =>
          openBackend({ backend: "remote", bridge: stdioServeCommand(seeds), onNotice: () => {} }),
        close: () => Promise.resolve(),
      };
  }
  throw new RangeError(`No backend kind ${name}`);
}

/**
 * Runs `fn` with a backend kind and closes every backend it opened and the
 * kind itself afterwards.
 */
export async function withBackends(
  name: string,
  fn: (
    open: (seeds: readonly number[]) => Promise<Backend>,
    kind: BackendUnderTest,
  ) => Promise<void>,
): Promise<void> {
  const kind = backendUnderTest(name);
  const opened: Backend[] = [];
  try {
    await fn(async (seeds) => {
      const be = await kind.open(seeds);
      opened.push(be);
      return be;
    }, kind);
  } finally {
    for (const be of opened) await be.close().catch(() => {});
    await kind.close();
  }
}
