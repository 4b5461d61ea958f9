r"""``jaxcollapse run --family vae | mlp``: neural families refit on their own output, from the command line.

- ``vae``: a `jaxcollapse.VAE` on a 2-D toy (``--data moons | rings | mixture``) or the 8x8 digits
  (``--data digits``); prints spread, coverage and modes per generation.
- ``mlp``: a `jaxcollapse.MLPRegressor` trained on the previous generation's labels; prints the test
  error against the true function.

Both print the per-generation collapse rate $r = -E[\ln s_G - \ln s_1]/(G - 1)$ of the spread $s$ (VAE) or
the growth per generation of the test error (MLP), and write ``summary.csv`` (mean and standard deviation
of every metric per generation), ``paths.csv`` (one column per chain of the spread or the test error: the
form ``jaxcollapse forecast`` reads), ``table.txt`` and ``config.toml`` to ``--out``, atomically.
Bad input is one line on stderr and exit code 2, before anything is compiled.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from . import cli

FAMILIES = ("vae", "mlp")
DATA = ("moons", "rings", "mixture", "digits")
REGIMES = ("replace", "accumulate", "fresh")


def _parser(family: str):
    p = cli._Parser(prog=f"{cli.PROG} run --family {family}", allow_abbrev=False,
                    description=f"Refit a {family} generation after generation (see jaxcollapse._cli_neural).")
    flags: list[str] = []
    a = cli._adder(p, flags)
    a("--family", required=True, choices=FAMILIES)
    a("--n", type=int, default=500 if family == "vae" else 50, help="samples per generation")
    a("--generations", type=int, default=10, help="generations G")
    a("--chains", type=int, default=16, help="independent chains (one network each)")
    a("--seed", type=int, default=0)
    a("--regime", default="replace", help="replace, accumulate or fresh (half real, half synthetic)")
    a("--steps", type=int, default=400, help="AdamW steps per generation")
    a("--learning-rate", dest="learning_rate", type=float, default=1e-2)
    a("--weight-decay", dest="weight_decay", type=float, default=0.0)
    a("--width", type=int, default=32, help="hidden units per layer")
    a("--depth", type=int, default=2, help="hidden layers")
    a("--batch-size", dest="batch_size", type=int, default=None, help="minibatch size (default: full batch)")
    a("--init", default="fresh", help="fresh (a new network each generation) or warm")
    if family == "vae":
        a("--data", default="moons", help="moons, rings, mixture or digits")
        a("--latent", type=int, default=2, help="latent size")
        a("--classes", type=int, default=None, help="rings or mixture components")
    else:
        a("--dim", type=int, default=1, help="input dimension")
        a("--label-noise", dest="label_noise", type=float, default=0.1, help="label noise scale")
    a("--out", default=f"jaxcollapse_{family}", metavar="DIR", help="output folder")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="nothing on stdout")
    return p, flags


def _build(args):
    import jax

    from . import datasets, regimes
    from .families.neural import VAE, MLPRegressor

    for nm in ("n", "generations", "chains"):
        if getattr(args, nm) < 1:
            raise cli.CLIError(f"--{nm} must be >= 1, got {getattr(args, nm)}")
    if args.regime not in REGIMES:
        raise cli.CLIError(f"unknown regime {args.regime!r}; choose one of {', '.join(REGIMES)}"
                           f"{cli._suggest(args.regime, REGIMES)}")
    knobs = dict(steps=args.steps, learning_rate=args.learning_rate, weight_decay=args.weight_decay,
                 width=args.width, depth=args.depth, batch_size=args.batch_size, init=args.init)
    key = jax.random.key(args.seed)
    if args.family == "vae":
        if args.data not in DATA:
            raise cli.CLIError(f"unknown --data {args.data!r}; choose one of {', '.join(DATA)}"
                               f"{cli._suggest(args.data, DATA)}")
        data = datasets.digits() if args.data == "digits" else datasets.toy(
            jax.random.fold_in(key, 1), args.data, 1024, k=args.classes)
        model = VAE(jax.random.fold_in(key, 2), data, latent=args.latent, **knobs)
    else:
        model = MLPRegressor(jax.random.fold_in(key, 2), dim=args.dim, label_noise=args.label_noise, **knobs)
    half = max(1, args.n // 2)
    regime = {"replace": lambda: regimes.replace(args.n), "accumulate": lambda: regimes.accumulate(args.n),
              "fresh": lambda: regimes.fresh(half, max(1, args.n - half))}[args.regime]()
    return model, regime


def _rate(paths: np.ndarray, log: bool) -> tuple[float, float]:
    """Per-chain change per generation from generation 1 to G (of ln s for a rate), mean and stderr."""
    g = paths.shape[0] - 1
    if g < 2:
        return math.nan, math.nan
    v = np.log(paths) if log else paths
    per = (v[g] - v[1]) / (g - 1) * (-1.0 if log else 1.0)
    if not np.all(np.isfinite(per)) or per.size < 2:
        return float(np.mean(per)), math.nan
    return float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size))


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
    out = Path(args.out)
    try:
        model, regime = _build(args)
        from .engine import make_spec

        make_spec(model, regime, args.generations, path="samples")
    except ValueError as e:
        raise cli.CLIError(str(e)) from None
    cli._check_out(out, bool(args.force))

    import jax

    from .engine import simulate

    say = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"{cli.PROG} run --family {fam}: n={args.n}, {args.chains} chains, {args.generations} generations")
    t0 = time.perf_counter()
    traj = simulate(jax.random.key(args.seed), model, regime, args.generations, args.chains, path="samples",
                    record_paths=True, quantiles=())
    say(f"  simulated in {time.perf_counter() - t0:.1f} s")
    lead = "spread" if fam == "vae" else "test_mse"
    paths = np.asarray(traj.paths[lead], np.float64)
    r, se = _rate(paths, log=fam == "vae")
    names = model.metric_names
    G = args.generations
    ts = sorted({0, 1, max(1, G // 2), G})
    rows = [["metric"] + [f"t={t}" for t in ts]]
    for m in names:
        rows.append([m] + [f"{float(traj.mean(m)[t]):.4f}" for t in ts])
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    table = "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    what = "collapse rate of the spread -E ln(s_t+1/s_t)" if fam == "vae" else "test error growth per generation"
    table += f"\n{what} (generations 1..{G}): {r:.5f} +- {se:.1e}"

    def write(folder: Path) -> None:
        gens = np.arange(G + 1)
        header, cols = ["generation"], [gens]
        for m in names:
            header += [f"{m}/mean", f"{m}/std"]
            cols += [np.asarray(traj.mean(m)), np.asarray(traj.std(m))]
        cli._write_csv(folder / "summary.csv", header, cols)
        cli._write_csv(folder / "paths.csv", ["generation"] + [f"chain_{i}" for i in range(paths.shape[1])],
                       [gens] + [paths[:, i] for i in range(paths.shape[1])])
        (folder / "table.txt").write_text(table + "\n", encoding="utf-8")
        cfg = {k: v for k, v in vars(args).items() if k not in ("force", "quiet", "out") and v is not None}
        (folder / "config.toml").write_text("\n".join(f"{k} = {cli._toml_value(v)}" for k, v in cfg.items()) + "\n",
                                            encoding="utf-8")

    cli._publish(out, bool(args.force), write)
    if not args.quiet:
        print(table)
        print(f"wrote {out}")
    return 0
