r"""The engine: one chain's generation step, vmapped over chains and points, scanned over generations.

**One chain** is a pure `init_chain` / `step_chain` pair (in the spirit of optax's `init`/`update`
and blackjax's kernels): a `ChainState` NamedTuple carried through the generations, a `ChainSpec`
holding the model of generation 0, the truth, the regime and the static options
(`make_spec` builds and checks one). Generation $t \ge 1$ of chain $i$ reads its random numbers
from `chain_stream(key, t, i)`: Threefry at the counters $(i, j)$ under `fold_in(key, t)` (see
`jaxcollapse.random`), so chain $i$ is the same whether 8 or $10^6$ chains run. Driving one chain
by hand:

```python
import jax, jax.numpy as jnp
import jaxcollapse as jc
from jaxcollapse import engine

spec = engine.make_spec(jc.Gaussian(0.0, 1.0), jc.regimes.replace(10), generations=50)
key = jax.random.key(0)

def one_chain(chain):
    state = engine.init_chain(engine.chain_stream(key, 0, chain), spec)

    def body(carry, _):
        state, t = carry  # the generation index is carried, not scanned over (see `_blocks_run`)
        state, metrics = engine.step_chain(engine.chain_stream(key, t, chain), state, t, spec)
        return (state, t + 1), metrics

    (state, _), metrics = jax.lax.scan(body, (state, jnp.ones((), jnp.int32)), None, length=50)
    return metrics  # {name: (50,)}: generations 1..50

paths = jax.vmap(one_chain)(jnp.arange(8, dtype=jnp.uint32))  # {name: (8, 50)}
```

**Many chains, many points** (`run_points`): points (specs with the same static configuration,
stacked on a leading axis) are vmapped; the chains are cut into $B = \gcd(\text{chains},
\text{blocks})$ contiguous blocks; each device of a 1-D mesh (axis ``"chain"``, `shard_map`) runs
its blocks one after the other (a loop whose trip count is a runtime value), each block a whole
run over the generations (`lax.scan`) that returns, per generation and point, the block's sum,
centred sum of squares, finiteness and its first chains' values (for the quantiles of the first
`quantile_chains` chains). The block program is the same whatever the number of devices, so XLA
compiles it the same way (its fusion and floating-point contraction choices depend on the
program around an operation); the summarized metrics are loop-carried values, so no consumer
recomputes them; the blocks are combined in a fixed order (Chan et al.'s pairwise update,
pairwise-halving sums):

$$\bar x = \frac{1}{N}\sum_b S_b, \qquad N\,\hat\sigma^2 = \sum_b M_b + m \sum_b (S_b/m - \bar x)^2,$$

with $S_b$ and $M_b$ block $b$'s sum and centred sum of squares over its $m = N/B$ chains (Chan,
Golub and LeVeque 1983, "Algorithms for computing the sample variance"). The numbers are bitwise
the same on 1, 2, 4, ... devices and, under `jax.distributed`, hosts. `simulate` is `run_points`
over one point; `jaxcollapse.sweep` is `run_points` over chunks of a grid.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import jaxpr_as_fun
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, Float, Int

from . import random as R
from ._multinomial import multinomial
from .data import Samples, SampleStats, write_rows
from .families._base import AbstractFamily, AbstractStats
from .random import Stream
from .regimes import Regime

__all__ = [
    "ChainOptions",
    "ChainSpec",
    "ChainState",
    "NotRecorded",
    "PointsResult",
    "Summary",
    "Trajectory",
    "chain_stream",
    "init_chain",
    "make_spec",
    "measure_chain",
    "real_samples",
    "run_points",
    "simulate",
    "step_chain",
    "summary_options",
    "wait_ready",
]

PATHS = ("exact", "samples")
DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DEFAULT_BLOCKS = 8  # chains run and are reduced in gcd(chains, blocks) blocks, whatever the number of devices


class Summary(eqx.Module):
    """Cross-chain summary of one metric, per generation (index 0 is the starting model)."""

    mean: Float[Array, " G1"]
    std: Float[Array, " G1"]
    quantiles: Float[Array, "G1 Q"]
    levels: tuple[float, ...] = eqx.field(static=True)

    def quantile(self, q: float) -> Float[Array, " G1"]:
        if q not in self.levels:
            raise ValueError(f"quantile {q} was not recorded; recorded: {self.levels}")
        return self.quantiles[:, self.levels.index(q)]


class NotRecorded:
    """Stands in `Trajectory.paths` / `Trajectory.params` for an output that `simulate` did not record: it is
    falsy and empty, and any look-up (``traj.paths["trace"]``, ``traj.params.mean``) raises an error that
    says which argument records it (a pytree node without children)."""

    __slots__ = ("what", "argument")

    def __init__(self, what: str, argument: str):
        self.what, self.argument = what, argument

    def _error(self) -> str:
        return f"the {self.what} were not recorded: pass {self.argument}=True to simulate"

    def __getitem__(self, key):
        raise KeyError(self._error())

    def __getattr__(self, name):
        if name.startswith("__") or name in NotRecorded.__slots__:
            raise AttributeError(name)
        raise AttributeError(self._error())

    def __iter__(self):
        raise TypeError(self._error())

    def __contains__(self, key) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other) -> bool:
        return isinstance(other, NotRecorded) and (self.what, self.argument) == (other.what, other.argument)

    def __hash__(self) -> int:
        return hash((self.what, self.argument))

    def __repr__(self) -> str:
        return f"<{self.what} not recorded: {self.argument}=True>"


jax.tree_util.register_pytree_node(NotRecorded, lambda x: ((), (x.what, x.argument)),
                                   lambda aux, _: NotRecorded(*aux))


class Trajectory(eqx.Module):
    r"""The result of `simulate`.

    - `generations`: $0, 1, \dots, G$.
    - `summary[name]`: a `Summary` (mean, std and quantiles across chains, per generation).
      Means and standard deviations use every chain; quantiles use the first
      `min(chains, quantile_chains)` chains (default 1024: a fixed, prefix-invariant subsample,
      because sorting every generation is what would otherwise dominate the cost). A metric
      that is $\pm\infty$ on some chain (a collapsed one) has an infinite mean there and
      `std = inf`, never NaN.
    - `paths[name]`: per-chain values, shape `(G + 1, chains)`, if `record_paths` (else a `NotRecorded`,
      falsy, whose look-ups say to pass ``record_paths=True``).
    - `params`: the model pytree with leading axes `(G + 1, chains)`, if `record_params` (else a
      `NotRecorded`).
    - `mean(name)`, `std(name)`, `stderr(name)`, `quantile(name, q)`: numpy arrays over the generations
      (in the trajectory's precision, float64 for a run under `jaxcollapse.x64()`).
    - `final`: the model pytree after the last generation, leading axis `chains`.
    - `real`: the statistics of each chain's fixed real set (leading axis `chains`), if `record_params`
      and the regime has one (``real="fixed"``); else None. `real_samples` gives the samples themselves.
    - `config`: a plain dict describing the run.
    """

    generations: Int[Array, " G1"]
    summary: dict[str, Summary]
    paths: dict[str, Float[Array, "G1 chains"]] | NotRecorded | None
    params: Any
    final: Any
    real: Any
    chains: int = eqx.field(static=True)
    config: dict = eqx.field(static=True)

    def mean(self, name: str) -> Float[np.ndarray, " G1"]:
        """The mean over chains of metric `name` per generation (a numpy array, like `std`, `stderr`, `quantile`)."""
        return np.asarray(self._get(name).mean)

    def std(self, name: str) -> Float[np.ndarray, " G1"]:
        return np.asarray(self._get(name).std)

    def stderr(self, name: str) -> Float[np.ndarray, " G1"]:
        r"""Monte Carlo standard error of `mean(name)`, $\mathrm{std}/\sqrt{\text{chains}}$ (a numpy array,
        so a float64 trajectory keeps its precision outside `jaxcollapse.x64()`)."""
        return np.asarray(self._get(name).std) / math.sqrt(self.chains)

    def quantile(self, name: str, q: float) -> Float[np.ndarray, " G1"]:
        return np.asarray(self._get(name).quantile(q))

    def _get(self, name: str) -> Summary:
        if name not in self.summary:
            raise KeyError(f"metric {name!r} was not summarized; have {tuple(self.summary)}")
        return self.summary[name]

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Flat dict of numpy arrays (`mean/<metric>`, `std/<metric>`, `q<level>/<metric>`, `path/<metric>`)."""
        out = {"generation": np.asarray(self.generations)}
        for k, s in self.summary.items():
            out[f"mean/{k}"] = np.asarray(s.mean)
            out[f"std/{k}"] = np.asarray(s.std)
            for j, q in enumerate(s.levels):
                out[f"q{q:g}/{k}"] = np.asarray(s.quantiles[:, j])
        if self.paths:
            for k, v in self.paths.items():
                out[f"path/{k}"] = np.asarray(v)
        return out



# --------------------------------------------------------------------------- one chain
class ChainOptions(NamedTuple):
    """The static options of a chain (sizes that set shapes, and the code path); `make_spec` fills them."""

    generations: int
    path: str  # "exact" or "samples"
    capacity: int  # synthetic samples drawn per generation on the sample path (the largest n_t)
    buffer_rows: int  # accumulate_subsample: rows of the sample buffer (capacity x generations), else 0
    pool_rows: int = 0  # accumulate without finite statistics (SampleStats): preallocated pool rows
    full_draws: bool = False  # every generation draws exactly `capacity` synthetic samples: no sample mask


class ChainSpec(eqx.Module):
    """What a chain runs: the model of generation 0, the truth, the regime and the static options.

    Every array leaf (parameters, traced regime knobs) may carry a leading point axis
    (`stack_specs`); `run_points` vmaps over it.
    """

    model: AbstractFamily
    truth: AbstractFamily
    regime: Regime
    options: ChainOptions = eqx.field(static=True)


class ChainState(NamedTuple):
    """The state one chain carries from generation to generation."""

    model: AbstractFamily  # the current model
    pool: AbstractStats  # accumulated synthetic statistics (accumulate), else empty
    real: AbstractStats  # the fixed real set's statistics (real = "fixed"), else empty
    buffer: Samples  # every synthetic sample so far (accumulate_subsample), else capacity 0


def chain_stream(key, t, chain) -> Stream:
    r"""The random stream of chain `chain` in generation `t` (0: the initial state) under the typed `key`.

    Threefry at the counters $(\text{chain}, j)$ under `fold_in(key, t)`: the same numbers whatever the
    number of chains.
    """
    return Stream(R.generation_key(key, jnp.asarray(t).astype(jnp.uint32)), jnp.asarray(chain, jnp.uint32))


def _draw_stats(model: AbstractFamily, stream: Stream, n, capacity: int, path: str, temperature,
                into: AbstractFamily | None = None, curate=None):
    """Statistics of `n` draws from `model`: exact, or by drawing samples and summing.

    On the sample path `n=None` means all `capacity` draws: no mask, so no per-sample multiply by a
    mask that vmap over the points would broadcast to every chain (a 1-D Gaussian's two reductions
    ran 6x slower with it).

    `into` is the family whose `stats` summarize the samples (default `model`; the fitted model
    when `model` is a truth of another compatible family). `curate(x, mask) -> mask` filters
    individual samples (a curation regime; sample path only).
    """
    if path == "exact":
        return model.sample_stats(stream, n, temperature), None
    x = model.draw_samples(stream, capacity, temperature)
    mask = None if n is None else jnp.arange(capacity) < n
    if curate is not None:
        mask = curate(x, jnp.ones(capacity, bool) if mask is None else mask)
    return (model if into is None else into).stats(x, mask), x


def _draw_corrected(model: AbstractFamily, truth: AbstractFamily, stream: Stream, n, capacity: int, path: str,
                    temperature, gamma, curate=None):
    r"""Statistics of `n` self-corrected synthetic draws (`regimes.self_correct`): draws of
    $\pi_\gamma = \frac{1}{1+\gamma}\,\text{model}_\tau + \frac{\gamma}{1+\gamma}\,\text{truth}$, exactly.

    Exact path: $K \sim \mathrm{Binomial}(n, \gamma/(1+\gamma))$ draws are the truth's, the other $n - K$ the
    model's (at temperature $\tau$); their statistics are drawn and combined. Sample path: each of the
    `capacity` rows is, independently with probability $\gamma/(1+\gamma)$, a truth draw in place of the
    model's. The model's draws use the stream of the uncorrected path, so $\gamma = 0$ gives the same numbers
    as no correction, to rounding (another program, which XLA may fuse and contract differently).
    """
    dtype = model.dtype
    gamma = jnp.asarray(gamma, dtype)
    p = gamma / (1.0 + gamma)
    one = jnp.ones((), dtype)
    if path == "exact":
        k = multinomial(stream.fork(R.SALT_CORRECT), n, jnp.stack([1.0 - p, p]))[1]
        syn = model.sample_stats(stream.fork(R.SALT_SAMPLES), n - k, temperature)
        return syn.combine(truth.sample_stats(stream.fork(R.SALT_CORRECT_TRUTH), k, one)), None
    x = model.draw_samples(stream.fork(R.SALT_SAMPLES), capacity, temperature)
    y = truth.draw_samples(stream.fork(R.SALT_CORRECT_TRUTH), capacity, one).astype(x.dtype)
    pick = R.uniform(stream.fork(R.SALT_CORRECT), (capacity,), dtype) <= p  # uniforms in (0, 1]: P = p exactly
    x = jnp.where(pick.reshape((capacity,) + (1,) * (x.ndim - 1)), y, x)
    mask = None if n is None else jnp.arange(capacity) < n
    if curate is not None:
        mask = curate(x, jnp.ones(capacity, bool) if mask is None else mask)
    return model.stats(x, mask), x


def _pool_write(pool: SampleStats, syn: SampleStats, start) -> SampleStats:
    """The preallocated pool with `syn`'s rows written at row `start` (accumulate, sample statistics)."""
    return SampleStats(pool.count + syn.count, write_rows(pool.x, syn.x, start), write_rows(pool.weight, syn.weight,
                                                                                           start))


def _combine_real(regime: Regime, real: AbstractStats | None, train: AbstractStats) -> AbstractStats:
    r"""The training statistics: real and synthetic pooled, or (weighted) real with total weight
    $w\,(n_\text{real} + n_\text{syn})$ and synthetic $(1 - w)(n_\text{real} + n_\text{syn})$."""
    if real is None:
        return train
    if regime.w is None:
        return real.combine(train)
    total = real.count + train.count
    w = regime.w
    r = real.scale(w * total / jnp.where(real.count > 0, real.count, 1.0))
    s = train.scale((1.0 - w) * total / jnp.where(train.count > 0, train.count, 1.0))
    return r.combine(s)


def _sample_row(model: AbstractFamily):
    """The shape and dtype of one of `model`'s samples (no computation)."""
    row = jax.eval_shape(lambda: model.draw_samples(Stream(jnp.zeros(2, jnp.uint32), jnp.zeros((), jnp.uint32)), 1,
                                                    jnp.ones((), model.dtype)))
    return row.shape[1:], row.dtype


def _real_count(regime: Regime, path: str, dtype):
    """The size of a real draw: the static `n_real` (None on the sample path: all `n_real` draws, no mask)."""
    return None if path == "samples" else jnp.asarray(regime.n_real, dtype)


def _real_stats(stream: Stream, spec: ChainSpec):
    """The fixed real set of a chain (statistics, samples or None), from its generation-0 stream."""
    model, regime, o = spec.model, spec.regime, spec.options
    return _draw_stats(spec.truth, stream.fork(R.SALT_INIT_REAL), _real_count(regime, o.path, model.dtype),
                       regime.n_real, o.path, jnp.ones((), model.dtype), into=model)


def init_chain(stream: Stream, spec: ChainSpec) -> ChainState:
    """The state of a chain before generation 1; `stream` is its generation-0 stream (`chain_stream(key, 0, i)`).

    Draws the fixed real set (regime ``real="fixed"``); preallocates the sample pool or buffer the
    regime needs.
    """
    model, regime, o = spec.model, spec.regime, spec.options
    empty = model.empty_stats()
    real = _real_stats(stream, spec)[0] if regime.real == "fixed" else empty
    pool = empty
    if o.pool_rows or o.buffer_rows:
        shape, dtype = _sample_row(model)
        if o.pool_rows:
            pool = SampleStats.empty(shape, dtype, o.pool_rows)
    else:
        shape, dtype = (), model.dtype
    buffer = Samples.empty(o.buffer_rows, shape, dtype)
    return ChainState(model, pool, real, buffer)


def _truth_at(spec: ChainSpec, t) -> AbstractFamily:
    """The truth of generation `t` (moved by `t` times the regime's drift)."""
    return spec.truth.translate(spec.regime.drift * jnp.asarray(t).astype(spec.model.dtype))


def measure_chain(stream: Stream, state: ChainState, t, spec: ChainSpec) -> dict[str, Float[Array, ""]]:
    """The metrics of the chain's current model against the truth of generation `t` (`stream`: generation t's)."""
    return state.model.metrics(_truth_at(spec, t), stream.fork(R.SALT_METRICS))


def step_chain(stream: Stream, state: ChainState, t, spec: ChainSpec) -> tuple[ChainState, dict[str, Float[Array, ""]]]:
    r"""Generation `t` ($\ge 1$) of one chain: draw synthetic data, mix it with the memory and real data,
    refit, measure. `stream` is the chain's generation-`t` stream (`chain_stream(key, t, i)`); `t` is an
    integer scalar. Returns the new state and the new model's metrics against the truth of generation `t`."""
    regime, o = spec.regime, spec.options
    model = state.model
    dtype = model.dtype
    truth_t = _truth_at(spec, t)
    n_t = regime.synthetic_count(t)
    curation = regime.curation
    curate = None
    if curation is not None:
        def curate(x, mask):
            return curation.select(stream.fork(R.SALT_CURATE), x, mask, model, truth_t)
    if regime.correction is None:
        syn, x = _draw_stats(model, stream.fork(R.SALT_SAMPLES), None if o.full_draws else n_t, o.capacity, o.path,
                             regime.temperature, curate=curate)
    else:  # self-correction (a static choice: nothing of it is traced when it is off)
        syn, x = _draw_corrected(model, truth_t, stream, None if o.full_draws else n_t, o.capacity, o.path,
                                 regime.temperature, regime.correction, curate=curate)
    pool, buffer = state.pool, state.buffer
    if regime.memory == "replace":
        train = syn
    elif regime.memory == "accumulate" and o.pool_rows:
        pool = _pool_write(pool, syn, (t - 1) * o.capacity)
        train = pool
    elif regime.memory == "accumulate":
        pool = pool.combine(syn)
        train = pool
    else:  # accumulate_subsample: append this generation's rows, subsample the pool
        buffer = buffer.write(x, (t - 1) * o.capacity)
        train = model.stats(buffer.subsample(stream.fork(R.SALT_SUBSAMPLE), regime.subsample))
    if regime.real == "none":
        real = None
    elif regime.real == "fixed":
        real = state.real
    else:
        real, _ = _draw_stats(truth_t, stream.fork(R.SALT_REAL), _real_count(regime, o.path, dtype),
                              regime.n_real, o.path, jnp.ones((), dtype), into=model)
    if regime.extrapolation is None:
        data = _combine_real(regime, real, train)
        new = model.fit(data, stream.fork(R.SALT_FIT))
        if curation is not None:  # a verifier that rejected every sample: no data, no refit
            new = jax.tree.map(lambda a, b: jnp.where(data.count > 0, a, b), new, model)
    else:  # negative extrapolation (a static choice): (1 + w) fit(real) - w fit(synthetic)
        fit_real = model.fit(real, stream.fork(R.SALT_FIT))
        new = fit_real.extrapolate(model.fit(train, stream.fork(R.SALT_EXTRAPOLATE)), regime.extrapolation)
        if curation is not None:  # no synthetic data left: nothing to extrapolate from
            new = jax.tree.map(lambda a, b: jnp.where(train.count > 0, a, b), new, fit_real)
    new = jax.tree.map(lambda a, b: a.astype(b.dtype), new, model)  # the model's dtype rules
    return ChainState(new, pool, state.real, buffer), new.metrics(truth_t, stream.fork(R.SALT_METRICS))


def make_spec(model: AbstractFamily, regime: Regime, generations: int, *, truth: AbstractFamily | None = None,
              path: str = "exact") -> ChainSpec:
    """A checked `ChainSpec`: `model` (generation 0) refitted under `regime` for `generations`, measured against
    `truth` (default `model`), on the ``"exact"`` statistics path or the ``"samples"`` path.

    Raises `ValueError` on a bad configuration, before anything compiles.
    """
    truth = model if truth is None else truth
    if not isinstance(model, AbstractFamily):
        raise ValueError(f"model must be a jaxcollapse family, got {type(model).__name__}")
    model.accepts_truth(truth)
    if not isinstance(regime, Regime):
        raise ValueError(f"regime must be a jaxcollapse Regime, got {type(regime).__name__}")
    _check_count("generations", generations)
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; choose one of {PATHS}")
    if path == "exact" and not model.has_exact_stats:
        raise ValueError(f"{type(model).__name__} has no exact statistics sampler; use path='samples'")
    if path == "exact" and regime.memory == "accumulate_subsample":
        raise ValueError("accumulate_subsample acts on individual samples: use path='samples'")
    if regime.curation is not None:
        if path == "exact":
            raise ValueError("curation acts on individual samples: use path='samples'")
        regime.curation.check(model, truth)
    model.check_regime(regime, generations)
    name = type(model).__name__
    if regime.correction is not None and not model.supports_correction:
        raise ValueError(f"{name} does not support self-correction (supports_correction = False): leave correction "
                         "unset")
    if regime.extrapolation is not None and not model.supports_extrapolation:
        raise ValueError(f"{name} has no vector of parameters to extrapolate (supports_extrapolation = False): leave "
                         "extrapolation unset")
    capacity = 0
    buffer_rows = 0
    full_draws = False
    if path == "samples" or regime.memory == "accumulate_subsample":
        cap = regime.synthetic_capacity(generations)
        if cap is None:
            raise ValueError("the sample path needs a concrete sample-size schedule (sizes set shapes)")
        capacity = cap
        full_draws = regime.synthetic_range(generations) == (cap, cap)
        if regime.memory == "accumulate_subsample":
            r = regime.n.concrete_range(generations)
            if regime.lam is not None or r is None or r[0] != r[1]:
                raise ValueError("accumulate_subsample needs a constant synthetic sample size")
            buffer_rows = capacity * generations
            if regime.subsample > capacity:
                # the first generation's pool holds only n rows
                raise ValueError(
                    f"subsample size {regime.subsample} exceeds the {capacity} samples of the first generation"
                )
    if regime.min_train_size(generations) is not None and regime.min_train_size(generations) < 1:
        raise ValueError("every generation must train on at least one sample")
    pool_rows = 0
    if regime.memory == "accumulate" and isinstance(model.empty_stats(), SampleStats):
        # no finite statistics: the pool is the samples themselves, preallocated for every generation
        pool_rows = capacity * int(generations)
    return ChainSpec(model, truth, regime, ChainOptions(int(generations), path, int(capacity), int(buffer_rows),
                                                        int(pool_rows), bool(full_draws)))


def stack_specs(specs: Sequence[ChainSpec]) -> ChainSpec:
    """Specs with the same static configuration stacked on a leading point axis (numpy leaves)."""
    treedef = jax.tree.structure(specs[0])
    for s in specs[1:]:
        if jax.tree.structure(s) != treedef:
            raise ValueError("stacked specs must share their static configuration (sizes, regime preset, options)")
    leaves = [jax.tree.leaves(s) for s in specs]
    return jax.tree.unflatten(treedef, [np.stack([np.asarray(x) for x in col]) for col in zip(*leaves, strict=True)])


def real_samples(key, spec: ChainSpec, chains: int | np.integer) -> Array:
    r"""The fixed real set each chain trains on (regime ``real="fixed"``), as samples: shape
    `(chains, n_real, ...)`, the same numbers the chains drew (on the ``"samples"`` path their statistics
    are `Trajectory.real`; on the exact path the chains drew the statistics directly, not these samples).
    """
    if spec.regime.real != "fixed":
        raise ValueError(f"the regime {spec.regime.name!r} has no fixed real set (real={spec.regime.real!r})")
    _check_key(key)
    _check_count("chains", chains)
    n = spec.regime.n_real

    def one(c):
        stream = chain_stream(key, 0, c).fork(R.SALT_INIT_REAL)
        return spec.truth.draw_samples(stream, n, jnp.ones((), spec.model.dtype))

    return jax.jit(jax.vmap(one))(jnp.arange(int(chains), dtype=jnp.uint32))


def summary_options(family: type, metrics, quantiles, quantile_chains) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The checked metric names and quantile levels of a run of `family` (`ValueError` naming an unknown metric or a
    bad level): what `run_points` summarizes, and what a sweep checks its points against before anything runs."""
    names = tuple(family.metric_names if metrics is None else metrics)
    unknown = [m for m in names if m not in family.metric_names]
    if unknown or not names:
        raise ValueError(f"unknown metric(s) {unknown}; {family.__name__} has {family.metric_names}")
    levels = tuple(float(q) for q in quantiles)
    if any(not (0.0 <= q <= 1.0) for q in levels):
        raise ValueError(f"quantile levels must lie in [0, 1], got {levels}")
    if isinstance(quantile_chains, bool) or not isinstance(quantile_chains, (int, np.integer)) or quantile_chains < 1:
        raise ValueError(f"quantile_chains must be an integer >= 1, got {quantile_chains!r}")
    return names, levels


def _check_count(name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


def _check_key(key) -> None:
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape != ():
        raise ValueError("key must be a single typed key from jax.random.key(seed)")
    if str(jax.random.key_impl(key)) != "threefry2x32":
        raise ValueError(f"key must be a threefry2x32 key (jax.random.key(seed)); got {jax.random.key_impl(key)}")


# --------------------------------------------------------------------------- progress (one trampoline)
_PROGRESS: dict[int, Callable[[int, int], None]] = {}
_PROGRESS_IDS = itertools.count(1)
_PROGRESS_LOCK = threading.Lock()


def _progress_tick(pid, t, total) -> None:
    """The one host function every compiled run calls for progress: it looks up the callable registered under
    `pid` (a traced argument), so a new callable reuses the compiled program."""
    fn = _PROGRESS.get(int(pid))
    if fn is not None:
        fn(int(t), int(total))


@contextlib.contextmanager
def _progress_registered(fn: Callable[[int, int], None] | None):
    """Register `fn` for the duration of a run; yields its id (0: no progress)."""
    if fn is None:
        yield 0
        return
    with _PROGRESS_LOCK:
        pid = next(_PROGRESS_IDS) % (2**31 - 1) or 1
        _PROGRESS[pid] = fn
    try:
        yield pid
    finally:
        with _PROGRESS_LOCK:
            _PROGRESS.pop(pid, None)


def wait_ready(tree):
    """`jax.block_until_ready(tree)` that a Ctrl-C can interrupt: it polls the arrays (sleeps of 1 to 20 ms), where
    `block_until_ready` waits in C++ and Python handles the signal only once the whole computation is done."""
    leaves = [x for x in jax.tree.leaves(tree) if isinstance(x, jax.Array)]
    pause = 0.001
    while not all(x.is_ready() for x in leaves):
        time.sleep(pause)
        pause = min(2 * pause, 0.02)
    return tree


def _default_progress(t, total):
    width = 30
    done = int(width * t / total)
    sys.stderr.write(f"\r  generation {t:>6d}/{total}  [{'#' * done}{'.' * (width - done)}]")
    if t >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- summaries
def _sort_floats(x: Float[Array, " m"]) -> Float[Array, " m"]:
    """Ascending sort through an order-preserving map of the float bits to signed integers.

    XLA's CPU sort is about 4x faster on integers than on floats (whose comparator also orders
    NaNs); for non-NaN input the result is identical to `jnp.sort`.
    """
    itype = jnp.int64 if x.dtype == jnp.float64 else jnp.int32
    b = jax.lax.bitcast_convert_type(x, itype)
    key = b ^ ((b >> (8 * x.dtype.itemsize - 1)) & jnp.iinfo(itype).max)
    key = jax.lax.sort(key, is_stable=False)
    return jax.lax.bitcast_convert_type(key ^ ((key >> (8 * x.dtype.itemsize - 1)) & jnp.iinfo(itype).max), x.dtype)


def _quantiles(x: Float[Array, " m"], levels: tuple[float, ...]) -> Float[Array, " Q"]:
    """Linear-interpolation quantiles (numpy's default) that stay exact at +-inf.

    The product of the interpolation is materialized before the addition: left to itself XLA may fuse
    ``lo + (hi - lo) * frac`` into an FMA in one program and not in another (one device or four).
    """
    s = _sort_floats(x)
    pos = np.asarray(levels) * (x.shape[0] - 1)
    lo = np.floor(pos).astype(np.int32)
    hi = np.minimum(lo + 1, x.shape[0] - 1)
    frac = jnp.asarray(pos - lo, x.dtype)
    s_lo, s_hi = s[lo], s[hi]
    step = jax.lax.optimization_barrier((s_hi - s_lo) * frac)
    interp = jnp.where(frac == 0, s_lo, s_lo + step)
    return jnp.where(s_lo == -jnp.inf, -jnp.inf, jnp.where(s_hi == jnp.inf, jnp.inf, interp))


def _mul(a, b):
    """`a * b` materialized: no FMA contraction with what follows, whatever the surrounding program."""
    return jax.lax.optimization_barrier(a * jnp.asarray(b, a.dtype))


def _tree_sum(x):
    r"""Sum over the last axis by pairwise halving: elementwise adds in an order fixed by the axis length alone.

    A `jnp.sum` lets XLA pick the order, which may change with the batch shape (so with the number of
    devices); the halving keeps every output bitwise independent of the other axes. The axis is padded
    with zeros to a power of 2.
    """
    m = x.shape[-1]
    size = 1 << max(0, (m - 1).bit_length())
    if size != m:
        x = jnp.concatenate([x, jnp.zeros((*x.shape[:-1], size - m), x.dtype)], axis=-1)
    while x.shape[-1] > 1:
        h = x.shape[-1] // 2
        x = x[..., :h] + x[..., h:]
    return x[..., 0]


# --------------------------------------------------------------------------- many chains, many points
class _Run(NamedTuple):
    """The static configuration of a `run_points` call."""

    chains: int
    blocks: int
    metrics: tuple[str, ...]
    levels: tuple[float, ...]
    quantile_chains: int  # min(chains, quantile_chains)
    record_paths: bool
    record_params: bool
    record_final: bool
    record_real: bool
    progress: bool


class PointsResult(NamedTuple):
    """What `run_points` returns; every array has the point axis first.

    - `summary[name] = (mean, std, quantiles)` of shapes `(points, G + 1)`, `(points, G + 1)`,
      `(points, G + 1, Q)`;
    - `paths[name]`: `(points, G + 1, chains)`; `params`: the model pytree with leading axes
      `(points, G + 1, chains)`; `final`: `(points, chains)`; `real`: the fixed real set's statistics,
      `(points, chains)`. Each is None unless asked for.
    """

    summary: dict[str, tuple[Array, Array, Array]]
    paths: dict[str, Array] | None
    params: Any
    final: Any
    real: Any


def _resolve_devices(devices, chains: int, blocks: int) -> list:
    """The devices of the chain mesh: a number (the first that many of `jax.devices()`) or a list; their number
    must divide the gcd(chains, blocks) chain blocks."""
    nblocks = math.gcd(chains, blocks)
    if devices is None:
        return [jax.local_devices()[0]]
    avail = jax.devices()
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(avail):
            raise ValueError(f"devices must be between 1 and the {len(avail)} available device(s), got {devices}"
                             + ("; on a CPU, expose cores as devices with XLA_FLAGS="
                                "--xla_force_host_platform_device_count=k" if len(avail) == 1 else ""))
        devs = avail[:devices]
    elif isinstance(devices, (list, tuple)) and devices and all(isinstance(d, jax.Device) for d in devices):
        devs = list(devices)
        if len(set(devs)) != len(devs):
            raise ValueError("devices lists a device twice")
    else:
        raise ValueError(f"devices must be a number of devices or a list of jax devices, got {devices!r}")
    k = len(devs)
    if nblocks % k:
        fix = (f"pass blocks={k} (or another multiple of {k} that divides the chains)" if chains % k == 0 else
               f"run a multiple of {k} chains with blocks={k}")
        raise ValueError(f"devices ({k}) must divide the {nblocks} chain blocks (gcd(chains, blocks) = gcd({chains}, "
                         f"{blocks})): {fix}, or use a device count that divides {nblocks}")
    return devs


def run_points(key, specs: ChainSpec, chains: int | np.integer, *, metrics: Sequence[str] | None = None,
               quantiles: Sequence[float] = DEFAULT_QUANTILES, quantile_chains: int = 1024,
               blocks: int = DEFAULT_BLOCKS, devices: int | Sequence[Any] | None = None, record_paths: bool = False,
               record_params: bool = False, record_final: bool = False, record_real: bool = False,
               progress: Callable[[int, int], None] | None = None) -> PointsResult:
    r"""Run `chains` chains at each of the stacked points `specs`, every point with the same key (common random
    numbers: chain $i$ of every point reads the same counters).

    **Arguments:**

    - `key`: a `jax.random.key` (threefry), or its raw key data (two uint32 words).
    - `specs`: a `ChainSpec` whose array leaves have a leading point axis (`stack_specs` of `make_spec`s).
    - `chains`: chains per point.
    - `metrics`: names to summarize (default: all of the family's).
    - `quantiles`, `quantile_chains`: quantile levels, and how many leading chains they use.
    - `blocks`: the chains run and are reduced in $B = \gcd(\text{chains}, \text{blocks})$ contiguous blocks,
      one after another on each device; the numbers depend on $B$ and not on the devices.
    - `devices`: the devices of the chain mesh: a number (the first that many of `jax.devices()`, every
      process's under `jax.distributed`) or a list; it must divide $B$. Default: one local device.
    - `record_paths`, `record_params`, `record_final`, `record_real`: also return each chain's metrics per
      generation, parameters per generation, final model, fixed real set's statistics (gathered in chain
      order on every device).
    - `progress`: called now and then as `progress(t, generations)`, where `t` counts the first device's work
      in generations (it runs its blocks one after the other).

    Returns a `PointsResult`. Raises `ValueError` on bad arguments before anything compiles.
    """
    if not isinstance(specs, ChainSpec):
        raise ValueError(f"specs must be a ChainSpec (make_spec, stacked with stack_specs), got {type(specs).__name__}")
    _check_count("chains", chains)
    _check_count("blocks", blocks)
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        _check_key(key)
        key_data = jax.random.key_data(key)
    else:
        key_data = np.asarray(key)
        if key_data.shape != (2,) or key_data.dtype != np.uint32:
            raise ValueError("key must be a typed key from jax.random.key(seed) or its key data (2 uint32 words)")
    leaves = jax.tree.leaves(specs)
    npts = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if len(npts) != 1 or None in npts:
        raise ValueError("every array of the stacked specs must have the same leading point axis")
    names, levels = summary_options(type(specs.model), metrics, quantiles, quantile_chains)
    if progress is not None and not callable(progress):
        raise ValueError("progress must be a callable progress(t, generations) or None")
    if record_real and specs.regime.real != "fixed":
        record_real = False  # no fixed real set
    nblocks = math.gcd(int(chains), int(blocks))
    devs = _resolve_devices(devices, int(chains), int(blocks))
    mesh = Mesh(np.array(devs), ("chain",))
    run = _Run(int(chains), nblocks, names, levels, int(min(chains, quantile_chains)), bool(record_paths),
               bool(record_params), bool(record_final), bool(record_real), progress is not None)
    with _progress_registered(progress) as pid:
        # numpy scalars: no eager conversion compiles; the blocks per device are a runtime value (see `_blocks_run`)
        out = _run(key_data, specs, np.asarray(pid, np.int32), np.asarray(nblocks // len(devs), np.int32), run, mesh)
        if progress is not None:  # the callbacks must find the callable: wait for the run
            out = wait_ready(out)
    summary, extra = out
    return PointsResult(summary, extra.get("paths"), extra.get("params"), extra.get("final"), extra.get("real"))


@eqx.filter_jit
def _run(key_data, specs: ChainSpec, pid, trips, run: _Run, mesh: Mesh):
    """The compiled run: blocks sharded over the mesh (`shard_map`), summaries and records replicated."""
    ids = jnp.arange(run.chains, dtype=jnp.uint32).reshape(run.blocks, run.chains // run.blocks)
    ids = jax.lax.with_sharding_constraint(ids, NamedSharding(mesh, P("chain")))
    return jax.shard_map(lambda i, k, s, p, n: _blocks_run(i, k, s, p, n, run, mesh.devices.size), mesh=mesh,
                         in_specs=(P("chain"), P(), P(), P(), P()), out_specs=P(), check_vma=False)(
        ids, key_data, specs, pid, trips)


def _blocks_run(ids, key_data, specs: ChainSpec, pid, trips, run: _Run, ndev: int):
    """One device's blocks of chains `ids` (shape `(blocks per device, per)`), then the reduction over all blocks."""
    per = run.chains // run.blocks
    nbl = run.blocks // ndev
    qc = run.quantile_chains
    h = min(per, qc)
    generations = specs.options.generations
    key = jax.random.wrap_key_data(key_data, impl="threefry2x32")
    key0 = R.generation_key(key, jnp.asarray(0, jnp.uint32))
    dev = jax.lax.axis_index("chain")
    base = dev * nbl

    def partials(x):  # x: (points, per) -> block sum, centred sum of squares, finiteness, head
        # Every product is materialized (a barrier) before it is added, and the block mean is a product by 1/per,
        # not a quotient: left to itself XLA CPU may contract `a * b + c` into an FMA, or evaluate a vectorized
        # division through an approximate reciprocal, in one program and not in another (one device or four).
        total = _tree_sum(x)
        d = x - _mul(total, 1.0 / per)[:, None]
        return total, _tree_sum(_mul(d, d)), jnp.all(jnp.isfinite(x), axis=1), x[:, :h]

    def per_point(f, *args):  # f(spec, chain ids, *args) vmapped over the points
        return jax.vmap(f, in_axes=(0,) + (None,) * len(args))(specs, *args)

    def block(j, blk_ids):
        def init(spec, c):
            return init_chain(Stream(key0, c), spec)

        state = per_point(lambda sp: jax.vmap(lambda c: init(sp, c))(blk_ids))
        m0 = jax.vmap(lambda sp, st: jax.vmap(lambda s1, c: measure_chain(Stream(key0, c), s1, 0, sp))(st, blk_ids))(
            specs, state)

        def body(carry, _):
            # Iteration t summarizes generation t - 1 from the carry, then steps to generation t (the last
            # iteration's step, to G + 1, is skipped). The metrics summarized and recorded are loop-carried
            # values, materialized in memory: computed in the same pass as their consumers, XLA CPU would
            # recompute them inside each consumer's fusion and contract the last multiplication into an FMA
            # there, differently in different programs (one device or four).
            # The generation index is carried, not scanned over: read from the scanned array by a dynamic slice
            # inside the big fusions, it (and every scalar made from it: n_t, the key) kept XLA CPU from
            # vectorizing them (the multinomial's count differences ran 7x slower; Threefry words with a key
            # made from t, 5x in a test).
            state, m_prev, t = carry
            out = {"parts": {k: partials(m_prev[k]) for k in run.metrics}}
            if run.record_paths:
                out["paths"] = {k: m_prev[k] for k in run.metrics}
            if run.record_params:
                out["params"] = state.model
            if run.progress:
                done = j * generations + t - 1  # generations' worth of this device's work, times nbl
                every = max(1, nbl * generations // 20)
                tick = ((done % every == 0) | (done == nbl * generations)) & (dev == 0) & (t > 1)
                jax.lax.cond(tick, lambda: jax.debug.callback(_progress_tick, pid, done // nbl, generations),
                             lambda: None)

            def step(state):
                gkey = R.generation_key(key, t.astype(jnp.uint32))

                def point(sp, s):
                    return jax.vmap(lambda s1, c: step_chain(Stream(gkey, c), s1, t, sp))(s, blk_ids)

                state, m = jax.vmap(point)(specs, state)
                # only the summarized metrics stay in the carry: a loop-carried value is live, so an unused metric
                # would be computed every generation (the 3-D Gaussian's eigh for w2sq: 6x slower)
                return state, {k: m[k] for k in run.metrics}

            state, m = jax.lax.cond(t <= generations, step, lambda s: (s, m_prev), state)
            return (state, m, t + 1), out

        m0 = {k: m0[k] for k in run.metrics}
        (state, _, _), ys = jax.lax.scan(body, (state, m0, jnp.ones((), jnp.int32)), None, length=generations + 1)
        if run.record_final:
            ys["final"] = state.model
        if run.record_real:
            ys["real"] = state.real
        return ys

    g1 = generations + 1
    dtypes = jax.eval_shape(lambda: jax.vmap(lambda sp: measure_chain(
        Stream(key0, jnp.zeros((), jnp.uint32)), init_chain(Stream(key0, jnp.zeros((), jnp.uint32)), sp), 0, sp))(
        specs))
    npts = jax.tree.leaves(specs)[0].shape[0]
    pos = jnp.arange(qc)

    def run_block(j):
        # the block's chain ids from its global index (not a slice of `ids`, which has one row on B devices and
        # whose slicing XLA would then simplify away, compiling the block differently)
        blk_ids = ((base + j) * per + jnp.arange(per)).astype(jnp.uint32)
        out = jax.lax.optimization_barrier(block(j, blk_ids))
        heads = {k: v[3] for k, v in out["parts"].items()}
        out["parts"] = {k: v[:3] for k, v in out["parts"].items()}
        return heads, out

    # The block is traced once: its jaxpr gives the buffers' shapes and is replayed inside the loop (tracing it a
    # second time, for the shapes, doubled the Python time of every compile).
    block_jaxpr, block_shapes = jax.make_jaxpr(run_block, return_shape=True)(jnp.zeros((), jnp.int32))
    block_tree = jax.tree.structure(block_shapes)

    def over_blocks(j, carry):
        acc, bufs = carry
        heads, out = jax.tree.unflatten(block_tree, jaxpr_as_fun(block_jaxpr)(j))
        bufs = jax.tree.map(lambda b, v: jax.lax.dynamic_update_index_in_dim(b, v, j, 0), bufs, out)
        if not run.levels:
            return acc, bufs
        rel = pos - (base + j) * per  # where this block's head lands among the first qc chains
        take = (rel >= 0) & (rel < h)

        def merge(acc):
            return {k: jnp.where(take, jnp.take(heads[k], jnp.clip(rel, 0, h - 1), axis=2), acc[k]) for k in acc}

        # Only the blocks holding one of the first qc chains merge their heads (one block in the common case
        # chains / blocks >= qc). Which branch a block takes depends on its global index alone, so the numbers
        # stay the same on any number of devices; the block itself is one program (compiled once).
        return jax.lax.cond(jnp.any(take), merge, lambda acc: acc, acc), bufs

    acc0 = {k: jnp.zeros((g1, npts, qc), dtypes[k].dtype) for k in run.metrics}
    bufs0 = jax.tree.map(lambda x: jnp.zeros((nbl,) + x.shape, x.dtype), block_shapes[1])
    # The loop over this device's blocks runs `trips` (= nbl) times, a runtime argument: with a static count of
    # one, XLA would inline the loop and compile the block in another context (other fusions, other rounding) than
    # with two or more, and one device's numbers would differ from four's in the last bits.
    heads, outs = jax.lax.fori_loop(0, trips, over_blocks, (acc0, bufs0))

    return _reduce(outs, heads, run, per, nbl, ndev)


def _reduce(outs: dict, heads: dict, run: _Run, per: int, nbl: int, ndev: int):
    """The blocks' partial sums of every device combined in block order into means, standard deviations and
    quantiles (`(points, G1[, Q])`), and the recorded per-chain arrays gathered in chain order."""
    qc = run.quantile_chains

    def gather(v):
        # the barrier keeps the combination below from fusing with the block code (as it could on one
        # device, where the all-gather is a no-op)
        return jax.lax.optimization_barrier(jax.lax.all_gather(v, "chain", axis=0, tiled=True))

    owner = np.minimum(np.arange(qc) // (per * nbl), ndev - 1)  # the device holding quantile chain i
    summary = {}
    for k in run.metrics:
        tot, m2, fin = (jnp.moveaxis(gather(v), 0, -1) for v in outs["parts"][k])  # (G1, points, blocks)
        mean = _mul(_tree_sum(tot), 1.0 / run.chains)  # products by constants, materialized: see `partials`
        d = _mul(tot, 1.0 / per) - mean[..., None]
        var = _mul(_tree_sum(m2) + _mul(_tree_sum(_mul(d, d)), float(per)), 1.0 / run.chains)
        std = jnp.where(jnp.all(fin, axis=-1), jnp.sqrt(var), jnp.inf)
        if run.levels:
            hd = gather(heads[k][None])  # (devices, G1, points, qc)
            hd = jnp.moveaxis(hd, 0, -1)[..., np.arange(qc), owner]  # (G1, points, qc)
            q = jax.vmap(jax.vmap(lambda v: _quantiles(v, run.levels)))(hd)
        else:
            q = jnp.zeros(mean.shape + (0,), mean.dtype)
        summary[k] = (mean.T, std.T, jnp.moveaxis(q, 0, 1))  # (points, G1[, Q])

    def chains_last(v, lead: int):
        """(blocks per device, *lead axes, per, ...) -> gathered (*lead axes, chains, ...)."""
        v = jnp.moveaxis(gather(v), 0, lead)  # (*lead, blocks, per, ...)
        return v.reshape(v.shape[:lead] + (run.chains,) + v.shape[lead + 2:])

    extra = {}
    if run.record_paths:
        extra["paths"] = {k: jnp.moveaxis(chains_last(v, 2), 0, 1) for k, v in outs["paths"].items()}
    if run.record_params:
        extra["params"] = jax.tree.map(lambda v: jnp.moveaxis(chains_last(v, 2), 0, 1), outs["params"])
    if run.record_final:
        extra["final"] = jax.tree.map(lambda v: chains_last(v, 1), outs["final"])
    if run.record_real:
        extra["real"] = jax.tree.map(lambda v: chains_last(v, 1), outs["real"])
    return summary, extra


# --------------------------------------------------------------------------- simulate: one point
def simulate(
    key,
    model: AbstractFamily,
    regime: Regime,
    generations: int | np.integer,
    chains: int | np.integer,
    *,
    truth: AbstractFamily | None = None,
    path: str = "exact",
    metrics: Sequence[str] | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    quantile_chains: int = 1024,
    record_paths: bool = False,
    record_params: bool = False,
    progress: bool | Callable[[int, int], None] = False,
    devices: int | Sequence[Any] | None = None,
    blocks: int | None = None,
) -> Trajectory:
    r"""Run `chains` recursive-fitting chains for `generations` generations (`run_points` over one point).

    **Arguments:**

    - `key`: a `jax.random.key` (threefry).
    - `model`: the starting model (generation 0); also the truth unless `truth` is given.
    - `regime`: a `jaxcollapse.regimes.Regime` (e.g. `regimes.replace(100)`).
    - `generations`, `chains`: static sizes, both $\ge 1$.
    - `path`: ``"exact"`` draws the sufficient statistics directly (cost independent of $n$);
      ``"samples"`` draws the samples and computes their statistics.
    - `metrics`: names to summarize (default: all of the family's).
    - `quantiles`, `quantile_chains`: quantile levels, and how many leading chains they use.
    - `record_paths`: also return every chain's metrics per generation.
    - `record_params`: also return every chain's parameters per generation (and, with a fixed real
      set, its statistics per chain: `Trajectory.real`).
    - `progress`: print a progress bar (True), or call `progress(t, generations)` now and then.
      Changing the callable does not recompile.
    - `devices`: run the chains on several devices: a number (the first that many of `jax.devices()`)
      or a list of devices; it must divide the $B = \gcd(\text{chains}, \text{blocks})$ chain blocks.
      Default: one device. Every array of the result (summaries, paths, parameters, final models) is
      bitwise the same on any number of devices. On a multi-core CPU, expose the cores as devices
      first (``jax.config.update("jax_num_cpu_devices", k)`` before anything runs, or
      ``XLA_FLAGS=--xla_force_host_platform_device_count=k``): XLA CPU runs small batched matmuls (the
      neural families) on one thread, and a block per core trains them in parallel.
    - `blocks`: the chains run and are reduced in $B = \gcd(\text{chains}, \text{blocks})$ contiguous blocks
      (see `run_points`). Default: the largest divisor of $\gcd(\text{chains}, 8)$ that leaves at least
      32,768 chains per block (one block below 65,536 chains): a small block is slow (XLA CPU runs each
      generation's kernels once per block, and for a cheap family their launch costs more than their
      arithmetic: the 1-D Gaussian's exact path ran 65,536 chains 1.4x slower in 8 blocks than in 2) and a
      block of one chain compiles to other fusions. With `devices`, pass a `blocks` that the device count
      divides.

    Raises `ValueError` on bad configuration before anything is compiled.
    """
    spec = make_spec(model, regime, generations, truth=truth, path=path)
    _check_count("chains", chains)
    if blocks is None:
        blocks = default_blocks(int(chains))
    _check_key(key)
    if progress is True:
        prog = _default_progress
    elif callable(progress):
        prog = progress
    elif progress in (False, None):
        prog = None
    else:
        raise ValueError("progress must be a bool or a callable")
    res = run_points(key, stack_specs([spec]), chains, metrics=metrics, quantiles=quantiles,
                     quantile_chains=quantile_chains, blocks=blocks, devices=devices, record_paths=record_paths,
                     record_params=record_params, record_final=True, record_real=record_params, progress=prog)
    levels = tuple(float(q) for q in quantiles)
    summary = {k: Summary(m[0], s[0], q[0], levels=levels) for k, (m, s, q) in res.summary.items()}

    def first(tree, what=None, argument=None):
        if tree is None:
            return None if what is None else NotRecorded(what, argument)
        return jax.tree.map(lambda a: a[0], tree)

    config = {
        "family": type(model).__name__,
        "model": _describe_model(model),
        "regime": regime.describe(),
        "generations": int(generations),
        "chains": int(chains),
        "path": path,
    }
    return Trajectory(
        generations=jnp.arange(generations + 1),
        summary=summary,
        paths=first(res.paths, "per-chain paths", "record_paths"),
        params=first(res.params, "per-generation parameters", "record_params"),
        final=first(res.final),
        real=first(res.real),
        chains=int(chains),
        config=config,
    )


MIN_BLOCK_CHAINS = 32768


def default_blocks(chains: int) -> int:
    """`simulate`'s default number of chain blocks: the largest divisor of gcd(chains, 8) leaving >= 32,768
    chains per block (at least 1)."""
    g = math.gcd(chains, DEFAULT_BLOCKS)
    return max(b for b in range(1, g + 1) if g % b == 0 and (b == 1 or chains // b >= MIN_BLOCK_CHAINS))


def _describe_model(model) -> str:
    """``Family(size=value, ...)`` from the sizes the family declares (`AbstractFamily.sizes`)."""
    fields = {k: v for k, (v, _unit) in model.sizes().items()}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"
