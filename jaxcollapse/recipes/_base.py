r"""Recipes: one per family (or experiment), each a parameter schema and a builder.

A **recipe** turns a flat dict of parameters into what `simulate` needs, `(model, truth, regime)`, and
declares everything a generic tool needs to serve it: the parameter schema (`Param`), the supported
paths and regimes, the headline metric(s), the closed-form theory overlays, the figures and the `bayes`
model that fits the headline metric. `jaxcollapse run --family F` is written once against this
interface: its flags, TOML keys, ``--help`` and validation all come from the schema (``jaxcollapse
sweep`` builds its grid axes from the same schema: `Param.static` says whether an axis is vmapped or
grouped into one compile of its own).

## How to write a recipe (a new module ``jaxcollapse/recipes/<name>.py``)

The registry imports every module of this package that does not start with an underscore
(`pkgutil`), so a new file is all it takes; a test file may `register` a recipe of its own too.
Keep the module's top level light: import JAX and the families **inside** the methods, so that
``jaxcollapse run --help`` stays fast.

```python
from ._base import Param, Recipe, register, regime_from, run_params


class Bernoulli(Recipe):
    name = "bernoulli"
    description = "a coin refitted by maximum likelihood on its own flips"
    params = (
        # the shared run parameters (regimes, n, n_real, lam, w, temperature, drift, generations,
        # chains, seed, path, metrics, paths_chains, x64), with this family's defaults; leave a
        # knob out (drift=False, temperature=False) if the family does not support it, offer the
        # repair knobs (correction=True, extrapolation=True) if its capability flags declare them
        *run_params(n=50, generations=100, chains=2000, regimes=("replace", "accumulate"), drift=False),
        # the family's own parameters: a [bernoulli] table in TOML, --p on the command line
        Param("p", float, 0.3, "the truth's probability of heads", static=False, low=0.0, high=1.0),
    )
    metric_names = ("p", "absorbed")   # what the family measures, in the family's order
    headline = ("p",)                  # first one: the per-chain CSV; all of them: the table
    bayes = "diversity"                # spread | diversity | error: the model that fits headline[0]

    def build(self, params):
        from ..families.bernoulli import Bernoulli as B   # lazy: no JAX at import

        return B(params["p"]), None, regime_from(params)   # truth None: the model is the truth

    def theory(self, params, generations):
        import numpy as np

        t = np.arange(generations + 1)
        if params["regime"] == "replace":               # a martingale (derived here: E[p_t | p_{t-1}] = p_{t-1})
            return {"p": np.full(t.shape, params["p"])}
        return {}


register(Bernoulli())
```

What the runner calls, in order, for every regime name `r` of ``params["regimes"]``:

1. `Recipe.resolve(values)`: defaults, then `values` (TOML and flags), every value checked by its
   `Param` (one `ValueError` naming the parameter, its value and the valid range; an unknown key
   gets a "did you mean"); then `Recipe.check(params)` for constraints across parameters.
2. `Recipe.build({**params, "regime": r})` -> `(model, truth or None, Regime)`; build the regime
   with `regime_from(params)` (`jaxcollapse.regimes.from_params`, the one place that turns
   configuration into a `Regime`); the runner then calls `model.check_regime(regime, generations)`.
3. `Recipe.path(params)` ("exact" or "samples"), `Recipe.metrics(params)` (what to record; the
   headline metrics always), then `simulate`.
4. `Recipe.theory({**params, "regime": r}, generations)` -> `{metric: float64 array of length G + 1}`
   where a closed form exists (NaN entries: no value at that generation), shown beside the
   simulation in the table and the figures.
5. `Recipe.figures(folder, trajs, curves, params, detail)` writes the figures (default: a fan chart
   of each headline metric with its theory) and returns their file names; `detail[r]` is the
   trajectory of the first `paths_chains` chains with `paths` recorded (and `params` where
   `record_params` is set).

Every method but `build` has a default. Every `ValueError` raised by `check`, `build` or the family
before anything compiles becomes one line on stderr and exit status 2 in the CLI.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._registry import Registry

__all__ = ["Param", "Recipe", "RecipeRun", "register", "get", "names", "run", "run_params", "regime_from", "suggest",
           "REGIME_NAMES", "BAYES_MODELS", "PATHS"]

REGIME_NAMES = ("replace", "accumulate", "accumulate_subsample", "augment", "fresh", "weighted")
BAYES_MODELS = ("spread", "diversity", "error")
PATHS = ("exact", "samples")
_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def suggest(word: object, options: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the closest of `options`, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _g(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Param:
    r"""One parameter of a recipe: what it is, its default and the values it may take.

    - `name`: the TOML key and (dashes for underscores) the flag ``--name``.
    - `type`: `int`, `float`, `str` or `bool`; with `many=True` a list of them.
    - `default`: the value when neither TOML nor a flag sets it. `None` (with `optional=True`) means
      "unset": the recipe's rule applies, and `help` must say what it is.
    - `help`: one line for ``--help`` (the default and the valid range are appended).
    - `static`: True when the value sets an array shape or picks a code path (a sweep compiles once per
      value); False when it enters the computation as an array (a sweep vmaps over it).
    - `low`, `high` (inclusive, or exclusive with `low_open` / `high_open`) or `choices`: the valid
      values. Every number must be finite.
    - `table`: True for the family's own parameters (TOML table ``[<recipe name>]``), False for the
      shared run parameters (top-level TOML keys).
    - `flag`: the command-line flag when it differs from ``--name``; `cli`: False keeps it off the
      command line (TOML only).
    """

    name: str
    type: type
    default: Any
    help: str
    static: bool = True
    low: int | float | None = None
    high: int | float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    many: bool = False
    optional: bool = False
    table: bool = True
    flag: str | None = None
    cli: bool = True

    def __post_init__(self):
        if self.type not in _TYPE_WORDS:
            raise TypeError(f"Param {self.name}: type must be int, float, str or bool, got {self.type!r}")
        if self.default is None and not self.optional:
            raise TypeError(f"Param {self.name}: a default of None needs optional=True")
        if self.default is not None:
            self.check(self.default)  # a schema whose default is invalid is a bug of the recipe

    @property
    def option(self) -> str:
        """The command-line flag."""
        return self.flag or "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """The valid values in words, e.g. ``a number in [0, 1]`` or ``one of 'mle', 'mean'``."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = _TYPE_WORDS[self.type]
            lo = None if self.low is None else _g(self.low)
            hi = None if self.high is None else _g(self.high)
            if lo is not None and hi is not None:
                text += f" in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"
            elif lo is not None:
                text += f" {'>' if self.low_open else '>='} {lo}"
            elif hi is not None:
                text += f" {'<' if self.high_open else '<='} {hi}"
        if self.many:
            text = "a list of values, each " + text
        return text

    def _bad(self, value, why: str = "") -> ValueError:
        shown = value if not isinstance(value, (list, tuple)) else list(value)
        return ValueError(f"{self.name} = {shown!r} is invalid{why}: {self.name} must be {self.range_text()}")

    def _one(self, value, whole):
        t = self.type
        if t is bool:
            if not isinstance(value, bool):
                raise self._bad(whole)
            return value
        if t is int:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise self._bad(whole)
            value = int(value)
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise self._bad(whole)
            value = float(value)
            if not math.isfinite(value):
                raise self._bad(whole, " (not finite)")
        elif not isinstance(value, str):
            raise self._bad(whole)
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{self.name} = {value!r} is invalid{suggest(value, self.choices)}: "
                                 f"{self.name} must be {self.range_text()}")
            return value
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise self._bad(whole, " (out of range)")
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            raise self._bad(whole, " (out of range)")
        return value

    def check(self, value):
        """`value` converted to the parameter's type (a tuple if `many`), or one `ValueError` naming the
        parameter, the value and the valid range."""
        if value is None:
            if self.optional:
                return None
            raise self._bad(value)
        if not self.many:
            return self._one(value, value)
        if isinstance(value, str) and self.type is str:  # "a,b" or "a" for a list of strings
            value = [s.strip() for s in value.split(",") if s.strip()]
        if not isinstance(value, (list, tuple)) or not value:
            raise self._bad(value, " (give a non-empty list)")
        return tuple(self._one(v, value) for v in value)


