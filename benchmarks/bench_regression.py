"""Throughput of the regression family (OLS under `replace`, fresh design) against baselines in the same run.

Run from the repository root::

    python benchmarks/bench_regression.py            # d = 10, T = 40, chains = 4096, 50 generations
    python benchmarks/bench_regression.py --quick    # smaller sizes, smoke test

The unit is chain-generations per second (chains x generations / seconds). jaxcollapse is timed as
`jax.block_until_ready(jaxcollapse.simulate(...))` after a warm-up call that compiles (a new key per repeat
reuses the program), float32, metric ``excess_risk`` only, no quantiles. Medians over repeats in interleaved
rounds. Model: $w^* = (1, \\dots, 1)/\\sqrt d$, isotropic design, noise 1.

- jaxcollapse, sample path: draws $X$ ($T\\times d$) and $y$, forms the statistics, solves;
- jaxcollapse, exact path: Wishart (Bartlett) Gram and $X^\\top y \\mid$ Gram, cost independent of $T$;
- (a) numpy vectorized: `standard_normal((chains, T, d))`, `X @ w + noise`, batched `np.linalg.solve` of the
  normal equations, float64 (numpy's default, what research code runs);
- (b) a per-chain Python loop like published research code: `np.linalg.pinv(X) @ y` per chain and
  generation, timed on a subset of chains;
- at $T = 10{,}000$: the exact path against the sample path (fewer chains, the same for both).

Targets (issue 4): sample path >= 2x (a); exact path >= 5x (a) and >= 30x (b); exact at T = 10,000 >= 100x
the sample path at T = 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `import jaxcollapse`

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, code_version, fmt_rate, label, machine_info, markdown_table, measure, now_iso  # noqa: E402

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import regimes  # noqa: E402
from jaxcollapse.families.regression import Regression  # noqa: E402

METRICS = ("excess_risk",)
MEASURED_FILES = ("jaxcollapse/families/regression.py", "jaxcollapse/engine.py", "jaxcollapse/random.py")
SIZES = {
    "full": {"d": 10, "T": 40, "chains": 4096, "generations": 50, "loop_chains": 64, "big_T": 10_000,
             "big_chains": 128, "big_generations": 5},
    "quick": {"d": 10, "T": 40, "chains": 512, "generations": 10, "loop_chains": 16, "big_T": 2000,
              "big_chains": 32, "big_generations": 3},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing")
    p.add_argument("--repeats", type=int, default=None, help="repeats (default 5, quick 3)")
    p.add_argument("--label", default=None, help="results file label (default: backend-cpu-cores[-quick])")
    args = p.parse_args(argv)
    mode = "quick" if args.quick else "full"
    S = SIZES[mode]
    reps = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    if reps < 1:
        p.error("--repeats must be >= 1")
    d, T, C, G = S["d"], S["T"], S["chains"], S["generations"]
    started = now_iso()
    load_start = os.getloadavg()
    info = machine_info()
    print(f"# jaxcollapse regression benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} usable cores (nproc {os.cpu_count()}), jax {info['jax']} "
          f"({info['backend']}), numpy {info['numpy']}; {reps} repeats, medians; 1-min load average at start "
          f"{load_start[0]:.2f} (near 0 on an idle machine)", flush=True)
    print(f"# d = {d}, T = {T}, chains = {C}, {G} generations per repeat; T = {S['big_T']}: {S['big_chains']} "
          f"chains, {S['big_generations']} generations\n", flush=True)

    w_star = np.ones(d) / np.sqrt(d)
    model = Regression(w_star, 1.0, 1.0)

    def jax_case(path, rows, chains, gens):
        rg = regimes.replace(rows)

        def f(r):
            jax.block_until_ready(jc.simulate(jax.random.key(100 + r), model, rg, gens, chains, path=path,
                                              metrics=METRICS, quantiles=()))
        return f

    rng = np.random.default_rng(0)

    def numpy_vec(r):
        w = np.broadcast_to(w_star, (C, d)).copy()
        for _ in range(G):
            X = rng.standard_normal((C, T, d))
            y = np.einsum("ctd,cd->ct", X, w) + rng.standard_normal((C, T))
            G_ = np.einsum("cti,ctj->cij", X, X)
            b = np.einsum("cti,ct->ci", X, y)
            w = np.linalg.solve(G_, b[..., None])[..., 0]
            _ = np.sum((w - w_star) ** 2, axis=1)

    LC = S["loop_chains"]

    def loop(r):
        rs = np.random.RandomState(r + 1)
        for _ in range(LC):
            w = w_star.copy()
            for _ in range(G):
                X = rs.randn(T, d)
                y = X @ w + rs.randn(T)
                w = np.linalg.pinv(X) @ y
                _ = np.sum((w - w_star) ** 2)

    BT, BC, BG = S["big_T"], S["big_chains"], S["big_generations"]
    timings = measure({
        "jax_samples": (jax_case("samples", T, C, G), C * G, reps, f"simulate, sample path, T = {T}"),
        "jax_exact": (jax_case("exact", T, C, G), C * G, reps, f"simulate, exact path, T = {T}"),
        "numpy_vectorized": (numpy_vec, C * G, reps, "batched normal equations, float64"),
        "research_loop": (loop, LC * G, max(3, reps // 2), f"np.linalg.pinv per chain, {LC} chains"),
        "jax_exact_bigT": (jax_case("exact", BT, BC, BG), BC * BG, reps, f"exact path, T = {BT}"),
        "jax_samples_bigT": (jax_case("samples", BT, BC, BG), BC * BG, max(3, reps // 2), f"sample path, T = {BT}"),
    })
    R = {k: t.rate for k, t in timings.items()}
    ratios = {
        "samples_vs_numpy_vectorized": R["jax_samples"] / R["numpy_vectorized"],
        "exact_vs_numpy_vectorized": R["jax_exact"] / R["numpy_vectorized"],
        "exact_vs_research_loop": R["jax_exact"] / R["research_loop"],
        "samples_vs_research_loop": R["jax_samples"] / R["research_loop"],
        f"exact_vs_samples_at_T={BT}": R["jax_exact_bigT"] / R["jax_samples_bigT"],
    }
    targets = {"samples_vs_numpy_vectorized": 2.0, "exact_vs_numpy_vectorized": 5.0, "exact_vs_research_loop": 30.0,
               f"exact_vs_samples_at_T={BT}": 100.0}
    rows = [[k, fmt_rate(t.rate), f"{t.median * 1e3:.1f} ms", t.note] for k, t in timings.items()]
    print(markdown_table(["case", "chain-generations/s", "median", "what"], rows))
    print()
    for k, v in ratios.items():
        tgt = targets.get(k)
        verdict = "" if tgt is None else f"  target >= {tgt:g}: {'met' if v >= tgt else 'NOT met'}"
        print(f"{k:<40s} {v:9.2f}{verdict}")
    print(f"\n1-min load average at the end: {os.getloadavg()[0]:.2f} (this run included)")
    out = {
        "benchmark": "regression", "mode": mode, "started": started, "finished": now_iso(),
        "load_average_1_5_15min": {"start": load_start, "end": os.getloadavg()}, "machine": info,
        "code": code_version(MEASURED_FILES), "repeats": reps, "sizes": S,
        "settings": {"dtype": "float32", "metrics": list(METRICS), "regime": f"replace({T})", "design": "fresh",
                     "statistic": "median over repeats"},
        "ratios": ratios, "targets": targets, "measurements": {k: t.as_dict() for k, t in timings.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"regression_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
