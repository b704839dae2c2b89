/**
 * `lifcal conformance`: runs the protocol's conformance suite against a host
 * (`--url` with a token, or `--bridge` over stdio) and prints a pass/fail
 * table. Exit 0 only when every row passes (rows that do not apply, such as
 * token rows over stdio, count as passing).
 *
 * @module
 */

import pc from "../deps/picocolors.ts";
import {
  CONFORMANCE_ROWS,
  type ConformanceRow,
  conforms,
  runConformance,
} from "../backends/remote/conformance.ts";
import { readToken } from "./token.ts";
import { UsageError } from "./usage_error.ts";

/** The flags of `lifcal conformance`. */
export interface ConformanceFlags {
  /** `--url ws://HOST:PORT`. */
  readonly url?: string | undefined;
  /** `--bridge "COMMAND"`. */
  readonly bridge?: string | undefined;
  /** `--token-file` (else `LIFCAL_TOKEN`). */
  readonly tokenFile?: string | undefined;
  /** `--protocol-only`. */
  readonly protocolOnly: boolean;
  /** `--json`: the rows as JSON on stdout. */
  readonly json: boolean;
  /** `--request-timeout S`. */
  readonly requestTimeout?: number | undefined;
}

const _MARK: Record<ConformanceRow["status"], (s: string) => string> = {
  "pass": pc.green,
  "fail": pc.red,
  "n/a": pc.dim,
  "not implemented": pc.yellow,
};

/**
 * Formats rows as the table `lifcal conformance` prints.
 *
 * @example
 * ```ts
 * import { conformanceTable } from "./conformance_command.ts";
 * import assert from "node:assert/strict";
 * const t = conformanceTable([{ group: "protocol", name: "hello", status: "pass", detail: "ok" }]);
 * assert.match(t, /pass\s+protocol\s+hello\s+ok/);
 * ```
 */
export function conformanceTable(rows: readonly ConformanceRow[]): string {
  const width = Math.max(...[...CONFORMANCE_ROWS, ...rows].map((r) => r.name.length));
  return rows.map((r) =>
    `${_MARK[r.status](r.status.padEnd(15))} ${r.group.padEnd(8)} ${r.name.padEnd(width)}  ${
      pc.dim(r.detail)
    }`
  ).join("\n");
}

/**
 * Runs `lifcal conformance`; returns 0 when the host conforms, 1 otherwise.
 *
 * @example
 * ```ts ignore
 * const code = await conformanceCommand({ bridge: "python3 examples/hardware_host/host.py",
 *   protocolOnly: true, json: false });
 * ```
 */
export async function conformanceCommand(
  f: ConformanceFlags,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Promise<number> {
  if ((f.url === undefined) === (f.bridge === undefined)) {
    throw new UsageError(
      'lifcal conformance needs --url ws://HOST:PORT or --bridge "COMMAND" (one)',
    );
  }
  if (f.bridge !== undefined && f.tokenFile !== undefined) {
    console.error(
      pc.yellow("lifcal: --token-file is ignored with --bridge (stdio hosts need no token)"),
    );
  }
  const token = f.url !== undefined ? await readToken(f.tokenFile, env) : undefined;
  let rows: ConformanceRow[];
  try {
    rows = await runConformance({
      ...(f.url !== undefined ? { url: f.url } : { bridge: f.bridge! }),
      ...(token !== undefined ? { token } : {}),
      ...(f.requestTimeout !== undefined ? { requestTimeoutSeconds: f.requestTimeout } : {}),
      protocolOnly: f.protocolOnly,
      ...(f.json ? {} : { onRow: (r: ConformanceRow) => console.log(conformanceTable([r])) }),
    });
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
  const ok = conforms(rows);
  if (f.json) {
    console.log(JSON.stringify({ host: f.url ?? f.bridge, conforms: ok, rows }, null, 2));
  } else {
    const count = (s: ConformanceRow["status"]) => rows.filter((r) => r.status === s).length;
    console.log(
      (ok ? pc.green : pc.red)(
        `${ok ? "conforms" : "does not conform"}: ${count("pass")} passed, ${
          count("fail")
        } failed, ${count("not implemented")} not implemented, ${count("n/a")} not applicable`,
      ),
    );
  }
  return ok ? 0 : 1;
}
