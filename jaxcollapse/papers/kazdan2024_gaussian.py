r"""Kazdan et al. 2024: multivariate Gaussian fitting under replace, accumulate and accumulate-subsample.

**Setup, as the authors' code runs it** (``src/fit_gaussians/fit_gaussians.py`` and
``sweeps/fit_gaussians/*.yaml`` of their repository ``RylanSchaeffer/KoyejoLab-Collapse-or-Thrive``):
real data $n$ draws of $N(0, \sigma^2 I_d)$, $\sigma^2 = 1$; each model-fitting iteration fits the mean and the
maximum-likelihood covariance (``np.cov(bias=True)``) and draws $n$ new samples from the fit; *Replace*
keeps only the new samples, *Accumulate* adds them to all data so far (the real data included), and
*Accumulate-Subsample* fits a uniform subsample of $n$ of all data so far (without replacement). 100
iterations, 100 seeds, $d \in \{1, 3, 10, 31, 100\}$ (we run $d = 10$), $n \in \{10, 32, 100, 316, 1000\}$.
Iteration 1 fits the real data: it is our generation 1. Reported: $\|\hat\mu_t - \mu_0\|^2$,
$\det\hat\Sigma_t/\det\Sigma_0$ and $\mathrm{tr}\,\hat\Sigma_t/\mathrm{tr}\,\Sigma_0$ against the iteration.

**Theory** (`jaxcollapse.theory.gaussian`, float64), replace: $E\|\hat\mu_t - \mu_0\|^2 = d\sigma^2[1 - (1 - 1/n)^t]$
(`mle_mean_sq_err`), $E\,\mathrm{tr}\,\hat\Sigma_t/\mathrm{tr}\,\Sigma_0 = (1 - 1/n)^t$ (`trace_mean`; compared
while $t\,\psi'(\tfrac{n-1}2) \le 1$: the 1-D `log_variance_var`, about the $\mathrm{Var}\ln\mathrm{tr}$ of a covariance
collapsed towards one direction, and more than an isotropic one's),
$E\ln(\det\hat\Sigma_t/\det\Sigma_0) = t[\sum_{k\le d}\psi(\tfrac{n-k}2) + d\ln\tfrac2n]$ (`log_det_ratio_mean`,
$n > d$; at $t = 100$, or earlier where float64's Cholesky calls some chain's covariance singular) and
$E\det\hat\Sigma_t/\det\Sigma_0 = [\prod_{k\le d}(1 - k/n)]^t$ (`det_ratio_mean`; compared where
$\mathrm{Var}\ln\det \le 1$, `log_det_ratio_var`, since beyond it a mean over chains is carried by a few
chains); accumulate: the mean's error by the exact recursion `accumulate_mle_mean_sq_err` and the trace by
conservation (`jaxcollapse.recipes.gaussian.gaussian_curves`). The accumulate determinant and every
accumulate-subsample quantity have **no closed form**: ours only. For $n \le d$ the fitted covariance is
singular from generation 1 on in every regime (rank $\le n - 1$, and every later sample lies in the real
data's affine hull), so the determinant lines are left out there.

**Published values.** The paper plots these curves (log axes) without tabulated numbers: no published
column.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

D = 10
NS = (10, 32, 100, 316, 1000)
GENERATIONS = 100
SIGMA2 = 1.0
CHAINS_EXACT = 4000  # replace and accumulate: exact (Wishart) statistics, every n in one compiled call
CHAINS_SUBSAMPLE = 200  # accumulate-subsample: the sample path (the authors ran 100 seeds)
METRICS = ("mean_sq_err", "trace_ratio", "log_det_ratio")
REGIMES = ("replace", "accumulate", "accumulate_subsample")
LABELS = {"replace": "Replace", "accumulate": "Accumulate", "accumulate_subsample": "Accumulate-Subsample"}


def run_points(regime: str, path: str, ns, chains: int, key, x64: bool, paths: bool,
               generations: int = GENERATIONS):
    """Run the Gaussian recipe's model (d = 10, MLE) at every n of `ns` (stacked points: n is traced on the exact
    path, so one compile serves them all). Returns per metric (mean, stderr, paths or None), each with the point
    axis first and then the generations 0..G."""
    import contextlib

    from .. import engine, recipes
    from .._config import x64 as x64_ctx

    rec = recipes.get("gaussian")
    with x64_ctx() if x64 else contextlib.nullcontext():
        specs = []
        for n in ns:
            p = rec.resolve({"dim": D, "variance": SIGMA2, "n": n, "generations": generations, "regimes": [regime],
                             "path": path})
            model, truth, reg = rec.build({**p, "regime": regime})
            specs.append(engine.make_spec(model, reg, generations, truth=truth, path=path))
        res = engine.run_points(key, engine.stack_specs(specs), chains, metrics=METRICS, quantiles=(),
                                record_paths=paths)
        out = {}
        for m in METRICS:
            mean, std, _ = res.summary[m]
            out[m] = (np.asarray(mean, np.float64), np.asarray(std, np.float64) / math.sqrt(chains),
                      None if res.paths is None else np.asarray(res.paths[m], np.float64))
    return out


class Kazdan2024Gaussian(Reproduction):
    name = "kazdan2024_gaussian"
    paper = "Kazdan et al. 2024"
    figure_ref = "multivariate Gaussian fitting (mean error, trace and determinant against the iteration)"
    citation = ("J. Kazdan, R. Schaeffer, A. Dey, M. Gerstgrasser, R. Rafailov, D. Donoho, S. Koyejo. Collapse or "
                "thrive? Perils and promises of synthetic data in a self-generating world. arXiv:2410.16713 (2024)")
    setup = (f"N(0, I_{D}); MLE mean and covariance refit on n in {list(NS)} samples per iteration, {GENERATIONS} "
             "iterations, under replace, accumulate and accumulate-subsample (a size-n subsample of all data so far); "
             f"{CHAINS_EXACT} chains (replace, accumulate; exact statistics) and {CHAINS_SUBSAMPLE} (accumulate-"
             "subsample; sample path) at scale 1")
    published = "none: the paper plots these curves without tabulated numbers (no published column)"
    floor = 0.1
    heavy = True  # seven compiled programs (n sets the sample path's shapes): about 2 minutes at the floor

    def compute(self, key, scale):
        from .._config import x64
        from ..theory import gaussian as th

        ce, cs = scaled(CHAINS_EXACT, scale), scaled(CHAINS_SUBSAMPLE, scale)
        T = GENERATIONS
        t = np.arange(T + 1)
        runs = {r: run_points(r, "exact", NS, ce, key, True, r == "replace") for r in ("replace", "accumulate")}
        # float32 on the sample path: its uniform subsample (top_k over float keys) has a fast float32 kernel on CPU
        # (n sets the sample path's shapes: one compiled call per n)
        per_n = [run_points("accumulate_subsample", "samples", (n,), cs, key, False, False) for n in NS]
        runs["accumulate_subsample"] = {m: tuple(None if per_n[0][m][j] is None else
                                                 np.concatenate([r[m][j] for r in per_n]) for j in range(3))
                                        for m in METRICS}
        s2 = D * SIGMA2
        lines, columns = [], {"generation": t}
        for i, n in enumerate(NS):
            with x64():
                th_r = {"mean_sq_err": np.asarray(th.mle_mean_sq_err(t, n, s2), np.float64),
                        "trace_ratio": np.asarray(th.trace_mean(t, n, 1.0), np.float64)}
                th_a = {"mean_sq_err": np.asarray(th.accumulate_mle_mean_sq_err(t, n, s2), np.float64)}
                th_a["trace_ratio"] = (s2 - th_a["mean_sq_err"]) / s2
                # the trace's mean is compared while Var ln tr <= 1, read off the 1-D value t psi'((n-1)/2): about
                # that of a covariance collapsed towards one direction, more than an isotropic one's
                t_tr = max(1, int(np.max(np.nonzero(np.asarray(th.log_variance_var(t, n), np.float64) <= 1.0)[0])))
                if n > D:
                    th_r["log_det_ratio"] = np.asarray(th.log_det_ratio_mean(t, n, D), np.float64)
                    det_mean = np.asarray(th.det_ratio_mean(t, n, D), np.float64)
                    det_var = np.asarray(th.log_det_ratio_var(t, n, D), np.float64)
            theories = {"replace": th_r, "accumulate": th_a, "accumulate_subsample": {}}
            for regime in REGIMES:
                run, word = runs[regime], LABELS[regime]
                for m, what in (("mean_sq_err", "|mu_t - mu_0|^2"), ("trace_ratio", "tr ratio"),
                                ("log_det_ratio", "E ln det ratio")):
                    mean, se, _ = run[m]
                    columns[f"n{n}/{regime}/{m}"] = mean[i]
                    theory = theories[regime].get(m)
                    if theory is not None:
                        columns[f"n{n}/{regime}/{m}/theory"] = theory
                    if m == "log_det_ratio" and n <= D:
                        continue  # singular fits: -inf from generation 1 on (module docstring)
                    src = {"mean_sq_err": "mle_mean_sq_err" if regime == "replace" else "accumulate_mle_mean_sq_err",
                           "trace_ratio": "trace_mean (1 - 1/n)^t" if regime == "replace" else "conservation",
                           "log_det_ratio": "log_det_ratio_mean"}[m]
                    at = T
                    if regime == "replace" and m == "trace_ratio":
                        at = t_tr
                    elif regime == "replace" and m == "log_det_ratio":
                        # float64's Cholesky (the metric's) calls a covariance of condition number past ~1e16
                        # singular (-inf): compare at the last generation where every chain's value is finite
                        finite = np.all(np.isfinite(run[m][2][i]), axis=1)
                        at = int(np.max(np.nonzero(finite)[0]))
                    q = f"{what}, {word}, n={n}, t={at}"
                    if theory is None:
                        lines.append(Line(q + " (no closed form)", mean[i, at], se[i, at]))
                    else:
                        lines.append(Line(q, mean[i, at], se[i, at], theory[at], theory_source=src))
            if n > D:  # E det ratio, replace, where Var ln det <= 1 (from the per-chain paths)
                det = np.exp(runs["replace"]["log_det_ratio"][2][i])  # (G + 1, chains)
                tm = int(np.max(np.nonzero(det_var <= 1.0)[0]))
                tm = max(tm, 1)
                lines.append(Line(f"E det ratio, Replace, n={n}, t={tm}", det[tm].mean(),
                                  det[tm].std() / math.sqrt(det.shape[1]), det_mean[tm],
                                  theory_source="det_ratio_mean [prod_k (1 - k/n)]^t"))
        notes = [f"{ce} chains (replace, accumulate: exact Wishart statistics, float64) and {cs} chains "
                 "(accumulate-subsample: sample path, float32); the n points of replace and accumulate share their "
                 "random numbers; d = 10 of the authors' "
                 "d in {1, 3, 10, 31, 100}",
                 "replace: E det ratio is compared at the last generation where Var ln det <= 1 (at least t = 1), "
                 "E tr ratio where t psi'((n - 1)/2) <= 1 (about Var ln tr of a covariance collapsed to one "
                 "direction): past them a mean over chains is carried by a few chains; E ln det at t = 100, or at the "
                 "last generation where float64's "
                 "Cholesky still finds every chain's covariance positive definite (a covariance refit 100 times on "
                 "n = 32 samples can reach condition numbers past 1e16)"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": (ce, cs)}, notes=notes)

    def figure(self, result):
        from matplotlib import colormaps
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"]
        fig = Figure(figsize=(14.0, 10.0), layout="constrained")
        axes = fig.subplots(3, 3, sharex=True, sharey="row")
        cmap = colormaps["cool"]
        rows = (("mean_sq_err", r"$\|\hat\mu_t - \mu_0\|^2$ (mean)"),
                ("trace_ratio", r"$\mathrm{tr}\,\hat\Sigma_t / \mathrm{tr}\,\Sigma_0$ (mean)"),
                ("log_det_ratio", r"$\exp E\ln(\det\hat\Sigma_t / \det\Sigma_0)$"))
        for j, regime in enumerate(REGIMES):
            for i, (m, label) in enumerate(rows):
                ax = axes[i, j]
                for k, n in enumerate(NS):
                    if m == "log_det_ratio" and n <= D:
                        continue  # singular fits: det = 0 from generation 1 on
                    color = cmap(k / (len(NS) - 1))
                    y = c[f"n{n}/{regime}/{m}"]
                    th_y = c.get(f"n{n}/{regime}/{m}/theory")
                    if m == "log_det_ratio":
                        y = np.exp(y)
                        th_y = None if th_y is None else np.exp(th_y)
                    ax.plot(t[1:], y[1:], color=color, lw=1.5, label=f"n = {n}" if i == 0 and j == 0 else None)
                    if th_y is not None:
                        plot.draw_theory(ax, t[1:], th_y[1:], color=color,
                                         label="theory" if (i == 0 and j == 0 and k == 0) else None)
                ax.set_yscale("log", nonpositive="mask")
                if i == 0:
                    ax.set_title(LABELS[regime], fontsize="medium")
                if j == 0:
                    ax.set_ylabel(label)
                if i == 2:
                    ax.set_xlabel("model-fitting iteration")
        axes[0, 0].legend(fontsize="small", loc="lower right")
        ce, cs = result.data["chains"]
        fig.suptitle(f"{self.paper}: N(0, I_{D}) refit by MLE; {ce} chains (replace, accumulate), {cs} "
                     "(accumulate-subsample); dotted: theory (none for the accumulate determinant or for "
                     "accumulate-subsample)", fontsize="medium")
        return fig


register(Kazdan2024Gaussian())
