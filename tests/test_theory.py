"""`jaxcollapse.theory.gaussian` against independent numerics.

Each closed form is compared with a route that does not share its derivation: numerical
integration against scipy's chi-square density, direct loops over the defining recursion,
exact linear-Gaussian covariance propagation, small exact cases and known limits.
Deterministic comparisons use rtol 1e-10 (float64) unless said otherwise; the one Monte
Carlo test (Wishart determinant via scipy's sampler) uses a fixed seed and |z| < 4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.special as sp
import scipy.stats as ss

import jaxcollapse
import jaxcollapse.theory as th
from jaxcollapse.theory import gaussian as thg

RTOL = 1e-10


@pytest.fixture(autouse=True)
def _x64():
    with jaxcollapse.x64():
        yield


def a(x) -> np.ndarray:
    return np.asarray(x, np.float64)


def chi2_expect(f, k: float) -> float:
    """E f(X) for X ~ chi2_k by quadrature against scipy's density, in y = ln x (smooth even for k = 1)."""
    g = lambda y: f(math.exp(y)) * math.exp(ss.chi2.logpdf(math.exp(y), k) + y)
    mid = math.log(k)
    hi = math.log(k + 40.0 * math.sqrt(k) + 200.0)  # the density beyond is below 1e-30
    pieces = [(-90.0, mid - 3.0), (mid - 3.0, mid), (mid, hi)]
    return sum(si.quad(g, lo, up, limit=200, epsabs=1e-14, epsrel=1e-12)[0] for lo, up in pieces)


# --------------------------------------------------------------------------- exports and dtypes
def test_reexports_and_module():
    assert th.gaussian is thg
    for name in thg.__all__:
        assert getattr(th, name) is getattr(thg, name), name


def test_one_module_per_family_and_generated_flat_names():
    """Every theory module is found without a list, and its `__all__` is gathered into the package."""
    import importlib

    assert {"gaussian", "categorical", "poisson", "ngram", "regression", "mixture", "kde", "vae"} <= set(th.MODULES)
    for mod_name in th.MODULES:
        mod = importlib.import_module(f"jaxcollapse.theory.{mod_name}")
        assert getattr(th, mod_name) is mod
        for name in mod.__all__:
            assert getattr(th, name) is getattr(mod, name), f"{mod_name}.{name}"
            assert getattr(mod, name).__doc__, f"{mod_name}.{name} has no docstring"
    assert not hasattr(th, "markov") and not hasattr(th, "discrete") and not hasattr(th, "neural")


def test_theory_imports_nothing_of_the_simulator():
    """Theory modules are pure: no import of families, engine, regimes or the CLI (linear algebra comes from the
    bottom layer, `jaxcollapse._linalg`)."""
    import pathlib
    import re

    root = pathlib.Path(th.__file__).parent
    bad = re.compile(r"^\s*(from|import)\s+(\.\.|jaxcollapse\.)(families|engine|regimes|cli|verify|curation)",
                     re.M)
    offenders = {f.name for f in root.glob("*.py") if bad.search(f.read_text())}
    assert not offenders, offenders


def test_float64_and_array_t():
    t = np.arange(5)
    out = th.mle_variance(t, 10, 2.0)
    assert out.dtype == np.float64 and out.shape == (5,)
    assert th.mle_variance(3, 10).shape == ()
    np.testing.assert_allclose(a(out), 2.0 * 0.9 ** np.arange(5), rtol=RTOL)


