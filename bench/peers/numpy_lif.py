#!/usr/bin/env python3
"""The NumPy peer: lifcal's spike-count, PSP-amplitude and τ_mem measurements as a vectorised
NumPy program (float64, numpy.random.default_rng normals), on the same neurons as lifcal.

The membrane follows backends/cpu/lif_step.ts: an exact-exponential Ornstein–Uhlenbeck step
towards V∞ = E_L + I/g_L (stationary noise σ_V); while the reset clamp holds, towards the balance
of clamp and leak (τ_c = C/(g_L + g_R)); a threshold crossing at the time the deterministic
relaxation reaches V_T inside the step, after which the membrane is set to V_T and clamped for
the rest of the step and the refractory time starts; potentials stay between the rails.
Vectorised over every neuron (and run) at once, with cached whole-step factors and one normal per
lane and step; the few lanes at a phase boundary or a crossing are handled by index:

  two-part step (default)  where the clamp ends inside the step, the clamp part and the free part
                           as one exact transition with one normal (the end of the refractory time
                           has the free dynamics, so this is lifStep's endpoint distribution);
                           a crossing: lifStep's crossing time, then the clamp for the rest. It
                           differs from lifStep only in the crossing time of a step in which the
                           refractory time ends and the threshold is crossed (counted from the
                           step's start, bounded below by the end of the refractory time), which
                           the benchmark's neurons never do (they leave the clamp far below V_T).
                           Needs t_reset ≥ dt and t_ref > 0 (else --exact is used).
  --exact                  lifStep's segment loop (split at the end of the clamp, of the
                           refractory time and at a crossing, at most 6 segments per step) for
                           every lane at a boundary or crossing; slower.

  spike-count        from the held reset potential, refractory; count crossings over the window
                     (1 ms at 0.1 µs steps: 10 000 steps).
  psp-amplitude-exc  runs × neurons lanes from rest; 15 events 1 µs apart raise the excitatory
                     line by dac·weight; the line decays exponentially (τ_syn) with OU noise σ_line
                     and drives the membrane with its step-averaged current g_m·x; CADC read before
                     and after 16 µs; amplitude = mean over runs of after − before (40 ns steps).
  tau-mem            offset current on for 100 µs (one exact OU step), then off: the relaxation is
                     sampled at the MADC period over 30 µs (3 × 294 samples, 1 LSB read noise) and
                     τ comes from the three-successive-sums estimator (no least-squares fit).

Run: python3 bench/peers/numpy_lif.py [--params FILE] [--chips 16] [--json]
(without --params it exports seeds 1..--chips with deno first). Standard library and NumPy only.
"""

from __future__ import annotations

import numpy as np

from peer_common import (Neurons, cadc_read, madc_read, parse_args, run_peer, tau_from_three_sums,
                         tau_sampling)

_MAX_SEGMENTS = 6


