"""The counter-based streams and the exact samplers of `jaxcollapse.random`.

Only the public surface is used (`Stream`, `uniform`, `normal`, `gamma`, `chisquare`, `poisson`,
`uniform_from_bits`, `normal_from_bits`), except in `test_gamma_fallback_loop_is_exact` and
`test_poisson_fallback_loop_is_exact`, which lower the number of batched proposals to push
many lanes through the fallback loop.

Statistical bounds, stated before any draw was made:

- every KS (continuous laws) or chi-square (Poisson) p-value must exceed `FAMILY_ALPHA / N_KS`
  (Bonferroni over the `N_KS` goodness-of-fit tests of this module, family-wise false-alarm rate 1e-3);
- moment checks are z-tests with |z| < 4 (`conftest.Z_BOUND`).
"""

from __future__ import annotations

import math

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as ss
from conftest import assert_z, mean_z, var_z

import jaxcollapse
from jaxcollapse import random as R

GAMMA_SHAPES = (0.3, 0.5, 1.0, 1.5, 2.5, 10.0, 49.5, 4999.5)
DTYPES = ("float32", "float64")
CHISQ_DOF = (1.0, 2.0, 7.0)
FALLBACK_SHAPES = (0.5, 1.0, 2.5)
POISSON_MEANS = (0.05, 0.7, 3.0, 9.5, 10.0, 25.0, 300.0, 1e4)  # both sides of the inversion / rejection switch
POISSON_FALLBACK_MEANS = (10.0, 40.0)

N_DRAWS = 1 << 16  # draws per shape and dtype
N_BIG = 1 << 20  # draws at a = 1 for the fallback-exercising test

N_KS = (
    len(GAMMA_SHAPES) * len(DTYPES)  # test_gamma_matches_scipy
    + len(CHISQ_DOF) * len(DTYPES)  # test_chisquare_matches_scipy
    + len(DTYPES)  # test_gamma_many_draws_at_shape_one (via the fixture, per dtype)
    + len(FALLBACK_SHAPES)  # test_gamma_fallback_loop_is_exact
    + 2 * len(DTYPES)  # test_uniform_and_normal_match
    + len(POISSON_MEANS) * len(DTYPES)  # test_poisson_matches_scipy (chi-square)
    + len(POISSON_FALLBACK_MEANS)  # test_poisson_fallback_loop_is_exact (chi-square)
)
FAMILY_ALPHA = 1e-3
P_MIN = FAMILY_ALPHA / N_KS


def _draw(fn, dtype: str, chains: int, seed: int):
    """`fn(stream)` for the streams of chains 0..chains-1 under `key(seed)`, jitted, as numpy (a pytree).

    Everything (the key, the trace, the run) happens inside the dtype's x64 setting.
    """
    with jaxcollapse.x64(dtype == "float64"):
        key = jax.random.key(seed)
        f = jax.jit(jax.vmap(lambda c: fn(R.Stream.from_key(key, c))))
        return jax.tree.map(np.asarray, f(jnp.arange(chains, dtype=jnp.uint32)))


def _ks(x, cdf, what: str) -> None:
    p = ss.kstest(np.asarray(x, np.float64), cdf).pvalue
    assert p > P_MIN, f"{what}: KS p = {p:.3g} <= {P_MIN:.3g}"


# --------------------------------------------------------------------------- gamma

# One compiled draw per dtype serves every gamma test: lanes GAMMA_SHAPES, then N_ONES lanes of
# a = 1, then one lane of a = 0; and a chi-square call with CHISQ_DOF on a forked stream.
N_ONES = N_BIG // N_DRAWS


@pytest.fixture(scope="module", params=DTYPES)
def gamma_draws(request):
    dtype = request.param
    shapes = GAMMA_SHAPES + (1.0,) * N_ONES + (0.0,)

    def fn(stream):
        return (R.gamma(stream, jnp.asarray(shapes, dtype), dtype),
                R.chisquare(stream.fork(99), jnp.asarray(CHISQ_DOF, dtype), dtype))

    g, c = _draw(fn, dtype, N_DRAWS, seed=11 if dtype == "float32" else 12)
    k = len(GAMMA_SHAPES)
    return dtype, {"shapes": g[:, :k], "ones": g[:, k:k + N_ONES], "zero": g[:, -1], "chisq": c}


