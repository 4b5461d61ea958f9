r"""Shumailov et al. 2024 (Nature): a two-component Gaussian mixture refit by EM on its own samples for 2,000
generations.

**Setup.** Real data: $N = 1000$ points of one 2-D blob $N(0, I_2)$. Every generation fits a 2-component,
full-covariance Gaussian mixture by EM (scikit-learn's ``GaussianMixture`` with ``tol = 1e-5``; its other
defaults: at most 100 EM iterations, ``reg_covar = 1e-6``, a fresh start for every fit) to the previous
generation's $N$ samples and draws the next $N$ from the fit (replace), for 2,000 generations. The paper's
figure draws the fitted components at several generations; the quantities are the closed-form $L^2$ distance
between the generation-$t$ mixture and generation 0 (the blob) and the components' spreads. (The setup is
as the reproduction issue states it; the authors' mixture script could not be found in the search corpora,
so its remaining options are scikit-learn's defaults.)

**Ours** (`jaxcollapse.recipes.mixture`, `jaxcollapse.GaussianMixture`): generation 0 is the truth written as
a 2-component mixture of two identical $N(0, I)$ components of weight 1/2 (``separation = 0``: exactly the
blob); EM starts every generation from $K = 2$ random data points with the pooled covariance (``init =
"random"``: a fresh start, as scikit-learn's; a warm start from the symmetric truth would stay symmetric
forever), at most 100 iterations, stopping when the mean log-likelihood changes by less than $10^{-5}$,
covariance floor $10^{-6}$. Float32 (the fits are on $O(1)$ data; the quantities are compared at Monte Carlo
precision).

**Theory.** *The spread law* (`jaxcollapse.theory.mixture_spread_mean`, derived there): an M-step refits the
mixture's overall mean and covariance to the data's whatever the responsibilities, so the trace $s_t$ of the
mixture's covariance obeys $E s_t = (1 - 1/N)^t s_0 + N d\epsilon[1 - (1 - 1/N)^t]$ under replace ($s_0 = 2$,
$d = 2$, floor $\epsilon = 10^{-6}$; `recipes.mixture.mixture_curves`), exact while no component dies (the
``dead`` metric). It is compared at $t \le 1000$: $\mathrm{Var}\ln s_t \approx t/(N - 1)$ (the Gaussian value)
reaches 1 there, and past it a mean over chains is carried by a few chains. The $L^2$ distance and the
per-component spreads have **no closed form** (EM on an unidentifiable two-component fit of one blob): ours
only.

**Published values.** The paper shows the fitted mixtures as pictures; it prints no numbers for them.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

N = 1000
GENERATIONS = 2000
CHAINS = 32
SNAPSHOTS = (0, 50, 100, 150, 200, 350, 2000)  # the generations the paper's figure draws
THEORY_T = (1, 10, 100, 1000)
REPORT_T = (1, 10, 100, 1000, 2000)
COMPONENT_T = (100, 2000)
SPREAD_LAW = ("spread law (1 - 1/N)^t s_0 + N d reg (1 - (1 - 1/N)^t) (theory.mixture_spread_mean, "
              "recipes.mixture.mixture_curves)")
PARAMS = {"regimes": ["replace"], "K": 2, "dim": 2, "separation": 0.0, "covariance": "full", "init": "random",
          "em_iters": 100, "tol": 1e-5, "reg": 1e-6, "n": N, "generations": GENERATIONS, "x64": False, "seed": 0,
          "metrics": ["l2sq", "spread", "weight_min", "dead"]}


def run_mixture(key, chains: int, generations: int | None = None):
    """The recipe run behind the reproduction (replace, parameters recorded for the component spreads)."""
    from .. import recipes

    generations = GENERATIONS if generations is None else generations
    return recipes.run("mixture", {**PARAMS, "generations": generations, "chains": chains}, key=key,
                       record_params=True, quantiles=(0.05, 0.5, 0.95))


def component_spreads(params) -> tuple[np.ndarray, np.ndarray]:
    """(G + 1, chains) traces of the heavier and the lighter component's covariance (ties: the first)."""
    w = np.asarray(params.weights, np.float64)  # (G + 1, chains, K)
    tr = np.trace(np.asarray(params.covs, np.float64), axis1=-2, axis2=-1)  # (G + 1, chains, K)
    heavy = np.argmax(w, axis=-1)
    major = np.take_along_axis(tr, heavy[..., None], axis=-1)[..., 0]
    minor = np.take_along_axis(tr, (1 - heavy)[..., None], axis=-1)[..., 0]
    return major, minor


