r"""The Gaussian-mixture recipe: a $K$-component mixture refitted by weighted EM on its own samples.

The truth (and model 0) has $K$ equal-weight components with identity covariance in $d$ dimensions,
their means spaced by ``separation`` along the first axis (`truth_mixture`): Shumailov et al.'s (2024)
two-component experiment at the defaults. Every generation draws $n$ samples from the current model and
refits it by EM (`jaxcollapse.GaussianMixture`), optionally after a curation step that keeps the
fraction ``keep`` of the samples ranked by the truth's density (Feng et al. 2024's verifier, with true
and false acceptance rates ``accept_good`` and ``accept_bad``).

Default run: $K = 2$, $d = 2$, separation 4, $n = 100$, 200 chains, 20 generations, replace and
accumulate, sample path (most of its time is EM on the accumulated samples: every generation's fit runs
over the pool preallocated for all $nG$ of them).

**Theory overlays** (float64), for $\tau = 1$, no drift and no curation:

- *the spread law* (`jaxcollapse.theory.mixture_spread_mean`; derived there): an M-step refits the
  mixture's overall mean and covariance to the data's, whatever the responsibilities, so the trace of
  the mixture's covariance $s_t$ is refitted as a Gaussian MLE's. With the covariance floor
  $\epsilon$ (``reg``) added to every component, $\sum_k\pi_k(\Sigma_k + \epsilon I)$ adds $d\epsilon$ to
  the trace at each refit, so under replace (derived here: $E[s_t \mid s_{t-1}] = a\,s_{t-1} + d\epsilon$,
  $a = 1 - 1/n$)

  $$E s_t = a^t s_0 + n d\epsilon\,(1 - a^t),$$

  and the mean's squared error follows from the conservation law $E[\|\mu_t - \mu\|^2 + s_t] = s_0$
  ($\epsilon = 0$) as $s_0(1 - a^t)$ (`theory.mle_mean_sq_err`);
- under accumulate, the same moment argument makes the Gaussian MLE's exact recursion
  (`theory.accumulate_mle_mean_sq_err`, with $s^2 = s_0$) the mean's squared error, and the spread
  follows by conservation, $s_0 - E\|\mu_t - \mu\|^2$ (exact for $\epsilon = 0$; the floor adds at most
  $n d \epsilon$, $2\times10^{-4}$ at the defaults).

Both assume no component dies (a dead component's responsibility mass is dropped); the ``dead`` metric
counts them. The distances to the truth (``l2sq``, ``kl``) have no closed form.
"""

from __future__ import annotations

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params

__all__ = ["MixtureRecipe", "truth_mixture", "spread0", "mixture_curves", "distance_figure"]


def truth_mixture(K: int, dim: int, separation: float, **kwargs):
    """Equal-weight components with identity covariance, means spaced by `separation` along the first axis."""
    from ..families import GaussianMixture

    means = np.zeros((K, dim))
    means[:, 0] = separation * (np.arange(K) - (K - 1) / 2.0)
    return GaussianMixture(np.full(K, 1.0 / K), means, 1.0, **kwargs)


def spread0(K: int, dim: int, separation: float) -> float:
    r"""$\mathrm{tr}\,\mathrm{Cov}$ of `truth_mixture`: $d + \text{separation}^2 (K^2 - 1)/12$ (the identity
    covariances plus the variance of $K$ equally spaced means; law of total variance)."""
    return dim + separation**2 * (K * K - 1) / 12.0


def mixture_curves(regime: str, generations: int, n: int, s0: float, dim: int, reg: float) -> dict[str, np.ndarray]:
    """The spread and mean-error curves of the module docstring (replace or accumulate; else empty)."""
    from .. import theory as th
    from .._config import x64

    t = np.arange(generations + 1)
    with x64():
        if regime == "replace":
            a = (1.0 - 1.0 / n) ** t
            spread = np.asarray(th.mixture_spread_mean(t, n, s0), np.float64) + n * dim * reg * (1.0 - a)
            mse = np.asarray(th.mle_mean_sq_err(t, n, s0), np.float64)
        elif regime == "accumulate":
            mse = np.asarray(th.accumulate_mle_mean_sq_err(t, n, s0), np.float64)
            spread = s0 - mse
        else:
            return {}
    return {"spread": spread, "mean_sq_err": mse}


