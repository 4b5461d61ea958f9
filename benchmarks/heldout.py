r"""Held-out-configuration prediction of the collapse rate (issue 17, item 1): does $\kappa$ from measured
one-step error and knobs predict configurations the fit never saw?

For each learned family (mixture with truncated EM, KDE, VAE, diffusion; MLP and transformer, the error
families) a design of configurations spreads its knobs over their ranges (`designs`, drawn with a fixed
seed). Each configuration runs recursively under replace (`jaxcollapse.predict.run_configurations`: one
compile per static group, traced knobs vmapped; common random numbers within a group). For a spread family
its headline spread's log ratios $y = \ln(s_{t+1}/s_t)$ (diffusion: of the ``trace``) give the target: the
pooled sums (count, $\sum y$, $\sum e^y$, what the fit reads) and the measured rate $\hat r = -\bar y$
with its standard error (the standard deviation of the per-chain mean log ratios over
$\sqrt{\text{chains}}$: chains are independent, generations within a chain need not be). For an error
family (``test_mse``, ``perplexity``) the increments $d = e_{t+1} - e_t$ give the measured growth $\hat g$
(their mean) with its standard error (the same over chains), and their standard deviation around $\hat g$
with their count (`jaxcollapse.bayes.fit_growth`). Its covariates come from
`jaxcollapse.predict.measure_many` (one generation of `fits` chains, another key: no recursion).

**Held-out protocol.** 5-fold cross-validation with a fixed random partition of the configurations: fit
`jaxcollapse.bayes.fit_covariates` (n_eff free) on four folds, predict the fifth. A held-out configuration
is covered at level $L$ when its measured rate lies in the central $L$ interval of the predictive of a
*measurement* of the rate: the posterior predictive of $r$ convolved with $N(0, \mathrm{se}^2)$ of that
configuration's own measurement (`RatePrediction.interval(level, se=...)`). Coverage $\pm$ its binomial
standard error over the configurations. The point prediction is the predictive median: RMSE, median
absolute error, and the relative error (RMSE over the standard deviation of the measured rates across the
design; an error family's "rate" is its growth). The crossing generation of $s \le 0.8\,s_0$ (an error
family: of $e \ge$ `THRESHOLDS` $\times\, e_1$, the error after one refit) within the run's $G$ generations:
the share of held-out
*chains* whose crossing generation (inf: none by $G$) lies in the central 90% interval of one chain's
predictive crossing (the paths of `predict`, horizon $G$), pooled over configurations.

Ablation: the same protocol with the one-step error as the only covariate. An error family's scale check
(`scale_check`): leave-one-out least squares of the growth on the log scale and on the linear scale.

Performance: a fit over 50 simulated configurations x 1,000 chains x 20 generations (exact log-chi-square
draws), the default sampler (1,000 warmup, 1,000 draws, 4 chains); the time to compute the sums, and the
fit's CPU and wall time (the first fit compiles; a second one reuses the program).

The final design of each family (every configuration with its targets) is written to
``jaxcollapse/bayes/designs/<family>.csv``, the shipped design of `jaxcollapse.predict.predict`.

    python benchmarks/heldout.py            # every family (about 45 CPU minutes on 2 cores)
    python benchmarks/heldout.py --quick    # small designs, a few CPU minutes; writes heldout_quick.*
    python benchmarks/heldout.py --family kde
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, RESULTS, machine_info, now_iso  # noqa: E402

SEED = 2026
FOLDS = 5
THRESHOLD = 0.8  # crossing of s <= 0.8 s_0
LEVELS = (0.5, 0.9)
LOW, HIGH = 0.80, 0.97
SAMPLER = dict(num_warmup=500, num_samples=500, num_chains=2)
DESIGN_DIR = REPO / "jaxcollapse" / "bayes" / "designs"


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def designs(quick: bool) -> dict[str, dict]:
    """family -> {configs, generations, chains, fits}; knobs drawn with a fixed seed over their ranges."""
    rng = np.random.default_rng(SEED)
    out = {}
    # mixture: truncated EM (tol = 0: exactly em_iters iterations), n, the sampling temperature, the separation
    ns, its, per = ((50, 200), (1, 20), 2) if quick else ((50, 100, 200), (1, 3, 20), 4)
    cfg = []
    for n in ns:
        for e in its:
            for _ in range(per):
                cfg.append({"n": n, "em_iters": e, "tol": 0.0, "temperature": float(rng.uniform(0.97, 1.03)),
                            "separation": float(rng.uniform(1.0, 5.0))})
    out["mixture"] = dict(configs=cfg, generations=10 if quick else 20, chains=64 if quick else 200, fits=64)
    # kde: a fixed bandwidth h (log-uniform) or Scott's rule, n
    ns, per = ((20, 100), 3) if quick else ((20, 50, 100, 200), 6)
    cfg = []
    for n in ns:
        for _ in range(per):
            cfg.append({"n": n, "bandwidth": "fixed", "h": float(np.exp(rng.uniform(np.log(0.03), np.log(0.5))))})
        cfg.append({"n": n, "bandwidth": "scott"})
    out["kde"] = dict(configs=cfg, generations=10 if quick else 20, chains=64 if quick else 200, fits=64)
    # vae: width, steps (static), learning rate (log-uniform, traced), n = 256
    ws, ss, per = ((8, 32), (50,), 4) if quick else ((8, 32), (50, 150), 8)
    cfg = []
    for w in ws:
        for s in ss:
            for _ in range(per):
                cfg.append({"n": 256, "width": w, "steps": s,
                            "learning_rate": float(np.exp(rng.uniform(np.log(2e-3), np.log(3e-2))))})
    out["vae"] = dict(configs=cfg, generations=4 if quick else 6, chains=16 if quick else 32, fits=32)
    # diffusion (trace of the 8-component mixture): n, width, steps (static), learning rate (log-uniform, traced);
    # the cheap sampler of the shipped design (8 Euler steps, 128 evaluation samples)
    cheap = {"sample_steps": 8, "n_eval": 128}
    ns, ws, ss, per = ((64,), (8, 32), (50,), 2) if quick else ((64, 256), (8, 32), (50, 150), 4)
    cfg = []
    for n in ns:
        for w in ws:
            for st in ss:
                for _ in range(per):
                    cfg.append({"n": n, "width": w, "steps": st, **cheap,
                                "learning_rate": float(np.exp(rng.uniform(np.log(2e-3), np.log(3e-2))))})
    out["diffusion"] = dict(configs=cfg, generations=3 if quick else 5, chains=8 if quick else 24, fits=16)
    # mlp (test_mse, error model): n, width, steps (static), learning rate (log-uniform, traced)
    ns, ws, ss, per = ((25, 100), (8, 32), (50,), 2) if quick else ((25, 50, 100), (8, 32), (50, 150), 3)
    cfg = []
    for n in ns:
        for w in ws:
            for st in ss:
                for _ in range(per):
                    cfg.append({"n": n, "width": w, "steps": st,
                                "learning_rate": float(np.exp(rng.uniform(np.log(3e-3), np.log(3e-2))))})
    out["mlp"] = dict(configs=cfg, generations=4 if quick else 8, chains=16 if quick else 32, fits=32)
    # transformer (perplexity, error model): width, steps (static), learning rate (log-uniform, traced); n = 64
    # windows of 16 characters, one block (the calibration benchmark's small network)
    small = {"n": 64, "context": 16, "prompt": 4, "depth": 1, "n_eval": 32, "n_heldout": 32}
    ws, ss, per = ((16,), (30, 60), 3) if quick else ((16, 32), (30, 60), 6)
    cfg = []
    for w in ws:
        for st in ss:
            for _ in range(per):
                cfg.append({**small, "width": w, "steps": st,
                            "learning_rate": float(np.exp(rng.uniform(np.log(2e-3), np.log(1e-2))))})
    out["transformer"] = dict(configs=cfg, generations=3 if quick else 4, chains=8 if quick else 12, fits=12)
    return out


HIDDEN = ("sample_steps", "n_eval", "context", "prompt", "depth", "n_heldout", "tol")  # fixed: not in labels
THRESHOLDS = {"mlp": 3.0, "transformer": 1.25}  # error families: crossing of e_h >= THR e_1


def label(family: str, c: dict) -> str:
    return family + ":" + ",".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in c.items()
                                   if k not in HIDDEN)


def build_design(family: str, spec: dict):
    """Run the recursion and measure the covariates; returns (Design, paths (K, G + 1, chains), cpu times)."""
    import jax

    from jaxcollapse import predict as P
    from jaxcollapse.bayes import Design

    c0 = _cpu()
    metric, model = P.metric_of(family), P.model_of(family)
    paths, groups = P.run_configurations(family, spec["configs"], key=jax.random.key(SEED),
                                         generations=spec["generations"], chains=spec["chains"])
    s = paths[metric]
    c1 = _cpu()
    rows = P.measure_many(family, spec["configs"], key=jax.random.key(SEED + 1), fits=spec["fits"], strict=False)
    c2 = _cpu()
    cols = P.covariate_columns(family)
    x = np.array([[r[c] for c in cols] for r in rows])
    n = np.array([c["n"] if "n" in c else 0 for c in spec["configs"]], np.float64)
    labels = tuple(label(family, c) for c in spec["configs"])
    extra, dropped = {}, 0
    if model == "error":
        d_ = s[:, 1:, :] - s[:, :-1, :]  # (K, G, chains) increments of the headline error
        fin = np.isfinite(d_).all(axis=1)  # a chain whose error diverged is dropped whole
        G = d_.shape[1]
        chain_mean = np.where(fin, (s[:, -1, :] - s[:, 0, :]) / G, np.nan)
        C = fin.sum(axis=1)
        rate = np.nanmean(chain_mean, axis=1)
        se = np.nanstd(chain_mean, axis=1, ddof=1) / np.sqrt(C)
        dd = np.where(fin[:, None, :], d_, np.nan)
        step_sd = np.sqrt(np.nansum((dd - rate[:, None, None]) ** 2, axis=(1, 2)) / (C * G - 1))
        nan = np.full(len(rate), np.nan)
        count = sum_log = sum_ratio = nan
        extra = {"model": "error", "step_sd": step_sd, "step_count": (C * G).astype(np.float64),
                 "e0": np.array([r["e0"] for r in rows])}
        nonfinite = int((~fin).sum())
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(s[:, 1:, :] / s[:, :-1, :])  # (K, G, chains)
        fin = np.isfinite(y)
        yz = np.where(fin, y, 0.0)
        count = fin.sum(axis=(1, 2)).astype(np.float64)
        sum_log = yz.sum(axis=(1, 2))
        sum_ratio = np.where(fin, np.exp(yz), 0.0).sum(axis=(1, 2))
        chain_mean = yz.sum(axis=1) / np.maximum(fin.sum(axis=1), 1)
        rate = -sum_log / count
        se = chain_mean.std(axis=1, ddof=1) / math.sqrt(chain_mean.shape[1])
        nonfinite = int((~fin).sum())
    ok = np.isfinite(x).all(axis=1) & np.isfinite(rate) & np.isfinite(se)
    dropped = int((~ok).sum())
    keep = [j for j in range(len(cols)) if np.ptp(x[ok, j]) > 0]  # a knob the design holds fixed is no covariate
    cols = tuple(cols[j] for j in keep)
    d = Design(cols, x[:, keep], n, count, sum_log, sum_ratio, rate, se, labels, family, **extra,
               generations=spec["generations"]).subset(ok)
    return d, s[ok], {"sim_cpu_s": c1 - c0, "measure_cpu_s": c2 - c1, "groups": groups, "nonfinite": nonfinite,
                      "dropped": dropped}


def scale_check(d) -> dict:
    """An error design: leave-one-out least squares of the growth on the log scale (ln g - one_step on the
    covariates, back-transformed) and on the linear scale (g on the covariates with exp(one_step) in place of
    one_step): RMSE of the growth over its sd across the design, and the share of non-positive predictions."""
    X = d.x.copy()
    j = d.columns.index("one_step")
    pos = d.rate > 0
    out = {}
    for scale in ("log", "linear"):
        Z = X.copy()
        if scale == "linear":
            Z[:, j] = np.exp(X[:, j])
        A = np.column_stack([np.ones(d.K), Z])
        pred = np.empty(d.K)
        for i in range(d.K):
            tr = np.arange(d.K) != i
            if scale == "log":
                tr &= pos
                b = np.linalg.lstsq(A[tr], np.log(d.rate[tr]) - X[tr, j], rcond=None)[0]
                pred[i] = math.exp(A[i] @ b + X[i, j])
            else:
                b = np.linalg.lstsq(A[tr], d.rate[tr], rcond=None)[0]
                pred[i] = A[i] @ b
        out[scale] = {"loo_rel_rmse": float(np.sqrt(np.mean((pred - d.rate) ** 2)) / np.std(d.rate, ddof=1)),
                      "nonpositive": int((pred <= 0).sum())}
    return out


def crossing_of(paths: np.ndarray, thr: float, ref: float | None = None) -> np.ndarray:
    """First generation h >= 1 with s_h <= thr * s_0 per chain (inf: none); paths (G + 1, chains). With `ref`
    (an error family): the first h with e_h >= thr * ref."""
    if ref is not None:
        above = paths[1:] >= thr * ref
        return np.where(above.any(axis=0), 1.0 + np.argmax(above, axis=0), np.inf)
    r = paths[1:] / paths[0:1]
    below = r <= thr
    return np.where(below.any(axis=0), 1.0 + np.argmax(below, axis=0), np.inf)


def heldout(d, spread_paths, G: int, columns=None, tag: str = "all") -> list[dict]:
    """5-fold CV; one row per configuration with its held-out prediction and scores."""
    import jax

    from jaxcollapse.bayes import fit_covariates

    dd = d if columns is None else d.select(columns)
    K = dd.K
    perm = np.random.default_rng(SEED + 7).permutation(K)
    folds = np.array_split(perm, FOLDS)
    out = []
    for f, test in enumerate(folds):
        train = np.setdiff1d(np.arange(K), test)
        post = fit_covariates(dd.subset(train), key=jax.random.fold_in(jax.random.key(SEED + 3), f), **SAMPLER)
        for i in test:
            x = {c: float(dd.x[i, j]) for j, c in enumerate(dd.columns)}
            thr = THRESHOLDS.get(d.family, THRESHOLD)
            kw = {"start": float(d.e0[i])} if d.model == "error" else {"start": 1.0}
            pr = post.predict(x, float(dd.n[i]), key=jax.random.fold_in(jax.random.key(SEED + 4), int(i)), horizon=G,
                              threshold=thr, label=dd.labels[i], **kw)
            row = {"set": tag, "family": d.family, "label": dd.labels[i], "fold": f, "rate": float(dd.rate[i]),
                   "rate_se": float(dd.rate_se[i]), "pred_median": float(np.median(pr.rate)),
                   "divergences": post.info["divergences"], "warnings": len(post.warnings)}
            for lv in LEVELS:
                lo, hi = pr.interval(lv, se=float(dd.rate_se[i]))
                row[f"lo{int(lv * 100)}"], row[f"hi{int(lv * 100)}"] = lo, hi
                row[f"hit{int(lv * 100)}"] = float(lo <= dd.rate[i] <= hi)
            ref = float(d.e0[i] + math.exp(d.x[i, d.columns.index("one_step")])) if d.model == "error" else None
            cr = crossing_of(spread_paths[i], thr, ref)
            lo, hi = pr.crossing_interval(0.9)
            row["cross_cov90"] = float(np.mean((cr >= lo) & (cr <= hi)))
            row["cross_measured_median"] = float(np.quantile(cr, 0.5, method="inverted_cdf"))
            row["cross_pred_median"] = float(np.quantile(pr.crossing, 0.5, method="inverted_cdf"))
            out.append(row)
    return out


def score(rows: list[dict], rates_sd: float) -> dict:
    h50 = np.array([r["hit50"] for r in rows])
    h90 = np.array([r["hit90"] for r in rows])
    err = np.array([r["pred_median"] - r["rate"] for r in rows])
    N = len(rows)
    c50, c90 = float(h50.mean()), float(h90.mean())
    rmse = float(np.sqrt(np.mean(err**2)))
    cm = np.array([r["cross_measured_median"] for r in rows])
    cp = np.array([r["cross_pred_median"] for r in rows])
    both = np.isfinite(cm) & np.isfinite(cp)
    gap = np.abs(np.where(both, cm, 0.0) - np.where(both, cp, 0.0))
    same = (cm == cp) | (both & (gap <= 1))
    return {"configs": N, "coverage50": c50, "se50": math.sqrt(c50 * (1 - c50) / N), "coverage90": c90,
            "se90": math.sqrt(c90 * (1 - c90) / N), "rmse": rmse, "mae_median": float(np.median(np.abs(err))),
            "relative_rmse": rmse / rates_sd if rates_sd > 0 else float("nan"), "rate_sd": rates_sd,
            "cross_cov90": float(np.mean([r["cross_cov90"] for r in rows])),
            "cross_median_agree": float(np.mean(same)),
            "cross_finite": int(both.sum()),
            "verdict": "calibrated" if LOW <= c90 <= HIGH else ("under-covers" if c90 < LOW else "over-covers")}


def performance() -> dict:
    """The fit over 50 simulated configurations x 1000 chains x 20 generations (module docstring)."""
    import jax

    from jaxcollapse.bayes import Design, fit_covariates

    rng = np.random.default_rng(SEED)
    K, P, C, G = 50, 3, 1000, 20
    x = rng.normal(size=(K, P))
    n = rng.choice([20.0, 50.0, 100.0, 200.0], K)
    xs = (x - x.mean(0)) / x.std(0)
    lk = -0.02 + xs @ np.array([0.03, -0.01, 0.0]) + 0.01 * rng.normal(size=K)
    y = np.log(2.0 * rng.standard_gamma(0.5 * (n - 1)[:, None, None], (K, C, G)) / n[:, None, None]) + lk[:, None, None]
    t0 = time.perf_counter()
    count, sl, sr = np.full(K, float(C * G)), y.sum(axis=(1, 2)), np.exp(y).sum(axis=(1, 2))
    t_sums = time.perf_counter() - t0
    nan = np.full(K, np.nan)
    d = Design(("a", "b", "c"), x, n, count, sl, sr, nan, nan, tuple(f"c{i}" for i in range(K)), "simulated")
    out = {"sums_s": t_sums}
    for i in range(2):
        c0, w0 = _cpu(), time.perf_counter()
        post = fit_covariates(d, key=jax.random.key(SEED + 10 + i))
        out[f"fit{i + 1}_cpu_s"], out[f"fit{i + 1}_wall_s"] = _cpu() - c0, time.perf_counter() - w0
        out[f"fit{i + 1}_divergences"] = post.info["divergences"]
    out["summary"] = post.summary()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small designs; writes heldout_quick.{txt,csv}, no designs")
    p.add_argument("--family", action="append", help="only this family (repeatable)")
    p.add_argument("--no-perf", action="store_true", help="skip the performance measurement")
    p.add_argument("--combine", action="store_true", help="run nothing: rewrite heldout.{txt,csv} from the saved "
                   "per-family parts (results/heldout_parts/*.json) and the saved performance")
    args = p.parse_args(argv)
    if args.combine:
        return combine()
    info = machine_info()
    started, load0 = now_iso(), os.getloadavg()
    from jaxcollapse import predict as P

    specs = designs(args.quick)
    names = args.family or list(specs)
    stem = "heldout_quick" if args.quick else "heldout"
    RESULTS.mkdir(exist_ok=True)
    table, per_config, notes = [], [], []
    for fam in names:
        spec = specs[fam]
        print(f"== {fam}: {len(spec['configs'])} configurations x {spec['chains']} chains x {spec['generations']} "
              "generations", flush=True)
        d, sp, t = build_design(fam, spec)
        if not args.quick:
            DESIGN_DIR.mkdir(exist_ok=True)
            d.to_csv(DESIGN_DIR / f"{fam}.csv")
        sd = float(np.std(d.rate, ddof=1))
        c0 = _cpu()
        rows = heldout(d, sp, spec["generations"])
        c1 = _cpu()
        one = heldout(d, sp, spec["generations"], columns=("one_step",), tag="one_step only")
        c2 = _cpu()
        s_all, s_one = score(rows, sd), score(one, sd)
        per_config += rows + one
        for tag, s in (("all covariates", s_all), ("one_step only", s_one)):
            table.append({"family": fam, "set": tag, **s, "G": spec["generations"], "chains": spec["chains"],
                          "columns": ",".join(d.columns) if tag == "all covariates" else "one_step"})
        if d.model == "error":
            sc = scale_check(d)
            notes.append(f"{fam} (error model: the growth of {P.metric_of(fam)} per generation): leave-one-out least "
                         f"squares, relative RMSE of the growth {sc['log']['loo_rel_rmse']:.3f} on the log scale vs "
                         f"{sc['linear']['loo_rel_rmse']:.3f} on the linear scale ({sc['linear']['nonpositive']} "
                         f"non-positive linear predictions); {t['dropped']} configuration(s) dropped (a one-step "
                         "increment <= 0); crossing threshold e_h >= "
                         f"{THRESHOLDS[fam]:g} e_1")
        notes.append(f"{fam}: covariates {d.columns}; simulation {t['sim_cpu_s']:.0f} CPU s ({t['groups']} compiled "
                     f"groups), measurement {t['measure_cpu_s']:.0f} CPU s, cross-validated fits {c1 - c0:.0f} + "
                     f"{c2 - c1:.0f} CPU s (all / one_step); {t['nonfinite']} non-finite log ratios dropped; rates "
                     f"from {float(d.rate.min()):.4g} to {float(d.rate.max()):.4g} (sd {sd:.3g}), measured se median "
                     f"{float(np.median(d.rate_se)):.2g}")
        print(notes[-1], flush=True)
        for s in (s_all, s_one):
            print({k: (round(float(v), 4) if isinstance(v, (float, np.floating)) else v) for k, v in s.items()},
                  flush=True)
        write(stem, table, per_config, notes, None, info, started, load0, echo=False)  # saved after each family
        if not args.quick:
            save_part(fam, table[-2:], rows + one, notes[-1], info, started, load0)
    perf = None if args.no_perf or args.quick else performance()
    if perf is not None:
        PARTS.mkdir(exist_ok=True)
        (PARTS / "performance.json").write_text(json.dumps({**perf, "info": info, "at": now_iso(),
                                                             "load": os.getloadavg()[0]}, indent=1))
    write(stem, table, per_config, notes, perf, info, started, load0)
    return 0


PARTS = RESULTS / "heldout_parts"
FAMILY_ORDER = ("kde", "mixture", "vae", "diffusion", "mlp", "transformer")


def save_part(fam, table, per_config, note, info, started, load0) -> None:
    """One family's results, so that families run in separate processes combine (`--combine`)."""
    PARTS.mkdir(exist_ok=True)
    (PARTS / f"{fam}.json").write_text(json.dumps(
        {"table": table, "per_config": per_config, "note": note, "info": info, "started": started,
         "ended": now_iso(), "load0": load0[0], "load1": os.getloadavg()[0]}, indent=1, default=float))


