"""`jaxcollapse.bayes.fit_drift`: N_e from sampled category counts (exact moments, Gaussian shape).

Rules, stated up front:

- Exactness (deterministic): the covariance time factor (`theory.categorical.sampled_frequency_covariance`)
  equals the covariance of the sampled frequencies computed by enumerating a small K = 3 Wright–Fisher chain
  and its multinomial samples (1e-12); the per-chain log-likelihood equals the dense multivariate normal
  density (1e-9); the integral over p_0 equals a brute-force two-dimensional quadrature over the simplex
  (1e-6 in the log).
- Recovery (one dataset, fixed seed): the true n lies within `Z_BOUND` = 4 posterior standard deviations
  of the posterior mean of ln(n - 1), and the same bound rejects n/2 and 2n.
- Coverage (slow): over M datasets the count of 90% intervals holding n lies in the central range of
  Binomial(M, 0.9) of probability >= 0.998.

The data are Wright–Fisher populations drawn with numpy (independent of the code under test).
"""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from jaxcollapse import bayes
from jaxcollapse.bayes import _drift as D
from jaxcollapse.theory import categorical as thc

Z_BOUND = 4.0


def binom_range(m: int, p: float = 0.9, mass: float = 0.998) -> tuple[int, int]:
    a = (1 - mass) / 2
    return int(stats.binom.ppf(a, m, p)), int(stats.binom.isf(a, m, p))


def compositions(n: int, k: int) -> list[tuple[int, ...]]:
    return [c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]


def wright_fisher_counts(rng, n: int, p0: np.ndarray, times, sizes) -> np.ndarray:
    """Sampled counts `(samples, chains, K)` of Wright–Fisher chains (population n) started at `p0` `(chains, K)`."""
    p = np.asarray(p0, np.float64)
    out, t = [], 0
    for tau, s in zip(times, sizes, strict=True):
        while t < tau:
            p = np.stack([rng.multinomial(n, q) for q in p]) / n
            t += 1
        out.append(np.stack([rng.multinomial(int(s), q) for q in p]))
    return np.asarray(out, np.float64)


# --------------------------------------------------------------------------- exactness
def test_time_factor_is_the_exact_covariance():
    """K = 3, n = 4, samples of sizes (3, 2, 4) at generations (0, 1, 3): Cov(x_i, x_j) = c_ij Sigma(p0) entrywise."""
    n, K, times, sizes = 4, 3, np.array([0, 1, 3]), np.array([3, 2, 4])
    p0 = np.array([2, 1, 1]) / n
    states = compositions(n, K)
    P = np.array([[stats.multinomial.pmf(b, n, np.array(a) / n) for b in states] for a in states])
    start = states.index((2, 1, 1))
    # the law of the population state at each sampled time, jointly for each pair of times
    law = {t: np.linalg.matrix_power(P, t)[start] for t in set(times)}
    f = np.array(states, np.float64) / n  # (states, K): population frequencies

    def second(i, j):  # E[x_i x_j^T] of the samples at times[i] <= times[j]
        if i == j:  # E[p p^T + Sigma(p)/S]
            w = law[times[i]]
            m = np.einsum("s,sa,sb->ab", w, f, f)
            return m + (np.einsum("s,sa->a", w, f) * np.eye(K) - m) / sizes[i]
        step = np.linalg.matrix_power(P, times[j] - times[i])
        joint = law[times[i]][:, None] * step  # (from, to)
        return np.einsum("st,sa,tb->ab", joint, f, f)

    sigma = np.diag(p0) - np.outer(p0, p0)
    c = thc.sampled_frequency_covariance(times, sizes, n)
    for i in range(3):
        for j in range(i, 3):
            cov = second(i, j) - np.outer(p0, p0)  # E x = p0 at every time
            np.testing.assert_allclose(cov, c[i, j] * sigma, rtol=1e-12, atol=1e-15)


def _toy(seed=3, C=3, J=4, K=3):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(15, 30, (C, J)).astype(np.float64)
    p0 = rng.dirichlet(np.full(K, 4.0), C)
    times = np.array([0, 1, 3, 4.0])[:J]
    freqs = np.stack([[rng.multinomial(int(sizes[c, j]), p0[c]) / sizes[c, j] for j in range(J)] for c in range(C)])
    return freqs, sizes, times, p0


@pytest.mark.parametrize("shared", [False, True])
def test_loglik_is_the_dense_gaussian(shared):
    freqs, sizes, times, p0 = _toy()
    if shared:
        sizes = sizes[:1]
    C, J, K = freqs.shape
    seen = np.ones((C, K), bool)
    got = D.drift_loglik(freqs, sizes, times, seen, p0, 7.5)
    for c in range(C):
        ct = thc.sampled_frequency_covariance(times, sizes[0 if shared else c], 7.5)
        sig = (np.diag(p0[c]) - np.outer(p0[c], p0[c]))[:K - 1, :K - 1]
        r = (freqs[c, :, :K - 1] - p0[c, :K - 1]).reshape(-1)
        want = stats.multivariate_normal(np.zeros(r.size), np.kron(ct, sig)).logpdf(r)
        assert got[c] == pytest.approx(want, rel=1e-9)


