/**
 * Fuzz tests of protocol v1 (`docs/PROTOCOL.md`): random and mutated frames
 * against the frame decoder, the stream splitter and a running host.
 *
 * - the decoder returns a frame or throws a `ProtocolError` with a known
 *   code, for every input; `FrameReader` never throws, whatever the chunking,
 *   and refuses an oversized length prefix before buffering anything;
 * - a running WebSocket host answers every frame with the answer a local
 *   model of the protocol predicts (an error frame, a result, or an error
 *   frame and a close whose reason is in the host's log), stays up, and never
 *   touches the chips of another session;
 * - the stream transport (stdio's code path) ends a session on an oversized
 *   prefix and, after the idle timeout, on a truncated frame.
 *
 * Two small tests pin down what the fuzzing found: a body that is itself a
 * `{"$num": …}` or `{"$array": k}` form must be refused as `malformed` (the
 * decoder returned a number or a typed array as the body), and a request
 * that arrived whole before an oversized prefix on a stream must still be
 * answered (serveStdio closed the output before the answer was written).
 *
 * Everything is seeded (`LIFCAL_FUZZ_SEED` overrides the seed); a failure
 * names the seed and the frame that caused it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { rng } from "./_helpers.ts";
import { ChipHost } from "../backends/remote/host.ts";
import { serveStdio, serveWebSocket } from "../backends/remote/server.ts";
import {
  decodeFrame,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  ERROR_CODES,
  type Frame,
  FrameReader,
  ProtocolError,
} from "../backends/remote/frame.ts";
import { REQUEST_TYPES, type RequestType } from "../backends/remote/messages.ts";
import { CpuBackend } from "../backends/cpu/cpu_backend.ts";
import { DEFAULT_TWIN_CONFIG } from "../backends/twin/twin_config.ts";

const SEED = Number(
  (Deno.permissions.querySync({ name: "env", variable: "LIFCAL_FUZZ_SEED" }).state === "granted"
    ? Deno.env.get("LIFCAL_FUZZ_SEED")
    : undefined) ?? 20240611,
) >>> 0;
const TOKEN = "tok";
const MAX = DEFAULT_MAX_FRAME_BYTES;
const DECODER_INPUTS = 12_000;
const SERVER_FRAMES = 10_000;

// ---------------------------------------------------------------------------
// Randomness

class Rand {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = rng(seed);
  }
  float(): number {
    return this.#next();
  }
  /** An integer in 0..n-1. */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ---------------------------------------------------------------------------
// Frames by hand

function u32At(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

function setU32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v >>> 0, true);
}

function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  setU32(b, 0, v);
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A whole frame (length prefix included) of a header text and a payload. */
function buildFrame(header: Uint8Array, payload: Uint8Array): Uint8Array {
  const headerEnd = 8 + header.length;
  const start = headerEnd + ((8 - (headerEnd % 8)) % 8);
  const out = new Uint8Array(start + payload.length);
  setU32(out, 0, out.length - 4);
  setU32(out, 4, header.length);
  out.set(header, 8);
  out.set(payload, start);
  return out;
}

/** The header JSON and payload of a well-formed frame (length prefix included). */
function splitFrame(frame: Uint8Array): { header: J; payload: Uint8Array } {
  const h = u32At(frame, 4);
  const headerEnd = 8 + h;
  const start = headerEnd + ((8 - (headerEnd % 8)) % 8);
  return {
    header: JSON.parse(new TextDecoder().decode(frame.subarray(8, headerEnd))) as J,
    payload: frame.slice(start),
  };
}

function hex(b: Uint8Array, max = 160): string {
  const s = Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, "0")).join(" ");
  return b.length > max ? `${s} … (${b.length} bytes)` : `${s} (${b.length} bytes)`;
}

function describe(msg: Uint8Array | string): string {
  if (typeof msg === "string") return `text message ${JSON.stringify(msg.slice(0, 80))}`;
  if (msg.length >= 8) {
    const h = u32At(msg, 4);
    if (h <= msg.length - 8) {
      const text = new TextDecoder().decode(msg.subarray(8, 8 + h));
      return `${hex(msg, 8)}; header ${JSON.stringify(text.slice(0, 600))}`;
    }
  }
  return hex(msg);
}

// ---------------------------------------------------------------------------
// Request templates: one valid request of every type for a session of one chip

const CHEAP_MEASUREMENTS = [
  { kind: "resting-potential", reads: 2 },
  { kind: "reset-potential" },
  { kind: "cadc-reference", code: 310 },
];

/** Weights of the request types among the templates (close ends the session). */
const TYPE_WEIGHTS: readonly [RequestType, number][] = [
  ["auth", 0.5],
  ["hello", 0.7],
  ["open", 0.6],
  ["write", 1],
  ["config", 1],
  ["measure", 1.2],
  ["search", 0.8],
  ["truth", 0.7],
  ["counters", 1],
  ["counters-restore", 1],
  ["close", 0.35],
];
const TYPE_TOTAL = TYPE_WEIGHTS.reduce((s, [, w]) => s + w, 0);

function pickType(r: Rand): RequestType {
  let x = r.float() * TYPE_TOTAL;
  for (const [t, w] of TYPE_WEIGHTS) {
    x -= w;
    if (x < 0) return t;
  }
  return "config";
}

/**
 * The body of a valid request of a type. `big` adds per-neuron and
 * per-channel arrays (2–4 KiB); without it every array is small, so that a
 * frame stays below ≈1 KiB (see `LARGE` below).
 */
