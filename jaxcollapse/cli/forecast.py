r"""``jaxcollapse forecast FILE [--model spread|diversity|error] [--out DIR]``: fit a collapse model and forecast.

``jaxcollapse forecast --covariates FILE.csv [--out DIR]`` instead: a design of configurations (``label``,
``n``, covariates measured in one step, and for the configurations run recursively a target,
``count,sum_log,sum_ratio`` or ``rate,rate_se``; `jaxcollapse.bayes.read_design`). The hierarchical model
(ln kappa regressed on the covariates, `jaxcollapse.bayes.fit_covariates`) is fitted on the rows with a
target and predicts the rate and the generation at which one chain's spread, from 1, crosses
``--threshold`` (default 0.1) for the rows without one, with 50% and 90% intervals; the output is
`jaxcollapse.cli.predict`'s (``summary.txt``, ``predictions.csv``, ``posterior.npz``, ``predictions.png``).
``FILE`` and ``--covariates`` are exclusive; ``--model``, ``--n``, ``--divisor`` and ``--array`` apply to
``FILE`` only.

``FILE`` is

- the per-chain CSV a run writes, ``chains_<regime>_<metric>.csv``: a comment line
  ``# jaxcollapse family=... regime=... metric=... model=<spread|diversity|error> n=<n>``, the header
  ``generation,chain_0,chain_1,...`` and one row per generation; or any CSV with one row per
  generation and one column per chain, with or without the ``generation`` column (then the rows are
  generations 0, 1, ...) and with or without the comment line. Empty cells or ``nan`` are missing
  values; generations absent from the file are missing generations; or
- an NPZ holding a 2-D array `(generations, chains)` (``--array NAME`` picks one when there are
  several; an optional 1-D ``generation`` array gives the generation of each row).

A file that does not hold chains (``summary.csv``, a ``forecast.csv``) is refused with what to pass.

**The model** is ``--model``, else the file's ``model=``, else the one of its metric (``metric=`` or
the file name; `jaxcollapse.bayes.METRIC_MODELS`), else spread (with a note). ``--n``, else the
file's ``n=``, is the nominal sample size per generation: the diversity model fits $\kappa$ with
$n_{\rm eff} = n$ (the product $\kappa(1 - 1/n)$ alone is identified by one configuration, so it
needs $n$); the spread model infers $n_{\rm eff}$ and prints $n$ beside it; the error model fits one
growth per generation (one configuration does not separate its two terms).

It prints the posterior summary and the forecast ``--horizon`` generations ahead, with the generation
at which the statistic reaches ``--threshold`` (default: a tenth of the start for spread and
diversity, twice the start for an error), the fraction of chains absorbed at 0 where there are
any, and a warning where the data contradict the model. It writes to ``--out`` (default
``jaxcollapse_forecast_out/``), atomically: ``summary.txt``, ``forecast.csv`` (generation, the
5/25/50/75/95% quantiles, and the absorbed fraction where chains are absorbed), ``posterior.npz``
(the draws) and ``forecast.png`` (the fan over the observed chains, the warnings on it). Where the file's
``family=`` is a recipe whose forecast was measured miscalibrated (``forecast_reliable = False``;
``benchmarks/calibration.py``), the summary, the figure's title and a first comment line of ``forecast.csv``
(``# jaxcollapse forecast warning: ...``) say so. Bad input
(a missing, empty or header-only file, a file that is not chains, an output folder that cannot be
written) is one line on stderr and exit code 2, found before any compute; nothing is written.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._common import PROG, CLIError, _check_out, _Parser, _publish, _suggest, default_out, raise_if_interrupted

DEFAULT_OUT = default_out("forecast")
MODELS = ("spread", "diversity", "error")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} forecast", allow_abbrev=False,
                description="Fit a Bayesian collapse model (numpyro NUTS) to per-generation chains of a statistic "
                            "in a CSV or NPZ (e.g. chains_<regime>_<metric>.csv of a run); print the posterior and "
                            "the forecast; write a figure. With --covariates FILE.csv instead: fit ln kappa on "
                            "covariates measured in one step across a design of configurations and predict the "
                            "rate of the configurations without one.")
    p.add_argument("file", metavar="FILE", nargs="?", help="CSV (one row per generation, one column per chain; an "
                                                           "optional first column 'generation') or NPZ")
    p.add_argument("--covariates", metavar="FILE.csv",
                   help="instead of FILE: a design of configurations (label, n, covariates, and for the rows to learn "
                        "from count,sum_log,sum_ratio or rate,rate_se); fit ln kappa on the covariates and predict the "
                        "rate and the crossing generation of the rows without a target")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--model", help="spread (a variance-like statistic), diversity (Gini-Simpson) or error (a test "
                                   "error that grows); default: the file's model=, else its metric's, else spread")
    p.add_argument("--n", type=float, help="nominal sample size per generation (default: the file's n=)")
    p.add_argument("--divisor", help="spread: finite-sample factor chi2_{n-1}/n (mle, default) or /(n-1) (unbiased)")
    p.add_argument("--horizon", type=int, default=50, help="generations to forecast ahead (default 50)")
    p.add_argument("--threshold", type=float, help="level of the statistic to forecast a crossing of (default: a "
                                                   "tenth of the start; error: twice the start; --covariates: the "
                                                   "spread relative to its start 1, default 0.1, or for an error "
                                                   "design the error relative to its level after one refit, above "
                                                   "1, default 2)")
    p.add_argument("--array", metavar="NAME", help="NPZ: the array to read")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--num-warmup", dest="num_warmup", type=int, default=1000, help="NUTS warm-up draws (1000)")
    p.add_argument("--num-samples", dest="num_samples", type=int, default=1000, help="NUTS draws per chain (1000)")
    p.add_argument("--num-chains", dest="num_chains", type=int, default=4, help="NUTS chains (4)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def _check_args(args) -> None:
    if args.model is not None and args.model not in MODELS:
        raise CLIError(f"unknown model {args.model!r}; choose spread, diversity or error{_suggest(args.model, MODELS)}")
    if args.divisor not in (None, "mle", "unbiased"):
        raise CLIError(f"unknown divisor {args.divisor!r}; choose mle or unbiased")
    if args.horizon < 1:
        raise CLIError(f"--horizon must be >= 1, got {args.horizon}")
    for flag, v, lo in (("--num-warmup", args.num_warmup, 0), ("--num-samples", args.num_samples, 1),
                        ("--num-chains", args.num_chains, 1)):
        if v < lo:
            raise CLIError(f"{flag} must be >= {lo}, got {v}")
    if args.n is not None and not (math.isfinite(args.n) and args.n > 1):
        raise CLIError(f"--n must be a number > 1, got {args.n}")


def _check_writable(out: Path) -> None:
    """Refuse an output folder that cannot be created: probe the nearest existing folder above it."""
    folder = out.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise CLIError(f"cannot write {out}: {folder} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".jaxcollapse-probe-", dir=folder)
    except OSError as e:
        raise CLIError(f"cannot write {out}: {folder} is not writable ({e.strerror}); pick another --out") from None
    shutil.rmtree(probe, ignore_errors=True)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    if (args.file is None) == (args.covariates is None):
        raise CLIError("give either a run's per-chain FILE (chains_<regime>_<metric>.csv) or --covariates FILE.csv "
                       f"(a design of configurations), {'not both' if args.file else 'one of them'} "
                       f"(see '{PROG} forecast --help')")
    if args.covariates is not None:
        if args.threshold is not None and not (math.isfinite(args.threshold) and 0 < args.threshold != 1):
            raise CLIError(f"--threshold must be a number > 0 other than 1 (with --covariates: a level relative to "
                           f"the start, 1), got {args.threshold}")
        from .predict import run_covariates

        return run_covariates(args)
    args.divisor = args.divisor or "mle"
    path = Path(args.file)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    out = Path(args.out)
    _check_out(out, args.force)
    _check_writable(out)

    from .. import bayes  # imports JAX

    try:
        chains = bayes.read_chains(path, args.array)
        model, why = bayes.pick_model(chains, args.model)
        n = args.n if args.n is not None else bayes.nominal_n(chains)
        if args.threshold is not None:
            bayes.check_threshold(model, args.threshold)
    except ValueError as e:
        raise CLIError(str(e) if isinstance(e, bayes.NotChains) else f"{path}: {e}") from None
    if model == "diversity" and n is None:
        raise CLIError(f"{path}: the diversity model identifies only kappa (1 - 1/n) from one configuration; give the "
                       "sample size per generation with --n N (the file has no n=)")
    _run(args, path, out, chains, model, why, n)
    return 0


def _family(chains) -> str | None:
    """The file's ``family=`` where it names a registered recipe (whose forecast may be marked unreliable)."""
    from .. import recipes

    fam = chains.meta.get("family")
    return fam if fam in recipes.names() else None


