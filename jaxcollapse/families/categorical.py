r"""The categorical family over $K$ categories: recursive refitting is the Wright–Fisher model.

Refitting $p$ by the empirical frequencies of $n$ of its own draws, $p' = N/n$ with
$N \sim \mathrm{Multinomial}(n, p)$, is the haploid Wright–Fisher model with population size $n$: a
category that is not drawn is gone for good (its probability is 0 from then on), so the chain ends
with one category holding all the mass. `Categorical.sample_stats` draws the counts $N$ exactly with
`jaxcollapse._multinomial.multinomial_cumulative` (sorted uniforms by exponential spacings), at a cost of
about $P + K\log_2 P$ per chain and generation, $P$ the least power of two above the batch capacity
(`capacity`, default $2^{\lceil\log_2(K+1)\rceil} - 1$). The model carries its cumulative probabilities
`cdf` beside `p`; a refit gets them from the sampler's cumulative counts, so sampling from $p$ needs no
prefix sum.

**Fit.** $\hat p_i = (N_i + \alpha)/(\sum_j N_j + K\alpha)$: $\alpha = 0$ is the MLE, $\alpha > 0$
additive (Dirichlet($\alpha$) posterior-mean) smoothing, which keeps every category alive.

**Decoding.** Samples are drawn from $q$, made from $p$ by (in this order) a temperature $\tau$
(the regime's), $q \propto p^{1/\tau}$; `top_k` (keep the $k$ most probable categories, ties broken
by index); `top_p` (keep the smallest set of most probable categories whose mass reaches `top_p`,
the nucleus of Holtzman et al. 2020); then renormalized.

**Drift** (a moving logit): `translate(delta)` multiplies $p_i$ by $e^{\delta_i}$ and renormalizes, with
$\delta_i = \delta\,i$ ($i = 0..K-1$, a tilt toward the later categories) for a scalar $\delta$ or the given
vector of length $K$. A category of probability 0 stays at 0. Under ``fresh`` real data ($n_r$ draws of the
current truth pooled with $n_s$ synthetic draws, $\alpha = 0$, $\tau = 1$) the fit is the pooled frequency,
so $E\,p_t = a\,E\,p_{t-1} + (1 - a)\,p^*_t$ with $a = n_s/(n_r + n_s)$: derived here from
$E[N_{\rm syn} \mid p_{t-1}] = n_s p_{t-1}$ and $E N_{\rm real} = n_r p^*_t$. Hence
$E\,p_t = a^t p_0 + (1 - a)\sum_{s=1}^t a^{t-s} p^*_s$ exactly (`theory.categorical.fresh_drift_probabilities`),
the Gaussian mean's lag law (`theory.gaussian.fresh_drift_mean_error`) for each category's probability.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from .._batching import cond_any
from .._multinomial import (
    categorical_draws,
    default_capacity,
    monotone_cumsum,
    multinomial_cumulative,
)
from .._validate import numeric
from ..random import Stream
from ._base import AbstractFamily, AbstractStats

__all__ = ["Categorical", "CategoricalStats", "wordfreq_distribution", "zipf_probabilities"]

SUM_TOL = 1e-6


class CategoricalStats(AbstractStats):
    r"""Weighted category counts $N_i$, their total `count` $= \sum_i N_i$, and their running sums
    `cumulative` $= N_1 + \dots + N_i$ (which the exact sampler returns; the fit turns them into the
    model's cumulative probabilities without another prefix sum)."""

    count: Float[Array, ""]
    counts: Float[Array, " K"]
    cumulative: Float[Array, " K"]

    def combine(self, other: CategoricalStats) -> CategoricalStats:
        return CategoricalStats(self.count + other.count, self.counts + other.counts,
                                self.cumulative + other.cumulative)

    def scale(self, c) -> CategoricalStats:
        return CategoricalStats(self.count * c, self.counts * c, self.cumulative * c)


def zipf_probabilities(K: int, beta: float | int) -> np.ndarray:
    r"""Zipf($\beta$) over $K$ categories: $p_i = i^{-\beta} / \sum_{j \le K} j^{-\beta}$ (float64 numpy)."""
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2:
        raise ValueError(f"K must be an integer >= 2, got {K!r}")
    if not (isinstance(beta, (int, float, np.floating)) and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"the Zipf exponent beta must be a finite number >= 0, got {beta!r}")
    w = np.arange(1, K + 1, dtype=np.float64) ** -float(beta)
    return w / w.sum()


def wordfreq_distribution(K: int, lang: str = "en") -> tuple[list[str], np.ndarray]:
    """The `K` most frequent words of language `lang` in the `wordfreq` package and their frequencies,
    normalized to sum to 1 (float64). Uses wordfreq's bundled data (no download)."""
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2:
        raise ValueError(f"K must be an integer >= 2, got {K!r}")
    import wordfreq  # lazy: a dependency of this constructor only

    langs = wordfreq.available_languages("best")
    if lang not in langs:
        raise ValueError(f"wordfreq has no word list for language {lang!r}; available: {', '.join(sorted(langs))}")
    words = wordfreq.top_n_list(lang, K)
    if len(words) < K:
        raise ValueError(f"wordfreq lists only {len(words)} words for {lang!r}, fewer than K = {K}")
    f = np.array([wordfreq.word_frequency(w, lang) for w in words], dtype=np.float64)
    return list(words), f / f.sum()


def _xlogy_sum(a: Float[Array, " K"], b: Float[Array, " K"]) -> Float[Array, ""]:
    """sum_i a_i log b_i with 0 log 0 = 0 (a_i = 0 terms dropped)."""
    return jnp.sum(jnp.where(a > 0, a * jnp.log(jnp.where(a > 0, b, 1.0)), 0.0))


class Categorical(AbstractFamily):
    r"""A categorical distribution $p$ over $K \ge 2$ categories, refitted by (smoothed) frequencies.

    **Arguments:**

    - `p`: probabilities, shape `(K,)`: finite, $\ge 0$, summing to 1 within $10^{-6}$ (then normalized).
    - `alpha`: additive smoothing in the fit ($\ge 0$; 0 is the MLE); an array leaf, so runs that differ
      only in `alpha` share one compiled program.
    - `top_k`: sample only the $k$ most probable categories ($1 \le k \le K$), or None.
    - `top_p`: sample only the nucleus of mass `top_p` $\in (0, 1]$, or None.
    - `capacity`: draws per batch of the multinomial sampler (a speed knob; exact for any $n$).

    `cdf` (the running sums of `p`, which the exact sampler reads at temperature 1) is derived: it is
    computed here and refitted with `p`. Change `p` by building a new `Categorical`, not by replacing the
    leaf (`eqx.tree_at`), or `cdf` goes stale.

    Truth constructors: `Categorical.uniform(K)`, `Categorical.dirichlet(key, K, concentration)`,
    `Categorical.zipf(K, beta)`, `Categorical.wordfreq(K, lang)`.

    Metrics against a truth $p^*$: ``entropy`` $-\sum p_i\ln p_i$ (nats); ``gini_simpson``
    $1 - \sum p_i^2$ (the heterozygosity); ``surviving`` $\#\{i : p_i > 0\}$; ``tail_mass_lost``
    $\sum_{i : p_i = 0} p^*_i$; ``kl`` $\mathrm{KL}(p^* \| p)$ ($+\infty$ once a category of the truth is
    lost); ``tv`` $\frac12\sum|p_i - p^*_i|$; ``max_prob`` $\max_i p_i$; ``lost``
    $\#\{i : p^*_i > 0,\ p_i = 0\}$, the number of the truth's categories the model has lost (per category:
    `lost_categories`; with ``tail_mass_lost``, the mass they carried); ``absorbed`` $1\{\max_i p_i = 1\}$,
    whether the chain has reached the Wright–Fisher absorbing state (one category holds all the mass).
    """

    p: Float[Array, " K"]
    cdf: Float[Array, " K"]
    alpha: Float[Array, ""]
    top_k: int | None = eqx.field(static=True)
    top_p: float | None = eqx.field(static=True)
    capacity: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (
        "entropy", "gini_simpson", "surviving", "tail_mass_lost", "kl", "tv", "max_prob", "lost", "absorbed",
    )
    has_exact_stats: ClassVar[bool] = True
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True

    def __init__(self, p, *, alpha=0.0, top_k: int | None = None, top_p: float | int | None = None,
                 capacity: int | None = None):
        numeric("Categorical", p=p, alpha=alpha, top_p=top_p)
        dtype = jnp.result_type(float)
        if not isinstance(p, jax.core.Tracer):
            a = np.asarray(p, dtype=np.float64)
            if a.ndim != 1:
                raise ValueError(f"p must be a vector of probabilities, got shape {a.shape}")
            if a.shape[0] < 2:
                raise ValueError(f"a categorical needs K >= 2 categories, got K = {a.shape[0]}")
            if not np.all(np.isfinite(a)):
                raise ValueError("p contains NaN or infinite values")
            if np.any(a < 0):
                raise ValueError(f"p must be nonnegative; its smallest entry is {a.min():g}")
            if abs(a.sum() - 1.0) > SUM_TOL:
                raise ValueError(f"p must sum to 1 (within {SUM_TOL:g}); it sums to {a.sum():.9g}")
            p = a / a.sum()
        self.p = jnp.asarray(p, dtype)
        self.cdf = monotone_cumsum(self.p)
        K = self.p.shape[0]
        if not isinstance(alpha, jax.core.Tracer):
            if isinstance(alpha, bool) or np.ndim(alpha) != 0 or not (
                    math.isfinite(float(alpha)) and float(alpha) >= 0):
                raise ValueError(f"the smoothing alpha must be a finite number >= 0, got {alpha!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                                  or not 1 <= top_k <= K):
            raise ValueError(f"top_k must be an integer in [1, K] = [1, {K}], got {top_k!r}")
        if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float, np.floating))
                                  or not 0.0 < top_p <= 1.0):
            raise ValueError(f"top_p must lie in (0, 1], got {top_p!r}")
        cap = default_capacity(K) if capacity is None else capacity
        if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self.alpha = jnp.asarray(alpha, dtype)
        self.top_k = None if top_k is None else int(top_k)
        self.top_p = None if top_p is None else float(top_p)
        self.capacity = int(cap)

    # --------------------------------------------------------------- truths
    @classmethod
    def uniform(cls, K: int, **kwargs) -> Categorical:
        """The uniform distribution over `K` categories."""
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2:
            raise ValueError(f"K must be an integer >= 2, got {K!r}")
        return cls(np.full(K, 1.0 / K), **kwargs)

    @classmethod
    def dirichlet(cls, key, K: int, concentration: float | int = 1.0, **kwargs) -> Categorical:
        r"""A draw $p \sim \mathrm{Dirichlet}(c, \dots, c)$ over `K` categories from a `jax.random.key`."""
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2:
            raise ValueError(f"K must be an integer >= 2, got {K!r}")
        if not (isinstance(concentration, (int, float)) and math.isfinite(concentration) and concentration > 0):
            raise ValueError(f"the Dirichlet concentration must be > 0, got {concentration!r}")
        g = np.asarray(jax.random.gamma(key, float(concentration), (K,)), np.float64)
        if g.sum() <= 0:  # a tiny concentration can underflow every gamma draw
            g = np.eye(K)[int(np.argmax(g))]
        return cls(g / g.sum(), **kwargs)

    @classmethod
    def zipf(cls, K: int, beta: float | int = 1.0, **kwargs) -> Categorical:
        r"""Zipf($\beta$): $p_i \propto i^{-\beta}$, $i = 1..K$."""
        return cls(zipf_probabilities(K, beta), **kwargs)

    @classmethod
    def wordfreq(cls, K: int, lang: str = "en", **kwargs) -> Categorical:
        """The normalized frequencies of the top `K` words of `lang` (see `wordfreq_distribution`)."""
        return cls(wordfreq_distribution(K, lang)[1], **kwargs)

    # --------------------------------------------------------------- basics
    @property
    def K(self) -> int:
        return self.p.shape[-1]

    @property
    def dtype(self):
        return self.p.dtype

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"K": (self.K, "categories")}

    def translate(self, delta) -> Categorical:
        r"""The logits moved by `delta`: $p_i \propto p_i e^{\delta_i}$, $\delta_i = \delta\,i$ for a scalar
        $\delta$, else the vector `delta` (length $K$). Zeros stay 0; `delta = 0` returns $p$ bit for bit."""
        delta = jnp.asarray(delta, self.dtype)
        if delta.ndim == 0:
            delta = delta * jnp.arange(self.K, dtype=self.dtype)
        delta = jnp.broadcast_to(delta, (self.K,))
        w = self.p * jnp.exp(delta - jnp.max(delta))
        moved = jnp.any(delta != 0)
        p = jnp.where(moved, w / jnp.sum(w), self.p)
        cdf = jnp.where(moved, monotone_cumsum(p), self.cdf)
        return eqx.tree_at(lambda m: (m.p, m.cdf), self, (p, cdf))

    def log_prob(self, x: Float[ArrayLike, " n"]) -> Float[Array, " n"]:
        r"""$\log p_{x_i}$ for category indices `x` ($-\infty$ for a category of probability 0)."""
        p = self.p
        logp = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), -jnp.inf)
        return logp[jnp.clip(jnp.asarray(x).reshape(-1).astype(jnp.int32), 0, self.K - 1)]

    def lost_categories(self, truth: Categorical) -> Bool[Array, " K"]:
        """Per category: whether the truth gives it mass and the model has lost it ($p^*_i > 0 = p_i$)."""
        return (truth.p > 0) & ~(self.p > 0)

    def empty_stats(self) -> CategoricalStats:
        return CategoricalStats(jnp.zeros((), self.dtype), jnp.zeros((self.K,), self.dtype),
                                jnp.zeros((self.K,), self.dtype))

    def sampling_probs(self, temperature) -> Float[Array, " K"]:
        r"""The distribution $q$ samples are drawn from: temperature, then top-k, then top-p, renormalized."""
        q = self._sampling_weights(temperature)
        return q / jnp.sum(q)

    def _tempered(self, tau) -> Float[Array, " K"]:
        """$p^{1/\\tau}$ up to a positive constant; zeros stay 0."""
        p = self.p
        lp = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), -jnp.inf)
        return jnp.exp((lp - jnp.max(lp)) / tau)

    def _sampling_weights(self, temperature) -> Float[Array, " K"]:
        """`sampling_probs` up to a positive constant (the samplers normalize their cumulative sums)."""
        tau = jnp.asarray(temperature, self.dtype)
        # tau = 1 (the common case) skips K logs and exps (a branch even under the engine's vmaps: `cond_any`)
        q = cond_any(tau != 1, lambda: self._tempered(tau), lambda: self.p)
        if self.top_k is not None and self.top_k < self.K:
            _, idx = jax.lax.top_k(q, self.top_k)  # ties: the lower index first
            q = jnp.zeros_like(q).at[idx].set(q[idx])
        if self.top_p is not None and self.top_p < 1.0:
            order = jnp.argsort(-q, stable=True)
            qs = q[order]
            cum = jnp.cumsum(qs) / jnp.sum(qs)
            before = cum - qs / jnp.sum(qs)  # mass strictly before each sorted entry
            keep_sorted = before < self.top_p  # keep until the nucleus reaches top_p
            keep = jnp.zeros(self.K, bool).at[order].set(keep_sorted)
            q = jnp.where(keep, q, 0.0)
        return q

    # --------------------------------------------------------------- sampling
    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, " n"]:
        return categorical_draws(stream, n, self._sampling_weights(temperature))

    def sample_stats(self, stream: Stream, n, temperature) -> CategoricalStats:
        r"""Exact counts of $n$ draws: $N \sim \mathrm{Multinomial}(n, q)$ (`jaxcollapse._multinomial`).

        Sampling from $p$ itself ($\tau = 1$, no truncation) uses the model's cumulative probabilities
        `cdf` as they are; otherwise those of $q$ are summed (`monotone_cumsum`).
        """
        n = jnp.asarray(n, self.dtype)
        if self.top_k is None and self.top_p is None:
            tau = jnp.asarray(temperature, self.dtype)
            cdf = cond_any(tau != 1, lambda: monotone_cumsum(self._tempered(tau)), lambda: self.cdf)
        else:
            cdf = monotone_cumsum(self._sampling_weights(temperature))
        counts, cum = multinomial_cumulative(stream, n, cdf, self.capacity)
        return CategoricalStats(cum[-1], counts, cum)

    def stats(self, x: Float[ArrayLike, " n"], mask: Bool[Array, " n"] | None = None) -> CategoricalStats:
        """Counts of the category indices `x` (rows where `mask` is False are left out)."""
        x = jnp.asarray(x).reshape(-1)
        w = jnp.ones(x.shape[0], self.dtype) if mask is None else mask.astype(self.dtype)
        idx = jnp.clip(x.astype(jnp.int32), 0, self.K - 1)
        counts = jnp.zeros((self.K,), self.dtype).at[idx].add(w)
        return CategoricalStats(jnp.sum(w), counts, monotone_cumsum(counts))

    # --------------------------------------------------------------- fitting
    def fit(self, stats: CategoricalStats, stream: Stream) -> Categorical:
        r"""$\hat p_i = (N_i + \alpha)/(\sum_j N_j + K\alpha)$, and its cumulative sums from the statistics'
        running sums, $(N_1 + \dots + N_i + i\alpha)/(\sum_j N_j + K\alpha)$: scaling by one positive
        number keeps them nondecreasing and flat where $\hat p_i = 0$, as exact sampling needs. No randomness:
        `stream` is unused."""
        a = self.alpha
        total = stats.count + self.K * a
        ok = total > 0
        safe = jnp.where(ok, total, 1.0)
        p = jnp.where(ok, (stats.counts + a) / safe, self.p)
        ramp = jnp.arange(1, self.K + 1, dtype=self.dtype)
        # times one reciprocal, not divided: XLA turned the division into this product in some programs and
        # not in others (one device against two), which changed the last bit
        cdf = jnp.where(ok, (stats.cumulative + a * ramp) * (1.0 / safe), self.cdf)
        return eqx.tree_at(lambda m: (m.p, m.cdf), self, (p, cdf))

    # --------------------------------------------------------------- metrics
    def metrics(self, truth: Categorical, stream: Stream) -> dict[str, Float[Array, ""]]:
        p, p0 = self.p, truth.p
        alive = p > 0
        lost = (p0 > 0) & ~alive
        kl = jnp.where(jnp.any(lost), jnp.inf, _xlogy_sum(p0, p0) - _xlogy_sum(p0, p))
        return {
            "entropy": -_xlogy_sum(p, p),
            "gini_simpson": 1.0 - jnp.sum(p * p),
            "surviving": jnp.sum(alive).astype(self.dtype),
            "tail_mass_lost": jnp.sum(jnp.where(alive, 0.0, p0)),
            "kl": jnp.maximum(kl, 0.0),
            "tv": 0.5 * jnp.sum(jnp.abs(p - p0)),
            "max_prob": jnp.max(p),
            "lost": jnp.sum(lost).astype(self.dtype),
            "absorbed": (jnp.max(p) >= 1.0).astype(self.dtype),
        }