function templateBody(type: RequestType, r: Rand, big: boolean): Record<string, unknown> {
  switch (type) {
    case "auth":
      return { token: TOKEN };
    case "hello":
      return { protocols: [1], client: "remote_fuzz_test" };
    case "open":
      return { chips: ["sim-1"], wait_s: 0, reset: r.chance(0.5) };
    case "write":
      return {
        patch: {
          v_leak: big ? new Int32Array(512).map(() => 300 + r.int(500)) : 300 + r.int(500),
          i_bias_leak: r.int(1023),
          threshold_enable: r.chance(0.5),
          syn_i_bias_dac: new Int32Array(4).map(() => r.int(1023)),
          ...(r.chance(0.5)
            ? { cadc_v_ramp_offset: new Int16Array(4).fill(400 + r.int(100)) }
            : {}),
          ...(r.chance(0.3) ? { clock_scale_fast: new Uint8Array(2).fill(r.int(16)) } : {}),
          ...(big && r.chance(0.5)
            ? { cadc_channel_offset: new Int32Array(1024).map(() => r.int(11) - 5) }
            : {}),
          ...(big && r.chance(0.5) ? { synin_exc_enable: new Uint8Array(512).fill(1) } : {}),
        },
        ...(r.chance(0.5) ? { chips: r.chance(0.5) ? [0] : new Uint8Array([0]) } : {}),
      };
    case "config":
    case "counters":
    case "close":
      return {};
    case "measure":
      return {
        measurement: { ...r.pick(CHEAP_MEASUREMENTS) },
        counters: new Uint32Array([r.int(1000)]),
        ...(r.chance(0.5) ? { chips: [0] } : {}),
      };
    case "search": {
      const algorithm = r.chance(0.7) ? { name: "binary" } : { name: "noisy-binary", noise: 5 };
      const spec = r.chance(0.7)
        ? {
          field: "v_leak",
          range: [0, 1022],
          algorithm,
          target: big ? new Float64Array(512).fill(380 + r.int(40)) : 380 + r.int(40),
          measurement: { kind: "resting-potential" },
          ...(r.chance(0.3) ? { trace: true } : {}),
          ...(r.chance(0.3)
            ? {
              map: [{
                op: "above",
                limit: big ? new Float32Array(512).fill(1e4) : 1e4,
                value: 0,
              }],
            }
            : {}),
        }
        : {
          // A per-quadrant cell searched on quadrant means: small f64 and f32 arrays.
          field: "syn_i_bias_dac",
          range: [100, 900],
          algorithm,
          target: new Float64Array(4).fill(380 + r.int(40)),
          measurement: { kind: "resting-potential" },
          reduce: "quadrant-mean",
          ...(r.chance(0.3) ? { trace: true } : {}),
          ...(r.chance(0.5)
            ? { map: [{ op: "above", limit: new Float32Array(4).fill(1e4), value: 0 }] }
            : {}),
        };
      return {
        spec,
        counters: r.chance(0.5) ? new Uint32Array([r.int(1000)]) : [r.int(1000)],
      };
    }
    case "truth":
      return r.chance(0.5) ? {} : { patch: { v_leak: 500 + r.int(100) } };
    case "counters-restore":
      return { counters: r.chance(0.5) ? new Uint32Array([r.int(2 ** 32)]) : [r.int(1000)] };
  }
}

function template(
  r: Rand,
  id: number,
  big: boolean,
  type: RequestType = pickType(r),
): Uint8Array {
  return encodeFrame(type, id, templateBody(type, r, big));
}

// ---------------------------------------------------------------------------
// Mutations

type J = null | boolean | number | string | J[] | { [k: string]: J };

// deno-fmt-ignore
const NUMS: readonly number[] = [
  0, 1, -1, 2, 3, 7, 8, 16, 0.5, -0.5, 1.5, 63, 64, 255, 256, 511, 512, 513, 1022, 1023, 1024,
  4999, 5001, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -(2 ** 31), 1e9,
  -1e9, 1e300, -1e300, 1e-300, 5e-324,
];

// deno-fmt-ignore
const STRS: readonly string[] = [
  "", "x", "sim-1", "sim-2", "sim-3", "../etc", TOKEN, "TOK", "tok\u0000", "v_leak", "v_reset",
  "membrane_capacitance", "cadc_channel_offset", "syn_i_bias_dac", "bogus_field",
  "resting-potential", "reset-potential", "cadc-reference", "threshold-max", "tau-mem",
  "spike-count", "tau-mem-cadc", "synline-drop", "no-such-kind", "binary", "noisy-binary",
  "linear-prediction", "quadrant-mean", "above", "code-below", "before-failed", "NaN",
  "Infinity", "-Infinity", "$array", "$num", "__proto__", "constructor", "toString", "é",
  "\u{1F600}", "\ud800", "a".repeat(1000), "f32", "f64", "i32", "u32", "u8", "f16", "result",
  "error", "Hello", "a".repeat(33), ...REQUEST_TYPES,
];

// deno-fmt-ignore
const KEYS: readonly string[] = [
  "v", "type", "id", "body", "arrays", "token", "protocols", "client", "chips", "wait_s",
  "reset", "patch", "measurement", "counters", "spec", "field", "range", "inverted",
  "algorithm", "target", "reduce", "map", "trace", "kind", "reads", "code", "name", "noise",
  "probe", "dtype", "shape", "offset", "$array", "$num", "__proto__", "constructor", "v_leak",
  "threshold_enable", "x",
];

function randomNumber(r: Rand): number {
  const p = r.float();
  if (p < 0.7) return r.pick(NUMS);
  if (p < 0.85) return r.int(2 ** 32);
  return (r.float() - 0.5) * 2e6;
}

function deepNest(depth: number): J {
  let v: J = 0;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { x: v };
  return v;
}

function randomValue(r: Rand, depth = 0): J {
  const p = r.int(12);
  switch (p) {
    case 0:
    case 1:
      return randomNumber(r);
    case 2:
    case 3:
      return r.pick(STRS);
    case 4:
      return r.chance(0.5);
    case 5:
      return null;
    case 6:
      return depth > 2 ? [] : Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 7: {
      if (depth > 2) return {};
      const o: { [k: string]: J } = {};
      for (let i = r.int(4); i > 0; i--) put(o, r.pick(KEYS), randomValue(r, depth + 1));
      return o;
    }
    case 8:
      return { $array: r.chance(0.8) ? r.int(4) : randomValue(r, 3) };
    case 9:
      return { $num: r.pick(["NaN", "Infinity", "-Infinity", "nan", "1", ""]) };
    case 10:
      return deepNest(28 + r.int(12));
    default:
      return r.chance(0.5) ? [randomNumber(r)] : Array.from({ length: 512 }, () => r.int(1023));
  }
}

type Slot = { readonly parent: J[] | { [k: string]: J }; readonly key: string | number };

function slots(v: J, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ parent: v, key: i });
      slots(x, out);
    });
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      out.push({ parent: v, key: k });
      slots(x, out);
    }
  }
  return out;
}

function getSlot(s: Slot): J {
  return (s.parent as Record<string | number, J>)[s.key]!;
}

function setSlot(s: Slot, v: J): void {
  put(s.parent as Record<string | number, J>, s.key, v);
}

/** Sets an own property, "__proto__" included (never the prototype). */
function put(o: Record<string | number, J>, key: string | number, v: J): void {
  Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
}

/** One mutation of the array table (dtype, shape, offset, entries). */
function mutateTable(r: Rand, header: { [k: string]: J }): void {
  if (!Array.isArray(header.arrays)) header.arrays = [];
  const arrays = header.arrays;
  if (arrays.length === 0 || r.chance(0.05)) {
    arrays.push({ dtype: r.pick(["f32", "i32", "u8"]), shape: [r.int(64)], offset: 8 * r.int(4) });
    return;
  }
  const k = r.int(arrays.length);
  const e = arrays[k];
  if (e === null || typeof e !== "object" || Array.isArray(e)) {
    arrays[k] = randomValue(r);
    return;
  }
  const n = Array.isArray(e.shape) && typeof e.shape[0] === "number" ? e.shape[0] : 1;
  const off = typeof e.offset === "number" ? e.offset : 0;
  switch (r.int(8)) {
    case 0:
      e.dtype = r.pick([
        "f32",
        "f64",
        "i8",
        "u8",
        "i16",
        "u16",
        "i32",
        "u32",
        "f16",
        "F32",
        "",
        "u64",
      ]);
      if (r.chance(0.1)) e.dtype = randomValue(r);
      break;
    case 1:
      e.shape = r.pick<J>([
        [n + 1],
        [n - 1],
        [0],
        [],
        [n, 1],
        [1, n],
        [n / 2, 2],
        [2, Math.ceil(n / 2)],
        [-1],
        [1.5],
        [1e9],
        [2 ** 53],
        [2 ** 31, 2 ** 31],
        [n, n],
        Array(9).fill(1),
        String(n),
        null,
        [null],
        [String(n)],
      ]);
      break;
    case 2:
      e.offset = r.pick<J>([off + 8, off - 8, off + 1, off + 4, -8, 1e12, 2 ** 53, 0.5, "0", null]);
      break;
    case 3:
      delete e[r.pick(["dtype", "shape", "offset"])];
      break;
    case 4:
      arrays.push({ ...e });
      break;
    case 5:
      arrays.pop();
      break;
    case 6: {
      const j = r.int(arrays.length);
      [arrays[k], arrays[j]] = [arrays[j]!, arrays[k]!];
      break;
    }
    default:
      put(e, r.pick(KEYS), randomValue(r));
  }
}

