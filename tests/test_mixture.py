"""The Gaussian mixture family: EM against scikit-learn, weights, random initialization, component
death, collapsed chains, bad input, and the L2 closed form.

Statistical rule (stated up front): |z| < 4 (`conftest.Z_BOUND`) for Monte Carlo means. Deterministic
comparisons (EM against scikit-learn from the same start, the L2 formula against quadrature) use
tolerances set by the convergence tolerance / quadrature error, written beside them.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import Z_BOUND

import jaxcollapse
from jaxcollapse import GaussianMixture, regimes, verify
from jaxcollapse import theory as th
from jaxcollapse.data import SampleStats
from jaxcollapse.families.mixture import moment_matched
from jaxcollapse.random import Stream
from jaxcollapse.verify import mixture as checks

S0 = Stream.from_key(jax.random.key(0))  # `fit` and `metrics` take a stream

TRUTH = dict(weights=[0.4, 0.6], means=[[-2.0, 0.0], [2.0, 1.0]], covs=[[[1.0, 0.3], [0.3, 0.6]], [[0.5, -0.1],
                                                                                                   [-0.1, 0.8]]])


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    comp = rng.random(n) < 0.4
    a = rng.multivariate_normal(TRUTH["means"][0], TRUTH["covs"][0], n)
    b = rng.multivariate_normal(TRUTH["means"][1], TRUTH["covs"][1], n)
    return np.where(comp[:, None], a, b)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_em_matches_sklearn_from_the_same_start(covariance):
    from sklearn.mixture import GaussianMixture as SkGMM

    x = _data()
    with jaxcollapse.x64():
        start = GaussianMixture(TRUTH["weights"], TRUTH["means"], TRUTH["covs"], covariance=covariance,
                                em_iters=500, tol=1e-12, reg=1e-6)
        if covariance == "diag":
            start = GaussianMixture(TRUTH["weights"], TRUTH["means"], np.array([[1.0, 0.6], [0.5, 0.8]]),
                                    covariance="diag", em_iters=500, tol=1e-12, reg=1e-6)
        fit = eqx.filter_jit(lambda m, v: m.fit(m.stats(v), S0))(start, jnp.asarray(x))
        covs0 = np.asarray(start.covs)
    prec = np.linalg.inv(covs0) if covariance == "full" else 1.0 / np.diagonal(covs0, axis1=1, axis2=2)
    sk = SkGMM(2, covariance_type=covariance, tol=1e-12, max_iter=5000, reg_covar=1e-6,
               weights_init=TRUTH["weights"], means_init=TRUTH["means"], precisions_init=prec).fit(x)
    # both run EM to a 1e-12 change in the mean log-likelihood from the same start: same fixed point
    np.testing.assert_allclose(np.asarray(fit.weights), sk.weights_, atol=1e-6)
    np.testing.assert_allclose(np.asarray(fit.means), sk.means_, atol=1e-5)
    sk_covs = sk.covariances_ if covariance == "full" else np.stack([np.diag(c) for c in sk.covariances_])
    np.testing.assert_allclose(np.asarray(fit.covs), sk_covs, atol=1e-5)
    # and the wrong answer is far: the starting point is not the fixed point
    assert np.abs(np.asarray(start.means) - sk.means_).max() > 1e-2


def test_weights_are_repetitions():
    """Weight 2 on a row fits exactly as the row twice (EM is a function of the weighted empirical law)."""
    x = _data(60, seed=3)
    w = np.tile([1.0, 2.0, 0.0], 20)
    rep = np.repeat(x, w.astype(int), axis=0)
    with jaxcollapse.x64():
        m = GaussianMixture(TRUTH["weights"], TRUTH["means"], TRUTH["covs"], em_iters=20, tol=0.0)
        fit = eqx.filter_jit(lambda m, s: m.fit(s, S0))
        a = fit(m, SampleStats(jnp.sum(jnp.asarray(w)), jnp.asarray(x), jnp.asarray(w)))
        b = fit(m, m.stats(jnp.asarray(rep)))
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_column_em_matches_the_matrix_em(covariance, monkeypatch):
    """Small K and d run EM and the density on per-coordinate columns (`_em_step_cols`): the same step as the
    matrix code (`_em_step` with the column path switched off), to rounding, with zero-weight rows, a dead
    component (weight 0) and a singular one (log-density -inf) among the components."""
    from jaxcollapse.families import mixture as mixmod

    rng = np.random.default_rng(5)
    K, d = 4, 3
    covs = np.stack([np.eye(d) * (k + 1) for k in range(K)])
    covs[3] = np.diag([1.0, 1.0, 0.0])  # singular: log-density -inf, never picked (weight 0 below)
    xn, wn = rng.normal(size=(300, d)) * 2, (rng.random(300) < 0.7) * rng.integers(1, 3, 300)
    with jaxcollapse.x64():
        x, w = jnp.asarray(xn), jnp.asarray(wn, jnp.float64)
        m = GaussianMixture(np.ones(K), rng.normal(size=(K, d)) * 2, np.stack([np.eye(d)] * K),
                            covariance=covariance)
        m = eqx.tree_at(lambda g: (g.weights, g.covs), m, (jnp.asarray([0.5, 0.3, 0.2, 0.0]), jnp.asarray(covs)))
        assert m._unrolled
        col, ll_col, lp_col = jax.jit(lambda m, x, w: (*m._em_step(x, w), jnp.stack(
            m._component_logp_cols([x[:, i] for i in range(d)]), axis=1)))(m, x, w)
        monkeypatch.setattr(mixmod, "UNROLLED_MAX_KDD", 0)
        assert not m._unrolled
        mat, ll_mat, lp_mat = jax.jit(lambda m, x, w: (*m._em_step(x, w), m._component_logp(x)))(m, x, w)
    np.testing.assert_allclose(float(ll_col), float(ll_mat), rtol=1e-13)
    assert np.all(np.isneginf(np.asarray(lp_mat[:, 3])))
    np.testing.assert_allclose(np.asarray(lp_col), np.asarray(lp_mat), rtol=1e-13)
    for u, v in zip(jax.tree.leaves(col), jax.tree.leaves(mat), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-12, atol=1e-13)
    assert float(col.weights[3]) == 0.0 and np.all(np.isfinite(np.asarray(col.covs)))


def test_random_init_is_deterministic_from_the_stream():
    x = jnp.asarray(_data(200, seed=1), jnp.float32)
    m = GaussianMixture(TRUTH["weights"], TRUTH["means"], TRUTH["covs"], init="random", em_iters=3, tol=0.0)
    st = m.stats(x)
    s1 = Stream.from_key(jax.random.key(1), 4)
    fit = eqx.filter_jit(lambda m, st, s: m.fit(st, s))
    a, b = fit(m, st, s1), fit(m, st, s1)
    c = fit(m, st, Stream.from_key(jax.random.key(1), 5))
    np.testing.assert_array_equal(np.asarray(a.means), np.asarray(b.means))
    assert not np.allclose(np.asarray(a.means), np.asarray(c.means))


def test_mixture_sampler_moments():
    """Draws have the mixture's mean (z-test per coordinate, |z| < 4)."""
    m = GaussianMixture(**TRUTH)
    x = np.asarray(m.sample(jax.random.key(0), 40_000), np.float64)
    mean, cov = (np.asarray(a, np.float64) for a in m.moments())
    z = (x.mean(0) - mean) / np.sqrt(np.diag(cov) / x.shape[0])
    assert np.all(np.abs(z) < Z_BOUND), z


