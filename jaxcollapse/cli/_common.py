"""What every command shares: the one-line error, the parser, TOML reading, atomic output, progress, CSVs.

Nothing here imports JAX: ``jaxcollapse --help`` and ``jaxcollapse run --help`` stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..recipes._base import suggest

PROG = "jaxcollapse"


class CLIError(Exception):
    """A one-line error for the user; `code` is the exit status (2: bad input)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(" ".join(str(message).split()))
        self.code = code


_suggest = suggest  # `` (did you mean 'x'?)``: one implementation, the recipes'


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (raised as CLIError, exit code 2)."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _adder(parser: argparse.ArgumentParser, flags: list[str]):
    """`parser.add_argument` that also records the flags (for suggestions on a mistyped one)."""

    def add(*names, **kwargs):
        flags.extend(n for n in names if n.startswith("--"))
        return parser.add_argument(*names, **kwargs)

    return add


def scan(argv: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` (``--flag V`` or ``--flag=V``; the last one wins) in `argv`, if any."""
    value = None
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(flag + "="):
            value = a[len(flag) + 1:]
    return value


def read_toml(path: str) -> dict:
    """The parsed TOML file at `path`; a missing, unreadable or malformed file is a one-line `CLIError`."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"config file not found: {path}")
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CLIError(f"malformed TOML in {path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"cannot read config file {path}: {e}") from None


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def _num(x) -> str:
    return format(float(x), ".9g")


def _write_csv(path: Path, header: list[str], columns: list[np.ndarray], comment: str | None = None) -> None:
    """One row per index of the columns; `comment` (without the ``# ``) as a first line."""
    data = np.stack([np.asarray(c, np.float64) for c in columns], axis=1)
    with path.open("w", encoding="utf-8", newline="") as f:
        if comment is not None:
            f.write(f"# {comment}\n")
        f.write(",".join(header) + "\n")
        for row in data:
            f.write(",".join(_num(x) for x in row) + "\n")


# --------------------------------------------------------------------------- output folders
def default_out(name: str) -> str:
    """Every command's default output folder, one pattern: ``jaxcollapse_<name>_out`` (``run``: the family's name;
    ``sweep``: ``sweep_<config name>``; ``forecast``: ``forecast``)."""
    return f"jaxcollapse_{name}_out"


def _check_out(out: Path, force: bool) -> None:
    """Refuse an output path that is a file, a non-empty folder without `force`, or an ancestor of here."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise CLIError(f"output path {out} exists and is not a folder")
        if any(out.iterdir()) and not force:
            raise CLIError(f"output folder {out} is not empty; use --force to replace it, or --out to pick another")
        here = Path.cwd().resolve()
        if force and (out.resolve() == here or out.resolve() in here.parents):
            raise CLIError(f"refusing to replace {out}: it is the current folder or contains it")


def _writable_parent(out: Path) -> Path:
    """The nearest existing ancestor of `out`, checked writable (a one-line CLIError otherwise)."""
    parent = out.absolute().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write the output folder {out}: {probe} is not writable")
    return parent


# --------------------------------------------------------------------------- interrupts
_INTERRUPTED = False


def _on_sigint(signum, frame):
    """The CLI's SIGINT handler: remember the interrupt, then raise `KeyboardInterrupt` as Python's own does.

    Remembering it matters because some code swallows the exception: `import jax` catches a KeyboardInterrupt
    raised during its plugin discovery, prints it and goes on, so without the flag a Ctrl-C in the first second
    of a run was lost and the run finished.

    An interrupt that arrives while a module is being imported (a frame of `importlib`'s bootstrap on the
    stack) is only remembered, not raised: an exception thrown into the middle of an extension module's
    initialisation (jaxlib's) left it half-built, and the process later crashed with a segfault (exit -11,
    seen in `tests/test_interrupts.py` under load). The commands check the flag right after their heavy
    imports (`raise_if_interrupted`), and `interruptible` checks it while it waits, so the interrupt still
    ends the command within about a second."""
    global _INTERRUPTED
    _INTERRUPTED = True
    if not _importing(frame):
        raise KeyboardInterrupt


def _importing(frame) -> bool:
    """Whether `frame` (a signal handler's interrupted frame) runs inside an import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def install_interrupt_handler() -> None:
    """Route SIGINT through `_on_sigint` (unless SIGINT is ignored, as in a background job of a script)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_sigint)
        default_hook = sys.unraisablehook

        def hook(unraisable):  # a KeyboardInterrupt raised inside a callback that cannot raise (a GC callback):
            if not isinstance(unraisable.exc_value, KeyboardInterrupt):  # remembered, not printed
                default_hook(unraisable)

        sys.unraisablehook = hook


def raise_if_interrupted() -> None:
    """Raise `KeyboardInterrupt` if a SIGINT arrived since the handler was installed (even one swallowed)."""
    if _INTERRUPTED:
        raise KeyboardInterrupt


def interruptible(fn: Callable[[], Any], x64: bool = False) -> Any:
    """`fn()` run in a worker thread (inside `jaxcollapse.x64()` when `x64`: JAX's precision is set per thread)
    while the main thread waits in short joins, so that a Ctrl-C is handled at once: a compiled program with host
    callbacks (the progress display) runs synchronously in the thread that calls it, and Python handles a signal
    only between bytecodes of the main thread, which would be after the whole run. The console entry point then
    ends the process (`os._exit`), the worker with it."""
    import threading

    box: dict[str, Any] = {}

    def work():
        try:
            if x64:
                from .. import x64 as _x64

                with _x64():
                    box["out"] = fn()
            else:
                box["out"] = fn()
        except BaseException as e:  # re-raised in the caller's thread
            box["err"] = e

    t = threading.Thread(target=work, name="jaxcollapse-run", daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.05)
        raise_if_interrupted()  # one remembered while the main thread was importing (see `_on_sigint`)
    if "err" in box:
        raise box["err"]
    return box["out"]


class Staging:
    """A temporary sibling folder of `out`, made *before* the compute (so an unwritable place is found
    first), filled by the command, then renamed into place (`publish`) or removed (`discard`)."""

    def __init__(self, out: Path, force: bool):
        self.out, self.force = out, force
        parent = _writable_parent(out)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        except OSError as e:
            raise CLIError(f"cannot write the output folder {out}: {e.strerror or e}") from None

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def publish(self) -> None:
        out, tmp = self.out, self.tmp
        try:
            raise_if_interrupted()  # an interrupt that something swallowed: publish nothing
            os.chmod(tmp, 0o777 & ~_umask())
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            if out.exists():
                _check_out(out, self.force)  # created meanwhile?
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=tmp.parent))
                old.rmdir()
                out.rename(old)
                tmp.rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(out)
        except BaseException:
            self.discard()
            raise


def _publish(out: Path, force: bool, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary sibling of `out`, then rename it into place."""
    stage = Staging(out, force)
    try:
        write(stage.tmp)
    except BaseException:
        stage.discard()
        raise
    stage.publish()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- progress
class Progress:
    """A progress bar on stderr for `simulate(progress=...)`, drawn when stderr is a terminal; elsewhere (a batch
    job's log) one line per tick when the environment sets ``JAXCOLLAPSE_PROGRESS=lines``.

    One instance, `PROGRESS`, serves every command and every run of the process: its `label` and
    `enabled` are set before each run, never the callable itself, so the compiled program, whose
    static configuration includes this callable, is reused (a change of progress display does not
    recompile).
    """

    width = 24

    def __init__(self):
        self.label = ""
        self.enabled = True

    def __call__(self, t, total) -> None:
        if not self.enabled:
            return
        t, total = int(t), int(total)
        if not sys.stderr.isatty():
            # a log (a batch job's stderr) gets plain lines with JAXCOLLAPSE_PROGRESS=lines, else nothing
            if os.environ.get("JAXCOLLAPSE_PROGRESS") == "lines":
                sys.stderr.write(f"  {self.label} generation {t}/{total}\n")
                sys.stderr.flush()
            return
        done = int(self.width * t / total)
        sys.stderr.write(f"\r  {self.label:<22s} generation {t:>6d}/{total} [{'#' * done}{'.' * (self.width - done)}]")
        if t >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


PROGRESS = Progress()


def sayer(quiet: bool) -> Callable[[str], None]:
    """A function printing a status line on stderr, or nothing when `quiet`."""
    if quiet:
        return lambda msg: None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def fmt(x: float) -> str:
    import math

    return f"{x:.6g}" if math.isfinite(x) else str(x)
