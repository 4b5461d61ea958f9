"""``jaxcollapse bench [ARGS...]``: runs ``benchmarks/bench_gaussian.py`` of a source checkout, with ``ARGS``
passed through (e.g. ``jaxcollapse bench --quick``); the exit status is the script's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ._common import PROG, CLIError


def bench_script() -> Path:
    return Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gaussian.py"


def main(argv: list[str]) -> int:
    script = bench_script()
    if not script.is_file():
        raise CLIError(f"{script} not found: '{PROG} bench' runs the benchmark of a source checkout")
    return subprocess.call([sys.executable, str(script), *argv])
