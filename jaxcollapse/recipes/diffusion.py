r"""The diffusion recipe: a flow-matching model refitted on its own samples (`jaxcollapse.Diffusion`).

The truth is a 2-D Gaussian (``data = "gaussian"``: mean 0, covariance $[[1, 0.3], [0.3, 0.5]]$, drawn
exactly), a 2-D toy (``"moons"``, ``"rings"``, ``"mixture"``; `jaxcollapse.datasets.toy`, a reference sample
of 1,024 rows drawn with the run's seed) or the 8x8 digits (``"digits"``). Generation 0 is the truth itself
(the family's data mode); generation 1 trains a network on $n$ real samples, every later generation on the
previous network's samples (plus real data in the regimes that have them), each chain its own network
(AdamW, ``steps`` steps of flow matching per generation), sampled with ``sample_steps`` Euler or Heun steps.

Default run (about a minute on a 2-core CPU): the 8-component mixture, $n = 256$, 4 chains, 5 generations,
300 steps, width 32, depth 2, replace and accumulate.

**Theory overlay**: with ``data = "gaussian"`` and ``net = "affine"`` the model refits the Gaussian MLE up to
its training error (`jaxcollapse.families.diffusion`, checked by ``diffusion.gaussian_limit``), so the trace
follows $E\,\mathrm{tr}\,\Sigma_t = (1 - 1/n)^t\,\mathrm{tr}\,\Sigma$ under replace
(`theory.gaussian.trace_mean`) and $\mathrm{tr}\,\Sigma\prod_{j\le t}(1 - 1/(nj^2))$ under accumulate
(`theory.gaussian.accumulate_mle_variance`), shown on ``trace_ratio``. No closed form otherwise.
"""

from __future__ import annotations

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params
from .vae import _DATA_SALT, _INIT_SALT, NEURAL_PARAMS, REF_ROWS, _knobs

__all__ = ["DiffusionRecipe", "GAUSSIAN_COV"]

GAUSSIAN_COV = ((1.0, 0.3), (0.3, 0.5))  # the ``data = "gaussian"`` truth's covariance (mean 0)
_FIGURE_METRICS = ("trace_ratio", "recall", "precision", "modes")


