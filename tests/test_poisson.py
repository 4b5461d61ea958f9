"""The Poisson family: exact statistics sampler, bad input, extinction as a valid state.

Statistical rules: |z| < 4 (conftest's `Z_BOUND`) with fixed keys; the chi-square goodness-of-fit test of
the sufficient-statistic sampler has level FAMILY_ALPHA = 1e-3 (one test, no Bonferroni correction).
The theory (moments, extinction probabilities) is checked against simulation by the registered checks
`poisson.moments` and `poisson.extinction` (tests/test_verify.py).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import Z_BOUND, assert_z
from scipy import stats

import jaxcollapse
from jaxcollapse import regimes
from jaxcollapse import theory as th
from jaxcollapse.families.poisson import Poisson, PoissonStats
from jaxcollapse.random import Stream

S0 = Stream.from_key(jax.random.key(0))  # `fit` and `metrics` take a stream; the families tested here ignore it

FAMILY_ALPHA = 1e-3


def test_sample_stats_is_poisson_n_rate():
    """S ~ Poisson(n rate): chi-square over the values 0..12 (pooled tail) from 20,000 chains."""
    m = Poisson(0.6)
    kd = jax.random.key_data(jax.random.key(0))
    f = jax.jit(jax.vmap(lambda c: m.sample_stats(Stream(kd, c), jnp.asarray(5.0), jnp.asarray(1.0)).total))
    s = np.asarray(f(jnp.arange(20_000, dtype=jnp.uint32))).astype(int)
    mu = 3.0
    obs = np.bincount(np.minimum(s, 12), minlength=13)
    pmf = stats.poisson.pmf(np.arange(12), mu)
    exp = np.append(pmf, 1 - pmf.sum()) * s.size
    assert stats.chisquare(obs, exp).pvalue > FAMILY_ALPHA
    # the same test rejects a 5% higher mean
    pmf_bad = stats.poisson.pmf(np.arange(12), 1.05 * mu)
    assert stats.chisquare(obs, np.append(pmf_bad, 1 - pmf_bad.sum()) * s.size).pvalue < FAMILY_ALPHA


@pytest.mark.parametrize("rate, match", [(0.0, "> 0"), (-1.0, "> 0"), (math.nan, "> 0"), (math.inf, "> 0"),
                                         (np.array([1.0, 2.0]), "scalar")])
def test_bad_rate(rate, match, typecheck_off):
    with pytest.raises(ValueError, match=match):
        Poisson(rate)


@pytest.mark.parametrize("rg, match", [(lambda: regimes.replace(5, temperature=1.5), "temperature"),
                                       (lambda: regimes.replace(5, drift=np.ones(2)), "drift")])
def test_bad_regime_before_compiling(rg, match, no_run):
    with pytest.raises(ValueError, match=match):
        jaxcollapse.simulate(jax.random.key(0), Poisson(1.0), rg(), 3, 4)


def test_stats_fit_and_extinct_metrics():
    m = Poisson(2.0)
    s = m.stats(jnp.asarray([1.0, 3.0, 5.0]), mask=jnp.asarray([True, True, False]))
    assert float(s.count) == 2 and float(s.total) == 4
    assert float(m.fit(s, S0).rate) == 2.0
    both = s.combine(s.scale(jnp.asarray(0.5)))
    assert isinstance(both, PoissonStats) and float(both.count) == 3 and float(both.total) == 6
    dead = m.fit(PoissonStats(jnp.asarray(4.0), jnp.asarray(0.0)), S0)
    met = {k: float(v) for k, v in dead.metrics(m, S0).items()}
    assert met["extinct"] == 1 and met["rate"] == 0 and met["kl"] == math.inf and met["log_rate_ratio"] == -math.inf
    assert not any(math.isnan(v) for v in met.values())


def test_extinction_run_and_prefix_invariance():
    """Small rate: most chains go extinct, stay extinct, never NaN; chain i is the same with 8 or 4096 chains;
    E rate_t = rate_0 and P(extinct at t = 1) = exp(-n rate_0) (|z| < 4)."""
    m = Poisson(0.3)
    kw = dict(metrics=("rate", "extinct", "log_rate_ratio"), quantiles=(), record_paths=True)
    big = jaxcollapse.simulate(jax.random.key(1), m, regimes.replace(4), 6, 4096, **kw)
    small = jaxcollapse.simulate(jax.random.key(1), m, regimes.replace(4), 6, 8, **kw)
    np.testing.assert_array_equal(np.asarray(small.paths["rate"]), np.asarray(big.paths["rate"])[:, :8])
    ext = np.asarray(big.paths["extinct"])
    assert np.all(np.diff(ext, axis=0) >= 0), "extinction is absorbing"
    assert not np.any(np.isnan(np.asarray(big.paths["log_rate_ratio"])))
    rate = np.asarray(big.paths["rate"], np.float64)
    for t in (1, 6):
        assert_z((rate[t].mean() - 0.3) / (rate[t].std() / math.sqrt(rate.shape[1])), f"E rate_{t}")
    p1 = float(th.poisson_extinction_probability(1, 4, 0.3)[0])
    assert p1 == pytest.approx(math.exp(-1.2))
    assert_z((ext[1].mean() - p1) / math.sqrt(p1 * (1 - p1) / ext.shape[1]), "P(extinct at 1)")


def test_samples_path_runs():
    tr = jaxcollapse.simulate(jax.random.key(2), Poisson(2.0), regimes.replace(5), 3, 8, path="samples",
                              metrics=("rate", "extinct"), quantiles=())
    assert np.all(np.isfinite(np.asarray(tr.mean("rate"))))


def test_extinction_theory_identities():
    """The GF iteration equals the Laplace-transform recursion for constant n; accumulate freezes extinction."""
    ts = np.arange(1, 21)
    np.testing.assert_allclose(th.poisson_extinction_probability(ts, 5, 0.4),
                               th.poisson_extinction_schedule(np.full(20, 5.0), 0.4), rtol=1e-12)
    # monotone in t and tends to 1 (critical branching dies out); Kolmogorov's estimate at t = 2000
    p = th.poisson_extinction_probability(np.array([10, 100, 2000]), 5, 0.4)
    assert np.all(np.diff(p) > 0) and p[-1] > 0.99
    surv = 1 - float(th.poisson_extinction_probability(2000, 5, 0.4)[0])
    assert surv == pytest.approx(float(th.poisson_survival_asymptotic(2000, 5, 0.4)), rel=0.02)


def test_log_prob_matches_scipy():
    x = np.array([0.0, 1.0, 4.0, 9.0])
    with jaxcollapse.x64():
        np.testing.assert_allclose(np.asarray(Poisson(2.5).log_prob(x)), stats.poisson(2.5).logpmf(x), rtol=1e-12)
        dead = Poisson(2.5).fit(PoissonStats(jnp.asarray(3.0), jnp.asarray(0.0)), S0)
        np.testing.assert_array_equal(np.asarray(dead.log_prob(x)), [0.0, -np.inf, -np.inf, -np.inf])


# --------------------------------------------------------------------------- a drifting truth (moving log-rate)
def test_translate_moves_the_log_rate():
    with jaxcollapse.x64():
        assert float(Poisson(2.0).translate(0.5).rate) == pytest.approx(2.0 * math.exp(0.5), rel=1e-14)
        assert float(Poisson(2.0).translate(np.array([-0.5])).rate) == pytest.approx(2.0 * math.exp(-0.5), rel=1e-14)


def test_fresh_drift_rate_law():
    """Fresh real data, log-rate drifting by v: $E\\lambda_t = \\lambda_0[a^t + (1-a)e^v(e^{vt} - a^t)/(e^v - a)]$
    (`theory.poisson.poisson_fresh_drift_rate`); also the signed `rate_error`. z-tests per generation, |z| < 4."""
    n_r, n_s, v, lam0, chains, G = 10, 30, 0.1, 3.0, 4000, 5
    tr = jaxcollapse.simulate(jax.random.key(9), Poisson(lam0), regimes.fresh(n_r, n_s, drift=v), G, chains,
                              metrics=["rate", "rate_error"], record_paths=True)
    t = np.arange(G + 1)
    expect = th.poisson_fresh_drift_rate(t, n_r, n_s, v, lam0)
    rate = np.asarray(tr.paths["rate"], np.float64)
    z = (rate.mean(1)[1:] - expect[1:]) / (rate.std(1, ddof=1)[1:] / math.sqrt(chains))
    assert np.all(np.abs(z) < Z_BOUND), z
    err = np.asarray(tr.paths["rate_error"], np.float64)
    np.testing.assert_allclose(err, rate - lam0 * np.exp(v * t)[:, None], rtol=1e-5, atol=1e-5)
    assert err.mean(1)[G] < -4 * err.std(1, ddof=1)[G] / math.sqrt(chains)  # the model trails the rising truth
