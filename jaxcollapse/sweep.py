r"""Parameter sweeps: grids of configurations, sharded over devices and hosts, resumable labelled storage.

A sweep runs the engine of `jaxcollapse.simulate` at many configurations ("points") of the regime
and the family. Points are grouped by their *static* configuration (anything that sets a shape or
chooses a code path: the regime preset, `n_real`, `subsample`, the dimension, the estimator, and
the synthetic sample size on the ``"samples"`` path); within a group everything else ($n$ on the
exact path, $\lambda$, $w$, $\tau$, the drift, the truth's mean and variance) is an array, and the
group's points are stacked along a leading axis and `vmap`-ped inside **one** compiled program.
A group runs in chunks of `chunk` points (the last chunk is padded with copies of its last point,
so every chunk of a group has the same shape and the group compiles once).

**Common random numbers.** Every point uses the same key: chain $i$ of point $p$ reads the same
Threefry counters as chain $i$ of point $q$. A phase diagram's neighbouring cells therefore differ
by the parameter, not by the noise; and a point's numbers do not depend on which other points run.

**Devices and hosts.** The chain axis is sharded over the devices of a 1-D `jax.sharding.Mesh`
(axis ``"chain"``) with `NamedSharding`: 1 CPU, 8 GPUs or a TPU slice run the same code. After
`jax.distributed.initialize` (see `initialize_distributed`), `jax.devices()` spans every process
and the same program runs across hosts; process 0 writes the results. Cross-chain means and
variances are computed in a fixed order that does not depend on the number of devices: the chains
are split into $B = \gcd(\text{chains}, \text{blocks})$ contiguous blocks (config key `blocks`,
default 8); each device runs its blocks one after another with the same compiled block program
(so XLA's shape-dependent fusion and FMA-contraction choices are the same), and the per-block sums
are gathered and combined in a fixed order. The number of devices used is the largest divisor of
$B$ not above the number available, so a sweep gives bitwise the same numbers on 1, 2, 4 or 8
devices (tested with 4 host devices and with two processes); raise `blocks` for more devices.

**Storage.** `run_sweep(config, out=DIR)` writes ``DIR/results.zarr`` (zarr format 2, readable
with `xarray.open_zarr`) chunk by chunk: one variable per metric with dimensions
``(point, generation, stat)`` (stat: ``mean``, ``std``, ``q0.05``, ...), one coordinate per swept
parameter along ``point``, and the full configuration (JSON) in the attributes. Each point is its
own zarr chunk, so writing a chunk of points never rewrites another's data; ``DIR/progress.json``
(replaced atomically after each chunk's data is written) lists the finished chunks. A sweep killed
at any moment resumes (``resume=True``) with the unfinished chunks and ends bitwise equal to an
uninterrupted run. `open_sweep(DIR)` returns the labelled dataset, with one dimension per grid
parameter for a product grid.

Configuration (a dict, or a TOML file for ``jaxcollapse sweep``)::

    family = "gaussian"
    generations = 200
    chains = 10000
    seed = 0
    path = "exact"             # or "samples"
    metrics = ["trace_ratio", "w2sq"]   # default: all of the family's
    quantiles = [0.05, 0.5, 0.95]
    chunk = 8                  # points per compiled call
    x64 = false

    [params]                   # fixed values (defaults below)
    n_real = 50

    [grid]                     # the product of these lists ...
    regime = ["replace", "accumulate", "fresh"]
    n = [10, 20, 50, 100]

    # ... or an explicit list of points:  [[points]]  n = 10  temperature = 1.05

Parameters: ``regime`` (a preset of `jaxcollapse.regimes`), ``n`` (synthetic samples per
generation), ``n_real``, ``lam``, ``w``, ``real`` (weighted: ``"fixed"`` or ``"fresh"``),
``subsample``, ``temperature``, ``drift``; Gaussian: ``mean``, ``variance`` (the truth, which is
also model 0: $N(\text{mean}, \text{variance}\,I_d)$), ``dim``, ``estimator``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import engine as _engine
from . import regimes as _regimes
from ._config import x64 as _x64
from .engine import DEFAULT_BLOCKS, DEFAULT_QUANTILES, PATHS, ChainOptions, make_spec, stack_specs

__all__ = [
    "SweepConfig",
    "initialize_distributed",
    "load_config",
    "open_sweep",
    "run_sweep",
]


# parameter -> (kind, default); kind is "int", "float" or "str"
REGIME_PARAMS: dict[str, tuple[str, Any]] = {
    "regime": ("str", "replace"),
    "n": ("int", 100),
    "n_real": ("int", 50),
    "lam": ("float", 1.0),
    "w": ("float", 0.5),
    "real": ("str", "fixed"),
    "subsample": ("int", None),  # None: n
    "temperature": ("float", 1.0),
    "drift": ("float", 0.0),
}
# which parameters each preset reads
PRESET_PARAMS: dict[str, tuple[str, ...]] = {
    "replace": ("n", "temperature", "drift"),
    "accumulate": ("n", "temperature", "drift"),
    "accumulate_subsample": ("n", "subsample", "temperature", "drift"),
    "augment": ("n_real", "lam", "temperature", "drift"),
    "fresh": ("n_real", "n", "temperature", "drift"),
    "weighted": ("n_real", "n", "w", "real", "temperature", "drift"),
}
FAMILY_PARAMS: dict[str, dict[str, tuple[str, Any]]] = {
    "gaussian": {"mean": ("float", 0.0), "variance": ("float", 1.0), "dim": ("int", 1), "estimator": ("str", "mle")},
}
TOP_KEYS = ("family", "generations", "chains", "seed", "path", "metrics", "quantiles", "quantile_chains", "chunk",
            "blocks", "x64", "params", "grid", "points", "plot")
PLOT_KEYS = ("x", "y", "metric", "stat", "generation", "below", "boundary", "log", "center", "name")
STATS_BASE = ("mean", "std")


def _suggest(word: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _all_params(family: str) -> dict[str, tuple[str, Any]]:
    return {**REGIME_PARAMS, **FAMILY_PARAMS[family]}


def _value(name: str, kind: str, v):
    """`v` checked against `kind` (a ValueError naming `name` otherwise)."""
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"parameter {name} must be an integer, got {v!r}")
        return int(v)
    if kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ValueError(f"parameter {name} must be a finite number, got {v!r}")
        return float(v)
    if not isinstance(v, str):
        raise ValueError(f"parameter {name} must be a string, got {v!r}")
    return v


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class PlotSpec:
    """A phase diagram drawn by ``jaxcollapse sweep`` after the run (see `jaxcollapse.plot.phase_diagram`)."""

    x: str
    y: str
    metric: str
    stat: str = "mean"
    generation: int = -1
    below: float | None = None
    boundary: str | None = None
    log: bool = False
    center: float | None = None
    name: str | None = None


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration; build it with `SweepConfig.from_dict` or `load_config`."""

    family: str = "gaussian"
    generations: int = 100
    chains: int = 1000
    seed: int = 0
    path: str = "exact"
    metrics: tuple[str, ...] | None = None
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    quantile_chains: int = 1024
    chunk: int = 8
    blocks: int = DEFAULT_BLOCKS
    x64: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, tuple] = field(default_factory=dict)
    points: tuple[Mapping[str, Any], ...] = ()
    plot: tuple[PlotSpec, ...] = ()

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SweepConfig:
        """Check every key and value of a config dict (as read from TOML); `ValueError` names the first problem."""
        if not isinstance(raw, Mapping):
            raise ValueError("a sweep config must be a table of keys")
        for k in raw:
            if k not in TOP_KEYS:
                raise ValueError(f"unknown key {k!r}{_suggest(k, TOP_KEYS)}; valid keys: {', '.join(TOP_KEYS)}")
        family = raw.get("family", "gaussian")
        if family not in FAMILY_PARAMS:
            raise ValueError(f"unknown family {family!r}{_suggest(family, FAMILY_PARAMS)}; "
                             f"sweeps support: {', '.join(FAMILY_PARAMS)}")
        kw: dict[str, Any] = {"family": family}
        for k in ("generations", "chains", "seed", "quantile_chains", "chunk", "blocks"):
            if k in raw:
                v = raw[k]
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"{k} must be an integer, got {v!r}")
                if v < (0 if k == "seed" else 1):
                    raise ValueError(f"{k} must be >= {0 if k == 'seed' else 1}, got {v}")
                if k == "seed" and v >= 2**32:
                    raise ValueError(f"seed must be < 2**32, got {v}")
                kw[k] = int(v)
        if "path" in raw:
            if raw["path"] not in PATHS:
                raise ValueError(f"unknown path {raw['path']!r}; choose one of {', '.join(PATHS)}")
            kw["path"] = raw["path"]
        if "x64" in raw:
            if not isinstance(raw["x64"], bool):
                raise ValueError(f"x64 must be true or false, got {raw['x64']!r}")
            kw["x64"] = raw["x64"]
        if "metrics" in raw:
            m = raw["metrics"]
            if isinstance(m, str):
                m = [m]
            if not isinstance(m, list) or not m or not all(isinstance(s, str) for s in m):
                raise ValueError(f"metrics must be a non-empty list of names, got {raw['metrics']!r}")
            if len(set(m)) != len(m):
                raise ValueError(f"a metric is listed twice: {m}")
            kw["metrics"] = tuple(m)
        if "quantiles" in raw:
            q = raw["quantiles"]
            if not isinstance(q, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in q):
                raise ValueError(f"quantiles must be a list of numbers in [0, 1], got {q!r}")
            if any(not 0 <= v <= 1 for v in q) or len(set(q)) != len(q):
                raise ValueError(f"quantiles must be distinct levels in [0, 1], got {q}")
            kw["quantiles"] = tuple(float(v) for v in q)
        allp = _all_params(family)

        def check_name(name, where):
            if name not in allp:
                raise ValueError(f"unknown parameter {name!r} in {where}{_suggest(name, allp)}; "
                                 f"parameters: {', '.join(allp)}")

        params = raw.get("params", {})
        if not isinstance(params, Mapping):
            raise ValueError("[params] must be a table of parameter = value")
        fixed = {}
        for k, v in params.items():
            check_name(k, "[params]")
            fixed[k] = _value(k, allp[k][0], v)
        kw["params"] = fixed
        grid = raw.get("grid", {})
        points = raw.get("points", [])
        if not isinstance(grid, Mapping):
            raise ValueError("[grid] must be a table of parameter = [values]")
        if not isinstance(points, list) or not all(isinstance(p, Mapping) for p in points):
            raise ValueError("points must be a list of tables ([[points]])")
        if grid and points:
            raise ValueError("give either [grid] (a product) or [[points]] (a list), not both")
        if not grid and not points:
            raise ValueError("the sweep is empty: give a [grid] of parameter = [values] or a list of [[points]]")
        g = {}
        for k, vals in grid.items():
            check_name(k, "[grid]")
            if k in fixed:
                raise ValueError(f"parameter {k!r} is both fixed in [params] and swept in [grid]")
            if not isinstance(vals, list):
                vals = [vals]
            if not vals:
                raise ValueError(f"grid parameter {k!r} has no values (an empty grid)")
            vals = tuple(_value(k, allp[k][0], v) for v in vals)
            dup = [v for v in vals if vals.count(v) > 1]
            if dup:
                raise ValueError(f"grid parameter {k!r} lists {dup[0]!r} twice (duplicate grid points)")
            g[k] = vals
        kw["grid"] = g
        pts = []
        for i, p in enumerate(points):
            if not p:
                raise ValueError(f"point {i} is empty")
            q = {}
            for k, v in p.items():
                check_name(k, f"point {i}")
                if k in fixed:
                    raise ValueError(f"parameter {k!r} is fixed in [params] and also set by point {i}")
                q[k] = _value(k, allp[k][0], v)
            pts.append(q)
        kw["points"] = tuple(pts)
        plots = raw.get("plot", [])
        if isinstance(plots, Mapping):
            plots = [plots]
        if not isinstance(plots, list):
            raise ValueError("plot must be a table or a list of tables")
        specs = []
        for p in plots:
            if not isinstance(p, Mapping):
                raise ValueError("each [[plot]] must be a table")
            for k in p:
                if k not in PLOT_KEYS:
                    raise ValueError(f"unknown plot key {k!r}{_suggest(k, PLOT_KEYS)}; valid: {', '.join(PLOT_KEYS)}")
            for k in ("x", "y", "metric"):
                if not isinstance(p.get(k), str):
                    raise ValueError(f"a plot needs {k} = \"...\" (a string)")
            p = dict(p)
            if not isinstance(p.get("stat", "mean"), str):
                raise ValueError(f"plot stat must be a string, got {p['stat']!r}")
            if isinstance(p.get("generation"), bool) or not isinstance(p.get("generation", -1), int):
                raise ValueError(f"plot generation must be an integer, got {p['generation']!r}")
            for k in ("below", "center"):
                if k in p:
                    if isinstance(p[k], bool) or not isinstance(p[k], (int, float)):
                        raise ValueError(f"plot {k} must be a number, got {p[k]!r}")
                    p[k] = float(p[k])
            if not isinstance(p.get("boundary", ""), str) or not isinstance(p.get("name", ""), str):
                raise ValueError("plot boundary and name must be strings")
            if not isinstance(p.get("log", False), bool):
                raise ValueError(f"plot log must be true or false, got {p['log']!r}")
            for k in ("x", "y"):
                if p[k] not in self_names(raw):
                    raise ValueError(f"plot {k} = {p[k]!r} is not a swept parameter")
            specs.append(PlotSpec(**p))
        kw["plot"] = tuple(specs)
        cfg = cls(**kw)
        cfg.resolved_points()  # full check of every point (names, values, duplicates), nothing compiled
        return cfg

    # ------------------------------------------------------------------ points
    def swept(self) -> tuple[str, ...]:
        """The names of the swept parameters (grid order, or first appearance in the points)."""
        if self.grid:
            return tuple(self.grid)
        names: list[str] = []
        for p in self.points:
            names += [k for k in p if k not in names]
        return tuple(names)

    def raw_points(self) -> list[dict[str, Any]]:
        """Every point's swept values, in grid order (the last grid parameter varies fastest)."""
        if self.grid:
            keys = list(self.grid)
            return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*self.grid.values())]
        return [dict(p) for p in self.points]

    def resolved_points(self) -> list[dict[str, Any]]:
        """Every point's effective parameters (only those its regime and family read), checked.

        Raises `ValueError` for a swept parameter that no point's regime reads, for two points that
        give the same configuration, and for a regime that is not a preset.
        """
        allp = _all_params(self.family)
        raw = self.raw_points()
        out, used = [], set()
        for sw in raw:
            full = {k: v[1] for k, v in allp.items()}
            full.update(self.params)
            full.update(sw)
            reg = full["regime"]
            if reg not in PRESET_PARAMS:
                raise ValueError(f"unknown regime {reg!r}{_suggest(reg, PRESET_PARAMS)}; "
                                 f"choose one of {', '.join(PRESET_PARAMS)}")
            keep = ("regime", *PRESET_PARAMS[reg], *FAMILY_PARAMS[self.family])
            eff = {k: full[k] for k in keep}
            if reg == "accumulate_subsample" and eff["subsample"] is None:
                eff["subsample"] = eff["n"]
            used.update(keep)
            out.append(eff)
        for k in (*self.swept(), *self.params):
            if k not in used:
                regs = sorted({p["regime"] for p in out})
                raise ValueError(f"parameter {k!r} has no effect on regime(s) {', '.join(regs)}")
        seen: dict[str, int] = {}
        for i, eff in enumerate(out):
            key = json.dumps(eff, sort_keys=True)
            if key in seen:
                raise ValueError(f"duplicate grid points: point {seen[key]} ({_fmt_point(raw[seen[key]])}) and "
                                 f"point {i} ({_fmt_point(raw[i])}) give the same configuration ({_fmt_point(eff)})")
            seen[key] = i
        return out

    def as_dict(self) -> dict[str, Any]:
        """The canonical configuration (JSON-ready): what a resume compares."""
        return {
            "family": self.family, "generations": self.generations, "chains": self.chains, "seed": self.seed,
            "path": self.path, "metrics": None if self.metrics is None else list(self.metrics),
            "quantiles": list(self.quantiles), "quantile_chains": self.quantile_chains, "chunk": self.chunk,
            "blocks": self.blocks,
            "x64": self.x64, "params": dict(self.params),
            "grid": [[k, list(v)] for k, v in self.grid.items()],  # a list: the order sets the storage order
            "points": [dict(p) for p in self.points],
        }


