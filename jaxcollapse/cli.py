r"""The command line: ``jaxcollapse run | verify | bench``.

``jaxcollapse run``
    With no arguments, the default experiment: a 1-D Gaussian $N(0, 1)$ refitted by maximum
    likelihood on $n = 100$ samples per generation, 10,000 chains, 200 generations, on the exact
    (sufficient-statistics) path, in float32, seed 0, under three regimes:

    - ``replace``: each generation trains on 100 samples of the previous model;
    - ``accumulate``: each generation adds 100 synthetic samples to all earlier ones;
    - ``fresh``: each generation trains on 50 fresh real samples plus 50 synthetic ones (the
      generation's $n$ is split into $n_{\rm real}$ real and $n - n_{\rm real}$ synthetic samples,
      $n_{\rm real} = \lfloor n/2\rfloor$ unless ``--n-real`` says otherwise), so that every regime
      trains each generation on the same number of new samples.

    It prints a table of theory against simulation (the cross-chain mean $\pm$ its standard error
    and $z = (\text{mean} - \text{theory})/\text{stderr}$) at generations 1, 10, 50, 200 (those
    $\le G$, and $G$) for the variance (``trace``; $\sigma_t^2$ in 1-D) and the mean squared error
    ``mean_sq_err`` $\|\mu_t - \mu\|^2$, and writes to the output folder (``--out``, default
    ``jaxcollapse_out/``):

    - ``results.npz``: `Trajectory.to_numpy()` of every regime, keys prefixed by the regime
      (``replace/mean/trace``, ``replace/q0.05/trace``, ...), plus ``theory/<regime>/<metric>``
      for the theory curves over generations $0..G$;
    - ``summary.csv``: one row per generation; columns ``<regime>/<metric>/mean`` and ``.../std``;
    - ``chains_variance.csv``: one row per generation, one column per chain (``chain_0`` ...), of
      the variance (``trace``) of the first `paths_chains` (256) chains of the *first* regime. It
      comes from a small extra run with the same key: chain $i$ is the same whatever the number of
      chains, so these are exactly the first chains of the main run;
    - ``config.toml``: the resolved configuration (loadable again with ``--config``);
    - ``table.txt``: the printed table;
    - ``variance.png``: fan charts of the variance across chains, one per regime, with the theory.

    Every regime runs from the same key (common random numbers), so a regime's result does not
    depend on which other regimes run beside it.

``jaxcollapse verify``
    Runs the theory-vs-simulation checks of `jaxcollapse.verify`, prints the table, and exits 1
    if a check fails (``--list`` lists the checks).

``jaxcollapse bench [ARGS...]``
    Runs ``benchmarks/bench_gaussian.py`` of a source checkout with ``ARGS`` passed through
    (e.g. ``jaxcollapse bench --quick``).

**Configuration.** Flags override a TOML file (``--config FILE.toml``), which overrides the
defaults. The TOML schema (see ``examples/default.toml``) has top-level keys mirroring the flags
of ``run``, with dashes written as underscores, and one table per family:

```toml
family = "gaussian"          # --family; other families have runners of their own (run --family X --help)
regimes = ["replace", "accumulate", "fresh"]   # --regime; any of replace, accumulate,
                             # accumulate_subsample, augment, fresh, weighted
n = 100                      # --n: synthetic samples per generation (fresh/weighted: all samples)
generations = 200            # --generations
chains = 10000               # --chains
seed = 0                     # --seed
dim = 1                      # --dim: dimension d of the Gaussian
estimator = "mle"            # --estimator: mle | unbiased | mean
path = "exact"               # --path: exact | samples
temperature = 1.0            # --temperature tau > 0: synthetic draws from N(mu, tau^2 Sigma)
drift = 0.0                  # --drift v: the truth's mean moves by v per generation
lam = 1.0                    # --lam in [0, 1]: augment's synthetic share (lam * n_real samples)
w = 0.5                      # --w in [0, 1]: weighted's weight on the real data
n_real = 50                  # --n-real: real samples per generation (fresh, weighted; default n // 2)
                             # or the fixed real set's size (augment; default n)
metrics = ["trace", "mean_sq_err"]   # --metrics (default: all; trace and mean_sq_err always)
paths_chains = 256           # --paths-chains: chains in chains_variance.csv
x64 = false                  # --x64: float64
out = "jaxcollapse_out"      # --out

[gaussian]
mean = 0.0                   # the truth's mean (every coordinate)
variance = 1.0               # the truth's variance sigma^2 (covariance sigma^2 I in d dims)
```

Regimes are built by `jaxcollapse.regimes`: ``accumulate_subsample`` trains on a subsample of
size $n$ of all synthetic samples so far (``--path samples`` only); ``augment`` is a fixed real
set of `n_real` samples plus $\lambda\, n_{\rm real}$ synthetic ones; ``weighted`` uses a fixed
real set and the weight `w`.

**Theory overlays** (from `jaxcollapse.theory`, evaluated in float64; $s^2 = d\,\sigma^2 =
\mathrm{tr}\,\Sigma$; see `theory_curves`), shown only where a closed form exists and "—" elsewhere:

- MLE, replace: $\mathbb E\,\mathrm{tr}\,\Sigma_t = s^2(\tau^2(1-1/n))^t$ and the matching mean error
  (Shumailov et al. 2024; any temperature $\tau$), and with a drift $v$ the mean error $+\,v^2t^2$;
- MLE, accumulate, fresh, augment, weighted ($\tau = 1$): the exact mean-squared-error recursions,
  and the variance from the conservation law $\mathbb E[\|\mu_t-\mu\|^2 + \mathrm{tr}\,\Sigma_t] = s^2$;
- unbiased, replace ($\tau = 1$): $\mathbb E\,\mathrm{tr}\,\Sigma_t = s^2$,
  $\mathbb E\|\mu_t-\mu\|^2 = s^2\sum_{i\le t} 1/n_i$ (Shumailov et al. 2024), plus $v^2t^2$ with a drift;
- mean estimator (covariance known, $\tau = 1$): the mean error under every regime but
  accumulate_subsample (Dey and Donoho 2024 for accumulate).

A drifting truth is only a yardstick where no real data enter after generation 0 (replace,
accumulate), so there the variance's curve is kept; where real data follow the drift only the
mean-estimator fresh formula applies. accumulate_subsample has no closed form.

**Errors.** Any invalid input — a bad value, an unknown regime, family, metric or TOML key (with
the closest valid key suggested), malformed TOML, a missing config file, a non-empty output
folder without ``--force`` — prints one line ``jaxcollapse: error: ...`` on stderr and exits with
code 2, before anything is written. Output is written to a temporary sibling folder and renamed
into place at the end, so a crash never leaves a half-written output folder.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

PROG = "jaxcollapse"
# ``jaxcollapse run --family NAME`` for a family other than gaussian is handled by a module of its own:
# `module.main(argv)` gets the arguments after ``run`` (``--family NAME`` included), raises `CLIError`
# on bad input and returns the exit status.
RUN_FAMILIES: dict[str, str] = {"ngram": "jaxcollapse._cli_ngram", "regression": "jaxcollapse._cli_regression",
                                "mixture": "jaxcollapse._cli_learned", "kde": "jaxcollapse._cli_learned",
                                "decomposition": "jaxcollapse._cli_learned",
                                "categorical": "jaxcollapse._cli_discrete", "poisson": "jaxcollapse._cli_discrete",
                                "vae": "jaxcollapse._cli_neural", "mlp": "jaxcollapse._cli_neural"}
FAMILIES = ("gaussian", *RUN_FAMILIES)
# Further commands, each handled by `module.main(argv)` with the arguments after the command's name.
COMMANDS: dict[str, tuple[str, str]] = {
    "sweep": ("jaxcollapse._cli_sweep", "run a parameter sweep from a TOML config (resumable)"),
    "forecast": ("jaxcollapse._cli_forecast", "fit the Bayesian collapse model to a CSV/NPZ and forecast"),
}
TABLE_GENERATIONS = (1, 10, 50, 200)
TABLE_METRICS = ("trace", "mean_sq_err")
PATHS_CSV = "chains_variance.csv"


class CLIError(Exception):
    """A one-line error for the user; `code` is the exit status (2: bad input)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(" ".join(str(message).split()))
        self.code = code


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class RunConfig:
    """The resolved configuration of ``jaxcollapse run`` (defaults = the default experiment)."""

    family: str = "gaussian"
    regimes: tuple[str, ...] = ("replace", "accumulate", "fresh")
    n: int = 100
    generations: int = 200
    chains: int = 10_000
    seed: int = 0
    dim: int = 1
    estimator: str = "mle"
    path: str = "exact"
    temperature: float = 1.0
    drift: float = 0.0
    lam: float = 1.0
    w: float = 0.5
    n_real: int | None = None
    metrics: tuple[str, ...] | None = None
    paths_chains: int = 256
    x64: bool = False
    out: str = "jaxcollapse_out"
    mean: float = 0.0  # [gaussian] table
    variance: float = 1.0  # [gaussian] table

    @property
    def sigma2_total(self) -> float:
        """$\\mathrm{tr}\\,\\Sigma = d\\,\\sigma^2$."""
        return self.dim * self.variance


