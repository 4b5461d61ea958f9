r"""The MLP recipe: a neural regressor trained on the previous generation's labels (`jaxcollapse.MLPRegressor`).

Rows are $(x, y)$ with $x \sim U[-1, 1]^p$ and $y = f(x) + \tau s\varepsilon$ ($s$ = ``label_noise``):
generation 0 labels with the true function $f^*(x) = \sum_j \sin(\pi x_j)/\sqrt p$, every later generation
with the previous generation's network (Dohmatob, Feng and Kempe 2024's setting with a network in place of
ridge regression). Each chain trains its own network (AdamW, ``steps`` steps per generation).

Default run: $p = 1$, $n = 50$ rows, 16 chains, 10 generations, 150 steps, width 32, depth 2, replace and
accumulate.

The headline metric is the test error ``test_mse`` $= \frac1G\sum_g (f(x_g) - f^*(x_g))^2$ on a fixed grid,
which grows generation after generation (the `bayes` error-growth model fits it). No closed form exists
for a network's error growth, so there is no theory overlay (at generation 0 the model is $f^*$ itself:
``test_mse`` = 0).
"""

from __future__ import annotations

from ._base import Param, Recipe, _close, regime_from, register, run_params
from .vae import _INIT_SALT, NEURAL_PARAMS, _knobs

__all__ = ["MLPRecipe"]


class MLPRecipe(Recipe):
    name = "mlp"
    description = "an MLP regressor trained on its own labels"
    params = (
        *run_params(n=50, generations=10, chains=16, regimes=("replace", "accumulate"), paths=("samples",),
                    n_help="rows"),
        Param("dim", int, 1, "input dimension p", low=1),
        Param("label_noise", float, 0.1, "label noise scale s", static=False, low=0.0),
        *NEURAL_PARAMS(steps=150),
    )
    metric_names = ("test_mse", "pred_var", "loss", "diverged")
    headline = ("test_mse", "pred_var")
    bayes = "error"

    def build(self, params):
        import jax

        from ..families import MLPRegressor

        key = jax.random.fold_in(jax.random.key(params["seed"]), _INIT_SALT)
        model = MLPRegressor(key, dim=params["dim"], label_noise=params["label_noise"], **_knobs(params))
        return model, None, regime_from(params)

    def describe(self, params):
        return (f"MLP regressor p={params['dim']} (width {params['width']}, depth {params['depth']}, "
                f"{params['steps']} steps, lr {params['learning_rate']:g}, init {params['init']}), "
                f"label noise {params['label_noise']:g}, n={params['n']}")

    def notes(self, params):
        return ["test_mse: squared distance of the network from the true function on a fixed grid (0 at t = 0); "
                "no closed form"]

    def figures(self, folder, trajs, curves, params, detail=None):
        import numpy as np
        from matplotlib.figure import Figure

        from .. import plot

        fig = Figure(figsize=(10, 4.2), layout="constrained")
        for i, (ax, m) in enumerate(zip(fig.subplots(1, 2, sharex=True), ("test_mse", "pred_var"), strict=True)):
            truth = float(np.asarray(next(iter(trajs.values())).mean("pred_var"))[0])  # generation 0 is f*
            plot.compare(trajs, m, log=m == "test_mse", ax=ax, legend=None if i else "best",
                         references={"$f^*$ (t = 0)": truth} if m == "pred_var" else None)
            ax.set_title({"test_mse": "test error against $f^*$ (log axis)",
                          "pred_var": "variance of $f$ over the grid"}[m], fontsize="medium")
            ax.set_ylabel({"test_mse": "mean squared distance to $f^*$ on the grid",
                           "pred_var": "variance of $f(x)$ over the grid"}[m])
        fig.suptitle(f"MLP regressor, p = {params['dim']}, n = {params['n']} samples per generation, "
                     f"{params['chains']} chains", fontsize="medium")
        fig.savefig(folder / "mlp.png", dpi=150)
        _close(fig)
        return ["mlp.png"]


register(MLPRecipe())
