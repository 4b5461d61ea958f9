"""The repair operators: self-correction (Gillman et al. 2024) and negative extrapolation (Neon, Alemohammad et al.
2025) as regime knobs.

Statistical rule, stated up front: the registered checks (`jaxcollapse.verify.repair`) compare every Monte Carlo
mean with the exact finite-t value at |z| < 4 with a fixed key; here one of them runs at a reduced scale (the bound
unchanged: less power, the same false-alarm rate). Everything else here is deterministic: validation before
compiling, "gamma = 0 changes nothing" (to rounding), reconstructions of the corrected and extrapolated models, the
closed forms against their raw recursions iterated step by step, the command line's knobs and the config round trip.
"""

from __future__ import annotations

import math
import tomllib

import jax
import numpy as np
import pytest
from conftest import run_cli

import jaxcollapse as jc
from jaxcollapse import engine, recipes, regimes, verify
from jaxcollapse import random as R
from jaxcollapse.theory import gaussian as thg
from jaxcollapse.theory import repair as th

SCALE = 0.05  # of the check's chain counts: 5,000 chains per point

# --------------------------------------------------------------------------- validation, before anything compiles


@pytest.mark.parametrize(("make", "match"), [
    (lambda: regimes.self_correct(regimes.replace(5), -0.1), r"correction = -0.1 is invalid.*>= 0"),
    (lambda: regimes.self_correct(regimes.replace(5), math.nan), r"correction = nan is invalid"),
    (lambda: regimes.self_correct(regimes.replace(5), "1"), r"correction = '1' is invalid.*>= 0"),
    (lambda: regimes.self_correct(regimes.replace(5), True), r"correction = True is invalid"),
    (lambda: regimes.extrapolate(regimes.augment(5, 1.0), 1.0), r"extrapolation = 1 is invalid.*\[0, 1\)"),
    (lambda: regimes.extrapolate(regimes.augment(5, 1.0), -0.2), r"extrapolation = -0.2 is invalid.*\[0, 1\)"),
    (lambda: regimes.extrapolate(regimes.replace(5), 0.5), r"regime 'replace' has no real data"),
    (lambda: regimes.extrapolate(regimes.accumulate(5), 0.5), r"regime 'accumulate' has no real data"),
    (lambda: regimes.extrapolate(regimes.weighted(5, 5, 0.5), 0.5), r"weight w would have no role"),
    (lambda: regimes.from_params({"regime": "fresh", "correction": -1.0}), r"correction = -1 is invalid"),
    (lambda: regimes.from_params({"regime": "augment", "extrapolation": 2.0}), r"extrapolation = 2 is invalid"),
    (lambda: regimes.from_params({"regime": "augment", "corection": 1.0}), r"did you mean 'correction'"),
])
def test_bad_knobs_are_refused_with_the_valid_range(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_family_without_the_capability_is_refused_before_compiling():
    with pytest.raises(ValueError, match="Poisson does not support self-correction"):
        engine.make_spec(jc.Poisson(2.0), regimes.self_correct(regimes.replace(5), 1.0), 3)
    with pytest.raises(ValueError, match="Categorical has no vector of parameters"):
        engine.make_spec(jc.Categorical.uniform(4), regimes.extrapolate(regimes.fresh(5, 5), 0.5), 3)
    with pytest.raises(NotImplementedError, match="supports_extrapolation"):
        jc.Poisson(2.0).extrapolate(jc.Poisson(1.0), 0.5)
    assert jc.Gaussian(0.0, 1.0).supports_correction and jc.Gaussian(0.0, 1.0).supports_extrapolation
    assert not jc.Poisson(2.0).supports_correction and not jc.Poisson(2.0).supports_extrapolation


def test_from_params_describe_and_off_by_default():
    off = regimes.from_params({"regime": "augment", "n_real": 10, "lam": 0.5, "correction": None})
    assert off.correction is None and off.extrapolation is None and "correction" not in off.describe()
    on = regimes.from_params({"regime": "augment", "n_real": 10, "lam": 0.5, "correction": 2, "extrapolation": 0.25})
    assert float(on.correction) == 2.0 and float(on.extrapolation) == 0.25
    assert "correction=2" in on.describe() and "extrapolation=0.25" in on.describe()
    # the knobs are traced: regimes that differ in them stack into one point axis (one compile)
    m = jc.Gaussian(0.0, 1.0)
    engine.stack_specs([engine.make_spec(m, regimes.self_correct(regimes.augment(10, 0.5), g), 4) for g in (0, 1)])
    # and a default run is untouched: no field set, the same pytree structure as before the knobs existed
    assert regimes.augment(10, 0.5).correction is None


def test_engine_salts_are_distinct():
    salts = [R.SALT_SAMPLES, R.SALT_REAL, R.SALT_SUBSAMPLE, R.SALT_INIT_REAL, R.SALT_FIT, R.SALT_CURATE,
             R.SALT_METRICS, R.SALT_CORRECT, R.SALT_CORRECT_TRUTH, R.SALT_EXTRAPOLATE]
    assert len(set(salts)) == len(salts)


# --------------------------------------------------------------------------- the operators themselves (no statistics)
def _first_step(key, spec, chains: int):
    """Generation 1 of `chains` chains through the public `init_chain` / `step_chain` pair (a small program, not a
    whole run): the new models, stacked over chains."""

    def one(c):
        state = engine.init_chain(engine.chain_stream(key, 0, c), spec)
        new, _ = engine.step_chain(engine.chain_stream(key, 1, c), state, np.int32(1), spec)
        return new.model

    return jax.jit(jax.vmap(one))(np.arange(chains, dtype=np.uint32))


@pytest.mark.parametrize("path", ["exact", pytest.param("samples", marks=pytest.mark.slow)])
def test_gamma_zero_changes_nothing(path):
    """gamma = 0 replaces no draw: the same model as no correction, to rounding (the model's draws read the same
    stream; the combination with the empty truth statistics, or the selection of the sample path, is another program,
    which XLA may fuse and contract differently: bit for bit at the suite's optimization level 0, within a few ulp at
    the default level)."""
    with jc.x64():
        m = jc.Gaussian(np.zeros(2), 1.5)
        base = regimes.augment(6, 1.0)
        key = jax.random.key(3)
        a = _first_step(key, engine.make_spec(m, base, 2, path=path), 8)
        b = _first_step(key, engine.make_spec(m, regimes.self_correct(base, 0.0), 2, path=path), 8)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-12, atol=1e-15)


