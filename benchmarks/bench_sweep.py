"""Throughput of `jaxcollapse.sweep` against one `simulate` call of the same total size, and baselines.

Run from the repository root::

    python benchmarks/bench_sweep.py             # 100 configurations x 10,000 chains x 200 generations
    python benchmarks/bench_sweep.py --quick     # 16 x 2,000 x 50, a smoke test
    python benchmarks/bench_sweep.py --family categorical   # (or poisson, kde, mixture): sweep vs one simulate

The unit is chain-generations per second (configurations x chains x generations / seconds), 1-D Gaussian,
MLE, replace, exact (sufficient-statistics) path, float32, metrics ``("trace", "mean_sq_err")``, the
default quantiles, medians over repeats in interleaved rounds after a warm-up call that compiles.

- **sweep**: `run_sweep` in memory over a 10 x 10 grid of (n, temperature) (both traced: one compile),
  10,000 chains per point, at a few chunk sizes (points per compiled call);
- **simulate, same total size**: one `simulate(replace(100), chains=1,000,000)` — the target is
  sweep >= 80% of its rate (Performance item of issue 7);
- **loop of simulate calls**: what one would write without `sweep`: one `simulate` per configuration
  (10,000 chains each; n and tau are traced so the program is reused);
- **numpy, vectorized**: the same exact-statistics recursion (normal mean, chi-square variance) over all
  configurations x chains at once, timed on fewer generations and counted per chain-generation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
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
)

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import regimes, sweep  # noqa: E402

FEW = ["trace", "mean_sq_err"]
MEASURED = ("jaxcollapse/sweep.py", "jaxcollapse/engine.py", "jaxcollapse/families/gaussian.py")
SIZES = {
    "full": dict(side=10, chains=10_000, generations=200, chunks=(10, 50), np_generations=10, repeats=3),
    "quick": dict(side=4, chains=2_000, generations=50, chunks=(4, 16), np_generations=10, repeats=3),
}


def grid(side: int):
    ns = np.unique(np.geomspace(10, 1000, side).round().astype(int)).tolist()
    taus = np.linspace(0.95, 1.05, side).round(4).tolist()
    return ns, taus


def sweep_runner(side, chains, generations, chunk, quantiles=True):
    ns, taus = grid(side)
    base = {"generations": generations, "chains": chains, "metrics": FEW, "chunk": chunk,
            **({} if quantiles else {"quantiles": []}),
            "params": {"regime": "replace"}, "grid": {"n": ns, "temperature": taus}}

    def fn(r):
        ds = sweep.run_sweep({**base, "seed": r + 1})
        return float(ds["trace"].values[0, 0, -1, 0])

    return fn


def simulate_runner(total_chains, generations, quantiles=True):
    model = jc.Gaussian(0.0, 1.0)
    regime = regimes.replace(100)
    kw = {} if quantiles else {"quantiles": ()}

    def fn(r):
        traj = jc.simulate(jax.random.key(r + 1), model, regime, generations, total_chains, metrics=FEW, **kw)
        return jax.block_until_ready(traj)

    return fn


def loop_runner(side, chains, generations):
    ns, taus = grid(side)
    model = jc.Gaussian(0.0, 1.0)

    def fn(r):
        out = []
        for n in ns:
            for t in taus:
                traj = jc.simulate(jax.random.key(r + 1), model, regimes.replace(n, temperature=t), generations,
                                   chains, metrics=FEW)
                out.append(np.asarray(traj.mean("trace")))
        return out

    return fn


def numpy_runner(side, chains, generations):
    """All configurations x chains at once: mu += tau sigma z / sqrt(n); sigma^2 *= tau^2 chi2_{n-1} / n."""
    ns, taus = grid(side)
    n = np.repeat(np.repeat(np.asarray(ns, np.float32), len(taus)), chains)
    tau = np.repeat(np.tile(np.asarray(taus, np.float32), len(ns)), chains)

    def fn(r):
        rng = np.random.default_rng(r + 1)
        mu = np.zeros(n.size, np.float32)
        var = np.ones(n.size, np.float32)
        for _ in range(generations):
            z = rng.standard_normal(n.size, dtype=np.float32)
            mu += tau * np.sqrt(var / n) * z
            var *= tau * tau * rng.chisquare(n - 1).astype(np.float32) / n
            v = var.reshape(-1, chains)
            m = (mu * mu).reshape(-1, chains)
            _ = (v.mean(1), v.std(1), np.quantile(v[:, :1024], [0.05, 0.25, 0.5, 0.75, 0.95], axis=1),
                 m.mean(1), m.std(1), np.quantile(m[:, :1024], [0.05, 0.25, 0.5, 0.75, 0.95], axis=1))
        return var

    return fn


# --------------------------------------------------------------------------- the other families (--family)
# one sweep over two traced parameters of the family's recipe against one `simulate` of the same total chains (at
# the grid's first point, built by the same recipe); sizes per family so that one call takes a few seconds here
FAMILIES = {
    "categorical": dict(params={"regime": "replace", "n": 1000, "K": 1000}, metrics=["gini_simpson", "surviving"],
                        grid={"beta": [0.8, 1.0, 1.2, 1.4], "alpha": [0.0, 0.001, 0.01, 0.1]},
                        full=dict(chains=1024, generations=20, chunk=16),
                        quick=dict(chains=256, generations=5, chunk=16)),
    "poisson": dict(params={"regime": "replace"}, metrics=["rate", "extinct"],
                    grid={"n": [1, 2, 5, 10, 20], "rate": [0.1, 0.3, 1.0, 3.0]},  # the example sweep's grid
                    full=dict(chains=8192, generations=50, chunk=20),  # ~5 M chain-generations/s here
                    quick=dict(chains=256, generations=10, chunk=20)),
    "kde": dict(params={"regime": "replace", "n": 20, "bandwidth": "fixed"}, metrics=["spread", "nll"],
                grid={"h": [0.05, 0.1, 0.2, 0.3, 0.5, 0.8]},  # examples/sweeps/kde.toml's replace row
                full=dict(chains=512, generations=20, chunk=6),
                quick=dict(chains=64, generations=5, chunk=6)),
    "mixture": dict(params={"regime": "replace", "n": 50, "em_iters": 20}, metrics=["spread", "kl"],
                    grid={"separation": [0.5, 1.0, 2.0, 4.0], "temperature": [0.9, 1.0, 1.1]},
                    full=dict(chains=256, generations=10, chunk=12),
                    quick=dict(chains=32, generations=3, chunk=12)),
    "ngram": dict(params={"regime": "replace", "n": 20, "vocab": 20, "support": 6, "length": 10},
                  metrics=["entropy_rate", "kl_rate"],
                  grid={"smoothing": [0.0, 0.01, 0.1, 1.0], "beta": [0.5, 1.0, 2.0]},
                  full=dict(chains=1024, generations=15, chunk=12),
                  quick=dict(chains=64, generations=3, chunk=12)),
    "regression": dict(params={"regime": "replace", "n": 40}, metrics=["excess_risk", "r2"],
                       grid={"ridge": [0.0, 0.01, 0.1, 1.0, 10.0], "noise": [0.1, 0.5, 1.0, 2.0]},
                       full=dict(chains=4096, generations=20, chunk=20),
                       quick=dict(chains=256, generations=3, chunk=20)),
}


def family_main(family: str, mode: str, reps: int, label_: str | None) -> int:
    F = FAMILIES[family]
    S = F[mode]
    C, G = S["chains"], S["generations"]
    base = {"family": family, "generations": G, "chains": C, "metrics": F["metrics"], "chunk": S["chunk"],
            "params": F["params"], "grid": F["grid"]}
    cfg = sweep.SweepConfig.from_dict({**base, "seed": 1})
    P_ = len(cfg.resolved_points())
    model, truth, regime = sweep._build(cfg, cfg.resolved_points()[0])
    work = P_ * C * G
    info = machine_info()
    started, load_start = now_iso(), os.getloadavg()
    print(f"# jaxcollapse sweep benchmark, {family} ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']}; {P_} points x {C} chains x {G} "
          f"generations, grid {F['grid']}; medians of {reps}; 1-min load average {load_start[0]:.2f}\n", flush=True)

    def sweep_fn(r):
        ds = sweep.run_sweep({**base, "seed": r + 1}, quiet=True)
        return float(ds[F["metrics"][0]].values.ravel()[0])

    def simulate_fn(r):
        return jax.block_until_ready(jc.simulate(jax.random.key(r + 1), model, regime, G, P_ * C, truth=truth,
                                                 metrics=F["metrics"], path=cfg.path))

    built = [sweep._build(cfg, pt) for pt in cfg.resolved_points()]

    def loop_fn(r):  # one simulate per point, C chains each: what one writes without the sweep
        return [jax.block_until_ready(jc.simulate(jax.random.key(r + 1), m, rg, G, C, truth=tr, metrics=F["metrics"],
                                                path=cfg.path))
                for m, tr, rg in built]

    T = measure({"sweep": (sweep_fn, work, reps, f"{P_} points, {S['chunk']} per compiled call"),
                 "simulate_total": (simulate_fn, work, reps, f"one simulate, {P_ * C} chains, the first point"),
                 "simulate_loop": (loop_fn, work, max(1, reps - 2), f"{P_} simulate calls of {C} chains")})
    ratio = T["sweep"].rate / T["simulate_total"].rate
    print(f"sweep / loop of simulate calls (one per point): {T['sweep'].rate / T['simulate_loop'].rate:.2f}x")
    verdict = "PASS" if ratio >= 0.8 else "MISS"
    print(markdown_table(["case", "chain-gen/s", "median s", "note"],
                         [[k, fmt_rate(t.rate), f"{t.median:.3g}", t.note] for k, t in T.items()]))
    print(f"\n{family}: sweep / one simulate of the same size: {ratio:.2f} (target >= 0.80): {verdict}")
    out = {"benchmark": "sweep", "family": family, "mode": mode, "started": started, "finished": now_iso(),
           "load_average_1_5_15min": {"start": load_start, "end": os.getloadavg()}, "machine": info,
           "code": code_version(MEASURED), "config": base, "ratio_sweep_over_simulate": ratio, "result": verdict,
           "measurements": {k: t.as_dict() for k, t in T.items()}}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"sweep_{family}_{label_ or label(info, 'quick' if mode == 'quick' else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--label", default=None)
    p.add_argument("--family", default="gaussian", choices=["gaussian", *FAMILIES],
                   help="gaussian (the grid, baselines and chunk sizes above) or another family's sweep against one "
                        "simulate of the same total chains")
    args = p.parse_args(argv)
    mode = "quick" if args.quick else "full"
    if args.family != "gaussian":
        return family_main(args.family, mode, args.repeats or 3, args.label)
    S = SIZES[mode]
    reps = args.repeats or S["repeats"]
    side, C, G = S["side"], S["chains"], S["generations"]
    P_ = len(grid(side)[0]) * side
    work = P_ * C * G
    info = machine_info()
    started, load_start = now_iso(), os.getloadavg()
    print(f"# jaxcollapse sweep benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores (nproc), jax {info['jax']} ({info['backend']}); "
          f"{P_} configurations x {C} chains x {G} generations; medians of {reps}; "
          f"1-min load average at start {load_start[0]:.2f}\n", flush=True)
    cases = {f"sweep_chunk{k}": (sweep_runner(side, C, G, k), work, reps, f"{k} points per compiled call")
             for k in S["chunks"]}
    cases["simulate_total"] = (simulate_runner(P_ * C, G), work, reps, f"one simulate, {P_ * C} chains")
    k0 = max(S["chunks"])
    cases[f"sweep_chunk{k0}_noq"] = (sweep_runner(side, C, G, k0, False), work, reps, "quantiles=[] (like for like)")
    cases["simulate_total_noq"] = (simulate_runner(P_ * C, G, False), work, reps, "quantiles=() (like for like)")
    cases["simulate_loop"] = (loop_runner(side, C, G), work, max(1, reps - 2), f"{P_} simulate calls of {C} chains")
    gn = S["np_generations"]
    cases["numpy"] = (numpy_runner(side, C, gn), P_ * C * gn, max(1, reps - 2),
                      f"float32, all configurations at once, {gn} generations")
    T = measure(cases)
    ref = T["simulate_total"].rate
    best = max((k for k in T if k.startswith("sweep") and not k.endswith("noq")), key=lambda k: T[k].rate)
    rows = []
    for k, t in T.items():
        rows.append([k, fmt_rate(t.rate), f"{t.median:.3g}", f"{t.rate / ref:.2f}", t.note])
    print(markdown_table(["case", "chain-gen/s", "median s", "/ one simulate", "note"], rows))
    ratio = T[best].rate / ref
    verdict = "PASS" if ratio >= 0.8 else "MISS"
    print(f"\nbest sweep ({best}) / one simulate of the same size: {ratio:.2f} (target >= 0.80): {verdict}")
    r_noq = T[f"sweep_chunk{k0}_noq"].rate / T["simulate_total_noq"].rate
    print(f"without quantiles (each sweep point sorts its own {min(C, 1024)} chains per generation, one simulate "
          f"sorts 1024 of {P_ * C}): sweep / simulate = {r_noq:.2f}")
    print(f"sweep / loop of simulate calls: {T[best].rate / T['simulate_loop'].rate:.2f}x; "
          f"sweep / numpy vectorized: {T[best].rate / T['numpy'].rate:.1f}x")
    print(f"1-min load average at the end: {os.getloadavg()[0]:.2f}")
    out = {
        "benchmark": "sweep", "mode": mode, "started": started, "finished": now_iso(),
        "load_average_1_5_15min": {"start": load_start, "end": os.getloadavg()},
        "machine": info, "code": code_version(MEASURED), "sizes": S,
        "ratio_best_sweep_over_simulate": ratio, "result": verdict, "best_sweep": best,
        "ratio_without_quantiles": r_noq,
        "measurements": {k: t.as_dict() for k, t in T.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"sweep_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
