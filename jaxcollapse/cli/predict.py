r"""``jaxcollapse predict CONFIG.toml``: a configuration's collapse rate, predicted without running it recursively.

``CONFIG.toml`` is what ``jaxcollapse run --config`` takes (``family = "..."``, the run parameters at the top level,
the family's own in a table named after it; read and checked by the same reader), plus an optional ``[predict]``
table:

- ``fits`` (default 64): the cheap one-step fits that measure the configuration's covariates
  (`jaxcollapse.predict.measure`: fit on real data, sample, refit, compare; no recursion);
- ``horizon`` (default 50): generations to forecast the crossing within;
- ``threshold``: the level whose first crossing is forecast: of the spread relative to its start (1; default
  0.1) for a spread family (kde, mixture, vae, diffusion); of the headline error relative to the error after
  one refit on real data, $e_1$ (above 1; default 2) for an error family (mlp, transformer);
- ``design``: a design CSV (``jaxcollapse forecast --covariates`` reads the same format) to fit on instead of
  the family's shipped one (`jaxcollapse.predict.design_path`); a relative path is relative to the config file
  (``--design``'s: to the working folder);
- ``seed`` (default 0), ``num_warmup``, ``num_samples``, ``num_chains``: the key and the NUTS settings.

A flag of the same name overrides the table. The command measures the covariates, fits the hierarchical model
on the design's configurations (`jaxcollapse.bayes.fit_covariates`: ln kappa regressed on the covariates for
a spread family; for an error family, `jaxcollapse.bayes.fit_growth`: the growth of the headline error per
generation, ``test_mse`` or ``perplexity``, regressed on them), and prints the posterior predictive of the
collapse rate (an error family: of the growth per generation, in the metric's units) and of the generation at
which the threshold is crossed, with 50% and 90% intervals, and the warnings (every output carries them): a
covariate or $n$ well outside the range of the design's training rows (an extrapolation, naming the column), a
horizon within which fewer than 95% of the draws cross, a median crossing beyond the generations the design's
recursions ran (``generations=`` on its comment line), a family whose forecast is marked unreliable
(`recipe.forecast_reliable`), a family whose held-out prediction is not calibrated
(`jaxcollapse.predict.Family.caveat`).

The same output serves ``jaxcollapse forecast --covariates FILE.csv`` (`run_covariates`): a design whose
rows without a target are the configurations to predict. Both write, atomically, into ``--out``:
``summary.txt`` (what is printed), ``predictions.csv`` (one row per predicted configuration: its covariates,
the 5/25/50/75/95% quantiles of the rate, ``rate_q*``, or of an error family's growth, ``growth_q*``,
and of the crossing generation, the probability of crossing within
the horizon; the warnings as first comment lines ``# jaxcollapse forecast warning: ...``), ``posterior.npz``
(the draws) and ``predictions.png`` (the rate intervals per configuration beside the training rates, and the
distribution of the crossing generation).

Bad input (a config or design that does not parse, an unknown ``[predict]`` key, a family without a design, a
value that the shipped design holds fixed, a design of another family or with a column that is not measured,
covariates with NaN, a constant column, fewer configurations than parameters, an output folder that cannot be
written) is one line on stderr and exit status 2, found before anything compiles; nothing is written.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ._common import (
    PROG,
    CLIError,
    _check_out,
    _Parser,
    _publish,
    _suggest,
    default_out,
    raise_if_interrupted,
    read_toml,
)

DEFAULT_OUT = default_out("predict")
# the [predict] table: key -> (type, default, check, the valid range in words)
_INT, _NUM, _STR = (int,), (int, float), (str,)
PREDICT_KEYS: dict[str, tuple[tuple[type, ...], object, Callable[[object], bool], str]] = {
    "fits": (_INT, 64, lambda v: v >= 2, "an integer >= 2"),
    "horizon": (_INT, 50, lambda v: v >= 1, "an integer >= 1"),
    "threshold": (_NUM, None, lambda v: math.isfinite(v) and 0 < v != 1, "a number > 0 other than 1 (the start)"),
    "design": (_STR, None, lambda v: bool(v.strip()), "a path to a design CSV"),
    "seed": (_INT, 0, lambda v: v >= 0, "an integer >= 0"),
    "num_warmup": (_INT, 1000, lambda v: v >= 0, "an integer >= 0"),
    "num_samples": (_INT, 1000, lambda v: v >= 1, "an integer >= 1"),
    "num_chains": (_INT, 4, lambda v: v >= 1, "an integer >= 1"),
}
LEVELS = (0.5, 0.9)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# --------------------------------------------------------------------------- parser
def add_sampler_flags(p: argparse.ArgumentParser) -> None:
    """``--num-warmup``, ``--num-samples``, ``--num-chains`` (as ``jaxcollapse forecast`` has them; unset: the
    [predict] table's, else the defaults)."""
    for flag, dest, key, what in (("--num-warmup", "num_warmup", "num_warmup", "NUTS warm-up draws"),
                                  ("--num-samples", "num_samples", "num_samples", "NUTS draws per chain"),
                                  ("--num-chains", "num_chains", "num_chains", "NUTS chains")):
        d = PREDICT_KEYS[key][1]
        p.add_argument(flag, dest=dest, type=int, help=f"{what} (default {d})")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} predict", allow_abbrev=False,
                description="Predict a configuration's collapse rate (an error family, mlp or transformer: the growth "
                            "of its headline error per generation) and the generation at which it crosses a "
                            "threshold, without running it recursively: measure its one-step error with a few "
                            "cheap fits, fit the hierarchical model (ln kappa, or the log growth, on the covariates) "
                            "on the family's design of configurations, and print the posterior predictive with 50%% "
                            "and 90%% intervals. Flags override the config's [predict] table.")
    p.add_argument("config", metavar="CONFIG.toml", help="a config of 'jaxcollapse run --config' (family, run "
                                                         "parameters, [family] table) with an optional [predict] table")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--fits", type=int, help="one-step fits that measure the covariates (default 64)")
    p.add_argument("--horizon", type=int, help="generations to forecast the crossing within (default 50)")
    p.add_argument("--threshold", type=float, help="level whose crossing is forecast: of the spread relative to its "
                                                   "start, 1 (default 0.1); an error family: of the error relative to "
                                                   "the error after one refit, e_1 (above 1; default 2)")
    p.add_argument("--design", metavar="FILE.csv", help="design CSV to fit on (default: the family's shipped one; "
                                                        "[predict] design is relative to the config file)")
    p.add_argument("--seed", type=int, help="seed (default 0)")
    add_sampler_flags(p)
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


