# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Predicting collapse
#
# Given a few generations of a recursive-training experiment, infer *why* a model collapses and
# *when* it will. A positive spread statistic $s_t$ (here the variance of a refitted Gaussian) changes
# per generation by
# $$\frac{s_{t+1}}{s_t} = \kappa\,\frac{\chi^2_{n_{\rm eff}-1}}{n_{\rm eff}},$$
# a finite-sample factor (an effective sample size $n_{\rm eff}$) times a function-approximation factor
# $\kappa$ (for a Gaussian refit by maximum likelihood from $n$ samples drawn at temperature $\tau$:
# $n_{\rm eff} = n$ and $\kappa = \tau^2$, exactly). The collapse rate splits into two terms,
# $$r = -E\ln\frac{s_{t+1}}{s_t}
# = \underbrace{-\big[\psi(\tfrac{n_{\rm eff}-1}{2}) + \ln\tfrac{2}{n_{\rm eff}}\big]}_{r_{\rm sample}}
# \;\underbrace{-\,\ln\kappa}_{r_{\rm approx}},$$
# and both $n_{\rm eff}$ and $\kappa$ are identified from the log ratios $y = \ln(s_{t+1}/s_t)$:
# $\mathrm{Var}\,y = \psi'(\tfrac{n_{\rm eff}-1}{2}) \approx 2/n_{\rm eff}$ pins down $n_{\rm eff}$, and the mean
# then pins down $\kappa$. The likelihood of $y$ is an exact log-chi-square density, which depends on the
# data only through the number of pairs, $\sum y$ and $\sum e^y$ — so a NUTS fit costs the same for ten
# chains or a million.
#
# This notebook (1) recovers $n_{\rm eff}$ and $\kappa$ from simulated chains with known values,
# hierarchically across three sample sizes sharing one $\kappa$; (2) shows the decomposition of the rate;
# (3) runs simulation-based calibration (Talts et al. 2018); (4) forecasts generation 50 from the first 5
# generations and checks the coverage; (5) predicts the rate *before any recursion* from one-step
# fit-and-refit measurements; (6) predicts learned configurations that were left out of the fit, from
# covariates measured in one step ($\ln\kappa$ regressed on them across a design of configurations);
# (7) recomputes a small version of the per-family forecast calibration table; (8) compares the estimate
# of the finite-sample term with population genetics' estimators of the effective population size on
# the same Wright–Fisher data. It ends in asserts.
#
# **Rules.** Recovery: the truth within 4 posterior standard deviations of the posterior mean (and a
# wrong explanation — no approximation error, $\kappa = 1$ — outside). Coverage of 90% intervals over
# $M$ cases: the hit count within the central binomial$(M, 0.9)$ range of probability 0.998 (of a 50%
# interval: binomial$(M, 0.5)$). SBC: rank chi-square $p > 0.01/3$ per parameter (Bonferroni over 3). A
# Monte Carlo mean (a bias, a coverage with its standard error): $|z| < 4$. At full size only, the criteria
# of issue 17: 90% coverage in $[0.80, 0.97]$. All keys are fixed.
#
# References: Shumailov et al. (2024), *AI models collapse when trained on recursively generated data*,
# Nature 631 (the log-chi-square walk); Talts, Betancourt, Simpson, Vehtari and Gelman (2018),
# *Validating Bayesian inference algorithms with simulation-based calibration*; Waples (1989) and
# Hui and Burt (2015) for the same inverse problem (effective population size from allele-frequency
# time series) in population genetics.

# %%
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import time

import jax
import numpy as np
from matplotlib.figure import Figure
from scipy import stats as sst

import jaxcollapse as jc
from jaxcollapse import bayes, regimes, theory
from jaxcollapse import predict as P

