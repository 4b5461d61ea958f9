"""`jaxcollapse.theory.scaling` (Dohmatob et al. 2024, "A tale of tails"; Dohmatob et al. 2025, "Strong model
collapse"): the exact formulas against independent computations (enumeration, Beta moments, special cases),
the asymptotic ones against the exact values (deterministic), bad input, and the power of the Monte Carlo
check (a wrong formula is rejected).

Statistical rule (stated up front, the suite's own): |z| < 4 for a Monte Carlo mean against its exact value, a
fixed seed. The simulations against these closed forms run in `jaxcollapse.verify` (checks ``scaling.*``) and in
the two reproductions (`tests/test_papers.py`, at their floors, in the default suite).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import special, stats

from jaxcollapse.theory import categorical as thc
from jaxcollapse.theory import scaling as th
from jaxcollapse.verify import scaling as vs

Z_BOUND = 4.0


# --------------------------------------------------------------------------- a tale of tails
@pytest.mark.parametrize("k, T", [(1, 2), (2, 3), (3, 4)])
def test_tail_cut_error_by_enumeration(k, T):
    """Every sequence of T draws from the cut law, its probability and the Zipf mass it leaves unseen."""
    beta = 2.0
    p = np.arange(1, k + 1, dtype=np.float64) ** -beta / (math.pi**2 / 6)  # zeta(2) = pi^2 / 6
    q = p / p.sum()
    tail = 1.0 - p.sum()  # the mass beyond k, never generated
    expected = 0.0
    for seq in itertools.product(range(k), repeat=T):
        prob = np.prod(q[list(seq)])
        unseen = [i for i in range(k) if i not in seq]
        expected += prob * (p[unseen].sum() + tail)
    assert math.isclose(float(th.tail_cut_test_error(T, k, beta)), expected, rel_tol=1e-12)


def test_tail_cut_edge_cases_and_plateau():
    beta = 1.5
    assert float(th.tail_cut_test_error(0, 7, beta)) == pytest.approx(1.0, rel=1e-12)  # nothing learned
    p1 = 1.0 / special.zeta(beta)
    assert float(th.tail_cut_test_error(5, 1, beta)) == pytest.approx(1.0 - p1, rel=1e-12)
    assert float(th.zipf_tail_mass(0, beta)) == pytest.approx(1.0, rel=1e-12)
    # the plateau: the exact error falls to the mass beyond k (T >> k^beta), and never below it
    k = 20
    e = th.tail_cut_test_error(np.array([10, 1000, 10**7]), k, beta)
    plateau = float(th.zipf_tail_mass(k, beta))
    assert np.all(np.diff(e) < 0) and np.all(e >= plateau)
    assert e[-1] == pytest.approx(plateau, rel=1e-12)
    # broadcasting over T and k
    assert th.tail_cut_test_error(np.array([[10], [100]]), np.array([5, 50]), beta).shape == (2, 2)


def test_tail_cut_law_constants_and_regimes():
    beta = 2.0
    T = np.array([10.0, 1e3, 1e5])
    # no cut: the clean law is Hutter's, the categorical module's asymptotic missing mass
    np.testing.assert_allclose(th.tail_cut_scaling_law(T, np.inf, beta), thc.zipf_mass_lost_asymptotic(T, beta),
                               rtol=1e-14)

    def gap(T, k):
        return abs(float(th.tail_cut_scaling_law(T, k, beta)) / float(th.tail_cut_test_error(T, k, beta)) - 1)

    # the law is asymptotic on both sides of the crossover T ~ k^beta: its gap shrinks deeper in either regime
    assert gap(1e3, 1e3) > gap(1e3, 1e4) > gap(1e3, 1e5)  # data-limited, T/k^2 -> 0
    assert gap(1e6, 100) > gap(1e8, 100) > gap(1e10, 100)  # plateau, T/k^2 -> inf
    assert gap(1e3, 1e5) < 1e-3 and gap(1e10, 1000) < 0.015


# --------------------------------------------------------------------------- strong model collapse
def test_strong_collapse_special_cases():
    d, s1, s2, c2 = 5, 1.3, 0.4, 0.7
    # no synthetic rows: the clean OLS risk; no real rows: a fit of w2 (the whole shift, plus its noise)
    assert float(th.strong_collapse_risk(40, 0, d, c2, s1, s2)) == pytest.approx(s1**2 * d / (40 - d - 1), rel=1e-14)
    assert float(th.strong_collapse_risk(0, 40, d, c2, s1, s2)) == pytest.approx(c2 + s2**2 * d / (40 - d - 1),
                                                                                 rel=1e-14)
    # d = 1: the shift's factor is G2 / G ~ Beta(n2/2, n1/2), whose second moment scipy gives
    for n1, n2 in ((7, 5), (30, 2)):
        beta2 = stats.beta(n2 / 2, n1 / 2).moment(2)
        noise = (n1 * s1**2 + n2 * s2**2) / ((n1 + n2) * (n1 + n2 - 2))
        assert float(th.strong_collapse_risk(n1, n2, 1, c2, s1, s2)) == pytest.approx(noise + c2 * beta2, rel=1e-12)


def test_projection_of_full_size_is_plain_least_squares():
    """m = d: S is square and invertible, the model is OLS in x, whatever the norms of w1 and w2."""
    n1, n2, d, c2 = np.array([20, 9]), np.array([10, 3]), 6, 0.8
    full = th.strong_collapse_projection_risk(n1, n2, d, d, 2.0, 3.5, c2, 0.7, 1.1)
    np.testing.assert_allclose(full, th.strong_collapse_risk(n1, n2, d, c2, 0.7, 1.1), rtol=1e-13)


def test_plateaus_and_proportional_limit():
    c2, p = 0.5, 0.2
    gaps = []
    for n in (10**3, 10**5, 10**7):
        n2 = round(p * n)
        exact = float(th.strong_collapse_risk(n - n2, n2, 8, c2, 1.0, 2.0))
        gaps.append(exact / float(th.strong_collapse_plateau(p, c2)) - 1.0)
    assert gaps[0] > gaps[1] > gaps[2] > 0 and gaps[2] < 1e-4  # the floor p^2 c^2, approached from above
    # the proportional limit: d/n = 1/4 fixed, d growing
    prop = float(th.strong_collapse_proportional_risk(0.25, p, c2, 1.0, 2.0))
    rel = [abs(float(th.strong_collapse_risk(4 * d - round(4 * d * p), round(4 * d * p), d, c2, 1.0, 2.0)) / prop - 1)
           for d in (10, 100, 1000)]
    assert rel[0] > rel[1] > rel[2] and rel[2] < 2e-3
    # random projections: the synthetic part of the floor grows with the model size
    floors = th.strong_collapse_projection_plateau(50, np.array([10, 25, 50]), p, 1.0, c2)
    np.testing.assert_allclose(floors - th.strong_collapse_projection_plateau(50, np.array([10, 25, 50]), 0.0, 1.0, c2),
                               np.array([10, 25, 50]) / 50 * p * p * c2, rtol=1e-14)


@pytest.mark.parametrize("call, message", [
    (lambda: th.tail_cut_test_error(10, 5, 1.0), "beta must be a finite number > 1"),
    (lambda: th.tail_cut_test_error(-1, 5, 2.0), "T must be an integer >= 0"),
    (lambda: th.tail_cut_test_error(10, 0, 2.0), "k must be an integer >= 1"),
    (lambda: th.tail_cut_test_error(10.5, 5, 2.0), "T must be an integer"),
    (lambda: th.tail_cut_scaling_law(0, 5, 2.0), "T must be a number > 0"),
    (lambda: th.zipf_tail_mass(-1, 2.0), "k must be an integer >= 0"),
    (lambda: th.strong_collapse_risk(3, 2, 4, 1.0), "n_real \\+ n_synthetic >= d \\+ 2"),
    (lambda: th.strong_collapse_risk(30, 2, 4, -1.0), "shift_sq must be a number >= 0"),
    (lambda: th.strong_collapse_risk(30, 2, 4, 1.0, noise_synthetic=-0.1), "noise_synthetic must be"),
    (lambda: th.strong_collapse_plateau(1.5, 1.0), "p_synthetic must lie in \\[0, 1\\]"),
    (lambda: th.strong_collapse_proportional_risk(1.0, 0.1, 1.0), "phi = d/n must lie in \\[0, 1\\)"),
    (lambda: th.strong_collapse_projection_risk(30, 2, 4, 5, 1.0, 1.0, 1.0), "m must lie in \\[1, d\\]"),
    (lambda: th.strong_collapse_projection_risk(3, 2, 10, 5, 1.0, 1.0, 1.0), ">= m \\+ 2"),
    (lambda: vs.zipf_cut_models(11, 10, 2.0), "the cut k must be an integer in \\[1, kmax\\]"),
])
def test_bad_input_names_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- the Monte Carlo check has power
def test_projection_monte_carlo_agrees_and_rejects_a_wrong_formula():
    """The verify check's own simulation (numpy: rows, projections, least squares): it agrees with the exact risk
    (|z| < 4) and rejects the formula without its finite-n cross term (the p(1-p) term), |z| > 4."""
    w1, w2 = vs._rp_weights()
    n1, n2, d, m = vs._RP_N1, vs._RP_N2, vs._RP_D, 8
    r = vs.projection_risks(np.random.default_rng(7), 20_000, n1, n2, (m,), w1, w2, vs._RP_NOISE1, vs._RP_NOISE2)[0]
    mean, se = r.mean(), r.std() / math.sqrt(r.size)
    a, b, c2 = w1 @ w1, w2 @ w2, (w2 - w1) @ (w2 - w1)
    exact = float(th.strong_collapse_projection_risk(n1, n2, d, m, a, b, c2, vs._RP_NOISE1, vs._RP_NOISE2))
    assert abs(mean - exact) / se < Z_BOUND
    n = n1 + n2
    cross = (m / d) * c2 * n1 * n2 * (n + 1) * (m - 1) / (n * (n - 1) * (n + 2) * (n - m - 1))
    assert abs(mean - (exact - cross)) / se > Z_BOUND
