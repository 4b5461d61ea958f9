"""Regimes: schedules, counts, validation, presets; every regime run through the engine on
both paths; and hand-made cases whose first generation is known exactly.

The hand-made cases use point-mass models (covariance 0): every synthetic sample equals the
model's mean $m_s$ and every real sample the truth's mean $m_r$, so the first refit is
deterministic. Pooling $n_r$ real with $n_s$ synthetic samples gives mean
$p\\,m_r + (1-p)\\,m_s$ and MLE covariance $p(1-p)\\,\\delta\\delta^\\top$ with
$p = n_r/(n_r+n_s)$, $\\delta = m_r - m_s$; the weighted regime gives the same with $p = w$.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import (
    LITE_METRICS,
    REGIME_DIMS,
    REGIME_METRICS,
    REGIME_PATHS,
    RUN_CHAINS,
    RUN_GENERATIONS,
    default_model,
    run_case,
)

import jaxcollapse
from jaxcollapse import Gaussian, regimes

# --------------------------------------------------------------------------- schedules and counts


def test_schedule_values():
    t = np.arange(1, 8)

    def values(s):
        return [float(s(int(i))) for i in t]

    np.testing.assert_array_equal(values(regimes.constant(5)), np.full(7, 5.0))
    np.testing.assert_array_equal(values(regimes.linear(10, 3)), 10 + 3 * (t - 1))
    np.testing.assert_array_equal(values(regimes.linear(2.5, 0.5)), np.floor(2.5 + 0.5 * (t - 1)))
    np.testing.assert_array_equal(values(regimes.power(4, 1.5)), np.floor(4 * t**1.5 + 1e-6))
    np.testing.assert_array_equal(values(regimes.power(3, 1.0)), 3 * t)  # exact integers stay exact
    assert regimes.linear(10, 3).concrete_range(5) == (10, 22)
    assert regimes.power(4, 2.0).concrete_range(3) == (4, 36)
    assert regimes.constant(7).concrete_range(100) == (7, 7)


def test_schedule_is_traceable():
    """n0 and the rate are arrays, so a sweep can vmap over them."""
    f = jax.vmap(lambda n0, r: regimes.linear(n0, r)(3))
    np.testing.assert_array_equal(f(jnp.asarray([5.0, 6.0]), jnp.asarray([1.0, 2.0])), [7.0, 10.0])
    assert jax.jit(lambda n0: regimes.constant(n0).concrete_range(3))(jnp.asarray(4.0)) is None


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: regimes.Schedule("cubic", 5, 0.0), "unknown schedule"),
        (lambda: regimes.constant(0), "sample size"),
        (lambda: regimes.constant(np.nan), "sample size"),
        (lambda: regimes.linear(5, -1), "rate"),
        (lambda: regimes.replace(0), "sample size"),
    ],
)
def test_schedule_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_synthetic_count_and_sizes():
    assert float(regimes.replace(5).synthetic_count(3)) == 5
    assert float(regimes.fresh(5, regimes.linear(4, 2)).synthetic_count(3)) == 8
    # augment: round(lambda * n_real) synthetic samples, next to the n_real real ones
    for n_real, lam, syn in ((10, 0.3, 3), (20, 0.55, 11), (7, 1.0, 7), (7, 0.0, 0), (9, 0.1, 1)):
        r = regimes.augment(n_real, lam)
        assert float(r.synthetic_count(4)) == syn
        assert r.min_train_size(10) == n_real + syn
        assert r.synthetic_capacity(10) == n_real
    # a synthetic-to-real ratio above 1 (Bertrand et al.'s stability threshold can lie there): more capacity
    for n_real, lam, syn in ((10, 2.5, 25), (8, 1.5, 12), (3, 4.0, 12)):
        r = regimes.augment(n_real, lam)
        assert float(r.synthetic_count(2)) == syn
        assert r.synthetic_capacity(10) == syn
        assert r.min_train_size(10) == n_real + syn
    assert jax.jit(lambda lam: regimes.augment(10, lam).synthetic_capacity(3))(jnp.asarray(2.0)) is None
    assert regimes.replace(regimes.linear(4, 2)).synthetic_capacity(5) == 12
    assert regimes.replace(regimes.linear(4, 2)).min_train_size(5) == 4
    assert regimes.fresh(3, 5).min_train_size() == 8
    assert regimes.weighted(4, 6, 0.3).min_train_size() == 10
    assert regimes.accumulate_subsample(5, 3).min_train_size() == 3
    assert regimes.accumulate_subsample(5).subsample == 5


def test_traced_knobs_are_leaves():
    """tau, drift, lambda, w and n0 are pytree leaves (vmappable); sizes and modes are static."""
    r = regimes.augment(10, 0.3, temperature=0.8, drift=0.1)
    leaves = jax.tree.leaves(r)
    assert len(leaves) == 5  # n0, rate, lam, temperature, drift
    f = jax.vmap(lambda lam: regimes.augment(10, lam).synthetic_count(1))
    np.testing.assert_array_equal(f(jnp.asarray([0.0, 0.25, 0.5, 1.0])), [0.0, 2.0, 5.0, 10.0])
    # inside a trace the knobs cannot be checked; sizes that depend on them are unknown
    assert jax.jit(lambda lam: regimes.augment(10, lam).min_train_size())(jnp.asarray(0.5)) is None


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: regimes.augment(10, -0.1), "lambda .* must be a finite number >= 0"),
        (lambda: regimes.augment(10, np.nan), "lambda .* must be a finite number >= 0"),
        (lambda: regimes.augment(10, np.inf), "lambda .* must be a finite number >= 0"),
        (lambda: regimes.weighted(10, 10, 1.2), "w must lie in"),
        (lambda: regimes.weighted(10, 10, -0.5), "w must lie in"),
        (lambda: regimes.replace(10, temperature=0.0), "tau must be > 0"),
        (lambda: regimes.replace(10, temperature=-1.0), "tau must be > 0"),
        (lambda: regimes.fresh(10, 10, temperature=np.inf), "tau must be > 0"),
        (lambda: regimes.replace(10, drift=np.ones((2, 2))), "drift"),
        (lambda: regimes.replace(10, drift=np.nan), "drift"),
        (lambda: regimes.accumulate_subsample(5, 0), "subsample size"),
        (lambda: regimes.fresh(0, 5), "n_real"),
        (lambda: regimes.weighted(10, 10, 0.5, real="sometimes"), "real-data mode"),
        (lambda: regimes.preset("recycle", n=10), "unknown regime 'recycle'"),
    ],
)
def test_regime_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_presets():
    assert set(regimes.PRESETS) == {"replace", "accumulate", "accumulate_subsample", "augment", "fresh", "weighted"}
    a = regimes.preset("fresh", n_real=50, n_synthetic=20, temperature=0.9)
    b = regimes.fresh(50, 20, temperature=0.9)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    for name, mem, real in (("replace", "replace", "none"), ("accumulate", "accumulate", "none"),
                            ("accumulate_subsample", "accumulate_subsample", "none")):
        r = regimes.preset(name, n=10)
        assert (r.name, r.memory, r.real) == (name, mem, real)
    assert regimes.preset("augment", n_real=10, lam=0.5).real == "fixed"
    assert regimes.preset("weighted", n_real=10, n_synthetic=5, w=0.5, real="fresh").real == "fresh"
    assert "lambda=0.5" in regimes.augment(10, 0.5).describe()


# --------------------------------------------------------------------------- every regime through the engine



@pytest.mark.parametrize(("name", "path"), REGIME_PATHS, ids=[f"{n}-{p}" for n, p in REGIME_PATHS])
def test_every_regime_runs(name, path):
    """Each regime on each path it allows: shapes, generation 0 is the truth, finite metrics,
    summaries consistent with the recorded paths, and the regime's hand-made first generation."""
    d = REGIME_DIMS[name]
    G, C = RUN_GENERATIONS, RUN_CHAINS
    tr = run_case(name, path, seed=1)
    assert tr.config["path"] == path and tr.config["chains"] == C and tr.config["generations"] == G
    np.testing.assert_array_equal(tr.generations, np.arange(G + 1))
    assert tr.params.mean.shape == (G + 1, C, d) and tr.params.cov.shape == (G + 1, C, d, d)
    assert tr.final.mean.shape == (C, d)
    np.testing.assert_array_equal(tr.final.mean, tr.params.mean[-1])
    names = Gaussian.metric_names if REGIME_METRICS[name] is None else REGIME_METRICS[name]
    assert set(tr.paths) == set(tr.summary) == set(names)
    m0 = {k: float(v[0, 0]) for k, v in tr.paths.items()}
    assert m0["mean_sq_err"] == 0
    np.testing.assert_array_equal(tr.paths["trace"][0], np.trace(default_model(d).cov))
    if "kl" in m0:
        assert m0["trace_ratio"] == 1 and m0["log_det_ratio"] == 0
        assert m0["kl"] == pytest.approx(0, abs=1e-5) and m0["w2sq"] == pytest.approx(0, abs=1e-5)  # float32 rounding
    for k in names:  # every metric is finite here: n >= 4 samples per fit, 6 generations
        p = np.asarray(tr.paths[k])
        assert p.shape == (G + 1, C)
        assert np.all(np.isfinite(p)), k
        # summaries are computed inside the scan; they must agree with the recorded paths
        np.testing.assert_allclose(tr.mean(k), p.mean(1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tr.std(k), p.std(1), rtol=1e-4, atol=1e-6)
        for q in (0.05, 0.5, 0.95):
            np.testing.assert_allclose(tr.quantile(k, q), np.quantile(p, q, axis=1), rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(tr.params.mean[1:]) != np.asarray(tr.params.mean[:1]))  # the chains moved
    CHECKS[name](path)


def _point(mean):
    mean = np.atleast_1d(np.asarray(mean, float))
    return Gaussian(mean, np.zeros((mean.size, mean.size)))


def _first_fit(name, path, model, truth, **knobs):
    tr = run_case(name, path, seed=2, model=model, truth=truth, **knobs)
    return np.asarray(tr.params.mean[1, 0]), np.asarray(tr.params.cov[1, 0])


def _check_pool(name, path, p, **knobs):
    d = REGIME_DIMS[name]
    m_s, m_r = np.array([2.0, 0.0])[:d], np.array([-1.0, 1.0])[:d]
    mean, cov = _first_fit(name, path, _point(m_s), _point(m_r), **knobs)
    delta = m_r - m_s
    np.testing.assert_allclose(mean, p * m_r + (1 - p) * m_s, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cov, p * (1 - p) * np.outer(delta, delta), rtol=1e-5, atol=1e-6)


def _check_augment(path):
    _check_pool("augment", path, 6 / 9, lam=0.5)  # round(0.5 * 6) = 3 synthetic next to 6 real
    _check_pool("augment", path, 6 / 8, lam=0.3)  # round(1.8) = 2
    _check_pool("augment", path, 1 / 2, lam=1.0)
    _check_pool("augment", path, 1.0, lam=0.0)  # no synthetic data at all: the real set alone
    _check_pool("augment", path, 6 / 18, lam=2.0)  # a ratio above 1: 12 synthetic next to 6 real


def _check_fresh(path):
    _check_pool("fresh", path, 3 / 8)  # 3 real + 5 synthetic


def _check_weighted(path):
    _check_pool("weighted", path, 0.3, w=0.3)  # w m_real + (1 - w) m_syn, whatever the counts 4 and 6
    _check_pool("weighted", path, 1.0, w=1.0)
    _check_pool("weighted", path, 0.0, w=0.0)


def _check_replace(path):
    """Drift: a point-mass model never moves, the truth moves by v per generation, so the squared
    mean error at generation t is (m - m* - v t)^2. Temperature: the same key at tau = 1/2 gives
    the same draws scaled, (mean - mu) by 1/2 and the covariance by 1/4."""
    truth = default_model(1)
    tr = run_case("replace", path, seed=3, model=_point(1.0), truth=truth, drift=0.25)
    t = np.arange(RUN_GENERATIONS + 1)
    np.testing.assert_allclose(tr.paths["mean_sq_err"][:, 0], (1.0 - 0.5 - 0.25 * t) ** 2, rtol=1e-6, atol=1e-6)
    a = run_case("replace", path, seed=4)
    b = run_case("replace", path, seed=4, temperature=0.5)
    mu = float(truth.mean[0])
    np.testing.assert_allclose(b.params.mean[1] - mu, 0.5 * (a.params.mean[1] - mu), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.params.cov[1], 0.25 * a.params.cov[1], rtol=1e-5)


def _check_accumulate(path):
    """Generation 1 trains on n samples of the truth, as replace does: with the same key the first
    fit is the same under both (the pool holds one generation's data; pooling with the empty
    statistics may round differently, so a few ULP); from generation 2 on they differ."""
    a = run_case("accumulate", path, seed=5)
    b = run_case("replace", path, seed=5)
    np.testing.assert_allclose(a.params.mean[1], b.params.mean[1], rtol=1e-6)
    np.testing.assert_allclose(a.params.cov[1], b.params.cov[1], rtol=1e-6)
    assert not np.allclose(a.params.cov[2], b.params.cov[2], rtol=1e-3)


def _check_accumulate_subsample(path):
    """A point mass stays a point mass whatever rows are subsampled."""
    mean, cov = _first_fit("accumulate_subsample", path, _point(0.7), default_model(1))
    np.testing.assert_allclose(mean, [0.7], rtol=1e-6)
    np.testing.assert_array_equal(cov, [[0.0]])


CHECKS = {
    "replace": _check_replace,
    "accumulate": _check_accumulate,
    "accumulate_subsample": _check_accumulate_subsample,
    "augment": _check_augment,
    "fresh": _check_fresh,
    "weighted": _check_weighted,
}


def test_weighted_default_real_is_fixed_and_documented():
    assert regimes.weighted(4, 6, 0.3).real == "fixed"
    assert 'defaults to ``"fixed"``' in regimes.weighted.__doc__ and 'real="fresh"' in regimes.weighted.__doc__


def test_weighted_with_fresh_real_data_runs():
    """weighted(real="fresh") draws the real data anew from the current truth each generation."""
    with jaxcollapse.x64(False):
        r = regimes.weighted(4, 6, 0.3, real="fresh")
        m_s, m_r = np.array([2.0, 0.0]), np.array([-1.0, 1.0])
        tr = jaxcollapse.simulate(jax.random.key(0), _point(m_s), r, RUN_GENERATIONS, RUN_CHAINS, truth=_point(m_r),
                                  path="exact", metrics=LITE_METRICS, record_params=True, record_paths=True)
        np.testing.assert_allclose(tr.params.mean[1, 0], 0.3 * m_r + 0.7 * m_s, rtol=1e-6)
