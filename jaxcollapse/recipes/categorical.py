r"""The categorical recipe: Wright–Fisher collapse of a distribution over $K$ categories.

Default run: a Zipf(1.1) truth over $K = 100$ categories, $n = 100$ draws per generation, 2,000 chains,
100 generations, under ``replace`` (the Wright–Fisher model: categories die out and
$E[1 - \sum p^2]$ decays as $(1 - 1/n)^t$) and ``accumulate`` (every generation adds $n$ draws to all
earlier ones: the diversity settles at $H_0\sin(\pi/\sqrt n)/(\pi/\sqrt n)$). Truths: ``zipf``
(``--beta``), ``uniform``, ``dirichlet`` (``--concentration``, ``--truth-seed``) or ``wordfreq`` (the top
$K$ words of ``--lang``). Decoding: ``--temperature``, ``--top-k``, ``--top-p``; smoothing ``--alpha``.

**Theory** (`jaxcollapse.theory.discrete`, exact expectations; plain sampling, $\tau = 1$, no top-k/p):
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
        from ..theory import discrete as th

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
        import matplotlib.pyplot as plt

        from .. import plot

        G = params["generations"]
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
        for ax, metric in zip(axes, ("surviving", "tail_mass_lost", "gini_simpson"), strict=True):
            theory = {k: c[metric] for k, c in curves.items() if metric in c}
            plot.compare(trajs, metric, ax=ax, theory={k: v for k, v in theory.items() if np.all(np.isfinite(v))})
            for v in theory.values():  # exact only at t = 0 and 1 (replace, fresh): a short segment and a mark
                if not np.all(np.isfinite(v)):
                    ax.plot([0, 1], v[:2], color="k", ls=":", lw=1.5)
                    ax.plot([1], [v[1]], marker="x", ms=9, color="k", ls="none")
            ax.set_xlabel("generation t")
        axes[0].set_ylabel("surviving categories")
        axes[1].set_ylabel("truth's mass on lost categories")
        axes[2].set_ylabel("Gini–Simpson 1 − Σp²")
        fig.suptitle(f"Categorical K = {params['K']}, n = {params['n']}, {params['chains']} chains "
                     "(dotted: exact expectation; x: exact at t = 1)")
        fig.tight_layout()
        fig.savefig(folder / "diversity.png", dpi=120)
        _close(fig)
        written = ["diversity.png"]
        if not detail:
            return written
        first = next(iter(detail))
        p_hist = np.asarray(detail[first].params.p)[:, : params["paths_chains"]]  # (G + 1, chains, K)
        gens = params["rank_generations"] or tuple(sorted({1, min(10, G), G}))
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
        rank = np.arange(1, params["K"] + 1)
        truth = np.sort(p_hist[0, 0])[::-1]
        for ax, title in zip(axes, ("chain 0", f"mean over {p_hist.shape[1]} chains"), strict=True):
            ax.loglog(rank, truth, color="k", lw=2.2, label="truth (t = 0)")
            for g in gens:
                srt = np.sort(p_hist[g], axis=-1)[..., ::-1]
                y = srt[0] if title == "chain 0" else srt.mean(axis=0)
                ax.loglog(rank[y > 0], y[y > 0], lw=1.3, label=f"t = {g}")
            ax.set_xlabel("rank")
            ax.set_ylabel("frequency")
            ax.set_title(f"{first}: {title}")
            ax.legend(fontsize=8)
        fig.suptitle(f"Rank-frequency, categorical K = {params['K']}, n = {params['n']}")
        fig.tight_layout()
        fig.savefig(folder / "rank_frequency.png", dpi=120)
        _close(fig)
        return [*written, "rank_frequency.png"]


register(CategoricalRecipe())
