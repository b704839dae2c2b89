/**
 * Times and rates with units, as users write them in targets and options:
 * `"10 us"`, `"2e-6 s"`, `{ value: 10, unit: "us" }`, `"100 kHz"`. Parsing
 * yields SI numbers (seconds, hertz); formatting turns SI numbers back into
 * strings or objects that parse to the very same double.
 *
 * A number without a unit is rejected with a `TypeError`, as calix did for
 * time constants that were not `quantities` values: `10` could mean seconds or
 * microseconds, and guessing wrong is a factor of a million.
 *
 * Conversion is decimal: `"0.1 us"` is parsed as the decimal `0.1e-6`, and
 * `{ value: 0.1, unit: "us" }` as the shortest decimal of `0.1` shifted by six
 * places, so both give the double nearest to 10⁻⁷ (not `0.1 × 1e-6`, which is
 * one ulp off).
 *
 * @example Parse and format
 * ```ts
 * import { formatTime, parseTime } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseTime("10 us", "tau_mem"), 1e-5);
 * assert.equal(formatTime(2.048e-6), "2.048 us");
 * assert.throws(() => parseTime(10, "tau_mem"), TypeError);
 * ```
 *
 * @module
 */

/**
 * Units a time may carry; `µs` is accepted with either micro sign (U+00B5 or U+03BC).
 *
 * @example
 * ```ts
 * import { parseTime, type TimeUnit } from "./units.ts";
 * import assert from "node:assert/strict";
 *
 * const unit: TimeUnit = "ms";
 * assert.equal(parseTime({ value: 2, unit }, "window"), 2e-3);
 * ```
 */
export type TimeUnit = "s" | "ms" | "us" | "µs" | "μs" | "ns";

/**
 * Units a rate may carry.
 *
 * @example
 * ```ts
 * import { parseRate, type RateUnit } from "./units.ts";
 * import assert from "node:assert/strict";
 *
 * const unit: RateUnit = "kHz";
 * assert.equal(parseRate({ value: 100, unit }, "rate"), 1e5);
 * ```
 */
export type RateUnit = "Hz" | "kHz" | "MHz";

/**
 * One time with its unit: a string such as `"10 us"`, `"2e-6s"` or
 * `"500 ns"`, or an object `{ value, unit }`.
 *
 * @example
 * ```ts
 * import type { TimeValue } from "./units.ts";
 * const a: TimeValue = "10 us";
 * const b: TimeValue = { value: 10, unit: "us" };
 * ```
 */
export type TimeValue = string | { readonly value: number; readonly unit: TimeUnit };

/**
 * One time, an array of times (each with its unit), or an array of numbers in
 * one unit (`{ value: [...], unit }`).
 *
 * @example
 * ```ts
 * import type { TimesValue } from "./units.ts";
 * const scalar: TimesValue = "2 us";
 * const each: TimesValue = ["2 us", "3 us"];
 * const oneUnit: TimesValue = { value: [2, 3], unit: "us" };
 * ```
 */
export type TimesValue =
  | TimeValue
  | readonly TimeValue[]
  | { readonly value: readonly number[] | Float64Array; readonly unit: TimeUnit };

/**
 * One rate with its unit: `"100 kHz"`, `"1e5 Hz"` or `{ value: 100, unit: "kHz" }`.
 *
 * @example
 * ```ts
 * import type { RateValue } from "./units.ts";
 * const r: RateValue = "100 kHz";
 * ```
 */
export type RateValue = string | { readonly value: number; readonly unit: RateUnit };

/**
 * One rate, an array of rates, or an array of numbers in one unit.
 *
 * @example
 * ```ts
 * import type { RatesValue } from "./units.ts";
 * const r: RatesValue = { value: [10, 100], unit: "kHz" };
 * ```
 */
export type RatesValue =
  | RateValue
  | readonly RateValue[]
  | { readonly value: readonly number[] | Float64Array; readonly unit: RateUnit };

/**
 * What {@linkcode formatTimes} returns: one string when every element is the
 * same, otherwise the numbers in seconds.
 *
 * @example
 * ```ts
 * import type { TimesJson } from "./units.ts";
 * const same: TimesJson = "2 us";
 * const each: TimesJson = { value: [2e-6, 3e-6], unit: "s" };
 * ```
 */