class DiffusionRecipe(Recipe):
    name = "diffusion"
    description = "a flow-matching diffusion model refitted on its own samples"
    params = (
        *run_params(n=256, generations=5, chains=4, regimes=("replace", "accumulate"), paths=("samples",),
                    correction=True),
        Param("data", str, "mixture", "the truth: a 2-D Gaussian, a 2-D toy (moons, rings, mixture) or the 8x8 digits",
              choices=("gaussian", "moons", "rings", "mixture", "digits")),
        Param("classes", int, None, "rings or mixture components; unset: 3 rings, 8 components", optional=True,
              low=1),
        Param("net", str, "mlp", "the velocity network: mlp (of x and t) or affine (A(t) x + b(t))",
              choices=("mlp", "affine")),
        *NEURAL_PARAMS(steps=300),
        Param("freqs", int, 4, "Fourier time features", low=0),
        Param("sampler", str, "euler", "the probability-flow ODE solver", choices=("euler", "heun")),
        Param("sample_steps", int, 16, "solver steps from noise to data", low=1),
        Param("n_eval", int, 256, "model samples per metric evaluation", low=6),
    )
    metric_names = ("w2sq", "trace", "trace_ratio", "precision", "recall", "modes", "mode_mass_min", "mode_mass_tv",
                    "loss", "diverged")
    headline = ("trace_ratio", "recall", "modes", "w2sq")
    bayes = "spread"

    def build(self, params):
        import jax

        from .. import datasets
        from ..families import Diffusion, Gaussian

        key = jax.random.key(params["seed"])
        if params["data"] == "digits":
            data = datasets.digits()
        elif params["data"] == "gaussian":
            data = Gaussian(np.zeros(2), np.asarray(GAUSSIAN_COV))
        else:
            data = datasets.toy(jax.random.fold_in(key, _DATA_SALT), params["data"], REF_ROWS, k=params["classes"])
        model = Diffusion(jax.random.fold_in(key, _INIT_SALT), data, net=params["net"], freqs=params["freqs"],
                          sampler=params["sampler"], sample_steps=params["sample_steps"], n_eval=params["n_eval"],
                          **_knobs(params))
        return model, None, regime_from(params)

    def theory(self, params, generations):
        if params["data"] != "gaussian" or params["net"] != "affine":
            return {}
        import jax.numpy as jnp

        from ..theory import gaussian as thg

        law = {"replace": thg.trace_mean, "accumulate": thg.accumulate_mle_variance}.get(params["regime"])
        if law is None or params.get("correction") is not None or params.get("temperature", 1.0) != 1.0:
            return {}
        t = jnp.arange(generations + 1, dtype=float)
        ratio = np.asarray(law(t, float(params["n"]), 1.0), np.float64)
        ratio[0] = np.nan  # generation 0 is the truth's sample trace, not a refit
        return {"trace_ratio": ratio}

    def describe(self, params):
        cls = "" if params["classes"] is None else f", {params['classes']} classes"
        return (f"diffusion ({params['net']}) on {params['data']}{cls} (width {params['width']}, depth "
                f"{params['depth']}, {params['steps']} steps, lr {params['learning_rate']:g}, {params['sampler']} x "
                f"{params['sample_steps']}, init {params['init']}), n={params['n']}")

    def notes(self, params):
        lines = ["generation 0 is the truth (real data)"]
        if params["data"] == "gaussian" and params["net"] == "affine":
            lines.append("theory: the Gaussian MLE's trace law, valid within the affine refit's training error "
                         "(jaxcollapse verify --family diffusion measures it)")
        return lines

    def figures(self, folder, trajs, curves, params, detail=None):
        from matplotlib.figure import Figure

        from .. import plot

        fig = Figure(figsize=(18, 4.5), layout="constrained")
        titles = {"trace_ratio": "spread: tr Cov / the truth's", "recall": "recall (Kynkäänniemi et al. 2019)",
                  "precision": "precision (Kynkäänniemi et al. 2019)", "modes": "modes kept"}
        for i, (ax, m) in enumerate(zip(fig.subplots(1, len(_FIGURE_METRICS)), _FIGURE_METRICS, strict=True)):
            theory = {r: c[m] for r, c in curves.items() if m in c}
            plot.compare(trajs, m, ax=ax, theory=theory or None, legend="outside" if i == len(_FIGURE_METRICS) - 1
                         else None, references={"truth": 1.0} if m == "trace_ratio" else None)
            ax.set_title(titles[m], fontsize="medium")
            ax.set_ylabel(m.replace("_", " "))
        fig.suptitle(f"{self.describe(params)}, {params['chains']} chains", fontsize="medium")
        fig.savefig(folder / "diffusion.png", dpi=150)
        _close(fig)
        written = ["diffusion.png"]
        first = next(iter(trajs.values()))
        if first.final is not None and first.final.d == 2:
            written.append(self._scatter(folder, trajs, params))
        return written

    def _scatter(self, folder, trajs, params) -> str:
        """Samples of chain 0's last model in each regime, beside the truth's reference sample."""
        import jax
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.2 * (len(trajs) + 1), 4.2), layout="constrained")
        axes = fig.subplots(1, len(trajs) + 1, sharex=True, sharey=True)
        model0 = jax.tree.map(lambda a: a[0], next(iter(trajs.values())).final)
        ref = np.asarray(model0.ref + model0.shift[None, :])
        axes[0].scatter(ref[:, 0], ref[:, 1], s=3, color="k", alpha=0.5)
        axes[0].set_title("truth (reference sample)", fontsize="medium")
        for ax, (r, traj) in zip(axes[1:], trajs.items(), strict=True):
            model = jax.tree.map(lambda a: a[0], traj.final)
            y = np.asarray(model.sample(jax.random.key(params["seed"]), 1024))
            y = y[np.all(np.isfinite(y), axis=1)]
            ax.scatter(y[:, 0], y[:, 1], s=3, alpha=0.5)
            ax.set_title(f"{r}: generation {params['generations']}, chain 0", fontsize="medium")
        fig.savefig(folder / "diffusion_samples.png", dpi=150)
        _close(fig)
        return "diffusion_samples.png"


register(DiffusionRecipe())
