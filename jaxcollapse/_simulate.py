r"""The engine: one chain's generation step, vmapped over chains, scanned over generations.

`simulate(key, model, regime, generations, chains)` runs `chains` independent
recursive-fitting chains. The step of one chain is written once (`_chain_step`); `jax.vmap`
adds the chain axis and `jax.lax.scan` runs the generations over the batched state.
Cross-chain summaries (mean, standard deviation, quantiles) are computed inside the scan, so
memory is O(chains) unless full paths are asked for.

Randomness: generation $t$ has the key `fold_in(key, t)`; chain $i$ reads Threefry at the
counters $(i, j)$ under it (see `jaxcollapse.random`). Chain $i$ is therefore the same
whether 8 or $10^6$ chains run, and a new key reuses the compiled program.

Devices: with `devices=k` the chains are cut into $k$ contiguous blocks, one per device
(`jax.shard_map` over a 1-D mesh); the cross-chain sums become `psum`s and the quantile chains
are gathered from the devices that hold them (`_summarize`). A chain's numbers do not depend on the
device that runs it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, Float, Int

from . import random as R
from .data import Samples, SampleStats
from .families._base import AbstractFamily, AbstractStats
from .random import Stream
from .regimes import Regime

PATHS = ("exact", "samples")
DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


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


class Trajectory(eqx.Module):
    r"""The result of `simulate`.

    - `generations`: $0, 1, \dots, G$.
    - `summary[name]`: a `Summary` (mean, std and quantiles across chains, per generation).
      Means and standard deviations use every chain; quantiles use the first
      `min(chains, quantile_chains)` chains (default 1024: a fixed, prefix-invariant subsample,
      because sorting every generation is what would otherwise dominate the cost). A metric
      that is $\pm\infty$ on some chain (a collapsed one) has an infinite mean there and
      `std = inf`, never NaN.
    - `paths[name]`: per-chain values, shape `(G + 1, chains)`, if `record_paths`.
    - `params`: the model pytree with leading axes `(G + 1, chains)`, if `record_params`.
    - `final`: the model pytree after the last generation, leading axis `chains`.
    - `config`: a plain dict describing the run.
    """

    generations: Int[Array, " G1"]
    summary: dict[str, Summary]
    paths: dict[str, Float[Array, "G1 chains"]] | None
    params: Any
    final: Any
    chains: int = eqx.field(static=True)
    config: dict = eqx.field(static=True)

    def mean(self, name: str) -> Float[Array, " G1"]:
        return self._get(name).mean

    def std(self, name: str) -> Float[Array, " G1"]:
        return self._get(name).std

    def stderr(self, name: str) -> np.ndarray:
        r"""Monte Carlo standard error of `mean(name)`, $\mathrm{std}/\sqrt{\text{chains}}$ (a numpy array,
        so a float64 trajectory keeps its precision outside `jaxcollapse.x64()`)."""
        return np.asarray(self._get(name).std) / math.sqrt(self.chains)

    def quantile(self, name: str, q: float) -> Float[Array, " G1"]:
        return self._get(name).quantile(q)

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
        if self.paths is not None:
            for k, v in self.paths.items():
                out[f"path/{k}"] = np.asarray(v)
        return out


class _ChainState(NamedTuple):
    model: AbstractFamily
    pool: AbstractStats  # accumulated synthetic statistics (accumulate)
    real: AbstractStats  # the fixed real set's statistics (real = "fixed")
    buffer: Samples  # all synthetic samples so far (accumulate_subsample), else capacity 0


class _Static(NamedTuple):
    generations: int
    path: str
    capacity: int  # static synthetic sample capacity (sample path)
    buffer_rows: int
    metrics: tuple[str, ...]
    levels: tuple[float, ...]
    quantile_chains: int
    record_paths: bool
    record_params: bool
    progress: Any
    pool_rows: int = 0  # accumulate with sample statistics (SampleStats): preallocated pool rows


def _draw_stats(model: AbstractFamily, stream: Stream, n, capacity: int, path: str, temperature,
                into: AbstractFamily | None = None, curate=None):
    """Statistics of `n` draws from `model`: exact, or by drawing samples and summing.

    `into` is the family whose `stats` summarize the samples (default `model`; the fitted model
    when `model` is a truth of another compatible family). `curate(x, mask) -> mask` filters
    individual samples (a curation regime; sample path only).
    """
    if path == "exact":
        return model.sample_stats(stream, n, temperature), None
    x = model.draw_samples(stream, capacity, temperature)
    mask = jnp.arange(capacity) < n
    if curate is not None:
        mask = curate(x, mask)
    return (model if into is None else into).stats(x, mask), x


def _pool_write(pool: SampleStats, syn: SampleStats, start) -> SampleStats:
    """The preallocated pool with `syn`'s rows written at row `start` (accumulate, sample statistics)."""
    start = jnp.asarray(start, jnp.int32)
    zeros = (jnp.zeros((), jnp.int32),) * (syn.x.ndim - 1)
    x = jax.lax.dynamic_update_slice(pool.x, syn.x.astype(pool.x.dtype), (start, *zeros))
    w = jax.lax.dynamic_update_slice(pool.weight, syn.weight.astype(pool.weight.dtype), (start,))
    return SampleStats(pool.count + syn.count, x, w)


