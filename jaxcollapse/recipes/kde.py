r"""The KDE recipe: a Gaussian kernel density estimate refitted on its own samples (Kazdan et al. 2024).

The truth is $N(0, \sigma^2 I_d)$ (``variance``); model 0 is a KDE over $n$ points drawn from it with the
run's seed (`initial_points`). Each generation draws $n$ samples from the current KDE (a stored point plus
kernel noise) and stores them, under replace, or appends them, under accumulate, and sets the kernel:
a fixed bandwidth $h$ (``bandwidth = "fixed"``, kernel $h^2 I$) or Scott's / Silverman's rule
(`jaxcollapse.KDE`).

Default run: $d = 1$, $n = 50$, Scott's rule, 200 chains, 30 generations, replace and accumulate, 256
truth draws for the held-out NLL (its memory grows as chains x eval_size x stored points: 1,500 points per
chain at the end of accumulate).

**Theory overlays** (float64; $\tau = 1$, no drift), given model 0's points (derived in
`jaxcollapse.theory.mixture`):

- fixed bandwidth, replace or accumulate: the exact linear recursion of $E Q_t$ and $E\|S_t\|^2$
  (`theory.kde_fixed_moments`): the spread $E\,\mathrm{tr}\,\mathrm{Cov}_t$ and the squared distance of
  the mean from the truth's ($E\|S_t\|^2/N_t^2$); under replace in 1-D the variance *grows* towards $n h^2$;
- Scott / Silverman, replace: *the KDE's inflation* $E V_t = \rho^t V_0$, $\rho = 1 - 1/n + f^2 > 1$
  (`theory.kde_scott_spread`): the data-driven kernel adds more variance than the refit loses.

Accumulate with a data-driven bandwidth, and every regime with real data, have no closed form here.
"""

from __future__ import annotations

import numpy as np

from ._base import Param, Recipe, regime_from, register, run_params

__all__ = ["KDERecipe", "initial_points"]

_POINTS_SALT = 0x4B44  # fold_in(key(seed), this): the stream of model 0's points


def initial_points(params) -> np.ndarray:
    """Model 0's $n$ points, $N(0, \\sigma^2 I_d)$ draws from ``fold_in(key(seed), _POINTS_SALT)``, shape (n, d)."""
    import jax

    from ..families import Gaussian

    truth = Gaussian(np.zeros(params["dim"]), params["variance"])
    key = jax.random.fold_in(jax.random.key(params["seed"]), _POINTS_SALT)
    return np.asarray(truth.sample(key, params["n"]))


class KDERecipe(Recipe):
    name = "kde"
    description = "a Gaussian kernel density estimate refitted on its own samples"
    params = (
        *run_params(n=50, generations=30, chains=200, regimes=("replace", "accumulate"), paths=("samples",)),
        Param("dim", int, 1, "dimension d", low=1),
        Param("variance", float, 1.0, "the truth's variance sigma^2 (covariance sigma^2 I)", static=False,
              low=0.0, low_open=True),
        Param("bandwidth", str, "scott", "kernel: scott or silverman (H = f^2 x the points' covariance), or fixed "
                                         "(H = h^2 I with h from --h)", choices=("scott", "silverman", "fixed")),
        Param("h", float, 0.3, "the fixed bandwidth h (bandwidth = fixed)", static=False, low=0.0, low_open=True),
        Param("eval_size", int, 256, "truth draws behind the held-out NLL (memory per chain: eval_size x stored "
                                     "points)", low=1),
    )
    metric_names = ("spread", "mean_sq_err", "nll", "bandwidth")
    headline = ("spread", "nll")
    bayes = "spread"

    def check(self, params):
        super().check(params)
        if params["bandwidth"] != "fixed" and params["n"] < 2:
            raise ValueError(f"bandwidth = {params['bandwidth']!r} needs a covariance of the points: n >= 2, "
                             f"got n = {params['n']}")

    def memory_hint(self, params):
        """The stored points (capacity x d, allocated by `build`) and the held-out NLL's matrix of eval_size
        truth draws x stored points, per chain."""
        from ..families.kde import required_capacity

        cap = max(params["n"], required_capacity(regime_from(params), params["generations"]) or 0)
        return cap * params["dim"] + params["eval_size"] * cap

    def build(self, params):
        from ..families import KDE, Gaussian
        from ..families.kde import required_capacity

        regime = regime_from(params)
        truth = Gaussian(np.zeros(params["dim"]), params["variance"])
        pts = initial_points(params)
        need = required_capacity(regime, params["generations"]) or 0
        bw = params["h"] if params["bandwidth"] == "fixed" else params["bandwidth"]
        return KDE(pts, bw, capacity=max(params["n"], need), eval_size=params["eval_size"]), truth, regime

    def theory(self, params, generations):
        from .. import theory as th
        from .._config import x64

        reg, n, d = params["regime"], params["n"], params["dim"]
        if params["temperature"] != 1.0 or params["drift"] != 0.0 or reg not in ("replace", "accumulate"):
            return {}
        pts = np.asarray(initial_points(params), np.float64)
        S, Q = pts.sum(axis=0), float(np.sum(pts * pts))
        t = np.arange(generations + 1)
        if params["bandwidth"] == "fixed":
            out = th.kde_fixed_moments(generations, n, d * params["h"] ** 2, n, float(S @ S), Q, memory=reg)
            return {"spread": out["spread"], "mean_sq_err": out["mean_sq"]}
        if reg != "replace":
            return {}
        f = th.kde_scott_factor(n, d, params["bandwidth"])
        cov = np.atleast_2d(np.cov(pts.T, ddof=1))  # scipy's convention: the unbiased covariance of the points
        v0 = float(np.trace(cov)) * (n - 1) / n + f * f * float(np.trace(cov))  # points' biased trace + tr H
        with x64():
            spread = np.asarray(th.kde_scott_spread(t, n, d, v0, params["bandwidth"]), np.float64)
        return {"spread": spread}

    def describe(self, params):
        bw = f"h={params['h']:g}" if params["bandwidth"] == "fixed" else params["bandwidth"]
        return (f"KDE d={params['dim']} ({bw}), truth N(0, {params['variance']:g} I), n={params['n']}, "
                f"tau={params['temperature']:g}, drift={params['drift']:g}")

    def notes(self, params):
        return ["spread: trace of the KDE's covariance (the points' + the kernel's); nll: held-out negative "
                "log-likelihood of fixed truth draws"]

    def figures(self, folder, trajs, curves, params, detail=None):
        from .mixture import distance_figure

        bw = f"h = {params['h']:g}" if params["bandwidth"] == "fixed" else f"{params['bandwidth']}'s rule"
        title = f"KDE ({bw}), d = {params['dim']}, n = {params['n']}, {params['chains']} chains"
        return [distance_figure(folder, trajs, curves, title, metrics=("spread", "nll"), name="kde.png")]


register(KDERecipe())
