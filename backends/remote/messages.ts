/**
 * The messages of protocol v1 (`docs/PROTOCOL.md` §4) as TypeScript types,
 * and the conversions both ends share: chip configurations as one `i32`
 * array per field (`chips × size`, chip-major), their deltas, and the
 * mapping of error frames back to the errors the library throws locally
 * (`bad-request` with `error: "RangeError"` is a `RangeError` again).
 *
 * @module
 */

import type { ChipRef, Truth } from "../backend.ts";
import { type ChipConfig, FIELD_NAMES, type FieldName, FIELDS, fieldSize } from "../config.ts";
import type { TwinConfig } from "../twin/twin_config.ts";
import { type ErrorCode, ProtocolError } from "./frame.ts";

/** The requests that act on a session's chips (after `open`). */
export const CHIP_REQUEST_TYPES = [
  "write",
  "config",
  "measure",
  "search",
  "truth",
  "counters",
  "counters-restore",
] as const;

/** The request types of protocol v1, in the order a session uses them. */
export const REQUEST_TYPES = ["auth", "hello", "open", ...CHIP_REQUEST_TYPES, "close"] as const;

/** One of {@linkcode REQUEST_TYPES}. */
export type RequestType = (typeof REQUEST_TYPES)[number];

/**
 * Whether a text is a valid chip id on the wire: 1–128 characters of
 * `A–Z a–z 0–9 . _ -`, starting with a letter or digit (ids name files).
 *
 * @example
 * ```ts
 * import { isChipId } from "./messages.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isChipId("hx-07.w12"), true);
 * assert.equal(isChipId("../etc"), false);
 * ```
 */
export function isChipId(id: unknown): id is string {
  return typeof id === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id);
}

/** A chip a host offers: its id, its 32-bit RNG key and, for a twin, its seed. */
export interface HostChip extends ChipRef {
  /** The chip's RNG key (a twin's seed, or {@linkcode keyOfId} of a hardware chip's id). */
  readonly key: number;
}

/** What a host can do beyond write / config / measure. */
export interface HostCapabilities {
  /** The measurement kinds it implements. */
  readonly measurements: readonly string[];
  /** Whether it runs whole `SearchSpec`s itself (one round trip per search). */
  readonly search: boolean;
  /** Whether it answers `truth` (twin hosts only). */
  readonly truth: boolean;
}

/** The limits a host enforces. */
export interface HostLimits {
  /** Largest frame it accepts, length prefix excluded. */
  readonly max_frame_bytes: number;
  /** Requests a session may have unanswered at once. */
  readonly max_in_flight: number;
  /** Sessions at once. */
  readonly max_sessions: number;
  /** Seconds a partly received frame may wait for the rest (stream transports). */
  readonly idle_timeout_s: number;
  /** Longest wait for busy chips an `open` may ask for. */
  readonly max_open_wait_s: number;
  /** Most integration steps per neuron one measurement may ask for. */
  readonly max_measurement_steps: number;
  /** Most measurements one search may run, its sub-searches' included. */
  readonly max_search_measurements: number;
}

/** The body of a `hello` result. */
export interface HelloResult {
  /** The protocol version the host speaks. */
  readonly protocol: number;
  /** The host software and its version, e.g. `lifcal/0.1.0`. */
  readonly server: string;
  /** `twin` (simulated chips; `truth` available) or `hardware`. */
  readonly host: "twin" | "hardware";
  /** One line on what serves the chips. */
  readonly description: string;
  /** Every chip the host offers, in the host's order. */
  readonly chips: readonly HostChip[];
  /** The twin model's numbers (twin hosts; they enter the calibration cache key), else null. */
  readonly twin: TwinConfig | null;
  /** What it can do. */
  readonly capabilities: HostCapabilities;
  /** What it allows. */
  readonly limits: HostLimits;
}

/** Configurations on the wire: one `chips × size` `i32` array per field. */
export type WireConfig = { [K in FieldName]?: Int32Array };

/**
 * One `chips × size` array per field of a list of chip configurations.
 *
 * @example
 * ```ts
 * import { configToWire } from "./messages.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const w = configToWire([initialConfig(), initialConfig()]);
 * assert.equal(w.v_leak!.length, 1024);
 * assert.equal(w.cadc_channel_offset!.length, 2048);
 * ```
 */
export function configToWire(
  configs: readonly ChipConfig[],
  fields: readonly FieldName[] = FIELD_NAMES,
): WireConfig {
  const out: WireConfig = {};
  for (const field of fields) {
    const size = fieldSize(field);
    const a = new Int32Array(configs.length * size);
    configs.forEach((c, k) => a.set(c[field], k * size));
    out[field] = a;
  }
  return out;
}

