/**
 * The host side of protocol v1: a {@linkcode ChipHost} owns a list of chips
 * and serves them to sessions, one session per chip at a time; a
 * {@linkcode HostSession} speaks the protocol of one connection (auth, hello,
 * open, the chip operations, close) over any transport that delivers whole
 * frames. The chips are driven through the {@linkcode Backend} trait, so any
 * lifcal backend can be served: a session's chips become one backend batch,
 * opened when the session opens them and closed (their configuration and
 * counters kept for the next session) when it ends.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { Backend, SearchSpec } from "../backend.ts";
import { type ChipConfig, FIELD_NAMES } from "../config.ts";
import {
  type Measurement,
  MEASUREMENT_KINDS,
  traceSampling,
  validateMeasurement,
  withDefaults,
} from "../measurement.ts";
import { validateSearchSpec } from "../generic_search.ts";
import { planSearch } from "../search_rules.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { VERSION } from "../../version.ts";
import {
  decodeFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  type Frame,
  PROTOCOL_VERSION,
  ProtocolError,
} from "./frame.ts";
import {
  CHIP_REQUEST_TYPES,
  configDelta,
  configToWire,
  type HelloResult,
  type HostCapabilities,
  type HostChip,
  type HostLimits,
  isChipId,
  REQUEST_TYPES,
  type RequestType,
} from "./messages.ts";

/** The limits a host applies unless told otherwise. */
export const DEFAULT_HOST_LIMITS: HostLimits = {
  max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
  max_in_flight: 8,
  max_sessions: 16,
  idle_timeout_s: 30,
  max_open_wait_s: 60,
  max_measurement_steps: 20_000_000,
  max_search_measurements: 1000,
};

/** What a {@linkcode ChipHost} serves. */
export interface ChipHostOptions {
  /** The chips, in the host's order (the order `hello` lists them). */
  readonly chips: readonly HostChip[];
  /**
   * Opens a backend over some of the chips (host indices, in this order) in
   * their power-on state. Its `chips` must have the same ids in the same order.
   */
  readonly open: (chips: readonly number[]) => Promise<Backend>;
  /** One line on what serves the chips, e.g. `CPU executor (twin model)`. */
  readonly description: string;
  /** `twin` or `hardware` (default: `twin` when `twin` is given). */
  readonly host?: "twin" | "hardware";
  /** The twin model's numbers, for twin hosts. */
  readonly twin?: TwinConfig;
  /** The bearer token every session must present first; none means no `auth` is needed. */
  readonly token?: string;
  /** Changes to {@linkcode DEFAULT_HOST_LIMITS}. */
  readonly limits?: Partial<HostLimits>;
  /** Changes to the capabilities (default: every measurement kind, searches, truth for twins). */
  readonly capabilities?: Partial<HostCapabilities>;
  /** Receives one line per session and per protocol error (default: stderr). */
  readonly log?: (line: string) => void;
}

interface _Saved {
  readonly config: ChipConfig;
  readonly counter: number;
}

function _digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/**
 * Integration steps per neuron a measurement asks for, roughly: what a host
 * checks against `max_measurement_steps` before running it, so that no
 * request can occupy a host for hours.
 *
 * @example
 * ```ts
 * import { measurementSteps } from "./host.ts";
 * import assert from "node:assert/strict";
 * assert.equal(measurementSteps({ kind: "spike-count", windowSeconds: 1e-3 }), 10_000);
 * assert.equal(measurementSteps({ kind: "resting-potential" }), 1);
 * assert.equal(measurementSteps({ kind: "membrane-trace", windowSeconds: 100e-6 }), 2940);
 * ```
 */