export type TimesJson = string | { value: number[]; unit: "s" };

/**
 * What {@linkcode formatRates} returns: one string when every element is the
 * same, otherwise the numbers in hertz.
 *
 * @example
 * ```ts
 * import type { RatesJson } from "./units.ts";
 * const each: RatesJson = { value: [1e4, 1e5], unit: "Hz" };
 * ```
 */
export type RatesJson = string | { value: number[]; unit: "Hz" };

interface _Kind {
  readonly name: string;
  /** Decimal exponent of each unit relative to the SI unit. */
  readonly units: Readonly<Record<string, number>>;
  readonly listed: string;
  readonly example: string;
}

const _TIME: _Kind = {
  name: "time",
  units: { s: 0, ms: -3, us: -6, "\u00b5s": -6, "\u03bcs": -6, ns: -9 },
  listed: "s, ms, us, µs or ns",
  example: '"10 us"',
};

const _RATE: _Kind = {
  name: "rate",
  units: { Hz: 0, kHz: 3, MHz: 6 },
  listed: "Hz, kHz or MHz",
  example: '"100 kHz"',
};

/** Sign, digits with an optional point, optional exponent, optional unit. */
const _QUANTITY = /^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+))?\s*([^\s\d.+-]\S*)?\s*$/u;

/**
 * Parses one time into seconds. Accepts `"10us"`, `"10 us"`, `"10 µs"`,
 * `"10μs"`, `"2e-6 s"`, `"500 ns"`, `"1 ms"`, `"0.5us"` and
 * `{ value: number, unit }`. Throws `TypeError`, naming `field`, for a number
 * or numeric string without a unit, an unknown unit, or a value that is not
 * finite. Negative times are returned as they are (range checks are the
 * caller's).
 *
 * @example Every form of ten microseconds
 * ```ts
 * import { parseTime } from "./units.ts";
 * import assert from "node:assert/strict";
 * for (const t of ["10us", "10 us", "10 µs", "10μs", "1e-5 s", "10000 ns", "0.01 ms"]) {
 *   assert.equal(parseTime(t, "tau_mem"), 1e-5);
 * }
 * assert.equal(parseTime({ value: 10, unit: "us" }, "tau_mem"), 1e-5);
 * assert.throws(() => parseTime(10, "tau_mem"), /tau_mem needs a unit, e\.g\. "10 us"; got 10/);
 * ```
 */
export function parseTime(value: unknown, field: string): number {
  return _parseOne(value, field, _TIME);
}

/**
 * Parses one time or many into seconds: a single time gives a number; an
 * array of times (each a string or `{ value, unit }`) or `{ value: number[],
 * unit }` gives a `Float64Array` of the same length. Errors name the element
 * (`tau_mem[3]`, `tau_mem.value[3]`).
 *
 * @example Scalar and per-neuron forms
 * ```ts
 * import { parseTimes } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseTimes("2 us", "refractory_time"), 2e-6);
 * assert.deepEqual(parseTimes(["2 us", "3 us"], "refractory_time"), Float64Array.of(2e-6, 3e-6));
 * assert.deepEqual(
 *   parseTimes({ value: [2, 3], unit: "us" }, "refractory_time"),
 *   Float64Array.of(2e-6, 3e-6),
 * );
 * assert.throws(() => parseTimes(["2 us", 3], "refractory_time"), /refractory_time\[1\]/);
 * ```
 */
export function parseTimes(value: unknown, field: string): number | Float64Array {
  return _parseMany(value, field, _TIME);
}

/**
 * Parses one rate into hertz: `"100kHz"`, `"100 kHz"`, `"1e5 Hz"`,
 * `"0.1 MHz"` or `{ value, unit }`. A number without a unit is a `TypeError`.
 *
 * @example
 * ```ts
 * import { parseRate } from "./units.ts";
 * import assert from "node:assert/strict";
 * for (const r of ["100kHz", "100 kHz", "1e5 Hz", "0.1 MHz"]) assert.equal(parseRate(r, "rate"), 1e5);
 * assert.equal(parseRate({ value: 100, unit: "kHz" }, "rate"), 1e5);
 * assert.throws(() => parseRate(100e3, "rate"), TypeError);
 * ```
 */
export function parseRate(value: unknown, field: string): number {
  return _parseOne(value, field, _RATE);
}

