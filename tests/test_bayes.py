"""jaxcollapse.bayes: exact likelihood, parameter recovery, forecasts, calibration, bad input, CLI.

Statistical rules, stated up front:

- Parameter recovery: the truth lies within `Z_BOUND` = 4 posterior standard deviations of the posterior
  mean (for a well-specified model the standardized error is about N(0, 1)). Each such test also shows
  that a deliberately wrong value (the temperature forgotten, the sample size halved) is rejected by
  the same bound.
- Monte Carlo identities (forecast means): |z| < 4 with the Monte Carlo standard error.
- Coverage of 90% intervals over M cases: the count of hits must lie in the central binomial(M, 0.9)
  range of probability >= 0.998 (computed below), which tolerates sampling noise and nothing more.
- Rank uniformity (SBC): Pearson chi-square p > 0.01/3 for each of the 3 parameters (Bonferroni).

Every NUTS fit uses the same sampler settings (`SAMPLER`), so fits of the same model configuration
share one compiled sampler. All keys are fixed.
"""

from __future__ import annotations

import math
import warnings

import equinox as eqx
import jax
import numpy as np
import pytest
from scipy import stats as sst

import jaxcollapse
from jaxcollapse import bayes, cli
from jaxcollapse import theory as th
from jaxcollapse.bayes import models as M
from jaxcollapse.bayes._prepare import prepare

Z_BOUND = 4.0
SAMPLER = dict(num_warmup=300, num_samples=400, num_chains=2)
CHAINS, GENS = 300, 50
TAU = 0.97  # kappa = tau^2 = 0.9409
CONFIGS = {"a": 50, "b": 20, "c": 100}


def binom_range(m: int, p: float = 0.9, mass: float = 0.998) -> tuple[int, int]:
    """Central range of Binomial(m, p) holding at least `mass` of its probability."""
    a = (1 - mass) / 2
    return int(sst.binom.ppf(a, m, p)), int(sst.binom.isf(a, m, p))


@pytest.fixture(scope="module")
def paths():
    """Per-chain variances of the 1-D Gaussian MLE at temperature TAU: n in CONFIGS, 300 chains, 50 generations.

    One compiled simulation (n and tau are traced), float64.
    """
    out = {}
    with jaxcollapse.x64():
        for i, (name, n) in enumerate(CONFIGS.items()):
            traj = jaxcollapse.simulate(jax.random.key(100 + i), jaxcollapse.Gaussian(0.0, 1.0),
                                        jaxcollapse.regimes.replace(n, temperature=TAU), GENS, CHAINS,
                                        metrics=("trace",), quantiles=(), record_paths=True)
            out[name] = np.asarray(traj.paths["trace"], np.float64)
            if name == "a":
                out["traj"] = traj
    return out


@pytest.fixture(scope="module")
def post_a(paths):
    """The spread model fitted to configuration a (n = 50; 300 chains x 50 generations) from its Trajectory."""
    return bayes.fit(jax.random.key(1), paths["traj"], **SAMPLER)


def zscore(post, name, truth, group=None):
    s = post.samples(name)
    s = s if group is None else s[:, group]
    return (s.mean() - truth) / s.std()


# --------------------------------------------------------------------------- the likelihood
def test_log_ratio_density_is_the_chi_square_law():
    n, kappa = 12.0, 0.8
    y = np.linspace(-8.0, 2.0, 20001)
    with jaxcollapse.x64():
        lp = np.asarray(th.log_ratio_logpdf(y, n, kappa, "mle"))
    x = n * np.exp(y) / kappa  # chi2_{n-1}; dx/dy = x
    ref = sst.chi2.logpdf(x, n - 1) + np.log(x)
    np.testing.assert_allclose(lp, ref, rtol=1e-10, atol=1e-10)
    dens = np.exp(lp)
    mass = np.trapezoid(dens, y)
    mean = np.trapezoid(y * dens, y)
    assert abs(mass - 1) < 1e-6
    # the mean of the density is -r, the collapse rate (and not -r with the unbiased divisor)
    assert abs(mean + float(th.collapse_rate(n, kappa))) < 1e-6
    assert abs(mean + float(th.collapse_rate(n, kappa, "unbiased"))) > 1e-2


