r"""Dey and Donoho 2024: the Gaussian limits of the discard, augment and subsample workflows over 100 generations.

**Setup, as the authors' code runs it** (``experiments/gaussian_limits/model_collapse_codes.R`` of their
repository ``apd1995/model_collapse_universality``). A location estimator refit for $G = 100$ generations
under three workflows: *discard* (each generation fits only its predecessor's synthetic sample), *augment*
(the real sample is kept and every generation's synthetic sample is added: our ``accumulate``, whose first
generation is the real data) and *subsample* (a uniform subsample of the accumulated data of the
original size: our ``accumulate_subsample``). The quantity is the **variance ratio**
$R_t = \mathrm{Var}\,\hat\theta_t / \mathrm{Var}\,\hat\theta_1$, the estimator's variance at generation $t$
over that of the fit to the real data alone. Their code simulates the $n\to\infty$ Gaussian-process limit
(Le Cam's third lemma: the null covariances of the estimates and the block means, shifted by the previous
generation's estimate) with $10^6$ Monte Carlo draws, for the sample median of $N(\theta, 1)$ data.

**Ours.** The same workflows at a finite size, $n = 100$ draws per generation from $N(\mu, 1)$, refitting
the mean with the variance known (``estimator = "mean"``): $\mathrm{Var}\,\hat\theta_1 = \sigma^2/n$ exactly,
so $R_t = n\,E(\hat\mu_t - \mu)^2/\sigma^2$ (the ``mean_sq_err`` metric times $n/\sigma^2$).

**Theory.** Dey and Donoho's universality: for any asymptotically linear estimator the augment ratio is
$\sum_{j\le t} 1/j^2$, bounded by $\pi^2/6$ (their $\pi^2/6$ pathway; relative efficiency at least
$6/\pi^2 \approx 0.61$), while the discard ratio grows as $t$. For the known-variance mean these hold at
every finite $n$, exactly (`theory.gaussian.accumulate_mean_sq_err_known_var`,
`theory.gaussian.drift_mean_sq_err` with no drift): $\hat\mu_t = \hat\mu_{t-1} + (\bar x_t - \hat\mu_{t-1})/t$
under augment and $\hat\mu_t = \bar x_t$ under discard. Subsample has **no closed form** (the authors draw
its curve from their Gaussian-process simulation); we report our simulation without a theory column.

**Published values.** The paper draws these curves (augment and subsample against the dashed $\pi^2/6$)
without tabulated numbers, so the report has no published column; their theorem's bound $\pi^2/6$ is
checked as an upper bound of the augment ratio.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

N = 100
GENERATIONS = 100
SIGMA2 = 1.0
CHAINS_EXACT = 20000  # discard and augment: the exact (sufficient-statistics) path
CHAINS_SUBSAMPLE = 2000  # subsample: the sample path (every sample kept, a uniform subsample each generation)
REPORT_T = (1, 10, 100)
WORKFLOWS = {"replace": "discard", "accumulate": "augment", "accumulate_subsample": "subsample"}


class Dey2024Gaussian(Reproduction):
    name = "dey2024_gaussian"
    paper = "Dey and Donoho 2024"
    figure_ref = "Gaussian limits (variance ratio against generation; code: experiments/gaussian_limits)"
    citation = ("A. Dey, D. Donoho. Universality of the pi^2/6 pathway in avoiding model collapse. "
                "arXiv:2410.22812 (2024)")
    setup = (f"location refit over {GENERATIONS} generations under discard (replace), augment (accumulate) and "
             f"subsample (accumulate_subsample); ours: N(0, 1), n = {N} per generation, mean refit with the variance "
             f"known; variance ratio R_t = n E(mu_t - mu)^2 / sigma^2; {CHAINS_EXACT} chains (discard, augment) and "
             f"{CHAINS_SUBSAMPLE} (subsample) at scale 1")
    published = ("none tabulated: the paper plots the curves (augment and subsample against pi^2/6); its pi^2/6 "
                 "bound of the augment ratio is checked as an upper bound")
    floor = 0.1
    heavy = True  # its floor run: 11.2 s on the idle 2-core machine (default suite, 2026-12-07)

    def compute(self, key, scale):
        from .. import recipes

        base = {"n": N, "generations": GENERATIONS, "estimator": "mean", "variance": SIGMA2, "x64": True,
                "seed": 0, "metrics": ["mean_sq_err"]}
        c_exact, c_sub = scaled(CHAINS_EXACT, scale), scaled(CHAINS_SUBSAMPLE, scale)
        exact = recipes.run("gaussian", {**base, "regimes": ["replace", "accumulate"], "chains": c_exact}, key=key,
                            quantiles=())
        # float32 on the sample path: its uniform subsample (top_k over float keys) has a fast float32 kernel on CPU
        sub = recipes.run("gaussian", {**base, "regimes": ["accumulate_subsample"], "path": "samples", "x64": False,
                                       "chains": c_sub}, key=key, quantiles=())
        trajs = {**exact.trajs, **sub.trajs}
        curves = {**exact.curves, **sub.curves}
        t = np.arange(GENERATIONS + 1)
        factor = N / SIGMA2  # R_t = n E(mu_t - mu)^2 / sigma^2: Var(mu_1) = sigma^2 / n exactly
        lines, columns = [], {"generation": t}
        for regime, word in WORKFLOWS.items():
            tr = trajs[regime]
            ratio, se = tr.mean("mean_sq_err") * factor, tr.stderr("mean_sq_err") * factor
            theory = curves[regime].get("mean_sq_err")
            theory = None if theory is None else np.asarray(theory) * factor
            columns[f"{word}/ratio"] = ratio
            columns[f"{word}/se"] = se
            if theory is not None:
                columns[f"{word}/theory"] = theory
            for s in REPORT_T:
                if theory is not None:
                    src = ("Dey & Donoho 2024 / Gerstgrasser et al. 2024: sum_{j<=t} 1/j^2 "
                           "(accumulate_mean_sq_err_known_var)" if regime == "accumulate"
                           else "discard: t (drift_mean_sq_err, no drift)")
                    lines.append(Line(f"R_t, {word}, t={s}", ratio[s], se[s], theory[s], theory_source=src))
                elif s == 1:  # the first fit sees the n real samples only: R_1 = 1 exactly in every workflow
                    lines.append(Line(f"R_t, {word}, t=1 (fit to the real data)", ratio[s], se[s], 1.0,
                                      theory_source="R_1 = 1 (the first generation fits the n real samples)"))
                else:
                    lines.append(Line(f"R_t, {word}, t={s} (no closed form)", ratio[s], se[s]))
        acc = trajs["accumulate"]
        T = GENERATIONS
        lines.append(Line(f"R_t, augment, t={T}, against the pi^2/6 bound", acc.mean("mean_sq_err")[T] * factor,
                          acc.stderr("mean_sq_err")[T] * factor, math.pi**2 / 6.0, rule="upper",
                          theory_source="Dey & Donoho 2024: augment variance ratio <= pi^2/6 (universality)"))
        notes = [f"{c_exact} chains (discard, augment: exact sufficient statistics, float64) and {c_sub} chains "
                 "(subsample: sample path, float32); discard and augment share their random numbers",
                 "ours is the finite-n process for the known-variance mean; the authors' curves are the n -> infinity "
                 "Gaussian-process limit for the median, which their universality theorem ties to the same discard "
                 "and augment curves; subsample has no closed form here (ours only)"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": (c_exact, c_sub)}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"][1:]
        fig = Figure(figsize=(12.0, 4.4), layout="constrained")
        ax_all, ax_b = fig.subplots(1, 2)
        colors = {"discard": "C3", "augment": "C0", "subsample": "C2"}
        for word, color in colors.items():
            r, se = c[f"{word}/ratio"][1:], c[f"{word}/se"][1:]
            for ax in (ax_all, ax_b) if word != "discard" else (ax_all,):
                ax.plot(t, r, color=color, lw=1.6, label=f"{word} (ours)")
                ax.fill_between(t, r - 2 * se, r + 2 * se, color=color, alpha=0.2, lw=0)
                if f"{word}/theory" in c:
                    plot.draw_theory(ax, t, c[f"{word}/theory"][1:], color=color,
                                     label=r"theory $\sum_{j\leq t} j^{-2}$" if word == "augment" else "theory $t$")
        for ax in (ax_all, ax_b):
            plot.reference_line(ax, math.pi**2 / 6.0, r"$\pi^2/6$", log=ax is ax_all)
            ax.set_xlabel("generation $t$")
            ax.legend(fontsize="small", loc="upper left")
        ax_all.set_yscale("log")
        ax_all.set_ylabel(r"variance ratio $R_t = \mathrm{Var}\,\hat\theta_t / \mathrm{Var}\,\hat\theta_1$ (log axis)")
        ax_all.set_title("discard, augment and subsample", fontsize="medium")
        ax_b.set_ylabel(r"variance ratio $R_t$")
        ax_b.set_title(r"augment and subsample against $\pi^2/6$ (as the paper's figure)", fontsize="medium")
        ce, cs = result.data["chains"]
        fig.suptitle(f"{self.paper}: N(0, 1), mean refit (variance known), n = {N}, {ce} chains (discard, augment), "
                     f"{cs} (subsample); bands: ours +- 2 se", fontsize="medium")
        return fig


register(Dey2024Gaussian())
