"""Exactness of the multinomial sampler (`jaxcollapse._multinomial`).

Statistical rules, stated up front:

- Goodness of fit: Pearson chi-square of the counts of every possible outcome (small K and n, all
  outcomes enumerated, expected frequencies >= 30) against the multinomial pmf. Family-wise level
  `FAMILY_ALPHA` = 1e-3 over `GOF_TESTS` tests: each p-value must exceed FAMILY_ALPHA / GOF_TESTS.
- Moments at large K and n: |z| < 4 (conftest's `Z_BOUND`) for a handful of means, variances and a
  covariance, and a Pearson statistic over all K category means, p-value > FAMILY_ALPHA / GOF_TESTS.
- Every key is fixed; each test also shows that a wrong law is rejected by the same statistic.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_z, mean_z
from scipy import stats

import jaxcollapse
from jaxcollapse import _multinomial as M
from jaxcollapse._multinomial import categorical_draws, default_capacity, monotone_cumsum, multinomial, normalized_cdf
from jaxcollapse.random import Stream

FAMILY_ALPHA = 1e-3
GOF_TESTS = 5  # 3 enumerated GOF cases + the large-K Pearson test + the categorical_draws GOF
BOUND = FAMILY_ALPHA / GOF_TESTS
CHAINS = 20_000


@functools.partial(jax.jit, static_argnums=(4,))
def _counts(kd, ids, n, p, capacity):
    return jax.vmap(lambda c: multinomial(Stream(kd, c), n, p, capacity))(ids)


def _draw(p, n, chains, capacity=None, seed=0):
    """Counts of `chains` chains; one compiled program per (chains, K, dtype, capacity): key, n, p are traced."""
    kd = jax.random.key_data(jax.random.key(seed))
    p = jnp.asarray(p)
    return np.asarray(_counts(kd, jnp.arange(chains, dtype=jnp.uint32), jnp.asarray(n, p.dtype), p, capacity))


def _gof_pvalue(counts: np.ndarray, n: int, p: np.ndarray) -> float:
    """Pearson chi-square p-value of the observed outcome vectors against Multinomial(n, p), all outcomes."""
    K = p.size
    outcomes = [c for c in itertools.product(range(n + 1), repeat=K) if sum(c) == n]
    pmf = np.array([stats.multinomial.pmf(c, n, p) for c in outcomes])
    support = pmf > 0
    index = {c: i for i, c in enumerate(outcomes)}
    obs = np.zeros(len(outcomes))
    for row in counts.astype(int):
        obs[index[tuple(row)]] += 1  # a KeyError here would be an impossible outcome (wrong total)
    assert np.all(obs[~support] == 0), "an outcome of probability 0 was drawn"
    exp = pmf[support] * counts.shape[0]
    assert exp.min() >= 30, "design: every expected frequency should be >= 30"
    chi2 = float(np.sum((obs[support] - exp) ** 2 / exp))
    return float(stats.chi2.sf(chi2, support.sum() - 1))


P3 = np.array([0.2, 0.3, 0.5])


@pytest.mark.parametrize(
    "p, n, capacity",
    [
        (P3, 4, None),  # one batch (n <= capacity)
        (P3, 4, 3),  # two batches: n > capacity goes through the while loop
        (np.array([0.25, 0.0, 0.45, 0.3]), 3, None),  # a zero-probability category
    ],
    ids=["one-batch", "batched", "zero-category"],
)
def test_gof_all_outcomes(p, n, capacity):
    counts = _draw(p.astype(np.float32), n, CHAINS, capacity, seed=n + (capacity or 0))
    assert np.all(counts.sum(axis=1) == n)
    pval = _gof_pvalue(counts, n, p)
    assert pval > BOUND, f"chi-square p-value {pval:.2e} <= {BOUND:.1e}"
    # the same statistic rejects a nearby wrong law (p perturbed by 0.03): the test has power
    wrong = p + np.where(p > 0, np.array([0.03, -0.03, 0.0, 0.0])[: p.size], 0.0)
    wrong = np.where(p > 0, wrong, 0.0)
    wrong = wrong / wrong.sum()
    assert _gof_pvalue(counts, n, wrong) < BOUND


def test_categorical_draws_gof():
    """i.i.d. draws by inversion: the frequencies of 20,000 draws match p (chi-square, K = 4)."""
    p = jnp.asarray([0.1, 0.0, 0.6, 0.3])
    x = np.asarray(categorical_draws(Stream.from_key(jax.random.key(3)), CHAINS, p)).astype(int)
    obs = np.bincount(x, minlength=4)
    assert obs[1] == 0
    keep = np.asarray(p) > 0
    pval = stats.chisquare(obs[keep], np.asarray(p)[keep] * CHAINS).pvalue
    assert pval > BOUND


def test_moments_large_K_and_n():
    """K = 1000 (Zipf 1.1), n = 3000 over 3 batches of 1000: means, variances, a covariance, Pearson."""
    K, n, chains = 1000, 3000, 4000
    w = np.arange(1, K + 1, dtype=np.float64) ** -1.1
    p = w / w.sum()
    counts = _draw(p.astype(np.float32), n, chains, capacity=1000, seed=11).astype(np.float64)
    assert np.all(counts.sum(axis=1) == n)
    for i in (0, 1, 10, 500, K - 1):
        assert_z(mean_z(counts[:, i], n * p[i], n * p[i] * (1 - p[i])), f"mean of category {i}")
    for i in (0, 10):  # variance n p (1 - p); Var of the sample variance from the binomial 4th central moment
        v = n * p[i] * (1 - p[i])
        mu4 = v * (1 + 3 * (n - 2) * p[i] * (1 - p[i]))
        z = (counts[:, i].var(ddof=1) - v) / math.sqrt((mu4 - v * v) / chains)
        assert_z(z, f"variance of category {i}")
    # covariance of categories 0 and 1: -n p0 p1; its standard error from the products' spread
    prod = (counts[:, 0] - n * p[0]) * (counts[:, 1] - n * p[1])
    assert_z((prod.mean() + n * p[0] * p[1]) / (prod.std() / math.sqrt(chains)), "covariance 0-1")
    # Pearson over all K means: sum_i (mean_i - n p_i)^2 / (n p_i / chains) ~ chi2_{K-1}
    stat = float(np.sum((counts.mean(axis=0) - n * p) ** 2 / (n * p / chains)))
    assert stats.chi2.sf(stat, K - 1) > BOUND
    # ... and the same statistic rejects a slightly wrong law (Zipf 1.12)
    w2 = np.arange(1, K + 1, dtype=np.float64) ** -1.12
    q = w2 / w2.sum()
    bad = float(np.sum((counts.mean(axis=0) - n * q) ** 2 / (n * q / chains)))
    assert stats.chi2.sf(bad, K - 1) < BOUND


def test_chain_prefix_invariance_and_traced_n():
    """Chain i draws the same counts with 8 or 32 chains beside it; n is traced (one compile, many n)."""
    p = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    a = _draw(p, 37, 8, capacity=16)
    b = _draw(p, 37, 32, capacity=16)
    np.testing.assert_array_equal(a, b[:8])
    for n in (0, 1, 16, 17, 100):
        c = _draw(p, n, 8, capacity=16)
        assert np.all(c.sum(axis=1) == n)


def test_absorbed_and_degenerate():
    """A point mass stays a point mass; n = 0 gives no counts; float64 works."""
    c = _draw(np.array([0.0, 1.0, 0.0], np.float32), 50, 8)
    np.testing.assert_array_equal(c, np.tile([0.0, 50.0, 0.0], (8, 1)))
    assert np.all(_draw(P3.astype(np.float32), 0, 8) == 0)
    with jaxcollapse.x64():
        c = _draw(P3, 10, 8)
        assert c.dtype == np.float64 and np.all(c.sum(axis=1) == 10)


def test_cdf_and_capacity():
    c = np.asarray(normalized_cdf(jnp.asarray([0.3, 0.0, 0.7], jnp.float32)))
    assert c[-1] == 1.0 and np.all(np.diff(c) >= 0) and c[0] == c[1]
    assert default_capacity(5) == 63 and default_capacity(1000) == 1023 and default_capacity(1024) == 2047
    for K in (2, 63, 64, 1000, 1023, 1024, 5000):  # the largest capacity whose points array is the least power
        P = M._points(default_capacity(K))          # of two above K (and at least 64)
        assert P == default_capacity(K) + 1 and P & (P - 1) == 0 and max(K, 63) < P <= max(2 * K, 64)
    with pytest.raises(ValueError, match="capacity"):
        multinomial(Stream.from_key(jax.random.key(0)), 3, jnp.asarray([0.5, 0.5]), 0)


def _adversarial_weights(rows: int, K: int, seed: int) -> np.ndarray:
    """Nonnegative weights over 35 decades, 60% of them exactly 0: where tree-ordered prefix sums go wrong."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=(rows, K)) * 10.0 ** rng.integers(-30, 5, (rows, K))
    return (x * (rng.random((rows, K)) < 0.4)).astype(np.float32)


