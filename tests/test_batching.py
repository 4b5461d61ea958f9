"""Branches under the engine's nested vmaps (`jaxcollapse._batching`): a predicate made from a regime knob is
batched over the points, and a `lax.cond` on it would run its expensive branch for every chain. These tests
check that the branch stays a branch (the jaxpr keeps a `cond`), that each element still gets the branch its
own predicate picks, and that the two engine paths built on it (the categorical temperature, the multinomial's
batches) give a point the same numbers whatever the other points in its batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import jaxprs_in_params

from jaxcollapse import Categorical, engine, regimes
from jaxcollapse._batching import any_in_batch, cond_any
from jaxcollapse._multinomial import multinomial
from jaxcollapse.random import Stream


def _prims(jaxpr) -> set[str]:
    out = set()
    for e in jaxpr.eqns:
        out.add(e.primitive.name)
        for sub in jaxprs_in_params(e.params):
            out |= _prims(sub)
    return out


def test_cond_any_keeps_a_branch_and_picks_per_element():
    def f(pred, x):
        return cond_any(pred, lambda: jnp.exp(x), lambda: x)

    g = jax.vmap(jax.vmap(f, in_axes=(None, 0)), in_axes=(0, 0))  # points (predicates) x chains
    preds = jnp.array([True, False, True])
    x = jnp.arange(12.0).reshape(3, 4) / 10
    np.testing.assert_array_equal(g(preds, x), jnp.where(preds[:, None], jnp.exp(x), x))
    np.testing.assert_array_equal(g(jnp.zeros(3, bool), x), x)  # the false branch for all: x itself
    assert "cond" in _prims(jax.make_jaxpr(g)(preds, x).jaxpr)
    # a plain lax.cond on the same batched predicate becomes a select that runs both branches
    plain = jax.vmap(jax.vmap(lambda p, v: jax.lax.cond(p, jnp.exp, lambda y: y, v), in_axes=(None, 0)))
    assert "cond" not in _prims(jax.make_jaxpr(plain)(preds, x).jaxpr)
    # any over the batch, the same for every element (vmap broadcasts the unbatched result)
    assert bool(any_in_batch(jnp.asarray(True)))
    assert np.all(jax.vmap(any_in_batch)(jnp.array([False, True, False])))
    assert not np.any(jax.vmap(any_in_batch)(jnp.zeros(3, bool)))


def test_multinomial_batches_independent_of_the_other_points():
    """n = 5 takes one batch of capacity 7, n = 20 three: vmapped together (the loop runs for both, adding
    zero draws to the first), each point's counts equal its own run, bit for bit."""
    p = jnp.array([0.5, 0.3, 0.2])
    key = jax.random.key_data(jax.random.key(3))
    ids = jnp.arange(64, dtype=jnp.uint32)

    def run(n):
        return jax.vmap(lambda c: multinomial(Stream(key, c), n, p, 7))(ids)

    both = jax.jit(jax.vmap(run))(jnp.array([5.0, 20.0]))
    for i, n in enumerate((5.0, 20.0)):
        np.testing.assert_array_equal(both[i], jax.jit(run)(jnp.asarray(n)))
        np.testing.assert_array_equal(both[i].sum(axis=1), np.full(64, n))


def test_categorical_temperature_points_independent():
    """Two points of a sweep, temperature 1 and 0.8, in one `run_points` call: each equals its one-point run (the
    temperature-1 point keeps the model's own cumulative probabilities, untempered)."""
    p = np.arange(1, 33, dtype=np.float64) ** -1.1
    specs = [engine.make_spec(Categorical(p / p.sum()), regimes.replace(50, temperature=tau), 4) for tau in (1.0, 0.8)]
    kw = dict(chains=32, metrics=("entropy", "surviving"), quantiles=(), record_paths=True)
    key = jax.random.key(11)
    both = engine.run_points(key, engine.stack_specs(specs), **kw)
    for i, spec in enumerate(specs):
        one = engine.run_points(key, engine.stack_specs([spec]), **kw)
        for m in kw["metrics"]:
            np.testing.assert_allclose(np.asarray(both.paths[m][i]), np.asarray(one.paths[m][0]), rtol=1e-6, err_msg=m)
    assert not np.allclose(np.asarray(both.paths["entropy"][0]), np.asarray(both.paths["entropy"][1]))
