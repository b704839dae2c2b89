#!/usr/bin/env python3
"""The Brian2 peer: lifcal's spike-count, PSP-amplitude and τ_mem measurements as Brian2
NeuronGroups (runtime mode, Cython code generation), on the same neurons as lifcal.

Brian2's integrators for stochastic equations (euler, heun, milstein) are not the exact
Ornstein–Uhlenbeck step lifcal takes, so each group's step is written as its own code (a
run_regularly operation in the 'groups' slot, every dt), and spikes go through Brian2's threshold
and reset:

  step       The part of the step the reset clamp still holds (t_c) relaxes towards the balance of
             clamp and leak (τ_c = C/(g_L + g_R)), the rest towards V∞ = E_L + I/g_L (τ = C/g_L),
             exactly, with one normal for both parts (the OU transition over the two parts in
             closed form: variance σ_V²·(1 − e_c²·e_f²)); potentials stay between the rails.
  threshold  v ≥ V_T once the refractory time is over, in the free part of the step.
  reset      the crossing time inside the step from the deterministic relaxation (lifStep's
             formula), the membrane set to V_T and clamped for the rest of the step, the refractory
             time started at the crossing; the count goes up.

That is the NumPy peer's default two-part step: lifcal's lifStep (backends/cpu/lif_step.ts)
except in steps where the refractory time ends and the threshold is crossed in the same step (the
crossing time then counts from the start of the step, bounded below by the end of the refractory
time), which the benchmark's neurons never do. It needs t_reset ≥ dt (the clamp outlasts a step;
true for the benchmark's 1.98 µs at 0.1 µs) and t_ref > 0.

  spike-count        from the held reset potential, refractory; the count of resets over 1 ms
                     (10 000 steps of 0.1 µs).
  psp-amplitude-exc  runs × neurons in one group from rest; 15 events 1 µs apart raise the
                     excitatory line by dac·weight at the start of their step; the line decays
                     exactly (τ_syn) with OU noise and drives the membrane with its step-averaged
                     current; CADC read (NumPy) before and after 16 µs (40 ns steps).
  tau-mem            after one exact 100 µs step with the offset current on (NumPy), the relaxation
                     is sampled at the MADC period in the group's code, three window sums streamed
                     per neuron, τ from the three-successive-sums estimator (no least-squares fit).

Timing: one warm-up run (every measurement on one chip, short) compiles the Cython code objects
(cached on disk for later runs); the timed run then includes Brian2's per-run set-up but no
compilation. Run: python3 bench/peers/brian2_lif.py [--params FILE] [--chips 16] [--json]
(without --params it exports seeds 1..--chips with deno first).
"""

from __future__ import annotations

import warnings

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

import brian2 as b2  # noqa: E402
from brian2 import amp, farad, second, siemens, volt  # noqa: E402

from peer_common import (Neurons, cadc_read, parse_args, run_peer,  # noqa: E402
                         tau_from_three_sums, tau_sampling)

b2.prefs.codegen.target = "cython"
b2.BrianLogger.log_level_error()

_LIF_EQUATIONS = """
C : farad (constant)
gL : siemens (constant)
gR : siemens (constant)
EL : volt (constant)
VRcell : volt (constant)
VT : volt (constant)
thr : 1 (constant)
tRef : second (constant)
hold : second (constant)
tau : second (constant)
tauc : second (constant)
Istep : amp
v : volt
vp : volt
ref_left : second
tfree : second
count : 1
vinf = EL + Istep/gL : volt
veq = (gR*VRcell + gL*EL + Istep)/(gL + gR) : volt
"""

# One exact step: clamp part t_c, free part dt − t_c, one normal for both.
_LIF_STEP = """
vp = v
tc = clip(ref_left - hold, 0*second, dt)
tfree = dt - clip(ref_left, 0*second, dt)
ec = exp(-tc/tauc)
ef = exp(-(dt - tc)/tau)
v = clip(vinf + (veq + (v - veq)*ec - vinf)*ef + sigma*sqrt(1 - (ec*ef)**2)*randn(), low, high)
ref_left = (ref_left - dt)*int(ref_left - dt > 1e-15*second)
"""

_LIF_THRESHOLD = "v >= VT and ref_left <= 0*second and tfree > 0*second and thr > 0"