# --------------------------------------------------------------------------- checks before compute
def _check_value(key: str, v, where: str):
    types, _, ok, rng = PREDICT_KEYS[key]
    if isinstance(v, bool) or not isinstance(v, types) or not ok(v):
        raise CLIError(f"{where}{key} must be {rng}, got {v!r}")
    return float(v) if types is _NUM else v


def predict_settings(table, flags: dict, path: str) -> dict:
    """The [predict] settings: defaults < the config's table < flags; an unknown key or a bad value is a CLIError."""
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise CLIError(f"{path}: predict must be a table [predict], got {table!r}")
    out = {k: d for k, (_, d, _, _) in PREDICT_KEYS.items()}
    for k, v in table.items():
        if k not in PREDICT_KEYS:
            raise CLIError(f"{path}: unknown key predict.{k!r}{_suggest(k, PREDICT_KEYS)}; valid keys of [predict]: "
                           f"{', '.join(PREDICT_KEYS)}")
        out[k] = _check_value(k, v, f"{path}: predict.")
    for k, v in flags.items():
        if v is not None:
            out[k] = _check_value(k, v, "--" + k.replace("_", "-") + ": ")
    return out


def check_writable(out: Path, force: bool) -> None:
    from .forecast import _check_writable

    _check_out(out, force)
    _check_writable(out)


def read_design_or_exit(bayes, path: Path):
    """`bayes.read_design` (its family from a ``# family=NAME`` line), a ValueError as a one-line CLIError."""
    if not path.is_file():
        raise CLIError(f"no such design file: {path}")
    try:
        return bayes.read_design(path)
    except ValueError as e:
        raise CLIError(f"{path}: {e}") from None


