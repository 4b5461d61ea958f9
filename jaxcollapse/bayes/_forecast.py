r"""Forecasts of a statistic over future generations, and of when it crosses a threshold.

**Spread model** (a posterior *predictive*): for each posterior draw $(n_{\rm eff}, \kappa)$,
$$\ln s_{T+h} = \ln s_T + \sum_{j=1}^{h}\big[\ln\kappa + \ln(\chi^2_{n_{\rm eff}-1, j}/m)\big],$$
with fresh chi-square draws, so the fan holds both the posterior uncertainty and the randomness of
the future refits. Its mean log is $\ln s_T - h\,E[r]$.

**Diversity and error models** (the posterior of the *expected* statistic: their quasi-likelihoods
describe the mean change only): $E H_{T+h} = H_T\,[\kappa(1 - 1/n_{\rm eff})]^h$ and
$E e_{T+h} = e_T + h(\sigma^2 h_g + b)$.

The crossing generation of a path is the first $T + h$ ($h \ge 1$) at which it is at or beyond the
threshold (below it when the threshold is below the start, above it otherwise); `inf` where it does
not cross within the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ._fit import Posterior, _check_key

MAX_VALUES = 50_000_000


@dataclass(frozen=True, eq=False)
class Forecast:
    r"""A forecast fan: `paths[s, h, ...]` is the statistic at generation `generations[h]` under draw `s`.

    - `kind`: ``"predictive"`` (spread: future values of one chain) or ``"mean"`` (diversity, error:
      the expected statistic).
    - `crossing`: per draw (and start), the generation at which the threshold is crossed (`inf`: not
      within the horizon); None without a threshold.
    """

    generations: np.ndarray
    paths: np.ndarray
    threshold: float | None
    crossing: np.ndarray | None
    kind: str
    model: str

    def quantile(self, q) -> np.ndarray:
        """Quantile(s) `q` of the statistic per generation (over draws)."""
        return np.asarray(np.quantile(self.paths, q, axis=0))

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        a = (1 - level) / 2
        return self.quantile(a), self.quantile(1 - a)

    def prob_crossed(self, by: int | None = None) -> np.ndarray:
        """Posterior probability that the threshold is crossed by generation `by` (default: the horizon)."""
        if self.crossing is None:
            raise ValueError("this forecast has no threshold")
        by = self.generations[-1] if by is None else by
        return np.asarray(np.mean(self.crossing <= by, axis=0))

    def crossing_quantile(self, q) -> np.ndarray:
        """Quantile(s) of the crossing generation (`inf` where fewer than that share of draws cross)."""
        if self.crossing is None:
            raise ValueError("this forecast has no threshold")
        # integers and inf: no interpolation
        return np.asarray(np.quantile(self.crossing, q, axis=0, method="inverted_cdf"))

    def summary(self) -> str:
        g = self.generations
        lo, med, hi = self.quantile([0.05, 0.5, 0.95])
        what = "value of one chain" if self.kind == "predictive" else "expected value"
        lines = [f"forecast ({self.model} model, {what}) from generation {g[0]} to {g[-1]}, "
                 f"{self.paths.shape[0]} posterior draws",
                 f"{'generation':>10} {'5%':>12} {'median':>12} {'95%':>12}"]
        marks = sorted({0, *(int(round(x)) for x in np.linspace(0, len(g) - 1, 6))})
        for i in marks:
            lines.append(f"{g[i]:>10d} {_fmt(lo[i])} {_fmt(med[i])} {_fmt(hi[i])}")
        if self.crossing is not None:
            c5, c50, c95 = (float(np.ravel(x)[0]) for x in self.crossing_quantile([0.05, 0.5, 0.95]))
            p = float(np.ravel(self.prob_crossed())[0])
            lines.append(f"threshold {self.threshold:.6g}: crossed by generation {g[-1]} with probability {p:.3f}; "
                         f"crossing generation median {_g(c50)}, 90% interval [{_g(c5)}, {_g(c95)}]")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _fmt(x) -> str:
    x = np.ravel(x)[0]
    return f"{float(x):12.5g}"


def _g(x: float) -> str:
    return "> horizon" if math.isinf(x) else f"{x:.0f}"


def _check_threshold(model: str, threshold) -> float | None:
    if threshold is None:
        return None
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number, got {threshold!r}") from None
    if model == "spread" and not (math.isfinite(t) and t > 0):
        raise ValueError(f"threshold {t} is outside the range of a spread statistic (a positive number)")
    if model == "diversity" and not (0 < t < 1):
        raise ValueError(f"threshold {t} is outside the range of a Gini-Simpson diversity (0, 1)")
    if model == "error" and not (math.isfinite(t) and t >= 0):
        raise ValueError(f"threshold {t} is outside the range of a test error (a number >= 0)")
    return t


def _start(post: Posterior, group: int) -> tuple[float, int]:
    last, lt = post.data.last[group], post.data.last_t[group]
    t = int(lt.max())
    vals = last[(lt == t) & np.isfinite(last)]
    return float(np.median(vals)), t


def forecast(posterior: Posterior, horizon: int, threshold: float | None = None, *, key=None, group: int = 0,
             start=None, start_generation: int | None = None, draws: int = 1000) -> Forecast:
    r"""Forecast the statistic `horizon` generations ahead, and when it crosses `threshold`.

    **Arguments:**

    - `posterior`: from `jaxcollapse.bayes.fit`.
    - `horizon`: generations ahead ($\ge 1$).
    - `threshold`: optional level of the statistic (spread: $> 0$; diversity: in $(0, 1)$;
      error: $\ge 0$).
    - `key`: a `jax.random.key` for the future refits (default: derived from the posterior's key).
    - `group`: which group's $n_{\rm eff}$ (and $h_g$) to use.
    - `start`: the starting value(s): a scalar or an array of chains (each gets its own fan,
      `paths[s, h, c]`); default the median over chains of the group's last observed values.
    - `start_generation`: the generation of `start` (default: the group's last observed one).
    - `draws`: posterior draws used (evenly thinned).
    """
    if not isinstance(posterior, Posterior):
        raise ValueError("posterior must be a jaxcollapse.bayes.Posterior (from bayes.fit)")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be an integer >= 1, got {draws!r}")
    model = posterior.model
    thr = _check_threshold(model, threshold)
    G = posterior.data.groups
    if not isinstance(group, (int, np.integer)) or not 0 <= group < G:
        raise ValueError(f"group must be in 0..{G - 1}, got {group!r}")
    if start is None:
        s0, t0 = _start(posterior, group)
    else:
        s0, t0 = start, 0
    if start_generation is not None:
        t0 = int(start_generation)
    s0 = np.atleast_1d(np.asarray(s0, np.float64))
    scalar = np.ndim(start) == 0
    if s0.ndim != 1 or not np.all(np.isfinite(s0)):
        raise ValueError("start must be a finite scalar or a 1-D array of finite values")
    if model in ("spread", "diversity") and np.any(s0 <= 0):
        raise ValueError("start must be positive for a ratio model")
    key = jax.random.fold_in(posterior.key, 1) if key is None else key
    _check_key(key)
    total = posterior.samples("kappa" if model != "error" else "growth").shape[0]
    idx = np.unique(np.linspace(0, total - 1, min(draws, total)).round().astype(int))
    S, H, K = idx.size, int(horizon), s0.size
    if S * (H + 1) * K > MAX_VALUES:
        raise ValueError(f"{S} draws x {H + 1} generations x {K} starts is too large; use fewer draws or starts")
    hs = np.arange(H + 1, dtype=np.float64)
    if model == "spread":
        n = posterior.samples("n_eff")[idx, group]
        lk = np.log(posterior.samples("kappa")[idx])
        if "chain_sd" in posterior.draws:  # a new chain: its own kappa around the shared one
            sd = posterior.samples("chain_sd")[idx]
            lk = lk + sd * np.asarray(jax.random.normal(jax.random.fold_in(key, 7), (S,), jnp.float32))
        m = n if posterior.divisor == "mle" else n - 1.0
        # host-side gamma draws (numpy's are ~20x faster on CPU than jax.random.gamma), seeded by the key
        rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).astype(np.uint64))
        gam = rng.standard_gamma(np.broadcast_to((0.5 * (n - 1.0))[:, None, None], (S, H, K)))
        with np.errstate(divide="ignore"):  # a gamma draw of 0 (tiny n_eff) is a collapse: log -inf, value 0
            steps = np.log(2.0 * gam) - np.log(m)[:, None, None] + lk[:, None, None]
        logs = np.concatenate([np.zeros((S, 1, K)), np.cumsum(steps, axis=1)], axis=1)
        paths = s0[None, None, :] * np.exp(logs)
        kind = "predictive"
    elif model == "diversity":
        q = posterior.samples("kappa")[idx] * (1.0 - 1.0 / posterior.samples("n_eff")[idx, group])
        paths = s0[None, None, :] * q[:, None, None] ** hs[None, :, None]
        kind = "mean"
    else:
        g = posterior.samples("growth")[idx, group]
        paths = s0[None, None, :] + g[:, None, None] * hs[None, :, None]
        kind = "mean"
    crossing = None
    if thr is not None:
        down = thr <= s0  # (K,)
        beyond = np.where(down[None, None, :], paths <= thr, paths >= thr)
        beyond[:, 0, :] = False
        first = np.argmax(beyond, axis=1).astype(np.float64)
        crossing = np.where(beyond.any(axis=1), t0 + first, np.inf)
    gens = t0 + np.arange(H + 1)
    if scalar:
        paths = paths[:, :, 0]
        crossing = None if crossing is None else crossing[:, 0]
    return Forecast(gens, paths, thr, crossing, kind, model)
