r"""The n-gram recipe: a bigram language model refitted on its own sequences.

Default run: a Zipfian Markov chain over $V = 50$ tokens (each row puts mass $\propto r^{-\beta}$ on 8
tokens, made from `truth_seed` 0), $n = 100$ sequences of length $L = 20$ per generation, additive
smoothing $\alpha = 0.01$, 500 chains, 100 generations, sample path, under ``replace`` and
``accumulate``. (The default smoothing keeps the perplexity finite: with $\alpha = 0$ a chain that loses
one transition of the truth gives held-out truth sequences probability 0, perplexity $+\infty$; use
``--smoothing 0`` to see absorption itself in ``mass_lost`` and ``support``.) Here $n$ counts sequences,
as $n$ counts samples for every other family.

**Theory** (`jaxcollapse.theory.ngram`, exact expectations, replace at $\tau = 1$): the initial
token's Gini–Simpson diversity when the initial distribution is refitted (Wright–Fisher with $n$ first
tokens), and the stationary-weighted Gini–Simpson diversity of the rows when $L = 2$ and the initial
distribution is fixed. The figures draw the truth's value as a reference line.

**Text diversity** (opt-in, ``--text-sample m``): the transformer family's text metrics on $m$ sequences
drawn from each generation's model, every token a word (`jaxcollapse.families.ngram.BigramText`):
``self_perplexity``, ``distinct_1..3``, ``ttr`` and ``zipf``, in ``text_diversity.png``. Off by default (0):
they sample and sort every generation, which the closed-form metrics do not.
"""

from __future__ import annotations

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params

# `jaxcollapse.families.ngram.TEXT_METRICS`, written out: importing the family imports JAX, and a recipe module must
# not (`jaxcollapse run --help` answers without JAX). tests/test_ngram_text.py checks that the two agree.
TEXT_METRICS = ("self_perplexity", "distinct_1", "distinct_2", "distinct_3", "ttr", "zipf")


