r"""Reading per-chain CSV files (one row per generation, one column per chain) and picking their model.

The file ``jaxcollapse run`` writes per regime, ``chains_<regime>_<metric>.csv``, is

```text
# jaxcollapse family=<family> regime=<regime> metric=<metric> model=<spread|diversity|error> n=<n>
generation,chain_0,chain_1,...
0,1.0,1.0,...
1,0.98,1.03,...
```

`read_chains` also reads a CSV without the comment line, with or without the ``generation`` column
(then the rows are generations 0, 1, ...), and with or without a header row. Empty cells and
``nan`` are missing values; generations absent from the ``generation`` column are missing
generations. Lines starting with ``#`` are comments; the first one starting with
``# jaxcollapse`` gives ``key=value`` metadata.

A file whose columns are not chains is refused with what to pass instead: ``summary.csv``
(``<regime>/<metric>/mean`` columns: summaries over chains), a forecast's ``forecast.csv``
(quantile columns), or any column named like a summary (``mean``, ``std``, ``q0.05``...).

This module is plain Python and numpy (no JAX).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._prepare import MODELS

COMMENT_TAG = "jaxcollapse"
#: metric name -> model, for files that do not name their model (the recipes name it in the comment line)
METRIC_MODELS: dict[str, str] = {
    **dict.fromkeys(("trace", "variance", "trace_ratio", "spread", "spread_ratio", "pred_var", "rate",
                     "rate_ratio", "bandwidth"), "spread"),
    **dict.fromkeys(("gini_simpson", "initial_gini_simpson", "heterozygosity", "diversity"), "diversity"),
    **dict.fromkeys(("excess_risk", "test_mse", "test_error", "mean_sq_err", "sq_err", "w2sq", "l2sq", "kl",
                     "kl_rate", "tv"), "error"),
}
_SUMMARY_NAMES = re.compile(r"^(mean|std|sd|stderr|se|median|min|max|var|q\d*\.?\d+|p\d+)$", re.IGNORECASE)
_FILE_METRIC = re.compile(r"^chains_(?:(?P<regime>.+?)_)?(?P<metric>[^_].*)\.csv$")


@dataclass(frozen=True)
class Chains:
    """A per-chain file: `values` `(generations, chains)` on a consecutive grid from `first_generation`.

    `meta` holds the comment line's ``key=value`` pairs (``family``, ``regime``, ``metric``, ``model``,
    ``n``); `metric` is the comment's or, failing that, the one in a ``chains_<regime>_<metric>.csv`` name.
    """

    values: np.ndarray
    first_generation: int
    meta: dict = field(default_factory=dict)
    metric: str | None = None


class NotChains(ValueError):
    """The file is readable but does not hold chains (or holds none)."""


def _parse_meta(line: str) -> dict:
    body = line.lstrip("#").strip()
    if not body.startswith(COMMENT_TAG):
        return {}
    return dict(tok.split("=", 1) for tok in body[len(COMMENT_TAG):].split() if "=" in tok)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return s.strip() == ""
    return True


def _not_chains(path: Path, head: list[str]) -> str | None:
    if any("/" in h for h in head):
        return (f"{path.name} holds summaries over chains (columns like {next(h for h in head if '/' in h)!r}), "
                "not chains; pass a per-chain file of the same run folder (chains_<regime>_<metric>.csv), "
                "or a CSV with one row per generation and one column per chain")
    names = [h for h in head if _SUMMARY_NAMES.match(h)]
    if names:
        return (f"{path.name} has summary columns ({', '.join(names[:3])}), not chains; pass a CSV with one row "
                "per generation and one column per chain (e.g. chains_<regime>_<metric>.csv of a run)")
    return None


def read_chains(path, array: str | None = None) -> Chains:
    """Read a per-chain CSV (see the module docstring) or NPZ; raises `NotChains` (a `ValueError`), one line.

    An NPZ holds a 2-D array `(generations, chains)` (`array` names it where there are several) and
    optionally a 1-D ``generation`` array, the generation of each row.
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        return _read_npz(path, array)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise NotChains(f"cannot read {path}: {e}") from None
    meta: dict = {}
    rows = []
    for r in csv.reader(text.splitlines()):
        if r and r[0].lstrip().startswith("#"):
            if not meta:
                meta = _parse_meta(",".join(r))
            continue
        if r and any(c.strip() for c in r):
            rows.append([c.strip() for c in r])
    if not text.strip():
        raise NotChains(f"{path} is empty: expected a header 'generation,chain_0,...' and one row per generation")
    if not rows:
        raise NotChains(f"{path} has no header and no rows: expected one row per generation and one column per chain")
    if all(_is_number(c) for c in rows[0]):
        head, body = None, rows
    else:
        head, body = rows[0], rows[1:]
        bad = _not_chains(path, head)
        if bad:
            raise NotChains(bad)
    if not body:
        raise NotChains(f"{path} has a header but no rows: expected one row per generation")
    width = len(head) if head is not None else len(body[0])
    has_gen = head is not None and head[0].lower() == "generation"
    if has_gen and width < 2:
        raise NotChains(f"{path}: no chain columns after 'generation'")
    vals = np.empty((len(body), width))
    line0 = 2 if head is not None else 1
    for i, r in enumerate(body):
        if len(r) != width:
            raise NotChains(f"{path}, row {i + line0}: {len(r)} fields, but the {'header' if head else 'first row'} "
                            f"has {width}")
        try:
            vals[i] = [float(c) if c and c.lower() != "nan" else math.nan for c in r]
        except ValueError:
            raise NotChains(f"{path}, row {i + line0}: not a number in {r!r}") from None
    if has_gen:
        values, g0 = _regrid(path, vals[:, 0], vals[:, 1:])
    else:
        values, g0 = vals, 0
    if values.shape[0] < 2:
        raise NotChains(f"{path}: fewer than two generations ({values.shape[0]}); a forecast needs two")
    if np.any(np.isinf(values)):
        raise NotChains(f"{path}: infinite values; use an empty cell or nan for a missing value")
    metric = meta.get("metric")
    if metric is None:
        m = _FILE_METRIC.match(path.name)
        if m:
            metric = m["metric"]
            # chains_<regime>_<metric>.csv: a metric name may hold underscores; prefer a known one
            parts = path.name[len("chains_"):-len(".csv")]
            known = [k for k in METRIC_MODELS if parts == k or parts.endswith("_" + k)]
            metric = max(known, key=len) if known else parts
    return Chains(values, g0, meta, metric)