SCALE = float(os.environ.get("JAXCOLLAPSE_NB_SCALE", "1.0"))
FIGDIR = os.environ.get("JAXCOLLAPSE_NB_FIGDIR")
CHAINS = max(40, int(round(2000 * SCALE)))
SBC_DATASETS = max(20, int(round(100 * min(SCALE, 1.0))))
FULL = SCALE >= 1.0
NS = (20, 50, 100)
TAU = 0.97
KAPPA = TAU**2
G_FIT, G_ALL = 20, 50
Z_BOUND = 4.0
SAMPLER = dict(num_warmup=500 if FULL else 300, num_samples=1000 if FULL else 400, num_chains=4 if FULL else 2)
START = time.perf_counter()
RESULTS: list[tuple[str, bool]] = []
print(f"chains = {CHAINS}, SBC datasets = {SBC_DATASETS}, scale = {SCALE}")


def tick(what: str) -> None:
    print(f"[{time.perf_counter() - START:6.1f} s] {what}")


def show(fig, name: str):
    if FIGDIR:
        os.makedirs(FIGDIR, exist_ok=True)
        fig.savefig(os.path.join(FIGDIR, f"{name}.png"), dpi=110)
        tick(f"saved {name}.png")
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        from IPython.display import display

        display(fig)


def record(label: str, ok: bool) -> None:
    RESULTS.append((label, bool(ok)))
    print(("PASS " if ok else "FAIL ") + label)


def zrec(label: str, post, name: str, truth: float, group: int | None = None, expect_inside: bool = True):
    s = post.samples(name)
    s = s if group is None else s[:, group]
    z = (s.mean() - truth) / s.std()
    print(f"{label}: posterior {s.mean():.5g} ± {s.std():.3g}, truth {truth:.5g}, z {z:+.2f}")
    record(label, (abs(z) < Z_BOUND) == expect_inside)


def binom_range(m: int, p: float = 0.9, mass: float = 0.998) -> tuple[int, int]:
    a = (1 - mass) / 2
    return int(sst.binom.ppf(a, m, p)), int(sst.binom.isf(a, m, p))


# %% [markdown]
# ## 1. Recovery: three sample sizes, one learner
#
# Chains of the 1-D Gaussian MLE refit on $n \in \{20, 50, 100\}$ samples drawn at $\tau = 0.97$
# ($\kappa = 0.9409$), 20 generations observed. One model, one $\kappa$, one $n_{\rm eff}$ per
# configuration.

# %%
paths = {}
with jc.x64():
    for i, n in enumerate(NS):
        traj = jc.simulate(jax.random.key(10 + i), jc.Gaussian(0.0, 1.0), regimes.replace(n, temperature=TAU), G_ALL,
                           CHAINS, metrics=("trace",), quantiles=(), record_paths=True)
        paths[n] = np.asarray(traj.paths["trace"], np.float64)
tick("simulated")
post = bayes.fit(jax.random.key(1), [paths[n][: G_FIT + 1] for n in NS], **SAMPLER)
print(post.summary())
tick("fitted")
for g, n in enumerate(NS):
    zrec(f"n_eff[{g}] recovers n = {n}", post, "n_eff", n, g)
    zrec(f"rate[{g}] recovers r(n = {n}, kappa)", post, "rate", float(theory.collapse_rate(n, KAPPA)), g)
zrec("kappa recovers tau^2", post, "kappa", KAPPA)
zrec("kappa = 1 (no approximation error) is rejected", post, "kappa", 1.0, expect_inside=False)

# %% [markdown]
# ## 2. The decomposition of the rate
#
# Per configuration: the posterior of $r_{\rm sample}(n_{\rm eff})$ (shrinks like $2/n$) and of the shared
# $r_{\rm approx} = -\ln\kappa$, against their true values.

# %%
fig = Figure(figsize=(7, 3.6))
ax = fig.add_subplot(1, 1, 1)
x = np.arange(len(NS))
rs, ra = post.samples("r_sample"), post.samples("r_approx")
ax.bar(x - 0.2, rs.mean(0), 0.4, yerr=rs.std(0) * 2, label="$r_{\\rm sample}$ (posterior, ±2 sd)", color="tab:blue")
ax.bar(x + 0.2, np.full(len(NS), ra.mean()), 0.4, yerr=2 * ra.std(), label="$r_{\\rm approx}$ (posterior, ±2 sd)",
       color="tab:orange")
