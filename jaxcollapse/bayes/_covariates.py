r"""$\kappa$ from measured approximation error: a hierarchical spread model across configurations.

A **design** is a table of configurations $k = 1..K$ of one learner: covariates $x_k$ that a user can
measure in one step, without recursion (a one-step fit error, capacity and budget knobs), the sample size
$n_k$, and for the configurations that were run recursively a target: the pooled sums of the recursion's
log ratios $y = \ln(s_{t+1}/s_t)$ of the headline spread (`count`, `sum_log` $= \sum y$, `sum_ratio`
$= \sum e^y$, what `jaxcollapse.bayes.models.spread_loglik` takes), or a measured rate $\pm$ its standard
error. A row without a target is a configuration to predict.

**Model** (`fit_covariates`; derived here, on the spread model of `jaxcollapse.bayes.models`). Per
configuration, $y = \ln\kappa_k + \ln(\chi^2_{n_{{\rm eff},k}-1}/n_{{\rm eff},k})$ (``divisor="mle"``),
and across configurations

$$\ln\kappa_k = \beta_0 + \textstyle\sum_j \beta_j \tilde x_{kj} + \sigma\varepsilon_k, \qquad
\ln(n_{{\rm eff},k} - 1) = \ln(n_k - 1) + \alpha_0 + \alpha_1 (\ln(n_k - 1) - c) + \tau\zeta_k,$$

with $\tilde x$ the covariate columns standardized on the training rows (mean 0, sd 1), $c$ the training
rows' mean of $\ln(n_k - 1)$, and $\varepsilon_k, \zeta_k \sim N(0, 1)$ non-centred. Priors (weakly
informative on the scale of a log factor per generation): $\beta_0 \sim N(0, 1)$, $\beta_j \sim N(0, 1)$
(per standard deviation of the covariate), $\sigma \sim \text{HalfNormal}(0.5)$; $\alpha_0 \sim N(0,
0.5^2)$, $\alpha_1 \sim N(0, 0.5^2)$, $\tau \sim \text{HalfNormal}(0.5)$ (at $\alpha = \tau = 0$,
$n_{\rm eff} = n$, the Gaussian MLE's exact law). The likelihood of a row with sums is the exact
log-chi-square likelihood (`models.spread_loglik`); of a row with a measured rate, $N(\hat r_k;\, r_k,
\mathrm{se}_k^2)$ with $r_k = r_{\rm sample}(n_{{\rm eff},k}) - \ln\kappa_k$ and $r_{\rm sample}(n) =
-E\ln(\chi^2_{n-1}/n) = -\psi(\tfrac{n-1}2) - \ln\tfrac2n$ (the log-chi-square mean).

**Why $n_{\rm eff}$ is free by default** (``n_eff="free"``; ``"known"`` fixes $n_{\rm eff} = n$). A
learned family's spread is not a Gaussian MLE's: the log ratio's variance differs from the chi-square's
$\psi'(\tfrac{n-1}2)$. With $n_{\rm eff} = n$ known, the exact likelihood fits $\kappa_k$ from the
mean of $e^y$ (its score in $\ln\kappa$ is $-\tfrac k2 N + \tfrac{m}{2\kappa}\sum e^y$), and the model's
rate $r_{\rm sample}(n) - \ln\kappa_k$ then differs from the recursion's $-E y$ by the variance mismatch
(measured: the mixture's spread in 2-D has about half the chi-square's variance). A free
$n_{\rm eff,k}$ matches both moments, so the model's rate is the recursion's mean log decay.

**Prediction** (`CovariatePosterior.predict`). For a configuration left out of the fit, with covariates
$x$ and size $n$, per posterior draw: fresh $\varepsilon, \zeta \sim N(0, 1)$, $\ln\kappa =
\beta_0 + \tilde x\cdot\beta + \sigma\varepsilon$, $n_{\rm eff}$ from its regression, and the rate
$r = r_{\rm sample}(n_{\rm eff}) - \ln\kappa$ (its posterior predictive: the regression's uncertainty
plus the configuration's own unexplained deviation). The paths of one chain follow the spread
predictive of `jaxcollapse.bayes.forecast`: $\ln s_h = \ln s_0 + \sum_{j\le h}[\ln\kappa +
\ln(\chi^2_{n_{\rm eff}-1,j}/n_{\rm eff})]$ with fresh gamma draws, and the crossing generation is the
first $h \ge 1$ at which a path is at or beyond the threshold (`inf`: not within the horizon).

**Error families** (MLP regression, the transformer: their headline error grows, their declared model is the
error-growth one): an error design (``model=error``) holds each configuration's measured growth of the error
per generation and the spread of its increments, and `fit_covariates` fits the growth model of `fit_growth`
(derived there) instead; its predictions (`GrowthPosterior`) report a growth, not a decay rate.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from . import models as M
from ._fit import _arviz, _check_key, _check_sampler, run_nuts

__all__ = ["Design", "read_design", "fit_covariates", "fit_growth", "CovariatePosterior", "GrowthPosterior",
           "RatePrediction", "r_sample",
           "N_EFF_MODES"]

RESERVED = ("label", "n", "count", "sum_log", "sum_ratio", "rate", "rate_se", "step_sd", "step_count", "e0")
ERROR_COLUMNS = ("step_sd", "step_count", "e0")  # an error design's per-row increment spread, its count, e_0
MODELS = ("spread", "error")
SUMS = ("count", "sum_log", "sum_ratio")
N_EFF_MODES = ("free", "known")
PRIOR_BETA0, PRIOR_BETA, PRIOR_SIGMA = 1.0, 1.0, 0.5
PRIOR_ALPHA0, PRIOR_ALPHA1, PRIOR_TAU = 0.5, 0.5, 0.5
CENTRED_PAIRS = 200  # "auto": centred when every training row has sums of at least this many pairs
EXTRAPOLATE = 0.25  # a covariate beyond the training range by more than this share of the range: a warning


def r_sample(n_eff) -> np.ndarray:
    r"""The finite-sample rate $-E\ln(\chi^2_{n-1}/n) = -\psi(\tfrac{n-1}2) - \ln\tfrac2n$ (``divisor="mle"``)."""
    from scipy.special import digamma

    n = np.asarray(n_eff, np.float64)
    return np.asarray(-(digamma(0.5 * (n - 1.0)) + np.log(2.0 / n)))


# --------------------------------------------------------------------------- the design
@dataclass(frozen=True, eq=False)
class Design:
    r"""A table of configurations (see the module docstring).

    - `columns`: covariate names, in order; `x` `(K, P)`: the covariates.
    - `n` `(K,)`: the sample size per generation.
    - `count`, `sum_log`, `sum_ratio` `(K,)`: pooled sums of the recursion's log ratios (NaN: none).
    - `rate`, `rate_se` `(K,)`: a measured rate per generation and its standard error (NaN: none).
      A row with sums is fitted on its sums (the exact likelihood); its rate, if given, is informational
      (the benchmark's held-out score reads it).
    - `labels`, `family`; `model`: ``"spread"`` (the targets are the sums or a rate) or ``"error"`` (the
      targets are a measured growth per generation of the headline error in `rate` ± `rate_se`, and
      `step_sd` `(K,)`: the standard deviation of its per-step increments, measured from `step_count` of
      them; `e0` `(K,)`: the error at generation 0, the start of the predicted paths; see `fit_covariates`).
    - `generations`: how many generations each configuration's recursion ran (None: not recorded); a predicted
      crossing beyond them carries a warning.
    """

    columns: tuple[str, ...]
    x: np.ndarray
    n: np.ndarray
    count: np.ndarray
    sum_log: np.ndarray
    sum_ratio: np.ndarray
    rate: np.ndarray
    rate_se: np.ndarray
    labels: tuple[str, ...]
    family: str = ""
    model: str = "spread"
    step_sd: np.ndarray | None = None
    step_count: np.ndarray | None = None
    e0: np.ndarray | None = None
    generations: int | None = None

    def __post_init__(self):
        K = int(np.shape(self.n)[0])
        for name in ERROR_COLUMNS:
            v = getattr(self, name)
            object.__setattr__(self, name, np.full(K, np.nan) if v is None else np.asarray(v, np.float64))

    @property
    def K(self) -> int:
        return int(self.n.shape[0])

    @property
    def has_sums(self) -> np.ndarray:
        return np.isfinite(self.count) & (np.nan_to_num(self.count) > 0)

    @property
    def has_rate(self) -> np.ndarray:
        return np.isfinite(self.rate) & np.isfinite(self.rate_se)

    @property
    def trained(self) -> np.ndarray:
        """Rows with a target (sums or a measured rate): what `fit_covariates` learns from."""
        if self.model == "error":
            return self.has_rate
        return self.has_sums | self.has_rate

    def _extra(self, idx=slice(None)) -> dict:
        return {"model": self.model, "generations": self.generations,
                **{c: getattr(self, c)[idx] for c in ERROR_COLUMNS}}

    def subset(self, rows) -> Design:
        """The design of the given rows (indices or a boolean mask)."""
        idx = np.arange(self.K)[rows]
        return Design(self.columns, self.x[idx], self.n[idx], self.count[idx], self.sum_log[idx],
                      self.sum_ratio[idx], self.rate[idx], self.rate_se[idx],
                      tuple(self.labels[i] for i in idx), self.family, **self._extra(idx))

    def without_targets(self) -> Design:
        """The same configurations with every target removed (all rows to predict)."""
        nan = np.full(self.K, np.nan)
        ex = {**self._extra(), "step_sd": nan, "step_count": nan}
        return Design(self.columns, self.x, self.n, nan, nan, nan, nan, nan, self.labels, self.family, **ex)

    def select(self, columns: Sequence[str]) -> Design:
        """The design with only the given covariate columns (in that order)."""
        cols = tuple(columns)
        for c in cols:
            if c not in self.columns:
                raise ValueError(f"column {c!r} is not a covariate of this design; have {self.columns}")
        idx = [self.columns.index(c) for c in cols]
        return Design(cols, self.x[:, idx], self.n, self.count, self.sum_log, self.sum_ratio, self.rate,
                      self.rate_se, self.labels, self.family, **self._extra())

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for i in range(self.K):
            r: dict[str, Any] = {"label": self.labels[i], "n": float(self.n[i])}
            r.update({c: float(self.x[i, j]) for j, c in enumerate(self.columns)})
            for name in self._targets():
                v = float(getattr(self, name)[i])
                r[name] = "" if not math.isfinite(v) else v
            out.append(r)
        return out

    def _targets(self) -> tuple[str, ...]:
        return ("rate", "rate_se", *ERROR_COLUMNS) if self.model == "error" else (*SUMS, "rate", "rate_se")

    def to_csv(self, path) -> None:
        """Write the design as `read_design` reads it (a first ``# family=... model=...`` comment line)."""
        head = ["label", "n", *self.columns, *self._targets()]
        with open(path, "w", newline="") as f:
            f.write(f"# family={self.family}" + (f" model={self.model}" if self.model != "spread" else "")
                    + (f" generations={self.generations}" if self.generations else "") + "\n")
            w = csv.DictWriter(f, head)
            w.writeheader()
            for r in self.rows():
                w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})


