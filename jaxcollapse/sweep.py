r"""Parameter sweeps of any recipe: grids of configurations, sharded over devices and hosts, resumable storage.

A sweep runs the engine of `jaxcollapse.simulate` at many configurations ("points") of one recipe
(`jaxcollapse.recipes`: a family, or an experiment such as ``decomposition``). The grid axes and the
``[params]`` keys are the recipe's parameters (`sweep_params`: its schema without the run parameters
that the sweep's own top-level keys set, plus ``regime``), each checked by its `Param` (type, valid
range, choices) before anything runs; a name the recipe does not have is refused with the closest one
suggested. Each point is built by the recipe (`Recipe.build`) into `(model, truth, regime)`. Points
are grouped by their *static* configuration (what sets a shape or picks a code path: the regime preset,
`n_real`, `subsample`, the dimension, the estimator, the synthetic sample size on the ``"samples"``
path; the recipe's `Param.static` parameters); within a group everything else ($n$ on the exact path,
$\lambda$, $w$, $\tau$, the drift, the truth's parameters, a learning rate) is an array, and the
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
``(point, generation, stat)`` (stat: ``mean``, ``std``, ``q0.05``, ...; a metric named like a swept
parameter is stored as ``<name>_metric``, `metric_variable`), one coordinate per swept
parameter along ``point``, and the full configuration (JSON) in the attributes. Each point is its
own zarr chunk, so writing a chunk of points never rewrites another's data; ``DIR/progress.json``
(replaced atomically after each chunk's data is written) lists the finished chunks. A sweep killed
at any moment resumes (``resume=True``) with the unfinished chunks and ends bitwise equal to an
uninterrupted run. `open_sweep(DIR)` returns the labelled dataset, with one dimension per grid
parameter for a product grid.

Configuration (a dict, or a TOML file for ``jaxcollapse sweep``; one example per family in
``examples/sweeps/``)::

    family = "gaussian"        # a recipe: jaxcollapse.recipes.names()
    generations = 200
    chains = 10000
    seed = 0
    path = "exact"             # or "samples"; default: the recipe's
    metrics = ["trace_ratio", "w2sq"]   # default: all of the family's
    quantiles = [0.05, 0.5, 0.95]
    chunk = 8                  # points per compiled call
    x64 = false

    [params]                   # fixed values (default: the recipe's defaults)
    n_real = 50

    [grid]                     # the product of these lists ...
    regime = ["replace", "accumulate", "fresh"]
    n = [10, 20, 50, 100]

    # ... or an explicit list of points:  [[points]]  n = 10  temperature = 1.05

    [[plot]]                   # phase diagrams drawn after the run (metric and stat must be recorded)
    x = "n"
    y = "regime"
    metric = "trace_ratio"

Parameters: ``regime`` (one of the recipe's regimes: a preset of `jaxcollapse.regimes`, or the
decomposition's error sources), the regime knobs the recipe declares (``n``: synthetic samples per
generation; ``n_real``, ``lam``, ``w``, ``real``, ``subsample``, ``temperature``, ``drift``; see
`jaxcollapse.regimes.from_params`), and the family's own parameters (``jaxcollapse run --family F
--help`` lists them; Gaussian: ``mean``, ``variance``, ``dim``, ``estimator``). A parameter that no
point's regime reads, and two points that give the same configuration, are refused.
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
from ._config import x64 as _x64
from .engine import DEFAULT_BLOCKS, DEFAULT_QUANTILES, ChainOptions, make_spec, stack_specs

__all__ = [
    "SweepConfig",
    "initialize_distributed",
    "load_config",
    "open_sweep",
    "run_sweep",
]


# The regime parameters each preset reads (`jaxcollapse.regimes.from_params`): a swept parameter that no
# point's regime reads is refused, and two points that differ only in unread parameters are duplicates.
# A recipe's own point names (the decomposition's error sources) read every regime parameter it declares.
PRESET_PARAMS: dict[str, tuple[str, ...]] = {
    "replace": ("n", "temperature", "drift"),
    "accumulate": ("n", "temperature", "drift"),
    "accumulate_subsample": ("n", "subsample", "temperature", "drift"),
    "augment": ("n_real", "lam", "temperature", "drift"),
    "fresh": ("n_real", "n", "temperature", "drift"),
    "weighted": ("n_real", "n", "w", "real", "temperature", "drift"),
}
REGIME_KEYS = ("n", "n_real", "lam", "w", "real", "subsample", "temperature", "drift")
# a recipe's run parameters that a sweep sets by its own top-level keys (or, for `regimes`, by `regime`)
RUN_ONLY = ("regimes", "generations", "chains", "seed", "path", "metrics", "paths_chains", "x64")
TOP_KEYS = ("family", "generations", "chains", "seed", "path", "metrics", "quantiles", "quantile_chains", "chunk",
            "blocks", "x64", "params", "grid", "points", "plot")
PLOT_KEYS = ("x", "y", "metric", "stat", "generation", "below", "boundary", "log", "center", "name")
STATS_BASE = ("mean", "std")


def _suggest(word: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _recipe(family):
    """The recipe of `family` (`jaxcollapse.recipes.get`; a ValueError with a suggestion if there is none)."""
    from . import recipes

    if not isinstance(family, str):
        raise ValueError(f"family must be a string (a recipe name), got {family!r}")
    return recipes.get(family)


def sweep_params(recipe) -> dict[str, Any]:
    """The parameters a sweep of `recipe` may fix in ``[params]`` or sweep in ``[grid]`` / ``[[points]]``.

    The recipe's schema (`jaxcollapse.recipes.Param`: type, default, valid range, static or traced)
    without the run parameters that the sweep sets by its top-level keys (`RUN_ONLY`), plus ``regime``:
    one of the regimes the recipe runs (default: the first of its default ``regimes``).
    """
    from .recipes import Param

    schema = recipe.schema()
    regs = schema["regimes"]
    out = {"regime": Param("regime", str, regs.default[0], "the regime of the point (one of the recipe's regimes)",
                           choices=regs.choices, table=False)}
    out.update({k: p for k, p in schema.items() if k not in RUN_ONLY})
    return out


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
    """A validated sweep configuration; build it with `SweepConfig.from_dict` or `load_config`.

    `family` names a recipe (`jaxcollapse.recipes`); `params`, `grid` and `points` use the names of
    `sweep_params(recipe)`; `path` defaults to the recipe's default path.
    """

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

    def recipe(self):
        """The family's recipe."""
        return _recipe(self.family)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SweepConfig:
        """Check every key and value of a config dict (as read from TOML); `ValueError` names the first problem.

        Nothing is compiled: the points are built and checked by `plan`, which `run_sweep` calls before
        computing anything."""
        if not isinstance(raw, Mapping):
            raise ValueError("a sweep config must be a table of keys")
        for k in raw:
            if k not in TOP_KEYS:
                raise ValueError(f"unknown key {k!r}{_suggest(k, TOP_KEYS)}; valid keys: {', '.join(TOP_KEYS)}")
        family = raw.get("family", "gaussian")
        recipe = _recipe(family)
        schema = recipe.schema()
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
        paths = schema["path"].choices
        kw["path"] = raw.get("path", schema["path"].default)
        if kw["path"] not in paths:
            raise ValueError(f"unknown path {kw['path']!r}{_suggest(kw['path'], paths)} for family {family!r}; "
                             f"choose one of {', '.join(paths)}")
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
            for s in m:
                if s not in recipe.metric_names:
                    raise ValueError(f"unknown metric {s!r}{_suggest(s, recipe.metric_names)}; family {family!r} "
                                     f"measures {', '.join(recipe.metric_names)}")
            kw["metrics"] = tuple(m)
        if "quantiles" in raw:
            q = raw["quantiles"]
            if not isinstance(q, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in q):
                raise ValueError(f"quantiles must be a list of numbers in [0, 1], got {q!r}")
            if any(not 0 <= v <= 1 for v in q) or len(set(q)) != len(q):
                raise ValueError(f"quantiles must be distinct levels in [0, 1], got {q}")
            kw["quantiles"] = tuple(float(v) for v in q)
        allp = sweep_params(recipe)

        def checked(name, value, where):
            if name not in allp:
                raise ValueError(f"unknown parameter {name!r} in {where}{_suggest(name, allp)}; parameters of "
                                 f"family {family!r}: {', '.join(allp)}")
            try:
                return allp[name].check(value)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None

        params = raw.get("params", {})
        if not isinstance(params, Mapping):
            raise ValueError("[params] must be a table of parameter = value")
        fixed = {k: checked(k, v, "[params]") for k, v in params.items()}
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
            if k not in allp:
                checked(k, None, "[grid]")
            if k in fixed:
                raise ValueError(f"parameter {k!r} is both fixed in [params] and swept in [grid]")
            if not isinstance(vals, list):
                vals = [vals]
            if not vals:
                raise ValueError(f"grid parameter {k!r} has no values (an empty grid)")
            vals = tuple(checked(k, v, "[grid]") for v in vals)
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
                if k in fixed:
                    raise ValueError(f"parameter {k!r} is fixed in [params] and also set by point {i}")
                q[k] = checked(k, v, f"point {i}")
            pts.append(q)
        kw["points"] = tuple(pts)
        recorded = kw.get("metrics") or recipe.metric_names
        stats = stat_names(kw.get("quantiles", DEFAULT_QUANTILES))
        kw["plot"] = tuple(_plot_spec(p, self_names(raw), recorded, stats, kw.get("generations", 100))
                           for p in _plot_tables(raw.get("plot", [])))
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
        """Every point's effective parameters (those its regime and family read, unset ones resolved), checked.

        Raises `ValueError` for a swept or fixed parameter that no point's regime reads, and for two points
        that give the same configuration.
        """
        allp = sweep_params(self.recipe())
        family_keys = [k for k in allp if k != "regime" and k not in REGIME_KEYS]
        raw = self.raw_points()
        out, used = [], set()
        for sw in raw:
            full = {k: p.default for k, p in allp.items()}
            full.update(self.params)
            full.update(sw)
            reg = full["regime"]
            reads = [k for k in PRESET_PARAMS.get(reg, REGIME_KEYS) if k in allp]
            eff = {"regime": reg, **{k: full[k] for k in reads}}
            for k in ("n_real", "subsample"):  # unset: n (`regimes.from_params`)
                if k in eff and eff[k] is None:
                    eff[k] = full["n"]
                    reads.append("n")
            eff.update({k: full[k] for k in family_keys})
            used.update(("regime", *reads, *family_keys))
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


