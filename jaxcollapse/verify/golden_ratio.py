r"""Checks of the fresh-data weighting laws of `jaxcollapse.theory.golden_ratio` (He, Xu and Cheng 2025).

Rules as in `jaxcollapse.verify`: Monte Carlo means against exact finite values ($|z| < 4$, standard errors
from the chains, float64, a fixed key per check); the stationary limit and the optimal weight are checked
deterministically (rule ``"gap"``) against the exact finite-$t$ value and against a numerical minimization.

- ``golden_ratio.weighted_fresh``: the weighted MLE of a Gaussian and the weighted Poisson rate with $n$ fresh
  real and $m$ synthetic samples per generation, at three real weights $w$ (one compiled program per family:
  $w$ is traced): $E(\mu_t - \mu)^2$ follows `mixed_mean_sq_err` (MLE law), $E(\lambda_t - \lambda_0)^2$ the
  known-variance law with $\sigma^2 = \lambda_0$ (derived in `jaxcollapse.theory.golden_ratio`).
- ``golden_ratio.optimum``: the closed-form optimal weight against a bounded scalar minimization of the
  stationary error, for both laws and unequal $n$, $m$; the golden ratio at $m = n$; and the Poisson loop with
  $m = 3n$ run at its optimum $w^*(1/3)$ against the stationary law (the same compiled program as above:
  $w$ and $m$ are traced).
"""

from __future__ import annotations

import math

import numpy as np

from .. import regimes
from ..families import Gaussian, Poisson
from ..theory import gaussian as thg
from ..theory import golden_ratio as th
from ._core import compare_gap, keys, means, register, scaled_chains, sim, theory_at

_N, _M, _G = 10, 10, 40
_WS = (0.3, th.INV_PHI, 0.9)
_TS = (1, 5, _G)
_MU, _S2, _RATE = 0.5, 1.5, 2.0


def _sim_gauss(key, scale, w):
    return sim(key, Gaussian(_MU, _S2, "mle"), regimes.weighted(_N, _M, w, real="fresh"), _G,
               scaled_chains(40_000, scale), ("mean_sq_err", "conserved"))


def _sim_poisson(key, scale, w, m=_M):
    # m (the synthetic sample size) is traced on the exact path: every (w, m) shares one compiled program
    return sim(key, Poisson(_RATE), regimes.weighted(_N, m, w, real="fresh"), _G, scaled_chains(40_000, scale),
               ("sq_err", "rate"))


@register("golden_ratio.weighted_fresh", family="golden_ratio", source="He, Xu and Cheng 2025; derived here",
          description="weighted fit on n = 10 fresh real + m = 10 synthetic samples, real weight w in {0.3, 1/phi, "
                      "0.9}: Gaussian MLE mean error (mixed_mean_sq_err, MLE law) and Poisson rate error "
                      "(known-variance law, sigma^2 = rate_0); the stationary law's gap to e_40")
def _weighted_fresh(key, scale):
    name = "golden_ratio.weighted_fresh"
    out = []
    ks = keys(key, 2 * len(_WS))
    for i, w in enumerate(_WS):
        a = 1.0 - w
        e = theory_at(thg.mixed_mean_sq_err, _TS, _N, _M, a, _S2, real="fresh", estimator="mle")
        traj = _sim_gauss(ks[i], scale, w)
        out += means(name, traj, "mean_sq_err", _TS, e, quantity=f"gauss E(mu-mu*)^2 w={w:.3f}")
        out += means(name, traj, "conserved", _TS, thg.conserved_mean(_S2), quantity=f"gauss conserved w={w:.3f}")
        ep = theory_at(thg.mixed_mean_sq_err, _TS, _N, _M, a, _RATE, real="fresh", estimator="mean")
        trp = _sim_poisson(ks[len(_WS) + i], scale, w)
        out += means(name, trp, "sq_err", _TS, ep, quantity=f"poisson E(rate-rate0)^2 w={w:.3f}")
        out += means(name, trp, "rate", _TS, _RATE, quantity=f"poisson E rate w={w:.3f}")
        # the stationary law against the exact e_40: e_t = e* (1 - A^t), a relative gap A^40/(1 - A^40)
        big_a = a * a * (1.0 - 1.0 / _M)
        lim = float(th.weighted_fresh_error_limit(_N, _M, w, _S2, "mle"))
        out.append(compare_gap(name, f"gauss e* vs e_40 w={w:.3f}", _G, e[-1], lim, max(2.0 * big_a**_G, 1e-12),
                               reason=f"e_t = e*(1 - A^t), A = (1-w)^2 (1 - 1/m) = {big_a:.3g}: gap A^40/(1 - A^40) "
                                      "(or rounding)"))
    return out


