"""What the two peer simulators share: the neurons, the readouts, the τ estimator, the CLI.

The peers (numpy_lif.py, brian2_lif.py) simulate the same neurons as lifcal's executors: the
effective parameters of the twins with seeds 1..N under the benchmark configuration, exported by
bench/peers/export_params.ts (JSON, format "lifcal-peer-params/1"). Only the noise streams differ
(numpy.random.default_rng here, lifcal's counter-based hash there), so results agree
statistically, not bit for bit. Standard library and NumPy only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

MEASUREMENTS = ("spike-count", "psp-amplitude-exc", "tau-mem")
NEURONS_PER_CHIP = 512
_HERE = os.path.dirname(os.path.abspath(__file__))


class Neurons:
    """The per-neuron effective parameters (float64 arrays, SI units) and the model numbers."""

    def __init__(self, data: dict[str, Any], chips: int | None = None) -> None:
        if data.get("format") != "lifcal-peer-params/1":
            raise ValueError("not a lifcal peer parameter file (format lifcal-peer-params/1)")
        self._data = data
        total = int(data["neurons"])
        n = total if chips is None else min(total, chips * NEURONS_PER_CHIP)
        self.seeds: list[int] = list(data["seeds"])[: n // NEURONS_PER_CHIP]
        self.n = n
        p = {k: np.asarray(v[:n], dtype=np.float64) for k, v in data["params"].items()}
        self.C, self.gL, self.EL = p["C"], p["gL"], p["EL"]
        self.VRcell, self.gR, self.VT = p["VRcell"], p["gR"], p["VT"]
        self.threshold = p["thresholdEnable"] > 0
        self.tRef, self.tReset = p["tRef"], p["tReset"]
        self.Ioff, self.offset_enable = p["Ioff"], p["offsetEnable"] > 0
        self.Isyn, self.gm_exc, self.gm_inh = p["Isyn"], p["gmExc"], p["gmInh"]
        self.tau_syn_exc, self.tau_syn_inh = p["tauSynExc"], p["tauSynInh"]
        self.dac_amp = p["dacAmp"]
        self.cadc = [(p[f"cadc{c}Low"], p[f"cadc{c}Delta"], p[f"cadc{c}Lsb"], p[f"cadc{c}Digital"])
                     for c in (0, 1)]
        twin = data["twin"]
        self.low = float(twin["rails"]["low"])
        self.high = float(twin["rails"]["high"])
        self.sigma = float(twin["noise"]["membrane"])
        self.sigma_line = float(twin["noise"]["line"])
        self.cadc_noise = float(twin["noise"]["cadc"])
        self.madc_noise = float(twin["noise"]["madc"])
        self.madc_offset = float(twin["madc"]["offset"])
        self.madc_lsb = float(twin["madc"]["lsb"])
        self.madc_period = float(twin["madc"]["samplePeriod"])
        self.tau_mem_bounds = (float(twin["tauMemBounds"][0]), float(twin["tauMemBounds"][1]))
        self.settings: dict[str, dict[str, float]] = dict(data["measurements"])

    def subset(self, chips: int) -> Neurons:
        """The first `chips` chips, with the same settings."""
        out = Neurons(self._data, chips)
        out.settings = dict(self.settings)
        return out

    @property
    def chips(self) -> int:
        return self.n // NEURONS_PER_CHIP

    def dc_current(self) -> np.ndarray:
        """The DC input: synaptic references plus an enabled offset current (A)."""
        return self.Isyn + np.where(self.offset_enable, self.Ioff, 0.0)

    def held_reset_potential(self) -> np.ndarray:
        """Where the membrane sits while the reset clamp holds it (V)."""
        g = self.gR + self.gL
        v = (self.gR * self.VRcell + self.gL * self.EL + self.dc_current()) / g
        return np.clip(v, self.low, self.high)

    def rest_below_threshold(self) -> np.ndarray:
        """The settled potential, held at the threshold where it would lie above it (V)."""
        v = np.clip(self.EL + self.dc_current() / self.gL, self.low, self.high)
        return np.where(self.threshold & (v > self.VT), self.VT, v)


def js_round(x: np.ndarray) -> np.ndarray:
    """JavaScript's Math.round (halves up), which lifcal's readouts use."""
    return np.floor(x + 0.5)


def cadc_read(nrn: Neurons, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One CADC read of membrane potentials `v`: the mean of the neuron's two channels, each with
    1 LSB read noise, rounded and clamped to 0..255. `v` may hold several copies of the neurons
    (runs × neurons, neuron index fastest)."""
    reps = v.size // nrn.n
    out = np.zeros_like(v)
    for low, delta, lsb, digital in nrn.cadc:
        eps = nrn.cadc_noise * rng.standard_normal(v.size) if nrn.cadc_noise > 0 else 0.0
        r = (v - np.tile(low, reps) - np.tile(delta, reps)) / np.tile(lsb, reps) + \
            np.tile(digital, reps) + eps
        out += np.clip(js_round(r), 0, 255)
    return 0.5 * out


