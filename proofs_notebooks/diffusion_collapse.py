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
# # Diffusion models refit on their own samples
#
# `jaxcollapse.Diffusion` is a flow-matching model (Lipman et al. 2023): a velocity network $v(x, t)$
# trained with AdamW inside the engine's generation step, one network per chain, sampled by integrating
# $\dot x = v(x, t)$ from noise ($t = 0$) to data ($t = 1$) with a fixed number of Euler or Heun steps.
# Generation 0 is the truth; every later generation trains a fresh network on the previous one's samples.
#
# **What this notebook shows** (every claim is asserted at the end):
#
# 1. **The Gaussian limit.** With the affine velocity $v = A(t)x + b(t)$ the flow-matching optimum on $n$
#    rows is the exact velocity of $N(\hat m, \hat C)$, $\hat C$ of divisor $n$ (derived in
#    `jaxcollapse.families.diffusion`), so a trained model is the Gaussian MLE up to its training error.
#    We measure that error, then check the Gaussian law $E\,\mathrm{tr}\,\Sigma_t = (1 - 1/n)^t\,
#    \mathrm{tr}\,\Sigma$ on the diffusion model (|z| < 4).
# 2. **Mode loss on a mixture.** An MLP velocity network on an 8-component 2-D mixture loses spread,
#    precision and whole modes under replace; accumulating the data slows it (asserted: the paired
#    difference of the spread at the last generation, one-sided, beyond 4 standard errors). At full
#    scale fresh real data and self-correction (Gillman et al. 2024's operator as the engine implements it:
#    each synthetic sample replaced by a truth draw with probability $\gamma/(1+\gamma)$) run beside them.

# %%
from __future__ import annotations

import math
import os
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

import jaxcollapse as jc
from jaxcollapse import datasets, regimes
from jaxcollapse.theory import gaussian as thg
from jaxcollapse.verify.diffusion import refit_error

START = time.perf_counter()
SCALE = float(os.environ.get("JAXCOLLAPSE_NB_SCALE", "1.0"))  # multiplies the chain counts
FIGDIR = os.environ.get("JAXCOLLAPSE_NB_FIGDIR")
Z_BOUND = 4.0


def chains(base: int, floor: int) -> int:
    return max(floor, int(round(base * SCALE)))


def save(fig, name: str) -> None:
    if FIGDIR:
        os.makedirs(FIGDIR, exist_ok=True)
        fig.savefig(os.path.join(FIGDIR, f"{name}.png"), dpi=110)
    plt.close(fig)


print(f"scale = {SCALE}")

# %% [markdown]
# ## 1. The Gaussian limit
#
# Truth $N(0, \Sigma)$ with $\Sigma = [[1, 0.3], [0.3, 0.5]]$, $n = 32$ rows per generation, replace.
# The affine model: a time MLP of width 16 and depth 2 giving $A(t), b(t)$, 1,000 AdamW steps on the
# flow-matching loss with the noise integrated out in closed form, Heun with 16 steps. The model's law is
# exactly Gaussian (`Diffusion.affine_moments`), so its ``trace`` metric has no Monte Carlo error.

# %%
N_G, G_G = 32, 6
COV = np.array([[1.0, 0.3], [0.3, 0.5]])
with jc.x64():
    affine = jc.Diffusion(jax.random.key(0), jc.Gaussian(np.zeros(2), COV), net="affine", width=16, depth=2,
                          steps=1000, learning_rate=1e-2, sampler="heun", sample_steps=16, n_eval=8, n_ref=8)
    err = refit_error(jax.random.key(1), affine, N_G, 16)
    tr_g = jc.simulate(jax.random.key(2), affine, regimes.replace(N_G), G_G, chains(512, 16), path="samples",
                       metrics=("trace",), quantiles=(), record_paths=True)
eps = float(np.max(np.abs(err["trace"])))
print(f"refit error: trace {np.mean(err['trace']):+.2e} mean, {eps:.2e} max; covariance {np.max(err['cov']):.2e}; "
      f"mean {np.max(err['mean']):.2e} (relative, {err['trace'].size} fits)")