def _combine_real(regime: Regime, real: AbstractStats | None, train: AbstractStats) -> AbstractStats:
    if real is None:
        return train
    if regime.w is None:
        return real.combine(train)
    # weighted MLE: real data total weight w, synthetic 1 - w (total weight preserved)
    total = real.count + train.count
    w = regime.w
    r = real.scale(w * total / jnp.where(real.count > 0, real.count, 1.0))
    s = train.scale((1.0 - w) * total / jnp.where(train.count > 0, train.count, 1.0))
    return r.combine(s)


def _chain_init(truth: AbstractFamily, model: AbstractFamily, regime: Regime, st: _Static,
                key0, chain) -> _ChainState:
    empty = model.empty_stats()
    real = empty
    if regime.real == "fixed":
        stream = Stream(key0, chain).fork(R.SALT_INIT_REAL)
        real, _ = _draw_stats(truth, stream, jnp.asarray(regime.n_real, model.dtype), regime.n_real, st.path,
                              jnp.ones((), model.dtype), into=model)
    pool = empty
    if st.pool_rows:
        row = jax.eval_shape(lambda: model.draw_samples(Stream(key0, chain), 1, jnp.ones((), model.dtype)))
        pool = SampleStats.empty(row.shape[1:], row.dtype, st.pool_rows)
    row = jax.eval_shape(lambda: model.draw_samples(Stream(key0, chain), 1, jnp.ones((), model.dtype)))
    buffer = Samples.empty(st.buffer_rows, row.shape[1:], row.dtype)
    return _ChainState(model, pool, real, buffer)


