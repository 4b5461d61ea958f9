r"""Predict a configuration's collapse rate without running it recursively (issue 17, item 1).

`measure` gives the covariate row of one configuration of a learned family from a few cheap one-step fits
on real data (no recursion): `fits` chains of the recipe run for **one** generation, and

- ``one_step``, for a **spread family** (kde, mixture, vae, diffusion: their recipes declare
  `bayes = "spread"`): the one-step log error $\overline{\ln(s_1/s_0)} + r_{\rm sample}(n)$ of the headline
  spread $s$ (``spread``; diffusion: ``trace``, `Family.metric`) (the mean over the fits, corrected by the known
  finite-sample term $r_{\rm sample}(n) = -E\ln(\chi^2_{n-1}/n)$, `jaxcollapse.bayes.r_sample`): an estimate
  of $\ln\kappa$ at the first refit (0 for a Gaussian MLE's refit in expectation);
- ``one_step``, for an **error family** (mlp: ``test_mse``; transformer: ``perplexity``; their declared model
  is the error-growth model): $\ln(\bar e_1 - \bar e_0)$, the log of the mean one-step increment of the
  headline error (positive, or a `ValueError`), with the levels ``e0`` $= \bar e_0$ and ``e1`` $= \bar e_1$
  (not covariates: the start of the predicted path and its unit; `jaxcollapse.bayes.fit_growth`);
- ``ln_n``: $\ln n$;
- the family's capacity and budget knobs (`FAMILIES`), on a log scale where they are scales: the EM
  iterations, the sampling temperature and the truth's separation (mixture); the kernel bandwidth at
  generation 0 (KDE: $h$ for a fixed kernel, Scott's or Silverman's $h$ from the data, read from the
  family's ``bandwidth`` metric); the width, training steps and learning rate (VAE, diffusion, MLP,
  transformer).

`predict` measures a configuration, fits `jaxcollapse.bayes.fit_covariates` to the family's shipped
design (`design_path`: package data measured by ``benchmarks/heldout.py``, every configuration with its
recursion's pooled log-ratio sums, or for an error family its measured growth per generation and the spread
of its increments), and returns the posterior predictive of the rate (an error family: of the growth per
generation) and of the generation at which a threshold is crossed (`jaxcollapse.bayes.RatePrediction`).
Every prediction carries the family's caveats (`caveats_of`).

`run_configurations` runs many configurations of one recipe under replace with the paths of one metric
recorded, grouping them by static configuration so that each group compiles once
(`jaxcollapse.engine.run_points`; traced parameters such as a learning rate or a bandwidth are vmapped).
Within a group every configuration reads the same random numbers (common random numbers).

Not imported by ``import jaxcollapse``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PREDICTABLE", "FAMILIES", "Family", "measure", "measure_many", "design_path", "predict",
           "run_configurations", "covariate_columns", "check_fixed", "metric_of", "model_of", "caveats_of"]


@dataclass(frozen=True)
class Family:
    """What `measure` records for one recipe: its headline metric (the recipe's declared `bayes` model says how it
    is predicted: ``"spread"``, ln kappa regressed; ``"error"``, the growth per generation regressed;
    `model_of`), its knob covariates (name -> function of the resolved params), what extra metrics it reads at
    generation 0 and 1, and the values the shipped design holds fixed."""

    knobs: dict[str, Callable[[Mapping[str, Any]], float]]
    extra: dict[str, Callable[[Mapping[str, np.ndarray]], float]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    metric: str = "spread"
    caveat: str = ""  # where the held-out prediction is not calibrated (benchmarks/heldout.py): every output says so


def _ln(name: str) -> Callable[[Mapping[str, Any]], float]:
    return lambda p: math.log(float(p[name]))


_NEURAL = {"ln_width": _ln("width"), "ln_steps": _ln("steps"), "ln_lr": _ln("learning_rate")}
FAMILIES: dict[str, Family] = {
    "mixture": Family(
        knobs={"ln_em_iters": _ln("em_iters"), "temperature": lambda p: float(p["temperature"]),
               "separation": lambda p: float(p["separation"])},
        fixed={"K": 2, "dim": 2, "covariance": "full", "init": "warm", "drift": 0.0, "keep": None}),
    "kde": Family(
        knobs={}, extra={"ln_h": lambda P: float(np.log(np.mean(P["bandwidth"][0])))}, metrics=("bandwidth",),
        fixed={"dim": 1, "variance": 1.0, "temperature": 1.0, "drift": 0.0}),
    "vae": Family(
        knobs=dict(_NEURAL),
        fixed={"data": "moons", "latent": 2, "depth": 2, "weight_decay": 0.0, "batch_size": None, "init": "fresh",
               "temperature": 1.0, "drift": 0.0}),
    "diffusion": Family(
        knobs=dict(_NEURAL), metric="trace",
        fixed={"data": "mixture", "classes": None, "net": "mlp", "depth": 2, "weight_decay": 0.0, "batch_size": None,
               "init": "fresh", "freqs": 4, "sampler": "euler", "sample_steps": 8, "n_eval": 128,
               "temperature": 1.0, "drift": 0.0}),
    "mlp": Family(
        knobs=dict(_NEURAL), metric="test_mse",
        fixed={"dim": 1, "label_noise": 0.1, "depth": 2, "weight_decay": 0.0, "batch_size": None, "init": "fresh",
               "temperature": 1.0, "drift": 0.0}),
    "transformer": Family(
        knobs=dict(_NEURAL), metric="perplexity",
        fixed={"context": 16, "prompt": 4, "depth": 1, "heads": 2, "weight_decay": 0.0, "batch_size": 32,
               "init": "fresh", "top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0, "decode": "sample",
               "beam_width": 1, "n_eval": 32, "n_heldout": 32, "temperature": 1.0}),
}
PREDICTABLE: tuple[str, ...] = tuple(sorted(FAMILIES))
METRIC = "spread"  # the default headline metric (`Family.metric`): the spread of kde, mixture and vae


def metric_of(family: str) -> str:
    """The headline metric whose recursion `family`'s design targets (`Family.metric`)."""
    return _family(family).metric


