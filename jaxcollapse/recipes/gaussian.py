r"""The Gaussian recipe: $N(\mu, \sigma^2 I_d)$ refitted by maximum likelihood (or a variant) on its own samples.

Default run: $d = 1$, $N(0, 1)$, $n = 100$ synthetic samples per generation, 2,000 chains, 100 generations,
exact (sufficient-statistics) path, regimes replace, accumulate and fresh (fresh: $n_{\rm real} = n$
fresh real samples plus $n$ synthetic ones, `jaxcollapse.regimes.from_params`).

**Theory overlays** (`jaxcollapse.theory`, evaluated in float64; $s^2 = d\,\sigma^2 = \mathrm{tr}\,\Sigma$),
only where a closed form exists:

- MLE, replace: $\mathbb E\,\mathrm{tr}\,\Sigma_t = s^2(\tau^2(1-1/n))^t$ and the matching mean error
  (Shumailov et al. 2024; any temperature $\tau$), and with a drift $v$ the mean error $+\,\|v\|^2t^2$;
- MLE, accumulate, fresh, augment, weighted ($\tau = 1$): the exact mean-squared-error recursions, and
  the variance from the conservation law $\mathbb E[\|\mu_t-\mu\|^2 + \mathrm{tr}\,\Sigma_t] = s^2$;
- unbiased, replace ($\tau = 1$): $\mathbb E\,\mathrm{tr}\,\Sigma_t = s^2$,
  $\mathbb E\|\mu_t-\mu\|^2 = s^2\sum_{i\le t} 1/n_i$ (Shumailov et al. 2024), plus $\|v\|^2t^2$ with a drift;
- mean estimator (covariance known, $\tau = 1$): the mean error under every regime but
  accumulate_subsample (Dey and Donoho 2024 for accumulate).

A drifting truth is a yardstick only where no real data enter after generation 0 (replace, accumulate),
so there the variance's curve is kept; where real data follow the drift only the mean-estimator fresh
formula applies. accumulate_subsample has no closed form.

With a repair knob set (``correction``, ``extrapolation``; `jaxcollapse.theory.repair`, no drift): self-correction
($\tau = 1$) under replace, augment and fresh (the mean's error; the variance by conservation, MLE), and
negative extrapolation under augment and fresh (the mean's error at any $\tau$; the trace, MLE).
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param, Recipe, regime_from, register, run_params

ESTIMATORS = ("mle", "unbiased", "mean")


class GaussianRecipe(Recipe):
    name = "gaussian"
    description = "a Gaussian N(mean, variance I_d) refitted on its own samples"
    params = (
        *run_params(n=100, generations=100, chains=2000, regimes=("replace", "accumulate", "fresh"),
                    paths=("exact", "samples"), correction=True, extrapolation=True),
        Param("dim", int, 1, "dimension d", low=1),
        Param("estimator", str, "mle", "mle, unbiased (covariance / (n - 1)) or mean (covariance known)",
              choices=ESTIMATORS),
        Param("mean", float, 0.0, "the truth's mean (every coordinate)", static=False),
        Param("variance", float, 1.0, "the truth's variance sigma^2 (covariance sigma^2 I)", static=False,
              low=0.0, low_open=True),
    )
    metric_names = ("mean_sq_err", "trace", "sigma", "trace_ratio", "log_det_ratio", "w2sq", "kl", "conserved")
    headline = ("trace", "mean_sq_err")
    bayes = "spread"

    def check(self, params):
        super().check(params)
        if params["estimator"] == "unbiased" and params["n"] < 2:
            raise ValueError(f"the unbiased estimator needs n >= 2 samples per generation, got n = {params['n']}")

    def build(self, params):
        from ..families import Gaussian

        d = params["dim"]
        mean = params["mean"] if d == 1 else np.full(d, params["mean"])
        return Gaussian(mean, params["variance"], params["estimator"]), None, regime_from(params)

    def describe(self, params):
        repair = "".join(f", {k}={params[k]:g}" for k in ("correction", "extrapolation") if params.get(k) is not None)
        return (f"Gaussian d={params['dim']} ({params['estimator']}), mean={params['mean']:g}, "
                f"variance={params['variance']:g}, n={params['n']}, tau={params['temperature']:g}, "
                f"drift={params['drift']:g}{repair}")

    def theory(self, params, generations):
        return gaussian_curves(params, generations)

    def figures(self, folder, trajs, curves, params, detail=None):
        from matplotlib.figure import Figure

        from .. import plot
        from ._base import _close

        # the variance, and beside it the mean's error on a log axis, where the regimes separate
        fig = Figure(figsize=(13.0, 4.6), layout="constrained")
        ax_var, ax_mse = fig.subplots(1, 2, sharex=True)
        mse = all("mean_sq_err" in tr.summary for tr in trajs.values())
        plot.compare(trajs, "trace", theory={k: c["trace"] for k, c in curves.items() if "trace" in c}, ax=ax_var,
                     legend=None if mse else "outside", references={"truth": params["dim"] * params["variance"]})
        ax_var.set_ylabel("variance $\\sigma_t^2$" if params["dim"] == 1 else "trace $\\mathrm{tr}\\,\\Sigma_t$")
        ax_var.set_title("variance" if params["dim"] == 1 else "trace of the covariance", fontsize="medium")
        if mse:
            plot.compare(trajs, "mean_sq_err", log=True, ax=ax_mse, legend="outside", bands=((0.25, 0.75),),
                         theory={k: c["mean_sq_err"] for k, c in curves.items() if "mean_sq_err" in c})
            ax_mse.set_ylabel("squared error of the mean $\\|\\mu_t - \\mu\\|^2$")
            ax_mse.set_title("error of the mean (log axis, 25–75% band)", fontsize="medium")
        else:
            ax_mse.remove()
        est = {"mle": "MLE", "unbiased": "unbiased covariance", "mean": "mean only (covariance known)"}
        fig.suptitle(f"Gaussian d = {params['dim']} ({est[params['estimator']]}), n = {params['n']} samples per "
                     f"generation, {params['chains']} chains", fontsize="medium")
        fig.savefig(folder / "variance.png", dpi=150)
        _close(fig)
        return ["variance.png"]


def gaussian_curves(params, generations: int) -> dict[str, np.ndarray]:
    r"""Theory curves over generations $0..G$ for `trace` and `mean_sq_err` of ``params["regime"]``.

    Evaluated in float64 with $s^2 = d\sigma^2$ (every formula used is linear in the trace) and
    $\|v\|^2 = d v^2$ for the drift. A metric without a closed form here is absent.
    """
    from .. import theory as th
    from .._config import x64

    name, G, n = params["regime"], generations, params["n"]
    s2 = params["dim"] * params["variance"]
    t = np.arange(G + 1)
    if params.get("correction") is not None or params.get("extrapolation") is not None:
        return _repair_curves(params, t)
    tau, v = params["temperature"], params["drift"] * math.sqrt(params["dim"])
    still, hot = params["drift"] == 0.0, params["temperature"] != 1.0
    est = params["estimator"]
    n_real = params["n_real"] if params["n_real"] is not None else n
    lam = params["lam"]
    out: dict[str, object] = {}
    with x64():
        if est == "mle" and name == "replace":
            out["trace"] = th.mle_variance_tempered(t, n, tau, s2)
            if still:
                out["mean_sq_err"] = th.mle_mean_sq_err_tempered(t, n, tau, s2)
            elif not hot:
                out["mean_sq_err"] = th.drift_mean_sq_err(t, n, v, s2, estimator="mle")
        elif est == "mle" and not hot:
            # mean error against the initial truth; the variance follows by conservation,
            # E[|mu_t - mu_0|^2 + tr Sigma_t] = tr Sigma, which a drifting yardstick does not affect
            # where no real data enter after generation 0 (accumulate)
            mse0 = None
            if name == "accumulate":
                mse0 = th.accumulate_mle_mean_sq_err(t, n, s2)
            elif still and name == "fresh":
                mse0 = th.fresh_mle_mean_sq_err(t, n_real, n, s2)
            elif still and name == "augment" and round(lam * n_real) >= 1:
                mse0 = th.augment_mean_sq_err(t, n_real, lam, s2)
            elif still and name == "weighted":
                mse0 = th.mixed_mean_sq_err(t, n_real, n, 1.0 - params["w"], s2, real=params["real"])
            if mse0 is not None:
                out["trace"] = s2 - np.asarray(mse0, np.float64)
                if still:
                    out["mean_sq_err"] = mse0
        elif est == "unbiased" and name == "replace" and not hot:
            out["trace"] = th.unbiased_variance(t, s2)
            if still:  # cumulative over fits 1..G
                out["mean_sq_err"] = np.concatenate([[0.0], np.asarray(th.unbiased_mean_sq_err(np.full(G, n), s2))])
            else:
                out["mean_sq_err"] = th.drift_mean_sq_err(t, n, v, s2, estimator="unbiased")
        elif est == "mean" and not hot:  # the covariance is known and kept: only the mean moves
            if name == "replace":
                out["mean_sq_err"] = th.drift_mean_sq_err(t, n, v, s2, estimator="mean")
            elif name == "accumulate" and still:
                out["mean_sq_err"] = th.accumulate_mean_sq_err_known_var(t, n, s2)
            elif name == "fresh":
                out["mean_sq_err"] = th.fresh_drift_mean_sq_err(t, n_real, n, v, s2)
            elif name == "augment" and still and round(lam * n_real) >= 1:
                out["mean_sq_err"] = th.augment_mean_sq_err(t, n_real, lam, s2, estimator="mean")
            elif name == "weighted" and still:
                out["mean_sq_err"] = th.mixed_mean_sq_err(t, n_real, n, 1.0 - params["w"], s2, real=params["real"],
                                                          estimator="mean")
    return {k: np.broadcast_to(np.asarray(c, np.float64), t.shape).copy() for k, c in out.items()}


def _repair_curves(params, t: np.ndarray) -> dict[str, np.ndarray]:
    """`gaussian_curves` with a repair knob set: the closed forms of `jaxcollapse.theory.repair` where they hold
    (no drift; both knobs at once have none)."""
    from .. import theory as th
    from .._config import x64

    name, n, est = params["regime"], params["n"], params["estimator"]
    gamma, w = params.get("correction"), params.get("extrapolation")
    if params["drift"] != 0.0 or est == "unbiased" or (gamma is not None and w is not None):
        return {}
    s2 = params["dim"] * params["variance"]
    tau = params["temperature"]
    n_real = params["n_real"] if params["n_real"] is not None else n
    real = {"replace": "none", "augment": "fixed", "fresh": "fresh"}.get(name)
    n_syn = round(params["lam"] * n_real) if name == "augment" else n
    out: dict[str, object] = {}
    with x64():
        if gamma is not None and real is not None and tau == 1.0 and n_syn >= 1:
            out["mean_sq_err"] = th.correction_mean_sq_err(t, n_real, n_syn, gamma, s2, real=real, estimator=est)
            if est == "mle":
                out["trace"] = th.correction_trace(t, n_real, n_syn, gamma, s2, real=real)
        elif w is not None and real in ("fixed", "fresh") and n_syn >= 1:
            out["mean_sq_err"] = th.extrapolation_mean_sq_err(t, n_real, n_syn, w, s2, tau=tau, real=real,
                                                              estimator=est)
            if est == "mle":
                out["trace"] = th.extrapolation_trace(t, n_real, n_syn, w, s2, tau=tau)
    return {k: np.broadcast_to(np.asarray(c, np.float64), t.shape).copy() for k, c in out.items()}


register(GaussianRecipe())
