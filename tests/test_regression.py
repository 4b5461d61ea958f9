"""The regression family: exact statistics, solves, metrics, regimes, downstream, theory, CLI.

Statistical rules, stated up front: z-tests use the suite's |z| < `Z_BOUND` = 4 with fixed keys;
the KS tests of this module share a family-wise level `FAMILY_ALPHA` = 1e-3, Bonferroni-split over
`N_KS` tests. The verify checks of the family run in tests/test_verify.py; here one of them is
reused to show that a deliberately wrong theory (an off-by-one in the Wishart degrees of freedom)
is rejected at the same scale.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as ss
from conftest import Z_BOUND, assert_z, mean_z

import jaxcollapse
from jaxcollapse import regimes
from jaxcollapse._random import Stream
from jaxcollapse.families.regression import Regression, downstream_risk, ridge_solve
from jaxcollapse.theory import regression as th

SIGMA3 = np.array([[1.0, 0.3, 0.0], [0.3, 0.8, -0.2], [0.0, -0.2, 1.5]])
W3 = np.array([1.0, -0.5, 2.0])
N_PATH = 20_000
PATH_CASES = ((3, 12), (3, 2))  # T > d and the singular Wishart (T < d)
STAT_NAMES = ("G00", "G12", "xy0", "xy2", "yy")
N_KS = len(PATH_CASES) * len(STAT_NAMES)
FAMILY_ALPHA = 1e-3
P_MIN = FAMILY_ALPHA / N_KS


# --------------------------------------------------------------------------- the exact statistics path
def _draw(T: int, seed: int):
    m = Regression(W3, SIGMA3, noise=0.7)
    ke, ks = jax.random.key(seed), jax.random.key(seed + 1)
    tau = jnp.asarray(1.0, m.dtype)

    def exact(c):
        s = m.sample_stats(Stream.from_key(ke, c), jnp.asarray(T, m.dtype), tau)
        return s.count, s.gram, s.xy, s.yy

    def samples(c):
        s = m.stats(m.draw_samples(Stream.from_key(ks, c), T, tau))
        return s.count, s.gram, s.xy, s.yy

    chains = jnp.arange(N_PATH, dtype=jnp.uint32)
    return [tuple(np.asarray(v, np.float64) for v in jax.jit(jax.vmap(f))(chains)) for f in (exact, samples)]


@pytest.mark.parametrize(("d", "T"), PATH_CASES)
def test_exact_statistics_match_the_sample_path(d, T):
    """Wishart-Bartlett Gram, X'y | Gram normal, y'y: the same law as drawing X, y (KS), and the known means."""
    with jaxcollapse.x64():
        (ce, ge, xe, ye), (cs, gs, xs, ys) = _draw(T, seed=10 * T)
    assert np.all(ce == T) and np.all(cs == T)
    for path, (g, xy, yy) in (("exact", (ge, xe, ye)), ("samples", (gs, xs, ys))):
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(xy)) and np.all(np.isfinite(yy))
        # E G = T Sigma; E X'y = T Sigma w; E y'y = T (w' Sigma w + sigma^2); Var G_ii = 2 T Sigma_ii^2
        for i in range(d):
            assert_z(mean_z(g[:, i, i], T * SIGMA3[i, i], 2 * T * SIGMA3[i, i] ** 2), f"{path} E G_{i}{i}")
        sw = SIGMA3 @ W3
        for i in range(d):
            # Var (X'y)_i = T (Sigma_ii (w'Sigma w + s^2) + (Sigma w)_i^2)
            v = T * (SIGMA3[i, i] * (W3 @ sw + 0.49) + sw[i] ** 2)
            assert_z(mean_z(xy[:, i], T * sw[i], v), f"{path} E X'y_{i}")
        q = W3 @ sw + 0.49
        assert_z(mean_z(yy, T * q, 2 * T * q * q), f"{path} E y'y")
        rank = np.linalg.matrix_rank(g[:200], tol=1e-8 * np.abs(g[:200]).max())
        assert np.all(rank == min(T, d)), f"{path}: the Gram of {T} rows must have rank {min(T, d)}"
    ex = {"G00": ge[:, 0, 0], "G12": ge[:, 1, 2], "xy0": xe[:, 0], "xy2": xe[:, 2], "yy": ye}
    sa = {"G00": gs[:, 0, 0], "G12": gs[:, 1, 2], "xy0": xs[:, 0], "xy2": xs[:, 2], "yy": ys}
    for name in STAT_NAMES:
        p = ss.ks_2samp(ex[name], sa[name]).pvalue
        assert p > P_MIN, f"{name}: KS p = {p:.3g} <= {P_MIN:.3g} (d={d}, T={T})"


@jax.jit
def _grams_and_rows(models, keys, chains):
    """Gram, X'y and the design rows of each (model, key, chain), in one compiled call."""
    def one(m, k, c):
        st = Stream(k, c)
        one_ = jnp.asarray(1.0, m.dtype)
        s = m.sample_stats(st, jnp.asarray(10.0, m.dtype), one_)
        return s.gram, s.xy, m.draw_samples(st, 10, one_)[:, :-1]
    return jax.vmap(one)(models, keys, chains)