_INT, _FLOAT, _STR, _BOOL, _STRS = "an integer", "a number", "a string", "a boolean", "a list of strings"
TOP_KEYS: dict[str, str] = {
    "family": _STR, "regimes": _STRS, "n": _INT, "generations": _INT, "chains": _INT, "seed": _INT,
    "dim": _INT, "estimator": _STR, "path": _STR, "temperature": _FLOAT, "drift": _FLOAT, "lam": _FLOAT,
    "w": _FLOAT, "n_real": _INT, "metrics": _STRS, "paths_chains": _INT, "x64": _BOOL, "out": _STR,
}
FAMILY_KEYS: dict[str, dict[str, str]] = {"gaussian": {"mean": _FLOAT, "variance": _FLOAT}}


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_regime_names(names, known) -> None:
    """At least one regime, each one of `known`, none twice: else one `CLIError` (shared by the runners)."""
    if not names:
        raise CLIError("give at least one regime")
    for r in names:
        if r not in known:
            raise CLIError(f"unknown regime {r!r}{_suggest(r, known)}; known regimes: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise CLIError(f"a regime is listed twice: {', '.join(names)}")


def _convert(key: str, kind: str, value):
    """`value` checked against `kind`; raises CLIError naming `key`."""
    bad = CLIError(f"{key} must be {kind}, got {value!r}")
    if kind == _INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return int(value)
    if kind == _FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if not math.isfinite(float(value)):
            raise CLIError(f"{key} must be finite, got {value!r}")
        return float(value)
    if kind == _STR:
        if not isinstance(value, str):
            raise bad
        return value
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise bad
        return value
    # list of strings; a single string, or a comma-separated one, is accepted too
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise bad
    items = [s.strip() for v in value for s in v.split(",") if s.strip()]
    return tuple(items)


def read_toml(path: str) -> dict:
    """The parsed TOML file at `path`; a missing, unreadable or malformed file is a one-line `CLIError`."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"config file not found: {path}")
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CLIError(f"malformed TOML in {path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"cannot read config file {path}: {e}") from None


def load_toml(path: str) -> dict:
    """Read a config file into a flat dict of checked values (family table keys included)."""
    raw = read_toml(path)
    out: dict = {}
    valid_top = list(TOP_KEYS) + list(FAMILY_KEYS)
    for key, value in raw.items():
        if key in FAMILY_KEYS:
            if not isinstance(value, dict):
                raise CLIError(f"{path}: [{key}] must be a table")
            for sub, v in value.items():
                if sub not in FAMILY_KEYS[key]:
                    raise CLIError(f"{path}: unknown key {key}.{sub!r}{_suggest(sub, FAMILY_KEYS[key])}; "
                                   f"valid keys of [{key}]: {', '.join(FAMILY_KEYS[key])}")
                out[sub] = _convert(f"{key}.{sub}", FAMILY_KEYS[key][sub], v)
            out["_table"] = key
        elif key in TOP_KEYS:
            out[key] = _convert(key, TOP_KEYS[key], value)
        else:
            raise CLIError(f"{path}: unknown key {key!r}{_suggest(key, valid_top)}")
    return out


def resolve(flags: dict, config_file: str | None) -> RunConfig:
    """Defaults, overridden by the TOML file, overridden by flags; then every value checked."""
    values = {f.name: f.default for f in fields(RunConfig)}
    table = None
    if config_file is not None:
        loaded = load_toml(config_file)
        table = loaded.pop("_table", None)
        values.update(loaded)
    for key, v in flags.items():
        if v is not None:
            values[key] = _convert(key, TOP_KEYS[key], v) if key in TOP_KEYS else v
    cfg = RunConfig(**values)
    if table is not None and table != cfg.family:
        raise CLIError(f"the config has a [{table}] table but the family is {cfg.family!r}")
    _check_values(cfg)
    return cfg


def _check_values(cfg: RunConfig) -> None:
    from .engine import PATHS
    from .families.gaussian import ESTIMATORS, Gaussian
    from .regimes import PRESETS

    if cfg.family not in FAMILIES:
        raise CLIError(f"unknown family {cfg.family!r}{_suggest(cfg.family, FAMILIES)}; "
                       f"known families: {', '.join(FAMILIES)}")
    check_regime_names(cfg.regimes, PRESETS)
    for key, lo in (("n", 1), ("generations", 1), ("chains", 1), ("dim", 1), ("paths_chains", 1), ("seed", 0)):
        if getattr(cfg, key) < lo:
            raise CLIError(f"{key} must be >= {lo}, got {getattr(cfg, key)}")
    if cfg.n_real is not None and cfg.n_real < 1:
        raise CLIError(f"n_real must be >= 1, got {cfg.n_real}")
    if cfg.estimator not in ESTIMATORS:
        raise CLIError(f"unknown estimator {cfg.estimator!r}{_suggest(cfg.estimator, ESTIMATORS)}; "
                       f"choose one of {', '.join(ESTIMATORS)}")
    if cfg.path not in PATHS:
        raise CLIError(f"unknown path {cfg.path!r}; choose one of {', '.join(PATHS)}")
    if not cfg.temperature > 0:
        raise CLIError(f"temperature must be > 0, got {cfg.temperature}")
    for key in ("lam", "w"):
        v = getattr(cfg, key)
        if not 0.0 <= v <= 1.0:
            raise CLIError(f"{key} must lie in [0, 1], got {v}")
    if not cfg.variance > 0:
        raise CLIError(f"gaussian.variance must be > 0, got {cfg.variance}")
    metrics = cfg.metrics or ()
    for m in metrics:
        if m not in Gaussian.metric_names:
            raise CLIError(f"unknown metric {m!r}{_suggest(m, Gaussian.metric_names)}; "
                           f"known metrics: {', '.join(Gaussian.metric_names)}")
    if cfg.estimator == "unbiased" and cfg.n < 2:
        raise CLIError(f"the unbiased estimator needs n >= 2 samples per generation, got n = {cfg.n}")
    if "accumulate_subsample" in cfg.regimes and cfg.path != "samples":
        raise CLIError("regime accumulate_subsample acts on individual samples: use --path samples")


def _split(cfg: RunConfig, name: str) -> tuple[int, int]:
    """(n_real, n_synthetic) of a fresh or weighted generation: the n samples split in two."""
    n_real = cfg.n // 2 if cfg.n_real is None else cfg.n_real
    if not 1 <= n_real <= cfg.n - 1:
        raise CLIError(f"regime {name} splits the n = {cfg.n} samples of a generation into n_real real and "
                       f"n - n_real synthetic ones: need 1 <= n_real <= n - 1, got n_real = {n_real}")
    return n_real, cfg.n - n_real


def build_regime(cfg: RunConfig, name: str):
    """The `Regime` a regime name stands for under `cfg` (ValueError/CLIError on bad values)."""
    from . import regimes as R

    knobs = {"temperature": cfg.temperature, "drift": cfg.drift}
    if name in ("replace", "accumulate", "accumulate_subsample"):
        return R.preset(name, n=cfg.n, **knobs)
    if name == "augment":
        return R.augment(cfg.n if cfg.n_real is None else cfg.n_real, cfg.lam, **knobs)
    n_real, n_syn = _split(cfg, name)
    if name == "fresh":
        return R.fresh(n_real, n_syn, **knobs)
    return R.weighted(n_real, n_syn, cfg.w, **knobs)


def build_model(cfg: RunConfig):
    from .families import Gaussian

    if cfg.dim == 1:
        return Gaussian(cfg.mean, cfg.variance, cfg.estimator)
    return Gaussian(np.full(cfg.dim, cfg.mean), cfg.variance, cfg.estimator)


def metric_names(cfg: RunConfig) -> tuple[str, ...]:
    from .families import Gaussian

    chosen = Gaussian.metric_names if cfg.metrics is None else cfg.metrics
    return tuple(dict.fromkeys(tuple(TABLE_METRICS) + tuple(chosen)))


# --------------------------------------------------------------------------- theory
def theory_curves(cfg: RunConfig, name: str) -> dict[str, np.ndarray]:
    r"""Theory curves over generations $0..G$ for `trace` and `mean_sq_err`, where a closed form exists.

    Evaluated in float64 from `jaxcollapse.theory` with $s^2 = \mathrm{tr}\,\Sigma = d\sigma^2$ (every
    formula used is linear in the trace) and, in $d$ dimensions, $\|v\|^2 = d v^2$ for the drift.
    A metric without a closed form for this regime, estimator, temperature and drift is absent.
    """
    from . import theory as th
    from ._config import x64

    G, n, s2 = cfg.generations, cfg.n, cfg.sigma2_total
    t = np.arange(G + 1)
    tau, v = cfg.temperature, cfg.drift * math.sqrt(cfg.dim)
    still, hot = cfg.drift == 0.0, cfg.temperature != 1.0
    est = cfg.estimator
    if name in ("fresh", "weighted"):
        n_real, n_syn = _split(cfg, name)
    elif name == "augment":
        n_real = cfg.n if cfg.n_real is None else cfg.n_real
        n_syn = round(cfg.lam * n_real)
    out: dict[str, object] = {}
    with x64():
        if est == "mle" and name == "replace":
            out["trace"] = th.mle_variance_tempered(t, n, tau, s2)
            if still:
                out["mean_sq_err"] = th.mle_mean_sq_err_tempered(t, n, tau, s2)
            elif not hot:
                out["mean_sq_err"] = th.drift_mean_sq_err(t, n, v, s2, estimator="mle")
        elif est == "mle" and not hot:
            # mean error against the initial truth; the variance follows by conservation,
            # E[|mu_t - mu_0|^2 + tr Sigma_t] = tr Sigma, which a drifting yardstick does not affect
            # where no real data enter after generation 0 (accumulate)
            mse0 = None
            if name == "accumulate":
                mse0 = th.accumulate_mle_mean_sq_err(t, n, s2)
            elif still and name == "fresh":
                mse0 = th.fresh_mle_mean_sq_err(t, n_real, n_syn, s2)
            elif still and name == "augment" and n_syn >= 1:
                mse0 = th.augment_mean_sq_err(t, n_real, cfg.lam, s2)
            elif still and name == "weighted":
                mse0 = th.mixed_mean_sq_err(t, n_real, n_syn, 1.0 - cfg.w, s2, real="fixed")
            if mse0 is not None:
                out["trace"] = s2 - np.asarray(mse0, np.float64)
                if still:
                    out["mean_sq_err"] = mse0
        elif est == "unbiased" and name == "replace" and not hot:
            out["trace"] = th.unbiased_variance(t, s2)
            if still:  # cumulative over fits 1..G
                out["mean_sq_err"] = np.concatenate([[0.0], np.asarray(th.unbiased_mean_sq_err(np.full(G, n), s2))])
            else:
                out["mean_sq_err"] = th.drift_mean_sq_err(t, n, v, s2, estimator="unbiased")
        elif est == "mean" and not hot:  # the covariance is known and kept: only the mean moves
            if name == "replace":
                out["mean_sq_err"] = th.drift_mean_sq_err(t, n, v, s2, estimator="mean")
            elif name == "accumulate" and still:
                out["mean_sq_err"] = th.accumulate_mean_sq_err_known_var(t, n, s2)
            elif name == "fresh":
                out["mean_sq_err"] = th.fresh_drift_mean_sq_err(t, n_real, n_syn, v, s2)
            elif name == "augment" and still and n_syn >= 1:
                out["mean_sq_err"] = th.augment_mean_sq_err(t, n_real, cfg.lam, s2, estimator="mean")
            elif name == "weighted" and still:
                out["mean_sq_err"] = th.mixed_mean_sq_err(t, n_real, n_syn, 1.0 - cfg.w, s2, real="fixed",
                                                          estimator="mean")
    curves = {k: np.broadcast_to(np.asarray(c, np.float64), t.shape).copy() for k, c in out.items()}
    for k, c in curves.items():
        if not np.all(np.isfinite(c)):
            raise RuntimeError(f"theory curve {name}/{k} is not finite")
    return curves


def _fmt(x: float) -> str:
    return f"{x:.6g}" if math.isfinite(x) else str(x)


def theory_table(cfg: RunConfig, trajs: dict, curves: dict) -> str:
    """Theory against simulation at a few generations: mean ± stderr and z for trace and mean_sq_err."""
    G = cfg.generations
    ts = sorted({t for t in TABLE_GENERATIONS if t <= G} | {G})
    rows = [("regime", "metric", "t", "theory", "simulation (mean ± stderr)", "z")]
    for name, traj in trajs.items():
        for metric in TABLE_METRICS:
            mean = np.asarray(traj.mean(metric), np.float64)
            se = np.asarray(traj.stderr(metric), np.float64)
            th = curves[name].get(metric)
            for t in ts:
                sim = f"{_fmt(mean[t])} ± {se[t]:.3g}"
                if th is None:
                    rows.append((name, metric, str(t), "—", sim, "—"))
                    continue
                z = (mean[t] - th[t]) / se[t] if se[t] > 0 and math.isfinite(se[t]) else float("nan")
                rows.append((name, metric, str(t), _fmt(th[t]), sim, f"{z:+.2f}" if math.isfinite(z) else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    head = (f"Gaussian d={cfg.dim} ({cfg.estimator}), n={cfg.n}, {cfg.chains} chains, {G} generations, "
            f"{cfg.path} path, tau={cfg.temperature:g}, drift={cfg.drift:g}, seed {cfg.seed}"
            f"{', float64' if cfg.x64 else ''}")
    rule = "-" * len(lines[0])
    note = "z = (mean - theory) / stderr; — : no closed form for this regime/estimator"
    return "\n".join([head, rule, lines[0], rule, *lines[1:], rule, note])


# --------------------------------------------------------------------------- output
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def config_toml(cfg: RunConfig, regimes: dict, metrics: tuple[str, ...]) -> str:
    from . import __version__

    lines = [f"# written by jaxcollapse {__version__}; run it again with: jaxcollapse run --config config.toml "
             "--out NEW_DIR", ""]
    for f in fields(RunConfig):
        if f.name in ("mean", "variance"):
            continue
        v = getattr(cfg, f.name)
        if f.name == "metrics":
            v = metrics
        if v is None:
            lines.append(f"# {f.name} not set: the regime's default")
        else:
            lines.append(f"{f.name} = {_toml_value(v)}")
    lines += ["", f"[{cfg.family}]", f"mean = {_toml_value(cfg.mean)}", f"variance = {_toml_value(cfg.variance)}", ""]
    lines.append("# resolved regimes:")
    lines += [f"#   {r.describe()}" for r in regimes.values()]
    lines.append(f"# {PATHS_CSV}: the variance (trace) of the first {min(cfg.paths_chains, cfg.chains)} chains "
                 f"of regime {cfg.regimes[0]}")
    return "\n".join(lines) + "\n"


def _num(x) -> str:
    return format(float(x), ".9g")


def _write_csv(path: Path, header: list[str], columns: list[np.ndarray]) -> None:
    data = np.stack([np.asarray(c, np.float64) for c in columns], axis=1)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for row in data:
            f.write(",".join(_num(x) for x in row) + "\n")


def write_outputs(folder: Path, cfg: RunConfig, regimes: dict, metrics, trajs: dict, curves: dict, paths_traj,
                  table: str) -> None:
    from .plot import compare

    arrays: dict[str, np.ndarray] = {}
    for name, traj in trajs.items():
        arrays.update({f"{name}/{k}": v for k, v in traj.to_numpy().items()})
        arrays.update({f"theory/{name}/{k}": v for k, v in curves[name].items()})
    np.savez(folder / "results.npz", **arrays)

    gens = np.arange(cfg.generations + 1)
    header, cols = ["generation"], [gens]
    for name, traj in trajs.items():
        for m in metrics:
            header += [f"{name}/{m}/mean", f"{name}/{m}/std"]
            cols += [np.asarray(traj.mean(m)), np.asarray(traj.std(m))]
    _write_csv(folder / "summary.csv", header, cols)

    paths = np.asarray(paths_traj.paths["trace"])  # (G + 1, chains)
    _write_csv(folder / PATHS_CSV, ["generation"] + [f"chain_{i}" for i in range(paths.shape[1])],
               [gens] + [paths[:, i] for i in range(paths.shape[1])])

    (folder / "config.toml").write_text(config_toml(cfg, regimes, metrics), encoding="utf-8")
    (folder / "table.txt").write_text(table + "\n", encoding="utf-8")

    fig = compare(trajs, "trace", theory={k: c["trace"] for k, c in curves.items() if "trace" in c})
    ax = fig.axes[0]
    ax.set_ylabel("variance $\\sigma_t^2$" if cfg.dim == 1 else "trace $\\mathrm{tr}\\,\\Sigma_t$")
    ax.set_title(f"Gaussian ({cfg.estimator}), n = {cfg.n}, {cfg.chains} chains")
    fig.savefig(folder / "variance.png", dpi=120)


def _check_out(out: Path, force: bool) -> None:
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise CLIError(f"output path {out} exists and is not a folder")
        if any(out.iterdir()) and not force:
            raise CLIError(f"output folder {out} is not empty; use --force to replace it, or --out to pick another")
        here = Path.cwd().resolve()
        if force and (out.resolve() == here or out.resolve() in here.parents):
            raise CLIError(f"refusing to replace {out}: it is the current folder or contains it")


def _publish(out: Path, force: bool, write) -> None:
    """Call `write(tmp)` on a temporary sibling of `out`, then rename it into place."""
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    try:
        write(tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if out.exists():
            _check_out(out, force)  # created meanwhile?
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- progress
class _Progress:
    """A progress bar on stderr for `simulate(progress=...)` (drawn only when stderr is a terminal).

    One instance serves every run of the process (its `label` is set before each run), so the
    compiled program, whose static configuration includes this callable, is reused across runs.
    """

    width = 24

    def __init__(self):
        self.label = ""
        self.enabled = True  # --quiet turns it off here, not in `simulate`, so quiet runs reuse the program

    def __call__(self, t, total) -> None:
        if not self.enabled or not sys.stderr.isatty():  # a log file gets only the per-regime timing line
            return
        t, total = int(t), int(total)
        done = int(self.width * t / total)
        sys.stderr.write(f"\r  {self.label:<22s} generation {t:>6d}/{total} [{'#' * done}{'.' * (self.width - done)}]")
        if t >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


_PROGRESS = _Progress()


def build_checked(build_model, build_regime, cfg, names, generations: int):
    """The model and the named regimes of a run, every regime checked against the model (`check_regime`);
    a `ValueError` becomes a one-line `CLIError`. Shared by the Gaussian run and the family runners."""
    try:
        model = build_model(cfg)
        regimes = {name: build_regime(cfg, name) for name in names}
        for regime in regimes.values():
            model.check_regime(regime, generations)
    except ValueError as e:
        raise CLIError(str(e)) from None
    return model, regimes


def simulate_regimes(key, model, regimes: dict, generations: int, chains: int, *, path, quiet: bool, say,
                     **kwargs) -> dict:
    """One `simulate` per regime, in order, with the progress bar and a timing line each; `path` is a path
    name or a function of the regime's name. Extra keywords go to `simulate`."""
    import jax

    from .engine import simulate

    trajs = {}
    for name, regime in regimes.items():
        t0 = time.perf_counter()
        _PROGRESS.label, _PROGRESS.enabled = name, not quiet
        trajs[name] = jax.block_until_ready(simulate(
            key, model, regime, generations, chains, path=path(name) if callable(path) else path,
            progress=_PROGRESS, **kwargs))
        say(f"  {name}: {time.perf_counter() - t0:.1f} s")
    return trajs


# --------------------------------------------------------------------------- commands
def cmd_run(args) -> int:
    flags = {k: getattr(args, k) for k in TOP_KEYS}
    cfg = resolve(flags, args.config)
    out = Path(cfg.out)
    _check_out(out, bool(args.force))
    quiet = bool(args.quiet)
    say = (lambda *a: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    import jax

    from ._config import x64
    from .engine import simulate

    ctx = x64() if cfg.x64 else contextlib.nullcontext()
    with ctx:
        model, regimes = build_checked(build_model, build_regime, cfg, cfg.regimes, cfg.generations)
        metrics = metric_names(cfg)
        curves = {name: theory_curves(cfg, name) for name in regimes}
        key = jax.random.key(cfg.seed)
        t_start = time.perf_counter()
        say(f"{PROG} run: Gaussian d={cfg.dim} ({cfg.estimator}), n={cfg.n}, {cfg.chains} chains, "
            f"{cfg.generations} generations, {cfg.path} path, regimes {', '.join(cfg.regimes)}")
        try:
            trajs = simulate_regimes(key, model, regimes, cfg.generations, cfg.chains, path=cfg.path, quiet=quiet,
                                     say=say, metrics=metrics)
            first = cfg.regimes[0]
            paths_traj = jax.block_until_ready(simulate(
                key, model, regimes[first], cfg.generations, min(cfg.paths_chains, cfg.chains), path=cfg.path,
                metrics=("trace",), record_paths=True))
        except ValueError as e:
            raise CLIError(str(e)) from None
        table = theory_table(cfg, trajs, curves)

    _publish(out, bool(args.force),
             lambda tmp: write_outputs(tmp, cfg, regimes, metrics, trajs, curves, paths_traj, table))
    if not quiet:
        print(table)
    say(f"wrote {out}/ (results.npz, summary.csv, {PATHS_CSV}, config.toml, table.txt, variance.png) "
        f"in {time.perf_counter() - t_start:.1f} s")
    return 0


def cmd_verify(args) -> int:
    from . import verify as V

    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        raise CLIError(f"--scale must be > 0, got {args.scale}")
    if args.seed is not None and args.seed < 0:
        raise CLIError(f"--seed must be >= 0, got {args.seed}")
    families = sorted({c.family for c in V.REGISTRY.values()})
    if args.family is not None and args.family not in families:
        raise CLIError(f"unknown family {args.family!r}{_suggest(args.family, families)}; "
                       f"families with checks: {', '.join(families)}")
    if args.list:
        checks = [c for c in V.REGISTRY.values() if args.family is None or c.family == args.family]
        w = max((len(c.name) for c in checks), default=0)
        wf = max((len(c.family) for c in checks), default=0)
        for c in checks:
            print(f"{c.name:<{w}}  {c.family:<{wf}}  {c.source}")
        return 0
    names = None
    if args.check:
        names = [s.strip() for v in args.check for s in v.split(",") if s.strip()]
        for nm in names:
            if nm not in V.REGISTRY:
                raise CLIError(f"unknown check {nm!r}{_suggest(nm, V.REGISTRY)}; see '{PROG} verify --list'")
    kwargs = {"family": args.family, "seed": 0 if args.seed is None else args.seed}
    if args.scale is not None:
        kwargs["scale"] = args.scale
    try:
        comparisons = V.run_checks(names, **kwargs)
    except ValueError as e:
        raise CLIError(str(e)) from None
    print(V.format_table(comparisons))
    return 0 if V.all_passed(comparisons) else 1


def bench_script() -> Path:
    return Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gaussian.py"


def cmd_bench(args, extra: list[str]) -> int:
    script = bench_script()
    if not script.is_file():
        raise CLIError(f"{script} not found: '{PROG} bench' runs the benchmark of a source checkout")
    return subprocess.call([sys.executable, str(script), *extra])


# --------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (raised as CLIError, exit code 2)."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _adder(parser: argparse.ArgumentParser, flags: list[str]):
    """`parser.add_argument` that also records the flags (for suggestions on a mistyped one)."""

    def add(*names, **kwargs):
        flags.extend(n for n in names if n.startswith("--"))
        return parser.add_argument(*names, **kwargs)

    return add


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog=PROG, allow_abbrev=False,
                     description="Model collapse in JAX: simulate recursive refitting, check theory, benchmark.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(_command_names()) + "}", parser_class=_Parser)

    run = sub.add_parser("run", allow_abbrev=False, help="run an experiment (defaults: the default experiment)",
                         description="Run recursive-fitting chains under one or more regimes; print theory against "
                                     "simulation and write results to an output folder. Flags override --config, "
                                     "which overrides the defaults.")
    run_flags: list[str] = []
    a = _adder(run, run_flags)
    a("--config", metavar="FILE.toml", help="TOML config (keys mirror these flags; see examples/default.toml)")
    a("--family", help=f"model family (known: {', '.join(FAMILIES)}; default gaussian)")
    a("--regime", dest="regimes", nargs="+", metavar="REGIME",
      help="replace, accumulate, accumulate_subsample, augment, fresh, weighted (default: replace accumulate fresh)")
    a("--n", type=int, help="samples per generation (fresh/weighted: real + synthetic; default 100)")
    a("--generations", type=int, help="generations G (default 200)")
    a("--chains", type=int, help="independent chains (default 10000)")
    a("--seed", type=int, help="seed of jax.random.key (default 0)")
    a("--out", metavar="DIR", help="output folder (default jaxcollapse_out)")
    a("--force", action="store_true", default=None, help="replace a non-empty output folder")
    a("--dim", type=int, help="dimension d of the Gaussian (default 1)")
    a("--estimator", help="mle, unbiased or mean (default mle)")
    a("--path", help="exact (sufficient statistics) or samples (default exact)")
    a("--temperature", type=float, help="sampling temperature tau > 0 (default 1)")
    a("--drift", type=float, help="the truth's mean moves by this much per generation (default 0)")
    a("--lam", type=float, help="augment: synthetic share lambda in [0, 1] (default 1)")
    a("--w", type=float, help="weighted: weight w in [0, 1] on the real data (default 0.5)")
    a("--n-real", dest="n_real", type=int,
      help="real samples per generation (fresh, weighted; default n // 2) or real set size (augment; default n)")
    a("--metrics", nargs="+", metavar="METRIC",
      help="metrics to record (default all; trace and mean_sq_err always)")
    a("--paths-chains", dest="paths_chains", type=int, help=f"chains in {PATHS_CSV} (default 256)")
    a("--x64", action="store_true", default=None, help="use float64")
    a("--quiet", action="store_true", help="no progress display and nothing on stdout")
    run.set_defaults(func=cmd_run, options=run_flags)

    ver = sub.add_parser("verify", allow_abbrev=False, help="check theory against simulation",
                         description="Run the theory-vs-simulation checks, print the table, exit 1 if one fails.")
    ver_flags: list[str] = []
    v = _adder(ver, ver_flags)
    v("--scale", type=float, help="scale the number of chains (smaller is faster; default 1)")
    v("--check", nargs="+", metavar="NAME", help="run only these checks")
    v("--family", help="run only the checks of this family")
    v("--seed", type=int, help="seed (default 0)")
    v("--list", action="store_true", help="list the checks (name, family, source) and exit")
    ver.set_defaults(func=cmd_verify, options=ver_flags)

    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, add_help=False, help=help_text)
    sub.add_parser("bench", add_help=False, help="run benchmarks/bench_gaussian.py (arguments passed through)")
    return parser