ax.scatter(x - 0.2, [float(theory.rate_sample(n)) for n in NS], color="k", zorder=3, label="truth")
ax.scatter(x + 0.2, [-np.log(KAPPA)] * len(NS), color="k", zorder=3)
ax.set_xticks(x, [f"n = {n}" for n in NS])
ax.set_ylabel("per-generation rate")
ax.set_title("collapse rate = finite-sample term + approximation term")
ax.legend(fontsize=8)
fig.tight_layout()
show(fig, "rate_decomposition")

# %% [markdown]
# ## 3. Simulation-based calibration
#
# Datasets of 20 chains × 10 generations, parameters drawn from the prior, all fitted in one vectorized
# NUTS run (the joint posterior of independent datasets is the product of their posteriors). Uniform
# ranks and 90% intervals that cover about 90% of the truths show that the sampler and the likelihood
# are right; a simulator with twice the degrees of freedom (a factor-2 slip in $\mathrm{Var}\ln\chi^2_k
# \approx 2/k$) is rejected.

# %%
L, BINS = (99, 10) if FULL else (59, 5)
sbc_kw = dict(chains=20, generations=10, num_warmup=SAMPLER["num_warmup"], num_samples=SAMPLER["num_samples"],
              num_chains=2, L=L, bins=BINS)
res = bayes.sbc(jax.random.key(2), SBC_DATASETS, **sbc_kw)
print(res.summary())
tick("SBC")
lo_ok, hi_ok = binom_range(SBC_DATASETS)
for j, p in enumerate(res.params):
    record(f"SBC ranks of {p} uniform (p = {res.pvalues[j]:.3f})", res.pvalues[j] > 0.01 / 3)
    hits = int(res.covered[:, j].sum())
    record(f"SBC 90% intervals of {p} cover {hits}/{SBC_DATASETS}", lo_ok <= hits <= hi_ok)
    if FULL:
        record(f"SBC coverage of {p} in [0.85, 0.95]", 0.85 <= res.coverage[j] <= 0.95)


def wrong(key, n_eff, kappa, chains, generations, divisor):
    return bayes.exact_log_ratios(key, 2 * n_eff - 1, kappa, chains, generations, divisor)


bad = None
if FULL:  # (tests/test_bayes.py shows the same rejection at reduced size)
    bad = bayes.sbc(jax.random.key(2), SBC_DATASETS, simulator=wrong, **sbc_kw)
    print(bad.summary())
    record("SBC rejects the factor-2 simulator", bad.pvalues[0] < 0.01 / 3 or bad.covered[:, 0].sum() < lo_ok)
fig = Figure(figsize=(9, 3))
for j, p in enumerate(res.params):
    ax = fig.add_subplot(1, 3, j + 1)
    ax.hist(res.ranks[:, j], bins=BINS, range=(0, L + 1), color="tab:blue", alpha=0.7, label="model")
    if bad is not None:
        ax.hist(bad.ranks[:, j], bins=BINS, range=(0, L + 1), histtype="step", color="tab:red", label="factor-2 bug")
    ax.axhline(SBC_DATASETS / BINS, color="k", ls=":")
    ax.set_title(f"SBC ranks: {p}")
    ax.legend(fontsize=7)
fig.tight_layout()
show(fig, "sbc_ranks")

# %% [markdown]
# ## 4. Forecasting generation 50 from generations 0-5
#
# Fit the $n = 50$ chains on their first 5 generations only, then forecast each chain's variance at
# generation 50 (the posterior predictive: posterior uncertainty plus 45 future refits). The 90%
# predictive intervals should cover about 90% of the simulated values.

# %%
v = paths[50]
post5 = bayes.fit(jax.random.key(3), v[:6], **SAMPLER)
fc = bayes.forecast(post5, G_ALL - 5, 0.1, key=jax.random.key(4), start=v[5], start_generation=5, draws=500)
lo, hi = fc.interval(0.9)
hits = int(np.sum((v[G_ALL] >= lo[-1]) & (v[G_ALL] <= hi[-1])))
lo_ok, hi_ok = binom_range(CHAINS)
record(f"forecast 90% intervals at generation 50 cover {hits}/{CHAINS} chains", lo_ok <= hits <= hi_ok)
typical = bayes.forecast(post5, G_ALL - 5, 0.1, key=jax.random.key(5), start=float(np.median(v[5])),
                         start_generation=5)
