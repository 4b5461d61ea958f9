r"""Make the proofs notebooks' figures for the site: run each notebook and keep the figures it saves.

    python docs/make_notebook_figures.py                     # every notebook in proofs_notebooks/
    python docs/make_notebook_figures.py wright_fisher       # only these (by file name, without .py)
    python docs/make_notebook_figures.py --scale 0.25        # another scale (default: SCALE below)

Each notebook runs as a script (``python proofs_notebooks/<name>.py``, matplotlib's Agg backend) with
``JAXCOLLAPSE_NB_SCALE`` set to the scale (it multiplies the chain counts) and ``JAXCOLLAPSE_NB_FIGDIR`` set to
a temporary folder. Only a notebook that runs to the end, through its asserts, has its figures copied to
``docs/proofs/figures/<name>/`` (replacing what was there), with ``figures.json`` saying how they were made;
the site shows each figure after the cell that draws it (docs/hooks.py). A notebook that fails keeps its old
figures, and the script exits 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "proofs_notebooks"
FIGURES = ROOT / "docs" / "proofs" / "figures"
SCALE = 0.1
"""Default ``JAXCOLLAPSE_NB_SCALE``: a tenth of the notebooks' chain counts (the test suite runs them at 0.025);
the standard errors, and the bands of the figures, are about three times the full-size ones."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python docs/make_notebook_figures.py", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NOTEBOOK", help="notebooks to run (default: all)")
    p.add_argument("--scale", type=float, default=SCALE, help=f"JAXCOLLAPSE_NB_SCALE (default {SCALE:g})")
    args = p.parse_args(argv)
    every = sorted(q.stem for q in NOTEBOOKS.glob("*.py") if not q.name.startswith("_"))
    chosen = list(dict.fromkeys(args.names)) or every
    bad = [n for n in chosen if n not in every]
    if bad:
        p.error(f"unknown notebook(s) {', '.join(bad)}; known: {', '.join(every)}")
    failed = []
    for name in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "JAXCOLLAPSE_NB_SCALE": f"{args.scale:g}", "JAXCOLLAPSE_NB_FIGDIR": tmp,
                   "MPLBACKEND": "Agg"}
            print(f"make_notebook_figures: {name} at scale {args.scale:g}", flush=True)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, str(NOTEBOOKS / f"{name}.py")], cwd=ROOT, env=env,
                               capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            pngs = sorted(Path(tmp).glob("*.png"))
            if r.returncode != 0 or not pngs:
                why = f"exit {r.returncode}" if r.returncode else "no figure saved"
                print(f"make_notebook_figures: {name} FAILED ({why}); its figures are unchanged\n{r.stderr[-3000:]}",
                      file=sys.stderr)
                failed.append(name)
                continue
            dest = FIGURES / name
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            for png in pngs:
                shutil.copy2(png, dest / png.name)
            meta = {"scale": args.scale, "seconds": round(seconds, 1),
                    "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
                    "figures": [q.name for q in pngs]}
            (dest / "figures.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
            print(f"make_notebook_figures: {name}: {len(pngs)} figure(s) in {seconds:.0f} s", flush=True)
    if failed:
        print(f"make_notebook_figures: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