def test_full_correction_trains_on_the_truth_draws():
    """gamma/(1+gamma) = 1 in float64 (gamma = 2^60): every synthetic row is the truth's draw from the stream
    `SALT_CORRECT_TRUTH`. Generation 1's fit is reconstructed from the public stream API: the fixed real set and
    those draws, fitted by maximum likelihood in numpy."""
    with jc.x64():
        truth = jc.Gaussian(np.array([0.3, -0.2]), np.array([[1.0, 0.3], [0.3, 0.5]]))
        start = jc.Gaussian(np.array([5.0, 5.0]), 0.1)  # far from the truth: its draws would show
        reg = regimes.self_correct(regimes.augment(4, 1.5), 2.0**60)
        key = jax.random.key(7)
        spec = engine.make_spec(start, reg, 1, truth=truth, path="samples")
        new = _first_step(key, spec, 3)
        real = np.asarray(engine.real_samples(key, spec, 3))
        for c in range(3):
            stream = engine.chain_stream(key, 1, c).fork(R.SALT_CORRECT_TRUTH)
            y = np.asarray(truth.draw_samples(stream, 6, np.ones(())))
            x = np.concatenate([real[c], y])
            np.testing.assert_allclose(np.asarray(new.mean[c]), x.mean(0), rtol=1e-12)
            np.testing.assert_allclose(np.asarray(new.cov[c]), np.cov(x.T, bias=True), rtol=1e-10)


@pytest.mark.slow
def test_extrapolation_is_the_affine_combination_of_the_two_fits():
    """Generation 1 under Neon, reconstructed: (1 + w) fit(real set) - w fit(the synthetic draws); mean estimator,
    so the covariance is known and only the mean moves."""
    with jc.x64():
        m = jc.Gaussian(np.array([1.0, 2.0]), 1.0, "mean")
        w, key = 0.4, jax.random.key(11)
        spec = engine.make_spec(m, regimes.extrapolate(regimes.augment(5, 1.0), w), 1, path="samples")
        new = _first_step(key, spec, 2)
        real = np.asarray(engine.real_samples(key, spec, 2))
        for c in range(2):
            syn = np.asarray(m.draw_samples(engine.chain_stream(key, 1, c).fork(R.SALT_SAMPLES), 5, np.ones(())))
            np.testing.assert_allclose(np.asarray(new.mean[c]), (1 + w) * real[c].mean(0) - w * syn.mean(0),
                                       rtol=1e-12)
            np.testing.assert_array_equal(np.asarray(new.cov[c]), np.eye(2))