/** 1–3 mutations of the parsed header: values, keys, types, the array table. */
function mutateJson(r: Rand, frame: Uint8Array): Uint8Array {
  const { header, payload } = splitFrame(frame);
  let root: J = header;
  for (let m = 1 + r.int(3); m > 0; m--) {
    if (root === null || typeof root !== "object" || Array.isArray(root)) break;
    if (r.chance(0.2)) {
      mutateTable(r, root);
      continue;
    }
    if (r.chance(0.01)) {
      root = r.chance(0.5) ? randomValue(r) : [root];
      break;
    }
    const all = slots(root);
    const s = r.pick(all);
    const v = getSlot(s);
    const p = r.float();
    if (p < 0.15) {
      setSlot(s, randomValue(r));
    } else if (typeof v === "number") {
      setSlot(s, r.chance(0.8) ? randomNumber(r) : r.pick<J>([String(v), [v], null, -v, v + 1]));
    } else if (typeof v === "string") {
      setSlot(s, r.chance(0.8) ? r.pick(STRS) : v.slice(0, r.int(v.length + 1)) + "x");
    } else if (typeof v === "boolean") {
      setSlot(s, r.chance(0.7) ? !v : r.pick<J>([0, 1, "true", null]));
    } else if (Array.isArray(v)) {
      const q = r.int(5);
      if (q === 0) v.push(randomValue(r));
      else if (q === 1) v.pop();
      else if (q === 2 && v.length > 0) v.push(v[0]!);
      else if (q === 3) setSlot(s, {});
      else setSlot(s, []);
    } else if (v !== null && typeof v === "object") {
      const keys = Object.keys(v);
      const q = r.int(4);
      if (q === 0 && keys.length > 0) delete v[r.pick(keys)];
      else if (q === 1) put(v, r.pick(KEYS), randomValue(r));
      else if (q === 2 && keys.length > 0) {
        const k = r.pick(keys);
        const x = v[k]!;
        delete v[k];
        put(v, r.pick(KEYS), x);
      } else setSlot(s, r.pick<J>([null, [], "x", 0, true]));
    } else {
      setSlot(s, randomValue(r));
    }
  }
  const text = new TextEncoder().encode(JSON.stringify(root));
  return buildFrame(text, payload);
}

/** Bytes that matter to a JSON parser or to UTF-8, and some that do not. */
// deno-fmt-ignore
const INTERESTING_BYTES = [
  0, 0xff, 0x7f, 0x80, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x39, 0x2d, 0x5c, 0xc3,
  0xed,
];
/** Pieces of JSON text (and a lone 0xff) to insert. */
// deno-fmt-ignore
const SNIPPETS = ['{"', '"}', "[", "]", ",", ":", "0", "-1", "1e999", "null", '"$array"', "\\u00", "\xff"]
  .map((s) => new Uint8Array(Array.from(s, (c) => c.charCodeAt(0) & 0xff)));

/** 1–3 byte-level mutations of a frame; the length prefix is corrected most of the time. */
function mutateBytes(r: Rand, frame: Uint8Array, other: Uint8Array): Uint8Array {
  const b = Array.from(frame.subarray(4));
  const h = u32At(frame, 4);
  const pos = () =>
    r.chance(0.8) && h > 0 && b.length > 4
      ? 4 + r.int(Math.min(h, b.length - 4))
      : r.int(b.length + 1);
  for (let m = 1 + r.int(3); m > 0; m--) {
    switch (r.int(9)) {
      case 0:
        for (let k = 1 + r.int(4); k > 0; k--) {
          const i = Math.min(pos(), b.length - 1);
          if (i >= 0) b[i]! ^= 1 << r.int(8);
        }
        break;
      case 1:
        for (let k = 1 + r.int(3); k > 0; k--) {
          const i = Math.min(pos(), b.length - 1);
          if (i >= 0) b[i] = r.chance(0.6) ? r.pick(INTERESTING_BYTES) : r.int(256);
        }
        break;
      case 2:
        b.splice(pos(), 0, ...(r.chance(0.5) ? r.pick(SNIPPETS) : r.bytes(1 + r.int(16))));
        break;
      case 3:
        b.splice(pos(), 1 + r.int(16));
        break;
      case 4:
        b.length = r.int(b.length + 1);
        break;
      case 5:
        b.push(...(r.chance(0.5) ? r.bytes(1 + r.int(64)) : new Uint8Array(1 + r.int(64))));
        break;
      case 6: {
        if (b.length < 4) break;
        const v = r.pick([
          h + 1,
          h - 1,
          h + 8,
          h - 8,
          0,
          1,
          3,
          0xffffffff,
          b.length,
          b.length - 4,
          r.int(2 ** 32),
        ]);
        const x = u32le(v);
        for (let i = 0; i < 4; i++) b[i] = x[i]!;
        break;
      }
      case 7: {
        const from = r.int(other.length);
        const chunk = other.subarray(from, from + 1 + r.int(32));
        const at = pos();
        for (let i = 0; i < chunk.length && at + i < b.length; i++) b[at + i] = chunk[i]!;
        break;
      }
      default: {
        // A digit of the header JSON replaced: numbers change, the text stays JSON.
        const digits: number[] = [];
        for (let i = 4; i < Math.min(4 + h, b.length); i++) {
          if (b[i]! >= 0x30 && b[i]! <= 0x39) digits.push(i);
        }
        if (digits.length > 0) b[r.pick(digits)] = 0x30 + r.int(10);
      }
    }
  }
  const out = new Uint8Array(4 + b.length);
  out.set(b, 4);
  setU32(out, 0, r.chance(0.85) ? b.length : u32At(frame, 0));
  return out;
}

