r"""Suresh et al. 2024: a Poisson rate refitted on $n = 10$ of its own draws, $\lambda_0 \in \{1, 10\}$.

**Setup** (as the issue states the paper's experiment): $\Lambda_k = S_k/n$, $S_k \sim
\mathrm{Poisson}(n\Lambda_{k-1})$, $n = 10$, 500 generations, $\lambda_0 \in \{1, 10\}$; the quantity is
$P(\Lambda_k \ne 0)$ against their bound $1 - \exp(-n\lambda_0 g_k)$, $g_k = g^{\circ k}(\infty)$,
$g(x) = 1 - e^{-x}$.

**Theory.** The bound (`theory.suresh.suresh_survival_bound`) holds **with equality** for this model:
$P(S_k = 0) = e^{-n\lambda_0 g_k}$ is the extinction probability of a critical Poisson Galton–Watson process
started from $S_1 \sim \mathrm{Poisson}(n\lambda_0)$ (`theory.poisson.poisson_extinction_probability`, the
same number by another recursion; the two agree to rounding, checked by ``suresh.poisson_survival``). Each
generation is judged against the exact value (equality) and against the bound (a lower bound: the same
number, so the two lines have the same $z$).

**Ours.** The Poisson family on the exact path (one Poisson draw of $S_k$ per generation); both rates run as
two points of one compiled program (the rate is traced). The metric ``extinct`` is the indicator of
$\Lambda_k = 0$, so its mean is the extinction probability and its standard error that of a share.
"""

from __future__ import annotations

import numpy as np

from ._base import Reproduction, Result, register, scaled
from ._suresh import CITATION, PAPER, PUBLISHED, share_se, survival_lines

RATES = (1.0, 10.0)
N = 10
GENERATIONS = 500
CHAINS = 20_000
KS = (10, 20, 50, 100, 200, 500)  # reported where the exact share is in [0.02, 0.98]


class Suresh2024Poisson(Reproduction):
    name = "suresh2024_poisson"
    paper = PAPER
    figure_ref = "Poisson experiment: P(Lambda_k != 0) against the generation, with the bound"
    citation = CITATION
    setup = (f"Poisson rate refitted by the mean of n = {N} draws per generation (replace), lambda0 in "
             f"{list(RATES)}, {GENERATIONS} generations; P(Lambda_k != 0) against 1 - exp(-n lambda0 g_k); "
             f"{CHAINS} chains at scale 1")
    published = PUBLISHED
    floor = 0.05

    def compute(self, key, scale):
        from .. import engine, regimes
        from .._config import x64
        from ..families import Poisson
        from ..theory import poisson as thp
        from ..theory import suresh as th

        chains = scaled(CHAINS, scale)
        k = np.arange(GENERATIONS + 1)
        with x64():
            specs = engine.stack_specs([engine.make_spec(Poisson(r), regimes.replace(N), GENERATIONS) for r in RATES])
            res = engine.run_points(key, specs, chains, metrics=("extinct",), quantiles=())
            ext = np.asarray(res.summary["extinct"][0], np.float64)  # (points, G + 1)
        lines, columns = [], {"generation": k}
        for i, lam in enumerate(RATES):
            ours = 1.0 - ext[i]
            se = share_se(ours, chains)
            exact = 1.0 - thp.poisson_extinction_probability(k, N, lam)
            bound = th.suresh_survival_bound(k, N, lam)
            lines += survival_lines(f"P(Lambda_k != 0), lambda0={lam:g}", KS, KS, ours, chains, exact, bound, "lower",
                                    "suresh_survival_bound: 1 - exp(-n lambda0 g_k) (Suresh et al. 2024)",
                                    "poisson_extinction_probability: Galton-Watson recursion (Harris 1963)")
            columns[f"lambda0={lam:g}/ours"], columns[f"lambda0={lam:g}/se"] = ours, se
            columns[f"lambda0={lam:g}/exact"], columns[f"lambda0={lam:g}/bound"] = exact, bound
        notes = [f"{chains} chains per rate, float64, exact path (S_k ~ Poisson(n Lambda_(k-1)), one draw)",
                 "the bound equals the exact survival probability here (the lines against it repeat the exact "
                 "comparison); about 2 n lambda0 / k for large k (Kolmogorov)"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        k = c["generation"][1:]
        fig = Figure(figsize=(7.5, 4.6), layout="constrained")
        ax = fig.subplots()
        for i, lam in enumerate(RATES):
            color = f"C{i}"
            tag = f"lambda0={lam:g}"
            ax.plot(k, c[f"{tag}/ours"][1:], color=color, lw=1.6, label=rf"ours, $\lambda_0$ = {lam:g}")
            plot.draw_theory(ax, k, c[f"{tag}/exact"][1:], color=color,
                             label="exact (Galton-Watson)" if i == 0 else None)
            ax.plot(k, c[f"{tag}/bound"][1:], color=color, lw=1.0, ls="--",
                    label=r"bound $1 - e^{-n\lambda_0 g_k}$" if i == 0 else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("generation $k$")
        ax.set_ylabel(r"$P(\Lambda_k \neq 0)$")
        ax.legend(fontsize="small", loc="lower left")
        ax.set_title(f"{PAPER}: Poisson, n = {N}, {result.data['chains']} chains", fontsize="medium")
        return fig


register(Suresh2024Poisson())