/**
 * The fields in which two snapshots of the same chips differ, on the wire.
 *
 * @example
 * ```ts
 * import { configDelta } from "./messages.ts";
 * import { cloneConfig, initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const a = [initialConfig()];
 * const b = [cloneConfig(a[0]!)];
 * b[0]!.v_leak[3] = 7;
 * assert.deepEqual(Object.keys(configDelta(a, b)), ["v_leak"]);
 * ```
 */
export function configDelta(
  before: readonly ChipConfig[],
  after: readonly ChipConfig[],
): WireConfig {
  const changed = FIELD_NAMES.filter((f) =>
    after.some((c, k) => {
      const x = c[f];
      const y = before[k]![f];
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return true;
      return false;
    })
  );
  return configToWire(after, changed);
}

/**
 * Applies wire fields (a full configuration or a delta) to chip
 * configurations in place. Throws a `RangeError` for an unknown field, a
 * wrong length or a value outside the field's range.
 *
 * @example
 * ```ts
 * import { applyWireConfig } from "./messages.ts";
 * import { initialConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const cs = [initialConfig(), initialConfig()];
 * applyWireConfig(cs, { v_leak: new Int32Array(1024).fill(9) });
 * assert.equal(cs[1]!.v_leak[511], 9);
 * ```
 */
export function applyWireConfig(configs: ChipConfig[], wire: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(wire)) {
    if (!Object.hasOwn(FIELDS, name)) throw new RangeError(`Unknown configuration field "${name}"`);
    const field = name as FieldName;
    const size = fieldSize(field);
    const spec = FIELDS[field];
    if (!ArrayBuffer.isView(value) || (value as Int32Array).length !== configs.length * size) {
      throw new RangeError(
        `Configuration field ${field} must be an array of ${configs.length * size} values`,
      );
    }
    const a = value as Int32Array;
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (!Number.isInteger(v) || v < spec.min || v > spec.max) {
        throw new RangeError(
          `Configuration field ${field} has ${v} at element ${i}, outside ${spec.min}..${spec.max}`,
        );
      }
    }
    configs.forEach((c, k) => c[field].set(a.subarray(k * size, (k + 1) * size)));
  }
}

/** The fields of {@linkcode Truth}, in a stable order. */
export const TRUTH_FIELDS = [
  "E_L",
  "V_rest",
  "V_R",
  "V_T",
  "tau_mem",
  "tau_syn_exc",
  "tau_syn_inh",
  "C_m",
  "t_ref",
  "E_L_cadc",
  "V_rest_cadc",
  "V_R_cadc",
  "V_T_cadc",
  "E_rev_exc",
  "E_rev_inh",
  "E_cref_exc",
  "E_cref_inh",
  "E_rev_exc_cadc",
  "E_rev_inh_cadc",
  "E_cref_exc_cadc",
  "E_cref_inh_cadc",
] as const satisfies readonly (keyof Truth)[];

/**
 * Checks a truth received over the wire: every field a `Float64Array` of
 * `chips × 512` values.
 *
 * @example
 * ```ts
 * import { truthFromWire } from "./messages.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => truthFromWire({ E_L: new Float64Array(3) }, 1), RangeError);
 * ```
 */
export function truthFromWire(wire: Record<string, unknown>, chips: number): Truth {
  const out: Record<string, Float64Array> = {};
  for (const f of TRUTH_FIELDS) {
    const v = wire[f];
    if (!(v instanceof Float64Array) || v.length !== chips * 512) {
      throw new RangeError(`Truth field ${f} must be ${chips * 512} f64 values`);
    }
    out[f] = v;
  }
  return out as unknown as Truth;
}

/**
 * The error a client throws for an error frame: the library's own
 * `RangeError`/`TypeError` for a `bad-request` that names one (so a bad
 * patch fails the same way on every backend), a {@linkcode ProtocolError}
 * otherwise.
 *
 * @example
 * ```ts
 * import { errorFromFrame } from "./messages.ts";
 * import assert from "node:assert/strict";
 * const e = errorFromFrame({ code: "bad-request", error: "RangeError", message: "v_leak must lie in 0..1022" }, 4);
 * assert.ok(e instanceof RangeError);
 * ```
 */
export function errorFromFrame(body: Record<string, unknown>, id: number): Error {
  const message = typeof body.message === "string" ? body.message : "Error without a message";
  const code = (typeof body.code === "string" ? body.code : "internal") as ErrorCode;
  if (code === "bad-request" && body.error === "RangeError") return new RangeError(message);
  if (code === "bad-request" && body.error === "TypeError") return new TypeError(message);
  return new ProtocolError(code, message, id);
}
