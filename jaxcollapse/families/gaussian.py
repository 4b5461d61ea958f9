r"""The Gaussian family, 1-D and $d$-dimensional: the worked example of model collapse.

Refitting $N(\mu, \Sigma)$ to $n$ of its own samples has an exact description in terms of
the sufficient statistics: $\bar x \sim N(\mu, \Sigma/n)$ independent of the scatter matrix
$S = \sum_i (x_i - \bar x)(x_i - \bar x)^\top \sim \mathrm{Wishart}_d(n - 1, \Sigma)$
(in 1-D, $S \sim \sigma^2 \chi^2_{n-1}$). `Gaussian.sample_stats` draws $(\bar x, S)$ that
way, by the Bartlett decomposition, at a cost that does not grow with $n$.

Estimators: ``"mle"`` ($\hat\Sigma = S/n$), ``"unbiased"`` ($S/(n-1)$, Shumailov et al.
2024) or ``"mean"`` (the covariance is known and kept; only the mean is refitted).
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from .. import _random as R
from .._random import Stream
from ._base import AbstractFamily, AbstractStats

ESTIMATORS = ("mle", "unbiased", "mean")


class GaussianStats(AbstractStats):
    r"""Weighted count, mean and scatter matrix $M = \sum_i w_i (x_i - \bar x)(x_i - \bar x)^\top$.

    Combined by Chan, Golub and LeVeque's pairwise update, which stays accurate in float32
    when the spread is tiny next to the mean (as it is after collapse).
    """

    count: Float[Array, ""]
    mean: Float[Array, " d"]
    scatter: Float[Array, "d d"]

    def combine(self, other: GaussianStats) -> GaussianStats:
        n = self.count + other.count
        safe = jnp.where(n > 0, n, 1.0)
        delta = other.mean - self.mean
        delta = jnp.where((self.count > 0) & (other.count > 0), delta, 0.0)  # empty sides carry no mean
        mean = jnp.where(self.count > 0, self.mean, other.mean) + delta * (other.count / safe)
        scatter = self.scatter + other.scatter + jnp.outer(delta, delta) * (self.count * other.count / safe)
        return GaussianStats(n, mean, scatter)

    def scale(self, c) -> GaussianStats:
        return GaussianStats(self.count * c, self.mean, self.scatter * c)


def _sqrt_psd(a: Float[Array, "d d"]) -> Float[Array, "d d"]:
    """Symmetric square root of a positive semi-definite matrix (exact at singular ones)."""
    if a.shape[-1] == 1:
        return jnp.sqrt(jnp.maximum(a, 0.0))
    w, v = jnp.linalg.eigh(a)
    return (v * jnp.sqrt(jnp.maximum(w, 0.0))[None, :]) @ v.T


def _chol_psd(a: Float[Array, "d d"]) -> Float[Array, "d d"]:
    r"""A lower-triangular $L$ with $L L^\top = A$ for positive *semi*-definite $A$.

    Unrolled Cholesky in elementwise ops (a batched LAPACK call per chain is far slower for the
    small $d$ of these models). A pivot below a relative tolerance is a zero direction: its
    column is set to 0, so a collapsed (singular) covariance gives a finite factor. Any $L$ with
    $LL^\top = \Sigma$ gives the same Gaussian and Wishart laws, so samplers may use it.
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


def _as_cov(cov, d: int, dtype) -> Array:
    cov = jnp.asarray(cov, dtype)
    if cov.ndim == 0:
        cov = cov * jnp.eye(d, dtype=dtype)
    elif cov.ndim == 1:
        cov = jnp.diag(cov)
    return cov


def _forward_substitution(L: Float[Array, "d d"], B: Float[Array, "d k"]) -> Float[Array, "d k"]:
    """$L^{-1} B$ for lower-triangular $L$, unrolled in elementwise ops.

    Used instead of `solve_triangular`: besides being faster per chain at small $d$, it avoids
    a batched LAPACK call that deadlocked XLA's CPU runtime when it shared a scan body with the
    batched `eigh` of the W2 metric (jax 0.10.2, 20,000 chains).
    """
    rows = []
    for i in range(L.shape[0]):
        acc = B[i]
        for k in range(i):
            acc = acc - L[i, k] * rows[k]
        rows.append(acc / L[i, i])
    return jnp.stack(rows)