def self_names(raw: Mapping) -> list[str]:
    """The swept parameter names of a raw config dict (grid keys, or keys of its points)."""
    grid = raw.get("grid", {})
    names = list(grid) if isinstance(grid, Mapping) else []
    for p in raw.get("points", []) if isinstance(raw.get("points", []), list) else []:
        names += [k for k in p if k not in names] if isinstance(p, Mapping) else []
    return names


def _fmt_point(p: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.items())


def load_config(path: str | os.PathLike) -> SweepConfig:
    """Read and check a TOML sweep config (`ValueError` on a missing file, bad TOML or a bad value)."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"config file not found: {path}")
    try:
        with p.open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"malformed TOML in {path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read config file {path}: {e}") from None
    try:
        return SweepConfig.from_dict(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def config_difference(a: Mapping, b: Mapping, prefix: str = "") -> list[str]:
    """Human-readable differences between two canonical config dicts (``key: old != new``)."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += config_difference(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {json.dumps(va)} != {json.dumps(vb)}")
    return out


# --------------------------------------------------------------------------- building points
def _build(cfg: SweepConfig, p: Mapping[str, Any]):
    """(model, regime) of one effective point."""
    from .families.gaussian import Gaussian

    reg = p["regime"]
    knobs = {"temperature": p["temperature"], "drift": p["drift"]}
    if reg in ("replace", "accumulate"):
        regime = _regimes.PRESETS[reg](p["n"], **knobs)
    elif reg == "accumulate_subsample":
        regime = _regimes.accumulate_subsample(p["n"], p["subsample"], **knobs)
    elif reg == "augment":
        regime = _regimes.augment(p["n_real"], p["lam"], **knobs)
    elif reg == "fresh":
        regime = _regimes.fresh(p["n_real"], p["n"], **knobs)
    else:
        if p["real"] not in ("fixed", "fresh"):
            raise ValueError(f"parameter real must be 'fixed' or 'fresh', got {p['real']!r}")
        regime = _regimes.weighted(p["n_real"], p["n"], p["w"], real=p["real"], **knobs)
    if p["dim"] < 1:
        raise ValueError(f"dim must be >= 1, got {p['dim']}")
    if not p["variance"] > 0:
        raise ValueError(f"variance must be > 0, got {p['variance']}")
    d = p["dim"]
    model = Gaussian(np.full(d, p["mean"]), p["variance"], estimator=p["estimator"])
    return model, regime


