"""The `jaxcollapse.verify` registry: every check passes at reduced scale; the rules can fail; discovery.

Statistical rule (stated up front, the suite's own): |z| < `verify.Z_BOUND` = 4 for Monte Carlo means,
with a fixed key per check derived from the seed and the check's name; asymptotic formulas are checked
deterministically against the exact finite value (rule "gap", no randomness). The checks run here at
`SCALE` = 0.25 of their chain counts: the bound is unchanged, so power drops but the false-alarm rate
does not rise (about 440 z-comparisons x 6.3e-5 ~ 0.03 expected false alarms).
"""

from __future__ import annotations

import math
import pkgutil

import jax
import numpy as np
import pytest

import jaxcollapse
from jaxcollapse import cli, verify
from jaxcollapse.theory import gaussian as thg

SCALE = 0.25


# The default suite (its 6-minute limit on 2 cores, where each check's first run is mostly XLA compilation) runs one
# cheap check of each family below; `pytest -m slow` runs every registered check. The VAE's check runs by default
# through test_vae_check_runs_the_family_radius_code; the Poisson, bigram and regression closed forms are compared
# with simulations in their own test files (THEORY_TESTED_ELSEWHERE).
DEFAULT_CHECKS = frozenset({
    "gaussian.mle_variance", "categorical.fixation", "mixture.single_component", "kde.fixed_replace",
    "bayes.diversity_rate", "curation.gaussian_threshold", "scaling.strong_collapse_projection",
})
THEORY_TESTED_ELSEWHERE = {
    "vae": "test_vae_check_runs_the_family_radius_code",
    "poisson": "tests/test_poisson.py::test_extinction_run_and_prefix_invariance",
    "ngram": "tests/test_ngram.py::test_theory_against_enumeration",
    "regression": "tests/test_regression.py::test_exact_statistics_match_the_sample_path",
    "logistic": "tests/test_logistic.py::test_replace_against_exact_enumeration",
    # the closed forms of the reproductions' sources: a numpy simulation in their own test files, or the
    # reproduction run at its statistical floor (tests/test_papers.py) in the default suite
    "stability": "tests/test_suresh.py::test_augment_laws_against_a_numpy_simulation",
    "suresh": "tests/test_suresh.py::test_gaussian_tail_against_a_numpy_simulation",
    "golden_ratio": "tests/test_suresh.py::test_weighted_fresh_loop_against_a_numpy_simulation",
    "repair": "tests/test_repair.py::test_repair_checks_pass",
    # the affine refit = the Gaussian MLE (the premise of diffusion.gaussian_limit), trained and compared with the
    # sample moments and the closed-form optimum; the check itself (two engine runs) is in the slow set
    "diffusion": "tests/test_diffusion.py::test_affine_refit_is_the_gaussian_mle",
    # the unigram-table check's replicates at 64 chains (float32), with the held-out perplexity exactly and the check's
    # power; the registered check itself (4,000 chains, float64) is in the slow set
    "transformer": "tests/test_transformer.py::test_unigram_table_against_exact_expectations",
}


@pytest.mark.parametrize("name", [nm if nm in DEFAULT_CHECKS else pytest.param(nm, marks=pytest.mark.slow)
                                  for nm in sorted(verify.REGISTRY)])
def test_check_passes(name):
    comps = verify.run_checks([name], scale=SCALE)
    assert comps, f"{name} returned no comparisons"
    assert all(c.check == name for c in comps)
    assert all(math.isfinite(c.estimate) and math.isfinite(c.theory) for c in comps)
    assert any(c.rule == "z" for c in comps), "every check compares a simulation"
    assert all(c.stderr > 0 for c in comps if c.rule == "z")
    assert all(c.note for c in comps if c.rule == "gap"), "a gap comparison states its reason"
    assert verify.all_passed(comps), "\n" + verify.format_table(comps)


# --------------------------------------------------------------------------- discovery and registry
def test_default_checks_cover_every_family():
    assert DEFAULT_CHECKS <= set(verify.REGISTRY), DEFAULT_CHECKS - set(verify.REGISTRY)
    default = {verify.REGISTRY[nm].family for nm in DEFAULT_CHECKS}
    families = {c.family for c in verify.REGISTRY.values()}
    assert default | set(THEORY_TESTED_ELSEWHERE) >= families, "a family has no default check"


def test_every_family_module_is_discovered():
    """Each public module of the package is imported and registers checks under its own family name."""
    mods = sorted(m.name for m in pkgutil.iter_modules(verify.__path__) if not m.name.startswith("_"))
    assert {"gaussian", "categorical", "poisson", "ngram", "regression", "mixture", "kde", "vae"} <= set(mods)
    assert not hasattr(verify, "CHECK_MODULES")
    families = {c.family for c in verify.REGISTRY.values()}
    for mod in mods:
        assert mod in families, f"verify/{mod}.py registers no check of family {mod!r}"
        assert all(nm.startswith(mod + ".") for nm, c in verify.REGISTRY.items() if c.family == mod)


