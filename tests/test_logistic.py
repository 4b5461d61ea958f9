r"""The logistic family (`jaxcollapse.families.Logistic`), its theory, recipe, checks and tools.

Statistical rule (stated up front, the suite's): a Monte Carlo mean passes when $|z| < 4$ (`conftest.Z_BOUND`)
against an **exact** finite value (enumeration, `theory.logistic.exact_moments`), with a fixed key and enough
chains for a standard error. Deterministic comparisons (the Newton fit against the exact maximum likelihood
estimate, the quadrature metrics against adaptive integration) use stated tolerances. The default suite keeps
a few cheap tests (bad input, the fit against enumeration, one simulation against enumeration, the statistics,
the metrics, the recipe's first-order curves); everything that compiles several programs is ``slow``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcollapse as jc
from jaxcollapse import cli, recipes, regimes, verify
from jaxcollapse.random import Stream
from jaxcollapse.theory import logistic as th
from jaxcollapse.verify import logistic as VL

Z_BOUND = 4.0
REPO = Path(__file__).resolve().parents[1]
S0 = Stream.from_key(jax.random.key(0))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, message", [
    ({"theta": [1.0, 2.0], "design": "random"}, r"design = 'random' is invalid: design must be 'fixed', 'fresh'"),
    ({"theta": [1.0, 2.0]}, r"rows = None is invalid: a fixed design needs rows, an integer >= 1"),
    ({"theta": [1.0, 2.0], "rows": 0}, r"rows = 0 is invalid"),
    ({"theta": [1.0, 2.0], "design": "fresh", "rows": 5}, r"rows is set by the regime on a fresh design"),
    ({"theta": [1.0], "rows": 4, "intercept": True}, r"theta must be a vector of length p >= 2"),
    ({"theta": [1.0, np.nan], "rows": 4}, r"theta must be finite"),
    ({"theta": [1.0, 2.0], "rows": 4, "ridge": -1.0}, r"ridge = -1.0 is invalid: ridge must be a finite number >= 0"),
    ({"theta": [1.0, 2.0], "rows": 4, "iters": 0}, r"iters = 0 is invalid: iters must be an integer >= 1"),
    ({"theta": [1.0, 2.0], "rows": 4, "intercept": "yes"}, r"intercept = 'yes' is invalid"),
    ({"theta": [1.0, 2.0], "design": np.zeros((4, 3))}, r"a given design must have shape \(rows, 2\)"),
    ({"theta": [1.0, 2.0], "design": np.zeros((4, 2)), "rows": 5}, r"rows = 5 differs from the given design's 4"),
    ({"theta": [1.0, 2.0], "rows": 4, "cov": [[1.0, 2.0], [2.0, 1.0]]}, r"must be positive definite"),
    ({"theta": "one", "rows": 4}, r"Logistic: theta must be a number or an array of numbers"),
])
def test_bad_construction_is_one_clear_value_error(kwargs, message):
    kw = dict(kwargs)
    theta = kw.pop("theta")
    with pytest.raises(ValueError, match=message):
        jc.Logistic(theta, **kw)


def test_bad_regimes_and_recipe_parameters_are_refused_before_compiling(no_run):
    m = jc.Logistic([0.5, 0.5], rows=20)
    for reg, sizes in ((regimes.replace(30), "['30']"), (regimes.fresh(10, 20), "['10', '20']"),
                       (regimes.augment(20, 1.5), "['20', '30']")):
        with pytest.raises(ValueError, match=rf"a fixed design has 20 rows: .* regime has sizes {re_escape(sizes)}"):
            jc.simulate(jax.random.key(0), m, reg, 2, 8)
    r = recipes.get("logistic")
    with pytest.raises(ValueError, match=r"design = 'fresh' .* needs path = 'samples' \(--path samples\)"):
        r.resolve({"design": "fresh"})
    with pytest.raises(ValueError, match=r"bias = 0.5 is the truth's intercept: it needs intercept = true"):
        r.resolve({"bias": 0.5})
    with pytest.raises(ValueError, match=r"iters = 0 is invalid \(out of range\): iters must be an integer >= 1"):
        r.resolve({"iters": 0})


def test_a_fresh_design_on_the_exact_path_is_refused_while_tracing():
    """The contract's `has_exact_stats` is per class, so `make_spec` cannot refuse this before the engine is reached;
    `sample_stats` raises while the engine traces (before any compilation; the recipe refuses it up front)."""
    fresh = jc.Logistic([0.5, 0.5], design="fresh")
    with pytest.raises(ValueError, match="fresh design has no exact statistics sampler; use path='samples'"):
        jc.simulate(jax.random.key(0), fresh, regimes.replace(20), 2, 8)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


# --------------------------------------------------------------------------- the fit
X6 = np.array([-1.6, -0.6, -0.2, 0.3, 1.2, 1.8])


def test_newton_fit_equals_the_exact_mle_on_every_label_vector():
    """The family's `fit` on every label vector of a 6-row design (generations 1 and 2, replace and accumulate, the
    keep rule included) equals `theory.logistic.mle` to 1e-9, and flags exactly the separated ones (the registered
    check `logistic.exact_small_n` does the same on 8 rows)."""
    with jc.x64():
        err, agree = VL.fit_against_enumeration(VL._model(X6), X6, VL.THETA8)
    assert err < VL.FIT_TOL and agree == 1.0, (err, agree)


def test_separated_data_keep_the_last_parameters_and_are_flagged():
    """Perfectly separated labels: no maximiser. The fit keeps the current coefficients, sets `diverged`, and nothing is
    NaN (float32, the default precision); with a ridge penalty the maximiser exists and the fit converges."""
    x = np.linspace(-1.0, 1.0, 10)[:, None]
    y = (x[:, 0] > 0).astype(np.float32)
    m = jc.Logistic([0.3], design=x)
    st = m.stats(jnp.concatenate([jnp.asarray(x, jnp.float32), jnp.asarray(y)[:, None]], axis=1))
    new = jax.jit(lambda mm, s: mm.fit(s, S0))(m, st)
    assert float(new.diverged) == 1.0 and float(new.theta[0]) == pytest.approx(0.3)
    met = jax.jit(lambda a: a.metrics(m, S0))(new)
    assert all(np.isfinite(float(v)) for v in met.values())
    ridged = jc.Logistic([0.3], design=x, ridge=0.1)
    fit = jax.jit(lambda mm, s: mm.fit(s, S0))(ridged, st)
    assert float(fit.diverged) == 0.0 and float(fit.theta[0]) > 0.3


# --------------------------------------------------------------------------- statistics
def test_statistics_of_the_samples_equal_the_exact_statistics():
    """`stats(draw_samples(s))` and `sample_stats(s)` read the same numbers (fixed and given designs), and the
    statistics form a monoid on one design: combine adds, scale multiplies."""
    for m in (jc.Logistic([0.5, -1.0, 0.3], rows=12, intercept=True),):
        st = jax.jit(lambda mm: mm.sample_stats(S0, mm.rows, 1.0))(m)
        rows = jax.jit(lambda mm: mm.draw_samples(S0, mm.rows, 1.0))(m)
        st2 = m.stats(rows)
        for a, b in zip(jax.tree.leaves(st), jax.tree.leaves(st2), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert set(np.unique(np.asarray(st.ones))) <= {0.0, 1.0}
        both = m.empty_stats().combine(st).combine(st.scale(2.0))
        np.testing.assert_allclose(np.asarray(both.weight), 3.0)
        np.testing.assert_allclose(np.asarray(both.ones), 3.0 * np.asarray(st.ones))
        np.testing.assert_array_equal(np.asarray(both.x), np.asarray(st.x))
    fresh = jc.Logistic([0.5, 0.5], design="fresh")
    assert isinstance(fresh.empty_stats(), jc.stats.SampleStats)


def test_tempered_labels_follow_the_tempered_logits():
    """Labels at temperature tau are Bernoulli(sigma(eta / tau)): the share of ones over many chains of a given
    design's rows, z-tested row by row."""
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    m = jc.Logistic([1.5], design=x)
    chains = 20000
    ys = jax.jit(jax.vmap(lambda c: m.draw_samples(Stream(S0.key, c), 4, 0.5)[:, -1]))(
        jnp.arange(chains, dtype=jnp.uint32))
    share = np.asarray(ys, np.float64).mean(axis=0)
    p = 1.0 / (1.0 + np.exp(-1.5 * x / 0.5))
    z = (share - p) / np.sqrt(p * (1 - p) / chains)
    assert np.all(np.abs(z) < Z_BOUND), z


