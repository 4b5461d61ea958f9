r"""Gaussian mixtures fitted by weighted EM: the family of Shumailov et al.'s mixture experiment.

$p(x) = \sum_{k=1}^K \pi_k N(x; \mu_k, \Sigma_k)$ with full or diagonal $\Sigma_k$. There are no
finite sufficient statistics, so the training data are the weighted samples themselves
(`jaxcollapse.data.SampleStats`) and the engine runs on the sample path. `fit` runs EM on the
weighted samples: a fixed number of iterations (`tol = 0`) or until the mean log-likelihood
changes by less than `tol` (at most `em_iters` iterations), from

- ``init="warm"``: the current model (the previous generation's fit; no randomness), or
- ``init="random"``: $K$ distinct data points drawn with probability proportional to their weight
  (Gumbel top-$k$) as means, the pooled covariance for every component and equal weights; the draw
  comes from the chain's stream (`simulate` passes one), so chain $i$ is reproducible.

E-step: $r_{ik} \propto \pi_k N(x_i; \mu_k, \Sigma_k)$ in log space; M-step with sample weights
$w_i$: $N_k = \sum_i w_i r_{ik}$, $\pi_k = N_k/\sum_k N_k$, $\mu_k = \sum_i w_i r_{ik} x_i/N_k$,
$\Sigma_k = \sum_i w_i r_{ik}(x_i - \mu_k)(x_i - \mu_k)^\top/N_k + \epsilon I$ (the covariance floor
$\epsilon$ = `reg`, as scikit-learn's ``reg_covar``).

**The spread is blind to $K$ and to the EM budget** (derived here, `theory.mixture_spread_mean`): after
any M-step, $\sum_k \pi_k\mu_k = \bar x$ and $\sum_k\pi_k(\Sigma_k + \mu_k\mu_k^\top) - \bar x\bar x^\top$ is
the (weighted) MLE covariance of the data plus $\epsilon I$, whatever the responsibilities. So the
mixture's mean and covariance are refit exactly as a Gaussian's would be, and
$E\,\mathrm{tr}\,\mathrm{Cov}_t = (1 - 1/n)^t\,\mathrm{tr}\,\mathrm{Cov}_0$ under replace for every $K$, initialization
and number of EM iterations ($\epsilon = 0$, no dead component; the trace also for diagonal
covariances). Expressivity and approximation errors show in the shape (``l2sq``, ``kl``), not there.

**Component death.** A component whose responsibility mass $N_k$ falls below `min_count` (default one
sample) and is not the largest is dead: its weight is set to exactly 0 and its mean and covariance are frozen, so it
never produces NaN and never comes back. The metric ``dead`` counts dead components per chain
(a per-chain flag: ``dead > 0``). Under replace the weights perform a Wright-Fisher-like random walk,
so components die in the long run.
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
from .._linalg import chol_psd, log_normal_rows, logsumexp_rows, sum_terms, whitener
from .._multinomial import monotone_cumsum
from .._validate import numeric
from ..random import Stream
from ..stats import SampleStats
from ..theory import mixture as thm
from ._base import AbstractMomentFamily, AbstractSampleFamily

COVARIANCES = ("full", "diag")
INITS = ("warm", "random")
UNROLLED_MAX_KDD = 256  # K * d^2 up to this: EM on per-coordinate columns (elementwise ops, long reductions only)


def _logsumexp_cols(a: list):
    r"""`logsumexp_rows` of the columns `a` (K arrays of shape (n,)): $-\infty$ where all are, never NaN."""
    m = a[0]
    for t in a[1:]:
        m = jnp.maximum(m, t)
    safe = jnp.where(jnp.isfinite(m), m, 0.0)
    return safe + jnp.log(sum_terms([jnp.exp(t - safe) for t in a]))


class GaussianMixture(AbstractSampleFamily, AbstractMomentFamily):
    r"""A $K$-component Gaussian mixture in $d$ dimensions, refitted by weighted EM.

    **Arguments:**

    - `weights` (K,), `means` (K, d), `covs`: (K, d, d), (K, d) for diagonals, or a scalar $\sigma^2$.
    - `covariance`: ``"full"`` or ``"diag"`` (the fit keeps only diagonals).
    - `em_iters`: EM iterations (the maximum when `tol > 0`); `tol`: stop when the mean
      log-likelihood changes by less (0: always `em_iters` iterations).
    - `init`: ``"warm"`` (start EM from the current model) or ``"random"`` (see the module).
    - `reg`: covariance floor added in every M-step; `eval_size`: truth draws for the KL estimate;
      `min_count`: a component with less responsibility mass dies (default 1 sample; 0: only at 0).

    Metrics against a truth mixture: ``l2sq`` (closed-form $\|p - p^*\|_2^2$; $+\infty$ once a live
    component is singular), ``kl``
    ($\mathrm{KL}(p^*\|p)$ by Monte Carlo over `eval_size` truth draws from the metrics stream: new
    draws for every chain and generation), ``spread`` (trace of the mixture's covariance), ``mean_sq_err``
    (squared distance of the mixture means), ``mean_error`` (the signed error of the mixture mean,
    averaged over coordinates as the Gaussian's), ``weight_min``, ``weight_max`` and ``dead`` (number of
    dead components).
    """

    weights: Float[Array, " K"]
    means: Float[Array, "K d"]
    covs: Float[Array, "K d d"]
    covariance: str = eqx.field(static=True)
    em_iters: int = eqx.field(static=True)
    tol: float = eqx.field(static=True)
    init: str = eqx.field(static=True)
    reg: float = eqx.field(static=True)
    eval_size: int = eqx.field(static=True)
    min_count: float = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (
        "l2sq", "kl", "spread", "mean_sq_err", "mean_error", "weight_min", "weight_max", "dead",
    )
    has_exact_stats: ClassVar[bool] = False
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True

    def __init__(self, weights, means, covs=1.0, *, covariance: str = "full", em_iters: int = 100,
                 tol: float = 1e-6, init: str = "warm", reg: float = 1e-6, eval_size: int = 512,
                 min_count: float = 1.0):
        numeric("GaussianMixture", weights=weights, means=means, covs=covs, tol=tol, reg=reg, min_count=min_count)
        if covariance not in COVARIANCES:
            raise ValueError(f"unknown covariance {covariance!r}; choose one of {COVARIANCES}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
        for nm, v in (("em_iters", em_iters), ("eval_size", eval_size)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{nm} must be an integer >= 1, got {v!r}")
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"tol must be >= 0, got {tol}")
        if not (math.isfinite(reg) and reg >= 0):
            raise ValueError(f"reg must be >= 0, got {reg}")
        if not (math.isfinite(min_count) and min_count >= 0):
            raise ValueError(f"min_count must be >= 0, got {min_count}")
        dtype = jnp.result_type(float)
        w = jnp.atleast_1d(jnp.asarray(weights, dtype))
        if w.ndim != 1 or w.shape[0] < 1:
            raise ValueError(f"the number of components K must be >= 1; got weights of shape {w.shape}")
        K = w.shape[0]
        m = jnp.asarray(means, dtype)
        if m.ndim == 1 and K == 1:
            m = m[None, :]
        elif m.ndim == 1:
            m = m[:, None]  # K scalars: 1-D components
        if m.ndim != 2 or m.shape[0] != K:
            raise ValueError(f"means must have shape (K, d) = ({K}, d), got {m.shape}")
        d = m.shape[1]
        c = jnp.asarray(covs, dtype)
        if c.ndim == 0:
            c = c * jnp.broadcast_to(jnp.eye(d, dtype=dtype), (K, d, d))
        elif c.ndim == 1 and c.shape[0] == K:
            c = c[:, None, None] * jnp.broadcast_to(jnp.eye(d, dtype=dtype), (K, d, d))
        elif c.ndim == 2 and c.shape == (K, d):
            c = jax.vmap(jnp.diag)(c)
        if c.shape != (K, d, d):
            raise ValueError(f"covs must have shape (K, d, d) = ({K}, {d}, {d}) (or (K, d), or a scalar); "
                             f"got {c.shape}")
        if not isinstance(w, jax.core.Tracer):
            wn, cn = np.asarray(w, np.float64), np.asarray(c, np.float64)
            if not np.all(np.isfinite(wn)) or np.any(wn < 0) or wn.sum() <= 0:
                raise ValueError("weights must be finite, >= 0 and not all 0")
            if not np.all(np.isfinite(np.asarray(m))) or not np.all(np.isfinite(cn)):
                raise ValueError("means and covs must be finite")
            if not np.allclose(cn, np.swapaxes(cn, 1, 2), rtol=1e-6, atol=1e-12):
                raise ValueError("every covariance must be symmetric")
            if np.linalg.eigvalsh(cn).min() <= 0:
                raise ValueError("every covariance must be positive definite")
            w = w / jnp.sum(w)
        self.weights, self.means, self.covs = w, m, c
        self.covariance, self.em_iters, self.tol, self.init = covariance, int(em_iters), float(tol), init
        self.reg, self.eval_size, self.min_count = float(reg), int(eval_size), float(min_count)

    # --------------------------------------------------------------- basics
    @property
    def K(self) -> int:
        return self.weights.shape[0]

    @property
    def d(self) -> int:
        return self.means.shape[1]

    @property
    def dtype(self):
        return self.means.dtype

    def moments(self) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
        return thm.mixture_moments(self.weights, self.means, self.covs)

    @property
    def row_shape(self) -> tuple[int, ...]:
        return (self.d,)

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"d": (self.d, "dimensions")}

    def translate(self, delta) -> GaussianMixture:
        """Every component mean moved by `delta` (a scalar or a vector of length d)."""
        delta = jnp.broadcast_to(jnp.asarray(delta, self.dtype), (self.d,))
        return eqx.tree_at(lambda g: g.means, self, self.means + delta[None, :])

    # --------------------------------------------------------------- sampling and density
    def _chols(self) -> Float[Array, "K d d"]:
        return jax.vmap(chol_psd)(self.covs)

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d"]:
        u = R.uniform(stream.fork(R.SALT_PICK), (n,), self.dtype)
        cum = monotone_cumsum(self.weights)  # a component of weight 0 is never picked
        comp = jnp.sum(cum[None, :] < (u * cum[-1])[:, None], axis=1)
        comp = jnp.minimum(comp, self.K - 1)
        z = R.normal(stream.fork(R.SALT_JITTER), (n, self.d), self.dtype)
        L = self._chols()[comp]  # (n, d, d)
        return self.means[comp] + temperature * jnp.einsum("nij,nj->ni", L, z)

    def _logw(self) -> Float[Array, " K"]:
        return jnp.where(self.weights > 0, jnp.log(jnp.where(self.weights > 0, self.weights, 1.0)), -jnp.inf)

    @property
    def _unrolled(self) -> bool:
        """Small K and d: EM and densities on per-coordinate columns (`_component_logp_cols`, `_em_step_cols`)."""
        return self.K * self.d * self.d <= UNROLLED_MAX_KDD

    def _component_logp(self, x: Float[Array, "n d"]) -> Float[Array, "n K"]:
        lp = jax.vmap(lambda m, c: log_normal_rows(x, m, c), out_axes=1)(self.means, self.covs)
        return lp + self._logw()[None, :]

    def _component_logp_cols(self, xc: list) -> list:
        r"""$\log \pi_k + \log N(x_i; \mu_k, \Sigma_k)$ as K arrays of shape (n,), from the d columns `xc` of x.

        The arithmetic of `log_normal_rows` (unrolled Cholesky, forward substitution, $-\infty$ for a singular
        $\Sigma_k$), written per coordinate and component so that no reduction runs over a short axis (d or K):
        XLA CPU runs those as slow reduction kernels (on 100 chains x 3,000 rows, the sum over d = 2 of the
        squared residuals took twice as long as the rest of an EM step).
        """
        d = self.d
        logw = self._logw()
        out = []
        for k in range(self.K):
            safe, logdet, singular = whitener(self.covs[k])
            z: list = []
            for i in range(d):
                acc = xc[i] - self.means[k, i]
                for j in range(i):
                    acc = acc - safe[i, j] * z[j]
                z.append(acc / safe[i, i])
            maha = sum_terms([zi * zi for zi in z])
            val = -0.5 * maha - 0.5 * logdet - 0.5 * d * math.log(2.0 * math.pi)
            out.append(jnp.where(singular, -jnp.inf, val) + logw[k])
        return out

    @eqx.filter_jit
    def log_prob(self, x: Float[Array, "n d"]) -> Float[Array, " n"]:
        """$\\log p(x_i)$ for every row of `x`."""
        x = jnp.asarray(x, self.dtype)
        if self._unrolled:
            return _logsumexp_cols(self._component_logp_cols([x[:, i] for i in range(self.d)]))
        return logsumexp_rows(self._component_logp(x))

    # --------------------------------------------------------------- fitting
    def _random_init(self, x, w, stream: Stream) -> GaussianMixture:
        n = x.shape[0]
        g = -jnp.log(-jnp.log(R.uniform(stream, (n,), self.dtype) * (1 - 1e-7)))  # Gumbel
        keys = jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)) + g, -jnp.inf)
        _, idx = jax.lax.top_k(keys, self.K)
        total = jnp.maximum(jnp.sum(w), jnp.finfo(self.dtype).tiny)
        mean = (w @ x) / total
        r = (x - mean[None, :]) * jnp.sqrt(w)[:, None]
        cov = r.T @ r / total
        if self.covariance == "diag":
            cov = jnp.diag(jnp.diagonal(cov))
        cov = cov + self.reg * jnp.eye(self.d, dtype=self.dtype)
        covs = jnp.broadcast_to(cov, (self.K, self.d, self.d))
        return self._params(jnp.full((self.K,), 1.0 / self.K, self.dtype), x[idx], covs)

    def _params(self, weights, means, covs) -> GaussianMixture:
        return eqx.tree_at(lambda g: (g.weights, g.means, g.covs), self, (weights, means, covs))

    def _em_step(self, x, w) -> tuple[GaussianMixture, Float[Array, ""]]:
        if self._unrolled:
            return self._em_step_cols([x[:, i] for i in range(self.d)], w)
        lp = self._component_logp(x)
        lse = logsumexp_rows(lp)
        total = jnp.maximum(jnp.sum(w), jnp.finfo(self.dtype).tiny)
        ll = jnp.sum(w * jnp.where(w > 0, lse, 0.0)) / total
        resp = jnp.exp(lp - jnp.where(jnp.isfinite(lse), lse, 0.0)[:, None]) * w[:, None]  # (n, K)
        nk = jnp.sum(resp, axis=0)
        alive = (self.weights > 0) & ((nk >= self.min_count) | (nk >= jnp.max(nk)))
        upd = alive & (nk > 0)  # nk = 0 everywhere only if no sample has a finite density: keep the model
        safe_nk = jnp.where(upd, nk, 1.0)
        means = (resp.T @ x) / safe_nk[:, None]
        eye = jnp.eye(self.d, dtype=self.dtype)

        def cov_k(r_k, m_k, n_k):
            diff = x - m_k[None, :]
            if self.covariance == "diag":
                return jnp.diag(r_k @ (diff * diff) / n_k)
            c = (diff * r_k[:, None]).T @ diff / n_k
            return 0.5 * (c + c.T)

        covs = jax.vmap(cov_k, in_axes=(1, 0, 0))(resp, means, safe_nk) + self.reg * eye[None, :, :]
        return self._m_finish(nk, alive, upd, means, covs), ll

    def _em_step_cols(self, xc: list, w) -> tuple[GaussianMixture, Float[Array, ""]]:
        """`_em_step` on the d columns `xc` of x: the same E- and M-step, every sum a reduction over the rows
        (the covariance two-pass, around the new means, as in `_em_step`)."""
        d, K = self.d, self.K
        lp = self._component_logp_cols(xc)
        lse = _logsumexp_cols(lp)
        total = jnp.maximum(jnp.sum(w), jnp.finfo(self.dtype).tiny)
        ll = jnp.sum(w * jnp.where(w > 0, lse, 0.0)) / total
        norm = jnp.where(jnp.isfinite(lse), lse, 0.0)
        resp = [jnp.exp(lp_k - norm) * w for lp_k in lp]  # K arrays (n,)
        nk = jnp.stack([jnp.sum(r) for r in resp])
        alive = (self.weights > 0) & ((nk >= self.min_count) | (nk >= jnp.max(nk)))
        upd = alive & (nk > 0)
        safe_nk = jnp.where(upd, nk, 1.0)
        sums = jnp.stack([jnp.stack([jnp.sum(resp[k] * xc[i]) for i in range(d)]) for k in range(K)])
        means = sums / safe_nk[:, None]
        covs = []
        for k in range(K):
            diff = [xc[i] - means[k, i] for i in range(d)]
            rd = [resp[k] * di for di in diff]
            c = [[None] * d for _ in range(d)]
            zero = jnp.zeros((), self.dtype)
            for i in range(d):
                for j in range(i + 1):
                    if self.covariance == "diag" and i != j:
                        c[i][j] = c[j][i] = zero
                    else:
                        c[i][j] = c[j][i] = jnp.sum(rd[i] * diff[j]) / safe_nk[k]
            covs.append(jnp.stack([jnp.stack(row) for row in c]))
        covs = jnp.stack(covs) + self.reg * jnp.eye(d, dtype=self.dtype)[None, :, :]
        return self._m_finish(nk, alive, upd, means, covs), ll

    def _m_finish(self, nk, alive, upd, means, covs) -> GaussianMixture:
        """The M-step's new parameters: dead components at weight 0 with their parameters frozen."""
        weights = jnp.where(alive, nk, 0.0)
        wsum = jnp.sum(weights)
        weights = jnp.where(wsum > 0, weights / jnp.where(wsum > 0, wsum, 1.0), self.weights)
        means = jnp.where(upd[:, None], means, self.means)
        covs = jnp.where(upd[:, None, None], covs, self.covs)
        return self._params(weights, means, covs)

    def fit(self, stats: SampleStats, stream: Stream) -> GaussianMixture:
        """EM on the weighted samples of `stats` (see the module docstring); `stream` draws a random start."""
        x = jnp.asarray(stats.x, self.dtype).reshape(stats.x.shape[0], self.d)
        w = jnp.asarray(stats.weight, self.dtype)
        start = self
        if self.init == "random":
            start = self._random_init(x, w, stream)
        dt = self.dtype

        def cond(carry):
            it, _, prev, cur = carry
            going = it < self.em_iters
            if self.tol > 0:
                going = going & ((it < 2) | (jnp.abs(cur - prev) >= self.tol))
            return going

        def body(carry):
            it, model, _, cur = carry
            new, ll = model._em_step(x, w)
            return it + 1, new, cur, ll

        init = (jnp.zeros((), jnp.int32), start, jnp.asarray(-jnp.inf, dt), jnp.asarray(jnp.inf, dt))
        if self.tol > 0:
            _, out, _, _ = jax.lax.while_loop(cond, body, init)
        else:
            _, out, _, _ = jax.lax.fori_loop(0, self.em_iters, lambda i, c: body(c), init)
        return out

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: GaussianMixture, stream: Stream) -> dict[str, Float[Array, ""]]:
        mean, cov = self.moments()
        mean0, _ = truth.moments()
        dm = mean - mean0
        xs = truth.draw_samples(stream, self.eval_size, jnp.ones((), self.dtype))
        kl = jnp.mean(truth.log_prob(xs) - self.log_prob(xs))
        l2 = thm.mixture_l2sq(self.weights, self.means, self.covs, truth.weights, truth.means, truth.covs)
        # a live component with a singular covariance (possible with reg = 0) has an infinite L2 norm
        singular = jnp.any((self.weights > 0) & jnp.any(jnp.diagonal(self._chols(), axis1=1, axis2=2) <= 0, axis=1))
        l2 = jnp.where(singular, jnp.inf, l2)
        alive = self.weights > 0
        return {
            "l2sq": l2,
            "kl": kl,
            "spread": jnp.trace(cov),
            "mean_sq_err": jnp.sum(dm * dm),
            "mean_error": jnp.mean(dm),
            "weight_min": jnp.min(self.weights),
            "weight_max": jnp.max(self.weights),
            "dead": jnp.sum(~alive).astype(self.dtype),
        }

    # --------------------------------------------------------------- checks
    def accepts_truth(self, truth) -> None:
        """A truth must be a Gaussian mixture of the same dimension (its K may differ: expressivity error)."""
        if not isinstance(truth, GaussianMixture):
            raise ValueError(f"the truth of a GaussianMixture must be a GaussianMixture, got {type(truth).__name__}")
        if truth.d != self.d:
            raise ValueError(f"mismatched dimensions: the GaussianMixture model has d={self.d} dimensions but the "
                             f"truth has d={truth.d}")

    def check_regime(self, regime, generations: int) -> None:
        self.check_drift(regime.drift)
        lo = regime.min_train_size(generations)
        if self.init == "random" and lo is not None and lo < self.K:
            raise ValueError(f"a random EM initialization needs at least K = {self.K} samples per fit; "
                             f"this regime trains on {lo}")


def moment_matched(mix: GaussianMixture, **kwargs) -> GaussianMixture:
    """The single Gaussian ($K = 1$) with the mixture's mean and covariance: the limit of a $K = 1$ fit
    as $n\\to\\infty$ (the expressivity error's starting point)."""
    mean, cov = mix.moments()
    opts = dict(covariance=mix.covariance, em_iters=mix.em_iters, tol=mix.tol, init=mix.init, reg=mix.reg,
                eval_size=mix.eval_size, min_count=mix.min_count)
    opts.update(kwargs)
    return GaussianMixture(jnp.ones((1,)), mean[None, :], cov[None, :, :], **opts)
