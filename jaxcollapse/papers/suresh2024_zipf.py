r"""Suresh et al. 2024: the fraction of a Zipf vocabulary that survives recursive training, $m = n = 1000$.

**Setup** (as the issue states the paper's experiment: Zipf, $m = n = 1000$, the expected fraction of
surviving categories). A categorical truth over $m = 1000$ symbols with Zipf probabilities
$p_i \propto 1/i$ (exponent 1: the issue gives none; the classical Zipf law), refitted by frequencies on
$n = 1000$ draws of the previous model (replace), 1000 generations.

**Theory** (`jaxcollapse.theory.suresh`). Exact: `expected_surviving`, the sum over symbols of each symbol's
two-type Wright–Fisher survival probability (`wright_fisher_survival`), divided by $m$. Bound: Suresh et al.'s
per-symbol bound summed, $\frac1m\sum_i [1 - \exp(-np_ig_k)]$ (`suresh_survival_bound`), judged as a lower
bound.

**Ours.** The family's ``surviving`` metric (the number of symbols with $p_{k,i} > 0$) over $m$, its mean and
standard error over chains.
"""

from __future__ import annotations

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled
from ._suresh import CITATION, PAPER, PUBLISHED

M = 1000  # symbols
N = 1000  # draws per generation
BETA = 1.0
GENERATIONS = 1000
CHAINS = 2000
KS = (1, 10, 100, 1000)


class Suresh2024Zipf(Reproduction):
    name = "suresh2024_zipf"
    paper = PAPER
    figure_ref = "Zipf experiment: expected fraction of surviving symbols against the generation"
    citation = CITATION
    setup = (f"categorical truth Zipf(beta = {BETA:g}) over m = {M} symbols, n = {N} draws per generation, replace, "
             f"{GENERATIONS} generations; the expected fraction of surviving symbols; {CHAINS} chains at scale 1")
    published = PUBLISHED + "; the Zipf exponent is not given in the issue: 1 is assumed"
    floor = 0.008
    heavy = True  # its floor run costs more than the default suite's share (measured: see the closing note)

    def compute(self, key, scale):
        from .. import regimes
        from .._config import x64
        from ..engine import simulate
        from ..families import Categorical
        from ..families.categorical import zipf_probabilities
        from ..theory import suresh as th

        chains = scaled(CHAINS, scale)
        k = np.arange(GENERATIONS + 1)
        p = zipf_probabilities(M, BETA)
        with x64():
            traj = simulate(key, Categorical(p), regimes.replace(N), GENERATIONS, chains, metrics=("surviving",),
                            quantiles=())
            ours, se = traj.mean("surviving") / M, traj.stderr("surviving") / M
        # the exact law on a log-spaced grid of generations holding KS (one survival vector per generation is
        # computed anyway; the grid keeps the binomial mixing over the 1000 symbols small)
        grid = np.unique(np.concatenate([np.geomspace(1, GENERATIONS, 60).round().astype(int), KS]))
        exact = np.full(k.shape, np.nan)
        exact[grid] = th.expected_surviving(grid, N, p) / M
        bound = th.suresh_survival_bound(k[:, None], N, p[None, :]).sum(axis=1) / M
        lines = []
        for g in KS:
            lines.append(Line(f"surviving fraction, k={g}", ours[g], se[g], exact[g],
                              theory_source="expected_surviving: sum of exact Wright-Fisher survivals"))
            lines.append(Line(f"surviving fraction, k={g} (bound)", ours[g], se[g], bound[g], rule="lower",
                              theory_source="suresh_survival_bound summed over symbols (Suresh et al. 2024)"))
        columns = {"generation": k, "ours": ours, "se": se, "exact": exact, "bound": bound}  # exact: NaN off the grid
        notes = [f"{chains} chains, float64, exact (multinomial counts) path; Zipf exponent 1 assumed"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        k = c["generation"][1:]
        fig = Figure(figsize=(7.5, 4.6), layout="constrained")
        ax = fig.subplots()
        ax.plot(k, c["ours"][1:], color="C0", lw=1.6, label="ours")
        on = np.isfinite(c["exact"][1:])
        plot.draw_theory(ax, k[on], c["exact"][1:][on], label="exact (sum of Wright-Fisher survivals)")
        ax.plot(k, c["bound"][1:], color="C3", lw=1.2, ls="--", label=r"bound $\frac{1}{m}\sum_i 1 - e^{-np_ig_k}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("generation $k$")
        ax.set_ylabel("fraction of surviving symbols")
        ax.legend(fontsize="small", loc="lower left")
        ax.set_title(f"{PAPER}: Zipf, m = n = {M}, {result.data['chains']} chains", fontsize="medium")
        return fig


register(Suresh2024Zipf())
