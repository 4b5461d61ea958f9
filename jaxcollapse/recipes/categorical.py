r"""The categorical recipe: Wright–Fisher collapse of a distribution over $K$ categories.

Default run: a Zipf(1.1) truth over $K = 100$ categories, $n = 100$ draws per generation, 2,000 chains,
100 generations, under ``replace`` (the Wright–Fisher model: categories die out and
$E[1 - \sum p^2]$ decays as $(1 - 1/n)^t$) and ``accumulate`` (every generation adds $n$ draws to all
earlier ones: the diversity settles at $H_0\sin(\pi/\sqrt n)/(\pi/\sqrt n)$). Truths: ``zipf``
(``--beta``), ``uniform``, ``dirichlet`` (``--concentration``, ``--truth-seed``) or ``wordfreq`` (the top
$K$ words of ``--lang``). Decoding: ``--temperature``, ``--top-k``, ``--top-p``; smoothing ``--alpha``.

**Theory** (`jaxcollapse.theory.categorical`, exact expectations; plain sampling, $\tau = 1$, no top-k/p):
Gini–Simpson under replace (any $\alpha$), accumulate and fresh ($\alpha = 0$); the tail mass lost and
the surviving categories at $t = 1$ (generation 1 fits $N$ draws of the truth: $N = n$, or
$n_{\rm real} + n$ under fresh), and for every $t \ge 1$ under accumulate, whose pool keeps every
category seen in generation 1 and can gain no other.

Figures: ``diversity.png`` (surviving categories, tail mass lost, Gini–Simpson, with theory) and
``rank_frequency.png`` (the truth against the model at a few generations: chain 0 and the mean over the
recorded chains).
"""

from __future__ import annotations

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params

TRUTHS = ("zipf", "uniform", "dirichlet", "wordfreq")


