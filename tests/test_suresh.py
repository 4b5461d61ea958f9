"""Closed forms of `theory.suresh`, `theory.golden_ratio` and `theory.stability` against independent computations.

Everything here is numpy (no compilation). Deterministic checks: identities to rounding, the bounds as
inequalities against the exact values, exact values against brute-force enumeration. Statistical checks (the
exact Gaussian tail, the augment loop's exact laws) use plain-numpy simulations written here, independent of the
engine, with a fixed seed, enough chains for a standard error, and the bound |z| < 4 stated up front.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln

import jaxcollapse
from jaxcollapse.theory import categorical as thc
from jaxcollapse.theory import gaussian as thg
from jaxcollapse.theory import golden_ratio as thr
from jaxcollapse.theory import poisson as thp
from jaxcollapse.theory import stability as ths
from jaxcollapse.theory import suresh as th

Z = 4.0


# --------------------------------------------------------------------------- Suresh et al.
def test_g_iterates_and_kolmogorov():
    g = th.suresh_g(np.arange(0, 2001))
    assert np.isinf(g[0]) and g[1] == 1.0 and g[2] == pytest.approx(1 - math.exp(-1), abs=1e-15)
    assert np.all(np.diff(g[1:]) < 0)
    # g_k ~ 2/k (Kolmogorov's estimate for the critical Poisson(1) process): k g_k -> 2, slowly (log k / k)
    assert 1.9 < 2000 * g[2000] < 2.0


def test_poisson_bound_is_the_exact_extinction_law():
    ks = np.arange(1, 501)
    for n, lam in ((10, 1.0), (10, 10.0), (3, 0.2)):
        exact = 1.0 - thp.poisson_extinction_probability(ks, n, lam)
        np.testing.assert_allclose(th.suresh_survival_bound(ks, n, lam), exact, rtol=1e-12, atol=1e-300)
    assert th.suresh_survival_bound(0, 10, 1.0) == 1.0


def _forward_survival(n, p0, kmax):
    """P(N_k != 0), k = 0..kmax, by propagating the whole distribution of the count forwards (the transpose of what
    `wright_fisher_survival` does), N_1 ~ Bin(n, p0)."""
    P = stats.binom.pmf(np.arange(n + 1)[None, :], n, (np.arange(n + 1) / n)[:, None])
    dist = stats.binom.pmf(np.arange(n + 1), n, p0)
    out = [1.0 if p0 > 0 else 0.0, 1.0 - dist[0]]
    for _ in range(2, kmax + 1):
        dist = dist @ P
        out.append(1.0 - dist[0])
    return np.array(out)


@pytest.mark.parametrize("n, p0", [(5, 0.2), (20, 0.05), (100, 0.2), (100, 0.8)])
def test_wright_fisher_survival_exact_and_above_the_bound(n, p0):
    ks = np.arange(0, 301)
    exact = th.wright_fisher_survival(ks, n, p0)
    np.testing.assert_allclose(exact, _forward_survival(n, p0, 300), rtol=1e-10, atol=1e-13)
    bound = th.suresh_survival_bound(ks, n, p0)
    assert np.all(bound <= exact + 1e-12), "the Poisson comparison bound must lie below the exact survival"
    assert np.all(exact[1:] >= p0 - 1e-12)  # a symbol fixes with probability p0
    # the fixation and loss of the two-type chain agree with the fundamental-matrix results
    absorb = thc.wright_fisher_absorption(n)
    first = stats.binom.pmf(np.arange(n + 1), n, p0)
    # after 5000 generations every chain with n <= 100 is absorbed but for (1 - 1/n)^5000 <= e^-50
    assert th.wright_fisher_survival(5000, n, p0) == pytest.approx(1.0 - first @ absorb.loss, abs=1e-9)


def test_expected_surviving_sums_the_symbols():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    ks = np.array([0, 1, 7, 40])
    surv = th.wright_fisher_survival(ks, 12, p)
    assert surv.shape == (4, 4)
    np.testing.assert_allclose(th.expected_surviving(ks, 12, p), surv.sum(axis=1), rtol=1e-14)
    assert th.expected_surviving(0, 12, p) == 4.0
    # one generation: E #{i seen in n draws} = sum 1 - (1 - p_i)^n
    assert th.expected_surviving(1, 12, p) == pytest.approx(np.sum(1 - (1 - p) ** 12), rel=1e-12)


def test_unbiased_chi_factor_is_below_the_bound_rate():
    """c = E sqrt(chi2_{n-1}/(n-1)) <= exp(-1/(4n)) for n = 2..10^4 (the step of Suresh et al.'s bound), with a
    margin 1/(4n(n-1)) - O(n^-3) that stays far above gammaln's rounding (about 1e-12 here)."""
    n = np.arange(2, 10_001, dtype=np.float64)
    log_c = 0.5 * np.log(2.0 / (n - 1)) + gammaln(n / 2) - gammaln((n - 1) / 2)
    assert np.all(log_c <= -1.0 / (4.0 * n) - 0.5 / (4.0 * n * (n - 1)))


def test_gaussian_tail_exact_one_generation_and_the_bound():
    for n in (3, 10, 50):
        for est, m in (("unbiased", n - 1), ("mle", n)):
            eps = 0.7
            exact1 = stats.chi2.sf(eps**2 * m, n - 1)  # P(sigma_1^2 = chi2_{n-1}/m > eps^2)
            assert th.gaussian_sigma_tail(1, n, eps, 1.0, est) == pytest.approx(exact1, abs=1e-10)
    ks = np.arange(0, 301, 10)
    tail = th.gaussian_sigma_tail(ks, 10, 0.1)
    assert tail[0] == 1.0 and np.all(np.diff(tail) <= 1e-12)
    assert np.all(tail <= th.suresh_gaussian_bound(ks, 10, 0.1))
    # the MLE collapses faster
    assert np.all(th.gaussian_sigma_tail(ks[1:], 10, 0.1, estimator="mle") < tail[1:])


def test_gaussian_tail_against_a_numpy_simulation():
    """|z| < 4 (fixed seed, 200,000 chains): P(sigma_k > eps) from products of chi-squares drawn by numpy."""
    rng = np.random.default_rng(20241223)
    n, eps, chains = 10, 0.1, 200_000
    s2 = np.ones(chains)
    ks = (10, 40, 100)
    exact = th.gaussian_sigma_tail(np.array(ks), n, eps)
    for k in range(1, max(ks) + 1):
        s2 *= rng.chisquare(n - 1, chains) / (n - 1)
        if k in ks:
            p = exact[ks.index(k)]
            share = np.mean(np.sqrt(s2) > eps)
            assert abs(share - p) / math.sqrt(p * (1 - p) / chains) < Z, (k, share, p)


def test_suresh_bad_input():
    with pytest.raises(ValueError, match="generations"):
        th.suresh_g(-1)
    with pytest.raises(ValueError, match="n = "):
        th.wright_fisher_survival(3, 0, 0.2)
    with pytest.raises(ValueError, match="p0"):
        th.wright_fisher_survival(3, 10, 1.5)
    with pytest.raises(ValueError, match="estimator"):
        th.gaussian_sigma_tail(3, 10, 0.1, estimator="median")
    with pytest.raises(ValueError, match="n = "):
        th.gaussian_sigma_tail(3, 1, 0.1)


# --------------------------------------------------------------------------- He et al.: the golden ratio
def test_golden_weight_is_the_minimizer():
    w = np.linspace(1e-4, 1.0, 200_001)
    for nr, ns, est in ((100, 100, "mean"), (100, 100, "mle"), (10, 30, "mean"), (50, 7, "mle")):
        e = thr.weighted_fresh_error_limit(nr, ns, w, 1.0, est)
        assert thr.weighted_fresh_optimal_weight(nr, ns, est) == pytest.approx(w[np.argmin(e)], abs=1e-5)
    assert thr.golden_weight(1.0) == pytest.approx((math.sqrt(5) - 1) / 2, abs=1e-15) == thr.INV_PHI
    assert thr.weighted_fresh_optimal_weight(100, 100, "mle") < thr.INV_PHI


def test_weighted_fresh_limit_is_the_recursion_limit():
    for w in (0.2, thr.INV_PHI, 0.95):
        for est in ("mean", "mle"):
            lim = thr.weighted_fresh_error_limit(20, 40, w, 1.5, est)
            with jaxcollapse.x64():
                e = np.asarray(thg.mixed_mean_sq_err(2000, 20, 40, 1.0 - w, 1.5, real="fresh", estimator=est))
            assert float(e) == pytest.approx(float(lim), rel=1e-12)


def test_weighted_fresh_loop_against_a_numpy_simulation():
    """|z| < 4 (fixed seed, 40,000 chains): He et al.'s scenario 2 in plain numpy (each generation: n fresh real
    draws with weight w, m draws of the previous fit with weight 1 - w; the weighted mean, and for the MLE the
    weighted variance about it) against the exact finite-t error mixed_mean_sq_err, whose limit
    weighted_fresh_error_limit is (test above), at the golden weight and away from it."""
    rng = np.random.default_rng(2025_0619)
    n, m, chains, mu, v = 12, 12, 40_000, -0.4, 1.3
    ts = (1, 3, 8)
    for w in (thr.INV_PHI, 0.3):
        for est in ("mean", "mle"):
            with jaxcollapse.x64():
                exact = np.asarray(thg.mixed_mean_sq_err(np.array(ts), n, m, 1.0 - w, v, real="fresh", estimator=est))
            th, var = np.full(chains, mu), np.full(chains, v)
            for t in range(1, max(ts) + 1):
                real = mu + math.sqrt(v) * rng.standard_normal((chains, n))
                syn = th[:, None] + np.sqrt(var)[:, None] * rng.standard_normal((chains, m))
                th = w * real.mean(axis=1) + (1.0 - w) * syn.mean(axis=1)
                if est == "mle":
                    var = (w * ((real - th[:, None]) ** 2).mean(axis=1)
                           + (1.0 - w) * ((syn - th[:, None]) ** 2).mean(axis=1))
                if t in ts:
                    e = (th - mu) ** 2
                    z = (e.mean() - exact[ts.index(t)]) / (e.std() / math.sqrt(chains))
                    assert abs(z) < Z, (w, est, t, e.mean(), exact[ts.index(t)])


def test_golden_bad_input():
    with pytest.raises(ValueError, match="k = "):
        thr.golden_weight(0.0)
    with pytest.raises(ValueError, match="w = "):
        thr.weighted_fresh_error_limit(10, 10, 0.0)
    with pytest.raises(ValueError, match="estimator"):
        thr.weighted_fresh_optimal_weight(10, 10, "unbiased")


# --------------------------------------------------------------------------- Bertrand et al.: the augment loop
def test_stationary_error_is_the_limit_and_bounded_in_lambda():
    for lam in (0.5, 3.0, 16.0):
        for est in ("mle", "mean"):
            with jaxcollapse.x64():
                e = float(np.asarray(thg.augment_mean_sq_err(5000, 20, lam, 1.3, est)))
            assert float(ths.augment_stationary_mean_sq_err(20, lam, 1.3, est)) == pytest.approx(e, rel=1e-10)
    lam = np.linspace(0, 200, 4001)
    for est in ("mle", "mean"):
        v = ths.augment_stationary_mean_sq_err(20, lam, 1.0, est)
        assert v[0] == pytest.approx(1 / 20) and np.all(np.diff(v) >= -1e-15)
        assert np.all(v < ths.augment_stationary_limit(20, 1.0, est))
    # the retraining's own stationary error around the real data's MLE (MLE): the decomposition of the docstring
    for lam in (0.5, 4.0):
        total = float(ths.augment_stationary_mean_sq_err(20, lam))
        assert total == pytest.approx(1 / 20 + float(ths.augment_real_fit_sq_err(10**4, 20, lam)), rel=1e-10)


def test_augment_laws_against_a_numpy_simulation():
    """|z| < 4 (fixed seed, 100,000 chains): a plain-numpy augment loop (fixed real set, pooled MLE) against
    augment_real_fit_sq_err and augment_contraction_moment."""
    rng = np.random.default_rng(2310_00429)
    nr, lam, chains, mu, s2 = 8, 2.0, 100_000, 0.3, 1.7
    ns = int(round(lam * nr))
    real = mu + math.sqrt(s2) * rng.standard_normal((chains, nr))
    xbar, ssd = real.mean(axis=1), ((real - real.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    m, v = np.full(chains, mu), np.full(chains, s2)
    ts = (1, 2, 5, 15)
    fit = ths.augment_real_fit_sq_err(np.array(ts), nr, lam, s2)
    con = ths.augment_contraction_moment(np.array(ts), nr, lam, s2)
    for t in range(1, max(ts) + 1):
        syn = m[:, None] + np.sqrt(v)[:, None] * rng.standard_normal((chains, ns))
        pool = np.concatenate([real, syn], axis=1)
        m, v = pool.mean(axis=1), pool.var(axis=1)
        if t in ts:
            i = ts.index(t)
            for x, target in (((m - xbar) ** 2, fit[i]), ((m - xbar) * (mu - xbar), con[i])):
                assert abs(x.mean() - target) / (x.std() / math.sqrt(chains)) < Z, (t, x.mean(), target)
    assert ssd.mean() / nr == pytest.approx(s2 * (1 - 1 / nr), rel=0.02)  # the MLE variance of D (sanity)


def test_stability_bad_input():
    with pytest.raises(ValueError, match="lam"):
        ths.augment_stationary_mean_sq_err(10, -1.0)
    with pytest.raises(ValueError, match="n_real"):
        ths.augment_stationary_mean_sq_err(0, 1.0)
    with pytest.raises(ValueError, match="estimator"):
        ths.augment_stationary_limit(10, 1.0, "unbiased")


# --------------------------------------------------------------------------- the argmin estimator
def test_quadratic_vertex_exact_on_a_parabola_and_its_standard_error():
    from jaxcollapse.papers.he2025_golden_ratio import WS, quadratic_vertex

    curve = 3.0 * (WS - 0.61) ** 2 + 1.0
    w, se = quadratic_vertex(WS, curve)
    assert w == pytest.approx(0.61, abs=1e-12) and se == 0.0
    rng = np.random.default_rng(0)
    chains = 4000
    noisy = curve[:, None] + 0.05 * rng.standard_normal((WS.size, chains))
    w, se = quadratic_vertex(WS, noisy)
    assert abs(w - 0.61) / se < Z and 0 < se < 0.01