class Shumailov2024GMM(Reproduction):
    name = "shumailov2024_gmm"
    paper = "Shumailov et al. 2024"
    figure_ref = "Gaussian mixture refit by EM (fits at generations 0-2000)"
    citation = ("I. Shumailov, Z. Shumaylov, Y. Zhao, N. Papernot, R. Anderson, Y. Gal. AI models collapse when "
                "trained on recursively generated data. Nature 631, 755-759 (2024)")
    setup = (f"one 2-D blob N(0, I); a 2-component full-covariance GMM refit by EM (fresh random start, <= 100 "
             f"iterations, tol 1e-5, reg 1e-6) on N = {N} samples of the previous fit, {GENERATIONS} generations "
             f"(replace); {CHAINS} chains at scale 1")
    published = "none: the paper shows the fitted mixtures as pictures without numbers (no published column)"
    floor = 0.5
    heavy = True

    def compute(self, key, scale):
        from ..recipes.mixture import spread0

        chains = scaled(CHAINS, scale)
        run = run_mixture(key, chains)
        tr, curve = run.trajs["replace"], run.curves["replace"]
        G = GENERATIONS
        t = np.arange(G + 1)
        major, minor = component_spreads(tr.params)
        lines = []
        for s in THEORY_T:
            lines.append(Line(f"E spread (tr Cov of the mixture), t={s}", tr.mean("spread")[s], tr.stderr("spread")[s],
                              curve["spread"][s], theory_source=SPREAD_LAW))
        lines.append(Line(f"E spread, t={G} (past Var ln s ~ 1: ours only)", tr.mean("spread")[G],
                          tr.stderr("spread")[G]))
        for s in REPORT_T:
            lines.append(Line(f"E L2^2 distance to generation 0, t={s} (no closed form)", tr.mean("l2sq")[s],
                              tr.stderr("l2sq")[s]))
        for s in COMPONENT_T:
            for nm, v in (("heavier", major), ("lighter", minor)):
                lines.append(Line(f"E tr Sigma_k of the {nm} component, t={s} (no closed form)", v[s].mean(),
                                  v[s].std() / math.sqrt(chains)))
        lines.append(Line(f"E dead components at t={G} (the spread law assumes none)", tr.mean("dead")[G],
                          tr.stderr("dead")[G]))
        columns = {"generation": t, "spread/mean": tr.mean("spread"), "spread/se": tr.stderr("spread"),
                   "spread/median": tr.quantile("spread", 0.5), "spread/theory": curve["spread"],
                   "l2sq/mean": tr.mean("l2sq"), "l2sq/median": tr.quantile("l2sq", 0.5),
                   "l2sq/q05": tr.quantile("l2sq", 0.05), "l2sq/q95": tr.quantile("l2sq", 0.95),
                   "major/median": np.median(major, axis=1), "minor/median": np.median(minor, axis=1),
                   "weight_min/mean": tr.mean("weight_min")}
        p = tr.params
        snaps = {g: (np.asarray(p.weights[g, 0]), np.asarray(p.means[g, 0]), np.asarray(p.covs[g, 0]))
                 for g in SNAPSHOTS}
        notes = [f"{chains} chains, float32; s_0 = {spread0(2, 2, 0.0):g}; spread means are compared at t <= 1000 "
                 "(module docstring); the L2 distance is the closed form between Gaussian mixtures "
                 "(theory.mixture_l2sq) to generation 0, the blob",
                 "component spreads: the trace of each fitted component's covariance, the heavier and the lighter "
                 "component by weight"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains, "snapshots": snaps},
                      notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse

        from .. import plot

        c = result.columns
        t = c["generation"]
        fig = Figure(figsize=(15.0, 8.0), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.5))
        snaps = result.data["snapshots"]
        axes = top.subplots(1, len(snaps), sharex=True, sharey=True)
        for ax, (g, (w, m, cov)) in zip(axes, snaps.items(), strict=True):
            for k in range(w.shape[0]):
                if w[k] <= 0:
                    continue
                vals, vecs = np.linalg.eigh(cov[k])
                angle = math.degrees(math.atan2(vecs[1, 1], vecs[0, 1]))
                major, minor = (math.sqrt(max(v, 0.0)) for v in (vals[1], vals[0]))
                for r, a in ((1.0, 0.5), (2.0, 0.25)):
                    ax.add_patch(Ellipse(m[k], 2 * r * major, 2 * r * minor, angle=angle, fc=f"C{k}",
                                         alpha=a * min(1.0, 2 * w[k]), ec=f"C{k}"))
                ax.plot(*m[k], "k+", ms=6)
            ax.set_xlim(-3.2, 3.2)
            ax.set_ylim(-3.2, 3.2)
            ax.set_aspect("equal")
            ax.set_title(f"generation {g}", fontsize="small")
        top.suptitle("chain 0: the fitted components (1 and 2 sd ellipses, shade by weight)", fontsize="medium")
        ax_s, ax_l, ax_c = bottom.subplots(1, 3)
        ax_s.plot(t, c["spread/mean"], color="C0", lw=1.5, label="mean (ours)")
        ax_s.fill_between(t, c["spread/mean"] - 2 * c["spread/se"], c["spread/mean"] + 2 * c["spread/se"],
                          color="C0", alpha=0.2, lw=0)
        ax_s.plot(t, c["spread/median"], color="C0", lw=1.0, ls="--", label="median (ours)")
        plot.draw_theory(ax_s, t, c["spread/theory"], label="spread law")
        ax_s.set_ylabel(r"spread $\mathrm{tr}\,\mathrm{Cov}$ of the mixture")
        ax_s.set_title("spread (theory: the spread law)", fontsize="medium")
        ax_l.plot(t[1:], c["l2sq/median"][1:], color="C1", lw=1.5, label="median")
        ax_l.fill_between(t[1:], c["l2sq/q05"][1:], c["l2sq/q95"][1:], color="C1", alpha=0.2, lw=0, label="5-95%")
        ax_l.plot(t[1:], c["l2sq/mean"][1:], color="C1", lw=1.0, ls="--", label="mean")
        ax_l.set_yscale("log")
        ax_l.set_ylabel(r"$\|p_t - p_0\|_2^2$ (closed form)")
        ax_l.set_title("L2 distance to generation 0 (no closed form)", fontsize="medium")
        ax_c.plot(t, c["major/median"], color="C2", lw=1.5, label="heavier component")
        ax_c.plot(t, c["minor/median"], color="C4", lw=1.5, label="lighter component")
        ax_c.set_ylabel(r"$\mathrm{tr}\,\Sigma_k$ (median over chains)")
        ax_c.set_title("component spreads", fontsize="medium")
        for ax in (ax_s, ax_l, ax_c):
            ax.set_xlabel("generation $t$")
            ax.legend(fontsize="small", loc="best")
        fig.suptitle(f"{self.paper}: 2-component GMM refit by EM on N = {N} samples of one 2-D blob, "
                     f"{result.data['chains']} chains", fontsize="medium")
        return fig


register(Shumailov2024GMM())
