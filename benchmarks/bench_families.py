"""Wall time and peak memory of each learned family's default `jaxcollapse run`, one row per family and regime.

Run from the repository root::

    python benchmarks/bench_families.py                  # 500 chains x 30 generations (tens of minutes on 2 cores)
    python benchmarks/bench_families.py --quick          # 50 chains x 5 generations, smoke test
    python benchmarks/bench_families.py --families kde   # a subset
    python benchmarks/bench_families.py --defaults       # every family's default run, as a new user starts it

Each row is one `jaxcollapse run --family F --regime R --chains C --generations G --quiet` (decomposition:
``--source``) in a fresh child process (`_common.run_child`), every other parameter at the family's default
(mixture and decomposition: K = 2, d = 2, n = 100, EM to tol 1e-6 from the previous fit, at most 100
iterations; kde: Scott's rule, n = 100), float32, sample path. Recorded per row: the child's wall time
(compile included: what a user waits for), its user + system CPU time (less sensitive to other load on a
shared machine), and its peak resident set (``Maximum resident set size`` of ``/usr/bin/time -v``, which
counts the child's own address space only; see `_common.run_child`). ``cost/sample`` is the CPU time per
fitted sample: per chain-generation, the rows each fit reads (n under replace, the whole preallocated pool
of n * G rows under accumulate). One repeat per row by default (each is minutes long); `--repeats` for medians.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import code_version, machine_info, markdown_table, now_iso, run_child, write_result  # noqa: E402

N = 100  # the recipes' default n
CASES = (  # (family, flag, values)
    ("mixture", "--regime", ("replace",)),
    ("mixture", "--regime", ("accumulate",)),
    ("kde", "--regime", ("replace",)),
    ("kde", "--regime", ("accumulate",)),
    ("decomposition", "--source", ("statistical",)),
    ("decomposition", "--source", ("expressivity",)),
    ("decomposition", "--source", ("approximation",)),
)
MEASURED_FILES = ("jaxcollapse/families/mixture.py", "jaxcollapse/families/kde.py",
                  "jaxcollapse/recipes/decomposition.py", "jaxcollapse/engine.py")
CLI = "import sys; from jaxcollapse.cli import main; sys.argv = ['jaxcollapse'] + sys.argv[1:]; main()"


def cpu_seconds(stderr: str) -> float | None:
    """User + system seconds from `/usr/bin/time -v` output (None without it)."""
    u = re.search(r"User time \(seconds\):\s*([\d.]+)", stderr)
    s = re.search(r"System time \(seconds\):\s*([\d.]+)", stderr)
    return float(u.group(1)) + float(s.group(1)) if u and s else None


def run_case(family: str, flag: str, values: tuple[str, ...], chains: int, generations: int, out: Path) -> dict:
    argv = ["-c", CLI, "run", "--family", family, flag, *values, "--chains", str(chains), "--generations",
            str(generations), "--out", str(out), "--force", "--quiet"]
    r = run_child(argv, timeout=7200)
    return {"wall_s": r["wall_s"], "cpu_s": cpu_seconds(r.get("stderr", "")), "peak_rss_bytes": r["time_v_peak_bytes"]}


FAMILIES = ("gaussian", "categorical", "poisson", "ngram", "regression", "logistic", "mixture", "kde", "decomposition",
            "vae", "mlp")


def defaults_main(families, repeats: int) -> None:
    """Every family's `jaxcollapse run --family F --out D --quiet` on its defaults (its regimes, chains, generations):
    wall (compile included), CPU and peak RSS, one row per family."""
    from jaxcollapse import recipes

    info = machine_info()
    started = now_iso()
    print(f"# jaxcollapse: every family's default run, {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']}; load average {os.getloadavg()}",
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            p = recipes.get(family).resolve({})
            reps = []
            for r in range(repeats):
                argv = ["-c", CLI, "run", "--family", family, "--out", str(Path(tmp) / f"{family}_{r}"), "--force",
                        "--quiet"]
                c = run_child(argv, timeout=3600)
                reps.append({"wall_s": c["wall_s"], "cpu_s": cpu_seconds(c.get("stderr", "")),
                             "peak_rss_bytes": c["time_v_peak_bytes"]})
            cpu = [x["cpu_s"] for x in reps if x["cpu_s"] is not None]
            peak = [x["peak_rss_bytes"] for x in reps if x["peak_rss_bytes"] is not None]
            rows.append({"family": family, "regimes": list(p["regimes"]), "chains": p["chains"],
                         "generations": p["generations"], "n": p["n"], "path": recipes.get(family).path(p),
                         "wall_s": statistics.median(x["wall_s"] for x in reps),
                         "cpu_s": statistics.median(cpu) if cpu else None,
                         "peak_rss_bytes": max(peak) if peak else None, "repeats": reps})
            print(f"  {family}: {rows[-1]['wall_s']:.1f} s wall, peak {rows[-1]['peak_rss_bytes']}", flush=True)
    print()
    print(markdown_table(
        ["family", "default run", "wall s", "CPU s", "peak RSS"],
        [[r["family"], f"{', '.join(r['regimes'])}; {r['chains']} ch x {r['generations']} gens, n = {r['n']}, "
          f"{r['path']}", f"{r['wall_s']:.1f}", "—" if r["cpu_s"] is None else f"{r['cpu_s']:.1f}",
          "—" if r["peak_rss_bytes"] is None else f"{r['peak_rss_bytes'] / 2**30:.2f} GiB"] for r in rows]))
    out = {"benchmark": "family_defaults", "started": started, "finished": now_iso(), "machine": info,
           "load_average": os.getloadavg(), "code": code_version(("jaxcollapse/engine.py",)), "rows": rows}
    write_result("families_defaults", info, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--defaults", action="store_true", help="every family's default run instead of the 500 x 30 rows")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--chains", type=int, default=None)
    ap.add_argument("--generations", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--families", nargs="+", default=None)
    args = ap.parse_args()
    if args.defaults:
        return defaults_main(args.families or FAMILIES, args.repeats)
    chains = args.chains or (50 if args.quick else 500)
    G = args.generations or (5 if args.quick else 30)
    cases = [c for c in CASES if args.families is None or c[0] in args.families]
    info = machine_info()
    started = now_iso()
    print(f"# jaxcollapse learned families: default run per family and regime, {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']}; load average {os.getloadavg()}; "
          f"{chains} chains x {G} generations, n = {N}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family, flag, values in cases:
            reps = [run_case(family, flag, values, chains, G, Path(tmp) / f"{family}_{'_'.join(values)}_{r}")
                    for r in range(args.repeats)]
            regime = " ".join(values)
            pool = N * G if regime == "accumulate" else N
            wall = statistics.median(r["wall_s"] for r in reps)
            cpu = [r["cpu_s"] for r in reps if r["cpu_s"] is not None]
            cpu_med = statistics.median(cpu) if cpu else None
            peak = [r["peak_rss_bytes"] for r in reps if r["peak_rss_bytes"] is not None]
            rows.append({"family": family, "regime": regime, "chains": chains, "generations": G, "n": N,
                         "rows_per_fit": pool, "wall_s": wall, "cpu_s": cpu_med,
                         "peak_rss_bytes": max(peak) if peak else None,
                         "cpu_ns_per_fitted_sample": None if cpu_med is None else cpu_med / (chains * G * pool) * 1e9,
                         "repeats": reps})
            print(f"  {family} {regime}: {wall:.1f} s wall, {cpu_med} s CPU, peak {rows[-1]['peak_rss_bytes']}",
                  flush=True)
    print()
    print(markdown_table(
        ["family", "regime", "wall s", "CPU s", "peak RSS", "CPU ns / fitted sample"],
        [[r["family"], r["regime"], f"{r['wall_s']:.1f}", "—" if r["cpu_s"] is None else f"{r['cpu_s']:.1f}",
          "—" if r["peak_rss_bytes"] is None else f"{r['peak_rss_bytes'] / 2**30:.2f} GiB",
          "—" if r["cpu_ns_per_fitted_sample"] is None else f"{r['cpu_ns_per_fitted_sample']:.0f}"] for r in rows]))
    out = {"benchmark": "families", "started": started, "finished": now_iso(),
           "mode": "quick" if args.quick else "full", "machine": info, "load_average": os.getloadavg(),
           "code": code_version(MEASURED_FILES), "sizes": {"chains": chains, "generations": G, "n": N},
           "rows": rows}
    write_result("families", info, out, quick=args.quick)


if __name__ == "__main__":
    main()