def test_extrapolated_covariance_stays_in_the_cone():
    with jc.x64():
        real = jc.Gaussian(np.zeros(2), np.diag([1.0, 0.01]))
        syn = jc.Gaussian(np.ones(2), np.diag([0.5, 1.0]))
        out = real.extrapolate(syn, 0.9)
        np.testing.assert_allclose(np.asarray(out.mean), -0.9 * np.ones(2))
        np.testing.assert_allclose(np.asarray(out.cov), np.diag([1.9 - 0.45, 0.0]), atol=1e-15)  # -0.881 clipped
        inside = real.extrapolate(jc.Gaussian(np.zeros(2), np.diag([0.5, 0.005])), 0.5)
        np.testing.assert_allclose(np.asarray(inside.cov), np.diag([1.25, 0.0125]), rtol=1e-15)
        one = jc.Gaussian(0.0, 1.0).extrapolate(jc.Gaussian(0.0, 4.0), 0.5)
        assert float(one.cov[0, 0]) == 0.0


# --------------------------------------------------------------------------- closed forms against their recursions
def _correction_by_iteration(t_max, nr, ns, gamma, T, real, estimator):
    """The recursion of `correction_mean_sq_err`'s derivation, one step at a time (numpy)."""
    p = gamma / (1 + gamma)
    q = 1 - p
    a, b, s = (1.0, 0.0, 0.0) if real == "none" else (ns / (nr + ns), nr / (nr + ns), T / nr)
    e, c, out = 0.0, 0.0, [0.0]
    for _ in range(t_max):
        tr_prev = T - e if estimator == "mle" else T
        syn = (q * q + p * q / ns) * e + q * tr_prev / ns + p * T / ns
        e, c = b * b * s + 2 * a * b * q * c + a * a * syn, (b * s + a * q * c if real == "fixed" else 0.0)
        out.append(e)
    return np.array(out)


def _extrapolation_by_iteration(t_max, nr, ns, w, T, tau, real, estimator):
    s = T / nr
    U, X, V, e = s, -s, T, 0.0
    out, vs = [0.0], [T]
    for _ in range(t_max):
        noise = tau * tau * V / ns
        if real == "fixed":
            U, X = w * w * (U + noise), -w * X
            e = U + 2 * X + s
        else:
            e = (1 + w) ** 2 * s + w * w * (e + noise)
        if estimator == "mle":
            V = (1 + w) * (1 - 1 / nr) * T - w * tau * tau * (1 - 1 / ns) * V
        out.append(e)
        vs.append(V)
    return np.array(out), np.array(vs)


@pytest.mark.parametrize("real", ["fixed", "fresh", "none"])
@pytest.mark.parametrize("estimator", ["mle", "mean"])
def test_correction_closed_form_solves_its_recursion(real, estimator):
    t = np.arange(61)
    with jc.x64():
        for gamma in (0.0, 0.3, 1.0, 7.0):
            want = _correction_by_iteration(60, 12, 7, gamma, 3.0, real, estimator)
            got = np.asarray(th.correction_mean_sq_err(t, 12, 7, gamma, 3.0, real=real, estimator=estimator))
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
            stat = float(th.correction_stationary_mean_sq_err(12, 7, gamma, 3.0, real=real, estimator=estimator))
            if real == "none" and estimator == "mean" and gamma == 0.0:
                assert stat == math.inf  # the mean's random walk (A = 1): no stationary error
                continue
            long = _correction_by_iteration(3000, 12, 7, gamma, 3.0, real, estimator)[-1]
            assert stat == pytest.approx(long, rel=1e-10)
            if gamma == 0.0 and real != "none":  # no correction: the toolkit's mixed-data formula
                mixed = thg.mixed_mean_sq_err(t, 12, 7, 7 / 19, 3.0, real=real, estimator=estimator)
                np.testing.assert_allclose(got, np.asarray(mixed), rtol=1e-12, atol=1e-15)
        if estimator == "mle":
            np.testing.assert_allclose(np.asarray(th.correction_trace(t, 12, 7, 1.0, 3.0, real=real)),
                                       3.0 - _correction_by_iteration(60, 12, 7, 1.0, 3.0, real, "mle"), rtol=1e-12)
        # a strength without bound: every synthetic draw is the truth's, the fresh-data error b^2 s + a^2 T/n_s
        a, b = (1.0, 0.0) if real == "none" else (7 / 19, 12 / 19)
        lim = b * b * 3.0 / 12 + a * a * 3.0 / 7
        big = float(th.correction_stationary_mean_sq_err(12, 7, 1e12, 3.0, real=real, estimator=estimator))
        assert big == pytest.approx(lim, rel=1e-9)


