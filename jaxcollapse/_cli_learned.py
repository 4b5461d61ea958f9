r"""``jaxcollapse run --family mixture | kde | decomposition``: learned approximators from the command line.

- ``mixture``: a $K$-component Gaussian mixture refit by EM (optionally curated) under one or more
  regimes; prints the spread, L2 distance and KL per generation.
- ``kde``: a kernel density estimate refit on its own samples (replace / accumulate).
- ``decomposition``: the three error sources of Shumailov et al. (2024) for one truth (a two-component
  mixture), side by side: statistical (the right family fitted by EM to convergence), expressivity
  (one Gaussian for two components), approximation (truncated EM from a random start), and all three
  again with $10\times$ the samples (statistical error made small). For each it prints the
  per-generation collapse rate $r = -E[\ln s_G - \ln s_0]/G$ of the spread $s$ (the trace of the
  model's covariance) with its standard error, and the growth per generation of the L2 distance and of
  the KL divergence to the truth; it writes one CSV per source with one row per generation and one
  column per chain of the spread (the form ``jaxcollapse forecast`` reads). The spread's *mean* decays
  as $(1 - 1/n)^t$ for every source (`theory.mixture_spread_mean`): EM refits the overall moments
  exactly, so expressivity and approximation errors show in the distances, not in the spread.

Outputs go to ``--out`` atomically (`cli._publish`); bad input is one line on stderr, exit code 2.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import cli

FAMILIES = ("mixture", "kde", "decomposition")


def _parser(family: str):
    p = cli._Parser(prog=f"{cli.PROG} run --family {family}", allow_abbrev=False,
                    description=f"Refit a {family} model generation after generation (see jaxcollapse._cli_learned).")
    flags: list[str] = []
    a = cli._adder(p, flags)
    a("--family", required=True, choices=FAMILIES)
    a("--n", type=int, default=100 if family != "kde" else 50, help="samples per generation")
    a("--generations", type=int, default=50, help="generations G")
    a("--chains", type=int, default=200, help="independent chains")
    a("--seed", type=int, default=0)
    a("--out", default=f"jaxcollapse_{family}", metavar="DIR", help="output folder")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="nothing on stdout")
    a("--x64", action="store_true", help="use float64")
    a("--paths-chains", dest="paths_chains", type=int, default=256, help="chains written to the per-chain CSVs")
    if family != "decomposition":
        a("--regime", dest="regimes", nargs="+", default=["replace", "accumulate"], metavar="REGIME",
          help="replace and/or accumulate")
    if family in ("mixture", "decomposition"):
        a("--K", dest="K", type=int, default=2, help="components of the truth (and of the model)")
        a("--dim", type=int, default=2, help="dimension d")
        a("--separation", type=float, default=4.0, help="distance between neighbouring component means")
        a("--em-iters", dest="em_iters", type=int, default=100, help="EM iterations (maximum with --tol)")
        a("--tol", type=float, default=1e-6, help="EM tolerance on the mean log-likelihood (0: fixed iterations)")
    if family == "mixture":
        a("--covariance", default="full", help="full or diag")
        a("--init", default="warm", help="warm or random")
        a("--keep", type=float, default=None, help="curation: keep this fraction of samples (by truth density)")
        a("--accept-good", dest="accept_good", type=float, default=1.0, help="curation: true acceptance rate")
        a("--accept-bad", dest="accept_bad", type=float, default=0.0, help="curation: false acceptance rate")
    if family == "kde":
        a("--dim", type=int, default=1, help="dimension d")
        a("--bandwidth", default="scott", help="a number h > 0, scott or silverman")
    if family == "decomposition":
        a("--truncated-iters", dest="truncated_iters", type=int, default=2,
          help="EM iterations of the approximation-error learner (random start)")
        a("--large-factor", dest="large_factor", type=int, default=10,
          help="sample-size factor of the runs with little statistical error")
    return p, flags


def _check(args) -> None:
    for nm in ("n", "generations", "chains", "paths_chains"):
        if getattr(args, nm) < 1:
            raise cli.CLIError(f"--{nm.replace('_', '-')} must be >= 1, got {getattr(args, nm)}")
    if getattr(args, "K", 1) < 1:
        raise cli.CLIError(f"--K must be >= 1, got {args.K}")
    if getattr(args, "dim", 1) < 1:
        raise cli.CLIError(f"--dim must be >= 1, got {args.dim}")
    for r in getattr(args, "regimes", []):
        if r not in ("replace", "accumulate"):
            raise cli.CLIError(f"unknown regime {r!r} for --family {args.family}; choose replace or accumulate"
                               f"{cli._suggest(r, ('replace', 'accumulate'))}")
    if getattr(args, "keep", None) is not None and not (0 < args.keep <= 1):
        raise cli.CLIError(f"--keep must lie in (0, 1], got {args.keep}")
    if getattr(args, "truncated_iters", 1) < 1 or getattr(args, "large_factor", 1) < 1:
        raise cli.CLIError("--truncated-iters and --large-factor must be >= 1")


def truth_mixture(K: int, dim: int, separation: float, **kwargs):
    """Equal-weight components with identity covariance, means spaced by `separation` along the first axis."""
    from .families import GaussianMixture

    means = np.zeros((K, dim))
    means[:, 0] = separation * (np.arange(K) - (K - 1) / 2.0)
    return GaussianMixture(np.full(K, 1.0 / K), means, 1.0, **kwargs)


def _runs(args):
    """[(label, model, truth, regime)] for the family of `args`."""
    from . import regimes as rg
    from .curation import curate
    from .families import KDE, Gaussian
    from .families.mixture import moment_matched

    fam = args.family
    if fam == "kde":
        bw = args.bandwidth
        if bw not in ("scott", "silverman"):
            try:
                bw = float(bw)
            except ValueError:
                raise cli.CLIError(f"--bandwidth must be a number > 0, scott or silverman; got {bw!r}") from None
        truth = Gaussian(np.zeros(args.dim), 1.0)
        import jax

        pts = np.asarray(truth.sample(jax.random.key(args.seed + 1), args.n))
        runs = []
        for r in args.regimes:
            cap = args.n * (args.generations if r == "accumulate" else 1)
            runs.append((r, KDE(pts, bw, capacity=cap), truth, getattr(rg, r)(args.n)))
        return runs
    em = dict(em_iters=args.em_iters, tol=args.tol)
    if fam == "mixture":
        truth = truth_mixture(args.K, args.dim, args.separation, covariance=args.covariance, init=args.init, **em)
        runs = []
        for r in args.regimes:
            regime = getattr(rg, r)(args.n)
            if args.keep is not None:
                regime = curate(regime, keep=args.keep, accept_good=args.accept_good, accept_bad=args.accept_bad)
            runs.append((r, truth, truth, regime))
        return runs
    truth = truth_mixture(args.K, args.dim, args.separation, **em)
    big = args.n * args.large_factor
    trunc = truth_mixture(args.K, args.dim, args.separation, em_iters=args.truncated_iters, tol=0.0, init="random")
    one = moment_matched(truth)
    return [
        ("statistical", truth, truth, rg.replace(args.n)),
        ("expressivity+statistical", one, truth, rg.replace(args.n)),
        ("approximation+statistical", trunc, truth, rg.replace(args.n)),
        (f"statistical (n={big})", truth, truth, rg.replace(big)),
        (f"expressivity (n={big})", one, truth, rg.replace(big)),
        (f"approximation (n={big})", trunc, truth, rg.replace(big)),
    ]


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_").replace("__", "_")


def collapse_rate(paths: np.ndarray) -> tuple[float, float]:
    r"""$r = -\mathrm{mean}_i[\ln s_{i,G} - \ln s_{i,0}]/G$ over chains, and its standard error."""
    G = paths.shape[0] - 1
    with np.errstate(divide="ignore"):
        per = -(np.log(paths[-1]) - np.log(paths[0])) / G
    if not np.all(np.isfinite(per)):
        return math.inf, math.inf
    return float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.nan


def growth_rate(paths: np.ndarray) -> tuple[float, float]:
    r"""$\mathrm{mean}_i(m_{i,G} - m_{i,0})/G$ over chains (a distance's growth per generation), and its stderr."""
    G = paths.shape[0] - 1
    per = (paths[-1] - paths[0]) / G
    if not np.all(np.isfinite(per)):
        return math.inf, math.inf
    return float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.nan


def _table(results: dict, G: int) -> str:
    ts = sorted({1, max(1, G // 2), G})
    dist = [m for m in ("l2sq", "kl", "nll") if m in next(iter(results.values()))[0].summary]
    head = ["source", "spread rate/gen", "stderr"] + [f"spread t={t}" for t in ts]
    for m in dist:
        head += [f"{m} t=0", f"{m} t={G}", f"{m} growth/gen", "stderr"]
    rows = [head]
    for label, (traj, paths) in results.items():
        r, se = collapse_rate(paths)
        row = [label, f"{r:.5f}", f"{se:.1e}"] + [f"{float(traj.mean('spread')[t]):.4f}" for t in ts]
        for m in dist:
            g, gse = growth_rate(np.asarray(traj.paths[m], np.float64))
            row += [f"{float(traj.mean(m)[0]):.4f}", f"{float(traj.mean(m)[G]):.4f}", f"{g:.5f}", f"{gse:.1e}"]
        rows.append(row)
    widths = [max(len(r[j]) for r in rows) for j in range(len(head))]
    lines = ["  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _write(folder: Path, args, results: dict, metrics: tuple[str, ...], table: str) -> None:
    G = args.generations
    gens = np.arange(G + 1)
    header, cols = ["generation"], [gens]
    for label, (traj, _) in results.items():
        for m in metrics:
            header += [f"{label}/{m}/mean", f"{label}/{m}/std"]
            cols += [np.asarray(traj.mean(m)), np.asarray(traj.std(m))]
    cli._write_csv(folder / "summary.csv", header, cols)
    for label, (_, paths) in results.items():
        cli._write_csv(folder / f"spread_{_slug(label)}.csv",
                       ["generation"] + [f"chain_{i}" for i in range(paths.shape[1])],
                       [gens] + [paths[:, i] for i in range(paths.shape[1])])
    (folder / "table.txt").write_text(table + "\n", encoding="utf-8")
    cfg = {k: v for k, v in vars(args).items() if k not in ("force", "quiet", "out")}
    lines = [f"{k} = {cli._toml_value(v)}" for k, v in cfg.items() if v is not None]
    (folder / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    fam = None
    for i, a in enumerate(argv):
        if a == "--family" and i + 1 < len(argv):
            fam = argv[i + 1]
        elif a.startswith("--family="):
            fam = a.split("=", 1)[1]
    if fam not in FAMILIES:
        raise cli.CLIError(f"unknown family {fam!r}; this runner handles {', '.join(FAMILIES)}")
    parser, _ = _parser(fam)
    args = parser.parse_args(argv)
    _check(args)
    out = Path(args.out)
    cli._check_out(out, bool(args.force))
    say = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    import jax

    from ._config import x64
    from .engine import simulate

    ctx = x64() if args.x64 else contextlib.nullcontext()
    t0 = time.perf_counter()
    with ctx:
        try:
            runs = _runs(args)
            for _, model, truth, regime in runs:  # every configuration validated before anything runs
                from .engine import make_spec

                make_spec(model, regime, args.generations, truth=truth, path="samples")
        except ValueError as e:
            raise cli.CLIError(str(e)) from None
        metrics = ("spread", "l2sq", "kl", "dead") if fam != "kde" else ("spread", "nll", "mean_sq_err")
        key = jax.random.key(args.seed)
        results = {}
        say(f"{cli.PROG} run --family {fam}: n={args.n}, {args.chains} chains, {args.generations} generations")
        for label, model, truth, regime in runs:
            t1 = time.perf_counter()
            traj = simulate(key, model, regime, args.generations, args.chains, truth=truth, path="samples",
                            metrics=metrics, record_paths=True, quantiles=(0.05, 0.5, 0.95))
            paths = np.asarray(traj.paths["spread"], np.float64)[:, : args.paths_chains]
            results[label] = (traj, paths)
            say(f"  {label}: {time.perf_counter() - t1:.1f} s")
        table = _table(results, args.generations)
    cli._publish(out, bool(args.force), lambda tmp: _write(tmp, args, results, metrics, table))
    if not args.quiet:
        print(table)
    say(f"wrote {out}/ (summary.csv, spread_*.csv, table.txt, config.toml) in {time.perf_counter() - t0:.1f} s")
    return 0
