r"""Turning trajectories or plain arrays into the per-(group, chain) statistics the models need.

A *group* (a configuration: one sample size, one learner) is a 2-D array of a statistic, one row
per generation and one column per chain (`Trajectory.paths[metric]` has exactly that shape), or a
1-D array (one chain). Several groups may be passed as a list; they may differ in their numbers of
chains and generations.

**Missing generations.** A NaN entry is a missing generation. Only *consecutive* pairs
$(t, t+1)$ with both values present enter the likelihood; a pair that spans a gap is dropped, so
nothing is approximated (the ratio over a gap of $k$ generations is a product of $k$ factors, whose
law has no closed form for $k \ge 2$). Where a ratio is needed (the spread and diversity models),
non-positive values are treated as missing too, with a warning; an error is raised when no pair is
left.

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
    - `sum_log`: $\sum \ln(s_{t+1}/s_t)$ (ratio models) — unused by the error model;
    - `sum_ratio`: $\sum s_{t+1}/s_t$ (ratio models);
    - `mean`, `ss`: mean and sum of squared deviations of the per-pair quantity (the ratio for the
      diversity model, the increment $s_{t+1} - s_t$ for the error model, the log ratio for spread).
    - `last`: per group, the last observed value of each chain (NaN where none) and `last_t`, its
      generation index; `first`, the first value.
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
            if item.paths is None:
                raise ValueError("the Trajectory has no per-chain paths: simulate(..., record_paths=True)")
            name = metric or "trace"
            if name not in item.paths:
                raise ValueError(f"metric {name!r} is not among the Trajectory's paths {tuple(item.paths)}")
            arr = np.asarray(item.paths[name], np.float64)
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


def prepare(data, model: str, metric: str | None = None) -> Prepared:
    """Statistics of `data` (an array, a `Trajectory`, or a list of them: one per group) for `model`."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
    groups = _as_groups(data, metric)
    ratio = model != "error"
    masked = 0
    per = []
    for arr in groups:
        v = arr.copy()
        if ratio:
            bad = ~np.isnan(v) & (v <= 0)
            masked += int(bad.sum())
            v[bad] = np.nan
        a, b = v[:-1], v[1:]
        ok = ~np.isnan(a) & ~np.isnan(b)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(ok, b / np.where(ok, a, 1.0), np.nan) if ratio else np.where(ok, b - a, np.nan)
        per.append((v, ok, q))
    if masked:
        warnings.warn(f"{masked} non-positive value(s) treated as missing: a ratio needs positive statistics",
                      UserWarning, stacklevel=3)
    total = sum(int(ok.sum()) for _, ok, _ in per)
    if total == 0:
        raise ValueError("no usable consecutive pair of generations (all missing, non-positive or isolated)")
    G = len(per)
    C = max(v.shape[1] for v, _, _ in per)
    count = np.zeros((G, C))
    sum_log = np.zeros((G, C))
    sum_ratio = np.zeros((G, C))
    mean = np.zeros((G, C))
    ss = np.zeros((G, C))
    last, last_t, values = [], [], []
    for g, (v, ok, q) in enumerate(per):
        c = v.shape[1]
        n = ok.sum(axis=0).astype(np.float64)
        qz = np.where(ok, q, 0.0)
        count[g, :c] = n
        if ratio:
            sum_log[g, :c] = np.sum(np.where(ok, np.log(np.where(ok, q, 1.0)), 0.0), axis=0)
            sum_ratio[g, :c] = qz.sum(axis=0)
        x = np.where(ok, np.log(np.where(ok, q, 1.0)), 0.0) if model == "spread" else qz
        m = np.where(n > 0, x.sum(axis=0) / np.maximum(n, 1.0), 0.0)
        mean[g, :c] = m
        ss[g, :c] = np.sum(np.where(ok, (x - m[None, :]) ** 2, 0.0), axis=0)
        present = ~np.isnan(v)
        idx = np.where(present.any(axis=0), v.shape[0] - 1 - np.argmax(present[::-1], axis=0), -1)
        last.append(np.where(idx >= 0, v[np.maximum(idx, 0), np.arange(c)], np.nan))
        last_t.append(idx)
        values.append(v)
    return Prepared(model, count, sum_log, sum_ratio, mean, ss, tuple(last), tuple(last_t), tuple(values), masked)
