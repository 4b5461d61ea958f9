r"""Gerstgrasser et al. 2024 / Kazdan et al. 2024: linear regression refit on its own labels, fixed design, under
replace, accumulate and accumulate-subsample.

**Setup, as the authors' code runs it** (``src/fit_linear_regressions/fit_linear_regressions.py`` and
``sweeps/fit_linear_regressions/*.yaml`` of ``RylanSchaeffer/KoyejoLab-Collapse-or-Thrive``): a fixed design
$X \in \mathbb R^{n\times d}$ with i.i.d. $N(0, 1)$ entries, $w^* \sim N(0, I_d)$, real labels
$y = Xw^* + \sigma\varepsilon$; each model-fitting iteration fits $\hat w = X_{\rm train}^{+}y_{\rm train}$
(``np.linalg.pinv``: OLS, or the min-norm solution when $n \le d$) and makes new labels
$X\hat w + \sigma\varepsilon$ on the same design. *Replace* trains on the newest labels only, *Accumulate* on
every label set so far (the real one included, the design stacked), *Accumulate-Subsample* on $n$ rows drawn
without replacement from the accumulated rows. The test error is the mean over 1,000 fresh test points of
$(x^\top\hat w - x^\top w^*)^2$. Grid: $d \in \{1, 3, 10, 32, 100\}$, $n \in \{10, 32, 100, 316, 1000\}$,
$\sigma^2 \in \{0.1, 1, 10\}$, 100 iterations, 100 seeds. Iteration 1 fits the real labels: our generation 1.

**Ours** (`jaxcollapse.recipes.regression`, ``design = "fixed"``, ridge 0): the same chain, each chain its own
design. The test error's expectation over the test points is the excess risk $\|\hat w - w^*\|^2$ (isotropic
design), which we report. The truth's coefficients are $w^* = (1, \dots, 1)$, so $\|w^*\|^2 = d =
E\|w^*\|^2$ of the authors' random $w^*$ (only the min-norm fits, $n < d$, depend on $w^*$, and only through
$\|w^*\|^2$: the design is isotropic). $d$ and $n$ set shapes; $\sigma^2$ is traced, and so is $n$ on the
exact (Wishart) path of replace and accumulate: one compiled program per $d$ and regime there (15 points each),
and one per $(d, n)$ for accumulate-subsample, which keeps every sample (three $\sigma^2$ points each). Chains
share their random numbers across $\sigma^2$, so the three $\sigma^2$ columns are proportional chain by chain
(the error is linear in $\sigma^2$: every fit's deviation from $w^*$ is $\sigma$ times a function of the noise
and the design). Replace and accumulate run in float64; accumulate-subsample in float32 where $n > d + 1$ (its
uniform subsample is a ``top_k`` over float keys, which has a fast float32 kernel on CPU; the fits are well
conditioned there) and in float64 where $n \le d + 1$ (the min-norm solve of a near-singular Gram needs it).

**Theory** (`jaxcollapse.theory.regression`, OLS, $n > d + 1$): replace
$E\|w_t - w^*\|^2 = t\,\sigma^2 d/(n - d - 1)$ (`replace_risk`), accumulate
$\frac{\sigma^2 d}{n - d - 1}\sum_{i\le t} i^{-2}$ (`accumulate_fixed_risk`). There is **no closed form** for
$n \le d + 1$ (min-norm fits, or the inverse-Wishart mean does not exist), nor for accumulate-subsample, whose
check is an independent numpy re-implementation of the authors' protocol (``tests/test_papers_regression.py``).
At $n = d$ the OLS error has no finite mean ($E\,\mathrm{tr}\,(X^\top X)^{-1} = \infty$ for a square design), so
those points report the median over chains.

**Published values.** The papers plot these curves (log axes; Kazdan et al.'s figures drop $n \le d$) without
tabulated numbers: no published column.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

DS = (1, 3, 10, 32, 100)
NS = (10, 32, 100, 316, 1000)
SIGMA2S = (0.1, 1.0, 10.0)
GENERATIONS = 100
# chains at scale 1, by d: the error's relative spread over chains falls like sqrt(2/d) while a chain's cost rises
CHAINS_EXACT = {1: 2000, 3: 1000, 10: 400, 32: 128, 100: 32}
# accumulate-subsample keeps all n t rows and subsamples them every generation: a chain's cost rises with n too
CHAINS_SUBSAMPLE_D = {1: 400, 3: 256, 10: 96, 32: 32, 100: 16}
CHAINS_SUBSAMPLE_N = {10: 400, 32: 400, 100: 200, 316: 64, 1000: 24}


def chains_subsample(d: int, n: int) -> int:
    """Accumulate-subsample chains at scale 1."""
    return min(CHAINS_SUBSAMPLE_D[d], CHAINS_SUBSAMPLE_N[n])
REGIMES = ("replace", "accumulate", "accumulate_subsample")
LABELS = {"replace": "Replace", "accumulate": "Accumulate", "accumulate_subsample": "Accumulate-Subsample"}
BLOCK_BYTES = 300e6  # accumulate-subsample keeps n * G rows per chain: chains run in blocks of at most this much


def _spec(rec, regime: str, d: int, n: int, sigma2: float, path: str, generations: int):
    from .. import engine

    p = rec.resolve({"d": d, "n": n, "noise": math.sqrt(sigma2), "design": "fixed", "generations": generations,
                     "regimes": [regime], "path": path})
    model, truth, reg = rec.build({**p, "regime": regime})
    model = model.with_w(np.ones(d))  # |w*|^2 = d = E|w*|^2 of the authors' w* ~ N(0, I_d)
    return engine.make_spec(model, reg, generations, truth=truth, path=path)


def _summaries(res, chains: int):
    mean, std, q = res.summary["excess_risk"]
    return (np.asarray(mean, np.float64), np.asarray(std, np.float64) / math.sqrt(chains),
            np.asarray(q, np.float64)[..., 0])


def run_exact(key, regime: str, d: int, chains: int, ns=NS, sigma2s=SIGMA2S, generations: int = GENERATIONS):
    """Replace or accumulate at every (n, sigma^2) for one d: one compiled call (n and sigma^2 traced on the exact
    path), float64. Returns (mean, stderr, median) of the excess risk, each of shape (len(ns), len(sigma2s), G + 1)."""
    from .. import engine, recipes
    from .._config import x64

    rec = recipes.get("regression")
    with x64():
        specs = [_spec(rec, regime, d, n, s2, "exact", generations) for n in ns for s2 in sigma2s]
        res = engine.run_points(key, engine.stack_specs(specs), chains, metrics=("excess_risk",), quantiles=(0.5,))
        out = _summaries(res, chains)
    shape = (len(ns), len(sigma2s), generations + 1)
    return tuple(a.reshape(shape) for a in out)


def run_subsample(key, d: int, n: int, chains: int, sigma2s=SIGMA2S, generations: int = GENERATIONS,
                  x64: bool = False):
    """Accumulate-subsample at one (d, n), every sigma^2 vmapped in one compiled call; float32 unless `x64`.
    Returns (mean, stderr, median) of the excess risk, each of shape (len(sigma2s), G + 1)."""
    from .. import engine, recipes
    from .._config import x64 as x64_ctx

    rec = recipes.get("regression")
    per_chain = len(sigma2s) * n * generations * (d + 3) * (8 if x64 else 4)
    per_block = max(1, int(BLOCK_BYTES // per_chain))
    blocks = min(b for b in range(1, chains + 1) if chains % b == 0 and chains // b <= per_block)
    with x64_ctx() if x64 else contextlib.nullcontext():
        specs = [_spec(rec, "accumulate_subsample", d, n, s2, "samples", generations) for s2 in sigma2s]
        res = engine.run_points(key, engine.stack_specs(specs), chains, metrics=("excess_risk",), quantiles=(0.5,),
                                blocks=blocks)
        return _summaries(res, chains)


def has_theory(d: int, n: int) -> bool:
    """The OLS closed forms need n > d + 1."""
    return n > d + 1


class Gerstgrasser2024Regression(Reproduction):
    name = "gerstgrasser2024_regression"
    paper = "Gerstgrasser et al. 2024 / Kazdan et al. 2024"
    figure_ref = "linear regression, test error against the model-fitting iteration (Replace, Accumulate-Subsample, " \
                 "Accumulate)"
    citation = ("M. Gerstgrasser et al. Is model collapse inevitable? Breaking the curse of recursion by accumulating "
                "real and synthetic data. arXiv:2404.01413 (2024); J. Kazdan et al. Collapse or thrive? Perils and "
                "promises of synthetic data in a self-generating world. arXiv:2410.16713 (2024)")
    setup = (f"fixed Gaussian design, d in {list(DS)}, n in {list(NS)}, sigma^2 in {list(SIGMA2S)}, {GENERATIONS} "
             "iterations, OLS / min-norm via the pseudo-inverse; replace, accumulate, accumulate-subsample (n rows of "
             "all so far); the test error's expectation, |w_t - w*|^2; chains at scale 1 by d, "
             f"{CHAINS_EXACT} (replace, accumulate), and min(by d {CHAINS_SUBSAMPLE_D}, by n {CHAINS_SUBSAMPLE_N}) "
             "(accumulate-subsample)")
    published = "none: the papers plot these curves without tabulated numbers (no published column)"
    floor = 0.25
    heavy = True

    def compute(self, key, scale):
        from .._config import x64
        from ..theory import regression as th

        T = GENERATIONS
        t = np.arange(T + 1)
        chains_e = {d: scaled(c, scale) for d, c in CHAINS_EXACT.items()}
        chains_s = {(d, n): scaled(chains_subsample(d, n), scale) for d in DS for n in NS}
        runs = {}
        for d in DS:
            for regime in ("replace", "accumulate"):
                mean, se, med = run_exact(key, regime, d, chains_e[d])
                for i, n in enumerate(NS):
                    for j, s2 in enumerate(SIGMA2S):
                        runs[(regime, d, n, s2)] = (mean[i, j], se[i, j], med[i, j])
            for n in NS:
                # float64 where the fits are (near) singular, n <= d + 1: the min-norm solve needs it there
                mean, se, med = run_subsample(key, d, n, chains_s[(d, n)], x64=not has_theory(d, n))
                for j, s2 in enumerate(SIGMA2S):
                    runs[("accumulate_subsample", d, n, s2)] = (mean[j], se[j], med[j])
        lines, columns = [], {"generation": t}
        for d in DS:
            for n in NS:
                for s2 in SIGMA2S:
                    curves = {}
                    if has_theory(d, n):
                        with x64():
                            curves["replace"] = np.asarray(th.replace_risk(t, n, d, math.sqrt(s2)), np.float64)
                            curves["accumulate"] = np.asarray(th.accumulate_fixed_risk(t, n, d, math.sqrt(s2)),
                                                              np.float64)
                    for regime in REGIMES:
                        mean, se, med = runs[(regime, d, n, s2)]
                        key_ = f"d{d}/n{n}/s2{s2:g}/{regime}"
                        columns[key_ + "/mean"] = mean
                        columns[key_ + "/median"] = med
                        q = f"test MSE, {LABELS[regime]}, d={d}, n={n}, s2={s2:g}, t={T}"
                        if regime in curves:
                            columns[key_ + "/theory"] = curves[regime]
                            src = ("replace_risk t s2 d/(n-d-1)" if regime == "replace" else
                                   "accumulate_fixed_risk s2 d/(n-d-1) sum_{i<=t} 1/i^2")
                            lines.append(Line(q, mean[T], se[T], curves[regime][T], theory_source=src))
                        elif n == d:
                            lines.append(Line(q + " (median: n = d, no finite mean)", med[T], math.nan))
                        else:
                            why = "no closed form" if regime == "accumulate_subsample" else "n <= d + 1: no closed form"
                            lines.append(Line(q + f" ({why})", mean[T], se[T]))
        notes = ["chains, replace and accumulate: " + ", ".join(f"d={d}: {chains_e[d]}" for d in DS)
                 + "; accumulate-subsample: min(by d, by n) of " + ", ".join(
                     f"d={d}: {scaled(c, scale)}" for d, c in CHAINS_SUBSAMPLE_D.items()) + " and " + ", ".join(
                     f"n={n}: {scaled(c, scale)}" for n, c in CHAINS_SUBSAMPLE_N.items()),
                 "replace and accumulate: exact Wishart statistics of the fixed design, float64; accumulate-subsample: "
                 "the sample path, float32 where n > d + 1 and float64 where n <= d + 1; common random numbers across "
                 "sigma^2 (the error is linear in sigma^2)",
                 "accumulate-subsample has no closed form; tests/test_papers_regression.py checks it against an "
                 "independent numpy re-implementation of the authors' protocol",
                 "n <= d + 1: no closed form (min-norm fits for n <= d; at n = d the mean is infinite and the "
                 "median is reported); the authors' figures leave n <= d out"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": (chains_e, chains_s)}, notes=notes)

    def figure(self, result):
        from matplotlib import colormaps
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"][1:]
        s2 = 1.0
        fig = Figure(figsize=(14.0, 17.0), layout="constrained")
        axes = fig.subplots(len(DS), 3, sharex=True, sharey="row")
        cmap = colormaps["cool"]
        for i, d in enumerate(DS):
            for j, regime in enumerate(("replace", "accumulate_subsample", "accumulate")):
                ax = axes[i, j]
                for k, n in enumerate(NS):
                    color = cmap(k / (len(NS) - 1))
                    key_ = f"d{d}/n{n}/s2{s2:g}/{regime}"
                    stat = "median" if n == d else "mean"
                    ax.plot(t, c[f"{key_}/{stat}"][1:], color=color, lw=1.4,
                            label=f"n = {n}" + (" (median)" if n == d else "") if j == 0 else None)
                    if f"{key_}/theory" in c:
                        plot.draw_theory(ax, t, c[f"{key_}/theory"][1:], color=color,
                                         label="theory" if (j == 2 and k == len(NS) - 1) else None)
                ax.set_yscale("log")
                if i == 0:
                    ax.set_title(LABELS[regime], fontsize="medium")
                if j == 0:
                    ax.set_ylabel(f"d = {d}: test MSE " + r"$\|\hat w_t - w^*\|^2$")
                    ax.legend(fontsize="x-small", loc="best")
                if j == 2 and i == 0:
                    ax.legend(fontsize="x-small", loc="best")
                if i == len(DS) - 1:
                    ax.set_xlabel("model-fitting iteration")
        fig.suptitle(f"{self.paper}: linear regression on a fixed design, $\\sigma^2$ = {s2:g}\n(the error scales "
                     "with $\\sigma^2$; curves.csv has 0.1 and 10); dotted: theory (n > d + 1; none for "
                     "accumulate-subsample)", fontsize="medium")
        return fig


register(Gerstgrasser2024Regression())
