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
# # A bigram language model trained on its own text
#
# The smallest language model with context: a first-order Markov chain over $V$ tokens, an initial
# distribution $\mu$ and transitions $P_{ij}$ (token $j$ after token $i$). Generation $t$ draws $m$
# sequences of length $L$ from model $t-1$ and refits by counting bigrams,
# $P'_{ij} = (C_{ij} + \alpha)/(N_i + V\alpha)$, $N_i = \sum_j C_{ij}$ (the MLE for $\alpha = 0$); a row
# never visited keeps its previous value when $\alpha = 0$. Model 0 is the truth. This is the toy
# version of language-model collapse (Shumailov et al. 2024; Seddik et al. 2024): rare transitions are
# not sampled, so they are forgotten, and a forgotten transition is never sampled again.
#
# **Results** (`jaxcollapse.theory.ngram`; each is a registered check of `jaxcollapse.verify`).
#
# 1. *Expected counts, any $L$.* $E C_{ij} = m\sum_{s=0}^{L-2}(\mu P^s)_i P_{ij}$ and the first tokens
#    have mean $m\mu$ (at temperature $\tau$: the tempered $\mu$, $P$). The refit row $C_{ij}/N_i$ is
#    **not** unbiased for $L > 2$: how often a token is visited depends on the successors already drawn.
# 2. *One transition per sequence ($L = 2$), initial distribution fixed at $q$.* Row $i$ is visited
#    $N_i \sim \mathrm{Binomial}(m, q_i)$ times, afresh each generation, and its successors are
#    $\mathrm{Multinomial}(N_i, P_{i\cdot})$: a Wright–Fisher population whose size is redrawn every
#    generation. With $S_i = \sum_j P_{ij}^2$,
#    $E[S'_i \mid S_i] = A_i + B_i S_i$ with $A_i = E\frac{N + 2\alpha N + V\alpha^2}{(N + V\alpha)^2}$,
#    $B_i = E\frac{N(N-1)}{(N+V\alpha)^2}$ (a kept, unvisited row counts in $B$). For $\alpha = 0$:
#    $E[1 - S_{t,i}] = (1 - E[1/N_i; N_i \ge 1])^t (1 - S_{0,i})$ — Seddik et al.'s
#    $(1 - 1/n)^t$ with $1/n$ replaced by $E[1/N; N \ge 1]$, which is **larger** than $1/E N$ (Jensen), so
#    the naive "$n = m q_i$ visits" rate underestimates the speed of collapse. The mean row is a
#    martingale for $\alpha = 0$ and shrinks to uniform as $c_i^t$, $c_i = E[N/(N+V\alpha)]$, for $\alpha > 0$.
# 3. *The initial distribution* (refit from the $m$ first tokens) is exactly Wright–Fisher with
#    population $m$: $E[1 - \sum_i \mu_{t,i}^2] = (1 - 1/m)^t (1 - \sum_i \mu_{0,i}^2)$.
# 4. *Accumulate, $L = 2$, $\alpha = 0$* (exact): with $T_s = \sum_{r \le s} N_r$ the visits so far,
#    $E[1 - S_{t,i}] = E\big[\prod_{s \le t}(1 - N_s/T_s^2)\big](1 - S_{0,i})$; with a fixed $N_s = n$ the factor
#    tends to $\sin(\pi/\sqrt n)/(\pi/\sqrt n) > 0$ — the $\pi^2/6$ phenomenon of accumulated data, for
#    diversity (check `ngram.accumulate_diversity`).
# 5. *Replace vs accumulate on long sequences* (simulation only; no closed form is claimed): under replace, transitions
#    are lost generation after generation, the entropy rate falls and the KL rate from the truth grows;
#    when bigram counts accumulate, a transition can only be lost while it has count 0, i.e. in generation
#    1: the support is frozen from then on, and the model converges.
#
# **Checks.** Monte Carlo means over chains with their standard errors, $|z| < 4$ (a single comparison
# fails under the null with probability $6.3\times10^{-5}$), fixed keys, float64. Chain counts are
# multiplied by `JAXCOLLAPSE_NB_SCALE`.
#
# References: Shumailov, Shumaylov, Zhao, Papernot, Anderson and Gal (2024), *AI models collapse when
# trained on recursively generated data*, Nature 631; Seddik, Chen, Hayou, Youssef and Debbah (2024),
# *How bad is training on synthetic data? A statistical analysis of language model collapse*;
# Cover and Thomas (2006), *Elements of Information Theory*, ch. 4 (entropy rates).