# --------------------------------------------------------------------------- one-generation constants
@pytest.mark.parametrize("n", [2, 3, 7, 50])
@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_one_generation_moments_by_quadrature(n, estimator):
    k = n - 1.0
    m = float(n) if estimator == "mle" else n - 1.0
    # E ln(chi2_k / m) and Var ln chi2_k
    e_log = chi2_expect(lambda x: math.log(x / m), k)
    e_log2 = chi2_expect(lambda x: math.log(x / m) ** 2, k)
    np.testing.assert_allclose(a(th.log_variance_mean(1, n, estimator)), e_log, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a(th.log_variance_var(1, n)), e_log2 - e_log**2, rtol=1e-7)
    # E sqrt(chi2_k / m)
    c = chi2_expect(lambda x: math.sqrt(x / m), k)
    np.testing.assert_allclose(a(th.chi_mean(k, m)), c, rtol=1e-9)
    np.testing.assert_allclose(a(th.chi_mean(k, m)), ss.chi(k).mean() / math.sqrt(m), rtol=1e-10)
    np.testing.assert_allclose(a(th.sigma_mean(1, n, 1.5, estimator)), 1.5 * c, rtol=1e-9)
    # t generations multiply independent factors
    np.testing.assert_allclose(a(th.sigma_mean(4, n, 1.0, estimator)), c**4, rtol=1e-9)
    np.testing.assert_allclose(a(th.log_variance_mean(4, n, estimator)), 4 * e_log, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n", [3, 10])
def test_w2sq_one_generation_by_quadrature(n):
    s2 = 2.0
    sigma = math.sqrt(s2)
    for estimator, m in (("mle", n), ("unbiased", n - 1)):
        # E[(xbar - mu)^2] + E[(sqrt(s2 X/m) - sigma)^2], X ~ chi2_{n-1}
        spread = chi2_expect(lambda x, m=m: (math.sqrt(s2 * x / m) - sigma) ** 2, n - 1.0)
        np.testing.assert_allclose(a(th.w2sq_mean(1, n, s2, estimator)), s2 / n + spread, rtol=1e-9)


def test_fourth_moment_unbiased():
    for n in (3, 10, 40):
        m2 = ss.chi2(n - 1).moment(2) / (n - 1) ** 2
        np.testing.assert_allclose(a(th.unbiased_variance_fourth_moment(1, n, 2.0)), 4.0 * m2, rtol=1e-12)
        np.testing.assert_allclose(a(th.unbiased_variance_fourth_moment(5, n)), m2**5, rtol=1e-12)


def test_small_exact_case_n2():
    # n = 2: the MLE variance of (x1, x2) is (x1 - x2)^2 / 4, of mean sigma^2 / 2; xbar has variance sigma^2 / 2.
    np.testing.assert_allclose(a(th.mle_variance(1, 2, 3.0)), 1.5, rtol=RTOL)
    np.testing.assert_allclose(a(th.mle_mean_sq_err(1, 2, 3.0)), 1.5, rtol=RTOL)
    # two generations: E sigma_2^2 = sigma^2 / 4; E(mu_2 - mu)^2 = sigma^2/2 + E sigma_1^2 / 2 = 3/4 sigma^2
    np.testing.assert_allclose(a(th.mle_variance(2, 2, 3.0)), 0.75, rtol=RTOL)
    np.testing.assert_allclose(a(th.mle_mean_sq_err(2, 2, 3.0)), 2.25, rtol=RTOL)


# --------------------------------------------------------------------------- replace recursions
def test_replace_mean_error_by_loop():
    n, s2, T = 7, 1.3, 30
    e, v, es, vs = 0.0, s2, [], []
    for _ in range(T):
        e, v = e + v / n, v * (n - 1) / n
        es.append(e)
        vs.append(v)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(a(th.mle_mean_sq_err(t, n, s2)), es, rtol=RTOL)
    np.testing.assert_allclose(a(th.mle_variance(t, n, s2)), vs, rtol=RTOL)
    np.testing.assert_allclose(a(th.mle_mean_sq_err(t, n, s2) + th.mle_variance(t, n, s2)), s2, rtol=RTOL)


def test_schedules_by_loop():
    ns = np.array([4.0, 9, 5, 30, 12, 100])
    s2 = 0.7
    e_u, e_m, v_m, c_u, c_m = 0.0, 0.0, s2, 1.0, 1.0
    rows = []
    for n in ns:
        e_u += s2 / n  # unbiased: E sigma^2 stays s2
        e_m += v_m / n
        v_m *= (n - 1) / n
        c_u *= ss.chi(n - 1).mean() / math.sqrt(n - 1)
        c_m *= ss.chi(n - 1).mean() / math.sqrt(n)
        rows.append((e_u, e_m, v_m, c_u, c_m))
    e_u, e_m, v_m, c_u, c_m = map(np.array, zip(*rows, strict=True))
    np.testing.assert_allclose(a(th.unbiased_mean_sq_err(ns, s2)), e_u, rtol=RTOL)
    np.testing.assert_allclose(a(th.mean_sq_err_schedule(ns, s2, "unbiased")), e_u, rtol=RTOL)
    np.testing.assert_allclose(a(th.mean_sq_err_schedule(ns, s2, "mle")), e_m, rtol=RTOL)
    np.testing.assert_allclose(a(th.variance_schedule(ns, s2, "mle")), v_m, rtol=RTOL)
    np.testing.assert_allclose(a(th.variance_schedule(ns, s2, "unbiased")), s2, rtol=RTOL)
    np.testing.assert_allclose(a(th.sigma_mean_schedule(ns, 2.0, "unbiased")), 2.0 * c_u, rtol=1e-9)
    np.testing.assert_allclose(a(th.sigma_mean_schedule(ns, 2.0, "mle")), 2.0 * c_m, rtol=1e-9)
    np.testing.assert_allclose(a(th.w2sq_mean_schedule(ns, s2, "unbiased")), e_u + 2 * s2 * (1 - c_u), rtol=1e-9)
    np.testing.assert_allclose(a(th.w2sq_mean_schedule(ns, s2, "mle")), 2 * s2 * (1 - c_m), rtol=1e-9)
    # constant schedules agree with the constant-n functions
    t = np.arange(1, 7)
    np.testing.assert_allclose(a(th.w2sq_mean_schedule(np.full(6, 9.0), s2, "unbiased")),
                               a(th.w2sq_mean(t, 9, s2, "unbiased")), rtol=1e-9)
    np.testing.assert_allclose(a(th.unbiased_variance(t, s2)), np.full(6, s2), rtol=RTOL)


def test_power_schedule_limit():
    # n_i = 4 i^2: sum 1/n_i -> pi^2/24 (bounded error, no collapse of the mean)
    i = np.arange(1, 200_001, dtype=np.float64)
    e = a(th.unbiased_mean_sq_err(4.0 * i * i))
    np.testing.assert_allclose(e[-1], math.pi**2 / 24, rtol=1e-5)


# --------------------------------------------------------------------------- d dimensions
@pytest.mark.parametrize(("n", "d"), [(5, 1), (10, 2), (30, 3)])
def test_det_and_logdet_textbook_wishart(n, d):
    # Wishart_d(m, I) with m = n - 1: E det = m!/(m-d)!, E ln det = sum_{i=1}^d psi((m - i + 1)/2) + d ln 2,
    # Var ln det = sum_{i=1}^d psi'((m - i + 1)/2). One generation divides the scatter by n.
    m = n - 1
    e_det = sp.poch(m - d + 1, d) / n**d
    e_ld = sum(sp.psi((m - i + 1) / 2) for i in range(1, d + 1)) + d * math.log(2) - d * math.log(n)
    v_ld = sum(sp.polygamma(1, (m - i + 1) / 2) for i in range(1, d + 1))
    np.testing.assert_allclose(a(th.det_ratio_mean(1, n, d)), e_det, rtol=RTOL)
    np.testing.assert_allclose(a(th.det_ratio_mean(3, n, d)), e_det**3, rtol=RTOL)
    np.testing.assert_allclose(a(th.log_det_ratio_mean(3, n, d)), 3 * e_ld, rtol=RTOL)
    np.testing.assert_allclose(a(th.log_det_ratio_var(3, n, d)), 3 * v_ld, rtol=RTOL)
    if d == 1:
        np.testing.assert_allclose(a(th.log_det_ratio_mean(3, n, 1)), a(th.log_variance_mean(3, n)), rtol=RTOL)
        np.testing.assert_allclose(a(th.det_ratio_mean(3, n, 1)), a(th.mle_variance(3, n)), rtol=RTOL)


def test_det_ratio_against_scipy_wishart_sampler():
    # Independent sampler (scipy), fixed seed, |z| < 4.
    n, d, N = 12, 3, 200_000
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 0.5]])
    W = ss.wishart(df=n - 1, scale=cov).rvs(size=N, random_state=np.random.default_rng(123))
    ratio = np.linalg.det(W / n) / np.linalg.det(cov)
    z = (ratio.mean() - float(th.det_ratio_mean(1, n, d))) / (ratio.std() / math.sqrt(N))
    assert abs(z) < 4, z
    tr = np.trace(W / n, axis1=1, axis2=2)
    z = (tr.mean() - float(th.trace_mean(1, n, np.trace(cov)))) / (tr.std() / math.sqrt(N))
    assert abs(z) < 4, z


