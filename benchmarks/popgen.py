r"""The population-genetics yardstick: N_e of the categorical family's refit from sampled allele counts.

The categorical family refitted under ``replace(n)`` is exactly the haploid Wright–Fisher model with
population size $n$ (`jaxcollapse.families.categorical`), so its effective size is $N_e = n$. Population
genetics estimates $N_e$ from the same kind of data a geneticist has: at every generation a sample of $S$
genes drawn from the population (here: $S$ draws from the model of that generation), at $L$ independent
loci (here: independent chains with $K = 2$ categories, a biallelic locus). This module holds two of its
estimators in plain numpy, and a `main` that runs them beside `jaxcollapse.bayes` on the same observed
series and prints bias, RMSE, 90% interval coverage and time over many replicate datasets.

**Notation.** Generation $t = 0..T$; the population frequency of allele 1 at a locus is $x_t$, with
$x_{t+1} = \mathrm{Bin}(N, x_t)/N$ (haploid Wright–Fisher, $N$ genes); the sample at $t$ has $k_t \sim
\mathrm{Bin}(S_t, x_t)$ copies of allele 1 among $S_t$ genes, drawn independently of the drift (with
replacement, or before reproduction: Waples's (1989) sampling plan II). $\lambda = 1 - 1/N$, $h_t = x_t(1-x_t)$.

**The temporal method** (`temporal`). Jorde and Ryman's (2007) $F_s$, adapted to haploid samples
(derived here; the algebra is theirs). Between the first and the last sample ($t$ generations apart;
$\hat x$, $\hat y$ the sample frequencies, $z = (\hat x + \hat y)/2$), the exact second moments given $x_0$ are

- $E(\hat x - \hat y)^2 = h_0 F$, $F = (1 - \lambda^t) + \lambda^t/S_t + 1/S_0$: the drift
  $E(x_t - x_0)^2 = h_0(1 - \lambda^t)$, the sampling variances $E h_t/S_t = \lambda^t h_0/S_t$ (the
  heterozygosity decays by $\lambda$ per generation) and $h_0/S_0$, and no cross terms (the sampling
  errors have mean 0 given the frequencies and are independent of the drift);
- $E\,z(1-z) = h_0 - \mathrm{Var}\,z = h_0(1 - F/4)$, because $E z = x_0$ and $\mathrm{Var}\,z =
  \tfrac14 E(\hat x - x_0)^2 + \tfrac14 E(\hat y - x_0)^2 = h_0 F/4$ (the cross term is 0 for the same reason).

Summed over loci and both alleles (a biallelic locus gives the same term twice), $F_s' = \sum(\hat x -
\hat y)^2/\sum z(1-z)$ estimates $F/(1 - F/4)$ (a ratio of expectations, exact as $L \to \infty$), so
$\hat F = F_s'/(1 + F_s'/4)$, and the drift $D = 1 - \lambda^t$ solves $F = D + (1 - D)/S_t + 1/S_0$:
$$\hat D = \frac{F_s'\,(1 - \tfrac{1}{4}(\tfrac1{S_0} + \tfrac1{S_t})) - (\tfrac1{S_0} + \tfrac1{S_t})}
              {(1 + F_s'/4)(1 - 1/S_t)},\qquad \hat N = \frac{1}{1 - (1 - \hat D)^{1/t}} \approx \frac{t}{\hat D}.$$
With diploid samples of $n$ individuals ($S = 2n$ genes) and $\tilde n$ the harmonic mean of $n_0, n_t$,
$\tfrac1{S_0} + \tfrac1{S_t} = 1/\tilde n$ and $\hat D = [F_s'(1 - \tfrac1{4\tilde n}) - \tfrac1{\tilde n}]/
[(1 + F_s'/4)(1 - \tfrac1{2 n_t})]$, the form of Jorde and Ryman's $F_s$ as we recall it (their equation was not
at hand to check; the haploid formula above stands on its derivation and on the exact test in
`tests/test_popgen.py`). $\hat D \le 0$ (no drift beyond sampling noise) gives $\hat N = \infty$.

*Interval*: Waples's (1989) chi-square approximation, $n' \hat F / F \sim \chi^2_{n'}$ with $n' = \sum_l
(K_l - 1) = L$ independent alleles; its 90% bounds on $F$ are mapped through $D(F)$ and $N(D)$ (both
monotone). A delete-one-locus jackknife of $\hat D$ (normal quantiles) is reported beside it.

**The exact HMM likelihood** (`hmm_loglik`, `hmm_estimate`; Williamson and Slatkin 1999). The hidden
count $i = N x_t \in \{0..N\}$ is a Markov chain with transitions $P_{ij} = \binom Nj (i/N)^j (1 - i/N)^{N-j}$,
observed through $k_t \sim \mathrm{Bin}(S_t, i/N)$ (a generation with $S_t = 0$ is unobserved); the
initial count is uniform on $0..N$ (a flat prior on the initial frequency, which the likelihood of a
locus needs). The forward algorithm (normalized at every step) gives each locus's likelihood; loci
multiply. $N$ is profiled over a grid of integers; the MLE is the grid maximum refined by a parabola in
$\ln N$ through its neighbours, and the 90% interval is $\{N : 2(\ell_{\max} - \ell(N)) \le \chi^2_{1,0.9}\}$
(Wilks), its ends interpolated linearly in $\ln N$ between grid points; an end that reaches the grid's edge
is open ($0$ or $\infty$). The cost is $O(L\,T\,N^2)$ per grid point (the NB package of Hui and Burt 2015
replaces the exact chain by continuous approximations to reach large $N$; here $N \le$ `N_MAX`).

**jaxcollapse.bayes**: (i) the ``"diversity"`` model (`bayes.fit`, $\kappa = 1$ fixed, $n_{\rm eff}$ unknown)
on the Gini–Simpson series of the samples, each $\hat H_t = \tfrac{S}{S-1}(1 - \sum_i \hat x_{t,i}^2)$ (the
unbiased estimator of $H_t$ from a sample of $S$); (ii) `bayes.fit_drift`, the drift model of the observed
counts (added for this comparison: its likelihood accounts for the sampling noise).

Run ``python benchmarks/popgen.py`` (5 to 10 minutes on an idle 2-core CPU; ``--quick`` for a smoke run). It prints
the table and writes ``benchmarks/results/popgen_<label>.json``.

References: Waples (1989), *Genetics* 121:379–391; Jorde and Ryman (2007), *Genetics* 177:927–935;
Williamson and Slatkin (1999), *Genetics* 152:755–761; Hui and Burt (2015), *Genetics* 200:285–293;
Nei and Tajima (1981), *Genetics* 98:625–640.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import special, stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

N_MAX = 600  # the HMM's largest N on the default grid
LEVEL = 0.9


# ============================================================================ the temporal method
def _check_counts(counts, sizes) -> tuple[np.ndarray, np.ndarray]:
    """Counts `(..., L, T)` of allele 1 and sample sizes broadcast to the same shape (float64)."""
    k = np.asarray(counts, np.float64)
    s = np.broadcast_to(np.asarray(sizes, np.float64), k.shape)
    if k.ndim < 2:
        raise ValueError(f"counts must have shape (..., loci, generations), got {k.shape}")
    if np.any(k < 0) or np.any(k > s) or np.any(k != np.round(k)) or np.any(s != np.round(s)) or np.any(s < 0):
        raise ValueError("counts must be integers in [0, sizes] and sizes integers >= 0")
    return k, s


def drift_from_fs(fs1, inv_sum, inv_t):
    r"""$\hat D$ from $F_s'$: $[F_s'(1 - \tfrac14 v) - v]/[(1 + F_s'/4)(1 - 1/S_t)]$, $v = 1/S_0 + 1/S_t$ =
    `inv_sum`, $1/S_t$ = `inv_t` (derived in the module docstring; Jorde and Ryman's $F_s$ for haploid samples)."""
    return (fs1 * (1.0 - 0.25 * inv_sum) - inv_sum) / ((1.0 + 0.25 * fs1) * (1.0 - inv_t))


def ne_from_drift(d, t: int) -> np.ndarray:
    r"""$N$ with $1 - (1 - 1/N)^t = D$: $1/(1 - (1 - D)^{1/t})$; $\infty$ where $D \le 0$, 1 where $D \ge 1$."""
    d = np.asarray(d, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 / (1.0 - np.power(np.clip(1.0 - d, 0.0, None), 1.0 / t))
    return np.where(d <= 0, np.inf, np.where(d >= 1, 1.0, out))


def temporal(counts, sizes, level: float = LEVEL) -> dict[str, np.ndarray]:
    r"""The temporal estimate of haploid $N_e$ from the first and last sample (see the module docstring).

    `counts` `(..., L, T)`: copies of allele 1 in the sample of generation `t` at each locus; `sizes`: the
    sample sizes (broadcast to `counts`; the first and last column must be > 0). Returns float64 arrays
    over the leading axes: ``N`` (the estimate; inf where $\hat D \le 0$), ``lo``, ``hi`` (Waples's
    chi-square interval), ``jk_lo``, ``jk_hi`` (jackknife over loci), ``D`` (the drift estimate), ``Fs1``
    ($F_s'$).
    """
    k, s = _check_counts(counts, sizes)
    T = k.shape[-1]
    if T < 2:
        raise ValueError("the temporal method needs two samples")
    t = T - 1
    s0, st = s[..., 0], s[..., -1]
    if np.any(s0 <= 1) or np.any(st <= 1):
        raise ValueError("the first and last samples need sizes > 1")
    x, y = k[..., 0] / s0, k[..., -1] / st  # (..., L)
    z = 0.5 * (x + y)
    num = 2.0 * (x - y) ** 2  # both alleles of a biallelic locus
    den = 2.0 * z * (1.0 - z)
    inv = (1.0 / s0 + 1.0 / st).mean(axis=-1)  # 1/S0 + 1/St (mean over loci if they differ)
    inv_t = (1.0 / st).mean(axis=-1)
    L = k.shape[-2]

    def ne(d):
        return ne_from_drift(d, t)

    f1 = num.sum(axis=-1) / den.sum(axis=-1)
    D = drift_from_fs(f1, inv, inv_t)
    # Waples's chi-square interval on F (the total standardized variance), n' = L independent alleles
    F = f1 / (1.0 + 0.25 * f1)
    a = (1.0 - level) / 2.0
    F_hi = L * F / stats.chi2.ppf(a, L)
    F_lo = L * F / stats.chi2.ppf(1.0 - a, L)

    def d_of_F(FF):
        return (FF - inv) / (1.0 - inv_t)

    lo, hi = ne(d_of_F(F_hi)), ne(d_of_F(F_lo))
    # delete-one-locus jackknife of D
    tot_n, tot_d = num.sum(axis=-1, keepdims=True), den.sum(axis=-1, keepdims=True)
    d_del = drift_from_fs((tot_n - num) / (tot_d - den), inv[..., None], inv_t[..., None])  # (..., L)
    d_bar = d_del.mean(axis=-1)
    se = np.sqrt((L - 1) / L * ((d_del - d_bar[..., None]) ** 2).sum(axis=-1))
    zq = stats.norm.ppf(1.0 - a)
    jk_lo, jk_hi = ne(D + zq * se), ne(D - zq * se)
    return {"N": ne(D), "lo": lo, "hi": hi, "jk_lo": jk_lo, "jk_hi": jk_hi, "D": D, "Fs1": f1}


# ============================================================================ the exact HMM
def default_grid(n_min: int = 10, n_max: int = N_MAX, step: float = 0.03) -> np.ndarray:
    """Integers from `n_min` to `n_max`, geometrically spaced by about `step` (relative), without repeats."""
    g = np.unique(np.round(np.exp(np.arange(math.log(n_min), math.log(n_max) + 1e-9, step))).astype(int))
    return g[(g >= n_min) & (g <= n_max)]


def _binom_logpmf(k: np.ndarray, s: np.ndarray, f: np.ndarray) -> np.ndarray:
    """log Bin(k; s, f) with 0 log 0 = 0, broadcasting `k`, `s` `(M, 1)` against `f` `(F,)`."""
    return (special.gammaln(s + 1.0) - special.gammaln(k + 1.0) - special.gammaln(s - k + 1.0)
            + special.xlogy(k, f) + special.xlog1py(s - k, -f))


def wf_matrix(N: int) -> np.ndarray:
    r"""The haploid Wright–Fisher transition matrix $P_{ij} = \mathrm{Bin}(j; N, i/N)$, $(N+1) \times (N+1)$."""
    f = np.arange(N + 1) / N
    j = np.arange(N + 1, dtype=np.float64)[None, :]
    return np.exp(_binom_logpmf(j, np.float64(N), f[:, None]))


def _one_thread():
    """Limit BLAS to one thread where threadpoolctl is installed: the forward algorithm's matrix products are
    small, and on a shared machine OpenBLAS's threads spin-wait on each other (a 50 x 601 by 601 x 601 product
    took 30x longer with 2 threads than with 1 at a load average of 11 on 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def hmm_loglik(counts, sizes, grid) -> np.ndarray:
    r"""The exact log-likelihood $\ell(N)$ of Wright–Fisher drift observed through binomial samples.

    `counts` `(..., L, T)` and `sizes` (broadcast; 0 = generation not sampled) as in `temporal`; `grid`: the
    population sizes $N$ (integers $\ge 1$). Returns `(..., len(grid))`: per dataset, the sum over its `L` loci
    of each locus's log-likelihood (forward algorithm over the hidden counts, uniform initial count). The
    emission probabilities are tabulated once per $N$ for every distinct (count, size) pair and gathered.
    """
    k, s = _check_counts(counts, sizes)
    lead, (L, T) = k.shape[:-2], k.shape[-2:]
    kk, ss = k.reshape(-1, T).astype(np.int64), s.reshape(-1, T).astype(np.int64)
    M = kk.shape[0]
    pairs, idx = np.unique(np.stack([kk.ravel(), ss.ravel()], axis=1), axis=0, return_inverse=True)
    idx = idx.reshape(M, T)
    pk, ps = (pairs[:, 0:1].astype(np.float64), pairs[:, 1:2].astype(np.float64))
    grid = np.asarray(grid)
    if grid.ndim != 1 or len(grid) == 0 or np.any(grid < 1) or np.any(grid != np.round(grid)):
        raise ValueError(f"grid must be a vector of integers >= 1, got {grid!r}")
    out = np.empty((M, len(grid)))
    with _one_thread():
        for g, N in enumerate(grid):
            out[:, g] = _forward(int(N), pk, ps, idx)
    return out.reshape(*lead, L, len(grid)).sum(axis=-2)


def _forward(N: int, pk, ps, idx) -> np.ndarray:
    """Each row's log-likelihood at population size `N` (normalized forward recursion)."""
    M, T = idx.shape
    f = np.arange(N + 1) / N
    P = wf_matrix(N)
    le = _binom_logpmf(pk, ps, f[None, :])  # (pairs, N+1): every distinct (count, size) once
    m = le.max(axis=1)
    em = np.exp(le - m[:, None])
    ll = np.zeros(M)
    alpha = np.full((M, N + 1), 1.0 / (N + 1))
    for t in range(T):
        if t > 0:
            alpha = alpha @ P
        alpha *= em[idx[:, t]]
        c = alpha.sum(axis=1)
        alpha /= c[:, None]
        ll += np.log(c) + m[idx[:, t]]
    return ll


def profile_interval(grid, loglik, level: float = LEVEL) -> dict[str, np.ndarray]:
    r"""MLE and likelihood-ratio interval from a profile `loglik` `(..., len(grid))` over the integer `grid`.

    The MLE: the grid maximum, refined by the vertex of the parabola in $\ln N$ through it and its two
    neighbours. The interval: $\{N : 2(\ell_{\max} - \ell(N)) \le \chi^2_{1}(\text{level})\}$ with the grid
    maximum as $\ell_{\max}$, ends interpolated linearly in $\ln N$; an end at the grid's edge is open
    (``lo = 0`` or ``hi = inf``).
    """
    g = np.log(np.asarray(grid, np.float64))
    ll = np.asarray(loglik, np.float64)
    lead = ll.shape[:-1]
    ll2 = ll.reshape(-1, len(g))
    cut = stats.chi2.ppf(level, 1) / 2.0
    est, lo, hi = np.empty(len(ll2)), np.empty(len(ll2)), np.empty(len(ll2))
    for r, row in enumerate(ll2):
        i = int(np.argmax(row))
        top = row[i]
        if 0 < i < len(g) - 1:
            x0, x1, x2 = g[i - 1:i + 2]
            y0, y1, y2 = row[i - 1:i + 2]
            den = (x0 - x1) * (x0 - x2) * (x1 - x2)
            A = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
            B = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
            est[r] = math.exp(-B / (2 * A)) if A < 0 else math.exp(g[i])
        else:
            est[r] = math.exp(g[i])
        dev = top - row - cut  # <= 0 inside the interval
        j = i
        while j > 0 and dev[j - 1] <= 0:
            j -= 1
        lo[r] = 0.0 if j == 0 else math.exp(g[j - 1] + (g[j] - g[j - 1]) * dev[j - 1] / (dev[j - 1] - dev[j]))
        j = i
        while j < len(g) - 1 and dev[j + 1] <= 0:
            j += 1
        hi[r] = math.inf if j == len(g) - 1 else math.exp(g[j] + (g[j + 1] - g[j]) * dev[j] / (dev[j] - dev[j + 1]))
    return {"N": est.reshape(lead), "lo": lo.reshape(lead), "hi": hi.reshape(lead)}


def hmm_estimate(counts, sizes, grid=None, level: float = LEVEL) -> dict[str, np.ndarray]:
    """`hmm_loglik` on `grid` (default `default_grid()`), then `profile_interval`; also returns ``loglik``."""
    grid = default_grid() if grid is None else np.asarray(grid)
    ll = hmm_loglik(counts, sizes, grid)
    return {**profile_interval(grid, ll, level), "loglik": ll, "grid": grid}


# ============================================================================ data
def gini_simpson_unbiased(counts, sizes) -> np.ndarray:
    r"""$\hat H = \tfrac{S}{S-1}(1 - \hat x^2 - (1 - \hat x)^2)$, the unbiased Gini–Simpson estimate from a
    biallelic sample of $S$ genes ($E\hat H = 2x(1-x)$ exactly)."""
    k, s = _check_counts(counts, sizes)
    x = k / s
    return s / (s - 1.0) * 2.0 * x * (1.0 - x)


def initial_frequencies(L: int, n: int, lo: float = 0.2, hi: float = 0.8) -> np.ndarray:
    """`L` initial frequencies spread evenly over [lo, hi], rounded to counts of `n` (a Wright–Fisher state)."""
    return np.round((lo + (hi - lo) * (np.arange(L) + 0.5) / L) * n) / n


def simulate_frequencies(seed: int, n: int, generations: int, p0: np.ndarray, replicates: int) -> np.ndarray:
    r"""Hidden allele frequencies `(replicates, L, generations + 1)` from `jaxcollapse.simulate`.

    Locus $l$ is `Categorical([p0[l], 1 - p0[l]])` refitted under ``replace(n)`` (haploid Wright–Fisher,
    $N_e = n$), one `simulate` call per locus with key `fold_in(key(seed), l)` and `replicates` chains
    (chain $r$ is replicate dataset $r$); its per-generation parameters are recorded (`record_params`).
    All calls share one compiled program (`p` is a traced leaf).
    """
    import jax

    import jaxcollapse as jc

    out = np.empty((replicates, len(p0), generations + 1))
    key = jax.random.key(seed)
    with jc.x64():
        for locus, p in enumerate(p0):
            traj = jc.simulate(jax.random.fold_in(key, locus), jc.Categorical([p, 1.0 - p]), jc.regimes.replace(n),
                               generations, replicates, metrics=("gini_simpson",), quantiles=(), record_params=True)
            out[:, locus, :] = np.asarray(traj.params.p, np.float64)[:, :, 0].T
    return out


def sample_counts(rng: np.random.Generator, freqs: np.ndarray, S: int) -> np.ndarray:
    """The geneticist's samples: `S` genes per generation drawn from each generation's model (binomial)."""
    return rng.binomial(S, freqs).astype(np.float64)


# ============================================================================ the comparison
def _summary(name: str, est, lo, hi, truth: float, times, note: str = "") -> dict:
    est, lo, hi = (np.asarray(a, np.float64) for a in (est, lo, hi))
    fin = np.isfinite(est)
    e = est[fin]
    cover = (lo <= truth) & (truth <= hi)
    R = est.size
    return {
        "estimator": name, "replicates": int(R), "finite": int(fin.sum()),
        "mean": float(e.mean()) if e.size else math.nan, "median": float(np.median(est)),
        "bias": float(e.mean() - truth) if e.size else math.nan,
        "rmse": float(np.sqrt(np.mean((e - truth) ** 2))) if e.size else math.nan,
        "bias_se": float(e.std(ddof=1) / math.sqrt(e.size)) if e.size > 1 else math.nan,
        "rel_rmse_inv": float(np.sqrt(np.mean((truth / est - 1.0) ** 2))),  # 1/N-scale error (inf -> 1)
        "coverage": float(cover.mean()),
        "coverage_se": float(math.sqrt(max(cover.mean() * (1 - cover.mean()), 1e-12) / R)),
        "median_width": float(np.median(hi - lo)),
        "wall_median_s": float(np.median([t[0] for t in times])),
        "cpu_median_s": float(np.median([t[1] for t in times])),
        "wall_total_s": float(np.sum([t[0] for t in times])), "cpu_total_s": float(np.sum([t[1] for t in times])),
        "note": note,
    }


def _timed(fn, *args, **kw):
    """`fn(*args, **kw)`, its wall seconds and the process's CPU seconds (all threads) while it ran."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, (time.perf_counter() - t0, time.process_time() - c0)


def run_bayes_diversity(key, H, sampler) -> tuple[float, float, float]:
    """`bayes.fit` of the diversity model, kappa = 1: posterior median and 90% interval of n_eff."""
    from jaxcollapse import bayes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a monomorphic sample (H = 0) followed by a polymorphic one is masked
        post = bayes.fit(key, H, "diversity", kappa=1.0, **sampler)
    s = post.samples("n_eff")[:, 0]
    lo, hi = post.interval("n_eff", LEVEL)
    return float(np.median(s)), float(lo[0]), float(hi[0])


def run_bayes_drift(key, counts, sizes) -> tuple[float, float, float]:
    """`bayes.fit_drift` on the observed counts: posterior median and 90% interval of n_eff."""
    from jaxcollapse import bayes

    c = np.stack([counts, sizes - counts], axis=-1).transpose(1, 0, 2)  # (T, L, 2)
    post = bayes.fit_drift(key, c)
    lo, hi = post.interval("n_eff", LEVEL)
    return float(post.quantile("n_eff", 0.5)), lo, hi


def compare(*, n: int, S: int, T: int, L: int, R: int, seed: int, sampler: dict, grid=None,
            estimators=("temporal", "hmm", "bayes_diversity", "bayes_drift"), log=print) -> dict:
    """Simulate `R` datasets (L loci, T + 1 samples of S genes, N_e = n) and run every estimator on each."""
    import jax

    grid = default_grid() if grid is None else np.asarray(grid)
    p0 = initial_frequencies(L, n)
    t0 = time.perf_counter()
    freqs = simulate_frequencies(seed, n, T, p0, R)
    sim_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    counts = sample_counts(rng, freqs, S)  # (R, L, T + 1)
    sizes = np.full_like(counts, S)
    fixed = float(np.mean((freqs[..., -1] == 0) | (freqs[..., -1] == 1)))
    log(f"# simulated {R} datasets x {L} loci x {T + 1} generations (N_e = n = {n}, S = {S}) in {sim_s:.1f} s; "
        f"{fixed:.1%} of the loci fixed by generation {T}")
    rows = []
    if "temporal" in estimators:
        res, times = [], []
        for r in range(R):
            out, dt = _timed(temporal, counts[r], sizes[r])
            res.append(out)
            times.append(dt)
        N = np.array([o["N"] for o in res])
        rows.append(_summary("temporal F_s (chi2 CI)", N, [o["lo"] for o in res], [o["hi"] for o in res], n, times,
                             "Jorde-Ryman F_s, haploid; first and last sample; Waples chi-square interval"))
        rows.append(_summary("temporal F_s (jackknife CI)", N, [o["jk_lo"] for o in res], [o["jk_hi"] for o in res], n,
                             times, "same estimate; delete-one-locus jackknife interval"))
    if "hmm" in estimators:
        res, times = [], []
        for r in range(R):
            out, dt = _timed(hmm_estimate, counts[r], sizes[r], grid)
            res.append(out)
            times.append(dt)
        rows.append(_summary("HMM exact likelihood", [o["N"] for o in res], [o["lo"] for o in res],
                             [o["hi"] for o in res], n, times,
                             f"Williamson-Slatkin forward algorithm, all samples; N grid {grid[0]}..{grid[-1]} "
                             f"({len(grid)} points); Wilks interval"))
    for name in ("bayes_diversity", "bayes_drift"):
        if name not in estimators:
            continue
        key = jax.random.key(seed + 1)
        res, times = [], []
        first = None
        for r in range(R):
            k = jax.random.fold_in(key, r)
            if name == "bayes_diversity":
                H = gini_simpson_unbiased(counts[r], sizes[r]).T  # (T + 1, L)
                out, dt = _timed(run_bayes_diversity, k, H, sampler)
            else:
                out, dt = _timed(run_bayes_drift, k, counts[r], sizes[r])
            if r == 0:
                first = dt
            if r > 0 or R == 1:
                times.append(dt)
            res.append(out)
        if name == "bayes_diversity":
            label_ = "bayes.fit diversity"
            note = (f"diversity model, kappa = 1, on the unbiased Gini-Simpson of the samples; NUTS "
                    f"{sampler['num_chains']} x {sampler['num_samples']} draws ({sampler['num_warmup']} warm-up); "
                    f"posterior median and 5-95% interval; the first fit ({first[0]:.1f} s wall, compilation) is "
                    "not in the time")
        else:
            label_ = "bayes.fit_drift"
            note = ("drift model of the sampled counts (exact moments, Gaussian shape, p0 integrated out, posterior on "
                    "a grid); posterior median and 5-95% interval")
        rows.append(_summary(label_, [o[0] for o in res], [o[1] for o in res], [o[2] for o in res], n, times, note))
        rows[-1]["first_call_wall_s"] = first[0]
    return {"design": {"n": n, "S": S, "T": T, "L": L, "R": R, "seed": seed, "p0": p0.tolist(),
                       "fixed_by_T": fixed, "simulate_s": sim_s}, "rows": rows}


# Williamson and Slatkin (1999), Table 1, the row "50 loci, samples at generations 0 and 8" (integers as printed,
# read from the table's expansion page on genetics.org): haploid N = 50, diallelic loci with initial frequencies from
# a uniform distribution, samples of 100 genes drawn with replacement; runs where either estimate exceeded 500 were
# discarded (none of their 200 runs here). mu, sigma: mean and standard deviation of the estimates.
WS_TABLE1 = {"N": 50, "S": 100, "t": 8, "L": 50, "runs": 200, "mu_ML": 54, "sigma_ML": 9, "d_ML": 0,
             "mu_F": 60, "sigma_F": 12, "d_F": 0}


def williamson_slatkin(seed: int, runs: int = WS_TABLE1["runs"], grid=None, log=print) -> dict:
    """Our HMM (and temporal) estimates on the design of Williamson and Slatkin's Table 1 row (see `WS_TABLE1`).

    The population is simulated with `jaxcollapse` (haploid Wright-Fisher, n = 50), the 50 initial frequencies are
    drawn once from U(0, 1) (rounded to a count 1..49 of 50) and shared by the runs (theirs were drawn per run);
    only generations 0 and 8 are sampled (S = 100), the others have sample size 0 in the HMM.
    """
    d = WS_TABLE1
    rng = np.random.default_rng(seed)
    p0 = np.clip(np.round(rng.uniform(size=d["L"]) * d["N"]), 1, d["N"] - 1) / d["N"]
    freqs = simulate_frequencies(seed, d["N"], d["t"], p0, runs)
    sizes = np.zeros(d["t"] + 1)
    sizes[[0, -1]] = d["S"]
    counts = rng.binomial(sizes.astype(int), freqs).astype(np.float64)
    grid = default_grid() if grid is None else grid
    t0 = time.process_time()
    hmm = hmm_estimate(counts, sizes, grid)
    cpu = time.process_time() - t0
    tmp = temporal(counts, sizes)
    keep = (hmm["N"] < 500) & (tmp["N"] < 500)
    out = {"published": d, "runs": runs, "seed": seed, "kept": int(keep.sum()),
           "d_ML": int(np.sum(hmm["N"] >= 500)), "d_F": int(np.sum(tmp["N"] >= 500)),
           "mu_ML": float(hmm["N"][keep].mean()), "sigma_ML": float(hmm["N"][keep].std(ddof=1)),
           "mu_F": float(tmp["N"][keep].mean()), "sigma_F": float(tmp["N"][keep].std(ddof=1)),
           "hmm_cpu_s_per_run": cpu / runs}
    se = math.hypot(out["sigma_ML"] / math.sqrt(out["kept"]), d["sigma_ML"] / math.sqrt(d["runs"]))
    out["z_mu_ML"] = (out["mu_ML"] - d["mu_ML"]) / se
    log(f"\n# Williamson and Slatkin (1999) Table 1 design (haploid N = 50, 50 loci, S = 100 at generations 0 and 8, "
        f"{runs} runs)")
    log(f"HMM MLE: mean {out['mu_ML']:.1f}, sd {out['sigma_ML']:.1f}, {out['d_ML']} above 500 "
        f"(published: {d['mu_ML']}, {d['sigma_ML']}, {d['d_ML']}; z of the means {out['z_mu_ML']:+.1f}, the published "
        "mean rounded to an integer)")
    log(f"temporal F_s (Jorde-Ryman, haploid): mean {out['mu_F']:.1f}, sd {out['sigma_F']:.1f}, {out['d_F']} above 500 "
        f"(their F-statistic estimator, not the same one: {d['mu_F']}, {d['sigma_F']})")
    return out


def _secs(x: float) -> str:
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def table(rows: list[dict]) -> str:
    from _common import markdown_table

    def f(x, spec=".1f"):
        return "inf" if x == math.inf else ("nan" if not math.isfinite(x) else format(x, spec))

    head = ["estimator", "mean N̂", "bias", "RMSE", "RMSE of n/N̂", "90% coverage", "median width", "CPU / dataset",
            "wall / dataset"]
    body = []
    for r in rows:
        inf = "" if r["finite"] == r["replicates"] else f" ({r['replicates'] - r['finite']} inf)"
        body.append([r["estimator"], f(r["mean"]) + inf, f"{r['bias']:+.1f} ± {r['bias_se']:.1f}", f(r["rmse"]),
                     f(r["rel_rmse_inv"], ".3f"), f"{r['coverage']:.2f} ± {r['coverage_se']:.2f}",
                     f(r["median_width"]), _secs(r["cpu_median_s"]), _secs(r["wall_median_s"])])
    return markdown_table(head, body)


def main(argv=None) -> int:
    from _common import code_version, machine_info, now_iso, write_result

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing")
    p.add_argument("--replicates", type=int, default=None)
    p.add_argument("--label", default=None)
    p.add_argument("--seed", type=int, default=2024)
    args = p.parse_args(argv)
    quick = args.quick
    design = dict(n=100, S=50, T=20, L=50, R=args.replicates or (10 if quick else 100), seed=args.seed)
    sampler = (dict(num_warmup=200, num_samples=200, num_chains=2) if quick
               else dict(num_warmup=500, num_samples=500, num_chains=2))
    info = machine_info()
    load0 = os.getloadavg()
    print(f"# population-genetics yardstick ({'quick' if quick else 'full'}), {now_iso()}")
    print(f"# {info['cpu_model']}, usable cores {info['cores_usable']}, jax {info['jax']}; 1-min load average at start "
          f"{load0[0]:.2f}", flush=True)
    res = compare(sampler=sampler, **design)
    print()
    print(table(res["rows"]))
    ws = williamson_slatkin(args.seed, runs=20 if quick else WS_TABLE1["runs"])
    load1 = os.getloadavg()
    out = {"benchmark": "popgen", "date": now_iso(), "quick": quick, "machine": info, "load_average": [load0, load1],
           "code": code_version(("benchmarks/popgen.py", "jaxcollapse/bayes/_drift.py", "jaxcollapse/bayes/models.py",
                                 "jaxcollapse/families/categorical.py")),
           "sampler": sampler, **res, "williamson_slatkin": ws}
    write_result("popgen", info, out, quick=quick, label_=args.label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