/** Random bytes (mostly with a right length prefix), or a random header object. */
function garbage(r: Rand): Uint8Array {
  if (r.chance(0.35)) {
    const header: { [k: string]: J } = {};
    for (const k of ["v", "type", "id", "body", "arrays"]) {
      if (r.chance(0.7)) header[k] = randomValue(r);
    }
    if (r.chance(0.5)) header.v = 1;
    if (r.chance(0.5)) header.type = r.pick(STRS);
    if (r.chance(0.5)) header.id = r.int(100);
    return buildFrame(new TextEncoder().encode(JSON.stringify(header)), r.bytes(r.int(3) * 8));
  }
  const len = r.chance(0.15) ? r.int(8) : r.int(400);
  const b = r.bytes(len);
  if (len >= 4 && r.chance(0.7)) setU32(b, 0, len - 4);
  if (len >= 8 && r.chance(0.5)) setU32(b, 4, r.int(len));
  if (len >= 9 && r.chance(0.3)) b[8] = 0x7b;
  return b;
}

/** A frame whose length prefix disagrees with its bytes (but stays within the limit). */
function wrongPrefix(r: Rand, frame: Uint8Array): Uint8Array {
  const b = frame.slice();
  const n = b.length - 4;
  let v = r.pick([n + 1, n - 1, n + 8, n - 8, 0, 1, 3, 4, r.int(MAX + 1), MAX]);
  if (v === n || v < 0) v = n + 1;
  setU32(b, 0, v);
  return b;
}

/** A frame whose length prefix exceeds the limit. */
function oversized(r: Rand): Uint8Array {
  const b = r.bytes(4 + r.int(40));
  setU32(b, 0, r.pick([0xffffffff, 0xfffffff0, MAX + 1, MAX + 1 + r.int(0xffffffff - MAX)]));
  return b;
}

type How = "valid" | "bytes" | "json" | "garbage" | "prefix" | "oversized" | "text";

/**
 * Deno's `WebSocket` client writes a message above ≈1 KiB as two writes
 * without TCP_NODELAY, so each such message waits ≈44 ms for the host's
 * delayed ACK (Nagle). The server fuzz keeps most frames below this size and
 * lets a few large ones through.
 */
const LARGE = 1000;

/** One fuzz input: a whole message (length prefix included), or a text message. */
function fuzzInput(
  r: Rand,
  id: number,
  forServer: boolean,
): { msg: Uint8Array | string; how: How } {
  for (;;) {
    const x = fuzzOnce(r, id, forServer ? r.chance(0.02) : r.chance(0.5), forServer);
    if (!forServer || x.msg.length <= LARGE || r.chance(0.08)) return x;
  }
}

function fuzzOnce(
  r: Rand,
  id: number,
  big: boolean,
  forServer: boolean,
): { msg: Uint8Array | string; how: How } {
  const p = r.float();
  const t = template(r, id, big);
  if (p < 0.08) return { msg: t, how: "valid" };
  if (p < 0.45) return { msg: mutateBytes(r, t, template(r, id, big)), how: "bytes" };
  if (p < 0.8) return { msg: mutateJson(r, t), how: "json" };
  if (p < 0.9) return { msg: garbage(r), how: "garbage" };
  if (p < 0.99) {
    const base = r.chance(0.5) ? t : mutateJson(r, t);
    return { msg: wrongPrefix(r, base), how: "prefix" };
  }
  if (p < 0.995 || !forServer) return { msg: oversized(r), how: "oversized" };
  return { msg: r.pick(["hello", "", JSON.stringify({ v: 1, type: "hello", id })]), how: "text" };
}

function inc(m: Record<string, number>, k: string, by = 1): void {
  m[k] = (m[k] ?? 0) + by;
}