def test_sufficient_statistics_likelihood_matches_pointwise_sum():
    rng = np.random.default_rng(0)
    v = np.exp(np.cumsum(rng.normal(-0.05, 0.3, (8, 5)), axis=0))
    v[3, 1] = np.nan  # a missing generation: the pairs (2,3) and (3,4) of chain 1 drop out
    v[0, 4] = np.nan
    prep = prepare(v, "spread")
    y = np.log(v[1:] / v[:-1])
    ok = np.isfinite(y)
    assert prep.count.sum() == ok.sum() == 7 * 5 - 3
    with jaxcollapse.x64():
        ll = float(M.spread_loglik(prep.count.sum(), prep.sum_log.sum(), prep.sum_ratio.sum(), 15.0,
                                   np.log(0.9), "mle"))
        ref = float(np.sum(np.asarray(th.log_ratio_logpdf(y[ok], 15.0, 0.9, "mle"))))
    assert ll == pytest.approx(ref, rel=1e-12)
    assert prep.last[0][1] == v[7, 1] and prep.last_t[0][4] == 7


def test_rate_decomposition_matches_gaussian_theory():
    with jaxcollapse.x64():
        for n in (5, 50, 1000):
            assert float(th.rate_sample(n)) == pytest.approx(-float(th.log_variance_mean(1, n, "mle")), rel=1e-12)
            assert float(th.rate_sample(n, "unbiased")) == pytest.approx(
                -float(th.log_variance_mean(1, n, "unbiased")), rel=1e-12)
        assert float(th.collapse_rate(50, 0.9)) == pytest.approx(float(th.rate_sample(50)) - math.log(0.9))
        assert float(th.diversity_rate(10, 1.0)) == pytest.approx(-math.log(0.9))


# --------------------------------------------------------------------------- recovery
def test_recovers_n_and_kappa_from_a_trajectory(post_a):
    n, kappa = CONFIGS["a"], TAU**2
    assert abs(zscore(post_a, "n_eff", n, 0)) < Z_BOUND
    assert abs(zscore(post_a, "kappa", kappa)) < Z_BOUND
    rate = float(th.collapse_rate(n, kappa))
    assert abs(zscore(post_a, "rate", rate, 0)) < Z_BOUND
    # the same bound rejects wrong explanations: no approximation error (kappa = 1), or half the sample size
    assert abs(zscore(post_a, "kappa", 1.0)) > Z_BOUND
    assert abs(zscore(post_a, "n_eff", n / 2, 0)) > Z_BOUND
    assert abs(zscore(post_a, "rate", float(th.rate_sample(n)), 0)) > Z_BOUND
    assert post_a.info["divergences"] == 0
    text = post_a.summary()
    assert "n_eff[0]" in text and "kappa" in text and "rate[0]" in text
    idata = post_a.idata
    assert set(idata.posterior.data_vars) >= {"n_eff", "kappa", "rate", "r_sample", "r_approx"}
    assert idata.posterior["kappa"].shape == (SAMPLER["num_chains"], SAMPLER["num_samples"])


@pytest.mark.slow  # a NUTS compile of its own; the notebook runs the same check at reduced size
def test_hierarchical_configurations_share_kappa(paths):
    """Two sample sizes (20 and 100), one learner: each n_eff and the shared kappa are recovered."""
    post = bayes.fit(jax.random.key(2), [paths["b"][:21], paths["c"][:21]], **SAMPLER)
    assert post.samples("n_eff").shape[1] == 2
    assert abs(zscore(post, "n_eff", CONFIGS["b"], 0)) < Z_BOUND
    assert abs(zscore(post, "n_eff", CONFIGS["c"], 1)) < Z_BOUND
    assert abs(zscore(post, "kappa", TAU**2)) < Z_BOUND
    assert abs(zscore(post, "kappa", 1.0)) > Z_BOUND
    for g, n in enumerate((CONFIGS["b"], CONFIGS["c"])):
        assert abs(zscore(post, "rate", float(th.collapse_rate(n, TAU**2)), g)) < Z_BOUND