def _chain_step(truth: AbstractFamily, regime: Regime, st: _Static, state: _ChainState, t, gkey, chain):
    """One generation of one chain: draw synthetic data, mix it, refit, measure."""
    stream = Stream(gkey, chain)
    model = state.model
    dtype = model.dtype
    truth_t = truth.translate(regime.drift * t.astype(dtype))
    n_t = regime.synthetic_count(t)
    curation = getattr(regime, "curation", None)
    curate = None
    if curation is not None:
        def curate(x, mask):
            return curation.select(stream.fork(R.SALT_CURATE), x, mask, model, truth_t)
    syn, x = _draw_stats(model, stream.fork(R.SALT_SAMPLES), n_t, st.capacity, st.path, regime.temperature,
                         curate=curate)
    pool, buffer = state.pool, state.buffer
    if regime.memory == "replace":
        train = syn
    elif regime.memory == "accumulate" and st.pool_rows:
        pool = _pool_write(pool, syn, (t - 1) * st.capacity)
        train = pool
    elif regime.memory == "accumulate":
        pool = pool.combine(syn)
        train = pool
    else:  # accumulate_subsample: append this generation's rows, subsample the pool
        buffer = buffer.write(x, (t - 1) * st.capacity)
        train = model.stats(buffer.subsample(stream.fork(R.SALT_SUBSAMPLE), regime.subsample))
    if regime.real == "none":
        real = None
    elif regime.real == "fixed":
        real = state.real
    else:
        real, _ = _draw_stats(truth_t, stream.fork(R.SALT_REAL), jnp.asarray(regime.n_real, dtype),
                              regime.n_real, st.path, jnp.ones((), dtype), into=model)
    data = _combine_real(regime, real, train)
    new = model.fit(data, stream.fork(R.SALT_FIT))
    if curation is not None:  # a verifier that rejected every sample: no data, no refit
        new = jax.tree.map(lambda a, b: jnp.where(data.count > 0, a, b), new, model)
    new = jax.tree.map(lambda a, b: a.astype(b.dtype), new, model)  # the model's dtype rules
    return _ChainState(new, pool, state.real, buffer), new.metrics(truth_t, stream.fork(R.SALT_METRICS))


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
    """Linear-interpolation quantiles (numpy's default) that stay exact at +-inf."""
    s = _sort_floats(x)
    pos = np.asarray(levels) * (x.shape[0] - 1)
    lo = np.floor(pos).astype(np.int32)
    hi = np.minimum(lo + 1, x.shape[0] - 1)
    frac = jnp.asarray(pos - lo, x.dtype)
    s_lo, s_hi = s[lo], s[hi]
    interp = s_lo + (s_hi - s_lo) * frac
    interp = jnp.where(frac == 0, s_lo, interp)
    return jnp.where(s_lo == -jnp.inf, -jnp.inf, jnp.where(s_hi == jnp.inf, jnp.inf, interp))


def _summarize(values: Float[Array, " chains"], st: _Static, axis: str | None = None, chains: int = 0):
    """Mean, standard deviation and quantiles across chains. Inside a `shard_map` over mesh axis `axis`
    (each device holding a contiguous block of the `chains` chains) the sums are `psum`s and the quantile
    chains are gathered from the devices that hold them."""
    if axis is None:
        finite = jnp.all(jnp.isfinite(values))
        mean = jnp.mean(values)
        std = jnp.where(finite, jnp.std(values), jnp.inf)
        head = values[: st.quantile_chains]
    else:
        finite = jax.lax.psum(jnp.sum(~jnp.isfinite(values)), axis) == 0
        mean = jax.lax.psum(jnp.sum(values), axis) / chains
        std = jnp.where(finite, jnp.sqrt(jax.lax.psum(jnp.sum((values - mean) ** 2), axis) / chains), jnp.inf)
        h = min(values.shape[0], st.quantile_chains)  # devices hold contiguous blocks, in order
        head = jax.lax.all_gather(values[:h], axis, tiled=True)[: st.quantile_chains]
    if st.levels:
        q = _quantiles(head, st.levels)
    else:
        q = jnp.zeros((0,), values.dtype)
    return mean, std, q


def _summaries(metrics: dict, st: _Static, axis: str | None = None, chains: int = 0):
    return {k: _summarize(metrics[k], st, axis, chains) for k in st.metrics}


@eqx.filter_jit
def _run(key, model, truth, regime, chains: int, st: _Static, mesh: Mesh | None = None):
    """The whole run on one device, or, with a `mesh` of several devices, its chains cut into one
    contiguous block per device (`shard_map` over mesh axis ``"chain"``)."""
    if mesh is None or mesh.devices.size == 1:
        return _run_chains(key, model, truth, regime, jnp.arange(chains, dtype=jnp.uint32), chains, st, None)
    chain_ids = jax.lax.with_sharding_constraint(jnp.arange(chains, dtype=jnp.uint32),
                                                NamedSharding(mesh, P("chain")))
    out_specs = (P("chain"), {"summary": P()})
    if st.record_paths:
        out_specs[1]["paths"] = P(None, "chain")
    if st.record_params:
        out_specs[1]["params"] = P(None, "chain")
    return jax.shard_map(lambda ids: _run_chains(key, model, truth, regime, ids, chains, st, "chain"), mesh=mesh,
                         in_specs=(P("chain"),), out_specs=out_specs, check_vma=False)(chain_ids)


