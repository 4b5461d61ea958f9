r"""Suresh et al. 2024: how long a Gaussian's spread stays above $\varepsilon = 0.1$ when refitted on $n = 10$ draws.

**Setup** (as the issue states the paper's experiment: $P(\sigma_k > \varepsilon)$, $\varepsilon = 0.1$,
$n = 10$). Truth $N(0, 1)$, $\sigma_0 = 1$; each generation refits the mean and the **unbiased** variance
($\sigma_k^2 = \sigma_{k-1}^2\chi^2_{n-1}/(n-1)$) on $n$ draws of the previous model, 300 generations. The
unbiased refit is the one whose collapse rate their bound's exponent $k/(4n)$ matches
($-\ln E\sqrt{\chi^2_{n-1}/(n-1)} = 1/(4n) + O(n^{-2})$); the MLE collapses three times faster.

**Theory** (`jaxcollapse.theory.suresh`). Exact: `gaussian_sigma_tail`, the tail of a sum of $k$
log-chi-squares by Gil-Pelaez inversion. Bound: $P(\sigma_k > \varepsilon) \le (\sigma_0/\varepsilon)
e^{-k/(4n)}$ (`suresh_gaussian_bound`, re-derived there by Markov's inequality); judged as an upper bound where
it is below 1. Bertrand et al.'s bound, which the paper also draws, is not reproduced: its statement could
not be read (the stored copies of both papers hold their first pages only).

**Ours.** The per-chain spread $\sigma_k$ (metric ``sigma``, recorded paths), the share of chains above
$\varepsilon$, with the standard error of a share.
"""

from __future__ import annotations

import numpy as np

from ._base import Reproduction, Result, register, scaled
from ._suresh import CITATION, PAPER, PUBLISHED, share_se, survival_lines

N = 10
EPS = 0.1
GENERATIONS = 300
CHAINS = 20_000
KS_EXACT = (25, 50, 100, 125)  # reported where the exact share is in [0.02, 0.98]
KS_BOUND = (100, 150, 200, 300)  # where the bound is below 1


class Suresh2024Gaussian(Reproduction):
    name = "suresh2024_gaussian"
    paper = PAPER
    figure_ref = "Gaussian experiment: P(sigma_k > eps) against the generation, with the bound"
    citation = CITATION
    setup = (f"N(0, 1), mean and unbiased variance refitted on n = {N} draws per generation (replace), "
             f"{GENERATIONS} generations; P(sigma_k > {EPS}) against (sigma0/eps) exp(-k/(4n)); "
             f"{CHAINS} chains at scale 1")
    published = PUBLISHED + "; Bertrand et al.'s bound is not drawn (its statement could not be read either)"
    floor = 0.05

    def compute(self, key, scale):
        from .. import regimes
        from .._config import x64
        from ..engine import simulate
        from ..families import Gaussian
        from ..theory import gaussian as thg
        from ..theory import suresh as th

        chains = scaled(CHAINS, scale)
        k = np.arange(GENERATIONS + 1)
        with x64():
            traj = simulate(key, Gaussian(0.0, 1.0, "unbiased"), regimes.replace(N), GENERATIONS, chains,
                            metrics=("sigma",), quantiles=(), record_paths=True)
            sigma = np.asarray(traj.paths["sigma"], np.float64)  # (G + 1, chains)
            markov = np.asarray(thg.sigma_mean(k, N, 1.0, "unbiased"), np.float64) / EPS
        ours = (sigma > EPS).mean(axis=1)
        se = share_se(ours, chains)
        exact = th.gaussian_sigma_tail(k, N, EPS)
        bound = th.suresh_gaussian_bound(k, N, EPS)
        judged = np.where(bound < 1.0, bound, np.nan)  # a bound above 1 says nothing
        lines = survival_lines(f"P(sigma_k > {EPS})", KS_EXACT, KS_BOUND, ours, chains, exact, judged, "upper",
                               "suresh_gaussian_bound: (sigma0/eps) exp(-k/(4n)) (Suresh et al. 2024)",
                               "gaussian_sigma_tail: Gil-Pelaez inversion (exact)")
        columns = {"generation": k, "ours": ours, "se": se, "exact": exact, "bound": bound, "markov": markov}
        notes = [f"{chains} chains, float64, exact path; the unbiased refit",
                 "the bound is judged only where it is below 1; Markov's inequality with the exact E sigma_k "
                 "(sigma_mean, drawn) lies between the exact tail and the bound"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        k = c["generation"]
        fig = Figure(figsize=(7.5, 4.6), layout="constrained")
        ax = fig.subplots()
        ax.plot(k, c["ours"], color="C0", lw=1.6, label="ours")
        plot.draw_theory(ax, k, c["exact"], label="exact (Gil-Pelaez)")
        ax.plot(k, c["bound"], color="C3", lw=1.2, ls="--", label=r"bound $(\sigma_0/\varepsilon)e^{-k/(4n)}$")
        ax.plot(k, c["markov"], color="0.5", lw=1.0, ls=":", label=r"Markov with exact $E\sigma_k$")
        ax.set_yscale("log")
        ax.set_ylim(1e-5, 1.5)
        ax.set_xlabel("generation $k$")
        ax.set_ylabel(rf"$P(\sigma_k > {EPS})$")
        ax.legend(fontsize="small", loc="lower left")
        ax.set_title(f"{PAPER}: Gaussian, n = {N}, unbiased refit, {result.data['chains']} chains", fontsize="medium")
        return fig


register(Suresh2024Gaussian())