def test_fixed_design_is_the_same_every_generation():
    """Fixed: the same design in every generation (any stream key), different across chains and design
    seeds, fresh label noise. Fresh: a new design per generation."""
    base = [Regression(W3, SIGMA3, design="fixed"), Regression(W3, SIGMA3, design="fixed"),
            Regression(W3, SIGMA3, design="fixed"), Regression(W3, SIGMA3, design="fixed", design_seed=1)]
    k1, k2 = (jax.random.key_data(jax.random.key(i)) for i in (1, 2))
    keys = jnp.stack([k1, k2, k1, k1])
    chains = jnp.asarray([3, 3, 4, 3], jnp.uint32)
    stack = lambda ms: jax.tree.map(lambda *a: jnp.stack(a), *ms)  # noqa: E731
    g, xy, x = (np.asarray(v) for v in _grams_and_rows(stack(base), keys, chains))
    np.testing.assert_array_equal(g[0], g[1])  # generation keys 1 and 2: the same design
    np.testing.assert_array_equal(x[0], x[1])
    assert not np.allclose(xy[0], xy[1])  # fresh label noise
    assert not np.allclose(g[0], g[2]) and not np.allclose(g[0], g[3])  # another chain, another seed
    fresh = [Regression(W3, SIGMA3, design="fresh")] * 4
    gf, _, xf = (np.asarray(v) for v in _grams_and_rows(stack(fresh), keys, chains))
    assert not np.allclose(gf[0], gf[1]) and not np.allclose(xf[0], xf[1])


# --------------------------------------------------------------------------- the solver
@pytest.mark.parametrize("d", [4, 20])  # unrolled, and LAPACK above _UNROLL_MAX_D
def test_ridge_solve_ols_minnorm_ridge(d):
    rng = np.random.default_rng(d)
    with jaxcollapse.x64():
        for T in (d + 5, d - 2):  # regular and singular Gram
            X = rng.standard_normal((T, d))
            y = rng.standard_normal(T)
            G, b = X.T @ X, X.T @ y
            w = np.asarray(ridge_solve(jnp.asarray(G), jnp.asarray(b), jnp.asarray(0.0)))
            # float64: accurate to ~sqrt(eps) = 1.5e-8 (roundoff in the null space of a singular G is
            # divided by the Tikhonov shift delta = sqrt(eps) tr G / d), far below any statistical effect
            np.testing.assert_allclose(w, np.linalg.pinv(X) @ y, rtol=1e-6, atol=1e-7)
            lam = 0.3 * T
            w_r = np.asarray(ridge_solve(jnp.asarray(G), jnp.asarray(b), jnp.asarray(lam)))
            np.testing.assert_allclose(w_r, np.linalg.solve(G + lam * np.eye(d), b), rtol=1e-9)
    # float32, singular: the min-norm solution to float32 accuracy
    X = rng.standard_normal((3, 6))
    y = rng.standard_normal(3)
    w32 = np.asarray(ridge_solve(jnp.asarray(X.T @ X, jnp.float32), jnp.asarray(X.T @ y, jnp.float32),
                                 jnp.asarray(0.0, jnp.float32)))
    np.testing.assert_allclose(w32, np.linalg.pinv(X) @ y, rtol=2e-3, atol=2e-3)


