r"""Closed forms for Gaussian mixtures refit by EM.

The KDE's closed forms are in `jaxcollapse.theory.kde`, those of curated refitting in
`jaxcollapse.theory.curation`.

**Mixtures.** The $L^2$ distance between two Gaussian mixtures is a finite sum, because the
product of two Gaussian densities integrates to a Gaussian density in the difference of their means:
$\int N(x; a, A)\, N(x; b, B)\,dx = N(a; b, A + B)$ (e.g. Petersen and Pedersen, *The Matrix
Cookbook*, eq. 371; Jian and Vemuri 2011, "Robust point set registration using Gaussian mixture
models", IEEE TPAMI 33, eq. 5). Hence for $p = \sum_i a_i N(\mu_i, \Sigma_i)$ and
$q = \sum_j b_j N(\nu_j, T_j)$

$$\|p - q\|_2^2 = \sum_{i,i'} a_i a_{i'} N(\mu_i; \mu_{i'}, \Sigma_i + \Sigma_{i'})
  - 2\sum_{i,j} a_i b_j N(\mu_i; \nu_j, \Sigma_i + T_j) + \sum_{j,j'} b_j b_{j'} N(\nu_j; \nu_{j'}, T_j + T_{j'}).$$

**EM refits the overall moments exactly (derived here).** One M-step with responsibilities $r_{ik}$
($\sum_k r_{ik} = 1$) and sample weights $w_i$ ($W = \sum w_i$) sets $\pi_k = N_k/W$,
$\mu_k = \sum_i w_i r_{ik}x_i/N_k$, $\Sigma_k = \sum_i w_i r_{ik}(x_i - \mu_k)(x_i - \mu_k)^\top/N_k$, hence
$\sum_k\pi_k\mu_k = \sum_i w_i x_i/W$ and $\sum_k \pi_k(\Sigma_k + \mu_k\mu_k^\top) = \sum_i w_i x_i x_i^\top/W$: the
mixture's mean and covariance are the data's, for any responsibilities, so for any $K$, any start and
any number ($\ge 1$) of EM iterations. Under replace with $n$ draws from model $t-1$ (whose covariance
trace is $s_{t-1}$) the refit's trace is the trace of an MLE covariance: $E[s_t \mid s_{t-1}] = (1 - 1/n)s_{t-1}$.

References:

- Shumailov et al. (2024), "AI models collapse when trained on recursively generated data", *Nature* 631
  (the two-component mixture refit by EM, n = 1000 per generation).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._linalg import chol_psd as _chol_psd
from .._linalg import forward_substitution as _forward_substitution

__all__ = [
    "gaussian_overlap",
    "mixture_l2sq",
    "mixture_moments",
    "mixture_spread_mean",
]


def _log_normal_at(x: Float[Array, " d"], mean: Float[Array, " d"], cov: Float[Array, "d d"]) -> Float[Array, ""]:
    d = x.shape[0]
    L = _chol_psd(cov)
    diag = jnp.diagonal(L)
    singular = jnp.any(diag <= 0)
    safe = jnp.where(singular, jnp.eye(d, dtype=cov.dtype), L)
    z = _forward_substitution(safe, (x - mean)[:, None])[:, 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.where(singular, 1.0, diag)))
    val = -0.5 * jnp.sum(z * z) - 0.5 * logdet - 0.5 * d * math.log(2.0 * math.pi)
    return jnp.where(singular, -jnp.inf, val)


def gaussian_overlap(m1: Float[ArrayLike, " d"], c1: Float[ArrayLike, "d d"], m2: Float[ArrayLike, " d"],
                     c2: Float[ArrayLike, "d d"]) -> Float[Array, ""]:
    r"""$\int N(x; m_1, C_1) N(x; m_2, C_2)\,dx = N(m_1; m_2, C_1 + C_2)$ (The Matrix Cookbook, eq. 371)."""
    m1, m2 = jnp.asarray(m1), jnp.asarray(m2)
    return jnp.exp(_log_normal_at(m1, m2, jnp.asarray(c1) + jnp.asarray(c2)))


def _cross(wa, ma, ca, wb, mb, cb) -> Float[Array, ""]:
    pair = jax.vmap(jax.vmap(gaussian_overlap, in_axes=(None, None, 0, 0)), in_axes=(0, 0, None, None))
    return jnp.sum(wa[:, None] * wb[None, :] * pair(ma, ca, mb, cb))


def mixture_l2sq(w1: Float[ArrayLike, " K"], m1: Float[ArrayLike, "K d"], c1: Float[ArrayLike, "K d d"],
                 w2: Float[ArrayLike, " J"], m2: Float[ArrayLike, "J d"], c2: Float[ArrayLike, "J d d"],
                 ) -> Float[Array, ""]:
    r"""Squared $L^2$ distance $\int (p - q)^2\,dx$ between two Gaussian mixtures, in closed form.

    $p = \sum_i w_{1i} N(m_{1i}, c_{1i})$, $q = \sum_j w_{2j} N(m_{2j}, c_{2j})$; the sum of the three
    overlap terms of the module docstring (Jian and Vemuri 2011, eq. 5; The Matrix Cookbook, eq. 371).
    Clipped at 0 against rounding.
    """
    w1, m1, c1 = (jnp.asarray(a) for a in (w1, m1, c1))
    w2, m2, c2 = (jnp.asarray(a) for a in (w2, m2, c2))
    val = _cross(w1, m1, c1, w1, m1, c1) - 2.0 * _cross(w1, m1, c1, w2, m2, c2) + _cross(w2, m2, c2, w2, m2, c2)
    return jnp.maximum(val, 0.0)


def mixture_moments(w: Float[ArrayLike, " K"], m: Float[ArrayLike, "K d"], c: Float[ArrayLike, "K d d"],
                    ) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
    r"""Mean $\sum_k w_k\mu_k$ and covariance $\sum_k w_k(\Sigma_k + \mu_k\mu_k^\top) - \bar\mu\bar\mu^\top$
    of a mixture, weights normalized. Derived here: the law of total variance over the component label.
    """
    w, m, c = jnp.asarray(w), jnp.asarray(m), jnp.asarray(c)
    w = w / jnp.sum(w)
    mean = w @ m
    dm = m - mean[None, :]
    cov = jnp.einsum("k,kij->ij", w, c) + jnp.einsum("k,ki,kj->ij", w, dm, dm)
    return mean, cov


def mixture_spread_mean(t: ArrayLike, n: ArrayLike, spread0: ArrayLike) -> Float[Array, "..."]:
    r"""$E\,\mathrm{tr}\,\mathrm{Cov}_t = (1 - 1/n)^t\,\mathrm{tr}\,\mathrm{Cov}_0$ for a mixture refit by EM (replace).

    Any number of components, any initialization and any number $\ge 1$ of EM iterations, without a
    covariance floor and while no component dies: an M-step refits the mixture's overall mean and
    covariance to the data's (module docstring; derived here), so the spread decays as the Gaussian
    MLE's (Shumailov et al. 2024's $\sigma^2(1 - 1/n)^t$).
    """
    t = jnp.asarray(t, jnp.result_type(float))
    return jnp.asarray(spread0) * (1.0 - 1.0 / jnp.asarray(n, t.dtype)) ** t