/**
 * Parses one rate or many into hertz, like {@linkcode parseTimes}.
 *
 * @example
 * ```ts
 * import { parseRates } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseRates(["10 kHz", "0.1 MHz"], "rate"), Float64Array.of(1e4, 1e5));
 * assert.deepEqual(parseRates({ value: [10, 100], unit: "kHz" }, "rate"), Float64Array.of(1e4, 1e5));
 * ```
 */
export function parseRates(value: unknown, field: string): number | Float64Array {
  return _parseMany(value, field, _RATE);
}

/**
 * A canonical string for a time in seconds, in microseconds, that
 * {@linkcode parseTime} turns back into exactly the same double (the shortest
 * decimal that identifies the double, shifted by six places as text). Throws
 * `RangeError` for a value that is not finite.
 *
 * @example
 * ```ts
 * import { formatTime, parseTime } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatTime(1e-5), "10 us");
 * assert.equal(formatTime(1.5e-7), "0.15 us");
 * const x = 1.2345678901234567e-6;
 * assert.equal(parseTime(formatTime(x), "t"), x);
 * ```
 */
export function formatTime(seconds: number): string {
  return `${_shiftDecimal(seconds, 6, "time")} us`;
}

/**
 * Times in seconds as JSON: one string ({@linkcode formatTime}) when every
 * element is equal (or for a scalar), otherwise `{ value: [...], unit: "s" }`,
 * which parses back exactly (and survives `JSON.stringify`/`JSON.parse`).
 *
 * @example
 * ```ts
 * import { formatTimes, parseTimes } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatTimes(new Float64Array(512).fill(2e-6)), "2 us");
 * const mixed = Float64Array.of(2e-6, 3.3e-6);
 * assert.deepEqual(formatTimes(mixed), { value: [2e-6, 3.3e-6], unit: "s" });
 * assert.deepEqual(parseTimes(formatTimes(mixed), "t"), mixed);
 * ```
 */
export function formatTimes(values: number | ArrayLike<number>): TimesJson {
  if (typeof values === "number") return formatTime(values);
  const same = _uniform(values);
  if (same !== undefined) return formatTime(same);
  return { value: _finiteArray(values, "time"), unit: "s" };
}

/**
 * A canonical string for a rate in hertz that {@linkcode parseRate} turns back
 * into exactly the same double.
 *
 * @example
 * ```ts
 * import { formatRate, parseRate } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatRate(1e5), "100000 Hz");
 * assert.equal(parseRate(formatRate(123.456), "rate"), 123.456);
 * ```
 */
export function formatRate(hertz: number): string {
  return `${_shiftDecimal(hertz, 0, "rate")} Hz`;
}

/**
 * Rates in hertz as JSON, like {@linkcode formatTimes}: one string when all
 * are equal, otherwise `{ value: [...], unit: "Hz" }`.
 *
 * @example
 * ```ts
 * import { formatRates } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatRates([1e5, 1e5]), "100000 Hz");
 * assert.deepEqual(formatRates([1e4, 1e5]), { value: [1e4, 1e5], unit: "Hz" });
 * ```
 */
export function formatRates(values: number | ArrayLike<number>): RatesJson {
  if (typeof values === "number") return formatRate(values);
  const same = _uniform(values);
  if (same !== undefined) return formatRate(same);
  return { value: _finiteArray(values, "rate"), unit: "Hz" };
}

function _uniform(values: ArrayLike<number>): number | undefined {
  if (values.length === 0) return undefined;
  const first = values[0]!;
  for (let i = 1; i < values.length; i++) if (values[i] !== first) return undefined;
  return first;
}

function _finiteArray(values: ArrayLike<number>, kind: string): number[] {
  const out = Array.from(values);
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`Cannot format ${kind} ${out[bad]} at index ${bad}`);
  return out;
}

function _describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `a${typeof value === "object" ? "n object" : ` ${typeof value}`}`;
}

function _needsUnit(field: string, kind: _Kind, value: unknown): TypeError {
  return new TypeError(`${field} needs a unit, e.g. ${kind.example}; got ${_describe(value)}`);
}

/** `mantissa × 10^exponent` correctly rounded, via JavaScript's decimal parser. */
function _decimal(mantissa: string, exponent: number): number {
  return Number(`${mantissa}e${exponent}`);
}