function isU32(x: unknown): boolean {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

// ---------------------------------------------------------------------------
// 1. The decoder and the stream splitter

/** Whether a decoded body is what a body must be: a plain JSON object. */
function isBodyObject(body: unknown): boolean {
  return body !== null && typeof body === "object" && !Array.isArray(body) &&
    !ArrayBuffer.isView(body);
}

/**
 * decodeFrame: a Frame or a ProtocolError with a known code, nothing else.
 * Frames whose body is not an object are collected in `oddBodies`.
 */
function checkDecode(
  bytes: Uint8Array,
  codes: Record<string, number>,
  what: string,
  oddBodies: string[],
): Frame | undefined {
  let f: Frame;
  try {
    f = decodeFrame(bytes);
  } catch (e) {
    if (!(e instanceof ProtocolError)) {
      assert.fail(
        `decodeFrame threw ${String(e)} (not a ProtocolError) for ${what}: ${
          describe(concat([u32le(bytes.length), bytes]))
        }`,
      );
    }
    assert.ok((ERROR_CODES as readonly string[]).includes(e.code), `unknown code ${e.code}`);
    assert.ok(e.request === null || isU32(e.request), `bad request id ${e.request}`);
    inc(codes, e.code);
    return undefined;
  }
  assert.equal(f.v, 1);
  assert.match(f.type, /^[a-z][a-z0-9-]{0,31}$/);
  assert.ok(isU32(f.id));
  if (!isBodyObject(f.body)) {
    oddBodies.push(
      `${Object.prototype.toString.call(f.body)} from ${
        describe(concat([u32le(bytes.length), bytes]))
      }`,
    );
  }
  inc(codes, "ok");
  return f;
}

/** What a FrameReader must yield for a byte stream, however it is cut. */
function expectedSplit(
  stream: Uint8Array,
  max: number,
): { items: (Uint8Array | string)[]; pending: number } {
  const items: (Uint8Array | string)[] = [];
  let at = 0;
  while (stream.length - at >= 4) {
    const n = u32At(stream, at);
    if (n > max || n < 4) {
      items.push(n < 4 ? "malformed" : "frame-too-large");
      return { items, pending: 0 };
    }
    if (stream.length - at < 4 + n) break;
    items.push(stream.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return { items, pending: stream.length - at };
}

Deno.test("remote fuzz: decoder and FrameReader take 12,000 random and mutated frames", () => {
  const r = new Rand(SEED);
  const codes: Record<string, number> = {};
  const hows: Record<string, number> = {};
  const oddBodies: string[] = [];
  let worstMs = 0;
  let inputs = 0;
  const started = performance.now();
  // Every template decodes, and re-encoding a decoded frame is a fixpoint.
  for (const type of REQUEST_TYPES) {
    const t = template(r, 7, true, type);
    const f = checkDecode(t.subarray(4), codes, `template ${type}`, oddBodies)!;
    assert.equal(f.type, type);
    assert.equal(f.id, 7);
  }
  for (let i = 0; i < DECODER_INPUTS; i++) {
    const { msg, how } = fuzzInput(r, 1 + r.int(1000), false);
    assert.ok(typeof msg !== "string");
    inc(hows, how);
    const body = msg.length >= 4 ? msg.subarray(4) : msg;
    const t0 = performance.now();
    const f = checkDecode(body, codes, how, oddBodies);
    worstMs = Math.max(worstMs, performance.now() - t0);
    inputs++;
    if (f) {
      // Whatever decodes can be sent again and means the same.
      const again = encodeFrame(f.type, f.id, f.body);
      const f2 = decodeFrame(again.subarray(4));
      assert.deepEqual(encodeFrame(f2.type, f2.id, f2.body), again);
    }
  }
  // Streams of such frames through FrameReader in random chunkings.
  let streams = 0;
  let readerItems = 0;
  for (let s = 0; s < 300; s++) {
    const parts: Uint8Array[] = [];
    for (let k = 1 + r.int(20); k > 0; k--) {
      const { msg } = fuzzInput(r, 1 + r.int(1000), false);
      assert.ok(typeof msg !== "string");
      // Mostly frames whose prefix matches their bytes, so the stream stays in step.
      if (msg.length >= 4 && r.chance(0.9)) setU32(msg, 0, msg.length - 4);
      parts.push(msg);
    }
    const stream = concat(parts);
    const max = r.chance(0.3) ? 256 + r.int(512) : MAX;
    const want = expectedSplit(stream, max);
    const reader = new FrameReader(max);
    const got: (Uint8Array | ProtocolError)[] = [];
    let at = 0;
    while (at < stream.length) {
      const size = r.chance(0.1) ? 0 : r.chance(0.5) ? 1 + r.int(8) : 1 + r.int(300);
      const chunk = stream.subarray(at, at + size);
      at += chunk.length;
      let out: (Uint8Array | ProtocolError)[] = [];
      assert.doesNotThrow(() => (out = reader.push(chunk)));
      if (got.some((x) => x instanceof ProtocolError)) assert.deepEqual(out, []);
      got.push(...out);
    }
    assert.equal(got.length, want.items.length, `stream ${s}: items`);
    got.forEach((x, k) => {
      const w = want.items[k]!;
      if (typeof w === "string") {
        assert.ok(
          x instanceof ProtocolError && x.code === w,
          `stream ${s} item ${k}: ${String(x)}`,
        );
        assert.equal(k, got.length - 1);
      } else {
        assert.ok(x instanceof Uint8Array);
        assert.deepEqual(x, w);
        checkDecode(x, codes, "stream frame", oddBodies);
        inputs++;
      }
    });
    assert.equal(reader.pending, want.pending);
    readerItems += got.length;
    streams++;
  }
  // An oversized prefix: one error once its 4th byte arrives, nothing buffered, nothing after.
  const rss0 = Deno.memoryUsage().rss;
  for (const n of [0xffffffff, MAX + 1, 0xfffffff0]) {
    for (let rep = 0; rep < 200; rep++) {
      const reader = new FrameReader();
      const prefix = u32le(n);
      for (let k = 0; k < 3; k++) {
        assert.deepEqual(reader.push(prefix.subarray(k, k + 1)), []);
        assert.equal(reader.pending, k + 1);
      }
      const tail = rep % 2 ? new Uint8Array(0) : r.bytes(64);
      const out = reader.push(concat([prefix.subarray(3), tail]));
      assert.equal(out.length, 1);
      assert.ok(out[0] instanceof ProtocolError);
      assert.equal(out[0].code, "frame-too-large");
      assert.equal(reader.pending, 0);
      assert.equal(reader.broken, out[0]);
      assert.deepEqual(reader.push(r.bytes(100)), []);
      assert.deepEqual(reader.push(u32le(8)), []);
      assert.equal(reader.pending, 0);
    }
  }
  // Exactly the limit is accepted: only the 4 prefix bytes wait.
  const atLimit = new FrameReader();
  assert.deepEqual(atLimit.push(u32le(MAX)), []);
  assert.equal(atLimit.pending, 4);
  assert.ok(
    Deno.memoryUsage().rss - rss0 < 256 * 1024 * 1024,
    "oversized prefixes allocated memory",
  );
  const seconds = (performance.now() - started) / 1000;
  assert.ok(inputs >= 10_000);
  assert.ok(worstMs < 1000, `one decode took ${worstMs} ms`);
  console.log(
    `decoder: seed ${SEED}, ${inputs} inputs (${JSON.stringify(hows)}), outcomes ${
      JSON.stringify(codes)
    }; FrameReader: ${streams} streams, ${readerItems} items; slowest decode ${
      worstMs.toFixed(2)
    } ms; ${oddBodies.length} frames with a body that is not an object; ${seconds.toFixed(1)} s`,
  );
  // A body that is itself {"$num": …} or {"$array": k} decodes to a number or a
  // typed array: the next test pins that down; here they are only counted.
  for (const b of oddBodies.slice(0, 3)) console.log(`body not an object: ${b}`);
});

Deno.test("remote fuzz: decodeFrame refuses a body that is a $num or $array form", () => {
  const frames = [
    { v: 1, type: "config", id: 3, body: { $num: "NaN" }, arrays: [] },
    { v: 1, type: "config", id: 4, body: { $num: "-Infinity" }, arrays: [] },
    {
      v: 1,
      type: "config",
      id: 5,
      body: { $array: 0 },
      arrays: [{ dtype: "u8", shape: [2], offset: 0 }],
    },
  ];
  for (const header of frames) {
    const bytes = buildFrame(new TextEncoder().encode(JSON.stringify(header)), new Uint8Array(8));
    let body: unknown;
    try {
      body = decodeFrame(bytes.subarray(4)).body;
    } catch (e) {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, "malformed");
      assert.equal(e.request, header.id);
      continue;
    }
    assert.fail(
      `body ${JSON.stringify(header.body)} decoded to ${String(body)}, not refused as malformed`,
    );
  }
});

// ---------------------------------------------------------------------------
// 2. and 3. A running WebSocket host

function makeHost(lines: string[], withToken = true): ChipHost {
  const seeds = [1, 2];
  return new ChipHost({
    chips: seeds.map((s) => ({ id: `sim-${s}`, seed: s, key: s })),
    open: (ix) => Promise.resolve(new CpuBackend(ix.map((i) => seeds[i]!), DEFAULT_TWIN_CONFIG)),
    description: "CPU executor",
    twin: DEFAULT_TWIN_CONFIG,
    ...(withToken ? { token: TOKEN } : {}),
    log: (l) => lines.push(l),
    limits: { max_measurement_steps: 5000, idle_timeout_s: 1, max_open_wait_s: 0.2 },
  });
}

/** A raw WebSocket client: whole binary messages in, whole messages out. */
class WsConn {
  readonly ws: WebSocket;
  readonly #queue: (Uint8Array | string)[] = [];
  #wake: (() => void) | undefined;
  closed = false;
  readonly whenClosed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.whenClosed = new Promise((resolve) => {
      ws.onclose = () => {
        this.closed = true;
        this.#wake?.();
        resolve();
      };
    });
    ws.onmessage = (ev) => {
      this.#queue.push(
        typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer),
      );
      this.#wake?.();
    };
    ws.onerror = () => {};
  }

  static connect(url: string): Promise<WsConn> {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const conn = new WsConn(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(conn);
      conn.whenClosed.then(() => reject(new Error(`Could not connect to ${url}`)));
    });
  }

  send(msg: Uint8Array | string): void {
    this.ws.send(msg);
  }

  /** The next message, "closed" once the peer closed and nothing is left, or "timeout". */
  async next(ms: number): Promise<Uint8Array | string | "closed" | "timeout"> {
    const deadline = performance.now() + ms;
    for (;;) {
      const m = this.#queue.shift();
      if (m !== undefined) return m;
      if (this.closed) return "closed";
      const left = deadline - performance.now();
      if (left <= 0) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  async close(): Promise<void> {
    if (!this.closed && this.ws.readyState !== WebSocket.CLOSING) this.ws.close(1000);
    await this.whenClosed;
  }
}

/** Sends a well-formed request and returns its answer (decoded). */
async function request(
  conn: WsConn,
  type: string,
  id: number,
  body: Record<string, unknown> = {},
): Promise<Frame> {
  conn.send(encodeFrame(type, id, body));
  const reply = await conn.next(20_000);
  assert.ok(reply instanceof Uint8Array, `${type} ${id}: got ${String(reply)}`);
  return decodeFrame(reply.subarray(4));
}

function assertResult(f: Frame, what: string): Record<string, unknown> {
  assert.equal(f.type, "result", `${what}: ${JSON.stringify(f.body)}`);
  return f.body;
}

/** The allowed error codes of a well-formed request, by type (after auth). */
const ALLOWED: Record<RequestType, readonly string[]> = {
  auth: ["unauthorized"],
  hello: ["unsupported-version"],
  open: ["bad-request", "no-such-chip", "busy"],
  write: ["bad-request", "not-open"],
  config: ["not-open"],
  measure: ["bad-request", "not-open", "too-expensive"],
  search: ["bad-request", "not-open", "too-expensive"],
  truth: ["bad-request", "not-open"],
  counters: ["not-open"],
  "counters-restore": ["bad-request", "not-open"],
  close: [],
};

interface Tally {
  fuzz: number;
  setup: number;
  byHow: Record<string, number>;
  results: Record<string, number>;
  errors: Record<string, number>;
  closes: Record<string, number>;
  repeats: number;
  connections: number;
  busyProbes: number;
  wrongTokenKept: number;
  internal: string[];
}

/** A fuzzing client with a model of its session: what the host must answer to each message. */
class FuzzClient {
  conn: WsConn | undefined;
  authed = false;
  opened = false;
  sentHere = 0;
  nextId = 10;
  /**
   * Where the log stood when an authenticated session sent a wrong token.
   * The spec closes the connection after a wrong token; the host keeps an
   * authenticated session open. {@linkcode probe} accepts either.
   */
  wrongTokenAt: number | undefined;
  /** The host's memory of answers (id → reply bytes), as the spec describes it. */
  readonly cache = new Map<number, Uint8Array>();

  constructor(
    readonly url: string,
    readonly lines: string[],
    readonly tally: Tally,
  ) {}

  async connect(): Promise<void> {
    this.conn = await WsConn.connect(this.url);
    this.authed = false;
    this.opened = false;
    this.sentHere = 0;
    this.cache.clear();
    this.tally.connections++;
  }

  /** A request id the host has not answered in this session. */
  freshId(): number {
    while (this.cache.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }

  /** After a wrong token: the session is either closed (with a logged reason) or still answers. */
  async probe(): Promise<void> {
    const mark = this.wrongTokenAt!;
    this.wrongTokenAt = undefined;
    const conn = this.conn!;
    const id = this.freshId();
    conn.send(encodeFrame("counters", id));
    const reply = await conn.next(10_000);
    if (reply === "closed") {
      const logged = this.lines.slice(mark).some((l) =>
        l.includes(" ended: ") && /unauthorized|refused token/.test(l)
      );
      assert.ok(logged, `no log line for the close after a wrong token`);
      inc(this.tally.closes, "wrong token after auth");
      await conn.close();
      this.conn = undefined;
      return;
    }
    assert.ok(reply instanceof Uint8Array, `after a wrong token: ${String(reply)}`);
    const f = decodeFrame(reply.subarray(4));
    assert.equal(f.id, id);
    assert.ok(f.type === "result" || f.body.code === "not-open", JSON.stringify(f.body));
    this.cache.set(id, reply);
    if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value!);
    this.tally.wrongTokenKept++;
  }

  /**
   * Sends one message, checks its answer against the model and follows
   * the session's state. Returns the answer frame.
   */
  async exchange(msg: Uint8Array | string, how: string): Promise<Frame> {
    const conn = this.conn!;
    const what = () => `seed ${SEED}, ${how} message #${this.tally.fuzz} (${describe(msg)})`;
    type Want =
      | { kind: "error"; code: string; id: number; close?: string; message?: string }
      | { kind: "repeat"; bytes: Uint8Array; id: number }
      | { kind: "answer"; frame: Frame };
    let want: Want;
    if (typeof msg === "string") {
      want = { kind: "error", code: "malformed", id: 0, message: "binary messages" };
    } else if (msg.length < 4) {
      want = { kind: "error", code: "malformed", id: 0 };
    } else if (u32At(msg, 0) > MAX) {
      want = { kind: "error", code: "frame-too-large", id: 0, close: "frame-too-large: Frame of" };
    } else if (u32At(msg, 0) !== msg.length - 4) {
      want = { kind: "error", code: "malformed", id: 0, message: "Length prefix says" };
    } else {
      let f: Frame | undefined;
      try {
        f = decodeFrame(msg.subarray(4));
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `${what()}: decodeFrame threw ${String(e)}`);
        want = { kind: "error", code: e.code, id: e.request ?? 0 };
      }
      if (f) {
        const hit = this.cache.get(f.id);
        if (!this.authed && f.type !== "auth") {
          want = { kind: "error", code: "unauthorized", id: f.id, close: "unauthorized: " };
        } else if (hit) want = { kind: "repeat", bytes: hit, id: f.id };
        else want = { kind: "answer", frame: f };
      }
    }
    const mark = this.lines.length;
    conn.send(msg);
    this.sentHere++;
    const reply = await conn.next(20_000);
    if (reply === "timeout") assert.fail(`No answer within 20 s to ${what()}`);
    if (reply === "closed") assert.fail(`The host closed without an answer to ${what()}`);
    assert.ok(reply instanceof Uint8Array, `${what()}: a text answer`);
    assert.equal(u32At(reply, 0), reply.length - 4, `${what()}: answer's length prefix`);
    const answer = decodeFrame(reply.subarray(4));
    assert.ok(
      answer.type === "result" || answer.type === "error",
      `${what()}: answer ${answer.type}`,
    );
    const code = answer.type === "error" ? String(answer.body.code) : "";
    if (answer.type === "error") {
      assert.ok((ERROR_CODES as readonly string[]).includes(code), `${what()}: code ${code}`);
      assert.equal(typeof answer.body.message, "string");
      const req = answer.body.request;
      assert.ok(req === null ? answer.id === 0 : req === answer.id, `${what()}: request ${req}`);
      inc(this.tally.errors, code);
    }
    let close: string | undefined;
    const w = want!;
    if (w.kind === "error") {
      assert.equal(
        answer.type,
        "error",
        `${what()}: want ${w.code}, got ${JSON.stringify(answer.body)}`,
      );
      assert.equal(code, w.code, `${what()}: want ${w.code}, got ${JSON.stringify(answer.body)}`);
      assert.equal(answer.id, w.id, `${what()}: answer id`);
      if (w.message) assert.match(String(answer.body.message), new RegExp(w.message));
      close = w.close;
    } else if (w.kind === "repeat") {
      assert.deepEqual(
        reply,
        w.bytes,
        `${what()}: a repeated id gets the same answer, byte for byte`,
      );
      this.tally.repeats++;
    } else {
      const f = w.frame;
      assert.equal(answer.id, f.id, `${what()}: answer id`);
      this.cache.set(f.id, reply);
      if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value!);
      const known = (REQUEST_TYPES as readonly string[]).includes(f.type);
      if (!known) {
        assert.equal(code, "unknown-type", `${what()}: ${JSON.stringify(answer.body)}`);
      } else if (answer.type === "error") {
        if (code === "internal") {
          this.tally.internal.push(`${what()}: ${String(answer.body.message)}`);
        } else {
          assert.ok(
            ALLOWED[f.type as RequestType].includes(code),
            `${what()}: a well-formed ${f.type} answered ${code}: ${String(answer.body.message)}`,
          );
        }
      } else {
        inc(this.tally.results, f.type);
      }
      if (
        how === "valid" && known && f.type !== "open" && (this.opened || !_CHIP_OPS.has(f.type))
      ) {
        assert.equal(
          answer.type,
          "result",
          `${what()}: a valid ${f.type} failed: ${JSON.stringify(answer.body)}`,
        );
      }
      if (f.type === "close") {
        assert.equal(answer.type, "result");
        close = "closed by the client";
      } else if (f.type === "auth") {
        if (answer.type === "result") this.authed = true;
        else if (!this.authed) close = "refused token";
        else this.wrongTokenAt = mark;
      } else if (f.type === "open" && answer.type === "result") {
        assert.ok(!this.opened, `${what()}: a second open succeeded`);
        const chips = answer.body.chips as { id: string }[];
        assert.ok(
          chips.every((c) => c.id === "sim-1"),
          `${what()}: opened ${JSON.stringify(chips)}`,
        );
        this.opened = true;
      }
    }
    if (close !== undefined) {
      const end = await conn.next(10_000);
      assert.equal(end, "closed", `${what()}: the host should close the connection`);
      const logged = this.lines.slice(mark).some((l) =>
        l.includes(" ended: ") && l.includes(close!)
      );
      assert.ok(
        logged,
        `${what()}: no log line with "${close}" in ${JSON.stringify(this.lines.slice(mark))}`,
      );
      inc(this.tally.closes, close.replace(/: .*$/, "").replace(/:$/, ""));
      await conn.close();
      this.conn = undefined;
    }
    return answer;
  }
}

