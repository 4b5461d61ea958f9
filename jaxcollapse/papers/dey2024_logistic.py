r"""Dey and Donoho 2024: logistic regression under the discard workflow, $n = 10^4$, $d = 5$, 50 iterations.

**Setup, as the authors' code runs it** (``experiments/logistic_discard_synthetic.R`` of their repository
``apd1995/model_collapse_universality``): an experiment draws a design $X \in \mathbb R^{10^4\times 5}$ with
i.i.d. $N(0, 1)$ entries and true coefficients $\beta \sim N(0, I_6)$ (an intercept and 5 slopes), then
labels $y \sim \mathrm{Bernoulli}(\sigma(\beta_0 + X\beta_{1:5}))$; iteration 1 fits a logistic regression
with an intercept (R's ``glm``) to these real labels, and each later iteration fits labels drawn from the
previous fit on the **same** $X$ (the discard workflow: the real labels are thrown away). Recorded: the
squared differences $(\hat\beta_{t,j} - \beta_j)^2$, averaged over the 6 coordinates and over $10^4$
experiments, and their ratio to iteration 1: $R_t = \mathrm{MSE}_t / \mathrm{MSE}_1$, $t = 1..50$.

**Ours.** `jaxcollapse.families.Logistic` with an intercept, a fixed design of $10^4$ rows per chain and the
``replace`` regime (our generation $t$ is their iteration $t$: generation 1 fits labels of the truth), Newton's
method to convergence (the maximum likelihood estimate, as ``glm``), float32. An experiment is a chain: each
of `truths` points has its own $\beta \sim N(0, I_6)$ (drawn once with numpy, seed 123456) and its own design
seed, and runs `chains` chains (independent designs and labels). All points run in one compiled program
(`engine.run_points`: $\beta$ is traced). The chains of the points share their random numbers by chain
index (common random numbers), so standard errors treat each chain index as one cluster (the mean over the
points), and $R_t$'s standard error is the delta method's for a ratio of cluster means.

**Theory.** To first order in $1/n$ the discard workflow is a martingale, $\hat\beta_t = \hat\beta_{t-1} +
\eta_t$ with $\mathrm{Cov}\,\eta_t \approx H^{-1}$ (`jaxcollapse.theory.logistic`; the sequential
Gaussian-process limit of Dey and Donoho), so $R_t \to t$: linear growth, whatever $\beta$ and the design.
This is a limit, not a finite-$n$ value: `jaxcollapse.verify.logistic`'s ``first_order`` check measures the
correction on exactly enumerable designs (the second generation's error exceeds twice the first by
$O(1/n)$, the information shrinking where the coefficients wander). Here it is compared with the simulation
by the $|z| < 4$ rule as the authors compare their curve with the line.

**Published values.** Only the abstract and the authors' code could be read here (`search`: the paper's HTML
text past its abstract was not in the corpus); their logistic figure's numbers were not found, so the
report has no published column.

**Measured** (scale 1, 512 experiments, key 0): $R_2 = 2.07 \pm 0.08$, $R_{10} = 10.6 \pm 0.5$,
$R_{25} = 27.8 \pm 1.4$, $R_{50} = 55.6 \pm 2.4$ ($z = +0.8, +1.3, +2.0, +2.3$ against $t$): above the line
by about 10% at $t = 50$, the sign of the first-order correction, not significant at this size; no fit
diverged. 89 s of CPU (user), 612 s of wall time on the shared 2-core machine at load average 19. At the
floor (scale 0.25: 2 betas x 16 chains) the standard error of $R_{50}$ is about 17%: it judges gross
departures only (a bounded ratio, or one off by a factor of 2), at 14 s of CPU.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

N = 10_000
D = 5
GENERATIONS = 50
TRUTHS = 8  # points (each its own beta and design seed) at scale 1
CHAINS = 64  # chains per point at scale 1 (64 x 8 = 512 experiments; the authors ran 10^4)
REPORT_T = (2, 10, 25, 50)
BETA_SEED = 123456


def _betas(truths: int) -> np.ndarray:
    return np.random.default_rng(BETA_SEED).standard_normal((truths, D + 1))


def ratio_with_stderr(err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""$R_t = \bar e_t / \bar e_1$ and its delta-method standard error from per-chain errors `err` of shape
    `(points, G + 1, chains)`, each chain index a cluster (its mean over the points)."""
    a = err.mean(axis=0)  # (G + 1, chains): the cluster means
    c = a.shape[1]
    b = a[1]
    r = a.mean(axis=1) / b.mean()
    resid = a - r[:, None] * b[None, :]
    se = resid.std(axis=1, ddof=1) / (math.sqrt(c) * b.mean())
    return r, se


