"""Benchmark of jaxcollapse.bayes: one NUTS fit, and the 100-dataset simulation-based calibration.

Targets (issue 5, 2-core CPU): one posterior fit (NUTS, 4 chains x 1,000 draws after 1,000 warm-up) on
1,000 trajectories x 20 generations in under 30 s; the 100-dataset calibration in under 10 minutes.

Measured in the same run (wall-clock medians over repeats, interleaved rounds; `--quick` for a smoke test):

- `jc_fit_cold`: `bayes.fit` in a fresh configuration (compilation included), once;
- `jc_fit`: `bayes.fit` again (the compiled sampler is reused);
- `peer_pointwise`: the same model written the usual way in numpyro — the log-chi-square density
  summed over all 20,000 observations inside the model (`numpyro.factor` over a vector), same NUTS
  settings, compilation excluded by a warm-up call;
- `numpy_grid`: the exact posterior on a 200 x 200 grid of (ln(n-1), ln kappa) with numpy, evaluated
  pointwise over the 20,000 observations (a vectorized numpy baseline for a 2-parameter posterior);
- `sbc_batched`: `bayes.sbc` on 100 datasets (20 chains x 10 generations) in one vectorized NUTS run;
- `sbc_loop`: `bayes.sbc(batch=False)` (one NUTS run per dataset, like a research script's loop) on
  10 datasets, reported per dataset and extrapolated to 100.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, code_version, label, machine_info, measure, now_iso  # noqa: E402

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import bayes  # noqa: E402

MEASURED_FILES = ("jaxcollapse/bayes/_fit.py", "jaxcollapse/bayes/models.py", "jaxcollapse/bayes/_calibration.py")


def data(chains: int, gens: int) -> np.ndarray:
    with jc.x64():
        traj = jc.simulate(jax.random.key(0), jc.Gaussian(0.0, 1.0), jc.regimes.replace(50, temperature=0.98), gens,
                           chains, metrics=("trace",), quantiles=(), record_paths=True)
    return np.asarray(traj.paths["trace"], np.float64)


def peer_model(y):
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import gammaln

    z = numpyro.sample("log_neff_m1", dist.Normal(math.log(29.0), 1.5))
    lk = numpyro.sample("log_kappa", dist.Normal(0.0, 0.5))
    n = 1.0 + jnp.exp(z)
    k = n - 1.0
    lx = y - lk + jnp.log(n)
    numpyro.factor("ll", jnp.sum(0.5 * k * lx - 0.5 * jnp.exp(lx) - 0.5 * k * math.log(2.0) - gammaln(0.5 * k)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for smoke-testing")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--label", default=None)
    args = p.parse_args(argv)
    quick = args.quick
    reps = args.repeats or (1 if quick else 3)
    C, G = (200, 10) if quick else (1000, 20)
    draws = dict(num_warmup=200, num_samples=200, num_chains=2) if quick else dict(num_warmup=1000,
                                                                                   num_samples=1000, num_chains=4)
    D, DL = (20, 3) if quick else (100, 10)
    info = machine_info()
    load0 = os.getloadavg()
    print(f"# jaxcollapse.bayes benchmark ({'quick' if quick else 'full'}), {now_iso()}")
    print(f"# {info['cpu_model']}, nproc {os.cpu_count()}, usable cores {info['cores_usable']}, jax {info['jax']}; "
          f"1-min load average at start {load0[0]:.2f}", flush=True)
    v = data(C, G)
    y = np.log(v[1:] / v[:-1]).reshape(-1)

    t0 = time.perf_counter()
    bayes.fit(jax.random.key(1), v, **draws)
    cold = time.perf_counter() - t0
    print(f"jc_fit_cold (compile included): {cold:.2f} s", flush=True)

    from numpyro.infer import MCMC, NUTS

    peer = MCMC(NUTS(peer_model), progress_bar=False, chain_method="vectorized", jit_model_args=True, **draws)

    def run_peer(r):
        with jc.x64(), jax.numpy_rank_promotion("allow"):
            peer.run(jax.random.key(10 + r), jnp.asarray(y))
            peer.get_samples()["log_kappa"].block_until_ready()

    lz = np.linspace(math.log(20.0), math.log(120.0), 200)
    lks = np.linspace(-0.2, 0.1, 200)

    def run_grid(r):
        from scipy.special import gammaln

        ll = np.empty((lz.size, lks.size))
        for i, z in enumerate(lz):  # one row of the grid at a time: 200 x 20,000 values
            n = 1.0 + math.exp(z)
            k = n - 1.0
            lx = y[None, :] - lks[:, None] + math.log(n)
            const = y.size * (0.5 * k * math.log(2.0) + gammaln(0.5 * k))
            ll[i] = np.sum(0.5 * k * lx - 0.5 * np.exp(lx), axis=1) - const
        w = np.exp(ll - ll.max())
        return (w / w.sum() * np.exp(lks)[None, :]).sum()

    T = measure({
        "jc_fit": (lambda r: bayes.fit(jax.random.key(2 + r), v, **draws), 1, reps, f"{C} x {G}"),
        "peer_pointwise": (run_peer, 1, reps, "numpyro, pointwise likelihood over all observations"),
        "numpy_grid": (run_grid, 1, reps, "200 x 200 grid, pointwise"),
    })
    sbc_kw = dict(chains=20, generations=10, num_warmup=500, num_samples=1000, num_chains=2, L=99, bins=10)
    if quick:
        sbc_kw.update(num_warmup=200, num_samples=300, L=59, bins=5)
    t0 = time.perf_counter()
    res = bayes.sbc(jax.random.key(3), D, **sbc_kw)
    sbc_batched = time.perf_counter() - t0
    print(res.summary())
    t0 = time.perf_counter()
    bayes.sbc(jax.random.key(3), DL, batch=False, **sbc_kw)
    sbc_loop = (time.perf_counter() - t0) / DL
    load1 = os.getloadavg()

    rows = {
        "jc_fit_cold_s": cold,
        "jc_fit_s": T["jc_fit"].median,
        "peer_pointwise_s": T["peer_pointwise"].median,
        "numpy_grid_s": T["numpy_grid"].median,
        "sbc_batched_s": sbc_batched,
        "sbc_loop_per_dataset_s": sbc_loop,
        "sbc_loop_extrapolated_s": sbc_loop * D,
    }
    print("\n| case | seconds | ratio |\n|---|---|---|")
    print(f"| bayes.fit, {C} x {G}, {draws['num_chains']} x {draws['num_samples']} draws, cold (compile incl.) "
          f"| {cold:.2f} | target < 30 s |")
    print(f"| bayes.fit, warm | {rows['jc_fit_s']:.2f} | 1 |")
    print(f"| numpyro pointwise likelihood, warm | {rows['peer_pointwise_s']:.2f} | "
          f"{rows['peer_pointwise_s'] / rows['jc_fit_s']:.1f}x slower |")
    grid = rows['numpy_grid_s']
    print(f"| numpy 200x200 grid posterior | {grid:.2f} | {grid / rows['jc_fit_s']:.2f} |")
    print(f"| SBC {D} datasets, batched (compile incl.) | {sbc_batched:.1f} | target < 600 s |")
    print(f"| SBC one fit per dataset (x{D}, extrapolated from {DL}) | {sbc_loop * D:.1f} | "
          f"{sbc_loop * D / sbc_batched:.1f}x slower |")
    print(f"\n1-min load average: start {load0[0]:.2f}, end {load1[0]:.2f} (near 0 on an idle machine)")
    out = {
        "benchmark": "bayes", "mode": "quick" if quick else "full", "machine": info,
        "load_average_1_5_15min": {"start": load0, "end": load1}, "code": code_version(MEASURED_FILES),
        "sizes": {"chains": C, "generations": G, "draws": draws, "sbc_datasets": D, "sbc_loop_datasets": DL},
        "rows": rows, "sbc": {"pvalues": res.pvalues.tolist(), "coverage": res.coverage.tolist()},
        "measurements": {k: t.as_dict() for k, t in T.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bayes_{args.label or label(info, 'quick' if quick else '')}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
