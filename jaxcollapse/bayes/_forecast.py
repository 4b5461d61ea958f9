r"""Forecasts of a statistic over future generations, and of when it crosses a threshold.

**Spread model** (a posterior *predictive*): for each posterior draw $(n_{\rm eff}, \kappa)$,
$$\ln s_{T+h} = \ln s_T + \sum_{j=1}^{h}\big[\ln\kappa + \ln(\chi^2_{n_{\rm eff}-1, j}/m)\big],$$
with fresh chi-square draws, so the fan holds both the posterior uncertainty and the randomness of
the future refits. Its mean log is $\ln s_T - h\,E[r]$.

**Diversity and error models** (the posterior of the *expected* statistic: their quasi-likelihoods
describe the mean change only): $E H_{T+h} = \bar H_T\,[\kappa(1 - 1/n_{\rm eff})]^h$ and
$E e_{T+h} = \bar e_T + h(\sigma^2 h_g + b)$, from the mean over the chains at $T$ (absorbed
chains, at 0, included: the diversity's mean law averages over them).

**Absorbed chains** (where the data hold chains absorbed at 0; see `jaxcollapse.bayes._prepare`).
The fraction absorbed at $T$ gets the posterior $A \sim \mathrm{Beta}(a + \tfrac12, l + \tfrac12)$
($a$ absorbed, $l$ live chains observed at $T$; Jeffreys prior) and the per-generation hazard
of absorption of a live chain the posterior $\lambda \sim \mathrm{Beta}(e + \tfrac12,
r - e + \tfrac12)$ from the $e$ absorptions among $r$ chain-generations at risk in the second
half of the observed pairs (a constant hazard: an assumption, stated in the summary). The
absorbed fraction ahead is $1 - (1 - A)(1 - \lambda)^h$ per draw. In the spread model's
predictive fan a path is at 0 from its absorption on (at $T$ with probability $A$, then with
probability $\lambda$ per generation), so the fan's median is 0 once most chains are absorbed.
Without absorbed chains in the data nothing is absorbed in the forecast.

The crossing generation of a path is the first $T + h$ ($h \ge 1$) at which it is at or beyond the
threshold (below it when the threshold is below the start, above it otherwise); `inf` where it does
not cross within the horizon; $T$ for a path absorbed at 0 at $T$.
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
    - `absorbed`: per draw, the fraction of chains absorbed at 0 at each generation, `(draws,
      generations)`; None where the data hold no absorbed chain.
    - `warnings`: the posterior's warnings (where the data contradict the model).
    - `caveat`: where the forecast is of a family whose recipe declares ``forecast_reliable = False``
      (`forecast`'s ``family=``), the one-line warning that says so (`family_caveat`); ``""`` otherwise.
      `summary` prints it, `forecast_fan` puts it in the title and under the figure.
    """

    generations: np.ndarray
    paths: np.ndarray
    threshold: float | None
    crossing: np.ndarray | None
    kind: str
    model: str
    absorbed: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    hazard_note: str = ""
    caveat: str = ""

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

    def summary(self, warnings: bool = True) -> str:
        """A printable table of the fan (5%, median, 95%), the absorbed fraction, the crossing, the warnings."""
        g = self.generations
        lo, med, hi = self.quantile([0.05, 0.5, 0.95])
        what = "value of one chain" if self.kind == "predictive" else "expected value"
        lines = [f"forecast ({self.model} model, {what}) from generation {g[0]} to {g[-1]}, "
                 f"{self.paths.shape[0]} posterior draws",
                 f"{'generation':>10} {'5%':>12} {'median':>12} {'95%':>12}"
                 + (f" {'absorbed':>9}" if self.absorbed is not None else "")]
        marks = sorted({0, *(int(round(x)) for x in np.linspace(0, len(g) - 1, 6))})
        ab = None if self.absorbed is None else self.absorbed.mean(axis=0)
        for i in marks:
            lines.append(f"{g[i]:>10d} {_fmt(lo[i])} {_fmt(med[i])} {_fmt(hi[i])}"
                         + (f" {float(ab[i]):9.1%}" if ab is not None else ""))
        if self.absorbed is not None:
            a5, a95 = np.quantile(self.absorbed[:, -1], [0.05, 0.95])
            lines.append(f"absorbed at 0 by generation {g[-1]}: {float(ab[-1]):.1%} (90% interval {a5:.1%} to "
                         f"{a95:.1%}); {self.hazard_note}")
        if self.crossing is not None:
            c5, c50, c95 = (float(np.ravel(x)[0]) for x in self.crossing_quantile([0.05, 0.5, 0.95]))
            p = float(np.ravel(self.prob_crossed())[0])
            lines.append(f"threshold {self.threshold:.6g}: crossed by generation {g[-1]} with probability {p:.3f}; "
                         f"crossing generation median {_g(c50)}, 90% interval [{_g(c5)}, {_g(c95)}]")
        lines += [f"warning: {w}" for w in self.warnings] if warnings else []
        lines += [f"warning: {self.caveat}"] if self.caveat else []  # always: no other output carries it
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _fmt(x) -> str:
    x = np.ravel(x)[0]
    return f"{float(x):12.5g}"