def family_warning(family: str) -> str:
    """The caveats of `family` (a recipe name), ``""`` where none or not a recipe: its forecast marked unreliable
    (`bayes.family_caveat`), its held-out prediction not calibrated (`jaxcollapse.predict.Family.caveat`)."""
    from .. import bayes, recipes
    from .. import predict as P

    if family not in recipes.names():
        return ""
    parts = [bayes.family_caveat(family), P.FAMILIES[family].caveat if family in P.FAMILIES else ""]
    return "; ".join(p for p in parts if p)


DEFAULT_THRESHOLD = {"spread": 0.1, "error": 2.0}


def threshold_for(model: str, thr) -> float:
    """The crossing threshold: `thr`, else the model's default; an error model's must be above 1 (CLIError)."""
    if thr is None:
        return DEFAULT_THRESHOLD[model]
    if model == "error" and not thr > 1:
        raise CLIError(f"threshold must be above 1 for an error family (a level of the error relative to the error "
                       f"after one refit, e_1), got {thr:g}")
    return float(thr)


# --------------------------------------------------------------------------- output
def _q(a: np.ndarray, q) -> np.ndarray | float:
    return np.quantile(np.asarray(a, np.float64), q, method="inverted_cdf")


def _fmt_cross(x: float) -> str:
    return "> horizon" if math.isinf(x) else f"{x:.0f}"


def prediction_table(preds, horizon: int) -> str:
    """One line per prediction: the rate's median and 50%/90% intervals, the crossing's, P(cross by horizon)."""
    head = (f"{'configuration':<24} {'rate median':>11} {'50% interval':>21} {'90% interval':>21}   "
            f"{'crossing median':>15} {'50% interval':>17} {'90% interval':>17} {'P(cross)':>8}")
    lines = [head]
    for p in preds:
        r = np.asarray(p.rate, np.float64)
        (l5, h5), (l9, h9) = (p.interval(lv) for lv in LEVELS)
        row = (f"{p.label[:24]:<24} {float(np.median(r)):11.5g} [{float(l5):9.4g}, {float(h5):9.4g}] "
               f"[{float(l9):9.4g}, {float(h9):9.4g}]   ")
        if p.crossing is None:
            row += f"{'—':>15}"
        else:
            c = np.asarray(p.crossing, np.float64)
            (cl5, ch5), (cl9, ch9) = (p.crossing_interval(lv) for lv in LEVELS)
            row += (f"{_fmt_cross(float(_q(c, 0.5))):>15} {'[' + _fmt_cross(cl5) + ', ' + _fmt_cross(ch5) + ']':>17} "
                    f"{'[' + _fmt_cross(cl9) + ', ' + _fmt_cross(ch9) + ']':>17} {float(np.mean(np.isfinite(c))):8.3f}")
        lines.append(row)
    thr = next((p.threshold for p in preds if p.threshold is not None), None)
    if preds and preds[0].quantity == "growth":
        m = preds[0].metric
        lines[0] = lines[0].replace("rate median", "growth med.")
        lines.append(f"growth: per generation, E(e_t+1 - e_t) of {m} in its units (not a decay rate: the error grows); "
                     f"crossing: the first generation at which one chain's {m}, relative to the error after one refit "
                     f"(e_1 = 1), reaches {thr:g} ('> horizon': not within {horizon} generations); P(cross): the "
                     "probability that it does within the horizon")
    else:
        lines.append(f"rate: per generation, -E ln(s_t+1 / s_t) (negative: the spread grows); crossing: the first "
                     f"generation at which one chain's spread, from 1, reaches {thr:g} ('> horizon': not within "
                     f"{horizon} generations); P(cross): the probability that it does within the horizon")
    return "\n".join(lines)


