"""The hierarchical covariate model (`jaxcollapse.bayes.fit_covariates`) and `jaxcollapse.predict`.

Designs are simulated from the model itself with numpy's exact gamma draws (y = ln kappa + ln(2 G / n_eff),
G ~ Gamma((n_eff - 1)/2), i.e. ln(chi^2_{n_eff-1}/n_eff)), independently of the code under test. Every fit
has 20 training configurations and 3 covariates with the same sampler settings, so the tests share one
compiled program. Statistical bounds: |z| < 4 (stated per test).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxcollapse import bayes
from jaxcollapse.bayes import Design, fit_covariates, read_design

SAMPLER = dict(num_warmup=150, num_samples=200, num_chains=1)
HELD = 10  # configurations of the recovery design held out of its fit
K, P = 20, 3


def simulate(rng, K, *, beta0, beta, sigma, pairs, n_choices=(20.0, 50.0, 100.0), neff_factor=1.0, fit_rows=None):
    """A design from the model: covariates, n, and sums of `pairs` exact log-chi-square log ratios per row.

    The covariates are standardized on the first `fit_rows` rows (default all: the rows a fit will see, so that
    `beta` is in the fit's units). Returns the design, the true ln kappa (K,) and the true n_eff (K,)."""
    x = rng.normal(size=(K, len(beta)))
    f = x[: (K if fit_rows is None else fit_rows)]
    xs = (x - f.mean(0)) / f.std(0)
    n = rng.choice(np.asarray(n_choices), K)
    lk = beta0 + xs @ np.asarray(beta) + sigma * rng.standard_normal(K)
    ne = 1.0 + neff_factor * (n - 1.0)
    g = rng.standard_gamma(0.5 * (ne - 1.0)[:, None], (K, pairs))
    y = np.log(2.0 * g / ne[:, None]) + lk[:, None]
    count = np.full(K, float(pairs))
    nan = np.full(K, np.nan)
    d = Design(tuple(f"x{j}" for j in range(len(beta))), x, n, count, y.sum(1), np.exp(y).sum(1), nan, nan,
               tuple(f"c{i}" for i in range(K)), "simulated")
    return d, lk, ne


def true_rate(lk, ne):
    from scipy.special import digamma

    return -(digamma(0.5 * (ne - 1.0)) + np.log(2.0 / ne)) - lk


@pytest.fixture(scope="module")
def recovery():
    rng = np.random.default_rng(11)
    truth = dict(beta0=-0.02, beta=(0.05, -0.03, 0.0), sigma=0.02)
    full, lk_all, ne_all = simulate(rng, K + HELD, pairs=4000, neff_factor=0.6, fit_rows=K, **truth)
    d, lk, ne = full.subset(np.arange(K)), lk_all[:K], ne_all[:K]
    post = fit_covariates(d, key=jax.random.key(0), **SAMPLER)
    return post, truth, lk, ne, (full, lk_all, ne_all)


def test_recovers_beta_and_sigma(recovery):
    """Posterior mean within 4 posterior sd of the truth for beta0, each beta_j, sigma; n_eff's factor 0.6
    recovered (alpha0 = ln 0.6 for n_eff - 1 = 0.6 (n - 1)); no divergences."""
    post, truth, lk, ne, _ = recovery
    c = post.coefficients()
    checks = {"beta0": truth["beta0"], "sigma": truth["sigma"], "alpha0": math.log(0.6), "alpha1": 0.0}
    checks.update({f"beta[x{j}]": b for j, b in enumerate(truth["beta"])})
    for name, t in checks.items():
        a = c[name]
        z = (a.mean() - t) / a.std()
        assert abs(z) < 4, (name, a.mean(), a.std(), t)
    assert post.info["divergences"] == 0
    # the per-configuration rates of the training rows: within 4 sd of the truth for every row
    z = (post.draws["rate"].mean(0) - true_rate(lk, ne)) / post.draws["rate"].std(0)
    assert np.all(np.abs(z) < 4), z
    assert "beta[x0]" in post.summary()


def _hits(post, d, lk, ne, rows, key) -> tuple[int, int]:
    h50 = h90 = 0
    for k in rows:
        pr = post.predict({c: d.x[k, j] for j, c in enumerate(d.columns)}, d.n[k], key=jax.random.fold_in(key, k))
        r = true_rate(lk[k], ne[k])
        lo, hi = pr.interval(0.5)
        h50 += lo <= r <= hi
        lo, hi = pr.interval(0.9)
        h90 += lo <= r <= hi
    return h50, h90


def _coverage(designs: int, seed: int) -> tuple[int, int, int, int]:
    """Hold out 5 of 25 simulated configurations per design (fixed truth); count 50%/90% interval hits of the true
    rate of each held-out configuration (the predictive of a new configuration's rate)."""
    rng = np.random.default_rng(seed)
    h50 = h90 = units = 0
    for i in range(designs):
        d, lk, ne = simulate(rng, K + 5, beta0=0.0, beta=(0.04, -0.02, 0.01), sigma=0.02, pairs=2000,
                             neff_factor=0.8, fit_rows=K)
        post = fit_covariates(d.subset(np.arange(K)), key=jax.random.key(100 + i), **SAMPLER)
        a, b = _hits(post, d, lk, ne, range(K, K + 5), jax.random.key(1000 + i))
        h50, h90, units = h50 + a, h90 + b, units + 5
    return h50, h90, units, designs


def _assert_coverage(h50, h90, units):
    """|z| < 4 with the binomial se at the nominal level (units within a design share the posterior: the check
    is generous to that correlation only through the bound, stated)."""
    for hits, p in ((h50, 0.5), (h90, 0.9)):
        se = math.sqrt(p * (1 - p) / units)
        z = (hits / units - p) / se
        assert abs(z) < 4, (hits, units, p, z)


def test_heldout_interval_covers_small(recovery):
    """The recovery design's 10 held-out configurations (the fit never saw them): 50% and 90% coverage of their
    true rates within |z| < 4 (a check against grossly narrow or wide intervals; the slow test below has 200)."""
    post, _, _, _, (full, lk_all, ne_all) = recovery
    h50, h90 = _hits(post, full, lk_all, ne_all, range(K, K + HELD), jax.random.key(77))
    _assert_coverage(h50, h90, HELD)


@pytest.mark.slow
def test_heldout_interval_covers_many():
    """40 simulated designs x 5 held-out configurations (200 units): 50% and 90% coverage within |z| < 4."""
    h50, h90, units, _ = _coverage(40, 6)
    _assert_coverage(h50, h90, units)


def test_predict_paths_and_crossing(recovery):
    """The paths' mean log decay per generation matches the predictive rate (|z| < 4 over draws), crossing
    generations are integers >= 1 or inf, and an extrapolated covariate is warned about."""
    post = recovery[0]
    pr = post.predict({"x0": 0.0, "x1": 0.0, "x2": 0.0}, 50, key=jax.random.key(3), horizon=40, threshold=0.5)
    logs = np.log(pr.paths[:, -1]) / 40.0
    diff = -logs - pr.rate  # per draw: the realized mean decay minus its expectation
    z = diff.mean() / (diff.std() / math.sqrt(diff.size))
    assert abs(z) < 4
    c = pr.crossing
    assert np.all(np.isinf(c) | ((c >= 1) & (c <= 40) & (c == np.round(c))))
    lo, hi = pr.crossing_interval(0.9)
    assert lo <= hi
    far = post.predict({"x0": 50.0, "x1": 0.0, "x2": 0.0}, 50, key=jax.random.key(3))
    assert any("'x0'" in w for w in far.warnings)
    assert "predicted collapse rate" in pr.summary()


GOOD = "label,n,a,b,count,sum_log,sum_ratio\n" + "".join(
    f"r{i},{20 + i},{i * 0.1},{(i * 7) % 5},100,-{1 + 0.01 * i},{99 - 0.1 * i}\n" for i in range(8))


@pytest.mark.parametrize("text, column", [
    (GOOD.replace("r1,21,0.1", "r1,21,nan"), "'a'"),
    (GOOD.replace("r2,22,0.2", "r2,22,inf"), "'a'"),
    (GOOD.replace("r2,22,0.2", "r2,22,xyz"), "'a'"),
    ("label,n,a,b,count,sum_log,sum_ratio\n" + "".join(f"r{i},30,1.0,{i},100,-1,99\n" for i in range(8)), "'a'"),
    ("label,n,a,b,count,sum_log,sum_ratio\n" + "".join(f"r{i},30,{i},{i % 2},100,-1,99\n" for i in range(3)),
     "'count'"),
    (GOOD.replace("r3,23", "r3,1"), "'n'"),
    ("\n".join(",".join(line.split(",")[:-1]) for line in GOOD.splitlines()) + "\n", "'sum_ratio'"),
    ("label,a,b,count,sum_log,sum_ratio\n1,2,3,4,5,6\n", "'n'"),
    ("n,a,b,count,sum_log,sum_ratio\n1,2,3,4,5,6\n", "'label'"),
    ("label,n,a,b,rate\nr0,20,1,2,0.1\n", "'rate_se'"),
    ("label,n,a,b\nr0,20,1,2\n", "'count'"),
])
def test_bad_design_names_the_column(tmp_path, text, column):
    p = tmp_path / "d.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=column):
        read_design(p)


def test_unknown_column_and_roundtrip(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(GOOD)
    with pytest.raises(ValueError, match="'b'"):
        read_design(p, covariates=["a"])
    d = read_design(p, family="toy")
    assert d.columns == ("a", "b") and d.K == 8 and d.trained.all()
    q = tmp_path / "e.csv"
    d.to_csv(q)
    e = read_design(q)
    assert e.family == "toy" and e.columns == d.columns
    np.testing.assert_array_equal(e.x, d.x)
    np.testing.assert_array_equal(e.sum_log, d.sum_log)
    rows = d.rows()
    rows[0].update(count="", sum_log="", sum_ratio="")  # a row to predict
    f = read_design(rows)
    assert not f.trained[0] and f.trained[1:].all()


@pytest.mark.slow
def test_rate_only_rows_fit(tmp_path):
    """A design with measured rates only (normal likelihood): the fit runs and its rows' rates match the inputs
    within 4 posterior sd."""
    rng = np.random.default_rng(2)
    d, lk, ne = simulate(rng, K, beta0=0.0, beta=(0.03, 0.0, -0.02), sigma=0.01, pairs=10)
    r = true_rate(lk, ne)
    se = np.full(K, 0.002)
    nan = np.full(K, np.nan)
    dr = Design(d.columns, d.x, d.n, nan, nan, nan, r + se * rng.standard_normal(K), se, d.labels)
    post = fit_covariates(dr, key=jax.random.key(4), **SAMPLER)
    z = (post.draws["rate"].mean(0) - dr.rate) / np.sqrt(post.draws["rate"].var(0) + se**2)
    assert np.all(np.abs(z) < 4), z


def test_measure_and_predict_kde():
    """`measure` on a tiny KDE configuration gives finite covariates without recursion; `predict` runs end to end
    on a small design (simulated targets with the KDE's covariate columns); bad input is refused first."""
    from jaxcollapse import predict as P

    assert "kde" in P.PREDICTABLE
    row = P.measure("kde", {"n": 20, "bandwidth": "fixed", "h": 0.2, "eval_size": 4}, key=jax.random.key(9), fits=8)
    assert set(row) == set(P.covariate_columns("kde"))
    assert all(math.isfinite(v) for v in row.values())
    assert row["ln_h"] == pytest.approx(math.log(0.2), rel=1e-5)
    with pytest.raises(ValueError, match="no shipped design"):
        P.predict("gaussian", key=jax.random.key(0))
    with pytest.raises(ValueError, match="h"):
        P.predict("kde", {"h": -1.0}, key=jax.random.key(0))
    rng = np.random.default_rng(3)
    d, lk, ne = simulate(rng, K, beta0=0.0, beta=(0.5, 0.0, 0.1), sigma=0.02, pairs=500)
    d = Design(("one_step", "ln_n", "ln_h"), np.column_stack([d.x[:, 0] * 0.05, np.log(d.n), d.x[:, 2]]), d.n,
               d.count, d.sum_log, d.sum_ratio, d.rate, d.rate_se, d.labels, "kde")
    pr = P.predict("kde", {"n": 20, "bandwidth": "fixed", "h": 0.2, "eval_size": 4}, key=jax.random.key(9), fits=8,
                   design=d, threshold=0.5, horizon=30, **SAMPLER)
    assert pr.rate.shape == (SAMPLER["num_samples"] * SAMPLER["num_chains"],)
    assert np.all(np.isfinite(pr.rate)) and pr.crossing is not None
    lo, hi = pr.interval(0.9)
    assert lo < np.median(pr.rate) < hi


def test_predict_design_rows(recovery):
    post = recovery[0]
    d = post.design
    preds = post.predict_design(d.without_targets(), key=jax.random.key(5))
    assert len(preds) == d.K and preds[0].label == d.labels[0]
    with pytest.raises(ValueError, match="'x1'"):
        post.predict({"x0": 0.0, "x2": 0.0}, 50, key=jax.random.key(0))
    with pytest.raises(ValueError, match="threshold"):
        post.predict({"x0": 0.0, "x1": 0.0, "x2": 0.0}, 50, key=jax.random.key(0), threshold=1.0)


def test_exported():
    for name in ("Design", "read_design", "fit_covariates", "CovariatePosterior", "RatePrediction", "r_sample",
                 "fit_growth", "GrowthPosterior"):
        assert hasattr(bayes, name)


# --------------------------------------------------------------------------- the error families' growth model
GROWTH = dict(beta0=-0.3, beta=(0.2, -0.15, 0.0), sigma=0.1, gamma0=0.2, gamma=(0.0, 0.1, 0.0), omega=0.1)
GROWTH_COLUMNS = ("one_step", "ln_width", "ln_lr")  # what `measure` gives the transformer (n held fixed)
STEPS, SE_REL = 96, 0.05  # increments behind each row's step_sd; a measured growth's se over the growth


def simulate_growth(rng, K, *, beta0, beta, sigma, gamma0, gamma, omega, fit_rows=None):
    """An error design from the growth model (`fit_growth`): one_step = ln(first increment), ln g and ln s
    regressed on the standardized covariates; measured growth g + se z with se = SE_REL g, measured
    ln step_sd = ln s + N(0, 1/(2(STEPS - 1))). Returns the design, the true g (K,) and the true s (K,)."""
    x = np.column_stack([np.log(0.02) + 0.5 * rng.normal(size=K), rng.normal(size=K), rng.normal(size=K)])
    f = x[: (K if fit_rows is None else fit_rows)]
    xs = (x - f.mean(0)) / f.std(0)
    g = np.exp(x[:, 0] + beta0 + xs @ np.asarray(beta) + sigma * rng.standard_normal(K))
    s = np.exp(x[:, 0] + gamma0 + xs @ np.asarray(gamma) + omega * rng.standard_normal(K))
    se = SE_REL * g
    sd = s * np.exp(rng.standard_normal(K) / math.sqrt(2.0 * (STEPS - 1)))
    nan = np.full(K, np.nan)
    d = Design(GROWTH_COLUMNS, x, np.full(K, 64.0), nan, nan, nan, g + se * rng.standard_normal(K), se,
               tuple(f"c{i}" for i in range(K)), "simulated", "error", sd, np.full(K, float(STEPS)), np.zeros(K))
    return d, g, s


@pytest.fixture(scope="module")
def growth():
    rng = np.random.default_rng(21)
    full, g, s = simulate_growth(rng, K + HELD, fit_rows=K, **GROWTH)
    post = fit_covariates(full.subset(np.arange(K)), key=jax.random.key(1), **SAMPLER)
    return post, full, g, s


def test_growth_recovers_its_coefficients(growth):
    """An error design dispatches to `fit_growth`: posterior means within 4 posterior sd of the truth for beta0,
    each beta_j, gamma0 and each gamma_j; sigma and omega within 4 sd too; no divergences."""
    post, _, _, _ = growth
    assert isinstance(post, bayes.GrowthPosterior)
    c = post.coefficients()
    checks = {"beta0": GROWTH["beta0"], "gamma0": GROWTH["gamma0"], "sigma": GROWTH["sigma"],
              "omega": GROWTH["omega"]}
    checks.update({f"beta[{n}]": b for n, b in zip(GROWTH_COLUMNS, GROWTH["beta"], strict=True)})
    checks.update({f"gamma[{n}]": b for n, b in zip(GROWTH_COLUMNS, GROWTH["gamma"], strict=True)})
    for name, t in checks.items():
        z = (c[name].mean() - t) / c[name].std()
        assert abs(z) < 4, (name, c[name].mean(), c[name].std(), t)
    assert post.info["divergences"] == 0
    assert "growth" in post.summary() and "gamma[ln_lr]" in post.summary()


def test_growth_heldout_covers_and_paths_match(growth):
    """The 10 held-out configurations: 50% and 90% coverage of their true growth within |z| < 4 (binomial se at
    the nominal level). One of them: the paths' mean increment per generation matches the predictive growth
    (|z| < 4 over draws), and 400 chains simulated from its true law cross 2 e_1 inside the 90% predictive
    crossing interval in a share >= 0.9 - 4 sqrt(0.09/400) (the predictive also carries the parameter
    uncertainty: it may over-cover)."""
    post, full, g, s = growth
    h50 = h90 = 0
    for k in range(K, K + HELD):
        x = {c: full.x[k, j] for j, c in enumerate(full.columns)}
        pr = post.predict(x, 64, key=jax.random.fold_in(jax.random.key(8), k))
        lo, hi = pr.interval(0.5)
        h50 += lo <= g[k] <= hi
        lo, hi = pr.interval(0.9)
        h90 += lo <= g[k] <= hi
    _assert_coverage(h50, h90, HELD)
    k = K
    x = {c: full.x[k, j] for j, c in enumerate(full.columns)}
    H = 30
    pr = post.predict(x, 64, key=jax.random.key(9), horizon=H, threshold=2.0, start=0.01)
    e1 = 0.01 + math.exp(x["one_step"])
    assert pr.quantity == "growth" and pr.unit == pytest.approx(e1) and pr.start == pytest.approx(0.01 / e1)
    diff = (pr.paths[:, -1] - pr.paths[:, 0]) * e1 / H - pr.rate
    assert abs(diff.mean() / (diff.std() / math.sqrt(diff.size))) < 4
    c = pr.crossing
    assert np.all(np.isinf(c) | ((c >= 1) & (c <= H) & (c == np.round(c))))
    rng = np.random.default_rng(4)
    e = 0.01 + np.cumsum(g[k] + s[k] * rng.standard_normal((400, H)), axis=1)
    above = e / e1 >= 2.0
    cross = np.where(above.any(axis=1), 1.0 + np.argmax(above, axis=1), np.inf)
    lo, hi = pr.crossing_interval(0.9)
    assert np.mean((cross >= lo) & (cross <= hi)) >= 0.9 - 4 * math.sqrt(0.09 / 400)
    assert "predicted growth of" in pr.summary() and "kappa" not in pr.summary()
    assert not any("beyond the" in w for w in pr.warnings)  # the design records no generations: no such warning
    import dataclasses

    short = dataclasses.replace(post, design=dataclasses.replace(post.design, generations=1))
    pr1 = short.predict(x, 64, key=jax.random.key(9), horizon=H, threshold=2.0, start=0.01)
    med = float(np.quantile(pr1.crossing, 0.5, method="inverted_cdf"))
    assert med > 1 and any("lies beyond the 1 generations" in w for w in pr1.warnings)
    with pytest.raises(ValueError, match="threshold"):
        post.predict(x, 64, key=jax.random.key(0), threshold=0.1, start=0.01)  # below the start: not a growth


def test_growth_design_roundtrip_and_bad_input(tmp_path, growth):
    """An error design writes and reads back (model=error on the family line); its bad input names the column."""
    full = growth[1]
    p = tmp_path / "g.csv"
    full.to_csv(p)
    assert p.read_text().splitlines()[0] == "# family=simulated model=error"
    e = read_design(p)
    assert e.model == "error" and e.columns == GROWTH_COLUMNS and e.generations is None
    import dataclasses

    q = tmp_path / "g8.csv"
    dataclasses.replace(full, generations=8).to_csv(q)
    assert q.read_text().splitlines()[0] == "# family=simulated model=error generations=8"
    assert read_design(q).generations == 8
    for a in ("x", "rate", "rate_se", "step_sd", "step_count", "e0"):
        np.testing.assert_array_equal(getattr(e, a), getattr(full, a))
    text = p.read_text()
    cases = {
        "step_sd": text.replace(",step_sd,", ",sd,"),  # the column renamed: missing (and 'sd' unknown)
        "one_step": text.replace("one_step", "first"),
    }
    for col, t in cases.items():
        q = tmp_path / f"bad_{col}.csv"
        q.write_text(t)
        with pytest.raises(ValueError, match=f"'{col}'"):
            read_design(q)
    rows = [{**r, "count": 10, "sum_log": -1.0, "sum_ratio": 9.0} for r in e.rows()]
    with pytest.raises(ValueError, match="'count'.*no sums"):
        read_design(rows, model="error")
    rows = e.rows()
    rows[3]["step_sd"] = -1.0
    with pytest.raises(ValueError, match="'step_sd': row 3"):
        read_design(rows, model="error")
    with pytest.raises(ValueError, match="'step_sd'"):  # an error column in a spread design
        read_design(tmp_path / "g.csv", model="spread")


def test_measure_mlp_is_an_error_family():
    """`measure` on a tiny MLP configuration: the MLP's generation 0 is f* itself (test_mse = 0, the recipe's
    docstring), so e0 = 0 and e1 = exp(one_step); the knobs are the configuration's."""
    from jaxcollapse import predict as P

    assert P.model_of("mlp") == P.model_of("transformer") == "error" and P.metric_of("diffusion") == "trace"
    row = P.measure("mlp", {"n": 16, "width": 4, "steps": 5, "learning_rate": 0.02}, key=jax.random.key(2), fits=4)
    assert set(row) == {*P.covariate_columns("mlp"), "e0", "e1"}
    assert row["e0"] == 0.0 and row["e1"] == pytest.approx(math.exp(row["one_step"]), rel=1e-9)
    assert row["ln_width"] == pytest.approx(math.log(4)) and row["ln_lr"] == pytest.approx(math.log(0.02))
    with pytest.raises(ValueError, match="context = 32 is outside the shipped transformer design"):
        P.predict("transformer", {"context": 32}, key=jax.random.key(0))
    with pytest.raises(ValueError, match="threshold"):
        P.predict("mlp", {"n": 25}, key=jax.random.key(0), threshold=0.5)