def run_params(*, n: int, generations: int, chains: int, regimes: Sequence[str] = ("replace", "accumulate"),
               supported: Sequence[str] = REGIME_NAMES, paths: Sequence[str] = ("exact",),
               temperature: bool = True, drift: bool = True, correction: bool = False, extrapolation: bool = False,
               n_help: str = "samples", paths_chains: int = 256) -> tuple[Param, ...]:
    r"""The shared run parameters with a recipe's defaults (top-level TOML keys).

    `supported`: the regimes the family can run; `paths`: the paths it has (the first is the default);
    `temperature` / `drift`: False leaves the knob out when the family does not support it;
    `correction` / `extrapolation`: True offers the repair knobs (`jaxcollapse.regimes.self_correct`,
    `jaxcollapse.regimes.extrapolate`; unset by default, which is off), only for a family whose capability
    flag declares it (`supports_correction`, `supports_extrapolation`: the engine refuses a knob the family
    does not declare, and tests/test_repair.py checks that every recipe offers exactly its family's knobs);
    `n_help`: what one of the $n$ units is ("samples", "sequences", "rows").
    """
    out = [
        Param("regimes", str, tuple(regimes), "regimes to run, one point each", choices=tuple(supported), many=True,
              table=False, flag="--regime"),
        Param("n", int, n, f"synthetic {n_help} per generation (every regime but augment, whose synthetic count "
                           f"is round(lam * n_real))", low=1, table=False),
        Param("n_real", int, None, f"real {n_help}: per generation (fresh, weighted) or the fixed real set "
                                   "(augment); unset: n", low=1, optional=True, table=False),
        Param("lam", float, 1.0, "augment: synthetic-to-real ratio lambda", static=False, low=0.0, table=False),
        Param("w", float, 0.5, "weighted: total weight w of the real data", static=False, low=0.0, high=1.0,
              table=False),
        Param("real", str, "fixed", "weighted: the real data, a fixed set (drawn once) or fresh each generation",
              choices=("fixed", "fresh"), table=False),
        Param("subsample", int, None, "accumulate_subsample: training-set size; unset: n", low=1, optional=True,
              table=False),
    ]
    if temperature:
        out.append(Param("temperature", float, 1.0, "sampling temperature tau of the synthetic draws", static=False,
                         low=0.0, low_open=True, table=False))
    if drift:
        out.append(Param("drift", float, 0.0, "the truth moves by this much per generation", static=False,
                         table=False))
    if correction:
        out.append(Param("correction", float, None, "self-correction strength gamma (Gillman et al. 2024): each "
                                                    "synthetic sample is a truth draw with probability "
                                                    "gamma/(1+gamma); unset: off", static=False, low=0.0,
                         optional=True, table=False))
    if extrapolation:
        out.append(Param("extrapolation", float, None, "negative extrapolation weight w (Neon, Alemohammad et al. "
                                                       "2025): model = (1+w) fit(real) - w fit(synthetic); augment "
                                                       "or fresh; unset: off", static=False, low=0.0, high=1.0,
                         high_open=True, optional=True, table=False))
    out += [
        Param("generations", int, generations, "generations G", low=1, table=False),
        Param("chains", int, chains, "independent chains", low=1, table=False),
        Param("seed", int, 0, "seed of jax.random.key; every regime runs from the same key", low=0, table=False),
        Param("path", str, paths[0], "exact: sufficient statistics drawn directly; samples: the samples themselves",
              choices=tuple(paths), table=False),
        Param("metrics", str, None, "metrics to record (unset: all; the headline metrics always)", many=True,
              optional=True, table=False),
        Param("paths_chains", int, paths_chains, "chains written to the per-chain CSVs", low=1, table=False),
        Param("x64", bool, False, "float64 (default float32)", table=False),
    ]
    return tuple(out)