# --------------------------------------------------------------------------- metrics
def _reference_metrics(theta_star, theta, cov, intercept):
    """KL, accuracy and calibration for x ~ N(0, Sigma) by scipy's adaptive quadrature (independent of the family)."""
    from scipy import integrate

    t0, t1 = np.asarray(theta_star, float), np.asarray(theta, float)
    (b0, w0), (b1, w1) = ((t0[0], t0[1:]), (t1[0], t1[1:])) if intercept else ((0.0, t0), (0.0, t1))
    cov = np.asarray(cov, float)
    vu, vv, cuv = w0 @ cov @ w0, w1 @ cov @ w1, w0 @ cov @ w1
    sv = math.sqrt(vv)
    k = cuv / sv
    r = math.sqrt(max(vu - k * k, 0.0))
    sig = lambda a: 1.0 / (1.0 + math.exp(-a))  # noqa: E731
    sp = lambda a: max(a, 0.0) + math.log1p(math.exp(-abs(a)))  # noqa: E731
    phi = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731

    def kl(z2, z1):
        u, v = b0 + k * z1 + r * z2, b1 + sv * z1
        return (sp(v) - sp(u) - sig(u) * (v - u)) * phi(z1) * phi(z2)

    def g(z1):  # P(y = 1 | z1)
        return integrate.quad(lambda z2: sig(b0 + k * z1 + r * z2) * phi(z2), -12, 12, epsabs=1e-13)[0]

    L = 9.0
    kl_v = integrate.dblquad(kl, -L, L, -L, L, epsabs=1e-12)[0]
    zs = -b1 / sv
    acc = (integrate.quad(lambda z: (1 - g(z)) * phi(z), -L, zs, epsabs=1e-12)[0]
           + integrate.quad(lambda z: g(z) * phi(z), zs, L, epsabs=1e-12)[0])
    cal = integrate.quad(lambda z: (sig(b1 + sv * z) - g(z)) ** 2 * phi(z), -L, L, epsabs=1e-13, limit=200)[0]
    return kl_v, acc, cal