def test_fit_and_describe():
    m = Regression(np.ones(3), 1.0, ridge=0.0)
    assert "min-norm" in m.describe(2) and "OLS" in m.describe(10)
    assert "min-norm" not in Regression(np.ones(3), ridge=0.1).describe(2)


# --------------------------------------------------------------------------- metrics
def test_metrics_values_and_collapsed_states():
    truth = Regression(W3, SIGMA3, noise=0.5)
    m = truth.with_w(W3 + np.array([0.1, 0.0, -0.2]))
    met = {k: float(v) for k, v in m.metrics(truth).items()}
    e = np.array([0.1, 0.0, -0.2])
    assert met["excess_risk"] == pytest.approx(e @ SIGMA3 @ e, rel=1e-5)
    assert met["r2"] == pytest.approx(1 - (e @ SIGMA3 @ e) / (W3 @ SIGMA3 @ W3), rel=1e-5)
    assert met["w_norm"] == pytest.approx(np.linalg.norm(W3 + e), rel=1e-6)
    w = W3 + e
    assert met["mutual_info"] == pytest.approx(0.5 * np.log1p(w @ SIGMA3 @ w / 0.25), rel=1e-5)
    # collapsed: w = 0 (the over-parameterized noise-free limit), noise-free labels, w* = 0
    zero = truth.with_w(np.zeros(3))
    mz = {k: float(v) for k, v in zero.metrics(truth).items()}
    assert mz["w_norm"] == 0 and mz["mutual_info"] == 0 and mz["r2"] == pytest.approx(0.0, abs=1e-6)
    nf = Regression(W3, SIGMA3, noise=0.0)
    assert float(nf.metrics(nf)["mutual_info"]) == math.inf
    assert float(nf.with_w(np.zeros(3)).metrics(nf)["mutual_info"]) == 0.0
    t0 = Regression(np.zeros(3), SIGMA3, noise=0.0)
    assert float(t0.metrics(t0)["r2"]) == 1.0 and float(nf.metrics(t0)["r2"]) == -math.inf
    for v in [*mz.values(), *m.metrics(t0).values()]:
        assert not math.isnan(float(v))


# --------------------------------------------------------------------------- regimes through the engine
REGIME_CASES = {  # replace and accumulate run in the verify checks and the CLI test
    "augment": lambda: regimes.augment(6, 1.0),
    "fresh": lambda: regimes.fresh(6, 6),
    "weighted": lambda: regimes.weighted(6, 6, 0.3),
}


# slow: every regime compiles its own program; verify's regression checks cover replace, accumulate and
# fixed-design real data in the default suite
@pytest.mark.slow
def test_every_regime_runs_finite_and_chain_prefix_invariant():
    model = Regression(np.array([1.0, -1.0]), np.array([[1.0, 0.2], [0.2, 0.5]]), 0.5, design="fixed")
    for name, make in REGIME_CASES.items():
        a = jaxcollapse.simulate(jax.random.key(0), model, make(), 4, 8, record_paths=True, quantiles=())
        for k in model.metric_names:
            assert np.all(np.isfinite(np.asarray(a.paths[k]))), (name, k)
        if name == "augment":  # one regime suffices for prefix invariance (each chain count compiles anew)
            b = jaxcollapse.simulate(jax.random.key(0), model, make(), 4, 4, record_paths=True, quantiles=())
            # float32: the same numbers up to rounding (XLA fuses and vectorizes 4 and 8 chains differently)
            np.testing.assert_allclose(np.asarray(a.paths["excess_risk"])[:, :4],
                                       np.asarray(b.paths["excess_risk"]), rtol=1e-4, atol=1e-7)
    fresh = Regression(np.array([1.0, -1.0]), 1.0, 0.5, ridge=0.1)
    # a fresh design with ridge: a sample-size schedule starting at T = 1 row (< d), and a sample-level regime
    cases = ((regimes.replace(regimes.linear(1, 2)), "exact"), (regimes.accumulate_subsample(6, 4), "samples"))
    for reg, path in cases:
        tr = jaxcollapse.simulate(jax.random.key(1), fresh, reg, 4, 8, path=path, quantiles=())
        assert np.all(np.isfinite(np.asarray(tr.mean("excess_risk"))))


