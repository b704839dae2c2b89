#!/usr/bin/env python3
"""A lifcal hardware host skeleton: protocol v1 (docs/PROTOCOL.md) over stdin/stdout.

lifcal spawns this process, writes request frames to its stdin and reads the answers from its
stdout; logs go to stderr only (a stray print() is sent to stderr too). Everything protocol is
done here: frames, validation, the configuration mirror, counters, repeats. What touches a chip is
in the Chip class, one method per hardware operation; its stand-in bodies raise NotConnected,
which the client sees as the error code `not-connected`. A lab replaces those bodies with its
calix / haldls calls (see README.md next to this file); nothing else should need to change.

Run it (standard library only, Python >= 3.10, Linux or macOS):

  lifcal conformance --protocol-only --bridge "python3 examples/hardware_host/host.py"
  lifcal calibrate --backend remote --bridge "python3 examples/hardware_host/host.py --chips hx-01"

Options: --chips ID,ID,... (default hx-01), --idle-timeout SECONDS (default 30).
"""

from __future__ import annotations

import array
import json
import math
import os
import re
import select
import sys
import time
import traceback
from collections import OrderedDict
from typing import Any, NoReturn

PROTOCOL_VERSION = 1
SERVER = "lifcal-hardware-host-skeleton/1"
DESCRIPTION = "BrainScaleS-2 hardware host skeleton (stand-in Chip: no chip connected)"
LIMITS = {"max_frame_bytes": 64 * 1024 * 1024, "max_in_flight": 8, "max_sessions": 1,
          "idle_timeout_s": 30, "max_open_wait_s": 60, "max_measurement_steps": 20_000_000,
          "max_search_measurements": 1000}
REQUEST_TYPES = ("auth", "hello", "open", "write", "config", "measure", "search", "truth",
                 "counters", "counters-restore", "close")
REMEMBERED = 64  # answers kept for repeated request ids (§7)

# Configuration fields (backends/config.ts FIELDS): name -> (group, scope, min, max, power-on).
SCOPE_SIZE = {"neuron": 512, "quadrant": 4, "hemisphere": 2, "channel": 1024}
_CAP = ("capmem", "neuron", 0, 1022)  # per-neuron CapMem rows
_QUAD = ("capmem", "quadrant", 0, 1022)  # CapMem cells shared by a quadrant's neurons
_FLAG = ("digital", "neuron", 0, 1)
FIELDS: dict[str, tuple[str, str, int, int, int]] = {
    "v_leak": (*_CAP, 400), "v_reset": (*_CAP, 300), "v_threshold": (*_CAP, 600),
    "i_bias_leak": (*_CAP, 500), "i_bias_reset": (*_CAP, 1012), "i_mem_offset": (*_CAP, 0),
    "i_bias_synin_exc_tau": (*_CAP, 500), "i_bias_synin_exc_gm": (*_CAP, 0),
    "i_bias_synin_exc_shift": (*_CAP, 300), "i_bias_synin_inh_tau": (*_CAP, 500),
    "i_bias_synin_inh_gm": (*_CAP, 0), "i_bias_synin_inh_shift": (*_CAP, 300),
    "e_synin_exc_rev": (*_CAP, 500), "e_synin_inh_rev": (*_CAP, 500),
    "i_bias_synin_exc_coba": (*_CAP, 0), "i_bias_synin_inh_coba": (*_CAP, 0),
    "syn_i_bias_dac": (*_QUAD, 600), "cadc_v_ramp_offset": (*_QUAD, 600),
    "cadc_i_ramp_slope": (*_QUAD, 500), "membrane_capacitance": ("digital", "neuron", 0, 63, 63),
    "leak_division": (*_FLAG, 0), "leak_multiplication": (*_FLAG, 0),
    "synin_exc_enable": (*_FLAG, 0), "synin_inh_enable": (*_FLAG, 0),
    "synin_exc_high_resistance": (*_FLAG, 0), "synin_inh_high_resistance": (*_FLAG, 0),
    "coba_exc_enable": (*_FLAG, 0), "coba_inh_enable": (*_FLAG, 0),
    "threshold_enable": (*_FLAG, 1), "offset_current_enable": (*_FLAG, 0),
    "refractory_counter": ("digital", "neuron", 0, 255, 32),
    "reset_holdoff": ("digital", "neuron", 0, 15, 15), "input_clock": (*_FLAG, 1),
    "enable_readout": (*_FLAG, 0),  # at most one neuron per chip (checked in resolve_patch)
    "clock_scale_fast": ("digital", "hemisphere", 0, 15, 3),
    "clock_scale_slow": ("digital", "hemisphere", 0, 15, 9),
    "cadc_channel_offset": ("digital", "channel", -128, 127, 0),
}