def write_outputs(folder: Path, text: str, preds, design, xs: Sequence[dict], ns: Sequence[float],
                  warnings_: Sequence[str], title: str, post=None) -> None:
    """summary.txt, predictions.csv, posterior.npz and predictions.png (see the module docstring)."""
    (folder / "summary.txt").write_text(text + "\n", encoding="utf-8")
    cols = list(design.columns)
    with (folder / "predictions.csv").open("w", encoding="utf-8", newline="") as f:
        for w in warnings_:
            f.write(f"# jaxcollapse forecast warning: {' '.join(w.split())}\n")
        qn = preds[0].quantity if preds else "rate"
        head = (["label", "n", *cols] + [f"{qn}_q{q:g}" for q in QUANTILES] + [f"crossing_q{q:g}" for q in QUANTILES]
                + ["p_cross"])
        f.write(",".join(head) + "\n")
        for p, x, n in zip(preds, xs, ns, strict=True):
            row = [_csv_label(p.label), format(float(n), ".9g"), *(format(float(x[c]), ".9g") for c in cols)]
            row += [format(float(v), ".9g") for v in np.quantile(np.asarray(p.rate, np.float64), QUANTILES)]
            if p.crossing is None:
                row += ["nan"] * (len(QUANTILES) + 1)
            else:
                c = np.asarray(p.crossing, np.float64)
                row += [format(float(v), ".9g") for v in _q(c, QUANTILES)] + [format(float(np.mean(np.isfinite(c))),
                                                                                     ".6g")]
            f.write(",".join(row) + "\n")
    arrays = {preds[0].quantity: np.stack([np.asarray(p.rate, np.float64) for p in preds], axis=1),
              "labels": np.array([p.label for p in preds])}
    if all(p.crossing is not None for p in preds):
        arrays["crossing"] = np.stack([np.asarray(p.crossing, np.float64) for p in preds], axis=1)
    for k, v in (getattr(post, "draws", None) or {}).items():
        arrays[f"posterior/{k}"] = np.asarray(v)
    np.savez(folder / "posterior.npz", **arrays)
    fig = figure(preds, design, title, warnings_)
    fig.savefig(folder / "predictions.png", dpi=110)