def test_det_ratio_singular_is_zero():
    assert float(th.det_ratio_mean(1, 3, 3)) == 0.0


def test_conserved_mean_shapes():
    assert float(th.conserved_mean(2.5)) == 2.5
    np.testing.assert_array_equal(a(th.conserved_mean(2.5, np.arange(4))), np.full(4, 2.5))


# --------------------------------------------------------------------------- accumulate
def test_known_variance_accumulate_direct_sum_and_limit():
    n, s2 = 8, 1.7
    t = np.arange(1, 60)
    direct = s2 / n * np.cumsum(1.0 / t.astype(np.float64) ** 2)
    np.testing.assert_allclose(a(th.accumulate_mean_sq_err_known_var(t, n, s2)), direct, rtol=1e-12)
    big = a(th.accumulate_mean_sq_err_known_var(10**7, n, s2))
    np.testing.assert_allclose(big, math.pi**2 / 6 * s2 / n, rtol=1e-6)


def test_mean_sq_err_recursion_by_loop():
    rng = np.random.default_rng(0)
    a_t = rng.uniform(0.1, 1.0, 25)
    n_t = rng.integers(2, 50, 25).astype(np.float64)
    v = 1.4
    e, out = 0.0, []
    for at, nt in zip(a_t, n_t, strict=True):
        e = e + at**2 * (v - e) / nt
        out.append(e)
    np.testing.assert_allclose(a(th.mean_sq_err_recursion(a_t, n_t, v)), out, rtol=RTOL)
    np.testing.assert_allclose(a(th.mean_sq_err_recursion(a_t, 7.0, v))[0], a_t[0] ** 2 * v / 7, rtol=RTOL)
    # a_t = 1 is the replace chain
    t = np.arange(1, 11)
    np.testing.assert_allclose(a(th.mean_sq_err_recursion(np.ones(10), 6.0, v)), a(th.mle_mean_sq_err(t, 6, v)),
                               rtol=RTOL)