const _CHIP_OPS = new Set([
  "write",
  "config",
  "measure",
  "search",
  "truth",
  "counters",
  "counters-restore",
]);

Deno.test("remote fuzz: a running WebSocket host answers 10,000 random and mutated frames", async () => {
  const lines: string[] = [];
  const host = makeHost(lines);
  const server = serveWebSocket(host, { port: 0 });
  const r = new Rand(SEED ^ 0x9e3779b9);
  const started = performance.now();
  const tally: Tally = {
    fuzz: 0,
    setup: 0,
    byHow: {},
    results: {},
    errors: {},
    closes: {},
    repeats: 0,
    connections: 0,
    busyProbes: 0,
    wrongTokenKept: 0,
    internal: [],
  };
  const victim = await WsConn.connect(server.url);
  const fuzz = new FuzzClient(server.url, lines, tally);
  try {
    // The victim: sim-2 with a configuration and counters of its own.
    assertResult(await request(victim, "auth", 1, { token: TOKEN }), "victim auth");
    assertResult(await request(victim, "hello", 2, { protocols: [1] }), "victim hello");
    assertResult(await request(victim, "open", 3, { chips: ["sim-2"] }), "victim open");
    assertResult(
      await request(victim, "write", 4, {
        patch: {
          v_leak: new Int32Array(512).map((_, i) => (i * 37) % 1023),
          membrane_capacitance: 17,
          cadc_channel_offset: new Int32Array(1024).map((_, i) => (i % 21) - 10),
          threshold_enable: true,
        },
      }),
      "victim write",
    );
    assertResult(
      await request(victim, "measure", 5, {
        measurement: { kind: "resting-potential" },
        counters: new Uint32Array([123_456]),
      }),
      "victim measure",
    );
    const config0 = assertResult(await request(victim, "config", 6), "victim config")
      .config as Record<
        string,
        Int32Array
      >;
    const counters0 =
      assertResult(await request(victim, "counters", 7), "victim counters").counters;
    assert.deepEqual(counters0, new Uint32Array([123_457]));
    assert.deepEqual(config0.membrane_capacitance, new Int32Array(512).fill(17));

    while (tally.fuzz < SERVER_FRAMES) {
      if (!fuzz.conn) await fuzz.connect();
      if (fuzz.wrongTokenAt !== undefined) {
        tally.setup++;
        await fuzz.probe();
        continue;
      }
      const fresh = fuzz.sentHere === 0;
      if (!fuzz.authed && !(fresh && r.chance(0.08))) {
        const a = await fuzz.exchange(
          encodeFrame("auth", fuzz.freshId(), { token: TOKEN }),
          "setup",
        );
        tally.setup++;
        assertResult(a, "auth");
        continue;
      }
      if (fuzz.authed && !fuzz.opened && !r.chance(0.1)) {
        tally.setup++;
        if (r.chance(0.25)) {
          // Another session's chip is busy.
          const b = await fuzz.exchange(
            encodeFrame("open", fuzz.freshId(), { chips: ["sim-2"], wait_s: 0 }),
            "setup",
          );
          assert.equal(b.type, "error");
          assert.equal(b.body.code, "busy");
          tally.busyProbes++;
          continue;
        }
        const o = await fuzz.exchange(
          encodeFrame("open", fuzz.freshId(), { chips: ["sim-1"] }),
          "setup",
        );
        assertResult(o, "open");
        continue;
      }
      const { msg, how } = fuzzInput(r, fuzz.nextId++, true);
      tally.fuzz++;
      inc(tally.byHow, how);
      await fuzz.exchange(msg, how);
    }
    // The host is still up: a fresh session says hello.
    const fresh = await WsConn.connect(server.url);
    assertResult(await request(fresh, "auth", 1, { token: TOKEN }), "fresh auth");
    const hello = assertResult(await request(fresh, "hello", 2, { protocols: [1] }), "fresh hello");
    assert.deepEqual((hello.chips as { id: string }[]).map((c) => c.id), ["sim-1", "sim-2"]);
    await fresh.close();
    // The victim's chip is as it left it.
    const config1 = assertResult(await request(victim, "config", 8), "victim config")
      .config as Record<
        string,
        Int32Array
      >;
    assert.deepEqual(Object.keys(config1), Object.keys(config0));
    for (const k of Object.keys(config0)) assert.deepEqual(config1[k], config0[k], `victim ${k}`);
    assert.deepEqual(
      assertResult(await request(victim, "counters", 9), "victim counters").counters,
      counters0,
    );
    assertResult(await request(victim, "close", 10), "victim close");
    assert.equal(await victim.next(10_000), "closed");
  } finally {
    await fuzz.conn?.close();
    await victim.close();
    await server.shutdown();
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `server: seed ${SEED}, ${tally.fuzz} fuzz frames (${
      JSON.stringify(tally.byHow)
    }) + ${tally.setup} setup frames over ${tally.connections} connections; results ${
      JSON.stringify(tally.results)
    }; errors ${JSON.stringify(tally.errors)}; closes ${
      JSON.stringify(tally.closes)
    }; ${tally.repeats} repeats; ${tally.busyProbes} busy probes; ${tally.wrongTokenKept} sessions kept after a wrong token; ${tally.internal.length} internal errors; ${
      seconds.toFixed(1)
    } s`,
  );
  for (const line of tally.internal.slice(0, 10)) console.log(`internal: ${line}`);
  assert.ok(tally.fuzz >= 10_000);
  assert.deepEqual(tally.internal, [], "well-formed requests must not fail inside the host");
});