@pytest.mark.slow  # a NUTS compile of its own; the notebook runs the same check at reduced size
def test_predict_rate_before_recursion_agrees_with_quadrature(paths):
    """Known n and 300 one-step ratios: the NUTS posterior of kappa matches a 1-D quadrature and the truth."""
    n = CONFIGS["a"]
    v = paths["a"]
    post = bayes.predict_rate(jax.random.key(3), n, v[1] / v[0], **SAMPLER)
    rate_true = float(th.collapse_rate(n, TAU**2))
    assert abs(zscore(post, "rate", rate_true, 0)) < Z_BOUND
    # quadrature of the exact posterior of ln kappa (prior N(0, 0.5^2)) on a fine grid
    prep = prepare(np.stack([np.ones(CHAINS), v[1] / v[0]]), "spread")
    lk = np.linspace(-0.6, 0.4, 20001)
    with jaxcollapse.x64():
        ll = np.asarray(M.spread_loglik(prep.count.sum(), prep.sum_log.sum(), prep.sum_ratio.sum(), float(n), lk))
    lp = ll - 0.5 * (lk / M.PRIOR_KAPPA[1]) ** 2
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = np.sum(w * np.exp(lk))
    sd = math.sqrt(np.sum(w * (np.exp(lk) - mean) ** 2))
    s = post.samples("kappa")
    import arviz as az

    ess = float(az.ess(post.draws["kappa"]))
    assert abs(s.mean() - mean) / (sd / math.sqrt(ess)) < Z_BOUND
    assert s.std() == pytest.approx(sd, rel=0.15)  # sd of 1000 correlated draws: ~5% sampling error


# --------------------------------------------------------------------------- forecasts
def test_forecast_from_five_generations_covers_generation_50(paths):
    v = paths["a"]
    post = bayes.fit(jax.random.key(4), v[:6], **SAMPLER)
    fc = bayes.forecast(post, 45, 0.05, key=jax.random.key(5), start=v[5], start_generation=5, draws=500)
    assert fc.paths.shape == (500, 46, CHAINS) and fc.generations[-1] == 50
    lo, hi = fc.interval(0.9)
    hits = int(np.sum((v[50] >= lo[-1]) & (v[50] <= hi[-1])))
    lo_ok, hi_ok = binom_range(CHAINS)
    assert lo_ok <= hits <= hi_ok, (hits, lo_ok, hi_ok)
    # crossing forecast: the mean predicted probability of falling below 0.05 by generation 50 matches the
    # share of simulated chains that did (binomial standard error)
    crossed = np.any(v[6:51] <= 0.05, axis=0)
    p_hat = float(np.mean(fc.prob_crossed()))
    se = math.sqrt(p_hat * (1 - p_hat) / CHAINS)
    assert abs(crossed.mean() - p_hat) / se < Z_BOUND
    # a forecast that ignores kappa (the truth tau = 1) misses badly: its 90% band covers far fewer chains
    hits_nk = _coverage_without_kappa(post, v)
    assert hits_nk < lo_ok


def _coverage_without_kappa(post, v):
    d = dict(post.draws)
    d["kappa"] = np.ones_like(d["kappa"])
    wrong = bayes.Posterior(post.model, d, post.data, post.divisor, post.key, post.info)
    lo, hi = bayes.forecast(wrong, 45, key=jax.random.key(5), start=v[5], draws=500).interval(0.9)
    return int(np.sum((v[50] >= lo[-1]) & (v[50] <= hi[-1])))