def test_wrong_theory_is_rejected():
    """The replace_fixed check's configuration: the right formula passes, d/(T-d) and d/(T-d-2) fail."""
    from jaxcollapse import verify as V
    from jaxcollapse.checks import regression as C

    with jaxcollapse.x64():
        traj = C._run(jax.random.key(11), "fixed", regimes.replace(C.T), 0.25)
        ts = (5, 10)
        right = V._means("demo", traj, "excess_risk", ts, np.asarray(th.replace_risk(np.asarray(ts), C.T, C.D)))
        n = np.asarray(ts, np.float64)
        low = V._means("demo", traj, "excess_risk", ts, n * C.D / (C.T - C.D))
        high = V._means("demo", traj, "excess_risk", ts, n * C.D / (C.T - C.D - 2))
    assert V.all_passed(right), V.format_table(right)
    assert not any(c.passed for c in low + high), V.format_table(low + high)
    assert all(c.stat > Z_BOUND for c in low + high)


# --------------------------------------------------------------------------- downstream
def test_downstream_single_and_batched_and_bad_input():
    truth = Regression(W3, SIGMA3)
    one = downstream_risk(jax.random.key(0), truth, truth, 20)
    assert one.shape == () and float(one) > 0
    batch = jax.tree.map(lambda a: jnp.broadcast_to(a, (5,) + a.shape), truth)
    r = downstream_risk(jax.random.key(0), batch, truth, 20, ridge=0.1)
    r_s = downstream_risk(jax.random.key(0), batch, truth, 20, path="samples")
    assert r.shape == (5,) and r_s.shape == (5,) and np.all(np.isfinite(np.asarray(r)))
    for kwargs, match in ((dict(T=0), "T must"), (dict(T=5, ridge=-1.0), "ridge"), (dict(T=5, noise=-1.0), "noise"),
                          (dict(T=5, path="x"), "path")):
        with pytest.raises(ValueError, match=match):
            downstream_risk(jax.random.key(0), truth, truth, **kwargs)


# --------------------------------------------------------------------------- theory
def test_theory_values_and_limits():
    with jaxcollapse.x64():
        _theory_values_and_limits()


def _theory_values_and_limits():
    assert float(th.ols_risk(20, 5, 2.0)) == pytest.approx(4 * 5 / 14)
    s = np.asarray(th.accumulate_fixed_risk(np.arange(0, 2001), 20, 5))
    assert s[0] == 0 and np.all(np.diff(s) > 0) and np.all(s < float(th.accumulate_bound(20, 5)))
    assert s[-1] == pytest.approx(float(th.accumulate_bound(20, 5)), rel=1e-3)
    f = np.asarray(th.accumulate_fresh_risk(np.arange(0, 6), 20, 5))
    manual = np.cumsum([0] + [5 / (t * (20 * t - 6)) for t in range(1, 6)])
    np.testing.assert_allclose(f, manual, rtol=1e-12)
    # the mixed fixed-design formula: w = 1 is pure real data (one fit's error), w -> 0 is replace
    assert float(th.fixed_design_mixed_risk(7, 20, 5, 1.0)) == pytest.approx(float(th.ols_risk(20, 5)))
    np.testing.assert_allclose(float(th.fixed_design_mixed_risk(7, 20, 5, 1e-9)), float(th.replace_risk(7, 20, 5)),
                               rtol=1e-6)
    assert float(th.fixed_design_mixed_risk(10_000, 20, 5, 0.5)) == pytest.approx(4 / 3 * float(th.ols_risk(20, 5)))
    assert float(th.minnorm_risk(3, 10, 20, 2.0)) == pytest.approx(2.0 * (1 - 0.125))
    assert float(th.minnorm_risk(3, 30, 20, 2.0)) == 0.0


