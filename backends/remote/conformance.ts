/**
 * The conformance suite of protocol v1: what tells the author of a host —
 * a lab wrapping real BrainScaleS-2 chips, or anyone serving a backend —
 * whether the host is right. Protocol rows check the wire (hello and
 * versions, malformed and oversized frames, tokens, counters, repeats);
 * physics rows check what a real chip obeys as well as a twin (each CapMem
 * row moves its observable the documented way, readings stay in range,
 * repeated reads scatter like noise, written configuration reads back).
 * Every row runs on its own connection, so one failure does not hide the
 * next.
 *
 * @module
 */

import { type ConfigPatch, FIELD_NAMES, fieldSize, type SearchableField } from "../config.ts";
import { type Measurement, MEASUREMENT_KINDS } from "../measurement.ts";
import { keyOfId } from "../rng.ts";
import { Connection } from "./client.ts";
import {
  decodeFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  type Frame,
  PROTOCOL_VERSION,
  ProtocolError,
} from "./frame.ts";
import {
  type Connector,
  type Link,
  splitCommand,
  stdioConnector,
  webSocketConnector,
} from "./link.ts";
import { type HelloResult, isChipId } from "./messages.ts";
import { RemoteBackend, type RemoteOptions } from "./remote_backend.ts";

/** How a row ended. `n/a`: it does not apply to this host (token rows over stdio). */
export type RowStatus = "pass" | "fail" | "n/a" | "not implemented";

/** One row of the conformance table. */
export interface ConformanceRow {
  /** `protocol` or `physics`. */
  readonly group: "protocol" | "physics";
  /** What it checks, one short phrase. */
  readonly name: string;
  /** How it ended. */
  readonly status: RowStatus;
  /** What was seen, one line. */
  readonly detail: string;
}

/** Options of {@linkcode runConformance}. */
export interface ConformanceOptions extends RemoteOptions {
  /** Run the protocol rows only. */
  readonly protocolOnly?: boolean;
  /** Receives each row as it finishes. */
  readonly onRow?: (row: ConformanceRow) => void;
}

type _Outcome = { status: RowStatus; detail: string };
const _pass = (detail: string): _Outcome => ({ status: "pass", detail });
const _fail = (detail: string): _Outcome => ({ status: "fail", detail });

/** A connection that sends any bytes and sees every frame that comes back. */
class _RawPeer {
  readonly #link: Link;
  readonly #frames: (Frame | Error)[] = [];
  #wake: (() => void) | undefined;
  #closed: string | undefined;

  private constructor(link: Link, queue: (Frame | Error)[]) {
    this.#link = link;
    this.#frames.push(...queue);
    void link.closed.then((reason) => {
      this.#closed = reason;
      this.#wake?.();
    });
  }

  static async connect(connector: Connector): Promise<_RawPeer> {
    const holder: { peer?: _RawPeer; queue: (Frame | Error)[] } = { queue: [] };
    const link = await connector((bytes) => {
      let f: Frame | Error;
      try {
        f = decodeFrame(bytes);
      } catch (e) {
        f = e as Error;
      }
      if (holder.peer) holder.peer.#push(f);
      else holder.queue.push(f);
    });
    holder.peer = new _RawPeer(link, holder.queue);
    return holder.peer;
  }

