r"""``jaxcollapse run --family F``: one generic runner for every recipe (`jaxcollapse.recipes`).

The family's recipe supplies everything family-specific: the flags and TOML keys (its parameter
schema, `jaxcollapse.recipes.Param`), the validation, the builder of `(model, truth, regime)`, the
theory overlays, the figures and the headline metric. ``jaxcollapse run --family F --help`` lists that
family's flags only, with their defaults and valid ranges.

**Configuration.** Defaults, overridden by a TOML file (``--config FILE.toml``), overridden by flags.
In TOML, the shared run parameters are top-level keys (``regimes``, ``n``, ``generations``, ...) and the
family's own parameters sit in a table named after it (``[gaussian]``; top-level is accepted too). A
``family`` key picks the family; ``--family`` must agree with it.

**Regimes.** ``--regime a b c`` runs one point per regime, each from the same key (common random
numbers), built by `jaxcollapse.regimes.from_params`: $n$ is always the number of synthetic samples per
generation, and fresh / weighted add $n_{\rm real}$ (default $n$) real ones.

**Outputs** (``--out``, default ``jaxcollapse_<family>_out``), written into a temporary sibling folder
made before the compute and renamed into place at the end:

- ``table.txt`` (printed too): theory beside simulation (mean $\pm$ standard error, and
  $z = (\text{mean} - \text{theory})/\text{stderr}$) of the headline metrics and of every metric with
  a closed form, at generations 1, 10, 50, 100, 200, ... up to $G$, and $G$;
- ``summary.csv``: one row per generation; columns ``<regime>/<metric>/mean`` and ``.../std`` in the
  order of the regimes given and of the family's metrics (stable across reruns);
- ``chains_<regime>_<metric>.csv`` per regime, the headline metric of the first ``paths_chains`` chains:
  a comment line ``# jaxcollapse family=F regime=R metric=M model=<spread|diversity|error> n=N``, the
  header ``generation,chain_0,chain_1,...`` and one row per generation (``jaxcollapse forecast`` reads it);
- ``results.npz``: `Trajectory.to_numpy()` per regime (keys ``<regime>/...``), the theory curves
  (``theory/<regime>/<metric>``) and the recipe's extra arrays (``truth/...``);
- the recipe's figures; ``config.toml``: the resolved configuration, which reruns with ``--config`` and
  gives bitwise the same results.

**Errors.** A bad value, an unknown key or flag (with the closest one suggested), a flag the family does
not have, a family that disagrees with the config file, ``--devices`` that the machine or the chain count
cannot serve, a run whose estimated memory exceeds the machine's, an unwritable output place: one line
``jaxcollapse: error: ...`` on stderr, exit status 2, before anything is computed or written.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ._common import (
    PROG,
    PROGRESS,
    CLIError,
    Staging,
    _adder,
    _check_out,
    _Parser,
    _suggest,
    _toml_value,
    _write_csv,
    default_out,
    fmt,
    interruptible,
    raise_if_interrupted,
    read_toml,
    sayer,
    scan,
)

DEFAULT_FAMILY = "gaussian"
TABLE_GENERATIONS = (1, 10, 50, 100, 200, 500, 1000, 5000, 10000)
CLI_ONLY = ("config", "family", "out", "force", "quiet", "devices", "force_memory")


# --------------------------------------------------------------------------- family and parser
def _family_of(argv: list[str]) -> str:
    """The family of a ``run``: ``--family``, else the config file's ``family`` key, else gaussian.

    Found by scanning the arguments before any parsing, so that ``run --family X --help`` shows the
    help of family X."""
    family = scan(argv, "--family")
    if family is not None:
        return family
    config = scan(argv, "--config")
    if config is not None:
        try:
            with open(config, "rb") as f:
                import tomllib

                family = tomllib.load(f).get("family")
        except (OSError, ValueError, UnicodeDecodeError):
            return DEFAULT_FAMILY  # the config is read again below, and its problem reported then
        if isinstance(family, str):
            return family
    return DEFAULT_FAMILY


def _recipe(family: str):
    from .. import recipes

    try:
        return recipes.get(family)
    except ValueError:
        known = recipes.names()
        raise CLIError(f"unknown family {family!r}{_suggest(family, known)}; known families: "
                       f"{', '.join(known)}") from None


def _help_of(p, recipe) -> str:
    parts = [p.help.replace("%", "%%")]
    if p.name == "metrics":
        parts.append("any of " + ", ".join(recipe.metric_names))
    elif p.type is not bool and (p.choices is None or p.many):
        parts.append(p.range_text().replace("%", "%%"))
    if p.default is not None:
        d = p.default
        shown = " ".join(map(str, d)) if isinstance(d, tuple) else ("on" if d is True else "off" if d is False else d)
        parts.append(f"default: {shown}")
    return "; ".join(parts)


def build_parser(recipe) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser of ``run --family <recipe.name>``: the common flags and one flag per schema parameter."""
    p = _Parser(prog=f"{PROG} run --family {recipe.name}", allow_abbrev=False,
                description=f"Run {recipe.description or recipe.name} under one or more regimes; print theory "
                            "beside simulation and write the results to an output folder. Flags override "
                            "--config, which overrides the defaults.")
    flags: list[str] = []
    a = _adder(p, flags)
    a("--family", help=f"model family (default {DEFAULT_FAMILY}; see 'jaxcollapse run --family NAME --help')")
    a("--config", metavar="FILE.toml", help="TOML config: top-level keys for the run parameters, "
                                            f"[{recipe.name}] for the family's own")
    a("--out", metavar="DIR", help=f"output folder (default jaxcollapse_{recipe.name}_out)")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="no progress display and nothing on stdout")
    a("--devices", type=int, metavar="N", help="run the chains on N devices (chains a multiple of N; default 1)")
    a("--force-memory", dest="force_memory", action="store_true",
      help="run even if the estimated memory exceeds the machine's")
    for prm in recipe.params:
        if not prm.cli:
            continue
        kw: dict = {"dest": prm.name, "default": None, "help": _help_of(prm, recipe)}
        if prm.type is bool and not prm.many:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = prm.type
            if prm.many:
                kw["nargs"] = "+"
            choices = "{" + ",".join(map(str, prm.choices or ())) + "}"
            kw["metavar"] = ("REGIME" if prm.name == "regimes" else "METRIC" if prm.name == "metrics"
                             else prm.name.upper() if prm.choices is None else choices)
        a(prm.option, **kw)
    return p, flags


