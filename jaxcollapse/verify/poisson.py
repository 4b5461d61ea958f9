r"""Checks of the Poisson family against `jaxcollapse.theory.poisson`.

Rules as in `jaxcollapse.verify`: every comparison is exact (rule ``"z"``, $|z| < 4$, standard errors
from the chains), in float64 with a fixed key per check.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from .. import regimes
from ..families.poisson import Poisson
from ..theory import poisson as th
from ._core import compare_gap, means, path_means, path_vars, paths, register, scaled_chains, sim

# --------------------------------------------------------------------------- Poisson
# Two compiled configurations: replace with a linear schedule (a constant n is rate 0) and accumulate.
_PO_G = 30


def _sim_poisson(key, scale, regime, rate):
    return sim(key, Poisson(rate), regime, _PO_G, scaled_chains(40_000, scale), ("rate", "extinct"), record_paths=True)


@register("poisson.moments", family="poisson", source="derived here (martingale)",
          description="replace (n = 5) and accumulate (n = 5), rate 2: E rate_t = rate_0; Var rate_t = t rate_0/n "
                      "(replace), rate_0/n sum_{j<=t} 1/j^2 (accumulate)")
def _poisson_moments(key, scale):
    name = "poisson.moments"
    n, lam, ts = 5, 2.0, (1, 5, 30)
    out = []
    for kk, memory in zip(jax.random.split(key), ("replace", "accumulate"), strict=True):
        rg = regimes.replace(regimes.linear(n, 0.0)) if memory == "replace" else regimes.accumulate(n)
        rate = paths(_sim_poisson(kk, scale, rg, lam), "rate")
        out += path_means(name, f"E rate {memory}", rate, ts, lam)
        out += path_vars(name, f"Var rate {memory}", rate, ts, th.poisson_rate_var(np.array(ts), n, lam, memory))
    return out


@register("poisson.extinction", family="poisson", source="derived here; Harris 1963 (Galton-Watson)",
          description="P(rate_t = 0): replace n = 5, rate 0.4 (GF iteration f(s) = e^(s-1)); schedule n_t = 2 + t; "
                      "accumulate: exp(-n rate_0) for every t")
def _poisson_extinction(key, scale):
    name = "poisson.extinction"
    ts = (1, 3, 10, 30)
    k = jax.random.split(key, 3)
    ext = paths(_sim_poisson(k[0], scale, regimes.replace(regimes.linear(5, 0.0)), 0.4), "extinct")
    exact = th.poisson_extinction_probability(np.array(ts), 5, 0.4)
    out = path_means(name, "P(extinct) replace", ext, ts, exact)
    # Kolmogorov's estimate of the survival probability is not compared with the simulation: its gap to the exact
    # survival at t = 30 is checked without randomness, 6.1% (13% at t = 10; the relative error is O(log t / t)).
    out.append(compare_gap(name, "Kolmogorov vs exact P(survive)", ts[-1], 1.0 - exact[-1],
                           float(th.poisson_survival_asymptotic(ts[-1], 5, 0.4)[()]), 0.08,
                           reason="Kolmogorov's estimate 1 - q_t ~ 2/t, relative error O(log t / t): 6.1% at t = 30"))
    ext = paths(_sim_poisson(k[1], scale, regimes.replace(regimes.linear(3, 1)), 0.4), "extinct")
    ns = 3.0 + np.arange(_PO_G)
    out += path_means(name, "P(extinct) n_t = 2 + t", ext, ts,
                       th.poisson_extinction_schedule(ns, 0.4)[np.asarray(ts) - 1])
    ext = paths(_sim_poisson(k[2], scale, regimes.accumulate(2), 0.5), "extinct")
    out += path_means(name, "P(extinct) accumulate", ext, ts, math.exp(-2 * 0.5))
    return out


@register("poisson.fresh_drift", family="poisson", source="derived here (linear conditional means)",
          description="fresh real data (n_r = 10, n_s = 30), rate 3, log-rate moving v per generation: E rate_t = "
                      "rate_0 [a^t + (1-a) e^v (e^(vt) - a^t)/(e^v - a)]; v = 0.1 and v = ln a (the limit t a^(t-1))")
def _poisson_fresh_drift(key, scale):
    name = "poisson.fresh_drift"
    nr, ns, lam, g, ts = 10, 30, 3.0, 20, (1, 3, 10, 20)
    out = []
    for kk, v in zip(jax.random.split(key), (0.1, math.log(ns / (nr + ns))), strict=True):
        traj = sim(kk, Poisson(lam), regimes.fresh(nr, ns, drift=v), g, scaled_chains(40_000, scale), ("rate",))
        out += means(name, traj, "rate", ts, th.poisson_fresh_drift_rate(np.array(ts), nr, ns, v, lam),
                      quantity=f"E rate v={v:.4g}")
    return out