# The crossing time (from the start of the step, inside its free part), then the clamp.
_LIF_RESET = """
cross_exp = int(vinf > VT)*tau*log(clip((vinf - vp)/(vinf - VT), 1, 1e300))
cross_lin = int(vinf <= VT)*dt*(VT - vp)/(abs(v - vp) + 1e-30*volt)
cross = clip(cross_exp + cross_lin, dt - tfree, dt)
rem = dt - cross
er = exp(-rem/tauc)
v = clip(veq + (VT - veq)*er + sigma*sqrt(1 - er**2)*randn(), low, high)
ref_left = tRef - rem
count += 1
"""

_LINE_EQUATIONS = """
I0 : amp (constant)
xe : volt
gavg : siemens (constant)
line_decay : 1 (constant)
line_kick : volt (constant)
jump : volt (constant)
"""

_LINE_BEFORE = """
xe += jump*int(t_in_timesteps % sub == 0 and t_in_timesteps < events*sub)
Istep = I0 + gavg*xe
"""

_LINE_AFTER = """
xe = xe*line_decay + line_kick*randn()
"""

_TAU_EQUATIONS = """
v : volt
vrest : volt (constant)
decay : 1 (constant)
kick : volt (constant)
s1 : 1
s2 : 1
s3 : 1
"""

_TAU_STEP = """
r = clip(floor((v - madc_offset)/madc_lsb + madc_sd*randn() + 0.5), 0, 1023)
s1 += r*int(t_in_timesteps < n)
s2 += r*int(t_in_timesteps >= n and t_in_timesteps < 2*n)
s3 += r*int(t_in_timesteps >= 2*n)
v = clip(vrest + (v - vrest)*decay + kick*randn(), low, high)
"""


def _lif_group(nrn: Neurons, dt: float, reps: int, code: str,
               extra: str = "", namespace: dict | None = None) -> b2.NeuronGroup:
    if np.any(nrn.tReset < dt) or np.any(nrn.tRef <= 0):
        raise SystemExit("brian2 peer: needs t_reset ≥ dt and t_ref > 0 for every neuron")
    ns = {"sigma": nrn.sigma * volt, "low": nrn.low * volt, "high": nrn.high * volt,
          **(namespace or {})}
    g = b2.NeuronGroup(reps * nrn.n, _LIF_EQUATIONS + extra, threshold=_LIF_THRESHOLD,
                       reset=_LIF_RESET, dt=dt * second, namespace=ns)

    def tile(x: np.ndarray) -> np.ndarray:
        return np.tile(x, reps)

    g.C = tile(nrn.C) * farad
    g.gL = tile(nrn.gL) * siemens
    g.gR = tile(nrn.gR) * siemens
    g.EL = tile(nrn.EL) * volt
    g.VRcell = tile(nrn.VRcell) * volt
    g.VT = tile(nrn.VT) * volt
    g.thr = tile(nrn.threshold.astype(float))
    g.tRef = tile(nrn.tRef) * second
    g.hold = tile(nrn.tRef - nrn.tReset) * second
    g.tau = tile(nrn.C / nrn.gL) * second
    g.tauc = tile(nrn.C / (nrn.gL + nrn.gR)) * second
    g.Istep = tile(nrn.dc_current()) * amp
    g.run_regularly(code, when="groups")
    return g


def _steps(x: float) -> int:
    return max(1, int(np.floor(x + 0.5)))


def spike_count(nrn: Neurons) -> np.ndarray:
    """Spikes of every neuron over the window, from a reset (lifcal's `spike-count`)."""
    s = nrn.settings["spike-count"]
    steps = _steps(s["windowSeconds"] / s["dtSeconds"])
    dt = s["windowSeconds"] / steps
    g = _lif_group(nrn, dt, 1, _LIF_STEP)
    g.v = nrn.held_reset_potential() * volt
    g.ref_left = nrn.tRef * second
    b2.Network(g).run(steps * dt * second)
    return np.asarray(g.count[:], dtype=float)


