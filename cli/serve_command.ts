/**
 * `lifcal serve`: any local backend's chips over protocol v1, on a
 * WebSocket (`--listen HOST:PORT`, a token always required) or on
 * stdin/stdout (`--stdio`, for a client that spawns it with `--bridge`).
 *
 * @module
 */

import { webgpuSelfTest } from "../backends/open_backend.ts";
import { twinId } from "../backends/twin/twin_batch.ts";
import { twinConfig } from "../backends/twin/twin_config.ts";
import { openBackend } from "../backends/open_backend.ts";
import { ChipHost } from "../backends/remote/host.ts";
import type { HostLimits } from "../backends/remote/messages.ts";
import { serveStdio, serveWebSocket } from "../backends/remote/server.ts";
import { readToken } from "./token.ts";
import { UsageError } from "./usage_error.ts";

/** The flags of `lifcal serve`, parsed. */
export interface ServeFlags {
  /** The local executor. */
  readonly backend: "auto" | "cpu" | "webgpu";
  /** `--chips N`: seeds 1..N. */
  readonly chips?: number | undefined;
  /** `--seeds`. */
  readonly seeds?: readonly number[] | undefined;
  /** `--listen HOST:PORT`. */
  readonly listen: string;
  /** `--stdio`. */
  readonly stdio: boolean;
  /** `--token-file`. */
  readonly tokenFile?: string | undefined;
  /** `--idle-timeout S`. */
  readonly idleTimeout?: number | undefined;
  /** `--max-sessions N`. */
  readonly maxSessions?: number | undefined;
}

/** The default `--listen` address. */
export const DEFAULT_LISTEN = "127.0.0.1:7878";

/**
 * Parses `HOST:PORT` (`[::1]:7878` for IPv6).
 *
 * @example
 * ```ts
 * import { parseListen } from "./serve_command.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseListen("0.0.0.0:9000"), { hostname: "0.0.0.0", port: 9000 });
 * assert.deepEqual(parseListen("[::1]:0"), { hostname: "::1", port: 0 });
 * assert.throws(() => parseListen("localhost"), /HOST:PORT/);
 * ```
 */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(`--listen ${text} is not HOST:PORT (e.g. 127.0.0.1:7878)`);
  }
  return { hostname: m[1] ?? m[2]!, port };
}

/**
 * Whether a listen address is on the loopback interface.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./serve_command.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isLoopback("127.0.0.1"), true);
 * assert.equal(isLoopback("0.0.0.0"), false);
 * ```
 */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}

/**
 * Runs `lifcal serve` until it is stopped (SIGINT/SIGTERM), or until its
 * one stdio session ends. Usage errors throw a {@linkcode UsageError}.
 *
 * @example
 * ```ts ignore
 * await serveCommand({ backend: "cpu", chips: 4, listen: "127.0.0.1:7878", stdio: false });
 * ```
 */
export async function serveCommand(
  f: ServeFlags,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
  log: (line: string) => void = (line) => console.error(line),
): Promise<number> {
  if (f.chips !== undefined && f.seeds !== undefined) {
    throw new UsageError("Give --chips or --seeds, not both");
  }
  const seeds = f.seeds ?? Array.from({ length: f.chips ?? 8 }, (_, i) => i + 1);
  const address = f.stdio ? undefined : parseListen(f.listen);
  const token = f.stdio ? undefined : await readToken(f.tokenFile, env);
  if (address && token === undefined) {
    throw new UsageError(
      `lifcal serve refuses to listen on ${f.listen} without a token: give --token-file FILE or set LIFCAL_TOKEN (loopback included)`,
    );
  }
  let kind: "cpu" | "webgpu" = f.backend === "auto" ? "cpu" : f.backend;
  if (f.backend === "auto") {
    const test = await webgpuSelfTest();
    kind = test.passed ? "webgpu" : "cpu";
    if (!test.passed) {
      log(`lifcal serve: ${test.reason ?? "no usable WebGPU adapter"}; using the CPU executor`);
    }
  }
  // Open once now: a backend that cannot start is a usage error, before anyone connects.
  let description: string;
  try {
    const probe = await openBackend({ backend: kind, chips: [seeds[0]!] });
    description = probe.info.description.replace(/ \(twin model, 1 chip\)$/, " (twin model)");
    await probe.close();
  } catch (e) {
    throw new UsageError(
      `Cannot open the ${kind} backend: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const limits: Partial<HostLimits> = {
    ...(f.idleTimeout !== undefined ? { idle_timeout_s: f.idleTimeout } : {}),
    ...(f.maxSessions !== undefined ? { max_sessions: f.maxSessions } : {}),
  };
  const host = new ChipHost({
    chips: seeds.map((seed) => ({ id: twinId(seed), seed, key: seed })),
    open: (ix) => openBackend({ backend: kind, chips: ix.map((i) => seeds[i]!) }),
    description,
    twin: twinConfig(),
    ...(token !== undefined ? { token } : {}),
    limits,
    log,
  });
  const ids = seeds.length <= 4
    ? seeds.map(twinId).join(", ")
    : `${twinId(seeds[0]!)} … ${twinId(seeds.at(-1)!)} (${seeds.length} chips)`;
  if (!address) {
    log(`lifcal serve: serving ${ids} (${description}) on stdio`);
    await serveStdio(host);
    return 0;
  }
  if (!isLoopback(address.hostname)) {
    log(
      `lifcal serve: listening on ${address.hostname}, beyond loopback: the token travels in clear over ws://; put a TLS proxy in front for untrusted networks`,
    );
  }
  const stop = new AbortController();
  let server;
  try {
    server = serveWebSocket(host, { ...address, signal: stop.signal });
  } catch (e) {
    throw new UsageError(
      `Cannot listen on ${f.listen}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  log(`lifcal serve: serving ${ids} (${description}) on ${server.url}`);
  const onSignal = () => void server.shutdown();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await server.finished;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  log("lifcal serve: stopped");
  return 0;
}