@pytest.mark.parametrize("n", [2, 5, 100])
def test_accumulate_mle_by_loop_and_limit(n):
    s2, T = 1.5, 300
    e, out = 0.0, []
    for t in range(1, T + 1):
        e = e + (s2 - e) / (n * t * t)
        out.append(e)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(a(th.accumulate_mle_mean_sq_err(t, n, s2)), out, rtol=1e-10)
    np.testing.assert_allclose(a(th.accumulate_mle_variance(t, n, s2)), s2 - np.array(out), rtol=1e-10)
    # Euler's product: the limit; and t = 10^8 is within 1/(n t) of it
    lim = s2 * (1 - math.sin(math.pi / math.sqrt(n)) / (math.pi / math.sqrt(n)))
    np.testing.assert_allclose(a(th.accumulate_mle_mean_sq_err_limit(n, s2)), lim, rtol=1e-12)
    np.testing.assert_allclose(a(th.accumulate_mle_mean_sq_err(1e8, n, s2)), lim, rtol=1e-6)


def test_accumulate_mle_limit_approaches_known_variance_law():
    # large n: 1 - sin(x)/x ~ x^2/6 with x = pi/sqrt(n), i.e. (pi^2/6) sigma^2/n; relative gap ~ pi^2/(20 n)
    n = 10_000
    np.testing.assert_allclose(a(th.accumulate_mle_mean_sq_err_limit(n)), math.pi**2 / 6 / n, rtol=1e-3)


# --------------------------------------------------------------------------- real data
@pytest.mark.parametrize(("nr", "ns"), [(10, 40), (1, 1), (50, 5), (3, 0)])
def test_fresh_mle_by_loop(nr, ns):
    s2, T = 2.0, 80
    N = nr + ns
    e, out = 0.0, []
    for _ in range(T):
        e = (nr * s2 + ns**2 * e + ns * (s2 - e)) / N**2  # the recursion as first written (task brief)
        out.append(e)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(a(th.fresh_mle_mean_sq_err(t, nr, ns, s2)), out, rtol=1e-10)
    fp = a(th.fresh_mle_mean_sq_err_limit(nr, ns, s2))
    np.testing.assert_allclose((nr * s2 + ns**2 * fp + ns * (s2 - fp)) / N**2, fp, rtol=1e-12)  # a fixed point
    assert fp <= s2 / nr * (1 + 1e-12)
    # the pooled fresh regime is the general mixed formula with share n_s/N
    np.testing.assert_allclose(a(th.mixed_mean_sq_err(t, nr, max(ns, 1), ns / N, s2, real="fresh")), out,
                               rtol=1e-10)