print(typical.summary())
fig = bayes.forecast_fan(typical, v[:6], truth=v, title="forecast from generations 0-5 against the simulation")
show(fig, "forecast_fan")
tick("forecast")

# %% [markdown]
# ## 5. Prediction before any recursion
#
# Repeat one fit-and-refit step on "real" data (generation 0 → 1), $R$ times, and measure the ratio
# of spreads. With $n$ known, the posterior of $\kappa$ gives the collapse rate with its uncertainty —
# before a single recursive generation has been run. Compare with the rate realized over 50 generations.

# %%
pred = bayes.predict_rate(jax.random.key(6), 50, v[1] / v[0], **SAMPLER)
print(pred.summary())
realized = -np.log(v[G_ALL] / v[0]) / G_ALL
se = realized.std() / np.sqrt(realized.size)
r = pred.samples("rate")[:, 0]
z = (realized.mean() - r.mean()) / np.sqrt(r.var() + se**2)
print(f"predicted rate {r.mean():.4f} ± {r.std():.4f}; realized over 50 generations {realized.mean():.4f} ± {se:.4f}")
record(f"predicted rate matches the realized rate (z {z:+.2f})", abs(z) < Z_BOUND)

# %% [markdown]
# ## 6. Predicting a configuration that was never run recursively
#
# Section 5 needs the learner's one-step ratios *and* assumes that $\kappa$ stays what the first refit
# shows. Across configurations of a learned family (a mixture refitted by truncated EM, a kernel density
# estimate, a VAE, a diffusion model) $\kappa$ depends on what a user can measure in one step: the one-step log error of
# the spread $\overline{\ln(s_1/s_0)} + r_{\rm sample}(n)$ (an estimate of $\ln\kappa$ at the first refit,
# from a few cheap fits, `jaxcollapse.predict.measure`) and the capacity and budget knobs ($\ln n$, EM
# iterations, the bandwidth, width, training steps, learning rate). `bayes.fit_covariates` regresses
# $\ln\kappa_k = \beta_0 + \beta\cdot\tilde x_k + \sigma\varepsilon_k$ across a design of configurations
# (each with the pooled log ratios of its recursion: the exact spread likelihood; $n_{\rm eff}$ free,
# regressed on $\ln n$), and `CovariatePosterior.predict` gives the posterior predictive of a new
# configuration's rate (the regression's uncertainty plus the configuration's own deviation $\sigma$).
#
# The shipped designs (`jaxcollapse/bayes/designs/<family>.csv`, written by `benchmarks/heldout.py`) hold
# configurations that were run recursively. Here each design is split into three folds at random; the model
# is fitted on two and predicts the third. A held-out configuration is covered at level $L$ when its
# measured rate lies in the central $L$ interval of the predictive of a *measurement* of its rate (the
# predictive convolved with that measurement's own standard error, `RatePrediction.interval(L, se=...)`).
# At reduced size: the kde design and one fold; at full size every design and every fold (the full
# five-fold table is `benchmarks/results/heldout.txt` and the README's).

