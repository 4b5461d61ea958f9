r"""The VAE recipe: a variational autoencoder refitted on its own samples (`jaxcollapse.VAE`).

The truth is a 2-D toy (``data = "moons"``, ``"rings"``, ``"mixture"``; `jaxcollapse.datasets.toy`, a
reference sample of 1,024 rows drawn with the run's seed) or the 8x8 digits (``"digits"``). Generation 0
is the truth itself (the family's data mode); generation 1 trains a VAE on $n$ real samples, and every
later generation on the previous VAE's samples (plus real data in the regimes that have them), each chain
its own network (AdamW, ``steps`` steps per generation).

Default run: moons, $n = 256$, 8 chains, 8 generations, 150 steps, width 32, depth 2, replace.

**Theory overlay**: none of the VAE's metrics has a collapse law; what has a closed form is the
yardstick at generation 0, where the samples come from the truth: the expected ``coverage`` of Naeem et
al. (2020) when model and reference share one law, $1 - \binom{N-1}{k}/\binom{N+M-1}{k}$ with $N$ = 1,024
reference points, $M$ = ``n_eval`` samples, $k = 5$ (`theory.vae.coverage_mean`). A continuous law
is needed, so the digits (a bootstrap of stored images) get no overlay.
"""

from __future__ import annotations

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params

__all__ = ["VAERecipe", "NEURAL_PARAMS"]

REF_ROWS = 1024  # rows of a toy's reference sample
_DATA_SALT, _INIT_SALT = 1, 2  # fold_in(key(seed), this): the toy's reference sample, the networks' start


def NEURAL_PARAMS(steps: int) -> tuple[Param, ...]:
    """The training knobs shared by the VAE and the MLP regressor."""
    return (
        Param("width", int, 32, "hidden units per layer", low=1),
        Param("depth", int, 2, "hidden layers", low=1),
        Param("steps", int, steps, "AdamW steps per generation", low=1),
        Param("learning_rate", float, 1e-2, "AdamW learning rate", static=False, low=0.0, low_open=True),
        Param("weight_decay", float, 0.0, "AdamW's decoupled weight decay", static=False, low=0.0),
        Param("batch_size", int, None, "minibatch size; unset: full batch", optional=True, low=1),
        Param("init", str, "fresh", "fresh (a new network every generation) or warm (fine-tune the previous one)",
              choices=("fresh", "warm")),
    )


def _knobs(params) -> dict:
    return {k: params[k] for k in ("width", "depth", "steps", "learning_rate", "weight_decay", "batch_size", "init")}


class VAERecipe(Recipe):
    name = "vae"
    description = "a variational autoencoder refitted on its own samples"
    params = (
        *run_params(n=256, generations=8, chains=8, regimes=("replace",), paths=("samples",)),
        Param("data", str, "moons", "the truth: a 2-D toy (moons, rings, mixture) or the 8x8 digits",
              choices=("moons", "rings", "mixture", "digits")),
        Param("classes", int, None, "rings or mixture components; unset: 3 rings, 8 components", optional=True,
              low=1),
        Param("latent", int, 2, "latent size L", low=1),
        *NEURAL_PARAMS(steps=150),
        Param("n_eval", int, 512, "model samples per metric evaluation", low=2),
    )
    metric_names = ("spread", "spread_ratio", "coverage", "precision", "modes", "loss", "diverged")
    headline = ("spread", "coverage", "modes")
    bayes = "spread"

    def build(self, params):
        import jax

        from .. import datasets
        from ..families import VAE

        key = jax.random.key(params["seed"])
        if params["data"] == "digits":
            data = datasets.digits()
        else:
            data = datasets.toy(jax.random.fold_in(key, _DATA_SALT), params["data"], REF_ROWS, k=params["classes"])
        model = VAE(jax.random.fold_in(key, _INIT_SALT), data, latent=params["latent"], n_eval=params["n_eval"],
                    **_knobs(params))
        return model, None, regime_from(params)

    def theory(self, params, generations):
        from ..families.vae import KNN_K
        from ..theory.vae import coverage_mean

        if params["data"] == "digits":
            return {}
        cov = np.full(generations + 1, np.nan)
        cov[0] = coverage_mean(REF_ROWS, params["n_eval"], KNN_K)
        return {"coverage": cov}

    def describe(self, params):
        cls = "" if params["classes"] is None else f", {params['classes']} classes"
        return (f"VAE on {params['data']}{cls} (latent {params['latent']}, width {params['width']}, depth "
                f"{params['depth']}, {params['steps']} steps, lr {params['learning_rate']:g}, init {params['init']}), "
                f"n={params['n']}")

    def notes(self, params):
        lines = ["generation 0 is the truth (real data)"]
        if params["data"] != "digits":
            from ..families.vae import KNN_K
            from ..theory.vae import coverage_mean

            c0 = coverage_mean(REF_ROWS, params["n_eval"], KNN_K)
            lines.append(f"coverage at t = 0 (model = truth): theory {c0:.4g} (Naeem et al. 2020); summary.csv and "
                         "vae.png have the simulated value")
        return lines

    def figures(self, folder, trajs, curves, params, detail=None):
        from matplotlib.figure import Figure

        from .. import plot

        fig = Figure(figsize=(16, 4.5), layout="constrained")
        for i, (ax, m) in enumerate(zip(fig.subplots(1, 3), ("spread_ratio", "coverage", "modes"), strict=True)):
            first = float(np.asarray(next(iter(trajs.values())).mean(m))[0])  # generation 0 is the truth
            plot.compare(trajs, m, ax=ax, legend="outside" if i == 2 else None,
                         references={"truth": 1.0} if m == "spread_ratio" else
                         {"truth (t = 0)": first} if m == "modes" else None)
            at0 = [c[m][0] for c in curves.values() if m in c]
            if at0:  # a value at t = 0 only: a mark, not a curve
                (star,) = ax.plot([0], at0[:1], marker="*", ms=13, ls="none", color="k", zorder=plot.THEORY_ZORDER)
                ax.legend(handles=[star], labels=["theory at t = 0 (model = truth)"], fontsize="small", loc="best")
            ax.set_ylabel({"spread_ratio": "spread / the truth's spread", "coverage": "coverage of the truth's samples",
                           "modes": "modes kept"}[m])
            ax.set_title({"spread_ratio": "spread", "coverage": "coverage (Naeem et al. 2020)",
                          "modes": "modes kept"}[m], fontsize="medium")
            if m == "modes":
                from matplotlib.ticker import MaxNLocator

                ax.set_ylim(0, max(ax.get_ylim()[1], first) + 0.5)  # a count: from 0, whole numbers
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.suptitle(f"VAE on {params['data']}, n = {params['n']} samples per generation, {params['chains']} chains",
                     fontsize="medium")
        fig.savefig(folder / "vae.png", dpi=150)
        _close(fig)
        return ["vae.png"]


register(VAERecipe())
