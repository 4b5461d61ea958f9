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
# # The three error sources of model collapse, and curation
#
# Shumailov et al. (2024) name three sources of collapse: **statistical** error (finite samples),
# **functional expressivity** error (a family too small for the truth) and **functional approximation**
# error (the learning procedure itself). An exact maximum-likelihood family shows only the first. Here
# one truth, a two-component Gaussian mixture in 2-D, is refit generation after generation
# (replace, $n = 1000$ samples per generation, Shumailov et al.'s mixture setting) by
#
# - (i) the right family, $K = 2$, fitted by EM to convergence: statistical error only;
# - (ii) one Gaussian, $K = 1$: expressivity error (plus statistical);
# - (iii) the right family fitted by truncated EM (2 iterations from a random start): approximation
#   error (plus statistical). With $K = 1$ EM is exact in one step, so (ii)+(iii) is (ii).
#
# **A result derived here: the spread is blind to (ii) and (iii).** One M-step with responsibilities
# $r_{ik}$ sets $\pi_k = N_k/n$, $\mu_k = \sum_i r_{ik}x_i/N_k$,
# $\Sigma_k = \sum_i r_{ik}(x_i-\mu_k)(x_i-\mu_k)^\top/N_k$;
# summing, $\sum_k\pi_k\mu_k = \bar x$ and $\sum_k\pi_k(\Sigma_k + \mu_k\mu_k^\top) = \frac1n\sum_i x_ix_i^\top$,
# *whatever the responsibilities*. The refit mixture's mean and covariance are the sample's, as for one
# Gaussian, so $E\,\mathrm{tr}\,\mathrm{Cov}_t = (1 - 1/n)^t\,\mathrm{tr}\,\mathrm{Cov}_0$ for every $K$, start and
# number of EM iterations (`theory.mixture_spread_mean`; no covariance floor, no dead component).
# The three sources differ in the *shape*: the closed-form $L^2$ distance $\|p_t - p^*\|_2^2$ and the KL
# divergence $\mathrm{KL}(p^*\|p_t)$.
#
# **Curation** (Feng et al. 2024; Ferbach et al. 2024): a verifier scores every synthetic sample (here
# by the truth's log-density) and only the top fraction is refit. It anchors the mean to the truth but
# cuts the tails, so the variance collapses *faster*: curation distorts collapse rather than stopping it.
#
# Checks are Monte Carlo means over chains with their standard errors, $|z| < 4$ stated up front,
# fixed keys; a claimed difference between two runs must exceed 4 standard errors of the difference.

# %%
import math
import os
import time

import jax
import numpy as np
from matplotlib.figure import Figure

import jaxcollapse as jc
from jaxcollapse import regimes, theory
from jaxcollapse.curation import curate
from jaxcollapse.families.mixture import moment_matched

SCALE = float(os.environ.get("JAXCOLLAPSE_NB_SCALE", "1.0"))  # multiplies the chain counts
FIGDIR = os.environ.get("JAXCOLLAPSE_NB_FIGDIR")
CHAINS = max(16, int(round(400 * SCALE)))
N = 1000  # samples per generation (Shumailov et al.)
G = 200 if SCALE >= 0.5 else 80  # generations (the suite's reduced scale also shortens the horizon)
Z_BOUND = 4.0
START = time.perf_counter()
print(f"chains = {CHAINS}, n = {N}, generations = {G}, scale = {SCALE}")


def tick(what: str) -> None:
    print(f"[{time.perf_counter() - START:6.1f} s] {what}")


def show(fig, name: str):
    """Save `fig` under $JAXCOLLAPSE_NB_FIGDIR (if set) and display it when running in Jupyter."""
    if FIGDIR:
        os.makedirs(FIGDIR, exist_ok=True)
        fig.savefig(os.path.join(FIGDIR, f"{name}.png"), dpi=110)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        from IPython.display import display

        display(fig)


FAILED: list[str] = []


def zcheck(label: str, est: float, se: float, expected: float) -> None:
    z = (est - expected) / se if se > 0 else (0.0 if est == expected else math.inf)
    ok = abs(z) < Z_BOUND
    print(f"  {'PASS' if ok else 'FAIL'} {label}: sim {est:.5g} +- {se:.2g}, theory {expected:.5g}, z = {z:+.2f}")
    if not ok:
        FAILED.append(label)