def combine() -> int:
    parts = [json.loads((PARTS / f"{f}.json").read_text()) for f in FAMILY_ORDER if (PARTS / f"{f}.json").exists()]
    perf_path = PARTS / "performance.json"
    perf = json.loads(perf_path.read_text()) if perf_path.exists() else None
    info = parts[0]["info"]
    spans = "; ".join(f"{p['table'][0]['family']} {p['started']} to {p['ended']} (load {p['load0']:.1f} to "
                      f"{p['load1']:.1f})" for p in parts)
    table = [r for p in parts for r in p["table"]]
    per_config = [r for p in parts for r in p["per_config"]]
    notes = [p["note"] for p in parts]
    from jaxcollapse import predict as P
    from jaxcollapse.bayes import read_design

    for fam in FAMILY_ORDER:  # the error families' scale check, from their shipped designs (deterministic)
        if P.model_of(fam) == "error" and (DESIGN_DIR / f"{fam}.csv").exists():
            sc = scale_check(read_design(DESIGN_DIR / f"{fam}.csv"))
            notes.append(f"{fam} (error model: the growth of {P.metric_of(fam)} per generation): leave-one-out least "
                         f"squares, relative RMSE of the growth {sc['log']['loo_rel_rmse']:.3f} on the log scale vs "
                         f"{sc['linear']['loo_rel_rmse']:.3f} on the linear scale ({sc['linear']['nonpositive']} "
                         f"non-positive linear predictions); crossing threshold e_h >= {THRESHOLDS[fam]:g} e_1")
    write("heldout", table, per_config, notes, perf, info, spans, None)
    return 0


