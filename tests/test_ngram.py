"""The bigram language model: bad input, the sampler's exactness, counts and refit, metrics, the engine, theory.

Statistical rules, stated up front:

- Goodness of fit of the sampler: a chi-square test of the law of whole sequences (every outcome
  enumerated), family-wise level `FAMILY_ALPHA` = 1e-3 over the `N_GOF` tests of this module
  (Bonferroni: each p-value must exceed `FAMILY_ALPHA / N_GOF`); fixed keys.
- Monte Carlo means: |z| < `Z_BOUND` = 4 (conftest), fixed keys.
"""

from __future__ import annotations

import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import Z_BOUND, assert_z, count_compiles

import jaxcollapse as jc
from jaxcollapse import regimes as rg
from jaxcollapse import theory as th
from jaxcollapse.families.ngram import Bigram, BigramStats, limit_distribution
from jaxcollapse.theory import markov as mk

FAMILY_ALPHA = 1e-3
N_GOF = 2

# A 3-token chain with a zero transition, a self-loop and a zero initial probability.
P3 = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.6, 0.0, 0.4]])
MU3 = np.array([0.7, 0.0, 0.3])


def _seq_probs(P, mu, L):
    """Exact law of every sequence of length L (enumerated)."""
    V = P.shape[0]
    seqs = list(itertools.product(range(V), repeat=L))
    probs = np.array([mu[s[0]] * np.prod([P[s[k], s[k + 1]] for k in range(L - 1)]) for s in seqs])
    return seqs, probs


def _gof_pvalue(x: np.ndarray, P, mu) -> tuple[float, np.ndarray, np.ndarray]:
    from scipy import stats

    V, L = P.shape[0], x.shape[1]
    seqs, probs = _seq_probs(P, mu, L)
    code = (x.astype(np.int64) * V ** np.arange(L - 1, -1, -1)).sum(axis=1)
    counts = np.bincount(code, minlength=V**L).astype(np.float64)
    pos = probs > 0
    expected = probs * x.shape[0]
    chi2 = float(np.sum((counts[pos] - expected[pos]) ** 2 / expected[pos]))
    return float(stats.chi2.sf(chi2, int(pos.sum()) - 1)), counts, probs


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(transition=np.array([[1.0]])), "V >= 2"),
        (dict(transition=np.ones((2, 3)) / 3), "square"),
        (dict(transition=np.array([[0.5, 0.6], [0.5, 0.5]])), "sum to 1"),
        (dict(transition=np.array([[1.5, -0.5], [0.5, 0.5]])), "negative"),
        (dict(transition=np.array([[np.nan, 1.0], [0.5, 0.5]])), "NaN"),
        (dict(transition=P3, initial=np.array([0.5, 0.6, 0.0])), "initial must sum to 1"),
        (dict(transition=P3, initial=np.array([0.5, 0.5])), "length V"),
        (dict(transition=P3, length=1), "length must be an integer >= 2"),
        (dict(transition=P3, length=True), "length must be an integer >= 2"),
        (dict(transition=P3, smoothing=-0.1), "smoothing"),
        (dict(transition=P3, smoothing=float("nan")), "smoothing"),
        (dict(transition=np.eye(2)), "no unique stationary distribution"),
    ],
)
def test_bad_input(kwargs, match, typecheck_off):
    with pytest.raises(ValueError, match=match):
        Bigram(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(V=1), "V >= 2"), (dict(V=5, support=1), "support"), (dict(V=5, support=6), "support"),
     (dict(V=5, beta=-1.0), "beta")],
)
def test_bad_zipf(kwargs, match, typecheck_off):
    with pytest.raises(ValueError, match=match):
        Bigram.zipf(jax.random.key(0), **kwargs)


def test_bad_runs_fail_before_compiling(no_run):
    b = Bigram(P3, MU3, length=3)
    with pytest.raises(ValueError, match="path='samples'"):
        jc.simulate(jax.random.key(0), b, rg.replace(5), 3, 4)  # the default exact path
    with pytest.raises(ValueError, match="drift"):
        jc.simulate(jax.random.key(0), b, rg.replace(5, drift=0.1), 3, 4, path="samples")
    with pytest.raises(ValueError, match="temperature"):
        rg.replace(5, temperature=0.0)
    with pytest.raises(ValueError, match="sample size"):
        rg.replace(0)
    with pytest.raises(ValueError, match="mismatched"):
        jc.simulate(jax.random.key(0), b, rg.replace(5), 3, 4, path="samples", truth=Bigram(P3, MU3, length=4))
    with pytest.raises(ValueError, match="exact statistics"):
        b.sample_stats(jc._random.Stream.from_key(jax.random.key(0)), 5, 1.0)


