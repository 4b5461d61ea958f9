r"""Closed forms for the Gaussian family under recursive refitting.

Conventions (those of `jaxcollapse.simulate`): the truth is $N(\mu, \sigma^2)$ (or $N(\mu, \Sigma)$ in
$d$ dimensions); model 0 is the truth; generation $t \ge 1$ fits model $t$ to data drawn from model
$t-1$ (plus real data where the regime has some). $t$ counts fits. With $n$ samples of
$N(m, s^2)$ the sufficient statistics are $\bar x \sim N(m, s^2/n)$ independent of
$S = \sum_i (x_i - \bar x)^2 \sim s^2\chi^2_{n-1}$; the MLE variance is $S/n$, the unbiased one
$S/(n-1)$, and the ``"mean"`` estimator keeps the variance known and refits the mean only.

Every function is a pure `jax.numpy` function: `t` may be a Python int or an array of generations
(results broadcast over it), and the arithmetic runs in the default float type (float64 under
`jaxcollapse.x64()`).

Two facts carry most derivations here ("derived here" below refers to them):

1. **Conservation (MLE).** $Q = \|\mu_t - \mu\|^2 + \mathrm{tr}\,\Sigma_t$ equals the fitted data's
   (weighted) mean of $\|x - \mu\|^2$, and a sample from model $t-1$ has
   $E[\|x - \mu\|^2 \mid \text{model } t-1] = Q_{t-1}$, a real sample $\mathrm{tr}\,\Sigma$. So
   $E Q_t = \mathrm{tr}\,\Sigma$ for every $t$ under replace, accumulate, fresh, augment and weighted
   mixing (not with a temperature $\tau \ne 1$, and not with a drifting truth).
2. **Mean recursion.** If $\mu_t = \mu_{t-1} + a_t(\bar x_t - \mu_{t-1})$ with $\bar x_t$ the mean of
   $n$ draws of model $t-1$, then $\bar x_t - \mu_{t-1} = \sigma_{t-1} z_t/\sqrt n$ with $z_t$ a fresh
   standard normal, and $e_t = E(\mu_t - \mu)^2 = e_{t-1} + a_t^2 E\sigma_{t-1}^2/n$; for the MLE
   $E\sigma_{t-1}^2 = \sigma^2 - e_{t-1}$ by (1).

Corrections to the project's THEORY.md found while re-deriving: (i) the unbiased mean error is
$\sigma^2\sum_{i=1}^{t} 1/n_i$ where $n_i$ is the size of the $i$-th fit (THEORY.md's
$\sum_{i<t} 1/M_i$ counts from $M_0$); (ii) the recursion $e_t = e_{t-1} + a_t^2(v - e_{t-1})/n$
holds for the MLE only; with the variance known (``"mean"`` estimator) it is
$e_t = e_{t-1} + a_t^2 v/n$. Everything else in its Gaussian section checked out.

References:

- Shumailov, Shumaylov, Zhao, Papernot, Anderson and Gal (2024), "AI models collapse when trained on
  recursively generated data", *Nature* 631.
- Suresh, Thangaraj and Khandavally (2024), "Rate of model collapse in recursive training".
- Dey and Donoho (2024), "Universality of the $\pi^2/6$ pathway in avoiding model collapse".
- Gerstgrasser et al. (2024), "Is model collapse inevitable? Breaking the curse of recursion by
  accumulating real and synthetic data".
- Kazdan et al. (2024), "Collapse or thrive? Perils and promises of synthetic data in a
  self-generating world".
- Alemohammad et al. (2024), "Self-consuming generative models go MAD" (ICLR).
- Bertrand et al. (2024), "On the stability of iterative retraining of generative models on their
  own data" (ICLR).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln, polygamma, zeta
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "accumulate_mean_sq_err_known_var",
    "accumulate_mle_mean_sq_err",
    "accumulate_mle_mean_sq_err_limit",
    "accumulate_mle_variance",
    "augment_mean_sq_err",
    "chi_mean",
    "conserved_mean",
    "critical_temperature",
    "det_ratio_mean",
    "drift_mean_sq_err",
    "fresh_drift_mean_error",
    "fresh_drift_mean_sq_err",
    "fresh_mle_mean_sq_err",
    "fresh_mle_mean_sq_err_limit",
    "log_det_ratio_mean",
    "log_det_ratio_var",
    "log_variance_mean",
    "log_variance_var",
    "mean_sq_err_recursion",
    "mean_sq_err_schedule",
    "mixed_mean_sq_err",
    "mle_mean_sq_err",
    "mle_mean_sq_err_tempered",
    "mle_variance",
    "mle_variance_tempered",
    "sigma_mean",
    "sigma_mean_schedule",
    "trace_mean",
    "unbiased_mean_sq_err",
    "unbiased_variance",
    "unbiased_variance_fourth_moment",
    "variance_schedule",
    "w2sq_mean",
    "w2sq_mean_schedule",
]

_VAR_ESTIMATORS = ("mle", "unbiased")


def _f(x) -> Array:
    """`x` as an array of the default float type (float64 under x64)."""
    return jnp.asarray(x, jnp.result_type(float))


def _divisor(n: Array, estimator: str) -> Array:
    if estimator == "mle":
        return n
    if estimator == "unbiased":
        return n - 1.0
    raise ValueError(f"estimator must be one of {_VAR_ESTIMATORS}, got {estimator!r}")


def _geom(q: Array, t: Array) -> Array:
    r"""$\sum_{i=0}^{t-1} q^i$, equal to $t$ at $q = 1$."""
    one = jnp.abs(1.0 - q) < 1e-12
    return jnp.where(one, t, (1.0 - q**t) / jnp.where(one, 1.0, 1.0 - q))


# --------------------------------------------------------------------------- constants
def chi_mean(k: ArrayLike, m: ArrayLike) -> Float[Array, "..."]:
    r"""$E\sqrt{\chi^2_k/m} = \sqrt{2/m}\,\Gamma(\tfrac{k+1}{2})/\Gamma(\tfrac k2)$.

    The one-generation factor $c$ of $E\sigma_t = \sigma c^t$ (with $k = n - 1$ and $m = n$ or $n - 1$).
    Standard (the mean of the chi distribution; Johnson, Kotz and Balakrishnan 1994, *Continuous Univariate
    Distributions* 1, ch. 18); computed through `gammaln` so it stays accurate for large $k$.
    """
    k, m = _f(k), _f(m)
    return jnp.sqrt(2.0 / m) * jnp.exp(gammaln((k + 1.0) / 2.0) - gammaln(k / 2.0))


# --------------------------------------------------------------------------- 1-D, replace
def mle_variance(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E\sigma_t^2 = \sigma^2 (1 - 1/n)^t$: MLE refit on $n$ samples per generation (replace).

    Each fit multiplies the variance by an independent $\chi^2_{n-1}/n$, of mean $1 - 1/n$.
    In $d$ dimensions the same holds for $E\,\mathrm{tr}\,\Sigma_t$ (`trace_mean`).

    Source: Shumailov et al. 2024 (Nature), Gaussian model of collapse; Suresh et al. 2024.
    """
    t, n = _f(t), _f(n)
    return _f(sigma2) * (1.0 - 1.0 / n) ** t


