"""The batched search behind `jaxcollapse._multinomial` and the multinomial's batched-`n` path.

`_rank` (counts of sorted points at or below each query) and `_leaf_rank` (the same over the row-stored
`_SortedPoints` the multinomial draws) must equal `jnp.searchsorted(side="right")` exactly, for every tree
depth (1, 2 and 3 levels), ties, masked (+inf) points and +inf queries, batched or not, and through the
fallback used when flat int32 offsets would overflow. These are deterministic identities, so the
comparisons are exact.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcollapse import _multinomial as M
from jaxcollapse import random as R
from jaxcollapse.random import Stream


def _case(C: int, rows: int = 3, nq: int = 40):
    k1, k2 = jax.random.split(jax.random.key(C))
    pts = jax.random.uniform(k1, (rows, C))
    pts = pts.at[:, : C // 3].set(jnp.round(pts[:, : C // 3] * 8) / 8)  # ties
    pts = jnp.sort(jnp.where(jnp.arange(C) < C - 2, pts, jnp.inf), axis=1)  # the last two masked, as in _batch
    q = jnp.sort(jax.random.uniform(k2, (rows, nq)), axis=1)
    q = jnp.concatenate([q, pts[:, :3], jnp.zeros((rows, 1)), jnp.full((rows, 1), jnp.inf)], axis=1)
    ref = np.asarray(jax.vmap(lambda a, b: jnp.searchsorted(a, b, side="right"))(pts, q))
    return pts, q, ref


@pytest.mark.parametrize("C", [5, 1000, 2100])  # tree levels: 1, 2, 3
def test_rank_equals_searchsorted(C):
    pts, q, ref = _case(C)
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(M._rank))(pts, q)), ref)  # batching rule
    np.testing.assert_array_equal(np.asarray(M._rank(pts[1], q[1])), ref[1])  # one chain
    shared = jax.vmap(M._rank, in_axes=(0, None))(pts, q[0])  # an unbatched operand is broadcast
    np.testing.assert_array_equal(np.asarray(shared), np.asarray(
        jax.vmap(lambda a: jnp.searchsorted(a, q[0], side="right"))(pts)))
    # the test can fail: an off-by-one (side="left") differs on the ties
    left = jax.vmap(lambda a, b: jnp.searchsorted(a, b, side="left"))(pts, q)
    assert not np.array_equal(np.asarray(left), ref)


def test_rank_overflow_fallback(monkeypatch):
    """When rows x P would overflow int32 offsets, the rule falls back to a vmapped searchsorted."""
    pts, q, ref = _case(64)
    monkeypatch.setattr(M, "_FLAT_LIMIT", 8)
    np.testing.assert_array_equal(np.asarray(jax.vmap(M._rank)(pts, q)), ref)


def _points_case(P: int, rows: int = 3, nq: int = 50):
    """`_SortedPoints` of `rows` rows of P exponentials (some exactly 0: ties), queries around them."""
    k1, k2 = jax.random.split(jax.random.key(P))
    e = jax.random.exponential(k1, (rows, P))
    e = jnp.where(jax.random.uniform(k2, (rows, P)) < 0.2, 0.0, e)  # zero spacings: equal points
    S = jax.vmap(M._sorted_points)(e)
    flat = np.asarray((S.offs[..., None] + S.within).reshape(rows, P))
    q = np.sort(np.random.default_rng(P).uniform(0, 1.1 * flat[:, -1:], (rows, nq)), axis=1)
    q = np.concatenate([q, flat[:, : min(P, 5)], flat[:, -1:], np.zeros((rows, 1)), np.full((rows, 1), np.inf)],
                       axis=1).astype(np.float32)
    ref = np.stack([np.searchsorted(flat[r], q[r], side="right") for r in range(rows)])
    return S, flat, jnp.asarray(q), ref


@pytest.mark.parametrize("P", [4, 16, 64, 1024, 8192])  # one short row; one row; 4, 64 and 512 rows
def test_leaf_rank_equals_searchsorted(P):
    S, flat, q, ref = _points_case(P)
    assert np.all(np.diff(flat, axis=1) >= 0), "the points must be sorted"
    for j in (0, P // 3, P - 1):  # `at` reads the flat index
        at_j = jax.vmap(lambda o, w, j=j: M._SortedPoints(o, w).at(j))(S.offs, S.within)
        np.testing.assert_array_equal(np.asarray(at_j), flat[:, j])
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(M._leaf_rank))(S.offs, S.within, q)), ref)
    np.testing.assert_array_equal(np.asarray(M._leaf_rank(S.offs[1], S.within[1], q[1])), ref[1])  # unbatched
    shared = jax.vmap(M._leaf_rank, in_axes=(None, None, 0))(S.offs[0], S.within[0], q)  # broadcast points
    np.testing.assert_array_equal(np.asarray(shared[0]), ref[0])
    left = np.stack([np.searchsorted(flat[r], np.asarray(q[r]), side="left") for r in range(3)])
    assert not np.array_equal(left, ref)  # the ties make side="left" differ: the comparison can fail


def test_leaf_rank_overflow_fallback(monkeypatch):
    S, _, q, ref = _points_case(64)
    monkeypatch.setattr(M, "_FLAT_LIMIT", 8)
    np.testing.assert_array_equal(np.asarray(jax.vmap(M._leaf_rank)(S.offs, S.within, q)), ref)


def test_sorted_points_sums():
    """Row-stored prefix sums agree with float64 sums within the rounding of <= L + R additions."""
    e = np.random.default_rng(1).exponential(size=(2, 1024)).astype(np.float32)
    S = jax.vmap(M._sorted_points)(jnp.asarray(e))
    flat = np.asarray((S.offs[..., None] + S.within).reshape(2, -1))
    L = S.within.shape[-1]
    np.testing.assert_allclose(flat, np.cumsum(e.astype(np.float64), axis=1), rtol=(L + 1024 // L + 1) * 6e-8)


def test_level_bits():
    for lgP in range(1, 25):
        bits = M._level_bits(lgP)
        assert sum(bits) == lgP and max(bits) <= 5 and max(bits) - min(bits) <= 1 and bits == sorted(bits)


def test_batched_n_sums():
    """Per-chain (batched) n, some above the capacity (the while loop under the cond), some 0."""
    kd = jax.random.key_data(jax.random.key(5))
    p = jnp.asarray([0.1, 0.0, 0.5, 0.4], jnp.float32)
    ns = jnp.asarray([0, 1, 7, 8, 9, 30], jnp.float32)

    @jax.jit
    def draw(ns):
        return jax.vmap(lambda c, n: M.multinomial(Stream(kd, c), n, p, 8))(jnp.arange(6, dtype=jnp.uint32), ns)

    counts = np.asarray(draw(ns))
    np.testing.assert_array_equal(counts.sum(axis=1), np.asarray(ns))
    assert np.all(counts[:, 1] == 0)
    # chain i's counts do not depend on the other chains' n (chain-prefix invariance with batched n)
    np.testing.assert_array_equal(np.asarray(draw(ns.at[0].set(30.0)))[1:], counts[1:])


def test_categorical_draws_equal_inversion():
    """`categorical_draws` (through `_rank`, batched) equals inversion by `searchsorted(side="left")`."""
    kd = jax.random.key_data(jax.random.key(9))
    p = jnp.asarray(np.r_[0.0, np.arange(1, 40.0) ** -1.1, 0.0, 0.0], jnp.float32)  # zero categories at both ends
    ids = jnp.arange(16, dtype=jnp.uint32)

    def reference(stream):
        u = R.uniform(stream, (500,), p.dtype)
        return jnp.minimum(jnp.searchsorted(M.normalized_cdf(p), u, side="left"), p.shape[0] - 1).astype(p.dtype)

    got = np.asarray(jax.vmap(lambda c: M.categorical_draws(Stream(kd, c), 500, p))(ids))
    np.testing.assert_array_equal(got, np.asarray(jax.vmap(lambda c: reference(Stream(kd, c)))(ids)))
    assert not np.isin(got, [0, 40, 41]).any()
