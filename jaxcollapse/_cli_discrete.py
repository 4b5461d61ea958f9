r"""``jaxcollapse run --family categorical`` and ``--family poisson``: Wright–Fisher collapse and extinction.

**Categorical** defaults: a Zipf(1.1) truth over $K = 100$ categories, $n = 100$ draws per generation,
2,000 chains, 200 generations, float32, under ``replace`` (the Wright–Fisher model: categories die out
and $E[1 - \sum p^2]$ decays as $(1 - 1/n)^t$) and ``accumulate`` (every generation adds $n$ draws to all
earlier ones: the diversity settles at $H_0\sin(\pi/\sqrt n)/(\pi/\sqrt n)$). Truths: ``zipf``
(``--beta``), ``uniform``, ``dirichlet`` (``--concentration``, ``--truth-seed``) or ``wordfreq`` (the
top $K$ words of ``--lang``, normalized). Decoding: ``--temperature``, ``--top-k``, ``--top-p``;
smoothing ``--alpha``.

**Poisson** defaults: rate 1, $n = 10$, 2,000 chains, 100 generations, ``replace`` (a critical
Galton–Watson process: the rate is a martingale yet dies out) and ``accumulate`` (extinction only if
the first generation draws nothing: probability $e^{-n\lambda_0}$).

It prints a table of theory against simulation (cross-chain mean $\pm$ standard error, $z$) at
generations 1, 10, 50, 200 and $G$ wherever `jaxcollapse.theory.discrete` has an exact expectation.
Output folder (``--out``, default ``jaxcollapse_<family>_out/``): ``results.npz`` (per regime
`Trajectory.to_numpy()`, ``theory/<regime>/<metric>``, ``truth/p`` or ``truth/rate``), ``summary.csv``
(per generation ``<regime>/<metric>/mean`` and ``/std``), a per-chain CSV (``chains_gini_simpson.csv``:
the Gini–Simpson index of the first ``--paths-chains`` chains of the first regime, one column per
chain, for ``jaxcollapse forecast``; Poisson: ``chains_rate.csv``), ``config.toml`` (loadable with
``--config``), ``table.txt`` and figures: categorical ``diversity.png`` (surviving categories, tail
mass lost and Gini–Simpson over generations with theory overlays) and ``rank_frequency.png`` (truth
against the model at ``--rank-generations``, chain 0 and the mean over the recorded chains);
Poisson ``extinction.png`` (fraction extinct with the exact curve, and the rate).

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

FAMILIES = ("categorical", "poisson")
REGIMES = ("replace", "accumulate", "accumulate_subsample", "augment", "fresh", "weighted")
TRUTHS = ("zipf", "uniform", "dirichlet", "wordfreq")
TABLE_GENERATIONS = (1, 10, 50, 200)
_INTS = "a list of integers"


@dataclass(frozen=True)
class DiscreteConfig:
    family: str = "categorical"
    regimes: tuple[str, ...] = ("replace", "accumulate")
    n: int | None = None  # categorical 100, poisson 10
    generations: int | None = None  # categorical 200, poisson 100
    chains: int = 2000
    seed: int = 0
    temperature: float = 1.0
    lam: float = 1.0
    w: float = 0.5
    n_real: int | None = None
    metrics: tuple[str, ...] | None = None
    paths_chains: int = 256
    x64: bool = False
    out: str | None = None
    # [categorical]
    truth: str = "zipf"
    K: int = 100
    beta: float = 1.1
    concentration: float = 1.0
    lang: str = "en"
    alpha: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    truth_seed: int = 0
    rank_generations: tuple[int, ...] | None = None
    # [poisson]
    rate: float = 1.0

    @property
    def n_(self) -> int:
        return self.n if self.n is not None else (100 if self.family == "categorical" else 10)

    @property
    def G(self) -> int:
        return self.generations if self.generations is not None else (200 if self.family == "categorical" else 100)

    @property
    def out_(self) -> str:
        return self.out if self.out is not None else f"jaxcollapse_{self.family}_out"


TOP_KEYS = {"family": _STR, "regimes": _STRS, "n": _INT, "generations": _INT, "chains": _INT, "seed": _INT,
            "temperature": _FLOAT, "lam": _FLOAT, "w": _FLOAT, "n_real": _INT, "metrics": _STRS,
            "paths_chains": _INT, "x64": _BOOL, "out": _STR}
MODEL_KEYS = {
    "categorical": {"truth": _STR, "K": _INT, "beta": _FLOAT, "concentration": _FLOAT, "lang": _STR, "alpha": _FLOAT,
                    "top_k": _INT, "top_p": _FLOAT, "truth_seed": _INT, "rank_generations": _INTS},
    "poisson": {"rate": _FLOAT},
}
ALL_MODEL_KEYS = {**MODEL_KEYS["categorical"], **MODEL_KEYS["poisson"]}


def _conv(key: str, kind: str, value):
    if kind == _INTS:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
            raise CLIError(f"{key} must be {_INTS}, got {value!r}")
        return tuple(int(v) for v in value)
    return _convert(key, kind, value)


def load_toml(path: str) -> dict:
    raw = read_toml(path)
    out: dict = {}
    for key, value in raw.items():
        if key in MODEL_KEYS:
            if not isinstance(value, dict):
                raise CLIError(f"{path}: [{key}] must be a table")
            for sub, v in value.items():
                if sub not in MODEL_KEYS[key]:
                    raise CLIError(f"{path}: unknown key {key}.{sub!r}{_suggest(sub, MODEL_KEYS[key])}; "
                                   f"valid keys of [{key}]: {', '.join(MODEL_KEYS[key])}")
                out[sub] = _conv(f"{key}.{sub}", MODEL_KEYS[key][sub], v)
        elif key in TOP_KEYS:
            out[key] = _convert(key, TOP_KEYS[key], value)
        else:
            raise CLIError(f"{path}: unknown key {key!r}{_suggest(key, list(TOP_KEYS) + list(MODEL_KEYS))}")
    return out


def resolve(flags: dict, config_file: str | None) -> DiscreteConfig:
    values = {f.name: f.default for f in fields(DiscreteConfig)}
    if config_file is not None:
        values.update(load_toml(config_file))
    for key, v in flags.items():
        if v is not None:
            kind = TOP_KEYS.get(key) or ALL_MODEL_KEYS.get(key)
            values[key] = _conv(key, kind, v) if kind is not None else v
    cfg = DiscreteConfig(**values)
    _check_values(cfg)
    return cfg


def _check_values(cfg: DiscreteConfig) -> None:
    if cfg.family not in FAMILIES:
        raise CLIError(f"this runner is for the families {', '.join(FAMILIES)}, got {cfg.family!r}")
    check_regime_names(cfg.regimes, REGIMES)
    for key, v, lo in (("n", cfg.n_, 1), ("generations", cfg.G, 1), ("chains", cfg.chains, 1), ("seed", cfg.seed, 0),
                       ("paths_chains", cfg.paths_chains, 1), ("truth_seed", cfg.truth_seed, 0)):
        if v < lo:
            raise CLIError(f"{key} must be >= {lo}, got {v}")
    if not (math.isfinite(cfg.temperature) and cfg.temperature > 0):
        raise CLIError(f"temperature must be > 0, got {cfg.temperature}")
    for key in ("lam", "w"):
        if not 0.0 <= getattr(cfg, key) <= 1.0:
            raise CLIError(f"{key} must lie in [0, 1], got {getattr(cfg, key)}")
    if cfg.n_real is not None and cfg.n_real < 1:
        raise CLIError(f"n_real must be >= 1, got {cfg.n_real}")
    if cfg.family == "categorical" and cfg.truth not in TRUTHS:
        raise CLIError(f"unknown truth {cfg.truth!r}{_suggest(cfg.truth, TRUTHS)}; known truths: {', '.join(TRUTHS)}")
    for g in cfg.rank_generations or ():
        if not 0 <= g <= cfg.G:
            raise CLIError(f"rank generation {g} lies outside 0..{cfg.G}")
    names = _family(cfg).metric_names
    for mname in cfg.metrics or ():
        if mname not in names:
            raise CLIError(f"unknown metric {mname!r}{_suggest(mname, names)}; known metrics: {', '.join(names)}")
    for name in cfg.regimes:
        if name in ("fresh", "weighted"):
            _split(cfg, name)


def _family(cfg: DiscreteConfig):
    from .families.categorical import Categorical
    from .families.poisson import Poisson

    return Categorical if cfg.family == "categorical" else Poisson


def _split(cfg: DiscreteConfig, name: str) -> tuple[int, int]:
    n = cfg.n_
    n_real = n // 2 if cfg.n_real is None else cfg.n_real
    if not 1 <= n_real <= n - 1:
        raise CLIError(f"regime {name} splits the n = {n} samples of a generation into n_real real and "
                       f"n - n_real synthetic ones: need 1 <= n_real <= n - 1, got n_real = {n_real}")
    return n_real, n - n_real


def build_regime(cfg: DiscreteConfig, name: str):
    from . import regimes as R

    tau, n = cfg.temperature, cfg.n_
    if name == "replace":
        return R.replace(n, temperature=tau)
    if name == "accumulate":
        return R.accumulate(n, temperature=tau)
    if name == "accumulate_subsample":
        return R.accumulate_subsample(n, n, temperature=tau)
    if name == "augment":
        return R.augment(n if cfg.n_real is None else cfg.n_real, cfg.lam, temperature=tau)
    n_real, n_syn = _split(cfg, name)
    if name == "fresh":
        return R.fresh(n_real, n_syn, temperature=tau)
    return R.weighted(n_real, n_syn, cfg.w, temperature=tau)


def build_model(cfg: DiscreteConfig):
    import jax

    from .families.categorical import Categorical
    from .families.poisson import Poisson

    if cfg.family == "poisson":
        return Poisson(cfg.rate)
    kw = dict(alpha=cfg.alpha, top_k=cfg.top_k, top_p=cfg.top_p)
    if cfg.truth == "zipf":
        return Categorical.zipf(cfg.K, cfg.beta, **kw)
    if cfg.truth == "uniform":
        return Categorical.uniform(cfg.K, **kw)
    if cfg.truth == "dirichlet":
        return Categorical.dirichlet(jax.random.key(cfg.truth_seed), cfg.K, cfg.concentration, **kw)
    return Categorical.wordfreq(cfg.K, cfg.lang, **kw)


def _path(cfg: DiscreteConfig, name: str) -> str:
    return "samples" if name == "accumulate_subsample" else "exact"


def theory_curves(cfg: DiscreteConfig, name: str, model) -> dict[str, np.ndarray]:
    """Exact expectations over generations 0..G (float64; NaN where there is none, e.g. tail metrics past t = 1)."""
    from .theory import discrete as th

    G, n = cfg.G, cfg.n_
    t = np.arange(G + 1)
    out: dict[str, np.ndarray] = {}
    if cfg.family == "poisson":
        lam = float(model.rate)
        out["rate"] = np.full(G + 1, lam)  # a martingale under every regime
        if name == "replace":
            out["extinct"] = np.concatenate([[0.0], th.poisson_extinction_probability(t[1:], n, lam)])
        elif name == "accumulate":
            out["extinct"] = np.concatenate([[0.0], np.full(G, math.exp(-n * lam))])
        return out
    plain = cfg.temperature == 1.0 and cfg.top_k is None and cfg.top_p is None
    if not plain:
        return out
    p = np.asarray(model.p, np.float64)
    h0 = float(1.0 - np.sum(p * p))
    gs = None
    if name == "replace":
        gs = (th.heterozygosity_mean(t, n, h0) if cfg.alpha == 0
              else th.heterozygosity_smoothed(t, n, cfg.K, cfg.alpha, h0))
    elif cfg.alpha == 0 and name == "accumulate":
        gs = th.heterozygosity_accumulate(t, n, h0)
    elif cfg.alpha == 0 and name == "fresh":
        nr, ns = _split(cfg, name)
        gs = th.heterozygosity_fresh(t, nr, ns, h0)
    if gs is not None:
        out["gini_simpson"] = np.asarray(gs, np.float64)
    if cfg.alpha == 0 and name in ("replace", "accumulate", "fresh"):
        # Generation 1 fits n draws from the truth (fresh: n_real + n_syn = n). Under accumulate the pool keeps
        # every category seen in generation 1 and nothing else can appear, so the t = 1 values hold for all t >= 1.
        lost1 = float(th.mass_lost_one_generation(p, n))
        surv1 = float(np.sum(-np.expm1(n * np.log1p(-np.minimum(p, 1 - 1e-16)))))
        for metric, t0, t1 in (("tail_mass_lost", 0.0, lost1), ("surviving", float(np.sum(p > 0)), surv1)):
            curve = np.full(G + 1, t1 if name == "accumulate" else np.nan)
            curve[0], curve[1] = t0, t1
            out[metric] = curve
    return out


def theory_table(cfg: DiscreteConfig, trajs: dict, curves: dict, metrics) -> str:
    G = cfg.G
    ts = sorted({t for t in TABLE_GENERATIONS if t <= G} | {G})
    shown = [m for m in (("gini_simpson", "surviving", "tail_mass_lost", "entropy", "kl")
                         if cfg.family == "categorical" else ("rate", "extinct", "log_rate_ratio")) if m in metrics]
    rows = [("regime", "metric", "t=0", "t", "theory", "simulation (mean ± stderr)", "z")]
    for name, traj in trajs.items():
        for metric in shown:
            mean = np.asarray(traj.mean(metric), np.float64)
            se = np.asarray(traj.stderr(metric), np.float64)
            th = curves[name].get(metric)
            for t in ts:
                sim = f"{_fmt(mean[t])} ± {se[t]:.3g}" if math.isfinite(mean[t]) else _fmt(mean[t])
                if th is None or not math.isfinite(th[t]):
                    rows.append((name, metric, _fmt(mean[0]), str(t), "—", sim, "—"))
                    continue
                z = (mean[t] - th[t]) / se[t] if se[t] > 0 and math.isfinite(se[t]) else float("nan")
                rows.append((name, metric, _fmt(mean[0]), str(t), _fmt(th[t]), sim,
                             f"{z:+.2f}" if math.isfinite(z) else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 6 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    if cfg.family == "categorical":
        truth = {"zipf": f"Zipf beta={cfg.beta:g}", "uniform": "uniform",
                 "dirichlet": f"Dirichlet({cfg.concentration:g}) seed {cfg.truth_seed}",
                 "wordfreq": f"wordfreq {cfg.lang}"}[cfg.truth]
        head = (f"Categorical K={cfg.K} ({truth}), n={cfg.n_}, alpha={cfg.alpha:g}, tau={cfg.temperature:g}"
                + (f", top-k={cfg.top_k}" if cfg.top_k else "") + (f", top-p={cfg.top_p:g}" if cfg.top_p else ""))
    else:
        head = f"Poisson rate={cfg.rate:g}, n={cfg.n_}"
    head += f", {cfg.chains} chains, {G} generations, seed {cfg.seed}{', float64' if cfg.x64 else ''}"
    rule = "-" * len(lines[0])
    note = ("z = (mean - theory) / stderr; — : no closed form (tail metrics: exact at t = 1 only); "
            "inf: some chain lost a category of the truth (KL +inf) or went extinct")
    return "\n".join([head, rule, lines[0], rule, *lines[1:], rule, note])


def config_toml(cfg: DiscreteConfig, regimes: dict, metrics) -> str:
    from . import __version__

    lines = [f"# written by jaxcollapse {__version__}; run it again with: jaxcollapse run --config config.toml "
             "--out NEW_DIR", ""]
    for f in fields(DiscreteConfig):
        if f.name in ALL_MODEL_KEYS:
            continue
        v = {"metrics": metrics, "n": cfg.n_, "generations": cfg.G, "out": cfg.out_}.get(f.name, getattr(cfg, f.name))
        lines.append(f"# {f.name} not set: the default" if v is None else f"{f.name} = {_toml_value(v)}")
    lines += ["", f"[{cfg.family}]"]
    for k in MODEL_KEYS[cfg.family]:
        v = getattr(cfg, k)
        if k == "rank_generations" and v is not None:
            lines.append(f"{k} = [{', '.join(str(g) for g in v)}]")
        elif v is None:
            lines.append(f"# {k} not set")
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    lines += ["", "# resolved regimes:"] + [f"#   {r.describe()}" for r in regimes.values()]
    return "\n".join(lines) + "\n"


def _figures(folder: Path, cfg: DiscreteConfig, trajs: dict, curves: dict, model, detail) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plot import compare

    if cfg.family == "poisson":
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, traj in trajs.items():
            line, = axes[0].plot(np.asarray(traj.mean("extinct")), lw=1.8, label=f"{name} (simulation)")
            th = curves[name].get("extinct")
            if th is not None:
                axes[0].plot(th, ls=":", lw=2.2, color=line.get_color(), label=f"{name} (exact)")
        axes[0].set_xlabel("generation t")
        axes[0].set_ylabel("fraction of chains extinct (rate = 0)")
        axes[0].legend()
        compare(trajs, "rate", theory={k: c["rate"] for k, c in curves.items()}, ax=axes[1])
        fig.suptitle(f"Poisson rate {cfg.rate:g}, n = {cfg.n_}, {cfg.chains} chains")
        fig.tight_layout()
        fig.savefig(folder / "extinction.png", dpi=120)
        plt.close(fig)
        return
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for ax, metric in zip(axes, ("surviving", "tail_mass_lost", "gini_simpson"), strict=True):
        theory = {k: c[metric] for k, c in curves.items() if metric in c}
        compare(trajs, metric, ax=ax, theory={k: v for k, v in theory.items() if np.all(np.isfinite(v))})
        for v in theory.values():  # t = 1 theory points of the tail metrics
            if not np.all(np.isfinite(v)):
                ax.plot([1], [v[1]], marker="x", ms=9, color="k", ls="none")
        ax.set_xlabel("generation t")
    axes[0].set_ylabel("surviving categories")
    axes[1].set_ylabel("truth's mass on lost categories")
    axes[2].set_ylabel("Gini–Simpson 1 − Σp²")
    fig.suptitle(f"Categorical K = {cfg.K}, n = {cfg.n_}, {cfg.chains} chains (x: exact E at t = 1)")
    fig.tight_layout()
    fig.savefig(folder / "diversity.png", dpi=120)
    plt.close(fig)

    first = cfg.regimes[0]
    p_hist = np.asarray(detail.params.p)  # (G + 1, chains, K)
    gens = cfg.rank_generations or tuple(sorted({0, 1, min(10, cfg.G), cfg.G}))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    rank = np.arange(1, cfg.K + 1)
    truth = np.sort(np.asarray(model.p))[::-1]
    for ax, title in zip(axes, ("chain 0", f"mean over {p_hist.shape[1]} chains"), strict=True):
        ax.loglog(rank, truth, color="k", lw=2.2, label="truth")
        for g in gens:
            srt = np.sort(p_hist[g], axis=-1)[..., ::-1]
            y = srt[0] if title == "chain 0" else srt.mean(axis=0)
            ax.loglog(rank[y > 0], y[y > 0], lw=1.3, label=f"t = {g}")
        ax.set_xlabel("rank")
        ax.set_ylabel("frequency")
        ax.set_title(f"{first}: {title}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "rank_frequency.png", dpi=120)
    plt.close(fig)


def write_outputs(folder: Path, cfg: DiscreteConfig, regimes: dict, metrics, trajs: dict, curves: dict, model,
                  detail, table: str) -> None:
    arrays: dict[str, np.ndarray] = (
        {"truth/p": np.asarray(model.p)} if cfg.family == "categorical" else {"truth/rate": np.asarray(model.rate)})
    for name, traj in trajs.items():
        arrays.update({f"{name}/{k}": v for k, v in traj.to_numpy().items()})
        arrays.update({f"theory/{name}/{k}": v for k, v in curves[name].items()})
    np.savez(folder / "results.npz", **arrays)
    gens = np.arange(cfg.G + 1)
    header, cols = ["generation"], [gens]
    for name, traj in trajs.items():
        for mname in metrics:
            header += [f"{name}/{mname}/mean", f"{name}/{mname}/std"]
            cols += [np.asarray(traj.mean(mname)), np.asarray(traj.std(mname))]
    _write_csv(folder / "summary.csv", header, cols)
    per_chain = "gini_simpson" if cfg.family == "categorical" else "rate"
    paths = np.asarray(detail.paths[per_chain])
    _write_csv(folder / f"chains_{per_chain}.csv", ["generation"] + [f"chain_{i}" for i in range(paths.shape[1])],
               [gens] + [paths[:, i] for i in range(paths.shape[1])])
    (folder / "config.toml").write_text(config_toml(cfg, regimes, metrics), encoding="utf-8")
    (folder / "table.txt").write_text(table + "\n", encoding="utf-8")
    _figures(folder, cfg, trajs, curves, model, detail)


def build_parser() -> _Parser:
    p = _Parser(prog=f"{PROG} run --family categorical|poisson", allow_abbrev=False,
                description="Refit a categorical (Wright-Fisher) or Poisson model to its own samples.")
    opts: list[str] = []
    a = _adder(p, opts)
    a("--family", help="categorical or poisson")
    a("--config", metavar="FILE.toml", help="TOML config (top-level keys mirror the flags; model keys in "
                                            "[categorical] or [poisson])")
    a("--regime", dest="regimes", nargs="+", metavar="REGIME", help=f"{', '.join(REGIMES)} (default: replace "
                                                                    "accumulate)")
    a("--n", type=int, help="samples per generation (default: categorical 100, poisson 10)")
    a("--generations", type=int, help="generations G (default: categorical 200, poisson 100)")
    a("--chains", type=int, help="independent chains (default 2000)")
    a("--seed", type=int, help="seed of the simulation (default 0)")
    a("--temperature", type=float, help="sampling temperature tau > 0 (categorical; default 1)")
    a("--lam", type=float, help="augment: synthetic share lambda in [0, 1] (default 1)")
    a("--w", type=float, help="weighted: real-data weight w in [0, 1] (default 0.5)")
    a("--n-real", dest="n_real", type=int, help="real samples (fresh/weighted default n // 2; augment default n)")
    a("--metrics", nargs="+", metavar="METRIC", help="metrics to record (default all)")
    a("--paths-chains", dest="paths_chains", type=int, help="chains in the per-chain CSV (default 256)")
    a("--x64", action="store_true", default=None, help="use float64")
    a("--out", metavar="DIR", help="output folder (default jaxcollapse_<family>_out)")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="no progress display and nothing on stdout")
    a("--truth", help=f"categorical truth: {', '.join(TRUTHS)} (default zipf)")
    a("--K", "--k", dest="K", type=int, help="categories K >= 2 (default 100)")
    a("--beta", type=float, help="Zipf exponent (default 1.1)")
    a("--concentration", type=float, help="Dirichlet concentration (default 1)")
    a("--lang", help="wordfreq language (default en)")
    a("--alpha", type=float, help="additive smoothing of the refit (default 0)")
    a("--top-k", dest="top_k", type=int, help="sample only the k most probable categories")
    a("--top-p", dest="top_p", type=float, help="sample only the nucleus of mass top-p in (0, 1]")
    a("--truth-seed", dest="truth_seed", type=int, help="seed of the Dirichlet truth (default 0)")
    a("--rank-generations", dest="rank_generations", type=int, nargs="+", metavar="T",
      help="generations in the rank-frequency plot (default 0 1 10 G)")
    a("--rate", type=float, help="Poisson rate (default 1)")
    p.set_defaults(options=opts)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    flags = {k: getattr(args, k) for k in (*TOP_KEYS, *ALL_MODEL_KEYS)}
    cfg = resolve(flags, args.config)
    out = Path(cfg.out_)
    _check_out(out, bool(args.force))
    quiet = bool(args.quiet)
    say = (lambda *a: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    import jax

    from ._config import x64
    from .engine import simulate

    ctx = x64() if cfg.x64 else contextlib.nullcontext()
    with ctx:
        model, regimes = build_checked(build_model, build_regime, cfg, cfg.regimes, cfg.G)
        names = model.metric_names
        metrics = names if cfg.metrics is None else tuple(dict.fromkeys(
            (*(("gini_simpson", "surviving", "tail_mass_lost") if cfg.family == "categorical"
               else ("rate", "extinct")), *cfg.metrics)))
        curves = {name: theory_curves(cfg, name, model) for name in regimes}
        key = jax.random.key(cfg.seed)
        t_start = time.perf_counter()
        say(f"{PROG} run: {cfg.family}, n={cfg.n_}, {cfg.chains} chains, {cfg.G} generations, "
            f"regimes {', '.join(cfg.regimes)}")
        try:
            trajs = simulate_regimes(key, model, regimes, cfg.G, cfg.chains, path=lambda name: _path(cfg, name),
                                     quiet=quiet, say=say, metrics=metrics)
            first = cfg.regimes[0]
            per_chain = ("gini_simpson",) if cfg.family == "categorical" else ("rate",)
            detail = jax.block_until_ready(simulate(
                key, model, regimes[first], cfg.G, min(cfg.paths_chains, cfg.chains), path=_path(cfg, first),
                metrics=per_chain, record_paths=True, record_params=cfg.family == "categorical", quantiles=()))
        except ValueError as e:
            raise CLIError(str(e)) from None
        table = theory_table(cfg, trajs, curves, metrics)

    _publish(out, bool(args.force),
             lambda tmp: write_outputs(tmp, cfg, regimes, metrics, trajs, curves, model, detail, table))
    if not quiet:
        print(table)
    figs = "diversity.png, rank_frequency.png" if cfg.family == "categorical" else "extinction.png"
    per = "chains_gini_simpson.csv" if cfg.family == "categorical" else "chains_rate.csv"
    say(f"wrote {out}/ (results.npz, summary.csv, {per}, config.toml, table.txt, {figs}) "
        f"in {time.perf_counter() - t_start:.1f} s")
    return 0