@pytest.mark.parametrize("j", range(len(GAMMA_SHAPES)), ids=[f"a={a:g}" for a in GAMMA_SHAPES])
def test_gamma_matches_scipy(gamma_draws, j):
    """Gamma(a, 1) draws: KS against scipy, mean a and variance a (fourth central moment 3a^2 + 6a)."""
    dtype, draws = gamma_draws
    a = GAMMA_SHAPES[j]
    x = draws["shapes"][:, j]
    assert x.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(x)) and np.all(x >= 0)
    _ks(x, ss.gamma(a).cdf, f"gamma({a}) {dtype}")
    assert_z(mean_z(x, a, a), f"mean of gamma({a}) {dtype}")
    assert_z(var_z(x, a, 3 * a * a + 6 * a), f"variance of gamma({a}) {dtype}")


@pytest.mark.parametrize("j", range(len(CHISQ_DOF)), ids=[f"k={k:g}" for k in CHISQ_DOF])
def test_chisquare_matches_scipy(gamma_draws, j):
    """chi^2_k: KS against scipy, mean k, variance 2k (fourth central moment 12k^2 + 48k)."""
    dtype, draws = gamma_draws
    k = CHISQ_DOF[j]
    x = draws["chisq"][:, j]
    _ks(x, ss.chi2(k).cdf, f"chi2({k}) {dtype}")
    assert_z(mean_z(x, k, 2 * k), f"mean of chi2({k}) {dtype}")
    assert_z(var_z(x, 2 * k, 12 * k * k + 48 * k), f"variance of chi2({k}) {dtype}")


def test_gamma_many_draws_at_shape_one(gamma_draws):
    """a = 1 (Exp(1)): Marsaglia–Tsang rejects ~4.9% of proposals there, so with two batched
    proposals about 0.24% of the 2^20 lanes (~2500) finish in the fallback loop. The whole
    sample must still be Exp(1); lanes of one call and neighbouring chains are uncorrelated."""
    dtype, draws = gamma_draws
    ones = draws["ones"]
    x = ones.reshape(-1)
    assert x.size == N_BIG
    _ks(x, ss.expon().cdf, f"Exp(1) {dtype}")
    assert_z(mean_z(x, 1.0, 1.0), "mean")
    assert_z(var_z(x, 1.0, 9.0), "variance")
    n = ones.shape[0]
    assert_z(np.corrcoef(ones[:, 0], ones[:, 1])[0, 1] * math.sqrt(n), "lanes 0, 1")
    assert_z(np.corrcoef(draws["shapes"][:, -1], ones[:, 0])[0, 1] * math.sqrt(n), "lanes k-1, k")
    assert_z(np.corrcoef(ones[:-1, 0], ones[1:, 0])[0, 1] * math.sqrt(n - 1), "chains c, c + 1")


def test_gamma_zero_shape_is_zero(gamma_draws):
    """Gamma(0) is the point mass at 0 (the Bartlett factor's chi^2_0 when n <= d): exactly 0, never NaN."""
    _, draws = gamma_draws
    x = draws["zero"]
    assert np.all(x == 0.0), f"{np.sum(np.isnan(x))} NaN, max {np.nanmax(x)}"


def test_gamma_fallback_loop_is_exact(monkeypatch):
    """White box: with a single batched proposal ~5% of lanes use the fallback loop; still exact."""
    assert hasattr(R, "_PROPOSALS"), "jaxcollapse.random no longer has _PROPOSALS: update this test"
    monkeypatch.setattr(R, "_PROPOSALS", 1)
    x = _draw(lambda s: R.gamma(s, jnp.asarray(FALLBACK_SHAPES * 8), "float32"), "float32", N_DRAWS, seed=31)
    x = x.reshape(N_DRAWS * 8, len(FALLBACK_SHAPES))
    for j, a in enumerate(FALLBACK_SHAPES):
        _ks(x[:, j], ss.gamma(a).cdf, f"gamma({a}), one proposal")
        assert_z(mean_z(x[:, j], a, a), f"mean of gamma({a}), one proposal")
        assert_z(var_z(x[:, j], a, 3 * a * a + 6 * a), f"variance of gamma({a}), one proposal")