def model_of(family: str) -> str:
    """The model of `family`'s prediction: its recipe's declared `bayes` model, ``"spread"`` or ``"error"``."""
    from . import recipes

    _family(family)
    return recipes.get(family).bayes


def covariate_columns(family: str) -> tuple[str, ...]:
    """The covariates `measure` returns for `family`, in order."""
    f = _family(family)
    return ("one_step", "ln_n", *f.knobs, *f.extra)


def _family(name) -> Family:
    from . import recipes

    rname = name.name if isinstance(name, recipes.Recipe) else name
    if rname not in FAMILIES:
        raise ValueError(f"family {rname!r} has no shipped design; predictable families: {PREDICTABLE}")
    return FAMILIES[rname]


def _resolve(recipe, values: Mapping[str, Any] | None, generations: int, chains: int, metrics=()) -> dict:
    from . import recipes

    r = recipes.get(recipe) if isinstance(recipe, str) else recipe
    head = FAMILIES[r.name].metric if r.name in FAMILIES else METRIC
    vals = dict(values or {})
    for k in ("regimes", "generations", "chains", "metrics", "path", "paths_chains"):
        vals.pop(k, None)
    vals.update(regimes=["replace"], generations=int(generations), chains=int(chains),
                metrics=list(dict.fromkeys([head, *metrics])))
    p = r.resolve(vals)
    p["regime"] = "replace"
    return p


def run_configurations(recipe, configs: Sequence[Mapping[str, Any]], *, key, generations: int, chains: int,
                       metrics: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], int]:
    r"""Run each configuration (recipe values) under replace for `generations` with `chains` chains.

    `metrics`: default the family's headline metric (`Family.metric`; ``spread`` for a recipe with no entry
    in `FAMILIES`). Returns `{metric: paths (K, G + 1, chains)}` (float64) and the number of compiled groups.
    Every configuration is resolved and built (a `ValueError` naming the parameter) before anything compiles.
    """
    import jax

    from . import engine, recipes

    r = recipes.get(recipe) if isinstance(recipe, str) else recipe
    head = FAMILIES[r.name].metric if r.name in FAMILIES else METRIC
    metrics = (head,) if metrics is None else tuple(metrics)
    extra = tuple(m for m in metrics if m != head)
    specs, groups = [], {}
    for i, v in enumerate(configs):
        p = _resolve(r, v, generations, chains, extra)
        model, truth, regime = r.build(p)
        spec = engine.make_spec(model, regime, int(generations), truth=truth, path=r.path(p))
        leaves, td = jax.tree.flatten(spec)
        gk = (td, tuple((np.shape(x), np.asarray(x).dtype.str) for x in leaves))
        groups.setdefault(gk, []).append(i)
        specs.append(spec)
    out = {m: [None] * len(specs) for m in metrics}
    for idx in groups.values():
        res = engine.run_points(key, engine.stack_specs([specs[i] for i in idx]), int(chains), metrics=list(metrics),
                                record_paths=True)
        for m in metrics:
            P = np.asarray(res.paths[m], np.float64)
            for j, i in enumerate(idx):
                out[m][i] = P[j]
    return {m: np.stack(v) for m, v in out.items()}, len(groups)