class Dey2024Logistic(Reproduction):
    name = "dey2024_logistic"
    paper = "Dey and Donoho 2024"
    figure_ref = "logistic regression, discard workflow (code: experiments/logistic_discard_synthetic.R)"
    citation = ("A. Dey, D. Donoho. Universality of the pi^2/6 pathway in avoiding model collapse. "
                "arXiv:2410.22812 (2024)")
    setup = (f"logistic regression with an intercept, n = {N} rows, d = {D}, X ~ N(0, I) fixed per experiment, "
             f"beta ~ N(0, I_{D + 1}) per experiment, {GENERATIONS} iterations of the discard workflow (replace: each "
             "fit on labels drawn from the previous fit on the same X); MSE averaged over the coordinates and "
             f"experiments, ratio R_t = MSE_t / MSE_1; {TRUTHS} betas x {CHAINS} chains = {TRUTHS * CHAINS} "
             "experiments at scale 1 (the authors: 10^4)")
    published = ("none found: only the abstract and the authors' code were readable (their figure's numbers were not); "
                 "no published column")
    floor = 0.25
    heavy = True  # the floor run: 34 s of CPU under the test suite's settings (10^4 rows x 50 generations x 32 chains)

    def compute(self, key, scale):
        from .. import engine, regimes
        from ..families import Logistic
        from ..theory import logistic as th

        truths = max(2, int(round(TRUTHS * scale)))
        chains = scaled(CHAINS, scale, minimum=16)
        betas = _betas(truths)
        specs = [engine.make_spec(Logistic(b, 1.0, rows=N, intercept=True, design_seed=i), regimes.replace(N),
                                  GENERATIONS) for i, b in enumerate(betas)]
        res = engine.run_points(key, engine.stack_specs(specs), chains, metrics=("param_error", "diverged"),
                                quantiles=(), record_paths=True)
        err = np.asarray(res.paths["param_error"], np.float64)  # (truths, G + 1, chains)
        div = np.asarray(res.paths["diverged"], np.float64)
        r, se = ratio_with_stderr(err)
        t = np.arange(GENERATIONS + 1)
        mse = err.mean(axis=(0, 2)) / (D + 1)  # per coordinate, as the authors average
        first = np.array([th.first_fit_error(N * th.fisher_information(b, 1.0, intercept=True)) for b in betas])
        lines = [Line(f"MSE ratio R_t, t={s}", r[s], se[s], float(th.replace_factor(s)),
                      theory_source="first order in 1/n: R_t -> t (theory.logistic.replace_factor; the "
                                    "Gaussian-process limit of Dey and Donoho 2024)")
                 for s in REPORT_T]
        n_div = float(div[:, 1:, :].sum())
        lines.append(Line("fits that diverged (separated labels), all generations", n_div, 0.0, 0.0,
                          theory_source="n = 10^4 rows, p = 6: separation has negligible probability"))
        ratio_first = err[:, 1, :].mean(axis=1) / first  # per truth: MSE_1 against the first-order tr I^-1 / n
        notes = [f"{truths} betas x {chains} chains = {truths * chains} experiments, float32, exact (labels) path, "
                 "Newton to convergence; standard errors: chain index as the cluster (common random numbers across "
                 "the betas)",
                 "first generation against first order (one fit's E||beta_1 - beta||^2 against tr I(beta)^-1 / n, per "
                 f"beta): ratios {np.array2string(ratio_first, precision=3)} (first order neglects O(1/n))"]
        columns = {"generation": t, "ratio": r, "ratio_se": se, "mse_per_coordinate": mse,
                   "theory_ratio": th.replace_factor(t),
                   "first_order_mse_per_coordinate": th.replace_factor(t) * first.mean() / (D + 1)}
        return Result(self.name, scale, lines, columns=columns, data={"truths": truths, "chains": chains},
                      notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"][1:]
        fig = Figure(figsize=(11.5, 4.4), layout="constrained")
        ax_r, ax_m = fig.subplots(1, 2)
        r, se = c["ratio"][1:], c["ratio_se"][1:]
        ax_r.fill_between(t, r - 2 * se, r + 2 * se, color="C0", alpha=0.25, lw=0, label=r"$\pm 2$ s.e.")
        ax_r.plot(t, r, color="C0", lw=1.6, marker="o", ms=2.5, label="ours (discard)")
        plot.draw_theory(ax_r, t, c["theory_ratio"][1:], label=r"first order: $R_t = t$")
        ax_r.set_xlabel("iteration $t$")
        ax_r.set_ylabel(r"MSE ratio $R_t = \mathrm{MSE}_t / \mathrm{MSE}_1$")
        ax_r.set_title("Ratio of mean squared error across generations", fontsize="medium")
        ax_r.legend(fontsize="small", loc="upper left")
        ax_m.plot(t, c["mse_per_coordinate"][1:], color="C0", lw=1.6, label="ours")
        plot.draw_theory(ax_m, t, c["first_order_mse_per_coordinate"][1:],
                         label=r"first order $t\,\overline{\mathrm{tr}\,I(\beta)^{-1}}/(6n)$")
        ax_m.set_xlabel("iteration $t$")
        ax_m.set_ylabel(r"MSE per coordinate, $\overline{(\hat\beta_{t,j} - \beta_j)^2}$")
        ax_m.set_title("mean squared error of the coefficients", fontsize="medium")
        ax_m.legend(fontsize="small", loc="upper left")
        fig.suptitle(f"{self.paper}: logistic regression, discard workflow, n = {N}, d = {D} (+ intercept), "
                     f"{result.data['truths']} x {result.data['chains']} experiments", fontsize="medium")
        return fig


register(Dey2024Logistic())
