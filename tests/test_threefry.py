"""The hand-written Threefry-2x32 is the same function as JAX's primitive, bit for bit."""

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np

from jaxcollapse import random as R


def test_threefry_matches_jax_primitive():
    for seed in (0, 1, 2**31 + 7):
        kd = jax.random.key_data(jax.random.key(seed))
        x0 = jnp.arange(1000, dtype=jnp.uint32) * jnp.uint32(2654435761)
        x1 = jnp.arange(1000, dtype=jnp.uint32) ^ jnp.uint32(0xDEADBEEF)
        y0, y1 = jax.jit(R.threefry2x32)(kd, x0, x1)
        ref = jex_random.threefry_2x32(kd, jnp.concatenate([x0, x1]))
        np.testing.assert_array_equal(np.concatenate([y0, y1]), np.asarray(ref))


def test_stream_bits_are_prefix_invariant_and_salted():
    kd = jax.random.key_data(jax.random.key(3))
    s = R.Stream(kd, jnp.uint32(5))
    a, b = s.bits(7), s.bits(12)
    np.testing.assert_array_equal(a, b[:7])  # asking for more words does not change the first ones
    assert not np.array_equal(s.fork(1).bits(7), a)
    assert not np.array_equal(s.fork(1).bits(7), s.fork(2).bits(7))
    assert not np.array_equal(R.Stream(kd, jnp.uint32(6)).bits(7), a)