def measure_many(recipe, configs: Sequence[Mapping[str, Any]], *, key, fits: int = 64,
                 strict: bool = True) -> list[dict[str, float]]:
    """`measure` for many configurations of one recipe (grouped by static configuration: few compiles).

    `strict=False`: an error family's configuration whose one-step increment is not positive gets ``one_step``
    NaN instead of a `ValueError` (the benchmark drops it and counts it)."""
    from . import recipes
    from .bayes._covariates import r_sample

    r = recipes.get(recipe) if isinstance(recipe, str) else recipe
    fam = _family(r.name)
    if isinstance(fits, bool) or not isinstance(fits, (int, np.integer)) or fits < 2:
        raise ValueError(f"fits must be an integer >= 2, got {fits!r}")
    params = [_resolve(r, v, 1, fits, fam.metrics) for v in configs]
    paths, _ = run_configurations(r, configs, key=key, generations=1, chains=int(fits),
                                  metrics=(fam.metric, *fam.metrics))
    out = []
    for i, p in enumerate(params):
        s = paths[fam.metric][i]
        if r.bayes == "error":
            row = _error_row(i, fam.metric, s, strict)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log(s[1] / s[0])
            y = y[np.isfinite(y)]
            if y.size < 2:
                raise ValueError(f"configuration {i}: fewer than two finite one-step log ratios of {fam.metric} (the "
                                 "fits diverged or collapsed to 0)")
            row = {"one_step": float(y.mean() + r_sample(float(p["n"])))}
        row["ln_n"] = math.log(float(p["n"]))
        row.update({k: float(f(p)) for k, f in fam.knobs.items()})
        row.update({k: float(f({m: paths[m][i] for m in paths})) for k, f in fam.extra.items()})
        out.append({c: row[c] for c in (*covariate_columns(r.name), *ERROR_REFERENCE) if c in row})
    return out


ERROR_REFERENCE = ("e0", "e1")  # an error family's measured levels at generations 0 and 1 (no covariates)


def _error_row(i: int, metric: str, s: np.ndarray, strict: bool = True) -> dict[str, float]:
    r"""An error family's one-step row: ``one_step`` $= \ln(\bar e_1 - \bar e_0)$ (the log of the mean
    one-step increment of the headline error over the fits), and the levels ``e0``, ``e1`` (the means)."""
    ok = np.isfinite(s[0]) & np.isfinite(s[1])
    if ok.sum() < 2:
        raise ValueError(f"configuration {i}: fewer than two finite one-step values of {metric} (the fits diverged)")
    e0, e1 = float(s[0][ok].mean()), float(s[1][ok].mean())
    if not e1 > e0:
        if not strict:
            return {"one_step": math.nan, "e0": e0, "e1": e1}
        raise ValueError(f"configuration {i}: the mean one-step increment of {metric} is {e1 - e0:.4g} <= 0 (the "
                         "error did not grow in the one-step fits); the growth model needs a positive first step")
    return {"one_step": math.log(e1 - e0), "e0": e0, "e1": e1}


def measure(recipe, values: Mapping[str, Any] | None = None, *, key, fits: int = 64) -> dict[str, float]:
    r"""The covariate row of ONE configuration (module docstring), from `fits` one-step fits on real data.

    `recipe`: a predictable recipe (`PREDICTABLE`) or its name; `values`: its parameters (the recipe's
    TOML keys; checked by its schema before anything compiles); `key`: a `jax.random.key` (use one other
    than the recursion's). Runs one generation of `fits` chains; no recursion.
    """
    from .bayes._fit import _check_key

    _check_key(key)
    return measure_many(recipe, [values or {}], key=key, fits=fits)[0]


def design_path(family: str) -> Path:
    """The shipped design of `family` (package data ``jaxcollapse/bayes/designs/<family>.csv``)."""
    _family(family)
    p = Path(str(resources.files("jaxcollapse.bayes").joinpath("designs", f"{family}.csv")))
    if not p.exists():
        raise ValueError(f"family {family!r} has no shipped design at {p} (run benchmarks/heldout.py)")
    return p


