"""Forecast coverage (`jaxcollapse.bayes.forecast_coverage`) and the per-family reliability flag.

Statistical rules, stated up front:

- Nominal coverage: on draws from the spread model's own law (numpy's chi-square: the exact
  log-chi-square walk of a Gaussian MLE refit, n_eff = 50, kappa = 1), the coverage of each central interval at the last
  generation passes when |coverage - level| / se < `Z_BOUND` = 4, se the function's own standard error
  (the larger of the binomial and the between-dataset one). Each dataset's posterior rests on 200 pairs,
  so the frequentist coverage of the Bayesian predictive differs from nominal by O(1/200), far below 4 se.
  The nominal half has 15 datasets x 20 chains; the chains of a dataset share its posterior, so the se (about
  0.02 at 90%, 0.04 at 50%) is above the binomial one: the check detects a coverage off by more than ~0.08 at
  90% and ~0.17 at 50%.
- A deliberately misspecified input must be flagged: chains with their own kappa (ln kappa_c ~ N(0, 0.2^2)),
  which the pooled spread model does not have, give a 90% coverage at the last generation below 0.80
  (`verdict` "misspecified: under-covers"), by more than 4 se.
- The per-family table (`benchmarks/calibration.py`) runs under `-m slow`; the default tier checks that the
  recipes' declared `forecast_reliable` agree with the published table, and that ``jaxcollapse forecast``
  carries the flag into every output (a tiny CSV of a test recipe marked unreliable).

All keys are fixed.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import math
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxcollapse import bayes, cli, recipes
from jaxcollapse.recipes import Recipe, run_params

Z_BOUND = 4.0
SAMPLER = dict(num_warmup=300, num_samples=300, num_chains=2)
CHAINS, GENS, K, PER, N = 600, 20, 10, 20, 50.0
ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "results" / "calibration.csv"


def _walk(log_ratios: np.ndarray) -> np.ndarray:
    """(generations + 1, chains) values from (chains, generations) log ratios, starting at 1."""
    return np.vstack([np.ones((1, log_ratios.shape[0])), np.exp(np.cumsum(log_ratios.T, axis=0))])


@pytest.fixture(scope="module")
def exact():
    """Chains of the spread model's exact law (n_eff = 50, kappa = 1): the first half as drawn, the second half with
    a kappa of each chain's own (ln kappa_c ~ N(0, 0.2^2)), the same chi-square draws."""
    rng = np.random.default_rng(11)
    y = np.log(rng.chisquare(N - 1, (CHAINS, GENS)) / N)  # ln(chi2_{n-1}/n): the MLE's variance ratio, kappa = 1
    lk = 0.2 * rng.standard_normal(CHAINS)
    return _walk(y), _walk(y + lk[:, None])