def _run_chains(key, model, truth, regime, chain_ids, chains: int, st: _Static, axis: str | None):
    """Chains `chain_ids` (all of them, or this device's block of the `chains`) over every generation."""
    key0 = R.generation_key(key, jnp.asarray(0, jnp.uint32))
    state = jax.vmap(lambda c: _chain_init(truth, model, regime, st, key0, c))(chain_ids)
    m0 = jax.vmap(lambda m, c: m.metrics(truth, Stream(key0, c).fork(R.SALT_METRICS)))(state.model, chain_ids)

    vstep = jax.vmap(lambda s, c, t, k: _chain_step(truth, regime, st, s, t, k, c),
                     in_axes=(0, 0, None, None))

    def body(carry, _):
        # the generation index is carried, not scanned over: read from the scanned array by a dynamic slice
        # inside the big fusions, it (and every scalar made from it: n_t, the key) kept XLA CPU from
        # vectorizing them (the multinomial's count differences ran 7x slower; Threefry words with a key
        # made from t, 5x in a test)
        state, t = carry
        gkey = R.generation_key(key, t.astype(jnp.uint32))
        state, metrics = vstep(state, chain_ids, t, gkey)
        out = {"summary": _summaries(metrics, st, axis, chains)}
        if st.record_paths:
            out["paths"] = {k: metrics[k] for k in st.metrics}
        if st.record_params:
            out["params"] = state.model
        if st.progress is not None:
            every = max(1, st.generations // 20)
            tick = (t % every == 0) | (t == st.generations)
            if axis is not None:  # one bar, from the first device
                tick = tick & (jax.lax.axis_index(axis) == 0)
            jax.lax.cond(tick, lambda: jax.debug.callback(st.progress, t, st.generations), lambda: None)
        return (state, t + 1), out

    (state, _), ys = jax.lax.scan(body, (state, jnp.ones((), jnp.int32)), None, length=st.generations)
    first = {"summary": _summaries(m0, st, axis, chains)}
    if st.record_paths:
        first["paths"] = {k: m0[k] for k in st.metrics}
    if st.record_params:
        first["params"] = _initial_models(model, chain_ids.shape[0])
    ys = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b], axis=0), first, ys)
    return state.model, ys


def _initial_models(model, chains):
    return jax.tree.map(lambda a: jnp.broadcast_to(a, (chains,) + a.shape), model)


def _default_progress(t, total):
    t = int(t)
    width = 30
    done = int(width * t / total)
    sys.stderr.write(f"\r  generation {t:>6d}/{total}  [{'#' * done}{'.' * (width - done)}]")
    if t >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


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
) -> Trajectory:
    r"""Run `chains` recursive-fitting chains for `generations` generations.

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
    - `record_params`: also return every chain's parameters per generation.
    - `progress`: print a progress bar (True), or call `progress(t, generations)` now and then.
    - `devices`: run the chains on several devices, one contiguous block of chains each (`shard_map`):
      a number (the first that many of `jax.devices()`) or a list of devices; `chains` must be a
      multiple of their number. Default: one device. Each chain draws the same numbers on any number
      of devices; the cross-chain sums are combined across devices (`psum`), so means and standard
      deviations agree with one device's up to rounding. On a multi-core CPU, expose the cores as
      devices first (``jax.config.update("jax_num_cpu_devices", k)`` before anything runs, or
      ``XLA_FLAGS=--xla_force_host_platform_device_count=k``): XLA CPU runs small batched matmuls (the
      neural families) on one thread, and a block per core trains them in parallel.

    Raises `ValueError` on bad configuration before anything is compiled.
    """
    truth = model if truth is None else truth
    st = _check(model, truth, regime, generations, chains, path, metrics, quantiles, quantile_chains,
                record_paths, record_params, progress)
    if not isinstance(key, jax.Array) or not jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape != ():
        raise ValueError("key must be a single typed key from jax.random.key(seed)")
    if str(jax.random.key_impl(key)) != "threefry2x32":
        raise ValueError(f"key must be a threefry2x32 key (jax.random.key(seed)); got {jax.random.key_impl(key)}")
    mesh = _chain_mesh(devices, int(chains))
    final, ys = _run(key, model, truth, regime, int(chains), st, mesh)
    summary = {k: Summary(*ys["summary"][k], levels=st.levels) for k in st.metrics}
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
        paths=ys.get("paths"),
        params=ys.get("params"),
        final=final,
        chains=int(chains),
        config=config,
    )