def madc_read(nrn: Neurons, v: np.ndarray, eps: np.ndarray | float) -> np.ndarray:
    """One MADC sample: 10 bit, rounded and clamped to 0..1023, read noise `eps` (LSB)."""
    return np.clip(js_round((v - nrn.madc_offset) / nrn.madc_lsb + eps), 0, 1023)


def tau_sampling(window: float, period: float, max_samples: int) -> tuple[int, float]:
    """lifcal's `sampling`: samples per third of the window and the sample period."""
    total = min(int(np.floor(window / period)), int(max_samples))
    n = max(4, total // 3)
    return n, window / (3 * n)


def tau_from_three_sums(s1: np.ndarray, s2: np.ndarray, s3: np.ndarray, n: int, dt: float,
                        bounds: tuple[float, float]) -> np.ndarray:
    """The three-successive-sums estimator (backends/cpu/tau_estimator.ts): with S_k the sums
    over three windows of n samples of y = A·exp(−t/τ) + c, (S2 − S3)/(S1 − S2) = exp(−n·dt/τ).
    A ratio ≤ 0 gives the lower bound, ≥ 1 (or S1 = S2) the upper bound."""
    d1 = s1 - s2
    d2 = s2 - s3
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d1 != 0, d2 / np.where(d1 != 0, d1, 1.0), 1.0)
        good = (ratio > 0) & (ratio < 1)
        tau = np.where(good, -(n * dt) / np.log(np.where(good, ratio, 0.5)), 0.0)
    tau = np.where(ratio <= 0, bounds[0], np.where(ratio >= 1, bounds[1], tau))
    return np.clip(tau, bounds[0], bounds[1])