# %%
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

if "ipykernel" not in os.environ.get("JPY_PARENT_PID", "") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import jaxcollapse as jc
from jaxcollapse import regimes as rg
from jaxcollapse import verify
from jaxcollapse.theory import ngram as mk
from jaxcollapse.verify import ngram as chk

SCALE = float(os.environ.get("JAXCOLLAPSE_NB_SCALE", "1"))
FIGDIR = os.environ.get("JAXCOLLAPSE_NB_FIGDIR")
Z = verify.Z_BOUND
T0 = time.perf_counter()


def chains(base: int) -> int:
    return max(int(round(base * SCALE)), 64)


def show(fig, name: str):
    if FIGDIR:
        Path(FIGDIR).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(FIGDIR) / f"{name}.png", dpi=110)
    try:
        from IPython.display import display

        if "IPKernelApp" in getattr(__import__("IPython").get_ipython(), "config", {}):
            display(fig)
    except Exception:  # noqa: BLE001 - not in a notebook
        pass
    plt.close(fig)


# %% [markdown]
# ## The registered checks (results 1–4)
# `verify.run_checks(family="ngram")` runs every check of this family: the sampler's expected counts
# (result 1, $L = 6$, $\tau \in \{1, 0.7\}$), the initial distribution's Wright–Fisher decay (result 3),
# the per-row diversity and mean row of result 2 (with $\alpha = 0$ and $\alpha = 0.05$) and the accumulated
# counts of result 4.

# %%
with jc.x64():
    comps = verify.run_checks(family="ngram", scale=SCALE)
print(verify.format_table(comps))

# %% [markdown]
# ## Result 2 over every generation, against the naive Wright–Fisher rate
# The same configuration as the checks ($V = 8$, Zipfian rows over 4 successors, $m = 20$, $L = 2$,
# initial distribution fixed at the stationary law). The naive theory fixes each row's visits at their
# mean $m q_i$; the exact one averages over $N_i \sim \mathrm{Binomial}(m, q_i)$.

# %%
ts = np.arange(chk._G + 1)
rows = {}
with jc.x64():
    for a in (0.0, 0.05):
        model, traj = chk._one_transition(jax.random.key(100), SCALE, smoothing=a, refit_initial=False)
        P0, q = model.transition, model.initial
        pi = mk.stationary_distribution(P0)
        S0 = jnp.sum(P0 * P0, axis=1)
        exact = mk.simpson_index_mean(jnp.asarray(ts), S0, *mk.simpson_coefficients(mk.binomial_visits(chk._M, q),
                                                                                    chk._V, a))
        n_mean = chk._M * q
        naive = mk.simpson_index_mean(jnp.asarray(ts), S0, *mk.simpson_coefficients(
            jax.nn.one_hot(jnp.round(n_mean).astype(int), chk._M + 1), chk._V, a))
        rows[a] = dict(
            mean=np.asarray(traj.mean("gini_simpson")), se=np.asarray(traj.stderr("gini_simpson")),
            exact=np.asarray(jnp.sum(pi[None, :] * (1.0 - exact), axis=1)),
            naive=np.asarray(jnp.sum(pi[None, :] * (1.0 - naive), axis=1)),
        )

fig, ax = plt.subplots(figsize=(6.4, 4))
for a, r in rows.items():
    ax.errorbar(ts, r["mean"], yerr=2 * r["se"], fmt="o", ms=3, label=f"simulation, alpha={a:g} (±2 s.e.)")
    ax.plot(ts, r["exact"], "-", label=f"exact (Binomial visits), alpha={a:g}")
    ax.plot(ts, r["naive"], ":", label=f"naive (visits = m q_i), alpha={a:g}")