def test_marginal_matches_a_brute_force_integral():
    """K = 3: the convolution over the simplex against a midpoint rule on a 500 x 500 grid of (p_1, p_2)."""
    freqs, sizes, times, _ = _toy(seed=5, C=2)
    C, J, K = freqs.shape
    seen = np.ones((C, K), bool)
    n = 9.0
    got = D.drift_marginal(freqs, sizes, times, seen, n, resolution=1024)
    h = 1.0 / 500
    g = (np.arange(500) + 0.5) * h
    p1, p2 = np.meshgrid(g, g, indexing="ij")
    inside = p1 + p2 < 1.0
    pts = np.stack([p1[inside], p2[inside], 1.0 - p1[inside] - p2[inside]], axis=1)  # (M, 3)
    for c in range(C):
        M = len(pts)
        ll = D.drift_loglik(np.broadcast_to(freqs[c], (M, J, K)), sizes[c:c + 1], times, np.ones((M, K), bool), pts, n)
        want = logsumexp(ll) + 2 * math.log(h) + math.log(2.0)  # Dirichlet(1, 1, 1) density 2 on the simplex
        assert got[c] == pytest.approx(want, abs=1e-6)
    # a category never seen leaves the chain as a two-category chain
    seen2 = seen.copy()
    seen2[0, 2] = False
    f2 = freqs.copy()
    f2[0, :, 1] += f2[0, :, 2]
    f2[0, :, 2] = 0
    two = D.drift_marginal(f2[:1, :, :2], sizes[:1], times, seen[:1, :2], n, resolution=1024)
    three = D.drift_marginal(f2, sizes, times, seen2, n, resolution=1024)[0]
    assert three == pytest.approx(two[0], abs=1e-9)


# --------------------------------------------------------------------------- recovery
def test_fit_drift_recovers_n_and_rejects_wrong_sizes():
    """K = 3, n = 50, 100 chains sampled (S = 40) at generations 0..8 (drift share 1 - (1 - 1/n)^8 = 0.15)."""
    n, times = 50, np.arange(9)
    rng = np.random.default_rng(11)
    p0 = np.broadcast_to(np.array([0.5, 0.3, 0.2]), (100, 3))
    counts = wright_fisher_counts(rng, n, p0, times, np.full(len(times), 40))
    post = bayes.fit_drift(jax.random.key(0), counts, times=times)
    w = np.gradient(post.cdf)
    mean = float(np.sum(w * post.z))
    sd = float(np.sqrt(np.sum(w * (post.z - mean) ** 2)))
    z = {m: (math.log(m - 1) - mean) / sd for m in (n // 2, n, 2 * n)}
    assert abs(z[n]) < Z_BOUND, z
    assert abs(z[n // 2]) > Z_BOUND and abs(z[2 * n]) > Z_BOUND, z
    lo, hi = post.interval("n_eff")
    assert lo < np.median(post.samples("n_eff")) < hi
    rlo, rhi = post.interval("rate")
    assert rlo == pytest.approx(-math.log1p(-1 / hi)) and rhi == pytest.approx(-math.log1p(-1 / lo))
    assert "drift model" in post.summary()


def test_bad_input():
    key = jax.random.key(0)
    good = np.array([[[3, 2], [1, 4]], [[2, 3], [0, 5]]], np.float64)  # (2 samples, 2 chains, K = 2)
    with pytest.raises(ValueError, match="give sizes"):
        bayes.fit_drift(key, good[..., 0])
    with pytest.raises(ValueError, match="at least 2"):
        bayes.fit_drift(key, good[:1])
    with pytest.raises(ValueError, match="finite integers"):
        bayes.fit_drift(key, -good)
    with pytest.raises(ValueError, match="times must be 2 strictly increasing"):
        bayes.fit_drift(key, good, times=[3, 3])
    with pytest.raises(ValueError, match="counts exceed"):
        bayes.fit_drift(key, good[..., 0], sizes=2)
    with pytest.raises(ValueError, match="fixed chains"):
        bayes.fit_drift(key, np.stack([good[..., 0] + good[..., 1], 0 * good[..., 0]], axis=-1))
    with pytest.raises(ValueError, match="sample size of 0"):
        bayes.fit_drift(key, np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="prior_n"):
        bayes.fit_drift(key, good, prior_n=(0.0, -1.0))
    with pytest.raises(ValueError, match="single typed key"):
        bayes.fit_drift(0, good)


@pytest.mark.slow
def test_ninety_percent_intervals_cover():
    """40 datasets of 40 biallelic chains (n = 100, S = 50, 21 samples): 90% intervals cover n."""
    n, M, times = 100, 40, np.arange(21)
    rng = np.random.default_rng(29)
    p = np.linspace(0.2, 0.8, 40)
    hits = 0
    for m in range(M):
        counts = wright_fisher_counts(rng, n, np.stack([p, 1 - p], axis=1), times, np.full(21, 50))
        lo, hi = bayes.fit_drift(jax.random.key(m), counts).interval("n_eff")
        hits += lo <= n <= hi
    a, b = binom_range(M)
    assert a <= hits <= b, (hits, (a, b))