@pytest.mark.parametrize("real", ["fixed", "fresh"])
@pytest.mark.parametrize("estimator", ["mle", "mean"])
def test_extrapolation_closed_form_solves_its_recursion(real, estimator):
    t = np.arange(81)
    with jc.x64():
        for w, tau in ((0.0, 1.0), (0.2, 0.9), (0.7, 1.0), (0.9, 1.05)):
            want, vs = _extrapolation_by_iteration(80, 15, 9, w, 2.5, tau, real, estimator)
            got = np.asarray(th.extrapolation_mean_sq_err(t, 15, 9, w, 2.5, tau=tau, real=real, estimator=estimator))
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15)
            long, long_v = _extrapolation_by_iteration(4000, 15, 9, w, 2.5, tau, real, estimator)
            stat = th.extrapolation_stationary_mean_sq_err(15, 9, w, 2.5, tau=tau, real=real, estimator=estimator)
            assert float(stat) == pytest.approx(long[-1], rel=1e-10)
            if estimator == "mle":
                np.testing.assert_allclose(np.asarray(th.extrapolation_trace(t, 15, 9, w, 2.5, tau=tau)), vs,
                                           rtol=1e-12)
                assert float(th.extrapolation_stationary_trace(15, 9, w, 2.5, tau=tau)) == pytest.approx(long_v[-1])
        if real == "fixed":  # w = 0 is the fit to the real set alone: e_t = T/n_r from the first generation on
            np.testing.assert_allclose(np.asarray(th.extrapolation_mean_sq_err(t[1:], 15, 9, 0.0, 2.5, real=real,
                                                                               estimator=estimator)), 2.5 / 15)


def test_the_unbiased_weight_and_the_clip_bound():
    with jc.x64():
        w = float(th.extrapolation_unbiased_weight(40, 60, 0.8))
        assert 0 < w < 1
        assert float(th.extrapolation_stationary_trace(40, 60, w, 3.0, tau=0.8)) == pytest.approx(3.0, rel=1e-13)
        assert float(th.extrapolation_unbiased_weight(40, 60, 1.0)) < 0  # no mode-seeking: no w >= 0 unbiases
        # the bound decreases in n and increases in w and tau
        b = [float(th.extrapolation_clip_bound(n, n, w_, tau)) for n, w_, tau in
             ((50, 0.5, 0.9), (100, 0.5, 0.9), (50, 0.3, 0.9), (50, 0.5, 1.0))]
        assert b[1] < b[0] and b[2] < b[0] < b[3] and all(0 < x < 1e-3 for x in b)


# --------------------------------------------------------------------------- against simulation (registered checks)
def test_repair_checks_pass():
    """`repair.extrapolation` (1-D MLE at tau = 0.9, a fixed real set, w in {0, w*, 0.5}) at a reduced scale. The
    self-correction's exact path is checked against its closed forms in the default suite by the Gillman et al.
    reproduction at its floor (tests/test_papers.py: E|mu_500 - mu*|^2 and E tr Sigma_500 for eight strengths, |z| < 4),
    its sample path by `test_full_correction_trains_on_the_truth_draws`; every repair check runs in the slow tier
    (tests/test_verify.py::test_check_passes)."""
    comps = verify.run_checks(["repair.extrapolation"], scale=SCALE)
    assert comps and all(c.stderr > 0 for c in comps if c.rule == "z")
    assert verify.all_passed(comps), "\n" + verify.format_table(comps)


