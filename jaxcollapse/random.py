"""Counter-based random streams and exact samplers that vectorize well on every backend.

Public as `jaxcollapse.random`; `Stream` is also `jc.Stream`.

Every chain draws its numbers from Threefry-2x32 (the generator behind `jax.random.key`)
evaluated at the counter pair ``(chain, j)`` under a key that depends only on the user's
key, the generation and a *salt* naming the use (the mean draw, the scatter draw, ...).
So chain ``i`` sees the same numbers whether 8 or $10^6$ chains run beside it, and no
per-chain key has to be hashed every generation: one Threefry block gives two 32-bit words.

Threefry-2x32 (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3", 20 rounds)
is written here in plain `jnp` integer ops. Its output is bit-identical to
`jax.extend.random.threefry_2x32` (a test checks this), but XLA fuses and vectorizes it: on a
2-core CPU it produces about 5x more words per second than the primitive.

The gamma sampler is Marsaglia and Tsang (2000), "A simple method for generating gamma
variables", ACM TOMS 26(3): a fixed number of batched proposals, then a rare exact fallback
loop for the few lanes that rejected them all. Taking the first accepted proposal in order
is ordinary sequential rejection sampling, so the draw is exact.

The Poisson sampler costs the same for every mean, so a vmapped batch of chains whose means
differ (a sweep's points; a Galton–Watson population, some of it near extinction) pays no
data-dependent loop: inversion over a fixed table of terms below mean 10, and Hörmann's
transformed rejection (PTRS) with batched proposals and the same rare fallback loop above.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Key, UInt32

from ._batching import any_in_batch

# --------------------------------------------------------------------------- salts
# Every salt of the package: a fixed tag naming one use of randomness, passed to `Stream.fork`.
# Two forks of one stream with different salts are independent. One value may name two uses that
# never fork the same stream (SALT_MEAN inside a Gaussian's statistics, SALT_PICK inside a
# mixture's samples): only salts forked from the same stream must differ.

# the engine, per chain and generation
SALT_SAMPLES = 4  # the synthetic data drawn from the current model
SALT_REAL = 5  # fresh real data drawn from the (current) truth
SALT_SUBSAMPLE = 6  # accumulate_subsample's choice of rows
SALT_INIT_REAL = 7  # the fixed real set (drawn once, at generation 0)
SALT_FIT = 0x4649  # the stream every family's `fit` gets (random EM initialization, network training)
SALT_CURATE = 0x4355  # a curation regime's noisy verifier
SALT_METRICS = 0x4D45  # the stream every family's `metrics` gets (Monte Carlo metrics)
SALT_CORRECT = 0x5343  # self-correction: which synthetic samples are replaced by truth draws
SALT_CORRECT_TRUTH = 0x5354  # self-correction: the truth draws that replace them
SALT_EXTRAPOLATE = 0x4E45  # negative extrapolation: the stream of the fit to the synthetic data

# exact samplers of sufficient statistics
SALT_MEAN = 1  # the sample mean (Gaussian)
SALT_SCATTER = 2  # the chi-square diagonal of the Bartlett factor (Gaussian)
SALT_SCATTER_OFFDIAG = SALT_SCATTER + 100  # the normal off-diagonal of the Bartlett factor (Gaussian)
SALT_WISHART_CHI = 1  # the Bartlett diagonal of a regression design's Gram matrix (design stream)
SALT_WISHART_OFFDIAG = 2  # its off-diagonal (design stream)
SALT_GAMMA = 3  # the proposals of `gamma`
SALT_FALLBACK = 1000  # + iteration: `gamma`'s exact fallback loop
SALT_POISSON = 31  # the uniform of `poisson`'s inversion (means below 10)
SALT_POISSON_PTRS = 32  # the proposals of `poisson`'s transformed rejection (means 10 and above)
SALT_POISSON_FALLBACK = 3000  # + iteration: its exact fallback loop

# drawing samples
SALT_PICK = 1  # which component (mixture), stored point (KDE) or class (toy data) a sample comes from
SALT_JITTER = 2  # the Gaussian noise added to it
SALT_DESIGN = 21  # the inputs x of labelled rows (regression design, MLP regressor)
SALT_NOISE = 22  # the label noise of labelled rows
SALT_RESID = 23  # the residual chi-square of a regression's y'y
SALT_LATENT = 11  # a VAE's latent draws
SALT_DECODER_NOISE = 12  # a VAE's decoder noise
SALT_DATA = 13  # the real data a neural family draws in data mode (generation 0)


_ROT = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x, d: int):
    return (x << jnp.uint32(d)) | (x >> jnp.uint32(32 - d))


def threefry2x32(key: UInt32[Array, "2"], x0: UInt32[Array, "..."], x1: UInt32[Array, "..."]):
    """The Threefry-2x32 block cipher (20 rounds) applied to counter pairs `(x0, x1)`.

    Bit-identical to `jax.extend.random.threefry_2x32(key, concatenate([x0, x1]))`, split in halves.
    """
    k0, k1 = key[0], key[1]
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for i in range(5):
        for r in _ROT[i % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


class Stream(NamedTuple):
    """The random stream of one chain in one generation.

    `key` is the raw Threefry key data (two uint32 words) shared by all chains of the
    generation; `chain` is this chain's index. `Stream(...).fork(salt)` gives an independent
    stream for another use in the same generation.
    """

    key: UInt32[Array, "2"]
    chain: UInt32[Array, ""]

    @staticmethod
    def from_key(key: Key[Array, ""], chain: int | Array = 0) -> Stream:
        """A stream from a typed key (`jax.random.key`) and a chain index."""
        if str(jax.random.key_impl(key)) != "threefry2x32":
            raise ValueError(
                f"jaxcollapse streams need a threefry2x32 key; got {jax.random.key_impl(key)}"
            )
        return Stream(jax.random.key_data(key), jnp.asarray(chain, jnp.uint32))

    def fork(self, salt: int | Array) -> Stream:
        """An independent stream for another use (the key is hashed with `salt`)."""
        y0, y1 = threefry2x32(self.key, jnp.asarray(0x5A17, jnp.uint32), jnp.asarray(salt, jnp.uint32))
        return Stream(jnp.stack([y0, y1]), self.chain)

    def bits(self, nwords: int) -> UInt32[Array, " nwords"]:
        """`nwords` uniformly random 32-bit words: Threefry at counters (chain, 0), (chain, 1), ...

        Block `j` gives words `2j` and `2j + 1`.
        """
        nblocks = (nwords + 1) // 2
        x0 = jnp.broadcast_to(self.chain, (nblocks,))
        x1 = jnp.arange(nblocks, dtype=jnp.uint32)
        y0, y1 = threefry2x32(self.key, x0, x1)
        # The barrier materializes the words: without it XLA fuses the 20 rounds into every
        # consumer and recomputes them once per use (erf_inv alone uses its input many times).
        return jax.lax.optimization_barrier(jnp.stack([y0, y1], axis=-1).reshape(-1)[:nwords])


def generation_key(key: Key[Array, ""], t: Array) -> UInt32[Array, "2"]:
    """Raw key data for generation `t` (shared by all chains)."""
    return jax.random.key_data(jax.random.fold_in(key, t))


def _words_per_number(dtype) -> int:
    return 2 if jnp.dtype(dtype) == jnp.float64 else 1


def uniform_from_bits(words: UInt32[Array, "..."], dtype) -> Float[Array, "..."]:
    """Uniform(0, 1], open at 0 (safe for `log`). For float64 the last axis pairs words."""
    dtype = jnp.dtype(dtype)
    if dtype == jnp.float64:
        hi = words[..., 0::2].astype(jnp.uint64)
        lo = words[..., 1::2].astype(jnp.uint64)
        m = ((hi << 32) | lo) >> 12  # 52 random mantissa bits
        f = jax.lax.bitcast_convert_type(m | jnp.uint64(0x3FF0000000000000), jnp.float64)
    else:
        m = words >> 9  # 23 random mantissa bits
        f = jax.lax.bitcast_convert_type(m | jnp.uint32(0x3F800000), jnp.float32).astype(dtype)
    # f in [1, 2): 2 - f is in (0, 1].
    return jnp.asarray(2.0, dtype) - f


def normal_from_bits(words: UInt32[Array, "..."], dtype) -> Float[Array, "..."]:
    """Standard normals by inversion, $\\sqrt2\\,\\mathrm{erf}^{-1}(2u-1)$, as `jax.random.normal`."""
    dtype = jnp.dtype(dtype)
    u = uniform_from_bits(words, dtype)  # (0, 1]
    lo = jnp.nextafter(jnp.asarray(-1.0, dtype), jnp.asarray(0.0, dtype))
    v = jnp.clip(2.0 * u - 1.0, lo, jnp.asarray(1.0, dtype) - jnp.finfo(dtype).epsneg)
    return jnp.sqrt(jnp.asarray(2.0, dtype)) * jax.lax.erf_inv(v)


def uniform(stream: Stream, shape: tuple[int, ...], dtype) -> Float[Array, "..."]:
    n = math.prod(shape)
    w = _words_per_number(dtype)
    return uniform_from_bits(stream.bits(n * w), dtype).reshape(shape)


def normal(stream: Stream, shape: tuple[int, ...], dtype) -> Float[Array, "..."]:
    n = math.prod(shape)
    w = _words_per_number(dtype)
    return normal_from_bits(stream.bits(n * w), dtype).reshape(shape)


# --------------------------------------------------------------------------- gamma

_PROPOSALS = 2  # batched proposals before the exact fallback loop


def _mt_try(z, u, d, c):
    """One Marsaglia–Tsang proposal for Gamma(a), a >= 1, d = a - 1/3, c = 1/sqrt(9d)."""
    v = 1.0 + c * z
    v3 = v * v * v
    ok = (v > 0) & (jnp.log(u) < 0.5 * z * z + d - d * v3 + d * jnp.log(jnp.where(v3 > 0, v3, 1.0)))
    return ok, d * v3


def gamma(stream: Stream, a: Float[ArrayLike, " m"], dtype) -> Float[Array, " m"]:
    """Exact Gamma(a, 1) draws, one per entry of `a` (a >= 0, traced; a = 0 gives 0).

    Marsaglia–Tsang on the boosted shape $a' = a + 1$ when $a < 1$, times $U^{1/a}$
    (their eq. for small shapes). `_PROPOSALS` proposals are made at once; lanes that reject
    all of them continue in a `lax.while_loop` with fresh numbers until accepted.
    """
    dtype = jnp.dtype(dtype)
    a = jnp.asarray(a, dtype)
    m = a.shape[0]
    w = _words_per_number(dtype)
    K = _PROPOSALS
    small = a < 1
    ab = jnp.where(small, a + 1.0, a)
    d = ab - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    words = stream.fork(SALT_GAMMA).bits((2 * K + 1) * m * w)
    z = normal_from_bits(words[: K * m * w], dtype).reshape(K, m)
    u = uniform_from_bits(words[K * m * w: 2 * K * m * w], dtype).reshape(K, m)
    ub = uniform_from_bits(words[2 * K * m * w:], dtype)
    ok, val = _mt_try(z, u, d[None], c[None])
    # first accepted proposal, in order
    acc = jnp.any(ok, axis=0)
    first = jnp.argmax(ok, axis=0)
    x = jnp.take_along_axis(val, first[None], axis=0)[0]

    def cond(s):
        return ~jnp.all(s[1])

    def body(s):
        x, acc, it = s
        st = stream.fork(SALT_FALLBACK + it)
        ww = st.bits(2 * m * w)
        z1 = normal_from_bits(ww[: m * w], dtype)
        u1 = uniform_from_bits(ww[m * w:], dtype)
        ok1, v1 = _mt_try(z1, u1, d, c)
        x = jnp.where(acc, x, v1)
        return x, acc | ok1, it + 1

    x, _, _ = jax.lax.while_loop(cond, body, (x, acc, jnp.asarray(0, jnp.uint32)))
    # boost for a < 1: Gamma(a) = Gamma(a + 1) * U^(1/a); exp/log keeps tiny values finite
    boost = jnp.where(small, jnp.exp(jnp.log(ub) / jnp.where(a > 0, a, 1.0)), 1.0)
    return jnp.where(a > 0, x * boost, 0.0)  # Gamma(0) is the point mass at 0


# --------------------------------------------------------------------------- Poisson

_POISSON_SMALL = 10.0  # inversion below this mean, transformed rejection (valid for means >= 10) at and above
_POISSON_PROPOSALS = 2  # batched PTRS proposals before the exact fallback loop


def _poisson_terms(dtype) -> int:
    """Terms of the inversion table: the Poisson(10) mass beyond it, 7e-13 (float32) or 3e-17 (float64), is below
    the resolution of the dtype's uniform (2^-23, 2^-52)."""
    return 48 if jnp.dtype(dtype) == jnp.float64 else 40