Deno.test("remote fuzz: an oversized length prefix over WebSocket gets frame-too-large and a close", async () => {
  const lines: string[] = [];
  const host = makeHost(lines);
  const server = serveWebSocket(host, { port: 0 });
  try {
    for (const authFirst of [false, true]) {
      const conn = await WsConn.connect(server.url);
      if (authFirst) assertResult(await request(conn, "auth", 1, { token: TOKEN }), "auth");
      const mark = lines.length;
      conn.send(concat([u32le(0xfffffff0), new Uint8Array(12)]));
      const reply = await conn.next(10_000);
      assert.ok(reply instanceof Uint8Array);
      const f = decodeFrame(reply.subarray(4));
      assert.equal(f.type, "error");
      assert.equal(f.body.code, "frame-too-large");
      assert.equal(f.id, 0);
      assert.equal(await conn.next(10_000), "closed");
      assert.ok(
        lines.slice(mark).some((l) => l.includes(" ended: ") && l.includes("frame-too-large")),
      );
      await conn.close();
    }
    const conn = await WsConn.connect(server.url);
    assertResult(await request(conn, "auth", 1, { token: TOKEN }), "auth");
    assertResult(await request(conn, "hello", 2, { protocols: [1] }), "hello");
    await conn.close();
  } finally {
    await server.shutdown();
  }
});