@dataclass
class _Group:
    static: ChainOptions
    treedef: Any
    indices: list[int]  # positions in the storage order
    width: int  # points per chunk


@dataclass
class _Plan:
    cfg: SweepConfig
    points: list[dict]  # effective parameters, config order
    order: list[int]  # storage position -> config index
    groups: list[_Group]
    chunks: list[tuple[int, int, int]]  # (group, start, stop) in storage order
    specs: list[Any]  # storage order
    metrics: tuple[str, ...]
    levels: tuple[float, ...]
    blocks: int


def plan(cfg: SweepConfig) -> _Plan:
    """Build and check every point (a `ValueError` before anything compiles), group them by static configuration."""
    pts = cfg.resolved_points()
    built = []
    groups: dict[Any, list[int]] = {}
    statics: dict[Any, tuple[ChainOptions, Any]] = {}
    for i, p in enumerate(pts):
        try:
            model, regime = _build(cfg, p)
            spec = make_spec(model, regime, cfg.generations, path=cfg.path)
            names, levels = _engine._summary_options(type(model), cfg.metrics, cfg.quantiles, cfg.quantile_chains)
            st = spec.options
        except ValueError as e:
            raise ValueError(f"point {i} ({_fmt_point(p)}): {e}") from None
        leaves, treedef = jax.tree.flatten(spec)
        shapes = tuple((np.shape(x), np.asarray(x).dtype.str) for x in leaves)
        gkey = (treedef, shapes)
        groups.setdefault(gkey, []).append(i)
        statics[gkey] = (st, treedef)
        built.append(spec)
    order, glist, chunks = [], [], []
    for gi, (gkey, idx) in enumerate(groups.items()):
        start = len(order)
        order += idx
        width = min(cfg.chunk, len(idx))
        st, treedef = statics[gkey]
        glist.append(_Group(st, treedef, list(range(start, start + len(idx))), width))
        for a in range(start, start + len(idx), width):
            chunks.append((gi, a, min(a + width, start + len(idx))))
    blocks = math.gcd(cfg.chains, cfg.blocks)
    return _Plan(cfg, pts, order, glist, chunks, [built[i] for i in order], names, levels, blocks)