  #push(f: Frame | Error): void {
    this.#frames.push(f);
    this.#wake?.();
  }

  sendRaw(bytes: Uint8Array): void {
    try {
      this.#link.send(bytes);
    } catch {
      // A closed link: the next read reports it.
    }
  }

  send(type: string, id: number, body: Record<string, unknown> = {}): void {
    this.#link.send(encodeFrame(type, id, body));
  }

  /** The next frame, or "closed" / "timeout". */
  async next(seconds: number): Promise<Frame | "closed" | "timeout"> {
    const deadline = performance.now() + seconds * 1000;
    for (;;) {
      const f = this.#frames.shift();
      if (f instanceof Error) throw new Error(`The host sent an unreadable frame: ${f.message}`);
      if (f) return f;
      if (this.#closed !== undefined) return "closed";
      const left = deadline - performance.now();
      if (left <= 0) return "timeout";
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Sends a request and returns the frame that answers it. */
  async ask(
    type: string,
    id: number,
    body: Record<string, unknown>,
    seconds: number,
  ): Promise<Frame | "closed" | "timeout"> {
    try {
      this.send(type, id, body);
    } catch {
      return "closed";
    }
    for (;;) {
      const f = await this.next(seconds);
      if (typeof f === "string" || f.id === id) return f;
    }
  }

  get closedReason(): string | undefined {
    return this.#closed;
  }

  async close(): Promise<void> {
    await this.#link.close().catch(() => {});
  }
}

function _describe(f: Frame | "closed" | "timeout"): string {
  if (f === "closed") return "the connection closed";
  if (f === "timeout") return "no answer";
  if (f.type === "error") return `error ${String(f.body.code)} (${String(f.body.message)})`;
  return `${f.type} ${JSON.stringify(f.body).slice(0, 120)}`;
}

function _isError(f: Frame | "closed" | "timeout", code: string, id?: number): boolean {
  return typeof f !== "string" && f.type === "error" && f.body.code === code &&
    (id === undefined || f.id === id);
}

interface _Context {
  readonly options: ConformanceOptions;
  readonly connector: Connector;
  readonly stream: boolean;
  readonly timeout: number;
  hello?: HelloResult;
  /** A fresh connection, authenticated when the options carry a token for a URL. */
  connect(auth?: boolean): Promise<_RawPeer>;
}

async function _withPeer(
  ctx: _Context,
  fn: (peer: _RawPeer) => Promise<_Outcome>,
  auth = true,
): Promise<_Outcome> {
  const peer = await ctx.connect(auth);
  try {
    return await fn(peer);
  } finally {
    await peer.close();
  }
}

async function _opened(ctx: _Context, peer: _RawPeer): Promise<string> {
  const chip = ctx.hello!.chips[0]!.id;
  const r = await peer.ask("open", 2, { chips: [chip], reset: true, wait_s: 10 }, ctx.timeout);
  if (typeof r === "string" || r.type !== "result") {
    throw new Error(`open ${chip} got ${_describe(r)}`);
  }
  return chip;
}

function _counters(f: Frame | "closed" | "timeout"): number[] | undefined {
  if (typeof f === "string" || f.type !== "result") return undefined;
  const c = f.body.counters;
  return c instanceof Uint32Array ? [...c] : undefined;
}

/** A row: what it checks, and whether it needs the host's hello (every row but the token rows). */
interface _Row {
  readonly name: string;
  readonly needsHello?: false;
  run(ctx: _Context): Promise<_Outcome>;
}

/** The protocol rows, in order. */
const _PROTOCOL: readonly _Row[] = [
  {
    name: "hello describes the host and its chips",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        const r = await peer.ask("hello", 1, {
          protocols: [PROTOCOL_VERSION],
          client: "conformance",
        }, ctx.timeout);
        if (typeof r === "string" || r.type !== "result") {
          return _fail(`hello got ${_describe(r)}`);
        }
        const b = r.body as unknown as HelloResult;
        const problems: string[] = [];
        if (b.protocol !== PROTOCOL_VERSION) problems.push(`protocol ${b.protocol}`);
        if (typeof b.server !== "string" || b.server === "") problems.push("no server version");
        if (b.host !== "twin" && b.host !== "hardware") problems.push(`host ${String(b.host)}`);
        if (!Array.isArray(b.chips) || b.chips.length === 0) problems.push("no chips");
        for (const c of b.chips ?? []) {
          if (!isChipId(c.id)) problems.push(`chip id ${JSON.stringify(c.id)}`);
          if (!Number.isInteger(c.key) || c.key < 0 || c.key > 0xffffffff) {
            problems.push(`key of ${c.id}`);
          } else if (b.host === "hardware" && c.key !== keyOfId(c.id)) {
            problems.push(`key of ${c.id} is ${c.key}, not FNV-1a ${keyOfId(c.id)}`);
          }
        }
        const kinds = b.capabilities?.measurements;
        if (!Array.isArray(kinds)) problems.push("no capabilities.measurements");
        else {
          const unknown = kinds.filter((k) =>
            !(MEASUREMENT_KINDS as readonly string[]).includes(k)
          );
          if (unknown.length > 0) problems.push(`unknown kinds ${unknown.join(", ")}`);
        }
        if (typeof b.capabilities?.search !== "boolean") problems.push("capabilities.search");
        if (!b.limits || !(b.limits.max_frame_bytes > 0)) problems.push("limits.max_frame_bytes");
        if (b.host === "twin" && (b.twin === null || typeof b.twin !== "object")) {
          problems.push("a twin host without its twin model");
        }
        if (problems.length > 0) return _fail(problems.join("; "));
        ctx.hello = b;
        return _pass(
          `${b.server}, ${b.host}, ${b.chips.length} chip${b.chips.length === 1 ? "" : "s"} (${
            b.chips.slice(0, 3).map((c) => c.id).join(", ")
          }${b.chips.length > 3 ? ", …" : ""}), search ${
            b.capabilities.search ? "on host" : "by client"
          }`,
        );
      }),
  },
  {
    name: "a frame of protocol version 2 is refused with its id",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        peer.sendRaw(encodeFrame("hello", 41, {}, 2));
        const r = await peer.next(ctx.timeout);
        if (!_isError(r, "unsupported-version", 41)) return _fail(`got ${_describe(r)}`);
        const again = await peer.ask("hello", 42, { protocols: [1] }, ctx.timeout);
        if (typeof again === "string" || again.type !== "result") {
          return _fail(`the connection did not answer afterwards: ${_describe(again)}`);
        }
        return _pass("unsupported-version with the frame's id; the connection stays usable");
      }),
  },
  {
    name: "a hello asking for another protocol is refused",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        const r = await peer.ask("hello", 5, { protocols: [99] }, ctx.timeout);
        return _isError(r, "unsupported-version", 5)
          ? _pass("unsupported-version")
          : _fail(`got ${_describe(r)}`);
      }),
  },
  {
    name: "a malformed header gets an error frame",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        const junk = new TextEncoder().encode("{not json");
        const frame = new Uint8Array(8 + junk.length);
        const view = new DataView(frame.buffer);
        view.setUint32(0, 4 + junk.length, true);
        view.setUint32(4, junk.length, true);
        frame.set(junk, 8);
        peer.sendRaw(frame);
        const r = await peer.next(ctx.timeout);
        if (!_isError(r, "malformed")) return _fail(`got ${_describe(r)}`);
        const again = await peer.ask("hello", 6, {}, ctx.timeout);
        if (typeof again === "string" || again.type !== "result") {
          return _fail(`the connection did not answer afterwards: ${_describe(again)}`);
        }
        return _pass("malformed; the connection stays usable");
      }),
  },
  {
    name: "an unknown message type is refused",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        const r = await peer.ask("frobnicate", 7, {}, ctx.timeout);
        return _isError(r, "unknown-type", 7)
          ? _pass("unknown-type")
          : _fail(`got ${_describe(r)}`);
      }),
  },
  {
    name: "an oversized length prefix is refused",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        const limit = ctx.hello?.limits?.max_frame_bytes ?? DEFAULT_MAX_FRAME_BYTES;
        const bytes = new Uint8Array(16);
        new DataView(bytes.buffer).setUint32(0, Math.min(limit + 1, 0xffffffff), true);
        // Over WebSocket the message itself is short; over a stream the prefix announces more.
        peer.sendRaw(bytes);
        const r = await peer.next(ctx.timeout);
        if (!_isError(r, "frame-too-large")) return _fail(`got ${_describe(r)}`);
        return _pass(`frame-too-large for a prefix of ${limit + 1} bytes (limit ${limit})`);
      }),
  },
  {
    name: "a request without the token is refused",
    needsHello: false,
    run: (ctx) => {
      if (ctx.stream) {
        return Promise.resolve({ status: "n/a", detail: "stdio hosts need no token" });
      }
      return _withPeer(ctx, async (peer) => {
        const r = await peer.ask("hello", 8, { protocols: [1] }, ctx.timeout);
        if (!_isError(r, "unauthorized")) return _fail(`hello without auth got ${_describe(r)}`);
        const after = await peer.next(ctx.timeout);
        return after === "closed"
          ? _pass("unauthorized, then the connection closed")
          : _fail(`the connection stayed open (${_describe(after)})`);
      }, false);
    },
  },
  {
    name: "a wrong token is refused",
    needsHello: false,
    run: (ctx) => {
      if (ctx.stream) {
        return Promise.resolve({ status: "n/a", detail: "stdio hosts need no token" });
      }
      return _withPeer(ctx, async (peer) => {
        const r = await peer.ask(
          "auth",
          9,
          { token: `${ctx.options.token ?? ""}-wrong` },
          ctx.timeout,
        );
        if (!_isError(r, "unauthorized")) return _fail(`a wrong token got ${_describe(r)}`);
        const open = await peer.ask("open", 10, {}, ctx.timeout);
        return open === "closed" || _isError(open, "unauthorized")
          ? _pass("unauthorized; no chip operation afterwards")
          : _fail(`open after a wrong token got ${_describe(open)}`);
      }, false);
    },
  },
  {
    name: "chip requests need open, and open names real chips",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        const early = await peer.ask("counters", 11, {}, ctx.timeout);
        if (!_isError(early, "not-open")) {
          return _fail(`counters before open got ${_describe(early)}`);
        }
        const bad = await peer.ask("open", 12, { chips: ["no-such-chip-0"] }, ctx.timeout);
        if (!_isError(bad, "no-such-chip")) {
          return _fail(`open of an unknown chip got ${_describe(bad)}`);
        }
        const chip = ctx.hello!.chips[0]!.id;
        const r = await peer.ask(
          "open",
          13,
          { chips: [chip], reset: true, wait_s: 10 },
          ctx.timeout,
        );
        if (typeof r === "string" || r.type !== "result") {
          return _fail(`open ${chip} got ${_describe(r)}`);
        }
        const cfg = r.body.config as Record<string, unknown> | undefined;
        const missing = FIELD_NAMES.filter((f) => {
          const a = cfg?.[f];
          return !(a instanceof Int32Array) || a.length !== fieldSize(f);
        });
        if (missing.length > 0) {
          return _fail(`open's configuration lacks or misshapes ${missing.join(", ")}`);
        }
        if (_counters(r)?.length !== 1) return _fail("open's counters are not one u32 per chip");
        return _pass(`not-open, no-such-chip, then ${chip} opened with its whole configuration`);
      }),
  },
  {
    name: "counters restore and read back",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        await _opened(ctx, peer);
        const set = await peer.ask(
          "counters-restore",
          20,
          { counters: new Uint32Array([123456]) },
          ctx.timeout,
        );
        const get = await peer.ask("counters", 21, {}, ctx.timeout);
        const a = _counters(set);
        const b = _counters(get);
        return a?.[0] === 123456 && b?.[0] === 123456
          ? _pass("123456 restored and read back")
          : _fail(`restore gave ${_describe(set)}, counters gave ${_describe(get)}`);
      }),
  },
  {
    name: "a repeated request id is answered again, not run again",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        await _opened(ctx, peer);
        const first = await peer.ask(
          "counters-restore",
          30,
          { counters: new Uint32Array([777]) },
          ctx.timeout,
        );
        const repeat = await peer.ask(
          "counters-restore",
          30,
          { counters: new Uint32Array([888]) },
          ctx.timeout,
        );
        const now = await peer.ask("counters", 31, {}, ctx.timeout);
        if (_counters(first)?.[0] !== 777) {
          return _fail(`the first request got ${_describe(first)}`);
        }
        if (_counters(repeat)?.[0] !== 777) return _fail(`the repeat got ${_describe(repeat)}`);
        return _counters(now)?.[0] === 777
          ? _pass("the repeat got the first answer; the counter stayed 777")
          : _fail(`after the repeat the counter is ${_describe(now)}`);
      }),
  },
  {
    name: "bad requests are refused and change nothing",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        await _opened(ctx, peer);
        const before = await peer.ask("config", 40, {}, ctx.timeout);
        const patch = await peer.ask(
          "write",
          41,
          { patch: { v_threshold: 300, v_leak: 1023 } },
          ctx.timeout,
        );
        if (!_isError(patch, "bad-request", 41)) {
          return _fail(`v_leak 1023 got ${_describe(patch)}`);
        }
        if (!/v_leak/.test(String((patch as Frame).body.message))) {
          return _fail(`the error does not name v_leak: ${_describe(patch)}`);
        }
        const counters = await peer.ask("counters-restore", 42, { counters: [1, 2] }, ctx.timeout);
        if (!_isError(counters, "bad-request", 42)) {
          return _fail(`two counters for one chip got ${_describe(counters)}`);
        }
        const after = await peer.ask("config", 43, {}, ctx.timeout);
        if (typeof before === "string" || typeof after === "string") {
          return _fail("config got no answer");
        }
        const a = before.body.config as Record<string, Int32Array>;
        const b = after.body.config as Record<string, Int32Array>;
        const changed = FIELD_NAMES.filter((f) => String(a?.[f]) !== String(b?.[f]));
        return changed.length === 0
          ? _pass("bad-request naming v_leak; bad counters refused; the configuration is unchanged")
          : _fail(`the rejected patch changed ${changed.join(", ")}`);
      }),
  },
  {
    name: "close is answered and ends the session",
    run: (ctx) =>
      _withPeer(ctx, async (peer) => {
        await _opened(ctx, peer);
        const r = await peer.ask("close", 50, {}, ctx.timeout);
        if (typeof r === "string" || r.type !== "result") return _fail(`close got ${_describe(r)}`);
        const after = await peer.next(ctx.timeout);
        return after === "closed"
          ? _pass("answered, then the connection closed")
          : _fail(`the connection stayed open (${_describe(after)})`);
      }),
  },
];

