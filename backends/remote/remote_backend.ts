/**
 * The remote backend: the {@linkcode Backend} trait over protocol v1, to a
 * host next to real chips or to any lifcal backend served by `lifcal serve`.
 *
 * It keeps what a restarted host would need — every chip's configuration
 * (updated from the configuration each answer reports) and operation
 * counters (sent with every measure and search, so an answer never depends
 * on which host process gives it). When the connection drops it reconnects
 * with bounded backoff, restores configuration and counters, and repeats
 * only the request that had no answer, as calix's stateful connection
 * replays its writes. Whole searches go to hosts that run them (one round
 * trip per search); for others the search rule runs here over write +
 * measure.
 *
 * @module
 */

import type {
  Backend,
  BackendInfo,
  ChipRef,
  ChipSelection,
  SearchResult,
  SearchSpec,
  Truth,
} from "../backend.ts";
import {
  type ChipConfig,
  cloneConfig,
  type ConfigPatch,
  initialConfig,
  resolvePatch,
} from "../config.ts";
import { genericSearch, validateSearchSpec } from "../generic_search.ts";
import { type Measurement, measurementSize, validateMeasurement } from "../measurement.ts";
import { OperationCounters, selectChips } from "../counters.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { checkHello, Connection } from "./client.ts";
import { PROTOCOL_VERSION, ProtocolError } from "./frame.ts";
import { VERSION } from "../../version.ts";
import {
  ConnectionError,
  type Connector,
  splitCommand,
  stdioConnector,
  webSocketConnector,
} from "./link.ts";
import {
  applyWireConfig,
  configToWire,
  type HelloResult,
  type RequestType,
  truthFromWire,
} from "./messages.ts";

/** Default seconds a request may wait for its answer (a 64-chip search on a software GPU fits). */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 600;

/** Default seconds spent reconnecting after a dropped connection before giving up. */
export const DEFAULT_RECONNECT_SECONDS = 60;

/**
 * Where a remote host is and how to talk to it.
 *
 * @example
 * ```ts
 * import type { RemoteOptions } from "./remote_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const overWebSocket: RemoteOptions = {
 *   url: "ws://127.0.0.1:7878",
 *   token: "s3cret",
 *   requestTimeoutSeconds: 60,
 *   reconnectSeconds: 0, // fail at once when the connection drops
 * };
 * const overStdio: RemoteOptions = { bridge: "python3 examples/hardware_host/host.py" };
 * assert.equal(overWebSocket.bridge ?? overStdio.url, undefined);
 * ```
 */
export interface RemoteOptions {
  /** The host's WebSocket address (`ws://host:port`, `wss://…`); or give `bridge`. */
  readonly url?: string;
  /** A host command spoken to over its stdin/stdout (a string is split like a shell). */
  readonly bridge?: string | readonly string[];
  /** The bearer token (WebSocket hosts require one; ignored for a bridge). */
  readonly token?: string;
  /** Seconds each request may wait for its answer (default 600). */
  readonly requestTimeoutSeconds?: number;
  /** Seconds to keep reconnecting after a drop (default 60; 0: never reconnect). */
  readonly reconnectSeconds?: number;
  /** Receives one-line notices (reconnects); default stderr. */
  readonly onNotice?: (message: string) => void;
}

/**
 * Options of {@linkcode RemoteBackend.open}.
 *
 * @example
 * ```ts
 * import type { RemoteBackendOptions } from "./remote_backend.ts";
 * import assert from "node:assert/strict";
 *
 * const options: RemoteBackendOptions = {
 *   url: "ws://127.0.0.1:7878",
 *   token: "s3cret",
 *   chips: ["hx-12", "hx-14"], // by the ids the host's hello gives
 *   reset: false, // continue from the state the previous session left
 * };
 * assert.equal(options.chips?.length, 2);
 * ```
 */
export interface RemoteBackendOptions extends RemoteOptions {
  /** The chips to open, by id (default: every chip the host offers, in its order). */
  readonly chips?: readonly string[];
  /** Seconds to wait for chips another session holds (default 10). */
  readonly openWaitSeconds?: number;
  /**
   * Start from the chips' power-on state (default), as a local backend does;
   * `false` continues from what the previous session left.
   */
  readonly reset?: boolean;
}

function _connector(options: RemoteOptions): Connector {
  if ((options.url === undefined) === (options.bridge === undefined)) {
    throw new TypeError("A remote backend needs exactly one of url and bridge");
  }
  if (options.url !== undefined) return webSocketConnector(options.url);
  const words = typeof options.bridge === "string"
    ? splitCommand(options.bridge)
    : [...options.bridge!];
  return stdioConnector(words);
}

