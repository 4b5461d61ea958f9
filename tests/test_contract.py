"""The declared family contract (`jaxcollapse.families._base`), checked on every family.

Deterministic checks only (no statistical bounds here): the declared class variables, the metric names,
`accepts_truth`, `translate(0)` as the identity bit for bit (the engine translates the truth every
generation), `log_prob` where declared, and that a family which forgets a declaration cannot be built.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcollapse as jc
from jaxcollapse import datasets
from jaxcollapse.families import AbstractFamily, AbstractSampleFamily
from jaxcollapse.random import Stream

S0 = Stream.from_key(jax.random.key(0))


_BUILDERS = {
    "gaussian": lambda: jc.Gaussian(np.zeros(2), 1.0),
    "categorical": lambda: jc.Categorical(np.array([0.4, 0.3, 0.2, 0.1])),
    "poisson": lambda: jc.Poisson(2.0),
    "bigram": lambda: jc.Bigram(np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]]), length=4),
    "regression": lambda: jc.Regression(np.ones(2)),
    "logistic": lambda: jc.Logistic(np.ones(2), rows=8),
    "mixture": lambda: jc.GaussianMixture([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.0]], 0.5, eval_size=16),
    "kde": lambda: jc.KDE(np.linspace(-1.0, 1.0, 6), 0.3, eval_size=16),
    "vae": lambda: jc.VAE(jax.random.key(0), datasets.toy(jax.random.key(1), "moons", 32), width=4, depth=1,
                          steps=1, n_eval=8),
    "mlp": lambda: jc.MLPRegressor(jax.random.key(0), width=4, depth=1, steps=1, n_grid=8),
    "diffusion": lambda: jc.Diffusion(jax.random.key(0), datasets.toy(jax.random.key(1), "moons", 32), width=4,
                                      depth=1, freqs=1, steps=1, sample_steps=2, n_eval=8),
    "transformer": lambda: jc.Transformer(jax.random.key(0), datasets.pydoc_text()[:4000], context=6, prompt=2,
                                          width=4, depth=1, heads=1, steps=1, n_eval=4, n_heldout=2),
}


class _Lazy(dict):
    """name -> family, each built on first use (building the learned ones trains a network: kept out of the
    collection, which every worker runs before any test starts)."""

    def __missing__(self, name):
        self[name] = m = _BUILDERS[name]()
        return m


FAMILIES = _Lazy()
NAMES = list(_BUILDERS)


@pytest.mark.parametrize("name", NAMES)
def test_declarations_and_metric_names(name):
    m = FAMILIES[name]
    for flag in ("has_exact_stats", "supports_drift", "has_log_prob"):
        assert isinstance(getattr(type(m), flag), bool), flag
    assert isinstance(m, AbstractFamily)
    assert isinstance(m, AbstractSampleFamily) == (not m.has_exact_stats and name not in ("bigram",))
    met = eqx.filter_jit(lambda a: a.metrics(a, S0))(m)
    assert sorted(met) == sorted(m.metric_names) and len(set(m.metric_names)) == len(m.metric_names)
    assert all(jnp.shape(v) == () for v in met.values())


@pytest.mark.parametrize("name", NAMES)
def test_translate_by_zero_is_the_identity_bit_for_bit(name):
    """The engine calls `truth.translate(drift * t)` every generation: with no drift nothing may move. A family
    without a drifting truth (the transformer: text has no translation) refuses any drift but 0."""
    m = FAMILIES[name]
    if not m.supports_drift:
        m.check_drift(0.0)
        with pytest.raises(ValueError, match="no drifting truth"):
            m.check_drift(0.5)
    moved = eqx.filter_jit(lambda a, d: a.translate(d))(m, jnp.zeros((), m.dtype))
    for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(m), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", NAMES)
def test_log_prob_where_declared(name):
    m = FAMILIES[name]
    x = m.sample(jax.random.key(3), 5)
    if m.has_log_prob:
        lp = np.asarray(m.log_prob(x))
        assert lp.shape == (5,) and np.all(np.isfinite(lp))
    else:
        with pytest.raises(NotImplementedError, match="has_log_prob"):
            m.log_prob(x)


@pytest.mark.parametrize("name", NAMES)
def test_accepts_itself_and_refuses_another_family(name):
    m = FAMILIES[name]
    m.accepts_truth(m)
    with pytest.raises(ValueError, match="truth"):
        m.accepts_truth(jc.Poisson(1.0) if name != "poisson" else jc.Gaussian(0.0, 1.0))


def test_size_mismatch_names_both_sizes():
    with pytest.raises(ValueError, match="Categorical model has K=5 categories but the truth has K=7"):
        jc.Categorical.uniform(5).accepts_truth(jc.Categorical.uniform(7))
    with pytest.raises(ValueError, match="Gaussian model has d=3 dimensions but the truth has d=2"):
        jc.Gaussian(np.zeros(3)).accepts_truth(jc.Gaussian(np.zeros(2)))
    with pytest.raises(ValueError, match="Bigram model has V=2 tokens but the truth has V=3"):
        jc.Bigram(np.eye(2)[::-1], np.array([0.5, 0.5])).accepts_truth(FAMILIES["bigram"])


def test_drift_of_the_wrong_size_is_refused():
    for m, bad in [(FAMILIES["gaussian"], np.ones(3)), (FAMILIES["categorical"], np.ones(3)),
                   (FAMILIES["poisson"], np.ones(2)), (FAMILIES["vae"], np.ones(3))]:
        with pytest.raises(ValueError, match="drift has dimension"):
            m.check_drift(bad)
        m.check_drift(0.5)  # a scalar always
    FAMILIES["categorical"].check_drift(np.ones(4))  # one logit per category


class _Coin(AbstractFamily):
    """A minimal Bernoulli family; `_Forgetful` below leaves out one declaration."""

    p: jax.Array
    metric_names: ClassVar[tuple[str, ...]] = ("p",)
    has_exact_stats: ClassVar[bool] = False
    supports_drift: ClassVar[bool] = False

    @property
    def dtype(self):
        return self.p.dtype

    def draw_samples(self, stream, n, temperature):
        return (jc.random.uniform(stream, (n,), self.dtype) < self.p).astype(self.dtype)

    def sample_stats(self, stream, n, temperature):
        raise ValueError("no")

    def stats(self, x, mask=None):
        raise ValueError("no")

    def empty_stats(self):
        raise ValueError("no")

    def fit(self, stats, stream):
        return self

    def translate(self, delta):
        return self

    def metrics(self, truth, stream):
        return {"p": self.p}


class _Forgetful(_Coin):
    pass


class _Declared(_Coin):
    has_log_prob: ClassVar[bool] = False


def test_a_family_that_forgets_a_declaration_cannot_be_built():
    with pytest.raises(TypeError, match="has_log_prob"):
        _Forgetful(jnp.asarray(0.5))
    coin = _Declared(jnp.asarray(0.5))
    assert coin.sample(jax.random.key(0), 4).shape == (4,)  # the base `sample`
    with pytest.raises(ValueError, match="no drifting truth"):
        coin.check_drift(0.1)
    coin.check_drift(0.0)