def _mixed_by_covariance(T, nr, ns, share, s2, real, estimator):
    """Second moments propagated exactly: state (E d^2, E[eps_R d]) with the conservation law for the MLE."""
    b, s = 1.0 - share, s2 / nr
    e, c, out = 0.0, 0.0, []
    for _ in range(T):
        var_prev = s2 - e if estimator == "mle" else s2  # E sigma_{t-1}^2
        if real == "fixed":
            e_new = b * b * s + 2 * share * b * c + share**2 * e + share**2 * var_prev / ns
            c = b * s + share * c
        else:
            e_new = b * b * s + share**2 * e + share**2 * var_prev / ns
        e = e_new
        out.append(e)
    return np.array(out)


@pytest.mark.parametrize("real", ["fixed", "fresh"])
@pytest.mark.parametrize("estimator", ["mle", "mean"])
@pytest.mark.parametrize("share", [0.0, 0.3, 2 / 3, 0.8, 1.0])
def test_mixed_by_moment_propagation(real, estimator, share):
    nr, ns, s2, T = 20, 40, 1.5, 60
    t = np.arange(1, T + 1)
    want = _mixed_by_covariance(T, nr, ns, share, s2, real, estimator)
    got = a(th.mixed_mean_sq_err(t, nr, ns, share, s2, real=real, estimator=estimator))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_mixed_mean_estimator_fixed_closed_form():
    nr, ns, s2 = 20, 40, 1.5
    share = ns / (nr + ns)
    t = np.arange(1, 30).astype(np.float64)
    s = s2 / nr
    closed = s * (1 - share**t) ** 2 + share**2 * s2 / ns * (1 - share ** (2 * t)) / (1 - share**2)
    np.testing.assert_allclose(a(th.mixed_mean_sq_err(t, nr, ns, share, s2, estimator="mean")), closed, rtol=1e-10)
    np.testing.assert_allclose(a(th.augment_mean_sq_err(t, 20, 1.0, s2, "mean")),
                               a(th.mixed_mean_sq_err(t, 20, 20, 0.5, s2, estimator="mean")), rtol=1e-12)


def test_mixed_bad_options():
    with pytest.raises(ValueError):
        th.mixed_mean_sq_err(1, 10, 10, 0.5, real="sometimes")
    with pytest.raises(ValueError):
        th.mixed_mean_sq_err(1, 10, 10, 0.5, estimator="unbiased")
    with pytest.raises(ValueError):
        th.log_variance_mean(1, 10, estimator="median")


# --------------------------------------------------------------------------- temperature and drift
def test_temperature():
    n, s2 = 20, 1.3
    t = np.arange(0, 40)
    np.testing.assert_allclose(a(th.mle_variance_tempered(t, n, 1.0, s2)), a(th.mle_variance(t, n, s2)), rtol=RTOL)
    np.testing.assert_allclose(a(th.mle_mean_sq_err_tempered(t, n, 1.0, s2)), a(th.mle_mean_sq_err(t, n, s2)),
                               rtol=1e-9, atol=1e-15)
    tc = float(th.critical_temperature(n))
    np.testing.assert_allclose(tc, math.sqrt(n / (n - 1)), rtol=RTOL)
    np.testing.assert_allclose(a(th.mle_variance_tempered(t, n, tc, s2)), s2, rtol=1e-12)
    # at tau_c the mean error grows linearly: e_t = t tau_c^2 sigma^2 / n
    np.testing.assert_allclose(a(th.mle_mean_sq_err_tempered(t, n, tc, s2)), t * tc**2 * s2 / n, rtol=1e-9)
    for tau in (0.8, 1.2):
        e, v, out = 0.0, s2, []
        for _ in range(39):
            e, v = e + tau**2 * v / n, v * tau**2 * (n - 1) / n
            out.append(e)
        np.testing.assert_allclose(a(th.mle_mean_sq_err_tempered(t[1:], n, tau, s2)), out, rtol=1e-10)
    # the typical chain collapses even at tau_c
    assert float(th.log_variance_mean(1, n)) + 2 * math.log(tc) < 0