def _read_npz(path: Path, name: str | None) -> Chains:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise NotChains(f"cannot read {path} as NPZ: {e}") from None
    if name is not None:
        if name not in arrays:
            raise NotChains(f"{path} has no array {name!r}; it has {sorted(arrays)}")
        arr = arrays[name]
    else:
        two = [k for k, v in arrays.items() if v.ndim == 2]
        if len(two) != 1:
            raise NotChains(f"{path} has {len(two)} 2-D arrays ({', '.join(sorted(two)) or 'none'}); "
                            "pick one with --array NAME")
        name, arr = two[0], arrays[two[0]]
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise NotChains(f"{path}: expected a numeric array (generations, chains), got shape {arr.shape}")
    gens = arrays.get("generation")
    if gens is not None and np.shape(gens) != (arr.shape[0],):
        raise NotChains(f"{path}: 'generation' has {np.size(gens)} entries but the array has {arr.shape[0]} rows")
    values, g0 = (arr.astype(np.float64), 0) if gens is None else _regrid(path, gens, arr.astype(np.float64))
    if values.shape[0] < 2:
        raise NotChains(f"{path}: fewer than two generations ({values.shape[0]}); a forecast needs two")
    if np.any(np.isinf(values)):
        raise NotChains(f"{path}: infinite values; use nan for a missing value")
    return Chains(values, g0, {}, name if name in METRIC_MODELS else None)


def _regrid(path: Path, gens: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, int]:
    """Rows on a consecutive generation grid (absent generations become rows of NaN)."""
    g = np.asarray(gens, np.float64)
    if not np.all(np.isfinite(g)) or np.any(g != np.round(g)) or np.any(g < 0):
        raise NotChains(f"{path}: generations must be non-negative integers")
    if np.any(np.diff(g) <= 0):
        raise NotChains(f"{path}: generations must be strictly increasing")
    g = g.astype(int)
    out = np.full((g[-1] - g[0] + 1, vals.shape[1]), np.nan)
    out[g - g[0]] = vals
    return out, int(g[0])


def pick_model(chains: Chains, model: str | None = None) -> tuple[str, str]:
    """The model to fit and why: `model` if given, else the file's ``model=``, else its metric's, else spread."""
    if model is not None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        return model, "chosen with --model"
    m = chains.meta.get("model")
    if m is not None:
        if m not in MODELS:
            raise ValueError(f"the file names model={m!r}, which is not one of {', '.join(MODELS)}; pass --model")
        return m, "model= in the file's comment line"
    if chains.metric in METRIC_MODELS:
        return METRIC_MODELS[chains.metric], f"the metric {chains.metric!r}"
    what = f"the metric {chains.metric!r} is not a known one" if chains.metric else "the file names no metric"
    return "spread", f"{what}: fitting the spread model; pass --model spread|diversity|error to choose"


def nominal_n(chains: Chains) -> float | None:
    """The comment line's ``n=`` (the nominal sample size per generation), or None."""
    v = chains.meta.get("n")
    if v is None:
        return None
    try:
        n = float(v)
    except ValueError:
        raise ValueError(f"the file's n={v!r} is not a number") from None
    if not (math.isfinite(n) and n > 1):
        raise ValueError(f"the file's n={v} must be a number > 1")
    return n
