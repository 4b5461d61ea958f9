r"""He, Xu and Cheng 2025: the error of the fresh-data loop against the real data's weight $w$, and its argmin.

**Setup, as the authors' code runs it** (their Scenario 2, "fresh data"; read from the public code, a
``Fresh_Data`` class and its driver). Every iteration draws $n = 100$ new real samples and $m = n/k = 100$
synthetic samples of the previous model ($k = 1$), in $p = 2$ dimensions, truth $N(0, I_2)$ and
$\beta^* = (1, 1)$, and fits the estimate that gives the real data weight $w$ and the synthetic data
$1 - w$; $T = 200$ iterations, the error averaged over iterations 150 to 199, 2,000 replications per $w$;
$w$ = ``np.round(np.arange(0.20, 0.80, 0.02), 2)``, which holds 31 values, 0.20 to **0.80** (the float step
puts 0.80 below the stop). Estimators: the Gaussian mean and covariance ($\|\hat\mu - \mu\|^2$,
$\|\hat\Sigma - \Sigma\|_F^2$), OLS with a fresh Gaussian design ($\|\hat\beta - \beta^*\|^2$), logistic and
Poisson regression.

**Ours** (`engine.run_points` over the 31 weights: $w$ is traced, so each family compiles once; common random
numbers across $w$):

- Gaussian: `Gaussian(0, I_2, "mle")` under `regimes.weighted(100, 100, w, real="fresh")`. Its mean is
  He et al.'s ($w\bar x_{\rm real} + (1 - w)\bar x_{\rm syn}$); its covariance is the weighted MLE (divisor
  $n$, between-group term), where their code combines the two unbiased sample covariances. The covariance
  error is $\|\Sigma - I\|_F^2 = (\mathrm{tr}\,\Sigma)^2 - 2\det\Sigma - 2\,\mathrm{tr}\,\Sigma + 2$ ($2\times2$),
  from the per-chain ``trace`` and ``log_det_ratio``.
- OLS: `Regression(w=(1, 1), cov=I, noise=1)`, a fresh design each generation, the same weighted regime
  (per-sample weights $w/n$ and $(1 - w)/m$, as their code); the error is ``excess_risk`` $= \|\beta - \beta^*\|^2$.
- Poisson: the **rate** model `Poisson(1)` (intercept-only Poisson regression), not their Poisson regression
  on two Gaussian covariates: jaxcollapse has no Poisson-regression family.
- Logistic regression is left out for its cost: `jaxcollapse.families.Logistic` with a fresh design runs on
  the sample path with a Newton fit per chain and generation, about 0.6 s of CPU per chain for the 31 weights
  and 200 generations here (measured on 16 chains, after a 9 s compile): 20 minutes at 2,048 chains, and 10 s
  more at this reproduction's floor.

**Theory** (`jaxcollapse.theory.golden_ratio`, derived there). Exact at finite $n$ for the Gaussian mean
(the weighted MLE law, `theory.gaussian.mixed_mean_sq_err` with ``estimator="mle"``, $\sigma^2 = \mathrm{tr}\,I_2$)
and the Poisson rate (the known-variance law with $\sigma^2 = \lambda_0$): their optima are 0.61698 and
exactly $1/\varphi$. For the covariance and OLS only He et al.'s asymptotic law
$e^* \propto (w^2/n + (1-w)^2/m)/(1 - (1-w)^2)$ is known (optimum $1/\varphi$); it is drawn, and our optimum is
reported beside it, not judged against it (an asymptotic formula has no standard error to be judged with).

**The argmin.** A quadratic in $w$ fitted by least squares to the error curve on $w \in [0.50, 0.74]$ (13 grid
points); its vertex is the estimated optimum, with a delta-method standard error from the chains' own fitted
coefficients (the chains share their random numbers across $w$, which makes the vertex precise). Because the
error curve is not a parabola, the vertex of the fitted quadratic is not the exact argmin (the asymptotic
law's fit gives 0.6225 against 0.6180): the theory is put through the same fit, so like is compared with like.

**Published values.** None could be read: the stored copies of the paper hold its first page only, so the
minimal points marked in its figures are not compared.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

N_REAL, N_SYN, DIM, GENERATIONS = 100, 100, 2, 200
AVG_FROM, AVG_TO = 150, 199
WS = np.round(np.arange(0.20, 0.80, 0.02), 2)  # the authors' grid: 31 values, 0.20 ... 0.80
FIT_WINDOW = (0.50, 0.74)
CHAINS = 2048
CHUNK = 512  # chains per run_points call (the per-chain paths of 31 weights x 201 generations)
LINE_WS = (0.20, 0.62, 0.80)
ESTIMATORS = ("gaussian_mean", "gaussian_cov", "ols", "poisson")
TITLES = {"gaussian_mean": "Gaussian mean", "gaussian_cov": "Gaussian covariance",
          "ols": "linear regression (OLS)", "poisson": "Poisson (rate)"}
EXACT = ("gaussian_mean", "poisson")


def quadratic_vertex(ws: np.ndarray, per_chain: np.ndarray, window=FIT_WINDOW) -> tuple[float, float]:
    r"""The vertex $-b/(2c)$ of the least-squares quadratic $a + bw + cw^2$ through the mean curve on `window`,
    and its delta-method standard error from the chains' own coefficients.

    `per_chain` has shape `(len(ws), chains)` (one row per weight); a 1-D `per_chain` is a deterministic
    curve (standard error 0). The fit is linear in the curve, so each chain's coefficients are $L\,y_c$ with
    $L$ the pseudo-inverse of the design; the vertex's gradient is $(-1/(2c), b/(2c^2))$.
    """
    sel = (ws >= window[0] - 1e-9) & (ws <= window[1] + 1e-9)
    X = np.stack([np.ones(sel.sum()), ws[sel], ws[sel] ** 2], axis=1)
    L = np.linalg.pinv(X)
    y = np.asarray(per_chain, np.float64)
    if y.ndim == 1:
        _, b, c = L @ y[sel]
        return float(-b / (2.0 * c)), 0.0
    coef = L @ y[sel]  # (3, chains)
    b, c = coef[1].mean(), coef[2].mean()
    grad = np.array([-1.0 / (2.0 * c), b / (2.0 * c * c)])
    cov = np.cov(coef[1:]) / y.shape[1]
    return float(-b / (2.0 * c)), float(math.sqrt(max(grad @ cov @ grad, 0.0)))


def _run(key, model, metrics, chains, errors):
    """Each chain's errors averaged over t = 150..199, `{name: (31, chains)}`, in chunks of at most `CHUNK` chains.

    `errors(paths)` maps the recorded per-chain metrics (each `(31, 50, chunk)`, generations 150..199) to the
    per-generation errors."""
    import jax

    from .. import engine, regimes

    specs = engine.stack_specs([engine.make_spec(model, regimes.weighted(N_REAL, N_SYN, float(w), real="fresh"),
                                                 GENERATIONS) for w in WS])
    size = min(chains, CHUNK)
    parts = []
    for i in range(math.ceil(chains / size)):
        res = engine.run_points(jax.random.fold_in(key, i), specs, size, metrics=metrics, quantiles=(),
                                record_paths=True)
        window = {k: np.asarray(v, np.float64)[:, AVG_FROM:AVG_TO + 1, :] for k, v in res.paths.items()}
        parts.append({k: v.mean(axis=1) for k, v in errors(window).items()})
    return {k: np.concatenate([q[k] for q in parts], axis=-1) for k in parts[0]}


def _cov_error(tr, det):
    r"""$\|\Sigma - I\|_F^2$ of a $2\times2$ covariance from its trace and determinant:
    $\mathrm{tr}(\Sigma^2) - 2\,\mathrm{tr}\,\Sigma + 2$, with
    $\mathrm{tr}(\Sigma^2) = (\mathrm{tr}\,\Sigma)^2 - 2\det\Sigma$."""
    return tr * tr - 2.0 * det - 2.0 * tr + 2.0


class He2025GoldenRatio(Reproduction):
    name = "he2025_golden_ratio"
    paper = "He, Xu and Cheng 2025"
    figure_ref = "Scenario 2 (fresh data): estimation error against w"
    citation = ("H. He, S. Xu, G. Cheng. Golden ratio weighting prevents model collapse. arXiv:2502.18049 (2025); "
                "later versions: Recursive learning without collapse: a weighting-based stabilization framework")
    setup = (f"n = {N_REAL} fresh real + m = {N_SYN} synthetic samples per iteration, p = {DIM}, truth N(0, I), "
             f"beta* = (1, 1); {GENERATIONS} iterations, error averaged over {AVG_FROM}-{AVG_TO}; real weight w = "
             f"0.20, 0.22, ..., 0.80 ({WS.size} values, the authors' grid); Gaussian mean and covariance (weighted "
             "MLE), OLS (fresh Gaussian design), Poisson rate; logistic left out (its cost); "
             f"{CHAINS} chains per w at scale 1")
    published = ("none: the stored copies of the paper hold its first page only (the minimal points of its figures "
                 "could not be read); the setup is the authors' code's")
    floor = 0.03125
    heavy = True  # its floor run costs more than the default suite's share (measured: see the closing note)

    def compute(self, key, scale):
        import jax

        from .._config import x64
        from ..families import Gaussian, Poisson, Regression
        from ..theory import gaussian as thg
        from ..theory import golden_ratio as thr

        chains = scaled(CHAINS, scale, minimum=64)
        ks = jax.random.split(key, 3)
        t = np.arange(AVG_FROM, AVG_TO + 1)
        with x64():
            per_chain = _run(ks[0], Gaussian(np.zeros(DIM), np.eye(DIM), "mle"),
                             ("mean_sq_err", "trace", "log_det_ratio"), chains,
                             lambda q: {"gaussian_mean": q["mean_sq_err"],
                                        "gaussian_cov": _cov_error(q["trace"], np.exp(q["log_det_ratio"]))})
            per_chain |= _run(ks[1], Regression(np.ones(DIM), 1.0, 1.0), ("excess_risk",), chains,
                              lambda q: {"ols": q["excess_risk"]})
            per_chain |= _run(ks[2], Poisson(1.0), ("sq_err",), chains, lambda q: {"poisson": q["sq_err"]})
            chains = per_chain["poisson"].shape[1]  # whole chunks: at least the scaled count
            exact = {
                "gaussian_mean": np.array([np.asarray(thg.mixed_mean_sq_err(
                    t, N_REAL, N_SYN, 1.0 - w, float(DIM), real="fresh", estimator="mle")).mean() for w in WS]),
                "poisson": np.array([np.asarray(thg.mixed_mean_sq_err(
                    t, N_REAL, N_SYN, 1.0 - w, 1.0, real="fresh", estimator="mean")).mean() for w in WS]),
            }
        # He et al.'s asymptotic law: v (w^2/n + (1-w)^2/m) / (1 - (1-w)^2), v = tr Sigma (mean), sigma^2 tr Sigma^-1
        # (OLS), tr Sigma^2 + (tr Sigma)^2 (covariance, Frobenius), lambda_0 (Poisson rate)
        vs = {"gaussian_mean": DIM, "gaussian_cov": DIM + DIM**2, "ols": DIM, "poisson": 1.0}
        asym = {k: thr.weighted_fresh_error_limit(N_REAL, N_SYN, WS, v, "mean") for k, v in vs.items()}

        lines, columns, notes = [], {"w": WS}, []
        vertices = {}
        for est in ESTIMATORS:
            y = per_chain[est]
            mean, se = y.mean(axis=1), y.std(axis=1, ddof=1) / math.sqrt(chains)
            columns[f"{est}/mean"], columns[f"{est}/se"] = mean, se
            columns[f"{est}/asymptotic"] = asym[est]
            w_hat, w_se = quadratic_vertex(WS, y)
            vertices[est] = (w_hat, w_se)
            w_asym = quadratic_vertex(WS, asym[est])[0]
            if est in EXACT:
                columns[f"{est}/exact"] = exact[est]
                for w in LINE_WS:
                    i = int(np.argmin(np.abs(WS - w)))
                    lines.append(Line(f"{TITLES[est]}: error averaged over t = {AVG_FROM}-{AVG_TO}, w = {WS[i]:.2f}",
                                      mean[i], se[i], exact[est][i],
                                      theory_source="mixed_mean_sq_err, real='fresh' (theory.golden_ratio: derived)"))
                w_th = quadratic_vertex(WS, exact[est])[0]
                lines.append(Line(f"{TITLES[est]}: argmin w (vertex of the quadratic fit on "
                                  f"[{FIT_WINDOW[0]:.2f}, {FIT_WINDOW[1]:.2f}])", w_hat, w_se, w_th,
                                  theory_source="the same fit through the exact error curve"))
                opt = float(thr.weighted_fresh_optimal_weight(N_REAL, N_SYN, "mle" if est == "gaussian_mean"
                                                              else "mean"))
                notes.append(f"{TITLES[est]}: exact optimum of the stationary law {opt:.5f} "
                             f"(1/phi = {thr.INV_PHI:.5f}); the quadratic fit through the exact curve puts it at "
                             f"{w_th:.5f}")
            else:
                lines.append(Line(f"{TITLES[est]}: argmin w (vertex of the quadratic fit on "
                                  f"[{FIT_WINDOW[0]:.2f}, {FIT_WINDOW[1]:.2f}]), no finite-n theory", w_hat, w_se))
                notes.append(f"{TITLES[est]}: argmin {w_hat:.4f} +- {w_se:.4f} against {w_asym:.4f}, the same fit "
                             f"through He et al.'s asymptotic law (its exact optimum 1/phi = {thr.INV_PHI:.5f}); "
                             "no finite-n closed form, so not judged")
        notes += [f"{chains} chains per weight (common random numbers across w), float64, exact statistics path; "
                  f"w grid {WS[0]:.2f}..{WS[-1]:.2f} ({WS.size} values, as np.arange(0.20, 0.80, 0.02) gives it)",
                  "Poisson: the rate model (intercept-only Poisson regression), not the paper's Poisson regression "
                  "on two covariates; logistic regression left out for its cost (a Newton fit per chain and "
                  "generation on the sample path: about 20 minutes at 2,048 chains)"]
        data = {"chains": chains, "vertices": vertices}
        return Result(self.name, scale, lines, columns=columns, data=data, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot
        from ..theory.golden_ratio import INV_PHI

        c = result.columns
        w = c["w"]
        fig = Figure(figsize=(13.0, 3.6), layout="constrained")
        axes = fig.subplots(1, 4)
        for ax, est, color in zip(axes, ESTIMATORS, ("C3", "C0", "C2", "C1"), strict=True):
            n = N_REAL
            ax.errorbar(w, n * c[f"{est}/mean"], yerr=2 * n * c[f"{est}/se"], fmt="o", ms=3, color=color,
                        label="ours (mean $\\pm$ 2 se)")
            if f"{est}/exact" in c:
                plot.draw_theory(ax, w, n * c[f"{est}/exact"], label="exact (finite n)")
            plot.draw_theory(ax, w, n * c[f"{est}/asymptotic"], color="0.5", label="He et al. asymptotic law")
            w_hat, w_se = result.data["vertices"][est]
            ax.axvline(INV_PHI, color="black", lw=0.8, ls="--", label=r"$1/\varphi$")
            ax.axvspan(w_hat - 2 * w_se, w_hat + 2 * w_se, color=color, alpha=0.25, lw=0,
                       label=f"our argmin {w_hat:.3f}")
            ax.set_title(TITLES[est], fontsize="medium")
            ax.set_xlabel("weighting parameter $w$ (real data)")
            ax.set_yscale("log")
            ax.legend(fontsize="x-small")
        axes[0].set_ylabel(f"n x estimation error, averaged over t = {AVG_FROM}-{AVG_TO}")
        fig.suptitle(f"{self.paper}: fresh data, n = m = {N_REAL}, p = {DIM}, {result.data['chains']} chains per w",
                     fontsize="medium")
        return fig


register(He2025GoldenRatio())