def _plot_tables(plots) -> list:
    if isinstance(plots, Mapping):
        plots = [plots]
    if not isinstance(plots, list):
        raise ValueError("plot must be a table or a list of tables")
    return plots


def _plot_spec(p, swept: list[str], recorded, stats, generations: int) -> PlotSpec:
    """A checked `[[plot]]` table: known keys, swept axes, a recorded metric and statistic, a known boundary."""
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
    gen = p.get("generation", -1)
    if not -(generations + 1) <= gen <= generations:
        raise ValueError(f"plot generation = {gen} is out of range: the sweep records generations 0..{generations} "
                         "(negative: from the end)")
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
        if p[k] not in swept:
            raise ValueError(f"plot {k} = {p[k]!r} is not a swept parameter")
    if p["metric"] not in recorded:
        raise ValueError(f"plot metric = {p['metric']!r} is not recorded{_suggest(p['metric'], recorded)}; "
                         f"the sweep records {', '.join(recorded)} (add it to metrics)")
    if p.get("stat", "mean") not in stats:
        raise ValueError(f"plot stat = {p['stat']!r} is not recorded{_suggest(p['stat'], stats)}; the sweep records "
                         f"{', '.join(stats)} (a quantile q<level> needs its level in quantiles)")
    if p.get("boundary"):
        from . import theory

        if not callable(getattr(theory, p["boundary"], None)):
            raise ValueError(f"plot boundary = {p['boundary']!r} is not a function of jaxcollapse.theory"
                             f"{_suggest(p['boundary'], [n for n in dir(theory) if not n.startswith('_')])}")
    return PlotSpec(**p)


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
    """`(model, truth, regime)` of one effective point: the recipe's `build` on its full parameters.

    The point's values, the run parameters of the sweep (generations, chains, seed, path, metrics, x64)
    and the recipe's defaults for the rest go through `Recipe.resolve` (every value and the constraints
    across them checked), then to `Recipe.build`. A truth of None is the model itself."""
    recipe = cfg.recipe()
    values = {k: v for k, v in p.items() if k != "regime"}
    values.update({"regimes": [p["regime"]], "generations": cfg.generations, "chains": cfg.chains,
                   "seed": cfg.seed, "path": cfg.path, "x64": cfg.x64,
                   "metrics": None if cfg.metrics is None else list(cfg.metrics)})
    full = recipe.resolve(values)
    full["regime"] = p["regime"]
    model, truth, regime = recipe.build(full)
    return model, model if truth is None else truth, regime


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
    variables: dict[str, str] = field(default_factory=dict)  # metric -> its data variable (`metric_variable`)


