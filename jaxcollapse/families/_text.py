r"""Text-diversity metrics shared by the language-model families (`Bigram`, `Transformer`): one implementation.

Every function works on one chain's sample of $m$ rows (sequences) with fixed shapes, so the engine can
vmap it over chains. The units counted are *words*: for the bigram model a word is one token (its id);
for the character-level transformer a word is a maximal run of non-whitespace characters
(`words_from_chars`). A unit is represented by two 32-bit hash words (`h1`, `h2`; 64 bits together):
for token ids the pair is `(id + 1, 0)` and exact; for character words it is a pair of polynomial
rolling hashes (FNV-1a style and base-31), so two different words collide with probability about
$2^{-64}$ per pair (negligible for the few thousand words of a sample).

Metrics (natural logarithms; a row's units are its first `count[r]` entries):

- ``distinct_n`` for $n = 1, 2, 3$: the number of distinct $n$-grams over the pooled sample divided by
  the number of $n$-grams (Li, Galley, Brockett, Gao and Dolan 2016, "A diversity-promoting objective
  function for neural conversation models", NAACL, who divide by the number of generated
  words; dividing by the number of $n$-grams, as here, is the common normalisation that keeps every
  distinct-$n$ in $[0, 1]$). $n$-grams never cross rows. 0 when there is no $n$-gram.
- ``ttr``: the type-token ratio of each row (distinct words / words), averaged over the rows that have a
  word: a within-sequence measure (repetition loops), where distinct-1 pools the rows.
- ``zipf``: the Zipf exponent $s$ of the pooled word frequencies: minus the least-squares slope of
  $\ln c_r$ on $\ln r$ over all ranks $r = 1..R$ of the $R$ word types (counts $c_1 \ge c_2 \ge \dots$);
  0 when $R < 2$. Every type enters, singletons included (no frequency cut-off).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, UInt32

__all__ = ["diversity", "token_units", "words_from_chars", "DIVERSITY_NAMES"]

DIVERSITY_NAMES = ("distinct_1", "distinct_2", "distinct_3", "ttr", "zipf")
_M1 = 0x01000193  # FNV prime
_M2 = 31
_SEED1 = 0x811C9DC5  # FNV offset basis
_SEED2 = 0x9E3779B9
_M3 = 0x2545F491  # odd multipliers of the n-gram combination
_C1 = 0x9E3779B1
_C2 = 0x85EBCA6B


def _u32(x) -> Array:
    return jnp.asarray(x, jnp.uint32)


def token_units(tokens: Int[Array, "m T"]) -> tuple[UInt32[Array, "m T"], UInt32[Array, "m T"], Int[Array, " m"]]:
    """Token ids as units (every position a word, exact ids): `(h1, h2, count)`."""
    tok = tokens.astype(jnp.uint32)
    m, T = tokens.shape
    return tok + _u32(1), jnp.zeros((m, T), jnp.uint32), jnp.full((m,), T, jnp.int32)


def words_from_chars(chars: Int[Array, "m T"], is_space: Bool[Array, "m T"]
                     ) -> tuple[UInt32[Array, "m T"], UInt32[Array, "m T"], Int[Array, " m"]]:
    """The words (maximal runs of non-space characters) of each row, hashed and moved to the row's front.

    A word cut by the end of the row counts as a word. Returns `(h1, h2, count)`: row $r$'s words are its
    first `count[r]` entries (the rest are 0).
    """
    m, T = chars.shape
    c = chars.astype(jnp.uint32) + _u32(1)
    word = ~is_space

    def step(carry, xs):
        h1, h2 = carry
        ci, wi = xs
        n1 = jnp.where(wi, (h1 ^ ci) * _u32(_M1), _u32(_SEED1))
        n2 = jnp.where(wi, h2 * _u32(_M2) + ci, _u32(_SEED2))
        return (n1, n2), (n1, n2)

    init = (jnp.full((m,), _SEED1, jnp.uint32), jnp.full((m,), _SEED2, jnp.uint32))
    _, (h1, h2) = jax.lax.scan(step, init, (c.T, word.T))
    h1, h2 = h1.T, h2.T
    nxt = jnp.concatenate([word[:, 1:], jnp.zeros((m, 1), bool)], axis=1)
    ends = word & ~nxt  # the last character of a word
    slot = jnp.cumsum(ends.astype(jnp.int32), axis=1) - 1
    slot = jnp.where(ends, slot, T)  # out of range: dropped
    rows = jnp.broadcast_to(jnp.arange(m)[:, None], (m, T))
    o1 = jnp.zeros((m, T), jnp.uint32).at[rows, slot].set(h1, mode="drop")
    o2 = jnp.zeros((m, T), jnp.uint32).at[rows, slot].set(h2, mode="drop")
    return o1, o2, jnp.sum(ends, axis=1).astype(jnp.int32)


def _ngrams(h1, h2, count, n: int):
    """Hashes of the n-grams starting at each position, and whether they lie inside their row."""
    m, T = h1.shape
    g1, g2 = h1, h2
    for k in range(1, n):
        s1 = jnp.concatenate([h1[:, k:], jnp.zeros((m, k), jnp.uint32)], axis=1)
        s2 = jnp.concatenate([h2[:, k:], jnp.zeros((m, k), jnp.uint32)], axis=1)
        # order-dependent (multiply, then mix in the next unit): (a, b) and (b, a) differ
        g1 = (g1 * _u32(_M1)) ^ s1 ^ (s2 * _u32(_C1))
        g2 = g2 * _u32(_M3) + s2 + s1 * _u32(_C2)
    valid = jnp.arange(T)[None, :] + (n - 1) < count[:, None]
    return g1, g2, valid


def _ratio(a, b):
    return jnp.where(b > 0, a / jnp.where(b > 0, b, 1.0), 0.0)


def diversity(h1: UInt32[Array, "m T"], h2: UInt32[Array, "m T"], count: Int[Array, " m"], dtype
              ) -> dict[str, Float[Array, ""]]:
    """distinct-1/2/3, the mean per-row type-token ratio and the Zipf exponent of a sample's units (see module).

    One sort serves them all: the 1-, 2- and 3-grams of every row, keyed by (valid, n, hash, row); a new
    $n$-gram is a change of (n, hash) along the sorted keys, a new (word, row) pair a change of (hash, row).
    """
    m, T = h1.shape
    rows = jnp.broadcast_to(jnp.arange(m, dtype=jnp.uint32)[:, None], (m, T)).reshape(-1)
    keys = [[], [], [], [], []]
    for n in (1, 2, 3):
        g1, g2, valid = _ngrams(h1, h2, count, n)
        keys[0].append((~valid).reshape(-1).astype(jnp.uint32))
        keys[1].append(jnp.full((m * T,), n, jnp.uint32))
        keys[2].append(g1.reshape(-1))
        keys[3].append(g2.reshape(-1))
        keys[4].append(rows)
    inv, nid, s1, s2, row = jax.lax.sort(tuple(jnp.concatenate(k) for k in keys), num_keys=5)
    ok = inv == 0
    same_gram = jnp.concatenate([jnp.zeros((1,), bool), (nid[1:] == nid[:-1]) & (s1[1:] == s1[:-1])
                                 & (s2[1:] == s2[:-1])])
    same_row = jnp.concatenate([jnp.zeros((1,), bool), row[1:] == row[:-1]])
    new_gram = ok & ~same_gram
    out = {}
    for n in (1, 2, 3):
        at = nid == n
        out[f"distinct_{n}"] = _ratio(jnp.sum(new_gram & at).astype(dtype), jnp.sum(ok & at).astype(dtype))
    uni = ok & (nid == 1)
    new_pair = uni & ~(same_gram & same_row)  # a (word, row) pair not seen before in this row
    types = jax.ops.segment_sum(new_pair.astype(dtype), jnp.where(uni, row, m).astype(jnp.int32),
                                num_segments=m + 1)[:m]
    has = count > 0
    ttr = _ratio(types, jnp.where(has, count, 0).astype(dtype))
    out["ttr"] = _ratio(jnp.sum(ttr), jnp.sum(has).astype(dtype))
    # Zipf: the counts of the word types (runs of equal hashes among the unigrams), by rank
    N = m * T  # at most this many word types
    first = new_gram & (nid == 1)
    tid = jnp.cumsum(first.astype(jnp.int32)) - 1
    counts = jax.ops.segment_sum(uni.astype(dtype), jnp.where(uni, tid, N), num_segments=N + 1)[:N]
    counts = -jnp.sort(-counts)  # descending; the types first, then zeros
    R = jnp.sum(first)
    use = jnp.arange(N) < R
    x = jnp.log(jnp.arange(1, N + 1).astype(dtype))
    y = jnp.log(jnp.where(use, counts, 1.0))
    w = use.astype(dtype)
    sw = jnp.maximum(jnp.sum(w), 1.0)
    xm, ym = jnp.sum(w * x) / sw, jnp.sum(w * y) / sw
    sxx = jnp.sum(w * (x - xm) ** 2)
    sxy = jnp.sum(w * (x - xm) * (y - ym))
    out["zipf"] = jnp.where(R >= 2, -sxy / jnp.where(sxx > 0, sxx, 1.0), 0.0)
    return out