class Membrane:
    """Neurons (possibly tiled several times: lanes) with their step constants for steps of dt."""

    def __init__(self, nrn: Neurons, dt: float, reps: int = 1, exact: bool = False) -> None:
        def tile(x: np.ndarray) -> np.ndarray:
            return np.tile(x, reps)

        self.dt = dt
        self.low, self.high, self.sigma = nrn.low, nrn.high, nrn.sigma
        self.C, self.gL, self.EL = tile(nrn.C), tile(nrn.gL), tile(nrn.EL)
        self.gR, self.VRcell, self.VT = tile(nrn.gR), tile(nrn.VRcell), tile(nrn.VT)
        self.threshold = tile(nrn.threshold)
        self.tRef = tile(nrn.tRef)
        self.hold = tile(nrn.tRef - nrn.tReset)  # the free part of the refractory time
        self.tau = self.C / self.gL
        self.g = self.gL + self.gR
        self.tau_clamp = self.C / self.g
        # Whole-step factors of the two dynamics (free / held by the clamp).
        self.decay = np.exp(-dt / self.tau)
        self.kick = self.sigma * np.sqrt(1 - self.decay ** 2)
        self.decay_clamp = np.exp(-dt / self.tau_clamp)
        self.kick_clamp = self.sigma * np.sqrt(1 - self.decay_clamp ** 2)
        # The two-part step needs every clamp to outlast a step, and a refractory time.
        self.two_part = not exact and bool(np.all(nrn.tReset >= dt) and np.all(nrn.tRef > 0))

    def targets(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """V∞ of the free membrane and of the clamped one under input `current` (A)."""
        v_inf = self.EL + current / self.gL
        v_eq = (self.gR * self.VRcell + self.gL * self.EL + current) / self.g
        return v_inf, v_eq

    def step(self, v: np.ndarray, ref: np.ndarray, spikes: np.ndarray, v_inf: np.ndarray,
             v_eq: np.ndarray, rng: np.random.Generator) -> None:
        """Advances every lane by dt in place (v: potential, ref: refractory time left,
        spikes: count) under the targets of its input over the step."""
        if self.two_part:
            self._step_two_part(v, ref, spikes, v_inf, v_eq, rng)
        else:
            self._step_exact(v, ref, spikes, v_inf, v_eq, rng)

    def _step_two_part(self, v: np.ndarray, ref: np.ndarray, spikes: np.ndarray,
                       v_inf: np.ndarray, v_eq: np.ndarray, rng: np.random.Generator) -> None:
        """The step as the clamp part and the free part (the end of the refractory time has the
        free dynamics): one exact transition with one normal where the clamp ends inside the
        step, lifStep's crossing time and clamped remainder where the threshold is crossed."""
        dt = self.dt
        z = rng.standard_normal(v.size)
        clamp_left = ref - self.hold
        in_clamp = clamp_left > 0
        target = np.where(in_clamp, v_eq, v_inf)
        v1 = target + (v - target) * np.where(in_clamp, self.decay_clamp, self.decay) + \
            np.where(in_clamp, self.kick_clamp, self.kick) * z
        b = np.flatnonzero(in_clamp & (clamp_left < dt))
        if b.size:  # the clamp ends inside the step: clamp for t_c, then free, exactly
            tc = clamp_left[b]
            ec = np.exp(-tc / self.tau_clamp[b])
            ef = np.exp((tc - dt) / self.tau[b])
            vi, ve = v_inf[b], v_eq[b]
            v1[b] = vi + (ve + (v[b] - ve) * ec - vi) * ef + \
                self.sigma * np.sqrt(1 - (ec * ef) ** 2) * z[b]
        ref_next = ref - dt
        ref_next[ref_next < 1e-15] = 0.0
        # The threshold is armed in the free part of the step (the refractory time over).
        c = np.flatnonzero((ref < dt) & self.threshold & (v1 >= self.VT))
        if c.size:
            v0, vi, vt, t_ref = v[c], v_inf[c], self.VT[c], self.tRef[c]
            with np.errstate(divide="ignore", invalid="ignore"):
                ct = np.where(v0 >= vt, 0.0,
                              np.where(vi > vt, self.tau[c] * np.log((vi - v0) / (vi - vt)),
                                       dt * (vt - v0) / (v1[c] - v0)))
            ct = np.minimum(np.maximum(np.where(ct >= 0, ct, 0.0), np.maximum(ref[c], 0.0)), dt)
            rem = dt - ct
            er = np.exp(-rem / self.tau_clamp[c])
            ve = v_eq[c]
            v1[c] = ve + (vt - ve) * er + self.sigma * np.sqrt(1 - er * er) * \
                rng.standard_normal(c.size)
            ref_next[c] = t_ref - rem
            spikes[c] += 1
        np.maximum(v1, self.low, out=v)
        np.minimum(v, self.high, out=v)
        ref[:] = ref_next

    def _step_exact(self, v: np.ndarray, ref: np.ndarray, spikes: np.ndarray, v_inf: np.ndarray,
                    v_eq: np.ndarray, rng: np.random.Generator) -> None:
        """lifStep for every lane: the whole step inside one phase with the cached factors, the
        segment loop for lanes at a phase boundary or crossing the threshold."""
        dt = self.dt
        z = rng.standard_normal(v.size)
        clamp_left = ref - self.hold
        in_clamp = clamp_left > 0
        target = np.where(in_clamp, v_eq, v_inf)
        v1 = target + (v - target) * np.where(in_clamp, self.decay_clamp, self.decay) + \
            np.where(in_clamp, self.kick_clamp, self.kick) * z
        # A phase that ends inside the step (clamp_left or ref in (0, dt)), or a threshold
        # crossing: those lanes take the exact segment loop.
        slow = ((clamp_left > 0) & (clamp_left < dt)) | ((ref > 0) & (ref < dt)) | \
            ((ref <= 0) & self.threshold & (v1 >= self.VT))
        slow = np.flatnonzero(slow)
        ref_next = ref - dt
        ref_next[ref_next < 1e-15] = 0.0
        v_next = _clip(v1, self.low, self.high)
        if slow.size:
            vs, rs, sp = self._segments(slow, v[slow], ref[slow], v_inf[slow], v_eq[slow],
                                        z[slow], rng)
            v_next[slow] = vs
            ref_next[slow] = rs
            spikes[slow] += sp
        v[:] = v_next
        ref[:] = ref_next

    def _segments(self, idx: np.ndarray, v: np.ndarray, ref: np.ndarray, v_inf: np.ndarray,
                  v_eq: np.ndarray, z0: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """lifStep's segment loop over one step for the lanes `idx` from their state (v, ref) at
        its start; the first segment draws `z0`. Returns their new v, ref and spikes added."""
        tau, tau_c = self.tau[idx], self.tau_clamp[idx]
        hold, vt, thr = self.hold[idx], self.VT[idx], self.threshold[idx]
        t_ref, v_r = self.tRef[idx], self.VRcell[idx]
        rate, rate_c = -1 / tau, -1 / tau_c
        t = np.full(idx.size, self.dt)
        spikes = np.zeros(idx.size)
        for seg in range(_MAX_SEGMENTS):
            if seg > 0 and not (t > 0).any():
                break
            z = z0 if seg == 0 else rng.standard_normal(idx.size)
            # The phase each lane is in, and how long it lasts inside what is left of the step;
            # lanes that are done have t = 0, so span 0, and do not move.
            clamp_left = ref - hold
            in_clamp = clamp_left > 0
            in_ref = ref > 0
            span = np.minimum(t, np.where(in_clamp, clamp_left, np.where(in_ref, ref, t)))
            target = np.where(in_clamp, v_eq, v_inf)
            e = np.exp(span * np.where(in_clamp, rate_c, rate))
            v_seg = target + (v - target) * e + self.sigma * np.sqrt(1 - e * e) * z
            ref_next = ref - span
            ref_next[ref_next < 1e-15] = 0.0
            t_next = t - span
            # A free lane whose relaxation reaches V_T crosses at the time the deterministic
            # relaxation does; the rest of the step belongs to the next segment (the clamp).
            cross = np.flatnonzero(~in_ref & (t > 0) & thr & (v_seg >= vt))
            if cross.size:
                v0, vi, vtc, tc = v[cross], v_inf[cross], vt[cross], t[cross]
                with np.errstate(divide="ignore", invalid="ignore"):
                    ct = np.where(v0 >= vtc, 0.0,
                                  np.where(vi > vtc, tau[cross] * np.log((vi - v0) / (vi - vtc)),
                                           tc * (vtc - v0) / (v_seg[cross] - v0)))
                ct = np.minimum(np.where(ct >= 0, ct, 0.0), tc)  # NaN: 0, as lifStep
                spikes[cross] += 1
                t_next[cross] = tc - ct
                refractory = t_ref[cross] > 0
                v_seg[cross] = np.where(refractory, vtc, v_r[cross])
                ref_next[cross] = np.where(refractory, t_ref[cross], 0.0)
            v = _clip(v_seg, self.low, self.high)
            ref = ref_next
            t = t_next
        return v, ref, spikes


def _clip(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """np.clip without its dispatch overhead (a fresh array)."""
    out = np.maximum(x, low)
    return np.minimum(out, high, out=out)


def _js_round_int(x: float) -> int:
    return int(np.floor(x + 0.5))


def spike_count(nrn: Neurons, rng: np.random.Generator, exact: bool = False) -> np.ndarray:
    """Spikes of every neuron over the window, from a reset (lifcal's `spike-count`)."""
    s = nrn.settings["spike-count"]
    steps = max(1, _js_round_int(s["windowSeconds"] / s["dtSeconds"]))
    mem = Membrane(nrn, s["windowSeconds"] / steps, exact=exact)
    v_inf, v_eq = mem.targets(nrn.dc_current())
    v = nrn.held_reset_potential().copy()
    ref = nrn.tRef.copy()
    spikes = np.zeros(nrn.n)
    for _ in range(steps):
        mem.step(v, ref, spikes, v_inf, v_eq, rng)
    return spikes


def psp_amplitude(nrn: Neurons, rng: np.random.Generator, exact: bool = False) -> np.ndarray:
    """Excitatory PSP amplitudes (CADC LSB), the runs simulated side by side as lanes
    (lifcal's `psp-amplitude-exc`)."""
    s = nrn.settings["psp-amplitude-exc"]
    runs, events = int(s["runs"]), int(s["events"])
    sub = max(1, _js_round_int(s["spacingSeconds"] / s["dtSeconds"]))
    dt = s["spacingSeconds"] / sub
    lanes = runs * nrn.n
    mem = Membrane(nrn, dt, runs, exact)
    i0 = np.tile(nrn.dc_current(), runs)
    # Each line: exact exponential decay, the membrane sees its mean over the step.
    lines = []
    for gm, tau_syn in ((nrn.gm_exc, nrn.tau_syn_exc), (-nrn.gm_inh, nrn.tau_syn_inh)):
        if not np.any(gm != 0):
            continue  # a disconnected input does not move the membrane
        tau = np.tile(tau_syn, runs)
        e = np.exp(-dt / tau)
        lines.append((np.tile(gm, runs) * (tau / dt) * (1 - e), e,
                      nrn.sigma_line * np.sqrt(1 - e * e)))
    jump = np.tile(nrn.dac_amp * s["weight"], runs)
    v = np.tile(nrn.rest_below_threshold(), runs) + nrn.sigma * rng.standard_normal(lanes)
    ref = np.zeros(lanes)
    spikes = np.zeros(lanes)
    x = [nrn.sigma_line * rng.standard_normal(lanes) for _ in lines]
    before = cadc_read(nrn, v, rng)
    for j in range((events + 1) * sub):
        if j % sub == 0 and j // sub < events and nrn.gm_exc.any():
            x[0] += jump
        current = i0.copy()
        for (gain, _, _), xl in zip(lines, x):
            current += gain * xl
        v_inf, v_eq = mem.targets(current)
        mem.step(v, ref, spikes, v_inf, v_eq, rng)
        for k, (_, e, kick) in enumerate(lines):
            x[k] = x[k] * e + kick * rng.standard_normal(lanes)
    after = cadc_read(nrn, v, rng)
    return (after - before).reshape(runs, nrn.n).mean(axis=0)


def tau_mem(nrn: Neurons, rng: np.random.Generator, exact: bool = False) -> np.ndarray:
    """τ_mem (s) by the offset method and the three-sums estimator (lifcal's `tau-mem`; no
    spikes, so `exact` changes nothing)."""
    s = nrn.settings["tau-mem"]
    n, dt = tau_sampling(s["windowSeconds"], nrn.madc_period, int(s["maxSamples"]))
    tau = nrn.C / nrn.gL
    v_rest = np.clip(nrn.EL + nrn.Isyn / nrn.gL, nrn.low, nrn.high)
    v_on = nrn.EL + (nrn.Isyn + nrn.Ioff) / nrn.gL
    # The offset current on for stepSeconds: one exact OU step from a noisy rest.
    e_on = np.exp(-s["stepSeconds"] / tau)
    v = v_rest + nrn.sigma * rng.standard_normal(nrn.n)
    v = v_on + (v - v_on) * e_on + nrn.sigma * np.sqrt(1 - e_on ** 2) * \
        rng.standard_normal(nrn.n)
    v = np.clip(v, nrn.low, nrn.high)
    e = np.exp(-dt / tau)
    kick = nrn.sigma * np.sqrt(1 - e * e)
    sums = np.zeros((3, nrn.n))
    for j in range(3 * n):
        sums[j // n] += madc_read(nrn, v, nrn.madc_noise * rng.standard_normal(nrn.n))
        v = _clip(v_rest + (v - v_rest) * e + kick * rng.standard_normal(nrn.n), nrn.low,
                  nrn.high)
    return tau_from_three_sums(sums[0], sums[1], sums[2], n, dt, nrn.tau_mem_bounds)


_MEASURE = {"spike-count": spike_count, "psp-amplitude-exc": psp_amplitude, "tau-mem": tau_mem}


def measure(nrn: Neurons, kind: str, rng: np.random.Generator, exact: bool = False) -> np.ndarray:
    """One measurement of every neuron (`exact`: lifStep's segment loop for every lane)."""
    return _MEASURE[kind](nrn, rng, exact)


def warmup(nrn: Neurons, kinds: list[str], exact: bool = False) -> None:
    """Each measurement once on the first chip, the spike count over 20 µs."""
    one = nrn.subset(1)
    one.settings = {**nrn.settings, "spike-count": {**nrn.settings["spike-count"],
                                                    "windowSeconds": 20e-6}}
    rng = np.random.default_rng(12345)
    for kind in kinds:
        measure(one, kind, rng, exact)


def main() -> None:
    args = parse_args(" ".join(__doc__.split("\n\n")[0].split()), {
        "--exact": "lifStep's segment loop for every lane instead of the two-part step (slower; "
                   "differs only in the crossing time of a refractory time ending and a "
                   "threshold crossed in one step)"})
    run_peer("numpy", {"numpy": np.__version__, "step": "exact" if args.exact else "two-part"},
             args, lambda nrn, kind, rng: measure(nrn, kind, rng, args.exact),
             lambda nrn, kinds: warmup(nrn, kinds, args.exact))


if __name__ == "__main__":
    main()