// ---------------------------------------------------------------------------
// 4. The stream transport (stdio's code path) over in-memory streams

/** A session of `serveStdio` over in-memory streams, its answers decoded as they come. */
class StreamSession {
  readonly frames: Frame[] = [];
  readonly served: Promise<void>;
  readonly outputDone: Promise<void>;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  #wake: (() => void) | undefined;
  ended = false;

  constructor(host: ChipHost, peer: string) {
    const input = new TransformStream<Uint8Array, Uint8Array>();
    const output = new TransformStream<Uint8Array, Uint8Array>();
    this.served = serveStdio(host, { input: input.readable, output: output.writable, peer });
    this.writer = input.writable.getWriter();
    const reader = new FrameReader();
    this.outputDone = (async () => {
      for await (const chunk of output.readable) {
        for (const x of reader.push(chunk)) {
          assert.ok(x instanceof Uint8Array, `the host wrote a broken stream: ${String(x)}`);
          this.frames.push(decodeFrame(x));
        }
        this.#wake?.();
      }
      assert.equal(reader.pending, 0, "the host's output ends inside a frame");
      this.ended = true;
      this.#wake?.();
    })();
  }

  /** Writes bytes to the host's input (a failed write is fine: the host may have closed it). */
  async write(bytes: Uint8Array): Promise<void> {
    await this.writer.write(bytes).catch(() => {});
  }

  /** Waits until `n` frames have arrived (or the output ended). */
  async waitFrames(n: number, ms = 10_000): Promise<void> {
    const deadline = performance.now() + ms;
    while (this.frames.length < n && !this.ended && performance.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, deadline - performance.now());
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /** Waits for the session and its output to end, and lets go of the input. */
  async finished(): Promise<void> {
    await this.served;
    await this.outputDone;
    await this.writer.close().catch(() => {});
  }
}

Deno.test("remote fuzz: the stream transport ends a session on a truncated frame and on an oversized prefix", async () => {
  const lines: string[] = [];
  const host = makeHost(lines, false);
  // A truncated frame, then silence: after idle_timeout_s the session ends.
  {
    const s = new StreamSession(host, "fuzz-truncated");
    await s.write(encodeFrame("hello", 1, { protocols: [1] }));
    await s.waitFrames(1);
    assert.equal(s.frames[0]?.type, "result");
    const t0 = performance.now();
    await s.write(encodeFrame("config", 2).subarray(0, 17));
    await s.finished();
    const elapsed = performance.now() - t0;
    assert.equal(s.frames.length, 2);
    const e = s.frames[1]!;
    assert.equal(e.type, "error");
    assert.equal(e.body.code, "malformed");
    assert.match(String(e.body.message), /^Truncated frame: 17 bytes/);
    assert.ok(elapsed >= 900 && elapsed < 10_000, `ended after ${elapsed} ms`);
    assert.ok(lines.some((l) => l.includes("fuzz-truncated") && l.includes("Truncated frame")));
    assert.ok(
      lines.some((l) =>
        l.includes("fuzz-truncated") && l.includes(" ended: ") && l.includes("Truncated frame")
      ),
    );
  }
  // An oversized length prefix: frame-too-large, and the session ends at once.
  {
    const s = new StreamSession(host, "fuzz-oversized");
    await s.write(encodeFrame("hello", 1, { protocols: [1] }));
    await s.waitFrames(1);
    assert.equal(s.frames[0]?.type, "result");
    const t0 = performance.now();
    await s.write(concat([u32le(0xfffffff0), new Uint8Array(8)]));
    await s.finished();
    const elapsed = performance.now() - t0;
    assert.equal(s.frames.length, 2);
    const e = s.frames[1]!;
    assert.equal(e.type, "error");
    assert.equal(e.body.code, "frame-too-large");
    assert.equal(e.id, 0);
    assert.ok(elapsed < 900, `ended after ${elapsed} ms, not at once`);
    assert.ok(
      lines.some((l) =>
        l.includes("fuzz-oversized") && l.includes(" ended: ") && l.includes("frame-too-large")
      ),
    );
  }
  assert.equal(host.sessions, 0);
});

Deno.test("remote fuzz: the stream transport answers a request that came before an oversized prefix", async () => {
  // The request and the bad prefix arrive in one chunk: the request was
  // received whole, so it is answered before the stream is closed (as the
  // WebSocket transport does).
  const lines: string[] = [];
  const host = makeHost(lines, false);
  const s = new StreamSession(host, "fuzz-before-oversized");
  await s.write(concat([encodeFrame("hello", 1, { protocols: [1] }), u32le(0xfffffff0)]));
  await s.finished();
  const got = s.frames.map((f) => `${f.type} ${f.id} ${f.body.code ?? ""}`.trim()).sort();
  assert.deepEqual(got, ["error 0 frame-too-large", "result 1"]);
});