def _g(x: float) -> str:
    return "> horizon" if math.isinf(x) else f"{x:.0f}"


def family_caveat(family) -> str:
    """The warning that a forecast of `family` (a recipe name or `Recipe`) carries: ``""`` where its recipe
    declares ``forecast_reliable = True`` (the default), else one line naming the family and the measured reason
    (``forecast_caveat``; see ``benchmarks/calibration.py``). An unknown name is a `ValueError`."""
    from .. import recipes

    r = recipes.get(family) if isinstance(family, str) else family
    if not isinstance(r, recipes.Recipe):
        raise ValueError(f"family must be a recipe name or a Recipe, got {family!r}")
    if r.forecast_reliable:
        return ""
    return f"the forecast of family {r.name!r} is marked unreliable: {r.forecast_caveat}"


def check_threshold(model: str, threshold) -> float | None:
    """`threshold` as a float, or a `ValueError` naming the model's range (None passes)."""
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


def forecast_start(posterior: Posterior, group: int = 0) -> tuple[float, int]:
    """The default start of `forecast` and its generation index in the group's data.

    The last generation at which any chain is observed; the spread model starts from the median of
    the *live* chains there (the absorbed ones enter as the absorbed fraction), the diversity and error
    models from the mean over all chains there (their laws are about the expected statistic).
    """
    v = posterior.data.values[group]
    rows = np.flatnonzero((~np.isnan(v)).any(axis=1))
    t = int(rows[-1])
    row = v[t][np.isfinite(v[t])]
    if posterior.model == "spread":
        live = row[row > 0]
        if live.size == 0:  # every chain absorbed at T: start from the last live generation's median
            live_rows = np.flatnonzero((v > 0).any(axis=1))
            live = v[live_rows[-1]][v[live_rows[-1]] > 0]
        return float(np.median(live)), t
    return float(np.mean(row)), t