def _poisson_invert(u, lam, K: int):
    r"""$X = \#\{j \le K-2 : F_j < u F_{K-1}\}$ with $F_j = \sum_{i \le j} e^{-\lambda}\lambda^i/i!$ (terms by the
    recursion $p_i = p_{i-1}\lambda/i$, summed in order): inversion of the Poisson law truncated at $K - 1$ and
    renormalized by the computed total, so rounding in the sum never puts mass on a value beyond the table (with
    $u = 1$ the draw is the last value the sum still moves at)."""
    p = jnp.exp(-lam)
    F = [p]
    for i in range(1, K):
        p = p * lam / i
        F.append(F[-1] + p)
    target = u * F[-1]
    x = jnp.zeros_like(lam)
    for Fj in F[:-1]:
        x = x + (Fj < target).astype(lam.dtype)
    return x


def _ptrs_try(u, v, lam, b, a, inv_alpha, vr):
    """One PTRS proposal (Hörmann 1993, steps 1-3) from uniforms `u`, `v` in (0, 1]: (accepted, value)."""
    U = u - 0.5
    us = 0.5 - jnp.abs(U)
    safe = jnp.where(us > 0, us, 1.0)
    k = jnp.floor((2.0 * a / safe + b) * U + lam + 0.43)
    fast = (us >= 0.07) & (v <= vr)
    reject = (us <= 0) | (k < 0) | ((us < 0.013) & (v > us))
    kk = jnp.where(k >= 0, k, 0.0)
    lhs = jnp.log(v * inv_alpha / (a / (safe * safe) + b))
    rhs = -lam + kk * jnp.log(lam) - jax.lax.lgamma(kk + 1.0)
    return fast | (~reject & (lhs <= rhs)), kk


