"""The population-genetics yardstick (`benchmarks/popgen.py`): the temporal method and the exact HMM.

Rules, stated up front:

- Exactness (deterministic): the second moments behind the temporal method are compared with their exact
  values by enumeration of a small Wright–Fisher chain and its binomial samples, and the HMM's forward
  algorithm with a sum over every hidden path; both to 1e-12 relative.
- Recovery (one large dataset, fixed seed): the true N_e lies inside the estimator's interval at level
  1 - 6.3e-5, the |z| < 4 rule (the HMM: the likelihood-ratio statistic at the truth is below 16 = 4^2;
  the temporal method: Waples's chi-square interval at that level). The same rule rejects N_e/2 and 2 N_e.
- Coverage (many small datasets): the number of 90% intervals that hold the truth lies in the central range
  of Binomial(M, 0.9) of probability >= 0.998, which tolerates sampling noise and nothing more.

The data are haploid Wright–Fisher populations drawn with numpy (`rng.binomial`), independent of the code
under test; the toolkit's own categorical chains (`jaxcollapse.simulate`) feed the slow test.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("popgen", ROOT / "benchmarks" / "popgen.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("popgen", mod)
    spec.loader.exec_module(mod)
    return mod


pg = _load()
Z4 = 1.0 - math.erfc(4.0 / math.sqrt(2.0))  # the level of a |z| < 4 interval: 1 - 6.3e-5


def binom_range(m: int, p: float = 0.9, mass: float = 0.998) -> tuple[int, int]:
    a = (1 - mass) / 2
    return int(stats.binom.ppf(a, m, p)), int(stats.binom.isf(a, m, p))


def wright_fisher(rng, n: int, p0: np.ndarray, generations: int) -> np.ndarray:
    """Population frequencies `(..., generations + 1)` of haploid Wright–Fisher chains started at `p0`."""
    x = np.asarray(p0, np.float64)
    out = [x]
    for _ in range(generations):
        x = rng.binomial(n, x) / n
        out.append(x)
    return np.stack(out, axis=-1)


# --------------------------------------------------------------------------- exactness
def test_temporal_moments_exact_by_enumeration():
    """E(x - y)^2 = h0 F and E z(1 - z) = h0 (1 - F/4), F = 1 - lam^t + lam^t/S_t + 1/S_0: the derivation's two
    moments, and `drift_from_fs` maps their ratio back to the drift 1 - lam^t exactly."""
    N, t, S0, St, i0 = 7, 3, 4, 5, 2
    P = np.linalg.matrix_power(pg.wf_matrix(N), t)[i0]  # law of the count at t
    x0 = i0 / N
    kx, ky = np.arange(S0 + 1), np.arange(St + 1)
    px = stats.binom.pmf(kx, S0, x0)
    sq, zz = 0.0, 0.0
    for j in range(N + 1):
        py = stats.binom.pmf(ky, St, j / N)
        x, y = (kx / S0)[:, None], (ky / St)[None, :]
        w = P[j] * px[:, None] * py[None, :]
        z = 0.5 * (x + y)
        sq += np.sum(w * (x - y) ** 2)
        zz += np.sum(w * z * (1 - z))
    lam = 1 - 1 / N
    h0 = x0 * (1 - x0)
    F = 1 - lam**t + lam**t / St + 1 / S0
    assert sq == pytest.approx(h0 * F, rel=1e-12)
    assert zz == pytest.approx(h0 * (1 - F / 4), rel=1e-12)
    d = pg.drift_from_fs(sq / zz, 1 / S0 + 1 / St, 1 / St)
    assert d == pytest.approx(1 - lam**t, rel=1e-12)
    assert pg.ne_from_drift(d, t) == pytest.approx(N, rel=1e-10)


def test_hmm_matches_a_sum_over_every_hidden_path():
    """The forward algorithm equals the brute-force likelihood (uniform initial count, an unsampled generation)."""
    counts = np.array([[1, 0, 2, 3], [2, 0, 0, 1]], np.float64)  # 2 loci x 4 generations
    sizes = np.array([2, 0, 3, 3], np.float64)
    grid = np.array([2, 3, 4])
    got = pg.hmm_loglik(counts, sizes, grid)
    for g, N in enumerate(grid):
        P = pg.wf_matrix(int(N))
        total = 0.0
        for k, s in zip(counts, [sizes, sizes], strict=True):
            like = 0.0
            for path in itertools.product(range(N + 1), repeat=len(s)):
                w = 1.0 / (N + 1)
                for t, i in enumerate(path):
                    if t:
                        w *= P[path[t - 1], i]
                    w *= stats.binom.pmf(k[t], s[t], i / N)
                like += w
            total += math.log(like)
        assert got[g] == pytest.approx(total, rel=1e-12)


def test_profile_interval_reads_a_parabola():
    """On an exactly quadratic profile in ln N the MLE and the Wilks interval are recovered to interpolation error."""
    grid = pg.default_grid(10, 1000, 0.02)
    x, m, sd = np.log(grid), math.log(120.0), 0.1
    out = pg.profile_interval(grid, -0.5 * ((x - m) / sd) ** 2, level=0.9)
    half = stats.norm.ppf(0.95) * sd
    assert out["N"] == pytest.approx(120.0, rel=1e-9)
    assert out["lo"] == pytest.approx(math.exp(m - half), rel=2e-3)
    assert out["hi"] == pytest.approx(math.exp(m + half), rel=2e-3)
    edge = pg.profile_interval(grid, -0.5 * ((x - math.log(900.0)) / 0.5) ** 2)
    assert edge["hi"] == math.inf  # the interval runs past the grid's end: open


# --------------------------------------------------------------------------- recovery
N_TRUE, S, T = 40, 40, 10
GRID = np.union1d(pg.default_grid(8, 200, 0.03), [N_TRUE // 2, N_TRUE, 2 * N_TRUE])


@pytest.fixture(scope="module")
def big():
    """One dataset of 400 loci: N = 40, samples of 40 genes at generations 0..10, initial frequencies 0.2..0.8."""
    rng = np.random.default_rng(17)
    p0 = pg.initial_frequencies(400, N_TRUE)
    counts = rng.binomial(S, wright_fisher(rng, N_TRUE, p0, T)).astype(np.float64)
    return counts, np.full_like(counts, S)


def test_hmm_recovers_ne_and_rejects_wrong_sizes(big):
    counts, sizes = big
    ll = pg.hmm_loglik(counts, sizes, GRID)
    i = {int(N): j for j, N in enumerate(GRID)}
    top = ll.max()
    lr = {N: 2 * (top - ll[i[N]]) for N in (N_TRUE // 2, N_TRUE, 2 * N_TRUE)}
    assert lr[N_TRUE] < 16.0, lr  # |z| < 4
    assert lr[N_TRUE // 2] > 16.0 and lr[2 * N_TRUE] > 16.0, lr


def test_temporal_recovers_ne_and_rejects_wrong_sizes(big):
    counts, sizes = big
    out = pg.temporal(counts, sizes, level=Z4)
    assert out["lo"] < N_TRUE < out["hi"], out
    assert not out["lo"] < N_TRUE / 2 < out["hi"] and not out["lo"] < 2 * N_TRUE < out["hi"], out


def test_ninety_percent_intervals_cover():
    """60 datasets of 40 loci: the HMM's Wilks interval and the temporal chi-square interval each cover N = 40."""
    M = 60
    rng = np.random.default_rng(23)
    p0 = pg.initial_frequencies(40, N_TRUE)
    counts = rng.binomial(S, wright_fisher(rng, N_TRUE, np.broadcast_to(p0, (M, 40)), T)).astype(np.float64)
    sizes = np.full_like(counts, S)
    lo, hi = binom_range(M)
    hmm = pg.hmm_estimate(counts, sizes, GRID)
    tmp = pg.temporal(counts, sizes)
    for name, a, b in (("hmm", hmm["lo"], hmm["hi"]), ("temporal", tmp["lo"], tmp["hi"])):
        hits = int(np.sum((a <= N_TRUE) & (N_TRUE <= b)))
        assert lo <= hits <= hi, (name, hits, (lo, hi))


def test_bad_input():
    with pytest.raises(ValueError, match="counts must be integers"):
        pg.temporal(np.array([[3.0, 7.0]]), 5)
    with pytest.raises(ValueError, match="grid"):
        pg.hmm_loglik(np.array([[1.0, 2.0]]), 4, [0, 5])
    with pytest.raises(ValueError, match="two samples"):
        pg.temporal(np.array([[1.0]]), 4)


@pytest.mark.slow
def test_hmm_recovers_the_categorical_refit_size():
    """The toolkit's categorical chains under replace(n) are Wright–Fisher with N_e = n: the HMM finds n = 40."""
    p0 = pg.initial_frequencies(200, N_TRUE)
    freqs = pg.simulate_frequencies(5, N_TRUE, T, p0, 2)  # (2, 200, T + 1)
    counts = np.random.default_rng(5).binomial(S, freqs).astype(np.float64)
    ll = pg.hmm_loglik(counts, np.full_like(counts, S), GRID)
    i = int(np.flatnonzero(GRID == N_TRUE)[0])
    assert np.all(2 * (ll.max(axis=1) - ll[:, i]) < 16.0), ll.max(axis=1) - ll[:, i]