def test_registry_contents():
    gauss = [c for c in verify.REGISTRY.values() if c.family == "gaussian"]
    assert len(gauss) >= 18
    for c in verify.REGISTRY.values():
        assert c.source and c.description and callable(c.run)
    # the sample path is confirmed for every Gaussian regime
    for regime in ("replace", "accumulate", "fresh", "augment", "weighted", "drift"):
        assert f"gaussian.samples_{regime}" in verify.REGISTRY


# Public theory names that no check module names, each with the reason (every other closed form is named by a check).
NOT_CHECKED_DIRECTLY = {
    # logistic: the factors multiplying tr I^{-1}/n in the first-order curves (logistic.first_order) and the
    # existence condition of the MLE, tested against a brute-force separation search in tests/test_logistic.py
    "accumulate_bound_factor": "the pi^2/6 limit of accumulate_factor (tests/test_logistic.py)",
    "mixed_factor": "the mixed-regime factor of the first-order curves (tests/test_logistic.py)",
    "mle_exists": "a definition (no separating direction), tests/test_logistic.py brute force",
    "WFAbsorption": "the result type of wright_fisher_absorption (categorical.absorption_two_types)",
    "wright_fisher_matrix": "a definition, inside wright_fisher_absorption (categorical.absorption_two_types)",
    "chi_mean": "the factor of sigma_mean (gaussian.mle_sigma, gaussian.unbiased_replace)",
    "kde_scott_factor": "inside kde_scott_spread (kde.scott_replace)",
    "gaussian_overlap": "a term of mixture_l2sq (mixture.l2_closed_form)",
    "mixture_moments": "a definition (law of total variance) the family itself uses; checks compute it independently",
    "mp_stieltjes": "inside downstream_ridge_risk (regression.downstream_ridge, gap rule)",
    "ols_risk": "replace_risk = n ols_risk (regression.replace_fixed, regression.replace_fresh)",
    "rate_sample": "a term of collapse_rate (bayes.collapse_rate)",
    "rate_approx": "a term of collapse_rate (bayes.collapse_rate)",
    "state_marginals": "inside expected_transition_counts (ngram.expected_counts)",
    # no registered check: definitions of chain functionals, tested by enumeration in tests/test_ngram.py
    "entropy_rate": "a definition (Cover and Thomas), tests/test_ngram.py",
    "cross_entropy_rate": "a definition (Cover and Thomas), tests/test_ngram.py",
    "kl_rate": "a definition (Cover and Thomas), tests/test_ngram.py",
    "perplexity": "a definition (Cover and Thomas), tests/test_ngram.py",
    "mutual_information": "a definition (Cover and Thomas), tests/test_ngram.py",
    # no registered check: its mean and variance are (bayes.collapse_rate); the density itself is not compared
    "log_ratio_logpdf": "the density of ln(chi2_{n-1}/m); mean and variance checked by bayes.collapse_rate",
}


def test_every_closed_form_is_named_by_a_check():
    """Every public name of `jaxcollapse.theory` is used by some check module, or listed above with its reason."""
    import pathlib
    import re

    from jaxcollapse import theory

    src = "\n".join(p.read_text() for p in pathlib.Path(verify.__file__).parent.glob("*.py"))
    names = [nm for nm in theory.__all__ if nm not in theory.MODULES]
    missing = [nm for nm in names if nm not in NOT_CHECKED_DIRECTLY and not re.search(rf"\b{nm}\b", src)]
    assert not missing, f"closed forms with no registered check: {missing}"
    assert set(NOT_CHECKED_DIRECTLY) <= set(names), set(NOT_CHECKED_DIRECTLY) - set(names)


# --------------------------------------------------------------------------- a check registered from outside
def _bernoulli_heterozygosity(key, scale):
    """A toy Bernoulli family, simulated here with numpy: p_t = Binomial(n, p_{t-1}) / n, E[2 p_t (1 - p_t)] =
    (1 - 1/n)^t 2 p_0 (1 - p_0) (Wright-Fisher with two types)."""
    n, p0, ts, chains = 10, 0.3, (1, 5), verify.scaled_chains(20_000, scale)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
    p, out = np.full(chains, p0), []
    for t in range(1, max(ts) + 1):
        p = rng.binomial(n, p) / n
        if t in ts:
            h = 2.0 * p * (1.0 - p)
            out.append(verify.compare_z("toy_bernoulli.heterozygosity", "H", t,
                                        (1 - 1 / n) ** t * 2 * p0 * (1 - p0), h.mean(), h.std() / math.sqrt(h.size)))
    return out