def _poisson_ptrs(stream: Stream, lam, dtype):
    """Poisson(lam) draws for lam >= 10 by transformed rejection: `_POISSON_PROPOSALS` proposals at once, the first
    accepted in order; lanes that rejected them all continue in a `lax.while_loop` with fresh numbers."""
    m = lam.shape[0]
    w = _words_per_number(dtype)
    K = _POISSON_PROPOSALS
    slam = jnp.sqrt(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    consts = (lam, b, a, inv_alpha, vr)
    uv = uniform_from_bits(stream.fork(SALT_POISSON_PTRS).bits(2 * K * m * w), dtype).reshape(2, K, m)
    ok, val = _ptrs_try(uv[0], uv[1], *(c[None] for c in consts))
    acc = jnp.any(ok, axis=0)
    x = jnp.take_along_axis(val, jnp.argmax(ok, axis=0)[None], axis=0)[0]

    def body(s):
        x, acc, it = s
        uv = uniform_from_bits(stream.fork(SALT_POISSON_FALLBACK + it).bits(2 * m * w), dtype).reshape(2, m)
        ok1, v1 = _ptrs_try(uv[0], uv[1], *consts)
        return jnp.where(acc, x, v1), acc | ok1, it + 1

    x, _, _ = jax.lax.while_loop(lambda s: ~jnp.all(s[1]), body, (x, acc, jnp.asarray(0, jnp.uint32)))
    return x


def poisson(stream: Stream, lam: Float[ArrayLike, " m"], dtype) -> Float[Array, " m"]:
    r"""Exact Poisson(`lam`) draws, one per entry of `lam` (lam >= 0, traced; 0 gives 0), as floats of `dtype`.

    - $\lambda < 10$: inversion of one uniform over a fixed table of 40 terms (48 in float64), by
      `_poisson_invert`: the law truncated where its remaining mass (at most $7\cdot10^{-13}$, resp.
      $3\cdot 10^{-17}$) is below the uniform's resolution. The cost does not depend on $\lambda$.
    - $\lambda \ge 10$: Hörmann's transformed rejection with squeeze, PTRS (W. Hörmann 1993, "The transformed
      rejection method for generating Poisson random variables", Insurance: Mathematics and Economics 12(1),
      39-45; acceptance above 0.89 for every $\lambda \ge 10$), two proposals at once and a rare exact fallback
      loop (as `gamma`).

    Each branch runs only when some lane of the vmapped batch needs it (`jaxcollapse._batching`), and a lane's
    draw does not depend on the other lanes. Unlike `jax.random.poisson` (Knuth's product method below mean 10, a
    loop of as many uniforms as the largest draw of the batch), no loop runs whose length depends on the data.
    """
    dtype = jnp.dtype(dtype)
    lam = jnp.asarray(lam, dtype)
    m = lam.shape[0]
    small = lam < _POISSON_SMALL
    x = jnp.zeros((m,), dtype)

    def invert(x):
        u = uniform_from_bits(stream.fork(SALT_POISSON).bits(m * _words_per_number(dtype)), dtype)
        return jnp.where(small, _poisson_invert(u, jnp.where(small, lam, 0.0), _poisson_terms(dtype)), x)

    def reject(x):
        return jnp.where(small, x, _poisson_ptrs(stream, jnp.where(small, _POISSON_SMALL, lam), dtype))

    x = jax.lax.cond(any_in_batch(jnp.any(small)), invert, lambda x: x, x)
    return jax.lax.cond(any_in_batch(~jnp.all(small)), reject, lambda x: x, x)


def chisquare(stream: Stream, k: Float[ArrayLike, " m"], dtype) -> Float[Array, " m"]:
    """Exact chi-square draws with `k` > 0 degrees of freedom: $2\\,\\mathrm{Gamma}(k/2)$."""
    return 2.0 * gamma(stream, jnp.asarray(k, dtype) / 2.0, dtype)
