r"""Checks of the survival laws of `jaxcollapse.theory.suresh` (Suresh, Thangaraj and Khandavally 2024).

Rules as in `jaxcollapse.verify`: Monte Carlo shares and means against exact finite values ($|z| < 4$,
standard errors from the chains, float64, a fixed key per check); identities between closed forms
deterministically (rule ``"gap"``). The bounds themselves (the categorical survival bound, the Gaussian tail
bound) are inequalities: they are checked against the exact values and the simulations in the tests
(``tests/test_suresh.py``) and in the reproductions ``suresh2024_*`` (report rule ``"lower"``/``"upper"``).

- ``suresh.poisson_survival``: replace, $n = 5$, $\lambda_0 = 0.4$: $P(\Lambda_t \ne 0)$ against
  `suresh_survival_bound`, which is exact for the Poisson loop (and equals one minus
  `poisson_extinction_probability`, checked to rounding).
- ``suresh.categorical_survival``: five categories, replace $n = 20$, 30 generations: the expected number of
  surviving categories (`expected_surviving`) and the expected mass lost,
  $\sum_i p_i(1 - P(p_{t,i} \ne 0))$ (`wright_fisher_survival`, symbol by symbol).
- ``suresh.gaussian_tail``: unbiased refit, $n = 5$: $P(\sigma_t > 1/2)$ against the exact tail
  `gaussian_sigma_tail` (Gil-Pelaez inversion), from the recorded per-chain spreads; and the excess of
  `suresh_gaussian_bound` over Markov's inequality with the exact $E\sigma_t$, deterministically.
"""

from __future__ import annotations

import math

import numpy as np

from .. import regimes
from ..families import Categorical, Gaussian
from ..theory import gaussian as thg
from ..theory import poisson as thp
from ..theory import suresh as th
from ._core import compare_gap, frac_z, means, paths, register, scaled_chains, sim
from .poisson import _sim_poisson

_P5 = np.array([0.4, 0.3, 0.15, 0.1, 0.05])


@register("suresh.poisson_survival", family="suresh", source="Suresh et al. 2024 (bound); exact: Harris 1963",
          description="replace, n = 5, rate 0.4: P(rate_t != 0) = 1 - exp(-n rate_0 g_t), g_t = g^(t)(inf), "
                      "g(x) = 1 - e^-x; identical to the Galton-Watson extinction recursion")
def _poisson_survival(key, scale):
    name = "suresh.poisson_survival"
    n, lam, ts = 5, 0.4, (1, 3, 10, 30)
    # the configuration of poisson.extinction (replace with a constant linear schedule): one compiled program
    ext = paths(_sim_poisson(key, scale, regimes.replace(regimes.linear(n, 0.0)), lam), "extinct")
    bound = th.suresh_survival_bound(np.array(ts), n, lam)
    out = [frac_z(name, "P(rate_t != 0)", t, bound[i], ext[t] == 0) for i, t in enumerate(ts)]
    exact = 1.0 - thp.poisson_extinction_probability(np.arange(1, 31), n, lam)
    gap = np.max(np.abs(th.suresh_survival_bound(np.arange(1, 31), n, lam) / exact - 1.0))
    out.append(compare_gap(name, "Suresh bound vs Galton-Watson recursion, max over t <= 30", 30, 1.0, 1.0 + gap,
                           1e-12, reason="the same law: 1 - q_(t-1) = g_t with q_j = exp(q_(j-1) - 1), q_0 = 0"))
    # Kolmogorov's g_k ~ 2/k against the exact iterate
    out.append(compare_gap(name, "g_k vs 2/k (Kolmogorov)", 1000, float(th.suresh_g(1000)), 2.0 / 1000, 0.005,
                           reason="g_k = 2/(k + O(log k)) for the critical Poisson(1) process: 0.31% at k = 1000"))
    return out


@register("suresh.categorical_survival", family="suresh", source="derived here (Wright-Fisher chains)",
          description="K = 5, p = (0.4, 0.3, 0.15, 0.1, 0.05), replace n = 20: E #surviving = sum_i P(p_t,i != 0) "
                      "and E mass lost = sum_i p_i P(p_t,i = 0), each symbol an exact two-type Wright-Fisher chain")
def _categorical_survival(key, scale):
    name = "suresh.categorical_survival"
    n, g, ts = 20, 30, (1, 3, 10, 30)
    traj = sim(key, Categorical(_P5), regimes.replace(n), g, scaled_chains(40_000, scale),
               ("surviving", "tail_mass_lost"))
    t = np.array(ts)
    out = means(name, traj, "surviving", ts, th.expected_surviving(t, n, _P5), quantity="E #surviving")
    surv = th.wright_fisher_survival(t, n, _P5)  # (len(ts), K)
    out += means(name, traj, "tail_mass_lost", ts, (1.0 - surv) @ _P5, quantity="E mass lost")
    return out


@register("suresh.gaussian_tail", family="suresh", source="derived here (Gil-Pelaez); Suresh et al. 2024 (setting)",
          description="unbiased refit, replace n = 5: P(sigma_t > 1/2) = P(sum of t log chi2_4/4 > 2 ln(1/2)), "
                      "by the inversion of its characteristic function")
def _gaussian_tail(key, scale):
    name = "suresh.gaussian_tail"
    n, g, eps, ts = 5, 20, 0.5, (1, 5, 10, 20)
    traj = sim(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(n), g, scaled_chains(40_000, scale), ("sigma",),
               record_paths=True)
    sig = paths(traj, "sigma")
    exact = th.gaussian_sigma_tail(np.array(ts), n, eps)
    out = [frac_z(name, "P(sigma_t > 1/2)", t, exact[i], sig[t] > eps) for i, t in enumerate(ts)]
    # Suresh et al.'s bound is Markov's (sigma_0/eps) c^t with c <= exp(-1/(4n)); since -ln c = 1/(4(n-1)) - O(n^-3),
    # it exceeds Markov's by a factor of at most exp(t/(4n(n-1)))
    t = ts[-1]
    markov = float(thg.sigma_mean(t, n, 1.0, "unbiased")) / eps
    out.append(compare_gap(name, "Suresh bound vs Markov with the exact E sigma_t", t, markov,
                           float(th.suresh_gaussian_bound(t, n, eps)), math.expm1(t / (4.0 * n * (n - 1))),
                           reason="the bound replaces c = E sqrt(chi2_(n-1)/(n-1)) by exp(-1/(4n)): a relative excess "
                                  "below exp(t/(4n(n-1))) - 1"))
    return out