/** `value × 10^shift`, computed on the shortest decimal of `value`. */
function _shift(value: number, shift: number): number {
  if (shift === 0) return value;
  const [mantissa, exponent] = String(value).split("e");
  return _decimal(mantissa!, Number(exponent ?? 0) + shift);
}

function _unitShift(unit: unknown, field: string, kind: _Kind): number {
  if (typeof unit === "string" && Object.hasOwn(kind.units, unit)) return kind.units[unit]!;
  throw new TypeError(
    `${field} has an unknown ${kind.name} unit ${_describe(unit)}; use ${kind.listed}`,
  );
}

function _parseOne(value: unknown, field: string, kind: _Kind): number {
  if (typeof value === "number") throw _needsUnit(field, kind, value);
  if (typeof value === "string") {
    const m = _QUANTITY.exec(value);
    if (m === null) {
      throw new TypeError(
        `${field} is not a ${kind.name} with a unit, e.g. ${kind.example}; got ${_describe(value)}`,
      );
    }
    const [, mantissa, exponent, unit] = m;
    if (unit === undefined) throw _needsUnit(field, kind, value);
    const shift = _unitShift(unit, field, kind);
    const out = _decimal(mantissa!, Number(exponent ?? 0) + shift);
    if (!Number.isFinite(out)) {
      throw new TypeError(`${field} must be a finite ${kind.name}; got ${_describe(value)}`);
    }
    return out;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const { value: v, unit } = value as { value?: unknown; unit?: unknown };
    if (unit === undefined) throw _needsUnit(field, kind, v ?? value);
    const shift = _unitShift(unit, field, kind);
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(
        `${field}.value must be a finite number; got ${_describe(v)}`,
      );
    }
    const out = _shift(v, shift);
    if (!Number.isFinite(out)) {
      throw new TypeError(`${field} must be a finite ${kind.name}; got ${v} ${String(unit)}`);
    }
    return out;
  }
  throw new TypeError(
    `${field} must be a ${kind.name} with a unit, e.g. ${kind.example}; got ${_describe(value)}`,
  );
}

function _isNumberArray(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || v instanceof Float64Array || v instanceof Float32Array ||
    v instanceof Int32Array;
}

function _parseMany(value: unknown, field: string, kind: _Kind): number | Float64Array {
  if (Array.isArray(value)) {
    return Float64Array.from(value, (v, i) => _parseOne(v, `${field}[${i}]`, kind));
  }
  if (typeof value === "object" && value !== null && _isNumberArray(Reflect.get(value, "value"))) {
    const { value: values, unit } = value as { value: ArrayLike<unknown>; unit?: unknown };
    if (unit === undefined) throw _needsUnit(field, kind, value);
    const shift = _unitShift(unit, field, kind);
    const out = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new TypeError(`${field}.value[${i}] must be a finite number; got ${_describe(v)}`);
      }
      const x = _shift(v, shift);
      if (!Number.isFinite(x)) {
        throw new TypeError(`${field}.value[${i}] must be a finite ${kind.name}; got ${v}`);
      }
      out[i] = x;
    }
    return out;
  }
  return _parseOne(value, field, kind);
}

/**
 * The shortest decimal of `value` multiplied by 10^shift, written as text
 * (plain where that is short, otherwise with an exponent), so that parsing it
 * and shifting back reproduces the decimal, hence the double, exactly.
 */
function _shiftDecimal(value: number, shift: number, kind: string): string {
  if (!Number.isFinite(value)) throw new RangeError(`Cannot format ${kind} ${value}`);
  if (value === 0) return "0";
  const text = String(Math.abs(value));
  const sign = value < 0 ? "-" : "";
  const [mantissa, exponent] = text.split("e");
  const [whole, fraction = ""] = mantissa!.split(".");
  let digits = whole! + fraction;
  // The decimal point sits after `point` digits of `digits`.
  let point = whole!.length + Number(exponent ?? 0) + shift;
  while (digits.length > 1 && digits[0] === "0") {
    digits = digits.slice(1);
    point--;
  }
  digits = digits.replace(/0+$/, "");
  if (point > 21 || point < -6) {
    const rest = digits.slice(1);
    return `${sign}${digits[0]}${rest === "" ? "" : `.${rest}`}e${point - 1}`;
  }
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
