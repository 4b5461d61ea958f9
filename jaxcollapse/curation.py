r"""Curation / verification: a verifier scores each synthetic sample and only the kept ones are refit.

Feng et al. (2024), "Beyond model collapse: scaling up with synthesized data requires verification",
and Ferbach et al. (2024), "Self-consuming generative models with curated data provably optimize
human preferences", add a selection step between sampling and refitting. Here a `Curation` acts on
the sample path, between `draw_samples` and `stats` (a mask over the drawn samples):

1. **score**: each sample $x$ gets a score, the log-density of the truth (``"truth"``: an oracle
   verifier, as a reward model that prefers typical data) or of the generating model (``"model"``:
   self-verification, which keeps the model's own most typical samples);
2. **rule**: a sample is *good* if its score is among the top `keep` fraction of this generation's
   samples (``"fraction"``; $\lceil \text{keep}\cdot n\rceil$ samples, ties broken by draw order) or
   at least `threshold` (``"threshold"``);
3. **noise**: a good sample is accepted with probability `accept_good` (the true acceptance rate),
   a bad one with `accept_bad` (the false acceptance rate), independently, from the chain's stream.
   `accept_good = 1, accept_bad = 0` is a perfect verifier.

`keep`, `threshold`, `accept_good` and `accept_bad` are traced arrays (a sweep can vmap them); `score`
and `rule` are static. A generation in which every sample is rejected trains on nothing: the model is
kept unchanged (the engine skips the refit). Exact one-step moments for a Gaussian under a threshold
verifier: `jaxcollapse.theory.curated_gaussian_one_step`.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from . import random as R
from ._validate import concrete as _concrete
from .families._base import AbstractFamily
from .regimes import Regime

SCORES = ("truth", "model")
RULES = ("fraction", "threshold")


def _arr(x):
    return jnp.asarray(x, jnp.result_type(float))


def log_density(family: AbstractFamily, x: Float[Array, "n ..."]) -> Float[Array, " n"]:
    """Log-density (or log-probability) of each sample under `family`: its `log_prob` (the family declares
    `has_log_prob`; `Curation.check` refuses one that does not)."""
    return family.log_prob(x)


class Curation(eqx.Module):
    """A (noisy) verifier that keeps some of each generation's synthetic samples; see the module."""

    keep: Float[Array, ""] = eqx.field(converter=_arr)
    threshold: Float[Array, ""] = eqx.field(converter=_arr)
    accept_good: Float[Array, ""] = eqx.field(converter=_arr)
    accept_bad: Float[Array, ""] = eqx.field(converter=_arr)
    score: str = eqx.field(static=True)
    rule: str = eqx.field(static=True)

    def __check_init__(self):
        if self.score not in SCORES:
            raise ValueError(f"unknown score {self.score!r}; choose one of {SCORES}")
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose one of {RULES}")
        k = _concrete(self.keep)
        if k is not None and not (np.all(np.isfinite(k)) and np.all((k > 0) & (k <= 1))):
            raise ValueError(f"the keep fraction must lie in (0, 1], got {k}")
        th = _concrete(self.threshold)
        if self.rule == "threshold" and th is not None and not np.all(np.isfinite(th)):
            raise ValueError(f"the threshold must be finite, got {th}")
        for nm, v in (("accept_good", self.accept_good), ("accept_bad", self.accept_bad)):
            c = _concrete(v)
            if c is not None and not (np.all(np.isfinite(c)) and np.all((c >= 0) & (c <= 1))):
                raise ValueError(f"{nm} must lie in [0, 1], got {c}")

    def check(self, model, truth) -> None:
        """Raise `ValueError` if the scoring family has no log-density."""
        fam = truth if self.score == "truth" else model
        if not fam.has_log_prob:
            raise ValueError(f"curation by score {self.score!r} needs a log-density; "
                             f"{type(fam).__name__} has none (has_log_prob = False)")

    def select(self, stream: R.Stream, x: Array, mask: Bool[Array, " n"], model, truth) -> Bool[Array, " n"]:
        """The kept samples: `mask` and accepted by the verifier."""
        fam = truth if self.score == "truth" else model
        s = log_density(fam, x)
        dt = s.dtype
        if self.rule == "threshold":
            good = s >= self.threshold.astype(dt)
        else:
            ranked = jnp.where(mask, -s, jnp.inf)  # invalid rows rank last
            order = jnp.argsort(ranked, stable=True)
            rank = jnp.zeros(order.shape, jnp.int32).at[order].set(jnp.arange(order.shape[0], dtype=jnp.int32))
            k = jnp.ceil(self.keep.astype(dt) * jnp.sum(mask).astype(dt) - 1e-6)
            good = rank.astype(dt) < k
        u = R.uniform(stream, (x.shape[0],), dt)
        accept = jnp.where(good, u <= self.accept_good.astype(dt), u <= self.accept_bad.astype(dt))
        return mask & accept

    def describe(self) -> str:
        def f(v):
            c = _concrete(v)
            return "<traced>" if c is None else (f"{float(c):g}" if np.ndim(c) == 0 else str(c))

        what = f"top {f(self.keep)}" if self.rule == "fraction" else f"score>={f(self.threshold)}"
        return f"{self.score}-{what}-tpr{f(self.accept_good)}-fpr{f(self.accept_bad)}"


def curation(*, keep=None, threshold=None, accept_good=1.0, accept_bad=0.0, score: str = "truth") -> Curation:
    """A verifier keeping the top `keep` fraction (by score) or those scoring >= `threshold` (give one)."""
    if (keep is None) == (threshold is None):
        raise ValueError("give exactly one of keep (a fraction in (0, 1]) and threshold (a score)")
    rule = "fraction" if keep is not None else "threshold"
    return Curation(1.0 if keep is None else keep, -math.inf if threshold is None else threshold,
                    accept_good, accept_bad, score, rule)


def curate(regime: Regime, cur: Curation | None = None, **kwargs) -> Regime:
    """`regime` with a curation step: ``curate(replace(100), keep=0.5)`` or ``curate(r, curation(...))``."""
    if not isinstance(regime, Regime):
        raise ValueError(f"regime must be a jaxcollapse Regime, got {type(regime).__name__}")
    if cur is None:
        cur = curation(**kwargs)
    elif kwargs:
        raise ValueError("give a Curation or keyword arguments, not both")
    return eqx.tree_at(lambda r: r.curation, regime, cur, is_leaf=lambda v: v is None)


def threshold_for_radius(c: float | int, sigma2: float | int = 1.0) -> float:
    r"""The truth log-density threshold of a 1-D $N(\mu, \sigma^2)$ truth that keeps $|x - \mu| \le c\sigma$."""
    return -0.5 * c * c - 0.5 * math.log(2.0 * math.pi * sigma2)