def gap(label: str, a, b, metric: str, t: int, sign: int) -> float:
    """z of mean_a - mean_b at t; records a failure unless sign * z > 4."""
    d = float(a.mean(metric)[t]) - float(b.mean(metric)[t])
    se = math.hypot(float(a.stderr(metric)[t]), float(b.stderr(metric)[t]))
    z = d / se
    ok = sign * z > Z_BOUND
    print(f"  {'PASS' if ok else 'FAIL'} {label}: difference {d:+.4g} (z = {z:+.1f}, needs {'>' if sign > 0 else '<'}"
          f" {sign * Z_BOUND:+g})")
    if not ok:
        FAILED.append(label)
    return z


# %% [markdown]
# ## 1. Three learners, one truth
#
# The truth: weights $(\tfrac12, \tfrac12)$, means $(\mp 2, 0)$, identity covariances. Float64, no
# covariance floor (`reg = 0`); components die only at zero mass (`min_count = 0`).

# %%
KEY = jax.random.key(2024)
METRICS = ("spread", "l2sq", "kl", "weight_min", "dead")
with jc.x64():
    common = dict(reg=0.0, min_count=0.0, eval_size=1024)
    truth = jc.GaussianMixture([0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], 1.0, em_iters=200, tol=1e-6, **common)
    learners = {
        "(i) statistical: K = 2, EM to convergence": truth,
        "(ii) expressivity: K = 1": moment_matched(truth),
        "(iii) approximation: K = 2, 2 EM iterations, random start": jc.GaussianMixture(
            [0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], 1.0, em_iters=2, tol=0.0, init="random", **common),
    }
    runs = {}
    for i, (label, model) in enumerate(learners.items()):
        runs[label] = jc.simulate(jax.random.fold_in(KEY, i), model, regimes.replace(N), G, CHAINS, truth=truth,
                                  path="samples", metrics=METRICS, record_paths=True, quantiles=(0.05, 0.5, 0.95))
        tick(label)
    spread0 = float(np.trace(np.asarray(truth.moments()[1])))
    l2_expressivity0 = float(learners["(ii) expressivity: K = 1"].metrics(
        truth, jc.Stream.from_key(jax.random.key(0)))["l2sq"])  # l2sq is exact: the stream is unused

# %% [markdown]
# **The spread follows the one-Gaussian law for all three learners** ($E\,\mathrm{tr\,Cov}_t = (1-1/n)^t\,
# \mathrm{tr\,Cov}_0$), checked at $t = 10, 50, G$ ($G = 200$ at full scale).

# %%
TS = (10, 50, G)
for label, traj in runs.items():
    for t in TS:
        zcheck(f"{label[:4]} E spread_{t}", float(traj.mean("spread")[t]), float(traj.stderr("spread")[t]),
               float(theory.mixture_spread_mean(t, N, spread0)))

# %% [markdown]
# **Per-generation rates, side by side.** The spread's log-rate $r = -E[\ln s_G - \ln s_0]/G$ (about
# $1/n$ for every source: the mean law above, plus a small typical-path correction) against the growth
# per generation of the $L^2$ distance and of the KL divergence, which separate the sources.

# %%
from jaxcollapse.recipes.decomposition import rates_table  # noqa: E402  (the decomposition recipe's table)

print(rates_table(runs, G))

stat, expr, approx = runs.values()
print("expressivity: an L2 error from generation 0,", f"{l2_expressivity0:.4f}")
gap("(ii) - (i) L2 at t = 1 (the expressivity error)", expr, stat, "l2sq", 1, +1)
gap("(iii) - (i) L2 at t = 1 (the approximation error)", approx, stat, "l2sq", 1, +1)
d_stat = np.asarray(stat.paths["l2sq"], np.float64)
growth = d_stat[G] - d_stat[1]
zg = growth.mean() / (growth.std(ddof=1) / math.sqrt(growth.size))
print(f"  {'PASS' if zg > Z_BOUND else 'FAIL'} (i) L2 grows from t = 1 to t = {G}: z = {zg:.1f}")
if not zg > Z_BOUND:
    FAILED.append("(i) L2 growth")
tick("decomposition")

