r"""The decomposition recipe: Shumailov et al.'s (2024) three error sources, side by side, for one truth.

The truth is a $K$-component Gaussian mixture (`jaxcollapse.recipes.mixture.truth_mixture`: equal weights,
identity covariances, means ``separation`` apart; two components in $d = 2$ by default), refitted under
replace on $n$ of its own samples per generation by one of three learners, one per source (``--source``;
the TOML key is ``regimes``, as for every recipe):

- ``statistical``: the right family ($K$ components) fitted by EM to convergence from the previous fit:
  only the finite sample errs;
- ``expressivity``: one Gaussian for $K$ components (`families.mixture.moment_matched`): the family is
  too small, an $L^2$ error from generation 0;
- ``approximation``: the right family, but EM truncated after ``truncated_iters`` iterations from a
  random start: the learning procedure errs.

Every source also has the statistical error; a sweep over $n$ (``jaxcollapse sweep`` with ``n`` in the
``[grid]``; one compile per source and $n$, since $n$ sets the sample shapes) makes it small and leaves the
other two (the old runner's ``--large-factor`` runs). ``examples/sweeps/decomposition.toml`` sweeps the
separation of the truth's components instead. All sources run from the same key (common random numbers).

**Theory overlay**: the spread $s_t$ (trace of the model's covariance) follows the mixture's spread law
for every source, $E s_t = a^t s_0 + n d\epsilon(1 - a^t)$, $a = 1 - 1/n$
(`jaxcollapse.recipes.mixture`, `theory.mixture_spread_mean`): an M-step refits the overall moments
exactly for any $K$, start and number ($\ge 1$) of EM iterations, so expressivity and approximation
errors show in the distances (``l2sq``, ``kl``), not in the spread. `rates_table` (written to
``rates.txt``) gives each source's per-generation collapse rate of the spread and growth of the
distances, with standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param, Recipe, register, run_params
from .mixture import distance_figure, mixture_curves, spread0, truth_mixture

__all__ = ["DecompositionRecipe", "SOURCES", "collapse_rate", "growth_rate", "rates_table"]

SOURCES = ("statistical", "expressivity", "approximation")
REG = 1e-6  # the learners' covariance floor (GaussianMixture's reg)
_NOT_HERE = ("regimes", "n_real", "lam", "w", "real", "subsample", "temperature", "drift")


def collapse_rate(paths: np.ndarray) -> tuple[float, float]:
    r"""$r = -\mathrm{mean}_i[\ln s_{i,G} - \ln s_{i,0}]/G$ over the chains (columns) of `paths` (G + 1, chains),
    and its standard error; inf if some chain's spread reached 0."""
    G = paths.shape[0] - 1
    with np.errstate(divide="ignore"):
        per = -(np.log(paths[-1]) - np.log(paths[0])) / G
    if not np.all(np.isfinite(per)):
        return math.inf, math.inf
    return float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.nan


def growth_rate(paths: np.ndarray) -> tuple[float, float]:
    r"""$\mathrm{mean}_i(m_{i,G} - m_{i,0})/G$ over the chains of `paths` (a distance's growth per generation),
    and its standard error."""
    G = paths.shape[0] - 1
    per = (paths[-1] - paths[0]) / G
    if not np.all(np.isfinite(per)):
        return math.inf, math.inf
    return float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.nan


