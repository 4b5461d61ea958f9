r"""The collapse rate and its split into a finite-sample and a function-approximation term.

A positive spread statistic $s_t$ (a variance, a trace) of a model refitted on $n$ of its own samples
changes per generation by a factor
$$\frac{s_{t+1}}{s_t} = \kappa\,F_n,\qquad F_n = \frac{\chi^2_{n-1}}{m},$$
where $F_n$ is the finite-sample factor of the Gaussian variance refit ($m = n$ for the MLE,
$m = n - 1$ for the unbiased estimator) and $\kappa$ the function-approximation factor: a learner
that shrinks ($\kappa < 1$: truncation, regularization, temperature below one) or inflates
($\kappa > 1$). For the Gaussian family sampled at temperature $\tau$, $\kappa = \tau^2$ exactly.
The collapse rate is
$$r = -E\ln\frac{s_{t+1}}{s_t} = r_{\rm sample}(n) + r_{\rm approx}(\kappa),\quad
r_{\rm sample}(n) = -\Big[\psi\big(\tfrac{n-1}{2}\big) + \ln\tfrac{2}{m}\Big],\quad
r_{\rm approx}(\kappa) = -\ln\kappa,$$
from $E\ln\chi^2_k = \psi(k/2) + \ln 2$; $\mathrm{Var}\ln(s_{t+1}/s_t) = \psi'(\tfrac{n-1}{2})$.
$r_{\rm sample} \approx 2/n$ (MLE) or $1/(n-1)$ (unbiased) for large $n$.

For a diversity statistic (Gini–Simpson, heterozygosity) under multinomial resampling of $n$ draws,
$E[H_{t+1}\mid H_t] = (1 - 1/n)H_t$ exactly, so the *mean* decays at the rate
$r_{\rm div} = -\ln(1 - 1/n) - \ln\kappa$.

Sources: the log-chi-square walk, Shumailov et al. 2024 (Nature 631, "AI models collapse when
trained on recursively generated data"), Suresh et al. 2024; heterozygosity, Seddik et al. 2024 and
the Wright–Fisher literature (Ewens 2004, eq. 1.26). The decomposition into the two terms is derived
here (the logarithm of a product of independent factors).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln, polygamma
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "collapse_rate",
    "diversity_rate",
    "log_ratio_logpdf",
    "log_ratio_var",
    "ols_error_increment",
    "rate_approx",
    "rate_sample",
]

DIVISORS = ("mle", "unbiased")


def _f(x) -> Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _m(n: Array, divisor: str) -> Array:
    if divisor not in DIVISORS:
        raise ValueError(f"unknown divisor {divisor!r}; choose one of {DIVISORS}")
    return n if divisor == "mle" else n - 1.0


def rate_sample(n: ArrayLike, divisor: str = "mle") -> Float[Array, "..."]:
    r"""$r_{\rm sample}(n) = -E\ln(\chi^2_{n-1}/m) = -[\psi(\tfrac{n-1}{2}) + \ln(2/m)]$, $m = n$ (MLE) or $n-1$.

    The finite-sample part of the collapse rate of a variance refitted on $n$ samples
    (Shumailov et al. 2024; $E\ln\chi^2_k = \psi(k/2) + \ln 2$). Real $n > 1$ is allowed (an effective size).
    """
    n = _f(n)
    return -(digamma((n - 1.0) / 2.0) + jnp.log(2.0 / _m(n, divisor)))


def rate_approx(kappa: ArrayLike) -> Float[Array, "..."]:
    r"""$r_{\rm approx}(\kappa) = -\ln\kappa$: the function-approximation part of the collapse rate (derived here)."""
    return -jnp.log(_f(kappa))


def collapse_rate(n: ArrayLike, kappa: ArrayLike = 1.0, divisor: str = "mle") -> Float[Array, "..."]:
    r"""$r = -E\ln(s_{t+1}/s_t) = r_{\rm sample}(n) + r_{\rm approx}(\kappa)$ for $s_{t+1}/s_t = \kappa\chi^2_{n-1}/m$.

    Gaussian MLE at temperature $\tau$: $\kappa = \tau^2$ and $E\ln\sigma_t^2/\sigma_0^2 = -rt$
    (Shumailov et al. 2024 at $\tau = 1$; the temperature term is derived here).
    """
    return rate_sample(n, divisor) + rate_approx(kappa)


def log_ratio_var(n: ArrayLike) -> Float[Array, "..."]:
    r"""$\mathrm{Var}\ln(s_{t+1}/s_t) = \psi'(\tfrac{n-1}{2})$.

    $\mathrm{Var}\ln\chi^2_k = \psi'(k/2)$ (Shumailov et al. 2024).
    """
    return polygamma(1, (_f(n) - 1.0) / 2.0)


def log_ratio_logpdf(y: ArrayLike, n: ArrayLike, kappa: ArrayLike = 1.0, divisor: str = "mle") -> Float[Array, "..."]:
    r"""Exact log density of $y = \ln\kappa + \ln(\chi^2_{n-1}/m)$ (a log-chi-square, i.e. log-gamma, law).

    With $k = n - 1$ and $x = m e^{y}/\kappa \sim \chi^2_k$:
    $\ln p(y) = \tfrac k2\ln x - \tfrac x2 - \tfrac k2\ln 2 - \ln\Gamma(\tfrac k2)$ (the chi-square density
    times the Jacobian $dx/dy = x$). Derived here from the chi-square density.
    """
    y, n, kappa = _f(y), _f(n), _f(kappa)
    k = n - 1.0
    lx = y - jnp.log(kappa) + jnp.log(_m(n, divisor))
    return 0.5 * k * lx - 0.5 * jnp.exp(lx) - 0.5 * k * jnp.log(2.0) - gammaln(0.5 * k)


def diversity_rate(n: ArrayLike, kappa: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$r_{\rm div} = -\ln E[H_{t+1}/H_t] = -\ln(1 - 1/n) - \ln\kappa$ for Gini–Simpson diversity.

    Multinomial resampling of $n$ draws: $E[1 - \sum_i p_{t+1,i}^2 \mid p_t] = (1 - 1/n)(1 - \sum_i p_{t,i}^2)$
    (Seddik et al. 2024; Ewens 2004, eq. 1.26).
    """
    n = _f(n)
    return -jnp.log1p(-1.0 / n) - jnp.log(_f(kappa))


def ols_error_increment(noise_var: ArrayLike, d: ArrayLike, T: ArrayLike,
                        approx: ArrayLike = 0.0) -> Float[Array, "..."]:
    r"""Per-generation growth of the OLS test error: $\sigma^2 d/(T - d - 1) + b$.

    Refitting OLS with a fresh Gaussian design of $T$ rows ($\Sigma = I$) and label noise
    $\sigma^2$ on the previous generation's labels adds $\sigma^2\,\mathrm{tr}\,E(X^\top X)^{-1} =
    \sigma^2 d/(T-d-1)$ to $E\|w_t - w^*\|^2$ each generation (Dohmatob, Feng and Kempe 2024,
    "Model collapse demystified", Theorem 1); $b$ is an added function-approximation term
    (derived here: an independent zero-mean perturbation of squared size $b$ adds $b$).
    """
    d, T = _f(d), _f(T)
    return _f(noise_var) * d / (T - d - 1.0) + _f(approx)
