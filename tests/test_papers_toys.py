"""The inputs of the reproduction kazdan2024_kde that its floor run (tests/test_papers.py) does not check on
its own: the population laws written as KDEs against scikit-learn's generators, and the real training data.
numpy and scikit-learn only (nothing compiles).

Statistical checks: a fixed seed, 200,000 generator draws, |z| < 4 on every first and second moment."""

from __future__ import annotations

import numpy as np
import pytest

from jaxcollapse.papers import kazdan2024_kde as kz

Z_BOUND = 4.0
DRAWS = 200_000


def _population_moments(pts, w, bw):
    """Mean and covariance of the KDE (points, weights, bandwidth), written out: the weighted points' moments plus
    the kernel bw^2 I."""
    w = w / w.sum()
    mean = w @ pts
    r = pts - mean
    return mean, (r * w[:, None]).T @ r + bw * bw * np.eye(2)


def _generator_draws(name, seed):
    from sklearn import datasets

    if name == "blobs":
        x, _, centres = datasets.make_blobs(n_samples=DRAWS, n_features=2, random_state=seed, return_centers=True)
        return x, centres
    if name == "circles":
        return datasets.make_circles(n_samples=DRAWS, noise=kz.NOISE, random_state=seed)[0], None
    if name == "moons":
        return datasets.make_moons(n_samples=DRAWS, noise=kz.NOISE, random_state=seed)[0], None
    return datasets.make_swiss_roll(n_samples=DRAWS, noise=kz.NOISE, random_state=seed)[0][:, [0, 2]], None


@pytest.mark.parametrize("name", kz.DATASETS)
def test_population_law_has_the_generators_moments(name):
    x, centres = _generator_draws(name, 7)
    mean, cov = _population_moments(*kz.population(name, np.zeros((0, 2)) if centres is None else centres))
    # first moments
    z = (x.mean(axis=0) - mean) / (x.std(axis=0, ddof=1) / np.sqrt(len(x)))
    assert np.all(np.abs(z) < Z_BOUND), (name, z)
    # second moments about the population mean: E (x_i - m_i)(x_j - m_j) = cov_ij
    r = x - mean
    for i, j in ((0, 0), (1, 1), (0, 1)):
        prod = r[:, i] * r[:, j]
        z = (prod.mean() - cov[i, j]) / (prod.std(ddof=1) / np.sqrt(len(x)))
        assert abs(z) < Z_BOUND, (name, i, j, z)


def test_population_grid_is_fine_against_the_noise():
    """The curve toys' grid spacing is below the noise 0.05 (the KDE is then a smooth curve law: a Gaussian
    comb of spacing s and width 0.05 ripples by ~2 exp(-2 pi^2 (0.05/s)^2) of its density)."""
    for name in ("circles", "moons", "swiss_roll"):
        pts, _, bw = kz.population(name, np.zeros((0, 2)))
        half = len(pts) // 2 if name != "swiss_roll" else len(pts)
        steps = [np.linalg.norm(np.diff(part, axis=0), axis=1).max() for part in (pts[:half], pts[half:]) if len(part)]
        assert max(steps) < bw, (name, max(steps))
        assert 2 * np.exp(-2 * np.pi**2 * (bw / max(steps)) ** 2) < 1e-5


def test_real_data_is_the_training_half_and_reproducible():
    for name in kz.DATASETS:
        a, ca = kz.real_data(name, 32, 3)
        b, cb = kz.real_data(name, 32, 3)
        c, _ = kz.real_data(name, 32, 4)
        assert a.shape == (32, 2) and np.array_equal(a, b) and np.array_equal(ca, cb)
        assert not np.array_equal(a, c)
        assert ca.shape == ((3, 2) if name == "blobs" else (0, 2))
    with pytest.raises(ValueError, match="unknown toy"):
        kz.real_data("spiral", 32, 0)
    with pytest.raises(ValueError, match="unknown toy"):
        kz.population("spiral", np.zeros((0, 2)))