# Measurement kinds (backends/measurement.ts): kind -> (values per chip, the Chip method that
# takes it, its positive settings). Settings are SI seconds or counts; integer ones below.
# A membrane-trace has trace_samples(m) values per chip (None here).
MEASUREMENTS = {
    "resting-potential": (512, "read_cadc", "reads"),
    "reset-potential": (512, "read_cadc", "reads"),
    "threshold-max": (512, "read_cadc", "samples batches dtSeconds"),
    "tau-mem": (512, "record_madc", "windowSeconds stepSeconds maxSamples"),
    "tau-mem-reset": (512, "record_madc", "windowSeconds maxSamples"),
    "tau-mem-cadc": (512, "read_cadc", "waitSeconds"),
    "tau-syn-exc": (512, "record_madc", "windowSeconds events weight maxSamples"),
    "tau-syn-inh": (512, "record_madc", "windowSeconds events weight maxSamples"),
    "synline-drop": (4, "send_events", "weight"),
    "psp-amplitude-exc": (512, "send_events", "events spacingSeconds runs weight dtSeconds"),
    "psp-amplitude-inh": (512, "send_events", "events spacingSeconds runs weight dtSeconds"),
    "spike-count": (512, "count_spikes", "windowSeconds dtSeconds"),
    "cadc-reference": (1024, "read_cadc", ""),
    "membrane-trace": (None, "record_madc", "windowSeconds maxSamples"),
}
_INTEGER_SETTINGS = ("reads", "samples", "batches", "maxSamples", "events", "runs")
_REQUIRED = {"tau-mem-cadc": "waitSeconds", "spike-count": "windowSeconds",
             "membrane-trace": "windowSeconds"}
MADC_SAMPLE_RATE = 29.4e6  # MADC samples per second (backends/measurement.ts)
MAX_TRACE_SAMPLES = 65536


class NotConnected(Exception):
    """A Chip operation with no hardware behind it (the stand-in)."""


class Chip:
    """One BrainScaleS-2 chip. Fill in each method with the calix / haldls calls it names.

    Arrays are per chip: 512 per neuron, 4 per quadrant, 2 per hemisphere, 1024 per CADC channel.
    Potentials are CADC LSB, times SI seconds. Raise NotConnected when the chip is unreachable.
    """

    def __init__(self, chip_id: str) -> None:
        self.id = chip_id  # a lab opens its connection here (hxcomm, calix base.StatefulConnection)

    def _stand_in(self, method: str) -> NoReturn:
        raise NotConnected("no chip is connected to this host: fill in "
                           f"Chip.{method} with your hardware calls")

    def reinit(self) -> None:
        """Power-on state: run the calix StatefulConnection reinit program, or `base.run` of a
        default haldls/lola Chip config, so the chip matches backends/config.ts `initial`."""
        self._stand_in("reinit")

    def write_capmem(self, cells: dict[str, list[int]]) -> None:
        """CapMem writes: per-neuron rows (haldls CapMemCell / lola AtomicNeuron values) and the
        quadrant cells syn_i_bias_dac, cadc_v_ramp_offset, cadc_i_ramp_slope (CapMemBlock
        shared columns), in one program; then wait 20 ms for the cells to settle, as calix does
        (constants.capmem_level_off_time)."""
        self._stand_in("write_capmem")

    def write_digital(self, settings: dict[str, list[int]]) -> None:
        """Digital settings: haldls NeuronConfig (capacitance, leak ÷/×, synaptic inputs and
        their high-resistance mode, threshold, offset current), NeuronBackendConfig
        (refractory_counter, reset_holdoff, input_clock), CommonNeuronBackendConfig per
        hemisphere (clock scales) and CADCChannelConfig offsets (cadc_channel_offset)."""
        self._stand_in("write_digital")

    def read_cadc(self, kind: str, settings: dict[str, Any]) -> list[float]:
        """CADC reads (calix cadc_helpers.read_cadcs; a neuron reads the mean of its causal and
        acausal channel): resting-potential (settled membrane, `reads` averaged),
        reset-potential (NeuronResetQuad, 10 µs, read while held in reset), threshold-max
        (ThresholdCalibCADC: offset current on, 3 × 1000 back-to-back reads, maximum),
        tau-mem-cadc (reset, release, wait `waitSeconds`, read: MembraneTimeConstCalibCADC),
        cadc-reference (all 1024 channels on the debug line at CapMem `code`, raw: cadc.py)."""
        self._stand_in("read_cadc")

    def record_madc(self, kind: str, settings: dict[str, Any]) -> list[float]:
        """MADC traces, one neuron after the other (calix madc_base Recorder), and the
        exponential fit of each: tau-mem (MembraneTimeConstCalibOffset: offset-current step),
        tau-mem-reset (MembraneTimeConstCalibReset), tau-syn-exc/-inh (SynTimeConstantCalib:
        synaptic line after 5 events; +inf where the drop is under 10 MADC LSB), and
        membrane-trace (the raw MADC samples of the chip's enable_readout neuron over
        `windowSeconds`, every trace_samples(m)[1]-th kept, with the input `events`)."""
        self._stand_in("record_madc")

    def send_events(self, kind: str, settings: dict[str, Any]) -> list[float]:
        """Synaptic events via a PlaybackProgramBuilder (PADI events, calix helpers.wait) with
        CADC reads before and after: synline-drop (synapse.DACBiasCalibCADC, median drop per
        quadrant: 4 values), psp-amplitude-exc/-inh (neuron_synin measure_amplitudes)."""
        self._stand_in("send_events")

    def count_spikes(self, kind: str, settings: dict[str, Any]) -> list[float]:
        """spike-count: haldls SpikeCounterReset, wait `windowSeconds`, SpikeCounterRead; an
        overflowed 8-bit counter reads `overflowValue` (65025, as calix)."""
        self._stand_in("count_spikes")

    def measure(self, kind: str, settings: dict[str, Any]) -> list[float]:
        """One measurement on this chip: the values per chip of `kind` (MEASUREMENTS)."""
        return getattr(self, MEASUREMENTS[kind][1])(kind, settings)