/** One physics check: a field swept from `low` to `high` must move a measurement one way. */
interface _Sweep {
  readonly name: string;
  readonly setup: ConfigPatch;
  readonly field: SearchableField;
  readonly low: number;
  readonly high: number;
  readonly measurement: Measurement;
  readonly direction: "up" | "down";
  /** Plausible readings (inclusive). */
  readonly range: readonly [number, number];
}

const _SWEEPS: readonly _Sweep[] = [
  {
    name: "v_leak raises the resting potential",
    setup: { threshold_enable: 0 },
    field: "v_leak",
    low: 300,
    high: 700,
    measurement: { kind: "resting-potential", reads: 4 },
    direction: "up",
    range: [0, 255],
  },
  {
    name: "v_reset raises the reset potential",
    setup: { threshold_enable: 0 },
    field: "v_reset",
    low: 200,
    high: 500,
    measurement: { kind: "reset-potential", reads: 4 },
    direction: "up",
    range: [0, 255],
  },
  {
    name: "v_threshold raises the spike threshold",
    setup: {
      i_mem_offset: 70,
      i_bias_leak: 0,
      v_reset: 0,
      threshold_enable: 1,
      offset_current_enable: 1,
    },
    field: "v_threshold",
    low: 300,
    high: 500,
    measurement: { kind: "threshold-max", samples: 300 },
    direction: "up",
    range: [0, 255],
  },
  {
    name: "i_bias_leak shortens tau_mem",
    setup: { threshold_enable: 0, leak_division: 1, i_mem_offset: 1000 },
    field: "i_bias_leak",
    low: 200,
    high: 600,
    measurement: { kind: "tau-mem", windowSeconds: 30e-6, maxSamples: 600 },
    direction: "down",
    range: [1e-8, 1e-2],
  },
  {
    name: "i_bias_synin_exc_tau shortens tau_syn_exc",
    setup: { threshold_enable: 0, synin_exc_high_resistance: 1 },
    field: "i_bias_synin_exc_tau",
    low: 300,
    high: 700,
    measurement: { kind: "tau-syn-exc", maxSamples: 600 },
    direction: "down",
    range: [1e-8, Infinity],
  },
  {
    name: "i_bias_synin_inh_tau shortens tau_syn_inh",
    setup: { threshold_enable: 0, synin_inh_high_resistance: 1 },
    field: "i_bias_synin_inh_tau",
    low: 300,
    high: 700,
    measurement: { kind: "tau-syn-inh", maxSamples: 600 },
    direction: "down",
    range: [1e-8, Infinity],
  },
  {
    name: "i_bias_synin_exc_gm raises the excitatory PSP",
    setup: { threshold_enable: 0, synin_exc_enable: 1, leak_division: 1, i_bias_leak: 300 },
    field: "i_bias_synin_exc_gm",
    low: 150,
    high: 600,
    measurement: { kind: "psp-amplitude-exc", events: 10, runs: 2, weight: 1000 },
    direction: "up",
    range: [-255, 255],
  },
  {
    name: "i_bias_synin_inh_gm raises the inhibitory PSP",
    setup: { threshold_enable: 0, synin_inh_enable: 1, leak_division: 1, i_bias_leak: 300 },
    field: "i_bias_synin_inh_gm",
    low: 150,
    high: 600,
    measurement: { kind: "psp-amplitude-inh", events: 10, runs: 2, weight: 1000 },
    direction: "up",
    range: [-255, 255],
  },
  {
    name: "syn_i_bias_dac raises the synaptic line's drop",
    setup: { threshold_enable: 0 },
    field: "syn_i_bias_dac",
    low: 300,
    high: 800,
    measurement: { kind: "synline-drop" },
    direction: "up",
    range: [-255, 255],
  },
  {
    name: "cadc_v_ramp_offset lowers the CADC reading",
    setup: {},
    field: "cadc_v_ramp_offset",
    low: 400,
    high: 700,
    measurement: { kind: "cadc-reference", code: 400 },
    direction: "down",
    range: [0, 255],
  },
];

