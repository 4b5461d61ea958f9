"""The `jaxcollapse.verify` registry: every check passes at reduced scale; the rules can fail.

Statistical rule (stated up front, the suite's own): |z| < `verify.Z_BOUND` = 4 for exact results,
with a fixed key per check derived from the seed and the check's name. The checks run here at
`SCALE` = 0.25 of their chain counts (25k-50k chains): the bound is unchanged, so power drops
but the false-alarm rate does not rise (about 180 z-comparisons x 6.3e-5 ~ 0.011 expected).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import jaxcollapse
from jaxcollapse import theory as th
from jaxcollapse import verify

SCALE = 0.25


@pytest.mark.parametrize("name", sorted(verify.REGISTRY))
def test_check_passes(name):
    comps = verify.run_checks([name], scale=SCALE)
    assert comps, f"{name} returned no comparisons"
    assert all(c.check == name for c in comps)
    assert all(math.isfinite(c.estimate) and math.isfinite(c.theory) for c in comps)
    assert all(c.stderr > 0 for c in comps)
    assert verify.all_passed(comps), "\n" + verify.format_table(comps)


def test_registry_contents():
    gauss = [c for c in verify.REGISTRY.values() if c.family == "gaussian"]
    assert len(gauss) >= 14
    for c in gauss:
        assert c.name in verify.REGISTRY and c.source and c.description and callable(c.run)
    assert sum(name.startswith("gaussian.samples_") for name in verify.REGISTRY) >= 2  # the sample path


def test_wrong_theory_fails_on_a_real_simulation():
    """An off-by-one in the generation count, or MLE and unbiased confused, is caught at reduced scale."""
    n = verify._S_N
    with jaxcollapse.x64():
        traj = verify._sim_samples(jax.random.key(7), SCALE)  # the configuration of gaussian.samples_replace
        ts = (5, 10)
        right = verify._means("demo", traj, "trace", ts, verify._theory(th.mle_variance, ts, n, 1.0))
        # E sigma_5^2: 0.774 against 0.735 for t + 1, about 6 standard errors apart at this scale
        shifted = verify._means("demo", traj, "trace", (5,), verify._theory(th.mle_variance, (6,), n, 1.0))
        unbiased = verify._means("demo", traj, "trace", ts, verify._theory(th.unbiased_variance, ts, 1.0))
    assert verify.all_passed(right), verify.format_table(right)
    assert not any(c.passed for c in shifted), verify.format_table(shifted)
    assert not any(c.passed for c in unbiased), verify.format_table(unbiased)


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
    rel = verify.compare_rel("c", "q", 9, 2.0, 2.05, 0.01, bound=0.04)
    assert rel.rule == "rel" and rel.passed and rel.stat == pytest.approx(0.025)
    assert not verify.compare_rel("c", "q", 9, 2.0, 2.2, 0.01, bound=0.04).passed


def test_format_table():
    comps = [
        verify.compare_z("gaussian.a", "trace", 1, 0.95, 0.951, 0.001),
        verify.compare_z("gaussian.a", "trace", 10, 0.6, 0.7, 0.001),
        verify.compare_rel("gaussian.long_check_name", "limit", 100, 0.1645, 0.1635, 5e-4, bound=0.04),
    ]
    text = verify.format_table(comps)
    lines = text.splitlines()
    head = lines[0].split()
    assert head[:6] == ["check", "quantity", "t", "theory", "simulation", "stderr"]
    assert "bound" in head and "result" in head
    body = lines[2:-1]
    assert len(body) == 3
    assert [ln.split()[-1] for ln in body] == ["PASS", "FAIL", "PASS"]
    assert len({len(ln) for ln in lines[:2]}) == 1  # header and rule aligned
    summary = lines[-1]
    assert summary.startswith("2/3 comparisons passed in 2 checks")
    assert "|z| < 4" in summary and "FAILED: gaussian.a" in summary
    assert f"{2 * math.erfc(4 / math.sqrt(2)):.3f}" in summary  # the failure budget of the 2 z-comparisons
    assert "relative tolerance on 1" in summary
    assert verify.all_passed(comps[:1]) and not verify.all_passed(comps) and not verify.all_passed([])
    assert "all passed" in verify.format_table(comps[:1]).splitlines()[-1]


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


def test_keys_fixed_and_seeded():
    name = "gaussian.samples_replace"
    a = verify.run_checks([name], scale=SCALE, seed=0)
    b = verify.run_checks([name], scale=SCALE, seed=0)
    c = verify.run_checks([name], scale=SCALE, seed=1)
    assert [x.estimate for x in a] == [x.estimate for x in b]
    assert [x.estimate for x in a] != [x.estimate for x in c]
    k1, k2 = (np.asarray(jax.random.key_data(verify._check_key(0, nm))) for nm in (name, "gaussian.drift"))
    assert not np.array_equal(k1, k2)


def test_family_filter():
    # names and family combine (running a whole family here would repeat test_check_passes)
    comps = verify.run_checks(["gaussian.samples_replace"], family="gaussian", scale=SCALE)
    assert comps and all(c.check == "gaussian.samples_replace" for c in comps)