def psp_amplitude(nrn: Neurons, rng: np.random.Generator) -> np.ndarray:
    """Excitatory PSP amplitudes (CADC LSB), the runs side by side in one group."""
    s = nrn.settings["psp-amplitude-exc"]
    runs, events = int(s["runs"]), int(s["events"])
    sub = _steps(s["spacingSeconds"] / s["dtSeconds"])
    dt = s["spacingSeconds"] / sub
    if np.any(nrn.gm_inh != 0):
        raise SystemExit("brian2 peer: the inhibitory input is connected; only exc is modelled")
    g = _lif_group(nrn, dt, runs, _LINE_BEFORE + _LIF_STEP + _LINE_AFTER, _LINE_EQUATIONS,
                   {"sub": sub, "events": events})
    tau = np.tile(nrn.tau_syn_exc, runs)
    e = np.exp(-dt / tau)
    g.I0 = np.tile(nrn.dc_current(), runs) * amp
    g.gavg = np.tile(nrn.gm_exc, runs) * (tau / dt) * (1 - e) * siemens
    g.line_decay = e
    g.line_kick = nrn.sigma_line * np.sqrt(1 - e * e) * volt
    g.jump = np.tile(nrn.dac_amp * s["weight"], runs) * volt
    lanes = runs * nrn.n
    v0 = np.tile(nrn.rest_below_threshold(), runs) + nrn.sigma * rng.standard_normal(lanes)
    g.v = v0 * volt
    g.xe = nrn.sigma_line * rng.standard_normal(lanes) * volt
    before = cadc_read(nrn, v0, rng)
    b2.Network(g).run((events + 1) * sub * dt * second)
    after = cadc_read(nrn, np.asarray(g.v[:]), rng)
    return (after - before).reshape(runs, nrn.n).mean(axis=0)


def tau_mem(nrn: Neurons, rng: np.random.Generator) -> np.ndarray:
    """τ_mem (s) by the offset method and the three-sums estimator (lifcal's `tau-mem`)."""
    s = nrn.settings["tau-mem"]
    n, dt = tau_sampling(s["windowSeconds"], nrn.madc_period, int(s["maxSamples"]))
    tau = nrn.C / nrn.gL
    v_rest = np.clip(nrn.EL + nrn.Isyn / nrn.gL, nrn.low, nrn.high)
    v_on = nrn.EL + (nrn.Isyn + nrn.Ioff) / nrn.gL
    e_on = np.exp(-s["stepSeconds"] / tau)
    v = v_rest + nrn.sigma * rng.standard_normal(nrn.n)
    v = v_on + (v - v_on) * e_on + nrn.sigma * np.sqrt(1 - e_on ** 2) * rng.standard_normal(nrn.n)
    ns = {"low": nrn.low * volt, "high": nrn.high * volt, "n": n,
          "madc_offset": nrn.madc_offset * volt, "madc_lsb": nrn.madc_lsb * volt,
          "madc_sd": nrn.madc_noise}
    g = b2.NeuronGroup(nrn.n, _TAU_EQUATIONS, dt=dt * second, namespace=ns)
    e = np.exp(-dt / tau)
    g.v = np.clip(v, nrn.low, nrn.high) * volt
    g.vrest = v_rest * volt
    g.decay = e
    g.kick = nrn.sigma * np.sqrt(1 - e * e) * volt
    g.run_regularly(_TAU_STEP, when="groups")
    b2.Network(g).run(3 * n * dt * second)
    return tau_from_three_sums(np.asarray(g.s1[:]), np.asarray(g.s2[:]), np.asarray(g.s3[:]), n,
                               dt, nrn.tau_mem_bounds)


def measure(nrn: Neurons, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One measurement of every neuron; Brian2's own generator is seeded from `rng`."""
    b2.seed(int(rng.integers(2 ** 31)))
    if kind == "spike-count":
        return spike_count(nrn)
    if kind == "psp-amplitude-exc":
        return psp_amplitude(nrn, rng)
    return tau_mem(nrn, rng)


def warmup(nrn: Neurons, kinds: list[str]) -> None:
    """Each measurement once on the first chip (spike count over 20 µs): compiles the code."""
    one = nrn.subset(1)
    one.settings["spike-count"] = {**one.settings["spike-count"], "windowSeconds": 20e-6}
    rng = np.random.default_rng(12345)
    for kind in kinds:
        measure(one, kind, rng)


def main() -> None:
    args = parse_args(" ".join(__doc__.split("\n\n")[0].split()))
    run_peer("brian2", {"brian2": b2.__version__, "numpy": np.__version__,
                        "codegen": str(b2.prefs.codegen.target)}, args, measure, warmup)


if __name__ == "__main__":
    main()