@pytest.fixture
def toy_check():
    name = "toy_bernoulli.heterozygosity"
    verify.register(name, family="toy_bernoulli", source="Wright-Fisher (test)",
                    description="toy Bernoulli family: E H_t = (1 - 1/n)^t H_0")(_bernoulli_heterozygosity)
    try:
        yield name
    finally:
        verify.REGISTRY.pop(name, None)


def test_check_registered_outside_runs_through_run_checks_and_cli(toy_check, capsys):
    comps = verify.run_checks(family="toy_bernoulli", scale=SCALE)
    assert [c.check for c in comps] == [toy_check] * 2 and verify.all_passed(comps), verify.format_table(comps)
    assert cli.main(["verify", "--family", "toy_bernoulli", "--scale", str(SCALE)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == verify.RULES
    assert toy_check in out and out.strip().splitlines()[-1].endswith("all passed")
    assert cli.main(["verify", "--list", "--family", "toy_bernoulli"]) == 0
    assert toy_check in capsys.readouterr().out


# --------------------------------------------------------------------------- the rules can fail
def test_wrong_theory_fails_on_a_real_simulation():
    """An off-by-one in the generation count, or MLE and unbiased confused, is caught at reduced scale."""
    from jaxcollapse.verify import gaussian as g

    n = g._S_N
    with jaxcollapse.x64():
        traj = g._sim_samples(jax.random.key(7), SCALE)  # the configuration of gaussian.samples_replace
        ts = (5, 10)
        right = verify.means("demo", traj, "trace", ts, verify.theory_at(thg.mle_variance, ts, n, 1.0))
        # E sigma_5^2: 0.774 against 0.735 for t + 1, about 6 standard errors apart at this scale
        shifted = verify.means("demo", traj, "trace", (5,), verify.theory_at(thg.mle_variance, (6,), n, 1.0))
        unbiased = verify.means("demo", traj, "trace", ts, verify.theory_at(thg.unbiased_variance, ts, 1.0))
    assert verify.all_passed(right), verify.format_table(right)
    assert not any(c.passed for c in shifted), verify.format_table(shifted)
    assert not any(c.passed for c in unbiased), verify.format_table(unbiased)


def test_vae_check_runs_the_family_radius_code(monkeypatch):
    """`vae.coverage_truth` uses the family's own `knn_radius`: an off-by-one there (the (k-1)-th neighbour)
    shrinks every coverage ball and the check fails; the family's code as it is passes."""
    from jaxcollapse.families import _nets as fam
    from jaxcollapse.theory import vae as thv
    from jaxcollapse.verify import vae as cv

    exact = thv.coverage_mean(cv._N_REF, cv._N_FAKE, fam.KNN_K)
    with jaxcollapse.x64():
        c = cv.coverage_replicates(jax.random.key(3), "moons", 2, 2000)
        good = verify.compare_z("demo", "coverage", 0, exact, c.mean(), c.std(ddof=1) / math.sqrt(c.size))
        right = fam.knn_radius
        monkeypatch.setattr(fam, "knn_radius", lambda x, k: right(x, k - 1))
        c = cv.coverage_replicates(jax.random.key(3), "moons", 2, 2000)
        bad = verify.compare_z("demo", "coverage", 0, exact, c.mean(), c.std(ddof=1) / math.sqrt(c.size))
    assert good.passed, verify.format_table([good])
    assert not bad.passed, verify.format_table([bad])
    # and it is the function the family applies to its own reference set
    monkeypatch.setattr(fam, "knn_radius", right)
    with jaxcollapse.x64():
        data = jaxcollapse.datasets.toy(jax.random.key(1), "moons", cv._N_REF, k=2)
        vae = jaxcollapse.VAE(jax.random.key(0), data, steps=1)
        radii = fam.knn_radius(np.asarray(vae.ref), fam.KNN_K)
        np.testing.assert_allclose(np.asarray(vae.ref_radius), radii, rtol=1e-6)


def test_compare_rules():
    ok = verify.compare_z("c", "q", 3, 1.0, 1.01, 0.005)
    assert ok.rule == "z" and ok.bound == verify.Z_BOUND and ok.passed and ok.stat == pytest.approx(2.0)
    # the same estimate against a theory shifted by 5 standard errors fails
    bad = verify.compare_z("c", "q", 3, 1.01 - 5 * 0.005, 1.01, 0.005)
    assert not bad.passed and bad.stat == pytest.approx(5.0)
    assert not verify.compare_z("c", "q", 1, 1.0, math.nan, 0.1).passed
    assert not verify.compare_z("c", "q", 1, 1.0, math.inf, 0.1).passed
    assert verify.compare_z("c", "q", 1, 1.0, 1.0, 0.0).passed  # exact agreement with no noise
    assert not verify.compare_z("c", "q", 1, 1.0, 1.1, 0.0).passed
    gap = verify.compare_gap("c", "q", 9, 2.0, 2.05, 0.025, reason="a bound")
    assert gap.rule == "gap" and gap.passed and gap.stat == pytest.approx(0.025) and gap.note == "a bound"
    assert not verify.compare_gap("c", "q", 9, 2.0, 2.2, 0.04, reason="a bound").passed
    assert not verify.compare_gap("c", "q", 9, 0.0, 0.1, 0.04, reason="a bound").passed
    with pytest.raises(ValueError, match="reason"):
        verify.compare_gap("c", "q", 9, 2.0, 2.05, 0.04, reason="")


def test_gap_bounds_are_the_stated_inequalities():
    """The proved bounds behind three gap comparisons hold with the exact sums (and are not loose by 10x)."""
    from jaxcollapse.theory import categorical as thc

    for t in (10, 100, 1000):
        tail = math.pi**2 / 6 - sum(1.0 / j**2 for j in range(1, t + 1))
        assert 1.0 / (t + 1) < tail < 1.0 / t  # sum_{j>t} 1/j^2 between the integral bounds
    n, t = 5, 50
    with jaxcollapse.x64():
        exact = float(thc.heterozygosity_accumulate(t, n, 1.0)[0])
    gap = 1.0 - thc.heterozygosity_accumulate_limit(n, 1.0) / exact
    assert 0.9 / (n * t) < gap <= 1.0 / (n * t)


def test_format_table():
    comps = [
        verify.compare_z("gaussian.a", "trace", 1, 0.95, 0.951, 0.001),
        verify.compare_z("gaussian.a", "trace", 10, 0.6, 0.7, 0.001),
        verify.compare_gap("gaussian.long_check_name", "limit", 100, 0.1635, 0.1645, 0.01, reason="1/t"),
    ]
    text = verify.format_table(comps)
    lines = text.splitlines()
    head = lines[0].split()
    assert head[:6] == ["check", "quantity", "t", "theory", "simulation", "stderr"]
    assert "bound" in head and "result" in head
    body = lines[2:-1]
    assert len(body) == 3
    assert [ln.split()[-1] for ln in body] == ["PASS", "FAIL", "PASS"]
    assert "gap<=" in body[2] and "asym" in body[2]
    assert len({len(ln) for ln in lines[:2]}) == 1  # header and rule aligned
    summary = lines[-1]
    assert summary.startswith("2/3 comparisons passed in 2 checks")
    assert "|z| < 4" in summary and "FAILED: gaussian.a" in summary
    assert f"{2 * math.erfc(4 / math.sqrt(2)):.3f}" in summary  # the failure budget of the 2 z-comparisons
    assert verify.false_alarm_budget(comps) == pytest.approx(2 * math.erfc(4 / math.sqrt(2)))
    assert "deterministic gap on 1" in summary
    assert verify.all_passed(comps[:1]) and not verify.all_passed(comps) and not verify.all_passed([])
    assert "all passed" in verify.format_table(comps[:1]).splitlines()[-1]
    assert "|z|" in verify.RULES and "false-alarm" in verify.RULES and "gap" in verify.RULES


def test_run_checks_bad_input():
    with pytest.raises(ValueError, match="unknown check"):
        verify.run_checks(["gaussian.no_such_check"])
    with pytest.raises(ValueError, match="unknown family"):
        verify.run_checks(family="no_such_family")
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="scale"):
            verify.run_checks(["gaussian.mle_variance"], scale=bad)
    with pytest.raises(ValueError, match="already registered"):
        verify.register("gaussian.mle_variance", family="gaussian", source="x", description="x")(lambda k, s: [])
    with pytest.raises(ValueError, match="family"):
        verify.register("x.y", family="", source="x", description="x")


def test_keys_fixed_and_seeded():
    name = "gaussian.samples_replace"
    a = verify.run_checks([name], scale=SCALE, seed=0)
    b = verify.run_checks([name], scale=SCALE, seed=0)
    c = verify.run_checks([name], scale=SCALE, seed=1)
    assert [x.estimate for x in a] == [x.estimate for x in b]
    assert [x.estimate for x in a] != [x.estimate for x in c]
    k1, k2 = (np.asarray(jax.random.key_data(verify.check_key(0, nm))) for nm in (name, "gaussian.drift"))
    assert not np.array_equal(k1, k2)


def test_family_filter():
    # names and family combine (running a whole family here would repeat test_check_passes)
    comps = verify.run_checks(["gaussian.samples_replace"], family="gaussian", scale=SCALE)
    assert comps and all(c.check == "gaussian.samples_replace" for c in comps)
