"""Vmapped EM for Gaussian mixtures (2 components, 2-D, n = 1000 per generation) against baselines.

Run from the repository root::

    python benchmarks/bench_learned.py            # 1,000 chains (a few minutes on 2 cores)
    python benchmarks/bench_learned.py --quick    # 100 chains, smoke test

The unit is chain-generations per second (one generation: draw n = 1000 samples from the current
mixture, refit it by EM). jaxcollapse runs `simulate(..., regimes.replace(1000), path="samples")` with a
`GaussianMixture(K=2, d=2)` in float32, warm-started EM (the previous generation's fit) to a tolerance of
1e-3 on the mean log-likelihood, at most 100 iterations (scikit-learn's defaults), timed after a
warm-up compile; medians over interleaved repeats (`_common.measure`).

Baselines, measured in the same run:

- (b) the published approach (Shumailov et al. 2024's code): a Python loop over chains, each generation
  `GaussianMixture(2).fit(previous.sample(1000))` with scikit-learn (k-means initialization, tol 1e-3,
  float64); timed on a subset of chains and counted per chain-generation;
- (b') the same loop with `warm_start=True` (EM continues from the previous fit, as jaxcollapse does);
- (a) numpy vectorized over chains: 10 EM iterations per generation in float64 einsums, against
  jaxcollapse with the same fixed 10 iterations (same arithmetic, no tolerance).

Target (issue 6): >= 50x the per-chain scikit-learn loop (b).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, code_version, fmt_rate, label, machine_info, markdown_table, measure, now_iso  # noqa: E402

import jaxcollapse as jc  # noqa: E402
from jaxcollapse import regimes  # noqa: E402

N = 1000
MEANS = [[-2.0, 0.0], [2.0, 0.0]]
MEASURED_FILES = ("jaxcollapse/families/mixture.py", "jaxcollapse/engine.py", "jaxcollapse/data.py")


def jc_case(chains: int, G: int, **em):
    model = jc.GaussianMixture([0.5, 0.5], MEANS, 1.0, **em)
    regime = regimes.replace(N)

    def run(r):
        jax.block_until_ready(jc.simulate(jax.random.key(r + 1), model, regime, G, chains, path="samples",
                                          metrics=("spread",), quantiles=()).final)

    return run


def sklearn_case(chains: int, G: int, warm: bool):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    def run(r):
        rng = np.random.default_rng(r + 7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(chains):
                gm = GaussianMixture(2, random_state=int(rng.integers(2**31)), warm_start=warm)
                gm.weights_, gm.means_ = np.array([0.5, 0.5]), np.array(MEANS)
                gm.covariances_ = np.stack([np.eye(2)] * 2)
                gm.precisions_cholesky_ = np.stack([np.eye(2)] * 2)
                gm.converged_, gm.lower_bound_ = True, -np.inf  # warm_start continues EM from these parameters
                prev = gm
                for _ in range(G):
                    x, _ = prev.sample(N)
                    if warm:
                        prev.fit(x)
                    else:
                        nxt = GaussianMixture(2, random_state=int(rng.integers(2**31)))
                        prev = nxt.fit(x)

    return run


def numpy_case(chains: int, G: int, iters: int):
    """Vectorized over chains: sample, then `iters` EM iterations, float64."""

    def run(r):
        rng = np.random.default_rng(r + 11)
        w = np.full((chains, 2), 0.5)
        mu = np.broadcast_to(np.array(MEANS), (chains, 2, 2)).copy()
        cov = np.broadcast_to(np.eye(2), (chains, 2, 2, 2)).copy()
        for _ in range(G):
            comp = (rng.random((chains, N)) > w[:, :1]).astype(np.int64)  # component 1 w.p. w_1
            L = np.linalg.cholesky(cov)  # (C, K, 2, 2)
            z = rng.standard_normal((chains, N, 2))
            Lc = np.take_along_axis(L, comp[:, :, None, None], axis=1)
            mc = np.take_along_axis(mu, comp[:, :, None], axis=1)
            x = mc + np.einsum("cnij,cnj->cni", Lc, z)
            for _ in range(iters):
                prec = np.linalg.inv(cov)
                diff = x[:, :, None, :] - mu[:, None, :, :]  # (C, N, K, 2)
                maha = np.einsum("cnki,ckij,cnkj->cnk", diff, prec, diff)
                logdet = np.linalg.slogdet(cov)[1]
                lp = np.log(w)[:, None, :] - 0.5 * maha - 0.5 * logdet[:, None, :] - np.log(2 * np.pi)
                lp -= lp.max(axis=2, keepdims=True)
                resp = np.exp(lp)
                resp /= resp.sum(axis=2, keepdims=True)
                nk = resp.sum(axis=1)
                w = nk / N
                mu = np.einsum("cnk,cni->cki", resp, x) / nk[:, :, None]
                d = x[:, :, None, :] - mu[:, None, :, :]
                cov = np.einsum("cnk,cnki,cnkj->ckij", resp, d, d) / nk[:, :, None, None] + 1e-6 * np.eye(2)

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    chains = 100 if args.quick else 1000
    G = 3
    loop_chains = 4 if args.quick else 10
    info = machine_info()
    started = now_iso()
    print(f"# jaxcollapse learned-approximator benchmark, {started}")
    print(f"# {info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']}; nproc={os.cpu_count()}, "
          f"load average {os.getloadavg()}", flush=True)
    cases = {
        "jc_em_tol": (jc_case(chains, G, em_iters=100, tol=1e-3), chains * G, args.repeats,
                      "warm-started EM, tol 1e-3, <= 100 iterations, float32"),
        "jc_em_10": (jc_case(chains, G, em_iters=10, tol=0.0), chains * G, args.repeats,
                     "10 EM iterations, float32"),
        "sk_fresh": (sklearn_case(loop_chains, G, warm=False), loop_chains * G, args.repeats,
                     f"(b) per-chain loop, fresh sklearn fit (k-means init), {loop_chains} chains"),
        "sk_warm": (sklearn_case(loop_chains, G, warm=True), loop_chains * G, args.repeats,
                    f"(b') per-chain loop, sklearn warm_start, {loop_chains} chains"),
        "np_em_10": (numpy_case(chains, G, 10), chains * G, args.repeats, "(a) numpy vectorized, 10 iterations, f64"),
    }
    T = measure(cases)
    rows = []
    for case, jk, bk, target in (
        ("EM to tol 1e-3 vs fresh sklearn loop", "jc_em_tol", "sk_fresh", 50.0),
        ("EM to tol 1e-3 vs warm sklearn loop", "jc_em_tol", "sk_warm", None),
        ("10 EM iterations vs numpy vectorized", "jc_em_10", "np_em_10", None),
    ):
        ratio = T[jk].rate / T[bk].rate
        rows.append({"case": case, "jaxcollapse": jk, "jaxcollapse_rate": T[jk].rate, "baseline": bk,
                     "baseline_rate": T[bk].rate, "ratio": ratio, "target": target,
                     "result": "info" if target is None else ("PASS" if ratio >= target else "MISS")})
    print(f"\nchain-generations per second ({chains} chains, n = {N}, K = 2, d = 2, {G} generations per repeat); "
          "ratio = jaxcollapse / baseline\n")
    print(markdown_table(["case", "jaxcollapse", "baseline", "ratio", "target", "result"],
                         [[r["case"], fmt_rate(r["jaxcollapse_rate"]),
                           f"{r['baseline']} {fmt_rate(r['baseline_rate'])}",
                           f"{r['ratio']:.1f}x", "—" if r["target"] is None else f">= {r['target']:g}x", r["result"]]
                          for r in rows]))
    print()
    print(markdown_table(["measurement", "rate", "median s", "note"],
                         [[k, fmt_rate(t.rate), f"{t.median:.4g}", t.note] for k, t in T.items()]))
    out = {
        "benchmark": "learned", "started": started, "finished": now_iso(), "mode": "quick" if args.quick else "full",
        "machine": info, "load_average": os.getloadavg(), "code": code_version(MEASURED_FILES),
        "sizes": {"chains": chains, "n": N, "K": 2, "d": 2, "generations_per_repeat": G, "loop_chains": loop_chains},
        "timings": {k: t.as_dict() for k, t in T.items()}, "ratios": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"learned_{label(info, 'quick' if args.quick else '')}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
