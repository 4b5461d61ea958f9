r"""``jaxcollapse run --family ngram``: the bigram language model refit to its own sequences.

With no other arguments: a Zipfian Markov chain over $V = 50$ tokens (each row puts mass
$\propto r^{-1}$ on 8 tokens, made from `truth_seed` 0), $m = 100$ sequences of length $L = 20$ per
generation, additive smoothing $\alpha = 0.01$, 1,000 chains, 100 generations, in float32, under

- ``replace``: each generation refits on its own $m$ sequences only;
- ``accumulate``: each generation adds its $m$ sequences' bigram counts to all earlier ones.

(The default smoothing keeps the perplexity finite: with $\alpha = 0$ a chain that loses a single
transition of the truth gives held-out truth sequences probability 0, perplexity $+\infty$, which is
correct but leaves nothing to plot; use ``--smoothing 0`` to see absorption itself in ``mass_lost``
and ``support``.) Other regimes: ``accumulate_subsample`` (a subsample of $m$ of all sequences so
far), ``fresh`` ($n_{\rm real}$ fresh truth sequences plus $m - n_{\rm real}$ synthetic ones,
$n_{\rm real} = \lfloor m/2\rfloor$ by default), ``augment`` (a fixed set of $n_{\rm real} = m$ truth
sequences plus $\lambda n_{\rm real}$ synthetic ones), ``weighted`` (a fixed real set of
$n_{\rm real} = \lfloor m/2 \rfloor$, $m - n_{\rm real}$ synthetic, real weight $w$).

It prints a table (cross-chain mean $\pm$ standard error at generations 1, 10, 50, 100 and $G$) of
``entropy_rate``, ``kl_rate``, ``perplexity``, ``mutual_info``, ``support`` and ``mass_lost`` with the
truth's values at $t = 0$, and the exact theory where one exists: ``initial_gini_simpson`` under
replace at $\tau = 1$ with the initial distribution refit (Wright–Fisher with $m$ first tokens), and
``gini_simpson`` under replace at $\tau = 1$ when $L = 2$ and the initial distribution is fixed
(`jaxcollapse.theory.ngram`). Output folder (``--out``, default ``jaxcollapse_ngram_out/``):
``results.npz`` (`Trajectory.to_numpy()` per regime, keys prefixed by the regime, plus
``theory/<regime>/<metric>`` and the truth's ``truth/transition`` and ``truth/initial``),
``summary.csv`` (per generation: ``<regime>/<metric>/mean`` and ``/std``), ``config.toml`` (loadable
with ``--config``), ``table.txt``, ``entropy_rate.png`` and ``perplexity.png`` (fan charts across chains,
one fan per regime).

TOML (``--config``): the top-level keys mirror the flags (dashes as underscores: ``family``,
``regimes``, ``m``, ``generations``, ``chains``, ``seed``, ``temperature``, ``lam``, ``w``, ``n_real``,
``metrics``, ``x64``, ``out``) and an ``[ngram]`` table holds the model: ``vocab``, ``support``,
``beta``, ``length``, ``smoothing``, ``fixed_initial``, ``truth_seed``.

Errors: one line ``jaxcollapse: error: ...`` on stderr, exit code 2, nothing written; output is
written to a temporary sibling folder and renamed into place.
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
    _fmt,
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

REGIMES = ("replace", "accumulate", "accumulate_subsample", "augment", "fresh", "weighted")
TABLE_GENERATIONS = (1, 10, 50, 100)
TABLE_METRICS = ("entropy_rate", "kl_rate", "perplexity", "mutual_info", "support", "mass_lost")
ALWAYS = ("entropy_rate", "perplexity")  # the figures' metrics


@dataclass(frozen=True)
class NgramConfig:
    family: str = "ngram"
    regimes: tuple[str, ...] = ("replace", "accumulate")
    m: int = 100
    generations: int = 100
    chains: int = 1000
    seed: int = 0
    temperature: float = 1.0
    lam: float = 1.0
    w: float = 0.5
    n_real: int | None = None
    metrics: tuple[str, ...] | None = None
    x64: bool = False
    out: str = "jaxcollapse_ngram_out"
    vocab: int = 50  # [ngram]
    support: int = 8
    beta: float = 1.0
    length: int = 20
    smoothing: float = 0.01
    fixed_initial: bool = False
    truth_seed: int = 0


TOP_KEYS = {"family": _STR, "regimes": _STRS, "m": _INT, "generations": _INT, "chains": _INT, "seed": _INT,
            "temperature": _FLOAT, "lam": _FLOAT, "w": _FLOAT, "n_real": _INT, "metrics": _STRS, "x64": _BOOL,
            "out": _STR}
MODEL_KEYS = {"vocab": _INT, "support": _INT, "beta": _FLOAT, "length": _INT, "smoothing": _FLOAT,
              "fixed_initial": _BOOL, "truth_seed": _INT}


def load_toml(path: str) -> dict:
    raw = read_toml(path)
    out: dict = {}
    for key, value in raw.items():
        if key == "ngram":
            if not isinstance(value, dict):
                raise CLIError(f"{path}: [ngram] must be a table")
            for sub, v in value.items():
                if sub not in MODEL_KEYS:
                    raise CLIError(f"{path}: unknown key ngram.{sub!r}{_suggest(sub, MODEL_KEYS)}; "
                                   f"valid keys of [ngram]: {', '.join(MODEL_KEYS)}")
                out[sub] = _convert(f"ngram.{sub}", MODEL_KEYS[sub], v)
        elif key in TOP_KEYS:
            out[key] = _convert(key, TOP_KEYS[key], value)
        else:
            raise CLIError(f"{path}: unknown key {key!r}{_suggest(key, list(TOP_KEYS) + ['ngram'])}")
    return out


def resolve(flags: dict, config_file: str | None) -> NgramConfig:
    values = {f.name: f.default for f in fields(NgramConfig)}
    if config_file is not None:
        values.update(load_toml(config_file))
    for key, v in flags.items():
        if v is not None:
            kind = TOP_KEYS.get(key) or MODEL_KEYS.get(key)
            values[key] = _convert(key, kind, v) if kind is not None else v
    cfg = NgramConfig(**values)
    _check_values(cfg)
    return cfg


def _check_values(cfg: NgramConfig) -> None:
    from .families.ngram import Bigram

    if cfg.family != "ngram":
        raise CLIError(f"this runner is for family 'ngram', got {cfg.family!r}")
    check_regime_names(cfg.regimes, REGIMES)
    for key, lo in (("m", 1), ("generations", 1), ("chains", 1), ("seed", 0), ("truth_seed", 0)):
        if getattr(cfg, key) < lo:
            raise CLIError(f"{key} must be >= {lo}, got {getattr(cfg, key)}")
    if cfg.vocab < 2:
        raise CLIError(f"vocab must be >= 2 tokens, got {cfg.vocab}")
    if not 2 <= cfg.support <= cfg.vocab:
        raise CLIError(f"support must lie in [2, vocab] = [2, {cfg.vocab}], got {cfg.support}")
    if cfg.length < 2:
        raise CLIError(f"sequence length must be >= 2, got {cfg.length}")
    if cfg.beta < 0:
        raise CLIError(f"beta must be >= 0, got {cfg.beta}")
    if cfg.smoothing < 0:
        raise CLIError(f"smoothing must be >= 0, got {cfg.smoothing}")
    if not cfg.temperature > 0:
        raise CLIError(f"temperature must be > 0, got {cfg.temperature}")
    for key in ("lam", "w"):
        if not 0.0 <= getattr(cfg, key) <= 1.0:
            raise CLIError(f"{key} must lie in [0, 1], got {getattr(cfg, key)}")
    if cfg.n_real is not None and cfg.n_real < 1:
        raise CLIError(f"n_real must be >= 1, got {cfg.n_real}")
    for mname in cfg.metrics or ():
        if mname not in Bigram.metric_names:
            raise CLIError(f"unknown metric {mname!r}{_suggest(mname, Bigram.metric_names)}; "
                           f"known metrics: {', '.join(Bigram.metric_names)}")
    for name in cfg.regimes:
        if name in ("fresh", "weighted"):
            _split(cfg, name)


def _split(cfg: NgramConfig, name: str) -> tuple[int, int]:
    n_real = cfg.m // 2 if cfg.n_real is None else cfg.n_real
    if not 1 <= n_real <= cfg.m - 1:
        raise CLIError(f"regime {name} splits the m = {cfg.m} sequences of a generation into n_real real and "
                       f"m - n_real synthetic ones: need 1 <= n_real <= m - 1, got n_real = {n_real}")
    return n_real, cfg.m - n_real


def build_regime(cfg: NgramConfig, name: str):
    from . import regimes as R

    tau = cfg.temperature
    if name == "replace":
        return R.replace(cfg.m, temperature=tau)
    if name == "accumulate":
        return R.accumulate(cfg.m, temperature=tau)
    if name == "accumulate_subsample":
        return R.accumulate_subsample(cfg.m, cfg.m, temperature=tau)
    if name == "augment":
        return R.augment(cfg.m if cfg.n_real is None else cfg.n_real, cfg.lam, temperature=tau)
    n_real, n_syn = _split(cfg, name)
    if name == "fresh":
        return R.fresh(n_real, n_syn, temperature=tau)
    return R.weighted(n_real, n_syn, cfg.w, temperature=tau)


def build_model(cfg: NgramConfig):
    import jax

    from .families.ngram import Bigram

    return Bigram.zipf(jax.random.key(cfg.truth_seed), cfg.vocab, support=cfg.support, beta=cfg.beta,
                       length=cfg.length, smoothing=cfg.smoothing, refit_initial=not cfg.fixed_initial)


def metric_names(cfg: NgramConfig) -> tuple[str, ...]:
    from .families.ngram import Bigram

    if cfg.metrics is None:
        return Bigram.metric_names
    return tuple(dict.fromkeys((*ALWAYS, *cfg.metrics)))


def theory_curves(cfg: NgramConfig, name: str, model) -> dict[str, np.ndarray]:
    """Exact expectations over generations 0..G where `jaxcollapse.theory.ngram` has them (float64)."""
    import jax.numpy as jnp

    from ._config import x64
    from .theory import ngram as mk

    out: dict[str, np.ndarray] = {}
    if name != "replace" or cfg.temperature != 1.0:
        return out
    with x64():
        t = jnp.arange(cfg.generations + 1)
        P0 = jnp.asarray(np.asarray(model.transition, np.float64))
        mu = jnp.asarray(np.asarray(model.initial, np.float64))
        if not cfg.fixed_initial:
            out["initial_gini_simpson"] = 1.0 - np.asarray(mk.initial_simpson_mean(t, cfg.m, mu, cfg.smoothing))
        if cfg.length == 2 and cfg.fixed_initial:
            A, B = mk.simpson_coefficients(mk.binomial_visits(cfg.m, mu), cfg.vocab, cfg.smoothing)
            S = mk.simpson_index_mean(t, jnp.sum(P0 * P0, axis=1), A, B)
            pi = mk.stationary_distribution(P0)
            out["gini_simpson"] = np.asarray(jnp.sum(pi[None, :] * (1.0 - S), axis=1))
    return out


def theory_table(cfg: NgramConfig, trajs: dict, curves: dict, metrics) -> str:
    G = cfg.generations
    ts = sorted({t for t in TABLE_GENERATIONS if t <= G} | {G})
    shown = [m for m in TABLE_METRICS if m in metrics]
    if cfg.smoothing > 0:  # every transition stays possible: support = V^2 and nothing is lost
        shown = [m for m in shown if m not in ("support", "mass_lost")]
    shown += [m for c in curves.values() for m in c if m not in shown and m in metrics]
    rows = [("regime", "metric", "t=0 (truth)", "t", "theory", "simulation (mean ± stderr)", "z")]
    for name, traj in trajs.items():
        for metric in shown:
            mean = np.asarray(traj.mean(metric), np.float64)
            se = np.asarray(traj.stderr(metric), np.float64)
            th = curves[name].get(metric)
            for t in ts:
                sim = f"{_fmt(mean[t])} ± {se[t]:.3g}" if math.isfinite(mean[t]) else _fmt(mean[t])
                if th is None:
                    rows.append((name, metric, _fmt(mean[0]), str(t), "—", sim, "—"))
                    continue
                z = (mean[t] - th[t]) / se[t] if se[t] > 0 and math.isfinite(se[t]) else float("nan")
                rows.append((name, metric, _fmt(mean[0]), str(t), _fmt(th[t]), sim,
                             f"{z:+.2f}" if math.isfinite(z) else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 6 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    head = (f"Bigram V={cfg.vocab} (Zipf beta={cfg.beta:g}, support {cfg.support}), m={cfg.m} sequences of length "
            f"{cfg.length}, smoothing {cfg.smoothing:g}, {cfg.chains} chains, {G} generations, "
            f"tau={cfg.temperature:g}, seed {cfg.seed}{', float64' if cfg.x64 else ''}")
    rule = "-" * len(lines[0])
    note = ("z = (mean - theory) / stderr; — : no closed form; inf: some chain lost a transition of the truth "
            "(KL rate and perplexity +inf)")
    return "\n".join([head, rule, lines[0], rule, *lines[1:], rule, note])


def config_toml(cfg: NgramConfig, regimes: dict, metrics) -> str:
    from . import __version__

    lines = [f"# written by jaxcollapse {__version__}; run it again with: jaxcollapse run --config config.toml "
             "--out NEW_DIR", ""]
    for f in fields(NgramConfig):
        if f.name in MODEL_KEYS:
            continue
        v = metrics if f.name == "metrics" else getattr(cfg, f.name)
        lines.append(f"# {f.name} not set: the regime's default" if v is None else f"{f.name} = {_toml_value(v)}")
    lines += ["", "[ngram]"] + [f"{k} = {_toml_value(getattr(cfg, k))}" for k in MODEL_KEYS] + [""]
    lines.append("# resolved regimes:")
    lines += [f"#   {r.describe()}" for r in regimes.values()]
    return "\n".join(lines) + "\n"


def write_outputs(folder: Path, cfg: NgramConfig, regimes: dict, metrics, trajs: dict, curves: dict, model,
                  table: str) -> None:
    from .plot import compare

    arrays: dict[str, np.ndarray] = {"truth/transition": np.asarray(model.transition),
                                     "truth/initial": np.asarray(model.initial)}
    for name, traj in trajs.items():
        arrays.update({f"{name}/{k}": v for k, v in traj.to_numpy().items()})
        arrays.update({f"theory/{name}/{k}": v for k, v in curves[name].items()})
    np.savez(folder / "results.npz", **arrays)
    gens = np.arange(cfg.generations + 1)
    header, cols = ["generation"], [gens]
    for name, traj in trajs.items():
        for mname in metrics:
            header += [f"{name}/{mname}/mean", f"{name}/{mname}/std"]
            cols += [np.asarray(traj.mean(mname)), np.asarray(traj.std(mname))]
    _write_csv(folder / "summary.csv", header, cols)
    (folder / "config.toml").write_text(config_toml(cfg, regimes, metrics), encoding="utf-8")
    (folder / "table.txt").write_text(table + "\n", encoding="utf-8")
    for mname, label in (("entropy_rate", "entropy rate (nats/token)"),
                         ("perplexity", "perplexity of held-out truth sequences")):
        fig = compare(trajs, mname, log=(mname == "perplexity"))
        ax = fig.axes[0]
        ax.set_ylabel(label)
        ax.set_title(f"bigram V={cfg.vocab}, m={cfg.m}, L={cfg.length}, alpha={cfg.smoothing:g}, {cfg.chains} chains")
        fig.savefig(folder / f"{mname}.png", dpi=120)
        import matplotlib.pyplot as plt

        plt.close(fig)


def build_parser() -> _Parser:
    p = _Parser(prog=f"{PROG} run --family ngram", allow_abbrev=False,
                description="Refit a bigram language model to its own sequences, generation after generation.")
    opts: list[str] = []
    a = _adder(p, opts)
    a("--family", help="ngram")
    a("--config", metavar="FILE.toml", help="TOML config (top-level keys mirror the flags; model keys in [ngram])")
    a("--regime", dest="regimes", nargs="+", metavar="REGIME",
      help=f"{', '.join(REGIMES)} (default: replace accumulate)")
    a("--m", type=int, help="sequences per generation (fresh/weighted: real + synthetic; default 100)")
    a("--length", type=int, help="tokens per sequence L >= 2 (default 20)")
    a("--vocab", type=int, help="tokens V >= 2 (default 50)")
    a("--support", type=int, help="successors per token in the Zipfian truth (default 8)")
    a("--beta", type=float, help="Zipf exponent of the truth's rows (default 1)")
    a("--smoothing", type=float, help="additive smoothing alpha >= 0 of the refit (default 0.01)")
    a("--fixed-initial", dest="fixed_initial", action="store_true", default=None,
      help="hold the initial-token distribution fixed (default: refit it)")
    a("--truth-seed", dest="truth_seed", type=int, help="seed of the truth's random support (default 0)")
    a("--generations", type=int, help="generations G (default 100)")
    a("--chains", type=int, help="independent chains (default 1000)")
    a("--seed", type=int, help="seed of the simulation (default 0)")
    a("--temperature", type=float, help="sampling temperature tau > 0 (default 1)")
    a("--lam", type=float, help="augment: synthetic share lambda in [0, 1] (default 1)")
    a("--w", type=float, help="weighted: real-data weight w in [0, 1] (default 0.5)")
    a("--n-real", dest="n_real", type=int, help="real sequences (fresh/weighted default m // 2; augment default m)")
    a("--metrics", nargs="+", metavar="METRIC", help="metrics to record (default all)")
    a("--x64", action="store_true", default=None, help="use float64")
    a("--out", metavar="DIR", help="output folder (default jaxcollapse_ngram_out)")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="no progress display and nothing on stdout")
    p.set_defaults(options=opts)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    flags = {k: getattr(args, k) for k in (*TOP_KEYS, *MODEL_KEYS)}
    cfg = resolve(flags, args.config)
    out = Path(cfg.out)
    _check_out(out, bool(args.force))
    quiet = bool(args.quiet)
    say = (lambda *a: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    import jax

    from ._config import x64

    ctx = x64() if cfg.x64 else contextlib.nullcontext()
    with ctx:
        model, regimes = build_checked(build_model, build_regime, cfg, cfg.regimes, cfg.generations)
        metrics = metric_names(cfg)
        curves = {name: theory_curves(cfg, name, model) for name in regimes}
        key = jax.random.key(cfg.seed)
        t_start = time.perf_counter()
        say(f"{PROG} run: bigram V={cfg.vocab}, m={cfg.m}, L={cfg.length}, {cfg.chains} chains, "
            f"{cfg.generations} generations, regimes {', '.join(cfg.regimes)}")
        try:
            trajs = simulate_regimes(key, model, regimes, cfg.generations, cfg.chains, path="samples", quiet=quiet,
                                     say=say, metrics=metrics)
        except ValueError as e:
            raise CLIError(str(e)) from None
        table = theory_table(cfg, trajs, curves, metrics)
    _publish(out, bool(args.force),
             lambda tmp: write_outputs(tmp, cfg, regimes, metrics, trajs, curves, model, table))
    if not quiet:
        print(table)
    say(f"wrote {out}/ (results.npz, summary.csv, config.toml, table.txt, entropy_rate.png, perplexity.png) "
        f"in {time.perf_counter() - t_start:.1f} s")
    return 0