def _run(args, path: Path, out: Path, chains, model: str, why: str, n: float | None) -> None:
    import warnings

    import jax

    from .. import bayes

    raise_if_interrupted()  # a Ctrl-C that `import jax` swallowed
    key = jax.random.key(args.seed)
    vals, g0 = chains.values, chains.first_generation
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            post = bayes.fit(key, vals, model, divisor=args.divisor, n_eff=n if model == "diversity" else None,
                             num_warmup=args.num_warmup, num_samples=args.num_samples, num_chains=args.num_chains)
        start, t0 = bayes.forecast_start(post, 0)
        thr = args.threshold
        if thr is None:
            thr = 2.0 * start if model == "error" else start / 10.0
            thr = thr if thr > 0 else None
        fc = bayes.forecast(post, args.horizon, thr, key=jax.random.fold_in(key, 1), start_generation=g0 + t0,
                            family=_family(chains))
    except ValueError as e:
        raise CLIError(f"{path}: {e}") from None
    head = [f"{path.name}: {vals.shape[1]} chains, generations {g0} to {g0 + vals.shape[0] - 1}"
            + (f", metric {chains.metric}" if chains.metric else ""),
            f"model: {model} ({why})"]
    if n is not None:
        head.append(f"nominal n = {n:g}" + (" (n_eff = n: kappa is fitted)" if model == "diversity" else
                                            " (the fit infers n_eff; compare)" if model == "spread" else
                                            " (not used: one configuration)"))
    notes = [f"note: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    text = "\n".join([*head, *notes, post.summary(), "", fc.summary(warnings=False)])
    if not args.quiet:
        print(text)

    def write(folder: Path) -> None:
        (folder / "summary.txt").write_text(text + "\n", encoding="utf-8")
        qs = fc.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
        ab = None if fc.absorbed is None else fc.absorbed.mean(axis=0)
        with (folder / "forecast.csv").open("w", encoding="utf-8", newline="") as f:
            if fc.caveat:  # a family marked unreliable: the file says so before its header
                f.write(f"# jaxcollapse forecast warning: {fc.caveat}\n")
            f.write("generation,q0.05,q0.25,q0.5,q0.75,q0.95" + (",absorbed" if ab is not None else "") + "\n")
            for i, g in enumerate(fc.generations):
                row = [str(int(g))] + [format(float(x), ".9g") for x in qs[:, i]]
                f.write(",".join(row + ([format(float(ab[i]), ".6g")] if ab is not None else [])) + "\n")
        extra = {} if fc.absorbed is None else {"absorbed": fc.absorbed}
        np.savez(folder / "posterior.npz", **{k: v for k, v in post.draws.items()},
                 crossing=np.asarray(fc.crossing if fc.crossing is not None else np.nan),
                 threshold=np.float64(np.nan if thr is None else thr), **extra)
        full = np.full((g0 + vals.shape[0], vals.shape[1]), np.nan)
        full[g0:] = vals
        fig = bayes.forecast_fan(fc, full, title=f"{path.name}: forecast ({model} model)")
        fig.savefig(folder / "forecast.png", dpi=110)

    _publish(out, args.force, write)
    if not args.quiet:
        print(f"wrote {out}/ (summary.txt, forecast.csv, posterior.npz, forecast.png)")