export function measurementSteps(m: Measurement): number {
  const max = (v: number | ArrayLike<number>) =>
    typeof v === "number" ? v : Math.max(...Array.from(v));
  switch (m.kind) {
    case "resting-potential":
    case "reset-potential":
      return withDefaults(m).reads;
    case "threshold-max": {
      const d = withDefaults(m);
      return d.samples * d.batches * Math.max(1, Math.round(1.7e-6 / (m.dtSeconds ?? 0.85e-6)));
    }
    case "tau-mem": {
      const d = withDefaults(m);
      return Math.ceil(d.maxSamples * (1 + d.stepSeconds / max(d.windowSeconds)));
    }
    case "tau-mem-reset":
      return withDefaults(m).maxSamples;
    case "tau-syn-exc":
    case "tau-syn-inh": {
      const d = withDefaults(m);
      return d.maxSamples + d.events;
    }
    case "psp-amplitude-exc":
    case "psp-amplitude-inh": {
      const d = withDefaults(m);
      return Math.ceil(d.events * d.runs * d.spacingSeconds / d.dtSeconds);
    }
    case "spike-count": {
      const d = withDefaults(m);
      return Math.ceil(d.windowSeconds / d.dtSeconds);
    }
    case "membrane-trace": {
      // One step per MADC sample period, decimated samples included.
      const t = traceSampling(m);
      return t.samples * t.decimation;
    }
    default:
      return 1;
  }
}

/**
 * A set of chips served over protocol v1: who holds which chip, what each
 * chip was left in by its last session, and the settings every session
 * shares. Transports ({@linkcode serveWebSocket}, {@linkcode serveStdio})
 * create one {@linkcode HostSession} per connection.
 *
 * @example Serve two CPU twins to a session fed by hand
 * ```ts
 * import { ChipHost } from "./host.ts";
 * import { CpuBackend } from "../cpu/cpu_backend.ts";
 * import { DEFAULT_TWIN_CONFIG } from "../twin/twin_config.ts";
 * import { decodeFrame, encodeFrame } from "./frame.ts";
 * import assert from "node:assert/strict";
 * const host = new ChipHost({
 *   chips: [{ id: "sim-1", seed: 1, key: 1 }, { id: "sim-2", seed: 2, key: 2 }],
 *   open: (ix) => Promise.resolve(new CpuBackend(ix.map((i) => i + 1), DEFAULT_TWIN_CONFIG)),
 *   description: "CPU executor", twin: DEFAULT_TWIN_CONFIG, log: () => {},
 * });
 * const replies: Uint8Array[] = [];
 * const s = host.session("test", { send: (b) => replies.push(b), close: () => {} });
 * await s.receive(encodeFrame("hello", 1, { protocols: [1] }).subarray(4));
 * const hello = decodeFrame(replies[0]!.subarray(4));
 * assert.equal((hello.body.chips as unknown[]).length, 2);
 * await s.end("done");
 * ```
 */
export class ChipHost {
  /** The chips, in the host's order. */
  readonly chips: readonly HostChip[];
  /** The limits every session gets. */
  readonly limits: HostLimits;
  /** What sessions may ask for. */
  readonly capabilities: HostCapabilities;
  readonly #options: ChipHostOptions;
  readonly #owner: (number | undefined)[];
  readonly #saved: (_Saved | undefined)[];
  readonly #index: Map<string, number>;
  readonly #token: Uint8Array | undefined;
  #released: (() => void)[] = [];
  #sessions = 0;
  #nextSession = 1;
  /** Receives the host's log lines. */
  readonly log: (line: string) => void;

