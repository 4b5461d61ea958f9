"""The KDE family: bandwidth rules and densities against scipy, the sampler in distribution, the
accumulate pool of the engine, bad input, and wrong theories rejected.

Statistical rules (stated up front): one KS test of the sampler at level 1e-3; Monte Carlo means by
|z| < 4 (`conftest.Z_BOUND`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as ss

import jaxcollapse
from jaxcollapse import KDE, Gaussian, regimes, verify
from jaxcollapse import theory as th
from jaxcollapse.verify import kde as checks

KS_ALPHA = 1e-3


@pytest.mark.parametrize("rule", ["scott", "silverman"])
def test_bandwidth_and_density_match_scipy(rule):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2)) @ np.array([[1.0, 0.4], [0.0, 0.7]])
    w = rng.uniform(0.5, 2.0, 40)
    with jaxcollapse.x64():
        kde = KDE(x, rule, weights=w, capacity=50)
        y = rng.standard_normal((7, 2))
        lp = np.asarray(kde.log_prob(jnp.asarray(y)))
        kern = np.asarray(kde.kernel)
    ref = ss.gaussian_kde(x.T, bw_method=rule, weights=w)
    np.testing.assert_allclose(kern, ref.covariance, rtol=1e-10)
    np.testing.assert_allclose(lp, ref.logpdf(y.T), rtol=1e-10)


def test_blocked_density_and_searched_picks(monkeypatch):
    """`log_prob` in blocks of evaluation rows (here 7 rows of 60 kernel values, the last block short) equals
    scipy's density, with empty rows (weight 0) in the store; the sampler's search picks the same stored
    point as counting the cumulative weights below each uniform (the former (n, m) comparison)."""
    from jaxcollapse import random as R
    from jaxcollapse._multinomial import monotone_cumsum
    from jaxcollapse.families import kde as kdemod
    from jaxcollapse.random import Stream

    monkeypatch.setattr(kdemod, "LOGPROB_BLOCK_ELEMENTS", 7 * 60)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((45, 2)) @ np.array([[1.0, 0.4], [0.0, 0.7]])
    w = rng.uniform(0.5, 2.0, 45)
    y = rng.standard_normal((50, 2))
    with jaxcollapse.x64():
        kde = KDE(x, "scott", weights=w, capacity=60)
        lp = np.asarray(kde.log_prob(jnp.asarray(y)))

        def picks(kde, stream):  # temperature 0: the stored points themselves; and the counted indices
            u = R.uniform(stream.fork(R.SALT_PICK), (2000,), kde.dtype)
            cum = monotone_cumsum(kde.weights)
            return kde.draw_samples(stream, 2000, jnp.zeros(())), jnp.sum(cum[None, :] < (u * cum[-1])[:, None], 1)

        draws, idx = (np.asarray(a) for a in eqx.filter_jit(picks)(kde, Stream.from_key(jax.random.key(3))))
    np.testing.assert_allclose(lp, ss.gaussian_kde(x.T, bw_method="scott", weights=w).logpdf(y.T), rtol=1e-10)
    assert idx.max() < 45  # never an empty row
    np.testing.assert_array_equal(draws, np.asarray(kde.points)[idx])


def test_fixed_bandwidth_density_and_moments():
    x = np.array([[-1.0], [0.5], [2.0]])
    with jaxcollapse.x64():
        kde = KDE(x, 0.3)
        lp = float(kde.log_prob(jnp.zeros((1, 1)))[0])
        mean, cov = kde.moments()
    ref = np.log(np.mean(ss.norm.pdf(0.0, x[:, 0], 0.3)))
    assert lp == pytest.approx(ref, rel=1e-12)
    assert float(mean[0]) == pytest.approx(x.mean()) and float(cov[0, 0]) == pytest.approx(x.var() + 0.09)


def test_sampler_in_distribution():
    """Draws follow the KDE's mixture CDF (KS, level 1e-3)."""
    x = np.array([-2.0, 0.0, 0.3, 3.0])
    kde = KDE(x, 0.5, capacity=6)  # two empty rows must never be drawn
    y = np.asarray(kde.sample(jax.random.key(0), 20_000), np.float64)[:, 0]
    cdf = lambda v: np.mean(ss.norm.cdf((v[:, None] - x[None, :]) / 0.5), axis=1)  # noqa: E731
    assert ss.kstest(y, cdf).pvalue > KS_ALPHA