@pytest.mark.parametrize("case", [
    pytest.param(([0.4, 1.2, -0.5], [-0.1, 0.9, -0.2], [[1.0, 0.3], [0.3, 0.6]], True), id="intercept"),
    pytest.param(([2.0, 1.0], [0.5, 1.8], 1.0, False), id="no-intercept", marks=pytest.mark.slow),
    pytest.param(([1.0, -3.0, 2.0], [1.1, -2.9, 2.05], 1.0, True), id="strong", marks=pytest.mark.slow),
    pytest.param(([0.5, 0.0, 0.0], [0.3, 0.2, 0.1], 1.0, True), id="null-truth", marks=pytest.mark.slow),
])
def test_gaussian_design_metrics_against_adaptive_quadrature(case):
    """The Gaussian-design metrics (piecewise Gauss-Legendre rules) against scipy's adaptive quadrature, float64: the
    KL to 1e-10, the accuracy to 1e-8, the calibration (with an inner integral) to 1e-6, relative."""
    theta_star, theta, cov, intercept = case
    with jc.x64():
        truth = jc.Logistic(theta_star, cov, rows=4, intercept=intercept)
        met = jax.jit(lambda t: truth.with_theta(t).metrics(truth, S0))(jnp.asarray(theta))
    kl, acc, cal = _reference_metrics(theta_star, theta, truth.cov, intercept)
    assert float(met["excess_logloss"]) == pytest.approx(kl, rel=1e-10, abs=1e-14)
    assert float(met["accuracy"]) == pytest.approx(acc, rel=1e-8)
    assert float(met["calibration"]) == pytest.approx(cal, rel=1e-6, abs=1e-13)
    assert float(met["param_error"]) == pytest.approx(np.sum((np.asarray(theta) - theta_star) ** 2))


