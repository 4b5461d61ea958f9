"""Training data as additive statistics: the monoid interface (`AbstractStats`) and the weighted
sample buffer of families without finite sufficient statistics (`SampleStats`).

Bottom layer: imports nothing of the simulator.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float


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


class SampleStats(AbstractStats):
    r"""The "statistics" of a family without finite sufficient statistics: the weighted samples themselves.

    Row $i$ is the sample `x[i]` with weight `weight[i]` (0 for an empty row). `combine`
    concatenates the rows (so the capacity is the sum of both capacities: static shapes, but they
    grow with every combine), `scale(c)` multiplies every weight by $c$, and `count` is the total
    weight $\sum_i w_i$ (a field, kept equal to it). A weighted fit (EM, a KDE, a network's loss)
    uses the weights.
    """

    count: Float[Array, ""]
    x: Float[Array, "capacity ..."]
    weight: Float[Array, " capacity"]

    @property
    def capacity(self) -> int:
        return self.x.shape[0]

    @staticmethod
    def from_samples(x: Float[Array, "m ..."], mask: Bool[Array, " m"] | None = None) -> SampleStats:
        """Every row of `x` with weight 1, or 0 where `mask` is False."""
        w = jnp.ones((x.shape[0],), x.dtype) if mask is None else mask.astype(x.dtype)
        return SampleStats(jnp.sum(w), x, w)

    @staticmethod
    def empty(row_shape: tuple[int, ...], dtype, capacity: int = 0) -> SampleStats:
        return SampleStats(jnp.zeros((), dtype), jnp.zeros((capacity,) + tuple(row_shape), dtype),
                           jnp.zeros((capacity,), dtype))

    def combine(self, other: SampleStats) -> SampleStats:
        return SampleStats(self.count + other.count, jnp.concatenate([self.x, other.x.astype(self.x.dtype)], axis=0),
                           jnp.concatenate([self.weight, other.weight.astype(self.weight.dtype)], axis=0))

    def scale(self, c) -> SampleStats:
        return SampleStats(self.count * c, self.x, self.weight * c)