# %%
FOLDS = 3
SPREAD_FAMILIES = tuple(f for f in P.PREDICTABLE if P.model_of(f) == "spread")  # the error families: 6b
HELD = SPREAD_FAMILIES if FULL else ("kde",)
SAMPLER_678 = SAMPLER if FULL else dict(num_warmup=200, num_samples=200, num_chains=2)  # sections 6-8
held = []  # (family, label, measured rate, se, median, lo50, hi50, lo90, hi90)
for fam in HELD:
    d = bayes.read_design(P.design_path(fam))
    folds = np.array_split(np.random.default_rng(7).permutation(d.K), FOLDS)
    for f, test in enumerate(folds if FULL else folds[:1]):
        train = np.setdiff1d(np.arange(d.K), test)
        cpost = bayes.fit_covariates(d.subset(train), key=jax.random.fold_in(jax.random.key(60), f), **SAMPLER_678)
        if f == 0:
            print(cpost.summary())
        for i in test:
            x = {c: float(d.x[i, j]) for j, c in enumerate(d.columns)}
            pr = cpost.predict(x, float(d.n[i]), key=jax.random.fold_in(jax.random.key(61), int(i)), horizon=50,
                               threshold=0.8, label=d.labels[i])
            (l5, h5), (l9, h9) = (pr.interval(lv, se=float(d.rate_se[i])) for lv in (0.5, 0.9))
            held.append((fam, d.labels[i], float(d.rate[i]), float(d.rate_se[i]), float(np.median(pr.rate)), l5, h5,
                         l9, h9))
    tick(f"held-out prediction: {fam}")
H = np.array([h[2:] for h in held])
hit50 = int(np.sum((H[:, 3] <= H[:, 0]) & (H[:, 0] <= H[:, 4])))
hit90 = int(np.sum((H[:, 5] <= H[:, 0]) & (H[:, 0] <= H[:, 6])))
M = len(held)
rates_sd = float(np.std([r for fam in HELD for r in bayes.read_design(P.design_path(fam)).rate]))
rmse = float(np.sqrt(np.mean((H[:, 2] - H[:, 0]) ** 2)))
print(f"{'family':<8} {'configuration':<48} {'measured':>18} {'predicted (median, 90%)':>32}")
for fam, lab, r, se, med, _l5, _h5, l9, h9 in held:
    print(f"{fam:<8} {lab[:48]:<48} {r:9.4f} ± {se:.4f}   {med:9.4f} [{l9:8.4f}, {h9:8.4f}]"
          + ("" if l9 <= r <= h9 else "   (missed)"))
print(f"held-out coverage: 50% intervals {hit50}/{M}, 90% intervals {hit90}/{M}; point prediction RMSE {rmse:.4f} "
      f"(the rates' sd across the designs {rates_sd:.4f})")
lo_ok, hi_ok = binom_range(M)
record(f"held-out 90% intervals cover {hit90}/{M} configurations (binomial range [{lo_ok}, {hi_ok}])",
       lo_ok <= hit90 <= hi_ok)
lo5, hi5 = binom_range(M, 0.5)
record(f"held-out 50% intervals cover {hit50}/{M} configurations (binomial range [{lo5}, {hi5}])",
       lo5 <= hit50 <= hi5)
record(f"the point prediction beats the design's mean (RMSE {rmse:.4f} < sd {rates_sd:.4f})", rmse < rates_sd)
if FULL:
    record(f"held-out 90% coverage {hit90 / M:.2f} in [0.80, 0.97] (issue 17)", 0.80 <= hit90 / M <= 0.97)

fig = Figure(figsize=(6.5, 5))
ax = fig.add_subplot(1, 1, 1)
for fam, color in zip(HELD, ("tab:blue", "tab:orange", "tab:green", "tab:purple"), strict=False):
    sel = np.array([h[0] == fam for h in held])
    r, med = H[sel, 0], H[sel, 2]
    ax.errorbar(r, med, yerr=[med - H[sel, 5], H[sel, 6] - med], fmt="o", color=color, ms=4, lw=0.8, capsize=2,
                label=f"{fam}: median, 50% (thick) and 90% intervals")
    ax.errorbar(r, med, yerr=[med - H[sel, 3], H[sel, 4] - med], fmt="none", color=color, lw=3, alpha=0.5)
lim = [float(np.min(H[:, [0, 5]])), float(np.max(H[:, [0, 6]]))]
ax.plot(lim, lim, color="k", lw=0.8, ls=":", label="predicted = measured")
ax.set_xlabel("measured rate of the held-out configuration (its recursion)")
ax.set_ylabel("predicted rate (no recursion)")
ax.set_title(f"held-out configurations: 90% intervals cover {hit90}/{M}", fontsize="medium")
ax.legend(fontsize=8)
fig.tight_layout()
show(fig, "heldout_prediction")

