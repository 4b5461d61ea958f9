r"""Closed forms for kernel density estimates refit on their own samples (`jaxcollapse.KDE`).

**Kernel density estimates (derived here).** A KDE with a Gaussian kernel of covariance $H$ over a
pool of $N$ equally weighted points with $S = \sum x_i$ and $Q = \sum \|x_i\|^2$ is a mixture with mean
$S/N$ and covariance trace $Q/N - \|S\|^2/N^2 + \mathrm{tr}\,H$. Drawing $n$ samples $y_j = p_j + \varepsilon_j$
($p_j$ a uniformly chosen pool point, $\varepsilon_j \sim N(0, H)$) gives, conditionally on the pool,

$$E\textstyle\sum_j y_j = nS/N,\quad E\sum_j\|y_j\|^2 = n(Q/N + \mathrm{tr}H),\quad
  E\|\sum_j y_j\|^2 = n(Q/N + \mathrm{tr}H) + n(n-1)\|S\|^2/N^2 .$$

Both are linear in $(Q, \|S\|^2)$, so with a fixed bandwidth the expectations
$(E Q_t, E\|S_t\|^2)$ obey an exact linear recursion: under *replace* the new pool is the $n$ draws;
under *accumulate* they are appended ($S' = S + \sum y$, $Q' = Q + \sum\|y\|^2$,
$E\|S'\|^2 = \|S\|^2(1 + 2n/N) + E\|\sum y\|^2$). In 1-D under replace this is
$E s_{t+1}^2 = \frac{n-1}{n}(s_t^2 + h^2)$ for the pool's (biased) variance $s_t^2$, so the KDE's
variance $s_t^2 + h^2$ *grows* to $n h^2$ instead of collapsing. With a data-driven bandwidth
$H_t = f^2 \hat\Sigma_t$ (Scott: $f = n^{-1/(d+4)}$; Silverman: $f = (n(d+2)/4)^{-1/(d+4)}$;
$\hat\Sigma_t$ the unbiased covariance of the pool, as in `scipy.stats.gaussian_kde`) the KDE's
covariance trace is $V_t = \mathrm{tr}\hat\Sigma^{b}_t(1 + f^2 n/(n-1))$ and
$E[V_{t+1} \mid t] = \rho V_t$ with $\rho = 1 - 1/n + f^2 > 1$: the KDE refit on its own samples
under replace *inflates* geometrically (Kazdan et al. 2024 study KDEs in this loop; these exact
moments are derived here).

References:

- Kazdan, Schaeffer, Dey, Gerstgrasser, Rafailov, Donoho and Koyejo (2024), "Collapse or thrive? Perils
  and promises of synthetic data in a self-generating world" (KDEs under replace and accumulate).
- Scott (1992), *Multivariate Density Estimation*; Silverman (1986), *Density Estimation*, eq. 4.14.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

__all__ = ["kde_fixed_moments", "kde_scott_factor", "kde_scott_spread"]


def kde_fixed_moments(t: int, n: int, kernel_trace: float | int, n0: int, s0_sq: float | int, q0: float | int,
                      memory: str = "replace") -> dict[str, np.ndarray]:
    r"""Exact $E\,\mathrm{tr}\,\mathrm{Cov}$ and $E\|\text{mean}\|^2$ of a fixed-bandwidth KDE refit on its own samples.

    Model 0 is a KDE over $n_0$ equally weighted points with $\|S_0\|^2 =$ `s0_sq` and $Q_0 =$ `q0`
    ($S = \sum x_i$, $Q = \sum\|x_i\|^2$) and kernel covariance trace `kernel_trace` $= \mathrm{tr}H$;
    generation $s \ge 1$ draws $n$ samples from model $s-1$; under ``"replace"`` the next pool is those
    draws, under ``"accumulate"`` they are appended to the synthetic pool (which starts empty, as in
    `jaxcollapse.simulate`: generation 1 fits on $n$ points, generation $s$ on $sn$). Returns, for
    generations $0..t$, ``"spread"`` $= E[Q_s/N_s - \|S_s\|^2/N_s^2] + \mathrm{tr}H$ and
    ``"mean_sq"`` $= E\|S_s\|^2/N_s^2$ (the squared distance of the KDE's mean from 0). Derived here
    (module docstring); the setting is Kazdan et al. (2024).
    """
    if memory not in ("replace", "accumulate"):
        raise ValueError(f"memory must be 'replace' or 'accumulate', got {memory!r}")
    N, S2, Q = float(n0), float(s0_sq), float(q0)
    spread = [Q / N - S2 / N**2 + kernel_trace]
    mean_sq = [S2 / N**2]
    for s in range(1, t + 1):
        draws_q = n * (Q / N + kernel_trace)  # E sum ||y||^2
        draws_s2 = draws_q + n * (n - 1) * S2 / N**2  # E ||sum y||^2
        if memory == "replace" or s == 1:
            N, S2, Q = float(n), draws_s2, draws_q
        else:
            N, S2, Q = N + n, S2 * (1.0 + 2.0 * n / N) + draws_s2, Q + draws_q
        spread.append(Q / N - S2 / N**2 + kernel_trace)
        mean_sq.append(S2 / N**2)
    return {"spread": np.asarray(spread), "mean_sq": np.asarray(mean_sq)}


def kde_scott_factor(n: float | int, d: int, rule: str = "scott") -> float:
    r"""The bandwidth factor $f$ of `scipy.stats.gaussian_kde`: Scott $n^{-1/(d+4)}$, Silverman
    $(n(d+2)/4)^{-1/(d+4)}$ (Scott 1992, *Multivariate Density Estimation*; Silverman 1986, eq. 4.14)."""
    if rule == "scott":
        return float(n) ** (-1.0 / (d + 4))
    if rule == "silverman":
        return (float(n) * (d + 2) / 4.0) ** (-1.0 / (d + 4))
    raise ValueError(f"rule must be 'scott' or 'silverman', got {rule!r}")


def kde_scott_spread(t: ArrayLike, n: int, d: int, spread0: ArrayLike, rule: str = "scott") -> Float[Array, "..."]:
    r"""$E V_t = \rho^t V_0$, $\rho = 1 - 1/n + f^2$, for a Scott/Silverman KDE over $n$ points refit under replace.

    $V_t$ is the trace of the KDE's covariance, $V_0$ that of model 0 (a KDE over $n$ points with the
    same rule). Derived here (module docstring): $\rho > 1$ for every $n \ge 2$, so the spread grows.
    """
    f = kde_scott_factor(n, d, rule)
    rho = 1.0 - 1.0 / n + f * f
    return jnp.asarray(spread0) * rho ** jnp.asarray(t, jnp.result_type(float))
