r"""Bertrand et al. 2024 (ICLR): retraining on a fixed real set plus $\lambda$ synthetic samples per real one.

**Setting** (their framework: a fixed data set of real samples, each retraining step fits the model on the
real data plus $\lambda$ times as many samples of the current model; their Gaussian is the warm-up of the
paper). Here: truth $N(0, 1)$, a fixed real set of $n_r = 100$ samples per chain, $n_s =
\mathrm{round}(\lambda n_r)$ synthetic samples per generation, the MLE refit on the pool (`regimes.augment`),
$\lambda \in \{0, 0.25, 0.5, 1, 2, 4, 8, 16\}$, 200 generations. Model 0 is the truth.

**Theory** (`jaxcollapse.theory.stability`, derived there exactly for this Gaussian). The first moments
contract towards the real data's MLE $\theta^* = (\bar x_D, \sigma^2_D)$ at the rate $a = \lambda/(1 + \lambda)$:
$E[(\mu_t - \bar x_D)(\mu - \bar x_D)] = a^t\sigma^2/n_r$ (`augment_contraction_moment`); the chain settles at
a stationary error $E(\mu_\infty - \mu)^2$ (`augment_stationary_mean_sq_err`) made of the real set's own
$\sigma^2/n_r$ and the retraining's error around $\theta^*$, $E(\mu_\infty - \bar x_D)^2$
(`augment_real_fit_sq_err`); the variance follows by conservation, $E\sigma_t^2 = \sigma^2 - E(\mu_t - \mu)^2$.
The stationary error grows with $\lambda$ but stays below its limit $3\sigma^2/(2n_r + 1)$
(`augment_stationary_limit`): **for the Gaussian there is no stability threshold in $\lambda$**, only a slower
approach ($1 - A \approx (2n_r + 1)/n_s$). At $t = 200$ every $\lambda$ here is stationary to $a^{200} \le 6\cdot
10^{-6}$, far below the standard errors; the lines use the exact finite-$t$ values all the same.

**What is not here.** Bertrand et al.'s stability condition (a bound on $\lambda$ in terms of the model's
Lipschitz and strong-concavity constants and its distance to the data) and their contraction bound: the
stored copies of the paper hold its first page only, so their exact statements could not be read, and no
constant of theirs is implemented. The exact Gaussian analysis above takes their place; it shows their
sufficient condition is not necessary for this family (the loop is stable for every $\lambda$).
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Line, Reproduction, Result, register, scaled

N_REAL = 100
LAMS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
LINE_LAMS = (0.25, 1.0, 4.0, 16.0)
GENERATIONS = 200
CHAINS = 16_384
CHUNK = 2048


class Bertrand2024Stability(Reproduction):
    name = "bertrand2024_stability"
    paper = "Bertrand et al. 2024 (ICLR)"
    figure_ref = "stability of retraining with a fraction of real data (Gaussian instance)"
    citation = ("Q. Bertrand, A. J. Bose, A. Duplessis, M. Jiralerspong, G. Gidel. On the stability of iterative "
                "retraining of generative models on their own data. ICLR 2024 (arXiv:2310.00429)")
    setup = (f"N(0, 1), a fixed real set of n_r = {N_REAL} per chain plus round(lambda n_r) synthetic samples per "
             f"generation, MLE on the pool (augment), lambda in {list(LAMS)}, {GENERATIONS} generations; the error "
             f"to the truth, to the real data's MLE, and the contraction; {CHAINS} chains at scale 1")
    published = ("none: the stored copies of the paper hold its first page only; their stability condition and "
                 "contraction bound could not be read and are not implemented (see the module docstring)")
    floor = 0.015625

    def compute(self, key, scale):
        import jax

        from .. import engine, regimes
        from .._config import x64
        from ..families import Gaussian
        from ..theory import gaussian as thg
        from ..theory import stability as th

        chains = scaled(CHAINS, scale)
        size = min(chains, CHUNK)
        chunks = math.ceil(chains / size)
        chains = size * chunks
        t = np.arange(GENERATIONS + 1)
        metrics = ("mean_sq_err", "trace", "mean_error")
        sums = {}
        with x64():
            specs = engine.stack_specs([engine.make_spec(Gaussian(0.0, 1.0, "mle"), regimes.augment(N_REAL, lam),
                                                         GENERATIONS) for lam in LAMS])
            acc: dict[str, list] = {}  # running sums and sums of squares over the chunks
            for i in range(chunks):
                res = engine.run_points(jax.random.fold_in(key, i), specs, size, metrics=metrics, quantiles=(),
                                        record_paths=True, record_real=True)
                xbar = np.asarray(res.real.mean, np.float64)[..., 0]  # (points, chains): the real set's MLE mean
                p = {k: np.asarray(v, np.float64) for k, v in res.paths.items()}  # (points, G + 1, chains)
                d = p["mean_error"] - xbar[:, None, :]  # mu_t - xbar_D (the truth's mean is 0)
                for k, x in (("err", p["mean_sq_err"]), ("var", p["trace"]), ("fit", d * d),
                             ("contract", d * (0.0 - xbar)[:, None, :])):
                    s1, s2 = x.sum(axis=-1), (x * x).sum(axis=-1)
                    acc[k] = [s1, s2] if k not in acc else [acc[k][0] + s1, acc[k][1] + s2]
            for k, (s1, s2) in acc.items():
                mean = s1 / chains
                var = np.maximum(s2 / chains - mean * mean, 0.0) * chains / (chains - 1)
                sums[k] = (mean, np.sqrt(var / chains))  # (points, G + 1)
            exact = {"err": np.stack([
                np.where(t == 0, 0.0, 1.0 / N_REAL) if lam == 0  # no synthetic data: the real set's fit
                else np.asarray(thg.augment_mean_sq_err(t.astype(float), N_REAL, lam, 1.0, "mle")) for lam in LAMS])}
        exact["var"] = 1.0 - exact["err"]
        exact["fit"] = np.stack([th.augment_real_fit_sq_err(t, N_REAL, lam) for lam in LAMS])
        exact["contract"] = np.stack([th.augment_contraction_moment(t, N_REAL, lam) for lam in LAMS])
        stationary = th.augment_stationary_mean_sq_err(N_REAL, np.array(LAMS))
        limit = float(th.augment_stationary_limit(N_REAL))

        lines, columns = [], {"generation": t}
        labels = {"err": "E(mu_t - mu)^2", "var": "E sigma_t^2", "fit": "E(mu_t - xbar_D)^2",
                  "contract": "E[(mu_t - xbar_D)(mu - xbar_D)]"}
        sources = {"err": "augment_mean_sq_err (= augment_stationary_mean_sq_err to 1e-5 at t = 200)",
                   "var": "conservation: sigma^2 - E(mu_t - mu)^2",
                   "fit": "augment_real_fit_sq_err (derived here)",
                   "contract": "augment_contraction_moment: a^t sigma^2/n_r, a = lambda/(1 + lambda)"}
        for i, lam in enumerate(LAMS):
            for key_ in labels:
                m, s = sums[key_]
                columns[f"lambda={lam:g}/{key_}/mean"] = m[i]
                columns[f"lambda={lam:g}/{key_}/se"] = s[i]
                columns[f"lambda={lam:g}/{key_}/exact"] = exact[key_][i]
            if lam in LINE_LAMS:
                for key_ in ("err", "var", "fit"):
                    m, s = sums[key_]
                    lines.append(Line(f"{labels[key_]}, lambda={lam:g}, t={GENERATIONS} (stationary)",
                                      m[i, GENERATIONS], s[i, GENERATIONS], exact[key_][i, GENERATIONS],
                                      theory_source=sources[key_]))
                m, s = sums["contract"]
                tc = int(round(1.0 + lam))  # about 1/(1 - a): the moment has fallen to about 1/e of its start
                lines.append(Line(f"{labels['contract']}, lambda={lam:g}, t={tc}", m[i, tc], s[i, tc],
                                  exact["contract"][i, tc], theory_source=sources["contract"]))
        notes = [f"{chains} chains per lambda (common random numbers across lambda), float64, exact statistics path",
                 "stationary E(mu - mu*)^2 x n_r: " + ", ".join(f"{N_REAL * v:.4f} (lambda={lam:g})"
                                                                 for lam, v in zip(LAMS, stationary, strict=True))
                 + f"; its lambda -> infinity limit 3 n_r/(2 n_r + 1) = {N_REAL * limit:.4f}: bounded, no threshold",
                 "Bertrand et al.'s stability condition and contraction bound are not reproduced (their statements "
                 "could not be read); the exact Gaussian laws above stand in for them"]
        data = {"chains": chains, "stationary": stationary, "limit": limit}
        return Result(self.name, scale, lines, columns=columns, data=data, notes=notes)

    def figure(self, result):
        from matplotlib.figure import Figure

        from .. import plot

        c = result.columns
        t = c["generation"]
        lams = np.array(LAMS)
        fig = Figure(figsize=(13.0, 4.2), layout="constrained")
        ax_s, ax_f, ax_c = fig.subplots(1, 3)
        # stationary error against lambda (lambda on an ordinal axis: 0 and 16 on one picture)
        x = np.arange(lams.size)
        for key_, color, label in (("err", "C0", r"$E(\mu_T - \mu)^2$ (to the truth)"),
                                   ("fit", "C1", r"$E(\mu_T - \bar x_D)^2$ (to the real data's MLE)")):
            m = np.array([c[f"lambda={lam:g}/{key_}/mean"][-1] for lam in LAMS])
            s = np.array([c[f"lambda={lam:g}/{key_}/se"][-1] for lam in LAMS])
            e = np.array([c[f"lambda={lam:g}/{key_}/exact"][-1] for lam in LAMS])
            ax_s.errorbar(x, N_REAL * m, yerr=2 * N_REAL * s, fmt="o", color=color, label=label + r", $\pm$ 2 se")
            plot.draw_theory(ax_s, x, N_REAL * e, color=color)
        plot.reference_line(ax_s, N_REAL * result.data["limit"], r"$\lambda\to\infty$: $3n_r/(2n_r+1)$")
        plot.reference_line(ax_s, 1.0, r"real data alone: $\sigma^2/n_r$")
        ax_s.set_xticks(x, [f"{lam:g}" for lam in LAMS])
        ax_s.set_xlabel(r"synthetic samples per real sample $\lambda$")
        ax_s.set_ylabel(r"$n_r\,\times$ stationary error ($t = 200$)")
        ax_s.set_title("stationary error: bounded for every $\\lambda$", fontsize="medium")
        ax_s.legend(fontsize="x-small", loc="center right")
        # distance to the real data's MLE over time, and the contraction moment
        for i, lam in enumerate(LINE_LAMS):
            color = f"C{i}"
            ax_f.plot(t, N_REAL * c[f"lambda={lam:g}/fit/mean"], color=color, lw=1.4, label=f"$\\lambda$ = {lam:g}")
            plot.draw_theory(ax_f, t, N_REAL * c[f"lambda={lam:g}/fit/exact"], color=color)
            ax_c.plot(t, N_REAL * c[f"lambda={lam:g}/contract/mean"], color=color, lw=1.4,
                      label=f"$\\lambda$ = {lam:g}")
            plot.draw_theory(ax_c, t, N_REAL * c[f"lambda={lam:g}/contract/exact"], color=color)
        ax_f.set_xscale("symlog", linthresh=1)
        ax_f.set_xlabel("generation $t$")
        ax_f.set_ylabel(r"$n_r\,E(\mu_t - \bar x_D)^2$")
        ax_f.set_title("retraining error around the real data's MLE", fontsize="medium")
        ax_f.legend(fontsize="x-small")
        ax_c.set_xlim(0, 60)
        ax_c.set_xlabel("generation $t$")
        ax_c.set_ylabel(r"$n_r\,E[(\mu_t - \bar x_D)(\mu - \bar x_D)]$")
        ax_c.set_title(r"contraction at the rate $\lambda/(1 + \lambda)$ (dots: $a^t$)", fontsize="medium")
        ax_c.legend(fontsize="x-small")
        fig.suptitle(f"{self.paper}: Gaussian, n_r = {N_REAL}, {result.data['chains']} chains per $\\lambda$",
                     fontsize="medium")
        return fig


register(Bertrand2024Stability())
