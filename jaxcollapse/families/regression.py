r"""Linear and ridge regression with a Gaussian design: recursive training on synthetic labels.

The model is a regressor $x \mapsto x^\top w$ with a design law $x \sim N(0, \Sigma)$ in
$\mathbb R^d$ and a label noise $\sigma$: it generates a labelled sample as
$y = x^\top w + \sigma\varepsilon$, $\varepsilon \sim N(0, 1)$. Generation $t$ fits $w_t$ on labels
made by $w_{t-1}$ (generation 1 on labels of the truth $w^*$), by ridge regression

$$w_t = (X^\top X + \lambda n I)^{-1} X^\top y \qquad (\lambda = 0:\ \text{OLS, or the min-norm
solution } (X^\top X)^{+} X^\top y \text{ when } X^\top X \text{ is singular, e.g. } n < d),$$

with $n$ the (weighted) number of rows, so $\lambda$ is a per-sample penalty
($\min_w \tfrac1n\|y - Xw\|^2 + \lambda\|w\|^2$).

**Sufficient statistics** are $(n, X^\top X, X^\top y, y^\top y)$. With a Gaussian design they
have an exact law that `Regression.sample_stats` draws at a cost independent of $n$:
$X^\top X = L A A^\top L^\top \sim \mathrm{Wishart}_d(n, \Sigma)$ by Bartlett's decomposition
($LL^\top = \Sigma$; $A$ lower triangular, $A_{jj}^2 \sim \chi^2_{n-j+1}$, $A_{ij} \sim N(0,1)$ for
$i > j$, and the columns $j > n$ zero when $n < d$, the singular Wishart), and given it
$X^\top y = X^\top X\, w + \sigma B z$ with $B = LA$ ($BB^\top = X^\top X$) and $z \sim N(0, I_d)$,
because $X^\top\varepsilon \mid X \sim N(0, X^\top X)$; finally
$y^\top y = w^\top X^\top X w + 2\sigma w^\top B z + \sigma^2(\|z_{1:r}\|^2 + \chi^2_{n-r})$,
$r = \min(n, d)$ (the part of $\varepsilon$ outside the column space of $X$ is independent).

**Design.** ``design="fresh"`` draws a new design every generation. ``design="fixed"`` reuses one
design per chain in every generation (Gerstgrasser et al. 2024; Kazdan et al. 2024): only the
label noise is fresh. The engine hands a family a stream that depends on the generation, so the
fixed design is drawn from a stream of its own, `Stream(design_key, chain)`, which depends on the
chain and on the model's `design_seed` but not on the generation or the `simulate` key: every
generation re-draws the *same* design (the generator is counter-based), and the truth (the same
family, same seed) labels that same design when a regime has real data. Chains still have
independent designs, so averages over chains are averages over the design. A fixed design has a
fixed number of rows: every data set of the regime (synthetic and real) must have the same size.
Under ``accumulate`` the pooled Gram after $t$ generations is then $t\,X^\top X$.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, UInt32

from .. import random as R
from .._linalg import as_cov, cho_solve, chol_pd
from .._validate import numeric
from ..random import Stream
from ._base import AbstractFamily, AbstractStats

DESIGNS = ("fresh", "fixed")
_REFINE_STEPS = 4  # iterated-Tikhonov steps of the OLS / min-norm solve


class RegressionStats(AbstractStats):
    r"""Weighted count $n$, Gram $X^\top X$, $X^\top y$ and $y^\top y$ of a labelled sample."""

    count: Float[Array, ""]
    gram: Float[Array, "d d"]
    xy: Float[Array, " d"]
    yy: Float[Array, ""]

    def combine(self, other: RegressionStats) -> RegressionStats:
        return RegressionStats(self.count + other.count, self.gram + other.gram, self.xy + other.xy,
                               self.yy + other.yy)

    def scale(self, c) -> RegressionStats:
        return RegressionStats(self.count * c, self.gram * c, self.xy * c, self.yy * c)


def ridge_solve(gram: Float[Array, "d d"], xy: Float[Array, " d"], shift: Float[Array, ""]) -> Float[Array, " d"]:
    r"""$(G + sI)^{-1} b$ for $s > 0$; for $s = 0$ the min-norm least-squares solution $G^{+} b$.

    Iterated Tikhonov regularisation: with $M = G + \max(s, \delta) I$,
    $w_{k+1} = w_k + M^{-1}(b - (G + sI) w_k)$, $w_0 = 0$. For $s \ge \delta$ the first step is
    the exact ridge solution. For $s = 0$ every iterate lies in the range of $G$ (when $b$ does,
    as $X^\top y$ always does), and on an eigen-direction with eigenvalue $g > 0$ the error
    contracts by $\delta/(g + \delta)$ per step, so the iterates converge to $G^{+} b$: the
    $\lambda \to 0$ limit of ridge, the pseudo-inverse solution, for singular $G$ (fewer rows
    than $d$) as for regular $G$. $\delta = \sqrt{\epsilon}\,\mathrm{tr}\,G/d$ ($\epsilon$ the
    machine epsilon); `_REFINE_STEPS` steps. One Cholesky factorisation serves every step, and
    $G$ needs no eigendecomposition (no batched `eigh` in the scan body).
    """
    d = gram.shape[-1]
    dt = gram.dtype
    eye = jnp.eye(d, dtype=dt)
    scale = jnp.trace(gram) / d
    delta = jnp.sqrt(jnp.finfo(dt).eps) * jnp.maximum(scale, jnp.finfo(dt).tiny / jnp.finfo(dt).eps)
    L = chol_pd(gram + jnp.maximum(shift, delta) * eye)
    target = gram + shift * eye
    w = cho_solve(L, xy)
    for _ in range(_REFINE_STEPS - 1):
        w = w + cho_solve(L, xy - target @ w)
    return w


# --------------------------------------------------------------------------- the family
class Regression(AbstractFamily):
    r"""Linear/ridge regression $y = x^\top w + \sigma\varepsilon$, $x \sim N(0, \Sigma)$.

    **Arguments:**

    - `w`: the coefficients (a vector of length $d \ge 1$); for the truth, $w^*$.
    - `cov`: the design covariance $\Sigma$: a scalar ($\sigma_x^2 I$), a vector (a diagonal, e.g.
      a power-law spectrum $i^{-\alpha}$) or a symmetric positive definite $d\times d$ matrix.
    - `noise`: the label noise $\sigma \ge 0$ ($0$: noise-free labels).
    - `ridge`: the per-sample ridge penalty $\lambda \ge 0$ ($0$: OLS / min-norm).
    - `design`: ``"fresh"`` or ``"fixed"`` (see the module docstring).
    - `design_seed`: the seed of the fixed design (chain $i$'s design depends on it and on $i$ only).

    Samples are rows $(x_1, \dots, x_d, y)$ of shape `(n, d + 1)`. A sampling temperature
    $\tau$ scales the label noise. Metrics against a truth $w^*$ (with its $\Sigma$):
    ``excess_risk`` $\|w - w^*\|_\Sigma^2 = (w - w^*)^\top\Sigma(w - w^*)$, the excess test error;
    ``r2`` $= 1 - \|w - w^*\|^2_\Sigma/\|w^*\|^2_\Sigma$, the share of the true signal's variance that
    the model's prediction explains ($-\infty$ if $w^* = 0 \ne w$, $1$ if both are $0$);
    ``w_norm`` $\|w\|$; ``mutual_info`` $I(x; y) = \tfrac12\ln(1 + w^\top\Sigma w/\sigma^2)$ nats,
    the mutual information between a design point and the label the model makes for it (for
    jointly Gaussian $(x, y)$ with $\mathrm{Var}\,y = w^\top\Sigma w + \sigma^2$, $I = \tfrac12
    \ln(\mathrm{Var}\,y/\sigma^2)$; $+\infty$ for noise-free labels of a nonzero $w$, $0$ once
    $w = 0$): the semantic content of the model's labels.
    """

    w: Float[Array, " d"]
    cov: Float[Array, "d d"]
    chol: Float[Array, "d d"]
    noise: Float[Array, ""]
    ridge: Float[Array, ""]
    design_key: UInt32[Array, "2"]
    design: str = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = ("excess_risk", "r2", "w_norm", "mutual_info")
    has_exact_stats: ClassVar[bool] = True
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = False

    def __init__(self, w, cov=1.0, noise=1.0, ridge=0.0, design: str = "fresh", design_seed: int = 0):
        if design not in DESIGNS:
            raise ValueError(f"unknown design {design!r}; choose one of {DESIGNS}")
        numeric("Regression", w=w, cov=cov, noise=noise, ridge=ridge)
        dtype = jnp.result_type(float)
        w = jnp.atleast_1d(jnp.asarray(w, dtype))
        if w.ndim != 1 or w.shape[0] < 1:
            raise ValueError(f"w must be a vector of length d >= 1, got shape {w.shape}")
        d = w.shape[0]
        cov = as_cov(cov, d, dtype)
        if cov.shape != (d, d):
            raise ValueError(f"cov has shape {cov.shape} but w has dimension {d}: expected ({d}, {d})")
        noise = jnp.asarray(noise, dtype)
        ridge = jnp.asarray(ridge, dtype)
        if noise.shape != () or ridge.shape != ():
            raise ValueError("noise and ridge must be scalars")
        if not isinstance(w, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(w))):
            raise ValueError("w must be finite")
        if not isinstance(cov, jax.core.Tracer):
            c = np.asarray(cov, np.float64)
            if not np.all(np.isfinite(c)) or not np.allclose(c, c.T, rtol=1e-6, atol=1e-12):
                raise ValueError("cov (the design covariance Sigma) must be a finite symmetric matrix")
            ev = np.linalg.eigvalsh(c)
            if ev.min() <= 1e-12 * max(1.0, float(np.abs(ev).max())):
                raise ValueError("cov (the design covariance Sigma) must be positive definite")
        for nm, v in (("noise", noise), ("ridge", ridge)):
            if not isinstance(v, jax.core.Tracer) and not (np.isfinite(float(v)) and float(v) >= 0):
                raise ValueError(f"{nm} must be a finite number >= 0, got {float(v)}")
        if isinstance(design_seed, bool) or not isinstance(design_seed, (int, np.integer)) or design_seed < 0:
            raise ValueError(f"design_seed must be an integer >= 0, got {design_seed!r}")
        self.w = w
        self.cov = cov
        self.chol = chol_pd(cov)
        self.noise = noise
        self.ridge = ridge
        self.design_key = jax.random.key_data(jax.random.key(int(design_seed)))
        self.design = design

    # --------------------------------------------------------------- basics
    @property
    def d(self) -> int:
        return self.w.shape[-1]

    @property
    def dtype(self):
        return self.w.dtype

    def with_w(self, w) -> Regression:
        """The same model with coefficients `w`."""
        return eqx.tree_at(lambda m: m.w, self, jnp.asarray(w, self.dtype))

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"d": (self.d, "coefficients")}

    def translate(self, delta) -> Regression:
        """The coefficients moved by `delta` (a scalar moves every coefficient, or a vector of length d)."""
        return self.with_w(self.w + jnp.asarray(delta, self.dtype))

    def empty_stats(self) -> RegressionStats:
        d, dt = self.d, self.dtype
        return RegressionStats(jnp.zeros((), dt), jnp.zeros((d, d), dt), jnp.zeros((d,), dt), jnp.zeros((), dt))

    def describe(self, n: int | None = None) -> str:
        """One line: the configuration, and whether a fit on `n` rows is OLS, min-norm or ridge."""
        ridge = float(self.ridge) if not isinstance(self.ridge, jax.core.Tracer) else None
        text = (f"Regression(d={self.d}, design={self.design}, noise={_fmt(self.noise)}, "
                f"ridge={_fmt(self.ridge)})")
        if ridge == 0 and n is not None:
            text += (f": min-norm (pseudo-inverse) fits, {n} rows <= d = {self.d}" if n <= self.d
                     else f": OLS fits on {n} rows")
        return text

    def _design_stream(self, stream: Stream) -> Stream:
        if self.design == "fixed":
            # The barrier keeps XLA from constant-folding the hash of the (constant) design key,
            # which sent its algebraic simplifier into a loop (a logged error, no wrong result).
            return Stream(jax.lax.optimization_barrier(self.design_key), stream.chain).fork(R.SALT_DESIGN)
        return stream.fork(R.SALT_DESIGN)

    # --------------------------------------------------------------- sampling
    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n d1"]:
        return self._draw_rows(self._design_stream(stream), stream.fork(R.SALT_NOISE), n, self.noise * temperature)

    def _draw_rows(self, design: Stream, noise: Stream, n: int, s) -> Float[Array, "n d1"]:
        z = R.normal(design, (n, self.d), self.dtype)
        x = z @ self.chol.T
        eps = R.normal(noise, (n,), self.dtype)
        y = x @ self.w + s * eps
        return jnp.concatenate([x, y[:, None]], axis=1)

    def sample_stats(self, stream: Stream, n, temperature) -> RegressionStats:
        r"""Exact $(n, X^\top X, X^\top y, y^\top y)$ of $n$ labelled rows; cost independent of $n$."""
        return self._draw_stats(self._design_stream(stream), stream, jnp.asarray(n, self.dtype),
                                self.noise * temperature)

    def _draw_stats(self, ds: Stream, stream: Stream, n, s) -> RegressionStats:
        d, dt = self.d, self.dtype
        j = jnp.arange(d, dtype=dt)  # 0-based column index
        chi = R.chisquare(ds.fork(R.SALT_WISHART_CHI), jnp.maximum(n - j, 0.0), dt)  # A_jj^2 ~ chi^2_{n-j} (0-based)
        A = jnp.diag(jnp.sqrt(chi))
        if d > 1:
            rows, cols = np.tril_indices(d, -1)
            off = R.normal(ds.fork(R.SALT_WISHART_OFFDIAG), (rows.size,), dt)
            off = jnp.where(jnp.asarray(cols, dt) < n, off, 0.0)  # the columns j >= n of a singular Wishart
            A = A.at[rows, cols].set(off)
        B = self.chol @ A
        gram = B @ B.T
        z = R.normal(stream.fork(R.SALT_NOISE), (d,), dt)
        z = jnp.where(j < n, z, 0.0)  # B's columns j >= n are zero: only r = min(n, d) of z count
        Bz = B @ z
        xy = gram @ self.w + s * Bz
        resid = R.chisquare(stream.fork(R.SALT_RESID), jnp.maximum(n - d, 0.0)[None], dt)[0]
        yy = self.w @ gram @ self.w + 2.0 * s * (self.w @ Bz) + s * s * (z @ z + resid)
        return RegressionStats(n, gram, xy, yy)

    def stats(self, x: Float[ArrayLike, "n d1"], mask: Bool[Array, " n"] | None = None) -> RegressionStats:
        """Statistics of labelled rows `x` (shape `(n, d + 1)`; rows where `mask` is False left out)."""
        x = jnp.asarray(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.d + 1:
            raise ValueError(f"labelled rows must have shape (n, {self.d + 1}), got {x.shape}")
        wt = jnp.ones(x.shape[0], self.dtype) if mask is None else mask.astype(self.dtype)
        X, y = x[:, :-1], x[:, -1]
        Xw = X * wt[:, None]
        return RegressionStats(jnp.sum(wt), Xw.T @ X, Xw.T @ y, jnp.sum(wt * y * y))

    # --------------------------------------------------------------- fitting
    def fit(self, stats: RegressionStats, stream: Stream) -> Regression:
        """The ridge (or OLS / min-norm) solution of the statistics (no randomness: `stream` is unused)."""
        gram = 0.5 * (stats.gram + stats.gram.T)
        return self.with_w(ridge_solve(gram, stats.xy, self.ridge * stats.count))

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: Regression, stream: Stream) -> dict[str, Float[Array, ""]]:
        e = truth.chol.T @ (self.w - truth.w)
        excess = jnp.sum(e * e)
        s0 = truth.chol.T @ truth.w
        signal = jnp.sum(s0 * s0)
        ratio = jnp.where(signal > 0, excess / jnp.where(signal > 0, signal, 1.0), jnp.where(excess > 0, jnp.inf, 0.0))
        sw = self.chol.T @ self.w
        power = jnp.sum(sw * sw)
        var = self.noise * self.noise
        snr = jnp.where(var > 0, power / jnp.where(var > 0, var, 1.0), jnp.where(power > 0, jnp.inf, 0.0))
        return {
            "excess_risk": excess,
            "r2": 1.0 - ratio,
            "w_norm": jnp.sqrt(jnp.sum(self.w * self.w)),
            "mutual_info": 0.5 * jnp.log1p(snr),
        }

    # --------------------------------------------------------------- checks
    def check_regime(self, regime, generations: int) -> None:
        self.check_drift(regime.drift)
        if self.design == "fixed":
            sizes = set()
            if regime.lam is not None:
                lam = None if isinstance(regime.lam, jax.core.Tracer) else float(regime.lam)
                sizes.add(None if lam is None else int(np.round(lam * regime.n_real)))
            else:
                r = regime.n.concrete_range(generations)
                sizes.update({None} if r is None else set(r))
            if regime.real != "none":
                sizes.add(regime.n_real)
            if len(sizes) != 1 or None in sizes:
                raise ValueError(
                    "a fixed design has a fixed number of rows: every generation's synthetic data (and the real "
                    f"data, if any) must have the same concrete size; this regime has sizes {sorted(map(str, sizes))}"
                )


def _fmt(x) -> str:
    if isinstance(x, jax.core.Tracer):
        return "<traced>"
    return f"{float(x):g}"


def downstream_risk(key, models: Regression, truth: Regression, T: int, *, ridge=0.0, noise=None,
                    path: str = "exact") -> Float[Array, "*chains"]:
    r"""Downstream evaluation (Dohmatob, Feng and Kempe 2024): train a fresh ridge model on $T$ rows
    labelled by each model, and return its excess risk $\|\hat w - w^*\|^2_\Sigma$ against the truth.

    - `models`: a `Regression` with a leading chain axis (e.g. `simulate(...).final`), or a single one.
    - `truth`: the truth ($w^*$ and its $\Sigma$).
    - `T`: rows of the downstream training set (a fresh design, $x \sim N(0, \Sigma)$ of the model);
      labels $y = x^\top w_n + \sigma\varepsilon$ with $\sigma$ = `noise` (default: the model's noise).
    - `ridge`: the downstream fit's per-sample penalty $\lambda \ge 0$ ($0$: OLS / min-norm).
    - `path`: ``"exact"`` (Wishart statistics, cost independent of $T$) or ``"samples"``.

    Chain $i$'s downstream data depend only on `key` and $i$. Returns one value per chain.
    """
    if not isinstance(models, Regression) or not isinstance(truth, Regression):
        raise ValueError("models and truth must be Regression models")
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    if path not in ("exact", "samples"):
        raise ValueError(f"unknown path {path!r}; choose 'exact' or 'samples'")
    dt = truth.dtype
    lam = jnp.asarray(ridge, dt)
    if not isinstance(ridge, jax.core.Tracer) and not (np.isfinite(float(lam)) and float(lam) >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge}")
    if noise is not None and not isinstance(noise, jax.core.Tracer):
        if not (np.isfinite(float(noise)) and float(noise) >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    single = models.w.ndim == 1
    batched = jax.tree.map(lambda a: a[None], models) if single else models
    if batched.w.shape[-1] != truth.d:
        raise ValueError(f"the models have dimension {batched.w.shape[-1]} but the truth {truth.d}")
    chains = batched.w.shape[0]
    base = Stream.from_key(key)
    out = _downstream(base.key, batched, truth, int(T), lam, None if noise is None else jnp.asarray(noise, dt),
                      path, chains)
    return out[0] if single else out


@eqx.filter_jit
def _downstream(key, models, truth, T: int, lam, noise, path: str, chains: int):
    def one(model, chain):
        stream = Stream(key, chain)
        s = model.noise if noise is None else noise
        ds = stream.fork(R.SALT_DESIGN)
        if path == "exact":
            st = model._draw_stats(ds, stream, jnp.asarray(T, model.dtype), s)
        else:
            st = model.stats(model._draw_rows(ds, stream.fork(R.SALT_NOISE), T, s))
        gram = 0.5 * (st.gram + st.gram.T)
        fitted = model.with_w(ridge_solve(gram, st.xy, lam * st.count))
        return fitted.metrics(truth, stream)["excess_risk"]

    return jax.vmap(one)(models, jnp.arange(chains, dtype=jnp.uint32))