def stat_names(levels) -> tuple[str, ...]:
    return (*STATS_BASE, *(f"q{q:g}" for q in levels))


# --------------------------------------------------------------------------- the compute: engine.run_points
def _mesh_devices(blocks: int, devices=None) -> list:
    """The largest number of the devices (default `jax.devices()`, every process's) that divides `blocks`."""
    devs = list(jax.devices() if devices is None else devices)
    nproc = jax.process_count()
    use = max(k for k in range(1, len(devs) + 1) if blocks % k == 0)
    if nproc > 1 and use != len(devs):
        raise ValueError(f"{len(devs)} devices across {nproc} processes do not divide the {blocks} chain blocks "
                         f"(gcd(chains, blocks)); set blocks (and chains) so that the device count divides it")
    return devs[:use]


def _key_data(seed: int) -> np.ndarray:
    """The raw data of `jax.random.key(seed)` (threefry2x32), computed without compiling anything."""
    return np.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF], dtype=np.uint32)


def _chunk_run(key_data, specs, cfg: SweepConfig, blocks: int, devices: list):
    """Summaries `{metric: (points, G + 1, stats)}` of a stacked chunk of points, all with the same key
    (`engine.run_points`: fixed chain blocks, bitwise the same on any number of devices and hosts)."""
    res = _engine.run_points(key_data, specs, cfg.chains, metrics=cfg.metrics, quantiles=cfg.quantiles,
                             quantile_chains=cfg.quantile_chains, blocks=blocks, devices=devices)
    return {k: np.concatenate([_host(mean)[..., None], _host(std)[..., None], _host(q)], axis=-1)
            for k, (mean, std, q) in res.summary.items()}