# --------------------------------------------------------------------------- configuration
def _from_toml(recipe, path: str, raw: dict | None = None) -> dict:
    """The values of a config file, for `recipe` (family mismatch, unknown keys: one-line CLIError); `raw`: the
    file's parsed TOML where the caller read it already (``jaxcollapse predict`` takes out its ``[predict]``)."""
    from .. import recipes

    raw = read_toml(path) if raw is None else raw
    schema = recipe.schema()
    top = {p.name for p in recipe.params if not p.table}
    own = {p.name for p in recipe.params if p.table}
    fam = raw.get("family")
    if fam is not None and fam != recipe.name:
        raise CLIError(f"{path} is a config of family {fam!r}, but the family is {recipe.name!r}: "
                       f"drop --family, or use a config of family {recipe.name!r}")
    out: dict = {}
    for key, value in raw.items():
        if key == "family":
            continue
        if isinstance(value, dict):
            if key != recipe.name:
                if key in recipes.names():
                    raise CLIError(f"{path} has a [{key}] table, a config of family {key!r}, but the family is "
                                   f"{recipe.name!r}")
                raise CLIError(f"{path}: unknown table [{key}]{_suggest(key, [recipe.name])}; the family's "
                               f"parameters go in [{recipe.name}]")
            for sub, v in value.items():
                if sub not in own:
                    raise CLIError(f"{path}: unknown key {recipe.name}.{sub!r}{_suggest(sub, own)}; "
                                   f"valid keys of [{recipe.name}]: {', '.join(sorted(own))}")
                out[sub] = v
        elif key in schema:
            out[key] = value
        else:
            hint = _suggest(key, [*top, *own, "family"])
            raise CLIError(f"{path}: unknown key {key!r}{hint} for family {recipe.name!r}")
    return out


def resolve(recipe, args, argv_flags: dict) -> dict:
    """Defaults < TOML < flags, every value checked by the recipe's schema (one-line CLIError)."""
    values = _from_toml(recipe, args.config) if args.config else {}
    values.update({k: v for k, v in argv_flags.items() if v is not None})
    try:
        return recipe.resolve(values)
    except ValueError as e:
        raise CLIError(str(e)) from None


