r"""The declared family contract: what every model family is, and what the tools may ask of it.

A family is an `eqx.Module` (abstract bases here, final concrete classes in their own files). The
tools (engine, sweep, curation, recipes, verify) read **only** this contract; nothing is discovered
by `getattr`/`hasattr`. A family declares at class level, as `eqx.AbstractClassVar`s (a family that
forgets one cannot be instantiated):

- `metric_names`: the names of the dict `metrics` returns;
- `has_exact_stats`: whether `sample_stats` draws the statistics of $n$ samples exactly (the engine's
  ``path="exact"``);
- `supports_drift`: whether `translate` moves the truth (a drifting truth, ``regime.drift``);
- `has_log_prob`: whether `log_prob` is the (log-)density of a sample (curation scores samples by it).

Two capability flags have a default (False), so a family that does not mention them declines:

- `supports_correction`: the engine may self-correct its synthetic data (`regimes.self_correct`: each
  sample replaced by a truth draw with probability $\gamma/(1+\gamma)$). The engine's operator is generic:
  it needs the truth's `sample_stats` (exact path) or `draw_samples` (sample path) with a count that may
  be 0; a family opts in once that holds.
- `supports_extrapolation`: its parameters form a vector, so `extrapolate` (the negative extrapolation
  $(1+w)\theta_{\rm real} - w\theta_{\rm syn}$ of `regimes.extrapolate`) gives a valid model.

and implements `dtype`, `draw_samples`, `sample_stats`, `stats`, `empty_stats`, `fit(stats, stream)`,
`translate(delta)`, `metrics(truth, stream)`. Concrete here: `sample(key, n)`, `accepts_truth(truth)`
(same family, same sizes), `check_drift(drift)` and `check_regime(regime, generations)` (the drift
check; families add their own conditions and call it), `sizes()` (for messages), and `log_prob`
(raises unless the family declares `has_log_prob` and overrides it), and `extrapolate` (leaf by leaf;
raises unless the family declares `supports_extrapolation`; a family with constrained parameters
overrides it to project back onto its valid set).

Randomness: methods the engine calls take a per-chain `jaxcollapse.random.Stream`, never a key, so
chain $i$ draws the same numbers whatever the number of chains. `fit` and `metrics` always get one
(forked with `SALT_FIT` and `SALT_METRICS`); a family that needs no randomness ignores it.
"""

# No `from __future__ import annotations` here: equinox reads `AbstractClassVar` annotations as objects.
import abc
import dataclasses
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from ..random import Stream
from ..stats import AbstractStats as AbstractStats
from ..stats import SampleStats

__all__ = ["AbstractFamily", "AbstractMomentFamily", "AbstractSampleFamily", "AbstractStats"]


@eqx.filter_jit
def _sample(model: "AbstractFamily", key, n: int):
    return model.draw_samples(Stream.from_key(key), n, jnp.ones((), model.dtype))


@jax.jit
def _translate(model, delta):
    """`model.translate(delta)`, one module-level jitted function: the shapes it gives (`.eval_shape`) are
    cached across calls, where `jax.eval_shape` of a bound method retraced on every `simulate`."""
    return model.translate(delta)


