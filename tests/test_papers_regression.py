"""Accumulate-subsample linear regression (no closed form) against an independent numpy re-implementation of Kazdan
et al.'s protocol, and the reproduction's exact-path grid against its closed forms at small sizes.

The numpy chain below is written from the protocol as the paper (and its code) describes it, not from
jaxcollapse: a fixed n x d Gaussian design X; real labels y = X w* + sigma eps; each iteration fits
w = pinv(X_s) y_s on n rows drawn without replacement from every (design row, label) pair so far, then appends
n new labels X w + sigma eps on the same design. Its Monte Carlo mean of |w_t - w*|^2 (the test error's
expectation for an isotropic design) is compared with ours: two independent means, z on their difference with
both standard errors, |z| < 4 (stated up front; fixed keys and seeds).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxcollapse.papers import gerstgrasser2024_regression as R

Z_BOUND = 4.0


def numpy_accumulate_subsample(d: int, n: int, sigma2: float, generations: int, reps: int, seed: int) -> np.ndarray:
    """|w_t - w*|^2 for t = 1..generations, shape (reps, generations): Kazdan et al.'s Accumulate-Subsample chain,
    `reps` independent repetitions vectorised over the first axis (w* = ones(d), so |w*|^2 = d)."""
    rng = np.random.default_rng(seed)
    sigma = math.sqrt(sigma2)
    w_star = np.ones(d)
    X0 = rng.standard_normal((reps, n, d))  # the fixed design of each repetition
    X_all = X0.copy()
    Y_all = X0 @ w_star + sigma * rng.standard_normal((reps, n))
    out = np.empty((reps, generations))
    rows = np.arange(reps)[:, None]
    for g in range(generations):
        # n of the accumulated rows, uniformly without replacement: the n smallest of independent uniform keys
        pick = np.argsort(rng.random(X_all.shape[:2]), axis=1)[:, :n]
        w = np.einsum("rdn,rn->rd", np.linalg.pinv(X_all[rows, pick]), Y_all[rows, pick])
        out[:, g] = np.sum((w - w_star) ** 2, axis=1)
        Y_new = np.einsum("rnd,rd->rn", X0, w) + sigma * rng.standard_normal((reps, n))
        X_all = np.concatenate([X_all, X0], axis=1)
        Y_all = np.concatenate([Y_all, Y_new], axis=1)
    return out


def _compare(d, n, sigma2s, generations, chains, reps, times, x64=False):
    mean, se, _ = R.run_subsample(jax.random.key(0), d, n, chains, sigma2s=sigma2s, generations=generations, x64=x64)
    for j, s2 in enumerate(sigma2s):
        ref = numpy_accumulate_subsample(d, n, s2, generations, reps, seed=1234 + j)
        for t in times:
            m_np = ref[:, t - 1].mean()
            se_np = ref[:, t - 1].std(ddof=1) / math.sqrt(reps)
            z = (mean[j, t] - m_np) / math.hypot(se[j, t], se_np)
            assert abs(z) < Z_BOUND, (d, n, s2, t, mean[j, t], se[j, t], m_np, se_np, z)


def test_accumulate_subsample_matches_numpy_protocol_small():
    """d = 3, n = 10 (min-norm never: n > d + 1), 25 generations: 1,000 chains against 1,000 numpy repetitions."""
    _compare(3, 10, (1.0,), 25, 1000, 1000, (1, 5, 25))


@pytest.mark.slow
@pytest.mark.parametrize("d, n", [(10, 32), (32, 100), (3, 316)])
def test_accumulate_subsample_matches_numpy_protocol(d, n):
    """The reproduction's sizes: 100 generations, every sigma^2 (one compiled call), float32 as the reproduction."""
    _compare(d, n, R.SIGMA2S, R.GENERATIONS, 256, 256, (1, 10, 100))


def test_exact_grid_agrees_with_the_closed_forms_and_scales_with_sigma2():
    """One compiled call serves every (n, sigma^2) of a d; the means agree with replace_risk where n > d + 1, and the
    sigma^2 columns are proportional chain by chain (common random numbers, an error linear in sigma^2)."""
    from jaxcollapse._config import x64
    from jaxcollapse.theory import regression as th

    d, ns, s2s, G = 3, (10, 32), (0.1, 1.0, 10.0), 20
    t = np.arange(G + 1)
    # replace only in the default tier (accumulate_fixed_risk has its own check in jaxcollapse.verify.regression, and
    # the full reproduction compares both at every point of the grid)
    for regime, fn in (("replace", th.replace_risk),):
        mean, se, med = R.run_exact(jax.random.key(3), regime, d, 2000, ns=ns, sigma2s=s2s, generations=G)
        for i, n in enumerate(ns):
            for j, s2 in enumerate(s2s):
                with x64():
                    theory = np.asarray(fn(t, n, d, math.sqrt(s2)), np.float64)
                z = (mean[i, j, 1:] - theory[1:]) / se[i, j, 1:]
                assert np.all(np.abs(z) < Z_BOUND), (regime, n, s2, z)
            np.testing.assert_allclose(mean[i, 2, 1:] / mean[i, 1, 1:], 10.0, rtol=1e-9)
            np.testing.assert_allclose(med[i, 0, 1:] / med[i, 1, 1:], 0.1, rtol=1e-9)