class CategoricalRecipe(Recipe):
    name = "categorical"
    description = "a categorical distribution (Wright-Fisher) refitted on its own draws"
    params = (
        *run_params(n=100, generations=100, chains=2000, paths=("exact", "samples")),
        Param("truth", str, "zipf", "the truth: zipf (--beta), uniform, dirichlet (--concentration, --truth-seed) "
                                    "or wordfreq (--lang)", choices=TRUTHS),
        Param("K", int, 100, "categories K", low=2, flag="--K"),
        Param("beta", float, 1.1, "Zipf exponent of the truth", static=False, low=0.0),
        Param("concentration", float, 1.0, "Dirichlet concentration of the truth", static=False, low=0.0,
              low_open=True),
        Param("truth_seed", int, 0, "seed of the Dirichlet truth", static=False, low=0),
        Param("lang", str, "en", "wordfreq language"),
        Param("alpha", float, 0.0, "additive smoothing of the refit", static=False, low=0.0),
        Param("top_k", int, None, "sample only the k most probable categories (unset: all)", low=1, optional=True),
        Param("top_p", float, None, "sample only the nucleus of mass top_p (unset: all)", low=0.0, high=1.0,
              low_open=True, optional=True),
        Param("rank_generations", int, None, "generations drawn in rank_frequency.png (unset: 1, 10, G)", low=0,
              many=True, optional=True),
    )
    metric_names = ("entropy", "gini_simpson", "surviving", "tail_mass_lost", "kl", "tv", "max_prob")
    headline = ("gini_simpson", "surviving", "tail_mass_lost", "entropy", "kl")
    bayes = "diversity"
    record_params = True

    def check(self, params):
        super().check(params)
        if params["top_k"] is not None and params["top_k"] > params["K"]:
            raise ValueError(f"top_k = {params['top_k']} is invalid: top_k must be an integer in [1, K] = "
                             f"[1, {params['K']}]")
        for g in params["rank_generations"] or ():
            if g > params["generations"]:
                raise ValueError(f"rank_generations = {list(params['rank_generations'])} is invalid: each must lie "
                                 f"in [0, generations] = [0, {params['generations']}]")

    def truth(self, params):
        import jax

        from ..families import Categorical

        kw = dict(alpha=params["alpha"], top_k=params["top_k"], top_p=params["top_p"])
        K = params["K"]
        if params["truth"] == "zipf":
            return Categorical.zipf(K, params["beta"], **kw)
        if params["truth"] == "uniform":
            return Categorical.uniform(K, **kw)
        if params["truth"] == "dirichlet":
            return Categorical.dirichlet(jax.random.key(params["truth_seed"]), K, params["concentration"], **kw)
        return Categorical.wordfreq(K, params["lang"], **kw)

    def build(self, params):
        return self.truth(params), None, regime_from(params)

    def arrays(self, params, model):
        return {"p": np.asarray(model.p)}

    def describe(self, params):
        truth = {"zipf": f"Zipf beta={params['beta']:g}", "uniform": "uniform",
                 "dirichlet": f"Dirichlet({params['concentration']:g}) seed {params['truth_seed']}",
                 "wordfreq": f"wordfreq {params['lang']}"}[params["truth"]]
        return (f"Categorical K={params['K']} ({truth}), n={params['n']}, alpha={params['alpha']:g}, "
                f"tau={params['temperature']:g}" + (f", top-k={params['top_k']}" if params["top_k"] else "")
                + (f", top-p={params['top_p']:g}" if params["top_p"] else ""))

    def notes(self, params):
        return ["tail_mass_lost, surviving: exact at t = 1 (every t under accumulate); kl = inf once a chain "
                "loses a category of the truth"]

    def theory(self, params, generations):
        r"""Exact expectations over generations $0..G$ (NaN where there is none: tail metrics past $t = 1$)."""
        from ..theory import categorical as th

        name, G, n = params["regime"], generations, params["n"]
        t = np.arange(G + 1)
        plain = (params["temperature"] == 1.0 and params["top_k"] is None and params["top_p"] is None
                 and params["drift"] == 0.0)
        if not plain:
            return {}
        p = np.asarray(self.truth(params).p, np.float64)
        alpha = params["alpha"]
        n_real = n if params["n_real"] is None else params["n_real"]
        h0 = float(1.0 - np.sum(p * p))
        out: dict[str, np.ndarray] = {}
        gs = None
        if name == "replace":
            gs = (th.heterozygosity_mean(t, n, h0) if alpha == 0
                  else th.heterozygosity_smoothed(t, n, params["K"], alpha, h0))
        elif alpha == 0 and name == "accumulate":
            gs = th.heterozygosity_accumulate(t, n, h0)
        elif alpha == 0 and name == "fresh":
            gs = th.heterozygosity_fresh(t, n_real, n, h0)
        if gs is not None:
            out["gini_simpson"] = np.asarray(gs, np.float64)
        if alpha == 0 and name in ("replace", "accumulate", "fresh"):
            first = n + n_real if name == "fresh" else n  # generation 1 fits `first` draws of the truth
            lost1 = float(th.mass_lost_one_generation(p, first))
            surv1 = float(np.sum(-np.expm1(first * np.log1p(-np.minimum(p, 1 - 1e-16)))))
            for metric, t0, t1 in (("tail_mass_lost", 0.0, lost1), ("surviving", float(np.sum(p > 0)), surv1)):
                curve = np.full(G + 1, t1 if name == "accumulate" else np.nan)
                curve[0] = t0
                if G >= 1:
                    curve[1] = t1
                out[metric] = curve
        return out

    def figures(self, folder, trajs, curves, params, detail=None):
        from matplotlib.figure import Figure

        from .. import plot

        G = params["generations"]
        replace_exact = self._replace_tail_curves(params, curves)
        fig = Figure(figsize=(17, 4.6), layout="constrained")
        panels = (("surviving", "surviving categories", "categories still in the model"),
                  ("tail_mass_lost", "truth's mass on lost categories", "tail mass lost"),
                  ("gini_simpson", "Gini–Simpson $1 - \\sum_i p_i^2$", "Gini–Simpson diversity"))
        marked = False
        for i, (ax, (metric, ylabel, title)) in enumerate(zip(fig.subplots(1, 3), panels, strict=True)):
            theory = {k: c[metric] for k, c in curves.items() if metric in c}
            theory.update({k: c[metric] for k, c in replace_exact.items() if metric in c})
            plot.compare(trajs, metric, ax=ax, theory={k: v for k, v in theory.items() if np.all(np.isfinite(v))},
                         legend="outside" if i == 2 else None)
            for k, v in theory.items():  # exact only at t = 0 and 1 (fresh): a short segment and a mark
                if not np.all(np.isfinite(v)) and k in trajs:
                    color = plot.darker(f"C{list(trajs).index(k)}")  # compare's colour for regime k
                    plot.draw_theory(ax, [0, 1], v[:2], color=color)
                    ax.plot([1], [v[1]], marker="x", ms=9, mew=2, color=color, ls="none", zorder=plot.THEORY_ZORDER)
                    marked = True
            ax.set_ylabel(ylabel)
            ax.set_title(title, fontsize="medium")
        truth = {"zipf": f"Zipf $\\beta$ = {params['beta']:g}", "uniform": "uniform",
                 "dirichlet": f"Dirichlet({params['concentration']:g})", "wordfreq": f"wordfreq {params['lang']}"}
        fig.suptitle(f"Categorical K = {params['K']} ({truth[params['truth']]} truth), n = {params['n']} draws per "
                     f"generation, {params['chains']} chains; theory: exact expectations"
                     + ("; x: exact at t = 1 only" if marked else ""), fontsize="medium")
        fig.savefig(folder / "diversity.png", dpi=150)
        _close(fig)
        written = ["diversity.png"]
        if not detail:
            return written
        first = next(iter(detail))
        p_hist = np.asarray(detail[first].params.p)[:, : params["paths_chains"]]  # (G + 1, chains, K)
        # generation 0 is the truth, drawn once in black
        gens = [g for g in (params["rank_generations"] or sorted({1, min(10, G), G})) if g > 0]
        fig = Figure(figsize=(11, 4.4), layout="constrained")
        rank = np.arange(1, params["K"] + 1)
        truth_p = np.sort(p_hist[0, 0])[::-1]
        import matplotlib

        shades = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, max(len(gens), 1)))
        for ax, which in zip(fig.subplots(1, 2), ("chain 0", f"mean over {p_hist.shape[1]} chains"), strict=True):
            ax.loglog(rank[truth_p > 0], truth_p[truth_p > 0], color="k", lw=2.2, label="truth (t = 0)", zorder=1.9)
            for g, shade in zip(gens, shades, strict=False):
                srt = np.sort(p_hist[g], axis=-1)[..., ::-1]
                y = srt[0] if which == "chain 0" else srt.mean(axis=0)
                ax.loglog(rank[y > 0], y[y > 0], lw=1.4, color=shade, label=f"t = {g}")
            ax.set_xlabel("rank $r$")
            ax.set_ylabel("probability of the $r$-th most probable category")
            ax.set_title(f"{first}, {which}", fontsize="medium")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize="small", title="generation", title_fontsize="small")
        fig.suptitle(f"Rank–frequency: categorical K = {params['K']} ({truth[params['truth']]} truth), "
                     f"n = {params['n']} draws per generation", fontsize="medium")
        fig.savefig(folder / "rank_frequency.png", dpi=150)
        _close(fig)
        return [*written, "rank_frequency.png"]

    def _replace_tail_curves(self, params, curves) -> dict:
        r"""For the figure: exact $E$[surviving] and $E$[tail mass lost] at every generation under replace
        (plain sampling, $\alpha = 0$), where `theory` gives them at $t \le 1$ only.

        Each category's count is a two-type Wright–Fisher chain: $N_1 \sim \mathrm{Bin}(n, p_i)$, then
        $N_{t+1} \sim \mathrm{Bin}(n, N_t/n)$, so $P(N_t = 0) = \mathrm{Bin}(n, p_i) \cdot P^{t-1} e_0$ with
        $P$ the chain's matrix (`theory.categorical.wright_fisher_matrix`). Skipped above $n = 2000$."""
        c = curves.get("replace", {})
        if "surviving" not in c or np.all(np.isfinite(c["surviving"])) or params["n"] > 2000:
            return {}
        from scipy import stats

        from ..theory import categorical as th

        n, G = params["n"], params["generations"]
        p = np.asarray(self.truth(params).p, np.float64)
        P = th.wright_fisher_matrix(n)
        start = stats.binom.pmf(np.arange(n + 1)[None, :], n, p[:, None])  # (K, n + 1): the law of N_1
        lost_by = np.zeros(n + 1)
        lost_by[0] = 1.0  # P(N_{1+s} = 0 | N_1 = j) for s = 0, 1, ...
        lost = np.zeros((G + 1, p.size))
        for t in range(1, G + 1):
            lost[t] = start @ lost_by
            lost_by = P @ lost_by
        return {"replace": {"surviving": np.sum(p > 0) - lost.sum(axis=1), "tail_mass_lost": lost @ p}}


register(CategoricalRecipe())
