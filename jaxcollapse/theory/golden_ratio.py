r"""The optimal weight of fresh real data against synthetic data: He, Xu and Cheng's golden ratio.

**Setting** (He, Xu and Cheng 2025, the "fresh data" framework; the regime `regimes.weighted` with
``real="fresh"``). Generation $t$ draws $n$ **new** real samples of the truth and $m$ synthetic samples of
model $t-1$ and fits the weighted estimate that gives the real data total weight $w$ and the synthetic data
$1 - w$. For a location parameter the fit is the convex combination

$$\hat\theta_t = w\,\bar x^{\rm real}_t + a\,\bar x^{\rm syn}_t, \qquad a = 1 - w .$$

**The error law (derived here).** Let $e_t = E\|\hat\theta_t - \theta\|^2$ and let $v_{t-1}$ be the
expected conditional variance (the trace of the covariance) of one synthetic sample given model $t-1$.
The real mean has error $\bar x^{\rm real}_t - \theta$ with $E\|\cdot\|^2 = v/n$, independent of the past;
the synthetic mean is $\hat\theta_{t-1}$ plus a conditionally centred term of expected squared norm
$v_{t-1}/m$. The three terms are uncorrelated, so

$$e_t = a^2 e_{t-1} + a^2\,\frac{v_{t-1}}{m} + w^2\,\frac{v}{n}.$$

- **Known variance, or an unbiased variance refit** ($v_{t-1} = v$ in expectation): He et al.'s estimator
  (the weighted combination of the real and synthetic sample means and *unbiased* sample covariances, as
  their code computes it), the Gaussian ``"mean"`` estimator, and the Poisson rate ($\lambda_t =
  w\hat\lambda^{\rm real} + a\hat\lambda^{\rm syn}$: the synthetic mean's conditional variance is
  $\lambda_{t-1}/m$ and $E\lambda_{t-1} = \lambda_0$, so $v = \lambda_0$). The error is
  `jaxcollapse.theory.gaussian.mixed_mean_sq_err` with ``estimator="mean"``, ``real="fresh"``,
  share $a$ and $\sigma^2 = v$, and tends to
  $$e^* = v\,\frac{w^2/n + a^2/m}{1 - a^2}.$$
- **The weighted MLE** (`jaxcollapse.families.Gaussian` with ``estimator="mle"`` under
  `regimes.weighted`: the covariance is the weighted scatter over the total weight, between-group term
  included). The MLE conserves $E[\|\hat\mu_t - \mu\|^2 + \mathrm{tr}\,\Sigma_t] = \mathrm{tr}\,\Sigma$, so
  $v_{t-1} = v - e_{t-1}$ and $a^2$ becomes $A = a^2(1 - 1/m)$ (``estimator="mle"`` of `mixed_mean_sq_err`).

**The optimum (derived here).** Write $e^* = v\,(w^2/n + a^2/m)/(1 - c\,a^2)$ with $c = 1$ (known or
unbiased variance) or $c = 1 - 1/m$ (MLE) and $\rho = n/m$. Setting $de^*/da = 0$ and dividing by
$2/n$ leaves, after the cubic terms cancel, $c\,a^2 - (1 + \rho + c)\,a + 1 = 0$, whose root in $(0, 1)$ is

$$a^* = \frac{(1 + \rho + c) - \sqrt{(1 + \rho + c)^2 - 4c}}{2c}, \qquad w^* = 1 - a^* .$$

At $c = 1$ this is $w^2 + \rho w - \rho = 0$, i.e. $w^* = (\sqrt{\rho^2 + 4\rho} - \rho)/2$, He et al.'s
unified optimal weight with their $k = n/m$ (the ratio of real to synthetic samples in their code); for
$m = n$ it is $(\sqrt5 - 1)/2 = 1/\varphi \approx 0.618$, the reciprocal of the golden ratio, for **every**
$n$. The weighted MLE's optimum is shifted by $O(1/m)$ (0.61697 at $n = m = 100$).

He et al. state the optimum for Gaussian estimation, generalized linear models (OLS, logistic and Poisson
regression) and nonparametric estimation as an asymptotic law ($n \to \infty$); the finite-$n$ errors of the
regression estimators are not in closed form here (the weighted Gram matrix of two Wishart designs has no
simple inverse moments), so their optimum is compared with the asymptotic law only.

References:

- He, Xu and Cheng (2025), "Golden ratio weighting prevents model collapse" (arXiv:2502.18049; later
  versions titled "Recursive learning without collapse: a weighting-based stabilization framework"). Their
  unified weight $w^* = (\sqrt{k^2 + 4k} - k)/2$ is quoted from the paper's summary page
  (sciencestack.ai/paper/2502.18049); the theorem numbers could not be read (the stored copies of the paper
  hold its first page only), so every statement here is re-derived above. The simulation setup is read from
  the authors' code (their ``Fresh_Data`` class and Scenario 2 driver: $n = 100$, $p = 2$, $T = 200$, errors
  averaged over iterations 150 to 199, $w$ from 0.20 in steps of 0.02, $k = 1$).
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import ArrayLike

__all__ = ["golden_weight", "weighted_fresh_error_limit", "weighted_fresh_optimal_weight"]

INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0
"""$1/\\varphi = (\\sqrt5 - 1)/2$, the reciprocal of the golden ratio."""

_ESTIMATORS = ("mean", "mle")


def _c(n_syn, estimator: str) -> np.ndarray:
    if estimator == "mean":
        return np.ones_like(np.asarray(n_syn, np.float64))
    if estimator == "mle":
        return 1.0 - 1.0 / np.asarray(n_syn, np.float64)
    raise ValueError(f"estimator = {estimator!r} is invalid: estimator must be one of {_ESTIMATORS}")


def golden_weight(k: ArrayLike) -> np.ndarray:
    r"""$w^*(k) = (\sqrt{k^2 + 4k} - k)/2$: the optimal real-data weight, $k = n/m$ real per synthetic sample.

    The minimizer over $w$ of the stationary error $e^* \propto (w^2/n + (1-w)^2/m)/(1 - (1-w)^2)$ of the
    fresh-data loop with a known (or unbiasedly refitted) variance; $w^*(1) = 1/\varphi = (\sqrt5 - 1)/2$.
    Conditions: $k > 0$. Derived in the module docstring; He, Xu and Cheng 2025 state it as their unified
    optimal weight (asymptotically, for every model they treat).
    """
    k = np.asarray(k, np.float64)
    if np.any(~np.isfinite(k) | (k <= 0)):
        raise ValueError(f"k = {k} is invalid: the ratio of real to synthetic samples must be finite and > 0")
    return np.asarray((np.sqrt(k * k + 4.0 * k) - k) / 2.0, np.float64)


def weighted_fresh_error_limit(n_real: ArrayLike, n_syn: ArrayLike, w: ArrayLike, v: ArrayLike = 1.0,
                               estimator: str = "mean") -> np.ndarray:
    r"""$e^* = \lim_t E\|\hat\theta_t - \theta\|^2 = v\,(w^2/n + a^2/m)/(1 - c\,a^2)$, $a = 1 - w$: fresh real data.

    $n$ fresh real and $m$ synthetic samples per generation, real weight $w \in (0, 1]$; $v$ the variance
    (trace of the covariance) of one sample of the truth; $c = 1$ for ``estimator="mean"`` (known variance,
    He et al.'s unbiased combination, the Poisson rate with $v = \lambda_0$) and $c = 1 - 1/m$ for the
    weighted MLE (``"mle"``). The fixed point of the recursion in the module docstring (derived there);
    `jaxcollapse.theory.gaussian.mixed_mean_sq_err` (``real="fresh"``, share $a$) gives every $e_t$.
    """
    nr, ns, w = (np.asarray(x, np.float64) for x in (n_real, n_syn, w))
    if np.any((w <= 0) | (w > 1)):
        raise ValueError(f"w = {w} is invalid: the real weight must lie in (0, 1] for a stationary error")
    a = 1.0 - w
    return np.asarray(np.asarray(v, np.float64) * (w * w / nr + a * a / ns) / (1.0 - _c(ns, estimator) * a * a),
                      np.float64)


def weighted_fresh_optimal_weight(n_real: ArrayLike, n_syn: ArrayLike, estimator: str = "mean") -> np.ndarray:
    r"""The exact minimizer $w^* = 1 - a^*$ of `weighted_fresh_error_limit` over $w$ (any $n$, $m$).

    $a^* = [(1 + \rho + c) - \sqrt{(1 + \rho + c)^2 - 4c}]/(2c)$ with $\rho = n/m$ and $c = 1$ (``"mean"``) or
    $1 - 1/m$ (``"mle"``); derived in the module docstring. For ``"mean"`` it is `golden_weight`$(n/m)$, so
    $1/\varphi$ whenever $m = n$; the weighted MLE's optimum lies $O(1/m)$ below it.
    """
    nr, ns = np.asarray(n_real, np.float64), np.asarray(n_syn, np.float64)
    c = _c(ns, estimator)
    s = 1.0 + nr / ns + c
    a = (s - np.sqrt(s * s - 4.0 * c)) / (2.0 * c)
    return np.asarray(1.0 - a, np.float64)
