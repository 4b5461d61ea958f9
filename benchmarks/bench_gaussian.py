"""Throughput of the 1-D Gaussian MLE under `replace`, against numpy baselines measured in the same run.

Run from the repository root::

    python benchmarks/bench_gaussian.py            # full run (a few minutes, includes the 10^6-chain case)
    python benchmarks/bench_gaussian.py --quick    # small sizes, < 1 minute, smoke test
    python benchmarks/bench_gaussian.py --repeats 9 --no-big

The unit is chain-generations per second: chains x generations / seconds. jaxcollapse is timed as
`jax.block_until_ready(jaxcollapse.simulate(...))` after a warm-up call that compiles (each repeat uses a
new key, which reuses the compiled program), float32, default settings, metrics restricted to
``("trace", "mean_sq_err")`` unless a row says "all metrics". Every number is the median over repeats,
taken in interleaved rounds (jaxcollapse, baseline, jaxcollapse, ...) so that the noise of a shared machine
hits both sides alike. See benchmarks/README.md for what each column means.

Baselines:

- (a) numpy vectorized over chains, the recipe below with preallocated buffers and in-place updates,
  in float64 (numpy's default) and float32 (which `Generator.standard_normal` supports); the faster of
  the two is the baseline;
- (b) a per-chain Python loop in the style of published research code (legacy `np.random.normal`,
  `x.mean()`, `x.std()`), timed on a subset of the chains and counted per chain-generation;
- (c) `jax.random.normal` on a 2^23 float32 array: normals per second, the ceiling set by the RNG.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `import jaxcollapse`

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    RESULTS,
    code_version,
    fmt_rate,
    label,
    machine_info,
    markdown_table,
    measure,
    now_iso,
    run_child,
    self_rss_bytes,
)

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import regimes  # noqa: E402

FEW = ("trace", "mean_sq_err")
MEASURED_FILES = ("jaxcollapse/random.py", "jaxcollapse/engine.py", "jaxcollapse/families/gaussian.py")

# Sizes: (full, quick).
SIZES = {
    "full": dict(chains=4096, chains_large=65536, n=100, n_large=10_000, generations=100,
                 np_gens_large_chains=20, np_gens_large_n=2, loop_chains=64,
                 rng_size=2**23, big_chains=10**6, big_generations=1000),
    "quick": dict(chains=1024, chains_large=8192, n=100, n_large=10_000, generations=20,
                  np_gens_large_chains=10, np_gens_large_n=1, loop_chains=8,
                  rng_size=2**20, big_chains=10**5, big_generations=50),
}


# ----------------------------------------------------------------------------- the timed functions


def jc_runner(model, n: int, chains: int, generations: int, path: str, metrics, **kw):
    """Repeat r runs `simulate` with key r + 1 (the warm-up, r = -1, uses key 0 and compiles)."""
    regime = regimes.replace(n)

    def fn(r: int):
        traj = jc.simulate(jax.random.key(r + 1), model, regime, generations, chains, path=path, metrics=metrics,
                           **kw)
        return jax.block_until_ready(traj)

    return fn


def numpy_vectorized(chains: int, n: int, generations: int, dtype):
    """Baseline (a): all chains at once; per generation x = z * sigma + mu, then the mean and MLE variance.

    The buffer is allocated once and every update is in place; the variance is the two-pass
    $\\frac1n\\sum_i (x_i - \\bar x)^2$ with the row-wise dot product done by `einsum`.
    """

    def fn(r: int):
        rng = np.random.default_rng(r + 1)
        mu = np.zeros(chains, dtype)
        sigma = np.ones(chains, dtype)
        x = np.empty((chains, n), dtype)
        for _ in range(generations):
            rng.standard_normal(out=x, dtype=dtype)
            x *= sigma[:, None]
            x += mu[:, None]
            mu = x.mean(axis=1)
            x -= mu[:, None]
            sigma = np.sqrt(np.einsum("ij,ij->i", x, x) / n)
        return sigma

    return fn


def numpy_loop(chains: int, n: int, generations: int):
    """Baseline (b): one chain at a time, one generation at a time, as published research code does."""

    def fn(r: int):
        np.random.seed(r + 1)
        for _ in range(chains):
            mu, sigma = 0.0, 1.0
            for _ in range(generations):
                x = np.random.normal(mu, sigma, n)
                mu = x.mean()
                sigma = x.std()
        return sigma

    return fn


def jc_normals(size: int):
    """For information: the engine's own normal sampler (`jaxcollapse.random.normal`) on one flat stream."""
    from jaxcollapse import random as R

    draw = jax.jit(lambda k: R.normal(R.Stream.from_key(k), (size,), jnp.float32))

    def fn(r: int):
        return jax.block_until_ready(draw(jax.random.key(r + 1)))

    return fn