  /**
   * A host of the given chips.
   *
   * @param options What to serve.
   */
  constructor(options: ChipHostOptions) {
    this.#index = new Map();
    options.chips.forEach((c, i) => {
      if (!isChipId(c.id)) {
        throw new RangeError(`Chip id ${JSON.stringify(c.id)} is not 1-128 of A-Z a-z 0-9 . _ -`);
      }
      if (this.#index.has(c.id)) throw new RangeError(`Chip id ${c.id} appears twice`);
      if (!Number.isInteger(c.key) || c.key < 0 || c.key > 0xffffffff) {
        throw new RangeError(`Chip ${c.id} needs a u32 key, got ${c.key}`);
      }
      this.#index.set(c.id, i);
    });
    this.#options = options;
    this.chips = options.chips;
    this.limits = { ...DEFAULT_HOST_LIMITS, ...options.limits };
    this.capabilities = {
      measurements: [...MEASUREMENT_KINDS],
      search: true,
      truth: options.twin !== undefined,
      ...options.capabilities,
    };
    this.#owner = options.chips.map(() => undefined);
    this.#saved = options.chips.map(() => undefined);
    this.#token = options.token === undefined ? undefined : _digest(options.token);
    this.log = options.log ?? ((line) => console.error(line));
  }

  /** Whether sessions must send `auth` with the token first. */
  get requiresToken(): boolean {
    return this.#token !== undefined;
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions;
  }

  /** Compares a token with the host's in constant time. */
  checkToken(token: unknown): boolean {
    if (this.#token === undefined) return true;
    if (typeof token !== "string") return false;
    return timingSafeEqual(_digest(token), this.#token);
  }

  /** The body of a `hello` result. */
  hello(): HelloResult {
    return {
      protocol: PROTOCOL_VERSION,
      server: `lifcal/${VERSION}`,
      host: this.#options.host ?? (this.#options.twin ? "twin" : "hardware"),
      description: this.#options.description,
      chips: this.chips.map((c) => ({ ...c })),
      twin: this.#options.twin ?? null,
      capabilities: this.capabilities,
      limits: this.limits,
    };
  }

  /**
   * Starts a session on a new connection. When the host already serves
   * `max_sessions`, the session sends a `too-many-sessions` error and ends.
   */
  session(peer: string, transport: SessionTransport): HostSession {
    const id = this.#nextSession++;
    this.#sessions++;
    return new HostSession(this, id, peer, transport, () => this.#sessions--);
  }

  /** Host indices of chip ids; throws `no-such-chip` naming the unknown ones. */
  indicesOf(ids: readonly string[], request: number): number[] {
    const unknown = ids.filter((id) => !this.#index.has(id));
    if (unknown.length > 0) {
      throw new ProtocolError(
        "no-such-chip",
        `This host has no chip ${unknown.join(", ")}; it offers ${
          this.chips.map((c) => c.id).join(", ")
        }`,
        request,
      );
    }
    if (new Set(ids).size !== ids.length) {
      throw new ProtocolError("bad-request", "A chip is named twice in open", request);
    }
    return ids.map((id) => this.#index.get(id)!);
  }

  /**
   * Gives the chips to a session, waiting up to `waitSeconds` for their
   * holders to let go; throws `busy` after that.
   */
  async acquire(
    session: number,
    chips: readonly number[],
    waitSeconds: number,
    request: number,
  ): Promise<void> {
    const deadline = performance.now() + waitSeconds * 1000;
    for (;;) {
      const held = chips.filter((c) => this.#owner[c] !== undefined && this.#owner[c] !== session);
      if (held.length === 0) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new ProtocolError(
          "busy",
          `Chip ${held.map((c) => this.chips[c]!.id).join(", ")} belongs to another session${
            waitSeconds > 0 ? ` (waited ${waitSeconds} s)` : ""
          }`,
          request,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#released.push(done);
      });
    }
    for (const c of chips) this.#owner[c] = session;
  }

  /** Opens a backend over the chips, restoring what their last session left unless `reset`. */
  async openBackend(chips: readonly number[], reset: boolean): Promise<Backend> {
    const backend = await this.#options.open(chips);
    const ids = backend.chips.map((c) => c.id).join(",");
    if (ids !== chips.map((c) => this.chips[c]!.id).join(",")) {
      await backend.close();
      throw new Error(`The host's backend opened chips ${ids}, not the ones asked for`);
    }
    if (!reset) {
      for (const [k, c] of chips.entries()) {
        const saved = this.#saved[c];
        if (!saved) continue;
        const patch = Object.fromEntries(FIELD_NAMES.map((f) => [f, saved.config[f]]));
        await backend.write(patch, { chips: [k] });
        backend.restoreCounters([saved.counter], { chips: [k] });
      }
    }
    return backend;
  }

  /** Keeps the chips' state for the next session and lets them go. */
  async release(session: number, chips: readonly number[], backend?: Backend): Promise<void> {
    if (backend) {
      try {
        const configs = await backend.config();
        const counters = backend.counters();
        chips.forEach((c, k) => (this.#saved[c] = { config: configs[k]!, counter: counters[k]! }));
      } catch {
        // A backend that cannot report its state: the next session starts from power-on.
        for (const c of chips) this.#saved[c] = undefined;
      }
      await backend.close().catch(() => {});
    }
    for (const c of chips) if (this.#owner[c] === session) this.#owner[c] = undefined;
    for (const wake of this.#released.splice(0)) wake();
  }
}

/** How a session sends frames and ends its connection. */
export interface SessionTransport {
  /** Sends one whole frame (length prefix included). */
  send(frame: Uint8Array): void;
  /** Closes the connection (after the frames sent so far). */
  close(reason: string): void;
}

const _CHIP_OPS: ReadonlySet<string> = new Set(CHIP_REQUEST_TYPES);
const _REMEMBERED = 64;
const _LOGGED_ERRORS = 20;
const _END_WAIT_MS = 5000;

function _u32s(v: unknown, n: number, what: string, request: number): Uint32Array {
  const a = v instanceof Uint32Array || Array.isArray(v) ? Array.from(v as ArrayLike<number>) : [];
  if (a.length !== n || !a.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
    throw new ProtocolError(
      "bad-request",
      `${what} must be ${n} unsigned 32-bit integers, one per chip of the session`,
      request,
    );
  }
  return Uint32Array.from(a);
}

function _selection(v: unknown, request: number): { chips?: number[] } {
  if (v === undefined || v === null) return {};
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) {
    throw new ProtocolError("bad-request", "chips must be a list of chip indices", request);
  }
  return { chips: Array.from(v as ArrayLike<number>) };
}

function _object(v: unknown, what: string, request: number): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new ProtocolError("bad-request", `${what} must be an object`, request);
  }
  return v as Record<string, unknown>;
}

/**
 * One connection's session: decodes its frames, enforces auth and limits,
 * answers requests in order, remembers recent answers so that a repeated
 * request id gets the same answer without running again, and releases its
 * chips when it ends.
 */
export class HostSession {
  readonly #host: ChipHost;
  readonly #id: number;
  readonly #peer: string;
  readonly #transport: SessionTransport;
  readonly #onEnd: () => void;
  readonly #started = performance.now();
  #authenticated: boolean;
  #chips: number[] = [];
  #backend: Backend | undefined;
  #chain: Promise<void> = Promise.resolve();
  #inFlight = 0;
  readonly #answers = new Map<number, Promise<Uint8Array>>();
  #requests = 0;
  #errors = 0;
  #ended = false;
  #ending: Promise<void> | undefined;

  /** Use {@linkcode ChipHost.session}. */
  constructor(
    host: ChipHost,
    id: number,
    peer: string,
    transport: SessionTransport,
    onEnd: () => void,
  ) {
    this.#host = host;
    this.#id = id;
    this.#peer = peer;
    this.#transport = transport;
    this.#onEnd = onEnd;
    this.#authenticated = !host.requiresToken;
    if (host.sessions > host.limits.max_sessions) {
      this.#refuse(
        new ProtocolError(
          "too-many-sessions",
          `This host serves at most ${host.limits.max_sessions} sessions at once`,
        ),
      );
    }
  }

  /** Whether the session has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Handles one received frame (its bytes after the length prefix). Resolves
   * once the frame is answered (or refused).
   */
  receive(bytes: Uint8Array): Promise<void> {
    if (this.#ended) return Promise.resolve();
    let frame: Frame;
    try {
      frame = decodeFrame(bytes);
    } catch (e) {
      this.fail(e instanceof ProtocolError ? e : new ProtocolError("malformed", String(e)));
      return Promise.resolve();
    }
    if (!this.#authenticated && frame.type !== "auth") {
      this.#refuse(
        new ProtocolError(
          "unauthorized",
          "This host requires a token: send auth first",
          frame.id,
        ),
      );
      return Promise.resolve();
    }
    const known = this.#answers.get(frame.id);
    if (known) {
      // A repeated request: the same answer again, nothing run twice.
      return known.then((reply) => this.#send(reply));
    }
    if (this.#inFlight >= this.#host.limits.max_in_flight) {
      this.fail(
        new ProtocolError(
          "too-many-requests",
          `More than ${this.#host.limits.max_in_flight} requests in flight`,
          frame.id,
        ),
      );
      return Promise.resolve();
    }
    this.#inFlight++;
    this.#requests++;
    const answer = this.#chain.then(() => this.#answer(frame));
    this.#chain = answer.then(() => {});
    this.#answers.set(frame.id, answer);
    if (this.#answers.size > _REMEMBERED) {
      this.#answers.delete(this.#answers.keys().next().value!);
    }
    return answer.then((reply) => {
      this.#inFlight--;
      this.#send(reply);
      if (frame.type === "close" || (frame.type === "auth" && !this.#authenticated)) {
        void this.end(frame.type === "close" ? "closed by the client" : "refused token");
      }
    });
  }

  /**
   * Reports a protocol error on this connection: an error frame, and a log
   * line (the first few per session). Errors that make the stream unusable
   * (`frame-too-large` on a stream) are followed by {@linkcode end}.
   */
  fail(e: ProtocolError, fatal = false): void {
    this.#errors++;
    if (this.#errors <= _LOGGED_ERRORS) {
      this.#host.log(
        `lifcal serve: session ${this.#id} (${this.#peer}): ${e.code}: ${e.message}`,
      );
    }
    this.#send(_errorFrame(e));
    if (fatal) void this.end(`${e.code}: ${e.message}`);
  }

  /**
   * Ends the session: lets a running request finish (at most 5 s), releases
   * its chips, logs it and closes the connection. Every call waits for the
   * same end.
   */
  end(reason: string): Promise<void> {
    this.#ended = true;
    return this.#ending ??= this.#end(reason);
  }

  async #end(reason: string): Promise<void> {
    // Let a running request finish before the chips go; a host that hangs
    // (a chip that stopped answering) must not keep them forever.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = await Promise.race([
      this.#chain.then(() => true, () => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), _END_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!settled) reason += "; a request was still running";
    await this.#host.release(this.#id, this.#chips, this.#backend);
    this.#backend = undefined;
    this.#onEnd();
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    const chips = this.#chips.map((c) => this.#host.chips[c]!.id).join(", ") || "none";
    const errors = this.#errors > 0 ? `, ${this.#errors} protocol errors` : "";
    this.#host.log(
      `lifcal serve: session ${this.#id} (${this.#peer}) ended: chips ${chips}, ${this.#requests} requests${errors}, ${seconds} s (${reason})`,
    );
    this.#transport.close(reason);
  }

  #refuse(e: ProtocolError): void {
    this.fail(e);
    void this.end(`${e.code}: ${e.message}`);
  }

  #send(frame: Uint8Array): void {
    try {
      this.#transport.send(frame);
    } catch {
      // The connection is gone; end() follows from the transport.
    }
  }

  async #answer(frame: Frame): Promise<Uint8Array> {
    try {
      const body = await this.#handle(frame);
      return encodeFrame("result", frame.id, body);
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.#errors++;
        return _errorFrame(new ProtocolError(e.code, e.message, frame.id));
      }
      if (e instanceof RangeError || e instanceof TypeError) {
        return encodeFrame("error", frame.id, {
          code: "bad-request",
          error: e.name,
          message: e.message,
          request: frame.id,
        });
      }
      this.#host.log(
        `lifcal serve: session ${this.#id}: ${frame.type} request ${frame.id} failed: ${
          e instanceof Error ? e.stack ?? e.message : String(e)
        }`,
      );
      return _errorFrame(
        new ProtocolError(
          "internal",
          `The host failed on ${frame.type}: ${e instanceof Error ? e.message : String(e)}`,
          frame.id,
        ),
      );
    }
  }