class AbstractFamily(eqx.Module):
    """A generative model: parameters as a pytree, plus how to sample, fit and measure it (see the module).

    Sizes that set shapes are static fields; parameters are arrays.
    """

    metric_names: eqx.AbstractClassVar[tuple[str, ...]]
    has_exact_stats: eqx.AbstractClassVar[bool]
    supports_drift: eqx.AbstractClassVar[bool]
    has_log_prob: eqx.AbstractClassVar[bool]
    supports_correction: ClassVar[bool] = False
    supports_extrapolation: ClassVar[bool] = False

    # --------------------------------------------------------------- what a family implements
    @property
    @abc.abstractmethod
    def dtype(self):
        """The floating dtype of the parameters (the engine keeps it through the scan)."""

    @abc.abstractmethod
    def draw_samples(self, stream: Stream, n: int, temperature: Float[Array, ""]) -> Array:
        """`n` samples (a static count) from the model at a sampling temperature."""

    @abc.abstractmethod
    def sample_stats(self, stream: Stream, n: Float[Array, ""], temperature: Float[Array, ""]) -> AbstractStats:
        """Exact draw of the statistics of `n` samples, without drawing the samples."""

    @abc.abstractmethod
    def stats(self, x: Array, mask: Bool[Array, " n"] | None = None) -> AbstractStats:
        """Statistics of the samples `x` (rows where `mask` is False are left out)."""

    @abc.abstractmethod
    def empty_stats(self) -> AbstractStats:
        """The statistics of no data (the monoid's identity)."""

    @abc.abstractmethod
    def fit(self, stats: AbstractStats, stream: Stream) -> "AbstractFamily":
        """The refitted model (same static configuration, new parameters); `stream` feeds a random fit."""

    @abc.abstractmethod
    def translate(self, delta: Array) -> "AbstractFamily":
        """The model moved by `delta` (a drifting truth is `truth.translate(drift * t)`)."""

    @abc.abstractmethod
    def metrics(self, truth: "AbstractFamily", stream: Stream) -> dict[str, Float[Array, ""]]:
        """Every metric of `metric_names`, measured against `truth`; `stream` feeds Monte Carlo metrics."""

    # --------------------------------------------------------------- concrete
    def sample(self, key, n: int) -> Array:
        """`n` samples from a `jax.random.key` (chain 0's stream; compiled once per `n`)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        return _sample(self, key, int(n))

    def log_prob(self, x: Array) -> Float[Array, " n"]:
        """The log-density (log-probability) of each sample; only where `has_log_prob` is True."""
        raise NotImplementedError(f"{type(self).__name__} has no log-density (has_log_prob = False)")

    def extrapolate(self, synthetic: "AbstractFamily", w: Float[ArrayLike, ""]) -> "AbstractFamily":
        r"""$(1 + w)\,\theta_{\rm self} - w\,\theta_{\rm synthetic}$ leaf by leaf, `self` being the fit to the real
        data (negative extrapolation, Alemohammad et al. 2025, "Neon"); only where `supports_extrapolation`.

        Valid as it stands for a family whose parameter set is a vector space; a family with constrained
        parameters (a covariance, a probability vector) overrides it and projects the result back.
        """
        if not self.supports_extrapolation:
            raise NotImplementedError(f"{type(self).__name__} has no vector of parameters to extrapolate "
                                      "(supports_extrapolation = False)")
        return jax.tree.map(lambda r, s: (1.0 + w) * r - w * s, self, synthetic)

    def sizes(self) -> dict[str, tuple[int, str]]:
        """The sizes that set the model's shapes, `{name: (value, unit)}` (for messages); default none."""
        return {}

    def accepts_truth(self, truth: "AbstractFamily") -> None:
        """Raise `ValueError` unless `truth` can be this model's truth: by default the same family with the
        same sizes, the same static configuration and the same parameter shapes."""
        name = type(self).__name__
        if type(truth) is not type(self):
            raise ValueError(f"a {name} model needs a {name} truth, got {type(truth).__name__}")
        mine, theirs = self.sizes(), truth.sizes()
        for k, (v, unit) in mine.items():
            if theirs[k][0] != v:
                raise ValueError(f"mismatched dimensions: the {name} model has {k}={v} {unit} "
                                 f"but the truth has {k}={theirs[k][0]}")
        static = [f.name for f in dataclasses.fields(self) if f.metadata.get("static", False)
                  and getattr(self, f.name) != getattr(truth, f.name)]
        if static:
            diff = ", ".join(f"{k}={getattr(self, k)!r} against {getattr(truth, k)!r}" for k in static)
            raise ValueError(f"mismatched configuration: the {name} model and the truth differ in {diff}")
        a, b = jax.tree.leaves(self), jax.tree.leaves(truth)
        if len(a) != len(b) or any(np.shape(x) != np.shape(y) for x, y in zip(a, b, strict=False)):
            raise ValueError(f"mismatched dimensions: the {name} model and the truth have parameters of different "
                             f"shapes ({[np.shape(x) for x in a]} and {[np.shape(y) for y in b]})")

    def check_drift(self, drift) -> None:
        """Raise `ValueError` if the truth cannot drift by `drift` per generation (shape, or no drift at all)."""
        name = type(self).__name__
        traced = isinstance(drift, jax.core.Tracer)
        if not self.supports_drift:
            if traced or np.any(np.asarray(drift) != 0):
                raise ValueError(f"{name} has no drifting truth: drift must be 0")
            return
        shape = tuple(np.shape(drift))
        try:
            out = _translate.eval_shape(self, jax.ShapeDtypeStruct(shape, self.dtype))
            ok = jax.tree.structure(out) == jax.tree.structure(self) and all(
                x.shape == np.shape(y) for x, y in zip(jax.tree.leaves(out), jax.tree.leaves(self), strict=True))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            sizes = ", ".join(f"{k}={v}" for k, (v, _) in self.sizes().items())
            what = f"dimension {shape[0]}" if len(shape) == 1 else f"shape {shape}"
            raise ValueError(f"drift has {what} but the {name} truth ({sizes}) drifts by a scalar or a vector of "
                             f"the size its `translate` documents")

    def check_regime(self, regime, generations: int) -> None:
        """Raise `ValueError` if this family cannot run `regime` (before compiling). The base checks the drift;
        a family with more conditions overrides this and calls it."""
        self.check_drift(regime.drift)


class AbstractSampleFamily(AbstractFamily):
    r"""A family without finite sufficient statistics: its training data are the weighted samples themselves
    (`jaxcollapse.stats.SampleStats`), so the engine runs it on the sample path only.

    Implements `empty_stats`, `stats` and `sample_stats` (which refuses) from `row_shape`, the shape of one
    sample.
    """

    has_exact_stats = False

    @property
    @abc.abstractmethod
    def row_shape(self) -> tuple[int, ...]:
        """The shape of one sample (`draw_samples` returns `(n, *row_shape)`)."""

    def empty_stats(self) -> SampleStats:
        return SampleStats.empty(self.row_shape, self.dtype, 0)

    def stats(self, x, mask: Bool[Array, " n"] | None = None) -> SampleStats:
        """The rows of `x` (shape `(n, *row_shape)`; a 1-D `x` is `n` rows of one value), weight 1 or `mask`."""
        x = jnp.asarray(x, self.dtype)
        row = tuple(self.row_shape)
        if x.ndim == 0 or math.prod(x.shape[1:]) != math.prod(row):
            raise ValueError(f"{type(self).__name__} data must have shape (n, {', '.join(map(str, row))}), "
                             f"got {x.shape}")
        return SampleStats.from_samples(x.reshape(x.shape[0], *row), mask)

    def sample_stats(self, stream, n, temperature):
        raise ValueError(f"{type(self).__name__} has no exact statistics sampler; use path='samples'")


class AbstractMomentFamily(AbstractFamily):
    r"""A family on $\mathbb R^d$ whose mean and covariance are known in closed form (`moments`).

    The Gaussian, the Gaussian mixture and the KDE: each can be the truth of a mixture or a KDE, whose
    metrics compare moments and draw truth samples.
    """

    @property
    @abc.abstractmethod
    def d(self) -> int:
        """The dimension."""

    @abc.abstractmethod
    def moments(self) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
        """The mean and covariance of the distribution."""