# ---- frames (§2) ----------------------------------------------------------------------------

_CODES = {"f32": "f", "f64": "d", "i8": "b", "u8": "B", "i16": "h", "u16": "H",
          "i32": "i" if array.array("i").itemsize == 4 else "l",
          "u32": "I" if array.array("I").itemsize == 4 else "L"}
_DTYPE_OF = {code: dtype for dtype, code in _CODES.items()}
_TYPE_RE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SAFE = 2**53 - 1
if sys.byteorder != "little":  # arrays travel little-endian, as array.array holds them here
    sys.exit("host.py: this host needs a little-endian machine")


class Refused(Exception):
    """A request or frame answered with an error frame (§5)."""

    def __init__(self, code: str, message: str, request: int | None = None,
                 error: str | None = None) -> None:
        super().__init__(message)
        self.code, self.request, self.error = code, request, error


def _bad(message: str, error: str | None = None) -> Refused:
    return Refused("bad-request", message, error=error)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: Any, limit: float = _SAFE) -> bool:
    return _number(v) and math.isfinite(v) and float(v).is_integer() and abs(v) <= limit


def _text(v: Any) -> str:
    """A value for a message, written as the TS host writes it (NaN, 400, true, null)."""
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    if isinstance(v, (list, array.array)):
        return f"an array of {len(v)} values"
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(str(v), str(v))


def _pad(n: int) -> int:
    return -n % 8


