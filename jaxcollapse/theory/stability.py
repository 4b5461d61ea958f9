r"""Stability of retraining on a fixed real set plus a fraction of synthetic data: the Gaussian, exactly.

**Setting** (Bertrand, Bose, Duplessis, Jiralerspong and Gidel 2024, "On the stability of iterative
retraining of generative models on their own data", ICLR; the regime `regimes.augment`). A fixed real set
$D$ of $n_r$ draws of the truth $N(\mu, \sigma^2)$ is kept; generation $t$ adds $n_s = \mathrm{round}(\lambda
n_r)$ fresh samples of model $t-1$ ($\lambda$ synthetic samples per real one) and refits the MLE on the pooled
$n_r + n_s$ samples. Model 0 is the truth. With $a = n_s/(n_r + n_s) = \lambda/(1 + \lambda)$ the synthetic
share, $\bar x_D$ and $\sigma_D^2 = \frac{1}{n_r}\sum_{x\in D}(x - \bar x_D)^2$ the real set's MLE (the
"optimal model" $\theta^*$ of the real data), $d_t = \mu_t - \bar x_D$ and
$Q_t = d_t^2 + \sigma_t^2$:

**Two exact recursions (derived here).** The pooled fit is $\mu_t = (1 - a)\bar x_D + a\bar x^{\rm syn}_t$,
and for any $c$ the fit's $\sigma_t^2 + (\mu_t - c)^2$ is the pooled mean of $(x - c)^2$. With $c = \bar x_D$
and $E[(x - \bar x_D)^2 \mid \text{model } t-1] = Q_{t-1}$ for a synthetic sample,

$$E[Q_t \mid D] = (1 - a)\,\sigma_D^2 + a\,E[Q_{t-1} \mid D], \qquad
  E[d_t \mid D] = a\,E[d_{t-1} \mid D],$$

and, since $\bar x^{\rm syn}_t - \mu_{t-1} = \sigma_{t-1}z_t/\sqrt{n_s}$ with a fresh $z_t$,
$E[d_t^2 \mid D] = A\,E[d_{t-1}^2 \mid D] + (a^2/n_s)\,E[Q_{t-1} \mid D]$ with $A = a^2(1 - 1/n_s)$. So the
retraining map **contracts towards the real data's MLE at the rate $a = \lambda/(1 + \lambda)$ for every
$\lambda$** (the first moments exactly, the second ones at the rates $a$ and $A < a$), and the chain
settles at a stationary error that stays bounded as $\lambda \to \infty$:
$E(\mu_\infty - \mu)^2 \to 3\sigma^2/(2n_r + 1)$. The fully synthetic loop ($n_r = 0$) has no such fixed
point: its variance collapses (`jaxcollapse.theory.gaussian.mle_variance`). For this family there is no
stability threshold in $\lambda$; the price of a large $\lambda$ is a slow approach
($1 - A \approx (2n_r + 1)/n_s$) to a stationary error at most 1.5 times the real data's own $\sigma^2/n_r$.

Bertrand et al. prove stability for general likelihood models under a sufficient condition that bounds
$\lambda$ (a contraction of the infinite-sample retraining map near the real data's optimum) and bound the
finite-sample error; the exact statement of their theorems (constants and conditions) could not be read
for this module (the stored copies of the paper hold its first page only), so none of their constants is
implemented here: everything below is the Gaussian instance, derived exactly.

References:

- Bertrand, Bose, Duplessis, Jiralerspong and Gidel (2024), "On the stability of iterative retraining of
  generative models on their own data", ICLR 2024 (arXiv:2310.00429).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike

__all__ = ["augment_contraction_moment", "augment_real_fit_sq_err", "augment_stationary_limit",
           "augment_stationary_mean_sq_err"]

_ESTIMATORS = ("mle", "mean")


def _shares(n_real, lam):
    nr = np.asarray(n_real, np.float64)
    lam = np.asarray(lam, np.float64)
    if np.any(nr < 1):
        raise ValueError(f"n_real = {n_real} is invalid: n_real must be >= 1")
    if np.any(~np.isfinite(lam) | (lam < 0)):
        raise ValueError(f"lam = {lam} is invalid: lam (synthetic samples per real one) must be finite and >= 0")
    ns = np.round(lam * nr)  # as `regimes.augment` rounds it
    return nr, ns, ns / (nr + ns)


def augment_stationary_mean_sq_err(n_real: ArrayLike, lam: ArrayLike, sigma2: ArrayLike = 1.0,
                                   estimator: str = "mle") -> np.ndarray:
    r"""$\lim_t E(\mu_t - \mu)^2 = \dfrac{s(1 - a^2) + a^2\sigma^2/n_s}{1 - A}$: augment, the stationary error.

    $s = \sigma^2/n_r$, $n_s = \mathrm{round}(\lambda n_r)$, $a = n_s/(n_r + n_s)$, $A = a^2(1 - 1/n_s)$
    (``"mle"``) or $a^2$ (``"mean"``, variance known); $s$ at $\lambda$ with $n_s = 0$. Derived here as the
    $t \to \infty$ limit of `jaxcollapse.theory.gaussian.augment_mean_sq_err` (whose $a^t$ and $A^t$ terms
    vanish; its cross term gives $b^2 s + 2abs = s(1 - a^2)$, $b = 1 - a$). Equivalently (MLE)
    $s + a^2\sigma^2(1 - 1/n_r)/(n_s(1 - A))$: the real set's own error plus the retraining's stationary
    error around it (`augment_real_fit_sq_err`). Bounded in $\lambda$ (`augment_stationary_limit`).
    """
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator = {estimator!r} is invalid: estimator must be one of {_ESTIMATORS}")
    nr, ns, a = _shares(n_real, lam)
    s2 = np.asarray(sigma2, np.float64)
    safe = np.where(ns > 0, ns, 1.0)
    big_a = a * a * (1.0 - 1.0 / safe) if estimator == "mle" else a * a
    val = (s2 / nr * (1.0 - a * a) + a * a * s2 / safe) / (1.0 - big_a)
    return np.asarray(np.where(ns > 0, val, s2 / nr), np.float64)


def augment_stationary_limit(n_real: ArrayLike, sigma2: ArrayLike = 1.0, estimator: str = "mle") -> np.ndarray:
    r"""$\lim_{\lambda\to\infty}$ `augment_stationary_mean_sq_err` $= 3\sigma^2/(2n_r + 1)$ (MLE) or $3\sigma^2/(2n_r)$.

    Derived here: with $n_s \to \infty$, $1 - a = n_r/(n_r + n_s)$, the numerator is
    $\approx 2\sigma^2/n_s + \sigma^2/n_s$ and $1 - A \approx (2n_r + 1)/n_s$ (MLE; $2n_r/n_s$ with the variance
    known). So however much synthetic data is added, the stationary error of the mean stays below
    $1.5\,\sigma^2/n_r$: no stability threshold in $\lambda$ for the Gaussian.
    """
    nr = np.asarray(n_real, np.float64)
    if estimator == "mle":
        return np.asarray(3.0 * np.asarray(sigma2, np.float64) / (2.0 * nr + 1.0), np.float64)
    if estimator == "mean":
        return np.asarray(3.0 * np.asarray(sigma2, np.float64) / (2.0 * nr), np.float64)
    raise ValueError(f"estimator = {estimator!r} is invalid: estimator must be one of {_ESTIMATORS}")


def augment_real_fit_sq_err(t: ArrayLike, n_real: int, lam: float, sigma2: float = 1.0) -> np.ndarray:
    r"""$E(\mu_t - \bar x_D)^2$: the distance of model $t$'s mean to the real set's MLE (augment, MLE; exact).

    Derived here (module docstring), averaged over $D$ with $E\sigma_D^2 = u = \sigma^2(1 - 1/n_r)$,
    $E(Q_0 - \sigma_D^2) = r = 2\sigma^2/n_r$ and $E d_0^2 = \sigma^2/n_r$ (model 0 is the truth):
    $D_t = A D_{t-1} + (a^2/n_s)(u + a^{t-1}r)$, so

    $$D_t = A^t\frac{\sigma^2}{n_r} + \frac{a^2}{n_s}\Big[u\,\frac{1 - A^t}{1 - A} + r\,\frac{A^t - a^t}{A - a}\Big]
      \;\longrightarrow\; \frac{a^2}{n_s}\,\frac{u}{1 - A}.$$

    The stationary value is the retraining's own error around $\theta^*$ (it vanishes as $\lambda \to 0$).
    $t$ may be an array; $D_t = 0$ for $t \ge 1$ when $n_s = 0$.
    """
    nr, ns, a = _shares(n_real, lam)
    t = np.asarray(t, np.float64)
    s2 = float(sigma2)
    d0 = s2 / nr
    if ns == 0:
        return np.asarray(np.where(t == 0, d0, 0.0), np.float64)
    big_a = a * a * (1.0 - 1.0 / ns)
    u, r = s2 * (1.0 - 1.0 / nr), 2.0 * s2 / nr
    val = big_a**t * d0 + a * a / ns * (u * (1.0 - big_a**t) / (1.0 - big_a) + r * (big_a**t - a**t) / (big_a - a))
    return np.asarray(val, np.float64)


def augment_contraction_moment(t: ArrayLike, n_real: int, lam: float, sigma2: float = 1.0) -> np.ndarray:
    r"""$E[(\mu_t - \bar x_D)(\mu - \bar x_D)] = a^t\sigma^2/n_r$, $a = \lambda/(1 + \lambda)$: the contraction.

    Derived here: $E[\mu_t - \bar x_D \mid D] = a^t(\mu_0 - \bar x_D)$ exactly (the first moment contracts to
    the real data's MLE at the rate of the synthetic share), $\mu_0 = \mu$ (model 0 is the truth) and
    $E(\mu - \bar x_D)^2 = \sigma^2/n_r$. Any estimator (only means enter); `t` may be an array.
    """
    nr, _ns, a = _shares(n_real, lam)
    return np.asarray(a ** np.asarray(t, np.float64) * float(sigma2) / nr, np.float64)