t = np.arange(G_G + 1)
theory_g = np.asarray(thg.trace_mean(t.astype(float), float(N_G), float(np.trace(COV))), np.float64)
mean_g = np.asarray(tr_g.mean("trace"), np.float64)
se_g = np.asarray(tr_g.stderr("trace"), np.float64)
z_g = (mean_g[1:] - theory_g[1:]) / se_g[1:]
print("t      " + " ".join(f"{v:8d}" for v in t[1:]))
print("theory " + " ".join(f"{v:8.4f}" for v in theory_g[1:]))
print("sim    " + " ".join(f"{v:8.4f}" for v in mean_g[1:]))
print("z      " + " ".join(f"{v:8.2f}" for v in z_g))

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.errorbar(t[1:], mean_g[1:], 2 * se_g[1:], fmt="o", capsize=3, label="affine diffusion (mean ± 2 s.e.)")
ax.plot(t, theory_g, "k-", lw=1, label=r"$(1 - 1/n)^t\,\mathrm{tr}\,\Sigma$")
ax.set_xlabel("generation $t$")
ax.set_ylabel(r"$\mathrm{tr}\,\Sigma_t$")
ax.legend(fontsize=8)
fig.tight_layout()
save(fig, "diffusion_gaussian_limit")

# %% [markdown]
# ## 2. Mode loss on a mixture
#
# The 8-component toy mixture (`datasets.toy(key, "mixture")`), $n = 256$ samples per generation, an MLP
# velocity network of width 32 and depth 2, 300 AdamW steps, Euler with 16 steps. At reduced scale (the
# test suite) only replace and accumulate run, with $n = 128$, 150 steps and 4 generations.

# %%
FULL = SCALE >= 0.5
N_M, G_M, STEPS_M = (256, 5, 300) if FULL else (128, 4, 150)
mix = datasets.toy(jax.random.key(10), "mixture", 1024)
mlp = jc.Diffusion(jax.random.key(11), mix, width=32, depth=2, steps=STEPS_M, n_eval=256)
RUNS = {"replace": regimes.replace(N_M), "accumulate": regimes.accumulate(N_M)}
if FULL:
    RUNS["fresh"] = regimes.fresh(N_M // 4, N_M)
    RUNS["self-correct (gamma = 1)"] = regimes.self_correct(regimes.replace(N_M), 1.0)
C_M = chains(64, 8)
mix_runs = {name: jc.simulate(jax.random.key(12), mlp, rg, G_M, C_M, path="samples", quantiles=(),
                              record_paths=True) for name, rg in RUNS.items()}
for name, tr in mix_runs.items():
    for m in ("trace_ratio", "precision", "recall", "modes"):
        print(f"{name:26s} {m:12s} " + " ".join(f"{v:6.3f}" for v in np.asarray(tr.mean(m))))

fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for ax, m in zip(axes, ("trace_ratio", "precision", "modes"), strict=True):
    for name, tr in mix_runs.items():
        ax.plot(np.arange(G_M + 1), np.asarray(tr.mean(m)), "o-", label=name)
    ax.set_xlabel("generation $t$")
    ax.set_title(m.replace("_", " "))
axes[-1].legend(fontsize=8)
fig.tight_layout()
save(fig, "diffusion_mixture_modes")

d_spread = (np.asarray(mix_runs["accumulate"].paths["trace_ratio"], np.float64)[G_M]
            - np.asarray(mix_runs["replace"].paths["trace_ratio"], np.float64)[G_M])
z_acc = float(d_spread.mean() / (d_spread.std(ddof=1) / math.sqrt(d_spread.size)))
print(f"accumulate - replace, spread at t = {G_M}: {d_spread.mean():+.3f}, paired z = {z_acc:.2f}")

# %% [markdown]
# ## Asserts

# %%
assert eps < 1.0 / (10 * N_G), f"the affine refit's trace error {eps:.2e} is not below 1/(10 n)"
assert np.all(np.abs(z_g) < Z_BOUND), f"the Gaussian trace law fails on the affine diffusion model: z = {z_g}"
assert float(np.max(np.asarray(tr_g.paths["trace"]))) < np.inf
for name, tr in mix_runs.items():
    for m in tr.paths:
        assert np.all(np.isfinite(np.asarray(tr.paths[m]))), (name, m)
    assert float(np.max(np.asarray(tr.paths["diverged"]))) == 0.0, name
assert z_acc > Z_BOUND, f"accumulating does not keep more spread than replacing (paired z = {z_acc:.2f})"
print(f"done in {time.perf_counter() - START:.1f} s")