def test_l2_formula_against_quadrature_1d():
    p = GaussianMixture([0.3, 0.7], [-1.0, 1.5], [0.5, 1.2])
    q = GaussianMixture([1.0], [0.2], [2.0])
    grid = np.linspace(-15, 15, 30001)
    log_prob = jax.jit(lambda g, x: g.log_prob(x))  # one compiled program (op by op: many small compiles)
    dens = lambda g: np.exp(np.asarray(log_prob(g, jnp.asarray(grid[:, None], jnp.float32)), np.float64))  # noqa: E731
    quad = np.trapezoid((dens(p) - dens(q)) ** 2, grid)
    val = float(th.mixture_l2sq(p.weights, p.means, p.covs, q.weights, q.means, q.covs))
    assert val == pytest.approx(quad, rel=1e-4)  # float32 densities on a fine grid: ~1e-6 relative error
    assert float(th.mixture_l2sq(p.weights, p.means, p.covs, p.weights, p.means, p.covs)) == pytest.approx(0, abs=1e-6)


def _collapse_run(chains):
    """n = 3 per generation, K = 2 (weights 0.8, 0.2), warm EM: components die and the mixture collapses."""
    m = GaussianMixture([0.8, 0.2], [[-1.5, 0.0], [1.5, 0.0]], 1.0, em_iters=3, tol=0.0, eval_size=16)
    return jaxcollapse.simulate(jax.random.key(3), m, regimes.replace(3), 25, chains, path="samples",
                                record_paths=True, record_params=True, quantiles=())


