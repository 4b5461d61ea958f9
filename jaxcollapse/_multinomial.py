r"""An exact multinomial sampler that vectorizes over chains: sorted uniforms by exponential spacings.

**Method.** Let $E_1, \dots, E_{m+1}$ be i.i.d. Exp(1) and $S_j = E_1 + \dots + E_j$. Then
$(S_1/S_{m+1}, \dots, S_m/S_{m+1})$ has the law of the order statistics $U_{(1)} \le \dots \le U_{(m)}$ of
$m$ i.i.d. Uniform(0, 1) (Devroye 1986, *Non-Uniform Random Variate Generation*, ch. V, thm. 2.2).
With the cumulative probabilities $c_0 = 0 < c_1 \le \dots \le c_K = 1$ (`monotone_cumsum`: in floating point
they must stay nondecreasing, and equal where $p_i = 0$), the number of uniforms in
$(c_{i-1}, c_i]$ is the count of category $i$, and $(N_1, \dots, N_K) \sim \mathrm{Multinomial}(m, p)$. Since the
points are already sorted, $\#\{j : U_{(j)} \le c_i\}$ is one search of $c_i S_{m+1}$ among the
$S_j$, so a batch costs $P$ exponentials ($P$, the least power of two above the capacity $C$, so that
the points need no padding), one cumulative sum and $K$ searches: $O(P + K \log P)$ with
no $K \times n$ intermediate and no data-dependent control flow. A category of probability 0 has
$c_i = c_{i-1}$ and gets exactly 0, so an absorbed state stays absorbed.

**The search** (`_leaf_rank`). The $P$ sums are kept as rows of 16 (`_SortedPoints`: each row's own
left-to-right sums, and the offsets of the rows), never added into one array. A query first counts the rows
wholly at or below it (a search tree of fan-out at most 32 over the row ends, `_flat_rank`, whose top level
is a broadcast compare), then gathers its one leaf row and counts within it. Under `jax.vmap` a custom
batching rule searches all chains' rows through flat 1-D gathers. The counts are exact ranks, equal to
`jnp.searchsorted(..., side="right")` (a test checks this). Why this shape (XLA CPU, chains = 1024,
$K = n = 1000$, float32, inside the engine's scan): gathering from the added array let XLA fuse the additions
and the masking into the gather, recomputed for each of the 16 to 32 elements every query reads, about 2x
slower; leaves of 8 or 16 were 15% faster than 32; and the whole sampler is several times faster than
`jax.vmap(jnp.searchsorted)`, whose batched gathers dominated.

**Traced $n$, static shapes.** Shapes are set by a static *capacity* $C$ (the most draws per batch);
$n$ may be traced. $n \le C$ draws take one batch (all $P$ sums are searched and the rank is capped at $m$,
which for sorted sums counts exactly the first $m$), and larger $n$
are split into $\lceil n/C \rceil$ batches in a `lax.while_loop`: a sum of independent multinomials with
the same $p$ is multinomial, so the result is exact for every $n$. Each batch draws its words from
`stream.fork(batch)`, so chain $i$ gets the same counts whatever the number of chains.

The functions here act on one chain; `jax.vmap` batches them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jaxtyping import Array, ArrayLike, Float, Int

from . import random as R
from ._batching import any_in_batch
from .random import Stream

__all__ = ["categorical_draws", "default_capacity", "monotone_cumsum", "multinomial", "multinomial_cumulative",
           "normalized_cdf"]


def default_capacity(K: int) -> int:
    """The batch capacity used when none is given: $2^{\\lceil \\log_2 (K+1) \\rceil} - 1$, at least 63 draws.

    A batch of capacity $C$ searches $K$ queries among $P = 2^{\\lfloor \\log_2 C \\rfloor + 1}$ points
    (`_points`), at a cost of about $P + K\\log_2 P$; with $P \\approx K$ both terms are balanced. This is the
    largest capacity with that $P$; a larger $n$ is split into batches.
    """
    return max((1 << int(K).bit_length()) - 1, 63)


def _sequential_cumsum(w: Float[Array, "... R b"]) -> Float[Array, "... R b"]:
    """Left-to-right prefix sums along the last axis: unrolled adds of whole columns, or a `lax.scan` if long."""
    b = w.shape[-1]
    if b <= _UNROLL:
        cols = [w[..., 0]]
        for j in range(1, b):
            cols.append(cols[-1] + w[..., j])
        return jnp.stack(cols, axis=-1)
    _, out = jax.lax.scan(lambda c, col: (c + col, c + col), jnp.zeros(w.shape[:-1], w.dtype), jnp.moveaxis(w, -1, 0))
    return jnp.moveaxis(out, 0, -1)


_UNROLL = 64  # the longest row summed by unrolled adds; longer ones use a lax.scan (compile time)


def _row_width(K: int) -> int:
    """The row width $b$ of `monotone_cumsum`: a multiple of 8 (a SIMD width) near $\\sqrt K$."""
    return max(8, 8 * round(math.sqrt(K) / 8))


def _row_sums(w: Float[Array, "... R b"]) -> tuple[Float[Array, "... R"], Float[Array, "... R b"]]:
    """Each row's left-to-right prefix sums, and the row offsets: left-to-right sums of the totals of the
    rows before (0 for the first). The prefix sums of the flattened rows are `offs[..., None] + within`."""
    within = _sequential_cumsum(w)
    offs = jnp.zeros((*w.shape[:-2], 1), w.dtype)
    if w.shape[-2] > 1:
        offs = jnp.concatenate([offs, _sequential_cumsum(within[..., None, :-1, -1])[..., 0, :]], axis=-1)
    return offs, within


def monotone_cumsum(x: Float[Array, "... K"]) -> Float[Array, "... K"]:
    r"""Prefix sums $s_i = \sum_{j \le i} x_j$ along the last axis, for $x \ge 0$, keeping the two properties
    that exact sampling needs.

    In floating point, (i) $s_i \ge s_{i-1}$ always, and (ii) $s_i = s_{i-1}$ exactly when $x_i = 0$, so that
    a category of probability 0 gets an empty interval and is never drawn. A left-to-right sum has both. A tree
    (parallel prefix) sum has neither, since neighbours are summed in different orders, and that is what
    `jnp.cumsum` becomes on XLA CPU (a test shows it failing both; on GPU XLA uses a parallel scan, not
    checked here): with it the multinomial sampler gave a category of probability 0 a count, or a negative
    count, about once per 2,000 chain-generations at $K = n = 1000$.

    **Order of the sums.** The first $K_0 = Rb$ entries are cut into $R = \lfloor K/b \rfloor$ rows of
    $b$ (`_row_width`: a multiple of 8 near $\sqrt K$); each row is summed left to right, the row totals
    likewise, and $s = \mathrm{offset}_r + \mathrm{within}_{r,j}$. The last $K - K_0 < b$ entries continue
    left to right from $s_{K_0}$. Rounding is monotone, and the last entry of row $r$ equals
    $\mathrm{fl}(\mathrm{offset}_r + \mathrm{total}_r) = \mathrm{offset}_{r+1}$, so (i) and (ii) hold
    across rows and into the tail too. Each $s_i$ takes at most $2b + R$ additions of nonnegative terms,
    so its relative error is at most about $(2b + R)\,2^{-24}$ in float32.

    Speed (XLA CPU, 1024 rows of $K = 1000$, float32): about 1.6 us per row, against 3.2 us when the last
    row was padded to $b$ instead (the padding's index arithmetic stops XLA from vectorizing) and 5.7 us
    for `jnp.cumsum`.
    """
    K = x.shape[-1]
    b = _row_width(K)
    R, lead = K // b, x.shape[:-1]
    if R == 0:  # shorter than one row
        return _sequential_cumsum(x[..., None, :])[..., 0, :]
    K0 = R * b
    offs, within = _row_sums(x[..., :K0].reshape(*lead, R, b))
    head = (offs[..., None] + within).reshape(*lead, K0)
    if K0 == K:
        return head
    tail = jnp.concatenate([head[..., -1:], x[..., K0:]], axis=-1)  # continue from s_{K0}
    return jnp.concatenate([head, _sequential_cumsum(tail[..., None, :])[..., 0, 1:]], axis=-1)


def normalized_cdf(p: Float[Array, " K"]) -> Float[Array, " K"]:
    r"""Cumulative probabilities $c_i = \sum_{j \le i} p_j / \sum_j p_j$, nondecreasing, with $c_K = 1$ exactly,
    and $c_i = c_{i-1}$ exactly where $p_i = 0$ (`monotone_cumsum`)."""
    c = monotone_cumsum(p)
    c = c / c[-1]
    return c.at[-1].set(jnp.ones((), p.dtype))


def _level_bits(lgP: int) -> list[int]:
    r"""Split $\log_2 P$ into levels of at most 5 bits, as even as possible, larger ones at the bottom."""
    d = max(1, -(-lgP // 5))
    return [lgP // d + (i >= d - lgP % d) for i in range(d)]


def _slices(x: Float[Array, " N"], starts: Int[Array, " M"], width: int) -> Float[Array, "M W"]:
    """`x[s : s + width]` for every `s` in `starts` (one gather of contiguous slices)."""
    return jax.vmap(lambda s: jax.lax.dynamic_slice(x, (s,), (width,)))(starts)


def _flat_rank(pts: Float[Array, "B C"], q: Float[Array, "B Q"]) -> Int[Array, "B Q"]:
    r"""Row-wise $\#\{j : \mathrm{pts}_{bj} \le q_{bi}\}$ for sorted rows `pts`: a search tree of fan-out <= 32.

    Each row is padded with $+\infty$ to a power of two $P \ge C$ (no padding when $C$ is one) and read as
    a B-tree: level $\ell$ cuts it into blocks, and a block lies wholly at or below $q$ iff its last
    element does, so the number of such blocks is one count of comparisons over the (at most 32) block ends
    inside the parent block; that count picks the child block. The top level compares each query with its
    row's top block ends, broadcast (no gather); each lower level is one contiguous slice gather and a short
    compare-and-sum that XLA vectorizes, where a binary search is one scalar gather per bit. Measured on XLA
    CPU for 1024 rows of $C = 1000$ (two levels of 32): about 2x faster than a binary search through the same
    flat gathers, which is itself about 3x faster than `jax.vmap(jnp.searchsorted)` (a batched gather).
    Fan-outs of 64 were an order of magnitude slower (XLA CPU), hence the cap of 32.

    The count is monotone in the query whatever the order of the row (the block picked at each level only
    moves right as $q$ grows), so rounding that leaves a row unsorted by an ulp cannot make a count negative.
    """
    B, C = pts.shape
    lgP = max(1, (C - 1).bit_length())
    P = 1 << lgP  # >= C
    a = pts if P == C else jnp.concatenate([pts, jnp.full((B, P - C), jnp.inf, pts.dtype)], axis=1)
    rows = jnp.arange(B, dtype=jnp.int32)[:, None]
    cnt = jnp.zeros(q.shape, jnp.int32)  # blocks (of the current size) wholly <= q
    size = P
    for level, bits in enumerate(_level_bits(lgP)):
        fan, size = 1 << bits, size >> bits
        ends = a[:, size - 1 :: size]  # last element of each block of this level, (B, P // size)
        if level == 0:  # the same `fan` ends for every query of a row
            child = jnp.broadcast_to(ends[:, None, :], (*q.shape, fan))
        else:
            starts = (rows * (P // size) + cnt * fan).reshape(-1)
            child = _slices(ends.reshape(-1), starts, fan).reshape(*q.shape, fan)
        cnt = cnt * fan + jnp.sum((child <= q[..., None]).astype(jnp.int32), axis=-1)
        cnt = jnp.minimum(cnt, P // size - 1) if size > 1 else cnt  # stay inside the row
    return jnp.minimum(cnt, C)  # a query of +inf would also count the padding


_FLAT_LIMIT = 2**31 - 1  # the most elements `_flat_rank` may index (int32 offsets)


@custom_vmap
def _rank(pts: Float[Array, " C"], q: Float[Array, " Q"]) -> Int[Array, " Q"]:
    r"""$\#\{j : \mathrm{pts}_j \le q_i\}$ for `pts` sorted ascending (`searchsorted(pts, q, side="right")`).

    Under `jax.vmap` the rows are searched together by `_flat_rank` (a custom batching rule).
    """
    return _flat_rank(pts[None], q[None])[0]


@_rank.def_vmap
def _rank_vmap(axis_size, in_batched, pts, q):
    pts_b, q_b = in_batched
    pts = pts if pts_b else jnp.broadcast_to(pts, (axis_size, *pts.shape))
    q = q if q_b else jnp.broadcast_to(q, (axis_size, *q.shape))
    if axis_size * (1 << max(1, (pts.shape[1] - 1).bit_length())) > _FLAT_LIMIT:  # int32 flat offsets would overflow
        return jax.vmap(lambda x, y: jnp.searchsorted(x, y, side="right").astype(jnp.int32))(pts, q), True
    return _flat_rank(pts, q), True


def _points(capacity: int) -> int:
    """The number $P$ of sorted points one batch draws: the least power of two above `capacity`."""
    return 1 << int(capacity).bit_length()


# points per leaf row of the sorted points, the fan-out of the search's last level: in the engine (XLA CPU,
# chains = 1024, K = n = 1000) leaves of 8 or 16 ran 15% faster than 32, and 64 three times slower
_LEAF = 16


class _SortedPoints(NamedTuple):
    r"""Sorted points $S_{r,k} = \mathrm{offs}_r + \mathrm{within}_{r,k}$, stored by rows of `_LEAF`.

    `within` holds each row's left-to-right prefix sums and `offs` the left-to-right sums of the totals of
    the rows before, so every $S$ is one rounded addition, nondecreasing along the row, and the end of row
    $r$ equals $\mathrm{fl}(\mathrm{offs}_r + \mathrm{total}_r) = \mathrm{offs}_{r+1}$ (the same order
    of sums as `monotone_cumsum`). They are never added into one array: `_leaf_rank` gathers rows of
    `within`, which XLA keeps in memory, where a gather from the added array had the additions (and their
    index arithmetic) fused into it and recomputed for each element read, 2x slower (XLA CPU).
    """

    offs: Float[Array, "... R"]
    within: Float[Array, "... R L"]

    def at(self, j) -> Float[Array, "..."]:
        """$S$ at flat index `j` (0-based)."""
        L = self.within.shape[-1]
        return self.offs[..., j // L] + self.within[..., j // L, j % L]


def _sorted_points(e: Float[Array, " P"]) -> _SortedPoints:
    """Prefix sums of the nonnegative `e` (length a power of two) as `_SortedPoints`."""
    P = e.shape[-1]
    L = min(_LEAF, P)
    return _SortedPoints(*_row_sums(e.reshape(P // L, L)))


def _leaf_rank_rows(offs: Float[Array, "B R"], within: Float[Array, "B R L"],
                    q: Float[Array, "B Q"]) -> Int[Array, "B Q"]:
    r"""Row-wise $\#\{(r, k) : S_{r,k} \le q\}$ for `_SortedPoints` rows: the rows wholly at or below $q$
    are counted by a search among the row ends (`_flat_rank`), then one contiguous leaf row is gathered."""
    B, R, L = within.shape
    ends = jnp.concatenate([offs[:, 1:], offs[:, -1:] + within[:, -1, -1:]], axis=1)  # row r ends at offs_{r+1}
    row = jnp.minimum(_flat_rank(ends, q), R - 1)  # rows wholly <= q, or the last row
    starts = ((jnp.arange(B, dtype=jnp.int32)[:, None] * R + row) * L).reshape(-1)
    leaf = _slices(within.reshape(-1), starts, L).reshape(*q.shape, L)
    base = jnp.take_along_axis(offs, row, axis=1)
    return row * L + jnp.sum((base[..., None] + leaf <= q[..., None]).astype(jnp.int32), axis=-1)


@custom_vmap
def _leaf_rank(offs: Float[Array, " R"], within: Float[Array, "R L"], q: Float[Array, " Q"]) -> Int[Array, " Q"]:
    r"""$\#\{j : S_j \le q_i\}$ for `_SortedPoints` $S$ (equal to `searchsorted(S, q, side="right")`).

    Under `jax.vmap` the rows are searched together through flat gathers (a custom batching rule).
    """
    return _leaf_rank_rows(offs[None], within[None], q[None])[0]


@_leaf_rank.def_vmap
def _leaf_rank_vmap(axis_size, in_batched, offs, within, q):
    offs, within, q = (x if b else jnp.broadcast_to(x, (axis_size, *x.shape))
                       for x, b in zip((offs, within, q), in_batched, strict=True))
    if axis_size * within.shape[1] * within.shape[2] > _FLAT_LIMIT:  # int32 flat offsets would overflow
        S = (offs[..., None] + within).reshape(axis_size, -1)
        return jax.vmap(lambda x, y: jnp.searchsorted(x, y, side="right").astype(jnp.int32))(S, q), True
    return _leaf_rank_rows(offs, within, q), True


def _batch(stream: Stream, m, cdf: Float[Array, " K"], capacity: int) -> tuple[Float[Array, " K"], Float[Array, " K"]]:
    r"""Cumulative Multinomial(m, p) counts $N_1 + \dots + N_i$ for one batch of m <= capacity draws (m traced).

    `cdf` is `monotone_cumsum(p)`, not normalized: the queries are $c_i S_{m+1} / c_K$, and multiplying by one
    positive number keeps them nondecreasing and equal where $p_i = 0$. The batch draws $P$ (`_points`)
    exponentials, a power of two, so the rows need no padding (padding inside a fusion stops XLA CPU from
    vectorizing it), and searches all $P$ sums: for sorted $S$,
    $\#\{j \le m : S_j \le q\} = \min(\#\{j \le P : S_j \le q\}, m)$."""
    dt = cdf.dtype
    u = R.uniform(stream, (_points(capacity),), dt)  # (0, 1]
    S = _sorted_points(-jnp.log(u))  # S_1 <= ... <= S_P
    total = S.at(m)  # S_{m+1}
    below = jnp.minimum(_leaf_rank(S.offs, S.within, cdf[:-1] * (total / cdf[-1])), m)
    cum = jnp.concatenate([below, jnp.reshape(m, (1,)).astype(below.dtype)])
    # the counts are returned too, though the caller could difference `cum`: with the search's result read
    # twice (here and in `cum`), XLA CPU keeps the search a fusion of its own; read once, it was fused into
    # the concatenation, which ran 4x slower
    counts = jnp.diff(cum, prepend=jnp.zeros((1,), below.dtype))
    return counts.astype(dt), cum.astype(dt)


def multinomial(stream: Stream, n: Float[ArrayLike, ""] | int, p: Float[Array, " K"],
                capacity: int | None = None) -> Float[Array, " K"]:
    r"""Exact $\mathrm{Multinomial}(n, p)$ counts of one chain, as floats in `p`'s dtype.

    **Arguments:**

    - `stream`: the chain's `Stream` (all randomness comes from it; vmap over chains).
    - `n`: the number of draws, $n \ge 0$; may be traced (a float is floored).
    - `p`: nonnegative weights, shape `(K,)`, not necessarily normalized.
    - `capacity`: static draws per batch (default `default_capacity(K)`); the cost of one batch is
      $O(P + K\log P)$ with $P$ the least power of two above it, and $\lceil n / C\rceil$ batches run.
    """
    return multinomial_cumulative(stream, n, monotone_cumsum(p), capacity)[0]


def multinomial_cumulative(stream: Stream, n: Float[ArrayLike, ""] | int, cdf: Float[Array, " K"],
                           capacity: int | None = None) -> tuple[Float[Array, " K"], Float[Array, " K"]]:
    r"""Counts $N \sim \mathrm{Multinomial}(n, p)$ and their running sums $N_1 + \dots + N_i$, given the
    cumulative weights `cdf` $= c$ ($c_i \propto p_1 + \dots + p_i$, not necessarily normalized), as floats.

    `multinomial(stream, n, p)` is `multinomial_cumulative(stream, n, monotone_cumsum(p))[0]`. A caller
    that already holds $c$ skips the prefix sum: the categorical family refits $c$ from the running sums
    this returns, which the search computes anyway. `cdf` must be nondecreasing and flat exactly where
    $p_i = 0$ (`monotone_cumsum` guarantees both; so does dividing running counts by their total).
    """
    K = cdf.shape[0]
    cap = default_capacity(K) if capacity is None else int(capacity)
    if cap < 1:
        raise ValueError(f"capacity must be >= 1, got {cap}")
    n = jnp.floor(jnp.asarray(n, cdf.dtype) + 1e-6).astype(jnp.int32)
    n = jnp.maximum(n, 0)

    def one(b, acc):
        m = jnp.clip(n - b * cap, 0, cap)
        counts, cum = _batch(stream.fork(b.astype(jnp.uint32)), m, cdf, cap)
        return acc[0] + counts, acc[1] + cum

    zeros = jnp.zeros((K,), cdf.dtype)
    out = one(jnp.zeros((), jnp.int32), (zeros, zeros))  # the common case: n <= C
    nb = (n + cap - 1) // cap

    def body(state):
        b, c = state
        return b + 1, one(b, c)

    def more(c):
        return jax.lax.while_loop(lambda s: s[0] < nb, body, (jnp.ones((), jnp.int32), c))[1]

    # the cond keeps the loop out of the common path: with the loop inline XLA CPU ran ~15% slower. Its predicate is
    # reduced over the vmapped axes (`any_in_batch`): batched, the cond would run the loop's branch for every chain;
    # the loop itself stops per chain (a chain with one batch leaves it unchanged)
    return jax.lax.cond(any_in_batch(nb > 1), more, lambda c: c, out)


def categorical_draws(stream: Stream, n: int, p: Float[Array, " K"]) -> Float[Array, " n"]:
    r"""`n` (static) i.i.d. category indices $0..K-1$ with probabilities $p$ (normalized here), as floats.

    Inversion: index $= \min\{i : c_i \ge U\}$ for $U \sim$ Uniform(0, 1]; a category with $p_i = 0$
    is never drawn. Cost $O(n \log K)$.
    """
    cdf = normalized_cdf(p)
    u = R.uniform(stream, (n,), p.dtype)
    # #{i : c_i < u} = #{i : c_i <= u^-} with u^- the float below u: `searchsorted(cdf, u, side="left")`
    # through `_rank`, whose batching rule is ~3x faster than a vmapped searchsorted on XLA CPU
    idx = _rank(cdf, jnp.nextafter(u, jnp.zeros((), u.dtype)))
    return jnp.minimum(idx, p.shape[0] - 1).astype(p.dtype)

