r"""Checks of the neural families' yardstick (`jaxcollapse.VAE` metrics) against `jaxcollapse.theory.neural`.

`neural.coverage_truth`: at generation 0 a VAE is the truth (data mode), so its ``coverage`` metric
(Naeem et al. 2020, $k = 5$) must have the exact mean `theory.neural.coverage_mean(N, M, k)`. Each
replicate draws a fresh reference set of $N = 32$ points from the toy and $M = 32$ model samples, both
exact; the replicates are vmapped through `VAE.metrics` (one compiled program for the two toys).
Rule ``"z"``: the mean over replicates with its standard error, $|z| <$ `verify.Z_BOUND`. At the test
suite's scale (5,000 replicates) the limit $1 - 2^{-5}$ is about 10 standard errors away: the finite-$N$
formula is what passes.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import datasets
from ..families.vae import KNN_K, VAE
from ..random import Stream
from ..theory import neural as th
from ..verify import _chains, _keys, compare_z, register

_N_REF, _N_FAKE = 32, 32
_TOYS = (("moons", 2), ("mixture", 6))


def _knn_radii(xs: np.ndarray) -> np.ndarray:
    """`_knn_radius` of every reference set in the batch `xs` (replicates, N, d), vectorized."""
    sq = np.sum(xs * xs, axis=2)
    d2 = np.maximum(sq[:, :, None] + sq[:, None, :] - 2 * np.einsum("rid,rjd->rij", xs, xs), 0.0)
    i = np.arange(xs.shape[1])
    d2[:, i, i] = np.inf
    return np.sqrt(np.partition(d2, KNN_K - 1, axis=2)[:, :, KNN_K - 1])


@eqx.filter_jit
def _draw_refs(base: VAE, raw, replicates: int):
    return jax.vmap(lambda c: datasets.toy_sample(Stream(raw, c), base.toy_kind, _N_REF, base.gen_params,
                                                  base.n_classes, base.noise, base.dtype))(
        jnp.arange(replicates, dtype=jnp.uint32))


@eqx.filter_jit
def _coverage(base: VAE, xs, labels, radii, fake_keys):
    def one(x, lab, r, k):
        m = eqx.tree_at(lambda m: (m.ref, m.ref_labels, m.ref_radius), base, (x, lab, r))
        return m.metrics(m, Stream(k, jnp.zeros((), jnp.uint32)))["coverage"]
    return jax.vmap(one)(xs, labels, radii, fake_keys)


def coverage_replicates(key, toy: str, classes: int, replicates: int) -> np.ndarray:
    """Generation-0 coverage of `replicates` independent (reference set, model sample) pairs."""
    kd, kr, kf = jax.random.split(key, 3)
    base = VAE(jax.random.key(0), datasets.toy(kd, toy, _N_REF, k=classes), n_eval=_N_FAKE, steps=1)
    xs, labels = _draw_refs(base, jax.random.key_data(kr), replicates)
    radii = jnp.asarray(_knn_radii(np.asarray(xs, np.float64)), base.dtype)
    fake_keys = jax.vmap(jax.random.key_data)(jax.random.split(kf, replicates))
    return np.asarray(_coverage(base, xs.astype(base.dtype), labels, radii, fake_keys), np.float64)


@register("neural.coverage_truth", family="neural",
          source="Naeem et al. 2020 (ICML), expected coverage of identical distributions; derived here",
          description="VAE generation 0 (the truth): E coverage = 1 - C(N-1, k)/C(N+M-1, k), N = M = 32, k = 5, "
                      "moons and a 6-component mixture")
def _coverage_truth(key, scale):
    name = "neural.coverage_truth"
    reps = _chains(20_000, scale)
    theory = th.coverage_mean(_N_REF, _N_FAKE, KNN_K)
    out = []
    for k, (toy, classes) in zip(_keys(key, len(_TOYS)), _TOYS, strict=True):
        c = coverage_replicates(k, toy, classes, reps)
        out.append(compare_z(name, f"coverage {toy}", 0, theory, c.mean(), c.std(ddof=1) / np.sqrt(c.size)))
    return out