def plan(cfg: SweepConfig) -> _Plan:
    """Build and check every point (a `ValueError` before anything compiles); group them by static configuration.

    Two points share a group (and one compiled program) when their `(model, truth, regime)` have the same
    tree structure, leaf shapes and dtypes and the same static options: the recipe's static parameters
    (`Param.static`) set those, its traced ones only change leaf values, which are stacked and vmapped."""
    pts = cfg.resolved_points()
    built = []
    groups: dict[Any, list[int]] = {}
    statics: dict[Any, tuple[ChainOptions, Any]] = {}
    for i, p in enumerate(pts):
        try:
            model, truth, regime = _build(cfg, p)
            spec = make_spec(model, regime, cfg.generations, truth=truth, path=cfg.path)
            names, levels = _engine.summary_options(type(model), cfg.metrics, cfg.quantiles, cfg.quantile_chains)
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
    return _Plan(cfg, pts, order, glist, chunks, [built[i] for i in order], names, levels, blocks,
                 {m: metric_variable(cfg, m) for m in names})


def metric_variable(cfg: SweepConfig, metric: str) -> str:
    """The dataset variable of `metric`: its name, or ``<name>_metric`` when a swept parameter has the same
    name (the Poisson family's ``rate`` is both a parameter and a metric; the parameter keeps the name of
    its dimension)."""
    return f"{metric}_metric" if metric in cfg.swept() else metric