def check_fixed(family: str, params: Mapping[str, Any]) -> None:
    """A `ValueError` where `params` (resolved recipe values) change a value that `family`'s shipped design holds
    fixed (`Family.fixed`): the shipped design cannot predict it (measure a design that varies it)."""
    _check_fixed(family, _family(family), params)


def _check_fixed(name: str, fam: Family, params: Mapping[str, Any]) -> None:
    for k, v in fam.fixed.items():
        if k in params and params[k] != v and not (isinstance(v, float) and params[k] is not None
                                                   and math.isclose(float(params[k]), v)):
            raise ValueError(f"{k} = {params[k]!r} is outside the shipped {name} design, which holds {k} = {v!r} "
                             "fixed; measure a design that varies it and pass it as design=")


def predict(recipe, values: Mapping[str, Any] | None = None, *, key, design=None, fits: int = 64, horizon: int = 50,
            threshold: float | None = None, start: float = 1.0, num_warmup: int = 500, num_samples: int = 500,
            num_chains: int = 2, n_eff: str = "free"):
    r"""Measure a configuration (`measure`), fit `fit_covariates` to the family's shipped design (or `design`:
    a `Design` or a CSV path), and predict its rate and crossing generation (`RatePrediction`).

    An error family (its recipe declares `bayes = "error"`: mlp, transformer) predicts the growth of its headline
    error per generation (`jaxcollapse.bayes.fit_growth`); its `threshold` is a level of the error relative to the error
    after one refit $e_1$ (above 1; `start` does not apply: the path starts at the measured $e_0 / e_1$).

    Bad input is refused before anything compiles: a family with no design, a parameter outside the recipe's
    schema, a value that the shipped design holds fixed (`FAMILIES`), a bad threshold or horizon. A
    covariate outside the design's range gives a warning in the prediction (extrapolation).
    """
    import jax

    from . import recipes
    from .bayes import _covariates as C
    from .bayes._fit import _check_key, _check_sampler

    r = recipes.get(recipe) if isinstance(recipe, str) else recipe
    fam = _family(r.name)
    _check_key(key)
    _check_sampler(num_warmup, num_samples, num_chains, "vectorized")
    p = _resolve(r, values, 1, max(2, int(fits)) if isinstance(fits, (int, np.integer)) else 2, fam.metrics)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if threshold is not None and r.bayes == "error":
        t = float(threshold)
        if not (math.isfinite(t) and t > 1):
            raise ValueError(f"threshold must be a finite level of {fam.metric} above 1 (the error after one refit, "
                             f"e_1), got {threshold!r}")
    elif threshold is not None:
        t = float(threshold)
        if not (math.isfinite(t) and t > 0) or t == float(start):
            raise ValueError(f"threshold must be a finite number > 0 other than start ({start}), got {threshold!r}")
    if design is None:
        _check_fixed(r.name, fam, p)
        d = C.read_design(design_path(r.name), family=r.name)
    elif isinstance(design, C.Design):
        d = design
    else:
        d = C.read_design(design, family=r.name)
    cols = covariate_columns(r.name)
    missing = [c for c in d.columns if c not in cols]
    if missing:
        raise ValueError(f"column {missing[0]!r} of the design is not measured for {r.name}; measure gives {cols}")
    if d.model != r.bayes:
        raise ValueError(f"the design is a {d.model} design, but {r.name}'s prediction uses the {r.bayes} model")
    k1, k2, k3 = jax.random.split(key, 3)
    row = measure(r, values, key=k1, fits=fits)
    post = C.fit_covariates(d, key=k2, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                            n_eff=n_eff)
    x = {c: row[c] for c in d.columns}
    label = r.describe({**p, "regime": "replace"}) if hasattr(r, "describe") else r.name
    if r.bayes == "error":
        pred = post.predict(x, float(p["n"]), key=k3, horizon=horizon, threshold=threshold, start=row["e0"],
                            label=label, metric=fam.metric)
    else:
        pred = post.predict(x, float(p["n"]), key=k3, horizon=horizon, threshold=threshold, start=start, label=label)
    caveats = tuple(c for c in caveats_of(r.name) if c not in pred.warnings)
    return dataclasses.replace(pred, warnings=caveats + tuple(pred.warnings)) if caveats else pred


def caveats_of(family: str) -> tuple[str, ...]:
    """The caveats every prediction of `family` carries: its forecast marked unreliable
    (`jaxcollapse.bayes.family_caveat`) and its held-out prediction not calibrated (`Family.caveat`)."""
    from .bayes import family_caveat

    fam = _family(family)
    return tuple(c for c in (family_caveat(family), fam.caveat) if c)
