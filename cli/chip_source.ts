/**
 * Where a command's chips come from, by id: simulated twins chosen by seed
 * (`--chips N`, `--seeds L`; twin `s` is `sim-s`), or the chips a remote host
 * offers (`--backend remote` with `--url` or `--bridge`; `--chip-ids` picks
 * some, the host's hello order is kept). Everything a user gave is checked
 * here, before anything is written; a host that cannot be reached is a
 * runtime failure, a host that refuses the token or lacks a chip an input
 * error.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { openBackend } from "../backends/open_backend.ts";
import { twinId } from "../backends/twin/twin_batch.ts";
import { ConnectionError } from "../backends/remote/link.ts";
import { ProtocolError } from "../backends/remote/frame.ts";
import { remoteHello, type RemoteOptions } from "../backends/remote/remote_backend.ts";
import { readToken } from "./token.ts";
import { UsageError } from "./usage_error.ts";

/** The backend kinds `--backend` accepts. */
export const BACKEND_KINDS = ["auto", "webgpu", "cpu", "remote"] as const;

/** One of {@linkcode BACKEND_KINDS}. */
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** The flags that choose chips and their backend. */
export interface ChipFlags {
  /** `--backend`. */
  readonly backend: BackendKind;
  /** `--chips N`: twins with seeds 1..N. */
  readonly chips?: number | undefined;
  /** `--seeds L`. */
  readonly seeds?: readonly number[] | undefined;
  /** `--url` of a remote host (WebSocket). */
  readonly url?: string | undefined;
  /** `--bridge "command"`: a remote host spoken to over stdio. */
  readonly bridge?: string | undefined;
  /** `--chip-ids a,b`: some of a remote host's chips. */
  readonly chipIds?: readonly string[] | undefined;
  /** `--token-file` (else `LIFCAL_TOKEN`). */
  readonly tokenFile?: string | undefined;
  /** `--request-timeout S`. */
  readonly requestTimeout?: number | undefined;
  /** `--reconnect-timeout S`. */
  readonly reconnectTimeout?: number | undefined;
}

/** The chips of a run and how to open a batch of them. */
export interface ChipSource {
  /** Every chip id, in order (seed order, or the host's hello order). */
  readonly ids: readonly string[];
  /** Where the chips are, for messages: `twins` or the host's address. */
  readonly where: string;
  /** Opens a backend over some of the chips, in the order given. */
  open(ids: readonly string[], onNotice: (message: string) => void): Promise<Backend>;
}

/**
 * Parses `--chip-ids a,b,c`.
 *
 * @example
 * ```ts
 * import { parseChipIds } from "./chip_source.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseChipIds("hx-1, hx-2"), ["hx-1", "hx-2"]);
 * assert.throws(() => parseChipIds("hx-1,hx-1"), /twice/);
 * ```
 */
export function parseChipIds(text: string): string[] {
  const ids = text.split(",").map((s) => s.trim());
  const seen = new Set<string>();
  for (const id of ids) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
      throw new UsageError(`--chip-ids: "${id}" is not a chip id`);
    }
    if (seen.has(id)) throw new UsageError(`--chip-ids: ${id} is listed twice`);
    seen.add(id);
  }
  return ids;
}

/**
 * Resolves the chips of a run. Twins need no I/O; a remote host is asked
 * for its chips (hello) and hung up on.
 *
 * @example
 * ```ts
 * import { resolveChips } from "./chip_source.ts";
 * import assert from "node:assert/strict";
 * const s = await resolveChips({ backend: "cpu", seeds: [4, 2] }, {}, 8);
 * assert.deepEqual(s.ids, ["sim-4", "sim-2"]);
 * ```
 */
export async function resolveChips(
  f: ChipFlags,
  env: Readonly<Record<string, string | undefined>>,
  defaultChips: number,
): Promise<ChipSource> {
  if (f.backend !== "remote") {
    for (
      const [flag, v] of [["--url", f.url], ["--bridge", f.bridge], ["--chip-ids", f.chipIds], [
        "--token-file",
        f.tokenFile,
      ], ["--request-timeout", f.requestTimeout]] as const
    ) {
      if (v !== undefined) throw new UsageError(`${flag} is only used with --backend remote`);
    }
    if (f.chips !== undefined && f.seeds !== undefined) {
      throw new UsageError("Give --chips or --seeds, not both");
    }
    const seeds = f.seeds ?? Array.from({ length: f.chips ?? defaultChips }, (_, i) => i + 1);
    const seedOf = new Map(seeds.map((s) => [twinId(s), s]));
    const kind = f.backend;
    return {
      ids: seeds.map(twinId),
      where: "twins",
      open: (ids, onNotice) =>
        openBackend({ backend: kind, chips: ids.map((id) => seedOf.get(id)!), onNotice }),
    };
  }
  if (f.chips !== undefined || f.seeds !== undefined) {
    throw new UsageError(
      `${
        f.chips !== undefined ? "--chips" : "--seeds"
      } is not used with --backend remote: the host decides which chips exist (pick some with --chip-ids)`,
    );
  }
  if ((f.url === undefined) === (f.bridge === undefined)) {
    throw new UsageError(
      '--backend remote needs --url ws://HOST:PORT or --bridge "COMMAND" (one of them)',
    );
  }
  const token = f.url !== undefined ? await readToken(f.tokenFile, env) : undefined;
  const options: RemoteOptions = {
    ...(f.url !== undefined ? { url: f.url } : { bridge: f.bridge! }),
    ...(token !== undefined ? { token } : {}),
    ...(f.requestTimeout !== undefined ? { requestTimeoutSeconds: f.requestTimeout } : {}),
    ...(f.reconnectTimeout !== undefined ? { reconnectSeconds: f.reconnectTimeout } : {}),
  };
  const where = f.url ?? `bridge "${f.bridge}"`;
  let offered: string[];
  try {
    offered = (await remoteHello(options)).chips.map((c) => c.id);
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) {
      throw new UsageError(`--backend remote: ${e.message}`);
    }
    if (e instanceof ProtocolError && e.code === "unauthorized") {
      throw new UsageError(
        `The host at ${where} refused the token (${e.message}); give --token-file FILE or LIFCAL_TOKEN`,
      );
    }
    if (e instanceof ProtocolError && e.code === "unsupported-version") {
      throw new UsageError(`The host at ${where} speaks another protocol: ${e.message}`);
    }
    if (e instanceof ConnectionError) throw e;
    throw new ConnectionError(`The host at ${where} failed the handshake: ${(e as Error).message}`);
  }
  if (offered.length === 0) throw new UsageError(`The host at ${where} offers no chips`);
  let ids = offered;
  if (f.chipIds) {
    const missing = f.chipIds.filter((id) => !offered.includes(id));
    if (missing.length > 0) {
      throw new UsageError(
        `The host at ${where} has no chip ${missing.join(", ")}; it offers ${offered.join(", ")}`,
      );
    }
    ids = offered.filter((id) => f.chipIds!.includes(id));
  }
  return {
    ids,
    where,
    open: (chips, onNotice) => openBackend({ backend: "remote", ...options, chips, onNotice }),
  };
}