@pytest.fixture(scope="module")
def collapse_runs():
    return _collapse_run(12), _collapse_run(16)


def test_component_death_is_flagged_and_collapsed_chains_stay_finite(collapse_runs):
    traj = collapse_runs[0]
    dead = np.asarray(traj.paths["dead"])
    assert dead[0].sum() == 0 and dead[-1].sum() > 0
    assert np.all(np.diff(dead, axis=0) >= 0)  # the dead stay dead
    wmin = np.asarray(traj.paths["weight_min"])
    assert np.all(wmin[dead > 0] == 0.0)
    for a in jax.tree.leaves(traj.params):
        assert not np.any(np.isnan(np.asarray(a)))
    for k in GaussianMixture.metric_names:
        assert not np.any(np.isnan(np.asarray(traj.paths[k]))), k
    spread = np.asarray(traj.paths["spread"])
    assert np.median(spread[-1]) < 0.1 * spread[0, 0]


def test_chain_prefix_invariance_with_random_init(collapse_runs):
    a, b = collapse_runs
    for k in ("spread", "kl", "l2sq", "dead"):
        np.testing.assert_array_equal(np.asarray(a.paths[k]), np.asarray(b.paths[k])[:, :12])


def test_expressivity_truth_of_another_size():
    """A K = 1 model against a K = 2 truth: generation 0 already has a positive L2 distance."""
    truth = GaussianMixture([0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], 1.0)
    one = moment_matched(truth)
    assert one.K == 1
    np.testing.assert_allclose(np.asarray(one.moments()[1]), np.asarray(truth.moments()[1]), rtol=1e-6)
    mets = eqx.filter_jit(lambda a, b: a.metrics(b, S0))(one, truth)
    assert float(mets["l2sq"]) > 1e-3 and float(mets["kl"]) > 0.05 and float(mets["spread"]) == pytest.approx(6.0)


@pytest.mark.parametrize("case", [
    lambda: GaussianMixture([], np.zeros((0, 2))),
    lambda: GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], np.ones((2, 3, 3))),
    lambda: GaussianMixture([0.5, 0.5], [[0.0, 0.0, 0.0]]),
    lambda: GaussianMixture([1.0], [[0.0]], covariance="spherical"),
    lambda: GaussianMixture([1.0], [[0.0]], em_iters=0),
    lambda: GaussianMixture([1.0], [[0.0]], -1.0),
    lambda: jaxcollapse.simulate(jax.random.key(0), GaussianMixture([1.0], [[0.0, 0.0]]), regimes.replace(5), 2, 2,
                                 truth=GaussianMixture([1.0], [[0.0, 0.0, 0.0]]), path="samples"),
    lambda: jaxcollapse.simulate(jax.random.key(0), GaussianMixture([1.0], [[0.0]]), regimes.replace(5), 2, 2,
                                 path="exact"),
    lambda: jaxcollapse.simulate(jax.random.key(0), GaussianMixture([0.5, 0.5], [0.0, 1.0], init="random"),
                                 regimes.replace(1), 2, 2, path="samples"),
])
def test_bad_input_raises_before_compiling(case, no_run, typecheck_off):
    with pytest.raises(ValueError):
        case()


def test_single_component_check_rejects_a_wrong_theory():
    """The configuration of `mixture.single_component` (reduced scale): the right theory passes, the
    off-by-one generation and the unbiased estimator's constant variance are rejected."""
    ts = (5, 10)
    tr = float(np.trace(checks._M_COV))
    with jaxcollapse.x64():
        traj = checks.sim_single_component(jax.random.key(7), 0.25)
        right = verify.means("demo", traj, "spread", ts, np.asarray(th.mle_variance(jnp.asarray(ts), checks._M_N, tr)))
        shifted = verify.means("demo", traj, "spread", (10,), float(th.mle_variance(12, checks._M_N, tr)))
        unbiased = verify.means("demo", traj, "spread", ts, tr)
    assert verify.all_passed(right), verify.format_table(right)
    assert not any(c.passed for c in shifted), verify.format_table(shifted)
    assert not any(c.passed for c in unbiased), verify.format_table(unbiased)
    assert math.isfinite(float(traj.mean("spread")[-1]))


# The command-line runs of mixture, kde and decomposition: tests/test_recipes_learned.py