@pytest.mark.slow
def test_gamma_zero_shape_never_nan_at_the_uniform_endpoint():
    """The small-shape boost multiplies by U^(1/a); U = 1 has probability 2^-23 in float32, so
    2^26 draws at a = 0 meet it about 8 times (all missed with probability e^-8 = 3e-4)."""
    with jaxcollapse.x64(False):
        key = jax.random.key(41)
        f = jax.jit(jax.vmap(lambda c: R.gamma(R.Stream.from_key(key, c), jnp.zeros((4096,)), "float32")))
        bad = 0
        for block in range(4):
            x = f(jnp.arange(block * 4096, (block + 1) * 4096, dtype=jnp.uint32))
            bad += int(jnp.sum(x != 0.0))
    assert bad == 0, f"{bad} of 2^26 Gamma(0) draws are not 0"


# --------------------------------------------------------------------------- Poisson

def _chisq_poisson(x, lam: float, what: str) -> None:
    """Chi-square of the counts of `x` against Poisson(lam): one bin per value with expected count >= 5, the rest
    pooled into one bin (dropped when its expected count is below 1)."""
    x = np.asarray(x, np.float64)
    assert np.all(x == np.round(x)) and np.all(x >= 0), f"{what}: not non-negative integers"
    hi = int(max(x.max(), ss.poisson.isf(1e-12, lam))) + 1
    ks = np.arange(hi + 1)
    obs = np.bincount(x.astype(np.int64), minlength=hi + 1)[: hi + 1].astype(np.float64)
    exp = ss.poisson.pmf(ks, lam) * x.size
    exp[-1] += ss.poisson.sf(hi, lam) * x.size
    keep = exp >= 5
    o, e = list(obs[keep]), list(exp[keep])
    if exp[~keep].sum() >= 1:
        o.append(obs[~keep].sum())
        e.append(exp[~keep].sum())
    else:
        assert obs[~keep].sum() <= 5, f"{what}: {obs[~keep].sum()} draws where {exp[~keep].sum():.2g} are expected"
    e = np.asarray(e) * (sum(o) / sum(e))  # the rounding of the pooled tail
    p = ss.chisquare(o, e).pvalue
    assert p > P_MIN, f"{what}: chi-square p = {p:.3g} <= {P_MIN:.3g}"


@pytest.fixture(scope="module", params=DTYPES)
def poisson_draws(request):
    dtype = request.param
    lams = POISSON_MEANS + (0.0,)
    x = _draw(lambda s: R.poisson(s, jnp.asarray(lams, dtype), dtype), dtype, N_DRAWS, seed=61 if dtype ==
              "float32" else 62)
    return dtype, x


@pytest.mark.parametrize("j", range(len(POISSON_MEANS)), ids=[f"lam={m:g}" for m in POISSON_MEANS])
def test_poisson_matches_scipy(poisson_draws, j):
    """Poisson(lam) draws: chi-square against scipy's pmf, mean lam and variance lam (central fourth moment
    lam + 3 lam^2), below the inversion / rejection switch at 10, on it and above."""
    dtype, x = poisson_draws
    lam = POISSON_MEANS[j]
    v = x[:, j]
    assert v.dtype == np.dtype(dtype)
    _chisq_poisson(v, lam, f"poisson({lam}) {dtype}")
    assert_z(mean_z(v, lam, lam), f"mean of poisson({lam}) {dtype}")
    assert_z(var_z(v, lam, lam + 3 * lam * lam), f"variance of poisson({lam}) {dtype}")


def test_poisson_zero_mean_is_zero(poisson_draws):
    _, x = poisson_draws
    assert np.all(x[:, -1] == 0.0)


def test_poisson_fallback_loop_is_exact(monkeypatch):
    """White box: with one batched proposal about 11% of the rejection lanes (mean >= 10) finish in the fallback
    loop; still Poisson."""
    assert hasattr(R, "_POISSON_PROPOSALS"), "jaxcollapse.random no longer has _POISSON_PROPOSALS: update this test"
    monkeypatch.setattr(R, "_POISSON_PROPOSALS", 1)
    x = _draw(lambda s: R.poisson(s, jnp.asarray(POISSON_FALLBACK_MEANS * 4), "float32"), "float32", N_DRAWS, seed=63)
    x = x.reshape(N_DRAWS * 4, len(POISSON_FALLBACK_MEANS))
    for j, lam in enumerate(POISSON_FALLBACK_MEANS):
        _chisq_poisson(x[:, j], lam, f"poisson({lam}), one proposal")
        assert_z(mean_z(x[:, j], lam, lam), f"mean of poisson({lam}), one proposal")