def load_neurons(params: str | None, chips: int | None) -> Neurons:
    """Reads a parameter file (its first `chips`, all by default), or exports one for seeds
    1..chips (default 16) with Deno first."""
    if params:
        with open(params, encoding="utf-8") as f:
            return Neurons(json.load(f), chips)
    chips = chips or 16
    deno = shutil.which("deno")
    if deno is None:
        sys.exit("peer: no --params FILE and no deno on the PATH to export one "
                 "(deno run -A bench/peers/export_params.ts --chips N --out FILE)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "params.json")
        subprocess.run([deno, "run", "-A", os.path.join(_HERE, "export_params.ts"),
                        "--chips", str(chips), "--out", path], check=True)
        with open(path, encoding="utf-8") as f:
            return Neurons(json.load(f), chips)


def steps_per_neuron(kind: str, nrn: Neurons) -> int:
    """Integration steps per neuron of a measurement: bench/_neuron_steps.ts's count."""
    s = nrn.settings[kind]
    if kind == "spike-count":
        return max(1, round(s["windowSeconds"] / s["dtSeconds"]))
    if kind == "psp-amplitude-exc":
        sub = max(1, round(s["spacingSeconds"] / s["dtSeconds"]))
        return int(s["runs"]) * (int(s["events"]) + 1) * sub
    n, _ = tau_sampling(s["windowSeconds"], nrn.madc_period, int(s["maxSamples"]))
    return 3 * n


def parse_args(description: str, flags: dict[str, str] | None = None) -> argparse.Namespace:
    """The peers' common command line, plus the peer's own `flags` (name → help; booleans)."""
    ap = argparse.ArgumentParser(description=description)
    for flag, text in (flags or {}).items():
        ap.add_argument(flag, action="store_true", help=text)
    ap.add_argument("--params", help="parameter file from bench/peers/export_params.ts "
                    "(default: export seeds 1..--chips with deno)")
    ap.add_argument("--chips", type=int, default=None,
                    help="chips, 512 neurons each (default 16; with --params all of the file's, "
                    "else its first CHIPS)")
    ap.add_argument("--measurements", default=",".join(MEASUREMENTS),
                    help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    ap.add_argument("--spike-window", type=float, default=None,
                    help="spike-count window in seconds (default: the file's, 1 ms)")
    ap.add_argument("--seed", type=int, default=0, help="seed of numpy.random.default_rng")
    ap.add_argument("--repeat", type=int, default=1,
                    help="time each measurement this many times, report the fastest "
                    "(readings from the first)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the warm-up run")
    ap.add_argument("--per-neuron", action="store_true",
                    help="with --json: include every neuron's reading")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    a = ap.parse_args()
    kinds = [k for k in a.measurements.split(",") if k]
    bad = [k for k in kinds if k not in MEASUREMENTS]
    if bad or not kinds:
        ap.error(f"unknown measurement {bad[0] if bad else '(none)'}; "
                 f"use {','.join(MEASUREMENTS)}")
    a.kinds = kinds
    if a.chips is not None and a.chips < 1:
        ap.error("--chips must be at least 1")
    if a.repeat < 1:
        ap.error("--repeat must be at least 1")
    return a


def summary(values: np.ndarray) -> dict[str, float]:
    """Mean, median and standard deviation of the finite readings."""
    v = values[np.isfinite(values)]
    return {"mean": float(v.mean()), "median": float(np.median(v)), "sd": float(v.std())}


def run_peer(name: str, versions: dict[str, str], args: argparse.Namespace,
             measure: Callable[[Neurons, str, np.random.Generator], np.ndarray],
             warmup: Callable[[Neurons, list[str]], None]) -> None:
    """Loads the neurons, runs the warm-up, times each measurement once and prints the result:
    a table, or with --json one object {peer, versions, chips, neurons, warmup_seconds, rows}."""
    nrn = load_neurons(args.params, args.chips)
    if args.spike_window is not None:
        nrn.settings["spike-count"] = {**nrn.settings["spike-count"],
                                       "windowSeconds": args.spike_window}
    warm = 0.0
    if not args.no_warmup:
        t0 = time.perf_counter()
        warmup(nrn, args.kinds)
        warm = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    rows = []
    for kind in args.kinds:
        values = None
        seconds = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            v = measure(nrn, kind, rng)
            seconds = min(seconds, time.perf_counter() - t0)
            values = v if values is None else values
        steps = steps_per_neuron(kind, nrn)
        assert values is not None
        row: dict[str, Any] = {"kind": kind, "steps_per_neuron": steps, "seconds": seconds,
                               "neuron_steps_per_second": nrn.n * steps / seconds,
                               **summary(values)}
        if args.per_neuron:
            row["values"] = [float(x) for x in values]
        rows.append(row)
    out = {"peer": name, "versions": {"python": platform.python_version(), **versions},
           "chips": nrn.chips, "neurons": nrn.n, "seed": args.seed, "repeat": args.repeat,
           "warmup_seconds": warm,
           "rows": rows}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{name} ({', '.join(f'{k} {v}' for k, v in out['versions'].items())}): "
          f"{nrn.chips} chips, {nrn.n} neurons, warm-up {warm:.2f} s")
    for r in rows:
        print(f"  {r['kind']:<18} {r['seconds']:8.3f} s  {r['neuron_steps_per_second']:9.3e} "
              f"neuron-steps/s  mean {r['mean']:.6g}  median {r['median']:.6g}  sd {r['sd']:.4g}")
