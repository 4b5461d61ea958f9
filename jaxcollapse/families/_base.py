"""The interface every model family implements, and the additive-statistics interface."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
from jaxtyping import Array, Bool, Float

from .._random import Stream


class AbstractStats(eqx.Module):
    """Additive sufficient statistics of a (weighted) sample.

    They form a monoid: `a.combine(b)` is the statistics of the union of the two samples,
    and `a.scale(c)` multiplies every sample weight by `c`. Accumulating, mixing and
    weighting data are therefore operations on statistics, and memory stays O(1) in the
    number of generations.
    """

    count: eqx.AbstractVar[Float[Array, ""]]

    @abc.abstractmethod
    def combine(self, other: AbstractStats) -> AbstractStats: ...

    @abc.abstractmethod
    def scale(self, c: Float[Array, ""]) -> AbstractStats: ...


class AbstractFamily(eqx.Module):
    """A generative model: parameters as a pytree, plus how to sample, fit and measure it.

    Sizes that set shapes are static fields; parameters are arrays. Methods used by the
    engine take a per-chain `Stream` rather than a key so that chain `i` draws the same
    numbers whatever the number of chains.
    """

    metric_names: ClassVar[tuple[str, ...]]
    has_exact_stats: ClassVar[bool]

    @property
    @abc.abstractmethod
    def dtype(self):
        """The floating dtype of the parameters (the engine keeps it through the scan)."""

    @abc.abstractmethod
    def sample(self, key, n: int) -> Array:
        """`n` samples from the model, from a typed `jax.random.key`."""

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
    def fit(self, stats: AbstractStats) -> AbstractFamily:
        """The refitted model (same static configuration, new parameters)."""

    @abc.abstractmethod
    def translate(self, delta: Array) -> AbstractFamily:
        """The model moved by `delta` (used for a drifting truth)."""

    @abc.abstractmethod
    def metrics(self, truth: AbstractFamily) -> dict[str, Float[Array, ""]]:
        """Every metric of `metric_names`, measured against `truth`."""

    @abc.abstractmethod
    def check_regime(self, regime, generations: int) -> None:
        """Raise `ValueError` if this family cannot run `regime` (before compiling)."""
