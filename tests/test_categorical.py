"""The categorical family: truths, decoding, statistics, bad input, collapsed states, every regime.

Statistical rule: |z| < 4 (conftest's `Z_BOUND`), fixed keys. The theory itself is checked against
simulation by the registered checks (`jaxcollapse.verify.categorical`, run by tests/test_verify.py); here a
deliberately wrong theory (an off-by-one in t, a wrong population size) is shown to be rejected.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import Z_BOUND

import jaxcollapse
from jaxcollapse import regimes, verify
from jaxcollapse import theory as th
from jaxcollapse.families.categorical import Categorical, CategoricalStats, wordfreq_distribution, zipf_probabilities
from jaxcollapse.random import Stream

S0 = Stream.from_key(jax.random.key(0))  # `fit` and `metrics` take a stream; the families tested here ignore it

P4 = np.array([0.4, 0.3, 0.2, 0.1])


# --------------------------------------------------------------------------- construction and bad input
def test_truth_constructors():
    u = Categorical.uniform(7)
    np.testing.assert_allclose(np.asarray(u.p), np.full(7, 1 / 7), rtol=1e-6)
    d = Categorical.dirichlet(jax.random.key(0), 10, 0.5)
    assert d.K == 10 and abs(float(jnp.sum(d.p)) - 1) < 1e-6 and float(jnp.min(d.p)) >= 0
    z = Categorical.zipf(100, 1.5)
    np.testing.assert_allclose(np.asarray(z.p), zipf_probabilities(100, 1.5), rtol=1e-6)
    assert np.all(np.diff(np.asarray(z.p)) < 0)
    words, f = wordfreq_distribution(50, "en")
    assert len(words) == 50 and words[0] == "the" and abs(f.sum() - 1) < 1e-12 and np.all(f > 0)
    w = Categorical.wordfreq(50)
    np.testing.assert_allclose(np.asarray(w.p), f, rtol=1e-6)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Categorical(np.array([1.0])), "K >= 2"),
        (lambda: Categorical(np.array([0.5, -0.1, 0.6])), "nonnegative"),
        (lambda: Categorical(np.array([0.5, np.nan])), "NaN"),
        (lambda: Categorical(np.array([0.5, 0.6])), "sum to 1"),
        (lambda: Categorical(np.ones((2, 2)) / 4), "vector"),
        (lambda: Categorical(P4, top_p=0.0), "top_p"),
        (lambda: Categorical(P4, top_p=1.5), "top_p"),
        (lambda: Categorical(P4, top_k=0), "top_k"),
        (lambda: Categorical(P4, top_k=5), "top_k"),
        (lambda: Categorical(P4, alpha=-1.0), "alpha"),
        (lambda: Categorical.uniform(1), "K must be"),
        (lambda: Categorical.zipf(10, -1.0), "beta"),
        (lambda: Categorical.wordfreq(10, "xx-nonexistent"), "no word list"),
        (lambda: regimes.replace(5, temperature=0.0), "temperature"),
        (lambda: regimes.replace(0), "sample size"),
    ],
)
def test_bad_input(make, match, typecheck_off):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_regime_before_compiling(no_run):
    with pytest.raises(ValueError, match="drift"):
        jaxcollapse.simulate(jax.random.key(0), Categorical(P4), regimes.replace(5, drift=np.ones(3)), 3, 4)  # K = 4


# --------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("tau, top_k, top_p", [(1.0, None, None), (0.5, None, None), (2.0, 3, None),
                                               (1.0, None, 0.65), (0.8, 3, 0.8), (1.0, None, 1.0)])
def test_sampling_probs_match_independent_numpy(tau, top_k, top_p):
    m = Categorical(P4, top_k=top_k, top_p=top_p)
    q = np.asarray(m.sampling_probs(jnp.asarray(tau, m.dtype)))
    np.testing.assert_allclose(q, th.tempered_probabilities(P4, tau, top_k, top_p), rtol=1e-5, atol=1e-7)


def test_sampling_probs_examples():
    m = Categorical(P4, top_p=0.65)  # 0.4 + 0.3 = 0.7 >= 0.65: the nucleus is the top two
    np.testing.assert_allclose(np.asarray(m.sampling_probs(1.0)), [4 / 7, 3 / 7, 0, 0], rtol=1e-6)
    m = Categorical(P4, top_k=1)  # greedy
    np.testing.assert_allclose(np.asarray(m.sampling_probs(1.0)), [1, 0, 0, 0])


# --------------------------------------------------------------------------- statistics and fit
def test_stats_fit_and_smoothing():
    m = Categorical(P4, alpha=0.5)
    x = jnp.asarray([0.0, 0.0, 2.0, 3.0, 3.0])
    s = m.stats(x, mask=jnp.asarray([True, True, True, True, False]))
    np.testing.assert_allclose(np.asarray(s.counts), [2, 0, 1, 1])
    assert float(s.count) == 4
    np.testing.assert_allclose(np.asarray(m.fit(s, S0).p), (np.array([2, 0, 1, 1]) + 0.5) / (4 + 4 * 0.5), rtol=1e-6)
    mle = Categorical(P4).fit(s, S0)
    np.testing.assert_allclose(np.asarray(mle.p), [0.5, 0, 0.25, 0.25], rtol=1e-6)
    both = s.combine(s.scale(jnp.asarray(2.0)))
    assert isinstance(both, CategoricalStats) and float(both.count) == 12
    np.testing.assert_allclose(np.asarray(both.counts), 3 * np.array([2, 0, 1, 1]))


def test_collapsed_state_metrics():
    truth = Categorical(P4)
    dead = Categorical(np.array([0.0, 1.0, 0.0, 0.0]))
    m = {k: float(v) for k, v in dead.metrics(truth, S0).items()}
    assert not any(math.isnan(v) for v in m.values())
    assert m["entropy"] == 0 and m["gini_simpson"] == 0 and m["surviving"] == 1 and m["max_prob"] == 1
    assert m["kl"] == math.inf and m["tail_mass_lost"] == pytest.approx(0.7) and m["tv"] == pytest.approx(0.7)
    assert m["lost"] == 3 and m["absorbed"] == 1  # fixed: the Wright-Fisher absorbing state
    half = Categorical(np.array([0.5, 0.0, 0.5, 0.0]))
    mh = {k: float(v) for k, v in half.metrics(truth, S0).items()}
    assert mh["lost"] == 2 and mh["absorbed"] == 0 and mh["tail_mass_lost"] == pytest.approx(0.4)
    np.testing.assert_array_equal(np.asarray(half.lost_categories(truth)), [False, True, False, True])
    # a category the truth does not have is not "lost"
    assert float(half.metrics(Categorical(np.array([0.5, 0.0, 0.5, 0.0])), S0)["lost"]) == 0
    same = {k: float(v) for k, v in truth.metrics(truth, S0).items()}
    assert same["kl"] == 0 and same["tv"] == 0 and same["tail_mass_lost"] == 0
    assert same["lost"] == 0 and same["absorbed"] == 0
    assert same["entropy"] == pytest.approx(-np.sum(P4 * np.log(P4)), rel=1e-6)


# --------------------------------------------------------------------------- regimes
RUN_G, RUN_CHAINS = 4, 8


def _run(m, rg, chains, path="exact", **kw):
    return jaxcollapse.simulate(jax.random.key(1), m, rg, RUN_G, chains, path=path, quantiles=(0.5,),
                                record_params=True, **kw)


@pytest.mark.parametrize("name, path", [("augment", "exact"), ("weighted", "exact"),
                                        ("accumulate_subsample", "samples")])
def test_regimes_not_covered_by_the_checks(name, path):
    """replace, accumulate, fresh (exact) and replace (samples) run in the registered checks; these run here."""
    rg = {
        "augment": lambda: regimes.augment(6, 0.5),
        "weighted": lambda: regimes.weighted(4, 6, 0.3),
        "accumulate_subsample": lambda: regimes.accumulate_subsample(6, 5),
    }[name]()
    tr = _run(Categorical(P4, capacity=8), rg, RUN_CHAINS, path, metrics=("gini_simpson", "surviving"))
    p = np.asarray(tr.params.p)
    assert p.shape == (RUN_G + 1, RUN_CHAINS, 4)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(p >= 0) and np.all(np.isfinite(np.asarray(tr.mean("gini_simpson"))))
    if name == "accumulate_subsample":  # multiples of 1/subsample
        np.testing.assert_allclose(p[1:] * 5, np.round(p[1:] * 5), atol=1e-4)
    _assert_cdf_matches(p, np.asarray(tr.params.cdf))


def _assert_cdf_matches(p, cdf):
    """The carried cumulative probabilities are p's running sums (float32 rounding), nondecreasing, and flat
    exactly where p = 0 (what exact sampling needs); refits build them from running counts, not from p."""
    np.testing.assert_allclose(cdf, np.cumsum(p.astype(np.float64), axis=-1), rtol=1e-5, atol=1e-6)
    step = np.diff(cdf, axis=-1)
    assert np.all(step >= 0) and np.all(step[p[..., 1:] == 0] == 0)


def test_fit_cumulative_with_smoothing():
    s = Categorical(P4).stats(jnp.asarray([0.0, 0.0, 2.0, 3.0]))
    np.testing.assert_array_equal(np.asarray(s.cumulative), [2, 2, 3, 4])
    fit = Categorical(P4, alpha=0.5).fit(s.combine(s.scale(jnp.asarray(0.5))), S0)  # counts 3, 0, 1.5, 1.5
    np.testing.assert_allclose(np.asarray(fit.cdf), (np.array([3, 3, 4.5, 6]) + 0.5 * np.arange(1, 5)) / 8,
                               rtol=1e-6)
    _assert_cdf_matches(np.asarray(fit.p), np.asarray(fit.cdf))


def test_collapse_in_the_engine_and_chain_prefix_invariance():
    """n = 1 collapses in one generation: every metric stays NaN-free (kl = +inf, one survivor); and chain i
    is the same with 8 or 16 chains beside it (one configuration, two chain counts)."""
    m = Categorical(P4, capacity=8)
    tr = _run(m, regimes.replace(1), RUN_CHAINS)
    for k in m.metric_names:
        assert not np.any(np.isnan(np.asarray(tr.mean(k)))), k
    assert np.all(np.asarray(tr.mean("surviving"))[1:] == 1)
    assert np.all(np.asarray(tr.mean("kl"))[1:] == np.inf)
    a = _run(m, regimes.replace(6), RUN_CHAINS)
    b = _run(m, regimes.replace(6), 2 * RUN_CHAINS)
    pa = np.asarray(a.params.p)
    np.testing.assert_array_equal(pa, np.asarray(b.params.p)[:, :RUN_CHAINS])
    np.testing.assert_allclose(pa[1:] * 6, np.round(pa[1:] * 6), atol=1e-4)  # multiples of 1/n
    _assert_cdf_matches(pa, np.asarray(a.params.cdf))


# --------------------------------------------------------------------------- theory can fail
def test_wrong_theory_is_rejected():
    """The heterozygosity check's own simulation rejects t + 1 for t, and the diploid population size 2n
    for the haploid n (a classic factor-2 slip in Wright-Fisher formulas)."""
    from jaxcollapse.verify import categorical as chk

    with jaxcollapse.x64():
        traj = chk._sim_a(jax.random.key(5), 0.25, chk._H_N)
    ts = (5, 10)
    h = chk._H5
    right = verify.means("demo", traj, "gini_simpson", ts, th.heterozygosity_mean(np.array(ts), chk._H_N, h))
    shifted = verify.means("demo", traj, "gini_simpson", ts, th.heterozygosity_mean(np.array(ts) + 1, chk._H_N, h))
    diploid = verify.means("demo", traj, "gini_simpson", ts, th.heterozygosity_mean(np.array(ts), 2 * chk._H_N, h))
    assert verify.all_passed(right), verify.format_table(right)
    assert not any(c.passed for c in shifted), verify.format_table(shifted)
    assert not any(c.passed for c in diploid), verify.format_table(diploid)


def test_exact_absorption_theory_against_known_values():
    """Fundamental-matrix results: P(loss) = 1 - k/n exactly; n = 2 by hand; diffusion within O(1/n)."""
    for n in (2, 7, 30):
        ex = th.wright_fisher_absorption(n)
        np.testing.assert_allclose(ex.loss, 1 - np.arange(n + 1) / n, atol=1e-12)
    # n = 2, k = 1: absorbed each generation with probability 1/2, so E T = 2 (geometric)
    assert th.wright_fisher_absorption(2).time[1] == pytest.approx(2.0)
    # K-type chain with K = 2 equals the two-type chain
    assert th.wright_fisher_k_absorption(np.array([3, 7])) == pytest.approx(th.wright_fisher_absorption(10).time[3])
    # diffusion vs exact at n = 200: within 2%
    ex = th.wright_fisher_absorption(200)
    assert ex.time[100] == pytest.approx(float(th.absorption_time_diffusion(0.5, 200)), rel=0.02)
    # Zipf asymptotic vs the exact sum for a long truncated law: within 0.5% at n = 1e4 (K = 1e6)
    p = zipf_probabilities(10**6, 2.0)
    assert float(th.mass_lost_one_generation(p, 10**4)) == pytest.approx(
        float(th.zipf_mass_lost_asymptotic(10**4, 2.0)), rel=0.005)


# --------------------------------------------------------------------------- a drifting truth (moving logit)
def test_translate_moves_the_logits():
    with jaxcollapse.x64():
        c = Categorical(np.array([0.4, 0.3, 0.0, 0.3]))
        t = c.translate(0.5)  # a scalar tilts: p_i e^{0.5 i}, renormalized; a zero stays 0
        w = np.array([0.4, 0.3, 0.0, 0.3]) * np.exp(0.5 * np.arange(4))
        np.testing.assert_allclose(np.asarray(t.p), w / w.sum(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(t.cdf), np.cumsum(w / w.sum()), rtol=1e-12)
        v = np.array([1.0, 0.0, 0.0, -1.0])
        w = np.array([0.4, 0.3, 0.0, 0.3]) * np.exp(v)
        np.testing.assert_allclose(np.asarray(c.translate(v).p), w / w.sum(), rtol=1e-12)


def test_fresh_drift_lag_law():
    """Fresh real data, a moving logit: $E p_t = a^t p_0 + (1-a)\\sum_{s \\le t} a^{t-s} p^*_s$, $a = n_s/(n_r+n_s)$
    (`theory.categorical.fresh_drift_probabilities`). z-test per category at the last generation, |z| < 4."""
    n_r, n_s, delta, chains = 10, 30, 0.2, 4000
    tr = jaxcollapse.simulate(jax.random.key(5), Categorical(P4), regimes.fresh(n_r, n_s, drift=delta), RUN_G, chains,
                              metrics=["tv"])
    expect = th.fresh_drift_probabilities(RUN_G, n_r, n_s, delta, P4)
    p_star = np.asarray(Categorical(P4).translate(delta * RUN_G).p, np.float64)
    p = np.asarray(tr.final.p, np.float64)
    z = (p.mean(0) - expect) / (p.std(0, ddof=1) / np.sqrt(chains))
    assert np.all(np.abs(z) < Z_BOUND), z
    assert np.max(np.abs(expect - p_star)) > 8 * np.max(p.std(0) / np.sqrt(chains))  # the lag is resolved