def jax_normals(size: int):
    """Baseline (c): `jax.random.normal` of `size` float32 numbers, compiled, a new key per repeat."""
    draw = jax.jit(lambda k: jax.random.normal(k, (size,), jnp.float32))

    def fn(r: int):
        return jax.block_until_ready(draw(jax.random.key(r + 1)))

    return fn


# ----------------------------------------------------------------------------- the big case (a child)


def child_big(chains: int, generations: int, n: int) -> None:
    """Run the big case once in this (child) process and print one JSON line."""
    import time

    rss_import = self_rss_bytes()
    model = jc.Gaussian(0.0, 1.0)
    t0 = time.perf_counter()
    traj = jc.simulate(jax.random.key(0), model, regimes.replace(n), generations, chains, path="exact")
    jax.block_until_ready(traj)
    wall = time.perf_counter() - t0
    log_mean = float(traj.mean("log_det_ratio")[-1])
    log_se = float(traj.stderr("log_det_ratio")[-1])
    log_theory = generations * (_digamma((n - 1) / 2) + math.log(2.0 / n))
    print(json.dumps({
        "simulate_s": wall,
        "rss_after_import_bytes": rss_import.get("VmRSS"),
        "self_peak_bytes": self_rss_bytes().get("VmHWM"),  # this address space only (see run_child)
        "metrics": list(traj.summary),
        # sanity: ln sigma_G^2 is a sum of G iid ln(chi2_{n-1} / n), E = G (psi((n-1)/2) + ln(2/n))
        "final_log_var_mean": log_mean,
        "final_log_var_stderr": log_se,
        "final_log_var_theory": log_theory,
        "final_log_var_z": (log_mean - log_theory) / log_se if log_se > 0 else None,
    }))


def _digamma(x: float) -> float:
    """psi(x) by recurrence up to x >= 10, then the asymptotic series (error < 1e-12)."""
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    x2 = 1.0 / (x * x)
    return acc + math.log(x) - 0.5 / x - x2 * (1 / 12 - x2 * (1 / 120 - x2 * (1 / 252 - x2 / 240)))


def run_big(chains: int, generations: int, n: int) -> dict:
    argv = [str(Path(__file__).resolve()), "--child-big", "--big-chains", str(chains),
            "--big-generations", str(generations), "--big-n", str(n)]
    child = run_child(argv, timeout=3600)
    res = json.loads(child["stdout"].strip().splitlines()[-1])
    # The peak is the child's own high-water mark (VmHWM), checked against /usr/bin/time -v where it
    # exists; the larger of the two is reported. RUSAGE_CHILDREN is kept for the record only: on Linux it
    # includes this (parent) process's resident set at the spawn, see `_common.run_child`.
    clean = [v for v in (res["self_peak_bytes"], child["time_v_peak_bytes"]) if v is not None]
    res.update(process_wall_s=child["wall_s"], peak_rss_bytes=max(clean),
               time_v_peak_bytes=child["time_v_peak_bytes"],
               rusage_children_peak_bytes=child["rusage_children_peak_bytes"],
               chains=chains, generations=generations, n=n,
               rate_incl_compile=chains * generations / res["simulate_s"])
    return res


# ----------------------------------------------------------------------------- main