def test_drift_replace():
    n, v, s2 = 10, 0.3, 2.0
    t = np.arange(0, 20).astype(np.float64)
    np.testing.assert_allclose(a(th.drift_mean_sq_err(t, n, v, s2)), v * v * t * t + t * s2 / n, rtol=RTOL)
    np.testing.assert_allclose(a(th.drift_mean_sq_err(t, n, 0.0, s2, estimator="mle")),
                               a(th.mle_mean_sq_err(t, n, s2)), rtol=RTOL)
    np.testing.assert_allclose(a(th.drift_mean_sq_err(t, n, v, s2, estimator="unbiased")),
                               a(th.drift_mean_sq_err(t, n, v, s2, estimator="mean")), rtol=RTOL)


@pytest.mark.parametrize(("nr", "ns"), [(10, 30), (5, 5), (20, 1)])
def test_fresh_drift_by_ar1_propagation(nr, ns):
    # d_t = (n_r eps_r + n_s (d_{t-1} - v + eps_s)) / N: propagate the mean and variance of d_t directly.
    v, s2, T = 0.05, 1.0, 60
    N = nr + ns
    m, var, out = 0.0, 0.0, []
    for _ in range(T):
        m = ns * (m - v) / N
        var = (ns / N) ** 2 * var + (nr * s2 + ns * s2) / N**2
        out.append(m * m + var)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(a(th.fresh_drift_mean_sq_err(t, nr, ns, v, s2)), out, rtol=1e-10)
    # with v = 0 it is the known-variance fresh chain (mixed formula, mean estimator)
    np.testing.assert_allclose(a(th.fresh_drift_mean_sq_err(t, nr, ns, 0.0, s2)),
                               a(th.mixed_mean_sq_err(t, nr, ns, ns / N, s2, real="fresh", estimator="mean")),
                               rtol=1e-10)


@pytest.mark.parametrize(("nr", "ns", "v"), [(10, 30, 0.05), (5, 5, -0.3), (20, 1, 1.0)])
def test_fresh_drift_mean_error_by_recursion(nr, ns, v):
    # E d_t = (n_s (E d_{t-1} + mu*_{t-1} - v) + n_r mu*_t)/N - mu*_t: the pooled mean's expectation, step by step
    N, T = nr + ns, 40
    mu_star, mu, out = 0.7, 0.7, []
    for _ in range(T):
        mu_star += v
        mu = (nr * mu_star + ns * mu) / N
        out.append(mu - mu_star)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(a(th.fresh_drift_mean_error(t, nr, ns, v)), out, rtol=1e-10, atol=1e-15)
    assert float(th.fresh_drift_mean_error(0, nr, ns, v)) == 0.0
    # the squared error's mean is the lag squared plus the AR(1) variance, which is v-free
    lag = a(th.fresh_drift_mean_error(t, nr, ns, v))
    np.testing.assert_allclose(a(th.fresh_drift_mean_sq_err(t, nr, ns, v)) - lag**2,
                               a(th.fresh_drift_mean_sq_err(t, nr, ns, 0.0)), rtol=1e-9)


@pytest.mark.parametrize(("nr", "ns", "v"), [(10, 30, 0.1), (5, 5, -0.4), (10, 30, math.log(0.75)), (1, 20, 0.02)])
def test_poisson_fresh_drift_rate_by_recursion(nr, ns, v):
    # E rate_t = (n_s E rate_{t-1} + n_r rate*_t)/N with rate*_t = rate_0 e^{vt}; v = ln a is the removable singularity
    N, T, lam0 = nr + ns, 30, 2.5
    m, out = lam0, []
    for t in range(1, T + 1):
        m = (ns * m + nr * lam0 * math.exp(v * t)) / N
        out.append(m)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(th.poisson_fresh_drift_rate(t, nr, ns, v, lam0), out, rtol=1e-10)
    assert float(th.poisson_fresh_drift_rate(0, nr, ns, v, lam0)) == lam0
    np.testing.assert_allclose(th.poisson_fresh_drift_rate(t, nr, ns, 0.0, lam0), lam0, rtol=1e-12)  # no drift: flat