def _store(group, res: dict, a: int, b: int) -> None:
    """Write one chunk's results (points a..b-1) into the zarr group."""
    for k, v in res.items():
        group[k][a:b] = v


def _host(x) -> np.ndarray:
    """A replicated (possibly multi-process) array as numpy."""
    return np.asarray(x.addressable_data(0))


# --------------------------------------------------------------------------- storage
ZARR = "results.zarr"
PROGRESS = "progress.json"
CONFIG = "config.json"


def _write_json(path: Path, obj) -> None:
    """Write JSON atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _coords(pl: _Plan) -> dict[str, np.ndarray]:
    raw = pl.cfg.raw_points()
    out = {}
    for k in pl.cfg.swept():
        vals = [raw[i].get(k) for i in pl.order]
        if any(v is None for v in vals):  # a list of points that do not all set k: the effective value
            vals = [pl.points[i].get(k, np.nan) for i in pl.order]
        out[k] = np.asarray(vals)
    return out


def _template(pl: _Plan, dtype):
    import xarray as xr

    g1 = pl.cfg.generations + 1
    stats = stat_names(pl.levels)
    data = {m: (("point", "generation", "stat"), np.full((len(pl.order), g1, len(stats)), np.nan, dtype))
            for m in pl.metrics}
    coords = {"point": np.arange(len(pl.order)), "generation": np.arange(g1), "stat": list(stats)}
    coords.update({k: ("point", v) for k, v in _coords(pl).items()})
    coords["config_index"] = ("point", np.asarray(pl.order))
    attrs = {"config": json.dumps(pl.cfg.as_dict(), sort_keys=True), "family": pl.cfg.family,
             "swept": json.dumps(list(pl.cfg.swept())), "mode": "grid" if pl.cfg.grid else "points",
             "chain_blocks": pl.blocks, "description": "jaxcollapse sweep: cross-chain summaries per point"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _prepare(out: Path, pl: _Plan, resume: bool, dtype) -> set[int]:
    """Create (or, with `resume`, check) the output folder; return the chunks already done."""
    cfgd = pl.cfg.as_dict()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output path {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise ValueError(f"output folder {out} is not empty; use --resume to continue the sweep in it, "
                             f"or --out to pick another folder")
        if not (out / CONFIG).is_file() or not (out / ZARR).is_dir():
            raise ValueError(f"{out} is not a sweep folder (no {CONFIG} or {ZARR}); refusing to resume into it")
        try:
            old = json.loads((out / CONFIG).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read {out / CONFIG}: {e}") from None
        diff = config_difference(old, cfgd)
        if diff:
            raise ValueError(f"{out} was written by a different config; refusing to resume ({'; '.join(diff)})")
        try:
            done = set(json.loads((out / PROGRESS).read_text())["done"])
        except FileNotFoundError:
            done = set()
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"cannot read {out / PROGRESS}: {e}") from None
        return done
    # built in a temporary sibling and renamed into place: a sweep killed here leaves no half-made folder
    import shutil
    import tempfile

    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.absolute().parent))
    try:
        ds = _template(pl, dtype)
        enc = {m: {"chunks": (1, ds.sizes["generation"], ds.sizes["stat"])} for m in pl.metrics}
        ds.to_zarr(tmp / ZARR, mode="w-", zarr_format=2, consolidated=True, encoding=enc)
        _write_json(tmp / PROGRESS, {"done": [], "chunks": len(pl.chunks)})
        _write_json(tmp / CONFIG, cfgd)
        os.chmod(tmp, 0o755)
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return set()


def _prepare_all(out: Path, pl: _Plan, resume: bool, dtype) -> set[int]:
    """`_prepare` on process 0; the other processes get its verdict and the finished chunks by broadcast
    (so only process 0 needs to see the output folder)."""
    if jax.process_count() == 1:
        return _prepare(out, pl, resume, dtype)
    from jax.experimental import multihost_utils

    status = np.zeros(len(pl.chunks) + 1, np.int32)
    error = None
    if jax.process_index() == 0:
        try:
            done = _prepare(out, pl, resume, dtype)
            status[0] = 1
            status[1 + np.asarray(sorted(done), np.int64)] = 1
        except (ValueError, OSError) as e:
            error = e
    status = np.asarray(multihost_utils.broadcast_one_to_all(status))
    if error is not None:
        raise error
    if status[0] != 1:
        raise ValueError("process 0 could not prepare the output folder (see its error)")
    return {int(i) for i in np.nonzero(status[1:])[0]}


# --------------------------------------------------------------------------- progress
class ProgressBar:
    """Counts and an ETA over chunks, on stderr (one line, redrawn)."""

    width = 24

    def __init__(self, total: int, done: int, points: int, quiet: bool, clock: Callable[[], float] = time.perf_counter):
        self.total, self.done, self.points, self.quiet = total, done, points, quiet
        self.start_done = done
        self.clock = clock
        self.t0 = clock()

    def update(self, n_points: int) -> None:
        self.done += 1
        if self.quiet:
            return
        el = self.clock() - self.t0
        ran = self.done - self.start_done
        eta = el / ran * (self.total - self.done) if ran else float("nan")
        frac = self.done / self.total
        bar = "#" * int(self.width * frac) + "." * (self.width - int(self.width * frac))
        sys.stderr.write(f"\r  sweep: chunk {self.done}/{self.total} [{bar}] {100 * frac:5.1f}%  "
                         f"elapsed {_hms(el)}  ETA {_hms(eta)}")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "--:--"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


# --------------------------------------------------------------------------- running
def run_sweep(config: SweepConfig | Mapping[str, Any] | str | os.PathLike, out: str | os.PathLike | None = None, *,
              resume: bool = False, quiet: bool = True, devices=None,
              on_chunk: Callable[[int], None] | None = None):
    """Run a sweep; return its labelled `xarray.Dataset` (see `open_sweep` for the layout).

    **Arguments:**

    - `config`: a `SweepConfig`, a config dict, or the path of a TOML file.
    - `out`: a folder to write ``results.zarr``, ``config.json`` and ``progress.json`` to, chunk by
      chunk; None keeps everything in memory.
    - `resume`: continue a sweep in `out` (refused, naming the difference, if its config differs).
    - `quiet`: no progress bar.
    - `devices`: the devices of the chain mesh (default `jax.devices()`, every process's).
    - `on_chunk`: called with the chunk index after each chunk is stored.

    Raises `ValueError` on a bad configuration or output folder before anything is compiled.
    """
    if isinstance(config, (str, os.PathLike)):
        cfg = load_config(config)
    elif isinstance(config, SweepConfig):
        cfg = config
    else:
        cfg = SweepConfig.from_dict(config)
    with _x64(cfg.x64):
        return _run(cfg, None if out is None else Path(out), resume, quiet, devices, on_chunk)


def _run(cfg: SweepConfig, out: Path | None, resume: bool, quiet: bool, devices, on_chunk):
    pl = plan(cfg)
    dtype = np.dtype(jnp.result_type(float))
    devs = _mesh_devices(pl.blocks, devices)
    writer = out is not None and jax.process_index() == 0
    if out is not None:
        done = _prepare_all(out, pl, resume, dtype)
        group = None
        if writer:
            import zarr

            group = zarr.open_group(str(out / ZARR), mode="r+", zarr_format=2)
    else:
        done = set()
        mem = {m: np.full((len(pl.order), cfg.generations + 1, len(stat_names(pl.levels))), np.nan, dtype)
               for m in pl.metrics}
    bar = ProgressBar(len(pl.chunks), len(done), len(pl.order), quiet or jax.process_index() != 0)
    if not bar.quiet:
        sys.stderr.write(f"  sweep: {len(pl.order)} points in {len(pl.groups)} static group(s), {len(pl.chunks)} "
                         f"chunks ({len(done)} done), {cfg.chains} chains on {len(devs)} device(s) of "
                         f"{jax.process_count()} process(es)\n")
    key_data = _key_data(cfg.seed)
    for ci, (gi, a, b) in enumerate(pl.chunks):
        if ci in done:
            continue
        g = pl.groups[gi]
        idx = list(range(a, b)) + [b - 1] * (g.width - (b - a))  # pad to the group's width
        specs = stack_specs([pl.specs[i] for i in idx])
        res = _chunk_run(key_data, specs, cfg, pl.blocks, devs)
        res = {k: v[: b - a] for k, v in res.items()}
        if out is None:
            for k, v in res.items():
                mem[k][a:b] = v
        elif writer:
            try:
                _store(group, res, a, b)
                done.add(ci)
                _write_json(out / PROGRESS, {"done": sorted(done), "chunks": len(pl.chunks)})
            except OSError as e:
                raise OSError(e.errno, f"cannot write the sweep results to {out}: {e.strerror or e}") from None
        bar.update(b - a)
        if on_chunk is not None:
            on_chunk(ci)
        pause = os.environ.get("JAXCOLLAPSE_SWEEP_PAUSE")  # testing hook: seconds to wait after each chunk
        if pause:
            time.sleep(float(pause))
    if out is None:
        ds = _template(pl, dtype)
        for k, v in mem.items():
            ds[k].values[...] = v
        return to_grid(ds)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("jaxcollapse-sweep-done")
    return open_sweep(out) if writer else None


def open_sweep(path: str | os.PathLike, *, grid: bool = True):
    """The dataset of a sweep folder: one dimension per grid parameter (for a product grid, when `grid`),
    else ``point``; then ``generation`` and ``stat``. Points not yet computed are NaN;
    ``attrs["complete"]`` says whether every chunk is done."""
    import xarray as xr

    p = Path(path)
    if not (p / ZARR).is_dir():
        raise ValueError(f"{p} is not a sweep folder (no {ZARR})")
    ds = xr.open_zarr(p / ZARR, consolidated=True).load()
    try:
        prog = json.loads((p / PROGRESS).read_text())
        ds.attrs["complete"] = len(prog["done"]) == prog["chunks"]
    except (OSError, json.JSONDecodeError, KeyError):
        ds.attrs["complete"] = False
    return to_grid(ds) if grid else ds


def to_grid(ds):
    """A flat sweep dataset (dimension ``point``) reshaped to one dimension per grid parameter, in config order.

    A list of points (no grid) is returned unchanged.
    """
    import xarray as xr

    if ds.attrs.get("mode") != "grid":
        return ds
    cfg = json.loads(ds.attrs["config"])
    names = [k for k, _ in cfg["grid"]]
    values = [v for _, v in cfg["grid"]]
    shape = tuple(len(v) for v in values)
    flat_pos = np.asarray(ds["config_index"].values)  # storage position -> config (row-major grid) index
    inv = np.empty_like(flat_pos)
    inv[flat_pos] = np.arange(flat_pos.size)
    data = {}
    for m in ds.data_vars:
        arr = np.asarray(ds[m].values)[inv]
        data[m] = ((*names, "generation", "stat"), arr.reshape(*shape, *arr.shape[1:]))
    coords = {k: v for k, v in zip(names, values, strict=True)}
    coords.update({"generation": ds["generation"].values, "stat": ds["stat"].values})
    return xr.Dataset(data, coords=coords, attrs=dict(ds.attrs))


# --------------------------------------------------------------------------- hosts
def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None) -> None:
    """`jax.distributed.initialize` for a multi-process sweep (call before anything else touches JAX).

    On CPU the cross-process collectives use gloo. With no arguments JAX detects the cluster
    (SLURM, Cloud TPU, ...); on other machines give all three, identically on every process but
    `process_id`. Each process then sees every process's devices in `jax.devices()`.
    """
    if (coordinator is None) != (num_processes is None) or (num_processes is None) != (process_id is None):
        raise ValueError("give the coordinator address, the number of processes and the process id together")
    if num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"process id {process_id} must lie in [0, {num_processes})")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if coordinator is None:
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