async function _handshake(
  connector: Connector,
  options: RemoteOptions,
): Promise<{ conn: Connection; hello: HelloResult }> {
  const conn = await Connection.connect(connector);
  const timeoutSeconds = Math.min(options.requestTimeoutSeconds ?? 30, 30);
  try {
    if (options.url !== undefined && options.token !== undefined) {
      await conn.request("auth", { token: options.token }, { timeoutSeconds });
    }
    const body = await conn.request(
      "hello",
      { protocols: [PROTOCOL_VERSION], client: `lifcal/${VERSION}` },
      { timeoutSeconds },
    );
    return { conn, hello: checkHello(body) };
  } catch (e) {
    await conn.close().catch(() => {});
    throw e;
  }
}

/**
 * Asks a host what it offers (`hello`) and hangs up.
 *
 * @example
 * ```ts ignore
 * const hello = await remoteHello({ url: "ws://127.0.0.1:7878", token });
 * console.log(hello.chips.map((c) => c.id));
 * ```
 */
export async function remoteHello(options: RemoteOptions): Promise<HelloResult> {
  const { conn, hello } = await _handshake(_connector(options), options);
  await conn.request("close", {}, { timeoutSeconds: 5 }).catch(() => {});
  await conn.close();
  return hello;
}

/** Work a remote backend did: requests answered, bytes, reconnects. */
export interface RemoteStats {
  /** Requests answered (round trips). */
  requests: number;
  /** Requests by type. */
  byType: Record<string, number>;
  /** Bytes sent, frames included. */
  bytesSent: number;
  /** Bytes received, frames included. */
  bytesReceived: number;
  /** Reconnects after a dropped connection. */
  reconnects: number;
}

/**
 * A {@linkcode Backend} whose chips live on a remote host.
 *
 * @example Calibrate a chip of a host over WebSocket
 * ```ts ignore
 * import { RemoteBackend } from "./remote_backend.ts";
 * const be = await RemoteBackend.open({ url: "ws://127.0.0.1:7878", token, chips: ["sim-3"] });
 * const rest = await be.measure({ kind: "resting-potential" });
 * await be.close();
 * ```
 */
