"""Shared helpers for the benchmarks: timing, machine description, peak memory, tables.

Benchmarks are not tests: nothing here is collected by pytest. Timings are wall-clock
(`time.perf_counter`) medians over repeats, because the machines they run on are shared and noisy;
the minimum and every raw time go to the JSON file as well.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Timing:
    """Wall-clock seconds of the repeats of one measurement, and the work each repeat does."""

    name: str
    work: float  # units of work per repeat (chain-generations, or normals drawn)
    times: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def rate(self) -> float:
        """Work per second at the median time."""
        return self.work / self.median

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "work_per_repeat": self.work,
            "repeats": len(self.times),
            "median_s": self.median,
            "min_s": min(self.times),
            "times_s": self.times,
            "rate_per_s": self.rate,
            "note": self.note,
        }


def time_once(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes (`fn` must block until its work is done)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(cases: dict[str, tuple[Callable[[int], object], float, int, str]]) -> dict[str, Timing]:
    """Time several functions in interleaved rounds, so slow drifts of a shared machine hit all alike.

    `cases[name] = (fn, work, repeats, note)`; `fn(r)` runs repeat `r` (use `r` for a fresh key or
    seed) and must block until done. Each function is called once before timing (warm-up: compiles,
    allocations); round `r` then times every case that still wants a repeat.
    """
    out = {}
    for name, (fn, work, _, note) in cases.items():
        fn(-1)  # warm-up
        out[name] = Timing(name, work, note=note)
    rounds = max(c[2] for c in cases.values())
    for r in range(rounds):
        for name, (fn, _, repeats, _) in cases.items():
            if r < repeats:
                out[name].times.append(time_once(lambda fn=fn, r=r: fn(r)))
    return out


# ----------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_total_gb() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    m = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) / 2**20 if m else None


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def code_version(files: tuple[str, ...]) -> dict:
    """Git commit, whether tracked package files have uncommitted edits, and short hashes of the files measured."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "jaxcollapse")
    hashes = {}
    for f in files:
        p = REPO / f
        hashes[f] = hashlib.sha256(p.read_bytes()).hexdigest()[:12] if p.exists() else None
    return {"commit": _git("rev-parse", "--short", "HEAD"), "package_dirty": bool(status), "sha256_12": hashes}


