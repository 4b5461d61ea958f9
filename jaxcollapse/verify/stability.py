r"""Checks of the Gaussian retraining loop with a fixed real set (`jaxcollapse.theory.stability`).

Rules as in `jaxcollapse.verify` ($|z| < 4$ on Monte Carlo means against exact finite values, float64, a
fixed key per check; the stationary and $\lambda\to\infty$ limits deterministically, rule ``"gap"``).

- ``stability.augment_gaussian``: the MLE refit on a fixed real set of $n_r = 10$ plus $\lambda n_r = 30$
  synthetic samples (Bertrand et al. 2024's setting), 60 generations. Per chain, the real set's MLE
  $\bar x_D$ (`Trajectory.real`) and the fitted means (`Trajectory.params`): $E(\mu_t - \bar x_D)^2$
  (`augment_real_fit_sq_err`), the contraction moment $E[(\mu_t - \bar x_D)(\mu - \bar x_D)] = a^t\sigma^2/n_r$
  (`augment_contraction_moment`), and the error to the truth at $t = 60$ against the exact $e_{60}$, whose gap
  to `augment_stationary_mean_sq_err` is checked deterministically, as is the $\lambda \to \infty$ limit
  (`augment_stationary_limit`).
"""

from __future__ import annotations

import numpy as np

from .. import regimes
from ..engine import simulate
from ..families import Gaussian
from ..theory import gaussian as thg
from ..theory import stability as th
from ._core import compare_gap, means, path_means, register, scaled_chains

_NR, _LAM, _G, _MU, _S2 = 10, 3.0, 60, 0.5, 1.5
_TS = (1, 3, 10, 60)


@register("stability.augment_gaussian", family="stability", source="Bertrand et al. 2024 (setting); derived here",
          description="MLE on a fixed real set (n_r = 10) plus lambda n_r = 30 synthetic samples: E(mu_t - xbar_D)^2, "
                      "E[(mu_t - xbar_D)(mu - xbar_D)] = a^t sigma^2/n_r, the stationary error and its lambda -> inf "
                      "limit 3 sigma^2/(2 n_r + 1)")
def _augment_gaussian(key, scale):
    name = "stability.augment_gaussian"
    traj = simulate(key, Gaussian(_MU, _S2, "mle"), regimes.augment(_NR, _LAM), _G, scaled_chains(20_000, scale),
                    metrics=("mean_sq_err", "trace"), quantiles=(), record_params=True)
    xbar = np.asarray(traj.real.mean, np.float64)[:, 0]  # (chains,): the real set's MLE mean
    mu_t = np.asarray(traj.params.mean, np.float64)[..., 0]  # (G + 1, chains)
    d = mu_t - xbar[None, :]
    out = path_means(name, "E(mu_t - xbar_D)^2", d * d, _TS, th.augment_real_fit_sq_err(np.array(_TS), _NR, _LAM, _S2))
    out += path_means(name, "E[(mu_t - xbar_D)(mu - xbar_D)]", d * (_MU - xbar)[None, :], _TS,
                      th.augment_contraction_moment(np.array(_TS), _NR, _LAM, _S2))
    e = np.asarray(thg.augment_mean_sq_err(np.array(_TS, np.float64), _NR, _LAM, _S2, "mle"), np.float64)
    out += means(name, traj, "mean_sq_err", _TS, e, quantity="E(mu_t - mu)^2")
    out += means(name, traj, "trace", _TS, _S2 - e, quantity="E sigma_t^2 (conservation)")
    a = _LAM / (1.0 + _LAM)
    out.append(compare_gap(name, "stationary vs exact e_60", _G, e[-1],
                           float(th.augment_stationary_mean_sq_err(_NR, _LAM, _S2)), 1e-6,
                           reason=f"e_t - e_inf is a combination of a^t and A^t < a^t, a = {a:g}: a^60 ~ 3e-8"))
    for lam in (1e4, 1e6):
        out.append(compare_gap(name, f"lambda -> inf limit vs stationary at lambda={lam:g}", 0,
                               float(th.augment_stationary_mean_sq_err(_NR, lam, _S2)),
                               float(th.augment_stationary_limit(_NR, _S2)), 10.0 / lam,
                               reason="the stationary error is a rational function of 1/n_s: relative gap O(n_r/n_s)"))
    return out