def _absorption(post: Posterior, group: int, S: int, rng, initial: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Per draw: the absorbed fraction at T (`A`, zeros unless `initial`) and the hazard; and the note."""
    d = post.data
    a = d.absorbed[group]
    t = int(np.flatnonzero(np.isfinite(a))[-1])
    v = d.values[group][t]
    obs = int(np.isfinite(v).sum())
    k = int(np.sum(v == 0))
    risk, ev = d.at_risk[group], d.events[group]
    half = slice(len(risk) // 2, None) if risk[len(risk) // 2:].sum() > 0 else slice(None)
    r, e = int(risk[half].sum()), int(ev[half].sum())
    A = rng.beta(k + 0.5, obs - k + 0.5, S) if initial else np.zeros(S)
    hz = rng.beta(e + 0.5, r - e + 0.5, S)
    note = (f"a constant hazard per generation, {e} absorption(s) in {r} live chain-generations of the second half "
            f"of the data (rate {(e + 0.5) / (r + 1):.3g})")
    return A, hz, note


def _spread_paths(post, idx, group, s0, H, key):
    """Predictive paths of the live chain(s) from `s0` `(K,)`: shape `(S, H + 1, K)`."""
    S, K = idx.size, s0.size
    n = post.samples("n_eff")[idx, group]
    lk = np.log(post.samples("kappa")[idx])
    if "chain_sd" in post.draws:  # a new chain: its own kappa around the shared one
        sd = post.samples("chain_sd")[idx]
        lk = lk + sd * np.asarray(jax.random.normal(jax.random.fold_in(key, 7), (S,), jnp.float32))
    m = n if post.divisor == "mle" else n - 1.0
    # host-side gamma draws (numpy's are ~20x faster on CPU than jax.random.gamma), seeded by the key
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).astype(np.uint64))
    gam = rng.standard_gamma(np.broadcast_to((0.5 * (n - 1.0))[:, None, None], (S, H, K)))
    with np.errstate(divide="ignore"):  # a gamma draw of 0 (tiny n_eff) is a collapse: log -inf, value 0
        steps = np.log(2.0 * gam) - np.log(m)[:, None, None] + lk[:, None, None]
    logs = np.concatenate([np.zeros((S, 1, K)), np.cumsum(steps, axis=1)], axis=1)
    return s0[None, None, :] * np.exp(logs)


def _check_forecast_args(posterior, horizon, draws, group) -> None:
    if not isinstance(posterior, Posterior):
        raise ValueError("posterior must be a jaxcollapse.bayes.Posterior (from bayes.fit)")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be an integer >= 1, got {draws!r}")
    G = posterior.data.groups
    if not isinstance(group, (int, np.integer)) or not 0 <= group < G:
        raise ValueError(f"group must be in 0..{G - 1}, got {group!r}")


def forecast(posterior: Posterior, horizon: int, threshold: float | None = None, *, key=None, group: int = 0,
             start=None, start_generation: int | None = None, draws: int = 1000, family=None) -> Forecast:
    r"""Forecast the statistic `horizon` generations ahead, and when it crosses `threshold`.

    **Arguments:**

    - `posterior`: from `jaxcollapse.bayes.fit`.
    - `horizon`: generations ahead ($\ge 1$).
    - `threshold`: optional level of the statistic (spread: $> 0$; diversity: in $(0, 1)$;
      error: $\ge 0$).
    - `key`: a `jax.random.key` for the future refits (default: derived from the posterior's key).
    - `group`: which group's $n_{\rm eff}$ (and $h_g$) to use.
    - `start`: the starting value(s): a scalar or an array of chains (each gets its own fan,
      `paths[s, h, c]`); default `forecast_start` (with the absorbed fraction at the last observed
      generation where chains are absorbed at 0). An explicit start is live: only later
      absorptions enter.
    - `start_generation`: the generation of `start` (default: the group's last observed one).
    - `draws`: posterior draws used (evenly thinned).
    - `family`: the recipe (name or `Recipe`) whose headline metric this is; where it declares its forecast
      unreliable (measured, ``benchmarks/calibration.py``), the forecast's `caveat` says so.
    """
    _check_forecast_args(posterior, horizon, draws, group)
    caveat = "" if family is None else family_caveat(family)
    model = posterior.model
    thr = check_threshold(model, threshold)
    default = start is None
    if default:
        s0, t0 = forecast_start(posterior, group)
    else:
        s0, t0 = start, 0
    if start_generation is not None:
        t0 = int(start_generation)
    scalar = np.ndim(s0) == 0
    s0 = np.atleast_1d(np.asarray(s0, np.float64))
    if s0.ndim != 1 or not np.all(np.isfinite(s0)):
        raise ValueError("start must be a finite scalar or a 1-D array of finite values")
    if model == "spread" and np.any(s0 <= 0):
        raise ValueError("start must be positive for the spread model (an absorbed chain stays at 0)")
    if model == "diversity" and np.any(s0 < 0):
        raise ValueError("start must be >= 0 for the diversity model")
    key = jax.random.fold_in(posterior.key, 1) if key is None else key
    _check_key(key)
    total = posterior.samples("rate" if model != "error" else "growth").shape[0]
    idx = np.unique(np.linspace(0, total - 1, min(draws, total)).round().astype(int))
    S, H, K = idx.size, int(horizon), s0.size
    if S * (H + 1) * K > MAX_VALUES:
        raise ValueError(f"{S} draws x {H + 1} generations x {K} starts is too large; use fewer draws or starts")
    hs = np.arange(H + 1, dtype=np.float64)
    absorbed, note = None, ""
    if posterior.data.absorbing:
        rng = np.random.default_rng(np.asarray(jax.random.key_data(jax.random.fold_in(key, 3))).astype(np.uint64))
        A, hz, note = _absorption(posterior, group, S, rng, default)
        absorbed = 1.0 - (1.0 - A[:, None]) * (1.0 - hz[:, None]) ** hs[None, :]
    if model == "spread":
        paths = _spread_paths(posterior, idx, group, s0, H, key)
        if absorbed is not None:  # each path: absorbed at T w.p. A, then w.p. hz per generation
            u = rng.random((S, 1, K))
            paths = np.where(u < absorbed[:, :, None], 0.0, paths)
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
        beyond[:, 0, :] &= paths[:, 0, :] != s0[None, :]  # only a path absorbed at T has crossed at T
        first = np.argmax(beyond, axis=1).astype(np.float64)
        crossing = np.where(beyond.any(axis=1), t0 + first, np.inf)
    gens = t0 + np.arange(H + 1)
    if scalar:
        paths = paths[:, :, 0]
        crossing = None if crossing is None else crossing[:, 0]
    return Forecast(gens, paths, thr, crossing, kind, model, absorbed, posterior.warnings, note, caveat)