/** The least fraction of neurons (channels, quadrants) that must move the documented way. */
export const SWEEP_FRACTION = 0.9;

function _notImplemented(e: unknown): _Outcome | undefined {
  if (e instanceof ProtocolError && (e.code === "not-connected" || e.code === "unsupported")) {
    return { status: "not implemented", detail: `${e.code}: ${e.message}` };
  }
  return undefined;
}

async function _physics(
  ctx: _Context,
  fn: (be: RemoteBackend) => Promise<_Outcome>,
): Promise<_Outcome> {
  let be: RemoteBackend | undefined;
  try {
    be = await RemoteBackend.open({
      ...ctx.options,
      chips: [ctx.hello!.chips[0]!.id],
      reconnectSeconds: 0,
    });
    return await fn(be);
  } catch (e) {
    return _notImplemented(e) ?? _fail(e instanceof Error ? e.message : String(e));
  } finally {
    await be?.close();
  }
}

function _median(values: number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1]!;
}

function _sweepRow(s: _Sweep): _Row {
  return {
    name: s.name,
    run: (ctx) =>
      _physics(ctx, async (be) => {
        await be.write(s.setup);
        await be.write({ [s.field]: s.low });
        const a = await be.measure(s.measurement);
        await be.write({ [s.field]: s.high });
        const b = await be.measure(s.measurement);
        const [lo, hi] = s.range;
        const outside = [...a, ...b].filter((v) => !(v >= lo && v <= hi)).length;
        if (outside > 0) {
          return _fail(
            `${outside} of ${2 * a.length} ${s.measurement.kind} readings lie outside ${lo}..${hi}`,
          );
        }
        let right = 0;
        for (let i = 0; i < a.length; i++) {
          if (s.direction === "up" ? b[i]! > a[i]! : b[i]! < a[i]!) right++;
        }
        const fraction = right / a.length;
        const unit = s.measurement.kind.startsWith("tau") ? 1e6 : 1;
        const detail = `${s.field} ${s.low} → ${s.high}: median ${
          (_median([...a]) * unit).toPrecision(3)
        } → ${(_median([...b]) * unit).toPrecision(3)}${unit === 1 ? "" : " µs"}, ${
          (100 * fraction).toFixed(1)
        } % of ${a.length} moved ${s.direction}`;
        return fraction >= SWEEP_FRACTION
          ? _pass(detail)
          : _fail(`${detail} (need ${100 * SWEEP_FRACTION} %)`);
      }),
  };
}

