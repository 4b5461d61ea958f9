r"""Closed forms of the repair operators on the Gaussian family: self-correction and negative extrapolation.

Conventions (those of `jaxcollapse.simulate`, and of `jaxcollapse.theory.gaussian`): the truth is
$N(\mu^*, \Sigma^*)$ in $d$ dimensions with $T = \mathrm{tr}\,\Sigma^*$ (every result below depends on
$\Sigma^*$ through $T$ only); model 0 is the truth; generation $t \ge 1$ fits model $t$ by maximum
likelihood (``"mle"``) or refits the mean only with the covariance known (``"mean"``) to $n_s$ synthetic
draws of model $t-1$, plus $n_r$ real draws where the regime has them: one fixed set $\bar x_R$ drawn at
generation 0 (``real="fixed"``, the augment regime), $n_r$ fresh ones each generation (``"fresh"``) or none
(``"none"``, the replace regime). $e_t = E\|\mu_t - \mu^*\|^2$, $s = T/n_r$.

**Self-correction** (Gillman, Freeman, Aggarwal, Hsu, Luo, Tian and Sun 2024, "Self-correcting
self-consuming loops for generative model training", ICML; `jaxcollapse.regimes.self_correct`). Their
idealized correction of strength $\gamma \ge 0$ maps the model $p_{t-1}$ to
$\pi_\gamma(p_{t-1}) = \frac{1}{1+\gamma}p_{t-1} + \frac{\gamma}{1+\gamma}p^*$; their Gaussian toy code
(``exp_scripts/gaussian_toy_example.py``) gives the truth the weight $\gamma/(1+\gamma)$. So each synthetic
draw is, with probability $p = \gamma/(1+\gamma)$, a draw of the truth, and with $q = 1 - p = 1/(1+\gamma)$
one of the model. Derived here (`correction_mean_sq_err`): the correction multiplies the synthetic data's
memory of the model's error by $q$, so the error's contraction factor $a$ becomes $aq$.

**Negative extrapolation** (Alemohammad, Wang and Baraniuk 2025, "Neon: negative extrapolation from
self-training improves image generation"; `jaxcollapse.regimes.extrapolate`). Neon merges a base model
with its self-trained copy as $\theta = (1+w)\theta_r - w\theta_s$. In the loop, generation $t$ fits
$\theta_{\rm real}$ to its real data and $\theta_{\rm syn}$ to its synthetic data and sets
$\theta_t = (1+w)\theta_{\rm real} - w\theta_{\rm syn}$ (mean and covariance; the covariance projected onto
the positive semi-definite cone, which in 1-D acts with the tiny probability bounded by
`extrapolation_clip_bound`). Derived here (`extrapolation_trace`, `extrapolation_mean_sq_err`): the
deviation from the real fit is multiplied by $-w$ each generation, so the loop is stable for $w < 1$, and
with a mode-seeking sampler ($\tau < 1$, whose draws under-disperse) a positive $w$ removes the variance's
bias (`extrapolation_unbiased_weight`), the mechanism Neon's paper proves for mode-seeking samplers.

Every function is a pure `jax.numpy` function; `t` may be an int or an array of generations (results
broadcast over it); arithmetic in the default float type (float64 under `jaxcollapse.x64()`).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import betainc, gammaincc
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "correction_mean_sq_err",
    "correction_probability",
    "correction_stationary_mean_sq_err",
    "correction_trace",
    "extrapolation_clip_bound",
    "extrapolation_mean_sq_err",
    "extrapolation_stationary_mean_sq_err",
    "extrapolation_stationary_trace",
    "extrapolation_trace",
    "extrapolation_unbiased_weight",
]

_REALS = ("fixed", "fresh", "none")
_ESTIMATORS = ("mle", "mean")


def _f(x) -> Array:
    return jnp.asarray(x, jnp.result_type(float))


def _check(real: str, estimator: str) -> None:
    if real not in _REALS:
        raise ValueError(f"real = {real!r} is invalid: real must be one of {', '.join(map(repr, _REALS))}")
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator = {estimator!r} is invalid: estimator must be one of "
                         f"{', '.join(map(repr, _ESTIMATORS))}")


def _geom(q: Array, t: Array) -> Array:
    r"""$\sum_{i=0}^{t-1} q^i$ ($t$ at $q = 1$)."""
    one = jnp.abs(1.0 - q) < 1e-12
    return jnp.where(one, t, (1.0 - q**t) / jnp.where(one, 1.0, 1.0 - q))


def _signed_pow(x: Array, t: Array) -> Array:
    r"""$x^t$ for an integer-valued $t \ge 0$ and any sign of $x$ (no power of a negative base)."""
    sign = jnp.where((x < 0) & (jnp.mod(t, 2.0) == 1.0), -1.0, 1.0)
    return sign * jnp.abs(x) ** t


def _conv(x: Array, y: Array, t: Array) -> Array:
    r"""$\sum_{j=0}^{t-1} x^{t-1-j} y^j = (x^t - y^t)/(x - y)$ ($t x^{t-1}$ at $x = y$); any signs."""
    close = jnp.abs(x - y) < 1e-12
    xt, yt = _signed_pow(x, t), _signed_pow(y, t)
    return jnp.where(close, t * _signed_pow(x, jnp.maximum(t - 1.0, 0.0)),
                     (xt - yt) / jnp.where(close, 1.0, x - y))


# --------------------------------------------------------------------------- self-correction
def correction_probability(gamma: ArrayLike) -> Float[Array, "..."]:
    r"""$p = \gamma/(1+\gamma)$: the probability that a self-corrected synthetic draw is the truth's.

    The weight of $p^*$ in Gillman et al.'s (2024) idealized correction
    $\pi_\gamma = \frac{1}{1+\gamma}p_\theta + \frac{\gamma}{1+\gamma}p^*$ (and ``t_value`` of their toy code).
    """
    g = _f(gamma)
    return g / (1.0 + g)


def _correction_terms(n_real, n_synthetic, gamma, trace, real, estimator):
    """(A, B, a', b, C) of the self-corrected mean recursion (see `correction_mean_sq_err`)."""
    _check(real, estimator)
    ns, T = _f(n_synthetic), _f(trace)
    p = correction_probability(gamma)
    q = 1.0 - p
    if real == "none":
        a, b, s = jnp.ones_like(ns), jnp.zeros_like(ns), jnp.zeros_like(ns)
    else:
        nr = _f(n_real)
        a, b, s = ns / (nr + ns), nr / (nr + ns), T / nr
    ap = a * q
    big_a = ap * ap * (1.0 - 1.0 / ns) if estimator == "mle" else a * a * (q * q + p * q / ns)
    big_b = b * b * s + a * a * T / ns
    c = b * s / (1.0 - ap) if real == "fixed" else jnp.zeros_like(big_b)
    return big_a, big_b, ap, b, c


def correction_mean_sq_err(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, gamma: ArrayLike,
                           trace: ArrayLike = 1.0, *, real: str = "fixed",
                           estimator: str = "mle") -> Float[Array, "..."]:
    r"""$e_t = E\|\mu_t - \mu^*\|^2$ under self-correction of strength $\gamma$, exact for every $t$ ($\tau = 1$).

    Pooled fit of $n_r$ real and $n_s$ corrected synthetic draws (`real`: ``"fixed"``, ``"fresh"`` or
    ``"none"``, where $n_r$ is ignored); `estimator` ``"mle"`` or ``"mean"`` (covariance known).

    Derived here. Let $a = n_s/(n_r + n_s)$, $b = 1 - a$ ($a = 1$, $b = 0$ without real data),
    $d_t = \mu_t - \mu^*$, $\epsilon = \bar x_R - \mu^*$ ($E\|\epsilon\|^2 = s$), so
    $d_t = b\,\epsilon + a(\bar x_s - \mu^*)$. Of the $n_s$ synthetic draws $K \sim \mathrm{Bin}(n_s, p)$
    are the truth's and $n_s - K$ the model's: $n_s(\bar x_s - \mu^*) = (n_s - K)d_{t-1} + \sum_{\rm model} z_i
    + \sum_{\rm truth} y_i$ with $z_i \sim N(0, \Sigma_{t-1})$, $y_i \sim N(0, \Sigma^*)$. With
    $E(n_s - K)^2 = n_s^2q^2 + n_s pq$,
    $$E\|\bar x_s - \mu^*\|^2 = (q^2 + pq/n_s)\,e_{t-1} + q\,E\,\mathrm{tr}\,\Sigma_{t-1}/n_s + pT/n_s.$$
    MLE: conservation still holds ($E[\|x - \mu^*\|^2]$ is $\|\mu_{t-1} - \mu^*\|^2 + \mathrm{tr}\,\Sigma_{t-1}$
    for a model draw and $T$ for a truth or real one, so $E[e_t + \mathrm{tr}\,\Sigma_t] = T$ by induction),
    and with $E\,\mathrm{tr}\,\Sigma_{t-1} = T - e_{t-1}$ this is $q^2(1 - 1/n_s)e_{t-1} + T/n_s$; mean
    estimator: $\mathrm{tr}\,\Sigma_{t-1} = T$ gives $(q^2 + pq/n_s)e_{t-1} + T/n_s$. The cross term is
    $E[\epsilon\cdot(\bar x_s - \mu^*)] = q\,c_{t-1}$ with $c_t = E[\epsilon\cdot d_t] = bs + aq\,c_{t-1}$,
    $c_0 = 0$ (fixed real data; 0 for fresh or none). So with $a' = aq$,
    $$e_t = A e_{t-1} + B + 2a'b\,c_{t-1},\qquad A = a'^2(1 - \tfrac1{n_s})\ (\text{MLE}),\ a^2(q^2 + \tfrac{pq}{n_s})
    \ (\text{mean}),\qquad B = b^2s + a^2T/n_s,$$
    $c_t = C(1 - a'^t)$, $C = bs/(1 - a')$, and $e_0 = 0$ gives
    $$e_t = B'\frac{1 - A^t}{1 - A} - 2bCa'\,\frac{A^t - a'^t}{A - a'},\qquad B' = B + 2a'bC.$$
    At $\gamma = 0$ this is `jaxcollapse.theory.gaussian.mixed_mean_sq_err`; the stationary value is
    `correction_stationary_mean_sq_err`.
    """
    t = _f(t)
    big_a, big_b, ap, b, c = _correction_terms(n_real, n_synthetic, gamma, trace, real, estimator)
    bp = big_b + 2.0 * ap * b * c
    return bp * _geom(big_a, t) - 2.0 * b * c * ap * _conv(big_a, ap, t)


def correction_trace(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, gamma: ArrayLike,
                     trace: ArrayLike = 1.0, *, real: str = "fixed") -> Float[Array, "..."]:
    r"""$E\,\mathrm{tr}\,\Sigma_t = T - e_t$ under self-correction (MLE, $\tau = 1$).

    Derived here: conservation $E[\|\mu_t - \mu^*\|^2 + \mathrm{tr}\,\Sigma_t] = T$ holds with the correction
    (a corrected draw is a model draw or a truth draw; see `correction_mean_sq_err`), and $e_t$ is
    `correction_mean_sq_err`.
    """
    return _f(trace) - correction_mean_sq_err(t, n_real, n_synthetic, gamma, trace, real=real, estimator="mle")


def correction_stationary_mean_sq_err(n_real: ArrayLike, n_synthetic: ArrayLike, gamma: ArrayLike,
                                      trace: ArrayLike = 1.0, *, real: str = "fixed",
                                      estimator: str = "mle") -> Float[Array, "..."]:
    r"""$e_\infty = \lim_t E\|\mu_t - \mu^*\|^2 = B'/(1 - A)$: the stationary error as a function of $\gamma$.

    Derived here: the fixed point of the recursion of `correction_mean_sq_err` (with $c_\infty = C$),
    $$e_\infty = \frac{b^2 s + a^2 T/n_s + 2a'b^2 s/(1 - a')}{1 - A},\qquad a' = \frac{a}{1+\gamma}.$$
    It falls from the uncorrected value ($\gamma = 0$; under replace, $T$: collapse) to
    $b^2 s + a^2T/n_s$ ($\gamma \to \infty$, every synthetic draw the truth's: fresh data), and the
    stationary $E\,\mathrm{tr}\,\Sigma_\infty = T - e_\infty$ (MLE) rises to match.
    """
    big_a, big_b, ap, b, c = _correction_terms(n_real, n_synthetic, gamma, trace, real, estimator)
    return (big_b + 2.0 * ap * b * c) / (1.0 - big_a)


# --------------------------------------------------------------------------- negative extrapolation
def _extrapolation_terms(n_real, n_synthetic, w, trace, tau, estimator):
    """(s, T, w, A = w^2, noise factor w^2 tau^2 / n_s, r, V_inf) of the extrapolated recursions."""
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator = {estimator!r} is invalid: estimator must be one of "
                         f"{', '.join(map(repr, _ESTIMATORS))}")
    nr, ns, w, T, tau = _f(n_real), _f(n_synthetic), _f(w), _f(trace), _f(tau)
    s = T / nr
    if estimator == "mle":
        r = -w * tau * tau * (1.0 - 1.0 / ns)
        v_inf = (1.0 + w) * (1.0 - 1.0 / nr) * T / (1.0 - r)
    else:
        r = jnp.zeros_like(w)
        v_inf = T + 0.0 * w
    return s, T, w, w * w, w * w * tau * tau / ns, r, v_inf