def check_devices(devices: int | None, chains: int, blocks: int) -> None:
    """Refuse a device count that the machine or the chain blocks cannot serve (a ValueError naming the fix).

    The chains run in B = gcd(chains, blocks) blocks, shared equally by the devices."""
    if devices is None:
        return
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)) or devices < 1:
        raise ValueError(f"devices must be an integer >= 1, got {devices!r}")
    avail = len(jax.devices())
    if devices > avail:
        hint = ("; on a CPU expose cores as devices: XLA_FLAGS=--xla_force_host_platform_device_count=N"
                if jax.default_backend() == "cpu" else "")
        raise ValueError(f"devices = {devices}: this machine has {avail} device(s); give 1 to {avail}{hint}")
    b = math.gcd(chains, blocks)
    if b % devices:
        raise ValueError(f"devices = {devices} does not divide the {b} chain blocks (gcd(chains = {chains}, blocks = "
                         f"{blocks})): set blocks = {devices * max(1, blocks // devices)} and chains a multiple of "
                         f"it, or use a device count that divides {b}")


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
            vals = [pl.points[i].get(k) for i in pl.order]
            vals = [np.nan if v is None else v for v in vals]
        out[k] = np.asarray(vals)
    return out


def _template(pl: _Plan, dtype):
    import xarray as xr

    g1 = pl.cfg.generations + 1
    stats = stat_names(pl.levels)
    data = {m: (("point", "generation", "stat"), np.full((len(pl.order), g1, len(stats)), np.nan, dtype))
            for m in pl.variables.values()}
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
        enc = {m: {"chunks": (1, ds.sizes["generation"], ds.sizes["stat"])} for m in pl.variables.values()}
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
    - `devices`: the devices of the chain mesh: a number $k$ (the first $k$ of `jax.devices()`; it must
      divide the gcd(chains, blocks) chain blocks) or a list (default: every device of
      `jax.devices()`, every process's, up to the largest count that divides the blocks).
    - `on_chunk`: called with the chunk index after each chunk is stored.

    Raises `ValueError` on a bad configuration or output folder before anything is compiled.
    """
    if isinstance(config, (str, os.PathLike)):
        cfg = load_config(config)
    elif isinstance(config, SweepConfig):
        cfg = config
    else:
        cfg = SweepConfig.from_dict(config)
    if isinstance(devices, (int, np.integer)) or isinstance(devices, bool):
        check_devices(devices, cfg.chains, cfg.blocks)
        devices = jax.devices()[: int(devices)]
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
               for m in pl.variables.values()}
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
        res = {pl.variables[k]: v[: b - a] for k, v in res.items()}
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
