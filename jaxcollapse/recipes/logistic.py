r"""The logistic recipe: logistic regression retrained on its own Bernoulli labels.

Default run: $d = 5$ features, $n = 200$ rows per generation, isotropic design, no intercept,
$\theta^* = (1, \dots, 1)/\sqrt d$ (`signal` $= \|\theta^*\| = 1$), maximum likelihood by Newton (budget 30
iterations), a **fixed design** (the setting of Dey and Donoho 2024 and Gerstgrasser et al. 2024), 2,000
chains, 50 generations, under

- ``replace`` (Dey and Donoho's *discard*): each generation fits only its predecessor's labels; to first
  order the error grows linearly, $t\,\mathrm{tr}I^{-1}/n$, and faster once $\|\theta_t\|$ wanders (the
  information shrinks where the coefficients grow) until some chains' labels separate (``diverged``);
- ``accumulate`` (their *augment*): all label sets so far; to first order bounded by $\frac{\pi^2}{6}$ times
  the first fit's error.

A fixed design has one number of rows: every data set of a regime has $n$ rows, so ``n_real`` must equal
$n$ (its default) and augment needs $\lambda = 1$. ``--design fresh`` draws a new design every generation
(sample path only). ``--intercept`` adds an intercept (``--bias`` is the truth's); ``--ridge`` a
per-sample penalty; ``--temperature`` tempers the synthetic labels' logits.

**Theory** (`jaxcollapse.theory.logistic`): *first order in* $1/n$ only (logistic regression has no
finite-$n$ closed form): the parameter error $\mathrm{tr}I(\theta^*)^{-1}/n$ and the excess log-loss
$p/(2n)$ of one fit, times $t$ (replace), $\sum_{i\le t} i^{-2}$ (accumulate) or the mixed-data factor
(augment with $\lambda = 1$, fresh, weighted; fixed design), at temperature 1, no drift, no ridge
(`first_order`). They are drawn in the figures, labelled as first order, and stated in the notes; the table
has no theory column (it z-tests exact values, and at $n = 200$ the first fit's error is about 16% above its
first-order value). The exact finite-$n$ values that the simulation is checked against are
`jaxcollapse.verify.logistic`'s. At the defaults the replace chains' coefficients grow until their own
labels separate (about half of them by generation 50): from then on every fit diverges and the chain keeps
its coefficients, a hard classifier.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param, Recipe, regime_from, register, run_params


class LogisticRecipe(Recipe):
    name = "logistic"
    description = "logistic regression retrained on its own Bernoulli labels (Newton refit)"
    params = (
        *run_params(n=200, generations=50, chains=2000, paths=("exact", "samples"), n_help="rows"),
        Param("d", int, 5, "number of features d", low=1),
        Param("signal", float, 1.0, "the truth's coefficients: signal (1, ..., 1)/sqrt(d)", static=False, low=0.0),
        Param("intercept", bool, False, "an intercept (the first coefficient)"),
        Param("bias", float, 0.0, "the truth's intercept (with --intercept)", static=False),
        Param("ridge", float, 0.0, "per-sample ridge penalty (0: maximum likelihood)", static=False, low=0.0),
        Param("design", str, "fixed", "fixed: one design for every generation; fresh: a new one each (samples path)",
              choices=("fixed", "fresh")),
        Param("iters", int, 30, "Newton's iteration budget per fit (a fit not converged is flagged diverged)",
              low=1),
    )
    metric_names = ("param_error", "excess_logloss", "accuracy", "calibration", "theta_norm", "diverged")
    headline = ("excess_logloss", "param_error", "accuracy", "diverged")
    bayes = "error"
    forecast_reliable = False  # measured: benchmarks/results/calibration.txt
    forecast_caveat = ("its 90% intervals held in a share 0.00 of 200 datasets 15 generations ahead "
                       "(benchmarks/calibration.py): the excess log-loss grows faster than linearly, and the "
                       "error model's one constant increment per generation underpredicts it")

    def check(self, params):
        super().check(params)
        if params["design"] == "fresh" and params["path"] != "samples":
            raise ValueError("design = 'fresh' draws a new design every generation and has no exact statistics: it "
                             "needs path = 'samples' (--path samples)")
        if params["bias"] != 0.0 and not params["intercept"]:
            raise ValueError(f"bias = {params['bias']!r} is the truth's intercept: it needs intercept = true "
                             "(--intercept)")

    def coefficients(self, params) -> np.ndarray:
        """The truth's coefficients $\\theta^*$ (the intercept first when there is one)."""
        d = params["d"]
        w = np.full(d, params["signal"] / math.sqrt(d))
        return np.concatenate([[params["bias"]], w]) if params["intercept"] else w

    def build(self, params):
        from ..families import Logistic

        fixed = params["design"] == "fixed"
        model = Logistic(self.coefficients(params), 1.0, design=params["design"], rows=params["n"] if fixed else None,
                         intercept=params["intercept"], ridge=params["ridge"], iters=params["iters"])
        return model, None, regime_from(params)

    def memory_hint(self, params):
        """Per chain: on a fixed design the per-row statistics the state carries (the pool, the real set) and those of
        each generation's draw, the design drawn and the Newton fit's features and temporaries, about 8 arrays of n
        rows x (d + 2); on a fresh design the fit's features and temporaries over its training rows (all n G rows
        under accumulate; the runner counts the sample buffers themselves)."""
        n, width = params["n"], params["d"] + 2
        if params["design"] == "fixed":
            return 8 * n * width
        rows = n * (params["generations"] if params["regime"] in ("accumulate", "accumulate_subsample") else 1)
        return 4 * (rows + (params["n_real"] or n)) * width

    def describe(self, params):
        icpt = f", intercept {params['bias']:g}" if params["intercept"] else ""
        return (f"Logistic d={params['d']}{icpt}, signal={params['signal']:g}, n={params['n']} rows/generation, "
                f"{params['design']} design, ridge={params['ridge']:g}, Newton budget {params['iters']}")

    def _first(self, params) -> tuple[float, float]:
        """First order: (E||theta_1 - theta*||^2, E excess log-loss) of one fit on n rows."""
        from ..theory import logistic as th

        info = th.fisher_information(self.coefficients(params), 1.0, params["intercept"])
        n = params["n"]
        p = params["d"] + params["intercept"]
        return th.first_fit_error(n * info), p / (2.0 * n)

    def notes(self, params):
        err, kl = self._first(params)
        return [f"first order in 1/n (theory.logistic; drawn in the figures, no exact finite-n value exists): one "
                f"fit's parameter error tr I^-1/n = {err:.6g}, excess log-loss p/(2n) = {kl:.6g}; times t under "
                f"replace, below pi^2/6 = {math.pi ** 2 / 6:.4f} times them under accumulate"]

    def figures(self, folder, trajs, curves, params, detail=None):
        """One fan chart per headline metric; the parameter error and the excess log-loss on a log axis with the
        first-order curves (dotted, labelled "first order in 1/n")."""
        from .. import plot
        from ._base import _close

        written = []
        G = params["generations"]
        first = {r: self.first_order({**params, "regime": r}, G) for r in trajs}
        for metric in self.headline:
            log = metric in ("param_error", "excess_logloss")
            theory = {r: c[metric] for r, c in first.items() if metric in c}
            fig = plot.compare(trajs, metric, log=log, theory=theory or None)
            legend = fig.axes[0].get_legend()
            for text in legend.get_texts() if legend is not None else ():
                if text.get_text() == "theory":
                    text.set_text("first order in 1/n")
            fig.axes[0].set_title(f"logistic d = {params['d']}, n = {params['n']} rows, {params['design']} design: "
                                  f"{metric}, {params['chains']} chains", fontsize="medium")
            fig.savefig(folder / f"{metric}.png", dpi=150)
            _close(fig)
            written.append(f"{metric}.png")
        return written

    def first_order(self, params, generations):
        """First-order (in 1/n) means of the parameter error and the excess log-loss, where derived (drawn in the
        figures beside the simulation; not `theory`, whose curves the table z-tests as exact values)."""
        from ..theory import logistic as th

        if params["ridge"] != 0.0 or params["temperature"] != 1.0 or params["drift"] != 0.0:
            return {}
        name, n = params["regime"], params["n"]
        n_real = n if params["n_real"] is None else params["n_real"]
        t = np.arange(generations + 1)
        factor = None
        if name == "replace":
            factor = th.replace_factor(t)
        elif name == "accumulate":
            factor = th.accumulate_factor(t)
        elif params["design"] == "fixed" and n_real == n and (name != "augment" or params["lam"] == 1.0) \
                and name in ("augment", "fresh", "weighted"):
            w = params["w"] if name == "weighted" else 0.5
            real = {"augment": "fixed", "fresh": "fresh", "weighted": params["real"]}[name]
            factor = th.replace_factor(t) if w == 0 else th.mixed_factor(t, w, real)
        if factor is None:
            return {}
        err, kl = self._first(params)
        return {"param_error": err * np.asarray(factor, np.float64),
                "excess_logloss": kl * np.asarray(factor, np.float64)}


register(LogisticRecipe())