HEAD = ["family", "covariates", "configs (G x chains)", "coverage50 +- se", "coverage90 +- se", "rate RMSE (rel.)",
        "median |err|", "crossing 90% (chains)", "verdict"]


def _line(r: dict) -> list[str]:
    return [r["family"], r["set"], f"{r['configs']} ({r['G']} x {r['chains']})",
            f"{r['coverage50']:.3f} +- {r['se50']:.3f}", f"{r['coverage90']:.3f} +- {r['se90']:.3f}",
            f"{r['rmse']:.4f} ({r['relative_rmse']:.2f})", f"{r['mae_median']:.4f}", f"{r['cross_cov90']:.3f}",
            r["verdict"]]


def md_table(rows: list[dict]) -> str:
    body = [_line(r) for r in rows]
    w = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEAD)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"  # noqa: E731
    return "\n".join([fmt(HEAD), "|" + "|".join("-" * (x + 2) for x in w) + "|", *map(fmt, body)])


def write(stem, table, per_config, notes, perf, info, started, load0, echo: bool = True) -> None:
    load = os.getloadavg()
    when = (f"run {started} to {now_iso()}; load average {load0[0]:.1f} at start, {load[0]:.1f} at end"
            if load0 is not None else f"runs: {started}")
    head = (f"{info['cpu_model']}, {info['cores_usable']} cores, jax {info['jax']}; {when}; NUTS {SAMPLER} per fold; "
            f"seed {SEED}")
    lines = ["Held-out-configuration prediction of the collapse rate (benchmarks/heldout.py): 5-fold cross-validation "
             "over each family's design;", "coverage of the central 50% and 90% predictive intervals of the measured "
             "rate (the predictive convolved with the measurement's own se) +- binomial se;",
             "rate RMSE of the predictive median (relative: over the sd of the rates across the design); crossing: "
             f"share of held-out chains whose first s <= {THRESHOLD} s_0 lies in the 90% predictive interval.",
             "Error families (" + ", ".join(THRESHOLDS) + "): the growth of the headline error per generation in "
             "place of the rate, and the crossing of e >= " + ", ".join(f"{v:g} e_1 ({k})" for k, v in
                                                                     THRESHOLDS.items()) + " (e_1: after one refit).",
             "Verdict: 90% coverage in [0.80, 0.97].", head, "", md_table(table), "", *notes]
    if perf is not None:
        lines += ["", "Performance: fit_covariates over 50 simulated configurations x 1,000 chains x 20 generations "
                  "(exact log-chi-square draws; 1,000 warmup, 1,000 draws, 4 chains, n_eff free):",
                  f"sums {perf['sums_s']:.2f} s; first fit (compiles) {perf['fit1_cpu_s']:.0f} CPU s, "
                  f"{perf['fit1_wall_s']:.0f} s wall; second fit {perf['fit2_cpu_s']:.0f} CPU s, "
                  f"{perf['fit2_wall_s']:.0f} s wall (the pooled sums make the fit independent of the chains and "
                  f"generations); divergences {perf['fit1_divergences']}, {perf['fit2_divergences']}",
                  perf["summary"]]
    (RESULTS / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (RESULTS / f"{stem}.csv").open("w", newline="") as f:
        f.write(f"# {head}\n")
        keys = list(per_config[0]) if per_config else []
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(per_config)
    if echo:
        print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