def test_metrics_of_the_truth_and_of_a_given_design():
    """Against itself: no error, no excess log-loss, calibrated; a given design's metrics are its rows' means."""
    x = np.array([[-1.0], [0.2], [1.5]])
    m = jc.Logistic([0.3, -0.8], design=x, intercept=True)
    met = jax.jit(lambda a: a.metrics(a, S0))(m)
    assert float(met["param_error"]) == 0 and float(met["excess_logloss"]) == 0 and float(met["calibration"]) == 0
    other = m.with_theta(jnp.asarray([0.1, 0.5]))
    got = jax.jit(lambda a: a.metrics(m, S0))(other)
    u = 0.3 - 0.8 * x[:, 0]
    v = 0.1 + 0.5 * x[:, 0]
    pu, pv = 1 / (1 + np.exp(-u)), 1 / (1 + np.exp(-v))
    kl = pu * np.log(pu / pv) + (1 - pu) * np.log((1 - pu) / (1 - pv))
    assert float(got["excess_logloss"]) == pytest.approx(kl.mean(), rel=1e-5)
    assert float(got["accuracy"]) == pytest.approx(np.where(v > 0, pu, 1 - pu).mean(), rel=1e-6)
    assert float(got["calibration"]) == pytest.approx(((pv - pu) ** 2).mean(), rel=1e-5)


# --------------------------------------------------------------------------- theory
def test_existence_test_against_brute_force_directions():
    """`mle_exists` (angular gaps) against a brute-force search of separating directions on a fine circle."""
    rng = np.random.default_rng(3)
    phi = np.stack([np.ones(6), rng.standard_normal(6)], axis=1)
    import itertools

    s = np.array(list(itertools.product([0, 1], repeat=6)), float)
    ang = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    dirs = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    margins = phi @ dirs.T  # (rows, directions)
    sign = np.where(s[:, :, None] > 0, 1.0, -1.0) * margins[None]
    separable = np.any(np.all(sign >= -1e-12, axis=1), axis=1)
    assert np.array_equal(th.mle_exists(phi, np.ones(6), s), ~separable)


def test_first_order_factors_and_fisher_information():
    t = np.arange(6)
    np.testing.assert_allclose(th.replace_factor(t), t)
    np.testing.assert_allclose(th.accumulate_factor(t), [0, 1, 1.25, 1.25 + 1 / 9, 1.25 + 1 / 9 + 1 / 16,
                                                         1.25 + 1 / 9 + 1 / 16 + 1 / 25])
    assert th.accumulate_factor(np.array([10_000]))[0] < th.accumulate_bound_factor()
    # with w = 1/2 the mixed factors tend to 4/3 (a fixed real set) and 2/3 (fresh real labels), as for OLS
    assert th.mixed_factor(200, 0.5, "fixed") == pytest.approx(4 / 3)
    assert th.mixed_factor(200, 0.5, "fresh") == pytest.approx(2 / 3)
    # theta = 0: sigma' = 1/4 everywhere, I = diag(1, Sigma) / 4
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(th.fisher_information([0.0, 0.0, 0.0], cov, intercept=True),
                               np.block([[np.ones((1, 1)), np.zeros((1, 2))], [np.zeros((2, 1)), cov]]) / 4)
    pop = th.fisher_information(VL.FISHER_THETA, VL.FISHER_COV, intercept=True)
    np.testing.assert_allclose(pop, VL.fisher_by_tensor_quadrature(VL.FISHER_THETA, VL.FISHER_COV), atol=1e-13)
    assert th.first_fit_excess_logloss(50 * pop, pop) == pytest.approx(3 / 100)


def test_recipe_curves_are_the_first_order_laws(no_run):
    r = recipes.get("logistic")
    p = r.resolve({})
    G = 4
    info = th.fisher_information(r.coefficients(p), 1.0)
    first = th.first_fit_error(p["n"] * info)
    for name, factor in (("replace", th.replace_factor(np.arange(G + 1))),
                         ("accumulate", th.accumulate_factor(np.arange(G + 1))),
                         ("fresh", th.mixed_factor(np.arange(G + 1), 0.5, "fresh"))):
        curves = r.first_order({**p, "regime": name}, G)
        np.testing.assert_allclose(curves["param_error"], first * factor)
        np.testing.assert_allclose(curves["excess_logloss"], 5 / (2 * p["n"]) * factor)
    assert r.first_order({**p, "regime": "replace", "temperature": 0.8}, G) == {}
    assert r.first_order({**p, "regime": "accumulate_subsample"}, G) == {}
    assert r.theory({**p, "regime": "replace"}, G) == {}  # no exact value: the table z-tests none


