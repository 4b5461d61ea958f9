r"""``jaxcollapse forecast FILE [--out DIR]``: fit the Bayesian collapse model to observed chains and forecast.

``FILE`` is

- a CSV with a header row, one row per generation and one column per chain, the first column
  ``generation`` (as ``chains_variance.csv`` written by ``jaxcollapse run``). Empty cells or ``nan``
  are missing values; generations absent from the file are missing generations; or
- an NPZ holding a 2-D array `(generations, chains)` (``--array NAME`` picks one when there are
  several; an optional 1-D ``generation`` array gives the generation of each row).

It prints the posterior summary (``n_eff``, ``kappa`` and the collapse rate
$r = r_{\rm sample} + r_{\rm approx}$ with 90% intervals) and the forecast of the typical chain
(the median of the chains' last values) ``--horizon`` generations ahead, with the generation at
which the statistic falls to ``--threshold`` (default: a tenth of the start). It writes to
``--out`` (default ``jaxcollapse_forecast/``), atomically: ``summary.txt``, ``forecast.csv``
(generation and the 5/25/50/75/95% quantiles), ``posterior.npz`` (the draws) and ``forecast.png``
(the fan over the observed chains). Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

from .cli import PROG, CLIError, _check_out, _Parser, _publish, _suggest

DEFAULT_OUT = "jaxcollapse_forecast"


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"cannot read {path}: {e}") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise CLIError(f"{path} is empty")
    head = [c.strip() for c in rows[0]]
    if head[0].lower() != "generation":
        raise CLIError(f"{path}: the first column must be 'generation' (one row per generation), got {head[0]!r}")
    if len(head) < 2:
        raise CLIError(f"{path}: no chain columns after 'generation'")
    gens, vals = [], []
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(head):
            raise CLIError(f"{path}, line {i}: {len(r)} fields, but the header has {len(head)}")
        try:
            g = float(r[0])
            v = [float(c) if c.strip() else math.nan for c in r[1:]]
        except ValueError:
            raise CLIError(f"{path}, line {i}: not a number in {r!r}") from None
        gens.append(g)
        vals.append(v)
    return np.asarray(gens), np.asarray(vals, np.float64).reshape(len(vals), len(head) - 1)


def _read_npz(path: Path, name: str | None) -> tuple[np.ndarray | None, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot read {path} as NPZ: {e}") from None
    if name is not None:
        if name not in arrays:
            raise CLIError(f"{path} has no array {name!r}{_suggest(name, list(arrays))}; it has {sorted(arrays)}")
        arr = arrays[name]
    else:
        two = [k for k, v in arrays.items() if v.ndim == 2]
        if len(two) != 1:
            raise CLIError(f"{path} has {len(two)} 2-D arrays ({', '.join(sorted(two)) or 'none'}); "
                           "pick one with --array NAME")
        arr = arrays[two[0]]
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise CLIError(f"{path}: expected a numeric array (generations, chains), got shape {arr.shape}")
    gens = arrays.get("generation")
    if gens is not None and np.shape(gens) != (arr.shape[0],):
        raise CLIError(f"{path}: 'generation' has {np.size(gens)} entries but the array has {arr.shape[0]} rows")
    return gens, arr.astype(np.float64)


def _regrid(gens: np.ndarray | None, vals: np.ndarray) -> tuple[np.ndarray, int]:
    """Rows on a consecutive generation grid (absent generations become rows of NaN)."""
    if gens is None:
        return vals, 0
    g = np.asarray(gens, np.float64)
    if not np.all(np.isfinite(g)) or np.any(g != np.round(g)) or np.any(g < 0):
        raise CLIError("generations must be non-negative integers")
    if np.any(np.diff(g) <= 0):
        raise CLIError("generations must be strictly increasing")
    g = g.astype(int)
    out = np.full((g[-1] - g[0] + 1, vals.shape[1]), np.nan)
    out[g - g[0]] = vals
    return out, int(g[0])


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} forecast", allow_abbrev=False,
                description="Fit the Bayesian collapse model (numpyro NUTS) to per-generation chains of a "
                            "statistic in a CSV or NPZ; print the posterior and the forecast; write a figure.")
    p.add_argument("file", metavar="FILE", help="CSV (first column 'generation', one column per chain) or NPZ")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--model", default="spread", help="spread (default; a variance-like statistic)")
    p.add_argument("--divisor", default="mle", help="finite-sample factor chi2_{n-1}/n (mle, default) or /(n-1)")
    p.add_argument("--horizon", type=int, default=50, help="generations to forecast ahead (default 50)")
    p.add_argument("--threshold", type=float, help="level of the statistic to forecast a crossing of "
                                                   "(default: a tenth of the starting value)")
    p.add_argument("--array", metavar="NAME", help="NPZ: the array to read")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--num-warmup", dest="num_warmup", type=int, default=1000, help="NUTS warm-up draws (1000)")
    p.add_argument("--num-samples", dest="num_samples", type=int, default=1000, help="NUTS draws per chain (1000)")
    p.add_argument("--num-chains", dest="num_chains", type=int, default=4, help="NUTS chains (4)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    if args.model != "spread":
        raise CLIError(f"unknown or unsupported model {args.model!r} for the CLI; choose 'spread'"
                       f"{_suggest(args.model, ['spread'])}")
    if args.divisor not in ("mle", "unbiased"):
        raise CLIError(f"unknown divisor {args.divisor!r}; choose mle or unbiased")
    if args.horizon < 1:
        raise CLIError(f"--horizon must be >= 1, got {args.horizon}")
    for flag, v, lo in (("--num-warmup", args.num_warmup, 0), ("--num-samples", args.num_samples, 1),
                        ("--num-chains", args.num_chains, 1)):
        if v < lo:
            raise CLIError(f"{flag} must be >= {lo}, got {v}")
    if args.threshold is not None and not (math.isfinite(args.threshold) and args.threshold > 0):
        raise CLIError(f"--threshold {args.threshold} is outside the range of a spread statistic (a positive number)")
    out = Path(args.out)
    _check_out(out, args.force)
    if path.suffix.lower() == ".npz":
        gens, vals = _read_npz(path, args.array)
    else:
        gens, vals = _read_csv(path)
    vals, g0 = _regrid(gens, vals)

    import warnings

    import jax

    from . import bayes

    key = jax.random.key(args.seed)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            post = bayes.fit(key, vals, "spread", divisor=args.divisor, num_warmup=args.num_warmup,
                             num_samples=args.num_samples, num_chains=args.num_chains)
        start, t0 = bayes._forecast._start(post, 0)
        thr = args.threshold if args.threshold is not None else start / 10.0
        fc = bayes.forecast(post, args.horizon, thr, key=jax.random.fold_in(key, 1), start=start,
                            start_generation=g0 + t0)
    except ValueError as e:
        raise CLIError(f"{path}: {e}") from None
    notes = [f"note: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    text = "\n".join([*notes, post.summary(), "", fc.summary()])
    if not args.quiet:
        print(text)

    def write(folder: Path) -> None:
        (folder / "summary.txt").write_text(text + "\n", encoding="utf-8")
        qs = fc.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
        with (folder / "forecast.csv").open("w", encoding="utf-8", newline="") as f:
            f.write("generation,q0.05,q0.25,q0.5,q0.75,q0.95\n")
            for i, g in enumerate(fc.generations):
                f.write(",".join([str(int(g))] + [format(float(x), ".9g") for x in qs[:, i]]) + "\n")
        np.savez(folder / "posterior.npz", **{k: v for k, v in post.draws.items()},
                 crossing=fc.crossing, threshold=np.float64(thr))
        full = np.full((g0 + vals.shape[0], vals.shape[1]), np.nan)
        full[g0:] = vals
        fig = bayes.forecast_fan(fc, full, title=f"{path.name}: forecast of the typical chain")
        fig.savefig(folder / "forecast.png", dpi=110)

    _publish(out, args.force, write)
    if not args.quiet:
        print(f"wrote {out}/ (summary.txt, forecast.csv, posterior.npz, forecast.png)")
    return 0