def extrapolation_trace(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, w: ArrayLike,
                        trace: ArrayLike = 1.0, *, tau: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$V_t = E\,\mathrm{tr}\,\Sigma_t$ under negative extrapolation with weight $w$ (MLE, real data fixed or
    fresh, synthetic draws at temperature $\tau$).

    Derived here. $\Sigma_t = (1+w)\Sigma_{\rm real} - w\Sigma_{\rm syn}$ with $E\,\Sigma_{\rm real} =
    (1 - 1/n_r)\Sigma^*$ (the MLE of $n_r$ truth draws, fixed or fresh alike) and
    $E[\Sigma_{\rm syn} \mid t-1] = \tau^2(1 - 1/n_s)\Sigma_{t-1}$ (the MLE of $n_s$ draws of
    $N(\mu_{t-1}, \tau^2\Sigma_{t-1})$). So $V_t = c + rV_{t-1}$, $V_0 = T$, with
    $c = (1+w)(1 - 1/n_r)T$ and $r = -w\tau^2(1 - 1/n_s)$:
    $$V_t = V_\infty + r^t(T - V_\infty),\qquad V_\infty = \frac{(1+w)(1 - 1/n_r)\,T}{1 + w\tau^2(1 - 1/n_s)}.$$
    Exact while the projection onto the positive semi-definite cone does not act (in 1-D: with probability at
    least $1 -$ `extrapolation_clip_bound` per generation).
    """
    t = _f(t)
    _, T, _, _, _, r, v_inf = _extrapolation_terms(n_real, n_synthetic, w, trace, tau, "mle")
    return v_inf + _signed_pow(r, t) * (T - v_inf)


def extrapolation_stationary_trace(n_real: ArrayLike, n_synthetic: ArrayLike, w: ArrayLike, trace: ArrayLike = 1.0,
                                   *, tau: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""$V_\infty = (1+w)(1 - 1/n_r)\,T / [1 + w\tau^2(1 - 1/n_s)]$: the stationary trace (see `extrapolation_trace`).

    Derived here (the fixed point of $V_t = c + rV_{t-1}$, $|r| < 1$ for $w < 1$, $\tau \le 1$).
    """
    return _extrapolation_terms(n_real, n_synthetic, w, trace, tau, "mle")[-1]


def extrapolation_unbiased_weight(n_real: ArrayLike, n_synthetic: ArrayLike, tau: ArrayLike) -> Float[Array, "..."]:
    r"""The weight $w^*$ whose stationary trace is the truth's: $V_\infty(w^*) = T$.

    Derived here from `extrapolation_stationary_trace`: $(1+w)(1 - 1/n_r) = 1 + w\tau^2(1 - 1/n_s)$, so
    $$w^* = \frac{1/n_r}{(1 - 1/n_r) - \tau^2(1 - 1/n_s)}.$$
    Positive, and in the stable range $[0, 1)$ for a sufficiently mode-seeking sampler
    ($\tau^2(1 - 1/n_s) < 1 - 2/n_r$): the under-dispersed synthetic fit points away from the truth, and
    extrapolating away from it corrects the variance (Alemohammad et al. 2025 prove the anti-alignment for
    mode-seeking samplers). Without such a sampler ($\tau = 1$, $n_s \ge n_r$) no $w \ge 0$ is unbiased.
    """
    nr, ns, tau = _f(n_real), _f(n_synthetic), _f(tau)
    return (1.0 / nr) / ((1.0 - 1.0 / nr) - tau * tau * (1.0 - 1.0 / ns))


def extrapolation_mean_sq_err(t: ArrayLike, n_real: ArrayLike, n_synthetic: ArrayLike, w: ArrayLike,
                              trace: ArrayLike = 1.0, *, tau: ArrayLike = 1.0, real: str = "fixed",
                              estimator: str = "mle") -> Float[Array, "..."]:
    r"""$e_t = E\|\mu_t - \mu^*\|^2$ under negative extrapolation with weight $w$, exact for every $t$.

    `real`: ``"fixed"`` (one real set, the augment regime) or ``"fresh"``; `estimator` ``"mle"`` (with
    $V_t$ of `extrapolation_trace`) or ``"mean"`` (covariance known: $V_t = T$); synthetic draws at
    temperature $\tau$.

    Derived here. $\mu_t = (1+w)\bar x_R - w\bar x_s$ with $\bar x_s = \mu_{t-1} + \zeta_t$,
    $E[\|\zeta_t\|^2 \mid t-1] = \tau^2\mathrm{tr}\,\Sigma_{t-1}/n_s$, $\zeta_t$ of mean 0 given the past.

    - Fixed real data: $u_t = \mu_t - \bar x_R = -w(u_{t-1} + \zeta_t)$, $u_0 = \mu^* - \bar x_R$. So
      $U_t = E\|u_t\|^2 = w^2(U_{t-1} + \tau^2V_{t-1}/n_s)$, $U_0 = s$, and
      $E[u_t\cdot(\bar x_R - \mu^*)] = (-w)^t(-s)$ ($\zeta_t$ depends on the real set only through
      $\Sigma_{t-1}$, independent of $\bar x_R$). Hence
      $$e_t = U_t + s - 2s(-w)^t,\qquad U_t = w^{2t}s + \frac{w^2\tau^2}{n_s}\sum_{j=0}^{t-1}w^{2(t-1-j)}V_j.$$
    - Fresh real data: $d_t = (1+w)\epsilon_t - w(d_{t-1} + \zeta_t)$ with $\epsilon_t$ new each generation:
      $e_t = \sum_{j=1}^t w^{2(t-j)}[(1+w)^2 s + w^2\tau^2 V_{j-1}/n_s]$.

    With $V_j = V_\infty + r^j(T - V_\infty)$ the sums are geometric. The stationary value is
    `extrapolation_stationary_mean_sq_err`.
    """
    if real not in ("fixed", "fresh"):
        raise ValueError(f"real = {real!r} is invalid: real must be 'fixed' or 'fresh' (extrapolation needs real data)")
    t = _f(t)
    s, T, w, big_a, k, r, v_inf = _extrapolation_terms(n_real, n_synthetic, w, trace, tau, estimator)
    noise = k * (v_inf * _geom(big_a, t) + (T - v_inf) * _conv(big_a, r, t))  # (w^2 tau^2/n_s) sum A^{t-1-j} V_j
    if real == "fixed":
        return _signed_pow(big_a, t) * s + noise + s - 2.0 * s * _signed_pow(-w, t)
    return (1.0 + w) ** 2 * s * _geom(big_a, t) + noise


def extrapolation_stationary_mean_sq_err(n_real: ArrayLike, n_synthetic: ArrayLike, w: ArrayLike,
                                         trace: ArrayLike = 1.0, *, tau: ArrayLike = 1.0, real: str = "fixed",
                                         estimator: str = "mle") -> Float[Array, "..."]:
    r"""$e_\infty$ under negative extrapolation: the stationary error as a function of $w \in [0, 1)$.

    Derived here (the limits of `extrapolation_mean_sq_err`):
    fixed real data $e_\infty = s + \dfrac{w^2\tau^2 V_\infty}{n_s(1 - w^2)}$; fresh
    $e_\infty = \dfrac{(1+w)^2 s + w^2\tau^2V_\infty/n_s}{1 - w^2}$, with $V_\infty$ of
    `extrapolation_stationary_trace` (MLE) or $T$ (mean). The mean's error grows with $w$ (its synthetic fit is
    unbiased, so the extrapolation only adds noise); what $w$ buys is the variance
    (`extrapolation_unbiased_weight`). Both diverge as $w \to 1$.
    """
    if real not in ("fixed", "fresh"):
        raise ValueError(f"real = {real!r} is invalid: real must be 'fixed' or 'fresh' (extrapolation needs real data)")
    s, T, w, big_a, k, r, v_inf = _extrapolation_terms(n_real, n_synthetic, w, trace, tau, estimator)
    if real == "fixed":
        return s + k * v_inf / (1.0 - big_a)
    return ((1.0 + w) ** 2 * s + k * v_inf) / (1.0 - big_a)


def extrapolation_clip_bound(n_real: ArrayLike, n_synthetic: ArrayLike, w: ArrayLike,
                             tau: ArrayLike = 1.0) -> Float[Array, "..."]:
    r"""An upper bound on the probability that the 1-D extrapolated variance is clipped at 0 in any one
    generation, with a fixed real set: $\max(P_1, P_{\ge 2})$.

    Derived here. Clipping in generation $t$ needs $w\sigma^2_{\rm syn} > (1+w)\sigma^2_{\rm real}$ with
    $\sigma^2_{\rm syn} \sim \tau^2\sigma^2_{t-1}\chi^2_{n_s-1}/n_s$ given the past.

    - Generation 1 (model 0 is the truth, $\sigma^2_{\rm real} \sim \sigma^{*2}\chi^2_{n_r-1}/n_r$ independent):
      $P_1 = P\big(X/Y > c\big)$, $X \sim \chi^2_{n_s-1}$, $Y \sim \chi^2_{n_r-1}$,
      $c = (1+w)n_s/(w\tau^2 n_r)$, i.e. $1 - I_{c/(1+c)}(\tfrac{n_s-1}2, \tfrac{n_r-1}2)$ ($X/(X+Y)$ is Beta).
    - Generation $t \ge 2$: every extrapolated variance is at most $(1+w)\sigma^2_{\rm real}$ (the subtracted
      term is $\ge 0$), so clipping needs $\sigma^2_{\rm syn}/\sigma^2_{t-1} > 1/w$:
      $P_{\ge 2} \le P(\chi^2_{n_s-1} > n_s/(w\tau^2))$.
    """
    nr, ns, w, tau = _f(n_real), _f(n_synthetic), _f(w), _f(tau)
    c = (1.0 + w) * ns / (w * tau * tau * nr)
    first = 1.0 - betainc((ns - 1.0) / 2.0, (nr - 1.0) / 2.0, c / (1.0 + c))
    later = gammaincc((ns - 1.0) / 2.0, ns / (w * tau * tau) / 2.0)
    return jnp.maximum(first, later)