# --------------------------------------------------------------------------- simulation against enumeration
def test_replace_against_exact_enumeration():
    """replace on the 8-row design, exact path, float64: E||theta_t - theta*||^2, the excess log-loss and P(diverged)
    at t = 1, 2 against exact enumeration (|z| < 4)."""
    exact = th.exact_moments(VL.X8, VL.THETA8, intercept=True)["replace"]
    with jc.x64():
        tr = jc.simulate(jax.random.key(11), VL._model(), regimes.replace(8), 2, 8000, quantiles=(),
                         metrics=VL.QUANTITIES)
    for q in VL.QUANTITIES:
        for t in (1, 2):
            z = (tr.mean(q)[t] - exact[q][t]) / tr.stderr(q)[t]
            assert abs(z) < Z_BOUND, (q, t, z)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logistic.exact_small_n", "logistic.real_data_first_generation",
                                  "logistic.samples_path", "logistic.first_order"])
def test_registered_check_passes(name):
    comps = verify.run_checks([name], scale=0.25)
    assert verify.all_passed(comps), "\n" + verify.format_table(comps)


# --------------------------------------------------------------------------- every regime, both precisions
def _every_regime(x64: bool, design: str):
    """Every regime preset (and weighted with fresh real data, a temperature, a drift) on both paths (fresh design: the
    sample path), 4 chains x 3 generations of 6 rows, all in one compiled program (as tests/test_engine.py's matrix):
    `{(regime, path): (final models, metrics (chains, generations))}`."""
    import tiny_families

    from jaxcollapse import engine

    rg = jc.regimes
    regs = {"replace": rg.replace(6), "accumulate": rg.accumulate(6),
            "accumulate_subsample": rg.accumulate_subsample(6, 5), "augment": rg.augment(6, 1.0),
            "fresh": rg.fresh(6, 6), "weighted": rg.weighted(6, 6, 0.3),
            "weighted_fresh": rg.weighted(6, 6, 0.3, real="fresh"), "temperature": rg.replace(6, temperature=0.7),
            "drift": rg.replace(6, drift=0.1)}
    G = 3
    with jc.x64(x64):
        model = jc.Logistic([0.2, 0.8, -0.5], rows=None if design == "fresh" else 6, design=design, intercept=True)
        specs = {}
        for name, reg in regs.items():
            for path in ("samples",) if design == "fresh" or name == "accumulate_subsample" else ("exact", "samples"):
                specs[name, path] = engine.make_spec(model, reg, G, path=path)

        return tiny_families.run_specs(jax.random.key(1), specs, 4, G)


@pytest.mark.slow
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("design", ["fixed", "fresh"])
def test_every_regime_runs_finite_on_both_paths(x64, design):
    """Every regime preset (and weighted with fresh real data, a temperature, a drift) on both paths (fresh design: the
    sample path), 4 chains x 3 generations of 6 rows (often separated: the divergence rule is exercised), float32 and
    float64: the models keep their dtype and no metric is NaN or infinite."""
    dtype = jnp.float64 if x64 else jnp.float32
    out = _every_regime(x64, design)
    assert len(out) == (9 if design == "fresh" else 17)
    for key, (final, ms) in out.items():
        assert final.theta.dtype == dtype, key
        for metric in jc.Logistic.metric_names:
            v = np.asarray(ms[metric])
            assert v.shape == (4, 3) and np.all(np.isfinite(v)), (key, metric)
        assert set(np.unique(np.asarray(ms["diverged"]))) <= {0.0, 1.0}


PREFIX_RTOL = 1e-5  # tests/test_engine.py's: XLA fuses a batch of 1 and one of 3 chains differently (1 ULP steps)


@pytest.mark.slow
def test_chain_prefix_invariance():
    """The first 8 chains are the same whether 8 or 24 run (fixed design: the design depends on the chain): the same
    divergence flags, and every metric to `PREFIX_RTOL` (the engine's convention for d > 1); the other chains differ."""
    m = jc.Logistic([0.3, 0.9], rows=30)
    a = jc.simulate(jax.random.key(4), m, regimes.accumulate(30), 3, 8, quantiles=(), record_paths=True)
    b = jc.simulate(jax.random.key(4), m, regimes.accumulate(30), 3, 24, quantiles=(), record_paths=True)
    np.testing.assert_array_equal(np.asarray(a.paths["diverged"]), np.asarray(b.paths["diverged"])[:, :8])
    for k in m.metric_names:
        np.testing.assert_allclose(np.asarray(a.paths[k]), np.asarray(b.paths[k])[:, :8], rtol=PREFIX_RTOL,
                                   atol=PREFIX_RTOL, err_msg=k)
    assert not np.allclose(np.asarray(b.paths["param_error"])[1:, :8], np.asarray(b.paths["param_error"])[1:, 8:16],
                           rtol=1e-2)


