r"""Kernel density estimates: a stored sample plus a Gaussian kernel.

$p(x) = \sum_i w_i N(x; x_i, H)/\sum_i w_i$ over the stored points $x_i$ with weights $w_i$ (0 for an
empty row). Sampling picks a stored point with probability $w_i/\sum w$ and adds $N(0, \tau^2 H)$
noise. Fitting stores the training samples and sets the kernel covariance $H$:

- a fixed bandwidth $h$: $H = h^2 I$, kept through every refit;
- ``"scott"`` or ``"silverman"``: $H = f^2\hat\Sigma$ with $\hat\Sigma$ the weighted, bias-corrected
  covariance of the stored points and $f = n_{\rm eff}^{-1/(d+4)}$ (Scott) or
  $(n_{\rm eff}(d+2)/4)^{-1/(d+4)}$ (Silverman), $n_{\rm eff} = (\sum w)^2/\sum w^2$: the conventions
  of `scipy.stats.gaussian_kde`.

The number of stored rows (`capacity`) is static. A refit on fewer rows pads with empty ones; a
regime whose training set has more rows than the capacity (accumulate stores every generation's
samples) is refused by `check_regime`, which names the capacity it needs. Exact moments of the
refitting loop are in `jaxcollapse.theory.mixture` (Kazdan et al. 2024 study this loop).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .. import random as R
from .._linalg import chol_psd, forward_substitution, logsumexp_rows, sum_terms, whitener
from .._multinomial import _rank, monotone_cumsum
from .._validate import numeric
from ..random import Stream
from ..stats import SampleStats
from ._base import AbstractMomentFamily, AbstractSampleFamily

RULES = ("fixed", "scott", "silverman")
LOGPROB_BLOCK_ELEMENTS = 2**16  # kernel values per block of `log_prob` (per chain under vmap)


def required_capacity(regime, generations: int) -> int | None:
    """Rows a KDE must store to refit under `regime` for `generations` generations (None if traced)."""
    cap = regime.synthetic_capacity(generations)
    if cap is None:
        return None
    rows = cap * (generations if regime.memory == "accumulate" else 1)
    if regime.memory == "accumulate_subsample":
        rows = regime.subsample
    return rows + (regime.n_real if regime.real != "none" else 0)


class KDE(AbstractSampleFamily, AbstractMomentFamily):
    r"""A Gaussian kernel density estimate over a stored, weighted sample.

    **Arguments:**

    - `points`: the stored sample, shape (m, d) (or (m,) in 1-D).
    - `bandwidth`: a number $h > 0$ (fixed kernel $h^2 I$), ``"scott"`` or ``"silverman"``.
    - `capacity`: stored rows (default m; at least m); `weights`: per point (default 1).
    - `eval_size`: truth draws behind the held-out negative log-likelihood.

    Metrics against a truth (an `AbstractMomentFamily`: a Gaussian, a mixture, a KDE): ``spread``
    (trace of the KDE's covariance), ``mean_sq_err`` (squared distance of the means), ``mean_error``
    (their signed difference, averaged over coordinates as the Gaussian's), ``nll`` (held-out negative
    log-likelihood of `eval_size` truth draws from the metrics stream: new draws for every chain and
    generation) and ``bandwidth`` ($\sqrt{\mathrm{tr}H/d}$).
    """

    points: Float[Array, "m d"]
    weights: Float[Array, " m"]
    kernel: Float[Array, "d d"]
    rule: str = eqx.field(static=True)
    eval_size: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = ("spread", "mean_sq_err", "mean_error", "nll", "bandwidth")
    has_exact_stats: ClassVar[bool] = False
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True

    def __init__(self, points, bandwidth="scott", *, capacity: int | None = None, weights=None,
                 eval_size: int = 512):
        numeric("KDE", points=points, weights=weights)
        dtype = jnp.result_type(float)
        x = jnp.asarray(points, dtype)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"points must have shape (m, d) with m >= 1, got {x.shape}")
        m, d = x.shape
        if isinstance(bandwidth, str):
            if bandwidth not in ("scott", "silverman"):
                raise ValueError(f"unknown bandwidth rule {bandwidth!r}; give h > 0, 'scott' or 'silverman'")
            rule, h = bandwidth, None
        else:
            h = float(bandwidth)
            if not (math.isfinite(h) and h > 0):
                raise ValueError(f"the bandwidth h must be > 0, got {bandwidth!r}")
            rule = "fixed"
        cap = m if capacity is None else capacity
        if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < m:
            raise ValueError(f"capacity must be an integer >= the number of points {m}, got {capacity!r}")
        if isinstance(eval_size, bool) or not isinstance(eval_size, (int, np.integer)) or eval_size < 1:
            raise ValueError(f"eval_size must be an integer >= 1, got {eval_size!r}")
        w = jnp.ones((m,), dtype) if weights is None else jnp.asarray(weights, dtype)
        if w.shape != (m,):
            raise ValueError(f"weights must have shape ({m},), got {w.shape}")
        if not isinstance(x, jax.core.Tracer):
            if not np.all(np.isfinite(np.asarray(x))):
                raise ValueError("points must be finite")
            wn = np.asarray(w)
            if not np.all(np.isfinite(wn)) or np.any(wn < 0) or wn.sum() <= 0:
                raise ValueError("weights must be finite, >= 0 and not all 0")
        pad = int(cap) - m
        x = jnp.concatenate([x, jnp.zeros((pad, d), dtype)], axis=0)
        w = jnp.concatenate([w, jnp.zeros((pad,), dtype)], axis=0)
        self.points, self.weights, self.rule, self.eval_size = x, w, rule, int(eval_size)
        self.kernel = (h * h) * jnp.eye(d, dtype=dtype) if rule == "fixed" else self._rule_kernel(x, w)

    # --------------------------------------------------------------- basics
    @property
    def capacity(self) -> int:
        return self.points.shape[0]

    @property
    def d(self) -> int:
        return self.points.shape[1]

    @property
    def dtype(self):
        return self.points.dtype

    def _rule_kernel(self, x, w) -> Float[Array, "d d"]:
        d = x.shape[1]
        total = jnp.sum(w)
        safe = jnp.where(total > 0, total, 1.0)
        mean = (w @ x) / safe
        r = (x - mean[None, :]) * jnp.sqrt(w)[:, None]
        sumsq = jnp.sum(w * w)
        neff = total * total / jnp.where(sumsq > 0, sumsq, 1.0)
        # weighted unbiased covariance (numpy's cov with aweights): divide by total (1 - sum w^2/total^2)
        denom = safe * (1.0 - 1.0 / jnp.maximum(neff, 1.0))
        cov = (r.T @ r) / jnp.where(denom > 0, denom, 1.0)
        if self.rule == "scott":
            f = neff ** (-1.0 / (d + 4))
        else:
            f = (neff * (d + 2) / 4.0) ** (-1.0 / (d + 4))
        return 0.5 * (cov + cov.T) * (f * f)

    def moments(self) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
        total = jnp.sum(self.weights)
        safe = jnp.where(total > 0, total, 1.0)
        mean = (self.weights @ self.points) / safe
        r = (self.points - mean[None, :]) * jnp.sqrt(self.weights)[:, None]
        return mean, r.T @ r / safe + self.kernel

    @property
    def row_shape(self) -> tuple[int, ...]:
        return (self.d,)

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"d": (self.d, "dimensions")}

    def translate(self, delta) -> KDE:
        """Every stored point moved by `delta` (a scalar or a vector of length d)."""
        delta = jnp.broadcast_to(jnp.asarray(delta, self.dtype), (self.d,))
        return eqx.tree_at(lambda k: k.points, self, self.points + delta[None, :])

    # --------------------------------------------------------------- sampling and density
    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        u = R.uniform(stream.fork(R.SALT_PICK), (n,), self.dtype)
        cum = monotone_cumsum(self.weights)  # a zero-weight (empty) row is never picked
        # #{i : cum_i < v} = #{i : cum_i <= v^-} (v^- the float below v) by a search (`_rank`, O(n log m)): the
        # same index as counting the comparisons of an (n, m) matrix, which cost O(n m) time and memory
        v = u * cum[-1]
        idx = _rank(cum, jnp.nextafter(v, jnp.asarray(-jnp.inf, v.dtype)))
        idx = jnp.minimum(idx, self.capacity - 1)
        z = R.normal(stream.fork(R.SALT_JITTER), (n, self.d), self.dtype)
        L = chol_psd(self.kernel) * temperature
        return self.points[idx] + z @ L.T

    @eqx.filter_jit
    def log_prob(self, x: Float[Array, "n d"]) -> Float[Array, " n"]:
        r"""$\log p(x_j)$ for every row of `x` ($O(n \cdot \text{capacity})$ time).

        Whitened by the kernel's Cholesky factor $L$ ($z = L^{-1}x$, the stored points likewise, so the
        exponent is $-\tfrac12\|z_x - z_p\|^2$, summed per coordinate), and evaluated in blocks of rows of `x`
        (`lax.map`) holding at most `LOGPROB_BLOCK_ELEMENTS` kernel values: the memory is bounded whatever
        the number of rows (the held-out NLL of 512 draws against 3,000 stored points, vmapped over 500
        chains, built a 3 GB matrix in one piece). A singular kernel gives $-\infty$.
        """
        x = jnp.asarray(x, self.dtype)
        n, d, m = x.shape[0], self.d, self.capacity
        safe, logdet, singular = whitener(self.kernel)
        zp = forward_substitution(safe, self.points.T)  # (d, m)
        zx = forward_substitution(safe, x.T).T  # (n, d)
        total = jnp.sum(self.weights)
        logw = jnp.where(self.weights > 0, jnp.log(jnp.where(self.weights > 0, self.weights, 1.0)), -jnp.inf)
        const = logw - 0.5 * logdet - 0.5 * d * math.log(2.0 * math.pi)  # (m,)

        def one(z):  # z: (d,) -> log sum_i w_i N(x; p_i, H)
            maha = sum_terms([(z[i] - zp[i]) ** 2 for i in range(d)])
            return logsumexp_rows((const - 0.5 * maha)[None, :])[0]

        block = max(1, min(n, LOGPROB_BLOCK_ELEMENTS // max(m, 1)))
        out = jax.lax.map(one, zx, batch_size=block) if block < n else jax.vmap(one)(zx)
        return jnp.where(singular, -jnp.inf, out - jnp.log(total))

    # --------------------------------------------------------------- fitting
    def fit(self, stats: SampleStats, stream: Stream) -> KDE:
        """Store the weighted training samples (padded to `capacity`) and set the kernel (`stream` unused)."""
        rows = stats.x.shape[0]
        if rows > self.capacity:
            raise ValueError(f"the training set has {rows} rows but the KDE stores {self.capacity}: "
                             f"build it with capacity >= {rows}")
        pad = self.capacity - rows
        x = jnp.concatenate([jnp.asarray(stats.x, self.dtype).reshape(rows, self.d),
                             jnp.zeros((pad, self.d), self.dtype)], axis=0)
        w = jnp.concatenate([jnp.asarray(stats.weight, self.dtype), jnp.zeros((pad,), self.dtype)], axis=0)
        kernel = self.kernel if self.rule == "fixed" else self._rule_kernel(x, w)
        return eqx.tree_at(lambda k: (k.points, k.weights, k.kernel), self, (x, w, kernel))

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: AbstractMomentFamily, stream: Stream) -> dict[str, Float[Array, ""]]:
        mean, cov = self.moments()
        mean0, _ = truth.moments()
        dm = mean - mean0
        xs = truth.draw_samples(stream, self.eval_size, jnp.ones((), self.dtype))
        return {
            "spread": jnp.trace(cov),
            "mean_sq_err": jnp.sum(dm * dm),
            "mean_error": jnp.mean(dm),
            "nll": -jnp.mean(self.log_prob(xs)),
            "bandwidth": jnp.sqrt(jnp.trace(self.kernel) / self.d),
        }

    # --------------------------------------------------------------- checks
    def accepts_truth(self, truth) -> None:
        """Any family on the same $\\mathbb R^d$ with closed-form moments (`AbstractMomentFamily`: a Gaussian,
        a mixture, a KDE)."""
        if not isinstance(truth, AbstractMomentFamily):
            raise ValueError(f"a KDE's truth must have closed-form moments (a Gaussian, a GaussianMixture or a KDE), "
                             f"got {type(truth).__name__}")
        if truth.d != self.d:
            raise ValueError(f"mismatched dimensions: the KDE model has d={self.d} dimensions but the truth has "
                             f"d={truth.d}")

    def check_regime(self, regime, generations: int) -> None:
        need = required_capacity(regime, generations)
        if need is not None and need > self.capacity:
            raise ValueError(f"this regime trains on up to {need} samples but the KDE stores {self.capacity}: "
                             f"build it with KDE(points, ..., capacity={need})")
        self.check_drift(regime.drift)