def test_forecast_mean_log_is_minus_h_times_rate(post_a):
    fc = bayes.forecast(post_a, 30, 0.2, key=jax.random.key(6), draws=500)
    assert fc.paths.shape == (500, 31) and fc.kind == "predictive"
    logs = np.log(fc.paths[:, -1] / fc.paths[:, 0])
    # E ln s_{T+h}/s_T = -h E[r] over the posterior draws used
    idx = np.unique(np.linspace(0, post_a.samples("rate").shape[0] - 1, 500).round().astype(int))
    expect = -30 * post_a.samples("rate")[idx, 0].mean()
    assert abs(logs.mean() - expect) / (logs.std() / math.sqrt(logs.size)) < Z_BOUND
    # a wrong rate (the finite-sample term alone) is rejected
    wrong = -30 * float(th.rate_sample(CONFIGS["a"]))
    assert abs(logs.mean() - wrong) / (logs.std() / math.sqrt(logs.size)) > Z_BOUND
    assert np.all(np.isfinite(fc.crossing) | np.isinf(fc.crossing))
    assert 0.0 <= float(fc.prob_crossed()) <= 1.0
    assert "threshold" in fc.summary()
    fig = bayes.forecast_fan(fc, paths_observed(post_a))
    assert fig.axes and fig.axes[0].get_yscale() == "log"


def paths_observed(post):
    return post.data.values[0]


# --------------------------------------------------------------------------- calibration
def test_reduced_sbc_is_calibrated_and_rejects_a_wrong_simulator():
    """30 datasets, vectorized in one NUTS run: ranks uniform, 90% intervals cover; a factor-2 bug is caught."""
    kw = dict(chains=10, generations=10, num_warmup=300, num_samples=300, num_chains=2, L=59, bins=5)
    res = bayes.sbc(jax.random.key(7), 30, **kw)
    lo_ok, hi_ok = binom_range(30)
    assert np.all(res.pvalues > 0.01 / 3), res.summary()
    hits = res.covered.sum(axis=0)
    assert np.all((hits >= lo_ok) & (hits <= hi_ok)), res.summary()

    def wrong(key, n_eff, kappa, chains, generations, divisor):
        # "Var ln chi2_k = 2/k" misread as 1/k: chi-square with twice the degrees of freedom
        return bayes.exact_log_ratios(key, 2 * n_eff - 1, kappa, chains, generations, divisor)

    bad = bayes.sbc(jax.random.key(7), 30, simulator=wrong, **kw)
    bad_hits = bad.covered.sum(axis=0)
    assert bad.pvalues[0] < 0.01 / 3 or bad_hits[0] < lo_ok, bad.summary()


@pytest.mark.slow
def test_full_sbc_100_datasets():
    res = bayes.sbc(jax.random.key(8), 100, chains=20, generations=10, num_warmup=500, num_samples=1000,
                    num_chains=2, L=99, bins=10)
    assert np.all(res.pvalues > 0.01), res.summary()
    assert np.all((res.coverage >= 0.85) & (res.coverage <= 0.95)), res.summary()


@pytest.mark.slow
def test_sbc_batched_agrees_with_one_by_one():
    kw = dict(chains=10, generations=10, num_warmup=300, num_samples=500, num_chains=2, L=99, bins=5)
    a = bayes.sbc(jax.random.key(9), 20, batch=True, **kw)
    b = bayes.sbc(jax.random.key(9), 20, batch=False, **kw)
    np.testing.assert_array_equal(a.truth, b.truth)
    # same truths and data, different sampler runs: ranks agree up to Monte Carlo noise (out of 99)
    assert np.max(np.abs(a.ranks - b.ranks)) < 40


@pytest.mark.slow
def test_chain_kappa_recovers_the_spread_of_per_chain_kappas():
    """Each chain its own kappa_c = kappa exp(0.05 eta_c): the hierarchical sd and the shared kappa are recovered."""
    rng = np.random.default_rng(31)
    C, G, n, kappa, sd = 60, 30, 40.0, 0.95, 0.05
    lk = math.log(kappa) + sd * rng.normal(size=C)
    y = np.log(rng.chisquare(n - 1, (G, C)) / n) + lk[None, :]
    v = np.exp(np.concatenate([np.zeros((1, C)), np.cumsum(y, axis=0)]))
    post = bayes.fit(jax.random.key(32), v, chain_kappa=True, **SAMPLER)
    assert abs(zscore(post, "chain_sd", sd)) < Z_BOUND
    assert abs(zscore(post, "chain_sd", 0.0)) > Z_BOUND
    assert abs(zscore(post, "kappa", kappa)) < Z_BOUND
    assert abs(zscore(post, "n_eff", n, 0)) < Z_BOUND


