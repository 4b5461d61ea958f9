r"""What each generation trains on: orthogonal knobs, and the literature's loops as presets.

A `Regime` is a pytree. Fields that set array shapes or choose code paths are static
(`memory`, `real`, `n_real`, `subsample`, the schedule's kind); everything else
(the synthetic sample size on the exact path, $\lambda$, $w$, the temperature $\tau$, the
drift $v$) is an array, so it can be vmapped over in a sweep without recompiling.

Generation $t = 1, 2, \dots$ fits model $t$ on data made by model $t-1$ (model 0 is the truth):

- **synthetic data**: $n_t$ samples from model $t-1$ at temperature $\tau$, i.e. from
  $N(\mu_{t-1}, \tau^2\Sigma_{t-1})$ for the Gaussian; $n_t$ follows a `Schedule`, or is
  $\mathrm{round}(\lambda\, n_{\rm real})$ when `lam` is set (augment);
- **memory**: ``"replace"`` (only this generation's synthetic data), ``"accumulate"`` (all
  synthetic data so far), ``"accumulate_subsample"`` (a uniform subsample of fixed size drawn
  without replacement from all synthetic data so far; sample path only);
- **real data**: ``"none"``, ``"fixed"`` (one real set of `n_real` draws from the initial
  truth, reused every generation) or ``"fresh"`` (`n_real` new draws from the current truth);
- **weight**: pooled (every sample counts once) or, with `w` set, the weighted MLE giving the
  real data total weight $w$ and the synthetic data $1 - w$;
- **truth drift**: the truth's mean moves by $v$ per generation; metrics are measured against
  the current truth;
- **repair** (off unless set; `self_correct`, `extrapolate`): *self-correction* with strength
  $\gamma \ge 0$ (Gillman et al. 2024) draws each synthetic sample from
  $\pi_\gamma = \frac{1}{1+\gamma}\,p_{t-1} + \frac{\gamma}{1+\gamma}\,p^*$ instead of the model
  $p_{t-1}$; *negative extrapolation* with weight $w \in [0, 1)$ (Alemohammad et al. 2025, "Neon") sets
  model $t$ to $(1+w)\,\theta_{\rm real} - w\,\theta_{\rm syn}$, the fits to the real and to the
  synthetic data of generation $t$ (families whose parameters form a vector).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._validate import concrete as _concrete

MEMORIES = ("replace", "accumulate", "accumulate_subsample")
REALS = ("none", "fixed", "fresh")
SCHEDULES = ("constant", "linear", "power")


def _arr(x):
    return jnp.asarray(x, jnp.result_type(float))


class Schedule(eqx.Module):
    r"""Synthetic sample size per generation, $n_t$ for $t = 1, 2, \dots$ (floored to integers).

    ``constant``: $n_0$; ``linear``: $n_0 + r (t - 1)$; ``power``: $n_0\, t^{r}$.
    """

    kind: str = eqx.field(static=True)
    n0: Float[Array, ""] = eqx.field(converter=_arr)
    rate: Float[Array, ""] = eqx.field(converter=_arr)

    def __check_init__(self):
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}; choose one of {SCHEDULES}")
        n0 = _concrete(self.n0)
        if n0 is not None and (not np.isfinite(n0) or n0 < 1):
            raise ValueError(f"sample size must be >= 1, got {float(n0)}")
        r = _concrete(self.rate)
        if r is not None and self.kind == "linear" and r < 0:
            raise ValueError(f"a linear schedule needs a rate >= 0, got {float(r)}")

    def __call__(self, t) -> Float[Array, "*t"]:
        t = jnp.asarray(t, self.n0.dtype)
        if self.kind == "constant":
            n = self.n0 + 0.0 * t
        elif self.kind == "linear":
            n = self.n0 + self.rate * (t - 1.0)
        else:
            n = self.n0 * t**self.rate
        return jnp.floor(n + 1e-6)

    def concrete_range(self, generations: int) -> tuple[int, int] | None:
        """(min, max) of $n_t$ over $t = 1..G$ when the schedule is concrete, else None."""
        n0, r = _concrete(self.n0), _concrete(self.rate)
        if n0 is None or r is None:
            return None
        # every schedule is monotone in t (a linear rate is >= 0), so its extremes are at t = 1 and t = G:
        # two values, not G (a huge --generations must be refused by the memory check, not allocated here)
        t = np.array([1, max(1, generations)], dtype=np.float64)
        if self.kind == "constant":
            n = np.full_like(t, float(n0))
        elif self.kind == "linear":
            n = float(n0) + float(r) * (t - 1)
        else:
            n = float(n0) * t ** float(r)
        n = np.floor(n + 1e-6)
        return int(n.min()), int(n.max())


def constant(n) -> Schedule:
    """$n_t = n$."""
    return Schedule("constant", n, 0.0)


def linear(n0, rate) -> Schedule:
    """$n_t = n_0 + r(t-1)$: superlinear growth of $\\sum 1/n_t$ is what avoids collapse."""
    return Schedule("linear", n0, rate)


def power(n0, exponent) -> Schedule:
    """$n_t = n_0 t^p$; $\\sum_t 1/n_t < \\infty$ iff $p > 1$."""
    return Schedule("power", n0, exponent)


def _as_schedule(n) -> Schedule:
    return n if isinstance(n, Schedule) else constant(n)


class Regime(eqx.Module):
    """The data each generation trains on. Build one with a preset (`replace`, `accumulate`, ...)."""

    n: Schedule
    memory: str = eqx.field(static=True)
    real: str = eqx.field(static=True)
    n_real: int = eqx.field(static=True)
    subsample: int = eqx.field(static=True)
    lam: Float[Array, ""] | None
    w: Float[Array, ""] | None
    temperature: Float[Array, ""] = eqx.field(converter=_arr)
    drift: Float[Array, "..."] = eqx.field(converter=_arr)
    name: str = eqx.field(static=True)
    curation: Any = None  # a `jaxcollapse.curation.Curation` (sample path), set by `curation.curate`
    correction: Float[Array, ""] | None = None  # self-correction strength gamma (`self_correct`); None: off
    extrapolation: Float[Array, ""] | None = None  # negative-extrapolation weight w (`extrapolate`); None: off

    def __check_init__(self):
        if self.memory not in MEMORIES:
            raise ValueError(f"unknown memory {self.memory!r}; choose one of {MEMORIES}")
        if self.real not in REALS:
            raise ValueError(f"unknown real-data mode {self.real!r}; choose one of {REALS}")
        if self.real != "none" and self.n_real < 1:
            raise ValueError(f"n_real must be >= 1 with real data {self.real!r}, got {self.n_real}")
        lam = None if self.lam is None else _concrete(self.lam)
        if lam is not None and not (np.all(np.isfinite(lam)) and np.all(lam >= 0)):
            raise ValueError(f"lambda (synthetic samples per real sample) must be a finite number >= 0, got {lam}")
        w = None if self.w is None else _concrete(self.w)
        if w is not None and not (np.all(np.isfinite(w)) and np.all((w >= 0) & (w <= 1))):
            raise ValueError(f"w must lie in [0, 1], got {w}")
        if self.lam is not None and self.real == "none":
            raise ValueError("lambda scales the synthetic data against a real set: give real data")
        if self.w is not None and self.real == "none":
            raise ValueError("the weight w is the real data's share: give real data")
        tau = _concrete(self.temperature)
        if tau is not None and not (np.all(np.isfinite(tau)) and np.all(tau > 0)):
            raise ValueError(f"temperature tau must be > 0, got {tau}")
        dr = _concrete(self.drift)
        if dr is not None and (dr.ndim > 1 or not np.all(np.isfinite(dr))):
            raise ValueError("drift must be a finite scalar or vector")
        if self.memory == "accumulate_subsample" and self.subsample < 1:
            raise ValueError(f"the subsample size must be >= 1, got {self.subsample}")
        g = None if self.correction is None else _concrete(self.correction)
        if g is not None and not (np.ndim(g) == 0 and np.isfinite(g) and g >= 0):
            raise ValueError(f"correction = {_show(g)} is invalid: the self-correction strength gamma must be a finite "
                             "number >= 0 (0: no correction)")
        x = None if self.extrapolation is None else _concrete(self.extrapolation)
        if x is not None and not (np.ndim(x) == 0 and np.isfinite(x) and 0 <= x < 1):
            raise ValueError(f"extrapolation = {_show(x)} is invalid: the negative-extrapolation weight w must lie "
                             "in [0, 1)")
        if self.extrapolation is not None and self.real == "none":
            raise ValueError(f"extrapolation (Neon) combines a fit to the real data with a fit to the synthetic data, "
                             f"and regime {self.name!r} has no real data: use regime augment or fresh")
        if self.extrapolation is not None and self.w is not None:
            raise ValueError(f"extrapolation replaces the weighted fit of regime {self.name!r}, so its weight w would "
                             "have no role: use regime augment or fresh with extrapolation")

    # The engine asks these.
    def synthetic_count(self, t) -> Float[Array, ""]:
        """$n_t$, the number of synthetic samples drawn in generation $t$."""
        if self.lam is not None:
            return jnp.round(self.lam * self.n_real) + 0.0 * jnp.asarray(t, self.lam.dtype)
        return self.n(t)

    def synthetic_capacity(self, generations: int) -> int | None:
        """The largest $n_t$ over the run, or None when it is traced. With $\\lambda$ set (augment): at least
        `n_real` (the capacity for any $\\lambda \\le 1$), and $\\mathrm{round}(\\lambda\\, n_{\rm real})$ above."""
        r = self.synthetic_range(generations)
        if r is None:
            return None
        return max(self.n_real, r[1]) if self.lam is not None else r[1]

    def synthetic_range(self, generations: int) -> tuple[int, int] | None:
        """(min, max) of $n_t$ over $t = 1..G$, or None when it is traced."""
        if self.lam is not None:
            lam = _concrete(self.lam)
            if lam is None:
                return None
            k = np.round(lam * self.n_real)  # in lam's own dtype, as `synthetic_count` computes it
            return int(np.min(k)), int(np.max(k))
        return self.n.concrete_range(generations)

    def min_train_size(self, generations: int = 1) -> int | None:
        """The fewest samples any fit sees (for estimator checks), or None when traced."""
        if self.memory == "accumulate_subsample":
            return self.subsample
        if self.lam is not None:
            lam = _concrete(self.lam)
            if lam is None:
                return None
            syn = int(np.round(np.min(lam) * self.n_real))
        else:
            r = self.n.concrete_range(generations)
            if r is None:
                return None
            syn = r[0]
        return syn + (self.n_real if self.real != "none" else 0)

    def describe(self) -> str:
        parts = [self.name, f"memory={self.memory}", f"real={self.real}"]
        if self.real != "none":
            parts.append(f"n_real={self.n_real}")
        if self.lam is None:
            parts.append(f"n={self.n.kind}({_fmt(self.n.n0)}" + (
                f", {_fmt(self.n.rate)})" if self.n.kind != "constant" else ")"))
        else:
            parts.append(f"lambda={_fmt(self.lam)}")
        if self.w is not None:
            parts.append(f"w={_fmt(self.w)}")
        if self.memory == "accumulate_subsample":
            parts.append(f"subsample={self.subsample}")
        parts.append(f"tau={_fmt(self.temperature)}")
        parts.append(f"drift={_fmt(self.drift)}")
        if self.curation is not None:
            parts.append(f"curation={self.curation.describe()}")
        if self.correction is not None:
            parts.append(f"correction={_fmt(self.correction)}")
        if self.extrapolation is not None:
            parts.append(f"extrapolation={_fmt(self.extrapolation)}")
        return " ".join(parts)


def _fmt(x) -> str:
    c = _concrete(x)
    if c is None:
        return "<traced>"
    c = np.asarray(c)
    return f"{float(c):g}" if c.ndim == 0 else np.array2string(c, precision=4)


def _show(x) -> str:
    x = np.asarray(x)
    return f"{float(x):g}" if x.ndim == 0 else np.array2string(x, precision=4)


def _make(name, n, *, memory="replace", real="none", n_real=0, subsample=0, lam=None, w=None,
          temperature=1.0, drift=0.0) -> Regime:
    return Regime(
        n=_as_schedule(n), memory=memory, real=real, n_real=int(n_real), subsample=int(subsample),
        lam=None if lam is None else _arr(lam), w=None if w is None else _arr(w),
        temperature=temperature, drift=drift, name=name,
    )


def replace(n, *, temperature=1.0, drift=0.0) -> Regime:
    """Each generation trains only on $n$ (or $n_t$) samples of the previous model."""
    return _make("replace", n, temperature=temperature, drift=drift)


def accumulate(n, *, temperature=1.0, drift=0.0) -> Regime:
    """Each generation adds $n$ synthetic samples to all earlier ones (Gerstgrasser et al. 2024)."""
    return _make("accumulate", n, memory="accumulate", temperature=temperature, drift=drift)


def accumulate_subsample(n, subsample: int | None = None, *, temperature=1.0, drift=0.0) -> Regime:
    """Accumulate, then train on a uniform subsample of fixed size (Kazdan et al. 2024). Sample path only."""
    size = int(n) if subsample is None else subsample
    return _make("accumulate_subsample", n, memory="accumulate_subsample", subsample=size,
                 temperature=temperature, drift=drift)


def augment(n_real: int, lam, *, temperature=1.0, drift=0.0) -> Regime:
    r"""A fixed real set of `n_real` samples plus $\mathrm{round}(\lambda\, n_{\rm real})$ fresh synthetic ones.

    $\lambda \ge 0$ is the synthetic-to-real ratio; it may exceed 1 (Bertrand et al. 2024, "On the stability
    of iterative retraining of generative models on their own data", whose stability condition bounds
    $\lambda$ by a threshold that can lie above 1). The synthetic sample capacity is
    $\mathrm{round}(\lambda\, n_{\rm real})$ for a concrete $\lambda$.
    """
    return _make("augment", 1, real="fixed", n_real=n_real, lam=lam, temperature=temperature, drift=drift)


def fresh(n_real: int, n_synthetic, *, temperature=1.0, drift=0.0) -> Regime:
    """`n_real` fresh draws from the (current) truth plus `n_synthetic` synthetic samples each generation."""
    return _make("fresh", n_synthetic, real="fresh", n_real=n_real, temperature=temperature, drift=drift)


def weighted(n_real: int, n_synthetic, w, *, real: str = "fixed", temperature=1.0, drift=0.0) -> Regime:
    r"""Weighted MLE: the real data carry total weight $w$, the synthetic data $1 - w$.

    `real` defaults to ``"fixed"``: one real set of `n_real` draws from the initial truth, reused every
    generation. Pass ``real="fresh"`` for `n_real` new draws of the (current) truth each generation.
    """
    return _make("weighted", n_synthetic, real=real, n_real=n_real, w=w, temperature=temperature, drift=drift)


PRESETS = {
    "replace": replace,
    "accumulate": accumulate,
    "accumulate_subsample": accumulate_subsample,
    "augment": augment,
    "fresh": fresh,
    "weighted": weighted,
}


def preset(name: str, **kwargs) -> Regime:
    """A named preset with keyword arguments, e.g. ``preset("fresh", n_real=50, n_synthetic=50)``."""
    if name not in PRESETS:
        raise ValueError(f"unknown regime {name!r}; choose one of {tuple(PRESETS)}")
    return PRESETS[name](**kwargs)


def self_correct(regime: Regime, gamma) -> Regime:
    r"""`regime` with self-correction of strength $\gamma \ge 0$ (Gillman et al. 2024, "Self-correcting
    self-consuming loops for generative model training", ICML).

    Their idealized correction maps the model's distribution to
    $\pi_\gamma = \frac{1}{1+\gamma}\,p_{t-1} + \frac{\gamma}{1+\gamma}\,p^*$, which is what the engine
    samples: each synthetic sample is, independently with probability $\gamma/(1+\gamma)$, replaced by a draw
    of the current truth $p^*$ (at temperature 1; the model's draws keep the regime's $\tau$). $\gamma = 0$ is
    no correction, $\gamma \to \infty$ fresh real data in place of the synthetic. Exact on both paths: the
    statistics path draws the number of replaced samples $K \sim \mathrm{Binomial}(n_t, \gamma/(1+\gamma))$
    and the statistics of $n_t - K$ model and $K$ truth draws. $\gamma$ is traced (a sweep vmaps it).
    Families declare support with `supports_correction`.
    """
    return _with(regime, correction=_knob("correction", gamma, "a finite number >= 0"))


def extrapolate(regime: Regime, w) -> Regime:
    r"""`regime` with negative extrapolation of weight $w \in [0, 1)$ (Alemohammad, Wang and Baraniuk 2025,
    "Neon: negative extrapolation from self-training improves image generation"):
    $\theta_t = (1+w)\,\theta_{\rm real} - w\,\theta_{\rm syn}$.

    Neon merges a base model $\theta_r$ with its self-trained copy $\theta_s$ as $(1+w)\theta_r - w\theta_s$.
    In the recursive loop, generation $t$ fits $\theta_{\rm real}$ to its real data (the fixed set, or the
    fresh draws) and $\theta_{\rm syn}$ to its synthetic data (after the memory: this generation's draws, or
    the accumulated pool), and the new model is their extrapolation (`AbstractFamily.extrapolate`) in place of
    the pooled fit. With a fixed real set the loop is stable exactly for $w < 1$ (the mean's deviation from the
    real fit is multiplied by $-w$ each generation). $w = 0$ is the fit to the real data alone. Needs real data
    (augment or fresh; not weighted, whose $w$ would have no role). $w$ is traced. Families whose parameters
    form a vector declare support with `supports_extrapolation`.
    """
    return _with(regime, extrapolation=_knob("extrapolation", w, "a number in [0, 1)"))


def _knob(name: str, value, valid: str):
    """`value` as a float array, or one `ValueError` naming `name`, the value and the valid range."""
    if isinstance(value, jax.core.Tracer):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating,
                                                                       np.ndarray, jax.Array)):
        raise ValueError(f"{name} = {value!r} is invalid: {name} must be {valid}")
    return _arr(value)


def _with(regime: Regime, **fields) -> Regime:
    """`regime` with `fields` replaced, checked again (`Regime.__check_init__`)."""
    if not isinstance(regime, Regime):
        raise ValueError(f"regime must be a jaxcollapse Regime, got {type(regime).__name__}")
    return dataclasses.replace(regime, **fields)



FROM_PARAMS_KEYS = ("regime", "n", "n_real", "lam", "w", "real", "subsample", "temperature", "drift", "correction",
                    "extrapolation")


def from_params(params: dict) -> Regime:
    r"""The `Regime` a configuration stands for: the one place that turns configuration into a Regime.

    Keys (all but ``regime`` optional): ``regime`` (a preset name: ``replace``, ``accumulate``,
    ``accumulate_subsample``, ``augment``, ``fresh``, ``weighted``), ``n`` (default 100), ``n_real``,
    ``lam`` (default 1), ``w`` (default 0.5), ``real`` (``"fixed"`` or ``"fresh"``; weighted only, default
    ``"fixed"``), ``subsample``, ``temperature`` (default 1), ``drift`` (default 0), ``correction`` (the
    self-correction strength $\gamma \ge 0$, `self_correct`; unset or None: off) and ``extrapolation`` (the
    negative-extrapolation weight $w \in [0, 1)$, `extrapolate`; unset or None: off). A key the regime does
    not use is ignored, so one configuration serves every regime; an unknown key is refused.

    **One meaning of $n$**: the number of *synthetic* samples drawn in each generation, in every regime
    but augment; real data come on top of it:

    - ``replace``, ``accumulate``: $n$ synthetic samples per generation;
    - ``accumulate_subsample``: $n$ synthetic per generation, training on a uniform subsample of
      ``subsample`` (default $n$) of all synthetic samples so far;
    - ``fresh``: $n_{\rm real}$ fresh real samples (default $n$) **plus** $n$ synthetic ones per
      generation, so a generation trains on $n_{\rm real} + n$ samples;
    - ``weighted``: $n_{\rm real}$ real samples (default $n$; a fixed set drawn once unless
      ``real = "fresh"``) plus $n$ synthetic ones, the real data with total weight $w$;
    - ``augment``: a fixed real set of $n_{\rm real}$ samples (default $n$) plus
      $\mathrm{round}(\lambda\, n_{\rm real})$ synthetic ones (Bertrand et al. 2024's ratio $\lambda$).

    Raises one `ValueError` naming the parameter, its value and the valid range.
    """
    unknown = [k for k in params if k not in FROM_PARAMS_KEYS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], FROM_PARAMS_KEYS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown regime parameter {unknown[0]!r}{hint}; valid: {', '.join(FROM_PARAMS_KEYS)}")
    name = params.get("regime")
    if name not in PRESETS:
        raise ValueError(f"regime = {name!r} is invalid: regime must be one of {', '.join(PRESETS)}")

    def count(key, default):
        v = params.get(key)
        v = default if v is None else v
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{key} = {v!r} is invalid: {key} must be an integer >= 1")
        return int(v)

    regime = _preset_from_params(name, params, count)
    ranges = {"correction": "a finite number >= 0", "extrapolation": "a number in [0, 1)"}
    repairs = {k: _knob(k, params[k], ranges[k]) for k in ranges if params.get(k) is not None}
    return _with(regime, **repairs) if repairs else regime


def _preset_from_params(name: str, params: dict, count) -> Regime:
    n = count("n", 100)
    knobs = {"temperature": params.get("temperature", 1.0), "drift": params.get("drift", 0.0)}
    knobs = {k: (1.0 if k == "temperature" else 0.0) if v is None else v for k, v in knobs.items()}
    if name in ("replace", "accumulate"):
        return PRESETS[name](n, **knobs)
    if name == "accumulate_subsample":
        return accumulate_subsample(n, count("subsample", n), **knobs)
    n_real = count("n_real", n)
    if name == "augment":
        lam = params.get("lam")
        return augment(n_real, 1.0 if lam is None else lam, **knobs)
    if name == "fresh":
        return fresh(n_real, n, **knobs)
    real = params.get("real") or "fixed"
    if real not in ("fixed", "fresh"):
        raise ValueError(f"real = {real!r} is invalid: real must be one of 'fixed', 'fresh'")
    w = params.get("w")
    return weighted(n_real, n, 0.5 if w is None else w, real=real, **knobs)
