/**
 * Chips on another machine, for those who write or run hosts: the remote
 * backend ({@linkcode RemoteBackend}; `openBackend({ backend: "remote" })` in
 * `mod.ts` opens one), a {@linkcode ChipHost} that serves any backend to
 * sessions over WebSocket ({@linkcode serveWebSocket}) or stdio
 * ({@linkcode serveStdio}) as `lifcal serve` does, the conformance suite that
 * checks a host ({@linkcode runConformance}), and the wire protocol's frames
 * and messages (`docs/PROTOCOL.md`).
 *
 * @example Serve a CPU twin over loopback WebSocket and calibrate its CADC through it
 * ```ts
 * import { ChipHost, RemoteBackend, serveWebSocket } from "./remote.ts";
 * import { calibrateCadc, CpuBackend, DEFAULT_TWIN_CONFIG } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const host = new ChipHost({
 *   chips: [{ id: "sim-1", seed: 1, key: 1 }],
 *   open: () => Promise.resolve(new CpuBackend([1], DEFAULT_TWIN_CONFIG)),
 *   description: "CPU executor",
 *   twin: DEFAULT_TWIN_CONFIG,
 *   token: "s3cret",
 *   log: () => {},
 * });
 * const server = serveWebSocket(host, { port: 0 });
 * const backend = await RemoteBackend.open({ url: server.url, token: "s3cret" });
 * assert.deepEqual(backend.chips.map((c) => c.id), ["sim-1"]);
 * const [cadc] = await calibrateCadc(backend);
 * assert.ok(cadc!.verification.std < 3);
 * await backend.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

export * from "./backends/remote/remote_backend.ts";
export * from "./backends/remote/host.ts";
export * from "./backends/remote/server.ts";
export * from "./backends/remote/conformance.ts";
export * from "./backends/remote/messages.ts";
export * from "./backends/remote/frame.ts";