  async #handle(frame: Frame): Promise<Record<string, unknown>> {
    const { type, id, body } = frame;
    if (!(REQUEST_TYPES as readonly string[]).includes(type)) {
      throw new ProtocolError(
        "unknown-type",
        `Unknown message type "${type}"; requests are ${REQUEST_TYPES.join(", ")}`,
        id,
      );
    }
    const host = this.#host;
    switch (type as RequestType) {
      case "auth":
        if (!host.checkToken(body.token)) {
          // A wrong token ends the session, even one that authenticated before.
          this.#authenticated = false;
          throw new ProtocolError("unauthorized", "The token is wrong", id);
        }
        this.#authenticated = true;
        return {};
      case "hello": {
        const protocols = body.protocols;
        if (
          protocols !== undefined &&
          !(Array.isArray(protocols) && protocols.includes(PROTOCOL_VERSION))
        ) {
          throw new ProtocolError(
            "unsupported-version",
            `The client speaks protocols ${
              JSON.stringify(protocols)
            }; this host speaks ${PROTOCOL_VERSION}`,
            id,
          );
        }
        return { ...host.hello() };
      }
      case "open":
        return await this.#open(body, id);
      case "close":
        return {};
    }
    if (!_CHIP_OPS.has(type) || !this.#backend) {
      throw new ProtocolError("not-open", `${type} needs chips: send open first`, id);
    }
    const be = this.#backend;
    const n = this.#chips.length;
    switch (type as RequestType) {
      case "write": {
        const before = await be.config();
        await be.write(_object(body.patch, "patch", id), _selection(body.chips, id));
        return { config: configDelta(before, await be.config()) };
      }
      case "config":
        return { config: configToWire(await be.config()) };
      case "measure": {
        const m = _object(body.measurement, "measurement", id) as unknown as Measurement;
        validateMeasurement(m);
        this.#checkCost(m, id);
        const counters = _u32s(body.counters, n, "counters", id);
        const selection = _selection(body.chips, id);
        return await _keepingCounters(be, counters, async () => ({
          readings: await be.measure(m, selection),
          counters: be.counters(),
        }));
      }
      case "search": {
        if (!host.capabilities.search) {
          throw new ProtocolError("unsupported", "This host does not run whole searches", id);
        }
        const spec = _object(body.spec, "spec", id) as unknown as SearchSpec;
        validateSearchSpec(spec, n);
        this.#checkSpec(spec, n, id);
        const counters = _u32s(body.counters, n, "counters", id);
        const before = await be.config();
        const r = await _keepingCounters(be, counters, () => be.search(spec));
        return {
          codes: r.codes,
          success: r.success,
          ...(r.trace ? { trace: r.trace } : {}),
          counters: be.counters(),
          config: configDelta(before, await be.config()),
        };
      }
      case "truth": {
        if (!host.capabilities.truth || !be.truth) {
          throw new ProtocolError("unsupported", "This host has no truth: it is not a twin", id);
        }
        const patch = body.patch === undefined || body.patch === null
          ? undefined
          : _object(body.patch, "patch", id);
        return { truth: { ...(await be.truth(patch)) } };
      }
      case "counters":
        return { counters: be.counters() };
      case "counters-restore":
        be.restoreCounters(_u32s(body.counters, n, "counters", id));
        return { counters: be.counters() };
    }
    throw new ProtocolError("unknown-type", `Unknown message type "${type}"`, id);
  }

  async #open(body: Record<string, unknown>, id: number): Promise<Record<string, unknown>> {
    const host = this.#host;
    if (this.#backend) {
      throw new ProtocolError("bad-request", "This session has opened its chips already", id);
    }
    const requested = body.chips;
    let ids: string[];
    if (requested === undefined || requested === null) ids = host.chips.map((c) => c.id);
    else if (Array.isArray(requested) && requested.every((x) => typeof x === "string")) {
      ids = requested as string[];
    } else throw new ProtocolError("bad-request", "open: chips must be a list of chip ids", id);
    if (ids.length === 0) throw new ProtocolError("bad-request", "open: no chips named", id);
    const wait = body.wait_s ?? 0;
    if (typeof wait !== "number" || !(wait >= 0)) {
      throw new ProtocolError("bad-request", "open: wait_s must be a non-negative number", id);
    }
    const chips = host.indicesOf(ids, id);
    await host.acquire(this.#id, chips, Math.min(wait, host.limits.max_open_wait_s), id);
    this.#chips = chips;
    try {
      this.#backend = await host.openBackend(chips, body.reset !== false);
    } catch (e) {
      await host.release(this.#id, chips);
      this.#chips = [];
      throw e;
    }
    return {
      chips: chips.map((c) => host.chips[c]!),
      counters: this.#backend.counters(),
      config: configToWire(await this.#backend.config()),
    };
  }

  #checkCost(m: Measurement, id: number): void {
    const steps = measurementSteps(m);
    const max = this.#host.limits.max_measurement_steps;
    if (!(steps <= max)) {
      throw new ProtocolError(
        "too-expensive",
        `${m.kind} asks for ${steps} integration steps per neuron, more than this host's ${max}`,
        id,
      );
    }
  }

  #checkSpec(spec: SearchSpec, chips: number, id: number): void {
    const count = this.#searchMeasurements(spec, chips, id, 0);
    const max = this.#host.limits.max_search_measurements;
    if (count > max) {
      throw new ProtocolError(
        "too-expensive",
        `This search runs ${count} measurements with its sub-searches, more than this host's ${max}`,
        id,
      );
    }
  }

  /** Measurements a search runs: each step's sub-searches, then its own measurement. */
  #searchMeasurements(spec: SearchSpec, chips: number, id: number, depth: number): number {
    if (depth > 4) throw new ProtocolError("bad-request", "Sub-searches nest deeper than 4", id);
    if (spec.measurement && typeof spec.measurement === "object") {
      this.#checkCost(spec.measurement, id);
    }
    if (spec.before !== undefined && !Array.isArray(spec.before)) {
      throw new ProtocolError("bad-request", "spec.before must be a list of searches", id);
    }
    const { lower, upper } = validateSearchSpec(spec, chips);
    const steps = planSearch(spec.algorithm, lower, upper).measurements;
    let perStep = 1;
    for (const sub of spec.before ?? []) {
      perStep += this.#searchMeasurements(
        _object(sub, "sub-search", id) as unknown as SearchSpec,
        chips,
        id,
        depth + 1,
      );
    }
    return steps * perStep;
  }
}

/**
 * Runs an operation from the request's counters; a failed operation leaves
 * the session's counters as they were, as a failed request changes nothing.
 */
async function _keepingCounters<T>(
  be: Backend,
  counters: Uint32Array,
  run: () => Promise<T>,
): Promise<T> {
  const saved = be.counters();
  be.restoreCounters(counters);
  try {
    return await run();
  } catch (e) {
    be.restoreCounters(saved);
    throw e;
  }
}

function _errorFrame(e: ProtocolError): Uint8Array {
  return encodeFrame("error", e.request ?? 0, {
    code: e.code,
    message: e.message,
    request: e.request,
  });
}