def _num(col: str, value, row: int) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"column {col!r}: row {row} has {value!r}, not a number") from None


def read_design(path_or_rows, *, family: str = "", covariates: Sequence[str] | None = None,
                model: str | None = None) -> Design:
    r"""A `Design` from a CSV file (a path) or from rows (a sequence of mappings).

    Columns: ``label``, ``n``, the covariates, and a target: ``count,sum_log,sum_ratio`` (pooled sums of
    the log ratios) and/or ``rate,rate_se``; an empty target is a row to predict. Lines starting with
    ``#`` are comments (a ``# family=NAME`` line sets `family` unless given). `covariates`: the covariate
    columns to use, in order (default: every column that is not one of the reserved names above); a
    column that is neither reserved nor listed is refused as unknown.

    Bad input raises one `ValueError` naming the column: a missing required column (``label``, ``n``,
    the third of a partial ``count,sum_log,sum_ratio``, ``rate_se`` beside ``rate``), an unknown column,
    a non-number, NaN or inf in a covariate, a constant covariate column, $n < 2$, a negative or
    non-finite sum, and fewer training rows (with a target) than parameters ($\beta_0, \beta_1..\beta_P,
    \sigma$: $P + 2$).

    `model`: ``"spread"`` or ``"error"`` (default: a ``model=NAME`` on the ``# family=`` line, else the
    declared model of the family's entry in `jaxcollapse.predict.FAMILIES`, else ``"spread"``). An error
    design's targets are ``rate,rate_se`` (the measured growth per generation and its standard error) with
    ``step_sd,step_count`` (the increments' standard deviation and their number); ``e0`` (optional, default
    0) is the error at generation 0; it has no sums. A ``generations=G`` on the comment line records how many
    generations the design's recursions ran (`Design.generations`).
    """
    fam, mod, gens = family, model, None
    if isinstance(path_or_rows, (str, os.PathLike)):
        text = Path(path_or_rows).read_text(encoding="utf-8")
        lines = text.splitlines()
        for ln in lines:
            if ln.startswith("#") and "family=" in ln and not fam:
                fam = ln.split("family=", 1)[1].strip().split()[0] if ln.split("family=", 1)[1].strip() else ""
            if ln.startswith("#") and "model=" in ln and mod is None:
                mod = (ln.split("model=", 1)[1].strip().split() or [""])[0]
            if ln.startswith("#") and "generations=" in ln and gens is None:
                g = (ln.split("generations=", 1)[1].strip().split() or [""])[0]
                if not g.isdigit() or int(g) < 1:
                    raise ValueError(f"column 'label': generations={g!r} on a comment line is not an integer >= 1")
                gens = int(g)
        body = "\n".join(ln for ln in lines if not ln.startswith("#") and ln.strip())
        reader = csv.DictReader(io.StringIO(body))
        header = [h.strip() for h in (reader.fieldnames or [])]
        raw = [{(k or "").strip(): v for k, v in r.items()} for r in reader]
    else:
        raw = [dict(r) for r in path_or_rows]
        header = list(dict.fromkeys(k for r in raw for k in r))
    if not raw:
        raise ValueError("column 'label': the design has no rows")
    if len(set(header)) != len(header) or any(h == "" for h in header):
        dup = [h for h in header if header.count(h) > 1 or h == ""]
        raise ValueError(f"column {dup[0]!r}: duplicate or empty column name")
    if mod is None:
        from ..predict import FAMILIES, model_of

        mod = model_of(fam) if fam in FAMILIES else "spread"
    if mod not in MODELS:
        raise ValueError(f"column 'label': model {mod!r} is not one of {MODELS}")
    for req in ("label", "n"):
        if req not in header:
            raise ValueError(f"column {req!r} is missing (required: label, n, covariates, and count,sum_log,"
                             "sum_ratio or rate,rate_se)")
    present = [s for s in SUMS if s in header]
    if present and len(present) != 3:
        miss = [s for s in SUMS if s not in header][0]
        raise ValueError(f"column {miss!r} is missing: the sums come as count, sum_log and sum_ratio together")
    if ("rate" in header) != ("rate_se" in header):
        miss = "rate_se" if "rate" in header else "rate"
        raise ValueError(f"column {miss!r} is missing: a measured rate comes with its standard error (rate, "
                         "rate_se)")
    if mod == "error":
        if present:
            raise ValueError(f"column {present[0]!r}: an error design has no sums (its targets are rate, rate_se, "
                             "step_sd, step_count)")
        for req in ("rate", "step_sd", "step_count"):
            if req not in header:
                raise ValueError(f"column {req!r} is missing: an error design's targets are rate, rate_se (the "
                                 "growth per generation), step_sd and step_count (the increments' spread)")
    elif any(c in header for c in ERROR_COLUMNS):
        c = next(c for c in ERROR_COLUMNS if c in header)
        raise ValueError(f"column {c!r} belongs to an error design (model=error), not to a spread design")
    if not present and "rate" not in header:
        raise ValueError("column 'count' is missing: give a target, count,sum_log,sum_ratio or rate,rate_se")
    others = [h for h in header if h not in RESERVED]
    if covariates is None:
        cols = tuple(others)
    else:
        cols = tuple(covariates)
        for c in cols:
            if c in RESERVED:
                raise ValueError(f"column {c!r} is reserved and cannot be a covariate")
            if c not in header:
                raise ValueError(f"column {c!r} is missing (asked for as a covariate)")
        unknown = [h for h in others if h not in cols]
        if unknown:
            raise ValueError(f"column {unknown[0]!r} is unknown: not a covariate ({cols}) nor one of {RESERVED}")
    if not cols:
        raise ValueError("no covariate column: the design needs at least one (besides label, n and the targets)")
    K = len(raw)
    labels = tuple(str(r.get("label", "") or f"row{i}") for i, r in enumerate(raw))
    x = np.array([[_num(c, r.get(c), i) for c in cols] for i, r in enumerate(raw)], np.float64).reshape(K, len(cols))
    n = np.array([_num("n", r.get("n"), i) for i, r in enumerate(raw)], np.float64)

    def col(name):
        return np.array([_num(name, r.get(name), i) for i, r in enumerate(raw)], np.float64)

    nan = np.full(K, np.nan)
    count, sl, sr = (col(s) for s in SUMS) if present else (nan, nan, nan)
    rate, se = (col("rate"), col("rate_se")) if "rate" in header else (nan, nan)
    ex = {c: (col(c) if c in header else nan) for c in ERROR_COLUMNS}
    if mod == "error" and "e0" not in header:
        ex["e0"] = np.zeros(K)
    d = Design(cols, x, n, count, sl, sr, rate, se, labels, fam, mod, **ex, generations=gens)
    check_design(d)
    return d


