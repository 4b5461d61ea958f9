r"""Closed forms for recursive linear regression (`jaxcollapse.families.Regression`).

Conventions (those of `jaxcollapse.simulate`): the truth is $w^*$ with design $x \sim N(0, \Sigma)$ in
$\mathbb R^d$ and label noise $\sigma$; model 0 is the truth; generation $t \ge 1$ fits $w_t$ on $T$ rows
labelled by model $t-1$: $y = Xw_{t-1} + \sigma\varepsilon$. $t$ counts fits. The error is the excess
risk $E\|w_t - w^*\|^2_\Sigma = E(w_t - w^*)^\top\Sigma(w_t - w^*)$. OLS formulas need $T \ge d + 2$
and raise `ValueError` otherwise (the simulation itself fits min-norm solutions there).

Two facts carry every derivation here ("derived here" refers to them):

1. **Inverse Wishart mean.** $G = X^\top X \sim \mathrm{Wishart}_d(m, \Sigma)$ has
   $E G^{-1} = \Sigma^{-1}/(m - d - 1)$ for $m \ge d + 2$, so $E\,\mathrm{tr}(\Sigma G^{-1}) = d/(m-d-1)$.
2. **The OLS step is a martingale increment.** Fitting OLS on $X$ with labels $Xv + \sigma\varepsilon$
   gives $v + G^{-1}X^\top\sigma\varepsilon$, and $\sigma G^{-1}X^\top\varepsilon \mid X \sim N(0, \sigma^2 G^{-1})$
   has mean zero given everything before, so the excess risks of the increments add up.

Which regimes have closed forms: replace (fixed or fresh design), accumulate (fixed design: the
$\sum 1/i^2$ pathway; fresh design: `accumulate_fresh_risk`, derived here), a fixed design mixed with
real labels (augment with $\lambda = 1$, weighted, fresh real labels: `fixed_design_mixed_risk`), the
downstream evaluation (OLS exact, ridge asymptotic), and the noise-free over-parameterized min-norm
chain. Not in closed form here: a fresh design mixed with real data, sample-size schedules with ridge,
and ridge chains (the downstream ridge formula covers an OLS chain followed by one ridge fit).

References:

- Dohmatob, Feng and Kempe (2024), "Model collapse demystified: the case of regression", NeurIPS 2024
  (arXiv:2402.07712), Theorem 4.1 (OLS test error after $n$ generations) and Section 4 (ridge,
  over-parameterized min-norm).
- Gerstgrasser et al. (2024), "Is model collapse inevitable? Breaking the curse of recursion by
  accumulating real and synthetic data" (arXiv:2404.01413), their linear-regression theorems (fixed design:
  replace grows linearly; accumulate is bounded by $\pi^2/6$ times the first error). Theorem numbers are
  not quoted here because the versions differ; every statement below is re-derived in its docstring.
- Dey and Donoho (2024), "Universality of the $\pi^2/6$ pathway in avoiding model collapse"
  (arXiv:2410.22812).
- Kazdan et al. (2024), "Collapse or thrive? Perils and promises of synthetic data in a self-generating
  world" (arXiv:2410.16713).
- Marchenko and Pastur (1967); the Stieltjes transform of their law as in Bai and Silverstein (2010),
  *Spectral analysis of large dimensional random matrices*, eq. (3.1.1).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "accumulate_bound",
    "accumulate_fixed_risk",
    "accumulate_fresh_risk",
    "downstream_ols_risk",
    "downstream_ridge_risk",
    "downstream_ridge_risk_spectral",
    "fixed_design_mixed_risk",
    "minnorm_risk",
    "minnorm_w_norm_sq",
    "mp_stieltjes",
    "ols_risk",
    "replace_risk",
]


def _need_ols(T, d, name: str = "T") -> None:
    T_ = np.asarray(T)
    if isinstance(d, bool) or int(d) != d or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    if not np.all(T_ > d + 1):
        raise ValueError(
            f"the OLS formula needs {name} > d + 1 = {int(d) + 1} rows (the inverse-Wishart mean); got {name} = {T}. "
            "With fewer rows the fit is the min-norm solution, whose error this formula does not give"
        )


def _arr(x) -> Array:
    return jnp.asarray(x, jnp.result_type(float))


def ols_risk(T: ArrayLike, d: int, noise: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Excess risk of one OLS fit on $T$ rows: $E\|\hat w - w\|^2_\Sigma = \sigma^2 d/(T - d - 1)$.

    Any design covariance $\Sigma$ (fact 1 of the module docstring). Raises for $T \le d + 1$.
    Dohmatob, Feng and Kempe 2024, Theorem 4.1 with $n = 0$.
    """
    _need_ols(T, d)
    return _arr(noise) ** 2 * d / (_arr(T) - d - 1.0)


