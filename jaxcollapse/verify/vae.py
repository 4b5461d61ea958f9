r"""Checks of the VAE family's yardstick (`jaxcollapse.VAE` metrics) against `jaxcollapse.theory.vae`.

`vae.coverage_truth`: at generation 0 a VAE is the truth (data mode), so its ``coverage`` metric
(Naeem et al. 2020, $k = 5$) must have the exact mean `theory.vae.coverage_mean(N, M, k)`. Each
replicate draws a fresh reference set of $N = 32$ points from the toy and $M = 32$ model samples, both
exact. Each replicate's coverage radii come from the family's own `knn_radius` (the function that
`VAE.__init__` applies to its reference set) and are placed in a VAE with its reference set; the
replicates are vmapped through `VAE.metrics` (one compiled program for the two toys).
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
from ..families import _nets as _family
from ..families.vae import KNN_K, VAE
from ..random import Stream
from ..theory import vae as th
from ._core import compare_z, keys, register, scaled_chains

_N_REF, _N_FAKE = 32, 32
_TOYS = (("moons", 2), ("mixture", 6))


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
    # the family's own radius code (the one VAE.__init__ uses for its reference set), on each replicate's set
    radii = jnp.asarray(np.stack([_family.knn_radius(x, KNN_K) for x in np.asarray(xs, np.float64)]), base.dtype)
    fake_keys = jax.vmap(jax.random.key_data)(jax.random.split(kf, replicates))
    return np.asarray(_coverage(base, xs.astype(base.dtype), labels, radii, fake_keys), np.float64)


@register("vae.coverage_truth", family="vae",
          source="Naeem et al. 2020 (ICML), expected coverage of identical distributions; derived here",
          description="VAE generation 0 (the truth): E coverage = 1 - C(N-1, k)/C(N+M-1, k), N = M = 32, k = 5, "
                      "moons and a 6-component mixture")
def _coverage_truth(key, scale):
    name = "vae.coverage_truth"
    reps = scaled_chains(20_000, scale)
    theory = th.coverage_mean(_N_REF, _N_FAKE, KNN_K)
    out = []
    for k, (toy, classes) in zip(keys(key, len(_TOYS)), _TOYS, strict=True):
        c = coverage_replicates(k, toy, classes, reps)
        out.append(compare_z(name, f"coverage {toy}", 0, theory, c.mean(), c.std(ddof=1) / np.sqrt(c.size)))
    return out
