"""The pieces of the heavy Shumailov et al. reproductions (`shumailov2024_gmm`, `shumailov2024_vae`): the mixture run
at a few generations, the VAE's sample grid; the full runs (2,000 EM generations; 10 VAE generations) are in the slow
tier of tests/test_papers.py.

Statistical checks use a fixed key and |z| < 4 (stated up front).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from jaxcollapse.papers import shumailov2024_gmm as gmm
from jaxcollapse.papers import shumailov2024_vae as vae

Z_BOUND = 4.0


def test_gmm_run_follows_the_spread_law_and_starts_at_the_blob():
    """The reproduction's EM setup (N = 1000, random start, tol 1e-5) for 8 generations: the mixture's spread
    follows the spread law (|z| < 4), the L2 distance to generation 0 is 0 at t = 0 and positive after, and the
    component spreads come out per generation and chain."""
    run = gmm.run_mixture(jax.random.key(1), 32, generations=8)
    tr, curve = run.trajs["replace"], run.curves["replace"]
    z = (tr.mean("spread")[1:] - curve["spread"][1:]) / tr.stderr("spread")[1:]
    assert np.all(np.abs(z) < Z_BOUND), z
    l2 = tr.mean("l2sq")
    assert l2[0] == 0.0 and np.all(l2[1:] > 0)
    major, minor = gmm.component_spreads(tr.params)
    assert major.shape == minor.shape == (9, 32)
    # at t = 0 both components are the blob's N(0, I): trace 2
    np.testing.assert_allclose(major[0], 2.0, rtol=1e-6)
    np.testing.assert_allclose(minor[0], 2.0, rtol=1e-6)
    # the mixture's total spread is the weighted components' plus the spread of their means (law of total variance)
    w = np.asarray(tr.params.weights, np.float64)[8]
    m = np.asarray(tr.params.means, np.float64)[8]
    c = np.trace(np.asarray(tr.params.covs, np.float64)[8], axis1=-2, axis2=-1)
    mbar = np.einsum("ck,ckd->cd", w, m)
    total = np.einsum("ck,ck->c", w, c) + np.einsum("ck,ckd->c", w, (m - mbar[:, None, :]) ** 2)
    assert math.isclose(total.mean(), tr.mean("spread")[8], rel_tol=1e-4)


def test_vae_sample_grid():
    """The sample grid reads chain 0's model of each generation from recorded parameters (leading axes generation,
    chain): one real digit per class at generation 0, the decoder's mean in [0, 1] after. Built from untrained VAEs
    (no engine run: the 10-generation run is the slow tier's)."""
    import jax.numpy as jnp

    from jaxcollapse import VAE, datasets

    digits = datasets.digits()
    models = [VAE(jax.random.key(i), digits, latent=vae.PARAMS["latent"], width=8, depth=1) for i in range(2)]
    params = jax.tree.map(lambda *a: jnp.stack(a)[:, None], models[0], models[0], models[1])  # (generation, chain, ...)
    grid = vae.sample_grid(params, (0, 1, 2), jax.random.key(3), cols=10)
    assert grid.shape == (3, 10, 8, 8)
    assert np.all((grid >= 0) & (grid <= 1))
    for c in range(10):
        first = int(np.flatnonzero(digits.labels == c)[0])
        np.testing.assert_allclose(grid[0, c].ravel(), np.clip(digits.x[first], 0, 1))
    z = jax.random.normal(jax.random.key(3), (10, vae.PARAMS["latent"]))
    for g, m in ((1, models[0]), (2, models[1])):
        np.testing.assert_allclose(grid[g].reshape(10, 64), np.clip(np.asarray(m.dec(z)), 0, 1), rtol=1e-6)
