r"""``jaxcollapse reproduce``: rebuild a published figure or table (`jaxcollapse.papers`).

- ``jaxcollapse reproduce --list``: name, paper, figure and runtime at full scale of every reproduction.
- ``jaxcollapse reproduce NAME [NAME ...] [--scale S] [--out DIR]``: runs each and writes, into ``DIR``
  (default ``jaxcollapse_<NAME>_out`` for one name, ``jaxcollapse_reproduce_out`` for several, one
  subfolder each):
  ``<NAME>.png`` (ours beside the theory and the published values), ``report.txt`` (printed too: one
  line per quantity, ours +- se, theory, published, agreement), ``report.csv`` (the same numbers) and
  ``curves.csv`` (the figure's curves).
- ``jaxcollapse reproduce --all``: every reproduction, as above, plus ``summary.txt``.

Exit status 0 when every report line agrees with its theory and published value (or its disagreement is
explained in the report), 1 otherwise; 2 for bad input (an unknown name, with the nearest one and the list;
a scale <= 0), before anything runs, with nothing written. Ctrl-C leaves nothing behind.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

from ._common import (
    PROG,
    CLIError,
    Staging,
    _adder,
    _check_out,
    _Parser,
    _suggest,
    _write_csv,
    default_out,
    interruptible,
    raise_if_interrupted,
    sayer,
)


def build_parser() -> tuple[_Parser, list[str]]:
    p = _Parser(prog=f"{PROG} reproduce", allow_abbrev=False,
                description="Reproduce published results of model collapse: our numbers beside the theory and the "
                            "published values, with a figure and a report.")
    flags: list[str] = []
    a = _adder(p, flags)
    a("names", nargs="*", metavar="NAME", help="reproductions to run (see --list)")
    a("--list", action="store_true", help="list the reproductions (name, paper, figure, runtime at full scale)")
    a("--all", action="store_true", help="run every reproduction")
    a("--scale", type=float, default=1.0, help="multiply the chain counts (the paper's sizes stay; default 1)")
    a("--seed", type=int, default=0, help="seed of jax.random.key (default 0)")
    a("--out", help="output folder (default jaxcollapse_<NAME>_out, or jaxcollapse_reproduce_out for several)")
    a("--force", action="store_true", help="replace a non-empty output folder")
    a("--quiet", action="store_true", help="print nothing but errors")
    return p, flags


def _runtime(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "not measured"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def list_table(papers) -> str:
    rows = [("name", "paper", "figure", "full scale")]
    for name in papers.names():
        r = papers.get(name)
        fig = r.figure_ref if len(r.figure_ref) <= 48 else r.figure_ref[:47] + "~"
        rows.append((name, r.paper, fig, _runtime(r.runtime)))
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows)


def write_one(folder: Path, repro, result) -> list[str]:
    """Write a reproduction's figure, report and CSVs into `folder`; return the file names."""
    import matplotlib.pyplot as plt
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    fig = repro.figure(result)
    fig.savefig(folder / f"{repro.name}.png", dpi=130)
    plt.close(fig)
    (folder / "report.txt").write_text(repro.report(result), encoding="utf-8")
    header, rows = repro.csv_rows(result)
    with (folder / "report.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    written = [f"{repro.name}.png", "report.txt", "report.csv"]
    if result.columns:
        keys = list(result.columns)
        _write_csv(folder / "curves.csv", keys, [np.asarray(result.columns[k], np.float64) for k in keys])
        written.append("curves.csv")
    return written


def main(argv: list[str]) -> int:
    parser, flags = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        raise CLIError(f"unrecognized argument {extra[0]!r}{_suggest(extra[0], flags)} "
                       f"(see '{PROG} reproduce --help')")
    if not (math.isfinite(args.scale) and args.scale > 0):
        raise CLIError(f"--scale must be > 0, got {args.scale:g}")
    if args.seed < 0:
        raise CLIError(f"--seed must be >= 0, got {args.seed}")

    from .. import papers

    known = papers.names()
    if args.list:
        if args.names or args.all:
            raise CLIError("--list takes no names and no --all")
        print(list_table(papers))
        return 0
    if args.all and args.names:
        raise CLIError("give reproduction names or --all, not both")
    if not args.all and not args.names:
        raise CLIError(f"name a reproduction or give --all; known: {', '.join(known)} (see '{PROG} reproduce --list')")
    chosen = list(known) if args.all else list(dict.fromkeys(args.names))
    for name in chosen:
        if name not in known:
            near = papers._base.nearest(name, known)
            hint = f" (nearest: {near!r})" if near else ""
            raise CLIError(f"unknown reproduction {name!r}{hint}; known: {', '.join(known)}")
    single = len(chosen) == 1 and not args.all
    out = Path(args.out or default_out(chosen[0] if single else "reproduce"))
    _check_out(out, bool(args.force))
    say = sayer(bool(args.quiet))

    import jax

    raise_if_interrupted()
    stage = Staging(out, bool(args.force))
    t_all = time.perf_counter()
    summary, ok = [], True
    try:
        for name in chosen:
            raise_if_interrupted()
            repro = papers.get(name)
            say(f"{PROG} reproduce: {name} ({repro.paper}, {repro.figure_ref}), scale {args.scale:g}")
            try:
                result = interruptible(lambda repro=repro: repro.run(jax.random.key(args.seed), args.scale))
            except ValueError as e:
                raise CLIError(f"{name}: {e}") from None
            folder = stage.tmp if single else stage.tmp / name
            write_one(folder, repro, result)
            if not args.quiet:
                print(repro.report(result))
            ok &= result.passed
            n_ok = sum(ln.passed for ln in result.lines)
            summary.append(f"{name:<34s} {result.seconds:8.1f} s  {n_ok}/{len(result.lines)} lines  "
                           f"{'REPRODUCED' if result.passed else 'NOT REPRODUCED'}")
        if not single:
            (stage.tmp / "summary.txt").write_text(
                f"scale {args.scale:g}, seed {args.seed}\n" + "\n".join(summary) + "\n", encoding="utf-8")
    except BaseException:
        stage.discard()
        raise
    stage.publish()
    if not single and not args.quiet:
        print("\n".join(summary))
    say(f"wrote {out}/ in {time.perf_counter() - t_all:.1f} s")
    return 0 if ok else 1
