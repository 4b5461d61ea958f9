r"""The Poisson family: the simplest family whose collapse is extinction.

Refitting the rate by the sample mean of $n$ draws, $\lambda_t = S_t/n$ with
$S_t \mid \lambda_{t-1} \sim \mathrm{Poisson}(n\lambda_{t-1})$, makes $S_t$ a critical Galton–Watson
process with Poisson(1) offspring: $S_t \mid S_{t-1} \sim \mathrm{Poisson}(S_{t-1})$. The rate is a
martingale, $E\lambda_t = \lambda_0$, yet it hits 0 (and stays there) with probability 1; see
`jaxcollapse.theory.poisson` for the exact extinction probabilities.

`Poisson.sample_stats` draws the sufficient statistic $S \sim \mathrm{Poisson}(n\lambda)$ directly, with
`jaxcollapse.random.poisson` (exact: inversion over a fixed table below mean 10, Hörmann's transformed
rejection PTRS above; the same cost for every mean) from the chain's `Stream`, so chain $i$ is the same
whatever the number of chains. The sampling temperature must be 1 (a tempered Poisson, $p(x)^{1/\tau}$, is not Poisson).

**Drift** (a moving log-rate): `translate(delta)` gives the rate $\lambda e^{\delta}$, so a drifting truth is
$\lambda^*_t = \lambda^*_0 e^{vt}$. Under ``fresh`` real data ($n_r$ draws of the current truth pooled with
$n_s$ synthetic draws) the fit is the pooled sample mean, so $E\lambda_t = a\,E\lambda_{t-1} + (1-a)\lambda^*_t$,
$a = n_s/(n_r + n_s)$ (derived here: $E[S_{\rm syn} \mid \lambda_{t-1}] = n_s\lambda_{t-1}$,
$E S_{\rm real} = n_r\lambda^*_t$), the Gaussian mean's lag law; summed,
$E\lambda_t = \lambda^*_0\bigl[a^t + (1-a)\,e^{v}\,(e^{vt} - a^t)/(e^{v} - a)\bigr]$
(`theory.poisson.poisson_fresh_drift_rate`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from .. import random as R
from .._validate import numeric
from ..random import Stream
from ._base import AbstractFamily, AbstractStats

__all__ = ["Poisson", "PoissonStats"]


class PoissonStats(AbstractStats):
    r"""Weighted count $\sum_i w_i$ and weighted total $\sum_i w_i x_i$."""

    count: Float[Array, ""]
    total: Float[Array, ""]

    def combine(self, other: PoissonStats) -> PoissonStats:
        return PoissonStats(self.count + other.count, self.total + other.total)

    def scale(self, c) -> PoissonStats:
        return PoissonStats(self.count * c, self.total * c)


class Poisson(AbstractFamily):
    r"""Poisson($\lambda$), refitted by the sample mean (the MLE).

    **Arguments:** `rate`: $\lambda > 0$ (finite).

    Metrics against a truth $\lambda^*$: ``rate`` $\lambda$; ``extinct`` $1\{\lambda = 0\}$;
    ``rate_ratio`` $\lambda/\lambda^*$; ``log_rate_ratio`` $\ln(\lambda/\lambda^*)$ ($-\infty$ once extinct);
    ``sq_err`` $(\lambda - \lambda^*)^2$; ``rate_error`` $\lambda - \lambda^*$ (signed); ``kl``
    $\mathrm{KL}(\mathrm{Poi}(\lambda^*)\|\mathrm{Poi}(\lambda)) =
    \lambda^*\ln(\lambda^*/\lambda) - \lambda^* + \lambda$ ($+\infty$ once extinct).
    """

    rate: Float[Array, ""]

    metric_names: ClassVar[tuple[str, ...]] = (
        "rate", "extinct", "rate_ratio", "log_rate_ratio", "sq_err", "rate_error", "kl",
    )
    has_exact_stats: ClassVar[bool] = True
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True

    def __init__(self, rate=1.0):
        numeric("Poisson", rate=rate)
        dtype = jnp.result_type(float)
        if not isinstance(rate, jax.core.Tracer):
            r = np.asarray(rate, dtype=np.float64)
            if r.ndim != 0:
                raise ValueError(f"the Poisson rate must be a scalar, got shape {r.shape}")
            if not (math.isfinite(float(r)) and float(r) > 0):
                raise ValueError(f"the Poisson rate must be a finite number > 0, got {float(r)}")
        self.rate = jnp.asarray(rate, dtype)

    @property
    def dtype(self):
        return self.rate.dtype

    def translate(self, delta) -> Poisson:
        r"""The log-rate moved by the scalar `delta`: rate $\lambda e^{\delta}$ (`delta = 0`: $\lambda$ bit for bit)."""
        delta = jnp.asarray(delta, self.dtype)
        if delta.ndim == 1:
            delta = delta[0] if delta.shape[0] == 1 else jnp.broadcast_to(delta, ())  # a length-1 vector; else refused
        return eqx.tree_at(lambda m: m.rate, self, jnp.where(delta != 0, self.rate * jnp.exp(delta), self.rate))

    def log_prob(self, x: Float[ArrayLike, " n"]) -> Float[Array, " n"]:
        r"""$\log P(X = x_i) = x_i\ln\lambda - \lambda - \ln x_i!$ (at $\lambda = 0$: 0 at $x = 0$, else $-\infty$)."""
        x = jnp.asarray(x, self.dtype).reshape(-1)
        lam = self.rate
        safe = jnp.where(lam > 0, lam, 1.0)
        val = x * jnp.log(safe) - lam - jax.scipy.special.gammaln(x + 1.0)
        return jnp.where(lam > 0, val, jnp.where(x == 0, 0.0, -jnp.inf))

    def empty_stats(self) -> PoissonStats:
        z = jnp.zeros((), self.dtype)
        return PoissonStats(z, z)

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, " n"]:
        return R.poisson(stream, jnp.broadcast_to(self.rate, (n,)), self.dtype)

    def sample_stats(self, stream: Stream, n, temperature) -> PoissonStats:
        r"""Exact $(n, S)$ with $S = \sum_{j\le n} x_j \sim \mathrm{Poisson}(n\lambda)$: one draw, any $n$."""
        n = jnp.asarray(n, self.dtype)
        s = R.poisson(stream, jnp.reshape(n * self.rate, (1,)), self.dtype)[0]
        return PoissonStats(n, s)

    def stats(self, x: Float[ArrayLike, " n"], mask: Bool[Array, " n"] | None = None) -> PoissonStats:
        x = jnp.asarray(x, self.dtype).reshape(-1)
        if mask is None:
            return PoissonStats(jnp.asarray(x.shape[0], self.dtype), jnp.sum(x))
        return PoissonStats(jnp.sum(mask.astype(self.dtype)), jnp.sum(jnp.where(mask, x, 0)))

    def fit(self, stats: PoissonStats, stream: Stream) -> Poisson:
        """The sample mean (no randomness: `stream` is unused); no data keeps the rate."""
        rate = jnp.where(stats.count > 0, stats.total / jnp.where(stats.count > 0, stats.count, 1.0), self.rate)
        return eqx.tree_at(lambda m: m.rate, self, rate)

    def metrics(self, truth: Poisson, stream: Stream) -> dict[str, Float[Array, ""]]:
        lam, lam0 = self.rate, truth.rate
        dead = lam <= 0
        safe = jnp.where(dead, 1.0, lam)
        log_ratio = jnp.where(dead, -jnp.inf, jnp.log(safe) - jnp.log(lam0))
        kl = jnp.where(dead, jnp.inf, lam0 * (jnp.log(lam0) - jnp.log(safe)) - lam0 + lam)
        return {
            "rate": lam,
            "extinct": dead.astype(self.dtype),
            "rate_ratio": lam / lam0,
            "log_rate_ratio": log_ratio,
            "sq_err": (lam - lam0) ** 2,
            "rate_error": lam - lam0,
            "kl": jnp.maximum(kl, 0.0),
        }

    def check_regime(self, regime, generations: int) -> None:
        tau = regime.temperature
        if not isinstance(tau, jax.core.Tracer) and np.any(np.asarray(tau) != 1.0):
            raise ValueError("the Poisson family samples at temperature 1 only (a tempered Poisson is not Poisson)")
        self.check_drift(regime.drift)