@pytest.mark.parametrize("delta", [0.2, np.array([0.5, 0.0, -0.3, 0.1, 0.0])])
def test_categorical_fresh_drift_by_recursion(delta):
    # E p_t = (n_s E p_{t-1} + n_r p*_t)/N with p*_t the family's own tilt, Categorical(p0).translate(delta t)
    from jaxcollapse.families.categorical import Categorical

    nr, ns, T = 10, 20, 12
    p0 = np.array([0.4, 0.3, 0.0, 0.2, 0.1])
    truth = Categorical(p0)
    m, out = p0.copy(), []
    for t in range(1, T + 1):
        m = (ns * m + nr * np.asarray(truth.translate(delta * t).p, np.float64)) / (nr + ns)
        out.append(m)
    t = np.arange(1, T + 1)
    got = th.fresh_drift_probabilities(t, nr, ns, delta, p0)
    assert got.shape == (T, 5)
    np.testing.assert_allclose(got, out, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(th.fresh_drift_probabilities(0, nr, ns, delta, p0), p0)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-12)
    assert np.all(got[:, 2] == 0.0)  # a category of probability 0 stays at 0


def test_generation_zero_is_the_truth():
    s2 = 1.7
    zero = [th.mle_mean_sq_err(0, 10, s2), th.accumulate_mean_sq_err_known_var(0, 10, s2),
            th.accumulate_mle_mean_sq_err(0, 10, s2), th.fresh_mle_mean_sq_err(0, 10, 30, s2),
            th.fresh_mle_mean_sq_err(0, 10, 1, s2), th.mle_mean_sq_err_tempered(0, 10, 1.3, s2),
            th.drift_mean_sq_err(0, 10, 0.2, s2), th.fresh_drift_mean_sq_err(0, 10, 30, 0.2, s2),
            th.augment_mean_sq_err(0, 10, 0.5, s2), th.log_variance_mean(0, 10), th.log_det_ratio_mean(0, 10, 2)]
    zero += [th.mixed_mean_sq_err(0, 10, 20, share, s2, real=real) for share in (0.0, 0.5, 1.0)
             for real in ("fixed", "fresh")]
    np.testing.assert_array_equal(np.array([float(z) for z in zero]), 0.0)
    full = [th.mle_variance(0, 10, s2), th.mle_variance_tempered(0, 10, 1.3, s2), th.accumulate_mle_variance(0, 10, s2),
            th.sigma_mean(0, 10, s2), th.w2sq_mean(0, 10, s2) + s2, th.det_ratio_mean(0, 10, 3) * s2]
    np.testing.assert_allclose(np.array([float(z) for z in full]), s2, rtol=1e-15)


def test_rank_promotion_clean():
    import jax

    with jax.numpy_rank_promotion("raise"):
        t = np.arange(1, 6)
        for out in (th.det_ratio_mean(t, 20, 3), th.log_det_ratio_mean(t, 20, 3), th.log_det_ratio_var(t, 20, 3),
                    th.accumulate_mle_mean_sq_err(t, 5), th.fresh_mle_mean_sq_err(t, 10, 20),
                    th.mixed_mean_sq_err(t, 10, 20, 0.5), th.w2sq_mean(t, 10, 1.0, "unbiased")):
            assert out.shape == (5,)


# --------------------------------------------------------------------------- other families' fixes
def test_poisson_extinction_at_generation_zero():
    """Model 0 is the truth: P(lambda_0 = 0) = 0 for lambda_0 > 0; later generations are unchanged."""
    from jaxcollapse.theory import poisson as thp

    p = thp.poisson_extinction_probability(np.arange(0, 6), 5, 0.4)
    assert p[0] == 0.0
    np.testing.assert_allclose(p[1:], thp.poisson_extinction_schedule(np.full(5, 5.0), 0.4), rtol=1e-12)
    assert float(thp.poisson_extinction_probability(0, 5, 0.4)[0]) == 0.0
    assert float(thp.poisson_extinction_probability(1, 5, 0.4)[0]) == pytest.approx(math.exp(-5 * 0.4), rel=1e-12)
    assert float(thp.poisson_extinction_probability(0, 5, 0.0)[0]) == 1.0  # a zero rate is extinct from the start


