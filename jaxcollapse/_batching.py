"""Branches that stay branches under `jax.vmap`.

Under `jax.vmap` a `lax.cond` whose predicate is batched becomes a `select`: both branches run for every
element. The engine vmaps twice, over the points of a sweep (one point for `simulate`) and over the chains, so
a predicate made from a regime knob (the temperature, the sample size) is batched over the points even when
every point has the same value, and the expensive branch (a tempered prefix sum of K = 1000 per chain, the
multinomial's loop over batches) ran every generation: `simulate` of the categorical family was 1.2-1.4x
slower than with the knob unbatched. `any_in_batch` reduces a predicate over the vmapped axes, so the branch
runs only when some element needs it; `cond_any` then keeps, per element, the branch its own predicate picks,
so each element's result does not depend on the others in its batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

__all__ = ["any_in_batch", "cond_any"]


@custom_vmap
def any_in_batch(pred):
    """The boolean scalar `pred`; under `jax.vmap`, whether it holds for any element of the batch (unbatched)."""
    return pred


@any_in_batch.def_vmap
def _any_in_batch_vmap(axis_size, in_batched, pred):
    return (any_in_batch(jnp.any(pred)) if in_batched[0] else pred), False


def cond_any(pred, true_fn, false_fn, *operands):
    """`jnp.where(pred, true_fn(*operands), false_fn(*operands))` (leaf by leaf), with `true_fn` run only when `pred`
    holds for some element of the vmapped batch (a `lax.cond` on `any_in_batch(pred)`)."""
    def both(*ops):
        return jax.tree.map(lambda a, b: jnp.where(pred, a, b), true_fn(*ops), false_fn(*ops))

    return jax.lax.cond(any_in_batch(pred), both, false_fn, *operands)