# %% [markdown]
# ### 6b. The error families: the growth of the error per generation
#
# The MLP's test error and the transformer's held-out perplexity grow; their declared model is the
# error-growth one (increments $e_{t+1} - e_t$ with one lumped mean per generation), so what is predicted
# is that growth $g$, in the metric's units, not a decay rate. `bayes.fit_growth` (an error design: `fit_covariates`
# dispatches to it) regresses $\ln g_k$ on the same kind of covariates, with the log one-step increment
# $o_k = \ln(\bar e_1 - \bar e_0)$ as an offset ($\beta = 0$: every generation adds the first step's
# increment), and the log standard deviation of one chain's increments beside it, so that the generation at
# which one chain's error reaches a multiple of $e_1$ has per-chain intervals. The same three folds as above;
# at reduced size the MLP design and one fold, at full size both designs and every fold. The transformer's
# forecast is marked unreliable (its increments shrink with the generation), and every prediction of it
# says so (`jaxcollapse.predict.caveats_of`).

# %%
ERR = tuple(f for f in P.PREDICTABLE if P.model_of(f) == "error") if FULL else ("mlp",)
eheld = []  # (family, measured growth, se, median, lo50, hi50, lo90, hi90)
for fam in ERR:
    d = bayes.read_design(P.design_path(fam))
    folds = np.array_split(np.random.default_rng(7).permutation(d.K), FOLDS)
    for f, test in enumerate(folds if FULL else folds[:1]):
        train = np.setdiff1d(np.arange(d.K), test)
        gpost = bayes.fit_covariates(d.subset(train), key=jax.random.fold_in(jax.random.key(62), f), **SAMPLER_678)
        if f == 0:
            print(gpost.summary())
        for i in test:
            x = {c: float(d.x[i, j]) for j, c in enumerate(d.columns)}
            pr = gpost.predict(x, float(d.n[i]), key=jax.random.fold_in(jax.random.key(63), int(i)), horizon=50,
                               threshold=2.0, start=float(d.e0[i]), label=d.labels[i])
            (l5, h5), (l9, h9) = (pr.interval(lv, se=float(d.rate_se[i])) for lv in (0.5, 0.9))
            eheld.append((fam, float(d.rate[i]), float(d.rate_se[i]), float(np.median(pr.rate)), l5, h5, l9, h9))
        print(pr.summary())
    for c in P.caveats_of(fam):
        print(f"{fam}: warning: {c}")
    tick(f"held-out growth: {fam}")
E = np.array([h[1:] for h in eheld])
ehit50 = int(np.sum((E[:, 3] <= E[:, 0]) & (E[:, 0] <= E[:, 4])))
ehit90 = int(np.sum((E[:, 5] <= E[:, 0]) & (E[:, 0] <= E[:, 6])))
EM = len(eheld)
print(f"error families, held-out growth: 50% intervals {ehit50}/{EM}, 90% intervals {ehit90}/{EM}")
lo_ok, hi_ok = binom_range(EM)
record(f"held-out 90% growth intervals cover {ehit90}/{EM} configurations (binomial range [{lo_ok}, {hi_ok}])",
       lo_ok <= ehit90 <= hi_ok)
lo5, hi5 = binom_range(EM, 0.5)
record(f"held-out 50% growth intervals cover {ehit50}/{EM} configurations (binomial range [{lo5}, {hi5}])",
       lo5 <= ehit50 <= hi5)

# %% [markdown]
# ## 7. Calibration per family: does a forecast's interval hold?
#
# `bayes.forecast_coverage` splits a run's chains into datasets of `per` chains (what one
# ``jaxcollapse forecast`` of a run's CSV sees), fits the family's declared model to each dataset's
# generations $0..k$, forecasts $k+1..G$ and scores the 50% and 90% intervals at generation $G$ (spread: each
# chain's own value; diversity and error: the expected mean, estimated from the other datasets). At reduced
# size: the Gaussian (spread model, the chains of section 1 at $n = 100$) and the categorical family
# (diversity model, $n_{\rm eff} = n$ known), at full size also Poisson (spread) and linear regression (error),
# in the configurations of `benchmarks/calibration.py` with fewer chains. The full table, every family
# (with those whose forecast is marked unreliable, `recipe.forecast_reliable = False`), is
# `benchmarks/results/calibration.txt` and the README's "Forecast calibration per family".

