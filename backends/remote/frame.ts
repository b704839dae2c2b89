/**
 * Frames of lifcal's wire protocol v1 (`docs/PROTOCOL.md`): a little-endian
 * u32 length prefix, a JSON header, and the binary payload of every typed
 * array the message carries (dtype + shape in the header), so that NaN,
 * ±Infinity and large per-neuron arrays cross the wire exactly and cheaply.
 *
 * ```
 * u32 LE  n            bytes that follow (header length field + header + padding + payload)
 * u32 LE  h            bytes of the header
 * h bytes header       UTF-8 JSON: {"v":1,"type":…,"id":…,"body":{…},"arrays":[…]}
 * 0–7     padding      zero bytes up to the next multiple of 8 from the frame's first byte
 * …       payload      the arrays, each at an 8-aligned offset from the payload's start
 * ```
 *
 * Inside `body`, a typed array is `{"$array": k}` (entry `k` of `arrays`:
 * `{"dtype":"f32","shape":[2,512],"offset":0}`) and a non-finite number is
 * `{"$num":"NaN"|"Infinity"|"-Infinity"}`; everything else is plain JSON.
 *
 * @module
 */

/** The protocol version this module speaks. */
export const PROTOCOL_VERSION = 1;

/** Default limit on one frame, length prefix excluded (64 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** The array element types of the protocol and their typed-array classes. */
export const DTYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i8: Int8Array,
  u8: Uint8Array,
  i16: Int16Array,
  u16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
} as const;

/** The name of an array element type. */
export type Dtype = keyof typeof DTYPES;

/** A typed array the protocol can carry. */
export type WireArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/**
 * The error codes of error frames (`docs/PROTOCOL.md` §5). `malformed`,
 * `frame-too-large` and `unsupported-version` are about frames; the others
 * about requests.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from "./frame.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(ERROR_CODES.includes("busy"));
 * assert.ok(ERROR_CODES.includes("no-such-chip"));
 * ```
 */
export const ERROR_CODES = [
  "malformed",
  "frame-too-large",
  "unsupported-version",
  "unknown-type",
  "unauthorized",
  "bad-request",
  "not-open",
  "no-such-chip",
  "busy",
  "too-many-requests",
  "too-many-sessions",
  "unsupported",
  "too-expensive",
  "not-connected",
  "internal",
] as const;

