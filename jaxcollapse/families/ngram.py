r"""The bigram language model: a Markov chain over $V$ tokens refit to its own sequences.

A `Bigram` is an initial distribution $\mu$ and a row-stochastic transition matrix $P$ (the
probability of token $j$ after token $i$). Each generation draws $m$ sequences of length $L$ from
the current model and refits the bigram counts:

$$P'_{ij} = \frac{C_{ij} + \alpha}{N_i + V\alpha}, \qquad \mu'_i = \frac{F_i + \alpha}{m + V\alpha},$$

with $C_{ij}$ the number of bigrams $(i, j)$, $N_i = \sum_j C_{ij}$ the visits of token $i$ at
positions $0..L-2$, $F_i$ the number of sequences starting with $i$, and $\alpha \ge 0$ additive
(Dirichlet) smoothing. **A row never visited keeps its previous value** when $\alpha = 0$ (no data,
no update); with $\alpha > 0$ it becomes uniform. The initial distribution is refit the same way
unless `refit_initial=False` holds it fixed. See `jaxcollapse.theory.ngram` for what is exact.

There is no exact sampler of the bigram counts of Markov paths, so the family runs on the
engine's sample path only (`simulate(..., path="samples")`). Tokens are drawn by inversion:
one uniform per token, scaled by the row's total and located in the row's cumulative sums by a
branch-free binary search ($\lceil\log_2 V\rceil$ gathers), one `lax.scan` step per position,
vectorized over the $m$ sequences. A token of probability 0 is never drawn (its interval of the
cumulative sum is empty), so a lost transition stays lost. Sequences are returned as a float
array of token ids (exact integers) so that the engine's sample buffers can hold them.

Metrics (natural logarithms), against a truth $(\mu^*, P^*)$ with limit distribution $\pi^*$:

- ``entropy_rate`` $-\sum_i\pi_i\sum_j P_{ij}\ln P_{ij}$ and ``mutual_info`` $H(\pi) - $ entropy rate
  (the information between consecutive tokens), under the model's own limit distribution $\pi$;
- ``kl_rate`` $\sum_i \pi^*_i \mathrm{KL}(P^*_{i\cdot} \| P_{i\cdot})$, $+\infty$ once the model
  drops a transition the truth makes;
- ``perplexity``: the per-token perplexity of held-out truth sequences in the long-sequence limit,
  **in closed form**: $\exp$ of the cross-entropy rate $-\sum_i\pi^*_i\sum_j P^*_{ij}\ln P_{ij}$
  (= entropy rate of the truth + ``kl_rate``); $+\infty$ with ``kl_rate``;
- ``gini_simpson`` $\sum_i \pi^*_i (1 - \sum_j P_{ij}^2)$: next-token diversity, contexts drawn from
  the truth; ``initial_gini_simpson`` $1 - \sum_i \mu_i^2$;
- ``support``: the number of transitions with $P_{ij} > 0$; ``mass_lost``
  $\sum_i\pi^*_i\sum_j P^*_{ij}\,[P_{ij} = 0]$, the truth's probability of a transition the model lost.

**Text diversity, opt-in** (`Bigram.with_text(m)`, a `BigramText`; the n-gram recipe's ``--text-sample m``):
the transformer family's text metrics (`jaxcollapse.families._text`, one implementation for both) on $m$
sequences drawn from the model at $\tau = 1$ with the metrics stream, every token a word:
``distinct_1``, ``distinct_2``, ``distinct_3``, ``ttr``, ``zipf``, and ``self_perplexity``, the per-token
perplexity of that sample under the model itself, $\exp$ of the mean of $-\ln P_{x_{l-1}x_l}$ over its
transitions $l = 1..L-1$ (the first token, like the transformer's prompt, is not predicted). They are off by
default because, unlike the closed forms above, they draw and sort a sample every generation.

The *limit distribution* of a chain that may have collapsed (reducible, several closed classes)
is the long-run distribution reached from its initial distribution, $\lim \frac1S\sum_{s<S}\mu P^s$,
computed as the $\varepsilon \to 0$ limit of $\varepsilon\mu(I - (1-\varepsilon)P)^{-1}$ (a chain
that restarts from $\mu$ with probability $\varepsilon$ per step): a linear solve that stays
nonsingular for every $P$. With $\varepsilon = 2^{-20}$ (float32: $2^{-12}$) the bias is
$O(\varepsilon \times \text{mixing time})$; for an irreducible chain it is the stationary law.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy
from jaxtyping import Array, ArrayLike, Bool, Float, Real

from .. import random as R
from .._multinomial import monotone_cumsum
from .._validate import concrete, numeric
from ..random import Stream
from . import _text
from ._base import AbstractFamily, AbstractStats

ROW_TOL = 1e-6  # rows and the initial distribution must sum to 1 within this (then they are renormalized)


class BigramStats(AbstractStats):
    r"""Weighted counts of sequences: `count` (sequences), `initial` ($F_i$, first tokens) and
    `transitions` ($C_{ij}$, bigrams). Additive; `scale(c)` multiplies every weight by $c$."""

    count: Float[Array, ""]
    initial: Float[Array, " V"]
    transitions: Float[Array, "V V"]

    def combine(self, other: BigramStats) -> BigramStats:
        return BigramStats(self.count + other.count, self.initial + other.initial,
                           self.transitions + other.transitions)

    def scale(self, c) -> BigramStats:
        return BigramStats(self.count * c, self.initial * c, self.transitions * c)


def _check_distribution(p: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{what} has NaN or infinite entries")
    if np.any(p < 0):
        raise ValueError(f"{what} has negative entries")
    s = p.sum(axis=-1)
    bad = np.abs(s - 1.0) > ROW_TOL
    if np.any(bad):
        where = f" (row {int(np.argmax(bad))} sums to {float(np.ravel(s)[np.argmax(bad)]):.6g})" if p.ndim == 2 else \
            f" (it sums to {float(s):.6g})"
        raise ValueError(f"{what} must sum to 1 within {ROW_TOL:g}{where}")
    return p / s[..., None] if p.ndim == 2 else p / s


def _stationary_np(P: np.ndarray) -> np.ndarray:
    V = P.shape[0]
    M = np.eye(V) - P + np.ones((V, V))
    try:
        pi = np.linalg.solve(M.T, np.ones(V))
    except np.linalg.LinAlgError:
        pi = None
    if pi is None or not np.all(np.isfinite(pi)) or np.any(pi < -1e-9) or np.linalg.cond(M) > 1e12:
        raise ValueError("the transition matrix has no unique stationary distribution: pass `initial` explicitly")
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()


def limit_distribution(P: Float[Array, "V V"], mu: Float[Array, " V"]) -> Float[Array, " V"]:
    r"""Long-run distribution of the chain $P$ started from $\mu$ (see the module docstring).

    $x = \varepsilon\mu(I - (1-\varepsilon)P)^{-1}$, normalized; the solve is well posed for every
    stochastic $P$ and its rounding error lies along $x$ itself, which the normalization removes.
    """
    dt = P.dtype
    eps = 2.0**-20 if dt == jnp.float64 else 2.0**-12
    V = P.shape[0]
    M = jnp.eye(V, dtype=dt) - (1.0 - eps) * P
    x = jnp.linalg.solve(M.T, mu * eps)
    x = jnp.maximum(x, 0.0)
    return x / jnp.sum(x)


def _refit(counts: Array, prev: Array, alpha: Array) -> Array:
    """Rows of counts, smoothed and normalized; a row with no data and no smoothing keeps `prev`."""
    V = counts.shape[-1]
    den = jnp.sum(counts, axis=-1, keepdims=True) + V * alpha
    new = (counts + alpha) / jnp.where(den > 0, den, 1.0)
    return jnp.where(den > 0, new, prev)


def _search(cdf: Float[Array, "R V"], row, target) -> Array:
    """Number of entries of `cdf[row]` below `target` (the inverse-CDF index), by binary lifting."""
    V = cdf.shape[-1]
    flat = cdf.reshape(-1)
    base = row * V
    pos = jnp.zeros(target.shape, jnp.int32)
    step = 1 << max(0, math.ceil(math.log2(V)) - 1)
    while step >= 1:
        cand = pos + step
        ok = cand <= V
        val = flat[base + jnp.minimum(cand, V) - 1]
        pos = jnp.where(ok & (val < target), cand, pos)
        step >>= 1
    return pos


class Bigram(AbstractFamily):
    r"""A bigram (first-order Markov) language model over $V \ge 2$ tokens.

    **Arguments:**

    - `transition`: a $V\times V$ row-stochastic matrix (rows sum to 1 within `1e-6`, no negative or
      NaN entries).
    - `initial`: the distribution of the first token; default: the stationary distribution of
      `transition` (which must then be unique).
    - `length`: tokens per sequence, $L \ge 2$ (static).
    - `smoothing`: additive smoothing $\alpha \ge 0$ of the refit (0: the MLE).
    - `refit_initial`: refit $\mu$ from the first tokens (default) or hold it fixed.

    Truths: `Bigram.zipf(key, V, ...)` (Zipfian rows over a sparse random support) or explicit matrices.
    The number of sequences $m$ per generation is the regime's sample size; the sampling temperature
    $\tau$ (the regime's) draws from rows $\propto P_{ij}^{1/\tau}$ (and $\mu_i^{1/\tau}$).
    """

    transition: Float[Array, "V V"]
    initial: Float[Array, " V"]
    smoothing: Float[Array, ""]
    refit_initial: Bool[Array, ""]
    length: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (
        "entropy_rate", "kl_rate", "perplexity", "mutual_info", "gini_simpson", "initial_gini_simpson",
        "support", "mass_lost",
    )
    has_exact_stats: ClassVar[bool] = False
    supports_drift: ClassVar[bool] = True
    has_log_prob: ClassVar[bool] = True

    def __init__(self, transition, initial=None, *, length: int = 20, smoothing=0.0, refit_initial=True):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
            raise ValueError(f"sequence length must be an integer >= 2, got {length!r}")
        numeric("Bigram", transition=transition, initial=initial, smoothing=smoothing)
        dtype = jnp.result_type(float)
        P = concrete(transition, np.float64)
        if P is not None:
            if P.ndim != 2 or P.shape[0] != P.shape[1]:
                raise ValueError(f"transition must be a square V x V matrix, got shape {P.shape}")
            if P.shape[0] < 2:
                raise ValueError(f"a bigram model needs V >= 2 tokens, got V = {P.shape[0]}")
            P = _check_distribution(P, "transition")
            transition = P
            if initial is None:
                initial = _stationary_np(P)
        elif initial is None:
            raise ValueError("pass `initial` explicitly when the transition matrix is traced")
        mu = concrete(initial, np.float64)
        if mu is not None:
            if mu.ndim != 1 or (P is not None and mu.shape[0] != P.shape[0]):
                raise ValueError(f"initial must be a vector of length V, got shape {mu.shape}")
            initial = _check_distribution(mu, "initial")
        a = concrete(smoothing, np.float64)
        if a is not None and (a.ndim != 0 or not np.isfinite(a) or a < 0):
            raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}")
        self.transition = jnp.asarray(transition, dtype)
        self.initial = jnp.asarray(initial, dtype)
        self.smoothing = jnp.asarray(smoothing, dtype)
        self.refit_initial = jnp.asarray(refit_initial, bool)
        self.length = int(length)

    # --------------------------------------------------------------- truths
    @classmethod
    def zipf(cls, key, V: int, *, support: int | None = None, beta: float = 1.0, length: int = 20, smoothing=0.0,
             refit_initial=True) -> Bigram:
        r"""A random sparse Zipfian chain: row $i$ puts mass $\propto r^{-\beta}$ on `support` tokens, $r = 1..k$
        (default `support` $= \min(8, V)$).

        Each row's support holds $i+1$ and $i+2$ (mod $V$), which makes the chain irreducible and
        aperiodic (cycles of lengths $V$ and $V-1$), and `support - 2` other tokens drawn uniformly
        from `key`; the Zipf ranks are assigned to the support in random order. The initial
        distribution is the stationary one.
        """
        if isinstance(V, bool) or not isinstance(V, (int, np.integer)) or V < 2:
            raise ValueError(f"a bigram model needs V >= 2 tokens, got {V!r}")
        support = min(8, int(V)) if support is None else support
        if isinstance(support, bool) or not isinstance(support, (int, np.integer)) or not 2 <= support <= V:
            raise ValueError(f"support must be an integer in [2, V] = [2, {V}], got {support!r}")
        if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        k1, k2 = jax.random.split(key)
        scores = np.array(jax.random.uniform(k1, (V, V)), np.float64)
        rows = np.arange(V)
        scores[rows, (rows + 1) % V] = 2.0  # forced into the support
        scores[rows, (rows + 2) % V] = 2.0
        order = np.argsort(-scores, axis=1, kind="stable")[:, :support]
        ranks = np.argsort(np.asarray(jax.random.uniform(k2, (V, support)), np.float64), axis=1) + 1.0
        P = np.zeros((V, V))
        np.put_along_axis(P, order, ranks ** (-float(beta)), axis=1)
        P /= P.sum(axis=1, keepdims=True)
        return cls(P, length=length, smoothing=smoothing, refit_initial=refit_initial)

    # --------------------------------------------------------------- basics
    @property
    def V(self) -> int:
        return self.transition.shape[-1]

    @property
    def dtype(self):
        return self.transition.dtype

    def sizes(self) -> dict[str, tuple[int, str]]:
        return {"V": (self.V, "tokens"), "length": (self.length, "tokens per sequence")}

    def translate(self, delta) -> Bigram:
        r"""Every row's logits moved by `delta` (a drifting truth): $P_{ij} \propto P_{ij} e^{\delta_j}$ and
        $\mu_i \propto \mu_i e^{\delta_i}$, with $\delta_j = \delta\,j$ ($j = 0..V-1$, a tilt toward the later
        tokens) for a scalar $\delta$, else the vector `delta` of length $V$. A transition of probability 0 stays
        0 (the support does not move); `delta = 0` returns the model bit for bit."""
        delta = jnp.asarray(delta, self.dtype)
        if delta.ndim == 0:
            delta = delta * jnp.arange(self.V, dtype=self.dtype)
        delta = jnp.broadcast_to(delta, (self.V,))
        e = jnp.exp(delta - jnp.max(delta))
        moved = jnp.any(delta != 0)
        P = self.transition * e[None, :]
        P = jnp.where(moved, P / jnp.sum(P, axis=1, keepdims=True), self.transition)
        mu = self.initial * e
        mu = jnp.where(moved, mu / jnp.sum(mu), self.initial)
        return eqx.tree_at(lambda b: (b.transition, b.initial), self, (P, mu))

    def empty_stats(self) -> BigramStats:
        V, dt = self.V, self.dtype
        return BigramStats(jnp.zeros((), dt), jnp.zeros((V,), dt), jnp.zeros((V, V), dt))

    def tempered(self, temperature) -> tuple[Float[Array, " V"], Float[Array, "V V"]]:
        r"""$(\mu^{(\tau)}, P^{(\tau)})$: the distributions the sampler draws from at temperature $\tau$."""
        tau = jnp.asarray(temperature, self.dtype)

        def temper(p):
            pos = p > 0
            logp = jnp.log(jnp.where(pos, p, 1.0))
            top = jnp.max(jnp.where(pos, logp, -jnp.inf), axis=-1, keepdims=True)
            w = jnp.where(pos, jnp.exp((logp - top) / tau), 0.0)
            return w / jnp.sum(w, axis=-1, keepdims=True)

        return temper(self.initial), temper(self.transition)

    # --------------------------------------------------------------- sampling and density
    def log_prob(self, x: Real[ArrayLike, "n L"]) -> Float[Array, " n"]:
        r"""$\ln\mu_{x_0} + \sum_{l=1}^{L-1}\ln P_{x_{l-1}x_l}$ per sequence ($-\infty$ through a lost transition)."""
        tok = jnp.asarray(x).astype(jnp.int32)
        logmu = jnp.where(self.initial > 0, jnp.log(jnp.where(self.initial > 0, self.initial, 1.0)), -jnp.inf)
        P = self.transition
        logP = jnp.where(P > 0, jnp.log(jnp.where(P > 0, P, 1.0)), -jnp.inf)
        return logmu[tok[:, 0]] + jnp.sum(logP[tok[:, :-1], tok[:, 1:]], axis=1)

    def draw_samples(self, stream: Stream, n: int, temperature) -> Float[Array, "n L"]:
        L, dt = self.length, self.dtype
        mu, P = self.tempered(temperature)
        cdf0 = monotone_cumsum(mu)[None, :]
        cdf = monotone_cumsum(P)  # exact zeros stay empty intervals
        u = R.uniform(stream, (L, n), dt)  # in (0, 1]
        zero = jnp.zeros((n,), jnp.int32)
        x0 = _search(cdf0, zero, u[0] * cdf0[0, -1])

        def step(x, ui):
            nxt = _search(cdf, x, ui * cdf[x, -1])
            return nxt, nxt

        _, rest = jax.lax.scan(step, x0, u[1:])
        tokens = jnp.concatenate([x0[None, :], rest], axis=0)  # (L, n)
        return tokens.T.astype(dt)

    def sample_stats(self, stream: Stream, n, temperature) -> BigramStats:
        """Refused: there is no exact sampler of the bigram counts of Markov paths."""
        raise ValueError("Bigram has no exact statistics sampler (Markov path counts): use path='samples'")

    def stats(self, x: Real[ArrayLike, "n L"], mask: Bool[Array, " n"] | None = None) -> BigramStats:
        """Counts of the sequences `x` (rows where `mask` is False are left out)."""
        V, dt = self.V, self.dtype
        x = jnp.asarray(x)
        tok = x.astype(jnp.int32)
        n, L = tok.shape
        w = jnp.ones((n,), dt) if mask is None else mask.astype(dt)
        first = jnp.zeros((V,), dt).at[tok[:, 0]].add(w)
        idx = (tok[:, :-1] * V + tok[:, 1:]).reshape(-1)
        wb = jnp.broadcast_to(w[:, None], (n, L - 1)).reshape(-1)
        trans = jnp.zeros((V * V,), dt).at[idx].add(wb).reshape(V, V)
        return BigramStats(jnp.sum(w), first, trans)

    # --------------------------------------------------------------- fitting
    def fit(self, stats: BigramStats, stream: Stream) -> Bigram:
        """The smoothed bigram (and first-token) frequencies (no randomness: `stream` is unused)."""
        a = self.smoothing
        P = _refit(stats.transitions, self.transition, a)
        mu = jnp.where(self.refit_initial, _refit(stats.initial, self.initial, a), self.initial)
        new = eqx.tree_at(lambda b: b.transition, self, P)
        return eqx.tree_at(lambda b: b.initial, new, mu)

    # --------------------------------------------------------------- metrics
    def with_text(self, n_text: int = 256) -> BigramText:
        """This model, measuring also the text-diversity metrics on `n_text` sampled sequences (see the module)."""
        return BigramText(self, n_text)

    def metrics(self, truth: Bigram, stream: Stream) -> dict[str, Float[Array, ""]]:
        P, P0 = self.transition, truth.transition
        pi = limit_distribution(P, self.initial)
        pi0 = limit_distribution(P0, truth.initial)
        h = -jnp.sum(pi * jnp.sum(xlogy(P, P), axis=1))
        h0 = -jnp.sum(pi0 * jnp.sum(xlogy(P0, P0), axis=1))
        h_pi = -jnp.sum(xlogy(pi, pi))
        made = (P0 > 0) & (pi0[:, None] > 0)  # transitions the (stationary) truth makes
        gone = made & (P <= 0)
        keep = made & ~gone
        log_ratio = jnp.log(jnp.where(keep, P0, 1.0)) - jnp.log(jnp.where(keep, P, 1.0))
        kl_finite = jnp.sum(jnp.where(keep, pi0[:, None] * P0 * log_ratio, 0.0))
        kl = jnp.where(jnp.any(gone), jnp.inf, jnp.maximum(kl_finite, 0.0))
        lost_mass = jnp.sum(jnp.where(gone, pi0[:, None] * P0, 0.0))
        return {
            "entropy_rate": h,
            "kl_rate": kl,
            "perplexity": jnp.exp(h0 + kl),
            "mutual_info": jnp.maximum(h_pi - h, 0.0),
            "gini_simpson": jnp.sum(pi0 * (1.0 - jnp.sum(P * P, axis=1))),
            "initial_gini_simpson": 1.0 - jnp.sum(self.initial * self.initial),
            "support": jnp.sum(P > 0).astype(self.dtype),
            "mass_lost": lost_mass,
        }


TEXT_METRICS = ("self_perplexity", *_text.DIVERSITY_NAMES)


class BigramText(Bigram):
    """A `Bigram` that also measures the text-diversity metrics ``self_perplexity``, ``distinct_1..3``, ``ttr`` and
    ``zipf`` on `n_text` sequences drawn from it at $\tau = 1$ (see the module). Build it with
    `Bigram.with_text(n_text)`; everything else (sampling, fitting, the other metrics) is the `Bigram`'s."""

    n_text: int = eqx.field(static=True)

    metric_names: ClassVar[tuple[str, ...]] = (*Bigram.metric_names, *TEXT_METRICS)

    def __init__(self, base: Bigram, n_text: int = 256):
        if isinstance(n_text, bool) or not isinstance(n_text, (int, np.integer)) or n_text < 1:
            raise ValueError(f"n_text = {n_text!r} is invalid: n_text must be an integer >= 1 (sequences per "
                             "generation for the text metrics)")
        if not isinstance(base, Bigram):
            raise ValueError(f"base must be a Bigram, got {type(base).__name__}")
        self.transition, self.initial = base.transition, base.initial
        self.smoothing, self.refit_initial, self.length = base.smoothing, base.refit_initial, base.length
        self.n_text = int(n_text)

    def metrics(self, truth: Bigram, stream: Stream) -> dict[str, Float[Array, ""]]:
        out = super().metrics(truth, stream)
        dt = self.dtype
        tok = self.draw_samples(stream, self.n_text, jnp.ones((), dt)).astype(jnp.int32)
        P = self.transition
        step = P[tok[:, :-1], tok[:, 1:]]  # > 0: the sampler never draws a transition of probability 0
        out["self_perplexity"] = jnp.exp(-jnp.mean(jnp.log(jnp.where(step > 0, step, 1.0))))
        out.update(_text.diversity(*_text.token_units(tok), dt))
        return out
