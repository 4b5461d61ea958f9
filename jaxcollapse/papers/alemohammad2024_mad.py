r"""Alemohammad et al. 2024 (ICLR), "Self-consuming generative models go MAD": their Gaussian toy in the three
autophagous loops, with and without sampling bias.

**Setup, as the paper states it** (arXiv 2307.01850v1, read in full): Sec. 2.2 defines the *fully synthetic
loop* (each model trains only on samples of its predecessor), the *synthetic augmentation loop* (a fixed real
set plus synthetic samples) and the *fresh data loop* (a fresh real set each generation plus synthetic
samples). Sec. 2.3 defines the Gaussian model's sampling bias: fit $\mu_t, \Sigma_t$ and "sample from the
distribution $N(\mu_t, \lambda\Sigma_t)$", $\lambda \le 1$. Eq. (1) fits the *unbiased* sample mean and
covariance ($1/(n_s - 1)$), so $E[\Sigma_t \mid \Sigma_{t-1}] = \lambda\Sigma_{t-1}$ (Eq. 2). Sec. 5.1 gives the
toy's numbers: $P_r = N(0_d, I_d)$ with $d = 100$, $n_r = 100$ fresh real plus $n_s = 900$ synthetic samples
per generation, $n_{\rm ini} \in \{100, 1000\}$ real samples for the first model, $\lambda \in \{1, 0.8\}$, and
the Wasserstein distance (WD) to $P_r$ over about 50 generations (Fig. 10, left). The paper gives no
Gaussian sizes for the other two loops; here they train on the same $N = 1000$ samples per generation:
1000 synthetic (fully synthetic), a fixed real set of 100 plus 900 synthetic (augmentation), 100 fresh real
plus 900 synthetic (fresh).

**The same operation as the toolkit's temperature.** `jaxcollapse.Gaussian.sample_stats` draws from
$N(\mu, \tau^2\Sigma)$ (its Cholesky factor times $\tau$), so the paper's $\lambda$ is $\tau^2$:
$\lambda = 0.8$ runs at $\tau = \sqrt{0.8}$.

**What differs, and why.**

- *Dimension*: run in $d = 1$. Every quantity reported is per coordinate: under an isotropic truth the
  expected trace and squared mean error in $d$ dimensions are $d$ times the 1-D ones (every recursion of
  `jaxcollapse.theory.gaussian` is linear in the trace), so those lines hold for $d = 100$ as they stand.
  The $d = 100$ Gaussian itself does not compile in useful time here (`_linalg.chol_psd`, used by the
  sampler, is unrolled elementwise for every $d$: $\sim d^3/6$ scalar operations traced; measured on the
  project's 2-core machine under load, $d = 10$ took 10 CPU seconds to compile and $d = 100$ had not finished
  after 160), so the paper's WD *in 100 dimensions* (whose Bures term depends on $d$)
  is not reproduced; the 1-D $W_2^2$ is reported instead.
- *Estimator*: the MLE ($1/N$), whose exact curves the toolkit has for every loop here (the paper's Eq. 1
  divides by $N - 1$: a factor $1 - 1/N = 0.999$ per generation in the variance, 5% over 50 generations).
- *Generation 1*: model 0 is the truth and generation 1 samples it at the same temperature (the toolkit's
  convention), where the paper's first model trains on unbiased real data; with bias the curves are shifted
  by one factor $\lambda$. With $\lambda = 1$ generation 1 is exactly the paper's $n_{\rm ini} = 1000$ case
  (the fresh loop's 100 real plus 900 draws of the truth are 1000 real samples).

**Theory** (`jaxcollapse.recipes.gaussian.gaussian_curves`, `jaxcollapse.theory.gaussian`): fully synthetic,
any $\lambda$: $E\sigma_t^2 = (\lambda(1 - 1/N))^t$ (`mle_variance_tempered`) and the mean's error
(`mle_mean_sq_err_tempered`); augmentation and fresh loops at $\lambda = 1$: the exact mean-error recursions
(`augment_mean_sq_err`, `fresh_mle_mean_sq_err`) and the variance by conservation; $E W_2^2$ of the fully
synthetic loop at $\lambda = 1$ (`w2sq_mean`). The augmentation and fresh loops with bias have no closed
form here: their lines report our numbers only.

**Published values.** The paper plots the Gaussian WD (Fig. 10, left, $d = 100$) without tabulating it, so
the report has no published column.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

N_TOTAL = 1000  # samples per generation in every loop
N_REAL = 100  # real samples per generation (augmentation: the fixed set; fresh: new each generation)
N_SYN = 900  # synthetic samples per generation in the augmentation and fresh loops
BIASES = (1.0, 0.8)  # the paper's lambda (Fig. 10); temperature tau = sqrt(lambda)
GENERATIONS = 50
CHAINS = 4000
CHECK_AT = (10, GENERATIONS)  # generations with a report line
LOOPS = ("fully synthetic", "synthetic augmentation", "fresh data")
_REGIME = {"fully synthetic": "replace", "synthetic augmentation": "augment", "fresh data": "fresh"}


def _tau(lam: float) -> float:
    return math.sqrt(lam)


class Alemohammad2024MAD(Reproduction):
    name = "alemohammad2024_mad"
    paper = "Alemohammad et al. 2024"
    figure_ref = "Gaussian toy, Secs. 2.3, 3.1, 5 (Fig. 10)"
    citation = ("S. Alemohammad, J. Casco-Rodriguez, L. Luzi, A. I. Humayun, H. Babaei, D. LeJeune, A. Siahkoohi, "
                "R. G. Baraniuk. Self-consuming generative models go MAD. ICLR 2024 (arXiv 2307.01850)")
    setup = (f"N(0, 1) per coordinate (the paper: N(0, I_100)); MLE refit on {N_TOTAL} samples per generation for "
             f"{GENERATIONS} generations: fully synthetic ({N_TOTAL} synthetic), synthetic augmentation (a fixed "
             f"real set of {N_REAL} + {N_SYN} synthetic), fresh data ({N_REAL} fresh real + {N_SYN} synthetic "
             "= the paper's n_r, n_s); sampling bias lambda in {1, 0.8}: synthetic draws from N(mu, lambda sigma^2) "
             f"(temperature tau = sqrt(lambda)); {CHAINS} chains at scale 1")
    published = ("none: the paper plots the Gaussian toy's Wasserstein distance (Fig. 10, left, d = 100) without "
                 "tabulating it")
    floor = 0.05
    heavy = True  # its floor run costs more than the default suite's share (measured: see the closing note)

    def compute(self, key, scale):
        from .. import recipes
        from .._config import x64
        from ..theory import gaussian as th

        chains = scaled(CHAINS, scale)
        T = GENERATIONS
        t = np.arange(T + 1)
        base = {"generations": T, "chains": chains, "x64": True, "seed": 0, "dim": 1,
                "metrics": ["trace", "mean_sq_err", "w2sq"]}
        trajs, curves = {}, {}
        for lam in BIASES:
            tau = _tau(lam)
            rep = recipes.run("gaussian", {**base, "regimes": ["replace"], "n": N_TOTAL, "temperature": tau},
                              key=key, quantiles=(0.5,))
            mix = recipes.run("gaussian", {**base, "regimes": ["augment", "fresh"], "n": N_SYN, "n_real": N_REAL,
                                           "lam": N_SYN / N_REAL, "temperature": tau}, key=key, quantiles=(0.5,))
            for loop in LOOPS:
                reg = _REGIME[loop]
                run = rep if reg == "replace" else mix
                trajs[(loop, lam)] = run.trajs[reg]
                curves[(loop, lam)] = dict(run.curves[reg])
        with x64():  # the fully synthetic loop's W2^2 at lambda = 1 (theory.gaussian.w2sq_mean, derived there)
            curves[("fully synthetic", 1.0)]["w2sq"] = np.asarray(th.w2sq_mean(t, N_TOTAL, 1.0, "mle"), np.float64)

        lines, columns = [], {"generation": t}
        names = {"trace": "E sigma_t^2", "mean_sq_err": "E (mu_t - mu)^2", "w2sq": "E W2^2"}
        sources = {
            ("fully synthetic", "trace"): "mle_variance_tempered: (lambda (1 - 1/N))^t",
            ("fully synthetic", "mean_sq_err"): "mle_mean_sq_err_tempered",
            ("fully synthetic", "w2sq"): "w2sq_mean: 2 (1 - c^t), c = E sqrt(chi2_{N-1}/N)",
            ("synthetic augmentation", "mean_sq_err"): "augment_mean_sq_err (fixed real set, pooled)",
            ("synthetic augmentation", "trace"): "conservation: 1 - augment_mean_sq_err",
            ("fresh data", "mean_sq_err"): "fresh_mle_mean_sq_err (fresh real set, pooled)",
            ("fresh data", "trace"): "conservation: 1 - fresh_mle_mean_sq_err",
        }
        for loop in LOOPS:
            for lam in BIASES:
                tr, cv = trajs[(loop, lam)], curves[(loop, lam)]
                tag = f"{loop}, lambda={lam:g}"
                for metric in ("trace", "mean_sq_err", "w2sq"):
                    mean, se = tr.mean(metric), tr.stderr(metric)
                    theory = cv.get(metric)
                    key_ = loop.replace(" ", "_")
                    columns[f"{key_}/lambda{lam:g}/mean_{metric}"] = mean
                    if theory is not None:
                        columns[f"{key_}/lambda{lam:g}/theory_{metric}"] = theory
                    for g in CHECK_AT:
                        if theory is None and g != T:
                            continue
                        lines.append(Line(f"{names[metric]}, {tag}, t={g}", mean[g], se[g],
                                          math.nan if theory is None else theory[g],
                                          theory_source="" if theory is None else sources[(loop, metric)]))
        notes = [f"{chains} chains per loop and lambda, float64, exact (sufficient-statistics) path, one fixed key "
                 "for every run (common random numbers)",
                 "per-coordinate quantities: in d dimensions under N(0, I_d) the expected trace and squared mean "
                 "error are d times these (the paper's d = 100; see the module docstring for why d = 1 runs)",
                 "MLE refit (the toolkit's exact curves); the paper's Eq. (1) divides by N - 1",
                 "lines without a theory column (the augmentation and fresh loops with bias, W2^2 but for the "
                 "fully synthetic loop at lambda = 1) have no closed form here and report our numbers only"]
        return Result(self.name, scale, lines, columns=columns, data={"chains": chains}, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"]
        fig = Figure(figsize=(13.0, 9.0), layout="constrained")
        axes = fig.subplots(3, 3, sharex=True)
        rows = (("trace", r"variance $\mathbb{E}\,\sigma_t^2$ (per coordinate)", False),
                ("mean_sq_err", r"$\mathbb{E}(\mu_t - \mu)^2$ (log axis)", True),
                ("w2sq", r"$\mathbb{E}\,W_2^2$ to $P_r$ (1-D)", False))
        for j, loop in enumerate(LOOPS):
            key_ = loop.replace(" ", "_")
            for i, (metric, label, log) in enumerate(rows):
                ax = axes[i, j]
                for k, lam in enumerate(BIASES):
                    color = f"C{k}"
                    ax.plot(t, c[f"{key_}/lambda{lam:g}/mean_{metric}"], color=color, lw=1.6,
                            label=fr"ours, $\lambda = {lam:g}$")
                    th = c.get(f"{key_}/lambda{lam:g}/theory_{metric}")
                    if th is not None:
                        plot.draw_theory(ax, t, th, color=color, label=fr"theory, $\lambda = {lam:g}$")
                if log:
                    ax.set_yscale("log")
                if i == 0:
                    ax.set_title(f"{loop} loop", fontsize="medium")
                if j == 0:
                    ax.set_ylabel(label)
                if i == 2:
                    ax.set_xlabel("generation $t$")
                ax.legend(fontsize="x-small")
        fig.suptitle(f"{self.paper}: Gaussian toy, {result.data['chains']} chains per loop and sampling bias "
                     r"$\lambda$ (samples from $N(\mu_t, \lambda\sigma_t^2)$)", fontsize="medium")
        return fig


register(Alemohammad2024MAD())
