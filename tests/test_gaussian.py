"""The Gaussian family: construction, the statistics monoid, fitting, metrics, and the two
sampling paths (exact sufficient statistics vs drawing the samples) in distribution.

Statistical bounds, stated before any draw was made:

- exact path vs sample path: two-sample KS on 1-D statistics; every p-value must exceed
  `FAMILY_ALPHA / N_KS` (Bonferroni over the `N_KS` KS tests of this module, family-wise
  false-alarm rate 1e-3);
- moments against known values (E S = (n-1) tau^2 Sigma, Var S_ii = 2 (n-1) tau^4 Sigma_ii^2,
  Var S_ij = (n-1) tau^4 (Sigma_ij^2 + Sigma_ii Sigma_jj), Cov xbar = tau^2 Sigma / n):
  z-tests with |z| < 4 (`conftest.Z_BOUND`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats as ss
from conftest import Z_BOUND, assert_z, mean_z, var_z

import jaxcollapse
from jaxcollapse import Gaussian, GaussianStats
from jaxcollapse.random import Stream

S0 = Stream.from_key(jax.random.key(0))  # `fit` and `metrics` take a stream; the families tested here ignore it

SIGMA3 = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
MU3 = np.array([1.0, -2.0, 0.5])


def _np(s: GaussianStats):
    return float(s.count), np.asarray(s.mean), np.asarray(s.scatter)


def _assert_stats_close(a: GaussianStats, b: GaussianStats, rtol=1e-12, atol=1e-12):
    for x, y in zip(_np(a), _np(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- construction

def test_construction_forms():
    g = Gaussian(0.5, 2.0)
    assert g.d == 1 and g.mean.shape == (1,) and g.cov.shape == (1, 1) and float(g.cov[0, 0]) == 2.0
    g = Gaussian(np.zeros(3), 2.0)
    np.testing.assert_array_equal(g.cov, 2.0 * np.eye(3))
    g = Gaussian(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g.cov, np.diag([1.0, 2.0, 3.0]))
    g = Gaussian(MU3, SIGMA3, estimator="unbiased")
    assert g.estimator == "unbiased" and g.dtype == jnp.float32  # x64 is off by default
    with jaxcollapse.x64():
        assert Gaussian(MU3, SIGMA3).dtype == jnp.float64
    assert Gaussian(0.0, 0.0).cov.shape == (1, 1)  # a collapsed model is a valid model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_construction_accepts_singular_psd_covariance(dtype):
    """A rank-deficient PSD covariance (a collapsed model) is valid input. Its computed smallest
    eigenvalue is a rounding error of either sign (about -1e-16 here), so the PSD check needs a
    tolerance relative to the largest eigenvalue."""
    u = np.array([1.0, 2.0, -1.0])
    with jaxcollapse.x64(dtype == "float64"):
        g = Gaussian(np.zeros(3), 0.4 * np.outer(u, u))
        assert float(g.metrics(g, S0)["mean_sq_err"]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(estimator="map"), "unknown estimator"),
        (dict(mean=np.zeros(3), cov=np.eye(2)), "dimension 3"),
        (dict(mean=np.zeros((2, 2))), "scalar or a vector"),
        (dict(mean=np.zeros(2), cov=np.array([[1.0, 0.5], [0.0, 1.0]])), "symmetric"),
        (dict(mean=np.zeros(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]])), "positive semi-definite"),
        (dict(mean=0.0, cov=-1.0), "positive semi-definite"),
        (dict(mean=0.0, cov=np.nan), "finite"),
    ],
)
def test_construction_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Gaussian(**kwargs)


# --------------------------------------------------------------------------- statistics

@pytest.fixture(scope="module")
def data3():
    rng = np.random.default_rng(1)
    return rng.normal(size=(37, 3)) @ np.linalg.cholesky(SIGMA3).T + MU3


def test_stats_of_samples():
    with jaxcollapse.x64():
        rng = np.random.default_rng(2)
        for d in (1, 3):
            x = rng.normal(size=(25, d))
            s = Gaussian(np.zeros(d), 1.0).stats(jnp.asarray(x))
            r = x - x.mean(0)
            _assert_stats_close(s, GaussianStats(jnp.asarray(25.0), jnp.asarray(x.mean(0)), jnp.asarray(r.T @ r)))


def test_stats_combine_is_a_monoid(data3):
    with jaxcollapse.x64():
        g = Gaussian(np.zeros(3), 1.0)
        x = jnp.asarray(data3)
        whole = g.stats(x)
        a, b, c = g.stats(x[:5]), g.stats(x[5:20]), g.stats(x[20:])
        _assert_stats_close(a.combine(b).combine(c), whole)  # halves combine to the whole
        _assert_stats_close(a.combine(b.combine(c)), whole)  # associativity
        _assert_stats_close(c.combine(a).combine(b), whole)  # commutativity
        e = g.empty_stats()
        _assert_stats_close(e.combine(a), a, rtol=0, atol=0)  # identity, exactly
        _assert_stats_close(a.combine(e), a, rtol=0, atol=0)
        ee = e.combine(e)
        assert float(ee.count) == 0 and np.all(np.asarray(ee.mean) == 0) and np.all(np.asarray(ee.scatter) == 0)
        # masked rows are left out
        mask = jnp.asarray(np.arange(37) % 3 == 0)
        _assert_stats_close(g.stats(x, mask), g.stats(x[np.asarray(mask)]))
        none = g.stats(x, jnp.zeros(37, bool))
        assert float(none.count) == 0 and np.all(np.isfinite(np.asarray(none.mean)))


def test_stats_weighted_combine_matches_weighted_formulas(data3):
    r"""`a.scale(wa).combine(b.scale(wb))` is the weighted sample: $W = \sum w_i$,
    $\bar x = \sum w_i x_i / W$, $M = \sum w_i (x_i - \bar x)(x_i - \bar x)^\top$."""
    with jaxcollapse.x64():
        g = Gaussian(np.zeros(3), 1.0)
        xa, xb = data3[:10], data3[10:]
        wa, wb = 0.3, 2.5
        s = g.stats(jnp.asarray(xa)).scale(wa).combine(g.stats(jnp.asarray(xb)).scale(wb))
        w = np.concatenate([np.full(len(xa), wa), np.full(len(xb), wb)])
        x = np.concatenate([xa, xb])
        W = w.sum()
        m = (w @ x) / W
        M = ((x - m) * w[:, None]).T @ (x - m)
        _assert_stats_close(s, GaussianStats(jnp.asarray(W), jnp.asarray(m), jnp.asarray(M)))
        # scaling by 1 changes nothing; scaling by 0 gives a zero-weight sample
        _assert_stats_close(g.stats(jnp.asarray(xa)).scale(1.0), g.stats(jnp.asarray(xa)), rtol=0, atol=0)
        z = g.stats(jnp.asarray(xa)).scale(0.0).combine(g.stats(jnp.asarray(xb)))
        _assert_stats_close(z, g.stats(jnp.asarray(xb)))


@pytest.mark.parametrize("d", [1, 2])
def test_stats_accurate_in_float32_when_the_spread_is_tiny(d):
    """After collapse the spread is tiny next to the mean: the statistics of float32 data (two
    passes) and their combination (Chan, Golub and LeVeque) match the float64 statistics of the
    same float32 numbers to 1e-3 relative, where the one-pass sum of squares would lose every
    digit (mean 100, sd 1e-3: sum x^2 ~ 6e5 has an ulp of 0.06, the scatter is ~6e-5)."""
    rng = np.random.default_rng(3)
    x32 = jnp.asarray(100.0 + 1e-3 * rng.normal(size=(64, d)), jnp.float32)
    x = np.asarray(x32, np.float64)
    r = x - x.mean(0)
    ref = r.T @ r
    g = Gaussian(np.zeros(d), 1.0)
    for s in (g.stats(x32), g.stats(x32[:20]).combine(g.stats(x32[20:]))):
        np.testing.assert_allclose(np.asarray(s.scatter), ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
        np.testing.assert_allclose(np.asarray(s.mean), x.mean(0), rtol=1e-6)


# --------------------------------------------------------------------------- fit

@pytest.mark.parametrize("d", [1, 3])
def test_fit_estimators(data3, d):
    with jaxcollapse.x64():
        x = data3[:, :d]
        s = Gaussian(np.zeros(d), 1.0).stats(jnp.asarray(x))
        known = np.eye(d) * 7.0
        for est, cov in (("mle", np.cov(x.T, bias=True)), ("unbiased", np.cov(x.T, ddof=1)), ("mean", known)):
            g = Gaussian(np.zeros(d), known, estimator=est).fit(s, S0)
            assert g.estimator == est and g.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(g.mean), x.mean(0), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(g.cov), np.atleast_2d(cov), rtol=1e-12)
            np.testing.assert_array_equal(np.asarray(g.cov), np.asarray(g.cov).T)


def test_fit_zero_count_is_finite():
    """Fitting no data must not produce NaN (the divisor is guarded)."""
    for est in ("mle", "unbiased"):
        g = Gaussian(np.zeros(2), 1.0, estimator=est)
        f = g.fit(g.empty_stats(), S0)
        assert np.all(np.isfinite(np.asarray(f.cov))) and np.all(np.isfinite(np.asarray(f.mean)))


# --------------------------------------------------------------------------- metrics

def _w2sq_scipy(m, S, m0, S0):
    r0 = scipy.linalg.sqrtm(S0).real
    cross = scipy.linalg.sqrtm(r0 @ S @ r0).real
    return float(np.sum((m - m0) ** 2) + np.trace(S + S0 - 2 * cross))


def _kl(m0, S0, m, S):
    """KL(N(m0, S0) || N(m, S)) directly from the density formula."""
    d = len(m0)
    Si = np.linalg.inv(S)
    dm = m - m0
    return 0.5 * (np.trace(Si @ S0) + dm @ Si @ dm - d + np.linalg.slogdet(S)[1] - np.linalg.slogdet(S0)[1])


def test_metrics_1d_against_hand_formulas():
    with jaxcollapse.x64():
        m0, v0, m, v = 0.3, 2.0, -0.4, 0.7
        got = {k: float(x) for k, x in Gaussian(m, v).metrics(Gaussian(m0, v0), S0).items()}
    dm2 = (m - m0) ** 2
    want = {
        "mean_sq_err": dm2,
        "mean_error": m - m0,
        "trace": v,
        "sigma": math.sqrt(v),
        "trace_ratio": v / v0,
        "log_det_ratio": math.log(v / v0),
        "w2sq": dm2 + (math.sqrt(v) - math.sqrt(v0)) ** 2,
        "kl": 0.5 * (v0 / v + dm2 / v - 1 + math.log(v / v0)),
        "conserved": dm2 + v,
    }
    assert set(got) == set(Gaussian.metric_names) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-12), k


def test_metrics_ddim_against_scipy():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(3, 3))
    S = A @ A.T + 0.2 * np.eye(3)
    m = MU3 + rng.normal(size=3)
    with jaxcollapse.x64():
        got = {k: float(x) for k, x in Gaussian(m, S).metrics(Gaussian(MU3, SIGMA3), S0).items()}
    dm2 = float(np.sum((m - MU3) ** 2))
    want = {
        "mean_sq_err": dm2,
        "mean_error": float(np.mean(m - MU3)),
        "trace": np.trace(S),
        "sigma": math.sqrt(np.trace(S)),
        "trace_ratio": np.trace(S) / np.trace(SIGMA3),
        "log_det_ratio": np.linalg.slogdet(S)[1] - np.linalg.slogdet(SIGMA3)[1],
        "w2sq": _w2sq_scipy(m, S, MU3, SIGMA3),
        "kl": _kl(MU3, SIGMA3, m, S),
        "conserved": dm2 + np.trace(S),
    }
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-9), k


def test_metrics_of_the_truth_itself():
    with jaxcollapse.x64():
        g = Gaussian(MU3, SIGMA3)
        got = {k: float(x) for k, x in g.metrics(g, S0).items()}
    assert got["mean_sq_err"] == 0 and got["mean_error"] == 0 and got["trace_ratio"] == 1
    assert got["log_det_ratio"] == pytest.approx(0, abs=1e-12)
    assert got["kl"] == pytest.approx(0, abs=1e-12)
    assert got["w2sq"] == pytest.approx(0, abs=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_metrics_of_collapsed_models(dtype):
    """Zero or rank-deficient covariance: log det -inf, KL +inf, W2 finite and by hand, no NaN.

    Rank one, $\\Sigma = s\\,uu^\\top$: $(\\Sigma^{*1/2}\\Sigma\\Sigma^{*1/2})^{1/2}$ has trace
    $\\sqrt{s\\,u^\\top\\Sigma^* u}$, so
    $W_2^2 = \\|\\Delta\\mu\\|^2 + s|u|^2 + \\mathrm{tr}\\Sigma^* - 2\\sqrt{s\\,u^\\top\\Sigma^*u}$.
    The rank-one model is built as a fit would leave it (`eqx.tree_at`), not by the constructor.
    """
    u = np.array([1.0, 2.0, -1.0])
    s = 0.4
    m = MU3 + 0.5
    with jaxcollapse.x64(dtype == "float64"):
        rank_one = jnp.asarray(s * np.outer(u, u), jnp.result_type(float))
        cases = [
            (Gaussian(0.2, 0.0), Gaussian(0.0, 2.0), 0.04 + 2.0),
            (Gaussian(m, np.zeros((3, 3))), Gaussian(MU3, SIGMA3), 0.75 + np.trace(SIGMA3)),
            (eqx.tree_at(lambda g: g.cov, Gaussian(m, SIGMA3), rank_one), Gaussian(MU3, SIGMA3),
             0.75 + s * u @ u + np.trace(SIGMA3) - 2 * math.sqrt(s * u @ SIGMA3 @ u)),
        ]
        for model, truth, w2 in cases:
            got = {k: float(x) for k, x in model.metrics(truth, S0).items()}
            assert not any(math.isnan(x) for x in got.values()), got
            assert got["log_det_ratio"] == -math.inf
            assert got["kl"] == math.inf
            # the zero eigenvalues of a rank-one matrix come out as rounding errors ~eps * |S|, and
            # the W2 cross term takes their square roots: a few sqrt(eps) relative, i.e. ~1e-8 in
            # float64 and ~1e-3 in float32
            rel = 1e-7 if dtype == "float64" else 2e-3
            assert got["w2sq"] == pytest.approx(w2, rel=rel)
            assert math.isfinite(got["mean_sq_err"]) and math.isfinite(got["conserved"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kl_of_an_ill_conditioned_model(dtype):
    """A covariance on its way to collapse (eigenvalues ~1e-2, 1e-4, 1e-11: condition 1e9, past
    1/eps in float32) has a huge KL from the truth: never NaN, never negative; in float64 it
    matches the direct formula (its solve is still accurate to ~1e-7 at condition 1e9)."""
    u, v = np.array([1.0, 0.4, 0.23]), np.array([0.0, 1.0, -0.5])
    cov = 1e-2 * np.outer(u, u) + 1e-4 * np.outer(v, v) + 1e-11 * np.eye(3)
    with jaxcollapse.x64(dtype == "float64"):
        truth = Gaussian(MU3, SIGMA3)
        model = eqx.tree_at(lambda g: g.cov, truth, jnp.asarray(cov, truth.dtype))
        kl = float(model.metrics(truth, S0)["kl"])
    assert not math.isnan(kl) and kl >= 0, kl
    if dtype == "float64":
        assert kl == pytest.approx(_kl(MU3, SIGMA3, MU3, cov), rel=1e-5)


def test_translate():
    with jaxcollapse.x64():
        g = Gaussian(MU3, SIGMA3, estimator="unbiased")
        t = g.translate(jnp.asarray([1.0, 0.0, -1.0]))
        np.testing.assert_array_equal(np.asarray(t.mean), MU3 + [1.0, 0.0, -1.0])
        np.testing.assert_array_equal(np.asarray(t.cov), SIGMA3)
        assert t.estimator == "unbiased"
        np.testing.assert_array_equal(np.asarray(g.translate(2.0).mean), MU3 + 2.0)  # a scalar moves every axis
        np.testing.assert_array_equal(np.asarray(Gaussian(1.0, 2.0).translate(0.5).mean), [1.5])
        assert float(t.metrics(g, S0)["mean_sq_err"]) == 2.0
        assert float(t.metrics(g, S0)["mean_error"]) == 0.0  # signed: +1, 0 and -1 average to 0


def test_mean_error_is_signed():
    with jaxcollapse.x64():
        assert float(Gaussian(0.5).metrics(Gaussian(1.0), S0)["mean_error"]) == -0.5
        assert float(Gaussian(1.0).metrics(Gaussian(0.5), S0)["mean_error"]) == 0.5
        g = Gaussian(MU3, SIGMA3)  # d > 1: the average coordinate error
        assert float(g.translate(np.array([1.0, 2.0, 6.0])).metrics(g, S0)["mean_error"]) == pytest.approx(3.0)


def test_fresh_drift_lag_law_of_the_signed_error():
    r"""Known variance, fresh real data, a truth drifting by v per generation: the model trails the truth,
    $E(\mu_t - \mu^*_t) = -v (n_s/n_r)(1 - a^t)$, $\mathrm{Var} = (\sigma^2/N)(1 - a^{2t})/(1 - a^2)$
    (`theory.gaussian.fresh_drift_mean_error`; the variance is `fresh_drift_mean_sq_err` less the squared lag).
    z-test per generation, |z| < 4."""
    n_r, n_s, v, chains, G = 20, 30, 0.3, 4000, 6
    tr = jaxcollapse.simulate(jax.random.key(11), Gaussian(0.0, 1.0, estimator="mean"),
                              jaxcollapse.regimes.fresh(n_r, n_s, drift=v), G, chains, metrics=["mean_error"])
    t = np.arange(G + 1)
    with jaxcollapse.x64():
        expect = np.asarray(jaxcollapse.theory.fresh_drift_mean_error(t, n_r, n_s, v), np.float64)
        var = np.asarray(jaxcollapse.theory.fresh_drift_mean_sq_err(t, n_r, n_s, v), np.float64) - expect**2
    got = np.asarray(tr.mean("mean_error"), np.float64)
    assert got[0] == 0.0
    z = (got[1:] - expect[1:]) / np.sqrt(var[1:] / chains)
    assert np.all(np.abs(z) < Z_BOUND), z
    assert got[G] < -4 * np.sqrt(var[G] / chains)  # and the lag is there: the mean error is negative


# --------------------------------------------------------------------------- sampling

def test_sample_shapes_and_moments():
    """`sample(key, n)`: shape (n, d); mean and variance of each coordinate by z-test."""
    g = Gaussian(MU3, SIGMA3)
    x = np.asarray(g.sample(jax.random.key(0), 20000))
    assert x.shape == (20000, 3) and x.dtype == np.float32
    for i in range(3):
        assert_z(mean_z(x[:, i], MU3[i], SIGMA3[i, i]), f"mean {i}")
        assert_z(var_z(x[:, i], SIGMA3[i, i], 3 * SIGMA3[i, i] ** 2), f"var {i}")
    # the (0, 1) covariance: E x0 x1 centred = Sigma_01, Var = Sigma_00 Sigma_11 + Sigma_01^2
    p = (x[:, 0] - MU3[0]) * (x[:, 1] - MU3[1])
    assert_z(mean_z(p, SIGMA3[0, 1], SIGMA3[0, 0] * SIGMA3[1, 1] + SIGMA3[0, 1] ** 2), "cov 01")
    assert Gaussian(1.0, 4.0).sample(jax.random.key(1), 5).shape == (5, 1)


# --------------------------------------------------------------------------- exact path vs sample path

# (d, n, tau): n = 2, 3 and d = 1, 3 included; (3, 3) and (3, 2) are singular Wisharts (n - 1 < d) of
# rank 2 and 1 (the rank-1 case catches Bartlett columns beyond n - 1 left nonzero)
PATH_CASES = [(1, 2, 1.0), (1, 3, 1.0), (1, 25, 0.7), (3, 2, 1.0), (3, 3, 1.0), (3, 4, 1.0), (3, 20, 1.3)]
N_PATH = 20000  # draws per path and case


def _path_statistics(d, n, mean, scatter) -> dict[str, np.ndarray]:
    """The 1-D statistics compared by KS: a mean component, scatter diagonals, an off-diagonal,
    log det (when the Wishart is nonsingular; in 1-D it is a monotone map of S and adds nothing)."""
    out = {"mean0": mean[:, 0], "S00": scatter[:, 0, 0]}
    if d > 1:
        out["S22"] = scatter[:, 2, 2]  # the last Bartlett diagonal, chi^2_{n-3} with Sigma mixed in
        out["S01"] = scatter[:, 0, 1]
        out["mean2"] = mean[:, 2]
        if n - 1 >= d:
            out["logdet"] = np.linalg.slogdet(scatter.astype(np.float64))[1]
    return out


def _n_stats(d, n):
    return 2 + (3 if d > 1 else 0) + (1 if d > 1 and n - 1 >= d else 0)


N_KS = sum(_n_stats(d, n) for d, n, _ in PATH_CASES)
FAMILY_ALPHA = 1e-3
P_MIN = FAMILY_ALPHA / N_KS


def _model(d):
    return Gaussian(0.5, 2.0) if d == 1 else Gaussian(MU3, SIGMA3)


def _draw_paths(d, n, tau, seed):
    g = _model(d)
    ke, ks = jax.random.key(seed), jax.random.key(seed + 1000)
    tau = jnp.asarray(tau, g.dtype)

    def exact(c):
        s = g.sample_stats(Stream.from_key(ke, c), jnp.asarray(n, g.dtype), tau)
        return s.count, s.mean, s.scatter

    def samples(c):
        s = g.stats(g.draw_samples(Stream.from_key(ks, c), n, tau))
        return s.count, s.mean, s.scatter

    chains = jnp.arange(N_PATH, dtype=jnp.uint32)
    return [tuple(np.asarray(v) for v in jax.jit(jax.vmap(f))(chains)) for f in (exact, samples)]


@pytest.mark.parametrize(("d", "n", "tau"), PATH_CASES)
def test_exact_statistics_match_the_sample_path(d, n, tau):
    """`sample_stats` (normal mean, Bartlett-Wishart scatter) vs `stats(draw_samples)`: the same
    distribution (two-sample KS), and both match the known moments."""
    (ce, me, se), (cs, ms, ssc) = _draw_paths(d, n, tau, seed=100 * d + n)
    assert np.all(ce == n) and np.all(cs == n)
    for arr in (me, se, ms, ssc):
        assert np.all(np.isfinite(arr))
    ex, sa = _path_statistics(d, n, me, se), _path_statistics(d, n, ms, ssc)
    assert len(ex) == _n_stats(d, n)
    for name in ex:
        p = ss.ks_2samp(ex[name], sa[name]).pvalue
        assert p > P_MIN, f"{name}: KS p = {p:.3g} <= {P_MIN:.3g} (d={d}, n={n}, tau={tau})"

    g = _model(d)
    mu, Sig = np.asarray(g.mean, np.float64), np.asarray(g.cov, np.float64) * tau**2
    k = n - 1
    for path, (mean, scatter) in (("exact", (me, se)), ("samples", (ms, ssc))):
        for i in range(d):
            v = Sig[i, i] / n
            assert_z(mean_z(mean[:, i], mu[i], v), f"{path} E xbar_{i}")
            assert_z(var_z(mean[:, i], v, 3 * v * v), f"{path} Var xbar_{i}")
            # S_ii = Sig_ii chi^2_k: mean k Sig_ii, variance 2k Sig_ii^2, 4th central moment (12k^2 + 48k) Sig_ii^4
            s_ii = scatter[:, i, i]
            assert_z(mean_z(s_ii, k * Sig[i, i], 2 * k * Sig[i, i] ** 2), f"{path} E S_{i}{i}")
            assert_z(var_z(s_ii, 2 * k * Sig[i, i] ** 2, (12 * k * k + 48 * k) * Sig[i, i] ** 4),
                     f"{path} Var S_{i}{i}")
        if d > 1:
            for i, j in ((0, 1), (0, 2), (1, 2)):
                var_ij = k * (Sig[i, j] ** 2 + Sig[i, i] * Sig[j, j])
                assert_z(mean_z(scatter[:, i, j], k * Sig[i, j], var_ij), f"{path} E S_{i}{j}")
            if n - 1 < d:  # singular Wishart: rank n - 1, so d - n + 1 zero eigenvalues
                ev = np.linalg.eigvalsh(scatter.astype(np.float64))
                zero = d - (n - 1)
                # (rank at most n - 1; a nonzero eigenvalue may be small by chance, so no lower bound)
                assert np.all(np.abs(ev[:, :zero]) < 1e-4 * ev[:, -1:])
