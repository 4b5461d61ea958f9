r"""The regression recipe: linear regression retrained on its own labels.

Default run: $d = 10$, $T = n = 40$ rows per generation, isotropic design, label noise $\sigma = 1$, OLS
(ridge 0), a **fixed design** (the setting of Gerstgrasser et al. 2024), $w^* = (1, \dots, 1)/\sqrt d$,
2,000 chains, 50 generations, exact (Wishart) statistics, under

- ``replace``: each generation fits only the labels its predecessor made: the excess risk grows
  linearly, $t\,\sigma^2 d/(T - d - 1)$;
- ``accumulate``: each generation fits all label sets so far: the risk stays below
  $\frac{\pi^2}{6}\sigma^2 d/(T - d - 1)$ (the $\pi^2/6$ pathway).

A fixed design has one number of rows: every data set of a regime (real and synthetic) has $n$ rows, so
``n_real`` must equal $n$ (its default) and augment needs $\lambda = 1$. ``--design fresh`` draws a new
design every generation. ``--ridge`` sets the per-sample ridge penalty; with $T \le d$ and ridge 0 the fits
are min-norm (pseudo-inverse) solutions. ``--power-law ALPHA`` uses the spectrum
$\Sigma = \mathrm{diag}(i^{-\alpha})$ normalised to trace $d$.

**Theory** (`jaxcollapse.theory.regression`; OLS, $T > d + 1$, $\tau = 1$, no drift): replace and
accumulate (fixed or fresh design), and on a fixed design the mixed real/synthetic regimes (augment and
fresh pool equal sizes, weight $1/2$; weighted with its $w$). The figure draws the excess risk on a log
axis with the first fit's error and the $\pi^2/6$ bound.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param, Recipe, _close, regime_from, register, run_params


class RegressionRecipe(Recipe):
    name = "regression"
    description = "linear regression retrained on its own labels"
    params = (
        *run_params(n=40, generations=50, chains=2000, paths=("exact", "samples"), n_help="rows"),
        Param("d", int, 10, "dimension d", low=1),
        Param("noise", float, 1.0, "label noise sigma", static=False, low=0.0),
        Param("ridge", float, 0.0, "per-sample ridge penalty (0: OLS, or min-norm when n <= d)", static=False,
              low=0.0),
        Param("design", str, "fixed", "fixed: one design for every generation; fresh: a new one each",
              choices=("fixed", "fresh")),
        Param("power_law", float, 0.0, "design spectrum i^-power_law, normalised to trace d (0: isotropic)",
              static=False, low=0.0),
    )
    metric_names = ("excess_risk", "r2", "w_norm", "mutual_info")
    headline = ("excess_risk",)
    bayes = "error"

    def truth(self, params):
        from ..families import Regression

        d = params["d"]
        spectrum = np.arange(1, d + 1, dtype=np.float64) ** (-params["power_law"])
        spectrum *= d / spectrum.sum()
        return Regression(np.ones(d) / math.sqrt(d), spectrum, params["noise"], ridge=params["ridge"],
                          design=params["design"])

    def build(self, params):
        return self.truth(params), None, regime_from(params)

    def describe(self, params):
        return (f"Regression d={params['d']}, T={params['n']} rows/generation, {params['design']} design, "
                f"noise={params['noise']:g}, ridge={params['ridge']:g}")

    def notes(self, params):
        from ..theory import regression as th

        lines = [self.truth(params).describe(params["n"])]
        if self._ols(params):
            T, d, s = params["n"], params["d"], params["noise"]
            lines.append(f"first-generation error sigma^2 d/(T-d-1) = {float(th.ols_risk(T, d, s)):.6g}; "
                         f"pi^2/6 bound of accumulate = {float(th.accumulate_bound(T, d, s)):.6g}")
        return lines

    @staticmethod
    def _ols(params) -> bool:
        return params["ridge"] == 0 and params["n"] > params["d"] + 1

    def theory(self, params, generations):
        """The closed-form mean excess risk per generation, where there is one."""
        from ..theory import regression as th

        if not self._ols(params) or params["temperature"] != 1.0 or params["drift"] != 0.0:
            return {}
        name, n = params["regime"], params["n"]
        n_real = n if params["n_real"] is None else params["n_real"]
        t = np.arange(generations + 1)
        args = (n, params["d"], params["noise"])
        curve = None
        if name == "replace":
            curve = th.replace_risk(t, *args)
        elif name == "accumulate":
            fn = th.accumulate_fixed_risk if params["design"] == "fixed" else th.accumulate_fresh_risk
            curve = fn(t, *args)
        elif params["design"] == "fixed" and n_real == n and (name != "augment" or params["lam"] == 1.0) \
                and name in ("augment", "fresh", "weighted"):
            w = params["w"] if name == "weighted" else 0.5
            real = {"augment": "fixed", "fresh": "fresh", "weighted": params["real"]}[name]
            curve = (th.replace_risk(t, *args) if w == 0
                     else th.fixed_design_mixed_risk(t, n, params["d"], w, params["noise"], real=real))
        return {} if curve is None else {"excess_risk": np.asarray(curve, np.float64)}

    def figures(self, folder, trajs, curves, params, detail=None):
        from .. import plot
        from ..theory import regression as th

        refs = {}
        if self._ols(params):  # thin grey lines, labelled at the right edge (theory is dotted)
            T, d, s = params["n"], params["d"], params["noise"]
            refs = {r"$\pi^2/6$ bound of accumulate, $\frac{\pi^2}{6}\sigma^2 d/(T-d-1)$":
                    float(th.accumulate_bound(T, d, s)),
                    r"first fit, $\sigma^2 d/(T-d-1)$": float(th.ols_risk(T, d, s))}
        fig = plot.compare(trajs, "excess_risk", log=True, references=refs, legend="upper left",
                           theory={k: c["excess_risk"] for k, c in curves.items() if "excess_risk" in c})
        ax = fig.axes[0]
        ax.set_ylabel(r"excess risk $\|w_t - w^*\|^2_\Sigma$ (log axis)")
        ax.set_title(f"Regression d = {params['d']}, T = {params['n']} rows, {params['design']} design, "
                     f"noise $\\sigma$ = {params['noise']:g}, {params['chains']} chains", fontsize="medium")
        fig.savefig(folder / "excess_risk.png", dpi=150)
        _close(fig)
        return ["excess_risk.png"]


register(RegressionRecipe())