/**
 * One of {@linkcode ERROR_CODES}.
 *
 * @example
 * ```ts
 * import { type ErrorCode, ProtocolError } from "./frame.ts";
 * import assert from "node:assert/strict";
 *
 * function retryable(e: unknown): boolean {
 *   const again: ErrorCode[] = ["busy", "too-many-requests", "too-many-sessions"];
 *   return e instanceof ProtocolError && again.includes(e.code);
 * }
 * assert.equal(retryable(new ProtocolError("busy", "Chip sim-1 belongs to another session")), true);
 * assert.equal(retryable(new ProtocolError("no-such-chip", "This host has no chip sim-9")), false);
 * ```
 */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * A violation of the protocol, or an error frame received: its code, its
 * message and the request it answers (`null` when the frame had no usable id).
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./frame.ts";
 * import assert from "node:assert/strict";
 * const e = new ProtocolError("busy", "Chip hx-1 belongs to another session", 7);
 * assert.equal(e.code, "busy");
 * assert.equal(e.request, 7);
 * ```
 */
export class ProtocolError extends Error {
  /** The error's name. */
  override name = "ProtocolError";
  /**
   * An error of a code, with its message and request.
   *
   * @param code The error code.
   * @param message What went wrong, one sentence.
   * @param request The id of the request it answers, or null.
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly request: number | null = null,
  ) {
    super(message);
  }
}

/** A decoded frame. */
export interface Frame {
  /** Protocol version of the frame. */
  readonly v: number;
  /** Message type: a request type, `result` or `error`. */
  readonly type: string;
  /** Request id (u32): a request's own, or the id a `result`/`error` answers. */
  readonly id: number;
  /** The message body, typed arrays and non-finite numbers restored. */
  readonly body: Record<string, unknown>;
}

const _ALIGN = 8;
const _MAX_DEPTH = 32;
const _TYPE_RE = /^[a-z][a-z0-9-]{0,31}$/;
const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });

function _dtypeOf(a: ArrayBufferView): Dtype | undefined {
  for (const [name, ctor] of Object.entries(DTYPES)) {
    if (a instanceof ctor) return name as Dtype;
  }
  return undefined;
}

/** Whether an object is one of the `$array` / `$num` forms rather than a plain object. */
function _isForm(o: object): boolean {
  const keys = Object.keys(o);
  return keys.length === 1 && (keys[0] === "$array" || keys[0] === "$num");
}

function _pad(n: number): number {
  return (_ALIGN - (n % _ALIGN)) % _ALIGN;
}

/**
 * Encodes one frame. Typed arrays anywhere in `body` travel as binary
 * payload; non-finite numbers as `{"$num": …}`; `undefined` fields are
 * dropped, as JSON does.
 *
 * @example A measurement reply whose NaN survives
 * ```ts
 * import { decodeFrame, encodeFrame } from "./frame.ts";
 * import assert from "node:assert/strict";
 * const bytes = encodeFrame("result", 3, { readings: new Float32Array([1.5, NaN]), limit: Infinity });
 * const f = decodeFrame(bytes.subarray(4));
 * assert.equal(f.id, 3);
 * assert.ok(Number.isNaN((f.body.readings as Float32Array)[1]));
 * assert.equal(f.body.limit, Infinity);
 * ```
 */
export function encodeFrame(
  type: string,
  id: number,
  body: Record<string, unknown> = {},
  version: number = PROTOCOL_VERSION,
): Uint8Array {
  const arrays: WireArray[] = [];
  const table: { dtype: Dtype; shape: number[]; offset: number }[] = [];
  let payload = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > _MAX_DEPTH) throw new RangeError("Message nests deeper than 32 levels");
    if (typeof v === "number") {
      if (Number.isFinite(v)) return v;
      return { $num: Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity" };
    }
    if (v === null || typeof v !== "object") return v;
    if (ArrayBuffer.isView(v)) {
      const dtype = _dtypeOf(v);
      if (!dtype) throw new TypeError(`Cannot send a ${v.constructor.name} over the wire`);
      const a = v as WireArray;
      payload += _pad(payload);
      table.push({ dtype, shape: [a.length], offset: payload });
      arrays.push(a);
      payload += a.byteLength;
      return { $array: table.length - 1 };
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined && typeof x !== "function") out[k] = walk(x, depth + 1);
    }
    return out;
  };
  const header = { v: version, type, id, body: walk(body, 0), arrays: table };
  const json = _encoder.encode(JSON.stringify(header));
  const headerEnd = 8 + json.length;
  const payloadStart = headerEnd + _pad(headerEnd);
  const total = payloadStart + payload;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total - 4, true);
  view.setUint32(4, json.length, true);
  out.set(json, 8);
  arrays.forEach((a, k) => {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), payloadStart + table[k]!.offset);
  });
  return out;
}

function _malformed(message: string, id: number | null = null): ProtocolError {
  return new ProtocolError("malformed", message, id);
}

/**
 * Decodes one frame, given its bytes after the length prefix. Checks
 * everything before trusting it — UTF-8, JSON, version, type, id, the array
 * table (dtype, shape, alignment, bounds) and every `$array` reference — and
 * throws a {@linkcode ProtocolError} naming the first problem (with the
 * request id where the header had a usable one). Arrays are copied out of
 * `bytes`, so they are aligned and own their memory.
 *
 * @example A frame with an unknown version is refused with its id
 * ```ts
 * import { decodeFrame, encodeFrame, ProtocolError } from "./frame.ts";
 * import assert from "node:assert/strict";
 * const bytes = encodeFrame("hello", 9, {}, 2);
 * assert.throws(() => decodeFrame(bytes.subarray(4)),
 *   (e) => e instanceof ProtocolError && e.code === "unsupported-version" && e.request === 9);
 * ```
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 4) throw _malformed(`Frame of ${bytes.length} bytes has no header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = view.getUint32(0, true);
  if (h > bytes.length - 4) {
    throw _malformed(`Header length ${h} exceeds the frame's ${bytes.length - 4} remaining bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(_decoder.decode(bytes.subarray(4, 4 + h)));
  } catch (e) {
    throw _malformed(`Header is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw _malformed("Header is not a JSON object");
  }
  const hd = header as Record<string, unknown>;
  const id = typeof hd.id === "number" && Number.isInteger(hd.id) && hd.id >= 0 &&
      hd.id <= 0xffffffff
    ? hd.id
    : null;
  if (id === null) throw _malformed(`Header id must be an integer in 0..4294967295`);
  if (hd.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "unsupported-version",
      `Protocol version ${
        JSON.stringify(hd.v)
      } is not supported; this peer speaks ${PROTOCOL_VERSION}`,
      id,
    );
  }
  if (typeof hd.type !== "string" || !_TYPE_RE.test(hd.type)) {
    throw _malformed(
      `Header type must be a short lower-case name, got ${JSON.stringify(hd.type)}`,
      id,
    );
  }
  const body = hd.body ?? {};
  if (body === null || typeof body !== "object" || Array.isArray(body) || _isForm(body)) {
    throw _malformed("Header body must be a JSON object", id);
  }
  const table = hd.arrays ?? [];
  if (!Array.isArray(table)) throw _malformed("Header arrays must be a list", id);
  // The payload starts at the first 8-aligned offset after the header,
  // counted from the frame's first byte (4 bytes before `bytes`).
  const headerEnd = 8 + h;
  const payloadStart = headerEnd + _pad(headerEnd) - 4;
  const payloadBytes = bytes.length - payloadStart;
  const arrays = table.map((entry, k) => {
    const e = entry as Record<string, unknown> | null;
    if (e === null || typeof e !== "object") throw _malformed(`Array ${k} is not an object`, id);
    const ctor = Object.hasOwn(DTYPES, e.dtype as string) ? DTYPES[e.dtype as Dtype] : undefined;
    if (!ctor) throw _malformed(`Array ${k} has unknown dtype ${JSON.stringify(e.dtype)}`, id);
    const shape = e.shape;
    if (
      !Array.isArray(shape) || shape.length > 8 ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) {
      throw _malformed(`Array ${k} has a bad shape ${JSON.stringify(shape)}`, id);
    }
    const count = shape.reduce((a: number, d: number) => a * d, 1);
    const offset = e.offset;
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || (offset as number) % _ALIGN) {
      throw _malformed(`Array ${k} has a bad offset ${JSON.stringify(offset)}`, id);
    }
    const size = count * ctor.BYTES_PER_ELEMENT;
    if (payloadBytes < 0 || (offset as number) + size > payloadBytes) {
      throw _malformed(
        `Array ${k} (${e.dtype}, ${count} values at ${offset}) runs past the payload of ${
          Math.max(0, payloadBytes)
        } bytes`,
        id,
      );
    }
    const start = payloadStart + (offset as number);
    const copy = new Uint8Array(size);
    copy.set(bytes.subarray(start, start + size));
    return new ctor(copy.buffer);
  });
  const revive = (v: unknown, depth: number): unknown => {
    if (depth > _MAX_DEPTH) throw _malformed("Body nests deeper than 32 levels", id);
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((x) => revive(x, depth + 1));
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === "$array") {
      const k = o.$array;
      if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k >= arrays.length) {
        throw _malformed(`Reference to array ${JSON.stringify(k)} of ${arrays.length}`, id);
      }
      return arrays[k];
    }
    if (keys.length === 1 && keys[0] === "$num") {
      switch (o.$num) {
        case "NaN":
          return NaN;
        case "Infinity":
          return Infinity;
        case "-Infinity":
          return -Infinity;
        default:
          throw _malformed(`Unknown number ${JSON.stringify(o.$num)}`, id);
      }
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      // "__proto__" and friends become plain own properties, never prototypes.
      Object.defineProperty(out, k, {
        value: revive(o[k], depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return {
    v: PROTOCOL_VERSION,
    type: hd.type,
    id,
    body: revive(body, 0) as Record<string, unknown>,
  };
}

/**
 * Splits a byte stream (a host's stdout, a client's stdin) into frames. The
 * length prefix is checked against the limit before anything is buffered
 * for it, so an oversized prefix costs nothing: {@linkcode FrameReader.push}
 * returns a `frame-too-large` error and the reader refuses everything after
 * (the stream cannot be resynchronised; close it).
 *
 * @example Two frames arriving in odd pieces
 * ```ts
 * import { encodeFrame, FrameReader } from "./frame.ts";
 * import assert from "node:assert/strict";
 * const a = encodeFrame("hello", 1), b = encodeFrame("close", 2);
 * const all = new Uint8Array([...a, ...b]);
 * const r = new FrameReader();
 * const got = [...r.push(all.subarray(0, 3)), ...r.push(all.subarray(3, a.length + 5)),
 *   ...r.push(all.subarray(a.length + 5))];
 * assert.equal(got.length, 2);
 * assert.equal(r.pending, 0);
 * ```
 */
export class FrameReader {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #broken: ProtocolError | undefined;

  /**
   * A reader that refuses frames above a limit.
   *
   * @param maxFrameBytes Largest frame accepted, length prefix excluded.
   */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes;
  }

  /** Bytes received that do not form a whole frame yet. */
  get pending(): number {
    return this.#buffered;
  }

  /** The error that stopped the reader, if any. */
  get broken(): ProtocolError | undefined {
    return this.#broken;
  }

  /**
   * Adds received bytes; returns the complete frames (their bytes after the
   * length prefix, ready for {@linkcode decodeFrame}) and, once, the error
   * that makes the stream unusable.
   */
  push(chunk: Uint8Array): (Uint8Array | ProtocolError)[] {
    if (this.#broken) return [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: (Uint8Array | ProtocolError)[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const n = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
      if (n > this.#max || n < 4) {
        this.#broken = new ProtocolError(
          n < 4 ? "malformed" : "frame-too-large",
          n < 4
            ? `Length prefix ${n} is shorter than a header length field`
            : `Frame of ${n} bytes exceeds the limit of ${this.#max}`,
        );
        this.#chunks = [];
        this.#buffered = 0;
        out.push(this.#broken);
        return out;
      }
      if (this.#buffered < 4 + n) break;
      const whole = this.#take(4 + n);
      out.push(whole.subarray(4));
    }
    return out;
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return this.#concat(n, false);
  }

  #take(n: number): Uint8Array {
    const out = this.#concat(n, true);
    this.#buffered -= n;
    return out;
  }

  #concat(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    let i = 0;
    while (at < n) {
      const c = this.#chunks[i]!;
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (consume) {
        if (take === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(take);
      } else i++;
    }
    return out;
  }
}