def _command_names() -> list[str]:
    return ["run", "verify", *COMMANDS, "bench"]


def _scan(argv: list[str], flag: str) -> str | None:
    """The value of ``flag`` (``--flag V`` or ``--flag=V``; the last one wins) in `argv`, if any."""
    value = None
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(flag + "="):
            value = a[len(flag) + 1:]
    return value


def _run_family(argv: list[str]) -> str | None:
    """The family of a ``run``: ``--family``, else the config file's ``family`` key, else None (gaussian).

    Found by scanning the arguments before any parsing, so that ``run --family X --help`` shows the
    help of family X's runner.
    """
    family = _scan(argv, "--family")
    if family is not None:
        return family
    config = _scan(argv, "--config")
    if config is not None:
        p = Path(config)
        try:
            with p.open("rb") as f:
                family = tomllib.load(f).get("family")
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return None  # the gaussian runner reports the problem
        return family if isinstance(family, str) else None
    return None


def _delegate(module: str, argv: list[str]) -> int:
    import importlib

    return importlib.import_module(module).main(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxcollapse`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] in COMMANDS:  # delegated before parsing, so that their own --help works
            return _delegate(COMMANDS[argv[0]][0], argv[1:])
        if argv and argv[0] == "run" and _run_family(argv[1:]) in RUN_FAMILIES:
            return _delegate(RUN_FAMILIES[_run_family(argv[1:])], argv[1:])
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            raise CLIError(f"choose a command: {', '.join(_command_names())} (see '{PROG} --help')")
        if args.command == "bench":
            return cmd_bench(args, extra)
        if extra:
            flag = extra[0]
            raise CLIError(f"unrecognized argument {flag!r}{_suggest(flag, args.options)} "
                           f"(see '{PROG} {args.command} --help')")
        return args.func(args)
    except CLIError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.code
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run as `python -m jaxcollapse.cli`: call the imported module's `main`, so that the family runners,
    # which import `jaxcollapse.cli`, raise the same `CLIError` class that `main` catches.
    from jaxcollapse.cli import main as _main

    sys.exit(_main())
