"""Ctrl-C (SIGINT) at several moments of each command: exit status 130, one line on stderr, nothing half-written.

Each case runs the console script in a subprocess (SIGINT at Python's handler, so it raises
KeyboardInterrupt), waits for a marker on its stderr (or a time), sends SIGINT and checks:

- exit status 130 (not -11: an interrupt that landed mid-compute once crashed the interpreter's shutdown);
- the last line of stderr is ``jaxcollapse: interrupted``, and no traceback;
- the working folder holds nothing but what was there before (no output, no ``.partial-`` staging folder);
  a sweep keeps its resumable folder, and ``--resume`` completes it.

The default suite runs the moment that crashed (mid-scan of `run`) and an interrupt during ``import jax``
(which swallows a KeyboardInterrupt); every command and moment runs under ``pytest -m slow``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the console script, with SIGINT back at Python's own handler first: a child inherits an ignored SIGINT (a test
# runner's worker may ignore it); a `preexec_fn` would do the same but forks a multithreaded JAX process (JAX warns)
EXE = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
       "from jaxcollapse.cli import main; sys.argv[0] = 'jaxcollapse'; sys.exit(main())"]
RUN = ["run", "--family", "categorical", "--K", "200", "--chains", "2048", "--generations", "200"]


def _interrupt(argv, cwd: Path, marker: str | None, delay: float, env=None, timeout=180) -> tuple[int, str]:
    """Run `argv`, send SIGINT `delay` seconds after `marker` appears on stderr (or after the start)."""
    p = subprocess.Popen([*EXE, *argv], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    lines: list[str] = []
    seen = threading.Event()

    def read():
        for line in p.stderr:
            lines.append(line)
            if marker is not None and marker in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if marker is not None:
        assert seen.wait(timeout), f"marker {marker!r} never appeared: {''.join(lines)[-2000:]}"
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    code = p.wait(timeout)
    reader.join(10)
    p.stderr.close()
    return code, "".join(lines)


def _check(code: int, err: str, cwd: Path, allowed=()) -> None:
    assert code == 130, f"exit {code}: {err[-2000:]}"
    assert err.strip().splitlines()[-1] == "jaxcollapse: interrupted", err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    left = {x.name for x in cwd.iterdir()} - set(allowed)
    assert not left, f"left behind: {left}"


@pytest.mark.parametrize("moment", ["import", "compile", "mid_scan"])
def test_run_interrupted(tmp_path, moment):
    # import: `python -X importtime` logs each module as its import ends; a jax module means `import jax` (inside the
    # command, after the handler is installed) is under way. mid_scan: a progress line means the scan is running.
    marker, delay = {"import": ("jax._src", 0.0), "compile": ("jaxcollapse run:", 0.2),
                     "mid_scan": (" generation ", 0.0)}[moment]
    env = {"JAXCOLLAPSE_PROGRESS": "lines", **({"PYTHONPROFILEIMPORTTIME": "1"} if moment == "import" else {})}
    code, err = _interrupt([*RUN, "--out", "out"], tmp_path, marker, delay, env=env)
    _check(code, err, tmp_path)


def test_sweep_interrupted_then_resumed(tmp_path):
    cfg = REPO / "examples" / "sweeps" / "poisson.toml"
    code, err = _interrupt(["sweep", str(cfg), "--out", "sw"], tmp_path, "sweep:", 1.5,
                           env={"JAXCOLLAPSE_SWEEP_PAUSE": "0.5"})
    _check(code, err, tmp_path, allowed={"sw"})
    r = subprocess.run([*EXE, "sweep", str(cfg), "--out", "sw", "--resume"], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_verify_interrupted(tmp_path):
    code, err = _interrupt(["verify", "--check", "categorical.fixation"], tmp_path, None, 6.0)
    _check(code, err, tmp_path)


def test_forecast_interrupted(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    r = subprocess.run([*EXE, "run", "--family", "gaussian", "--chains", "64", "--generations", "20",
                        "--regime", "replace", "--out", str(data / "run")], cwd=tmp_path, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    csv = next((data / "run").glob("chains_replace_*.csv"))
    code, err = _interrupt(["forecast", str(csv), "--out", "fc"], tmp_path, None, 7.0)
    _check(code, err, tmp_path, allowed={"data"})
    shutil.rmtree(data)
