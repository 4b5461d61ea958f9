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

from .. import random as R
from .._linalg import as_cov, chol_psd, forward_substitution, log_normal_rows, sqrt_psd
from .._validate import numeric
from ..random import Stream
from ._base import AbstractMomentFamily, AbstractStats

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


# theory/mixture.py imports `_chol_psd` and `_forward_substitution` from here until it imports `_linalg`
_chol_psd = chol_psd
_forward_substitution = forward_substitution


class Gaussian(AbstractMomentFamily):
    r"""$N(\mu, \Sigma)$ in $d \ge 1$ dimensions with a chosen estimator.

    **Arguments:**

    - `mean`: a scalar (1-D) or a vector of length $d$.
    - `cov`: the covariance; a scalar means $\sigma^2 I$ (in 1-D, the variance), a vector a
      diagonal, or a $d\times d$ symmetric positive definite matrix.
    - `estimator`: ``"mle"``, ``"unbiased"`` or ``"mean"`` (covariance known).

    Metrics against a truth $N(\mu^*, \Sigma^*)$: ``mean_sq_err`` $\|\mu-\mu^*\|^2$; ``mean_error``
    $\frac1d\sum_j(\mu_j - \mu^*_j)$, the signed error of the mean (in 1-D $\mu - \mu^*$; in $d$
    dimensions the average coordinate error, which a scalar drift, moving every coordinate alike,
    shifts by its per-coordinate lag);
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
        "mean_sq_err", "mean_error", "trace", "sigma", "trace_ratio", "log_det_ratio", "w2sq", "kl", "conserved",
    )
    has_exact_stats: ClassVar[bool] = True
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True
    supports_correction: ClassVar[bool] = True
    supports_extrapolation: ClassVar[bool] = True

    def __init__(self, mean=0.0, cov=1.0, estimator: str = "mle"):
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
        numeric("Gaussian", mean=mean, cov=cov)
        dtype = jnp.result_type(float)
        mean = jnp.atleast_1d(jnp.asarray(mean, dtype))
        if mean.ndim != 1:
            raise ValueError(f"mean must be a scalar or a vector, got shape {mean.shape}")
        d = mean.shape[0]
        cov = as_cov(cov, d, dtype)
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

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"d": (self.d, "dimensions")}

    def moments(self) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
        return self.mean, self.cov

    def translate(self, delta) -> Gaussian:
        r"""The mean moved by `delta` (a scalar moves every coordinate, or a vector of length $d$).

        A drifting truth $\mu^*_t = \mu^*_0 + vt$. With the mean fitted and the covariance known
        (``estimator="mean"``), `theory.gaussian.drift_mean_sq_err` (replace) and
        `theory.gaussian.fresh_drift_mean_sq_err` (fresh real data) are exact; under fresh data the model
        trails the truth by the lag $E(\mu_t - \mu^*_t) = -v\,(n_s/n_r)(1 - a^t)$, $a = n_s/(n_r + n_s)$ (the
        ``mean_error`` metric; `theory.gaussian.fresh_drift_mean_error`, derived in its docstring). The lag
        law holds for any family whose fit is the pooled sample mean of a location parameter with known
        variance.
        """
        return self._replace(mean=self.mean + jnp.asarray(delta, self.dtype))

    def empty_stats(self) -> GaussianStats:
        d, dt = self.d, self.dtype
        return GaussianStats(jnp.zeros((), dt), jnp.zeros((d,), dt), jnp.zeros((d, d), dt))

    # --------------------------------------------------------------- sampling and density
    def log_prob(self, x: Float[ArrayLike, " n *d"]) -> Float[Array, " n"]:
        r"""$\log N(x_i; \mu, \Sigma)$ for every row of `x` ($-\infty$ for a singular $\Sigma$)."""
        x = jnp.asarray(x, self.dtype)
        return log_normal_rows(x.reshape(x.shape[0], self.d), self.mean, self.cov)

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        z = R.normal(stream, (n, self.d), self.dtype)
        root = chol_psd(self.cov) * temperature
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
        root = chol_psd(self.cov) * temperature
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
                off = R.normal(stream.fork(R.SALT_SCATTER_OFFDIAG), (nb,), dt)
                rows, cols = np.tril_indices(d, -1)
                # singular Wishart (n - 1 < d): only the first n - 1 columns of A are nonzero
                off = jnp.where(jnp.asarray(cols, dt) < n - 1.0, off, 0.0)
                A = jnp.zeros((d, d), dt).at[rows, cols].set(off)
                A = A + jnp.diag(jnp.sqrt(chi))
                B = root @ A
                scatter = B @ B.T
        return GaussianStats(n, mean, scatter)

    def stats(self, x: Float[ArrayLike, " n *d"], mask: Bool[Array, " n"] | None = None) -> GaussianStats:
        """Statistics of the rows of `x` (two-pass, so accurate in float32).

        Left-out rows are zeroed with `where`, not multiplied by a 0/1 weight: under vmap over points a
        weight is a broadcast operand of the reduction, which XLA:CPU ran about 5x slower."""
        x = jnp.asarray(x, self.dtype).reshape(x.shape[0], -1)
        if mask is None:
            n = jnp.asarray(x.shape[0], self.dtype)
            keep = lambda a: a  # noqa: E731
        else:
            n = jnp.sum(mask.astype(self.dtype))
            keep = lambda a: jnp.where(mask.reshape(-1, *(1,) * (a.ndim - 1)), a, 0)  # noqa: E731
        safe = jnp.where(n > 0, n, 1.0)
        if self.d == 1:  # 1-D reductions, not batches of tiny matrix products
            x0 = x[:, 0]
            m = jnp.sum(keep(x0)) / safe
            r = keep(x0 - m)
            return GaussianStats(n, m.reshape(1), jnp.sum(r * r).reshape(1, 1))
        mean = jnp.sum(keep(x), axis=0) / safe
        r = keep(x - mean[None, :])
        return GaussianStats(n, mean, r.T @ r)

    # --------------------------------------------------------------- fitting
    def fit(self, stats: GaussianStats, stream: Stream) -> Gaussian:
        """The estimator's mean and covariance of the statistics (no randomness: `stream` is unused)."""
        if self.estimator == "mean":
            return self._replace(mean=stats.mean)
        div = stats.count if self.estimator == "mle" else stats.count - 1.0
        cov = stats.scatter / jnp.where(div > 0, div, 1.0)
        cov = 0.5 * (cov + cov.T)
        return self._replace(mean=stats.mean, cov=cov)

    def extrapolate(self, synthetic: Gaussian, w) -> Gaussian:
        r"""$\mu = (1+w)\mu_{\rm self} - w\mu_{\rm syn}$ and $\Sigma = [(1+w)\Sigma_{\rm self} - w\Sigma_{\rm syn}]_+$,
        `self` the fit to the real data (negative extrapolation, `jaxcollapse.regimes.extrapolate`).

        $[\cdot]_+$ is the nearest positive semi-definite matrix in the Frobenius norm (negative eigenvalues
        set to 0; in 1-D $\max(\cdot, 0)$): an extrapolated covariance can leave the cone. It acts only then,
        which in 1-D needs $w\,\sigma^2_{\rm syn} > (1+w)\,\sigma^2_{\rm real}$ (rare for small $w$; see
        `jaxcollapse.theory.repair.extrapolation_clip_bound`). With the ``"mean"`` estimator the covariance is
        known and kept.
        """
        mean = (1.0 + w) * self.mean - w * synthetic.mean
        if self.estimator == "mean":
            return self._replace(mean=mean)
        cov = (1.0 + w) * self.cov - w * synthetic.cov
        if self.d == 1:
            cov = jnp.maximum(cov, 0.0)
        else:
            cov = 0.5 * (cov + cov.T)
            ev, vec = jnp.linalg.eigh(cov)
            proj = (vec * jnp.maximum(ev, 0.0)[None, :]) @ vec.T
            cov = jnp.where(jnp.min(ev) >= 0.0, cov, 0.5 * (proj + proj.T))  # untouched inside the cone
        return self._replace(mean=mean, cov=cov)

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: Gaussian, stream: Stream) -> dict[str, Float[Array, ""]]:
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
            L = chol_psd(self.cov)
            L0 = chol_psd(truth.cov)
            diag = jnp.diagonal(L)
            singular = jnp.any(diag <= 0)
            logdet0 = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L0)))
            log_det = 2.0 * jnp.sum(jnp.log(jnp.where(singular, 1.0, diag))) - logdet0
            r0 = sqrt_psd(truth.cov)
            cross = jnp.linalg.eigvalsh(r0 @ self.cov @ r0)
            w2 = mse + tr + tr0 - 2.0 * jnp.sum(jnp.sqrt(jnp.maximum(cross, 0.0)))
            # KL(N* || N) = (tr(S^-1 S*) + dm' S^-1 dm - d + ln det S - ln det S*)/2 with S = L L':
            # both quadratic terms are squared norms of triangular solves, so they are >= 0 and
            # an ill-conditioned S overflows them to +inf rather than to NaN.
            safe = jnp.where(singular, jnp.eye(self.d, dtype=self.dtype), L)
            sol = forward_substitution(safe, jnp.concatenate([L0, dm[:, None]], axis=1))
            kl_val = 0.5 * (jnp.sum(sol * sol) - self.d + log_det)
        kl_val = jnp.where(singular, jnp.inf, kl_val)
        log_det = jnp.where(singular, -jnp.inf, log_det)
        return {
            "mean_sq_err": mse,
            "mean_error": jnp.mean(dm),
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
        self.check_drift(regime.drift)
