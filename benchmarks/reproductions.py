"""Wall time of every reproduction at full scale, written where `jaxcollapse reproduce --list` reads it.

Run from the repository root, on an otherwise idle machine::

    python benchmarks/reproductions.py                 # every registered reproduction, one after the other
    python benchmarks/reproductions.py NAME [NAME ...] # only these (the others' entries are kept)

Each reproduction runs as ``python -m jaxcollapse.cli reproduce NAME --scale 1 --seed 0 --quiet`` in a child
process (compilation included: it is what a user waits for), one at a time. The wall seconds go into
``jaxcollapse/papers/runtimes.json`` with the machine and the date, and the table into
``benchmarks/results/reproductions.txt``. The issue's limit is 10 minutes per reproduction on the 2-core CPU; a
run over it, or one that does not reproduce (exit status 1), is reported and makes this script exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, cpu_model, now_iso, run_child, usable_cores  # noqa: E402

LIMIT_S = 600.0
RUNTIMES = REPO / "jaxcollapse" / "papers" / "runtimes.json"
RESULTS = REPO / "benchmarks" / "results" / "reproductions.txt"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME", help="reproductions to time (default: all)")
    args = p.parse_args(argv)

    from jaxcollapse import papers

    chosen = list(dict.fromkeys(args.names)) or list(papers.names())
    for name in chosen:
        try:
            papers.get(name)  # an unknown name: the nearest match and the list, before anything runs
        except ValueError as e:
            print(f"reproductions.py: {e}", file=sys.stderr)
            return 2
    machine = f"{cpu_model()}, {usable_cores()} cores"
    data = json.loads(RUNTIMES.read_text())
    rows, bad = [], []
    os.environ["JAXCOLLAPSE_PROGRESS"] = ""
    for name in chosen:
        load0 = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            try:
                r = run_child(["-m", "jaxcollapse.cli", "reproduce", name, "--scale", "1", "--seed", "0", "--quiet",
                               "--out", str(Path(tmp) / "out")], timeout=2 * LIMIT_S)
                wall, status = r["wall_s"], "reproduced"
            except RuntimeError as e:  # exit status 1: a disagreement (the report is in the child's stderr tail)
                wall, status = float("nan"), f"FAILED: {str(e).splitlines()[0]}"
        if not wall <= LIMIT_S:
            bad.append(name)
        load = max(load0, os.getloadavg()[0])  # the 1-minute load average before and after: above ~2.5, other
        # processes shared the two cores, and the wall time is an upper bound of the idle machine's
        if wall == wall:
            data["entries"][name] = {"seconds": round(wall, 1),
                                     "how": f"wall, scale 1, {now_iso()[:10]}, load average up to {load:.1f}"}
        rows.append((name, wall, status, load))
        print(f"{name:<30} {wall:8.1f} s  load {load:4.1f}  {status}", flush=True)
    data["machine"] = machine
    data["entries"] = dict(sorted(data["entries"].items()))
    RUNTIMES.write_text(json.dumps(data, indent=1) + "\n")
    RESULTS.parent.mkdir(exist_ok=True)
    lines = [f"# full-scale wall seconds, {machine}, {now_iso()}",
             f"{'reproduction':<30} {'wall s':>8}  {'load':>4}  status"]
    lines += [f"{n:<30} {w:8.1f}  {ld:4.1f}  {s}" for n, w, s, ld in rows]
    if RESULTS.exists() and args.names:  # keep the other reproductions' rows of an earlier full run
        old = [ln for ln in RESULTS.read_text().splitlines()[2:] if ln.split()[0] not in chosen]
        lines += old
    RESULTS.write_text("\n".join(lines) + "\n")
    if bad:
        print(f"over {LIMIT_S:.0f} s or not reproduced: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
