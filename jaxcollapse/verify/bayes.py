r"""Checks of `jaxcollapse.theory.rates`, the closed forms behind the Bayesian collapse model.

The spread model of `jaxcollapse.bayes` rests on one exact statement: for the 1-D Gaussian MLE refit
on $n$ samples drawn at temperature $\tau$, $y_t = \ln(\sigma_t^2/\sigma_{t-1}^2) = \ln\tau^2 +
\ln(\chi^2_{n-1}/n)$, i.i.d. over $t$, so $E y_t = -r = -[r_{\rm sample}(n) + r_{\rm approx}(\tau^2)]$
and $\mathrm{Var}\,y_t = \psi'(\tfrac{n-1}{2})$. Both are compared with per-chain log ratios of a
simulation (|z| < `Z_BOUND`), at two temperatures, on generations 1, 2 and 5 (independent steps).
"""

from __future__ import annotations

import numpy as np

from .. import regimes
from ..families import Gaussian
from ..theory import rates as th
from ._core import keys, means, path_means, path_vars, paths, register, scaled_chains, sim

_N, _G, _TS = 30, 5, (1, 2, 5)


@register("bayes.collapse_rate", family="bayes",
          source="Shumailov et al. 2024 (Nature); temperature term derived here",
          description="log ratio of the MLE variance at temperature tau: E = -(r_sample(n) + r_approx(tau^2)), "
                      "Var = psi'((n-1)/2)")
def _collapse_rate(key, scale):
    name = "bayes.collapse_rate"
    out = []
    for k, tau in zip(keys(key, 2), (1.0, 0.9), strict=True):
        traj = sim(k, Gaussian(0.0, 2.0, "mle"), regimes.replace(_N, temperature=tau), _G, scaled_chains(20000, scale),
                    ("trace",), record_paths=True)
        v = paths(traj, "trace")
        y = np.full_like(v, np.nan)
        y[1:] = np.log(v[1:]) - np.log(v[:-1])  # y[t]: the step into generation t
        rate = float(th.collapse_rate(_N, tau * tau, "mle"))
        out += path_means(name, f"E log ratio tau={tau:g}", y, _TS, -rate)
        out += path_vars(name, f"Var log ratio tau={tau:g}", y, _TS, float(th.log_ratio_var(_N)))
    return out


@register("bayes.diversity_rate", family="bayes", source="Seddik et al. 2024; Ewens 2004, eq. 1.26",
          description="categorical replace, n = 20, K = 5: E H_t = H_0 exp(-t r_div), r_div = -ln(1 - 1/n)")
def _diversity_rate(key, scale):
    from . import categorical as vc  # the configuration of categorical.heterozygosity_replace (one compiled program)

    name = "bayes.diversity_rate"
    traj = vc._sim_a(key, scale, vc._H_N)
    ts = np.asarray(vc._H_TS)
    theory = vc._H5 * np.exp(-ts * float(th.diversity_rate(vc._H_N)))
    return means(name, traj, "gini_simpson", tuple(int(t) for t in ts), theory)


@register("bayes.ols_error_increment", family="bayes", source="Dohmatob, Feng and Kempe 2024, Theorem 1",
          description="regression replace, fresh design (d = 5, T = 20): E excess_risk_t = t sigma^2 d/(T - d - 1)")
def _ols_error_increment(key, scale):
    from . import regression as vr  # the configuration of regression.replace_fresh (one compiled program)

    name = "bayes.ols_error_increment"
    traj = vr._run(key, "fresh", regimes.replace(vr.T), scale)
    ts = np.asarray(vr.TS)
    return means(name, traj, "excess_risk", tuple(int(t) for t in ts),
                 ts * float(th.ols_error_increment(vr.NOISE**2, vr.D, vr.T)))
