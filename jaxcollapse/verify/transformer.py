r"""Checks of the transformer family's decoding and text metrics against `jaxcollapse.theory.transformer`.

`transformer.unigram_table`: a `Transformer` turned into a unigram table (`Transformer.unigram`: read-out
weights 0, read-out bias $\ell$, so the logits ignore the context) emits i.i.d. characters from the
decoding distribution $q$ = `decoding_distribution`$(\ell, \tau, k, p)$. Its metrics have exact
expectations, each compared over independent chains (one stream per chain; the family's own `metrics`,
`draw_samples` and `log_prob`, vmapped), rule ``"z"`` with $|z| <$ `verify.Z_BOUND`:

- ``log self_perplexity`` (metrics' sample at $\tau = 1$, top-$k$ = 4, top-$p$ = 0.7):
  $E = H(q_1, p)$, `cross_entropy`, with $p = \mathrm{softmax}(\ell)$;
- ``ppl0_mean`` (generation 0 is the same table): `expected_sample_perplexity`$(q_1, p, C - P)$;
- ``distinct_1``: the logits keep whitespace out of the decoding support, so each continuation is one
  word and distinct-1 is the share of distinct rows: `expected_distinct_fraction` of the
  `string_probabilities` of the $3^6$ possible rows, $m$ = `n_eval` = 16;
- the synthetic draws at $\tau = 0.6$ (`draw_samples`, what the engine trains on), scored by `log_prob`:
  the mean negative log-likelihood per character has $E = H(q_{0.6}, p)$.

The logits are $\ell_i = -1.1\ln(1 + i)$ over the vocabulary order (whitespace pushed to $-10$): top-4
keeps 4 characters and top-$p$ = 0.7 three of them, so both truncations act.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..families.transformer import SPACES, Transformer
from ..random import Stream
from ..theory import transformer as th
from ._core import compare_z, register, scaled_chains

_C, _P, _M, _K, _TOP_P, _TAU = 8, 2, 16, 4, 0.7, 0.6


def unigram_model(key, text: str | None = None) -> tuple[Transformer, np.ndarray]:
    """The check's model (tiny network; `text`: default the whole default corpus) and its logits."""
    base = Transformer(key, text, context=_C, prompt=_P, width=8, depth=1, heads=1, steps=1, n_eval=_M, n_heldout=4,
                       top_k=_K, top_p=_TOP_P)
    V = base.V
    logits = -1.1 * np.log1p(np.arange(V, dtype=np.float64))
    logits[[base.corpus.vocab.index(c) for c in SPACES if c in base.corpus.vocab]] = -10.0
    return base.unigram(logits), logits


@eqx.filter_jit
def _replicates(model: Transformer, raw, chains: int, tau):
    def one(c):
        s = Stream(raw, c)
        met = model.metrics(model, s.fork(1))
        x = model.draw_samples(s.fork(2), _M, tau)
        nll = -jnp.mean(model.log_prob(x)) / (_C - _P)
        return jnp.log(met["self_perplexity"]), met["ppl0_mean"], met["distinct_1"], nll, met["perplexity"]

    return jax.vmap(one)(jnp.arange(chains, dtype=jnp.uint32))


def _z(name, quantity, theory, x):
    x = np.asarray(x, np.float64)
    return compare_z(name, quantity, 0, theory, x.mean(), x.std(ddof=1) / np.sqrt(x.size))


@register("transformer.unigram_table", family="transformer",
          source="top-k (Fan et al. 2018), nucleus (Holtzman et al. 2020) definitions; occupancy and product "
                 "expectations derived here",
          description="a unigram-table Transformer: E log self-perplexity = H(q, p), E ppl0_mean = "
                      "(sum q p^(-1/L))^L, E distinct_1 = occupancy of 3^6 rows, E nll at tau 0.6 = H(q_tau, p)")
def _unigram_table(key, scale):
    name = "transformer.unigram_table"
    k_model, k_run = jax.random.split(key)
    model, logits = unigram_model(k_model)
    chains = scaled_chains(4000, scale)
    ls, p0, d1, nll, _ = _replicates(model, jax.random.key_data(k_run), chains, jnp.asarray(_TAU, model.dtype))
    p = th.decoding_distribution(logits)
    q1 = th.decoding_distribution(logits, 1.0, _K, _TOP_P)
    qt = th.decoding_distribution(logits, _TAU, _K, _TOP_P)
    L = _C - _P
    return [
        _z(name, "log self_perplexity", th.cross_entropy(q1, p), ls),
        _z(name, "ppl0_mean", th.expected_sample_perplexity(q1, p, L), p0),
        _z(name, "distinct_1", th.expected_distinct_fraction(th.string_probabilities(q1, L), _M), d1),
        _z(name, "nll per char, tau 0.6", th.cross_entropy(qt, p), nll),
    ]