# --------------------------------------------------------------------------- other models
def _wright_fisher(rng, n, K, chains, gens):
    p = np.full((chains, K), 1.0 / K)
    H = np.empty((gens + 1, chains))
    H[0] = 1 - np.sum(p * p, axis=1)
    for t in range(gens):
        p = np.stack([rng.multinomial(n, q) for q in p]) / n
        H[t + 1] = 1 - np.sum(p * p, axis=1)
    return H


@pytest.mark.slow  # a NUTS compile of its own; the quasi-likelihood itself is checked by a default test
def test_diversity_model_recovers_n_with_known_kappa():
    rng = np.random.default_rng(11)
    n = 40
    H = _wright_fisher(rng, n, 8, 200, 15)
    post = bayes.fit(jax.random.key(10), H, "diversity", kappa=1.0, **SAMPLER)
    assert abs(zscore(post, "n_eff", n, 0)) < Z_BOUND
    assert abs(zscore(post, "n_eff", n / 2, 0)) > Z_BOUND
    assert abs(zscore(post, "rate", float(th.diversity_rate(n)), 0)) < Z_BOUND
    fc = bayes.forecast(post, 10, 0.5)
    assert fc.kind == "mean"
    with pytest.raises(ValueError, match="Gini-Simpson"):
        bayes.forecast(post, 10, 1.5)
    with pytest.raises(ValueError, match="identifies only"):
        bayes.fit(jax.random.key(10), H, "diversity")


def _ols_chain(rng, d, T, s2, b, chains, gens):
    """OLS refit on fresh Gaussian designs of T rows, labels from the previous model plus noise; an extra
    zero-mean perturbation of squared norm b per generation (the approximation term). Returns ||w_t - w*||^2."""
    w = np.zeros((chains, d))
    e = np.zeros((gens + 1, chains))
    for t in range(gens):
        X = rng.normal(size=(chains, T, d))
        y = np.einsum("ctd,cd->ct", X, w) + rng.normal(scale=math.sqrt(s2), size=(chains, T))
        w = np.linalg.solve(np.einsum("ctd,cte->cde", X, X), np.einsum("ctd,ct->cd", X, y)[..., None])[..., 0]
        u = rng.normal(size=(chains, d))
        w = w + math.sqrt(b) * u / np.linalg.norm(u, axis=1, keepdims=True)
        e[t + 1] = np.sum(w * w, axis=1)
    return e


@pytest.mark.slow  # a NUTS compile of its own; the quasi-likelihood itself is checked by a default test
def test_error_growth_model_separates_noise_and_approximation():
    rng = np.random.default_rng(12)
    d, s2, b = 4, 0.5, 0.05
    Ts = (12, 40)
    data = [_ols_chain(rng, d, T, s2, b, 200, 12) for T in Ts]
    h = [float(th.ols_error_increment(1.0, d, T)) for T in Ts]
    post = bayes.fit(jax.random.key(13), data, "error", h=h, **SAMPLER)
    assert abs(zscore(post, "noise_var", s2)) < Z_BOUND
    assert abs(zscore(post, "growth_approx", b)) < Z_BOUND
    assert abs(zscore(post, "growth_approx", 0.0)) > Z_BOUND
    with pytest.raises(ValueError, match="two different h"):
        bayes.fit(jax.random.key(13), data[0], "error", h=h[:1])