@pytest.mark.slow
def test_device_count_invariance():
    """1 and 4 host devices give bitwise the same trajectories (weighted on a fixed design; accumulate on a fresh one),
    with `tests/devices_matrix.py`'s comparison."""
    code = textwrap.dedent("""\
        import sys
        sys.path.insert(0, "tests")
        import jax, jaxcollapse as jc
        from devices_matrix import difference
        kw = dict(path="samples", quantile_chains=6, blocks=4, record_paths=True, record_params=True)
        cases = {"fixed-weighted": (jc.Logistic([0.2, 0.8], rows=5, intercept=False), jc.regimes.weighted(5, 5, 0.3)),
                 "fresh-accumulate": (jc.Logistic([0.2, 0.8], design="fresh"), jc.regimes.accumulate(5))}
        for name, (m, reg) in cases.items():
            runs = [jc.simulate(jax.random.key(5), m, reg, 2, 16, devices=k, **kw) for k in (1, 4)]
            print(name, difference(runs[0], runs[1]))
        """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
           "JAXCOLLAPSE_NO_TYPECHECK": "1", "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["fixed-weighted", "None", "fresh-accumulate", "None"], r.stdout


# --------------------------------------------------------------------------- the tools
@pytest.mark.slow
def test_run_config_rerun_forecast_verify_and_sweep(tmp_path, capsys):
    """``jaxcollapse run --family logistic`` writes its outputs (and reruns bitwise from its config); ``forecast`` reads
    its per-chain CSV with the recipe's error model; ``verify --family logistic --list`` lists the checks; the example
    sweep config runs (shrunk)."""
    out = tmp_path / "run"
    argv = ["run", "--family", "logistic", "--chains", "64", "--generations", "4", "--n", "60", "--quiet"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"table.txt", "summary.csv", "config.toml", "chains_replace_excess_logloss.csv",
            "excess_logloss.png"} <= names
    head = (out / "chains_replace_excess_logloss.csv").read_text().splitlines()[0]
    assert head == "# jaxcollapse family=logistic regime=replace metric=excess_logloss model=error n=60"
    again = tmp_path / "again"
    assert cli.main(["run", "--config", str(out / "config.toml"), "--out", str(again), "--quiet"]) == 0
    assert (again / "summary.csv").read_bytes() == (out / "summary.csv").read_bytes()
    fc = tmp_path / "forecast"
    assert cli.main(["forecast", str(out / "chains_replace_excess_logloss.csv"), "--out", str(fc), "--num-warmup",
                     "100", "--num-samples", "100", "--num-chains", "1"]) == 0
    assert "model: error (" in (fc / "summary.txt").read_text()
    capsys.readouterr()
    assert cli.main(["verify", "--list", "--family", "logistic"]) == 0
    listed = {ln.split()[0] for ln in capsys.readouterr().out.splitlines() if ln.startswith("logistic.")}
    assert listed == {n for n, c in verify.REGISTRY.items() if c.family == "logistic"} and len(listed) == 4
    import tomllib

    raw = tomllib.loads((REPO / "examples" / "sweeps" / "logistic.toml").read_text())
    raw.update(chains=8, generations=2)
    cfg = tmp_path / "logistic.toml"
    cfg.write_text(_toml(raw))
    sw = tmp_path / "sweep"
    assert cli.main(["sweep", str(cfg), "--out", str(sw), "--quiet"]) == 0
    ds = jc.open_sweep(sw)
    assert ds.attrs["complete"] and np.all(np.isfinite(ds["excess_logloss"].sel(stat="mean").values))


def _toml(raw: dict) -> str:
    lines = []
    for k, v in raw.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and not (v and isinstance(v[0], dict))):
            lines.append(f"{k} = {json.dumps(v)}")
    for k, v in raw.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{a} = {json.dumps(b)}" for a, b in v.items()]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append(f"[[{k}]]")
                lines += [f"{a} = {json.dumps(b)}" for a, b in item.items()]
    return "\n".join(lines) + "\n"