@register("golden_ratio.optimum", family="golden_ratio", source="He, Xu and Cheng 2025; derived here",
          description="the optimal real weight w* = 1 - a*, c a^2 - (1 + n/m + c) a + 1 = 0 (c = 1 known variance, "
                      "1 - 1/m MLE), against a numerical minimization; w*(m = n) = 1/phi; the Poisson loop with "
                      "n = 10, m = 30 at its optimum w*(1/3) against the stationary law")
def _optimum(key, scale):
    from scipy.optimize import minimize_scalar

    name = "golden_ratio.optimum"
    out = []
    for est in ("mean", "mle"):
        for nr, ns in ((100, 100), (10, 30), (50, 7)):
            res = minimize_scalar(lambda w, nr=nr, ns=ns, est=est: float(
                th.weighted_fresh_error_limit(nr, ns, w, 1.0, est)), bounds=(1e-9, 1.0), method="bounded",
                options={"xatol": 1e-12})
            closed = float(th.weighted_fresh_optimal_weight(nr, ns, est))
            out.append(compare_gap(name, f"w* {est} n={nr} m={ns}", 0, res.x, closed, 1e-6,
                                   reason="bounded Brent minimization (xatol 1e-12) of a smooth function: its argmin "
                                          "is accurate to about sqrt(machine eps) relative"))
    out.append(compare_gap(name, "golden_weight(1) vs (sqrt 5 - 1)/2", 0, (math.sqrt(5.0) - 1.0) / 2.0,
                           float(th.golden_weight(1.0)), 1e-15, reason="the same number in floating point"))
    k = np.array([0.25, 1.0, 3.0])
    gap = np.abs(th.weighted_fresh_optimal_weight(k * 30, 30, "mean") / th.golden_weight(k) - 1.0)
    out.append(compare_gap(name, "golden_weight(k) vs optimal weight (known variance), max over k", 0, 1.0,
                           1.0 + float(gap.max()), 1e-12,
                           reason="w^2 + k w - k = 0 is c a^2 - (2 + k) a + 1 = 0 at c = 1 with a = 1 - w"))
    # in simulation: n = 10 fresh real, m = 30 synthetic, at the optimum w*(k = 1/3) ~ 0.434
    m = 30
    w = float(th.golden_weight(_N / m))
    traj = _sim_poisson(key, scale, w, m)
    e = theory_at(thg.mixed_mean_sq_err, (_G,), _N, m, 1.0 - w, _RATE, real="fresh", estimator="mean")
    out += means(name, traj, "sq_err", (_G,), e, quantity=f"poisson E(rate-rate0)^2 at w*={w:.3f}, m={m}")
    lim = float(th.weighted_fresh_error_limit(_N, m, w, _RATE, "mean"))
    big_a = (1.0 - w) ** 2
    out.append(compare_gap(name, "poisson e* vs e_40 at w*", _G, float(e[0]), lim, max(2.0 * big_a**_G, 1e-12),
                           reason=f"e_t = e*(1 - a^2t), a^2 = {big_a:.3g}: gap a^80/(1 - a^80) (or rounding)"))
    return out