def test_quasi_likelihoods_and_their_mean_laws():
    """The diversity and error models' likelihood from sums equals the pointwise sum, and their mean laws hold.

    E[H_{t+1}/H_t] = 1 - 1/n (Wright-Fisher) and E[e_{t+1} - e_t] = s2 d/(T-d-1) + b (OLS chain), each by a
    z-test over chains (|z| < 4); the wrong laws (1 - 2/n; d/(T-d)) are rejected.
    """
    rng = np.random.default_rng(21)
    n = 10
    H = _wright_fisher(rng, n, 6, 4000, 1)  # one step: H_1 = 0 (one category left) has probability 6e-8
    prep = prepare(H, "diversity")
    q = (H[1:] / H[:-1]).reshape(-1)
    assert prep.count.sum() == q.size
    with jaxcollapse.x64():
        cnt, mean, ss = (np.asarray(a).reshape(-1) for a in bayes._fit._pool_normal(prep))
    assert mean[0] == pytest.approx(q.mean(), rel=1e-12) and ss[0] == pytest.approx(((q - q.mean()) ** 2).sum())
    with jaxcollapse.x64():
        ll = float(M._normal_quasi(cnt[0], mean[0], ss[0], 0.9, 0.3))
    assert ll == pytest.approx(sst.norm.logpdf(q, 0.9, 0.3).sum(), rel=1e-10)
    r1 = H[1] / H[0]
    z = (r1.mean() - math.exp(-float(th.diversity_rate(n)))) / (r1.std() / math.sqrt(r1.size))
    z_wrong = (r1.mean() - (1 - 2 / n)) / (r1.std() / math.sqrt(r1.size))
    assert abs(z) < Z_BOUND < abs(z_wrong)

    d, T, s2, b = 3, 10, 0.5, 0.05
    e = _ols_chain(rng, d, T, s2, b, 4000, 2)
    inc = e[1] - e[0]
    ze = (inc.mean() - float(th.ols_error_increment(s2, d, T, b))) / (inc.std() / math.sqrt(inc.size))
    zw = (inc.mean() - (s2 * d / (T - d) + b)) / (inc.std() / math.sqrt(inc.size))
    assert abs(ze) < Z_BOUND < abs(zw)
    pe = prepare(e, "error")
    assert pe.count.sum() == 2 * 4000 and pe.mean[0, 0] == pytest.approx(np.mean(e[1:, 0] - e[:-1, 0]))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("data, match", [
    (np.ones((1, 5)), "fewer than two generations"),
    (np.ones((3, 4, 2)), "expected shape"),
    (np.full((5, 3), np.nan), "no usable consecutive pair"),
    ([np.ones((4, 3)), "x"], "not a numeric array"),
    (np.array([[1.0, np.inf], [2.0, 1.0]]), "infinite"),
    ([], "no data"),
])
def test_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        bayes.fit(jax.random.key(0), data)


def test_bad_arguments(post_a, paths):
    v = np.exp(np.cumsum(np.random.default_rng(1).normal(-0.05, 0.2, (6, 4)), axis=0))
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="unknown model"):
        bayes.fit(k, v, "spred")
    with pytest.raises(ValueError, match="typed key"):
        bayes.fit(0, v)
    with pytest.raises(ValueError, match="divisor"):
        bayes.fit(k, v, divisor="n-1")
    with pytest.raises(ValueError, match="known n_eff"):
        bayes.fit(k, v, n_eff=1.0)
    with pytest.raises(ValueError, match="n_eff has shape"):
        bayes.fit(k, [v, v], n_eff=[10.0, 20.0, 30.0])
    with pytest.raises(ValueError, match="num_samples"):
        bayes.fit(k, v, num_samples=0)
    with pytest.raises(ValueError, match="chain_method"):
        bayes.fit(k, v, chain_method="parallel")
    with pytest.raises(ValueError, match="noise_var needs h"):
        bayes.fit(k, v, "error", noise_var=0.5)
    with pytest.raises(ValueError, match="two different h"):
        bayes.fit(k, [v, v], "error", h=[0.5, 0.5])
    with pytest.raises(ValueError, match="identifies only"):
        bayes.fit(k, v, "diversity")
    with pytest.raises(ValueError, match="chain_kappa"):
        bayes.fit(k, v, "diversity", kappa=1.0, chain_kappa=True)
    with pytest.raises(ValueError, match="record_paths"):
        bayes.fit(k, eqx.tree_at(lambda t: t.paths, paths["traj"], None))
    with pytest.raises(ValueError, match="spread statistic"):
        bayes.forecast(post_a, 10, -1.0)
    with pytest.raises(ValueError, match="spread statistic"):
        bayes.forecast(post_a, 10, float("nan"))
    with pytest.raises(ValueError, match="horizon"):
        bayes.forecast(post_a, 0)
    with pytest.raises(ValueError, match="group"):
        bayes.forecast(post_a, 5, group=3)