ax.set_xlabel("generation $t$")
ax.set_ylabel(r"$\sum_i \pi^*_i (1 - \sum_j P_{t,ij}^2)$")
ax.set_title("next-token diversity, L = 2, m = 20")
ax.legend(fontsize=7)
show(fig, "ngram_row_diversity")
z_exact = {a: (r["mean"][1:7] - r["exact"][1:7]) / r["se"][1:7] for a, r in rows.items()}
for a, z in z_exact.items():
    print(f"alpha={a:g}: z against the exact theory at t = 1..6: {np.round(z, 2)}")

# %% [markdown]
# ## Replace against accumulate on a longer chain
# $V = 20$ tokens, Zipfian rows over 5 successors, sequences of length $L = 20$, $m = 20$ sequences per
# generation, $\alpha = 0$, 40 generations. (Fresh real data, augment and weighted mixing run the same way:
# `jaxcollapse run --family ngram --regime fresh ...`.)

# %%
G2 = 40
truth = jc.Bigram.zipf(jax.random.key(5), 20, support=5, length=20)
metrics = ("entropy_rate", "mutual_info", "support", "mass_lost")
runs = {}
for name, regime in (("replace", rg.replace(20)), ("accumulate", rg.accumulate(20))):
    runs[name] = jc.simulate(jax.random.key(7), truth, regime, G2, chains(4000), path="samples", metrics=metrics,
                             record_paths=True)
with jc.x64():
    P64 = jnp.asarray(np.asarray(truth.transition, np.float64))
    h_truth = float(mk.entropy_rate(P64))
    mi_truth = float(mk.mutual_information(P64))
print(f"truth: entropy rate {h_truth:.4f} nats, mutual information of consecutive tokens {mi_truth:.4f} nats")
for name, tr in runs.items():
    print(f"{name:>10}: entropy rate {float(tr.mean('entropy_rate')[G2]):.4f}, "
          f"mass lost {float(tr.mean('mass_lost')[G2]):.4f}, support {float(tr.mean('support')[G2]):.1f}")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for name, tr in runs.items():
    t = np.asarray(tr.generations)
    axes[0].plot(t, np.asarray(tr.mean("entropy_rate")), label=name)
    axes[1].plot(t, np.asarray(tr.mean("mass_lost")), label=name)
    axes[2].plot(t, np.asarray(tr.mean("mutual_info")), label=name)
axes[0].axhline(h_truth, color="k", ls=":", lw=1, label="truth")
axes[2].axhline(mi_truth, color="k", ls=":", lw=1, label="truth")
for ax, lab in zip(axes, ("entropy rate (nats)", "truth's mass on lost transitions", "I(X_s; X_{s+1}) (nats)"),
                   strict=True):
    ax.set_xlabel("generation $t$")
    ax.set_ylabel(lab)
    ax.legend(fontsize=7)
fig.suptitle("bigram model, V = 20, L = 20, m = 20, alpha = 0 (means over chains)")
fig.tight_layout()
show(fig, "ngram_regimes")

# %% [markdown]
# ## Asserts

# %%
assert verify.all_passed(comps), verify.format_table(comps)
assert len({c.check for c in comps}) >= 5
for a, z in z_exact.items():
    assert np.all(np.abs(z) < Z), (a, z)
# the naive fixed-visit rate is too slow: for alpha = 0 it lies above the exact curve at every t >= 1
assert np.all(rows[0.0]["naive"][1:] > rows[0.0]["exact"][1:])
sup = {k: np.asarray(v.paths["support"]) for k, v in runs.items()}
# without smoothing a lost transition is never recovered from synthetic data: support never grows...
assert np.all(np.diff(sup["replace"], axis=0) <= 0)
# ...and accumulated counts freeze the support after generation 1
assert np.all(sup["accumulate"][2:] == sup["accumulate"][1][None, :])
er = {k: np.asarray(v.mean("entropy_rate")) for k, v in runs.items()}
assert er["replace"][G2] < er["accumulate"][G2]
assert all(np.all(np.isfinite(np.asarray(v.mean("entropy_rate")))) for v in runs.values())
print(f"all asserts passed in {time.perf_counter() - T0:.1f} s")