def distance_figure(folder, trajs: dict, curves: dict, title: str, metrics=("spread", "l2sq", "kl"),
                    name: str = "mixture.png") -> str:
    """One panel per metric (a fan per regime or source; theory where given; l2sq and kl on a log axis)."""
    from matplotlib.figure import Figure

    from .. import plot

    fig = Figure(figsize=(5.0 * len(metrics), 4.2), layout="constrained")
    axes = fig.subplots(1, len(metrics), sharex=True)
    for i, (ax, m) in enumerate(zip(np.atleast_1d(axes), metrics, strict=True)):
        theory = {r: c[m] for r, c in curves.items() if m in c and np.all(np.isfinite(c[m]))}
        plot.compare(trajs, m, theory=theory, log=m in ("l2sq", "kl"), ax=ax, legend=None if i else "best")
        ax.set_title({"spread": "spread", "l2sq": "L2 distance to the truth (log axis)",
                      "kl": "KL divergence from the truth (log axis)",
                      "nll": "held-out NLL of truth draws"}.get(m, m), fontsize="medium")
        ax.set_ylabel({"spread": "spread $\\mathrm{tr}\\,\\mathrm{Cov}$ of the model",
                       "l2sq": "$\\|f_t - f\\|_2^2$", "kl": "KL(truth $\\|$ model) (nats)",
                       "nll": "NLL per draw (nats)"}.get(m, m))
    fig.suptitle(title, fontsize="medium")
    fig.savefig(folder / name, dpi=150)
    _close(fig)
    return name


class MixtureRecipe(Recipe):
    name = "mixture"
    description = "a K-component Gaussian mixture refitted by EM on its own samples"
    params = (
        *run_params(n=100, generations=20, chains=200, regimes=("replace", "accumulate"), paths=("samples",)),
        Param("K", int, 2, "components of the truth and of the model", low=1),
        Param("dim", int, 2, "dimension d", low=1),
        Param("separation", float, 4.0, "distance between neighbouring component means", static=False, low=0.0),
        Param("covariance", str, "full", "full or diagonal component covariances", choices=("full", "diag")),
        Param("init", str, "warm", "EM start: warm (the previous fit) or random (K weighted data points)",
              choices=("warm", "random")),
        Param("em_iters", int, 100, "EM iterations (the maximum when tol > 0)", low=1),
        Param("tol", float, 1e-6, "stop EM when the mean log-likelihood changes by less (0: always em_iters)",
              low=0.0),
        Param("reg", float, 1e-6, "covariance floor added in every M-step", low=0.0),
        Param("eval_size", int, 512, "truth draws behind the Monte Carlo KL (the same for every chain)", low=1),
        Param("keep", float, None, "curation: keep this fraction of the samples, ranked by the truth's density; "
                                   "unset: no curation (set or unset is static; the value is traced)", static=False,
              optional=True, low=0.0, low_open=True, high=1.0),
        Param("accept_good", float, 1.0, "curation: probability that the verifier accepts a good sample",
              static=False, low=0.0, high=1.0),
        Param("accept_bad", float, 0.0, "curation: probability that the verifier accepts a bad sample",
              static=False, low=0.0, high=1.0),
    )
    metric_names = ("l2sq", "kl", "spread", "mean_sq_err", "weight_min", "weight_max", "dead")
    headline = ("spread", "l2sq", "kl")
    bayes = "spread"

    def check(self, params):
        super().check(params)
        if params["init"] == "random" and params["n"] < params["K"]:
            raise ValueError(f"init = 'random' draws K = {params['K']} distinct data points: it needs n >= K, "
                             f"got n = {params['n']}")

    def build(self, params):
        from ..curation import curate

        truth = truth_mixture(params["K"], params["dim"], params["separation"], covariance=params["covariance"],
                              init=params["init"], em_iters=params["em_iters"], tol=params["tol"], reg=params["reg"],
                              eval_size=params["eval_size"])
        regime = regime_from(params)
        if params["keep"] is not None:
            regime = curate(regime, keep=params["keep"], accept_good=params["accept_good"],
                            accept_bad=params["accept_bad"])
        return truth, None, regime

    def theory(self, params, generations):
        if params["temperature"] != 1.0 or params["drift"] != 0.0 or params["keep"] is not None:
            return {}
        return mixture_curves(params["regime"], generations, params["n"],
                              spread0(params["K"], params["dim"], params["separation"]), params["dim"], params["reg"])

    def describe(self, params):
        cur = "" if params["keep"] is None else (f", curated keep={params['keep']:g} "
                                                 f"(accept {params['accept_good']:g}/{params['accept_bad']:g})")
        return (f"Gaussian mixture K={params['K']} d={params['dim']} ({params['covariance']}, EM {params['init']} "
                f"start, <= {params['em_iters']} iterations), separation={params['separation']:g}, n={params['n']}, "
                f"tau={params['temperature']:g}, drift={params['drift']:g}{cur}")

    def notes(self, params):
        s0 = spread0(params["K"], params["dim"], params["separation"])
        return [f"spread: trace of the mixture's covariance (s_0 = {s0:g}); theory: the spread law (tau = 1, no "
                "drift, no curation), exact while no component dies (metric dead)"]

    def figures(self, folder, trajs, curves, params, detail=None):
        title = (f"Gaussian mixture K = {params['K']}, d = {params['dim']}, n = {params['n']}, "
                 f"{params['chains']} chains")
        return [distance_figure(folder, trajs, curves, title)]


register(MixtureRecipe())