def test_poisson_draw_does_not_depend_on_the_batch():
    """Each branch (inversion, rejection) runs only if some lane of the vmapped batch needs it; a lane's draw is the
    same whether its neighbours, in its own call or in other chains, take the other branch or not."""
    key = jax.random.key(64)
    f = jax.jit(jax.vmap(lambda c, lam: R.poisson(R.Stream.from_key(key, c), lam, "float32")))
    ids = jnp.arange(4, dtype=jnp.uint32)
    small = np.asarray(f(ids, jnp.full((4, 2), 3.0)))
    mixed = np.asarray(f(ids, jnp.asarray([[3.0, 3.0], [3.0, 300.0], [300.0, 300.0], [3.0, 3.0]])))
    large = np.asarray(f(ids, jnp.full((4, 2), 300.0)))
    np.testing.assert_array_equal(mixed[[0, 1, 3], 0], small[[0, 1, 3], 0])
    np.testing.assert_array_equal(mixed[0, 1], small[0, 1])
    np.testing.assert_array_equal(mixed[3, 1], small[3, 1])
    np.testing.assert_array_equal(mixed[1, 1], large[1, 1])
    np.testing.assert_array_equal(mixed[2], large[2])


# --------------------------------------------------------------------------- uniform and normal

def test_uniform_from_bits_range_at_the_extreme_words():
    """(0, 1], never 0: the all-zero word maps to 1, the all-one word to the smallest value 2^-23."""
    w = jnp.asarray([0, 1, (1 << 9) - 1, 1 << 9, 1 << 31, (1 << 32) - 1], jnp.uint32)
    u = np.asarray(R.uniform_from_bits(w, jnp.float32))
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u[[0, 1, 2]], 1.0)
    assert u[3] == np.float32(1.0) - np.float32(2.0**-23)
    assert u[4] == 0.5
    assert u[5] == np.float32(2.0**-23)
    z = np.asarray(R.normal_from_bits(w, jnp.float32))
    assert np.all(np.isfinite(z))
    assert z[0] > 5.0 and z[5] < -5.0  # the two ends of the table, still finite