def _chain_mesh(devices, chains: int) -> Mesh | None:
    """A 1-D mesh (axis ``"chain"``) over the requested devices, or None for one device."""
    if devices is None:
        return None
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        avail = jax.devices()
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
    if chains % len(devs):
        raise ValueError(f"chains ({chains}) must be a multiple of the number of devices ({len(devs)})")
    return None if len(devs) == 1 else Mesh(np.array(devs), ("chain",))


def _describe_model(model) -> str:
    fields = {k: getattr(model, k) for k in ("d", "estimator") if hasattr(type(model), k)}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"


def _check(model, truth, regime, generations, chains, path, metrics, quantiles, quantile_chains,
           record_paths, record_params, progress) -> _Static:
    if not isinstance(model, AbstractFamily):
        raise ValueError(f"model must be a jaxcollapse family, got {type(model).__name__}")
    model.accepts_truth(truth)  # raises ValueError when it cannot
    if not isinstance(regime, Regime):
        raise ValueError(f"regime must be a jaxcollapse Regime, got {type(regime).__name__}")
    for nm, v in (("generations", generations), ("chains", chains)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{nm} must be an integer >= 1, got {v!r}")
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; choose one of {PATHS}")
    if path == "exact" and not model.has_exact_stats:
        raise ValueError(f"{type(model).__name__} has no exact statistics sampler; use path='samples'")
    if path == "exact" and regime.memory == "accumulate_subsample":
        raise ValueError("accumulate_subsample acts on individual samples: use path='samples'")
    names = tuple(model.metric_names if metrics is None else metrics)
    unknown = [m for m in names if m not in model.metric_names]
    if unknown or not names:
        raise ValueError(f"unknown metric(s) {unknown}; {type(model).__name__} has {model.metric_names}")
    levels = tuple(float(q) for q in quantiles)
    if any(not (0.0 <= q <= 1.0) for q in levels):
        raise ValueError(f"quantile levels must lie in [0, 1], got {levels}")
    if quantile_chains < 1:
        raise ValueError("quantile_chains must be >= 1")
    if getattr(regime, "curation", None) is not None:
        if path == "exact":
            raise ValueError("curation acts on individual samples: use path='samples'")
        regime.curation.check(model, truth)
    model.check_regime(regime, generations)
    capacity = 0
    buffer_rows = 0
    if path == "samples" or regime.memory == "accumulate_subsample":
        cap = regime.synthetic_capacity(generations)
        if cap is None:
            raise ValueError("the sample path needs a concrete sample-size schedule (sizes set shapes)")
        capacity = cap
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
    prog = None
    if progress is True:
        prog = _default_progress
    elif callable(progress):
        prog = progress
    elif progress not in (False, None):
        raise ValueError("progress must be a bool or a callable")
    pool_rows = 0
    if regime.memory == "accumulate" and isinstance(model.empty_stats(), SampleStats):
        # no finite statistics: the pool is the samples themselves, preallocated for every generation
        pool_rows = capacity * int(generations)
    return _Static(int(generations), path, int(capacity), int(buffer_rows), names, levels,
                   int(min(chains, quantile_chains)), bool(record_paths), bool(record_params), prog, pool_rows)
