r"""Closed forms for the Poisson family under recursive refitting.

Conventions (those of `jaxcollapse.simulate`): model 0 is the truth; generation $t \ge 1$ refits on
data drawn from model $t-1$: $\lambda_t = S_t/n$, $S_t \sim \mathrm{Poisson}(n\lambda_{t-1})$ (replace). Then
$S_t$ is a critical Galton–Watson process with Poisson(1) offspring per unit of $S_{t-1}$, started from
$S_1 \sim \mathrm{Poisson}(n\lambda_0)$, and $\lambda_t$ is a martingale absorbed at 0.

Functions return float64 numpy arrays (`t` may be an int or an array of generations).

References:

- Harris (1963), *The Theory of Branching Processes*; Athreya and Ney (1972), *Branching Processes*,
  ch. I (generating functions of Galton–Watson processes, Kolmogorov's estimate for critical processes).
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import ArrayLike

__all__ = [
    "poisson_extinction_probability",
    "poisson_extinction_schedule",
    "poisson_fresh_drift_rate",
    "poisson_rate_var",
    "poisson_survival_asymptotic",
]


def _t(t) -> np.ndarray:
    return np.asarray(t, dtype=np.float64)


def poisson_rate_var(t: ArrayLike, n: ArrayLike, rate0: ArrayLike, memory: str = "replace") -> np.ndarray:
    r"""$\mathrm{Var}\,\lambda_t$ (and $E\lambda_t = \lambda_0$ always): $t\lambda_0/n$ (replace) or
    $\frac{\lambda_0}{n}\sum_{j\le t} j^{-2} \to \frac{\pi^2}{6}\frac{\lambda_0}{n}$ (accumulate).

    Derived here: $\lambda_t = \lambda_{t-1} + a_t(\bar x_t - \lambda_{t-1})$ ($a_t = 1$ replace, $1/t$
    accumulate) where $\bar x_t$, the mean of $n$ draws of Poisson($\lambda_{t-1}$), has conditional mean
    $\lambda_{t-1}$ and variance $\lambda_{t-1}/n$. The increment is a martingale difference, so
    $e_t = E(\lambda_t - \lambda_0)^2 = e_{t-1} + a_t^2 E\lambda_{t-1}/n = e_{t-1} + a_t^2\lambda_0/n$.
    """
    t = np.atleast_1d(_t(t)).astype(np.int64)
    if memory == "replace":
        return np.asarray(t * rate0 / n, np.float64)
    if memory == "accumulate":
        j = np.arange(1, int(t.max()) + 1, dtype=np.float64)
        s = np.concatenate([[0.0], np.cumsum(1.0 / (j * j))])
        return np.asarray(rate0 / n * s[t], np.float64)
    raise ValueError(f"memory must be 'replace' or 'accumulate', got {memory!r}")


def poisson_extinction_schedule(ns: ArrayLike, rate0: ArrayLike) -> np.ndarray:
    r"""$P(\lambda_t = 0)$ for $t = 1..len(ns)$, replace with sample sizes $n_1, n_2, \dots$ (exact).

    Derived here from the Laplace transform $L_t(a) = E e^{-a\lambda_t}$: since $S_t \mid \lambda_{t-1} \sim
    \mathrm{Poisson}(n_t\lambda_{t-1})$, $L_t(a) = L_{t-1}(n_t(1 - e^{-a/n_t}))$, and $P(\lambda_t = 0) =
    L_t(\infty) = L_{t-1}(n_t)$. Iterating $a \leftarrow n_k(1 - e^{-a/n_k})$ for $k = t-1, \dots, 1$ from
    $a = n_t$ gives $P(\lambda_t = 0) = e^{-a\lambda_0}$. For constant $n$, $S_t$ is a critical Galton–Watson
    process with Poisson(1) offspring and this is the generating-function iteration $f(s) = e^{s-1}$
    (Harris 1963; Athreya and Ney 1972, §I.1).
    """
    ns = np.asarray(ns, np.float64)
    out = np.empty(ns.size)
    for t in range(1, ns.size + 1):
        a = ns[t - 1]
        for k in range(t - 2, -1, -1):
            a = ns[k] * -np.expm1(-a / ns[k])
        out[t - 1] = math.exp(-a * rate0)
    return np.asarray(out, np.float64)


def poisson_extinction_probability(t: ArrayLike, n: ArrayLike, rate0: ArrayLike) -> np.ndarray:
    r"""Replace, constant $n$: $P(\lambda_t = 0) = \exp(n\lambda_0(q_{t-1} - 1))$ for $t \ge 1$, $q_0 = 0$,
    $q_k = e^{q_{k-1} - 1}$; and $P(\lambda_0 = 0) = 0$ for $\lambda_0 > 0$ (model 0 is the truth).

    $S_1 \sim \mathrm{Poisson}(n\lambda_0)$ and afterwards each unit has Poisson(1) offspring, so
    $P(S_t = 0) = E[q_{t-1}^{S_1}]$ with $q_k = f^{(k)}(0)$, $f(s) = e^{s-1}$ (see `poisson_extinction_schedule`).
    Derived here.
    """
    t = np.atleast_1d(_t(t)).astype(np.int64)
    g = int(t.max())
    q = np.zeros(g + 1)
    for k in range(1, g + 1):
        q[k] = math.exp(q[k - 1] - 1.0)
    later = np.exp(n * rate0 * (q[np.maximum(t - 1, 0)] - 1.0))
    at_zero = np.where(np.asarray(rate0, np.float64) > 0, 0.0, 1.0)
    return np.asarray(np.where(t == 0, at_zero, later), np.float64)


def poisson_survival_asymptotic(t: ArrayLike, n: ArrayLike, rate0: ArrayLike) -> np.ndarray:
    r"""$P(\lambda_t > 0) \approx 1 - \exp(-2n\lambda_0/t)$ for large $t$ (Kolmogorov's estimate for a critical
    process with offspring variance 1: $1 - q_t \sim 2/t$; Athreya and Ney 1972, §I.9)."""
    return np.asarray(-np.expm1(-2.0 * n * rate0 / _t(t)), np.float64)


def poisson_fresh_drift_rate(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, v: ArrayLike,
                             rate0: ArrayLike) -> np.ndarray:
    r"""$E\lambda_t = \lambda_0\bigl[a^t + (1 - a)\,e^{v}\,\frac{e^{vt} - a^t}{e^{v} - a}\bigr]$,
    $a = n_s/(n_r + n_s)$: fresh real data, the truth's log-rate moving by $v$ per generation.

    The truth at generation $t$ is $\lambda^*_t = \lambda_0 e^{vt}$ (`Poisson.translate`); at $e^v = a$ the
    fraction is its limit $t\,a^{t-1}$, so $E\lambda_t = \lambda_0 a^t[1 + (1 - a)t]$.

    Derived here. Generation $t$ fits the pooled mean $\lambda_t = (S_r + S_s)/N$, $N = n_r + n_s$, of $n_r$
    fresh draws of Poisson($\lambda^*_t$) ($E S_r = n_r\lambda^*_t$) and $n_s$ draws of model $t-1$
    ($E[S_s \mid \lambda_{t-1}] = n_s\lambda_{t-1}$). So $E\lambda_t = a\,E\lambda_{t-1} + (1 - a)\lambda_0 e^{vt}$
    with $\lambda$ at $t = 0$ the truth $\lambda_0$; unrolled,
    $E\lambda_t = a^t\lambda_0 + (1 - a)\lambda_0\sum_{s=1}^{t} a^{t-s}e^{vs}$, and with $g = e^v$ the sum is
    $\sum_{s=1}^t a^{t-s}g^s = g\sum_{k=0}^{t-1} g^k a^{t-1-k} = g\,(g^t - a^t)/(g - a)$. The conditional
    means are linear, so the law is exact whatever the extinction or the Poisson noise.
    """
    t = _t(t)
    nr, ns = np.float64(n_real), np.float64(n_synthetic)
    a = ns / (nr + ns)
    g = math.exp(float(v))
    if abs(g - a) < 1e-12 * max(g, a):
        tail = g * t * a ** (t - 1.0)
    else:
        tail = g * (g**t - a**t) / (g - a)
    return np.asarray(float(rate0) * (a**t + (1.0 - a) * tail), np.float64)