def rates_table(trajs: dict, generations: int) -> str:
    """Per source (a `Trajectory` with `paths` recorded): the spread's collapse rate and the growth per
    generation of each recorded distance (``l2sq``, ``kl``, ``nll``), with standard errors."""
    G = generations
    ts = sorted({1, max(1, G // 2), G})
    first = next(iter(trajs.values()))
    dist = [m for m in ("l2sq", "kl", "nll") if m in first.paths]
    head = ["source", "spread rate/gen", "stderr"] + [f"spread t={t}" for t in ts]
    for m in dist:
        head += [f"{m} t=0", f"{m} t={G}", f"{m} growth/gen", "stderr"]
    rows = [head]
    for label, traj in trajs.items():
        spread = np.asarray(traj.paths["spread"], np.float64)
        r, se = collapse_rate(spread)
        row = [label, f"{r:.5f}", f"{se:.1e}"] + [f"{spread[t].mean():.4f}" for t in ts]
        for m in dist:
            p = np.asarray(traj.paths[m], np.float64)
            g, gse = growth_rate(p)
            row += [f"{p[0].mean():.4f}", f"{p[G].mean():.4f}", f"{g:.5f}", f"{gse:.1e}"]
        rows.append(row)
    widths = [max(len(r[j]) for r in rows) for j in range(len(head))]
    lines = ["  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class DecompositionRecipe(Recipe):
    name = "decomposition"
    description = "Shumailov et al.'s three error sources (statistical, expressivity, approximation) side by side"
    params = (
        Param("regimes", str, SOURCES, "error sources to run, one point each (statistical: the right family fitted "
                                       "to convergence; expressivity: one Gaussian; approximation: truncated EM "
                                       "from a random start)", choices=SOURCES, many=True, table=False,
              flag="--source"),
        *(p for p in run_params(n=100, generations=30, chains=100, paths=("samples",)) if p.name not in _NOT_HERE),
        Param("K", int, 2, "components of the truth (and of the statistical and approximation learners)", low=1),
        Param("dim", int, 2, "dimension d", low=1),
        Param("separation", float, 4.0, "distance between neighbouring component means", static=False, low=0.0),
        Param("em_iters", int, 100, "EM iterations of the converged learners (the maximum when tol > 0)", low=1),
        Param("tol", float, 1e-6, "EM tolerance on the mean log-likelihood (0: always em_iters)", low=0.0),
        Param("truncated_iters", int, 2, "EM iterations of the approximation learner (random start)", low=1),
    )
    metric_names = ("l2sq", "kl", "spread", "mean_sq_err", "weight_min", "weight_max", "dead")
    headline = ("spread", "l2sq", "kl")
    bayes = "spread"

    def check(self, params):
        super().check(params)
        if "approximation" in params["regimes"] and params["n"] < params["K"]:
            raise ValueError(f"the approximation learner starts EM from K = {params['K']} distinct data points: "
                             f"it needs n >= K, got n = {params['n']}")

    def build(self, params):
        from .. import regimes
        from ..families.mixture import moment_matched

        source = params["regime"]
        if source not in SOURCES:
            raise ValueError(f"source = {source!r} is invalid: source must be one of {', '.join(map(repr, SOURCES))}")
        K, d, sep = params["K"], params["dim"], params["separation"]
        truth = truth_mixture(K, d, sep, em_iters=params["em_iters"], tol=params["tol"], reg=REG)
        if source == "statistical":
            model = truth
        elif source == "expressivity":
            model = moment_matched(truth)
        else:
            model = truth_mixture(K, d, sep, em_iters=params["truncated_iters"], tol=0.0, init="random", reg=REG)
        return model, truth, regimes.from_params({"regime": "replace", "n": params["n"]})

    def theory(self, params, generations):
        s0 = spread0(params["K"], params["dim"], params["separation"])
        curves = mixture_curves("replace", generations, params["n"], s0, params["dim"], REG)
        return {"spread": curves["spread"]}

    def describe(self, params):
        return (f"error sources of a K={params['K']} mixture, d={params['dim']}, separation={params['separation']:g} "
                f"(EM <= {params['em_iters']} iterations; truncated: {params['truncated_iters']} from a random "
                f"start), replace, n={params['n']}")

    def notes(self, params):
        return ["the rows are the error sources; the spread follows one law for all three (its theory); the "
                "distances l2sq and kl separate them (rates.txt: growth per generation)"]

    def figures(self, folder, trajs, curves, params, detail=None):
        title = (f"three error sources: K = {params['K']} mixture, d = {params['dim']}, n = {params['n']}, "
                 f"{params['chains']} chains")
        written = [distance_figure(folder, trajs, curves, title, name="decomposition.png")]
        if detail and all("l2sq" in d.paths and "kl" in d.paths for d in detail.values()):
            (folder / "rates.txt").write_text(rates_table(detail, params["generations"]) + "\n", encoding="utf-8")
            written.append("rates.txt")
        return written


register(DecompositionRecipe())
