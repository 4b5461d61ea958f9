"""Time one `simulate` call of this checkout's jaxcollapse (an A/B of two engines: run it once per checkout).

    git worktree add ../v1 4cc828d^1      # the commit before the v2 engine merge
    for rep in 1 2; do for v in ../v1 .; do PYTHONPATH=$v python benchmarks/ab_engine.py cat 5 20; done; done

Cases: `cat` (Categorical, Zipf 1.1 over K = 1000, n = 1000, 1,024 chains, G generations, default 20),
`g<chains>` (1-D Gaussian, exact path, n = 100, 200 generations, e.g. `g65536`), `s<chains>` (the same on the
sample path, metrics trace and mean_sq_err, e.g. `s4096`) and `lin<chains>` (the sample path with a growing
n_t = 100 + (t - 1), 100 generations: the masked draws). Prints the median of `reps`
timed calls after one warm-up call (which compiles); alternate the checkouts in separate processes, on an idle
machine, and compare medians of the same round.
"""

from __future__ import annotations

import statistics
import sys
import time

import jax
import numpy as np

import jaxcollapse as jc

case = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
kw = {}
if case == "cat":
    K = 1000
    p = np.arange(1, K + 1, dtype=np.float64) ** -1.1
    p /= p.sum()
    G = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    model, regime, C = jc.Categorical(p), jc.regimes.replace(1000), 1024
elif case.startswith("g"):
    C = int(case[1:])
    model, regime, G = jc.Gaussian(0.0, 1.0), jc.regimes.replace(100), 200
elif case.startswith("s"):
    C = int(case[1:])
    model, regime, G = jc.Gaussian(0.0, 1.0), jc.regimes.replace(100), 200
    kw = dict(path="samples", metrics=("trace", "mean_sq_err"))
elif case.startswith("lin"):
    C = int(case[3:])
    model, regime, G = jc.Gaussian(0.0, 1.0), jc.regimes.replace(jc.regimes.linear(100, 1)), 100
    kw = dict(path="samples", metrics=("trace", "mean_sq_err"))
else:
    raise SystemExit(f"unknown case {case!r}: cat, g<chains>, s<chains> or lin<chains>")


def once(seed: int) -> float:
    t0 = time.perf_counter()
    tr = jc.simulate(jax.random.key(seed), model, regime, G, C, **kw)
    jax.block_until_ready(tr.summary)
    return time.perf_counter() - t0


once(0)
ts = [once(i + 1) for i in range(reps)]
print(f"{case} G={G} {jc.__file__} median {statistics.median(ts):.4f} s  runs {[round(t, 3) for t in ts]}")