const _PHYSICS: readonly _Row[] = [
  ..._SWEEPS.map(_sweepRow),
  {
    name: "repeated reads scatter like noise",
    run: (ctx) =>
      _physics(ctx, async (be) => {
        await be.write({ threshold_enable: 0 });
        const reads: Float32Array[] = [];
        for (let k = 0; k < 6; k++) reads.push(await be.measure({ kind: "resting-potential" }));
        const stds: number[] = [];
        for (let n = 0; n < reads[0]!.length; n++) {
          const v = reads.map((r) => r[n]!);
          const m = v.reduce((x, y) => x + y) / v.length;
          stds.push(Math.sqrt(v.reduce((x, y) => x + (y - m) ** 2, 0) / (v.length - 1)));
        }
        const moving = stds.filter((s) => s > 0).length / stds.length;
        const median = _median(stds);
        const detail = `6 reads: ${(100 * moving).toFixed(1)} % of neurons vary, median spread ${
          median.toFixed(2)
        } CADC LSB`;
        return moving >= 0.5 && median < 5
          ? _pass(detail)
          : _fail(`${detail} (need ≥ 50 % varying and a median below 5 LSB)`);
      }),
  },
  {
    name: "written configuration reads back",
    run: async (ctx) => {
      let conn: Connection | undefined;
      try {
        conn = await Connection.connect(ctx.connector);
        const t = { timeoutSeconds: ctx.timeout };
        if (!ctx.stream && ctx.options.token !== undefined) {
          await conn.request("auth", { token: ctx.options.token }, t);
        }
        await conn.request("hello", { protocols: [1] }, t);
        await conn.request(
          "open",
          { chips: [ctx.hello!.chips[0]!.id], reset: true, wait_s: 10 },
          t,
        );
        const codes = Int32Array.from({ length: 512 }, (_, n) => (n * 97 + 13) % 1023);
        const flags = Int32Array.from({ length: 512 }, (_, n) => n % 3 === 0 ? 1 : 0);
        const dac = new Int32Array([101, 302, 503, 704]);
        await conn.request("write", {
          patch: { v_leak: codes, leak_division: flags, syn_i_bias_dac: dac },
        }, t);
        const r = await conn.request("config", {}, t);
        const cfg = r.config as Record<string, Int32Array>;
        const wrong = (
          [["v_leak", codes], ["leak_division", flags], ["syn_i_bias_dac", dac]] as const
        ).filter(([f, v]) => String(cfg[f]) !== String(v)).map(([f]) => f);
        await conn.request("close", {}, t).catch(() => {});
        return wrong.length === 0
          ? _pass(
            "v_leak (512 codes), leak_division (512 flags) and syn_i_bias_dac (4 cells) read back",
          )
          : _fail(`${wrong.join(", ")} read back differently`);
      } catch (e) {
        return _notImplemented(e) ?? _fail(e instanceof Error ? e.message : String(e));
      } finally {
        await conn?.close().catch(() => {});
      }
    },
  },
];

