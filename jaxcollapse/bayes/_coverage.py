r"""Forecast coverage: fit on generations $0..k$, forecast $k+1..G$, count how often the intervals hold.

`forecast_coverage(key, values, model, k=...)` takes one array of a statistic, `(G + 1, chains)` (what
`Trajectory.paths[metric]` holds), splits its chains into `datasets` independent datasets of `per`
chains each (what one ``jaxcollapse forecast`` of a run's CSV sees), fits `model` to each dataset's
prefix $0..k$ exactly as `jaxcollapse.bayes.fit` does (the same numpyro model, priors and pooling),
forecasts with `jaxcollapse.bayes.forecast` (the same code that prints and draws a forecast) and
scores the central intervals at every later generation against what the chains did.

**What an interval claims, and what it is scored against** (each model's forecast states it):

- *spread* (a posterior **predictive** of one chain): each chain live at $k$ (value $> 0$) is forecast
  from its own value $s_k$; the interval at $k + h$ claims the chain's own $s_{k+h}$. A unit is one
  chain; chains absorbed at 0 by $k$ are not scored (their future is 0 in the model and in the data).
- *diversity* and *error* (the posterior of the **expected** statistic): the dataset's forecast from the
  mean over its chains at $k$, $\bar s_k$, claims $E[\bar s_{k+h} \mid \text{generation } k]$ — not the
  realized mean, which adds the noise of the future refits. That expectation is estimated without
  the model from the other datasets' chains (leave one dataset out), in the model's own link: a
  ratio for the ratio models, $\bar s_k\,\sum_{\rm other} s_{k+h} / \sum_{\rm other} s_k$, an increment
  for the error model, $\bar s_k + \overline{(s_{k+h} - s_k)}_{\rm other}$. For the categorical family
  this is $E[H_{k+h} \mid H_k] = H_k(1 - 1/n)^h$ (exact: the mean law is linear in $H_k$). The
  estimate's own noise has a variance $1/(D - 1)$ of the dataset's (`datasets` $= D$), which lowers a
  90% coverage by about $0.1\cdot\phi(1.645)\cdot 1.645/(D-1)$ (0.3% at $D = 50$). A unit is one dataset.

**Standard errors.** Units of one dataset share its posterior, so their hits are correlated; the
standard error of a coverage is the larger of the binomial one, $\sqrt{c(1-c)/N}$ over the $N$ units,
and the one between datasets (the standard deviation of the per-dataset coverages over $\sqrt D$),
which holds whatever the correlation.

**Verdict.** ``"calibrated"`` when the 90% coverage at the last generation $G$ is within
[`LOW`, `HIGH`] = [0.80, 0.97] (the band of issue 17), ``"misspecified: under-covers"`` below it,
``"misspecified: over-covers"`` above it.

**Vectorized.** The $D$ datasets are independent, so the joint posterior is the product of theirs: one
NUTS run over all of them (one compiled program, as `jaxcollapse.bayes.sbc` does), then one host-side
forecast per dataset (numpy).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from . import models as M
from ._fit import Posterior, _check_key, _check_prior, _check_sampler, _pool_normal, check_model, run_nuts
from ._forecast import forecast
from ._prepare import MODELS, prepare

LOW, HIGH = 0.80, 0.97  # the band of issue 17 for a 90% interval


@dataclass(frozen=True, eq=False)
class Coverage:
    r"""Forecast coverage of one model on one array of chains (see the module docstring).

    - `hits[j]`: shape `(datasets, H, units)`, whether the central `levels[j]` interval held at
      generation `generations[h]` for each unit (NaN where a unit is not scored); `units` is the chains
      of a dataset (spread) or 1 (diversity, error: the dataset).
    - `coverage` `(levels, H)`, `se` `(levels, H)`: the share of hits per generation and its standard error.
    - `scored` `(H,)`: the units scored at each generation.
    - `warned`: the share of datasets whose fit got a warning of `check_model` (data that contradict the model).
    """

    model: str
    kind: str
    k: int
    generations: np.ndarray
    levels: tuple[float, ...]
    datasets: int
    per: int
    hits: np.ndarray
    divergences: int
    warned: float

    @property
    def G(self) -> int:
        return int(self.generations[-1])

    @property
    def scored(self) -> np.ndarray:
        return np.isfinite(self.hits[0]).sum(axis=(0, 2))

    @property
    def coverage(self) -> np.ndarray:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(self.hits, axis=(1, 3))

    @property
    def se(self) -> np.ndarray:
        c = self.coverage
        n = np.maximum(self.scored, 1)[None, :]
        binom = np.sqrt(c * (1 - c) / n)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            per_ds = np.nanmean(self.hits, axis=3)  # (levels, D, H)
            D = np.isfinite(per_ds).sum(axis=1)
            between = np.nanstd(per_ds, axis=1, ddof=1) / np.sqrt(np.maximum(D, 1))
        return np.fmax(binom, np.nan_to_num(between))

    def at(self, level: float) -> tuple[float, float]:
        """The coverage of the central `level` interval at the last generation, and its standard error."""
        j = self._level(level)
        return float(self.coverage[j, -1]), float(self.se[j, -1])

    def mean_over_horizon(self, level: float) -> float:
        """The coverage of the central `level` interval averaged over generations k+1..G (units pooled)."""
        j = self._level(level)
        h = self.hits[j]
        return float(np.nanmean(h))

    def _level(self, level: float) -> int:
        for j, lv in enumerate(self.levels):
            if math.isclose(lv, level):
                return j
        raise ValueError(f"level {level} was not scored; levels: {self.levels}")

    @property
    def verdict(self) -> str:
        c90, _ = self.at(0.9)
        if c90 < LOW:
            return "misspecified: under-covers"
        if c90 > HIGH:
            return "misspecified: over-covers"
        return "calibrated"

    @property
    def calibrated(self) -> bool:
        return self.verdict == "calibrated"

    def summary(self) -> str:
        what = "one chain's value" if self.kind == "predictive" else "the expected mean over a dataset's chains"
        lines = [f"forecast coverage of the {self.model} model ({what}): fit on generations 0..{self.k}, forecast "
                 f"{self.k + 1}..{self.G}; {self.datasets} datasets x {self.per} chains, {self.divergences} "
                 f"divergences; check_model warned on {self.warned:.0%} of the datasets",
                 f"{'generation':>10} {'scored':>7}" + "".join(f" {f'{lv:.0%} coverage':>17}" for lv in self.levels)]
        H = len(self.generations)
        marks = sorted({int(round(x)) for x in np.linspace(0, H - 1, min(H, 6))})
        cov, se = self.coverage, self.se
        for i in marks:
            lines.append(f"{self.generations[i]:>10d} {int(self.scored[i]):>7d}"
                         + "".join(f" {cov[j, i]:9.3f} +- {se[j, i]:.3f}" for j in range(len(self.levels))))
        lines.append(f"verdict (90% coverage at generation {self.G} in [{LOW}, {HIGH}]): {self.verdict}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _check_values(values, k: int, per: int | None, datasets: int | None) -> tuple[np.ndarray, int, int]:
    v = np.asarray(values, np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be an array (generations, chains), got shape {v.shape}")
    G = v.shape[0] - 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= G - 1:
        raise ValueError(f"k = {k!r} is invalid: the fit needs generations 0..k with 1 <= k <= G - 1 = {G - 1} "
                         "(at least one pair to fit and one generation to forecast)")
    C = v.shape[1]
    if per is None and datasets is None:
        raise ValueError("give per (chains per dataset) or datasets (the number of datasets)")
    if per is None:
        if isinstance(datasets, bool) or not isinstance(datasets, (int, np.integer)) or not 2 <= datasets <= C:
            raise ValueError(f"datasets = {datasets!r} is invalid: it must be an integer in 2..chains ({C})")
        per = C // int(datasets)
    if isinstance(per, bool) or not isinstance(per, (int, np.integer)) or not 1 <= per <= C // 2:
        raise ValueError(f"per = {per!r} is invalid: chains per dataset must be an integer in 1..chains/2 ({C // 2})")
    D = C // int(per) if datasets is None else int(datasets)
    if D * per > C:
        raise ValueError(f"datasets x per = {D} x {per} exceeds the {C} chains")
    return v, int(per), D


def _batched(model: str, preps, n_known, divisor, prior_n, prior_kappa):
    """The numpyro model of `fit` over `D` datasets at once (arrays (D, 1, 1)), its arguments and cache key."""
    D = len(preps)
    if model == "spread":
        cnt, sl, sr = (np.stack([getattr(p, a).sum(axis=1, keepdims=True) for p in preps])
                       for a in ("count", "sum_log", "sum_ratio"))
        fn = functools.partial(M.spread_model, divisor=divisor, kappa_known=None, prior_n=prior_n,
                               prior_kappa=prior_kappa, chain_kappa=False)
        args = (jnp.asarray(cnt), jnp.asarray(sl), jnp.asarray(sr), None)
        return fn, args, ("coverage-spread", divisor, prior_n, prior_kappa, D)
    pooled = [_pool_normal(p) for p in preps]  # each (1, 1, 1)
    cnt, mean, ss = (jnp.concatenate([p[i] for p in pooled], axis=0) for i in range(3))
    if model == "diversity":
        fn = functools.partial(M.diversity_model, kappa_known=None, prior_n=prior_n, prior_kappa=prior_kappa,
                               omega_scale=1.0)
        return fn, (cnt, mean, ss, jnp.full((D, 1), float(n_known))), ("coverage-diversity", prior_n, prior_kappa, D)
    # error, lumped (one growth per generation), with fit's priors scaled to each dataset's data
    m, s, c = np.asarray(mean)[:, 0, 0], np.asarray(ss)[:, 0, 0], np.asarray(cnt)[:, 0, 0]
    scale = np.abs(m) + np.sqrt(s / np.maximum(c, 1.0))
    scale = np.where(scale > 0, scale, 1.0)
    return _error_lumped, (cnt, mean, ss, jnp.zeros(1), jnp.asarray(10.0 * scale),
                           jnp.asarray(10.0 * scale[:, None])), ("coverage-error", D)


def _error_lumped(count, mean, ss, h, approx_scale, omega_scale):
    """`models.error_model` with one growth per generation and per-dataset prior scales (traced arguments)."""
    M.error_model(count, mean, ss, h, noise_known=0.0, noise_scale=1.0, approx_scale=approx_scale,
                  omega_scale=omega_scale)


def mean_reference(values, model: str, *, k: int, per: int, datasets: int) -> np.ndarray:
    r"""What a mean forecast from generation `k` is scored against, per dataset, without the model: shape `(G - k, D)`.

    Dataset $d$ holds chains $d\cdot$`per` to $(d+1)\cdot$`per` $- 1$. From the chains of the *other* datasets
    observed at $k$ and at $k + h$: for ``"diversity"`` the ratio $\sum s_{k+h} / \sum s_k$ (the forecast's
    start times it estimates $E[\bar s_{k+h} \mid \text{generation } k]$ where the mean law is linear in
    $s_k$, as the diversity model says), for ``"error"`` the mean increment $\overline{s_{k+h} - s_k}$. NaN
    where no other chain is observed (or, for the ratio, the others sum to 0 at $k$).
    """
    v = np.asarray(values, np.float64)
    D = int(datasets)
    sub = v[:, : D * per]
    fin = np.isfinite(sub[k])[None, :] & np.isfinite(sub[k + 1:])  # (H, chains)

    def per_ds(a):
        return a.reshape(a.shape[0], D, per).sum(axis=2)

    tot_now = per_ds(np.where(fin, sub[k][None, :], 0.0))
    tot_next = per_ds(np.where(fin, sub[k + 1:], 0.0))
    cnt = per_ds(fin.astype(np.float64))
    now, nxt, n = (a.sum(axis=1, keepdims=True) - a for a in (tot_now, tot_next, cnt))
    with np.errstate(invalid="ignore", divide="ignore"):
        if model == "diversity":
            out = np.where(now > 0, nxt / np.where(now > 0, now, 1.0), np.nan)
        else:
            out = np.where(n > 0, (nxt - now) / np.maximum(n, 1.0), np.nan)
    return out


def forecast_coverage(
    key,
    values,
    model: str,
    *,
    k: int,
    per: int | None = None,
    datasets: int | None = None,
    n_eff: float | None = None,
    divisor: str = "mle",
    levels: Sequence[float] = (0.5, 0.9),
    prior_n: tuple[float, float] = M.PRIOR_N,
    prior_kappa: tuple[float, float] = M.PRIOR_KAPPA,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    draws: int = 1000,
) -> Coverage:
    r"""The coverage of `model`'s forecast intervals: fit on generations $0..k$, forecast $k+1..G$.

    **Arguments:**

    - `key`: a `jax.random.key`.
    - `values`: the statistic, shape `(G + 1, chains)` (generation 0 first; NaN = missing).
    - `model`: ``"spread"``, ``"diversity"`` or ``"error"`` (as `jaxcollapse.bayes.fit`).
    - `k`: the last generation the fit sees ($1 \le k \le G - 1$).
    - `per` or `datasets`: chains per dataset, or the number of datasets; chains are taken in order
      (dataset $d$ holds chains $d\cdot$`per` to $(d + 1)\cdot$`per` $- 1$) and the rest are left out.
    - `n_eff`: the diversity model's known sample size (as ``jaxcollapse forecast`` uses the file's
      ``n=``); required for it, refused for the others.
    - `divisor`, `prior_n`, `prior_kappa`: as `fit`.
    - `levels`: the central interval levels to score (each in (0, 1); 0.9 always included).
    - `num_warmup`, `num_samples`, `num_chains`: NUTS settings (one run for all datasets).
    - `draws`: posterior draws per forecast.

    Returns a `Coverage`; bad input raises one `ValueError` before any compute.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
    _check_key(key)
    _check_sampler(num_warmup, num_samples, num_chains, "vectorized")
    if divisor not in ("mle", "unbiased"):
        raise ValueError(f"unknown divisor {divisor!r}; choose 'mle' or 'unbiased'")
    prior_n = _check_prior("prior_n", prior_n)
    prior_kappa = _check_prior("prior_kappa", prior_kappa)
    lv = tuple(sorted({float(x) for x in levels} | {0.9}))
    if not all(0 < x < 1 for x in lv):
        raise ValueError(f"levels must lie in (0, 1), got {tuple(levels)}")
    if model == "diversity":
        if n_eff is None or not (math.isfinite(float(n_eff)) and float(n_eff) > 1):
            raise ValueError(f"the diversity model needs n_eff, the known sample size (> 1), got {n_eff!r}")
    elif n_eff is not None:
        raise ValueError(f"n_eff is used by the diversity model only (model = {model!r})")
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be an integer >= 1, got {draws!r}")
    v, per, D = _check_values(values, k, per, datasets)
    if D < 2:
        raise ValueError(f"{v.shape[1]} chains make {D} dataset(s) of {per}: coverage needs at least two")
    G = v.shape[0] - 1
    data = [v[:, d * per:(d + 1) * per] for d in range(D)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # non-positive values masked: the same for every dataset
        preps = [prepare(x[: k + 1], model) for x in data]
    k_fit, k_fc = jax.random.split(key)
    sampler = dict(num_warmup=int(num_warmup), num_samples=int(num_samples), num_chains=int(num_chains),
                   chain_method="vectorized")
    with x64():
        fn, args, ck = _batched(model, preps, n_eff, divisor, prior_n, prior_kappa)
        raw, div = run_nuts(fn, ck, args, k_fit, **sampler)
    nk = None if model != "diversity" else np.full((D, 1), float(n_eff))
    drv = M.derive(model, raw, n_known=nk, divisor=divisor, h=np.zeros(1) if model == "error" else None,
                   noise_known=0.0 if model == "error" else None)
    if model == "error":
        drv = {a: b for a, b in drv.items() if a not in ("noise_var", "growth_sample", "growth_approx", "approx")}
    H = G - k
    gens = np.arange(k + 1, G + 1)
    units = per if model == "spread" else 1
    hits = np.full((len(lv), D, H, units), np.nan)
    kind = "predictive" if model == "spread" else "mean"
    warned = 0
    ref = None if model == "spread" else mean_reference(v, model, k=k, per=per, datasets=D)
    for d in range(D):
        draws_d = {a: b[:, :, d] for a, b in drv.items()}
        info = {"num_chains": int(num_chains), "num_samples": int(num_samples), "num_warmup": int(num_warmup)}
        info["warnings"] = check_model(model, draws_d, preps[d])
        warned += bool(info["warnings"])
        post = Posterior(model, draws_d, preps[d], divisor, jax.random.fold_in(k_fit, d), info)
        kd = jax.random.fold_in(k_fc, d)
        if model == "spread":
            s0 = data[d][k]
            live = np.isfinite(s0) & (s0 > 0)
            if not live.any():
                continue
            fc = forecast(post, H, key=kd, start=s0[live], start_generation=k, draws=int(draws))
            y = data[d][k + 1:, live]  # (H, L)
        else:
            fc = forecast(post, H, key=kd, start_generation=k, draws=int(draws))
            s0 = fc.paths[0, 0]
            y = (s0 * ref[:, d] if model == "diversity" else s0 + ref[:, d])[:, None]
        probs = [p for level in lv for p in ((1 - level) / 2, (1 + level) / 2)]
        q = np.quantile(fc.paths[:, 1:], probs, axis=0)  # (2 levels, H[, L])
        q = q if q.ndim == 3 else q[:, :, None]
        for j in range(len(lv)):
            lo, hi = q[2 * j], q[2 * j + 1]
            h = np.where(np.isfinite(y), (lo <= y) & (y <= hi), np.nan)
            row = hits[j, d]  # a view (H, units)
            if model == "spread":
                row[:, live] = h
            else:
                row[:, 0] = h[:, 0]
    return Coverage(model, kind, int(k), gens, lv, D, per, hits, int(np.asarray(div).sum()), warned / D)
