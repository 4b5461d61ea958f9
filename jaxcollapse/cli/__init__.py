"""The command line: ``jaxcollapse run | verify | sweep | forecast | predict | reproduce | bench``.

One module per command (``run.py``, ``verify.py``, ``sweep.py``, ``forecast.py``, ``predict.py``, ``reproduce.py``,
``bench.py``), and
`_common` for what they share: the one-line error (`CLIError`, exit status 2), the parser, TOML reading,
output published atomically, one progress display. Each command's `main(argv)` gets the arguments after its name.
JAX is imported only once a command computes, so ``--help`` is fast.

Every error is one line ``jaxcollapse: error: ...`` on stderr with exit status 2, and nothing written;
Ctrl-C exits with 130, leaving nothing half-written.
"""

from __future__ import annotations

import importlib
import os
import sys

from . import _common
from ._common import PROG as PROG
from ._common import CLIError as CLIError
from ._common import _suggest

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("jaxcollapse.cli.run", "run a family's experiment (see 'jaxcollapse run --family NAME --help')"),
    "verify": ("jaxcollapse.cli.verify", "check theory against simulation"),
    "sweep": ("jaxcollapse.cli.sweep", "run a parameter sweep from a TOML config (resumable)"),
    "forecast": ("jaxcollapse.cli.forecast", "fit the Bayesian collapse model to a per-chain CSV and forecast"),
    "predict": ("jaxcollapse.cli.predict", "predict a configuration's collapse rate from one-step fits (no recursion)"),
    "reproduce": ("jaxcollapse.cli.reproduce", "reproduce a published result: ours beside theory and the paper"),
    "bench": ("jaxcollapse.cli.bench", "run benchmarks/bench_gaussian.py (arguments passed through)"),
}


def _top_help() -> str:
    w = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} {{{','.join(COMMANDS)}}} ...", "",
             "Model collapse in JAX: simulate recursive refitting, check theory, sweep, forecast, predict.", "",
             "commands:"]
    lines += [f"  {name:<{w}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help and exit", "  --version   show the version and exit",
              "", f"'{PROG} COMMAND --help' shows a command's options."]
    return "\n".join(lines)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jaxcollapse")
    except PackageNotFoundError:  # pragma: no cover - a source tree without an install
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxcollapse`` console script; returns the exit status.

    Called with `argv` None (the console script, ``python -m jaxcollapse.cli``), an interrupt ends the process at once
    with status 130 (`os._exit`, after the output's staging folder is removed): returning through the interpreter's
    shutdown while XLA's threads were still computing crashed it (a segfault, exit -11)."""
    console = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if console:
        _common.install_interrupt_handler()
    code = _main(argv)
    if console and code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return code


def _main(argv: list[str]) -> int:
    try:
        if not argv:
            raise CLIError(f"choose a command: {', '.join(COMMANDS)} (see '{PROG} --help')")
        cmd = argv[0]
        if cmd in ("-h", "--help"):
            print(_top_help())
            return 0
        if cmd == "--version":
            print(f"{PROG} {_version()}")
            return 0
        if cmd not in COMMANDS:
            raise CLIError(f"unknown command {cmd!r}{_suggest(cmd, COMMANDS)}; choose one of {', '.join(COMMANDS)} "
                           f"(see '{PROG} --help')")
        code = importlib.import_module(COMMANDS[cmd][0]).main(argv[1:])
        _common.raise_if_interrupted()  # an interrupt swallowed on the way (see `_common._on_sigint`)
        return code
    except CLIError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.code
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