# %%
fig = Figure(figsize=(11, 7.5))
axes = fig.subplots(2, 2)
ts = np.arange(G + 1)
for (label, traj), color in zip(runs.items(), ("C0", "C1", "C2"), strict=True):
    axes[0, 0].plot(ts, np.asarray(traj.mean("spread")), color=color, label=label)
    axes[0, 1].plot(ts, np.asarray(traj.mean("l2sq")), color=color)
    axes[1, 0].plot(ts, np.asarray(traj.mean("kl")), color=color)
    axes[1, 1].plot(ts, np.asarray(traj.mean("weight_min")), color=color)
axes[0, 0].plot(ts, np.asarray(theory.mixture_spread_mean(ts, N, spread0)), "k--", lw=1, label="$(1-1/n)^t$ tr Cov$_0$")
axes[0, 0].set_ylabel("E spread (trace of the covariance)")
axes[0, 1].set_ylabel("E $\\|p_t - p^*\\|_2^2$")
axes[1, 0].set_ylabel("E KL$(p^* \\| p_t)$ (Monte Carlo)")
axes[1, 1].set_ylabel("E smallest component weight")
for ax in axes.flat:
    ax.set_xlabel("generation $t$")
axes[0, 0].legend(fontsize=7)
fig.suptitle(f"Two-component mixture, n = {N}, replace, {CHAINS} chains")
fig.tight_layout()
show(fig, "error_sources")

# %% [markdown]
# ## 2. Curation
#
# A verifier keeps the most typical fraction of each generation's samples by the truth's log-density.
# For the Gaussian ($n = 20$, MLE) and the mixture ($n = 1000$, EM): the curated variance collapses faster
# than plain refitting, while the curated Gaussian's mean stays nearer the truth (the verifier pulls it
# back). The exact one-step law of a noisy threshold verifier is `theory.curated_gaussian_one_step`
# (checked in `jaxcollapse verify`, check `curation.gaussian_threshold`).

# %%
GC = 10
with jc.x64():
    g = jc.Gaussian(0.0, 1.0)
    kw = dict(path="samples", metrics=("trace", "mean_sq_err"), quantiles=())
    g_plain = jc.simulate(jax.random.fold_in(KEY, 10), g, regimes.replace(20), GC, 50 * CHAINS, **kw)
    g_cur = jc.simulate(jax.random.fold_in(KEY, 11), g, curate(regimes.replace(20), keep=0.8), GC, 50 * CHAINS, **kw)
    m_cur = jc.simulate(jax.random.fold_in(KEY, 12), truth, curate(regimes.replace(N), keep=0.9), GC, CHAINS,
                        path="samples", metrics=METRICS, quantiles=())
    tick("curation")
zcheck("uncurated Gaussian E sigma_10^2", float(g_plain.mean("trace")[GC]), float(g_plain.stderr("trace")[GC]),
       float(theory.mle_variance(GC, 20, 1.0)))
gap("curated - plain Gaussian variance at t = 10", g_cur, g_plain, "trace", GC, -1)
gap("curated - plain Gaussian mean error at t = 10", g_cur, g_plain, "mean_sq_err", GC, -1)
gap("curated - plain mixture spread at t = 10", m_cur, stat, "spread", GC, -1)

fig = Figure(figsize=(10, 3.8))
ax1, ax2 = fig.subplots(1, 2)
tg = np.arange(GC + 1)
ax1.semilogy(tg, np.asarray(g_plain.mean("trace")), label="Gaussian, plain")
ax1.semilogy(tg, np.asarray(g_cur.mean("trace")), label="Gaussian, top 80% kept")
ax1.semilogy(tg, np.asarray(stat.mean("spread"))[: GC + 1] / spread0, label="mixture, plain (relative)")
ax1.semilogy(tg, np.asarray(m_cur.mean("spread")) / spread0, label="mixture, top 90% kept (relative)")
ax1.set_xlabel("generation $t$")
ax1.set_ylabel("E variance / spread")
ax1.legend(fontsize=7)
ax2.plot(tg, np.asarray(g_plain.mean("mean_sq_err")), label="plain")
ax2.plot(tg, np.asarray(g_cur.mean("mean_sq_err")), label="curated")
ax2.set_xlabel("generation $t$")
ax2.set_ylabel("Gaussian E$(\\mu_t - \\mu)^2$")
ax2.legend(fontsize=7)
fig.tight_layout()
show(fig, "curation")

# %% [markdown]
# ## Summary asserts

# %%
tick("done")
assert not FAILED, f"failed checks: {FAILED}"
assert all(np.all(np.isfinite(np.asarray(r.mean("spread")))) for r in runs.values())
print("all checks passed")