def test_non_positive_values_are_masked_with_a_warning():
    v = np.exp(np.cumsum(np.random.default_rng(2).normal(-0.05, 0.2, (6, 4)), axis=0))
    v[2, 1] = 0.0  # a collapsed value: no ratio through it
    v[4, 3] = -1.0
    with pytest.warns(UserWarning, match="2 non-positive"):
        prep = prepare(v, "spread")
    assert prep.count.sum() == 5 * 4 - 4
    with pytest.raises(ValueError, match="no usable"):  # every chain absorbed at 0 from the start
        prepare(np.zeros((4, 2)), "spread")


# --------------------------------------------------------------------------- CLI
# the forecast of a CSV written by `jaxcollapse run`, per model: tests/test_forecast.py::test_each_model_on_a_run_csv


def _fc_args(**over):
    a = {"--num-warmup": "300", "--num-samples": "400", "--num-chains": "2"}
    a.update(over)
    return [x for kv in a.items() for x in kv]


def test_cli_forecast_npz_and_missing_generations(tmp_path, capsys):
    rng = np.random.default_rng(3)
    v = np.exp(np.cumsum(np.log(rng.chisquare(29, (12, 40)) / 30), axis=0))
    v[5] = np.nan
    f = tmp_path / "x.npz"
    np.savez(f, values=v, generation=np.arange(12) * 1 + np.r_[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3])
    out = tmp_path / "o"
    assert cli.main(["forecast", str(f), "--out", str(out), "--quiet", *_fc_args()]) == 0
    assert capsys.readouterr().out == ""
    rows = np.loadtxt(out / "forecast.csv", delimiter=",", skiprows=1)
    assert rows[0, 0] == 14  # the last generation (11 + 3) is the start


@pytest.mark.parametrize("content, args, match", [
    ("generation,chain_0\n0,1.0\n", [], "fewer than two generations"),
    ("generation,replace/trace/mean\n0,1\n1,0.9\n", [], "holds summaries over chains"),
    ("generation,chain_0\n0,1\n1,x\n", [], "not a number"),
    ("generation,chain_0\n0,1\n0,0.9\n", [], "strictly increasing"),
    ("generation,chain_0,chain_1\n0,1\n1,0.9,1\n", [], "fields"),
    ("generation,chain_0\n0,1\n1,0.9\n2,0.8\n", ["--threshold", "-1"], "outside the range"),
    ("generation,chain_0\n0,1\n1,0.9\n2,0.8\n", ["--model", "spred"], "unknown model 'spred'"),
    ("generation,chain_0\n0,1\n1,0.9\n2,0.8\n", ["--horizon", "0"], "--horizon"),
    ("generation,chain_0\n0,0\n1,0\n2,0\n", [], "no usable"),
])
def test_cli_forecast_bad_input_one_line_exit_2(tmp_path, capsys, content, args, match):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    out = tmp_path / "o"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert cli.main(["forecast", str(f), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and match in err, err
    assert not out.exists()
    assert not any(p.name.startswith(".o.partial") for p in tmp_path.iterdir())


def test_cli_forecast_missing_file_and_npz_choice(tmp_path, capsys):
    assert cli.main(["forecast", str(tmp_path / "nope.csv")]) == 2
    f = tmp_path / "two.npz"
    np.savez(f, a=np.ones((3, 2)), b=np.ones((3, 2)))
    assert cli.main(["forecast", str(f), "--out", str(tmp_path / "o")]) == 2
    assert cli.main(["forecast", str(f), "--array", "c", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "no such file" in err[0] and "--array" in err[1] and "no array 'c'" in err[2]