/** The names of every row, protocol rows first. */
export const CONFORMANCE_ROWS: readonly { group: "protocol" | "physics"; name: string }[] = [
  ..._PROTOCOL.map((r) => ({ group: "protocol" as const, name: r.name })),
  ..._PHYSICS.map((r) => ({ group: "physics" as const, name: r.name })),
];

/**
 * Runs the conformance suite against a host and returns its rows. A host
 * conforms when every row passes (or does not apply).
 *
 * @example Against a loopback `lifcal serve`
 * ```ts ignore
 * const rows = await runConformance({ url: "ws://127.0.0.1:7878", token });
 * console.log(rows.every((r) => r.status === "pass" || r.status === "n/a"));
 * ```
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceRow[]> {
  if ((options.url === undefined) === (options.bridge === undefined)) {
    throw new TypeError("Conformance needs exactly one of url and bridge");
  }
  const connector = options.url !== undefined ? webSocketConnector(options.url) : stdioConnector(
    typeof options.bridge === "string" ? splitCommand(options.bridge) : [...options.bridge!],
  );
  const stream = options.url === undefined;
  const timeout = Math.min(options.requestTimeoutSeconds ?? 30, 120);
  const ctx: _Context = {
    options,
    connector,
    stream,
    timeout,
    async connect(auth = true) {
      const peer = await _RawPeer.connect(connector);
      if (auth && !stream && options.token !== undefined) {
        const r = await peer.ask("auth", 1_000_000, { token: options.token }, timeout);
        if (typeof r === "string" || r.type !== "result") {
          await peer.close();
          throw new Error(`auth got ${_describe(r)}`);
        }
      }
      return peer;
    },
  };
  const rows: ConformanceRow[] = [];
  const groups = [
    ["protocol", _PROTOCOL] as const,
    ...(options.protocolOnly ? [] : [["physics", _PHYSICS] as const]),
  ];
  for (const [group, list] of groups) {
    for (const row of list) {
      let outcome: _Outcome;
      if (!ctx.hello && row !== _PROTOCOL[0] && row.needsHello !== false) {
        outcome = _fail("skipped: the host's hello did not pass");
      } else {
        try {
          outcome = await row.run(ctx);
        } catch (e) {
          outcome = _fail(e instanceof Error ? e.message : String(e));
        }
      }
      const r: ConformanceRow = { group, name: row.name, ...outcome };
      rows.push(r);
      options.onRow?.(r);
    }
  }
  return rows;
}

/**
 * Whether a conformance run passed: every row `pass` or `n/a`.
 *
 * @example
 * ```ts
 * import { conforms } from "./conformance.ts";
 * import assert from "node:assert/strict";
 * assert.equal(conforms([{ group: "protocol", name: "x", status: "n/a", detail: "" }]), true);
 * assert.equal(conforms([{ group: "physics", name: "y", status: "not implemented", detail: "" }]), false);
 * ```
 */
export function conforms(rows: readonly ConformanceRow[]): boolean {
  return rows.every((r) => r.status === "pass" || r.status === "n/a");
}