def _csv_label(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s


def training_rates(design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, measured rate, its standard error or NaN) of the design's training rows."""
    train = np.flatnonzero(design.trained)
    rate = np.asarray(design.rate, np.float64)[train]
    se = np.asarray(design.rate_se, np.float64)[train]
    cnt = np.asarray(design.count, np.float64)[train]
    sl = np.asarray(design.sum_log, np.float64)[train]
    from_sums = ~np.isfinite(rate) & np.isfinite(cnt) & (cnt > 0)
    rate = np.where(from_sums, -sl / np.where(cnt > 0, cnt, 1.0), rate)
    se = np.where(from_sums, np.nan, se)
    return train, rate, se


def figure(preds, design, title: str, warnings_: Sequence[str]):
    """Left: the predicted rate per configuration (median, 50% and 90% intervals) over the band of the training
    rates; right: the crossing generation's distribution per configuration."""
    import textwrap

    from matplotlib.figure import Figure

    k = len(preds)
    has_cross = any(p.crossing is not None for p in preds)
    note = "\n".join(textwrap.fill(f"warning: {w}", 150 if has_cross else 90) for w in warnings_)
    note_in = 0.13 * (note.count("\n") + 1) + 0.1 if note else 0.0  # inches of warning text under the axes
    height = 2.5 + 0.45 * max(k, 3) + note_in
    fig = Figure(figsize=(11 if has_cross else 6.5, height))
    axes = fig.subplots(1, 2 if has_cross else 1, squeeze=False)[0]
    ax = axes[0]
    y = np.arange(k)[::-1]
    growth = bool(preds) and preds[0].quantity == "growth"
    _, tr, tse = training_rates(design)
    if tr.size:
        ax.axvspan(float(np.nanmin(tr)), float(np.nanmax(tr)), color="0.92", zorder=0,
                   label=f"range of the {tr.size} training {'growths' if growth else 'rates'}")
    for yi, p in zip(y, preds, strict=True):
        (l5, h5), (l9, h9) = (p.interval(lv) for lv in LEVELS)
        ax.plot([l9, h9], [yi, yi], color="tab:blue", lw=1.5, label="90% interval" if yi == y[0] else None)
        ax.plot([l5, h5], [yi, yi], color="tab:blue", lw=5, alpha=0.6, label="50% interval" if yi == y[0] else None)
        ax.plot([np.median(p.rate)], [yi], "o", color="k", ms=4, label="median" if yi == y[0] else None)
        truth = getattr(p, "measured", None)
        if truth is not None and np.isfinite(truth):
            ax.plot([truth], [yi], "x", color="tab:red", ms=7, label="measured" if yi == y[0] else None)
    ax.set_yticks(y, [p.label for p in preds], fontsize=8)
    ax.set_xlabel(f"growth of {preds[0].metric} per generation" if growth else "collapse rate per generation")
    ax.set_title("predicted growth" if growth else "predicted rate", fontsize="medium")
    ax.legend(fontsize=7, loc="best")
    if has_cross:
        ax2 = axes[1]
        horizon = None
        for yi, p in zip(y, preds, strict=True):
            if p.crossing is None:
                continue
            c = np.asarray(p.crossing, np.float64)
            fin = c[np.isfinite(c)]
            if fin.size:
                parts = ax2.violinplot([fin], positions=[yi], orientation="horizontal", widths=0.8, showextrema=False)
                for b in parts["bodies"]:
                    b.set_facecolor("tab:orange")
                    b.set_alpha(0.5)
                (cl5, ch5), (cl9, ch9) = (p.crossing_interval(lv) for lv in LEVELS)
                ax2.plot([cl9, min(ch9, fin.max())], [yi, yi], color="tab:orange", lw=1.5)
                ax2.plot([cl5, min(ch5, fin.max())], [yi, yi], color="tab:orange", lw=5, alpha=0.7)
            share = 1 - fin.size / c.size
            if share > 0:
                ax2.annotate(f"{share:.0%} not within the horizon", (0.99, yi + 0.3),
                             xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=7,
                             bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
            horizon = int(p.generations[-1])
        if horizon is not None:
            ax2.axvline(horizon, color="0.5", ls=":", lw=1)
        ax2.set_yticks(y, [p.label for p in preds], fontsize=8)
        ax2.set_ylim(y.min() - 0.6, y.max() + 0.8)
        ax2.set_xlabel(f"generation at which {'the error' if growth else 'the spread'} crosses the threshold")
        ref = "e_1 (the error after one refit)" if growth else "the start"
        ax2.set_title(f"generation of crossing {preds[0].threshold:g} x {ref}\n(violin; bars: 50% and 90% "
                      "intervals; dotted: the horizon)", fontsize="medium")
    fig.suptitle(textwrap.fill(title, 110), fontsize="medium")
    if note:
        fig.text(0.01, 0.005, note, fontsize=7, color="tab:red", va="bottom")
    fig.tight_layout(rect=(0, note_in / height, 1, 1 - 0.35 / height))
    return fig


# --------------------------------------------------------------------------- forecast --covariates
def run_covariates(args) -> int:
    """``jaxcollapse forecast --covariates FILE.csv`` (the parsed arguments of `forecast.build_parser`)."""
    for flag, v in (("--model", args.model), ("--n", args.n), ("--divisor", args.divisor), ("--array", args.array)):
        if v is not None:
            raise CLIError(f"{flag} applies to a run's per-chain FILE, not to --covariates (the design's rows "
                           "carry their n; the model is the design's: spread, or error for model=error)")
    path = Path(args.covariates)
    out = Path(args.out)
    check_writable(out, args.force)

    from .. import bayes  # imports JAX

    design = read_design_or_exit(bayes, path)
    threshold_for(design.model, args.threshold)
    _run(args, out, design, path.name)
    return 0


def _run(args, out: Path, design, name: str) -> None:
    import warnings as _w

    import jax

    from .. import bayes

    raise_if_interrupted()
    key = jax.random.key(args.seed)
    k_fit, k_pred = jax.random.split(key)
    fam = design.family or ""
    caveat = family_warning(fam)
    try:
        with _w.catch_warnings(record=True) as caught:
            _w.simplefilter("always", UserWarning)
            post = bayes.fit_covariates(design, key=k_fit, num_warmup=args.num_warmup, num_samples=args.num_samples,
                                        num_chains=args.num_chains)
            thr = threshold_for(design.model, args.threshold)
            preds = post.predict_design(design, key=k_pred, rows="auto", horizon=args.horizon, threshold=thr)
    except ValueError as e:
        raise CLIError(f"{name}: {e}") from None
    in_sample = not (~design.trained).any()
    todo = np.arange(design.K) if in_sample else np.flatnonzero(~design.trained)
    X = np.asarray(design.x, np.float64)
    xs = [{c: float(X[i, j]) for j, c in enumerate(design.columns)} for i in todo]
    ns = [float(design.n[i]) for i in todo]
    warns = _collect(preds, caught, caveat, post)
    K = int(design.trained.sum())
    head = [f"{name}: {K} configurations to learn from, {len(todo)} to predict" + (f"; family {fam}" if fam else ""),
            f"covariates: {', '.join(design.columns)}"]
    if in_sample:
        head.append("note: no row without a target: every configuration is predicted (in-sample: its own target "
                    "was in the fit)")
    text = "\n".join([*head, post.summary(), "", prediction_table(preds, args.horizon),
                      *(f"warning: {w}" for w in warns if w not in post.warnings)])
    if not args.quiet:
        print(text)
    what = "growth" if design.model == "error" else "collapse rate"
    title = f"{name}: predicted {what} of {len(todo)} configuration(s)" + (f" ({fam})" if fam else "")
    if caveat:
        title += " — FORECAST MARKED UNRELIABLE"
    _publish(out, args.force, lambda folder: write_outputs(folder, text, preds, design, xs, ns, warns, title, post))
    if not args.quiet:
        print(f"wrote {out}/ (summary.txt, predictions.csv, posterior.npz, predictions.png)")


def _collect(preds, caught, caveat: str, post) -> list[str]:
    """The warnings every output carries: the unreliable-family caveat first, then the fit's (divergences, R-hat),
    the predictions' (extrapolation, horizon) and any other UserWarning raised meanwhile, once each."""
    out = [caveat] if caveat else []
    out += [w for w in post.warnings if w not in out]
    for p in preds:
        tag = f"{p.label}: " if len(preds) > 1 and p.label else ""
        out += [tag + w for w in p.warnings if tag + w not in out]
    out += [str(w.message) for w in caught if issubclass(w.category, UserWarning) and str(w.message) not in out]
    return out


# --------------------------------------------------------------------------- predict CONFIG.toml
def main(argv: list[str]) -> int:
    """``jaxcollapse predict CONFIG.toml ...`` (`argv`: the arguments after ``predict``); returns the exit status."""
    args = build_parser().parse_args(argv)
    cfg = args.config
    raw = read_toml(cfg)
    fam = raw.get("family")
    if fam is None:
        raise CLIError(f"{cfg}: no family key; predict needs family = \"<name>\" and the family's table, as "
                       "'jaxcollapse run --config' takes")
    if not isinstance(fam, str):
        raise CLIError(f"{cfg}: family must be a string, got {fam!r}")
    from .run import _from_toml, _recipe

    recipe = _recipe(fam)
    raw = dict(raw)
    table = raw.pop("predict", None)
    for k, v in raw.items():
        if isinstance(v, dict) and k != recipe.name and _suggest(k, ["predict"]):
            raise CLIError(f"{cfg}: unknown table [{k}] (did you mean 'predict'?); the prediction's settings go in "
                           "[predict]")
    flags = {k: getattr(args, k) for k in PREDICT_KEYS}
    settings = predict_settings(table, flags, cfg)
    values = _from_toml(recipe, cfg, raw)
    try:
        params = recipe.resolve(values)
    except ValueError as e:
        raise CLIError(f"{cfg}: {e}") from None
    out = Path(args.out)
    check_writable(out, args.force)

    from .. import bayes  # imports JAX
    from .. import predict as P

    if recipe.name not in P.PREDICTABLE:
        raise CLIError(f"family {recipe.name!r} has no design to predict from: jaxcollapse.predict measures the "
                       f"covariates of {', '.join(P.PREDICTABLE)}")
    cols = P.covariate_columns(recipe.name)
    if settings["design"] is not None:
        dpath = Path(settings["design"])
        if args.design is None and not dpath.is_absolute():  # from the config: relative to its folder
            dpath = Path(cfg).parent / dpath
    else:
        try:
            P.check_fixed(recipe.name, params)
            dpath = P.design_path(recipe.name)
        except ValueError as e:
            raise CLIError(f"{cfg}: {e}") from None
    design = read_design_or_exit(bayes, dpath)
    if design.family and design.family != recipe.name:
        raise CLIError(f"{dpath} is a design of family {design.family!r}, but the config's family is {recipe.name!r}")
    unknown = [c for c in design.columns if c not in cols]
    if unknown:
        raise CLIError(f"{dpath}: column {unknown[0]!r} is not a covariate that jaxcollapse.predict measures for "
                       f"{recipe.name} ({', '.join(cols)})")
    if design.model != P.model_of(recipe.name):
        raise CLIError(f"{dpath} is a {design.model} design, but {recipe.name}'s prediction uses the "
                       f"{P.model_of(recipe.name)} model")
    try:
        settings["threshold"] = threshold_for(design.model, settings["threshold"])
    except CLIError as e:
        raise CLIError(f"{cfg}: {e}") from None
    _predict(args, settings, recipe, values, params, design, dpath, out)
    return 0


def _predict(args, settings: dict, recipe, values: dict, params: dict, design, dpath: Path, out: Path) -> None:
    import time
    import warnings as _w

    import jax

    from .. import bayes
    from .. import predict as P

    raise_if_interrupted()
    key = jax.random.key(settings["seed"])
    k_meas, k_fit, k_pred = jax.random.split(key, 3)
    caveat = family_warning(recipe.name)
    label = Path(args.config).stem
    t0 = time.perf_counter()
    try:
        with _w.catch_warnings(record=True) as caught:
            _w.simplefilter("always", UserWarning)
            x = P.measure(recipe.name, values, key=k_meas, fits=settings["fits"])
            t_meas = time.perf_counter() - t0
            post = bayes.fit_covariates(design, key=k_fit, num_warmup=settings["num_warmup"],
                                        num_samples=settings["num_samples"], num_chains=settings["num_chains"])
            kw = {"start": x["e0"], "metric": P.metric_of(recipe.name)} if design.model == "error" else {}
            pred = post.predict({c: x[c] for c in design.columns}, float(params["n"]), key=k_pred,
                                horizon=settings["horizon"], threshold=settings["threshold"], label=label, **kw)
    except ValueError as e:
        raise CLIError(f"{args.config}: {e}") from None
    warns = _collect([pred], caught, caveat, post)
    K = int(design.trained.sum())
    text = "\n".join([
        f"{args.config}: {recipe.describe(params)}",
        f"measured in {settings['fits']} one-step fits ({t_meas:.1f} s; no recursion): "
        + ", ".join(f"{c} = {x[c]:.6g}" for c in design.columns)
        + (f" (levels of {P.metric_of(recipe.name)}: e_0 = {x['e0']:.6g}, e_1 = {x['e1']:.6g})"
           if design.model == "error" else ""),
        f"design: {dpath} ({K} configurations)",
        post.summary(), "", prediction_table([pred], settings["horizon"]),
        *(f"warning: {w}" for w in warns if w not in post.warnings)])
    if not args.quiet:
        print(text)
    what = f"growth of {P.metric_of(recipe.name)}" if design.model == "error" else "collapse rate"
    title = f"{recipe.describe(params)}: predicted {what} (no recursion)"
    if caveat:
        title += " — FORECAST MARKED UNRELIABLE"
    n = float(params["n"])
    _publish(out, args.force, lambda folder: write_outputs(folder, text, [pred], design, [x], [n], warns, title, post))
    if not args.quiet:
        print(f"wrote {out}/ (summary.txt, predictions.csv, posterior.npz, predictions.png)")


if __name__ == "__main__":  # pragma: no cover - `python -m jaxcollapse.cli.predict` (before it is registered)
    from . import _common

    _common.install_interrupt_handler()
    try:
        sys.exit(main(sys.argv[1:]))
    except CLIError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(e.code)
