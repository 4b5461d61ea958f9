r"""Turning trajectories or plain arrays into the per-(group, chain) statistics the models need.

A *group* (a configuration: one sample size, one learner) is a 2-D array of a statistic, one row
per generation and one column per chain (`Trajectory.paths[metric]` has exactly that shape), or a
1-D array (one chain). Several groups may be passed as a list; they may differ in their numbers of
chains and generations.

**Missing generations.** A NaN entry is a missing generation. Only *consecutive* pairs
$(t, t+1)$ with both values present enter the likelihood; a pair that spans a gap is dropped, so
nothing is approximated (the ratio over a gap of $k$ generations is a product of $k$ factors, whose
law has no closed form for $k \ge 2$). An error is raised when no pair is left.

**Absorbing state at 0** (the ratio models, ``"spread"`` and ``"diversity"``). A spread or a
diversity that reaches exactly 0 stays there (a Poisson rate whose sample was all zeros, a
categorical with one category left): 0 is a point mass, not a value of the continuous law. A chain
is *absorbed* from the first generation at which it is 0 and stays 0. Per generation $t$ the
fraction absorbed among the observed chains is `absorbed[t]`, and per pair the chains at risk
(live at $t$, observed at $t+1$) and the absorption events (0 at $t+1$) are counted, for the
forecast of the absorbed mass. The decay model sees the live chains only:

- spread: pairs with both values positive (the log-chi-square law has no mass at 0);
- diversity: pairs that start positive, *including* those that end at 0 (ratio 0): the mean law
  $E[H_{t+1}/H_t \mid H_t] = \kappa(1 - 1/n)$ averages over them, and dropping them would bias the
  fitted mean ratio upward (so $\kappa$ above 1, a spurious negative approximation term).

A 0 followed later by a positive value is not absorbing; it is treated as missing, as is a negative
value, with a warning.

**Trend statistics.** Per group, the per-pair quantity the model says has one mean at every
generation (spread: the log ratio; diversity: the ratio; error: the increment) is summarized in the
first and second half of the pairs (count, mean, variance), for `fit`'s check of the model against
the data.

Everything here is plain numpy in float64 on the host: the models only see a few sums per
(group, chain), so the sampler's cost does not grow with the number of generations or chains.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

MODELS = ("spread", "diversity", "error")


@dataclass(frozen=True)
class Prepared:
    r"""Sufficient statistics, shape `(groups, chains)` (chains padded with zero counts).

    - `count`: the number of usable consecutive pairs;
    - `sum_log`: $\sum \ln(s_{t+1}/s_t)$ (spread) — unused by the other models;
    - `sum_ratio`: $\sum s_{t+1}/s_t$ (ratio models);
    - `mean`, `ss`: mean and sum of squared deviations of the per-pair quantity (the ratio for the
      diversity model, the increment $s_{t+1} - s_t$ for the error model, the log ratio for spread).
    - `last`: per group, the last observed value of each chain (NaN where none) and `last_t`, its
      generation index; `values`: the cleaned arrays (missing = NaN, absorbed = 0).
    - `absorbing`: whether any chain is absorbed at 0 (ratio models only); `absorbed[g][t]`: the
      fraction of observed chains absorbed at generation `t` (NaN where none is observed);
      `at_risk[g][t]`, `events[g][t]`: chains live at `t` and observed at `t + 1`, and those of them
      absorbed at `t + 1`.
    - `trend`: `(groups, 6)`: count, mean and variance of the per-pair quantity in the first and in
      the second half of the pairs.
    """

    model: str
    count: np.ndarray
    sum_log: np.ndarray
    sum_ratio: np.ndarray
    mean: np.ndarray
    ss: np.ndarray
    last: tuple[np.ndarray, ...]
    last_t: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    masked: int
    absorbing: bool = False
    absorbed: tuple[np.ndarray, ...] = ()
    at_risk: tuple[np.ndarray, ...] = ()
    events: tuple[np.ndarray, ...] = ()
    trend: np.ndarray | None = None

    @property
    def groups(self) -> int:
        return self.count.shape[0]


def _as_groups(data, metric: str | None) -> list[np.ndarray]:
    from ..engine import Trajectory

    items = data if isinstance(data, (list, tuple)) else [data]
    if len(items) == 0:
        raise ValueError("no data: pass an array (generations x chains), a Trajectory, or a list of them")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Trajectory):
            if not item.paths:
                raise ValueError("the Trajectory has no per-chain paths: simulate(..., record_paths=True)")
            if metric is None and len(item.paths) != 1:
                raise ValueError(f"the Trajectory holds several metrics: pass metric= (one of {tuple(item.paths)})")
            metric = next(iter(item.paths)) if metric is None else metric
            if metric not in item.paths:
                raise ValueError(f"metric {metric!r} is not among the Trajectory's paths {tuple(item.paths)}")
            arr = np.asarray(item.paths[metric], np.float64)
        else:
            try:
                arr = np.asarray(item, np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"group {i}: not a numeric array ({e})") from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"group {i}: expected shape (generations, chains), got {arr.shape}")
        if arr.shape[0] < 2:
            raise ValueError(f"group {i}: fewer than two generations ({arr.shape[0]}); a ratio needs two")
        if arr.shape[1] < 1:
            raise ValueError(f"group {i}: no chains")
        if np.any(np.isinf(arr)):
            raise ValueError(f"group {i}: infinite values; use NaN for a missing generation")
        out.append(arr)
    return out


def _clean(arr: np.ndarray, ratio: bool) -> tuple[np.ndarray, int]:
    """Negative values and zeros that are left later (not absorbing) become NaN; returns (values, masked)."""
    v = arr.copy()
    if not ratio:
        return v, 0
    bad = ~np.isnan(v) & (v < 0)
    pos = ~np.isnan(v) & (v > 0)
    # positive at some generation after t: a zero at t is then not absorbing
    later = np.zeros_like(pos)
    later[:-1] = np.flip(np.logical_or.accumulate(np.flip(pos[1:], axis=0), axis=0), axis=0)
    bad |= (v == 0) & later
    v[bad] = np.nan
    return v, int(bad.sum())


def _pairs(v: np.ndarray, model: str):
    """Usable pairs `ok`, the per-pair quantity `x` (0 where unusable) and, for ratio models, the ratio `q`."""
    a, b = v[:-1], v[1:]
    if model == "error":
        ok = ~np.isnan(a) & ~np.isnan(b)
        x = np.where(ok, b - np.where(ok, a, 0.0), 0.0)
        return ok, x, x
    live = ~np.isnan(a) & (a > 0)
    ok = live & ~np.isnan(b) & ((b > 0) if model == "spread" else (b >= 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(ok, b / np.where(live, a, 1.0), 0.0)
    x = np.log(np.where(ok, q, 1.0)) if model == "spread" else q
    return ok, np.where(ok, x, 0.0), q


def _halves(ok: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(count, mean, variance) of `x` over the usable pairs of the first and the second half of the pairs."""
    P = ok.shape[0]
    out = np.zeros(6)
    if P < 4:
        return out
    for j, sl in enumerate((slice(0, P // 2), slice(P // 2, P))):
        o, xx = ok[sl], x[sl]
        n = int(o.sum())
        if n >= 2:
            m = float(xx[o].mean())
            out[3 * j: 3 * j + 3] = (n, m, float(xx[o].var(ddof=1)))
    return out


def prepare(data, model: str, metric: str | None = None) -> Prepared:
    """Statistics of `data` (an array, a `Trajectory`, or a list of them: one per group) for `model`."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
    groups = _as_groups(data, metric)
    ratio = model != "error"
    masked = 0
    per = []
    for arr in groups:
        v, m = _clean(arr, ratio)
        masked += m
        per.append((v, *_pairs(v, model)))
    if masked:
        warnings.warn(f"{masked} non-positive value(s) treated as missing: a ratio needs positive statistics, and "
                      "0 is absorbing only where a chain stays at 0", UserWarning, stacklevel=3)
    total = sum(int(ok.sum()) for _, ok, _, _ in per)
    if total == 0:
        raise ValueError("no usable consecutive pair of generations (all missing, isolated"
                         + (", non-positive or absorbed at 0)" if ratio else ")"))
    G = len(per)
    C = max(v.shape[1] for v, *_ in per)
    count, sum_log, sum_ratio, mean, ss = (np.zeros((G, C)) for _ in range(5))
    last, last_t, values, absorbed, at_risk, events = [], [], [], [], [], []
    trend = np.zeros((G, 6))
    for g, (v, ok, x, q) in enumerate(per):
        c = v.shape[1]
        n = ok.sum(axis=0).astype(np.float64)
        count[g, :c] = n
        if ratio:
            pos = ok & (q > 0)
            sum_log[g, :c] = np.sum(np.where(pos, np.log(np.where(pos, q, 1.0)), 0.0), axis=0)
            sum_ratio[g, :c] = np.where(ok, q, 0.0).sum(axis=0)
        mu = np.where(n > 0, x.sum(axis=0) / np.maximum(n, 1.0), 0.0)
        mean[g, :c] = mu
        ss[g, :c] = np.sum(np.where(ok, (x - mu[None, :]) ** 2, 0.0), axis=0)
        trend[g] = _halves(ok, x)
        present = ~np.isnan(v)
        idx = np.where(present.any(axis=0), v.shape[0] - 1 - np.argmax(present[::-1], axis=0), -1)
        last.append(np.where(idx >= 0, v[np.maximum(idx, 0), np.arange(c)], np.nan))
        last_t.append(idx)
        values.append(v)
        zero = present & (v == 0)
        with np.errstate(invalid="ignore"):
            absorbed.append(np.where(present.any(axis=1), zero.sum(axis=1) / np.maximum(present.sum(axis=1), 1),
                                     np.nan))
        risk = present[:-1] & (v[:-1] > 0) & present[1:]
        at_risk.append(risk.sum(axis=1))
        events.append((risk & (v[1:] == 0)).sum(axis=1))
    absorbing = ratio and any(bool(np.any(a > 0)) for a in absorbed)
    return Prepared(model, count, sum_log, sum_ratio, mean, ss, tuple(last), tuple(last_t), tuple(values), masked,
                    absorbing, tuple(absorbed), tuple(at_risk), tuple(events), trend)
