r"""Suresh et al. 2024: a Bernoulli symbol of probability $p_0 = 0.2$ refitted on $n = 100$ of its own draws.

**Setup** (as the issue states the paper's experiment: Bernoulli $p_0 = 0.2$, $n = 100$, 600 generations).
The Bernoulli model is the categorical family with $K = 2$, $p = (0.2, 0.8)$, refitted by frequencies on $n$
draws of the previous model (replace): one symbol's count is the two-type Wright–Fisher chain. The quantity
is the probability that a symbol is still present, $P(p_k \ne 0)$, for both symbols.

**Theory** (`jaxcollapse.theory.suresh`). Exact: `wright_fisher_survival` (powers of the Wright–Fisher
transition matrix, model 0 the truth). Bound: $P(p_k \ne 0) \ge 1 - \exp(-np_0 g_k)$,
$g_k = g^{\circ k}(\infty)$, $g(x) = 1 - e^{-x}$ (`suresh_survival_bound`; derived there by comparing the
binomial with the Poisson chain in the convex order). Judged as an equality against the exact value and as a
lower bound against the bound.

**Ours.** Per chain, whether symbol 0 (resp. 1) is lost is read from the family's ``lost`` and
``tail_mass_lost`` metrics: with $L_0, L_1$ the two loss indicators (never both 1),
$\text{tail\_mass\_lost} = 0.2L_0 + 0.8L_1$ and $\text{lost} = L_0 + L_1$, so $L_0 = (0.8\,\text{lost} -
\text{tail\_mass\_lost})/0.6$ chain by chain, and its mean over chains is the same combination of the two
metrics' means (the standard error of a share, $\sqrt{p(1-p)/N}$).
"""

from __future__ import annotations

import numpy as np

from ._base import Reproduction, Result, register, scaled
from ._suresh import CITATION, PAPER, PUBLISHED, share_se, survival_lines

P0 = (0.2, 0.8)
N = 100
GENERATIONS = 600
CHAINS = 20_000
KS = (10, 50, 100, 300, 600)  # reported where the exact share is in [0.02, 0.98]


class Suresh2024Bernoulli(Reproduction):
    name = "suresh2024_bernoulli"
    paper = PAPER
    figure_ref = "Bernoulli experiment: P(symbol survives) against the generation"
    citation = CITATION
    setup = (f"Bernoulli p0 = {P0[0]} (categorical K = 2, p = {P0}), n = {N} draws per generation, replace, "
             f"{GENERATIONS} generations; P(p_k != 0) for both symbols; {CHAINS} chains at scale 1")
    published = PUBLISHED
    floor = 0.025

    def compute(self, key, scale):
        from .. import regimes
        from .._config import x64
        from ..engine import simulate
        from ..families import Categorical
        from ..theory import suresh as th

        chains = scaled(CHAINS, scale)
        k = np.arange(GENERATIONS + 1)
        with x64():
            traj = simulate(key, Categorical(np.array(P0)), regimes.replace(N), GENERATIONS, chains,
                            metrics=("lost", "tail_mass_lost"), quantiles=())
            lost, tml = traj.mean("lost"), traj.mean("tail_mass_lost")
        a, b = P0
        lost_sym = ((b * lost - tml) / (b - a), (tml - a * lost) / (b - a))  # P(L_0), P(L_1) per generation
        exact = th.wright_fisher_survival(k, N, np.array(P0))  # (G + 1, 2)
        lines, columns = [], {"generation": k}
        for i, p0 in enumerate(P0):
            ours = 1.0 - lost_sym[i]
            se = share_se(ours, chains)
            bound = th.suresh_survival_bound(k, N, p0)
            lines += survival_lines(f"P(p_k != 0), symbol p0={p0}", KS, KS, ours, chains, exact[:, i], bound, "lower",
                                    "suresh_survival_bound: 1 - exp(-n p0 g_k) (Suresh et al. 2024)",
                                    "wright_fisher_survival: exact Wright-Fisher chain")
            columns[f"p0={p0}/ours"], columns[f"p0={p0}/se"] = ours, se
            columns[f"p0={p0}/exact"], columns[f"p0={p0}/bound"] = exact[:, i], bound
        notes = [f"{chains} chains, float64, exact (multinomial counts) path",
                 "P(p_k != 0) -> p0 as k -> infinity (the symbol fixes with probability p0); the bound tends to 0, "
                 "the loss of a symbol is bounded, not its fixation"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        k = c["generation"]
        fig = Figure(figsize=(7.5, 4.6), layout="constrained")
        ax = fig.subplots()
        for i, p0 in enumerate(P0):
            color = f"C{i}"
            ax.plot(k, c[f"p0={p0}/ours"], color=color, lw=1.6, label=f"ours, p0 = {p0}")
            plot.draw_theory(ax, k, c[f"p0={p0}/exact"], color=color, label="exact (Wright-Fisher)" if i == 0 else None)
            ax.plot(k, c[f"p0={p0}/bound"], color=color, lw=1.0, ls="--",
                    label=r"bound $1 - e^{-n p_0 g_k}$" if i == 0 else None)
            plot.reference_line(ax, p0, f"fixation probability {p0}")
        ax.set_xlabel("generation $k$")
        ax.set_ylabel(r"$P(p_k \neq 0)$")
        ax.set_ylim(0.0, 1.02)
        ax.legend(fontsize="small", loc="center right")
        ax.set_title(f"{PAPER}: Bernoulli, n = {N}, {result.data['chains']} chains", fontsize="medium")
        return fig


register(Suresh2024Bernoulli())
