"""The proofs notebooks run, at reduced size, and end in passing asserts.

Every `proofs_notebooks/*.py` (files starting with `_` excepted) is a jupytext percent-format
notebook. Each one is

- parsed with `jupytext.read`: it must have cells, at least one markdown and one code cell;
- executed as a script in a fresh subprocess (`python -W error file.py`) with
  `JAXCOLLAPSE_NB_SCALE` small (the notebooks multiply their chain counts by it),
  `MPLBACKEND=Agg`, `JAX_NUMPY_RANK_PROMOTION=raise` (as in the suite's conftest) and
  `JAXCOLLAPSE_NB_FIGDIR` pointing at a temporary folder. Unless `JAXCOLLAPSE_NO_TYPECHECK=1`,
  the subprocess installs jaxtyping's import hook first, so the notebook's calls into jaxcollapse are
  shape- and type-checked as in the rest of the suite. The test passes when the script exits with
  code 0 (a notebook's closing asserts raise otherwise) and saved at least one figure.

The statistical content lives in the notebooks themselves (fixed keys, stated |z| bounds); this file
only runs them. A notebook is a subprocess: it shares compiled programs with the suite's other subprocesses
only through the session's persistent compilation cache (`conftest.COMPILE_CACHE`), which never changes a
number. Notebooks are compile-bound (a few seconds of XLA compilation per static configuration, most of
their CPU time), so a reduced size saves little unless it saves a run or a configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "proofs_notebooks"
NOTEBOOKS = sorted(p for p in NB_DIR.glob("*.py") if not p.name.startswith("_"))
SCALE = "0.025"  # chain counts x 0.025: a few seconds of sampling; compilation dominates
TIMEOUT_S = 600  # a hang guard, not a performance assertion

_RUNNER = """
import os, runpy, sys, warnings
# as in pyproject's filterwarnings: arviz announces a refactor with a FutureWarning on its first import of
# the day, so without this a notebook fails or passes by the order the suite imported arviz in
warnings.filterwarnings("ignore", message=r"\\s*ArviZ is undergoing a major refactor", category=FutureWarning)
# the session's shared compile cache (conftest): an unreadable entry (e.g. one another process is still writing)
# is only a cache miss, compiled again
warnings.filterwarnings("ignore", message="Error (reading|writing) persistent compilation cache entry")
if os.environ.get("JAXCOLLAPSE_NO_TYPECHECK", "0") in ("", "0"):
    from jaxtyping import install_import_hook
    install_import_hook("jaxcollapse", "beartype.beartype")
path = sys.argv[1]
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


def test_notebooks_found():
    assert any(p.name == "gaussian_collapse.py" for p in NOTEBOOKS), f"no notebooks under {NB_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_jupytext_percent(path):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(path)
    kinds = [cell.cell_type for cell in nb.cells]
    assert kinds, f"{path.name}: no cells"
    assert "markdown" in kinds, f"{path.name}: no markdown cell (use '# %% [markdown]')"
    assert "code" in kinds, f"{path.name}: no code cell (use '# %%')"
    assert "# %%" in path.read_text(), f"{path.name}: not in percent format"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    figdir = tmp_path / "figures"
    env = dict(os.environ)
    env.update(
        JAXCOLLAPSE_NB_SCALE=SCALE,
        JAXCOLLAPSE_NB_FIGDIR=str(figdir),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(tmp_path / "mpl"),
        JAX_NUMPY_RANK_PROMOTION="raise",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-W", "error", "-c", _RUNNER, str(path)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"{path.name} did not finish in {TIMEOUT_S} s; stdout tail:\n{out[-3000:]}")
    assert proc.returncode == 0, (
        f"{path.name} exited with code {proc.returncode}\n"
        f"--- stdout (tail) ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
    )
    figures = sorted(figdir.glob("*.png")) if figdir.exists() else []
    assert figures, f"{path.name} saved no figure under $JAXCOLLAPSE_NB_FIGDIR"
    assert all(f.stat().st_size > 1000 for f in figures), f"empty figure(s): {figures}"
