"""The bigram's opt-in text-diversity metrics (`Bigram.with_text`, `BigramText`; the recipe's ``text_sample``).

Rules, stated up front: the Monte Carlo mean of ``ln self_perplexity`` against its exact value, |z| < `Z_BOUND`
= 4, fixed key; the diversity metrics of a stream against numpy's counts of the same sample (the definitions,
computed independently of `jaxcollapse.families._text`), to float32 rounding.

Cost: the default tier compiles only the bigram metrics and the self-perplexity (the program returns nothing
else, so XLA drops the diversity's sort before code generation: about 0.8 s of CPU); the full metrics against
numpy (their sort compiles in about 2 s; `_text.diversity` itself has hand-worked default tests in
tests/test_transformer.py) and the recipe's truth are in the slow tier.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_z

from jaxcollapse import recipes
from jaxcollapse.families.ngram import TEXT_METRICS, Bigram, BigramText
from jaxcollapse.random import Stream

P3 = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.6, 0.0, 0.4]])  # stationary initial (the default)
L, M, REPS = 5, 32, 400


def _numpy_diversity(tok: np.ndarray) -> dict[str, float]:
    """distinct-n over the pooled rows (n-grams within rows), mean per-row TTR, Zipf slope over all ranks."""
    out = {}
    for n in (1, 2, 3):
        grams = [tuple(r[i:i + n]) for r in tok for i in range(len(r) - n + 1)]
        out[f"distinct_{n}"] = len(set(grams)) / len(grams)
    out["ttr"] = float(np.mean([len(set(r)) / len(r) for r in tok]))
    counts = np.sort(np.unique(tok, return_counts=True)[1])[::-1].astype(float)
    ranks = np.arange(1, counts.size + 1, dtype=float)
    out["zipf"] = -np.polyfit(np.log(ranks), np.log(counts), 1)[0] if counts.size >= 2 else 0.0
    return out


@pytest.fixture(scope="module")
def self_ppl():
    """``ln self_perplexity`` and the entropy rate on `REPS` metric streams, in one compiled program."""
    model = Bigram(P3, length=L).with_text(M)

    def one(k, m):
        met = m.metrics(m, Stream.from_key(k))
        return jnp.log(met["self_perplexity"]), met["entropy_rate"]

    x, h = eqx.filter_jit(jax.vmap(one, in_axes=(0, None)))(jax.random.split(jax.random.key(11), REPS), model)
    return np.asarray(x, np.float64), float(h[0])


@pytest.fixture(scope="module")
def measured():
    """The metrics on `REPS` metric streams and, from the same streams, the sample they are measured on (the
    metrics draw it with `draw_samples(stream, M, 1)`), in one compiled program."""
    model = Bigram(P3, length=L).with_text(M)

    def one(k, m):
        s = Stream.from_key(k)
        return m.metrics(m, s), m.draw_samples(s, M, jnp.ones((), m.dtype))

    met, tok = eqx.filter_jit(jax.vmap(one, in_axes=(0, None)))(jax.random.split(jax.random.key(11), REPS), model)
    return model, np.asarray(tok).astype(np.int64), {k: np.asarray(v, np.float64) for k, v in met.items()}


@pytest.mark.slow
def test_names(measured):
    model, _, met = measured
    assert isinstance(model, BigramText) and sorted(met) == sorted(BigramText.metric_names)
    assert BigramText.metric_names == (*Bigram.metric_names, *TEXT_METRICS)
    assert not set(TEXT_METRICS) & set(Bigram.metric_names)  # the plain Bigram (the default) measures none of them


def test_self_perplexity_mean_is_the_entropy_rate(self_ppl):
    """With the initial distribution stationary, every transition of a sampled sequence has expected negative
    log-likelihood equal to the entropy rate, so E[ln self_perplexity] = entropy_rate exactly."""
    x, h = self_ppl
    assert_z((x.mean() - h) / (x.std(ddof=1) / np.sqrt(REPS)), "E ln self_perplexity vs the entropy rate")
    assert x.std() > 0


@pytest.mark.slow
def test_diversity_against_numpy_counts_of_the_same_sample(measured):
    _, tok, met = measured
    for i in (0, 1, 2):
        want = _numpy_diversity(tok[i])
        for k, v in want.items():
            assert met[k][i] == pytest.approx(v, rel=1e-5, abs=1e-6), (k, i)


def test_bad_input_and_the_recipe_opt_in(typecheck_off):
    with pytest.raises(ValueError, match="n_text = 0 is invalid"):
        Bigram(P3, length=L).with_text(0)
    r = recipes.get("ngram")
    from jaxcollapse.recipes import ngram as recipe_module

    assert recipe_module.TEXT_METRICS == TEXT_METRICS  # the recipe's JAX-free copy of the family's names
    assert not set(TEXT_METRICS) & set(r.metrics(r.resolve({})))  # off by default: nothing sampled
    assert set(TEXT_METRICS) <= set(r.metrics(r.resolve({"text_sample": 8})))
    with pytest.raises(ValueError, match="need text_sample >= 1"):
        r.resolve({"metrics": ["distinct_2"]})


@pytest.mark.slow
def test_the_recipe_builds_the_text_model():
    r = recipes.get("ngram")
    assert isinstance(r.truth(r.resolve({"text_sample": 8})), BigramText)
    assert type(r.truth(r.resolve({}))) is Bigram