def config_toml(recipe, params: dict, regimes: dict, devices: int | None) -> str:
    from .. import __version__

    lines = [f"# written by jaxcollapse {__version__}; run it again with: jaxcollapse run --config config.toml "
             "--out NEW_DIR", "", f"family = {_toml_value(recipe.name)}"]
    own = []
    for prm in recipe.params:
        v = params[prm.name]
        line = f"# {prm.name} not set: {prm.help}" if v is None else f"{prm.name} = {_toml_value(v)}"
        (own if prm.table else lines).append(line)
    if own:
        lines += ["", f"[{recipe.name}]", *own]
    lines += ["", "# resolved regimes:"] + [f"#   {r.describe()}" for r in regimes.values()]
    if devices:
        lines.append(f"# ran on --devices {devices}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- checks before compute
def _check_devices(devices: int | None, chains: int) -> None:
    if devices is None:
        return
    import jax

    avail = len(jax.devices())
    if devices < 1 or devices > avail:
        hint = ("; on a CPU expose cores as devices: XLA_FLAGS=--xla_force_host_platform_device_count=N"
                if jax.default_backend() == "cpu" else "")
        raise CLIError(f"--devices {devices}: this machine has {avail} device(s); give 1 to {avail}{hint}")
    if chains % devices:
        raise CLIError(f"--devices {devices} does not divide --chains {chains}: use --chains "
                       f"{math.ceil(chains / devices) * devices} or a device count that divides {chains}")


def _machine_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _sample_shape(model) -> tuple[int, bool]:
    """(numbers per sample, whether the family's statistics are a sample buffer) from one abstract draw;
    (1, True) when the family cannot be traced this way (a conservative estimate)."""
    import jax

    from ..data import SampleStats

    try:
        rows = jax.eval_shape(lambda k: model.sample(k, 1), jax.random.key(0))
        stats = jax.eval_shape(lambda k: model.stats(model.sample(k, 1)), jax.random.key(0))
    except Exception:  # noqa: BLE001 - an estimate only
        return 1, True
    return max(1, int(np.prod(rows.shape[1:]))), isinstance(stats, SampleStats)


def estimate_memory(recipe, params: dict, models: dict, regimes: dict, metrics) -> int:
    r"""Bytes a run needs, from its shapes: per chain the model (times 4: model, truth, the fit's inputs and
    outputs), its key, its metric values (times 3: the values, their sorted copy for the quantiles, the
    summaries' temporaries), what the recipe declares beyond these (`Recipe.memory_hint`) and, on the
    samples path, the training buffer (accumulate: all $nG$ samples so far, twice: the pool and the draw),
    plus the per-generation summaries and the recorded per-chain paths. A rough estimate, to refuse a run
    that cannot fit before it starts, not a measurement."""
    import jax

    G, chains = params["generations"], params["chains"]
    item = 8 if params["x64"] else 4
    worst = 0
    for name, model in models.items():
        model_elems = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(model) if hasattr(x, "shape"))
        reg = regimes[name]
        per_chain = 4 * model_elems + 2 + 3 * len(metrics) + recipe.memory_hint({**params, "regime": name})
        if recipe.path(params) == "samples":
            width, buffered = _sample_shape(model)
            n_syn = reg.synthetic_capacity(G) or params["n"]
            keep_all = reg.memory == "accumulate_subsample" or (reg.memory == "accumulate" and buffered)
            rows = n_syn * (G if keep_all else 1) + (reg.n_real if reg.real != "none" else 0)
            per_chain += 2 * rows * width
        worst = max(worst, per_chain)
    paths = (G + 1) * min(chains, params["paths_chains"]) * len(metrics)
    summaries = (G + 1) * len(metrics) * 16 * len(models)
    return item * (chains * worst + paths + summaries)


def _check_memory(need: int, force: bool) -> None:
    have = _machine_memory()
    if have is None or force or need <= 0.8 * have:
        return
    raise CLIError(f"this run needs about {need / 2**30:.1f} GiB (estimated from its shapes) but the machine "
                   f"has {have / 2**30:.1f} GiB; use fewer --chains, --generations or --n, or --force-memory")


