r"""Shumailov et al. 2024 (Nature): a 1-D Gaussian refitted on its own samples, replace against keeping all data.

**Setup, as the paper states it.** $X^0_j \sim N(0, 1)$; generation $i$ fits the mean and variance by
maximum likelihood to $n$ samples and draws the next $n$ from the fit (the paper's Sec. "Theoretical
intuition", the "Gaussian model" with $M_i = n$), for $n \in \{100, 500, 1000, 10000\}$ and 1,000
generations. Beside it the "keep all data" loop: each generation fits every sample drawn so far
(``accumulate``).

**Theory** (`jaxcollapse.theory.gaussian`). Under replace,
$\sigma^2_t = \sigma^2\prod_{i\le t}\chi^2_{n-1,i}/n$, so $\mathbb E\,\sigma^2_t = \sigma^2(1 - 1/n)^t$
(the paper's Eq. for the variance) while $\mathbb E\ln\sigma^2_t = t\,[\psi(\tfrac{n-1}2) + \ln\tfrac2n]$
(`log_variance_mean`, derived in its docstring) tends to $-\infty$ linearly: the variance collapses almost
surely even though its mean decays only as $e^{-t/n}$. The mean of $\sigma_t^2$ is compared only while
$\mathrm{Var}\ln\sigma^2_t \le 1$ (beyond that a Monte Carlo mean over chains is dominated by rare chains);
the log-mean is compared at every $n$. Keeping all data, the variance stays bounded away from 0 and the
mean's error obeys the exact recursion of `accumulate_mle_mean_sq_err`.

**Published values.** The paper draws these curves but prints no numbers for them, so the report has a
theory column and no published column.
"""

from __future__ import annotations

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

NS = (100, 500, 1000, 10000)
GENERATIONS = 1000
CHAINS = 4000


class Shumailov2024Gaussian(Reproduction):
    name = "shumailov2024_gaussian"
    paper = "Shumailov et al. 2024"
    figure_ref = "1-D Gaussian (Sec. 'Theoretical intuition')"
    citation = ("I. Shumailov, Z. Shumaylov, Y. Zhao, N. Papernot, R. Anderson, Y. Gal. AI models collapse when "
                "trained on recursively generated data. Nature 631, 755-759 (2024)")
    setup = (f"N(0, 1); MLE refit on n in {list(NS)} samples per generation, {GENERATIONS} generations; replace "
             "(each generation only its predecessor's samples) against keeping all data (accumulate); "
             f"{CHAINS} chains at scale 1")
    published = "none: the paper plots these curves without tabulated numbers (no published column)"
    floor = 0.05
    heavy = True  # its floor run: 11.6 s on the idle 2-core machine (default suite, 2026-12-07)

    def compute(self, key, scale):
        from .. import recipes
        from .._config import x64
        from ..theory import gaussian as th

        chains = scaled(CHAINS, scale)
        T = GENERATIONS
        t = np.arange(T + 1)
        lines, columns, data = [], {"generation": t}, {}
        for n in NS:
            run = recipes.run("gaussian", {"regimes": ["replace", "accumulate"], "n": n, "generations": T,
                                           "chains": chains, "x64": True, "seed": 0,
                                           "metrics": ["trace", "log_det_ratio", "mean_sq_err"]},
                              key=key, quantiles=(0.5,))
            rep, acc = run.trajs["replace"], run.trajs["accumulate"]
            with x64():
                log_mean = np.asarray(th.log_variance_mean(t, n), np.float64)
                log_var = np.asarray(th.log_variance_var(t, n), np.float64)
                var_mean = np.asarray(th.mle_variance(t, n), np.float64)
            # the log-variance at T: exact for every n
            lines.append(Line(f"E ln sigma^2_T, replace, n={n}, T={T}", rep.mean("log_det_ratio")[T],
                              rep.stderr("log_det_ratio")[T], log_mean[T],
                              theory_source="log_variance_mean: t [psi((n-1)/2) + ln(2/n)]"))
            # the variance's mean where Var ln sigma^2 <= 1 (the last such generation)
            tm = int(np.max(np.nonzero(log_var <= 1.0)[0]))
            lines.append(Line(f"E sigma^2_t, replace, n={n}, t={tm}", rep.mean("trace")[tm], rep.stderr("trace")[tm],
                              var_mean[tm], theory_source="mle_variance: (1 - 1/n)^t (Shumailov et al. 2024)"))
            acc_curve = run.curves["accumulate"]
            lines.append(Line(f"E sigma^2_T, keep all data, n={n}, T={T}", acc.mean("trace")[T],
                              acc.stderr("trace")[T], acc_curve["trace"][T],
                              theory_source="accumulate_mle_variance: conservation minus the mean's error"))
            columns[f"n{n}/replace/median_var"] = rep.quantile("trace", 0.5)
            columns[f"n{n}/replace/mean_var"] = rep.mean("trace")
            columns[f"n{n}/replace/theory_mean_var"] = var_mean
            columns[f"n{n}/replace/theory_exp_mean_log_var"] = np.exp(log_mean)
            columns[f"n{n}/accumulate/mean_var"] = acc.mean("trace")
            columns[f"n{n}/accumulate/theory_mean_var"] = acc_curve["trace"]
        data["chains"] = chains
        notes = [f"{chains} chains per n and regime, float64, exact (sufficient-statistics) path, seed-fixed key",
                 "the replace variance's mean is compared at the last generation where Var ln sigma^2_t <= 1 "
                 "(log_variance_var); past it the mean over chains is carried by a few chains"]
        return Result(self.name, scale, lines, columns=columns, data=data, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"]
        fig = Figure(figsize=(12.0, 4.4), layout="constrained")
        ax_r, ax_a = fig.subplots(1, 2)
        for i, n in enumerate(NS):
            color = f"C{i}"
            ax_r.plot(t, c[f"n{n}/replace/median_var"], color=color, lw=1.6, label=f"n = {n}: median")
            plot.draw_theory(ax_r, t, c[f"n{n}/replace/theory_exp_mean_log_var"], color=color,
                             label=r"theory $e^{\mathbb{E}\ln\sigma_t^2}$" if i == 0 else None)
            ax_a.plot(t, c[f"n{n}/accumulate/mean_var"], color=color, lw=1.6, label=f"n = {n}: mean")
            plot.draw_theory(ax_a, t, c[f"n{n}/accumulate/theory_mean_var"], color=color,
                             label="theory" if i == 0 else None)
        for ax, title in ((ax_r, "replace: each generation fits its predecessor's samples"),
                          (ax_a, "keep all data (accumulate)")):
            ax.set_xlabel("generation $t$")
            ax.set_title(title, fontsize="medium")
            ax.legend(fontsize="small", loc="lower left")
        ax_r.set_yscale("log")
        ax_r.set_ylabel(r"variance $\sigma_t^2$ (truth 1; median over chains, log axis)")
        ax_a.set_ylabel(r"$\mathbb{E}\,\sigma_t^2$ (mean over chains)")
        fig.suptitle(f"{self.paper}: 1-D Gaussian refitted by MLE, {result.data['chains']} chains per n",
                     fontsize="medium")
        return fig


register(Shumailov2024Gaussian())