@pytest.mark.parametrize("K", [1, 2, 5, 32, 33, 1000, 5000])
def test_monotone_cumsum(K):
    """(i) nondecreasing, (ii) equal where the weight is 0, (iii) close to float64 sums; batched rows."""
    x = _adversarial_weights(4, K, K)
    s = np.asarray(jax.jit(monotone_cumsum)(jnp.asarray(x)))
    d = np.diff(s, axis=-1)
    assert s.shape == x.shape and np.all(d >= 0), "not nondecreasing"
    assert np.all(d[x[:, 1:] == 0] == 0), "a zero weight moved the sum"
    ref = np.cumsum(x.astype(np.float64), axis=-1)
    # float32 sums of nonnegative terms: relative error <= (number of adds) x 2^-24 ~ 2 sqrt(K) 6e-8
    np.testing.assert_allclose(s, ref, rtol=2 * (math.isqrt(K) + 2) * 6e-8, atol=0)


def test_zero_categories_never_drawn():
    """A category of probability 0 gets no count and no count is negative, over 8192 chains at K = n = 1000.

    Regression: with `jnp.cumsum` (a tree-ordered sum on XLA CPU) the sampler gave such categories a count,
    or a negative one: with these weights 1 to 8 times per 8,192 chains (5 seeds, mean 5.2), so this test
    failed with probability ~0.99."""
    x = _adversarial_weights(1, 1000, 3)[0]
    x = np.where(x > 0, np.random.default_rng(4).random(1000), 0.0).astype(np.float32)  # a live 40%
    c = _draw(x, 1000, 8192, seed=5)
    assert np.all(c >= 0) and np.all(c.sum(axis=1) == 1000)
    assert np.all(c[:, x == 0] == 0), f"{int((c[:, x == 0] != 0).sum())} counts on categories of probability 0"
