"""Throughput of the bigram language model (`jaxcollapse.Bigram`) under `replace`, against baselines in the same run.

Run from the repository root::

    python benchmarks/bench_ngram.py            # full sizes (about a minute on 2 cores)
    python benchmarks/bench_ngram.py --quick    # small sizes, smoke test

Workload: a Zipfian truth over V = 50 tokens (8 successors per token), m = 100 sequences of length L = 20
per generation (1,900 bigrams), no smoothing, float32. Units: tokens per second (chains x generations x m x L
/ seconds) and chain-generations per second. jaxcollapse is timed as `jax.block_until_ready(simulate(...))`
after a warm-up call that compiles; every number is the median over repeats taken in interleaved rounds.

Rows:

- jaxcollapse, metric ``kl_rate`` only (sampling, counting and refitting dominate), and with all eight
  metrics (two V x V linear solves per chain and generation for the limit distributions);
- (a) numpy vectorized over chains and sequences: per position one uniform per token, the inverse CDF
  by comparison against the gathered rows' cumulative sums, counts by `np.bincount` on flattened indices;
- (b) a per-chain Python loop in the style of published research code: `np.random.choice(V, p=row)` per
  token, counts in a dict-free numpy array, one chain and one generation at a time (timed on a few chains);
- (c) `jax.random.uniform` float32 numbers per second: the sampler needs one uniform per token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, code_version, fmt_rate, label, machine_info, markdown_table, measure, now_iso  # noqa: E402

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import regimes  # noqa: E402

MEASURED_FILES = ("jaxcollapse/families/ngram.py", "jaxcollapse/engine.py", "jaxcollapse/random.py")
SIZES = {
    "full": dict(V=50, support=8, m=100, L=20, chains=1024, generations=20, loop_chains=2, loop_generations=1,
                 rng_size=2**23, repeats=5),
    "quick": dict(V=50, support=8, m=100, L=20, chains=128, generations=5, loop_chains=1, loop_generations=1,
                  rng_size=2**20, repeats=3),
}


def jc_runner(model, m, chains, generations, metrics):
    regime = regimes.replace(m)

    def fn(r):
        return jax.block_until_ready(jc.simulate(jax.random.key(r + 1), model, regime, generations, chains,
                                                 path="samples", metrics=metrics, quantiles=()))

    return fn


def numpy_vectorized(P0, mu0, m, L, chains, generations):
    V = P0.shape[0]

    def fn(r):
        rng = np.random.default_rng(r + 1)
        P = np.broadcast_to(P0, (chains, V, V)).astype(np.float32)
        mu = np.broadcast_to(mu0, (chains, V)).astype(np.float32)
        ci = np.arange(chains)[:, None]
        for _ in range(generations):
            cdf = np.cumsum(P, axis=2)
            cdf0 = np.cumsum(mu, axis=1)
            u = rng.random((L, chains, m), dtype=np.float32)
            x = (cdf0[:, None, :] < (u[0] * cdf0[:, -1:])[:, :, None]).sum(-1)
            first = np.bincount((ci * V + x).ravel(), minlength=chains * V).reshape(chains, V)
            counts = np.zeros(chains * V * V, np.int64)
            for s in range(1, L):
                rows = cdf[ci, x]  # (chains, m, V)
                nxt = (rows < (u[s] * rows[:, :, -1])[:, :, None]).sum(-1)
                counts += np.bincount(((ci * V + x) * V + nxt).ravel(), minlength=chains * V * V)
                x = nxt
            C = counts.reshape(chains, V, V).astype(np.float32)
            N = C.sum(2, keepdims=True)
            P = np.where(N > 0, C / np.where(N > 0, N, 1), P)
            mu = first / m
        return P

    return fn


def numpy_loop(P0, mu0, m, L, chains, generations):
    V = P0.shape[0]

    def fn(r):
        np.random.seed(r + 1)
        for _ in range(chains):
            P, mu = P0.copy(), mu0.copy()
            for _ in range(generations):
                C = np.zeros((V, V))
                F = np.zeros(V)
                for _ in range(m):
                    x = np.random.choice(V, p=mu)
                    F[x] += 1
                    for _ in range(L - 1):
                        y = np.random.choice(V, p=P[x])
                        C[x, y] += 1
                        x = y
                N = C.sum(1, keepdims=True)
                P = np.where(N > 0, C / np.where(N > 0, N, 1), P)
                mu = F / m
        return P

    return fn


def jax_uniforms(size):
    draw = jax.jit(lambda k: jax.random.uniform(k, (size,), jnp.float32))
    return lambda r: jax.block_until_ready(draw(jax.random.key(r + 1)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int)
    args = ap.parse_args(argv)
    cfg = SIZES["quick" if args.quick else "full"]
    reps = args.repeats or cfg["repeats"]
    info = machine_info()
    load = os.getloadavg()
    print(f"nproc {info['cores_usable']} ({info['cpu_model']}); load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; jax {info['jax']} on {info['backend']}")
    V, m, L, chains, G = cfg["V"], cfg["m"], cfg["L"], cfg["chains"], cfg["generations"]
    truth = jc.Bigram.zipf(jax.random.key(0), V, support=cfg["support"], length=L)
    P0, mu0 = np.asarray(truth.transition, np.float64), np.asarray(truth.initial, np.float64)
    P0, mu0 = P0 / P0.sum(1, keepdims=True), mu0 / mu0.sum()  # exact float64 rows for np.random.choice
    tok = lambda c, g: c * g * m * L
    lc, lg = cfg["loop_chains"], cfg["loop_generations"]
    cases = {
        "jaxcollapse (kl_rate)": (jc_runner(truth, m, chains, G, ("kl_rate",)), tok(chains, G), reps, ""),
        "jaxcollapse (all 8 metrics)": (jc_runner(truth, m, chains, G, None), tok(chains, G), reps, ""),
        "(a) numpy vectorized": (numpy_vectorized(P0, mu0, m, L, chains, G), tok(chains, G), reps, ""),
        "(b) per-chain loop": (numpy_loop(P0, mu0, m, L, lc, lg), tok(lc, lg), max(1, reps // 2),
                               f"{lc} chain(s) x {lg} generation(s)"),
        "(c) jax.random.uniform": (jax_uniforms(cfg["rng_size"]), cfg["rng_size"], reps, "uniforms, not tokens"),
    }
    res = measure(cases)
    base = res["(a) numpy vectorized"].rate
    loop = res["(b) per-chain loop"].rate
    rows = []
    for name, t in res.items():
        per_cg = t.rate / (m * L) if "uniform" not in name else None
        rows.append([name, fmt_rate(t.rate), fmt_rate(per_cg), f"{t.rate / base:.3g}x" if per_cg else "—",
                     f"{t.rate / loop:.3g}x" if per_cg else "—", f"{t.median:.3g} s"])
    print(markdown_table(["case", "tokens (or uniforms)/s", "chain-generations/s", "vs (a)", "vs (b)",
                          "median time"], rows))
    jc_rate = res["jaxcollapse (kl_rate)"].rate
    print(f"jaxcollapse (kl_rate) draws {jc_rate / res['(c) jax.random.uniform'].rate:.3g} tokens per "
          f"jax.random.uniform number in the same time")
    out = {
        "benchmark": "ngram", "when": now_iso(), "machine": info, "load_average": load, "sizes": cfg,
        "code": code_version(MEASURED_FILES), "timings": {k: v.as_dict() for k, v in res.items()},
        "ratios": {"jaxcollapse_vs_numpy_vectorized": jc_rate / base, "jaxcollapse_vs_loop": jc_rate / loop,
                   "all_metrics_vs_numpy_vectorized": res["jaxcollapse (all 8 metrics)"].rate / base},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"ngram_{label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