class Gaussian(AbstractFamily):
    r"""$N(\mu, \Sigma)$ in $d \ge 1$ dimensions with a chosen estimator.

    **Arguments:**

    - `mean`: a scalar (1-D) or a vector of length $d$.
    - `cov`: the covariance; a scalar means $\sigma^2 I$ (in 1-D, the variance), a vector a
      diagonal, or a $d\times d$ symmetric positive definite matrix.
    - `estimator`: ``"mle"``, ``"unbiased"`` or ``"mean"`` (covariance known).

    Metrics against a truth $N(\mu^*, \Sigma^*)$: ``mean_sq_err`` $\|\mu-\mu^*\|^2$;
    ``trace`` $\mathrm{tr}\,\Sigma$ ($\sigma^2$ in 1-D); ``sigma`` $\sqrt{\mathrm{tr}\,\Sigma}$;
    ``trace_ratio``; ``log_det_ratio`` $\ln\det\Sigma - \ln\det\Sigma^*$ ($-\infty$ once
    collapsed); ``w2sq``, the squared 2-Wasserstein distance
    $\|\mu-\mu^*\|^2 + \mathrm{tr}(\Sigma + \Sigma^* - 2(\Sigma^{*1/2}\Sigma\Sigma^{*1/2})^{1/2})$;
    ``kl`` $= \mathrm{KL}(N^* \,\|\, N)$ ($+\infty$ once singular); and ``conserved``
    $\|\mu-\mu^*\|^2 + \mathrm{tr}\,\Sigma$, whose expectation the MLE conserves.
    """

    mean: Float[Array, " d"]
    cov: Float[Array, "d d"]
    estimator: str = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (
        "mean_sq_err", "trace", "sigma", "trace_ratio", "log_det_ratio", "w2sq", "kl", "conserved",
    )
    has_exact_stats: ClassVar[bool] = True

    def __init__(self, mean=0.0, cov=1.0, estimator: str = "mle"):
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
        dtype = jnp.result_type(float)
        mean = jnp.atleast_1d(jnp.asarray(mean, dtype))
        if mean.ndim != 1:
            raise ValueError(f"mean must be a scalar or a vector, got shape {mean.shape}")
        d = mean.shape[0]
        cov = _as_cov(cov, d, dtype)
        if cov.shape != (d, d):
            raise ValueError(f"cov has shape {cov.shape} but the mean has dimension {d}: expected ({d}, {d})")
        if not isinstance(cov, jax.core.Tracer):
            c = np.asarray(cov)
            if not np.all(np.isfinite(c)) or not np.allclose(c, c.T, rtol=1e-6, atol=1e-12):
                raise ValueError("cov must be a finite symmetric matrix")
            ev = np.linalg.eigvalsh(c.astype(np.float64))
            if ev.min() < -1e-10 * max(1.0, float(np.abs(ev).max())):
                raise ValueError("cov must be positive semi-definite")
        self.mean = mean
        self.cov = cov
        self.estimator = estimator

    # --------------------------------------------------------------- basics
    @property
    def d(self) -> int:
        return self.mean.shape[-1]

    @property
    def dtype(self):
        return self.mean.dtype

    def _replace(self, mean=None, cov=None) -> Gaussian:
        new = self
        if mean is not None:
            new = eqx.tree_at(lambda g: g.mean, new, mean)
        if cov is not None:
            new = eqx.tree_at(lambda g: g.cov, new, cov)
        return new

    def translate(self, delta) -> Gaussian:
        return self._replace(mean=self.mean + jnp.asarray(delta, self.dtype))

    def empty_stats(self) -> GaussianStats:
        d, dt = self.d, self.dtype
        return GaussianStats(jnp.zeros((), dt), jnp.zeros((d,), dt), jnp.zeros((d, d), dt))

    # --------------------------------------------------------------- sampling
    def sample(self, key, n: int) -> Float[Array, "n d"]:
        """`n` samples, shape `(n, d)`."""
        return self.draw_samples(Stream.from_key(key), n, jnp.ones((), self.dtype))

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        z = R.normal(stream, (n, self.d), self.dtype)
        root = _chol_psd(self.cov) * temperature
        if self.d == 1:  # a broadcast, not a batch of 1x1 matrix products
            return self.mean[None, :] + z * root[0, 0]
        return self.mean[None, :] + z @ root.T

    def sample_stats(self, stream: Stream, n, temperature) -> GaussianStats:
        r"""Exact $(n, \bar x, S)$ of $n$ draws from $N(\mu, \tau^2\Sigma)$, cost independent of $n$.

        $\bar x = \mu + \tau L z/\sqrt n$; $S = \tau^2 L A A^\top L^\top$ ($LL^\top = \Sigma$) with
        the Bartlett factor $A$: $A_{ii}^2 \sim \chi^2_{n-i}$, $A_{ij} \sim N(0,1)$ for $i > j$, and
        for $n - 1 < d$ (a singular Wishart of rank $n - 1$) the columns $j > n - 1$ of $A$ are zero.
        """
        d, dt = self.d, self.dtype
        n = jnp.asarray(n, dt)
        root = _chol_psd(self.cov) * temperature
        z = R.normal(stream.fork(R.SALT_MEAN), (d,), dt)
        mean = self.mean + (root @ z) / jnp.sqrt(jnp.maximum(n, 1.0))  # n = 0: no data, count 0
        if self.estimator == "mean":
            scatter = jnp.zeros((d, d), dt)
        else:
            dof = jnp.maximum(n - jnp.arange(1, d + 1, dtype=dt), 0.0)
            chi = R.chisquare(stream.fork(R.SALT_SCATTER), dof, dt)
            if d == 1:
                scatter = root * root * chi[0]
            else:
                nb = d * (d - 1) // 2
                off = R.normal(stream.fork(R.SALT_SCATTER + 100), (nb,), dt)
                rows, cols = np.tril_indices(d, -1)
                # singular Wishart (n - 1 < d): only the first n - 1 columns of A are nonzero
                off = jnp.where(jnp.asarray(cols, dt) < n - 1.0, off, 0.0)
                A = jnp.zeros((d, d), dt).at[rows, cols].set(off)
                A = A + jnp.diag(jnp.sqrt(chi))
                B = root @ A
                scatter = B @ B.T
        return GaussianStats(n, mean, scatter)

    def stats(self, x: Float[ArrayLike, " n *d"], mask: Bool[Array, " n"] | None = None) -> GaussianStats:
        """Statistics of the rows of `x` (two-pass, so accurate in float32)."""
        x = jnp.asarray(x, self.dtype).reshape(x.shape[0], -1)
        w = jnp.ones(x.shape[0], self.dtype) if mask is None else mask.astype(self.dtype)
        n = jnp.sum(w)
        safe = jnp.where(n > 0, n, 1.0)
        if self.d == 1:  # 1-D reductions, not batches of tiny matrix products
            x0 = x[:, 0]
            m = jnp.sum(w * x0) / safe
            r = x0 - m
            return GaussianStats(n, m.reshape(1), jnp.sum(w * r * r).reshape(1, 1))
        mean = (w @ x) / safe
        r = (x - mean[None, :]) * jnp.sqrt(w)[:, None]
        return GaussianStats(n, mean, r.T @ r)

    # --------------------------------------------------------------- fitting
    def fit(self, stats: GaussianStats) -> Gaussian:
        if self.estimator == "mean":
            return self._replace(mean=stats.mean)
        div = stats.count if self.estimator == "mle" else stats.count - 1.0
        cov = stats.scatter / jnp.where(div > 0, div, 1.0)
        cov = 0.5 * (cov + cov.T)
        return self._replace(mean=stats.mean, cov=cov)

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: Gaussian) -> dict[str, Float[Array, ""]]:
        dm = self.mean - truth.mean
        mse = jnp.sum(dm * dm)
        tr = jnp.trace(self.cov)
        tr0 = jnp.trace(truth.cov)
        if self.d == 1:
            v, v0 = self.cov[0, 0], truth.cov[0, 0]
            log_det = jnp.log(v) - jnp.log(v0)
            w2 = mse + (jnp.sqrt(v) - jnp.sqrt(v0)) ** 2
            kl_val = 0.5 * (v0 / v + mse / v - 1.0 - jnp.log(v0) + jnp.log(v))
            singular = v <= 0
        else:
            L = _chol_psd(self.cov)
            L0 = _chol_psd(truth.cov)
            diag = jnp.diagonal(L)
            singular = jnp.any(diag <= 0)
            logdet0 = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L0)))
            log_det = 2.0 * jnp.sum(jnp.log(jnp.where(singular, 1.0, diag))) - logdet0
            r0 = _sqrt_psd(truth.cov)
            cross = jnp.linalg.eigvalsh(r0 @ self.cov @ r0)
            w2 = mse + tr + tr0 - 2.0 * jnp.sum(jnp.sqrt(jnp.maximum(cross, 0.0)))
            # KL(N* || N) = (tr(S^-1 S*) + dm' S^-1 dm - d + ln det S - ln det S*)/2 with S = L L':
            # both quadratic terms are squared norms of triangular solves, so they are >= 0 and
            # an ill-conditioned S overflows them to +inf rather than to NaN.
            safe = jnp.where(singular, jnp.eye(self.d, dtype=self.dtype), L)
            sol = _forward_substitution(safe, jnp.concatenate([L0, dm[:, None]], axis=1))
            kl_val = 0.5 * (jnp.sum(sol * sol) - self.d + log_det)
        kl_val = jnp.where(singular, jnp.inf, kl_val)
        log_det = jnp.where(singular, -jnp.inf, log_det)
        return {
            "mean_sq_err": mse,
            "trace": tr,
            "sigma": jnp.sqrt(jnp.maximum(tr, 0.0)),
            "trace_ratio": tr / tr0,
            "log_det_ratio": log_det,
            "w2sq": jnp.maximum(w2, 0.0),
            "kl": kl_val,
            "conserved": mse + tr,
        }

    # --------------------------------------------------------------- checks
    def check_regime(self, regime, generations: int) -> None:
        if self.estimator == "unbiased":
            lo = regime.min_train_size(generations)
            if lo is not None and lo < 2:
                raise ValueError(
                    f"the unbiased variance needs at least 2 samples per fit; this regime trains on {lo}"
                )
        drift = np.asarray(regime.drift) if not isinstance(regime.drift, jax.core.Tracer) else None
        if drift is not None and drift.ndim == 1 and drift.shape[0] not in (1, self.d):
            raise ValueError(f"drift has dimension {drift.shape[0]} but the Gaussian has dimension {self.d}")
