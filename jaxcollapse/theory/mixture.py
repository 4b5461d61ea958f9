r"""Closed forms for Gaussian mixtures, kernel density estimates and curated refitting.

**Mixtures.** The $L^2$ distance between two Gaussian mixtures is a finite sum, because the
product of two Gaussian densities integrates to a Gaussian density in the difference of their means:
$\int N(x; a, A)\, N(x; b, B)\,dx = N(a; b, A + B)$ (e.g. Petersen and Pedersen, *The Matrix
Cookbook*, eq. 371; Jian and Vemuri 2011, "Robust point set registration using Gaussian mixture
models", IEEE TPAMI 33, eq. 5). Hence for $p = \sum_i a_i N(\mu_i, \Sigma_i)$ and
$q = \sum_j b_j N(\nu_j, T_j)$

$$\|p - q\|_2^2 = \sum_{i,i'} a_i a_{i'} N(\mu_i; \mu_{i'}, \Sigma_i + \Sigma_{i'})
  - 2\sum_{i,j} a_i b_j N(\mu_i; \nu_j, \Sigma_i + T_j) + \sum_{j,j'} b_j b_{j'} N(\nu_j; \nu_{j'}, T_j + T_{j'}).$$

**EM refits the overall moments exactly (derived here).** One M-step with responsibilities $r_{ik}$
($\sum_k r_{ik} = 1$) and sample weights $w_i$ ($W = \sum w_i$) sets $\pi_k = N_k/W$,
$\mu_k = \sum_i w_i r_{ik}x_i/N_k$, $\Sigma_k = \sum_i w_i r_{ik}(x_i - \mu_k)(x_i - \mu_k)^\top/N_k$, hence
$\sum_k\pi_k\mu_k = \sum_i w_i x_i/W$ and $\sum_k \pi_k(\Sigma_k + \mu_k\mu_k^\top) = \sum_i w_i x_i x_i^\top/W$: the
mixture's mean and covariance are the data's, for any responsibilities, so for any $K$, any start and
any number ($\ge 1$) of EM iterations. Under replace with $n$ draws from model $t-1$ (whose covariance
trace is $s_{t-1}$) the refit's trace is the trace of an MLE covariance: $E[s_t \mid s_{t-1}] = (1 - 1/n)s_{t-1}$.

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

**Curation (derived here).** A Gaussian model equal to the truth $N(\mu, \sigma^2)$ in 1-D; a verifier
calls a sample good when $|x - \mu| \le c\sigma$ (a threshold on the truth's log-density) and accepts a
good one with probability $\alpha$ (true acceptance rate), a bad one with probability $\beta$ (false
acceptance rate), independently (Feng et al. 2024, "Beyond model collapse: scaling up with
synthesized data requires verification", whose noisy verifier has exactly these two rates). With
$q = 2\Phi(c) - 1$, $m_{\rm in} = E[Z^2; |Z| \le c] = q - 2c\varphi(c)$: each of the $n$ samples is kept
with probability $p = \alpha q + \beta(1 - q)$; the kept ones are iid with mean $\mu$ and variance
$V = \sigma^2(\alpha m_{\rm in} + \beta(1 - m_{\rm in}))/p$, their number is $M \sim \mathrm{Bin}(n, p)$,
and the MLE refit (the previous model kept when $M = 0$) has

$$E\sigma_1^2 = V\,E\Big[\tfrac{M-1}{M}; M \ge 1\Big] + \sigma^2 P(M = 0), \qquad
  E(\mu_1 - \mu)^2 = V\,E\Big[\tfrac1M; M \ge 1\Big].$$

References:

- Shumailov et al. (2024), "AI models collapse when trained on recursively generated data", *Nature* 631
  (the two-component mixture refit by EM, n = 1000 per generation).
- Kazdan, Schaeffer, Dey, Gerstgrasser, Rafailov, Donoho and Koyejo (2024), "Collapse or thrive? Perils
  and promises of synthetic data in a self-generating world" (KDEs under replace and accumulate).
- Feng, Dohmatob, Yang, Charton and Kempe (2024), "Beyond model collapse: scaling up with synthesized
  data requires verification".
- Ferbach, Bertrand, Bose and Gidel (2024), "Self-consuming generative models with curated data provably
  optimize human preferences" (NeurIPS).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..families.gaussian import _chol_psd, _forward_substitution

__all__ = [
    "curated_gaussian_one_step",
    "mixture_spread_mean",
    "gaussian_overlap",
    "kde_fixed_moments",
    "kde_scott_factor",
    "kde_scott_spread",
    "mixture_l2sq",
    "mixture_moments",
]


def _log_normal_at(x: Float[Array, " d"], mean: Float[Array, " d"], cov: Float[Array, "d d"]) -> Float[Array, ""]:
    d = x.shape[0]
    L = _chol_psd(cov)
    diag = jnp.diagonal(L)
    singular = jnp.any(diag <= 0)
    safe = jnp.where(singular, jnp.eye(d, dtype=cov.dtype), L)
    z = _forward_substitution(safe, (x - mean)[:, None])[:, 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.where(singular, 1.0, diag)))
    val = -0.5 * jnp.sum(z * z) - 0.5 * logdet - 0.5 * d * math.log(2.0 * math.pi)
    return jnp.where(singular, -jnp.inf, val)


def gaussian_overlap(m1: Float[ArrayLike, " d"], c1: Float[ArrayLike, "d d"], m2: Float[ArrayLike, " d"],
                     c2: Float[ArrayLike, "d d"]) -> Float[Array, ""]:
    r"""$\int N(x; m_1, C_1) N(x; m_2, C_2)\,dx = N(m_1; m_2, C_1 + C_2)$ (The Matrix Cookbook, eq. 371)."""
    m1, m2 = jnp.asarray(m1), jnp.asarray(m2)
    return jnp.exp(_log_normal_at(m1, m2, jnp.asarray(c1) + jnp.asarray(c2)))


def _cross(wa, ma, ca, wb, mb, cb) -> Float[Array, ""]:
    pair = jax.vmap(jax.vmap(gaussian_overlap, in_axes=(None, None, 0, 0)), in_axes=(0, 0, None, None))
    return jnp.sum(wa[:, None] * wb[None, :] * pair(ma, ca, mb, cb))


def mixture_l2sq(w1: Float[ArrayLike, " K"], m1: Float[ArrayLike, "K d"], c1: Float[ArrayLike, "K d d"],
                 w2: Float[ArrayLike, " J"], m2: Float[ArrayLike, "J d"], c2: Float[ArrayLike, "J d d"],
                 ) -> Float[Array, ""]:
    r"""Squared $L^2$ distance $\int (p - q)^2\,dx$ between two Gaussian mixtures, in closed form.

    $p = \sum_i w_{1i} N(m_{1i}, c_{1i})$, $q = \sum_j w_{2j} N(m_{2j}, c_{2j})$; the sum of the three
    overlap terms of the module docstring (Jian and Vemuri 2011, eq. 5; The Matrix Cookbook, eq. 371).
    Clipped at 0 against rounding.
    """
    w1, m1, c1 = (jnp.asarray(a) for a in (w1, m1, c1))
    w2, m2, c2 = (jnp.asarray(a) for a in (w2, m2, c2))
    val = _cross(w1, m1, c1, w1, m1, c1) - 2.0 * _cross(w1, m1, c1, w2, m2, c2) + _cross(w2, m2, c2, w2, m2, c2)
    return jnp.maximum(val, 0.0)


def mixture_moments(w: Float[ArrayLike, " K"], m: Float[ArrayLike, "K d"], c: Float[ArrayLike, "K d d"],
                    ) -> tuple[Float[Array, " d"], Float[Array, "d d"]]:
    r"""Mean $\sum_k w_k\mu_k$ and covariance $\sum_k w_k(\Sigma_k + \mu_k\mu_k^\top) - \bar\mu\bar\mu^\top$
    of a mixture (law of total variance), weights normalized."""
    w, m, c = jnp.asarray(w), jnp.asarray(m), jnp.asarray(c)
    w = w / jnp.sum(w)
    mean = w @ m
    dm = m - mean[None, :]
    cov = jnp.einsum("k,kij->ij", w, c) + jnp.einsum("k,ki,kj->ij", w, dm, dm)
    return mean, cov


def mixture_spread_mean(t: ArrayLike, n: ArrayLike, spread0: ArrayLike) -> Float[Array, "..."]:
    r"""$E\,\mathrm{tr}\,\mathrm{Cov}_t = (1 - 1/n)^t\,\mathrm{tr}\,\mathrm{Cov}_0$ for a mixture refit by EM (replace).

    Any number of components, any initialization and any number $\ge 1$ of EM iterations, without a
    covariance floor and while no component dies: an M-step refits the mixture's overall mean and
    covariance to the data's (module docstring; derived here), so the spread decays as the Gaussian
    MLE's (Shumailov et al. 2024's $\sigma^2(1 - 1/n)^t$).
    """
    t = jnp.asarray(t, jnp.result_type(float))
    return jnp.asarray(spread0) * (1.0 - 1.0 / jnp.asarray(n, t.dtype)) ** t


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


def curated_gaussian_one_step(n: int, c: float | int, accept_good: float | int = 1.0, accept_bad: float | int = 0.0,
                              sigma2: float | int = 1.0) -> dict[str, float]:
    r"""$E\sigma_1^2$ and $E(\mu_1-\mu)^2$ after one curated MLE refit of $N(\mu, \sigma^2)$ (1-D).

    The verifier calls $|x - \mu| \le c\sigma$ good and accepts good samples with probability
    `accept_good`, bad ones with `accept_bad` (Feng et al. 2024's noisy verifier); the closed form is
    derived in the module docstring (a binomial number of kept samples, each from the accepted law).
    """
    from scipy.stats import binom, norm

    q = 2.0 * norm.cdf(c) - 1.0
    m_in = q - 2.0 * c * norm.pdf(c)
    p = accept_good * q + accept_bad * (1.0 - q)
    if p <= 0:
        return {"variance": float(sigma2), "mean_sq_err": 0.0, "keep_prob": 0.0}
    v = sigma2 * (accept_good * m_in + accept_bad * (1.0 - m_in)) / p
    m = np.arange(1, n + 1)
    pm = binom.pmf(m, n, p)
    p0 = float(binom.pmf(0, n, p))
    return {
        "variance": float(v * np.sum(pm * (m - 1) / m) + sigma2 * p0),
        "mean_sq_err": float(v * np.sum(pm / m)),
        "keep_prob": float(p),
    }