def mle_mean_sq_err(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu)^2 = \sigma^2[1 - (1 - 1/n)^t]$: MLE, replace.

    Derived here: $e_t = e_{t-1} + E\sigma_{t-1}^2/n = \sum_{i<t}\sigma^2(1-1/n)^i/n$, a geometric sum;
    equivalently conservation, $e_t = \sigma^2 - E\sigma_t^2$. In $d$ dimensions pass
    $\sigma^2 = \mathrm{tr}\,\Sigma$ to get $E\|\mu_t - \mu\|^2$.

    Source: Shumailov et al. 2024 (Nature); derived here.
    """
    t, n = _f(t), _f(n)
    return _f(sigma2) * (1.0 - (1.0 - 1.0 / n) ** t)


def log_variance_mean(t: ArrayLike, n: ArrayLike, estimator: str = "mle") -> Float[Array, "..."]:
    r"""$E\ln(\sigma_t^2/\sigma^2) = t\,[\psi(\tfrac{n-1}{2}) + \ln(2/m)]$, $m = n$ (MLE) or $n-1$ (unbiased).

    $\ln\sigma_t^2$ is a random walk with i.i.d. steps $\ln(\chi^2_{n-1}/m)$, and
    $E\ln\chi^2_k = \psi(k/2) + \ln 2$. The drift is $\approx -2/n$ (MLE) or $\approx -1/(n-1)$
    (unbiased) per generation, so $\sigma_t \to 0$ almost surely for both estimators even though the
    unbiased $E\sigma_t^2$ stays $\sigma^2$.

    Source: Shumailov et al. 2024 (Nature); Suresh et al. 2024.
    """
    t, n = _f(t), _f(n)
    m = _divisor(n, estimator)
    return t * (digamma((n - 1.0) / 2.0) + jnp.log(2.0 / m))


def log_variance_var(t: ArrayLike, n: ArrayLike) -> Float[Array, "..."]:
    r"""$\mathrm{Var}\ln\sigma_t^2 = t\,\psi'(\tfrac{n-1}{2})$ (either estimator; the divisor only shifts the walk).

    $\mathrm{Var}\ln\chi^2_k = \psi'(k/2)$, summed over $t$ independent steps.

    Source: Shumailov et al. 2024 (Nature); derived here.
    """
    t, n = _f(t), _f(n)
    return t * polygamma(1, (n - 1.0) / 2.0)


def sigma_mean(t: ArrayLike, n: ArrayLike, sigma: ArrayLike = 1.0, estimator: str = "mle") -> Float[Array, "..."]:
    r"""$E\sigma_t = \sigma c^t$ with $c = E\sqrt{\chi^2_{n-1}/m} = \sqrt{2/m}\,\Gamma(n/2)/\Gamma(\tfrac{n-1}{2})$.

    $m = n$ (MLE) or $n - 1$ (unbiased); $c < 1$ for both (Jensen), so even the unbiased chain has
    $E\sigma_t \to 0$. Note `sigma` is the standard deviation, not the variance.

    Source: Shumailov et al. 2024 (Nature).
    """
    t, n = _f(t), _f(n)
    c = chi_mean(n - 1.0, _divisor(n, estimator))
    return _f(sigma) * c**t


def w2sq_mean(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0, estimator: str = "mle") -> Float[Array, "..."]:
    r"""$E W_2^2$ between model $t$ and the truth in 1-D, with $W_2^2 = (\mu_t - \mu)^2 + (\sigma_t - \sigma)^2$.

    Derived here from $E W_2^2 = E(\mu_t-\mu)^2 + E\sigma_t^2 - 2\sigma E\sigma_t + \sigma^2$:

    - MLE: conservation cancels the first two terms against $\sigma^2$, leaving
      $E W_2^2 = 2\sigma^2(1 - c^t)$ with $c = E\sqrt{\chi^2_{n-1}/n}$;
    - unbiased: $E(\mu_t-\mu)^2 = t\sigma^2/n$ and $E\sigma_t^2 = \sigma^2$, so
      $E W_2^2 = \sigma^2 t/n + 2\sigma^2(1 - c^t)$ with $c = E\sqrt{\chi^2_{n-1}/(n-1)}$.

    Source: derived here (cf. Shumailov et al. 2024 for the unbiased case with a schedule).
    """
    t, n, s2 = _f(t), _f(n), _f(sigma2)
    c = chi_mean(n - 1.0, _divisor(n, estimator))
    w = 2.0 * s2 * (1.0 - c**t)
    if estimator == "unbiased":
        w = w + s2 * t / n
    return w


def unbiased_variance(t: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E\sigma_t^2 = \sigma^2$ for the unbiased estimator: $\sigma_t^2$ is a martingale (any schedule $n_i \ge 2$).

    The martingale converges to 0 almost surely nonetheless (see `log_variance_mean`); its moments
    are heavy-tailed, see `unbiased_variance_fourth_moment`.

    Source: Shumailov et al. 2024 (Nature).
    """
    return _f(sigma2) + 0.0 * _f(t)