# --------------------------------------------------------------------------- recipes and the command line
def test_recipes_offer_exactly_their_families_knobs():
    """A recipe offers a repair knob if and only if the family it builds declares the capability."""
    for name in recipes.names():
        recipe = recipes.get(name)
        schema = recipe.schema()
        if "correction" not in schema and "extrapolation" not in schema:
            continue
        model, _, _ = recipe.build({**recipe.defaults(), "regime": "replace"})
        assert ("correction" in schema) == type(model).supports_correction, name
        assert ("extrapolation" in schema) == type(model).supports_extrapolation, name
    offered = {nm for nm in recipes.names() if "correction" in recipes.get(nm).schema()}
    assert "gaussian" in offered
    for nm in recipes.names():  # every other recipe's default regime runs without the knobs
        params = recipes.get(nm).resolve({})
        assert params.get("correction") is None and params.get("extrapolation") is None


def test_a_config_with_the_knobs_reads_back_the_same(tmp_path):
    """The schema round trip without running: the config `jaxcollapse run` writes for resolved parameters with both
    knobs set reads back (TOML) to the same parameters and the same regimes."""
    from jaxcollapse.cli.run import config_toml

    recipe = recipes.get("gaussian")
    params = recipe.resolve({"regimes": ["augment", "fresh"], "correction": 0.75, "extrapolation": 0.2, "dim": 2})
    built = {r: recipe.build({**params, "regime": r})[2] for r in params["regimes"]}
    text = config_toml(recipe, params, built, None)
    raw = tomllib.loads(text)
    values = {k: v for k, v in raw.items() if k != "family" and not isinstance(v, dict)} | raw.get("gaussian", {})
    again = recipe.resolve(values)
    assert again == params and raw["correction"] == 0.75 and raw["extrapolation"] == 0.2
    assert [recipe.build({**again, "regime": r})[2].describe() for r in again["regimes"]] == \
        [b.describe() for b in built.values()]
    off = config_toml(recipe, recipe.resolve({}), {}, None)
    assert "# correction not set" in off and "# extrapolation not set" in off


@pytest.mark.slow
def test_cli_knobs_write_a_config_that_reruns(tmp_path):
    out = tmp_path / "a"
    argv = ["run", "--family", "gaussian", "--regime", "augment", "--dim", "2", "--n-real", "8", "--lam", "0.5",
            "--correction", "0.5", "--generations", "3", "--chains", "16", "--paths-chains", "4", "--out", str(out),
            "--quiet"]
    code, _, err = run_cli(argv)
    assert code == 0, err
    conf = tomllib.loads((out / "config.toml").read_text())
    assert conf["correction"] == 0.5 and "extrapolation" not in conf
    assert "# extrapolation not set" in (out / "config.toml").read_text()
    code, _, err = run_cli(["run", "--config", str(out / "config.toml"), "--out", str(tmp_path / "b"), "--quiet"])
    assert code == 0, err
    assert (out / "summary.csv").read_bytes() == (tmp_path / "b" / "summary.csv").read_bytes()


@pytest.mark.parametrize(("flags", "message"), [
    (["--correction", "-1"], "correction must be a number >= 0"),
    (["--extrapolation", "1"], "extrapolation must be a number in [0, 1)"),
    (["--regime", "replace", "--extrapolation", "0.5"], "regime 'replace' has no real data"),
])
def test_cli_bad_knobs_exit_2_and_write_nothing(flags, message, tmp_path):
    out = tmp_path / "o"
    code, _, err = run_cli(["run", "--family", "gaussian", *flags, "--generations", "2", "--chains", "8",
                            "--out", str(out)])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_sweep_over_the_strength_is_one_compiled_group(monkeypatch):
    """The knobs are traced: a sweep's grid over gamma (or w) plans into one static group, vmapped in one compile."""
    from jaxcollapse import sweep

    def refuse(*a, **k):
        raise AssertionError("planning only: nothing may compile here")

    monkeypatch.setattr(sweep, "_chunk_run", refuse)
    base = {"generations": 5, "chains": 16, "seed": 0, "metrics": ["mean_sq_err"], "chunk": 4,
            "params": {"regime": "augment", "n_real": 10, "lam": 0.5}}
    for axis, values in (("correction", [0.0, 0.1, 1.0, 5.0]), ("extrapolation", [0.0, 0.3, 0.6, 0.9])):
        plan = sweep.plan(sweep.SweepConfig.from_dict({**base, "grid": {axis: values}}))
        assert [len(g.indices) for g in plan.groups] == [4], axis
    with pytest.raises(ValueError, match="correction"):
        sweep.plan(sweep.SweepConfig.from_dict({**base, "grid": {"correction": [0.5, -1.0]}}))