def test_marchenko_pastur_stieltjes():
    """m and m_2 against direct integration of the MP density (plus its atom at 0 when gamma > 1)."""
    from scipy.integrate import quad

    for gamma, lam in ((0.25, 0.5), (0.5, 0.1), (2.0, 0.3)):
        a, b = (1 - math.sqrt(gamma)) ** 2, (1 + math.sqrt(gamma)) ** 2

        def dens(s, g=gamma, lo=a, hi=b):
            return math.sqrt(max((hi - s) * (s - lo), 0.0)) / (2 * math.pi * g * s)

        atom = max(0.0, 1 - 1 / gamma)
        m_num = quad(lambda s, lam=lam: dens(s) / (s + lam), a, b)[0] + atom / lam
        m2_num = quad(lambda s, lam=lam: dens(s) / (s + lam) ** 2, a, b)[0] + atom / lam**2
        with jaxcollapse.x64():
            m, m2 = (float(v) for v in th.mp_stieltjes(lam, gamma))
        assert m == pytest.approx(m_num, rel=1e-6) and m2 == pytest.approx(m2_num, rel=1e-6)
    with jaxcollapse.x64():  # the ridge formula's lambda -> 0 limit is OLS with d/(T-d)
        r = float(th.downstream_ridge_risk(0, 80, 60, 20, 1e-6, w_star_sq=0.0))
    assert r == pytest.approx(20 / 60, rel=1e-4)


@pytest.mark.parametrize(("fn", "args"), [
    (th.ols_risk, (6, 5)), (th.replace_risk, (3, 6, 5)), (th.accumulate_fixed_risk, (3, 6, 5)),
    (th.accumulate_fresh_risk, (3, 6, 5)), (th.downstream_ols_risk, (3, 30, 6, 5)),
    (th.downstream_ols_risk, (3, 6, 30, 5)), (th.fixed_design_mixed_risk, (3, 6, 5, 0.5)),
    (th.downstream_ridge_risk, (3, 30, 6, 5, 0.1)),
])
def test_ols_theory_raises_for_too_few_rows(fn, args):
    with pytest.raises(ValueError, match="d \\+ 1"):
        fn(*args)


def test_theory_other_bad_input():
    with pytest.raises(ValueError, match="lambda > 0"):
        th.downstream_ridge_risk(1, 30, 30, 5, 0.0)
    with pytest.raises(ValueError, match="w must"):
        th.fixed_design_mixed_risk(1, 30, 5, 0.0)
    with pytest.raises(ValueError, match="d must"):
        th.ols_risk(30, 0)


# --------------------------------------------------------------------------- bad input
@pytest.mark.usefixtures("typecheck_off")
@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(w=np.zeros(0)), "d >= 1"),
    (dict(w=np.ones(2), cov=np.array([[1.0, 0.5], [0.4, 1.0]])), "symmetric"),
    (dict(w=np.ones(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]])), "positive definite"),
    (dict(w=np.ones(2), cov=np.zeros(2)), "positive definite"),
    (dict(w=np.ones(2), cov=np.eye(3)), "dimension"),
    (dict(w=np.ones(2), ridge=-0.1), "ridge"),
    (dict(w=np.ones(2), noise=-1.0), "noise"),
    (dict(w=np.ones(2), noise=np.nan), "noise"),
    (dict(w=np.ones(2), design="random"), "design"),
    (dict(w=np.array([1.0, np.inf])), "finite"),
])
def test_bad_model(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Regression(**kwargs)


def test_bad_regime_caught_before_compiling(no_run):
    fixed = Regression(np.ones(2), design="fixed")
    for reg in (regimes.replace(regimes.linear(3, 1)), regimes.augment(6, 0.5), regimes.fresh(4, 6)):
        with pytest.raises(ValueError, match="fixed design"):
            jaxcollapse.simulate(jax.random.key(0), fixed, reg, 3, 4)
    with pytest.raises(ValueError, match="drift"):
        jaxcollapse.simulate(jax.random.key(0), fixed, regimes.replace(5, drift=np.ones(3)), 3, 4)
    with pytest.raises(ValueError, match="sample size"):
        regimes.replace(0)  # T < 1