@pytest.mark.parametrize("w", [0.5, 0.2, 1.0])
def test_fixed_design_mixed_risk_by_loop_and_limits(w):
    """e_t = w eta_r + q (e_{t-1} + eta_t) (fixed real labels) or w eta_{r,t} + q (e_{t-1} + eta_t) (fresh ones),
    propagated coefficient by coefficient; at w = 1/2 the limits are 4/3 and 2/3 of the one-fit error."""
    from jaxcollapse.theory import regression as thr

    T, d, q = 20, 5, 1.0 - w
    one = float(thr.ols_risk(T, d))
    a_r, v_fixed, v_fresh = 0.0, 0.0, 0.0
    for t in range(1, 41):
        a_r, v_fixed, v_fresh = w + q * a_r, q * q * (v_fixed + 1.0), w * w + q * q * (v_fresh + 1.0)
        np.testing.assert_allclose(float(thr.fixed_design_mixed_risk(t, T, d, w, real="fixed")),
                                   one * (a_r**2 + v_fixed), rtol=1e-10)
        np.testing.assert_allclose(float(thr.fixed_design_mixed_risk(t, T, d, w, real="fresh")), one * v_fresh,
                                   rtol=1e-10)
    if w == 0.5:
        assert float(thr.fixed_design_mixed_risk(10_000, T, d, w, real="fixed")) == pytest.approx(4 / 3 * one)
        assert float(thr.fixed_design_mixed_risk(10_000, T, d, w, real="fresh")) == pytest.approx(2 / 3 * one)


def test_ridge_spectral_expression_against_direct_ridge_fits():
    """`downstream_ridge_risk_spectral` (finite d, exact in expectation) against ridge fits computed directly:
    w_n = w* + e (e ~ N(0, c I)), labels X w_n + sigma eps on T fresh rows, w_hat = (X^T X + lambda T)^{-1} X^T y.
    Two independent Monte Carlo means (fixed seeds), |z| < 4. And the Marchenko-Pastur formula approaches it as d
    grows at fixed d/T (the gap is O(1/d))."""
    from jaxcollapse.theory import regression as thr

    d, T, T0, n, lam, w2, reps = 8, 16, 14, 3, 0.5, 2.0, 20_000
    rng = np.random.default_rng(5)
    c = n / (T0 - d - 1.0)
    w_star = np.full(d, math.sqrt(w2 / d))
    X = rng.standard_normal((reps, T, d))
    w_n = w_star + math.sqrt(c) * rng.standard_normal((reps, d))
    y = np.einsum("rti,ri->rt", X, w_n) + rng.standard_normal((reps, T))
    G = np.einsum("rti,rtj->rij", X, X) + lam * T * np.eye(d)
    w_hat = np.linalg.solve(G, np.einsum("rti,rt->ri", X, y)[..., None])[..., 0]
    direct = np.sum((w_hat - w_star) ** 2, axis=1)
    Xs = rng.standard_normal((reps, T, d))
    spec = thr.downstream_ridge_risk_spectral(np.linalg.eigvalsh(np.einsum("rti,rtj->rij", Xs, Xs) / T), n, T, T0,
                                              d, lam, 1.0, 1.0, w2)
    z = (direct.mean() - spec.mean()) / math.sqrt(direct.var() / reps + spec.var() / reps)
    assert abs(z) < 4, (direct.mean(), spec.mean(), z)
    gaps = []
    for dd in (10, 40):
        Xs = rng.standard_normal((2000, 2 * dd, dd))
        f = thr.downstream_ridge_risk_spectral(np.linalg.eigvalsh(np.einsum("rti,rtj->rij", Xs, Xs) / (2 * dd)), 0,
                                               2 * dd, 3 * dd, dd, lam, 1.0, 1.0, w2).mean()
        gaps.append(abs(float(thr.downstream_ridge_risk(0, 2 * dd, 3 * dd, dd, lam, 1.0, 1.0, w2)) / f - 1.0))
    assert gaps[1] < gaps[0] / 2, gaps  # O(1/d): four times d, well under half the gap