def test_uniform_from_bits_range_float64():
    with jaxcollapse.x64():
        hi = (1 << 32) - 1
        w = jnp.asarray([0, 0, hi, hi, 1 << 31, 0], jnp.uint32)
        u = np.asarray(R.uniform_from_bits(w, jnp.float64))
        z = np.asarray(R.normal_from_bits(w, jnp.float64))
    assert u.dtype == np.float64 and u.shape == (3,)
    assert u[0] == 1.0 and u[1] == 2.0**-52 and u[2] == 0.5
    assert np.all(np.isfinite(z)) and z[0] > 8.0 and z[1] < -8.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_and_normal_match(dtype):
    """Streams give U(0, 1] and N(0, 1): range, KS, mean and variance."""
    def fn(s):
        return R.uniform(s.fork(1), (4,), dtype), R.normal(s.fork(2), (4,), dtype)

    u, z = _draw(fn, dtype, N_DRAWS // 4, seed=50 if dtype == "float32" else 52)
    u, z = u.reshape(-1), z.reshape(-1)
    assert u.dtype == z.dtype == np.dtype(dtype)
    assert np.all((u > 0) & (u <= 1))
    assert np.all(np.isfinite(z))
    _ks(u, ss.uniform().cdf, f"uniform {dtype}")
    _ks(z, ss.norm().cdf, f"normal {dtype}")
    assert_z(mean_z(u, 0.5, 1 / 12), "uniform mean")
    assert_z(var_z(u, 1 / 12, 1 / 80), "uniform variance")
    assert_z(mean_z(z, 0.0, 1.0), "normal mean")
    assert_z(var_z(z, 1.0, 3.0), "normal variance")
    # neighbouring words, neighbouring chains, two forks of one stream: |r sqrt(N)| < 4
    z4 = z.reshape(-1, 4)
    n = z4.shape[0]
    assert_z(np.corrcoef(z4[:, 0], z4[:, 1])[0, 1] * math.sqrt(n), "words 0, 1")
    assert_z(np.corrcoef(z4[:-1, 0], z4[1:, 0])[0, 1] * math.sqrt(n - 1), "chains c, c + 1")
    assert_z(np.corrcoef(u.reshape(-1, 4)[:, 0], z4[:, 0])[0, 1] * math.sqrt(n), "forks 1 and 2")


# --------------------------------------------------------------------------- streams

def test_stream_bits_are_threefry_at_the_chain_counters():
    """Chain c reads block j = Threefry(key, (c, j)); block j gives words 2j and 2j + 1.
    (tests/test_threefry.py checks the cipher itself against JAX's primitive.)"""
    key = jax.random.key(5)
    for chain in (0, 3, 2**31 + 7):
        words = np.asarray(R.Stream.from_key(key, chain).bits(7))
        blocks = np.asarray(jex_random.threefry_2x32(
            jax.random.key_data(key),
            jnp.concatenate([jnp.full((4,), chain, jnp.uint32), jnp.arange(4, dtype=jnp.uint32)]),
        ))
        expected = np.stack([blocks[:4], blocks[4:]], axis=-1).reshape(-1)[:7]
        np.testing.assert_array_equal(words, expected)


def test_stream_of_a_chain_does_not_depend_on_the_batch():
    """Chain c's draws are the same alone and inside a vmap over 1000 chains."""
    key = jax.random.key(6)

    def fn(c):
        s = R.Stream.from_key(key, c)
        return R.normal(s, (3,), jnp.float32), R.gamma(s, jnp.asarray([0.5, 3.0]), jnp.float32)

    batched = jax.jit(jax.vmap(fn))(jnp.arange(1000, dtype=jnp.uint32))
    for c in (0, 1, 999):
        single = jax.jit(fn)(jnp.asarray(c, jnp.uint32))
        for b, s in zip(batched, single, strict=True):
            np.testing.assert_array_equal(np.asarray(b[c]), np.asarray(s))


def test_stream_needs_a_threefry_key():
    with pytest.raises(ValueError, match="threefry"):
        R.Stream.from_key(jax.random.key(0, impl="rbg"))


def test_samplers_jit_matches_eager():
    """Same numbers jitted and op by op. Integer work (bits, uniforms) must agree bit for bit;
    transcendental functions may be fused differently by XLA, so float results get a few ULP
    (rtol 1e-6 in float32)."""
    key = jax.random.key(7)

    def fn(c):
        s = R.Stream.from_key(key, c)
        return (s.bits(3), R.uniform(s, (3,), jnp.float32), R.normal(s.fork(1), (3,), jnp.float32),
                R.gamma(s.fork(2), jnp.asarray([0.3, 1.0, 49.5]), jnp.float32),
                R.chisquare(s.fork(3), jnp.asarray([3.0, 0.7, 20.0]), jnp.float32))

    jfn = jax.jit(fn)
    for c in range(2):  # one chain at a time: op-by-op execution compiles each op once per shape
        jitted = jfn(jnp.asarray(c, jnp.uint32))
        with jax.disable_jit():
            eager = fn(jnp.asarray(c, jnp.uint32))
        np.testing.assert_array_equal(np.asarray(jitted[0]), np.asarray(eager[0]))
        np.testing.assert_array_equal(np.asarray(jitted[1]), np.asarray(eager[1]))
        for j, e in zip(jitted[2:], eager[2:], strict=True):
            np.testing.assert_allclose(np.asarray(j), np.asarray(e), rtol=1e-6, atol=0)


def test_stream_is_public_and_salts_are_named():
    """`jc.Stream` is `jaxcollapse.random.Stream`; the salts the engine forks from one chain's stream differ."""
    assert jaxcollapse.Stream is R.Stream
    engine = [R.SALT_SAMPLES, R.SALT_REAL, R.SALT_SUBSAMPLE, R.SALT_INIT_REAL, R.SALT_FIT, R.SALT_CURATE,
              R.SALT_METRICS]
    assert len(set(engine)) == len(engine)
    sampler = [R.SALT_MEAN, R.SALT_SCATTER, R.SALT_SCATTER_OFFDIAG, R.SALT_GAMMA]
    assert len(set(sampler)) == len(sampler)
    rows = [R.SALT_DESIGN, R.SALT_NOISE, R.SALT_RESID]
    assert len(set(rows)) == len(rows) and R.SALT_PICK != R.SALT_JITTER
    assert len({R.SALT_LATENT, R.SALT_DECODER_NOISE, R.SALT_DATA}) == 3