def test_accumulate_pool_keeps_every_generation():
    """Under accumulate the KDE stores n rows per generation so far (the engine's preallocated pool)."""
    kde = KDE(np.zeros((5, 1)) + np.arange(5.0)[:, None], 0.5, capacity=15)
    traj = jaxcollapse.simulate(jax.random.key(1), kde, regimes.accumulate(5), 3, 2, truth=Gaussian(0.0, 1.0),
                                path="samples", record_params=True, quantiles=())
    nrows = np.asarray(jnp.sum(traj.params.weights > 0, axis=-1))  # (G + 1, chains)
    np.testing.assert_array_equal(nrows[:, 0], [5, 5, 10, 15])
    # generation 2's rows 0..4 are generation 1's draws, kept
    np.testing.assert_array_equal(np.asarray(traj.params.points[2, :, :5]), np.asarray(traj.params.points[1, :, :5]))


def test_weighted_fresh_real_data():
    """Weighted regime with fresh real draws from a Gaussian truth: the KDE stores n_real real rows of
    total weight w and the synthetic rows with total weight 1 - w (times the row count)."""
    kde = KDE(np.linspace(-1, 1, 5)[:, None], 0.5, capacity=8)
    regime = regimes.weighted(3, 5, 0.25, real="fresh")
    traj = jaxcollapse.simulate(jax.random.key(2), kde, regime, 2, 2, truth=Gaussian(0.0, 1.0), path="samples",
                                record_params=True, metrics=("spread",), quantiles=())
    w = np.asarray(traj.params.weights[-1])  # (chains, 8): the 3 real rows first, then the 5 synthetic ones
    np.testing.assert_allclose(w[:, :3].sum(axis=1), 0.25 * 8, rtol=1e-5)
    np.testing.assert_allclose(w[:, 3:].sum(axis=1), 0.75 * 8, rtol=1e-5)


def test_fixed_replace_check_rejects_wrong_theories():
    """`kde.fixed_replace`'s configuration: accumulate's recursion, and replace without the kernel
    term (h = 0: the plain Gaussian MLE factor (1 - 1/n)^t), are rejected."""
    ts = [5, 10]
    with jaxcollapse.x64():
        traj, pts = checks._kde_fixed_sim(jax.random.key(5), 0.25, "replace")
        s = pts.sum(axis=0)
        args = (checks._K_G, checks._K_N, checks._K_H**2, pts.shape[0], float(s @ s), float((pts**2).sum()))
        right = th.kde_fixed_moments(*args, "replace")["spread"][ts]
        acc = th.kde_fixed_moments(*args, "accumulate")["spread"][ts]
        no_kernel = float(np.asarray(traj.mean("spread"))[0]) * (1 - 1 / checks._K_N) ** np.asarray(ts)
        ok = verify.means("demo", traj, "spread", ts, right)
        bad1 = verify.means("demo", traj, "spread", ts, acc)
        bad2 = verify.means("demo", traj, "spread", ts, no_kernel)
    assert verify.all_passed(ok), verify.format_table(ok)
    assert not any(c.passed for c in bad1), verify.format_table(bad1)
    assert not any(c.passed for c in bad2), verify.format_table(bad2)


@pytest.mark.parametrize("case", [
    lambda: KDE(np.zeros((4, 1)), 0.0),
    lambda: KDE(np.zeros((4, 1)), -0.5),
    lambda: KDE(np.zeros((4, 1)), "iso"),
    lambda: KDE(np.zeros((4, 1)), 0.5, capacity=3),
    lambda: jaxcollapse.simulate(jax.random.key(0), KDE(np.zeros((4, 1)), 0.5), regimes.accumulate(4), 3, 2,
                                 path="samples"),
    lambda: jaxcollapse.simulate(jax.random.key(0), KDE(np.zeros((4, 1)), 0.5), regimes.replace(4), 3, 2,
                                 truth=Gaussian(np.zeros(2), 1.0), path="samples"),
])
def test_bad_input_raises_before_compiling(case, no_run, typecheck_off):
    with pytest.raises(ValueError):
        case()
