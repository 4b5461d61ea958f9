"""Training data as a fixed-capacity sample buffer (`Samples`); `SampleStats` lives in `jaxcollapse.stats`.

Families with finite sufficient statistics keep their data as additive statistics
(`jaxcollapse.families.AbstractStats`); regimes that act on individual samples (subsampling a
pool, curation, truncation) and families without finite statistics keep a `Samples` buffer.
Its capacity is static, so shapes never change under `jit`; a validity mask says which rows
hold data and a weight per row says how much each counts.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from . import random as R
from .stats import SampleStats as SampleStats


def write_rows(buffer: Array, rows: Array, start) -> Array:
    """`buffer` with rows `start .. start + m - 1` replaced by the `m` rows of `rows` (cast to its dtype).

    Every index is int32, also under float64 (`jax_enable_x64`), where a Python 0 would be int64 and
    `dynamic_update_slice` refuses mixed index types.
    """
    start = jnp.asarray(start).astype(jnp.int32)
    zeros = (jnp.zeros((), jnp.int32),) * (rows.ndim - 1)
    return jax.lax.dynamic_update_slice(buffer, rows.astype(buffer.dtype), (start, *zeros))


class Samples(eqx.Module):
    """A buffer of `capacity` rows, of which those with `valid` set hold data."""

    x: Float[Array, "capacity ..."]
    weight: Float[Array, " capacity"]
    valid: Bool[Array, " capacity"]

    @staticmethod
    def empty(capacity: int, row_shape: tuple[int, ...], dtype) -> Samples:
        return Samples(
            jnp.zeros((capacity,) + tuple(row_shape), dtype),
            jnp.zeros((capacity,), dtype),
            jnp.zeros((capacity,), bool),
        )

    @property
    def capacity(self) -> int:
        return self.x.shape[0]

    def count(self) -> Float[Array, ""]:
        """Total weight of the valid rows."""
        return jnp.sum(jnp.where(self.valid, self.weight, 0.0))

    def write(self, rows: Float[Array, "m ..."], start, mask: Bool[Array, " m"] | None = None) -> Samples:
        """Rows `start .. start + m - 1` replaced by `rows` (weight 1; `mask` marks which are valid)."""
        m = rows.shape[0]
        mask = jnp.ones((m,), bool) if mask is None else mask
        ones = jnp.ones((m,), self.weight.dtype)
        return Samples(write_rows(self.x, rows, start), write_rows(self.weight, ones, start),
                       write_rows(self.valid, mask, start))

    def subsample(self, stream: R.Stream, size: int) -> Float[Array, "size ..."]:
        """`size` valid rows drawn uniformly without replacement (needs `size` <= number of valid rows).

        Each row gets an independent uniform key; the `size` smallest keys among the valid
        rows are a uniformly random subset.
        """
        u = R.uniform(stream, (self.capacity,), self.weight.dtype)
        u = jnp.where(self.valid, u, 2.0)  # invalid rows sort last
        _, idx = jax.lax.top_k(-u, size)
        return self.x[idx]