# --------------------------------------------------------------------------- table
def table_metrics(recipe, params: dict, curves: dict, metrics) -> list[str]:
    """The headline metrics, then every recorded metric with a closed form for some regime."""
    shown = [m for m in recipe.table(params) if m in metrics]
    shown += [m for m in metrics if m not in shown and any(m in c for c in curves.values())]
    return shown


def theory_table(recipe, params: dict, trajs: dict, curves: dict, metrics) -> str:
    G = params["generations"]
    ts = sorted({t for t in TABLE_GENERATIONS if t <= G} | {G})
    rows = [("regime", "metric", "t", "theory", "simulation (mean ± stderr)", "z")]
    for name, traj in trajs.items():
        for metric in table_metrics(recipe, params, curves, metrics):
            mean = np.asarray(traj.mean(metric), np.float64)
            se = np.asarray(traj.stderr(metric), np.float64)
            th = curves[name].get(metric)
            for t in ts:
                sim = f"{fmt(mean[t])} ± {se[t]:.3g}" if math.isfinite(mean[t]) else fmt(mean[t])
                if th is None or not math.isfinite(th[t]):
                    rows.append((name, metric, str(t), "—", sim, "—"))
                    continue
                z = (mean[t] - th[t]) / se[t] if se[t] > 0 and math.isfinite(se[t]) else float("nan")
                rows.append((name, metric, str(t), fmt(float(th[t])), sim, f"{z:+.2f}" if math.isfinite(z) else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    head = (f"{recipe.describe(params)}; {params['chains']} chains, {G} generations, {recipe.path(params)} path, "
            f"seed {params['seed']}{', float64' if params['x64'] else ''}")
    rule = "-" * max(len(lines[0]), min(len(head), 120))
    note = "z = (mean - theory) / stderr; — : no closed form here; inf: some chain reached an absorbing state"
    return "\n".join([head, rule, lines[0], rule, *lines[1:], rule, note, *recipe.notes(params)])


# --------------------------------------------------------------------------- outputs
def chains_csv_name(regime: str, metric: str) -> str:
    return f"chains_{regime}_{metric}.csv"


def write_outputs(folder: Path, recipe, params: dict, regimes: dict, models: dict, metrics, trajs: dict,
                  detail: dict, curves: dict, table: str, devices: int | None) -> list[str]:
    G = params["generations"]
    gens = np.arange(G + 1)
    arrays: dict[str, np.ndarray] = {}
    first = next(iter(models.values()))
    arrays.update({f"truth/{k}": np.asarray(v) for k, v in recipe.arrays(params, first).items()})
    for name, traj in trajs.items():
        arrays.update({f"{name}/{k}": v for k, v in traj.to_numpy().items()})
        arrays.update({f"theory/{name}/{k}": v for k, v in curves[name].items()})
    np.savez(folder / "results.npz", **arrays)

    header, cols = ["generation"], [gens]
    for name, traj in trajs.items():
        for m in metrics:
            header += [f"{name}/{m}/mean", f"{name}/{m}/std"]
            cols += [np.asarray(traj.mean(m)), np.asarray(traj.std(m))]
    _write_csv(folder / "summary.csv", header, cols)

    metric = recipe.headline[0]
    written = ["table.txt", "summary.csv"]
    for name, d in detail.items():
        paths = np.asarray(d.paths[metric])[:, : params["paths_chains"]]
        comment = (f"jaxcollapse family={recipe.name} regime={name} metric={metric} model={recipe.bayes} "
                   f"n={params['n']}")
        _write_csv(folder / chains_csv_name(name, metric), ["generation"] + [f"chain_{i}" for i in
                                                                            range(paths.shape[1])],
                   [gens] + [paths[:, i] for i in range(paths.shape[1])], comment=comment)
        written.append(chains_csv_name(name, metric))
    (folder / "config.toml").write_text(config_toml(recipe, params, regimes, devices), encoding="utf-8")
    (folder / "table.txt").write_text(table + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg", force=False)
    written += recipe.figures(folder, trajs, curves, params, detail)
    return [*written, "results.npz", "config.toml"]


# --------------------------------------------------------------------------- the command
def main(argv: list[str]) -> int:
    """``jaxcollapse run ...`` (`argv`: the arguments after ``run``); returns the exit status."""
    family = _family_of(argv)
    recipe = _recipe(family)
    parser, flags = build_parser(recipe)
    args, extra = parser.parse_known_args(argv)
    if extra:
        flag = extra[0]
        if flag.startswith("-"):
            raise CLIError(f"family {recipe.name} has no option {flag!r}{_suggest(flag.split('=')[0], flags)} "
                           f"(see '{PROG} run --family {recipe.name} --help')")
        raise CLIError(f"unexpected argument {flag!r} (see '{PROG} run --family {recipe.name} --help')")
    params = resolve(recipe, args, {p.name: getattr(args, p.name) for p in recipe.params if p.cli})
    out = Path(args.out or default_out(recipe.name))
    _check_out(out, bool(args.force))
    quiet = bool(args.quiet)
    say = sayer(quiet)
    G, chains = params["generations"], params["chains"]
    if args.devices is not None and args.devices < 1:
        raise CLIError(f"--devices must be >= 1, got {args.devices}")

    import jax

    from .. import simulate, x64
    from ..engine import wait_ready

    raise_if_interrupted()  # a Ctrl-C that `import jax` swallowed
    _check_devices(args.devices, chains)
    ctx = x64() if params["x64"] else contextlib.nullcontext()
    with ctx:
        models, truths, regimes, curves = {}, {}, {}, {}
        try:
            # a recipe whose build allocates buffers sized by n or G (kde's points): refused before building them
            item = 8 if params["x64"] else 4
            _check_memory(item * chains * max(recipe.memory_hint({**params, "regime": r}) for r in params["regimes"]),
                          bool(args.force_memory))
            for name in params["regimes"]:
                point = {**params, "regime": name}
                model, truth, regime = recipe.build(point)
                model.check_regime(regime, G)
                models[name], truths[name], regimes[name] = model, truth, regime
            metrics = recipe.metrics(params)
            path = recipe.path(params)
            # before the theory curves: G + 1 values each, themselves too big for a huge --generations
            _check_memory(estimate_memory(recipe, params, models, regimes, metrics), bool(args.force_memory))
            for name in params["regimes"]:
                point = {**params, "regime": name}
                curves[name] = {k: np.asarray(v, np.float64) for k, v in recipe.theory(point, G).items()}
        except ValueError as e:
            raise CLIError(str(e)) from None
        stage = Staging(out, bool(args.force))  # unwritable place: found before the compute
        try:
            key = jax.random.key(params["seed"])
            t_start = time.perf_counter()
            say(f"{PROG} run: {recipe.name}, n={params['n']}, {chains} chains, {G} generations, {path} path, "
                f"regimes {', '.join(params['regimes'])}")
            in_main = chains <= params["paths_chains"]
            trajs, detail = {}, {}
            for name in params["regimes"]:
                raise_if_interrupted()
                t0 = time.perf_counter()
                PROGRESS.label, PROGRESS.enabled = name, not quiet
                try:
                    trajs[name] = interruptible(lambda name=name: jax.block_until_ready(simulate(
                        key, models[name], regimes[name], G, chains, truth=truths[name], path=path, metrics=metrics,
                        progress=PROGRESS, devices=args.devices, record_paths=in_main,
                        record_params=in_main and recipe.record_params)), params["x64"])
                    if in_main:
                        detail[name] = trajs[name]
                    else:  # chain i does not depend on the number of chains: these are the main run's first chains
                        detail[name] = wait_ready(simulate(
                            key, models[name], regimes[name], G, params["paths_chains"], truth=truths[name],
                            path=path, metrics=(recipe.headline[0],), quantiles=(), record_paths=True,
                            record_params=recipe.record_params))
                except ValueError as e:
                    raise CLIError(str(e)) from None
                say(f"  {name}: {time.perf_counter() - t0:.1f} s")
            table = theory_table(recipe, params, trajs, curves, metrics)
            written = write_outputs(stage.tmp, recipe, params, regimes, models, metrics, trajs, detail, curves, table,
                                    args.devices)
        except BaseException:
            stage.discard()
            raise
        stage.publish()
    if not quiet:
        print(table)
    say(f"wrote {out}/ ({', '.join(written)}) in {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