REGIME_KEYS = ("n", "n_real", "lam", "w", "real", "subsample", "temperature", "drift", "correction", "extrapolation")


def regime_from(params: Mapping[str, Any]):
    """The `Regime` of ``params["regime"]``: `jaxcollapse.regimes.from_params` on the regime keys of `params`."""
    from .. import regimes

    return regimes.from_params({"regime": params["regime"],
                                **{k: params[k] for k in REGIME_KEYS if params.get(k) is not None}})


_REQUIRED = ("regimes", "n", "generations", "chains", "seed", "path", "metrics", "paths_chains", "x64")


class Recipe:
    """A family (or experiment) for the generic tools. Subclass it, set the class attributes, write
    `build`; see the module docstring for an example and the order in which the runner calls the methods.

    Class attributes:

    - `name`: the family name (``--family NAME``, the TOML table ``[NAME]``).
    - `description`: one line for ``--help``.
    - `params`: the schema, `run_params(...)` plus the family's own `Param`s.
    - `metric_names`: the metrics the family measures, in a fixed order (the column order of summary.csv).
    - `headline`: the metrics of the table; ``headline[0]`` goes to the per-chain CSV and to ``forecast``.
    - `bayes`: the `jaxcollapse.bayes` model that fits ``headline[0]``: "spread", "diversity" or "error".
    - `record_params`: the per-chain run also records the models' parameters (for a figure).
    - `forecast_reliable`, `forecast_caveat`: False (and why, one sentence with the measured coverage) where
      the forecast of ``headline[0]`` by the `bayes` model was measured miscalibrated (90% intervals covering
      outside 80-97%; ``benchmarks/calibration.py``, `jaxcollapse.bayes.forecast_coverage`). Set from that
      measurement, never guessed; ``jaxcollapse forecast`` and `jaxcollapse.bayes.forecast` (``family=``)
      then say so in every output that carries the forecast.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]]
    metric_names: ClassVar[tuple[str, ...]]
    headline: ClassVar[tuple[str, ...]]
    bayes: ClassVar[str]
    record_params: ClassVar[bool] = False
    forecast_reliable: ClassVar[bool] = True
    forecast_caveat: ClassVar[str] = ""

    # ------------------------------------------------------------------ schema
    def schema(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overridden by `values`, every value checked (`Param.check`), then `check`.

        An unknown key is one `ValueError` with the closest valid key suggested."""
        schema = self.schema()
        out = self.defaults()
        for key, v in values.items():
            if key not in schema:
                raise ValueError(f"unknown parameter {key!r} for family {self.name!r}{suggest(key, schema)}; "
                                 f"its parameters: {', '.join(schema)}")
            out[key] = schema[key].check(v)
        out = {k: schema[k].check(v) for k, v in out.items()}
        self.check(out)
        return out

    # ------------------------------------------------------------------ the parts a recipe writes
    def check(self, params: dict[str, Any]) -> None:
        """Constraints across parameters (ValueError naming them). Default: the metrics and the regime
        names are known, none twice, and accumulate_subsample has the samples path."""
        regs = params["regimes"]
        if len(set(regs)) != len(regs):
            raise ValueError(f"regimes = {list(regs)!r} lists a regime twice")
        for m in params.get("metrics") or ():
            if m not in self.metric_names:
                raise ValueError(f"metrics: unknown metric {m!r}{suggest(m, self.metric_names)}; "
                                 f"family {self.name} measures {', '.join(self.metric_names)}")
        if "accumulate_subsample" in regs and params["path"] != "samples":
            raise ValueError("regime accumulate_subsample acts on individual samples: it needs path = 'samples' "
                             "(--path samples)")

    def build(self, params: dict[str, Any]) -> tuple[Any, Any, Any]:
        """`(model, truth, regime)` for ``params["regime"]``; `truth` None: the model is the truth."""
        raise NotImplementedError

    def path(self, params: dict[str, Any]) -> str:
        """The simulation path of this run."""
        return params["path"]

    def metrics(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The metrics to record, in `metric_names` order: ``params["metrics"]`` (default all) plus the headline."""
        chosen = set(params.get("metrics") or self.metric_names) | set(self.headline)
        return tuple(m for m in self.metric_names if m in chosen)

    def table(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The metrics of the table (besides any with a closed form). Default: `headline`."""
        return tuple(self.headline)

    def theory(self, params: dict[str, Any], generations: int) -> dict[str, np.ndarray]:
        """Closed-form expectations over generations 0..G for ``params["regime"]``, where they exist."""
        return {}

    def memory_hint(self, params: dict[str, Any]) -> int:
        """Numbers per chain that a run of ``params["regime"]`` holds beyond what the runner measures from the
        built model's shapes (the model, its key and metrics, the training buffer of the samples path): a
        per-generation evaluation matrix, a buffer that `build` allocates by n or G. The runner checks
        ``chains x memory_hint`` against the machine's memory *before* `build` too. Default: 0."""
        return 0

    def describe(self, params: dict[str, Any]) -> str:
        """The head line of the table."""
        own = ", ".join(f"{p.name}={_g(params[p.name])}" for p in self.params if p.table and params[p.name] is not None)
        return f"{self.name} ({own}), n={params['n']}"

    def notes(self, params: dict[str, Any]) -> list[str]:
        """Lines printed under the table."""
        return []

    def arrays(self, params: dict[str, Any], model) -> dict[str, np.ndarray]:
        """Extra arrays for results.npz (e.g. the truth's parameters), keyed ``truth/<name>``."""
        return {}

    def figures(self, folder: Path, trajs: dict, curves: dict, params: dict[str, Any],
                detail: dict | None = None) -> list[str]:
        """Write the figures into `folder`; return their file names. Default: one fan chart per headline
        metric (``<metric>.png``) with the theory curves."""
        from .. import plot

        written = []
        for metric in self.headline:
            theory = {r: c[metric] for r, c in curves.items() if metric in c and np.all(np.isfinite(c[metric]))}
            fig = plot.compare(trajs, metric, theory=theory)
            fig.axes[0].set_title(f"{self.name}: {metric}, n = {params['n']}, {params['chains']} chains",
                                  fontsize="medium")
            fig.savefig(folder / f"{metric}.png", dpi=150)
            _close(fig)
            written.append(f"{metric}.png")
        return written

    def __repr__(self) -> str:
        return f"<recipe {self.name}>"


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


# ---------------------------------------------------------------------- registry
_REGISTRY: Registry[Recipe] = Registry(__package__, "recipe")


def _validate(recipe: Recipe) -> None:
    cls = type(recipe)
    for attr in ("name", "params", "metric_names", "headline", "bayes"):
        if not hasattr(cls, attr):
            raise TypeError(f"recipe {cls.__name__} does not declare {attr!r}")
    names_ = [p.name for p in recipe.params]
    if len(set(names_)) != len(names_):
        raise TypeError(f"recipe {recipe.name}: a parameter is declared twice")
    missing = [k for k in _REQUIRED if k not in names_]
    if missing:
        raise TypeError(f"recipe {recipe.name}: missing run parameters {missing} (use run_params(...))")
    if recipe.bayes not in BAYES_MODELS:
        raise TypeError(f"recipe {recipe.name}: bayes must be one of {BAYES_MODELS}, got {recipe.bayes!r}")
    if not recipe.headline or not set(recipe.headline) <= set(recipe.metric_names):
        raise TypeError(f"recipe {recipe.name}: headline {recipe.headline} must be metrics of {recipe.metric_names}")
    if not recipe.forecast_reliable and not recipe.forecast_caveat.strip():
        raise TypeError(f"recipe {recipe.name}: forecast_reliable = False needs forecast_caveat (why, as measured)")
    if cls.build is Recipe.build:
        raise TypeError(f"recipe {recipe.name} does not implement build")


def register(recipe: Recipe | type[Recipe], *, replace: bool = False) -> Recipe:
    """Add `recipe` (an instance, or a class that takes no arguments) to the registry and return it.

    A second recipe of the same name is refused unless `replace` (re-registering the same class is fine)."""
    if isinstance(recipe, type):
        recipe = recipe()
    _validate(recipe)
    return _REGISTRY.add(recipe.name, recipe, replace=replace)


def unregister(name: str) -> None:
    """Remove a recipe (for tests that register one of their own)."""
    _REGISTRY.remove(name)


def names() -> tuple[str, ...]:
    """The registered recipe names, sorted."""
    return _REGISTRY.names()


def get(name: str) -> Recipe:
    """The recipe called `name` (ValueError with a suggestion if there is none)."""
    recipe = _REGISTRY.lookup(name)
    if recipe is None:
        known = _REGISTRY.names()
        raise ValueError(f"unknown family {name!r}{suggest(name, known)}; known families: {', '.join(known)}")
    return recipe



# ---------------------------------------------------------------------- running a recipe from Python
@dataclass(frozen=True)
class RecipeRun:
    """What `run` returns: the resolved `params`, and per regime name the `Trajectory` (`trajs`), the theory
    curves (`curves`, ``{metric: array of length G + 1}``) and the starting model (`models`)."""

    recipe: Recipe
    params: dict[str, Any]
    trajs: dict[str, Any]
    curves: dict[str, dict[str, np.ndarray]]
    models: dict[str, Any]


def run(recipe: Recipe | str, values: Mapping[str, Any] | None = None, *, key=None, record_paths: bool = False,
        record_params: bool = False, quantiles: Sequence[float] | None = None, devices=None) -> RecipeRun:
    r"""Run a recipe from Python as ``jaxcollapse run`` does, without writing anything.

    `values` override the recipe's defaults (the same keys as its TOML, checked by the same schema);
    every regime of ``params["regimes"]`` runs from the same key (``jax.random.key(params["seed"])``
    unless `key` is given), in float64 when ``params["x64"]``. The library face of the generic runner:
    `jaxcollapse.papers` builds its reproductions on it.
    """
    import contextlib

    import jax

    from .._config import x64
    from ..engine import DEFAULT_QUANTILES, simulate

    recipe = get(recipe) if isinstance(recipe, str) else recipe
    params = recipe.resolve(dict(values or {}))
    G, chains = params["generations"], params["chains"]
    ctx = x64() if params["x64"] else contextlib.nullcontext()
    trajs, curves, models = {}, {}, {}
    with ctx:
        if key is None:
            key = jax.random.key(params["seed"])
        built = {}
        for name in params["regimes"]:
            point = {**params, "regime": name}
            model, truth, regime = recipe.build(point)
            model.check_regime(regime, G)
            built[name] = (model, truth, regime)
            curves[name] = {k: np.asarray(v, np.float64) for k, v in recipe.theory(point, G).items()}
        metrics, path = recipe.metrics(params), recipe.path(params)
        for name, (model, truth, regime) in built.items():
            trajs[name] = simulate(key, model, regime, G, chains, truth=truth, path=path, metrics=metrics,
                                   record_paths=record_paths, record_params=record_params, devices=devices,
                                   quantiles=DEFAULT_QUANTILES if quantiles is None else tuple(quantiles))
            models[name] = model
    return RecipeRun(recipe, params, trajs, curves, models)
