r"""Small dense linear algebra for the families (bottom layer: imports nothing of the simulator).

The models' dimensions are small ($d \lesssim 16$), and every function here runs once per chain
inside a `vmap`: unrolled elementwise code beats a batched LAPACK call per chain there, and it
avoids batched LAPACK calls that deadlocked XLA's CPU runtime when they shared a scan body with
a batched `eigh` (jax 0.10.2, 20,000 chains). Above `UNROLL_MAX_D` the positive definite
routines call LAPACK.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

UNROLL_MAX_D = 16  # unrolled elementwise linear algebra up to this d, LAPACK above (positive definite)


def as_cov(cov, d: int, dtype) -> Float[Array, "d d"]:
    r"""A covariance from a scalar ($\sigma^2 I$), a vector (a diagonal) or a $d \times d$ matrix."""
    cov = jnp.asarray(cov, dtype)
    if cov.ndim == 0:
        cov = cov * jnp.eye(d, dtype=dtype)
    elif cov.ndim == 1:
        cov = jnp.diag(cov)
    return cov


def sqrt_psd(a: Float[Array, "d d"]) -> Float[Array, "d d"]:
    """Symmetric square root of a positive semi-definite matrix (exact at singular ones)."""
    if a.shape[-1] == 1:
        return jnp.sqrt(jnp.maximum(a, 0.0))
    w, v = jnp.linalg.eigh(a)
    return (v * jnp.sqrt(jnp.maximum(w, 0.0))[None, :]) @ v.T


def chol_psd(a: Float[Array, "d d"]) -> Float[Array, "d d"]:
    r"""A lower-triangular $L$ with $L L^\top = A$ for positive *semi*-definite $A$.

    Unrolled Cholesky in elementwise ops. A pivot below a relative tolerance is a zero direction:
    its column is set to 0, so a collapsed (singular) covariance gives a finite factor. Any $L$
    with $LL^\top = \Sigma$ gives the same Gaussian and Wishart laws, so samplers may use it.
    """
    d = a.shape[-1]
    if d == 1:
        return jnp.sqrt(jnp.maximum(a, 0.0))
    tol = 16 * d * jnp.finfo(a.dtype).eps * jnp.max(jnp.abs(jnp.diagonal(a)))
    cols = []
    for j in range(d):
        lj = [jnp.zeros((), a.dtype)] * d
        prev = [c for c in cols]
        s = a[j, j] - sum((c[j] ** 2 for c in prev), jnp.zeros((), a.dtype))
        ok = s > tol
        piv = jnp.sqrt(jnp.where(ok, s, 1.0))
        lj[j] = jnp.where(ok, piv, 0.0)
        for i in range(j + 1, d):
            v = a[i, j] - sum((c[i] * c[j] for c in prev), jnp.zeros((), a.dtype))
            lj[i] = jnp.where(ok, v / piv, 0.0)
        cols.append(lj)
    return jnp.stack([jnp.stack(c) for c in cols], axis=1)


def chol_pd(a: Float[Array, "d d"]) -> Float[Array, "d d"]:
    """Cholesky factor of a positive definite matrix: unrolled elementwise ops for small d, LAPACK above."""
    d = a.shape[-1]
    if d > UNROLL_MAX_D:
        return jnp.linalg.cholesky(a)
    cols: list[list] = []
    for j in range(d):
        lj = [jnp.zeros((), a.dtype)] * d
        s = a[j, j] - sum((c[j] ** 2 for c in cols), jnp.zeros((), a.dtype))
        piv = jnp.sqrt(jnp.maximum(s, jnp.finfo(a.dtype).tiny))
        lj[j] = piv
        for i in range(j + 1, d):
            v = a[i, j] - sum((c[i] * c[j] for c in cols), jnp.zeros((), a.dtype))
            lj[i] = v / piv
        cols.append(lj)
    return jnp.stack([jnp.stack(c) for c in cols], axis=1)


def forward_substitution(L: Float[Array, "d d"], B: Float[Array, "d k"]) -> Float[Array, "d k"]:
    """$L^{-1} B$ for lower-triangular $L$, unrolled in elementwise ops (see the module docstring)."""
    rows = []
    for i in range(L.shape[0]):
        acc = B[i]
        for k in range(i):
            acc = acc - L[i, k] * rows[k]
        rows.append(acc / L[i, i])
    return jnp.stack(rows)


def cho_solve(L: Float[Array, "d d"], b: Float[Array, " d"]) -> Float[Array, " d"]:
    r"""$(LL^\top)^{-1} b$: forward then back substitution (unrolled for small d)."""
    d = L.shape[-1]
    if d > UNROLL_MAX_D:
        return jax.scipy.linalg.cho_solve((L, True), b)
    y: list = []
    for i in range(d):
        acc = b[i]
        for k in range(i):
            acc = acc - L[i, k] * y[k]
        y.append(acc / L[i, i])
    x: list = [None] * d
    for i in reversed(range(d)):
        acc = y[i]
        for k in range(i + 1, d):
            acc = acc - L[k, i] * x[k]
        x[i] = acc / L[i, i]
    return jnp.stack(x)


def whitener(cov: Float[Array, "d d"]) -> tuple[Float[Array, "d d"], Float[Array, ""], Array]:
    r"""$(L, \log\det\Sigma, \text{singular})$ for Gaussian densities: $L$ the unrolled Cholesky factor of
    $\Sigma$ (the identity where $\Sigma$ is singular, so that whitening stays finite), the log-determinant (0
    where singular), and whether it is; a caller returns $-\infty$ where singular."""
    d = cov.shape[0]
    L = chol_psd(cov)
    diag = jnp.diagonal(L)
    singular = jnp.any(diag <= 0)
    safe = jnp.where(singular, jnp.eye(d, dtype=cov.dtype), L)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.where(singular, 1.0, diag)))
    return safe, logdet, singular


def sum_terms(terms: list):
    """The sum of a list of equal-shaped arrays, left to right (an unrolled reduction over a short axis, which
    XLA CPU would otherwise run as a slow reduction kernel)."""
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def log_normal_rows(x: Float[Array, "n d"], mean: Float[Array, " d"], cov: Float[Array, "d d"]) -> Float[Array, " n"]:
    r"""$\log N(x_i; \mu, \Sigma)$ for every row (unrolled Cholesky; $-\infty$ for a singular $\Sigma$)."""
    d = x.shape[1]
    safe, logdet, singular = whitener(cov)
    z = forward_substitution(safe, (x - mean[None, :]).T)  # (d, n)
    val = -0.5 * jnp.sum(z * z, axis=0) - 0.5 * logdet - 0.5 * d * math.log(2.0 * math.pi)
    return jnp.where(singular, -jnp.inf, val)


def logsumexp_rows(a: Float[Array, "n k"]) -> Float[Array, " n"]:
    r"""$\log\sum_k e^{a_{ik}}$ per row; a row of $-\infty$ gives $-\infty$ (not NaN)."""
    m = jnp.max(a, axis=1)
    safe = jnp.where(jnp.isfinite(m), m, 0.0)
    return safe + jnp.log(jnp.sum(jnp.exp(a - safe[:, None]), axis=1))