# %%
CALIB = {"categorical": ({"n": 100, "generations": 40, "chains": 4000}, 20, 20)}
if FULL:
    CALIB.update(poisson=({"n": 10, "generations": 40, "chains": 2000}, 20, 20),
                 regression=({"n": 40, "generations": 30, "chains": 4000}, 15, 20))
table = []
cov = bayes.forecast_coverage(jax.random.key(70), paths[100], "spread", k=G_FIT, per=20, **SAMPLER_678)
table.append(("gaussian", "trace", "spread", cov))
for i, (fam, (vals, k, per)) in enumerate(CALIB.items()):
    rec = jc.recipes.get(fam)
    metric = rec.headline[0]
    chains = max(10 * per, int(round(vals["chains"] * min(SCALE, 1.0))))  # at least 10 datasets
    run = jc.recipes.run(rec, {**vals, "chains": chains, "regimes": ["replace"], "metrics": [metric], "seed": 2026},
                         record_paths=True)
    v = np.asarray(run.trajs["replace"].paths[metric], np.float64)
    cov = bayes.forecast_coverage(jax.random.key(71 + i), v, rec.bayes, k=k, per=per,
                                  n_eff=float(vals["n"]) if rec.bayes == "diversity" else None, **SAMPLER_678)
    table.append((fam, metric, rec.bayes, cov))
    tick(f"calibration: {fam}")
print(f"{'family':<12} {'metric':<14} {'model':<10} {'k -> G':>8} {'datasets x chains':>18} {'coverage50':>15} "
      f"{'coverage90':>15}  verdict")
for fam, metric, model, cov in table:
    (c5, s5), (c9, s9) = cov.at(0.5), cov.at(0.9)
    print(f"{fam:<12} {metric:<14} {model:<10} {f'{cov.k} -> {cov.G}':>8} {f'{cov.datasets} x {cov.per}':>18} "
          f"{c5:7.3f} ± {s5:.3f} {c9:7.3f} ± {s9:.3f}  {cov.verdict}")
    z = (c9 - 0.9) / s9 if s9 > 0 else 0.0
    record(f"{fam}: forecast 90% coverage {c9:.3f} ± {s9:.3f} at generation {cov.G} (z {z:+.2f})", abs(z) < Z_BOUND)
    if FULL:
        record(f"{fam}: the {model} model's forecast is calibrated (90% coverage in [0.80, 0.97])", cov.calibrated)

# %% [markdown]
# ## 8. The population-genetics yardstick
#
# The categorical family refitted under `replace(n)` is exactly haploid Wright–Fisher: its effective size
# is $N_e = n$, the finite-sample term of the collapse rate. Population genetics estimates $N_e$ from
# allele counts sampled at every generation ($S$ genes from each generation's population, $L$ independent
# biallelic loci). `benchmarks/popgen.py` (plain numpy) holds the temporal method (Jorde and Ryman's $F_s$,
# haploid, with Waples's chi-square interval) and the exact HMM likelihood of Williamson and Slatkin (1999)
# (the forward algorithm over the hidden counts); `bayes.fit_drift` is the toolkit's model of the same
# sampled counts. All three estimate $N_e$ on the same simulated series ($N_e = n = 100$, $S = 50$, 21
# samples); then the HMM is checked against Williamson and Slatkin's published Table 1 (their design:
# $N = 50$, 50 loci, samples of 100 genes at generations 0 and 8; mean 54 and sd 9 of the ML estimate over
# 200 runs, as read in the table). The full comparison (100 datasets, with the diversity model's bias) is
# `python benchmarks/popgen.py` and the README's "Population-genetics yardstick".

# %%
import importlib.util
import sys
from pathlib import Path