def replace_risk(n: ArrayLike, T: ArrayLike, d: int, noise: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Replace, OLS, fixed or fresh design: $E\|w_n - w^*\|^2_\Sigma = n\sigma^2 d/(T - d - 1)$.

    $w_n = w^* + \sum_{t\le n}\sigma G_t^{-1}X_t^\top\varepsilon_t$: $n$ uncorrelated increments, each
    of risk $\sigma^2 d/(T-d-1)$ in expectation over the design (fact 2; with a fixed design all $G_t$
    are the same $G$ and the expectation over $G$ is taken at the end). Linear growth: Gerstgrasser et
    al. 2024 (fixed design); Dohmatob, Feng and Kempe 2024, Theorem 4.1 (fresh design).
    """
    _need_ols(T, d)
    return _arr(n) * ols_risk(T, d, noise)


def _inv_sq_sum(n) -> Array:
    """$\\sum_{i=1}^{n} 1/i^2$ for an integer array `n` (exact partial sums, elementwise)."""
    n = np.asarray(n)
    m = int(n.max()) if n.size else 0
    partial = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, m + 1, dtype=np.float64) ** 2)])
    return _arr(partial[n.astype(np.int64)])


def accumulate_fixed_risk(n: ArrayLike, T: ArrayLike, d: int, noise: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Accumulate, OLS, fixed design: $E\|w_n - w^*\|^2_\Sigma = \frac{\sigma^2 d}{T-d-1}\sum_{i=1}^n \frac1{i^2}$.

    Generation $t$ fits all $t$ label sets of the same $X$: $w_t = \frac1t\sum_{i\le t}(w_{i-1} + \eta_i)$
    with $\eta_i = \sigma G^{-1}X^\top\varepsilon_i$, so $e_t = w_t - w^*$ obeys $t e_t - (t-1)e_{t-1} =
    e_{t-1} + \eta_t$, i.e. $e_t = e_{t-1} + \eta_t/t$ and $e_n = \sum_{i\le n}\eta_i/i$. Bounded by
    $\frac{\pi^2}{6}\sigma^2 d/(T-d-1)$ (`accumulate_bound`). Gerstgrasser et al. 2024 (accumulate,
    fixed design); Dey and Donoho 2024. `n` must be concrete integers.
    """
    _need_ols(T, d)
    return ols_risk(T, d, noise) * _inv_sq_sum(n)


def accumulate_bound(T: ArrayLike, d: int, noise: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""The $\pi^2/6$ bound of accumulate: $\frac{\pi^2}{6}\,\sigma^2 d/(T - d - 1)$ (the $n\to\infty$ limit).

    Gerstgrasser et al. 2024 (accumulate); Dey and Donoho 2024 (universality of the $\pi^2/6$ pathway).
    """
    return ols_risk(T, d, noise) * (math.pi**2 / 6.0)


def accumulate_fresh_risk(n: ArrayLike, T: ArrayLike, d: int, noise: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Accumulate, OLS, a fresh design each generation: $\sigma^2\sum_{t=1}^n \frac{d}{t\,(tT - d - 1)}$.

    Derived here. With $S_t = \sum_{i\le t} X_i^\top X_i$ and $b_t = \sum_{i\le t}X_i^\top y_i$, the fit
    is $w_t = S_t^{-1}b_t$ and $b_t = b_{t-1} + X_t^\top X_t w_{t-1} + \sigma X_t^\top\varepsilon_t$, so
    $S_t w_t = S_t w_{t-1} + \sigma X_t^\top\varepsilon_t$: $w_t = w_{t-1} + \sigma S_t^{-1}X_t^\top\varepsilon_t$,
    a martingale increment of risk $\sigma^2 E\,\mathrm{tr}(\Sigma S_t^{-1}G_tS_t^{-1})$. The $t$ Grams in
    $S_t$ are exchangeable, so $E[S_t^{-1}G_tS_t^{-1}] = \frac1t E[S_t^{-1}] = \Sigma^{-1}/(t(tT-d-1))$
    ($S_t \sim \mathrm{Wishart}_d(tT, \Sigma)$). Bounded like the fixed design's $\sum 1/i^2$ series:
    the $t$-th term is $\approx \frac{\sigma^2 d}{T}\frac1{t^2}$. Needs $T \ge d + 2$. Cf. Gerstgrasser et
    al. 2024 (fixed design) and Dey and Donoho 2024.
    """
    _need_ols(T, d)
    n_ = np.asarray(n)
    if np.ndim(T) != 0:
        raise ValueError("T must be a scalar here")
    m = int(n_.max()) if n_.size else 0
    t = np.arange(1, m + 1, dtype=np.float64)
    partial = np.concatenate([[0.0], np.cumsum(d / (t * (t * float(T) - d - 1.0)))])
    return _arr(noise) ** 2 * _arr(partial[n_.astype(np.int64)])


def fixed_design_mixed_risk(n: ArrayLike, T: ArrayLike, d: int, w: ArrayLike, noise: ArrayLike = 1.0,
                            real: str = "fixed") -> Float[Array, "..."]:
    r"""OLS on a fixed design whose real labels get weight $w$ and the synthetic labels $1 - w$ (replace).

    Every data set uses the same $T\times d$ design $X$; the real labels are $Xw^* + \sigma\varepsilon_r$,
    the synthetic ones $Xw_{t-1} + \sigma\varepsilon_t$; the (weighted) pooled OLS fit is
    $w_t = w\,(w^* + \eta_r) + (1-w)(w_{t-1} + \eta_t)$, $\eta = \sigma G^{-1}X^\top\varepsilon$. Derived
    here: with a fixed real set (``real="fixed"``: augment with $\lambda = 1$, which pools equal sizes,
    $w = 1/2$; or weighted) $e_t = (1 - q^t)\eta_r + \sum_{j\le t} q^{t-j+1}\eta_j$, $q = 1 - w$, and
    $$E\|w_t - w^*\|^2_\Sigma = \frac{\sigma^2 d}{T-d-1}\Big[(1 - q^t)^2 + \frac{q^2(1 - q^{2t})}{1 - q^2}\Big];$$
    with fresh real labels each generation (``real="fresh"``) the real increments are independent:
    $\frac{\sigma^2 d}{T-d-1}\,(w^2 + q^2)\frac{1 - q^{2t}}{1 - q^2}$. Both tend to finite limits:
    $1 + q^2/(1 - q^2)$ and $(w^2 + q^2)/(1 - q^2)$ times the one-fit error, which at $w = q = 1/2$ are
    $1 + \frac{1/4}{3/4} = 4/3$ and $\frac{1/2}{3/4} = 2/3$ (fresh real labels each generation average
    two independent noise draws per fit, so the limit lies below the one-fit error). Cf. Gerstgrasser et
    al. 2024 and Kazdan et al. 2024, whose mixed real/synthetic linear-regression settings these are.
    """
    if real not in ("fixed", "fresh"):
        raise ValueError(f"real must be 'fixed' or 'fresh', got {real!r}")
    w_ = np.asarray(w, np.float64)
    if not np.all((w_ > 0) & (w_ <= 1)):
        raise ValueError(f"the real data's weight w must lie in (0, 1], got {w}")
    _need_ols(T, d)
    q = 1.0 - _arr(w)
    t = _arr(n)
    geo = jnp.where(q < 1, (1.0 - q ** (2 * t)) / (1.0 - q * q), t)
    if real == "fixed":
        factor = (1.0 - q**t) ** 2 + q * q * geo
    else:
        factor = ((1.0 - q) ** 2 + q * q) * geo
    return ols_risk(T, d, noise) * factor


def downstream_ols_risk(n: ArrayLike, T: ArrayLike, T0: ArrayLike, d: int, noise: ArrayLike = 1.0,
                        noise0: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Downstream OLS after $n$ generations: $\frac{\sigma^2 d}{T-d-1} + n\frac{\sigma_0^2 d}{T_0-d-1}$.

    The chain: $n$ OLS generations under replace, each on $T_0$ rows with label noise $\sigma_0$ (fresh
    or fixed design). Downstream: a fresh OLS fit $\hat w$ on $T$ fresh rows labelled by $w_n$ with noise
    $\sigma$; the risk is measured against $w^*$. $\hat w = w_n + \sigma G^{-1}X^\top\varepsilon$ with $G$
    independent of the chain, so the two terms add (fact 2). Dohmatob, Feng and Kempe 2024, Theorem 4.1:
    $\sigma, T$ belong to the downstream fit, $\sigma_0, T_0$ to each generation of the chain.
    """
    _need_ols(T, d)
    _need_ols(T0, d, "T0")
    return ols_risk(T, d, noise) + replace_risk(n, T0, d, noise0)


def mp_stieltjes(lam: ArrayLike, gamma: ArrayLike) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    r"""$m = \int \frac{d\mu(s)}{s + \lambda}$ and $m_2 = \int\frac{d\mu(s)}{(s+\lambda)^2}$ for the
    Marchenko–Pastur law $\mu$ of ratio $\gamma = d/T$ (unit variance), $\lambda > 0$.

    $m = \frac{-(1 - \gamma + \lambda) + \sqrt{(1 - \gamma + \lambda)^2 + 4\gamma\lambda}}{2\gamma\lambda}$
    (Bai and Silverstein 2010, eq. 3.1.1 at $z = -\lambda$; it includes the atom of mass $1 - 1/\gamma$ at 0
    when $\gamma > 1$), and $m_2 = -\partial m/\partial\lambda$.
    """
    lam, gamma = _arr(lam), _arr(gamma)
    a = 1.0 - gamma + lam
    D = jnp.sqrt(a * a + 4.0 * gamma * lam)
    m = (D - a) / (2.0 * gamma * lam)
    dD = (a + 2.0 * gamma) / D
    dm = ((dD - 1.0) * lam - (D - a)) / (2.0 * gamma * lam * lam)
    return m, -dm


def downstream_ridge_risk(n: ArrayLike, T: ArrayLike, T0: ArrayLike, d: int, ridge: ArrayLike,
                          noise: ArrayLike = 1.0, noise0: ArrayLike = 1.0, w_star_sq: ArrayLike = 1.0,
                          ) -> Float[Array, "..."]:
    r"""Downstream ridge after an OLS chain, isotropic design, proportionate limit (asymptotic).

    Chain as in `downstream_ols_risk` ($n$ OLS generations of $T_0$ rows, noise $\sigma_0$); then a ridge
    fit $\hat w = (X^\top X + \lambda T I)^{-1}X^\top y$ on $T$ fresh rows labelled by $w_n$ with noise
    $\sigma$. With $\hat\Sigma = X^\top X/T$, $R = (\hat\Sigma + \lambda)^{-1}$ and $e_n = w_n - w^*$
    (mean zero, independent of $X$, $E e_ne_n^\top = c I$ with $c = n\sigma_0^2/(T_0 - d - 1)$):
    $\hat w - w^* = R\hat\Sigma e_n - \lambda R w^* + R X^\top\sigma\varepsilon/T$, whose three terms are
    uncorrelated, so (derived here; exact in expectation, then each normalised trace replaced by its
    Marchenko–Pastur limit, $\gamma = d/T$)
    $$E\|\hat w - w^*\|^2 \approx c\,d\,(1 - 2\lambda m + \lambda^2 m_2) + \lambda^2\|w^*\|^2 m_2
      + \sigma^2\gamma\,(m - \lambda m_2),$$
    with $m, m_2$ from `mp_stieltjes`. The $n$-dependent term grows linearly in $n$, as in the OLS case;
    at $\lambda \to 0$ (and $\gamma < 1$) it reduces to the OLS formula up to $d/(T - d)$ for $d/(T-d-1)$.
    Dohmatob, Feng and Kempe 2024, Section 4 (ridge counterpart of Theorem 4.1); finite $d$ differs from
    this limit by $O(1/d)$ relatively
    (`downstream_ridge_risk_spectral` gives the finite-$d$ value). Needs $\lambda > 0$ and $T_0 \ge d + 2$;
    `w_star_sq` is $\|w^*\|^2$.
    """
    _need_ols(T0, d, "T0")
    lam = np.asarray(ridge, np.float64)
    if not np.all(lam > 0):
        raise ValueError(f"the ridge formula needs lambda > 0, got {ridge}; use downstream_ols_risk for OLS")
    gamma = d / _arr(T)
    m, m2 = mp_stieltjes(ridge, gamma)
    lam = _arr(ridge)
    c = _arr(n) * _arr(noise0) ** 2 / (_arr(T0) - d - 1.0)
    return (c * d * (1.0 - 2.0 * lam * m + lam * lam * m2) + lam * lam * _arr(w_star_sq) * m2
            + _arr(noise) ** 2 * gamma * (m - lam * m2))


def downstream_ridge_risk_spectral(eigs: ArrayLike, n: ArrayLike, T: ArrayLike, T0: ArrayLike, d: int,
                                   ridge: ArrayLike, noise: ArrayLike = 1.0, noise0: ArrayLike = 1.0,
                                   w_star_sq: ArrayLike = 1.0) -> np.ndarray:
    r"""The finite-$d$ downstream ridge risk of `downstream_ridge_risk`, given the spectrum of $\hat\Sigma$.

    Derived here (the first, exact step of `downstream_ridge_risk`'s derivation, before any limit): with
    $R = (\hat\Sigma + \lambda)^{-1}$, $\hat\Sigma = X^\top X/T$ of eigenvalues $s_1..s_d$, and the isotropy of
    the design ($E[R^2] = \frac1d E\,\mathrm{tr}R^2\,I$ by rotation invariance),
    $$E\|\hat w - w^*\|^2 = E\Big[c\sum_i\frac{s_i^2}{(s_i + \lambda)^2}
      + \frac{\lambda^2\|w^*\|^2}{d}\sum_i\frac{1}{(s_i + \lambda)^2}
      + \frac{\sigma^2}{T}\sum_i\frac{s_i}{(s_i+\lambda)^2}\Big],$$
    $c = n\sigma_0^2/(T_0 - d - 1)$, the expectation over the spectrum of a Wishart$_d(T, I/T)$ matrix. This
    returns the bracket for each row of `eigs` (shape (..., d)): its mean over independent draws of the
    spectrum is the exact finite-$d$ risk, with no Marchenko–Pastur limit taken. Float64 numpy.
    """
    _need_ols(T0, d, "T0")
    s = np.asarray(eigs, np.float64)
    lam = float(ridge)
    if not lam > 0:
        raise ValueError(f"the ridge formula needs lambda > 0, got {ridge}")
    c = float(n) * float(noise0) ** 2 / (float(T0) - d - 1.0)
    inv2 = 1.0 / (s + lam) ** 2
    return np.asarray(c * np.sum(s * s * inv2, axis=-1) + lam * lam * float(w_star_sq) / d * np.sum(inv2, axis=-1)
                      + float(noise) ** 2 / float(T) * np.sum(s * inv2, axis=-1), np.float64)


def minnorm_w_norm_sq(n: ArrayLike, T0: ArrayLike, d: int, w_star_sq: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Noise-free min-norm chain, isotropic fresh design, $T_0 < d$: $E\|w_n\|^2 = \|w^*\|^2 (T_0/d)^n$.

    With noise-free labels $Xw_{t-1}$ the min-norm fit is $w_t = P_t w_{t-1}$, $P_t$ the orthogonal
    projection onto the row space of $X_t$: a uniformly random $T_0$-dimensional subspace, independent
    across generations, with $E P_t = (T_0/d) I$. So $E\|w_t\|^2 = E\,w_{t-1}^\top P_t w_{t-1} =
    (T_0/d) E\|w_{t-1}\|^2$. Derived here; the exponential collapse of Dohmatob, Feng and Kempe 2024
    (Section 4, over-parameterized noise-free case). For $T_0 \ge d$ the ratio is 1 (exact recovery).
    """
    r = jnp.minimum(_arr(T0), d) / d
    return _arr(w_star_sq) * r ** _arr(n)


def minnorm_risk(n: ArrayLike, T0: ArrayLike, d: int, w_star_sq: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""Noise-free min-norm chain, isotropic fresh design: $E\|w_n - w^*\|^2 = \|w^*\|^2[1 - (T_0/d)^n]$.

    $\|w_n - w^*\|^2 = \|w^*\|^2 - 2w^{*\top}w_n + \|w_n\|^2$ with $w_n = P_n\cdots P_1 w^*$:
    $E\,w^{*\top}w_n = (T_0/d)^n\|w^*\|^2$ (independent $P_t$ with $E P_t = (T_0/d)I$) and
    $E\|w_n\|^2 = (T_0/d)^n\|w^*\|^2$ (`minnorm_w_norm_sq`), so the error is $\|w^*\|^2[1 - (T_0/d)^n]$:
    the model forgets $w^*$ exponentially fast, while $E\|w_n\|^2$ decays to 0 (the collapse is of the
    *norm*; the error tends to $\|w^*\|^2$, the risk of predicting 0). Dohmatob, Feng and Kempe 2024,
    Section 4 (their $\|w^*\|^2[1 - (T_0/d)^n]$, confirmed here). With a *fixed* design, $w_n = P w^*$
    for every $n \ge 1$ (a projection is idempotent): the error stays at $\|w^*\|^2(1 - T_0/d)$.
    """
    r = jnp.minimum(_arr(T0), d) / d
    return _arr(w_star_sq) * (1.0 - r ** _arr(n))