def encode_frame(type_: str, id_: int, body: dict[str, Any]) -> bytes:
    """One frame: arrays travel as payload, non-finite numbers as {"$num": ...}."""
    table: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    size = 0

    def walk(v: Any) -> Any:
        nonlocal size
        if isinstance(v, float) and not math.isfinite(v):
            return {"$num": "NaN" if math.isnan(v) else "Infinity" if v > 0 else "-Infinity"}
        if isinstance(v, array.array):
            data = v.tobytes()
            chunks.append(bytes(_pad(size)) + data)
            size += _pad(size)
            table.append({"dtype": _DTYPE_OF[v.typecode], "shape": [len(v)], "offset": size})
            size += len(data)
            return {"$array": len(table) - 1}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    header = {"v": PROTOCOL_VERSION, "type": type_, "id": id_, "body": walk(body),
              "arrays": table}
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    head = len(text).to_bytes(4, "little") + text + bytes(_pad(8 + len(text)))
    payload = b"".join(chunks)
    return (len(head) + len(payload)).to_bytes(4, "little") + head + payload


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def decode_frame(frame: bytes) -> tuple[str, int, dict[str, Any]]:
    """Checks and decodes a frame's bytes after its length prefix, like decodeFrame in
    backends/remote/frame.ts; raises Refused naming the first problem."""
    def malformed(message: str, id_: int | None = None) -> Refused:
        return Refused("malformed", message, id_)

    if len(frame) < 4:
        raise malformed(f"Frame of {len(frame)} bytes has no header length")
    h = int.from_bytes(frame[:4], "little")
    if h > len(frame) - 4:
        raise malformed(f"Header length {h} exceeds the frame's {len(frame) - 4} remaining bytes")
    try:
        hd = json.loads(frame[4:4 + h].decode("utf-8-sig"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise malformed(f"Header is not UTF-8 JSON: {e}") from None
    if not isinstance(hd, dict):
        raise malformed("Header is not a JSON object")
    id_ = hd.get("id")
    if not (_integer(id_) and 0 <= id_ <= 0xFFFFFFFF):
        raise malformed("Header id must be an integer in 0..4294967295")
    id_ = int(id_)
    if not (_number(hd.get("v")) and hd["v"] == PROTOCOL_VERSION):
        raise Refused("unsupported-version", f"Protocol version {json.dumps(hd.get('v'))} is "
                      f"not supported; this peer speaks {PROTOCOL_VERSION}", id_)
    type_ = hd.get("type")
    if not (isinstance(type_, str) and _TYPE_RE.fullmatch(type_)):
        raise malformed(f"Header type must be a short lower-case name, got {json.dumps(type_)}",
                        id_)
    body = {} if hd.get("body") is None else hd["body"]
    table = [] if hd.get("arrays") is None else hd["arrays"]
    if not isinstance(body, dict):
        raise malformed("Header body must be a JSON object", id_)
    if not isinstance(table, list):
        raise malformed("Header arrays must be a list", id_)
    start = 8 + h + _pad(8 + h) - 4
    arrays = []
    for k, e in enumerate(table):
        if not isinstance(e, dict):
            raise malformed(f"Array {k} is not an object", id_)
        code = _CODES.get(e.get("dtype")) if isinstance(e.get("dtype"), str) else None
        if code is None:
            raise malformed(f"Array {k} has unknown dtype {json.dumps(e.get('dtype'))}", id_)
        shape, offset = e.get("shape"), e.get("offset")
        if not (isinstance(shape, list) and len(shape) <= 8
                and all(_integer(d) and d >= 0 for d in shape)):
            raise malformed(f"Array {k} has a bad shape {json.dumps(shape)}", id_)
        if not (_integer(offset) and offset >= 0 and offset % 8 == 0):
            raise malformed(f"Array {k} has a bad offset {json.dumps(offset)}", id_)
        count = math.prod(int(d) for d in shape)
        a = array.array(code)
        end, at = int(offset) + count * a.itemsize, start + int(offset)
        if end > len(frame) - start:
            raise malformed(f"Array {k} ({e['dtype']}, {count} values at {int(offset)}) runs past"
                            f" the payload of {max(0, len(frame) - start)} bytes", id_)
        a.frombytes(frame[at:at + count * a.itemsize])
        arrays.append(a)

    def revive(v: Any, depth: int) -> Any:
        if depth > 32:
            raise malformed("Body nests deeper than 32 levels", id_)
        if isinstance(v, list):
            return [revive(x, depth + 1) for x in v]
        if not isinstance(v, dict):
            return v
        if list(v) == ["$array"]:
            k = v["$array"]
            if not (_integer(k) and 0 <= k < len(arrays)):
                raise malformed(f"Reference to array {json.dumps(k)} of {len(arrays)}", id_)
            return arrays[int(k)]
        if list(v) == ["$num"]:
            values = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
            if not isinstance(v["$num"], str) or v["$num"] not in values:
                raise malformed(f"Unknown number {json.dumps(v['$num'])}", id_)
            return values[v["$num"]]
        return {k: revive(x, depth + 1) for k, x in v.items()}

    return type_, id_, revive(body, 0)


def error_frame(e: Refused, id_: int | None) -> bytes:
    body = {"code": e.code, "message": str(e), "request": id_}
    if e.error:
        body["error"] = e.error
    return encode_frame("error", id_ or 0, body)


# ---- checks of request bodies ---------------------------------------------------------------

def _is_array(v: Any) -> bool:
    return isinstance(v, (list, array.array))


def _typeof(v: Any) -> str:
    """JavaScript's typeof of a decoded JSON value."""
    if isinstance(v, (str, bool)):
        return "string" if isinstance(v, str) else "boolean"
    return "number" if _number(v) else "object"


def _indices(bad: list[int]) -> str:
    shown = ", ".join(map(str, bad[:8]))
    return f"{shown}, … ({len(bad)} in all)" if len(bad) > 8 else shown


def resolve_patch(patch: dict[str, Any], chips: int) -> dict[str, list[list[int]]]:
    """Per-chip integer rows of a patch, validated like resolvePatch (backends/config.ts)."""
    out = {}
    for field, value in patch.items():
        if field not in FIELDS:
            raise _bad(f'Unknown configuration field "{field}"; known fields are '
                       f"{', '.join(FIELDS)}", "TypeError")
        out[field] = _resolve_value(field, value, chips)
        if field == "enable_readout":  # one readout neuron per chip
            for chip, row in enumerate(out[field]):
                on = [n for n, v in enumerate(row) if v]
                if len(on) > 1:
                    raise _bad(f"enable_readout may be on for at most one neuron per chip; chip "
                               f"{chip} would have it on neurons {_indices(on)} (write a row with "
                               "a single 1 to move the readout)", "RangeError")
    return out


def _resolve_value(field: str, value: Any, chips: int) -> list[list[int]]:
    _, scope, lo, hi, _ = FIELDS[field]
    size = SCOPE_SIZE[scope]
    if isinstance(value, (int, float)):  # booleans too: flags take them
        if not _integer(+value, math.inf):
            raise _bad(f"{field} must be an integer, got {_text(value)}", "RangeError")
        if not lo <= value <= hi:
            raise _bad(f"{field} must lie in {lo}..{hi}, got {_text(value)}", "RangeError")
        rows: list[Any] = [[int(value)] * size] * chips
    elif _is_array(value):
        if len(value) > 0 and isinstance(value[0], (list, array.array, dict)):
            if len(value) != chips:
                raise _bad(f"{field} has {len(value)} per-chip arrays, expected one per chip "
                           f"({chips})", "RangeError")
            rows = list(value)
        elif len(value) in (size, size * chips):
            rows = [value if len(value) == size else value[c * size:(c + 1) * size]
                    for c in range(chips)]
        else:
            raise _bad(f"{field} has {len(value)} values, expected 1, {size} (one per {scope}) "
                       f"or {size * chips} ({chips} chips × {size})", "RangeError")
    else:
        raise _bad(f"{field} must be a number, a boolean or an array, got {_typeof(value)}",
                   "TypeError")
    out = []
    for chip, row in enumerate(rows):
        if not _is_array(row) or len(row) != size:
            n = len(row) if _is_array(row) else "undefined"
            raise _bad(f"{field} of chip {chip} has {n} values, expected {size}", "RangeError")
        for i, raw in enumerate(row):
            if not isinstance(raw, (int, float)):
                raise _bad(f"{field}[{i}] of chip {chip} is not a number ({_typeof(raw)})",
                           "TypeError")
        not_int = [i for i, v in enumerate(row) if not _integer(+v, math.inf)]
        outside = [i for i, v in enumerate(row) if _integer(+v, math.inf) and not lo <= v <= hi]
        for bad, what, are in ((not_int, "be an integer", "are not"),
                               (outside, f"lie in {lo}..{hi}", "are outside")):
            if bad:
                raise _bad(f"{field} must {what}; {scope}s {_indices(bad)} of chip {chip} {are} "
                           f"(first: {_text(row[bad[0]])})", "RangeError")
        out.append([int(v) for v in row])
    return out


def _positive(kind: str, name: str, v: Any, chips: int) -> None:
    integer = name in _INTEGER_SETTINGS
    if _is_array(v) and name == "windowSeconds" and kind not in ("spike-count",
                                                                   "membrane-trace"):  # per neuron
        if len(v) not in (512, 512 * chips):
            raise _bad(f"{kind}: {name} has {len(v)} values, expected 1, 512 or chips × 512",
                       "RangeError")
        bad = [i for i, x in enumerate(v) if not (_number(x) and math.isfinite(x) and x > 0)]
        if bad:
            raise _bad(f"{kind}: {name} must be positive and finite; elements "
                       f"{', '.join(map(str, bad[:8]))} are not", "RangeError")
    elif not (_number(v) and math.isfinite(v) and v > 0 and (not integer or _integer(v))):
        raise _bad(f"{kind}: {name} must be a positive "
                   f"{'integer' if integer else 'finite number'}, got {_text(v)}", "RangeError")


def check_measurement(m: dict[str, Any], chips: int) -> None:
    """validateMeasurement (backends/measurement.ts): TypeError for an unknown kind,
    RangeError for a bad setting. Settings a kind does not know are ignored."""
    kind = m.get("kind")
    if not isinstance(kind, str) or kind not in MEASUREMENTS:
        shown = _text(kind) if "kind" in m else "undefined"
        raise _bad(f'Unknown measurement kind "{shown}"; known kinds are '
                   f"{', '.join(MEASUREMENTS)}", "TypeError")
    if kind in _REQUIRED and _REQUIRED[kind] not in m:
        raise _bad(f"{kind}: {_REQUIRED[kind]} is required", "RangeError")
    for name in MEASUREMENTS[kind][2].split():
        if name in m:
            _positive(kind, name, m[name], chips)
    code = m.get("code")
    if kind == "cadc-reference" and not (_integer(code) and 0 <= code <= 1022):
        raise _bad(f"{kind}: code must be an integer in 0..1022, got "
                   f"{_text(code) if 'code' in m else 'undefined'}", "RangeError")
    if kind == "spike-count" and m.get("counter", "exact") not in ("8bit", "exact"):
        raise _bad(f'{kind}: counter must be "8bit" or "exact", got {_text(m["counter"])}',
                   "RangeError")
    if kind == "membrane-trace":
        _check_trace(m)


def _check_trace(m: dict[str, Any]) -> None:
    """The membrane-trace settings beyond the positive ones (_validateTrace)."""
    kind, window = m["kind"], m["windowSeconds"]
    if window * MADC_SAMPLE_RATE * (1 + 1e-12) < 1:
        raise _bad(f"{kind}: windowSeconds {_text(window)} s is shorter than one MADC sample "
                   f"({1e9 / MADC_SAMPLE_RATE:.1f} ns)", "RangeError")
    if m.get("maxSamples", 0) > MAX_TRACE_SAMPLES:
        raise _bad(f"{kind}: maxSamples must be at most {MAX_TRACE_SAMPLES}, got "
                   f"{_text(m['maxSamples'])}", "RangeError")
    events = m.get("events", [])
    if not isinstance(events, list):
        raise _bad(f"{kind}: events must be an array of events, got {_typeof(events)}",
                   "TypeError")
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise _bad(f"{kind}: events[{i}] must be an object {{ input, timeSeconds, weight? }}, "
                       f"got {'null' if e is None else _typeof(e)}", "TypeError")
        if e.get("input") not in ("exc", "inh"):
            raise _bad(f'{kind}: events[{i}].input must be "exc" or "inh", got '
                       f"{_text(e.get('input')) if 'input' in e else 'undefined'}", "RangeError")
        t = e.get("timeSeconds")
        if not (_number(t) and math.isfinite(t) and 0 <= t < window):
            raise _bad(f"{kind}: events[{i}].timeSeconds must be a number in [0, windowSeconds = "
                       f"{_text(window)}), got {_text(t) if 'timeSeconds' in e else 'undefined'}",
                       "RangeError")
        if "weight" in e:
            _positive(kind, f"events[{i}].weight", e["weight"], 1)


def trace_samples(m: dict[str, Any]) -> tuple[int, int]:
    """traceSampling (backends/measurement.ts): (samples, decimation) of a membrane-trace."""
    raw = max(1, math.floor(m["windowSeconds"] * MADC_SAMPLE_RATE * (1 + 1e-12)))
    decimation = max(1, math.ceil(raw / m.get("maxSamples", 4096)))
    return max(1, raw // decimation), decimation


def measurement_steps(m: dict[str, Any]) -> float:
    """Integration steps per neuron, as measurementSteps in backends/remote/host.ts."""
    def get(name: str, default: float) -> float:
        v = m.get(name, default)
        return max(v) if _is_array(v) else v

    kind = m["kind"]
    if kind in ("resting-potential", "reset-potential"):
        return get("reads", 1)
    if kind == "threshold-max":
        per_read = math.floor(1.7e-6 / get("dtSeconds", 0.85e-6) + 0.5)  # Math.round
        return get("samples", 1000) * get("batches", 3) * max(1, per_read)
    if kind == "tau-mem":
        return math.ceil(get("maxSamples", 3000) * (1 + get("stepSeconds", 100e-6)
                                                    / get("windowSeconds", 30e-6)))
    if kind == "tau-mem-reset":
        return get("maxSamples", 3000)
    if kind in ("tau-syn-exc", "tau-syn-inh"):
        return get("maxSamples", 3000) + get("events", 5)
    if kind in ("psp-amplitude-exc", "psp-amplitude-inh"):
        return math.ceil(get("events", 15) * get("runs", 5) * get("spacingSeconds", 1e-6)
                         / get("dtSeconds", 40e-9))
    if kind == "spike-count":
        return math.ceil(get("windowSeconds", 0) / get("dtSeconds", 0.1e-6))
    if kind == "membrane-trace":
        samples, decimation = trace_samples(m)
        return samples * decimation
    return 1


def u32s(v: Any, n: int, what: str) -> list[int]:
    ok = (isinstance(v, list) or (isinstance(v, array.array) and _DTYPE_OF[v.typecode] == "u32"))
    if not (ok and len(v) == n and all(_integer(x) and 0 <= x <= 0xFFFFFFFF for x in v)):
        raise _bad(f"{what} must be {n} unsigned 32-bit integers, one per chip of the session")
    return [int(x) for x in v]


def selection(v: Any, n: int) -> list[int]:
    if v is None:
        return list(range(n))
    if not _is_array(v):
        raise _bad("chips must be a list of chip indices")
    for i, c in enumerate(v):
        if not (_integer(c) and 0 <= c < n and (i == 0 or c > v[i - 1])):
            raise _bad(f"Chip selection must list ascending chip indices in 0..{n - 1}, got "
                       f"[{', '.join(map(_text, v))}]", "RangeError")
    return [int(c) for c in v]


def _object(v: Any, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _bad(f"{what} must be an object")
    return v


# ---- the session --------------------------------------------------------------------------

def key_of_id(chip_id: str) -> int:
    """The chip's RNG key: 32-bit FNV-1a of the id's UTF-8 bytes (§9, keyOfId)."""
    h = 0x811C9DC5
    for byte in chip_id.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def power_on() -> dict[str, list[int]]:
    return {f: [spec[4]] * SCOPE_SIZE[spec[1]] for f, spec in FIELDS.items()}


class Host:
    """One stdio session over the chips: their configuration mirror, counters and repeats."""

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.hw = ids, [Chip(i) for i in ids]
        self.configs = [power_on() for _ in ids]  # what this process last wrote to each chip
        self.counters = [0 for _ in ids]
        self.session: list[int] | None = None  # host indices of the open chips, session order
        self.answers: OrderedDict[int, bytes] = OrderedDict()
        self.requests = 0

    def answer(self, type_: str, id_: int, body: dict[str, Any]) -> bytes:
        """The encoded answer to a request; a repeated id gets the remembered one (§7)."""
        if id_ in self.answers:
            return self.answers[id_]
        self.requests += 1
        try:
            reply = encode_frame("result", id_, self.handle(type_, body))
        except Refused as e:
            reply = error_frame(e, id_)
        except NotConnected as e:
            reply = error_frame(Refused("not-connected", f"{type_}: {e}"), id_)
        except Exception as e:  # the host answers, it never crashes on a request
            log(f"{type_} request {id_} failed:\n{traceback.format_exc()}")
            reply = error_frame(Refused("internal", f"The host failed on {type_}: {e}"), id_)
        self.answers[id_] = reply
        if len(self.answers) > REMEMBERED:
            self.answers.popitem(last=False)
        return reply

    def handle(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        if type_ not in REQUEST_TYPES:
            raise Refused("unknown-type", f'Unknown message type "{type_}"; requests are '
                          f"{', '.join(REQUEST_TYPES)}")
        if type_ in ("auth", "close"):
            return {}  # stdio needs no token: auth is accepted and ignored
        if type_ == "hello":
            protocols = body.get("protocols")
            if protocols is not None and not (isinstance(protocols, list) and any(
                    _number(p) and p == PROTOCOL_VERSION for p in protocols)):
                raise Refused("unsupported-version", f"The client speaks protocols "
                              f"{json.dumps(protocols)}; this host speaks {PROTOCOL_VERSION}")
            return self.hello()
        if type_ == "open":
            return self.open(body)
        if self.session is None:
            raise Refused("not-open", f"{type_} needs chips: send open first")
        n = len(self.session)
        if type_ == "write":
            return self.write(_object(body.get("patch"), "patch"), selection(body.get("chips"), n))
        if type_ == "config":
            return {"config": self.wire_config(list(FIELDS))}
        if type_ == "measure":
            return self.measure(_object(body.get("measurement"), "measurement"),
                                selection(body.get("chips"), n), body.get("counters"))
        if type_ in ("search", "truth"):
            raise Refused("unsupported", "This host runs no whole searches (the client runs them "
                          "over write + measure)" if type_ == "search" else
                          "This host has no truth: it is not a twin")
        if type_ == "counters-restore":
            for k, v in enumerate(u32s(body.get("counters"), n, "counters")):
                self.counters[self.session[k]] = v
        return {"counters": array.array(_CODES["u32"], [self.counters[c] for c in self.session])}

    def hello(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "server": SERVER, "host": "hardware",
                "description": DESCRIPTION,
                "chips": [{"id": i, "key": key_of_id(i)} for i in self.ids], "twin": None,
                "capabilities": {"measurements": list(MEASUREMENTS), "search": False,
                                 "truth": False},
                "limits": LIMITS}

    def open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.session is not None:
            raise _bad("This session has opened its chips already")
        ids = body.get("chips")
        if ids is None:
            ids = self.ids
        elif not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise _bad("open: chips must be a list of chip ids")
        if not ids:
            raise _bad("open: no chips named")
        wait = body.get("wait_s", 0)
        if not (_number(wait) and wait >= 0):
            raise _bad("open: wait_s must be a non-negative number")
        unknown = [i for i in ids if i not in self.ids]
        if unknown:
            raise Refused("no-such-chip", f"This host has no chip {', '.join(unknown)}; it "
                          f"offers {', '.join(self.ids)}")
        if len(set(ids)) != len(ids):
            raise _bad("A chip is named twice in open")
        chips = [self.ids.index(i) for i in ids]
        if body.get("reset") is not False:  # power-on; else what this process left
            for c in chips:
                try:
                    self.hw[c].reinit()
                except NotConnected as e:
                    log(f"open: chip {self.ids[c]}: {e}; its mirror is the power-on state")
                self.configs[c], self.counters[c] = power_on(), 0
        self.session = chips
        return {"chips": [{"id": self.ids[c], "key": key_of_id(self.ids[c])} for c in chips],
                "counters": array.array(_CODES["u32"], [self.counters[c] for c in chips]),
                "config": self.wire_config(list(FIELDS))}

    def wire_config(self, fields: list[str]) -> dict[str, array.array]:
        """One i32 array per field over the session's chips, chip-major (§8)."""
        assert self.session is not None
        return {f: array.array(_CODES["i32"], [v for c in self.session
                                                for v in self.configs[c][f]]) for f in fields}

    def write(self, patch: dict[str, Any], chips: list[int]) -> dict[str, Any]:
        assert self.session is not None
        rows = resolve_patch(patch, len(chips))  # all checks before any hardware call
        for k, s in enumerate(chips):
            chip = self.hw[self.session[s]]
            digital = {f: r[k] for f, r in rows.items() if FIELDS[f][0] == "digital"}
            capmem = {f: r[k] for f, r in rows.items() if FIELDS[f][0] == "capmem"}
            if digital:
                chip.write_digital(digital)
            if capmem:
                chip.write_capmem(capmem)  # settles 20 ms
        changed = set()  # the mirror follows only a write that succeeded on every chip
        for f, r in rows.items():
            for k, s in enumerate(chips):
                if self.configs[self.session[s]][f] != r[k]:
                    changed.add(f)
                    self.configs[self.session[s]][f] = r[k]
        return {"config": self.wire_config([f for f in FIELDS if f in changed])}

    def measure(self, m: dict[str, Any], chips: list[int], counters: Any) -> dict[str, Any]:
        assert self.session is not None
        n = len(self.session)
        after = u32s(counters, n, "counters")
        check_measurement(m, n)
        if not measurement_steps(m) <= LIMITS["max_measurement_steps"]:
            raise Refused("too-expensive", f"{m['kind']} asks for {measurement_steps(m)} "
                          "integration steps per neuron, more than this host's "
                          f"{LIMITS['max_measurement_steps']}")
        if m["kind"] == "membrane-trace":  # the trace records each chip's readout neuron
            missing = [f"{s} ({self.ids[self.session[s]]})" for s in chips
                       if 1 not in self.configs[self.session[s]]["enable_readout"]]
            if missing:
                raise _bad(f"membrane-trace: {'chip' if len(missing) == 1 else 'chips'} "
                           f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no "
                           "readout neuron; set enable_readout on one neuron of each chip",
                           "RangeError")
        size = MEASUREMENTS[m["kind"]][0] or trace_samples(m)[0]
        readings = array.array("f", [math.nan]) * (n * size)
        for s in chips:
            settings = {k: (list(v) if len(v) == 512 else list(v[s * 512:(s + 1) * 512]))
                        if _is_array(v) and k != "events" else v
                        for k, v in m.items() if k != "kind"}
            values = self.hw[self.session[s]].measure(m["kind"], settings)
            if len(values) != size:
                raise RuntimeError(f"Chip.measure gave {len(values)} values for {m['kind']}, "
                                   f"not {size}")
            readings[s * size:(s + 1) * size] = array.array("f", values)
            after[s] = (after[s] + 1) & 0xFFFFFFFF
        for k, c in enumerate(self.session):
            self.counters[c] = after[k]
        return {"readings": readings, "counters": array.array(_CODES["u32"], after)}


# ---- the stream -----------------------------------------------------------------------------

def log(line: str) -> None:
    print(f"hardware_host: {line}", file=sys.stderr, flush=True)


class StreamBroken(Exception):
    """The input cannot be read on (after an error frame): the host exits."""


class FrameStream:
    """Frames from a byte stream; the length is checked before anything is buffered for it."""

    def __init__(self, fd: int, max_bytes: int, idle_timeout_s: float) -> None:
        self.fd, self.max, self.idle = fd, max_bytes, idle_timeout_s
        self.buf = bytearray()

    def next(self) -> bytes | None:
        """The next frame's bytes after its length prefix; None at the end of the input."""
        while True:
            if len(self.buf) >= 4:
                n = int.from_bytes(self.buf[:4], "little")
                if n > self.max:
                    raise StreamBroken(Refused("frame-too-large", f"Frame of {n} bytes exceeds "
                                               f"the limit of {self.max}"))
                if n < 4:
                    raise StreamBroken(Refused("malformed", f"Length prefix {n} is shorter than "
                                               "a header length field"))
                if len(self.buf) >= 4 + n:
                    frame = bytes(self.buf[4:4 + n])
                    del self.buf[:4 + n]
                    return frame
            if self.buf and not select.select([self.fd], [], [], self.idle)[0]:
                raise StreamBroken(Refused("malformed", f"Truncated frame: {len(self.buf)} bytes "
                                           f"of a frame, then nothing for {self.idle:g} s"))
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                if self.buf:
                    log(f"input ended inside a frame ({len(self.buf)} bytes)")
                return None
            self.buf += chunk


def serve(ids: list[str], idle_timeout_s: float) -> int:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only: a stray print() goes to stderr
    host, stream = Host(ids), FrameStream(sys.stdin.fileno(), LIMITS["max_frame_bytes"],
                                          idle_timeout_s)
    started, status, reason = time.monotonic(), 0, "input closed"

    def send(frame: bytes) -> None:
        out.write(frame)
        out.flush()

    try:
        while True:
            try:
                frame = stream.next()
            except StreamBroken as e:
                refusal: Refused = e.args[0]
                send(error_frame(refusal, None))
                status, reason = 1, f"{refusal.code}: {refusal}"
                break
            if frame is None:
                break
            try:
                type_, id_, body = decode_frame(frame)
            except Exception as e:  # Refused, or a safety net: the host never crashes on input
                e = e if isinstance(e, Refused) else Refused("malformed", f"Unreadable frame: {e}")
                send(error_frame(e, e.request))
                log(f"{e.code}: {e}")
                continue
            send(host.answer(type_, id_, body))
            if type_ == "close":
                reason = "closed by the client"
                break
    except (BrokenPipeError, KeyboardInterrupt) as e:
        status, reason = 1, type(e).__name__
    log(f"session ended: chips {', '.join(host.ids[c] for c in host.session or []) or 'none'}, "
        f"{host.requests} requests, {time.monotonic() - started:.1f} s ({reason})")
    return status


def main(argv: list[str]) -> int:
    ids, idle = ["hx-01"], float(LIMITS["idle_timeout_s"])
    args = list(argv)
    try:
        while args:
            flag = args.pop(0)
            if flag in ("-h", "--help"):
                print(__doc__, file=sys.stderr)
                return 0
            if flag == "--chips" and args:
                ids = [i.strip() for i in args.pop(0).split(",") if i.strip()]
            elif flag == "--idle-timeout" and args:
                idle = float(args.pop(0))
            else:
                raise ValueError(f"unknown option {flag}")
        for i in ids:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", i):
                raise ValueError(f"chip id {i!r} is not 1-128 of A-Z a-z 0-9 . _ -")
        if not ids or len(set(ids)) != len(ids) or not idle > 0:
            raise ValueError("--chips needs distinct ids and --idle-timeout a positive number")
    except ValueError as e:
        log(f"{e}; usage: host.py [--chips hx-01,hx-02] [--idle-timeout 30]")
        return 2
    LIMITS["idle_timeout_s"] = idle
    return serve(ids, idle)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