def _repo() -> Path:
    here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    for p in (here, *here.parents):
        if (p / "benchmarks" / "popgen.py").is_file():
            return p
    raise FileNotFoundError("benchmarks/popgen.py not found: run the notebook from the jaxcollapse repository")


_spec = importlib.util.spec_from_file_location("popgen", _repo() / "benchmarks" / "popgen.py")
popgen = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("popgen", popgen)
_spec.loader.exec_module(popgen)

PG = dict(n=100, S=50, T=20, L=50 if FULL else 25, R=30 if FULL else 4, seed=2024)
ests = ("temporal", "hmm", "bayes_drift", "bayes_diversity") if FULL else ("temporal", "hmm", "bayes_drift")
pg = popgen.compare(sampler=SAMPLER_678, estimators=ests, grid=popgen.default_grid(10, 400), **PG)
tick("population genetics")
print(f"{'estimator':<30} {'mean N':>8} {'bias':>15} {'RMSE':>8} {'90% coverage':>13} {'CPU / dataset':>14}")
rows = {r["estimator"]: r for r in pg["rows"]}
for r in pg["rows"]:
    print(f"{r['estimator']:<30} {r['mean']:8.1f} {r['bias']:+8.1f} ± {r['bias_se']:4.1f} {r['rmse']:8.1f} "
          f"{r['coverage']:13.2f} {r['cpu_median_s']:13.3g}s")
lo_ok, hi_ok = binom_range(PG["R"])
for name in ("temporal F_s (chi2 CI)", "HMM exact likelihood", "bayes.fit_drift"):
    r = rows[name]
    hits = int(round(r["coverage"] * r["replicates"]))
    record(f"{name}: 90% intervals cover N_e = {PG['n']} in {hits}/{r['replicates']} datasets", lo_ok <= hits <= hi_ok)
for name in ("HMM exact likelihood", "bayes.fit_drift"):
    r = rows[name]
    z = r["bias"] / r["bias_se"]
    record(f"{name}: bias {r['bias']:+.1f} ± {r['bias_se']:.1f} (z {z:+.2f})", abs(z) < Z_BOUND)
if FULL:
    record("the HMM (every sample) has a smaller RMSE than the temporal method (first and last sample)",
           rows["HMM exact likelihood"]["rmse"] < rows["temporal F_s (chi2 CI)"]["rmse"])
ws = popgen.williamson_slatkin(2024, runs=200 if FULL else 10)
record(f"HMM on Williamson and Slatkin's Table 1 design: mean {ws['mu_ML']:.1f} against the published "
       f"{ws['published']['mu_ML']} (z {ws['z_mu_ML']:+.2f})", abs(ws["z_mu_ML"]) < Z_BOUND)
tick("Williamson-Slatkin")

fig = Figure(figsize=(10, 3.4))
ax1, ax2 = fig.subplots(1, 2, sharey=True)
yy = np.arange(len(pg["rows"]))[::-1]
for y, r in zip(yy, pg["rows"], strict=True):
    ax1.errorbar([r["bias"]], [y], xerr=[2 * r["bias_se"]], fmt="o", color="k", ms=4, capsize=3)
    ax2.errorbar([r["coverage"]], [y], xerr=[2 * r["coverage_se"]], fmt="o", color="k", ms=4, capsize=3)
ax1.axvline(0, color="tab:red", ls=":")
ax2.axvline(0.9, color="tab:red", ls=":")
ax1.set_yticks(yy, [r["estimator"] for r in pg["rows"]], fontsize=8)
ax1.set_xlabel(f"bias of the N_e estimate (truth {PG['n']}), ± 2 se")
ax2.set_xlabel("coverage of the 90% interval, ± 2 se")
fig.suptitle(f"N_e from sampled allele counts: {PG['R']} datasets x {PG['L']} loci, S = {PG['S']}, "
             f"{PG['T'] + 1} samples", fontsize="medium")
fig.tight_layout()
show(fig, "popgen_yardstick")

# %%
tick("done")
failed = [label for label, ok in RESULTS if not ok]
print(f"{len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed")
assert not failed, failed
assert len(RESULTS) >= (39 if FULL else 27)