export class RemoteBackend implements Backend {
  /** What runs the chips. */
  readonly info: BackendInfo;
  /** The session's chips, in the order opened. */
  readonly chips: readonly ChipRef[];
  /** Their RNG keys, as the host reports them. */
  readonly keys: Uint32Array;
  /** The twin model of a twin host (it enters the calibration cache key). */
  readonly twin?: TwinConfig;
  /** Twin hosts only: the true parameters. */
  readonly truth?: (patch?: ConfigPatch) => Promise<Truth>;
  /** What the host said in its hello. */
  readonly hello: HelloResult;
  /** Work done so far. */
  readonly stats: RemoteStats = {
    requests: 0,
    byType: {},
    bytesSent: 0,
    bytesReceived: 0,
    reconnects: 0,
  };
  readonly #options: RemoteBackendOptions;
  readonly #connector: Connector;
  readonly #ids: string[];
  readonly #configs: ChipConfig[];
  readonly #counters: OperationCounters;
  #conn: Connection;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    options: RemoteBackendOptions,
    connector: Connector,
    conn: Connection,
    hello: HelloResult,
    opened: Record<string, unknown>,
  ) {
    this.#options = options;
    this.#connector = connector;
    this.#conn = conn;
    this.hello = hello;
    const chips = opened.chips as { id: string; key: number; seed?: number }[];
    this.#ids = chips.map((c) => c.id);
    this.chips = chips.map((
      c,
    ) => (c.seed === undefined ? { id: c.id } : { id: c.id, seed: c.seed }));
    this.keys = Uint32Array.from(chips.map((c) => c.key));
    if (hello.twin) this.twin = hello.twin;
    this.#configs = chips.map(() => initialConfig());
    applyWireConfig(this.#configs, opened.config as Record<string, unknown>);
    this.#counters = new OperationCounters(chips.length);
    this.#adoptCounters(opened.counters);
    if (hello.capabilities.truth) {
      this.truth = async (patch?: ConfigPatch) => {
        if (patch) resolvePatch(patch, this.chips.length);
        const r = await this.#call("truth", patch ? { patch } : {}, "truth");
        return truthFromWire(r.truth as Record<string, unknown>, this.chips.length);
      };
    }
    this.info = {
      kind: "remote",
      description: `${hello.description} at ${conn.peer} (${hello.server}, ${chips.length} chip${
        chips.length === 1 ? "" : "s"
      })`,
    };
  }

  /**
   * Connects, authenticates (WebSocket), says hello and opens the chips.
   * Throws a `ConnectionError` when the host cannot be reached and a
   * `ProtocolError` when it refuses (`unauthorized`, `no-such-chip`, `busy`, …).
   */
  static async open(options: RemoteBackendOptions): Promise<RemoteBackend> {
    const connector = _connector(options);
    const { conn, hello } = await _handshake(connector, options);
    try {
      if (hello.chips.length === 0) {
        throw new ProtocolError("no-such-chip", `The host at ${conn.peer} offers no chips`);
      }
      const opened = await conn.request(
        "open",
        {
          chips: options.chips ? [...options.chips] : null,
          wait_s: options.openWaitSeconds ?? 10,
          reset: options.reset ?? true,
        },
        { timeoutSeconds: (options.openWaitSeconds ?? 10) + 30, label: "open" },
      );
      const backend = new RemoteBackend(options, connector, conn, hello, opened);
      backend.#count("hello");
      backend.#count("open");
      return backend;
    } catch (e) {
      await conn.close().catch(() => {});
      throw e;
    }
  }

  /** A copy of each chip's operation counter (kept here, sent with every request). */
  counters(): Uint32Array {
    return this.#counters.values();
  }

  /** Returns the counters and advances the selected ones by `n`. */
  claim(n = 1, selection: ChipSelection = {}): Uint32Array {
    return this.#counters.claim(n, selection);
  }

  /** Sets the counters of the selected chips; the next request carries them. */
  restoreCounters(counters: ArrayLike<number>, selection: ChipSelection = {}): void {
    this.#counters.restore(counters, selection);
  }

  /** Writes a patch (checked here first, so a bad one never travels). */
  async write(patch: ConfigPatch, selection: ChipSelection = {}): Promise<void> {
    const chips = selectChips(selection, this.chips.length);
    resolvePatch(patch, chips.length);
    const r = await this.#call("write", { patch, chips: selection.chips }, "write");
    applyWireConfig(this.#configs, r.config as Record<string, unknown>);
  }

  /** The configuration as the host last reported it (no round trip). */
  config(): Promise<ChipConfig[]> {
    this.#open();
    return Promise.resolve(this.#configs.map(cloneConfig));
  }

  /** Runs a measurement on the host, starting from this backend's counters. */
  async measure(m: Measurement, selection: ChipSelection = {}): Promise<Float32Array> {
    validateMeasurement(m);
    selectChips(selection, this.chips.length);
    const r = await this.#call(
      "measure",
      () => ({ measurement: m, chips: selection.chips, counters: this.#counters.values() }),
      `measure ${m.kind}`,
    );
    const readings = r.readings;
    const expected = this.chips.length * measurementSize(m);
    if (!(readings instanceof Float32Array) || readings.length !== expected) {
      throw new ProtocolError(
        "malformed",
        `The host's ${m.kind} readings are not ${expected} f32 values`,
      );
    }
    this.#adoptCounters(r.counters);
    return readings;
  }

  /** Runs a whole search on the host where it offers that, else here over write + measure. */
  async search(spec: SearchSpec): Promise<SearchResult> {
    if (!this.hello.capabilities.search) return await genericSearch(this, spec);
    const { size } = validateSearchSpec(spec, this.chips.length);
    const r = await this.#call(
      "search",
      () => ({ spec, counters: this.#counters.values() }),
      `search ${spec.field}`,
    );
    const n = this.chips.length * size;
    if (
      !(r.codes instanceof Int32Array) || r.codes.length !== n ||
      !(r.success instanceof Uint8Array) || r.success.length !== n
    ) {
      throw new ProtocolError("malformed", `The host's search result is not ${n} codes and flags`);
    }
    this.#adoptCounters(r.counters);
    applyWireConfig(this.#configs, r.config as Record<string, unknown>);
    const trace = r.trace as SearchResult["trace"] | undefined;
    return trace
      ? { codes: r.codes, success: r.success, trace }
      : { codes: r.codes, success: r.success };
  }

  /** Says goodbye and hangs up; the host keeps the chips' state for its next session. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => {});
    await this.#conn.request("close", {}, { timeoutSeconds: 5 }).catch(() => {});
    await this.#conn.close().catch(() => {});
  }

  #open(): void {
    if (this.#closed) throw new Error(`The remote backend (${this.#conn.peer}) is closed`);
  }

  #count(type: string): void {
    this.stats.requests++;
    this.stats.byType[type] = (this.stats.byType[type] ?? 0) + 1;
  }

  #adoptCounters(v: unknown): void {
    if (!(v instanceof Uint32Array) || v.length !== this.chips.length) {
      throw new ProtocolError("malformed", "The host's counters are not one u32 per chip");
    }
    this.#counters.restore(v);
  }

  /**
   * One request at a time; a dropped connection is restored and the request
   * repeated. A body given as a function is made when the request's turn
   * comes, so it carries the counters the requests before it left.
   */
  #call(
    type: RequestType,
    body: Record<string, unknown> | (() => Record<string, unknown>),
    label: string,
  ) {
    this.#open();
    const run = this.#queue.then(() =>
      this.#send(type, typeof body === "function" ? body() : body, label)
    );
    this.#queue = run.catch(() => {});
    return run;
  }

  async #send(type: RequestType, body: Record<string, unknown>, label: string) {
    const timeoutSeconds = this.#options.requestTimeoutSeconds ?? DEFAULT_REQUEST_TIMEOUT_SECONDS;
    for (;;) {
      const conn = this.#conn;
      const sent = conn.stats.bytesSent;
      const received = conn.stats.bytesReceived;
      try {
        const r = await conn.request(type, body, { timeoutSeconds, label });
        this.#count(type);
        return r;
      } catch (e) {
        if (!(e instanceof ConnectionError) || this.#closed) throw e;
        await this.#reconnect(e);
      } finally {
        this.stats.bytesSent += conn.stats.bytesSent - sent;
        this.stats.bytesReceived += conn.stats.bytesReceived - received;
      }
    }
  }

  async #reconnect(cause: ConnectionError): Promise<void> {
    const budget = (this.#options.reconnectSeconds ?? DEFAULT_RECONNECT_SECONDS) * 1000;
    const start = performance.now();
    let delay = 100;
    let attempts = 0;
    let last: unknown = cause;
    await this.#conn.close().catch(() => {});
    while (performance.now() - start < budget) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
      attempts++;
      try {
        await this.#restore();
        this.stats.reconnects++;
        (this.#options.onNotice ?? ((m: string) => console.error(m)))(
          `lifcal: reconnected to ${this.#conn.peer} after ${attempts} attempt${
            attempts === 1 ? "" : "s"
          } (${cause.message}); configuration and counters restored`,
        );
        return;
      } catch (e) {
        last = e;
        if (!(e instanceof ConnectionError) && !(e instanceof ProtocolError && e.code === "busy")) {
          throw e;
        }
      }
    }
    throw new ConnectionError(
      `${cause.message}; could not reconnect within ${budget / 1000} s (${
        last instanceof Error ? last.message : String(last)
      })`,
    );
  }

  /** A new session with the same chips, their configuration and counters restored. */
  async #restore(): Promise<void> {
    const { conn, hello } = await _handshake(this.#connector, this.#options);
    try {
      const theirs = hello.chips.map((c) => `${c.id}:${c.key}`);
      const missing = this.#ids.filter((id, k) => !theirs.includes(`${id}:${this.keys[k]}`));
      if (missing.length > 0 || JSON.stringify(hello.twin) !== JSON.stringify(this.hello.twin)) {
        throw new ProtocolError(
          "no-such-chip",
          `After reconnecting, ${conn.peer} is a different host (chips ${
            missing.join(", ") || "the same"
          }, twin model ${
            JSON.stringify(hello.twin) === JSON.stringify(this.hello.twin)
              ? "the same"
              : "different"
          })`,
        );
      }
      const timeoutSeconds = this.#options.requestTimeoutSeconds ?? DEFAULT_REQUEST_TIMEOUT_SECONDS;
      await conn.request(
        "open",
        { chips: this.#ids, wait_s: this.#options.openWaitSeconds ?? 10, reset: false },
        { timeoutSeconds, label: "open (reconnect)" },
      );
      await conn.request(
        "write",
        { patch: configToWire(this.#configs) },
        { timeoutSeconds, label: "write (restore the configuration)" },
      );
      await conn.request(
        "counters-restore",
        { counters: this.#counters.values() },
        { timeoutSeconds, label: "counters-restore" },
      );
      for (const t of ["hello", "open", "write", "counters-restore"]) this.#count(t);
    } catch (e) {
      await conn.close().catch(() => {});
      throw e;
    }
    this.#conn = conn;
  }
}
