"""One tiny instance of every family, and the regimes each supports, for the engine's matrix tests.

Built in the current float precision (call inside `jaxcollapse.x64()` for float64). Sizes are the
smallest that run every regime: a handful of samples per generation, networks of width 4 trained for
2 steps. Shared by tests/test_engine.py (the regime x dtype matrix) and tests/test_devices.py (the
device-count invariance, in a subprocess).
"""

from __future__ import annotations

import jax
import numpy as np

import jaxcollapse as jc

N = 4  # synthetic samples per generation
N_REAL = 3
GENERATIONS = 2


def families() -> dict:
    """`{name: model}`: one small model of each family (the truth is the model)."""
    from jaxcollapse import datasets

    p4 = np.array([0.4, 0.3, 0.2, 0.1])
    p3 = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.6, 0.0, 0.4]])
    data = datasets.toy(jax.random.key(0), "mixture", 16, k=2)
    text = datasets.pydoc_text()
    cap = N * GENERATIONS + N_REAL  # the KDE stores the largest training set of the regimes below
    return {
        "gaussian": jc.Gaussian(np.array([0.5, -1.0]), np.array([[1.0, 0.3], [0.3, 0.5]])),
        "categorical": jc.Categorical(p4),
        "poisson": jc.Poisson(2.0),
        "bigram": jc.Bigram(p3, np.array([0.7, 0.0, 0.3]), length=3),
        "regression": jc.Regression(np.array([1.0, -1.0]), 1.0, 0.5),
        "logistic": jc.Logistic(np.array([0.5, -1.0]), design="fresh"),
        "mixture": jc.GaussianMixture([0.5, 0.5], [[-2.0], [2.0]], 1.0, em_iters=2, tol=0.0, eval_size=8),
        "kde": jc.KDE(np.linspace(-1.0, 1.0, 5)[:, None], 0.5, capacity=cap),
        "vae": jc.VAE(jax.random.key(1), data, latent=1, width=4, depth=1, steps=2, n_eval=8),
        "mlp": jc.MLPRegressor(jax.random.key(3), width=4, depth=1, steps=2, n_grid=8),
        "diffusion": jc.Diffusion(jax.random.key(2), data, width=4, depth=1, freqs=1, steps=2, sample_steps=2,
                                  n_eval=8),
        "transformer": jc.Transformer(jax.random.key(4), text[:4000], context=6, prompt=2, width=4, depth=1, heads=1,
                                      steps=2, n_eval=4, n_heldout=2),
    }


def regimes() -> dict:
    """`{name: regime}`: every preset (drift 0, temperature 1, so every family supports every one)."""
    rg = jc.regimes
    return {
        "replace": rg.replace(N),
        "accumulate": rg.accumulate(N),
        "accumulate_subsample": rg.accumulate_subsample(N, N - 1),
        "augment": rg.augment(N_REAL, 0.5),
        "fresh": rg.fresh(N_REAL, N),
        "weighted": rg.weighted(N_REAL, N, 0.3),
    }



def run_specs(key, specs: dict, chains: int, generations: int, *, points: bool = False) -> dict:
    """Every spec of `specs` run by `engine.init_chain` / `engine.step_chain` for `generations` generations over
    `chains` chains, all in one compiled program: ``{name: (final models, metrics per generation)}`` with leading
    axes (chains, ...), or (points, chains, ...) when each spec is a stack of points (``points=True``)."""
    import equinox as eqx
    import jax.numpy as jnp

    from jaxcollapse import engine

    @eqx.filter_jit
    def run_all(key, specs):
        def one(spec, chain):
            state = engine.init_chain(engine.chain_stream(key, 0, chain), spec)

            def body(carry, _):
                state, t = carry
                state, m = engine.step_chain(engine.chain_stream(key, t, chain), state, t, spec)
                return (state, t + 1), m

            (state, _), ms = jax.lax.scan(body, (state, jnp.ones((), jnp.int32)), None, length=generations)
            return state.model, ms

        ids = jnp.arange(chains, dtype=jnp.uint32)

        def over_chains(sp):
            return jax.vmap(lambda c: one(sp, c))(ids)

        return {k: jax.vmap(over_chains)(sp) if points else over_chains(sp) for k, sp in specs.items()}

    return run_all(key, specs)