def check_design(d: Design) -> None:
    """The checks of `read_design` on a `Design` (one `ValueError` naming the column)."""
    if d.x.ndim != 2 or d.x.shape != (d.K, len(d.columns)):
        raise ValueError(f"x has shape {d.x.shape}; expected ({d.K}, {len(d.columns)}) for columns {d.columns}")
    for j, c in enumerate(d.columns):
        bad = ~np.isfinite(d.x[:, j])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column {c!r}: row {i} ({d.labels[i]!r}) is {d.x[i, j]}; covariates must be finite "
                             "numbers")
    bad = ~np.isfinite(d.n) | (np.nan_to_num(d.n, nan=0.0) < 2)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"column 'n': row {i} ({d.labels[i]!r}) has n = {d.n[i]}; the sample size must be >= 2")
    sums = np.stack([d.count, d.sum_log, d.sum_ratio])
    part = np.isfinite(sums).any(axis=0) & ~np.isfinite(sums).all(axis=0)
    if part.any():
        i = int(np.flatnonzero(part)[0])
        c = SUMS[int(np.flatnonzero(~np.isfinite(sums[:, i]))[0])]
        raise ValueError(f"column {c!r}: row {i} ({d.labels[i]!r}) has some of count, sum_log, sum_ratio but not "
                         f"{c}")
    fin = np.isfinite(d.count)
    if np.any(fin & (np.nan_to_num(d.count) < 1)):
        i = int(np.flatnonzero(fin & (np.nan_to_num(d.count) < 1))[0])
        raise ValueError(f"column 'count': row {i} ({d.labels[i]!r}) has count = {d.count[i]}; it must be >= 1")
    if np.any(fin & ~(np.nan_to_num(d.sum_ratio, nan=-1.0) > 0)):
        i = int(np.flatnonzero(fin & ~(np.nan_to_num(d.sum_ratio, nan=-1.0) > 0))[0])
        raise ValueError(f"column 'sum_ratio': row {i} ({d.labels[i]!r}) has {d.sum_ratio[i]}; a sum of ratios "
                         "must be > 0")
    rp = np.isfinite(d.rate) != np.isfinite(d.rate_se)
    if rp.any():
        i = int(np.flatnonzero(rp)[0])
        c = "rate_se" if np.isfinite(d.rate[i]) else "rate"
        raise ValueError(f"column {c!r}: row {i} ({d.labels[i]!r}) has a rate without its standard error or "
                         "the reverse")
    if np.any(np.isfinite(d.rate_se) & ~(np.nan_to_num(d.rate_se, nan=-1.0) > 0)):
        i = int(np.flatnonzero(np.isfinite(d.rate_se) & ~(np.nan_to_num(d.rate_se, nan=-1.0) > 0))[0])
        raise ValueError(f"column 'rate_se': row {i} ({d.labels[i]!r}) has {d.rate_se[i]}; it must be > 0")
    if d.model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {d.model!r}")
    if d.model == "error":
        _check_error_design(d)
    tr = d.trained
    P = len(d.columns)
    if tr.sum() < P + 2:
        raise ValueError(f"column 'count' (or 'rate'): {int(tr.sum())} training configuration(s) (rows with a "
                         f"target) for {P + 2} parameters (beta_0, {P} covariate coefficient(s), sigma): give at "
                         f"least {P + 2}, or fewer covariate columns")
    for j, c in enumerate(d.columns):
        v = d.x[tr, j]
        if np.ptp(v) == 0:
            raise ValueError(f"column {c!r} is constant ({v[0]:g}) over the training rows: its coefficient is not "
                             "identified; drop the column")


