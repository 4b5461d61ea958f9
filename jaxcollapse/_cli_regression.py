r"""``jaxcollapse run --family regression``: linear regression retrained on its own labels.

With no other arguments: $d = 10$, $T = 40$ rows per generation, isotropic design, label noise
$\sigma = 1$, OLS ($\lambda = 0$), a **fixed design** (the setting of Gerstgrasser et al. 2024), $w^* =
(1, \dots, 1)/\sqrt d$, 4,000 chains, 50 generations, exact (Wishart) statistics, in float32, under

- ``replace``: each generation fits only the labels its predecessor made: the excess risk grows
  linearly, $n\sigma^2 d/(T - d - 1)$;
- ``accumulate``: each generation fits all label sets so far: the risk stays below
  $\frac{\pi^2}{6}\sigma^2 d/(T - d - 1)$ (the $\pi^2/6$ pathway).

Other regimes: ``augment`` (a fixed real set of $T$ rows plus $T$ synthetic ones), ``fresh`` ($T$
fresh real rows plus $T$ synthetic), ``weighted`` (real and synthetic sets of $T$ rows, real weight
$w$), ``accumulate_subsample`` (sample path). ``--design fresh`` draws a new design every generation.
``--ridge`` sets the per-sample ridge penalty; with $T \le d$ and $\lambda = 0$ the fits are min-norm
(pseudo-inverse) solutions, and the run says so. ``--power-law ALPHA`` uses the spectrum
$\Sigma = \mathrm{diag}(i^{-\alpha})$ normalised to trace $d$.

It prints a table of the excess risk $\|w_t - w^*\|^2_\Sigma$ (cross-chain mean $\pm$ standard error,
and $z$ against the closed form where `jaxcollapse.theory.regression` has one) at generations 1, 10,
50 and $G$, and writes to ``--out`` (default ``jaxcollapse_regression_out/``), atomically:
``results.npz`` (per regime `Trajectory.to_numpy()` and the theory curves), ``summary.csv`` (mean and
std per generation of every metric), ``chains_test_error.csv`` (the excess risk of the first
``--paths-chains`` chains of the first regime, one column per chain: input for ``jaxcollapse
forecast``), ``config.toml`` (loadable with ``--config``), ``table.txt`` and ``excess_risk.png`` (fan
charts, theory curves, and the $\pi^2/6$ bound). Errors: one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .cli import (
    _BOOL,
    _FLOAT,
    _INT,
    _STR,
    _STRS,
    PROG,
    CLIError,
    _adder,
    _check_out,
    _convert,
    _Parser,
    _publish,
    _suggest,
    _toml_value,
    _write_csv,
    build_checked,
    check_regime_names,
    read_toml,
    simulate_regimes,
)

REGIMES = ("replace", "accumulate", "augment", "fresh", "weighted", "accumulate_subsample")
TABLE_GENERATIONS = (1, 10, 50)
PATHS_CSV = "chains_test_error.csv"


@dataclass(frozen=True)
class Config:
    family: str = "regression"
    regimes: tuple[str, ...] = ("replace", "accumulate")
    d: int = 10
    n: int = 40
    generations: int = 50
    chains: int = 4000
    seed: int = 0
    noise: float = 1.0
    ridge: float = 0.0
    design: str = "fixed"
    power_law: float = 0.0
    path: str = "exact"
    w: float = 0.5
    paths_chains: int = 256
    x64: bool = False
    out: str = "jaxcollapse_regression_out"


KEYS = {"family": _STR, "regimes": _STRS, "d": _INT, "n": _INT, "generations": _INT, "chains": _INT, "seed": _INT,
        "noise": _FLOAT, "ridge": _FLOAT, "design": _STR, "power_law": _FLOAT, "path": _STR, "w": _FLOAT,
        "paths_chains": _INT, "x64": _BOOL, "out": _STR}


def _load(path: str) -> dict:
    raw = read_toml(path)
    out = {}
    for k, v in raw.items():
        if k not in KEYS:
            raise CLIError(f"{path}: unknown key {k!r}{_suggest(k, KEYS)}")
        out[k] = _convert(k, KEYS[k], v)
    return out


def resolve(flags: dict, config_file: str | None) -> Config:
    values = {f.name: f.default for f in fields(Config)}
    if config_file is not None:
        values.update(_load(config_file))
    for k, v in flags.items():
        if v is not None:
            values[k] = _convert(k, KEYS[k], v)
    cfg = Config(**values)
    _check(cfg)
    return cfg


def _check(cfg: Config) -> None:
    if cfg.family != "regression":
        raise CLIError(f"this runner is for --family regression, got {cfg.family!r}")
    check_regime_names(cfg.regimes, REGIMES)
    for k in ("d", "n", "generations", "chains", "paths_chains"):
        if getattr(cfg, k) < 1:
            raise CLIError(f"{k} must be >= 1, got {getattr(cfg, k)}")
    if cfg.seed < 0:
        raise CLIError(f"seed must be >= 0, got {cfg.seed}")
    if cfg.noise < 0:
        raise CLIError(f"noise must be >= 0, got {cfg.noise}")
    if cfg.ridge < 0:
        raise CLIError(f"ridge must be >= 0, got {cfg.ridge}")
    if cfg.design not in ("fixed", "fresh"):
        raise CLIError(f"design must be 'fixed' or 'fresh', got {cfg.design!r}")
    if cfg.path not in ("exact", "samples"):
        raise CLIError(f"path must be 'exact' or 'samples', got {cfg.path!r}")
    if not 0.0 <= cfg.w <= 1.0:
        raise CLIError(f"w must lie in [0, 1], got {cfg.w}")
    if cfg.power_law < 0:
        raise CLIError(f"power-law exponent must be >= 0, got {cfg.power_law}")
    if "accumulate_subsample" in cfg.regimes and cfg.path != "samples":
        raise CLIError("accumulate_subsample acts on individual rows: use --path samples")


def build_model(cfg: Config):
    from .families.regression import Regression

    spectrum = np.arange(1, cfg.d + 1, dtype=np.float64) ** (-cfg.power_law)
    spectrum *= cfg.d / spectrum.sum()
    return Regression(np.ones(cfg.d) / math.sqrt(cfg.d), spectrum, cfg.noise, ridge=cfg.ridge, design=cfg.design)


def build_regime(cfg: Config, name: str):
    from . import regimes as rg

    n = cfg.n
    return {
        "replace": lambda: rg.replace(n),
        "accumulate": lambda: rg.accumulate(n),
        "augment": lambda: rg.augment(n, 1.0),
        "fresh": lambda: rg.fresh(n, n),
        "weighted": lambda: rg.weighted(n, n, cfg.w),
        "accumulate_subsample": lambda: rg.accumulate_subsample(n, n),
    }[name]()


def theory_curve(cfg: Config, name: str) -> np.ndarray | None:
    """The closed-form mean excess risk per generation, or None where there is none."""
    from .theory import regression as th

    if cfg.ridge != 0 or cfg.n <= cfg.d + 1:
        return None
    t = np.arange(cfg.generations + 1)
    args = (cfg.n, cfg.d, cfg.noise)
    if name == "replace":
        return np.asarray(th.replace_risk(t, *args))
    if name == "accumulate":
        fn = th.accumulate_fixed_risk if cfg.design == "fixed" else th.accumulate_fresh_risk
        return np.asarray(fn(t, *args))
    if cfg.design == "fixed" and name in ("augment", "fresh", "weighted"):
        w = cfg.w if name == "weighted" else 0.5
        if w == 0:
            return np.asarray(th.replace_risk(t, *args))
        return np.asarray(th.fixed_design_mixed_risk(t, cfg.n, cfg.d, w, cfg.noise,
                                                      real="fresh" if name == "fresh" else "fixed"))
    return None


def _fmt(x: float) -> str:
    return f"{x:.6g}" if math.isfinite(x) else str(x)


def theory_table(cfg: Config, trajs: dict, curves: dict, note: str) -> str:
    G = cfg.generations
    ts = sorted({t for t in TABLE_GENERATIONS if t <= G} | {G})
    rows = [("regime", "t", "theory", "excess risk (mean ± stderr)", "z")]
    for name, traj in trajs.items():
        mean = np.asarray(traj.mean("excess_risk"), np.float64)
        se = np.asarray(traj.stderr("excess_risk"), np.float64)
        th = curves.get(name)
        for t in ts:
            sim = f"{_fmt(mean[t])} ± {se[t]:.3g}"
            if th is None:
                rows.append((name, str(t), "—", sim, "—"))
                continue
            z = (mean[t] - th[t]) / se[t] if se[t] > 0 else float("nan")
            rows.append((name, str(t), _fmt(float(th[t])), sim, f"{z:+.2f}" if math.isfinite(z) else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    head = (f"Regression d={cfg.d}, T={cfg.n} rows/generation, {cfg.design} design, noise={cfg.noise:g}, "
            f"ridge={cfg.ridge:g}, {cfg.chains} chains, {G} generations, {cfg.path} path, seed {cfg.seed}"
            f"{', float64' if cfg.x64 else ''}")
    rule = "-" * max(len(lines[0]), len(head))
    foot = ["z = (mean - theory) / stderr; — : no closed form for this regime/setting", note]
    if cfg.ridge == 0 and cfg.n > cfg.d + 1:
        from .theory import regression as th

        foot.append(f"first-generation error sigma^2 d/(T-d-1) = {_fmt(float(th.ols_risk(cfg.n, cfg.d, cfg.noise)))}; "
                    f"pi^2/6 bound of accumulate = {_fmt(float(th.accumulate_bound(cfg.n, cfg.d, cfg.noise)))}")
    return "\n".join([head, rule, lines[0], rule, *lines[1:], rule, *foot])


def config_toml(cfg: Config, regimes: dict) -> str:
    lines = ["# written by jaxcollapse run --family regression; run it again with: "
             "jaxcollapse run --config config.toml --out NEW_DIR", ""]
    for f in fields(Config):
        lines.append(f"{f.name} = {_toml_value(getattr(cfg, f.name))}")
    lines.append("# resolved regimes:")
    lines += [f"#   {r.describe()}" for r in regimes.values()]
    return "\n".join(lines) + "\n"


def write_outputs(folder: Path, cfg: Config, regimes: dict, trajs: dict, curves: dict, paths_traj, table: str):
    from .plot import compare

    arrays = {}
    for name, traj in trajs.items():
        arrays.update({f"{name}/{k}": v for k, v in traj.to_numpy().items()})
        if curves.get(name) is not None:
            arrays[f"theory/{name}/excess_risk"] = curves[name]
    np.savez(folder / "results.npz", **arrays)
    gens = np.arange(cfg.generations + 1)
    header, cols = ["generation"], [gens]
    for name, traj in trajs.items():
        for m in traj.summary:
            header += [f"{name}/{m}/mean", f"{name}/{m}/std"]
            cols += [np.asarray(traj.mean(m)), np.asarray(traj.std(m))]
    _write_csv(folder / "summary.csv", header, cols)
    paths = np.asarray(paths_traj.paths["excess_risk"])
    _write_csv(folder / PATHS_CSV, ["generation"] + [f"chain_{i}" for i in range(paths.shape[1])],
               [gens] + [paths[:, i] for i in range(paths.shape[1])])
    (folder / "config.toml").write_text(config_toml(cfg, regimes), encoding="utf-8")
    (folder / "table.txt").write_text(table + "\n", encoding="utf-8")

    fig = compare(trajs, "excess_risk", theory={k: c for k, c in curves.items() if c is not None})
    ax = fig.axes[0]
    if cfg.ridge == 0 and cfg.n > cfg.d + 1:
        from .theory import regression as th

        bound = float(th.accumulate_bound(cfg.n, cfg.d, cfg.noise))
        first = float(th.ols_risk(cfg.n, cfg.d, cfg.noise))
        old = ax.get_legend()
        bound_label = r"$\pi^2/6$ bound $\frac{\pi^2}{6}\sigma^2 d/(T-d-1)$"
        lines = [ax.axhline(bound, color="k", ls=":", lw=1.2, label=bound_label),
                 ax.axhline(first, color="grey", ls="--", lw=1.0, label=r"first fit $\sigma^2 d/(T-d-1)$")]
        ax.legend(handles=lines, loc="upper center", fontsize=8)
        if old is not None:
            ax.add_artist(old)
    ax.set_ylabel(r"excess risk $\|w_t - w^*\|^2_\Sigma$")
    ax.set_title(f"Regression d = {cfg.d}, T = {cfg.n}, {cfg.design} design, {cfg.chains} chains")
    fig.savefig(folder / "excess_risk.png", dpi=120)


def build_parser() -> _Parser:
    p = _Parser(prog=f"{PROG} run --family regression", allow_abbrev=False,
                description="Linear regression retrained on its own labels (replace vs accumulate by default).")
    flags: list[str] = []
    a = _adder(p, flags)
    a("--config", metavar="FILE.toml", help="TOML config (top-level keys mirror the flags)")
    a("--family", help="regression")
    a("--regime", dest="regimes", nargs="+", metavar="REGIME",
      help=f"{', '.join(REGIMES)} (default: replace accumulate)")
    a("--d", type=int, help="dimension d (default 10)")
    a("--n", type=int, help="rows T per generation (default 40)")
    a("--generations", type=int, help="generations (default 50)")
    a("--chains", type=int, help="chains (default 4000)")
    a("--seed", type=int, help="seed (default 0)")
    a("--noise", type=float, help="label noise sigma >= 0 (default 1)")
    a("--ridge", type=float, help="per-sample ridge penalty lambda >= 0 (default 0: OLS / min-norm)")
    a("--design", help="fixed or fresh (default fixed)")
    a("--power-law", dest="power_law", type=float, help="design spectrum i^-alpha (default 0: isotropic)")
    a("--path", help="exact or samples (default exact)")
    a("--w", type=float, help="weighted: the real data's weight (default 0.5)")
    a("--paths-chains", dest="paths_chains", type=int, help=f"chains in {PATHS_CSV} (default 256)")
    a("--x64", action="store_true", default=None, help="float64")
    a("--out", metavar="DIR", help="output folder (default jaxcollapse_regression_out)")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="nothing on stdout, no progress")
    p.set_defaults(options=flags)
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        raise CLIError(f"unrecognized argument {extra[0]!r}{_suggest(extra[0], args.options)} "
                       f"(see '{PROG} run --family regression --help')")
    flags = {k: getattr(args, k) for k in KEYS}
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
        curves = {name: theory_curve(cfg, name) for name in regimes}
        note = model.describe(cfg.n)
        key = jax.random.key(cfg.seed)
        t_start = time.perf_counter()
        say(f"{PROG} run: {note}; {cfg.chains} chains, {cfg.generations} generations, regimes "
            f"{', '.join(cfg.regimes)}")
        try:
            trajs = simulate_regimes(key, model, regimes, cfg.generations, cfg.chains, path=cfg.path, quiet=quiet,
                                     say=say)
            first = cfg.regimes[0]
            paths_traj = jax.block_until_ready(simulate(
                key, model, regimes[first], cfg.generations, min(cfg.paths_chains, cfg.chains), path=cfg.path,
                metrics=("excess_risk",), record_paths=True))
        except ValueError as e:
            raise CLIError(str(e)) from None
        table = theory_table(cfg, trajs, curves, note)
    _publish(out, bool(args.force), lambda tmp: write_outputs(tmp, cfg, regimes, trajs, curves, paths_traj, table))
    if not quiet:
        print(table)
    say(f"wrote {out}/ (results.npz, summary.csv, {PATHS_CSV}, config.toml, table.txt, excess_risk.png) "
        f"in {time.perf_counter() - t_start:.1f} s")
    return 0