def _fmt_ratio(r: float) -> str:
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (< 1 minute), for smoke-testing")
    p.add_argument("--repeats", type=int, default=None,
                   help="repeats of fast cases (default 7, quick 3); slow cases use max(3, repeats // 2)")
    p.add_argument("--big", action=argparse.BooleanOptionalAction, default=True,
                   help="run the 10^6 chains x 1000 generations memory case (default: on)")
    p.add_argument("--label", default=None, help="results file label (default: backend-cpu-cores[-quick])")
    p.add_argument("--child-big", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--big-chains", type=int, default=10**6, help=argparse.SUPPRESS)
    p.add_argument("--big-generations", type=int, default=1000, help=argparse.SUPPRESS)
    p.add_argument("--big-n", type=int, default=100, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child_big:
        child_big(args.big_chains, args.big_generations, args.big_n)
        return 0

    mode = "quick" if args.quick else "full"
    S = SIZES[mode]
    fast = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    if fast < 1:
        p.error("--repeats must be >= 1")
    slow = max(3, fast // 2)
    C, CL, n, NL, G = S["chains"], S["chains_large"], S["n"], S["n_large"], S["generations"]
    g1 = jc.Gaussian(0.0, 1.0)
    g3 = jc.Gaussian(jnp.zeros(3), jnp.eye(3))
    started = now_iso()
    load_start = os.getloadavg()
    info = machine_info()
    print(f"# jaxcollapse Gaussian benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']} ({info['backend']}), "
          f"numpy {info['numpy']}; repeats {fast} (slow cases {slow}), medians; "
          f"1-min load average at start {load_start[0]:.2f} (near 0 on an idle machine)\n", flush=True)

    T = {}
    # group 1: chains = C, n = 100 (sample path, exact path, numpy both dtypes, per-chain loop)
    T.update(measure({
        "jc_samples_C": (jc_runner(g1, n, C, G, "samples", FEW), C * G, fast, ""),
        "jc_samples_C_all": (jc_runner(g1, n, C, G, "samples", None), C * G, fast, "all metrics"),
        "jc_exact_C": (jc_runner(g1, n, C, G, "exact", FEW), C * G, fast, ""),
        "jc_exact_C_noq": (jc_runner(g1, n, C, G, "exact", FEW, quantiles=()), C * G, fast,
                           "quantiles=() (information)"),
        "np64_C": (numpy_vectorized(C, n, G, np.float64), C * G, fast, "float64"),
        "np32_C": (numpy_vectorized(C, n, G, np.float32), C * G, fast, "float32"),
        "loop_C": (numpy_loop(S["loop_chains"], n, G), S["loop_chains"] * G, fast,
                   f"{S['loop_chains']} of the chains, counted per chain-generation"),
    }))
    print("  group 1 done", flush=True)
    # group 2: chains = CL (exact path, numpy on fewer generations, the RNG ceiling)
    gl = S["np_gens_large_chains"]
    T.update(measure({
        "jc_exact_CL": (jc_runner(g1, n, CL, G, "exact", FEW), CL * G, fast, ""),
        "jc_exact_CL_all": (jc_runner(g1, n, CL, G, "exact", None), CL * G, fast, "all metrics"),
        "jc_exact_CL_d3": (jc_runner(g3, n, CL, G, "exact", FEW), CL * G, fast, "d = 3"),
        "np64_CL": (numpy_vectorized(CL, n, gl, np.float64), CL * gl, slow, f"float64, {gl} generations"),
        "np32_CL": (numpy_vectorized(CL, n, gl, np.float32), CL * gl, slow, f"float32, {gl} generations"),
        "jax_normal": (jax_normals(S["rng_size"]), S["rng_size"], fast, f"{S['rng_size']} float32 normals"),
        "jc_normal": (jc_normals(S["rng_size"]), S["rng_size"], fast,
                      f"{S['rng_size']} float32 normals from jaxcollapse.random (information)"),
    }))
    print("  group 2 done", flush=True)
    # group 3: n = 10,000 (numpy timed on a few generations, counted per chain-generation)
    gn = S["np_gens_large_n"]
    gens = f"{gn} generation{'s' if gn != 1 else ''}"
    T.update(measure({
        "jc_exact_C_nL": (jc_runner(g1, NL, C, G, "exact", FEW), C * G, fast, ""),
        "jc_exact_CL_nL": (jc_runner(g1, NL, CL, G, "exact", FEW), CL * G, fast, "(information)"),
        "np64_C_nL": (numpy_vectorized(C, NL, gn, np.float64), C * gn, slow, f"float64, {gens}"),
        "np32_C_nL": (numpy_vectorized(C, NL, gn, np.float32), C * gn, slow, f"float32, {gens}"),
    }))
    print("  group 3 done", flush=True)
    big = None
    if args.big:
        big = run_big(S["big_chains"], S["big_generations"], n)
        print("  big case done", flush=True)

    def rate(k):
        return T[k].rate

    def best_np(suffix):
        k64, k32 = f"np64_{suffix}", f"np32_{suffix}"
        k = k64 if rate(k64) >= rate(k32) else k32
        return k, rate(k)

    rows = []  # (case, jc key, baseline description, baseline rate, target or None)

    def add(case, jk, base, brate, target):
        r = rate(jk) / brate
        rows.append({
            "case": case, "jaxcollapse": jk, "jaxcollapse_rate": rate(jk), "baseline": base,
            "baseline_rate": brate, "ratio": r, "target": target,
            "result": "info" if target is None else ("PASS" if r >= target else "MISS"),
        })

    def np_desc(k, chains_):
        t = T[k]
        g = int(t.work // chains_)
        extra = f", timed on {g} gen{'s' if g != 1 else ''}" if g != G else ""
        return f"(a) numpy {'f64' if k.startswith('np64') else 'f32'}{extra}"

    kC, rC = best_np("C")
    kCL, rCL = best_np("CL")
    kNL, rNL = best_np("C_nL")
    normals = rate("jax_normal")
    add(f"1 samples, {C} ch, n={n}", "jc_samples_C", np_desc(kC, C), rC, 4.0)
    add(f"1 samples, {C} ch, n={n}", "jc_samples_C", f"(b) per-chain loop ({S['loop_chains']} ch)",
        rate("loop_C"), 30.0)
    add(f"1 samples, {C} ch, n={n}, all metrics", "jc_samples_C_all", np_desc(kC, C), rC, None)
    add(f"2 exact, {C} ch, n={n}", "jc_exact_C", np_desc(kC, C), rC, 10.0)
    add(f"2 exact, {C} ch, n={n}, quantiles=()", "jc_exact_C_noq", np_desc(kC, C), rC, None)
    add(f"2 exact, {CL} ch, n={n}", "jc_exact_CL", np_desc(kCL, CL), rCL, 10.0)
    add(f"2 exact, {CL} ch, n={n}, all metrics", "jc_exact_CL_all", np_desc(kCL, CL), rCL, None)
    add(f"2 exact, {C} ch, n={NL}", "jc_exact_C_nL", np_desc(kNL, C), rNL, 1000.0)
    add(f"2 exact, {CL} ch, n={NL}", "jc_exact_CL_nL", np_desc(kNL, C) + f" at {C} ch", rNL, None)
    add(f"3 exact, {CL} ch / normals", "jc_exact_CL", "(c) jax.random.normal", normals, 0.2)
    add(f"3 exact, {C} ch / normals", "jc_exact_C", "(c) jax.random.normal", normals, None)
    add(f"3 exact, {CL} ch / own normals", "jc_exact_CL", "jaxcollapse.random.normal", rate("jc_normal"), None)
    add(f"5 exact d=3, {CL} ch, n={n}", "jc_exact_CL_d3", "(c) jax.random.normal", normals, None)

    table = markdown_table(
        ["case", "jaxcollapse", "baseline", "baseline rate", "ratio", "target", "result"],
        [[r["case"], fmt_rate(r["jaxcollapse_rate"]), r["baseline"], fmt_rate(r["baseline_rate"]),
          _fmt_ratio(r["ratio"]), "—" if r["target"] is None else f">= {r['target']:g}x", r["result"]] for r in rows],
    )
    base_table = markdown_table(
        ["measurement", "rate", "repeats", "median s", "note"],
        [[k, fmt_rate(t.rate), str(len(t.times)), f"{t.median:.4g}", t.note] for k, t in T.items()],
    )
    print("\nRates are chain-generations per second (normals per second for jax_normal); "
          "ratio = jaxcollapse / baseline.\n")
    print(table)
    if big is not None:
        gb = big["peak_rss_bytes"] / 1e9
        ok = "PASS" if gb < 2.0 else "MISS"
        print(f"\n4 exact, {big['chains']:.0e} chains x {big['generations']} generations, all metrics "
              f"(subprocess): simulate {big['simulate_s']:.1f} s incl. compile "
              f"({fmt_rate(big['rate_incl_compile'])}), process {big['process_wall_s']:.1f} s, "
              f"peak RSS {gb:.2f} GB (target < 2 GB): {ok}")
        tv = big["time_v_peak_bytes"]
        print(f"  peak RSS: child's VmHWM {big['self_peak_bytes'] / 1e9:.2f} GB, /usr/bin/time -v "
              f"{'n/a' if tv is None else f'{tv / 1e9:.2f} GB'}; after importing jax "
              f"{big['rss_after_import_bytes'] / 1e9:.2f} GB")
        print(f"  sanity: mean ln sigma^2 at generation {big['generations']} = {big['final_log_var_mean']:.4f} "
              f"+- {big['final_log_var_stderr']:.4f}, theory {big['final_log_var_theory']:.4f} "
              f"(z = {big['final_log_var_z']:.2f})")
        big["result"] = ok
    print(f"\n1-min load average at the end: {os.getloadavg()[0]:.2f} (this run included)")
    print("\nAll measurements:\n")
    print(base_table)

    out = {
        "benchmark": "gaussian",
        "mode": mode,
        "started": started,
        "finished": now_iso(),
        "load_average_1_5_15min": {"start": load_start, "end": os.getloadavg()},
        "machine": info,
        "code": code_version(MEASURED_FILES),
        "repeats": {"fast": fast, "slow": slow},
        "sizes": S,
        "settings": {"dtype": "float32", "metrics": list(FEW), "regime": f"replace({n})",
                     "statistic": "median over repeats"},
        "rows": rows,
        "big": big,
        "measurements": {k: t.as_dict() for k, t in T.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"gaussian_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
