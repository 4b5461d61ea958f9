"""Throughput of the categorical (Wright–Fisher) family under `replace`, against baselines in the same run.

Run from the repository root::

    python benchmarks/bench_categorical.py            # chains = 1024, K = 1000, n = 1000 (about a minute)
    python benchmarks/bench_categorical.py --quick    # smaller sizes, smoke test

The unit is chain-generations per second (chains x generations / seconds). jaxcollapse is timed as
`jax.block_until_ready(jaxcollapse.simulate(...))` after a warm-up call that compiles (a new key per repeat
reuses the program), float32, metrics ``("gini_simpson", "surviving")``, the exact (counts) path. Every
number is a median over repeats taken in interleaved rounds. Truth: Zipf(1.1) over K categories.

Baselines (all refit p <- counts / n each generation):

- (a) numpy vectorized: `Generator.multinomial(n, P)` on the (chains, K) matrix of probabilities, float64;
- (b) a per-chain Python loop like published research code: `np.random.choice(K, n, p=p)` then
  `np.bincount`, timed on a subset of chains and counted per chain-generation;
- (c) the naive JAX route: `jax.random.multinomial` vmapped over chains (timed on a subset);
- (d) the ceiling: `jax.random.uniform` on 2^23 float32 numbers; an exact sampler needs about min(n, K)
  random numbers per chain-generation, so the "near the limit" target is
  rate >= 0.5 x (uniforms per second) / min(n, K).

Also: a single chain's absorbed state (one category holds all the mass) against a live one, per generation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `import jaxcollapse`

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, code_version, fmt_rate, label, machine_info, markdown_table, measure, now_iso  # noqa: E402

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import regimes  # noqa: E402
from jaxcollapse.families.categorical import zipf_probabilities  # noqa: E402

METRICS = ("gini_simpson", "surviving")
MEASURED_FILES = ("jaxcollapse/_multinomial.py", "jaxcollapse/families/categorical.py", "jaxcollapse/engine.py",
                  "jaxcollapse/random.py")
SIZES = {
    "full": {"chains": 1024, "K": 1000, "n": 1000, "generations": 20, "loop_chains": 32, "naive_chains": 64,
             "single_generations": 200},
    "quick": {"chains": 256, "K": 200, "n": 200, "generations": 5, "loop_chains": 16, "naive_chains": 32,
              "single_generations": 50},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing")
    p.add_argument("--repeats", type=int, default=None, help="repeats (default 7, quick 3)")
    p.add_argument("--label", default=None, help="results file label (default: backend-cpu-cores[-quick])")
    args = p.parse_args(argv)
    mode = "quick" if args.quick else "full"
    S = SIZES[mode]
    reps = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    if reps < 1:
        p.error("--repeats must be >= 1")
    C, K, n, G = S["chains"], S["K"], S["n"], S["generations"]
    started = now_iso()
    load_start = os.getloadavg()
    info = machine_info()
    print(f"# jaxcollapse categorical benchmark ({mode}), {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} usable cores (nproc {os.cpu_count()}), jax {info['jax']} "
          f"({info['backend']}), numpy {info['numpy']}; {reps} repeats, medians; 1-min load average at start "
          f"{load_start[0]:.2f} (near 0 on an idle machine)", flush=True)
    print(f"# chains = {C}, K = {K}, n = {n}, {G} generations per repeat\n", flush=True)

    p0 = zipf_probabilities(K, 1.1)
    model = jc.Categorical(p0)
    rg = regimes.replace(n)

    def jax_run(r):
        jax.block_until_ready(jc.simulate(jax.random.key(100 + r), model, rg, G, C, metrics=METRICS, quantiles=()))

    rng = np.random.default_rng(0)

    def numpy_vec(r):
        P = np.broadcast_to(p0, (C, K)).copy()
        for _ in range(G):
            P = rng.multinomial(n, P) / n

    LC = S["loop_chains"]

    def loop(r):
        np.random.seed(r + 1)
        for _ in range(LC):
            q = p0.copy()
            for _ in range(G):
                x = np.random.choice(K, n, p=q)
                q = np.bincount(x, minlength=K) / n

    NC = S["naive_chains"]
    ids = jnp.arange(NC, dtype=jnp.uint32)

    @jax.jit
    def naive_gen(key, P):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(ids)
        return jax.vmap(lambda k, q: jax.random.multinomial(k, n, q))(keys, P) / n

    def naive(r):
        P = jnp.broadcast_to(jnp.asarray(p0, jnp.float32), (NC, K))
        for t in range(G):
            P = naive_gen(jax.random.key(1000 * (r + 2) + t), P)
        jax.block_until_ready(P)

    U = 1 << 23
    uni = jax.jit(lambda k: jax.random.uniform(k, (U,), jnp.float32))

    def uniforms(r):
        jax.block_until_ready(uni(jax.random.key(r + 7)))

    SG = S["single_generations"]
    absorbed = jc.Categorical(np.eye(K)[0])

    def single(m):
        def f(r):
            jax.block_until_ready(jc.simulate(jax.random.key(r + 3), m, rg, SG, 1, metrics=METRICS, quantiles=()))
        return f

    T = measure({
        "jaxcollapse": (jax_run, C * G, reps, "simulate, exact path"),
        "numpy_vectorized": (numpy_vec, C * G, reps, "Generator.multinomial on (chains, K), float64"),
        "research_loop": (loop, LC * G, max(3, reps // 2), f"np.random.choice + bincount, {LC} chains"),
        "jax_random_multinomial": (naive, NC * G, max(3, reps // 2), f"vmap jax.random.multinomial, {NC} chains"),
        "jax_random_uniform": (uniforms, U, reps, "2^23 float32 uniforms"),
        "single_live": (single(model), SG, reps, "one chain, live (Zipf truth)"),
        "single_absorbed": (single(absorbed), SG, reps, "one chain, absorbed (point mass)"),
    })
    ours = T["jaxcollapse"].rate
    limit = 0.5 * T["jax_random_uniform"].rate / min(n, K)
    ratios = {
        "vs_numpy_vectorized": ours / T["numpy_vectorized"].rate,
        "vs_research_loop": ours / T["research_loop"].rate,
        "vs_jax_random_multinomial": ours / T["jax_random_multinomial"].rate,
        "near_limit (>= 1 meets 0.5 x uniform rate / min(n, K))": ours / limit,
        "absorbed / live time per generation": T["single_absorbed"].median / T["single_live"].median,
    }
    targets = {"vs_numpy_vectorized": 1.0, "vs_research_loop": 5.0,
               "near_limit (>= 1 meets 0.5 x uniform rate / min(n, K))": 1.0}
    rows = [[k, fmt_rate(t.rate), f"{t.median * 1e3:.1f} ms", t.note] for k, t in T.items()]
    print(markdown_table(["case", "rate (/s)", "median", "what"], rows))
    print()
    for k, v in ratios.items():
        tgt = targets.get(k)
        verdict = "" if tgt is None else (f"  target >= {tgt:g}: {'met' if v >= tgt else 'NOT met'}")
        if k.startswith("absorbed"):
            verdict = f"  target <= 1 (up to noise): {'met' if v <= 1.1 else 'NOT met'}"
        print(f"{k:<60s} {v:8.2f}{verdict}")
    print(f"\n1-min load average at the end: {os.getloadavg()[0]:.2f} (this run included)")
    out = {
        "benchmark": "categorical", "mode": mode, "started": started, "finished": now_iso(),
        "load_average_1_5_15min": {"start": load_start, "end": os.getloadavg()}, "machine": info,
        "code": code_version(MEASURED_FILES), "repeats": reps, "sizes": S,
        "settings": {"dtype": "float32", "metrics": list(METRICS), "regime": f"replace({n})", "truth": "Zipf(1.1)",
                     "statistic": "median over repeats"},
        "ratios": ratios, "measurements": {k: t.as_dict() for k, t in T.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"categorical_{args.label or label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