# --------------------------------------------------------------------------- the sampler
def test_sampler_law_of_sequences():
    """Chi-square over all 27 sequences of length 3 (the zero transition and start never appear)."""
    b = Bigram(P3, MU3, length=3)
    x = np.asarray(b.sample(jax.random.key(3), 60_000))
    assert x.dtype == np.asarray(b.transition).dtype and np.all(x == np.round(x))
    p, counts, probs = _gof_pvalue(x, P3, MU3)
    assert np.all(counts[probs == 0] == 0), "a sequence of probability 0 was drawn"
    assert p > FAMILY_ALPHA / N_GOF, f"p = {p:.2e}"


def test_sampler_law_at_temperature():
    tau = 0.6
    b = Bigram(P3, MU3, length=3)
    stream = jc._random.Stream.from_key(jax.random.key(4))
    x = np.asarray(eqx.filter_jit(b.draw_samples)(stream, 60_000, jnp.asarray(tau, b.dtype)))
    p, counts, probs = _gof_pvalue(x, np.asarray(mk.tempered(P3, tau)), np.asarray(mk.tempered(MU3, tau)))
    assert np.all(counts[probs == 0] == 0)
    assert p > FAMILY_ALPHA / N_GOF, f"p = {p:.2e}"


def test_gof_rejects_a_wrong_law():
    """The same test rejects the sampler's output against a slightly wrong chain (0.5/0.5 -> 0.45/0.55)."""
    b = Bigram(P3, MU3, length=3)
    x = np.asarray(b.sample(jax.random.key(3), 60_000))
    wrong = P3.copy()
    wrong[0] = [0.45, 0.55, 0.0]
    p, _, _ = _gof_pvalue(x, wrong, MU3)
    assert p < FAMILY_ALPHA / N_GOF


def test_chain_streams_are_independent_of_batch():
    b = Bigram(P3, MU3, length=5)
    key = jax.random.key_data(jax.random.key(9))
    one = lambda c: b.draw_samples(jc._random.Stream(key, c), 7, jnp.ones((), b.dtype))
    batched = jax.jit(jax.vmap(one))(jnp.arange(6, dtype=jnp.uint32))
    np.testing.assert_array_equal(np.asarray(batched[4]), np.asarray(jax.jit(one)(jnp.asarray(4, jnp.uint32))))