def test_exact_law_covers_at_nominal_rates_and_heterogeneity_is_flagged(exact):
    """One call (one NUTS run) on 30 datasets: 15 of the exact law, then 15 of per-chain kappas; the Coverage of
    each half is the same dataclass restricted to its datasets."""
    good, bad = exact
    half = CHAINS // 2
    both = np.concatenate([good[:, :half], bad[:, half:]], axis=1)
    cov = bayes.forecast_coverage(jax.random.key(13), both, "spread", k=K, per=PER, draws=600, **SAMPLER)
    D = CHAINS // PER
    assert cov.kind == "predictive" and cov.datasets == D and cov.per == PER
    assert cov.hits.shape == (2, D, GENS - K, PER)
    assert cov.scored[-1] == CHAINS and list(cov.generations) == list(range(K + 1, GENS + 1))
    ok = dataclasses.replace(cov, hits=cov.hits[:, : D // 2], datasets=D // 2)
    for level in (0.5, 0.9):
        c, se = ok.at(level)
        assert se >= math.sqrt(c * (1 - c) / ok.scored[-1]) > 0 and abs(c - level) / se < Z_BOUND, ok.summary()
    assert ok.verdict == "calibrated" and ok.calibrated

    # a kappa of each chain's own: the pooled model's fan is too narrow far ahead
    mis = dataclasses.replace(cov, hits=cov.hits[:, D // 2:], datasets=D - D // 2)
    c90, se90 = mis.at(0.9)
    assert (0.80 - c90) / se90 > Z_BOUND, mis.summary()
    assert mis.verdict == "misspecified: under-covers" and not mis.calibrated
    assert "misspecified" in mis.summary()


def test_mean_forecasts_are_scored_against_the_conditional_expectation():
    """The diversity and error models forecast an expected value; `mean_reference` estimates it from the other
    datasets. On exact Wright-Fisher chains (numpy multinomial, K = 3, n = 20) E[H_{k+h} | H_k] = H_k (1 - 1/n)^h
    (the categorical's exact mean law), so the leave-one-out ratio of dataset 0 estimates (1 - 1/n)^h: |z| < 4
    with the ratio estimator's delta-method standard error over those chains. An additive series gets its exact
    increment back."""
    rng = np.random.default_rng(21)
    n, chains, gens, k, per = 20, 4000, 6, 3, 100
    p = np.full((chains, 3), 1 / 3)
    H = np.empty((gens + 1, chains))
    H[0] = 1 - np.sum(p * p, axis=1)
    for t in range(gens):
        p = rng.multinomial(n, p) / n
        H[t + 1] = 1 - np.sum(p * p, axis=1)
    ref = bayes.mean_reference(H, "diversity", k=k, per=per, datasets=chains // per)
    assert ref.shape == (gens - k, chains // per)
    others = H[:, per:]
    for h in range(1, gens - k + 1):
        q = (1 - 1 / n) ** h
        resid = others[k + h] - q * others[k]
        se = resid.std(ddof=1) / math.sqrt(resid.size) / others[k].mean()
        assert abs(ref[h - 1, 0] - q) / se < Z_BOUND, (h, ref[h - 1, 0], q, se)
    e = 0.3 * np.arange(gens + 1)[:, None] + rng.standard_normal((1, 400))  # e_t = 0.3 t + a chain offset
    inc = bayes.mean_reference(e, "error", k=k, per=40, datasets=10)
    np.testing.assert_allclose(inc, 0.3 * np.arange(1, gens - k + 1)[:, None] * np.ones((1, 10)), rtol=1e-12)


@pytest.mark.parametrize("kw, match", [
    (dict(k=0, per=PER), "k = 0 is invalid"),
    (dict(k=GENS, per=PER), "1 <= k <= G - 1"),
    (dict(k=K), "give per"),
    (dict(k=K, per=CHAINS), "per = 600 is invalid"),
    (dict(k=K, datasets=1), "datasets = 1 is invalid"),
    (dict(k=K, per=PER, n_eff=20.0), "n_eff is used by the diversity model only"),
    (dict(k=K, per=PER, levels=(0.5, 1.0)), "levels must lie in"),
])
def test_bad_input_one_value_error_before_compute(exact, kw, match):
    with pytest.raises(ValueError, match=match):
        bayes.forecast_coverage(jax.random.key(0), exact[0], "spread", **kw)
    with pytest.raises(ValueError, match="needs n_eff"):
        bayes.forecast_coverage(jax.random.key(0), exact[0], "diversity", k=K, per=PER)


# --------------------------------------------------------------------------- the published table and the flags
def _calibration_module():
    spec = importlib.util.spec_from_file_location("calibration_bench", ROOT / "benchmarks" / "calibration.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _table() -> list[dict]:
    with TABLE.open(newline="") as f:
        return list(csv.DictReader(row for row in f if not row.startswith("#")))


def test_declared_flags_agree_with_the_measured_table():
    """Every family the table measured declares forecast_reliable exactly where every row of its declared model is
    'calibrated', and an unreliable one quotes a measured 90% coverage of its table in its caveat (the flags come
    from the measurement, `benchmarks/calibration.py`)."""
    rows = _table()
    verdicts = _calibration_module().family_verdicts(rows)
    measured = {f: ok for f, ok in verdicts.items() if f in recipes.names()}
    assert {"gaussian", "categorical", "regression"} <= set(measured)
    for fam, ok in measured.items():
        rec = recipes.get(fam)
        assert rec.forecast_reliable == ok, (fam, [r["verdict"] for r in rows if r["family"] == fam])
        mine = [r for r in rows if r["family"] == fam and r["role"] == "declared"]
        assert all(r["model"] == rec.bayes and r["metric"] == rec.headline[0] for r in mine)
        if not rec.forecast_reliable:
            assert any(f"{float(r['coverage90']):.2f}" in rec.forecast_caveat for r in mine), rec.forecast_caveat
            assert bayes.family_caveat(fam).startswith(f"the forecast of family {fam!r} is marked unreliable")
        else:
            assert bayes.family_caveat(fam) == ""


class _Unreliable(Recipe):
    """A recipe of this test only, marked unreliable (its build is never called: the CSV is written here)."""

    name = "test_unreliable_forecast"
    params = run_params(n=20, generations=5, chains=4, drift=False)
    metric_names = ("trace",)
    headline = ("trace",)
    bayes = "spread"
    forecast_reliable = False
    forecast_caveat = "measured 90% coverage 0.42 +- 0.01 (a test recipe)"

    def build(self, params):
        raise NotImplementedError


def test_an_unreliable_family_says_so_in_every_output(exact, tmp_path, capsys):
    """`jaxcollapse forecast` of a CSV whose family is marked unreliable: the printed summary, summary.txt and the
    first line of forecast.csv carry the caveat; a Forecast with the caveat says so in its summary and in its
    figure's title and note; without it, none of them does."""
    with pytest.raises(TypeError, match="needs forecast_caveat"):
        recipes.register(type("NoReason", (_Unreliable,), {"name": "test_no_reason", "forecast_caveat": ""}))
    recipes.register(_Unreliable)
    try:
        v = exact[0][:, :40]
        f = tmp_path / "chains_replace_trace.csv"
        with f.open("w") as fh:
            fh.write(f"# jaxcollapse family={_Unreliable.name} regime=replace metric=trace model=spread n=50\n")
            fh.write("generation," + ",".join(f"chain_{i}" for i in range(v.shape[1])) + "\n")
            for t, row in enumerate(v):
                fh.write(f"{t}," + ",".join(repr(float(x)) for x in row) + "\n")
        out = tmp_path / "fc"
        argv = ["forecast", str(f), "--out", str(out), "--horizon", "5", "--num-warmup", "300", "--num-samples",
                "400", "--num-chains", "2"]
        assert cli.main(argv) == 0
        text = capsys.readouterr().out
        caveat = f"the forecast of family '{_Unreliable.name}' is marked unreliable: {_Unreliable.forecast_caveat}"
        assert f"warning: {caveat}" in text
        assert f"warning: {caveat}" in (out / "summary.txt").read_text()
        lines = (out / "forecast.csv").read_text().splitlines()
        assert lines[0] == f"# jaxcollapse forecast warning: {caveat}" and lines[1].startswith("generation,")
        rows = np.loadtxt(out / "forecast.csv", delimiter=",", comments="#", skiprows=2)
        assert rows.shape == (6, 6)

        # the library: the caveat of a family (none for gaussian, measured calibrated), on a Forecast's summary and
        # figure (a Forecast built by hand: the fit behind it is what the command above ran)
        assert bayes.family_caveat(_Unreliable.name) == caveat and bayes.family_caveat("gaussian") == ""
        with pytest.raises(ValueError, match="unknown family"):
            bayes.family_caveat("gausian")
        gens = np.arange(GENS, GENS + 6)
        paths = np.exp(np.cumsum(np.log(np.random.default_rng(3).chisquare(49, (200, 6)) / 50), axis=1))
        fc = bayes.Forecast(gens, paths, None, None, "predictive", "spread", caveat=caveat)
        assert f"warning: {caveat}" in fc.summary(warnings=False)
        fig = bayes.forecast_fan(fc, v)
        assert "MARKED UNRELIABLE" in fig.axes[0].get_title()
        assert any(_Unreliable.forecast_caveat in " ".join(t.get_text().split()) for t in fig.texts)
        plain = dataclasses.replace(fc, caveat="")
        assert "unreliable" not in plain.summary()
        assert "MARKED" not in bayes.forecast_fan(plain, v).axes[0].get_title()
    finally:
        recipes.unregister(_Unreliable.name)


# --------------------------------------------------------------------------- the per-family table (slow)
@pytest.mark.slow
@pytest.mark.parametrize("family", ["gaussian", "categorical", "regression", "poisson", "logistic", "ngram"])
def test_per_family_coverage_matches_the_published_table(family):
    """The benchmark's run of `family` (its documented configuration and seed) reproduces the published verdicts,
    and its coverages lie within 4 standard errors of the published ones (the same seed and sizes; equal up to
    the compiler's floating-point path)."""
    mod = _calibration_module()
    pub = {mod.row_key(r): r for r in _table()}
    rows = mod.run_family(family)
    assert rows
    for r in rows:
        p = pub[mod.row_key(r)]
        assert r["verdict"] == p["verdict"], (r, p)
        for lv in ("50", "90"):
            se = max(float(p[f"se{lv}"]), r[f"se{lv}"], 1e-3)
            assert abs(r[f"coverage{lv}"] - float(p[f"coverage{lv}"])) < Z_BOUND * se, (lv, r, p)