def _check_error_design(d: Design) -> None:
    if "one_step" not in d.columns:
        raise ValueError(f"column 'one_step' is missing: the growth model's offset is the log one-step increment "
                         f"(have {d.columns})")
    tr = d.has_rate
    for c in ("step_sd", "step_count"):
        bad = tr & ~(np.nan_to_num(getattr(d, c), nan=-1.0) > (1.0 if c == "step_count" else 0.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column {c!r}: row {i} ({d.labels[i]!r}) has {getattr(d, c)[i]}; a training row needs "
                             + ("a standard deviation > 0" if c == "step_sd" else "more than one increment"))
    bad = ~np.isfinite(d.e0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"column 'e0': row {i} ({d.labels[i]!r}) has {d.e0[i]}; the error at generation 0 must be "
                         "a finite number")


# --------------------------------------------------------------------------- the model
def covariate_model(xs, lnn, lnn_c, has_sums, count, sum_log, sum_ratio, has_rate, rate, rate_se, *,
                    free_n: bool = True, centred: bool = False):
    r"""numpyro model of the module docstring; arrays `(K, P)` and `(K,)` (masks as floats).

    `centred`: sample $\ln\kappa_k$ directly from its normal law (the same model, centred parameterization;
    `fit_covariates` documents when it is used); $\zeta_k$ of $n_{\rm eff}$ is always non-centred."""
    import numpyro
    import numpyro.distributions as dist

    K, P = xs.shape
    b0 = numpyro.sample("beta0", dist.Normal(0.0, PRIOR_BETA0))
    b = numpyro.sample("beta", dist.Normal(0.0, PRIOR_BETA).expand([P]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(PRIOR_SIGMA))
    if centred:
        lk = numpyro.sample("log_kappa", dist.Normal(b0 + xs @ b, sigma).to_event(1))
    else:
        eps = numpyro.sample("eps", dist.Normal(0.0, 1.0).expand([K]).to_event(1))
        lk = b0 + xs @ b + sigma * eps
    if free_n:
        a0 = numpyro.sample("alpha0", dist.Normal(0.0, PRIOR_ALPHA0))
        a1 = numpyro.sample("alpha1", dist.Normal(0.0, PRIOR_ALPHA1))
        tau = numpyro.sample("tau", dist.HalfNormal(PRIOR_TAU))
        zeta = numpyro.sample("zeta", dist.Normal(0.0, 1.0).expand([K]).to_event(1))
        z = lnn + a0 + a1 * lnn_c + tau * zeta
    else:
        z = lnn
    n_eff = 1.0 + jnp.exp(z)
    safe = has_sums > 0
    ll_s = M.spread_loglik(jnp.where(safe, count, 1.0), jnp.where(safe, sum_log, 0.0),
                           jnp.where(safe, sum_ratio, 1.0), n_eff, lk, "mle")
    from jax.scipy.special import digamma

    r = -(digamma(0.5 * (n_eff - 1.0)) + jnp.log(2.0 / n_eff)) - lk
    ll_r = -0.5 * ((rate - r) / rate_se) ** 2 - jnp.log(rate_se)
    use_r = (has_rate > 0) & ~safe
    numpyro.factor("loglik", jnp.sum(jnp.where(safe, ll_s, 0.0)) + jnp.sum(jnp.where(use_r, ll_r, 0.0)))


@dataclass(frozen=True, eq=False)
class RatePrediction:
    r"""The posterior predictive of a configuration's collapse rate (and of one chain's path).

    - `label`; `rate` `(draws,)`: the rate per generation $r = r_{\rm sample}(n_{\rm eff}) - \ln\kappa$;
      `kappa`, `n_eff` `(draws,)`.
    - `generations` `(H + 1,)`, `paths` `(draws, H + 1)`: one chain's statistic from `start` (the spread
      predictive); `threshold`, `crossing` `(draws,)`: the generation at which the path first crosses the
      threshold (`inf`: not within the horizon), None without a threshold.
    - `warnings`: extrapolation beyond the training design, a horizon short of most crossings.
    - `quantity`: ``"rate"`` (the spread model: a decay rate) or ``"growth"`` (the error model: `rate` holds the
      growth of the headline error per generation, in its units; `kappa` and `n_eff` are None, `step_sd`
      `(draws,)` is the standard deviation of one chain's increment per generation, and `paths` and
      `threshold` are in units of `unit`, the error after one refit $e_1$); `metric`: the headline metric.
    """

    label: str
    rate: np.ndarray
    kappa: np.ndarray | None
    n_eff: np.ndarray | None
    generations: np.ndarray
    paths: np.ndarray
    threshold: float | None
    crossing: np.ndarray | None
    start: float = 1.0
    warnings: tuple[str, ...] = ()
    quantity: str = "rate"
    metric: str = "spread"
    step_sd: np.ndarray | None = None
    unit: float = 1.0

    def interval(self, level: float, se: float = 0.0) -> tuple[float, float]:
        r"""The central `level` interval of the rate; with `se` > 0, of a *measurement* of the rate with that
        standard error (the predictive convolved with $N(0, \mathrm{se}^2)$, fixed normal draws)."""
        _check_level(level)
        r = self.rate
        if se and se > 0:
            z = np.random.default_rng(0).standard_normal(r.size)
            r = r + float(se) * z
        a = (1 - level) / 2
        lo, hi = np.quantile(r, [a, 1 - a])
        return float(lo), float(hi)

    def crossing_interval(self, level: float) -> tuple[float, float]:
        """The central `level` interval of the crossing generation (`inf` where too few draws cross)."""
        _check_level(level)
        if self.crossing is None:
            raise ValueError("this prediction has no threshold")
        a = (1 - level) / 2
        lo, hi = np.quantile(self.crossing, [a, 1 - a], method="inverted_cdf")
        return float(lo), float(hi)

    def summary(self) -> str:
        m = float(np.median(self.rate))
        lo50, hi50 = self.interval(0.5)
        lo, hi = self.interval(0.9)
        name = f" {self.label}" if self.label else ""
        what = (f"predicted growth of {self.metric} per generation" if self.quantity == "growth"
                else "predicted collapse rate")
        lines = [f"{what}{name}: median {m:.5g} per generation, 50% interval [{lo50:.5g}, "
                 f"{hi50:.5g}], 90% interval [{lo:.5g}, {hi:.5g}] ({self.rate.size} draws)"]
        if self.quantity == "growth":
            lines.append(f"  one chain's increment per generation: sd median {float(np.median(self.step_sd)):.5g}; "
                         f"paths in units of the error after one refit, e_1 = {self.unit:.6g}")
        else:
            lines.append(f"  kappa median {float(np.median(self.kappa)):.5g}, n_eff median "
                         f"{float(np.median(self.n_eff)):.4g}")
        if self.crossing is not None:
            H = int(self.generations[-1])
            p = float(np.mean(np.isfinite(self.crossing)))
            c5, c95 = self.crossing_interval(0.9)
            c50 = float(np.quantile(self.crossing, 0.5, method="inverted_cdf"))
            lines.append(f"  threshold {self.threshold:.6g} (start {self.start:.6g}): crossed within {H} generations "
                         f"with probability {p:.3f}; crossing generation median {_g(c50)}, 90% interval "
                         f"[{_g(c5)}, {_g(c95)}]")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _beyond(design: Design, crossing: np.ndarray) -> list[str]:
    """A warning where the median crossing lies beyond the generations the design's recursions ran."""
    G = design.generations
    med = float(np.quantile(crossing, 0.5, method="inverted_cdf"))
    if G and med > G:
        return [f"the median crossing ({_g(med)}) lies beyond the {G} generations each configuration of the design "
                "was run: the forecast assumes the rate (growth) per generation stays what those generations showed"]
    return []


def _g(x: float) -> str:
    return "> horizon" if math.isinf(x) else f"{x:.0f}"


def _check_level(level) -> None:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _host_rng(key) -> np.random.Generator:
    """A numpy generator seeded by a `jax.random.key` (the predictive draws run on the host)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).astype(np.uint64))


def _column_warnings(design: Design, columns, xr: np.ndarray) -> list[str]:
    """A warning per covariate of `xr` beyond the design's range by more than `EXTRAPOLATE` of the range."""
    out = []
    for j, c in enumerate(columns):
        lo, hi = float(design.x[:, j].min()), float(design.x[:, j].max())
        w = EXTRAPOLATE * (hi - lo)
        if xr[j] < lo - w or xr[j] > hi + w:
            out.append(f"column {c!r} = {xr[j]:.6g} is outside the training range [{lo:.6g}, {hi:.6g}]: the "
                       "prediction extrapolates the regression")
    return out


def _crossing(paths: np.ndarray, thr: float, up: bool, design: Design, warns: list[str]) -> np.ndarray:
    r"""The first generation $h \ge 1$ at which each path is at or beyond `thr` (upward if `up`; `inf`: not within
    the horizon); appends the horizon and beyond-the-design warnings to `warns`."""
    beyond = paths[:, 1:] >= thr if up else paths[:, 1:] <= thr
    crossing = np.where(beyond.any(axis=1), 1.0 + np.argmax(beyond, axis=1), np.inf)
    p = float(np.mean(np.isfinite(crossing)))
    if p < 0.95:
        warns.append(f"only {p:.0%} of the draws cross {thr:g} within the horizon of {paths.shape[1] - 1} "
                     "generations: the upper end of the crossing interval is beyond it (a longer horizon resolves it)")
    warns += _beyond(design, crossing)
    return crossing


def _check_predict_args(n, key, horizon) -> float:
    """`predict`'s shared checks (before anything is drawn): the size as a float, the key, the horizon."""
    try:
        nn = float(n)
    except (TypeError, ValueError):
        raise ValueError(f"n must be a number >= 2, got {n!r}") from None
    if not (math.isfinite(nn) and nn >= 2):
        raise ValueError(f"n must be a number >= 2, got {n!r}")
    _check_key(key)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    return nn


@dataclass(frozen=True, eq=False)
class CovariatePosterior:
    r"""Posterior draws of the hierarchical model (`fit_covariates`).

    - `columns`, `center`, `scale`: the covariates and their standardization (training rows' mean and sd).
    - `draws`: ``beta0`` `(S,)`, ``beta`` `(S, P)`, ``sigma`` `(S,)`, and with a free $n_{\rm eff}$
      ``alpha0``, ``alpha1``, ``tau`` `(S,)`; per training row ``log_kappa``, ``n_eff``, ``rate`` `(S, K)`.
    - `n_eff_mode`: ``"free"`` or ``"known"``; `lnn_center`: $c$ of the $n_{\rm eff}$ regression.
    - `design`: the training rows; `info`: sampler settings, divergences, R-hat and ESS of the top-level
      parameters; `warnings`.
    """

    columns: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    draws: dict[str, np.ndarray]
    n_eff_mode: str
    lnn_center: float
    design: Design
    info: dict = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self.info.get("warnings", ()))

    def coefficients(self) -> dict[str, np.ndarray]:
        """Draws of every top-level parameter by name (``beta[col]`` per covariate)."""
        out = {"beta0": self.draws["beta0"]}
        for j, c in enumerate(self.columns):
            out[f"beta[{c}]"] = self.draws["beta"][:, j]
        out["sigma"] = self.draws["sigma"]
        if self.n_eff_mode == "free":
            out.update(alpha0=self.draws["alpha0"], alpha1=self.draws["alpha1"], tau=self.draws["tau"])
        return out

    def summary(self) -> str:
        d = self.design
        lines = [f"hierarchical spread model over {d.K} configurations{' of ' + d.family if d.family else ''}: "
                 f"ln kappa = beta0 + sum_j beta_j (x_j - mean_j)/sd_j + sigma eps; n_eff {self.n_eff_mode}"
                 f"; {self.info.get('num_chains')} chains x {self.info.get('num_samples')} draws, "
                 f"{self.info.get('divergences', 0)} divergences",
                 f"{'':>24} {'mean':>11} {'sd':>10} {'5%':>11} {'95%':>11} {'ess':>7} {'r_hat':>6} {'x mean':>10} "
                 f"{'x sd':>9}"]
        ess, rhat = self.info.get("ess", {}), self.info.get("rhat", {})
        for name, a in self.coefficients().items():
            q5, q95 = np.quantile(a, [0.05, 0.95])
            extra = ""
            if name.startswith("beta["):
                j = self.columns.index(name[5:-1])
                extra = f" {self.center[j]:10.4g} {self.scale[j]:9.3g}"
            lines.append(f"{name:>24} {a.mean():11.5g} {a.std():10.3g} {q5:11.5g} {q95:11.5g} "
                         f"{ess.get(name, float('nan')):7.0f} {rhat.get(name, float('nan')):6.3f}{extra}")
        lines.append("rate = r_sample(n_eff) - ln kappa per generation; beta_j per standard deviation of x_j")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    # ---------------------------------------------------------------- prediction
    def _row(self, x: Mapping[str, float]) -> np.ndarray:
        if not isinstance(x, Mapping):
            raise ValueError(f"x must be a mapping of covariate name to value, got {type(x).__name__}")
        extra = [k for k in x if k not in self.columns]
        if extra:
            raise ValueError(f"column {extra[0]!r} is not a covariate of this fit; have {self.columns}")
        out = np.empty(len(self.columns))
        for j, c in enumerate(self.columns):
            if c not in x:
                raise ValueError(f"column {c!r} is missing from x; the fit's covariates are {self.columns}")
            try:
                v = float(x[c])
            except (TypeError, ValueError):
                raise ValueError(f"column {c!r}: {x[c]!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"column {c!r}: {v} is not finite")
            out[j] = v
        return out

    def _extrapolation(self, xr: np.ndarray, n: float) -> list[str]:
        d, out = self.design, _column_warnings(self.design, self.columns, xr)
        lo, hi = float(d.n.min()), float(d.n.max())
        if n < lo / (1 + EXTRAPOLATE) or n > hi * (1 + EXTRAPOLATE):
            out.append(f"n = {n:g} is outside the training range [{lo:g}, {hi:g}]: n_eff extrapolates its regression")
        return out

    def predict(self, x: Mapping[str, float], n: float, *, key, horizon: int = 50, threshold: float | None = None,
                start: float = 1.0, label: str = "") -> RatePrediction:
        r"""The posterior predictive of a new configuration's rate, paths and crossing (module docstring).

        `x`: every covariate of the fit by name; `n`: its sample size ($\ge 2$); `key`: a `jax.random.key`;
        `horizon`: generations of the paths; `threshold` ($> 0$, not equal to `start`): the level whose
        first crossing is reported; `start` ($> 0$): the statistic at generation 0.
        """
        xr = self._row(x)
        nn = _check_predict_args(n, key, horizon)
        s0 = float(start)
        if not (math.isfinite(s0) and s0 > 0):
            raise ValueError(f"start must be a finite number > 0, got {start!r}")
        thr = None
        if threshold is not None:
            thr = float(threshold)
            if not (math.isfinite(thr) and thr > 0) or thr == s0:
                raise ValueError(f"threshold must be a finite number > 0 other than start ({s0:g}), got {threshold!r}")
        rng = _host_rng(key)
        dr = self.draws
        S = dr["beta0"].shape[0]
        xs = (xr - self.center) / self.scale
        lk = dr["beta0"] + dr["beta"] @ xs + dr["sigma"] * rng.standard_normal(S)
        z = np.full(S, math.log(nn - 1.0))
        if self.n_eff_mode == "free":
            lc = math.log(nn - 1.0) - self.lnn_center
            z = z + dr["alpha0"] + dr["alpha1"] * lc + dr["tau"] * rng.standard_normal(S)
        ne = 1.0 + np.exp(z)
        rate = r_sample(ne) - lk
        H = int(horizon)
        gam = rng.standard_gamma(np.broadcast_to((0.5 * (ne - 1.0))[:, None], (S, H)))
        with np.errstate(divide="ignore"):
            steps = np.log(2.0 * gam) - np.log(ne)[:, None] + lk[:, None]
        paths = s0 * np.exp(np.concatenate([np.zeros((S, 1)), np.cumsum(steps, axis=1)], axis=1))
        warns = self._extrapolation(xr, nn)
        crossing = None if thr is None else _crossing(paths, thr, thr > s0, self.design, warns)
        return RatePrediction(label, rate, np.exp(lk), ne, np.arange(H + 1), paths, thr, crossing, s0,
                              tuple(warns))

    def _row_kw(self, design: Design, i: int) -> dict:
        return {}

    def predict_design(self, design: Design, *, key, rows: str = "auto", **kw) -> list[RatePrediction]:
        """`predict` for the rows of `design` (its covariates by name; one key per row by `fold_in`).

        `rows`: ``"auto"`` (the rows without a target if there are any, else every row), ``"all"``, or
        ``"untrained"``."""
        if not isinstance(design, Design):
            raise ValueError(f"design must be a Design (read_design), got {type(design).__name__}")
        if rows not in ("auto", "all", "untrained"):
            raise ValueError(f"rows must be 'auto', 'all' or 'untrained', got {rows!r}")
        _check_key(key)
        missing = [c for c in self.columns if c not in design.columns]
        if missing:
            raise ValueError(f"column {missing[0]!r} is missing from the design; the fit's covariates are "
                             f"{self.columns}")
        todo = ~design.trained
        if rows == "all" or (rows == "auto" and not todo.any()):
            todo = np.ones(design.K, bool)
        out = []
        for i in np.flatnonzero(todo):
            x = {c: float(design.x[i, design.columns.index(c)]) for c in self.columns}
            out.append(self.predict(x, float(design.n[i]), key=jax.random.fold_in(key, int(i)),
                                    label=design.labels[i], **self._row_kw(design, int(i)), **kw))
        return out


def _standardize(d: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tr = d.trained
    c = d.x[tr].mean(axis=0)
    s = d.x[tr].std(axis=0)
    return (d.x - c) / s, c, s


def fit_covariates(design: Design, *, key, num_warmup: int = 1000, num_samples: int = 1000, num_chains: int = 4,
                   n_eff: str = "free", parameterization: str = "auto",
                   chain_method: str = "vectorized") -> CovariatePosterior:
    r"""Fit the hierarchical model of the module docstring to the training rows of `design` by NUTS (an error
    design, ``design.model == "error"``: the growth model of `fit_growth`; `n_eff` does not apply).

    `n_eff`: ``"free"`` (default: $n_{\rm eff}$ regressed on $\ln n$, see the module docstring for why)
    or ``"known"`` ($n_{\rm eff} = n$). The sums make the cost independent of the chains and generations
    behind them: one gradient costs $O(K P)$. Bad input raises `ValueError` before anything compiles.

    `parameterization`: how $\ln\kappa_k$ is sampled (the model is the same). ``"noncentred"``:
    $\ln\kappa_k = \beta_0 + \tilde x_k\cdot\beta + \sigma\varepsilon_k$ with $\varepsilon_k$ sampled;
    ``"centred"``: $\ln\kappa_k \sim N(\beta_0 + \tilde x_k\cdot\beta, \sigma^2)$ sampled directly;
    ``"auto"`` (default): centred when every training row has sums of at least `CENTRED_PAIRS` (200) log
    ratios, else non-centred. Measured on 50 simulated configurations x 20,000 pairs: the non-centred
    form, whose $\varepsilon_k$ the data pin to a thin ridge in $(\varepsilon_k, \sigma, \beta)$, needs
    long trajectories (bulk ESS of $\beta$ about 500-700 of 4,000 draws, about twice the time); the centred
    form gives ESS 4,000-6,000 and no divergences. $\zeta_k$ of $n_{\rm eff}$ stays non-centred (its data
    are weaker, and a centred $\zeta_k$ with $\tau$ near 0 gave divergences and an ESS of 73 for $\tau$).
    """
    if not isinstance(design, Design):
        raise ValueError(f"design must be a Design (read_design), got {type(design).__name__}")
    _check_key(key)
    _check_sampler(num_warmup, num_samples, num_chains, chain_method)
    if design.model == "error":
        if parameterization not in ("auto", "centred", "noncentred"):
            raise ValueError(f"parameterization must be 'auto', 'centred' or 'noncentred', got {parameterization!r}")
        return fit_growth(design, key=key, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                          parameterization=parameterization, chain_method=chain_method)
    if n_eff not in N_EFF_MODES:
        raise ValueError(f"n_eff must be one of {N_EFF_MODES}, got {n_eff!r}")
    check_design(design)
    d = design.subset(design.trained)
    xs, center, scale = _standardize(d)
    lnn = np.log(d.n - 1.0)
    c = float(lnn.mean())
    hs = d.has_sums
    hr = d.has_rate
    f = lambda a, fill: np.where(np.isfinite(a), a, fill)  # noqa: E731
    free = n_eff == "free"
    if parameterization not in ("auto", "centred", "noncentred"):
        raise ValueError(f"parameterization must be 'auto', 'centred' or 'noncentred', got {parameterization!r}")
    centred = parameterization == "centred" or (parameterization == "auto" and bool(hs.all())
                                                and float(np.min(d.count)) >= CENTRED_PAIRS)
    with x64():
        args = tuple(jnp.asarray(a, jnp.float64) for a in (
            xs, lnn, lnn - c, hs.astype(float), f(d.count, 1.0), f(d.sum_log, 0.0), f(d.sum_ratio, 1.0),
            hr.astype(float), f(d.rate, 0.0), f(d.rate_se, 1.0)))
        fn = functools.partial(covariate_model, free_n=free, centred=centred)
        ck = ("covariates", free, centred, xs.shape)
        raw, div = run_nuts(fn, ck, args, key, num_warmup=int(num_warmup), num_samples=int(num_samples),
                            num_chains=int(num_chains), chain_method=chain_method)
    by_chain = {k: np.asarray(v, np.float64) for k, v in raw.items()}
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in by_chain.items()}
    S = flat["beta0"].shape[0]
    if centred:
        lk = flat["log_kappa"]
    else:
        lk = flat["beta0"][:, None] + flat["beta"] @ xs.T + flat["sigma"][:, None] * flat["eps"]
    z = np.broadcast_to(lnn, (S, d.K))
    if free:
        z = z + flat["alpha0"][:, None] + flat["alpha1"][:, None] * (lnn - c) + flat["tau"][:, None] * flat["zeta"]
    ne = 1.0 + np.exp(z)
    draws = {k: v for k, v in flat.items() if k not in ("eps", "zeta", "z", "log_kappa")}
    draws.update(log_kappa=lk, n_eff=ne, rate=r_sample(ne) - lk)
    info = {"num_chains": int(num_chains), "num_samples": int(num_samples), "num_warmup": int(num_warmup),
            "divergences": int(np.asarray(div).sum())}
    info.update(_diagnostics(by_chain, d.columns, free))
    warns = []
    if info["divergences"]:
        warns.append(f"{info['divergences']} divergent transitions: the posterior may be biased (more warmup)")
    bad = [k for k, r in info["rhat"].items() if r > 1.05]
    if bad:
        warns.append(f"R-hat above 1.05 for {', '.join(bad)}: the chains disagree (more warmup or samples)")
    info["warnings"] = warns
    return CovariatePosterior(d.columns, center, scale, draws, n_eff, c, d, info)


def _diagnostics(by_chain: dict, columns, free: bool) -> dict:
    az = _arviz()
    ess, rhat = {}, {}
    named = {"beta0": by_chain["beta0"], "sigma": by_chain["sigma"]}
    for j, cname in enumerate(columns):
        named[f"beta[{cname}]"] = by_chain["beta"][:, :, j]
    if free:
        named.update(alpha0=by_chain["alpha0"], alpha1=by_chain["alpha1"], tau=by_chain["tau"])
    for k, a in named.items():
        if a.shape[1] >= 4:
            ess[k] = float(az.ess(a, method="bulk"))
            if a.shape[0] >= 2:
                rhat[k] = float(az.rhat(a))
    return {"ess": ess, "rhat": rhat}


# --------------------------------------------------------------------------- the error families' growth model
PRIOR_GAMMA0, PRIOR_GAMMA, PRIOR_OMEGA = 1.0, 1.0, 0.5
CENTRED_SE = 0.2  # "auto": centred ln g_k when every training row has rate_se < this share of its rate


def growth_model(xs, off, g, g_se, ls, ls_var, *, centred: bool = False):
    r"""numpyro model of the growth regression (`fit_growth`); arrays `(K, P)` and `(K,)`."""
    import numpyro
    import numpyro.distributions as dist

    K, P = xs.shape
    b0 = numpyro.sample("beta0", dist.Normal(0.0, PRIOR_BETA0))
    b = numpyro.sample("beta", dist.Normal(0.0, PRIOR_BETA).expand([P]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(PRIOR_SIGMA))
    mu = off + b0 + xs @ b
    if centred:
        lg = numpyro.sample("log_growth", dist.Normal(mu, sigma).to_event(1))
    else:
        eps = numpyro.sample("eps", dist.Normal(0.0, 1.0).expand([K]).to_event(1))
        lg = mu + sigma * eps
    c0 = numpyro.sample("gamma0", dist.Normal(0.0, PRIOR_GAMMA0))
    c = numpyro.sample("gamma", dist.Normal(0.0, PRIOR_GAMMA).expand([P]).to_event(1))
    omega = numpyro.sample("omega", dist.HalfNormal(PRIOR_OMEGA))
    ll_g = -0.5 * ((g - jnp.exp(lg)) / g_se) ** 2
    v = omega**2 + ls_var
    ll_s = -0.5 * (ls - off - c0 - xs @ c) ** 2 / v - 0.5 * jnp.log(v)
    numpyro.factor("loglik", jnp.sum(ll_g) + jnp.sum(ll_s))


def fit_growth(design: Design, *, key, num_warmup: int = 1000, num_samples: int = 1000, num_chains: int = 4,
               parameterization: str = "auto", chain_method: str = "vectorized") -> GrowthPosterior:
    r"""Fit the growth model of an error design (``design.model == "error"``) by NUTS; derived here.

    **The error families** (MLP regression's ``test_mse``, the transformer's ``perplexity``) declare the
    error-growth model (`jaxcollapse.bayes.models.error_model`): increments $d_t = e_{t+1} - e_t$ of the
    headline error with mean $\sigma^2 h + b$. For a learned family $h$ is unknown, so the growth is one lumped
    term $g$ per generation. Per configuration $k$ and chain $c$ the model is
    $d_{t,c} = g_k + s_k z_{t,c}$, $z \sim N(0, 1)$.

    **Targets** (per configuration, from the recursion; ``benchmarks/heldout.py``): the growth $\hat g_k$,
    the mean of the $C G$ increments, with the standard error $\mathrm{se}_k$ = the standard deviation of the
    per-chain mean increments $(e_{G,c} - e_{0,c})/G$ over $\sqrt C$ (chains are independent; generations
    within a chain need not be); and the increments' standard deviation $\hat s_k$ from $N_k$ of them
    (`step_count`), whose log is $N(\ln s_k, v_k)$ with $v_k = 1/(2(N_k - 1))$ (the delta method on a
    chi-square with $N_k - 1$ degrees of freedom).

    **Regression.** With the one-step covariate $o_k = \ln(\bar e_1 - \bar e_0)$ (the log of the mean first
    increment over the one-step fits, `jaxcollapse.predict.measure`) as an offset,

    $$\ln g_k = o_k + \beta_0 + \textstyle\sum_j\beta_j\tilde x_{kj} + \sigma\varepsilon_k, \qquad
    \ln s_k = o_k + \gamma_0 + \textstyle\sum_j\gamma_j\tilde x_{kj} + \omega\nu_k,$$

    ($\tilde x$ standardized on the training rows, $o_k$ among them; $\varepsilon_k, \nu_k \sim N(0, 1)$). At
    $\beta = 0$, $\sigma = 0$ every generation adds the first step's increment (the constant-increment error
    model read off one step); $\beta_0$ and the $\beta_j$ measure the departure from it (e.g. increments that
    shrink with the generation: $\beta_0 < 0$). The log scale: the growth is positive, and the knobs act on it
    multiplicatively (a finite-sample term $\propto 1/n$ is linear in $\ln n$ there). Checked on the shipped
    designs (``benchmarks/heldout.py``, `scale_check`: leave-one-out least squares, RMSE over the growths' sd):
    the transformer's growth is fitted better on the log scale (0.24 against 0.41 on the linear scale, with
    $e^{o}$ in place of $o$); the MLP's slightly worse (0.56 against 0.46), but the linear fit predicts a
    growth <= 0 for 3 of its 36 configurations, so one scale, the log one, serves both (its held-out 90%
    intervals are calibrated on both: README). Likelihood: $\hat g_k \sim N(g_k, \mathrm{se}_k^2)$ (the error
    model's normal quasi-likelihood, by the central limit theorem over chains: a measured growth at or below zero is
    admissible), and $\ln\hat s_k \sim N(o_k + \gamma_0 + \gamma\cdot\tilde x_k, \omega^2 + v_k)$ ($\nu_k$
    integrated out). Priors as the spread model's: $\beta_0, \beta_j, \gamma_0, \gamma_j \sim N(0, 1)$ (a
    factor $e$ per standard deviation of a covariate), $\sigma, \omega \sim \text{HalfNormal}(0.5)$.

    **Prediction** (`GrowthPosterior.predict`): per draw, fresh $\varepsilon, \nu$, $g$ and $s$ from the
    regressions, and one chain's path $e_h = e_0 + \sum_{j \le h}(g + s z_j)$, reported in units of the error
    after one refit, $e_1 = e_0 + e^{o}$; the crossing generation is the first $h \ge 1$ with $e_h / e_1$ at
    or above the threshold. What the model leaves out: increments that change with the generation (the
    transformer's shrink; its recipe is marked unreliable) and a per-chain persistent growth (the held-out
    crossing coverage in the README measures both).

    `parameterization`: ``"centred"`` samples $\ln g_k$ directly, ``"noncentred"`` samples $\varepsilon_k$;
    ``"auto"``: centred when every training row has $\mathrm{se}_k < 0.2\,\hat g_k$ (`CENTRED_SE`: data that
    pin $g_k$ make the non-centred ridge of `fit_covariates`).
    """
    if not isinstance(design, Design) or design.model != "error":
        raise ValueError("design must be an error Design (read_design of a model=error design)")
    _check_key(key)
    _check_sampler(num_warmup, num_samples, num_chains, chain_method)
    check_design(design)
    d = design.subset(design.trained)
    xs, center, scale = _standardize(d)
    off = d.x[:, d.columns.index("one_step")]
    centred = parameterization == "centred" or (parameterization == "auto"
                                                and bool(np.all(d.rate_se < CENTRED_SE * d.rate)))
    ls = np.log(d.step_sd)
    lv = 1.0 / (2.0 * (d.step_count - 1.0))
    with x64():
        args = tuple(jnp.asarray(a, jnp.float64) for a in (xs, off, d.rate, d.rate_se, ls, lv))
        fn = functools.partial(growth_model, centred=centred)
        raw, div = run_nuts(fn, ("growth", centred, xs.shape), args, key, num_warmup=int(num_warmup),
                            num_samples=int(num_samples), num_chains=int(num_chains), chain_method=chain_method)
    by_chain = {k: np.asarray(v, np.float64) for k, v in raw.items()}
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in by_chain.items()}
    if centred:
        lg = flat["log_growth"]
    else:
        lg = off + flat["beta0"][:, None] + flat["beta"] @ xs.T + flat["sigma"][:, None] * flat["eps"]
    draws = {k: v for k, v in flat.items() if k not in ("eps", "log_growth")}
    draws.update(log_growth=lg, rate=np.exp(lg))
    info = {"num_chains": int(num_chains), "num_samples": int(num_samples), "num_warmup": int(num_warmup),
            "divergences": int(np.asarray(div).sum()), "parameterization": "centred" if centred else "noncentred"}
    info.update(_growth_diagnostics(by_chain, d.columns))
    warns = []
    if info["divergences"]:
        warns.append(f"{info['divergences']} divergent transitions: the posterior may be biased (more warmup)")
    bad = [k for k, r in info["rhat"].items() if r > 1.05]
    if bad:
        warns.append(f"R-hat above 1.05 for {', '.join(bad)}: the chains disagree (more warmup or samples)")
    info["warnings"] = warns
    return GrowthPosterior(d.columns, center, scale, draws, "none", math.nan, d, info)


def _growth_diagnostics(by_chain: dict, columns) -> dict:
    az = _arviz()
    ess, rhat = {}, {}
    named = {"beta0": by_chain["beta0"], "sigma": by_chain["sigma"], "gamma0": by_chain["gamma0"],
             "omega": by_chain["omega"]}
    for j, cname in enumerate(columns):
        named[f"beta[{cname}]"] = by_chain["beta"][:, :, j]
        named[f"gamma[{cname}]"] = by_chain["gamma"][:, :, j]
    for k, a in named.items():
        if a.shape[1] >= 4:
            ess[k] = float(az.ess(a, method="bulk"))
            if a.shape[0] >= 2:
                rhat[k] = float(az.rhat(a))
    return {"ess": ess, "rhat": rhat}


@dataclass(frozen=True, eq=False)
class GrowthPosterior(CovariatePosterior):
    r"""Posterior draws of the growth model of an error design (`fit_growth`): ``beta0``, ``beta`` `(S, P)`,
    ``sigma`` (the growth regression), ``gamma0``, ``gamma``, ``omega`` (the increments' spread); per training row
    ``log_growth`` and ``rate`` (the growth $g_k$) `(S, K)`. `n_eff_mode` is ``"none"``."""

    def coefficients(self) -> dict[str, np.ndarray]:
        out = {"beta0": self.draws["beta0"]}
        for j, c in enumerate(self.columns):
            out[f"beta[{c}]"] = self.draws["beta"][:, j]
        out["sigma"] = self.draws["sigma"]
        out["gamma0"] = self.draws["gamma0"]
        for j, c in enumerate(self.columns):
            out[f"gamma[{c}]"] = self.draws["gamma"][:, j]
        out["omega"] = self.draws["omega"]
        return out

    def summary(self) -> str:
        d = self.design
        lines = [f"hierarchical growth model over {d.K} configurations{' of ' + d.family if d.family else ''}: "
                 "ln g = one_step + beta0 + sum_j beta_j (x_j - mean_j)/sd_j + sigma eps; ln s (one chain's "
                 f"increment sd) = one_step + gamma0 + gamma.x~ + omega nu; {self.info.get('num_chains')} chains x "
                 f"{self.info.get('num_samples')} draws, {self.info.get('divergences', 0)} divergences",
                 f"{'':>24} {'mean':>11} {'sd':>10} {'5%':>11} {'95%':>11} {'ess':>7} {'r_hat':>6} {'x mean':>10} "
                 f"{'x sd':>9}"]
        ess, rhat = self.info.get("ess", {}), self.info.get("rhat", {})
        for name, a in self.coefficients().items():
            q5, q95 = np.quantile(a, [0.05, 0.95])
            extra = ""
            if name.startswith(("beta[", "gamma[")):
                j = self.columns.index(name[name.index("[") + 1:-1])
                extra = f" {self.center[j]:10.4g} {self.scale[j]:9.3g}"
            lines.append(f"{name:>24} {a.mean():11.5g} {a.std():10.3g} {q5:11.5g} {q95:11.5g} "
                         f"{ess.get(name, float('nan')):7.0f} {rhat.get(name, float('nan')):6.3f}{extra}")
        lines.append("g: the growth of the headline error per generation (its units); beta_j, gamma_j per standard "
                     "deviation of x_j")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _row_kw(self, design: Design, i: int) -> dict:
        return {"start": float(design.e0[i])}

    def predict(self, x: Mapping[str, float], n: float, *, key, horizon: int = 50, threshold: float | None = None,
                start: float = 0.0, label: str = "", metric: str | None = None) -> RatePrediction:
        r"""The posterior predictive of a new configuration's growth per generation, one chain's path and its
        crossing (`fit_growth`). `x`: every covariate by name (``one_step`` among them); `n`: its sample size;
        `start`: the error at generation 0, $e_0$ (finite); `threshold`: a level of $e_h / e_1$ above
        $e_0 / e_1$ (the error after one refit is 1); `metric`: the headline metric's name (for the summary)."""
        xr = self._row(x)
        nn = _check_predict_args(n, key, horizon)
        if metric is None:
            from ..predict import FAMILIES

            fam = FAMILIES.get(self.design.family)
            metric = fam.metric if fam is not None else "error"
        e0 = float(start)
        if not math.isfinite(e0):
            raise ValueError(f"start (the error at generation 0) must be a finite number, got {start!r}")
        inc1 = math.exp(xr[self.columns.index("one_step")])
        e1 = e0 + inc1
        if not e1 > 0:
            raise ValueError(f"the error after one refit, e_1 = start + exp(one_step) = {e1:g}, must be > 0")
        p0 = e0 / e1
        thr = None
        if threshold is not None:
            thr = float(threshold)
            if not (math.isfinite(thr) and thr > p0):
                raise ValueError(f"threshold must be a finite level of the error relative to e_1 above the start "
                                 f"e_0/e_1 = {p0:.4g}, got {threshold!r}")
        rng = _host_rng(key)
        dr = self.draws
        S = dr["beta0"].shape[0]
        xs = (xr - self.center) / self.scale
        o = math.log(inc1)
        g = np.exp(o + dr["beta0"] + dr["beta"] @ xs + dr["sigma"] * rng.standard_normal(S))
        sd = np.exp(o + dr["gamma0"] + dr["gamma"] @ xs + dr["omega"] * rng.standard_normal(S))
        H = int(horizon)
        steps = g[:, None] + sd[:, None] * rng.standard_normal((S, H))
        paths = (e0 + np.concatenate([np.zeros((S, 1)), np.cumsum(steps, axis=1)], axis=1)) / e1
        warns = self._extrapolation(xr, nn)
        crossing = None if thr is None else _crossing(paths, thr, True, self.design, warns)
        return RatePrediction(label, g, None, None, np.arange(H + 1), paths, thr, crossing, p0, tuple(warns),
                              quantity="growth", metric=metric, step_sd=sd, unit=e1)

    def _extrapolation(self, xr: np.ndarray, n: float) -> list[str]:
        d, out = self.design, _column_warnings(self.design, self.columns, xr)
        lo, hi = float(d.n.min()), float(d.n.max())
        if "ln_n" not in self.columns and (n < lo / (1 + EXTRAPOLATE) or n > hi * (1 + EXTRAPOLATE)):
            out.append(f"n = {n:g} is outside the training range [{lo:g}, {hi:g}] (the design holds n fixed): the "
                       "prediction extrapolates")
        return out