# --------------------------------------------------------------------------- counts and refit
def test_stats_and_fit():
    b = Bigram(P3, MU3, length=4)
    x = np.array([[0, 1, 2, 2], [0, 0, 1, 1], [2, 0, 0, 1]], np.float32)
    mask = jnp.array([True, True, False])
    st = b.stats(x, mask)
    C = np.zeros((3, 3))
    for row in x[:2].astype(int):
        for a, c in zip(row[:-1], row[1:], strict=True):
            C[a, c] += 1
    np.testing.assert_allclose(np.asarray(st.transitions), C)
    np.testing.assert_allclose(np.asarray(st.initial), [2, 0, 0])
    assert float(st.count) == 2
    both = st.combine(st.scale(0.5))
    np.testing.assert_allclose(np.asarray(both.transitions), 1.5 * C)
    # MLE: visited rows are C / N; row 2 is visited (2 -> 2) once; all visited here
    fit = b.fit(st)
    np.testing.assert_allclose(np.asarray(fit.transition), C / C.sum(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fit.initial), [1, 0, 0])
    # a row never visited keeps its previous value (alpha = 0) or becomes uniform (alpha > 0)
    st1 = b.stats(x[:1, :2])  # only the bigram 0 -> 1
    kept = b.fit(st1)
    np.testing.assert_allclose(np.asarray(kept.transition[1:]), P3[1:], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(kept.transition[0]), [0, 1, 0])
    smooth = Bigram(P3, MU3, length=4, smoothing=0.5).fit(st1)
    np.testing.assert_allclose(np.asarray(smooth.transition[2]), [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(smooth.transition[0]), [0.5 / 2.5, 1.5 / 2.5, 0.5 / 2.5], rtol=1e-6)
    fixed = Bigram(P3, MU3, length=4, refit_initial=False).fit(st)
    np.testing.assert_allclose(np.asarray(fixed.initial), MU3, rtol=1e-6)
    assert isinstance(st, BigramStats)


# --------------------------------------------------------------------------- metrics
def test_metrics_at_the_truth_and_after_collapse():
    with jc.x64():
        b = Bigram.zipf(jax.random.key(0), 6, support=3)
        metrics = eqx.filter_jit(lambda model, truth: model.metrics(truth))
        m = metrics(b, b)
        P = b.transition
        assert float(m["kl_rate"]) == 0.0 and float(m["mass_lost"]) == 0.0
        np.testing.assert_allclose(float(m["entropy_rate"]), float(th.entropy_rate(P)), rtol=1e-9)
        np.testing.assert_allclose(float(m["perplexity"]), math.exp(float(th.entropy_rate(P))), rtol=1e-9)
        np.testing.assert_allclose(float(m["mutual_info"]), float(th.mutual_information(P)), rtol=1e-9)
        assert float(m["support"]) == 18
        # drop transition (0, j): KL and perplexity +inf, mass lost = pi_0 P_0j
        j = int(np.flatnonzero(np.asarray(P[0]) > 0)[0])
        Q = np.array(P)
        Q[0, j] = 0.0
        Q[0] /= Q[0].sum()
        lost = metrics(Bigram(Q, b.initial), b)
        pi = np.asarray(th.stationary_distribution(P))
        assert float(lost["kl_rate"]) == np.inf and float(lost["perplexity"]) == np.inf
        np.testing.assert_allclose(float(lost["mass_lost"]), pi[0] * float(P[0, j]), rtol=1e-9)
        # a fully collapsed model: one absorbing token; every metric finite or +inf, never NaN
        dead = np.zeros((6, 6))
        dead[:, 2] = 1.0
        md = metrics(Bigram(dead, np.eye(6)[2]), b)
        assert all(not np.isnan(float(v)) for v in md.values())
        assert float(md["entropy_rate"]) == 0.0 and float(md["mutual_info"]) == 0.0
        assert float(md["initial_gini_simpson"]) == 0.0 and float(md["support"]) == 6


def test_limit_distribution_of_a_reducible_chain():
    """Two absorbing states: the limit law is the absorption probabilities from the start."""
    with jc.x64():
        P = np.array([[1.0, 0.0, 0.0], [0.3, 0.5, 0.2], [0.0, 0.0, 1.0]])
        pi = np.asarray(limit_distribution(jnp.asarray(P), jnp.asarray([0.0, 1.0, 0.0])))
        # absorption from state 1: 0.3 / 0.5 into 0 and 0.2 / 0.5 into 2
        np.testing.assert_allclose(pi, [0.6, 0.0, 0.4], atol=1e-5)  # bias O(eps x mixing time), eps = 2^-20


# --------------------------------------------------------------------------- theory
def test_theory_against_enumeration():
    with jc.x64():
        L, m = 4, 3
        seqs, probs = _seq_probs(P3, MU3, L)
        EC = np.zeros((3, 3))
        for s, p in zip(seqs, probs, strict=True):
            for a, c in zip(s[:-1], s[1:], strict=True):
                EC[a, c] += m * p
        np.testing.assert_allclose(np.asarray(mk.expected_transition_counts(P3, MU3, m, L)), EC, rtol=1e-12)
        pi = np.asarray(mk.stationary_distribution(P3))
        np.testing.assert_allclose(pi @ P3, pi, rtol=1e-12)
        # iid chain (equal rows): entropy rate = entropy of the row, no mutual information
        row = np.array([0.2, 0.3, 0.5])
        iid = np.tile(row, (3, 1))
        np.testing.assert_allclose(float(mk.entropy_rate(iid)), -np.sum(row * np.log(row)), rtol=1e-12)
        assert abs(float(mk.mutual_information(iid))) < 1e-12
        # Wright-Fisher special cases
        n = 7
        A, B = mk.simpson_coefficients(np.eye(n + 1)[n], 3, 0.0)
        np.testing.assert_allclose([float(A), float(B)], [1 / n, 1 - 1 / n], rtol=1e-12)
        H = 1.0 - np.asarray(mk.initial_simpson_mean(jnp.arange(4), n, MU3))
        np.testing.assert_allclose(H, (1 - 1 / n) ** np.arange(4) * (1 - np.sum(MU3**2)), rtol=1e-12)
        c = mk.row_mean_contraction(mk.binomial_visits(5, MU3), 3, 0.0)
        np.testing.assert_allclose(np.asarray(c), 1.0, rtol=1e-12)  # alpha = 0: a martingale
        np.testing.assert_allclose(np.asarray(mk.binomial_visits(5, MU3)).sum(1), 1.0, rtol=1e-12)
        # accumulate with fixed visits n: prod_s (1 - 1/(n s^2)), whose limit is sin(pi/sqrt n)/(pi/sqrt n)
        f = np.asarray(mk.accumulate_heterozygosity_factor(5, np.eye(n + 1)[n]))
        np.testing.assert_allclose(f, [np.prod([1 - 1 / (n * s * s) for s in range(1, u + 1)]) for u in range(6)],
                                   rtol=1e-12)
        x = math.pi / math.sqrt(n)
        assert f[-1] > math.sin(x) / x


# --------------------------------------------------------------------------- the engine
G, CHAINS = 4, 8
FEW = ("entropy_rate", "kl_rate")


def _truth():
    return Bigram.zipf(jax.random.key(1), 5, support=3, length=4)


# augment and weighted reuse the fixed-real-set code path of the engine (tested with the Gaussian in test_engine):
# here they are slow-marked confirmations, to keep the default suite's compile time down.
@pytest.mark.parametrize(
    "regime",
    [rg.accumulate(6), pytest.param(rg.accumulate_subsample(6, 4), marks=pytest.mark.slow), rg.fresh(3, 5),
     pytest.param(rg.augment(4, 0.5), marks=pytest.mark.slow),
     pytest.param(rg.weighted(4, 6, 0.3), marks=pytest.mark.slow)],
    ids=["accumulate", "accumulate_subsample", "fresh", "augment", "weighted"],
)
def test_every_regime_runs(regime):
    traj = jc.simulate(jax.random.key(0), _truth(), regime, G, CHAINS, path="samples", metrics=FEW,
                       quantiles=(), record_params=True)
    P = np.asarray(traj.params.transition)
    assert not np.any(np.isnan(P)) and np.allclose(P.sum(-1), 1.0, atol=1e-5)
    assert not np.any(np.isnan(np.asarray(traj.mean("entropy_rate"))))
    if regime.memory == "accumulate":
        # accumulated counts: the support never grows back
        supp = (P > 0).sum(axis=(-1, -2))
        assert np.all(np.diff(supp, axis=0) <= 0)


def test_replace_all_metrics_prefix_invariance_and_smoothing():
    truth = _truth()

    def run(chains, key=0, model=truth):
        return jc.simulate(jax.random.key(key), model, rg.replace(6), G, chains, path="samples", quantiles=(),
                           record_paths=True)

    big = run(CHAINS)
    small = run(CHAINS // 2)
    for k in truth.metric_names:
        v = np.asarray(big.paths[k])
        assert not np.any(np.isnan(v)), k
        np.testing.assert_array_equal(v[:, : CHAINS // 2], np.asarray(small.paths[k]))
    # support only shrinks under replace without smoothing
    assert np.all(np.diff(np.asarray(big.paths["support"]), axis=0) <= 0)
    # smoothing is traced: the same program; every transition stays possible and the KL rate finite
    with count_compiles() as c:
        smooth = run(CHAINS, key=5, model=Bigram.zipf(jax.random.key(1), 5, support=3, length=4, smoothing=0.1))
    assert c.compiles == 0, "a new key or smoothing recompiled"
    assert np.all(np.asarray(smooth.paths["support"])[1:] == 25)
    assert np.all(np.isfinite(np.asarray(smooth.paths["kl_rate"])))
    assert np.all(np.asarray(smooth.paths["mass_lost"]) == 0)


def test_wrong_theory_is_rejected():
    """On the row-diversity check's own simulation: visits fixed at their mean m q_i instead of
    Binomial(m, q_i), or an off-by-one in t, are rejected; the right theory passes."""
    from jaxcollapse import verify
    from jaxcollapse.checks import ngram as chk

    with jc.x64():
        model, traj = chk._one_transition(jax.random.key(21), 0.25, smoothing=0.0, refit_initial=False)
        P0, q = model.transition, model.initial
        pi = mk.stationary_distribution(P0)
        ts = (3, 6)

        def gs(A, B, shift=0):
            S = mk.simpson_index_mean(jnp.asarray(ts) + shift, jnp.sum(P0 * P0, axis=1), A, B)
            return np.asarray(jnp.sum(pi[None, :] * (1.0 - S), axis=1))

        right = verify._means("demo", traj, "gini_simpson", ts, gs(*mk.simpson_coefficients(
            mk.binomial_visits(chk._M, q), chk._V, 0.0)))
        n_fixed = jnp.maximum(jnp.round(chk._M * q), 1.0)
        wrong_fixed = verify._means("demo", traj, "gini_simpson", ts, gs(1.0 / n_fixed, 1.0 - 1.0 / n_fixed))
        shifted = verify._means("demo", traj, "gini_simpson", ts, gs(*mk.simpson_coefficients(
            mk.binomial_visits(chk._M, q), chk._V, 0.0), shift=1))
    assert verify.all_passed(right), verify.format_table(right)
    assert not any(c.passed for c in wrong_fixed), verify.format_table(wrong_fixed)
    assert not any(c.passed for c in shifted), verify.format_table(shifted)
    assert all(abs(c.stat) >= Z_BOUND for c in shifted)
    assert_z((right[0].estimate - right[0].theory) / right[0].stderr, "right theory")