def unbiased_variance_fourth_moment(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E\sigma_t^4 = \sigma^4\,((n+1)/(n-1))^t$ for the unbiased estimator (replace).

    $E(\chi^2_{n-1}/(n-1))^2 = (2(n-1) + (n-1)^2)/(n-1)^2 = (n+1)/(n-1)$ per generation; so
    $\mathrm{Var}\,\sigma_t^2$ grows like $e^{2t/n}$ and Monte Carlo means of $\sigma_t^2$ become
    unreliable once $t$ is well past $n$. Derived here.
    """
    t, n = _f(t), _f(n)
    return _f(sigma2) ** 2 * ((n + 1.0) / (n - 1.0)) ** t


def unbiased_mean_sq_err(ns: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, " T"]:
    r"""$E(\mu_t - \mu)^2 = \sigma^2\sum_{i=1}^t 1/n_i$ for $t = 1..T$, unbiased estimator, schedule $n_1..n_T$.

    Derived: $e_t = e_{t-1} + E\sigma_{t-1}^2/n_t$ and the martingale $E\sigma_{t-1}^2 = \sigma^2$.
    It grows without bound unless $\sum 1/n_i < \infty$ (e.g. $n_i \propto i^p$ with $p > 1$).
    Here $n_i$ is the sample size of fit $i$ (THEORY.md's $\sum_{i<t} 1/M_i$ indexes from $M_0$).

    Source: Shumailov et al. 2024 (Nature).
    """
    return _f(sigma2) * jnp.cumsum(1.0 / _f(ns))


def variance_schedule(ns: ArrayLike, sigma2: ArrayLike = 1.0, estimator: str = "mle") -> Float[Array, " T"]:
    r"""$E\sigma_t^2$ for $t = 1..T$ under replace with sizes $n_1..n_T$: $\sigma^2\prod_{i\le t}(1 - 1/n_i)$ (MLE)
    or $\sigma^2$ (unbiased).

    Source: Shumailov et al. 2024 (Nature).
    """
    ns = _f(ns)
    if estimator == "unbiased":
        return _f(sigma2) + 0.0 * ns
    _divisor(ns, estimator)
    return _f(sigma2) * jnp.cumprod(1.0 - 1.0 / ns)


def mean_sq_err_schedule(ns: ArrayLike, sigma2: ArrayLike = 1.0, estimator: str = "mle") -> Float[Array, " T"]:
    r"""$E(\mu_t-\mu)^2$ for $t = 1..T$ under replace with sizes $n_1..n_T$.

    MLE: $\sigma^2[1 - \prod_{i\le t}(1 - 1/n_i)]$ (conservation); unbiased: $\sigma^2\sum_{i\le t}1/n_i$.

    Source: Shumailov et al. 2024 (Nature); derived here.
    """
    if estimator == "unbiased":
        return unbiased_mean_sq_err(ns, sigma2)
    return _f(sigma2) - variance_schedule(ns, sigma2, estimator)


def sigma_mean_schedule(ns: ArrayLike, sigma: ArrayLike = 1.0, estimator: str = "unbiased") -> Float[Array, " T"]:
    r"""$E\sigma_t = \sigma\prod_{i\le t} E\sqrt{\chi^2_{n_i-1}/m_i}$ for $t = 1..T$, $m_i = n_i$ (MLE) or $n_i - 1$.

    Source: Shumailov et al. 2024 (Nature).
    """
    ns = _f(ns)
    return _f(sigma) * jnp.cumprod(chi_mean(ns - 1.0, _divisor(ns, estimator)))


def w2sq_mean_schedule(ns: ArrayLike, sigma2: ArrayLike = 1.0, estimator: str = "unbiased") -> Float[Array, " T"]:
    r"""$E W_2^2$ to the truth for $t = 1..T$ under replace with sizes $n_1..n_T$ (1-D).

    Unbiased: $\sigma^2\sum_{i\le t}1/n_i + 2\sigma^2(1 - \prod_{i\le t}c_i)$; MLE:
    $2\sigma^2(1 - \prod_{i\le t}c_i)$, with $c_i = E\sqrt{\chi^2_{n_i-1}/m_i}$ (see `w2sq_mean`).

    Source: Shumailov et al. 2024 (Nature) (unbiased); derived here.
    """
    s2 = _f(sigma2)
    c = sigma_mean_schedule(ns, 1.0, estimator)
    w = 2.0 * s2 * (1.0 - c)
    if estimator == "unbiased":
        w = w + unbiased_mean_sq_err(ns, s2)
    return w


# --------------------------------------------------------------------------- d dimensions, replace
def trace_mean(t: ArrayLike, n: ArrayLike, trace0: ArrayLike) -> Float[Array, "..."]:
    r"""$E\,\mathrm{tr}\,\Sigma_t = (1 - 1/n)^t\,\mathrm{tr}\,\Sigma$: $d$-dimensional MLE, replace.

    $E\Sigma_t = E[\Sigma_{t-1}^{1/2} W \Sigma_{t-1}^{1/2}]/n$ with $W \sim \mathrm{Wishart}_d(n-1, I)$,
    $EW = (n-1)I$, so $E\Sigma_t = (1-1/n)^t\Sigma$.

    Source: Shumailov et al. 2024 (Nature), multivariate case; derived here.
    """
    return mle_variance(t, n, trace0)


def det_ratio_mean(t: ArrayLike, n: ArrayLike, d: int) -> Float[Array, "..."]:
    r"""$E\det\Sigma_t/\det\Sigma = [\prod_{k=1}^d (1 - k/n)]^t$: $d$-dimensional MLE, replace.

    $\det W = \prod_{k=1}^d \chi^2_{n-k}$ (independent, Bartlett), of mean $\prod_k (n-k)$; each
    generation multiplies the determinant by $\det W/n^d$ independently of the past. Needs $n > d$
    (the fit is singular otherwise and the ratio is 0). `n` and `d` are scalars; `t` may be an array.

    Source: derived here from the Bartlett decomposition (cf. Shumailov et al. 2024).
    """
    t, n = _f(t), _f(n)
    k = jnp.arange(1, d + 1, dtype=n.dtype)
    per = jnp.prod(jnp.maximum(1.0 - k / n, 0.0))
    return per**t


def log_det_ratio_mean(t: ArrayLike, n: ArrayLike, d: int) -> Float[Array, "..."]:
    r"""$E\ln(\det\Sigma_t/\det\Sigma) = t\,[\sum_{k=1}^d \psi(\tfrac{n-k}{2}) + d\ln 2 - d\ln n]$.

    MLE, replace, $n > d$.

    Sum of $t$ i.i.d. steps $\sum_k \ln\chi^2_{n-k} - d\ln n$. For $d = 1$ this is `log_variance_mean`.

    Source: derived here from the Bartlett decomposition.
    """
    t, n = _f(t), _f(n)
    k = jnp.arange(1, d + 1, dtype=n.dtype)
    step = jnp.sum(digamma((n - k) / 2.0)) + d * (math.log(2.0) - jnp.log(n))
    return t * step


def log_det_ratio_var(t: ArrayLike, n: ArrayLike, d: int) -> Float[Array, "..."]:
    r"""$\mathrm{Var}\ln\det\Sigma_t = t\sum_{k=1}^d \psi'(\tfrac{n-k}{2})$ (MLE or unbiased, replace, $n > d$).

    Source: derived here from the Bartlett decomposition.
    """
    t, n = _f(t), _f(n)
    k = jnp.arange(1, d + 1, dtype=n.dtype)
    return t * jnp.sum(polygamma(1, (n - k) / 2.0))


def conserved_mean(trace0: ArrayLike, t: ArrayLike | None = None) -> Float[Array, "..."]:
    r"""$E[\|\mu_t - \mu\|^2 + \mathrm{tr}\,\Sigma_t] = \mathrm{tr}\,\Sigma$ for every $t$ (MLE).

    Holds under replace, accumulate, pooled fresh data, augment and weighted mixing, with any
    schedule, because $\|\mu_t - \mu\|^2 + \mathrm{tr}\,\Sigma_t$ is the fitted data's mean of
    $\|x - \mu\|^2$ and each sample from model $t-1$ contributes
    $E[\|x-\mu\|^2\mid t-1] = \|\mu_{t-1}-\mu\|^2 + \mathrm{tr}\,\Sigma_{t-1}$ (a real one
    $\mathrm{tr}\,\Sigma$); induction on $t$. Fails for the unbiased estimator, for $\tau \ne 1$ and
    for a drifting truth. With `t` given, the result is broadcast to its shape.

    Source: derived here (the Bernoulli analogue $E[(p_t-p)^2 + p_t(1-p_t)] = p(1-p)$ is the same argument).
    """
    tr = _f(trace0)
    if t is None:
        return tr
    return tr + 0.0 * _f(t)


# --------------------------------------------------------------------------- accumulate
def accumulate_mean_sq_err_known_var(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu)^2 = (\sigma^2/n)\sum_{j=1}^t 1/j^2 \to (\pi^2/6)\,\sigma^2/n$: mean only, accumulate.

    The variance is known (``"mean"`` estimator).

    Generation $t$ fits the mean of all $tn$ synthetic samples, so $\mu_t = \mu_{t-1} + (\bar x_t -
    \mu_{t-1})/t$ and $e_t = e_{t-1} + \sigma^2/(n t^2)$. Bounded, against $t\sigma^2/n$ under replace.
    Computed as $\sum_{j\le t} j^{-2} = \psi'(1) - \psi'(t+1)$.

    Source: Dey and Donoho 2024; Gerstgrasser et al. 2024.
    """
    t, n = _f(t), _f(n)
    return _f(sigma2) / n * (math.pi**2 / 6.0 - polygamma(1, t + 1.0))


def mean_sq_err_recursion(a: ArrayLike, n: ArrayLike, v: ArrayLike) -> Float[Array, " T"]:
    r"""$(e_1..e_T)$ from $e_t = e_{t-1} + a_t^2 (v - e_{t-1})/n$, $e_0 = 0$.

    This is $E(\theta_t - \theta)^2$ when $\theta_t = \theta_{t-1} + a_t(\bar x_t - \theta_{t-1})$ with
    $\bar x_t$ the mean of $n$ (or $n_t$: pass an array) fresh draws from model $t-1$, and the
    model's variance obeys $E\sigma_{t-1}^2 = v - e_{t-1}$ (conservation: Gaussian MLE with
    $v = \sigma^2$, Bernoulli with $v = p(1-p)$). Replace: $a_t = 1$; accumulate: $a_t = 1/t$.
    Solved exactly as $v - e_t = (v - e_{t-1})(1 - a_t^2/n)$, i.e.
    $e_t = v[1 - \prod_{j\le t}(1 - a_j^2/n)]$. (With the variance known and fixed the recursion is
    instead $e_t = e_{t-1} + a_t^2 v/n$.)

    Source: derived here (the accumulate case is the setting of Dey and Donoho 2024 and Kazdan et al. 2024).
    """
    a = _f(a)
    return _f(v) * (1.0 - jnp.cumprod(1.0 - a * a / _f(n)))


def accumulate_mle_mean_sq_err(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu)^2 = \sigma^2[1 - \prod_{j=1}^t (1 - \tfrac{1}{n j^2})]$: MLE, accumulate.

    `mean_sq_err_recursion` with $a_t = 1/t$, valid because the MLE conserves
    $E[(\mu_t-\mu)^2 + \sigma_t^2] = \sigma^2$ under accumulate. With $x = n^{-1/2}$ the product is
    Euler's infinite product divided by its tail (derived here):
    $\ln\prod_{j\le t}(1 - x^2/j^2) = \ln\frac{\sin\pi x}{\pi x} - \sum_{j>t}\ln(1 - x^2/j^2)
    = \ln\frac{\sin\pi x}{\pi x} + \sum_{k\ge1}\frac{x^{2k}}{k}\zeta(2k, t+1)$ (Hurwitz zeta), summed to
    48 terms (the terms fall by $x^2/(t+1)^2 \le 1/2$). Unlike $\Gamma(t+1-x)\Gamma(t+1+x)/[\Gamma(1-x)
    \Gamma(1+x)\Gamma(t+1)^2]$ through `gammaln`, whose terms near $\ln\Gamma(t+1)$ cancel (relative error
    2.8e-5 at $t = 10^8$), it stays accurate for any $t$. Needs $n > 1$.

    Source: derived here; the accumulate setting of Gerstgrasser et al. 2024, Kazdan et al. 2024 and
    Dey and Donoho 2024.
    """
    t, n = jnp.broadcast_arrays(_f(t), _f(n))
    x2 = 1.0 / n
    k = jnp.arange(1, 49, dtype=t.dtype).reshape((1,) * t.ndim + (48,))
    tail = jnp.sum(x2[..., None] ** k / k * zeta(2.0 * k, t[..., None] + 1.0), axis=-1)
    log_prod = jnp.log(jnp.sinc(jnp.sqrt(x2))) + tail
    return _f(sigma2) * jnp.where(t == 0, 0.0, -jnp.expm1(log_prod))


def accumulate_mle_mean_sq_err_limit(n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$\lim_t E(\mu_t - \mu)^2 = \sigma^2[1 - \sin(\pi/\sqrt n)/(\pi/\sqrt n)]$: MLE, accumulate.

    From Euler's product $\prod_{j\ge1}(1 - x^2/j^2) = \sin(\pi x)/(\pi x)$ at $x = n^{-1/2}$; for large
    $n$ it is $\approx (\pi^2/6)\sigma^2/n$, the known-variance limit. The variance tends to
    $\sigma^2\sin(\pi/\sqrt n)/(\pi/\sqrt n) > 0$ in expectation: no collapse. Derived here.
    """
    n = _f(n)
    return _f(sigma2) * (1.0 - jnp.sinc(1.0 / jnp.sqrt(n)))


def accumulate_mle_variance(t: ArrayLike, n: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E\sigma_t^2 = \sigma^2\prod_{j=1}^t(1 - \tfrac{1}{n j^2})$: MLE, accumulate.

    Conservation minus the mean error (`accumulate_mle_mean_sq_err`).

    Source: derived here.
    """
    return _f(sigma2) - accumulate_mle_mean_sq_err(t, n, sigma2)


# --------------------------------------------------------------------------- real data mixed in
def fresh_mle_mean_sq_err(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike,
                          sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu)^2 = e^*(1 - r^t)$: MLE on $n_r$ fresh real plus $n_s$ synthetic samples, pooled.

    Derived here. With $N = n_r + n_s$, $\mu_t - \mu = [n_r(\bar x_r - \mu) + n_s(\bar x_s - \mu)]/N$
    where $\bar x_r - \mu \sim N(0, \sigma^2/n_r)$ and $\bar x_s - \mu = (\mu_{t-1} - \mu) +
    \sigma_{t-1}z/\sqrt{n_s}$, so, using conservation $E\sigma_{t-1}^2 = \sigma^2 - e_{t-1}$,
    $$e_t = [n_r\sigma^2 + n_s^2 e_{t-1} + n_s(\sigma^2 - e_{t-1})]/N^2 = [N\sigma^2 + n_s(n_s-1)e_{t-1}]/N^2$$
    (the recursion in the task brief checks out). Hence $r = n_s(n_s - 1)/N^2$ and the fixed point
    $e^* = N\sigma^2/(N^2 - n_s(n_s-1))$ (`fresh_mle_mean_sq_err_limit`); $E\sigma_t^2 = \sigma^2 - e_t$.

    Source: the fresh-data loop of Alemohammad et al. 2024 (and Bertrand et al. 2024); derived here.
    """
    t, nr, ns = _f(t), _f(n_real), _f(n_synthetic)
    big = nr + ns
    r = ns * (ns - 1.0) / (big * big)
    return fresh_mle_mean_sq_err_limit(nr, ns, sigma2) * (1.0 - r**t)


def fresh_mle_mean_sq_err_limit(n_real: ArrayLike, n_synthetic: ArrayLike,
                                sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$e^* = N\sigma^2/(N^2 - n_s(n_s - 1))$, $N = n_r + n_s$: the fixed point of `fresh_mle_mean_sq_err`.

    $e^* = \sigma^2/n_r$ without synthetic data; $e^* \le \sigma^2/n_r$ for every $n_s$, and
    $e^* \to \sigma^2/(2n_r + 1)$ as $n_s \to \infty$ (approached ever more slowly, since $r \to 1$):
    fresh real data prevent collapse whatever the synthetic share. Derived here.
    """
    nr, ns = _f(n_real), _f(n_synthetic)
    big = nr + ns
    return _f(sigma2) * big / (big * big - ns * (ns - 1.0))


def mixed_mean_sq_err(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, share: ArrayLike,
                      sigma2: ArrayLike = 1.0, *, real: str = "fixed", estimator: str = "mle") -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu)^2$ when $\mu_t = (1-a)\bar x_{\rm real} + a\,\bar x_{\rm syn}$: real data mixed with synthetic.

    $a$ (`share`) is the synthetic data's weight: $n_s/(n_r + n_s)$ when pooled (augment, fresh),
    $1 - w$ for the weighted regime. `real="fixed"`: one real set $\bar x_R$ reused every generation
    (augment, Bertrand et al. 2024); `"fresh"`: new real draws each generation. `estimator` is
    ``"mle"`` or ``"mean"`` (variance known).

    Derived here. Let $b = 1 - a$, $s = \sigma^2/n_r$, $d_t = \mu_t - \mu$. Then
    $d_t = b\,\epsilon_t + a(d_{t-1} + \sigma_{t-1}z_t/\sqrt{n_s})$ with $\epsilon_t = \bar x_{\rm real} - \mu$,
    and $E\sigma_{t-1}^2 = \sigma^2 - e_{t-1}$ (MLE, conservation, which holds for weighted fits too)
    or $\sigma^2$ (mean). So $e_t = A e_{t-1} + B + 2ab\,E[\epsilon\, d_{t-1}]$ with
    $A = a^2(1 - 1/n_s)$ (MLE) or $a^2$ (mean) and $B = b^2 s + a^2\sigma^2/n_s$.
    Fresh real data: the cross term is 0 and $e_t = B(1 - A^t)/(1 - A)$.
    Fixed real data: $E[\epsilon d_t] = s(1 - a^t)$, and
    $$e_t = (B + 2abs)\frac{1 - A^t}{1 - A} - 2abs\,\frac{A^t - a^t}{A - a}.$$
    For the mean estimator this equals $s(1-a^t)^2 + a^2(\sigma^2/n_s)(1 - a^{2t})/(1 - a^2)$.
    """
    t, nr, ns, a = _f(t), _f(n_real), _f(n_synthetic), _f(share)
    s2 = _f(sigma2)
    b = 1.0 - a
    s = s2 / nr
    if estimator == "mle":
        big_a = a * a * (1.0 - 1.0 / ns)
    elif estimator == "mean":
        big_a = a * a
    else:
        raise ValueError(f"estimator must be 'mle' or 'mean', got {estimator!r}")
    big_b = b * b * s + a * a * s2 / ns
    if real == "fresh":
        return big_b * _geom(big_a, t)
    if real != "fixed":
        raise ValueError(f"real must be 'fixed' or 'fresh', got {real!r}")
    cross = 2.0 * a * b * s
    close = jnp.abs(big_a - a) < 1e-12
    # sum_{j=1}^t A^{t-j} a^{j-1}
    mixed = jnp.where(close, t * a ** jnp.maximum(t - 1.0, 0.0),
                      (big_a**t - a**t) / jnp.where(close, 1.0, big_a - a))
    return (big_b + cross) * _geom(big_a, t) - cross * mixed


def augment_mean_sq_err(t: ArrayLike, n_real: ArrayLike, lam: ArrayLike, sigma2: ArrayLike = 1.0,
                        estimator: str = "mle") -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu)^2$ for the augment regime: a fixed real set of $n_r$ plus $n_s = \mathrm{round}(\lambda n_r)$
    synthetic samples each generation, pooled (`mixed_mean_sq_err` with $a = n_s/(n_r + n_s)$, fixed real data).

    The error stays bounded, near $\sigma^2/n_r$: with enough real data the retraining loop is stable
    (Bertrand et al. 2024). Derived here.
    """
    nr = _f(n_real)
    ns = jnp.round(_f(lam) * nr)
    return mixed_mean_sq_err(t, nr, ns, ns / (nr + ns), sigma2, real="fixed", estimator=estimator)


# --------------------------------------------------------------------------- temperature
def mle_variance_tempered(t: ArrayLike, n: ArrayLike, tau: ArrayLike, sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E\sigma_t^2 = \sigma^2(\tau^2(1 - 1/n))^t$: MLE, replace, sampling from $N(\mu_{t-1}, \tau^2\sigma_{t-1}^2)$.

    Each generation multiplies the variance by $\tau^2\chi^2_{n-1}/n$. The mean variance decays for
    $\tau$ below `critical_temperature(n)` $= 1/\sqrt{1 - 1/n}$, is constant at it and grows above.
    (Even at the critical $\tau$, $E\ln\sigma_t^2 = t[2\ln\tau + \psi(\tfrac{n-1}2) + \ln\tfrac2n] < 0$:
    the typical chain still collapses.) Derived here.
    """
    t, n, tau = _f(t), _f(n), _f(tau)
    return _f(sigma2) * (tau * tau * (1.0 - 1.0 / n)) ** t


def critical_temperature(n: ArrayLike) -> Float[Array, "..."]:
    r"""$\tau_c = 1/\sqrt{1 - 1/n} = \sqrt{n/(n-1)}$, at which the MLE's $E\sigma_t^2$ stays $\sigma^2$.

    Derived here from `mle_variance_tempered`.
    """
    n = _f(n)
    return 1.0 / jnp.sqrt(1.0 - 1.0 / n)


def mle_mean_sq_err_tempered(t: ArrayLike, n: ArrayLike, tau: ArrayLike,
                             sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E(\mu_t-\mu)^2 = (\tau^2\sigma^2/n)\sum_{i<t} q^i$, $q = \tau^2(1-1/n)$: MLE, replace, temperature $\tau$.

    $e_t = e_{t-1} + \tau^2 E\sigma_{t-1}^2/n$ (the synthetic mean has variance $\tau^2\sigma_{t-1}^2/n$).
    At $\tau = 1$ it is `mle_mean_sq_err`. Derived here.
    """
    t, n, tau = _f(t), _f(n), _f(tau)
    q = tau * tau * (1.0 - 1.0 / n)
    return _f(sigma2) * tau * tau / n * _geom(q, t)


# --------------------------------------------------------------------------- drifting truth
def drift_mean_sq_err(t: ArrayLike, n: ArrayLike, v: ArrayLike, sigma2: ArrayLike = 1.0,
                      estimator: str = "mean") -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu^*_t)^2 = v^2t^2 + t\sigma^2/n$: replace, the truth's mean moving by $v$ per generation.

    Derived here. Under replace the chain never sees the truth again, so $\mu_t - \mu_0$ is the
    same random walk as without drift while $\mu^*_t = \mu_0 + vt$; the cross term has mean 0:
    $E(\mu_t - \mu^*_t)^2 = E(\mu_t - \mu_0)^2 + v^2t^2$. The first term is $t\sigma^2/n$ for the mean
    (``"mean"``) and unbiased (``"unbiased"``) estimators and $\sigma^2[1-(1-1/n)^t]$ for the MLE
    (``"mle"``). In $d$ dimensions read $v^2$ as $\|v\|^2$ and $\sigma^2$ as $\mathrm{tr}\,\Sigma$.
    """
    t, n, v = _f(t), _f(n), _f(v)
    if estimator == "mle":
        walk = mle_mean_sq_err(t, n, sigma2)
    elif estimator in ("mean", "unbiased"):
        walk = _f(sigma2) * t / n
    else:
        raise ValueError(f"estimator must be 'mean', 'unbiased' or 'mle', got {estimator!r}")
    return v * v * t * t + walk


def fresh_drift_mean_sq_err(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, v: ArrayLike,
                            sigma2: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu^*_t)^2 = m^{*2}(1 - a^t)^2 + \tfrac{\sigma^2}{N}\tfrac{1 - a^{2t}}{1 - a^2}$.

    Mean only (variance known), fresh real data, the truth's mean moving by $v$ per generation.

    Derived here. $n_r$ fresh draws of the current truth $N(\mu^*_t, \sigma^2)$ plus $n_s$ draws of
    model $t-1$, pooled: with $N = n_r + n_s$, $a = n_s/N$ and $d_t = \mu_t - \mu^*_t$,
    $d_t = a(d_{t-1} - v) + \eta_t$, $\eta_t \sim N(0, \sigma^2/N)$. So $E d_t = m^*(1 - a^t)$ with the
    lag $m^* = -v\,n_s/n_r$ (the model trails the truth by $v n_s/n_r$), and
    $\mathrm{Var}\,d_t = (\sigma^2/N)(1 - a^{2t})/(1 - a^2)$.
    """
    t, nr, ns, v = _f(t), _f(n_real), _f(n_synthetic), _f(v)
    big = nr + ns
    a = ns / big
    lag = -v * ns / nr
    return lag * lag * (1.0 - a**t) ** 2 + _f(sigma2) / big * _geom(a * a, t)


def fresh_drift_mean_error(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike,
                           v: ArrayLike) -> Float[Array, "..."]:
    r"""$E(\mu_t - \mu^*_t) = -v\,\tfrac{n_s}{n_r}\,(1 - a^t)$, $a = n_s/(n_r + n_s)$: the lag of the fitted mean.

    Mean only (variance known, ``estimator="mean"``), fresh real data, the truth's mean moving by $v$ per
    generation ($\mu^*_t = \mu^*_0 + vt$); the signed ``mean_error`` metric. Needs $n_r \ge 1$.

    Derived here. Generation $t$ pools $n_r$ fresh draws of the current truth $N(\mu^*_t, \sigma^2)$ with
    $n_s$ draws of model $t-1$, $N(\mu_{t-1}, \sigma^2)$, and fits their mean:
    $\mu_t = (n_r\bar x_r + n_s\bar x_s)/N$, $N = n_r + n_s$, with $E\bar x_r = \mu^*_t$ and
    $E[\bar x_s \mid \mu_{t-1}] = \mu_{t-1}$. With $d_t = \mu_t - \mu^*_t$ and $\mu^*_t = \mu^*_{t-1} + v$:
    $E d_t = a\,(E\mu_{t-1} - \mu^*_t) = a\,(E d_{t-1} - v)$, $d_0 = 0$. Its fixed point is
    $m^* = a(m^* - v)$, i.e. $m^* = -av/(1 - a) = -v\,n_s/n_r$, and $E d_t - m^* = a\,(E d_{t-1} - m^*)$, so
    $E d_t = m^*(1 - a^t)$. It needs only the conditional means, so it holds for any $\sigma^2$ and in
    $d$ dimensions coordinate by coordinate (the ``mean_error`` metric, the coordinates' average error, then
    has $v$ the average of the drift's coordinates). The variance of $d_t$ is in `fresh_drift_mean_sq_err`.
    """
    t, nr, ns, v = _f(t), _f(n_real), _f(n_synthetic), _f(v)
    a = ns / (nr + ns)
    return -v * ns / nr * (1.0 - a**t)