class NgramRecipe(Recipe):
    name = "ngram"
    description = "a bigram language model refitted on its own sequences"
    params = (
        *run_params(n=100, generations=100, chains=500, paths=("samples",), n_help="sequences"),
        Param("vocab", int, 50, "tokens V", low=2),
        Param("support", int, 8, "successors per token in the Zipfian truth (at most vocab)", static=False, low=2),
        Param("beta", float, 1.0, "Zipf exponent of the truth's rows", static=False, low=0.0),
        Param("length", int, 20, "tokens per sequence L", low=2),
        Param("smoothing", float, 0.01, "additive smoothing alpha of the refit", static=False, low=0.0),
        Param("fixed_initial", bool, False, "hold the initial-token distribution fixed (default: refit it)"),
        Param("truth_seed", int, 0, "seed of the truth's random support", static=False, low=0),
        Param("text_sample", int, 0, "sequences drawn per generation for the text-diversity metrics "
              f"({', '.join(TEXT_METRICS)}; 0: off)", low=0),
    )
    metric_names = ("entropy_rate", "kl_rate", "perplexity", "mutual_info", "gini_simpson", "initial_gini_simpson",
                    "support", "mass_lost", *TEXT_METRICS)
    headline = ("gini_simpson", "entropy_rate", "kl_rate", "perplexity", "mutual_info")
    bayes = "diversity"
    forecast_reliable = False  # measured: benchmarks/results/calibration.txt
    forecast_caveat = ("its 90% intervals held in a share 0.00 of 100 datasets 20 generations ahead "
                       "(benchmarks/calibration.py): the mean ratio of the Gini-Simpson diversity rises over "
                       "the generations (0.98 to 0.995), and the diversity model's one constant ratio, fitted "
                       "to the early generations, overpredicts the decay")

    def check(self, params):
        super().check(params)
        if params["support"] > params["vocab"]:
            raise ValueError(f"support = {params['support']} is invalid: support must be an integer in [2, vocab] = "
                             f"[2, {params['vocab']}]")
        asked = [m for m in params.get("metrics") or () if m in TEXT_METRICS]
        if asked and params["text_sample"] == 0:
            raise ValueError(f"metrics {asked} need text_sample >= 1 (sequences drawn per generation for the text "
                             "metrics; --text-sample), got text_sample = 0")

    def metrics(self, params):
        """The base rule (``params["metrics"]``, default all, plus the headline), without the text metrics when
        ``text_sample`` is 0."""
        out = super().metrics(params)
        return out if params["text_sample"] else tuple(m for m in out if m not in TEXT_METRICS)

    def truth(self, params):
        import jax

        from ..families import Bigram

        model = Bigram.zipf(jax.random.key(params["truth_seed"]), params["vocab"], support=params["support"],
                            beta=params["beta"], length=params["length"], smoothing=params["smoothing"],
                            refit_initial=not params["fixed_initial"])
        return model.with_text(params["text_sample"]) if params["text_sample"] else model

    def build(self, params):
        return self.truth(params), None, regime_from(params)

    def table(self, params):
        return (*self.headline, "support", "mass_lost") if params["smoothing"] == 0 else self.headline

    def arrays(self, params, model):
        return {"transition": np.asarray(model.transition), "initial": np.asarray(model.initial)}

    def describe(self, params):
        return (f"Bigram V={params['vocab']} (Zipf beta={params['beta']:g}, support {params['support']}), "
                f"n={params['n']} sequences of length {params['length']}, smoothing {params['smoothing']:g}, "
                f"tau={params['temperature']:g}")

    def notes(self, params):
        if params["smoothing"] > 0:
            return ["smoothing > 0 keeps every transition possible: support and mass_lost stay at V^2 and 0"]
        return ["inf: some chain lost a transition of the truth (KL rate and perplexity +inf)"]

    def theory(self, params, generations):
        import jax.numpy as jnp

        from .._config import x64
        from ..theory import ngram as mk

        if params["regime"] != "replace" or params["temperature"] != 1.0 or params["drift"] != 0.0:
            return {}
        model = self.truth(params)
        n, alpha = params["n"], params["smoothing"]
        out: dict[str, np.ndarray] = {}
        with x64():
            t = jnp.arange(generations + 1)
            P0 = jnp.asarray(np.asarray(model.transition, np.float64))
            mu = jnp.asarray(np.asarray(model.initial, np.float64))
            if not params["fixed_initial"]:
                out["initial_gini_simpson"] = 1.0 - np.asarray(mk.initial_simpson_mean(t, n, mu, alpha))
            if params["length"] == 2 and params["fixed_initial"]:
                A, B = mk.simpson_coefficients(mk.binomial_visits(n, mu), params["vocab"], alpha)
                S = mk.simpson_index_mean(t, jnp.sum(P0 * P0, axis=1), A, B)
                pi = mk.stationary_distribution(P0)
                out["gini_simpson"] = np.asarray(jnp.sum(pi[None, :] * (1.0 - S), axis=1))
        return {k: np.asarray(v, np.float64) for k, v in out.items()}

    def figures(self, folder, trajs, curves, params, detail=None):
        from matplotlib.figure import Figure

        from .. import plot

        first = next(iter(trajs.values()))
        title = (f"bigram V = {params['vocab']}, n = {params['n']} sequences of length {params['length']}, "
                 f"smoothing {params['smoothing']:g}, {params['chains']} chains")

        def panel(ax, metric, label, legend="best"):
            theory = {k: c[metric] for k, c in curves.items() if metric in c and np.all(np.isfinite(c[metric]))}
            ref = float(np.asarray(first.mean(metric))[0])  # generation 0 is the truth itself
            plot.compare(trajs, metric, log=(metric == "perplexity"), theory=theory, ax=ax, legend=legend,
                         references={"truth (t = 0)": ref})
            ax.set_ylabel(label)

        written = []
        for metric, label in (("entropy_rate", "entropy rate (nats/token)"),
                              ("perplexity", "perplexity of held-out truth sequences")):
            fig = Figure(figsize=(7.0, 4.5), layout="constrained")
            ax = fig.add_subplot()
            panel(ax, metric, label)
            ax.set_title(title, fontsize="medium")
            fig.savefig(folder / f"{metric}.png", dpi=150)
            _close(fig)
            written.append(f"{metric}.png")
        # the rows' diversity, and beside it the initial token's, whose exact mean is known (Wright-Fisher)
        panels = [("gini_simpson", "Gini–Simpson diversity of the rows")]
        if not params["fixed_initial"] and all("initial_gini_simpson" in tr.summary for tr in trajs.values()):
            panels.append(("initial_gini_simpson", "Gini–Simpson diversity of the first token"))
        with_theory = [i for i, (m, _) in enumerate(panels) if any(m in c for c in curves.values())]
        keyed = with_theory[0] if with_theory else 0  # one legend, where it can name the theory
        fig = Figure(figsize=(6.0 * len(panels), 4.5), layout="constrained")
        for i, (ax, (metric, label)) in enumerate(zip(np.atleast_1d(fig.subplots(1, len(panels))), panels,
                                                      strict=True)):
            panel(ax, metric, label, legend="best" if i == keyed else None)
            ax.set_title({"gini_simpson": "rows (stationary-weighted)",
                          "initial_gini_simpson": "first token (theory: exact mean, replace)"}[metric],
                         fontsize="medium")
        fig.suptitle(title, fontsize="medium")
        fig.savefig(folder / "gini_simpson.png", dpi=150)
        _close(fig)
        written.append("gini_simpson.png")
        if all(m in tr.summary for tr in trajs.values() for m in TEXT_METRICS):
            fig = Figure(figsize=(16.0, 7.5), layout="constrained")
            labels = {"self_perplexity": "self-perplexity (per token)", "distinct_1": "distinct-1",
                      "distinct_2": "distinct-2", "distinct_3": "distinct-3", "ttr": "type-token ratio (per sequence)",
                      "zipf": "Zipf exponent of token frequencies"}
            for i, (ax, metric) in enumerate(zip(fig.subplots(2, 3).reshape(-1), TEXT_METRICS, strict=True)):
                panel(ax, metric, labels[metric], legend="best" if i == 0 else None)
            fig.suptitle(f"{title}; text metrics on {params['text_sample']} sampled sequences per generation",
                         fontsize="medium")
            fig.savefig(folder / "text_diversity.png", dpi=150)
            _close(fig)
            written.append("text_diversity.png")
        return written


register(NgramRecipe())