def machine_info() -> dict:
    import jax
    import numpy as np

    return {
        "cpu_model": cpu_model(),
        "cores_usable": usable_cores(),
        "cores_total": os.cpu_count(),
        "memory_gb": memory_total_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def label(info: dict, suffix: str = "") -> str:
    """A hostname-free file label: backend, CPU model and core count, e.g. ``cpu-amd-epyc-2c``."""
    slug = re.sub(r"[^a-z0-9]+", "-", info["cpu_model"].lower())
    slug = re.sub(r"-(processor|cpu|with|radeon|graphics).*$", "", slug).strip("-")[:40]
    out = f"{info['backend']}-{slug}-{info['cores_usable']}c"
    return out + (f"-{suffix}" if suffix else "")


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


# ----------------------------------------------------------------------------- memory


def run_child(argv: list[str], timeout: float) -> dict:
    """Run `python argv...` as a child process and measure its wall time and peak memory.

    Returned keys: ``stdout``, ``stderr``, ``wall_s``, ``time_v_peak_bytes`` (the "Maximum resident set size" of
    `/usr/bin/time -v`, when that program exists; None otherwise) and ``rusage_children_peak_bytes``
    (`getrusage(RUSAGE_CHILDREN).ru_maxrss` read after the child exits).

    Caution: on Linux, `exec` folds the high-water mark of the address space it replaces into the
    rusage maximum, and a child spawned by `subprocess` (vfork or fork, then exec) replaces a view of
    *this* process's memory. So `RUSAGE_CHILDREN` (and the child's own `RUSAGE_SELF`) report at least
    this process's resident set at the time of the spawn. `/usr/bin/time -v` does not have the problem
    (its own small process is what the measured program's exec replaces), and neither does the child's
    `VmHWM` in /proc/self/status, which covers its own address space only.
    """
    time_v = Path("/usr/bin/time")
    cmd = [sys.executable, *argv]
    if time_v.exists():
        cmd = [str(time_v), "-v", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", proc.stderr)
    return {
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "wall_s": wall,
        "time_v_peak_bytes": int(m.group(1)) * 1024 if m else None,
        "rusage_children_peak_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


def self_rss_bytes() -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident set of this process, from /proc/self/status."""
    out = {}
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return out
    for key in ("VmRSS", "VmHWM"):
        m = re.search(rf"^{key}:\s*(\d+) kB", text, re.MULTILINE)
        if m:
            out[key] = int(m.group(1)) * 1024
    return out


# ----------------------------------------------------------------------------- output


def write_result(stem: str, info: dict, out: dict, quick: bool = False, label_: str | None = None) -> Path:
    """Write `out` as ``benchmarks/results/<stem>_<label>.json`` (label: `label_`, else the machine's, with
    ``quick`` for a smoke run), print and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{stem}_{label_ or label(info, 'quick' if quick else '')}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"\nwrote {path}")
    return path


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}/s"
    return f"{x:.3g} /s"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


# ----------------------------------------------------------------------------- learned families (shared harness)


def engine_replace(model, chains: int, n: int, generations: int, devices=None) -> Callable[[int], None]:
    """A timed call: `simulate` under `replace(n)` on the sample path, no quantiles, key ``r + 7`` for repeat `r`
    (`devices`: a number of devices for `simulate`, with as many chain blocks)."""
    import jax

    import jaxcollapse as jc

    def fn(r):
        tr = jc.simulate(jax.random.key(r + 7), model, jc.regimes.replace(n), generations, chains, path="samples",
                         quantiles=(), devices=devices, blocks=devices)
        jax.block_until_ready(tr.summary)
    return fn


def fit_buffer_bytes(model, stats, stream) -> int:
    """XLA's buffer plan of ``vmap(model.fit)`` over the stacked `stats` (one network per leading row), fitted with
    `stream`: arguments + outputs + temporaries, in bytes."""
    import equinox as eqx
    import jax

    dyn, static = eqx.partition((model, stats), eqx.is_array)
    f = jax.jit(lambda d: jax.vmap(lambda s: eqx.combine(d, static)[0].fit(s, stream).net)(
        eqx.combine(d, static)[1]))
    ma = f.lower(dyn).compile().memory_analysis()
    return int(ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes)


# ----------------------------------------------------------------------------- several CPU devices


def host_devices_from_argv(argv: list[str]) -> int:
    """`--devices K` in `argv` (default: the usable cores), and ``XLA_FLAGS=--xla_force_host_platform_device_count=K``
    set for it unless XLA_FLAGS already names a count. Call before JAX starts (the flag is read once)."""
    k = usable_cores()
    for i, a in enumerate(argv):
        if a == "--devices" and i + 1 < len(argv):
            k = max(1, int(argv[i + 1]))
        elif a.startswith("--devices="):
            k = max(1, int(a.split("=", 1)[1]))
    if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={k}"
                                   ).strip()
    return k


def fit_on_devices(model, stream, k: int, data_by_repeat: dict) -> Callable[[int], None]:
    """A timed call: ``vmap(model.fit)`` with the networks (the leading axis of each stacked `SampleStats` in
    `data_by_repeat`) cut into one block per device (`shard_map` over the first `k` devices), returning the trained
    networks (``.net``); repeat `r` fits ``data_by_repeat[r]``. The networks' count must be a multiple of `k`."""
    import equinox as eqx
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.devices()[:k]), ("nets",))
    dyn, static = eqx.partition(model, eqx.is_array)

    def one(d, stats):
        m = eqx.combine(d, static)
        return jax.vmap(lambda s: m.fit(s, stream).net)(stats)

    fit = jax.jit(jax.shard_map(one, mesh=mesh, in_specs=(P(), P("nets")), out_specs=P("nets")))
    data = {r: jax.device_put(d, NamedSharding(mesh, P("nets"))) for r, d in data_by_repeat.items()}
    return lambda r: jax.block_until_ready(fit(dyn, data[r]))
