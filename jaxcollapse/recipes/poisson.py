r"""The Poisson recipe: a rate refitted on its own counts, a critical Galton–Watson process.

Default run: rate 1, $n = 10$ counts per generation, 2,000 chains, 100 generations, exact path, under
``replace`` (the rate is a martingale, yet every chain dies out: $n\lambda_t$ is a Galton–Watson
process with Poisson(1) offspring per unit) and ``accumulate`` (extinction only if the first generation
draws nothing: probability $e^{-n\lambda_0}$). The Poisson family samples at temperature 1 only.

**Theory** (`jaxcollapse.theory.poisson`): $E\lambda_t = \lambda_0$ under every regime without drift
(each refit is an unbiased mean of draws whose expectation is the previous rate or the truth's); the
probability of extinction under replace (`poisson_extinction_probability`, exact) and accumulate
($e^{-n\lambda_0}$ for $t \ge 1$, derived above).

The per-chain CSV holds the rate; a chain that died out stays at 0 (an absorbing state), which
``jaxcollapse forecast`` treats as a point mass at 0.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params


class PoissonRecipe(Recipe):
    name = "poisson"
    description = "a Poisson rate refitted on its own counts"
    params = (
        *run_params(n=10, generations=100, chains=2000, paths=("exact", "samples"), temperature=False),
        Param("rate", float, 1.0, "the truth's rate", static=False, low=0.0, low_open=True),
    )
    metric_names = ("rate", "extinct", "rate_ratio", "log_rate_ratio", "sq_err", "kl")
    headline = ("rate", "extinct")
    bayes = "spread"

    def build(self, params):
        from ..families import Poisson

        return Poisson(params["rate"]), None, regime_from(params)

    def arrays(self, params, model):
        return {"rate": np.asarray(model.rate)}

    def describe(self, params):
        return f"Poisson rate={params['rate']:g}, n={params['n']}"

    def theory(self, params, generations):
        from ..theory import poisson as th

        if params["drift"] != 0.0:
            return {}
        name, G, n, lam = params["regime"], generations, params["n"], params["rate"]
        t = np.arange(G + 1)
        out = {"rate": np.full(G + 1, lam)}  # a martingale under every regime
        if name == "replace":
            out["extinct"] = np.asarray(th.poisson_extinction_probability(t, n, lam))  # 0 at t = 0
        elif name == "accumulate":
            out["extinct"] = np.concatenate([[0.0], np.full(G, math.exp(-n * lam))])
        return out

    def figures(self, folder, trajs, curves, params, detail=None):
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        from .. import plot

        fig = Figure(figsize=(12, 4.5), layout="constrained")
        ax_ext, ax_rate = fig.subplots(1, 2)
        handles = []
        for i, (name, traj) in enumerate(trajs.items()):
            color = f"C{i}"
            ax_ext.plot(np.asarray(traj.mean("extinct")), color=color, zorder=plot.LINE_ZORDER, **plot.MEDIAN_STYLE)
            th = curves[name].get("extinct")
            if th is not None:
                plot.draw_theory(ax_ext, np.arange(len(th)), th, color=plot.darker(color))
            handles.append(Line2D([], [], color=color, label=name, **plot.MEDIAN_STYLE))
        handles += [Line2D([], [], color="0.35", label="simulation (fraction of chains)", **plot.MEDIAN_STYLE),
                    Line2D([], [], color="0.35", label="exact probability", **plot.THEORY_STYLE)]
        ax_ext.legend(handles=handles, fontsize="small", loc="best")
        ax_ext.set_xlabel("generation $t$")
        ax_ext.set_ylabel("fraction of chains extinct (rate = 0)")
        ax_ext.set_title("extinction (rate 0 is absorbing)", fontsize="medium")
        ax_ext.grid(True, alpha=0.3)
        from matplotlib.ticker import MaxNLocator

        ax_ext.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        plot.compare(trajs, "rate", theory={k: c["rate"] for k, c in curves.items() if "rate" in c}, ax=ax_rate,
                     references={"truth": params["rate"]})
        ax_rate.set_ylabel("fitted rate $\\lambda_t$")
        ax_rate.set_title("rate across chains", fontsize="medium")
        fig.suptitle(f"Poisson, truth rate {params['rate']:g}, n = {params['n']} draws per generation, "
                     f"{params['chains']} chains", fontsize="medium")
        fig.savefig(folder / "extinction.png", dpi=150)
        _close(fig)
        return ["extinction.png"]


register(PoissonRecipe())
